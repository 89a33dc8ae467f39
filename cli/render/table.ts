/** Column-aligned text tables shared by the ink views and plain output. */

export interface Column<T> {
  header: string;
  get: (row: T) => string | number | undefined;
  align?: 'left' | 'right';
}

/** Cells of a table as padded strings: the header line first, then one line per row. */
export function tableLines<T>(rows: readonly T[], columns: readonly Column<T>[]): string[][] {
  const cells = rows.map((r) => columns.map((c) => String(c.get(r) ?? '')));
  const widths = columns.map((c, i) =>
    Math.max(c.header.length, ...cells.map((row) => row[i]!.length)),
  );
  const pad = (text: string, i: number) =>
    columns[i]!.align === 'right' ? text.padStart(widths[i]!) : text.padEnd(widths[i]!);
  return [columns.map((c, i) => pad(c.header, i)), ...cells.map((row) => row.map(pad))];
}

/** A table as plain text (two spaces between columns, trailing spaces trimmed). */
export function formatTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  return tableLines(rows, columns)
    .map((cells) => cells.join('  ').trimEnd())
    .join('\n');
}
