import { describe, expect, it, vi } from 'vitest';
import { readBlockYaml } from './block-yaml.js';
import { SourceFile } from './source-file.js';

describe('SourceFile.documents', () => {
  it('skips empty and null documents on both paths, keeping yaml indices', () => {
    const expected = [
      { index: 1, value: { a: 1 }, errors: [], warnings: [] },
      { index: 3, value: { b: 2 }, errors: [], warnings: [] },
    ];
    for (const text of [
      '---\n---\na: 1\n---\n---\nb: 2\n---\n',
      '---\nnull\n---\na: 1\n---\n~\n---\nb: &x 2\n---\n',
    ]) {
      expect(new SourceFile('f.yaml', text).documents(), text).toStrictEqual(expected);
    }
  });

  it('skips a trailing ---', () => {
    for (const text of ['a: 1\n---\n', 'a: 1\n---', 'a: &x 1\n---\n']) {
      expect(new SourceFile('f.yaml', text).documents(), text).toStrictEqual([
        { index: 0, value: { a: 1 }, errors: [], warnings: [] },
      ]);
    }
  });

  it('finds no documents in a file of comments, blank lines or nothing', () => {
    for (const text of ['', '\n', '# only a comment\n', '# a\n\n# b', '---\n', '---\n# c\n...\n'])
      expect(new SourceFile('f.yaml', text).documents(), text).toStrictEqual([]);
  });

  it('reports nesting 5,000 levels deep as an error instead of throwing', () => {
    for (const text of [
      `a: ${'['.repeat(5000)}${']'.repeat(5000)}\n`,
      `a: ${'{a: '.repeat(5000)}1${'}'.repeat(5000)}\n`,
      `${'- '.repeat(5000)}x\n`,
    ]) {
      const docs = new SourceFile('f.yaml', text).documents();
      expect(docs).toHaveLength(1);
      expect(docs[0]!.value).toBeUndefined();
      expect(docs[0]!.errors.length).toBeGreaterThan(0);
    }
  });

  it('reports a stack overflow while parsing as an error at line 1', async () => {
    // yaml 2.9 turns overflows in its composer into RESOURCE_EXHAUSTION errors itself;
    // other versions, or other parts of it, may throw.
    vi.resetModules();
    vi.doMock('yaml', async (importOriginal) => ({
      ...(await importOriginal<typeof import('yaml')>()),
      parseAllDocuments: () => {
        throw new RangeError('Maximum call stack size exceeded');
      },
    }));
    try {
      const mocked = await import('./source-file.js');
      // The anchor sends it past the fast path.
      expect(new mocked.SourceFile('f.yaml', 'a: &x 1\n').documents()).toStrictEqual([
        {
          index: 0,
          value: undefined,
          errors: [
            { message: expect.stringContaining('Maximum call stack') as string, line: 1, col: 1 },
          ],
          warnings: [],
        },
      ]);
    } finally {
      vi.doUnmock('yaml');
      vi.resetModules();
    }
  });

  it('still reports syntax errors with positions', () => {
    const docs = new SourceFile('f.yaml', 'a: 1\n---\nb: [\n').documents();
    expect(docs).toHaveLength(2);
    expect(docs[0]).toStrictEqual({ index: 0, value: { a: 1 }, errors: [], warnings: [] });
    expect(docs[1]!.errors[0]!.line).toBeGreaterThanOrEqual(3);
  });
});

describe('readBlockYaml nesting', () => {
  it('gives up on deep nesting so yaml reports it', () => {
    const deep =
      Array.from({ length: 200 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n') + ' x\n';
    expect(readBlockYaml(deep)).toBeUndefined();
    expect(readBlockYaml(`${'- '.repeat(100)}x\n`)).toBeUndefined();
    expect(readBlockYaml('a:\n  b:\n    c: 1\n')).toEqual([{ a: { b: { c: 1 } } }]);
  });
});
