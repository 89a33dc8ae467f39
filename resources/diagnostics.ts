/** Findings about a fleet, each pinned to a file position so an editor or CI can jump to it. */

export type Severity = 'error' | 'warning';

export interface SourcePosition {
  file: string;
  line: number;
  col: number;
}

export interface Diagnostic extends SourcePosition {
  severity: Severity;
  /** Stable machine-readable identifier, e.g. `dangling-reference`. */
  code: string;
  kind?: string;
  name?: string;
  /** Dotted field path, e.g. `spec.streams.main.bitrate`. */
  field?: string;
  message: string;
}

/** `file:line:col  severity  kind/name  field  message`, the format CI annotations parse. */
export function formatDiagnostic(d: Diagnostic): string {
  const subject = d.kind ? `${d.kind}/${d.name ?? '?'}` : '-';
  return `${d.file}:${d.line}:${d.col}  ${d.severity}  ${subject}  ${d.field ?? '-'}  ${d.message}`;
}

/** Orders diagnostics by file, then position, so output is stable across runs. */
export function sortDiagnostics(list: Diagnostic[]): Diagnostic[] {
  return list.sort(
    (a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) || a.line - b.line || a.col - b.col,
  );
}

/** True when any diagnostic is an error (warnings alone do not fail a run). */
export function hasErrors(list: readonly Diagnostic[]): boolean {
  return list.some((d) => d.severity === 'error');
}

/** Dotted display form of a field path: `spec.models[2].name`. */
export function fieldPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out;
}
