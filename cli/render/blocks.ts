import { formatDiagnostic, type Diagnostic } from '../../resources/index.js';
import { tableLines, type Column } from './table.js';

/** How a line is colored on a terminal. */
export type Tone = 'ok' | 'error' | 'warning' | 'muted';

/**
 * What a command prints, independent of how: plain text when piped, ink on a terminal.
 * Commands build blocks; they never touch ink, so piping never pays for loading it.
 */
export type Block =
  | { type: 'table'; title?: string; lines: string[][] }
  | { type: 'diagnostics'; diagnostics: readonly Diagnostic[]; summary: string }
  | { type: 'diff'; text: string }
  | { type: 'line'; text: string; tone?: Tone; bold?: boolean };

/** A table block from rows and column definitions. */
export function table<T>(rows: readonly T[], columns: readonly Column<T>[], title?: string): Block {
  return { type: 'table', title, lines: tableLines(rows, columns) };
}

/** A plain line block. */
export function line(text: string, tone?: Tone, bold?: boolean): Block {
  return { type: 'line', text, tone, bold };
}

/** Joined cells of one table line, as both renderers print it. */
export function tableRow(cells: readonly string[]): string {
  return cells.join('  ').trimEnd();
}

/** Blocks as plain text: what CI logs and pipes get. */
export function blocksToText(blocks: readonly Block[]): string {
  const out: string[] = [];
  for (const b of blocks) {
    if (b.type === 'table') {
      if (b.title) out.push(b.title);
      out.push(...b.lines.map(tableRow), '');
    } else if (b.type === 'diagnostics') {
      out.push(...b.diagnostics.map(formatDiagnostic), b.summary);
    } else {
      out.push(b.text);
    }
  }
  while (out.length && out[out.length - 1] === '') out.pop();
  return out.join('\n');
}
