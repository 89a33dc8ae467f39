import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Diagnostic, SourcePosition } from '../diagnostics.js';
import { fieldPath } from '../diagnostics.js';
import { API_GROUP, API_GROUP_VERSION } from '../schema/common.js';
import { findKind, KINDS, resourceKey, type AnyResource, type KindName } from '../schema/kinds.js';
import { findInlineSecrets } from './redact.js';
import { validateAgainstSchema } from './schema-validator.js';
import { SourceFile, type Path } from './source-file.js';

/** A file of a fleet, from disk or from a Git tree. */
export interface FleetFile {
  path: string;
  text: string;
}

/** A resource that passed schema validation, with the means to point back at its source. */
export interface LoadedResource<R extends AnyResource = AnyResource> {
  resource: R;
  key: string;
  source: SourceFile;
  docIndex: number;
}

/** Position of a field of a loaded resource in its file. */
export function positionOf(r: LoadedResource, path: Path = []): SourcePosition {
  return { file: r.source.path, ...r.source.locate(r.docIndex, path) };
}

export interface LoadResult {
  resources: LoadedResource[];
  diagnostics: Diagnostic[];
  /** `Kind/namespace/name` of documents that failed to load, so references to them are not reported twice. */
  failed: Set<string>;
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml']);

/** Whether a fleet-relative path holds manifests: YAML outside dot-folders and node_modules. */
export function isManifestPath(rel: string): boolean {
  return (
    MANIFEST_EXTENSIONS.has(path.posix.extname(rel)) &&
    !rel.split('/').some((part) => part.startsWith('.') || part === 'node_modules')
  );
}

/**
 * Reads every YAML file under `dir` (skipping dot-folders and node_modules). An unreadable
 * file is a diagnostic, not an exception, so one bad file does not hide the others.
 */
export async function readFleetDir(
  dir: string,
): Promise<{ files: FleetFile[]; diagnostics: Diagnostic[] }> {
  // Synchronous reads on purpose: a fleet is thousands of small files, which one promise
  // per file reads several times slower, and parsing them right after blocks anyway.
  const files: FleetFile[] = [];
  const diagnostics: Diagnostic[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir, { recursive: true }) as string[];
  } catch (err) {
    throw new Error(
      `cannot read fleet directory ${dir}: ${(err as NodeJS.ErrnoException).code ?? err}`,
    );
  }
  const wanted = entries
    .filter((rel) => MANIFEST_EXTENSIONS.has(path.extname(rel)))
    .filter(
      (rel) => !rel.split(path.sep).some((part) => part.startsWith('.') || part === 'node_modules'),
    )
    .sort();
  for (const rel of wanted) {
    const display = rel.split(path.sep).join('/');
    try {
      files.push({ path: display, text: readFileSync(path.join(dir, rel), 'utf8') });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EISDIR') continue;
      diagnostics.push({
        file: display,
        line: 1,
        col: 1,
        severity: 'error',
        code: 'unreadable-file',
        message: `cannot read file (${code ?? String(err)}); check its permissions`,
      });
    }
  }
  files.sort((a, b) => (a.path < b.path ? -1 : 1));
  return { files, diagnostics };
}

/** Parses and schema-validates fleet files into resources plus diagnostics. */
export function parseFleetFiles(files: readonly FleetFile[]): LoadResult {
  const resources: LoadedResource[] = [];
  const diagnostics: Diagnostic[] = [];
  const failed = new Set<string>();
  for (const file of files) {
    if (!isManifestPath(file.path)) continue;
    const source = new SourceFile(file.path, file.text);
    let keepTree = false;
    for (const doc of source.documents()) {
      const before = diagnostics.length;
      const loaded = loadDocument(source, doc.index, doc.value, doc.errors, diagnostics);
      if (loaded) resources.push(loaded);
      else if (loaded === undefined) failed.add(identityOf(doc.value));
      if (diagnostics.length > before) keepTree = true;
    }
    // Later checks locate fields only when they find a problem; re-parsing then is cheaper
    // than holding thousands of syntax trees.
    if (!keepTree) source.release();
  }
  return { resources, diagnostics, failed };
}

/** Best-effort identity of a document that did not load (syntax errors leave it unknown). */
function identityOf(value: unknown): string {
  const doc = (value ?? {}) as {
    kind?: unknown;
    metadata?: { name?: unknown; namespace?: unknown };
  };
  const parts = [doc.kind, doc.metadata?.namespace, doc.metadata?.name].filter(
    (p) => typeof p === 'string',
  );
  return parts.join('/');
}

function loadDocument(
  source: SourceFile,
  docIndex: number,
  value: unknown,
  syntaxErrors: { message: string; line: number; col: number }[],
  out: Diagnostic[],
): LoadedResource | undefined {
  const at = (p: Path) => ({ file: source.path, ...source.locate(docIndex, p) });
  if (syntaxErrors.length) {
    for (const e of syntaxErrors) {
      out.push({
        file: source.path,
        line: e.line,
        col: e.col,
        severity: 'error',
        code: 'yaml-syntax',
        message: `YAML syntax: ${e.message}`,
      });
    }
    return undefined;
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    out.push({
      ...at([]),
      severity: 'error',
      code: 'not-a-resource',
      message: 'document is not a mapping with apiVersion, kind, metadata and spec',
    });
    return undefined;
  }
  const doc = value as Record<string, unknown>;
  const name =
    typeof (doc.metadata as { name?: unknown })?.name === 'string'
      ? (doc.metadata as { name: string }).name
      : undefined;
  const kindText = typeof doc.kind === 'string' ? doc.kind : undefined;
  const base = { kind: kindText, name };

  if (doc.apiVersion !== API_GROUP_VERSION) {
    const got = doc.apiVersion === undefined ? 'missing' : JSON.stringify(doc.apiVersion);
    const hint =
      typeof doc.apiVersion === 'string' && doc.apiVersion.startsWith(`${API_GROUP}/`)
        ? ` (this vmsctl serves only ${API_GROUP_VERSION})`
        : '';
    out.push({
      ...at(['apiVersion']),
      ...base,
      severity: 'error',
      code: 'unknown-api-version',
      field: 'apiVersion',
      message: `apiVersion ${got}: expected "${API_GROUP_VERSION}"${hint}`,
    });
    return undefined;
  }
  const def = kindText ? KINDS.find((k) => k.kind === kindText) : undefined;
  if (!def) {
    const alias = kindText ? findKind(kindText) : undefined;
    const known = KINDS.map((k) => k.kind).join(', ');
    out.push({
      ...at(['kind']),
      ...base,
      severity: 'error',
      code: 'unknown-kind',
      field: 'kind',
      message:
        kindText === undefined
          ? `missing kind: one of ${known}`
          : `unknown kind "${kindText}"${alias ? ` (did you mean "${alias.kind}"?)` : ''}: one of ${known}`,
    });
    return undefined;
  }
  const kind = def.kind as KindName;
  let failed = false;
  const secretPaths = new Set<string>();
  for (const s of findInlineSecrets(doc)) {
    secretPaths.add(s.path.join('/'));
    failed = true;
    out.push({
      ...at(s.path),
      ...base,
      severity: 'error',
      code: 'inline-secret',
      field: fieldPath(s.path),
      message: `${s.reason}: put it in a Secret and reference it (e.g. spec.auth.secretRef); the value is not shown`,
    });
  }
  for (const issue of validateAgainstSchema(kind, doc)) {
    if (secretPaths.has(issue.path.join('/'))) continue;
    failed = true;
    out.push({
      ...at(issue.path),
      ...base,
      severity: 'error',
      code: 'schema',
      field: fieldPath(issue.path),
      message: issue.message,
    });
  }
  const resource = doc as unknown as AnyResource;
  if (!failed) {
    const namespace = resource.metadata.namespace;
    if (def.scope === 'Namespaced' && !namespace) {
      failed = true;
      out.push({
        ...at(['metadata']),
        ...base,
        severity: 'error',
        code: 'schema',
        field: 'metadata.namespace',
        message: `missing required field "namespace": a ${kind} lives in its tenant's namespace (the Tenant name)`,
      });
    } else if (def.scope === 'Cluster' && namespace) {
      failed = true;
      out.push({
        ...at(['metadata', 'namespace']),
        ...base,
        severity: 'error',
        code: 'schema',
        field: 'metadata.namespace',
        message: `${kind} is cluster-scoped: remove metadata.namespace`,
      });
    }
  }
  if (failed) return undefined;
  return { resource, key: resourceKey(resource), source, docIndex };
}

/** Reads and parses a fleet directory in one step. */
export async function loadFleetDir(dir: string): Promise<LoadResult> {
  const { files, diagnostics } = await readFleetDir(dir);
  const result = parseFleetFiles(files);
  return { ...result, diagnostics: [...diagnostics, ...result.diagnostics] };
}
