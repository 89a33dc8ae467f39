import { Box, Text } from 'ink';
import { Fragment } from 'react';
import type { Diagnostic } from '../../resources/index.js';
import { tableLines, type Column } from './table.js';

// Each view is one outer <Text> with nested spans: ink lays it out as a single node, so a
// 6,000-row table renders as fast as plain text instead of 6,000 flexbox rows.

/** A table with a bold header line. */
export function TableView<T>({
  rows,
  columns,
  title,
}: {
  rows: readonly T[];
  columns: readonly Column<T>[];
  title?: string;
}) {
  const [header, ...body] = tableLines(rows, columns).map((cells) => cells.join('  ').trimEnd());
  return (
    <Box flexDirection="column" marginBottom={1}>
      {title ? (
        <Text bold underline>
          {title}
        </Text>
      ) : null}
      <Text>
        <Text bold dimColor>
          {header}
        </Text>
        {body.length ? `\n${body.join('\n')}` : ''}
      </Text>
    </Box>
  );
}

/** Diagnostics with colored severities and a summary line. */
export function DiagnosticsView({
  diagnostics,
  summary,
}: {
  diagnostics: readonly Diagnostic[];
  summary: string;
}) {
  return (
    <Text>
      {diagnostics.map((d, i) => (
        <Fragment key={i}>
          <Text dimColor>{`${d.file}:${d.line}:${d.col}`}</Text>
          {'  '}
          <Text color={d.severity === 'error' ? 'red' : 'yellow'} bold>
            {d.severity}
          </Text>
          {'  '}
          <Text color="cyan">{d.kind ? `${d.kind}/${d.name ?? '?'}` : '-'}</Text>
          {'  '}
          <Text dimColor>{d.field ?? '-'}</Text>
          {`  ${d.message}\n`}
        </Fragment>
      ))}
      <Text bold color={diagnostics.some((d) => d.severity === 'error') ? 'red' : 'green'}>
        {summary}
      </Text>
    </Text>
  );
}

/** Lines of pre-formatted text, colored by their first character as in a diff. */
export function DiffView({ text }: { text: string }) {
  const lines = text.split('\n');
  return (
    <Text>
      {lines.map((line, i) => {
        const t = line.trimStart();
        const color = t.startsWith('+')
          ? 'green'
          : t.startsWith('- ')
            ? 'red'
            : t.startsWith('~')
              ? 'yellow'
              : undefined;
        const end = i < lines.length - 1 ? '\n' : '';
        return (
          <Text
            key={i}
            color={color}
            bold={line.startsWith('Plan:') || line.startsWith('No changes')}
          >
            {line + end}
          </Text>
        );
      })}
    </Text>
  );
}
