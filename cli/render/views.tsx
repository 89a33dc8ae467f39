import { Box, Text } from 'ink';
import type { Diagnostic } from '../../resources/index.js';
import { tableLines, type Column } from './table.js';

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
  const lines = tableLines(rows, columns);
  return (
    <Box flexDirection="column" marginBottom={1}>
      {title ? (
        <Text bold underline>
          {title}
        </Text>
      ) : null}
      {lines.map((cells, i) => (
        <Text key={i} bold={i === 0} dimColor={i === 0}>
          {cells.join('  ').trimEnd()}
        </Text>
      ))}
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
    <Box flexDirection="column">
      {diagnostics.map((d, i) => (
        <Text key={i}>
          <Text dimColor>{`${d.file}:${d.line}:${d.col}`}</Text>
          {'  '}
          <Text color={d.severity === 'error' ? 'red' : 'yellow'} bold>
            {d.severity}
          </Text>
          {'  '}
          <Text color="cyan">{d.kind ? `${d.kind}/${d.name ?? '?'}` : '-'}</Text>
          {'  '}
          <Text dimColor>{d.field ?? '-'}</Text>
          {'  '}
          {d.message}
        </Text>
      ))}
      <Text bold color={diagnostics.some((d) => d.severity === 'error') ? 'red' : 'green'}>
        {summary}
      </Text>
    </Box>
  );
}

/** Lines of pre-formatted text, colored by their first character as in a diff. */
export function DiffView({ text }: { text: string }) {
  return (
    <Box flexDirection="column">
      {text.split('\n').map((line, i) => {
        const t = line.trimStart();
        const color = t.startsWith('+')
          ? 'green'
          : t.startsWith('-')
            ? 'red'
            : t.startsWith('~')
              ? 'yellow'
              : undefined;
        return (
          <Text
            key={i}
            color={color}
            bold={line.startsWith('Plan:') || line.startsWith('No changes')}
          >
            {line || ' '}
          </Text>
        );
      })}
    </Box>
  );
}
