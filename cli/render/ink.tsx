import { Box, render, Text } from 'ink';
import { Fragment } from 'react';
import type { Block, Tone } from './blocks.js';
import { tableRow } from './blocks.js';

const COLORS: Record<Tone, string | undefined> = {
  ok: 'green',
  error: 'red',
  warning: 'yellow',
  muted: undefined,
};

// Each block is one outer <Text> with nested spans, so ink lays it out as a single node.

function BlockView({ block }: { block: Block }) {
  switch (block.type) {
    case 'table': {
      const [header, ...body] = block.lines.map(tableRow);
      return (
        <Box flexDirection="column" marginBottom={1}>
          {block.title ? (
            <Text bold underline>
              {block.title}
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
    case 'diagnostics':
      return (
        <Text>
          {block.diagnostics.map((d, i) => (
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
          <Text
            bold
            color={block.diagnostics.some((d) => d.severity === 'error') ? 'red' : 'green'}
          >
            {block.summary}
          </Text>
        </Text>
      );
    case 'diff': {
      const lines = block.text.split('\n');
      return (
        <Text>
          {lines.map((l, i) => {
            const t = l.trimStart();
            const color = t.startsWith('+')
              ? 'green'
              : t.startsWith('- ')
                ? 'red'
                : t.startsWith('~')
                  ? 'yellow'
                  : undefined;
            return (
              <Text
                key={i}
                color={color}
                bold={l.startsWith('Plan:') || l.startsWith('No changes')}
              >
                {l + (i < lines.length - 1 ? '\n' : '')}
              </Text>
            );
          })}
        </Text>
      );
    }
    case 'line':
      return (
        <Text
          color={block.tone ? COLORS[block.tone] : undefined}
          dimColor={block.tone === 'muted'}
          bold={block.bold}
        >
          {block.text}
        </Text>
      );
  }
}

/** Draws blocks on the terminal once and returns when ink has written them. */
export async function renderBlocks(blocks: readonly Block[]): Promise<void> {
  const app = render(
    <Box flexDirection="column">
      {blocks.map((b, i) => (
        <BlockView key={i} block={b} />
      ))}
    </Box>,
    { patchConsole: false },
  );
  app.unmount();
  await app.waitUntilExit();
}
