import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { generateFleet, mutateFleet } from '../fleet/generate.js';
import { scaffoldFleet } from '../fleet/scaffold.js';
import { readBlockYaml } from './block-yaml.js';
import { isManifestPath } from './load.js';
import { SourceFile } from './source-file.js';

/** What `yaml` makes of a text, as SourceFile used to read it. */
function reference(text: string): { clean: boolean; values: unknown[] } {
  const docs = parseAllDocuments(text, { uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [];
  return {
    clean: list.every(
      (d) => d.errors.length === 0 && d.warnings.length === 0 && d.contents !== null,
    ),
    values: list.map((d) => d.toJS({ maxAliasCount: 100 })),
  };
}

/** The reader either declines or agrees with `yaml` exactly (including -0 and NaN). */
function expectAgreement(text: string): boolean {
  const fast = readBlockYaml(text);
  if (fast === undefined) return false;
  const ref = reference(text);
  expect(ref.clean, `yaml reports problems the fast reader missed in:\n${text}`).toBe(true);
  expect(canonical(fast), text).toBe(canonical(ref.values));
  return true;
}

/**
 * Exact textual form of plain data: -0, NaN and infinities spelled out, prototypes checked.
 * (Structural matchers read a key named "constructor" as the object's class.)
 */
function canonical(value: unknown): string {
  if (typeof value === 'number')
    return Object.is(value, -0) ? '-0' : Number.isFinite(value) ? String(value) : `#${value}`;
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    if (Object.getPrototypeOf(value) !== Object.prototype) return '#not-a-plain-object';
    const entries = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? String(value);
}

const ACCEPTED = [
  '',
  '# only a comment\n',
  'a: 1\n',
  '# header\napiVersion: v1\nkind: Camera\n',
  '# header\n---\na: 1\n',
  '---\na: 1\n---\nb: 2\n',
  'a: 1\n--- \nb: 2',
  'a: 1\n# between\n---\nb: 2\n',
  'a:\n  b:\n    c: x\n  d: [] \ne: {}\n',
  'list:\n  - a\n  - b\nnext: 1\n',
  'list:\n- a\n- b\nnext: 1\n',
  'items:\n  - name: x\n    points:\n      - - 0.1\n        - 0.2\n      - - 0.3\n        - 0.4\n  - name: y\n',
  'items:\n- name: x\n  tags:\n  - a\n  - b\n- name: y\n',
  'a:\n  -\n    b: 1\n  -\n  - c\n',
  'a: 1\n  # indented comment\nb: 2\n',
  'a: x\n    # deeper comment\nb: 2\n',
  'a: b # trailing\nc: "d" # trailing\ne: \'f\'  # trailing\n',
  "a: 'it''s'\nb: \"plain double\"\nc: ''\nd: \"\"\n",
  'a: -0\nb: 0x1F\nc: 0o17\nd: 1e3\ne: .5\nf: 1.\ng: +3\nh: ~\ni:\nj: .NaN\nk: 007\nl: 1_000\nm: -.inf\nn: Null\no: TRUE\np: yes\nq: 1.5e-3\n',
  'url: rtsp://10.0.0.1:554/Streaming/Channels/101\ntime: 18:00\nver: v1.30.4+k3s1\n',
  'a: x#y\nb: a:b\nc: -x\nd: ?x\ne: :x\nf: São Paulo\n',
  'vmsctl.io/site: x\nkey_1: y\nKey-2: z\n',
  'x:\n-   a: 1\n    b: 2\n',
  'a: [1, 2]\nb: [ 0.3, -0 ]\n',
];

const DECLINED = [
  'a: 1\n---\n',
  '---\n---\na: 1\n',
  '- a\n',
  'plain scalar\n',
  'a: &x 1\nb: *x\n',
  'a: !tag x\n',
  'a: {b: 1}\n',
  'a: |\n  text\n',
  'a: >\n  text\n',
  'a: "esc\\n"\n',
  "a: 'multi\n  line'\n",
  'a: multi\n  line\n',
  'key:\n  value\n',
  'a: 1\na: 2\n',
  'a: b: c\n',
  'a: - b\n',
  '? a\n: b\n',
  'a:\tb\n',
  'a: 1\r\nb: 2\r\n',
  '\ufeffa: 1\n',
  '%YAML 1.2\n---\na: 1\n',
  'a: 1\n...\n',
  'true: 1\n',
  '1: a\n',
  '__proto__: 1\n',
  '"quoted": 1\n',
  'a b: 1\n',
  '  a: 1\n',
  'a:\n  b: 1\n c: 2\n',
];

describe('readBlockYaml', () => {
  it('reads the supported subset exactly as yaml does', () => {
    for (const text of ACCEPTED) expect(expectAgreement(text), text).toBe(true);
  });

  it('declines everything outside the subset', () => {
    for (const text of DECLINED) expect(readBlockYaml(text), text).toBeUndefined();
  });

  it('reads generated, scaffolded and mutated fleets without falling back', () => {
    const files = [
      ...scaffoldFleet({ licenseFrom: '2026-01-01' }),
      ...generateFleet({ sites: 12, cameras: 90, seed: 5, licenseFrom: '2026-01-01' }),
    ];
    const all = [...files, ...mutateFleet(files, { seed: 2, fraction: 0.2 })];
    for (const f of all.filter((x) => isManifestPath(x.path))) {
      expect(expectAgreement(f.text), f.path).toBe(true);
    }
  });

  it('agrees with yaml on random block-style texts whenever it accepts them', () => {
    const rng = mulberry32(Number(process.env.BLOCK_YAML_FUZZ_SEED ?? 20260601));
    let accepted = 0;
    // BLOCK_YAML_FUZZ_RUNS=1000000 (and another BLOCK_YAML_FUZZ_SEED) after changing the reader.
    const runs = Number(process.env.BLOCK_YAML_FUZZ_RUNS ?? 20_000);
    for (let i = 0; i < runs; i++) {
      const text = randomText(rng);
      if (expectAgreement(text)) accepted++;
    }
    if (process.env.BLOCK_YAML_FUZZ_RUNS) console.log(`accepted ${accepted} of ${runs}`);
    // The generator must exercise the fast path, not only its refusals.
    expect(accepted).toBeGreaterThan(runs / 5);
    expect(accepted).toBeLessThan(runs);
  });

  it('leaves SourceFile results unchanged: values, indices, no syntax tree kept', () => {
    const text = '# c\n---\na: 1\nb:\n  - x\n---\nc: d\n';
    const docs = new SourceFile('f.yaml', text).documents();
    expect(docs).toStrictEqual([
      { index: 0, value: { a: 1, b: ['x'] }, errors: [], warnings: [] },
      { index: 1, value: { c: 'd' }, errors: [], warnings: [] },
    ]);
    // Positions still come from the full parser, on demand.
    expect(new SourceFile('f.yaml', text).locate(1, ['c'])).toEqual({ line: 7, col: 1 });
  });
});

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

// Mostly well-formed pieces, so the reader accepts a good share; a few of everything else.
const KEYS = ['a', 'b', 'name', 'vmsctl.io/zone', 'x_1', 'Key-2', 'y', 'constructor'];
const ODD_KEYS = [
  'true',
  '1',
  'null',
  'a b',
  '"q"',
  "'s'",
  'k:',
  '-k',
  '?',
  '__proto__',
  'a#b',
  '~',
];
const SCALARS = [
  'v',
  'hello world',
  'rtsp://h:554/p',
  '18:00',
  'São Paulo',
  'x#c',
  'x #c',
  'a:b',
  '-x',
  '1',
  '-1',
  '+2',
  '0',
  '-0',
  '007',
  '0x1F',
  '0o17',
  '1e3',
  '.5',
  '1.',
  '1.50',
  '.inf',
  '-.Inf',
  '.NaN',
  '~',
  'null',
  'Null',
  'true',
  'False',
  'yes',
  "'it''s'",
  "''",
  '"dq"',
  '""',
  '"a\'b"',
  "'a\"b'",
  '[]',
  '{}',
  '[ 0.3, 0.2 ]',
  '[1,2,3]',
  '[ a b, c ]',
  '[ .5, 1e3, ~, null, true, -0 ]',
  '"q" #c',
  '1_000',
  '12:30:00',
];
const ODD_SCALARS = [
  '"a\\nb"',
  '[ a, ]',
  '[,]',
  '[ ]',
  '[ "x", y ]',
  '[ x: 1 ]',
  '[ [1], 2 ]',
  '[ - a ]',
  '[ a #c ]',
  '[ a ] #c',
  '[ a ]x',
  '[ a',
  '{a: 1}',
  '- x',
  'a: b',
  'x:',
  '&a x',
  '*a',
  '!t x',
  '|',
  '>',
  '@x',
  '`x',
  '%x',
  '? x',
  ': x',
  '--x',
  '...',
  '---',
  "'unterminated",
  '"unterminated',
  "'q' x",
  '"q"#c',
  ' ',
  '#c',
  '[ \u00a0a ]',
  'a\u00a0',
];

function randomText(rng: () => number): string {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rng() * xs.length)]!;
  const scalar = () => (rng() < 0.03 ? pick(ODD_SCALARS) : pick(SCALARS));
  const key = () => (rng() < 0.02 ? pick(ODD_KEYS) : pick(KEYS));
  const lines: string[] = [];
  const pad = (n: number) => ' '.repeat(Math.max(0, n));
  const node = (indent: number, depth: number, prefix: string | undefined) => {
    const kind =
      depth === 0 && rng() < 0.97
        ? 'map'
        : depth > 3 || rng() < 0.05
          ? 'scalar'
          : pick(['map', 'map', 'seq']);
    if (kind === 'scalar') {
      if (prefix !== undefined) lines.push(`${prefix}${scalar()}`);
      else lines.push(`${pad(indent)}${scalar()}`);
      return;
    }
    const n = 1 + Math.floor(rng() * 3);
    for (let i = 0; i < n; i++) {
      const lead = i === 0 && prefix !== undefined ? prefix : pad(indent);
      if (kind === 'map') {
        if (rng() < 0.5) lines.push(`${lead}${key()}: ${scalar()}`);
        else {
          lines.push(`${lead}${key()}:${rng() < 0.1 ? ' # c' : ''}`);
          const step = pick([0, 1, 2, 2, 2, 2, 2, 4]);
          node(indent + step, depth + 1, undefined);
        }
      } else if (rng() < 0.5) {
        lines.push(`${lead}- ${scalar()}`);
      } else if (rng() < 0.7) {
        node(indent + 2, depth + 1, `${lead}- `);
      } else {
        lines.push(`${lead}-`);
        node(indent + pick([0, 1, 2, 2, 4]), depth + 1, undefined);
      }
    }
  };
  const docs = 1 + Math.floor(rng() * 3);
  if (rng() < 0.2) lines.push('# header');
  if (rng() < 0.3) lines.push('---');
  for (let d = 0; d < docs; d++) {
    if (d > 0) lines.push(rng() < 0.9 ? pick(['---', '--- ']) : pick(['...', '--- x', '---x']));
    if (rng() > 0.02) node(0, 0, undefined);
  }
  // Noise: comments, blank lines, indentation slips.
  const noisy = lines.flatMap((l) => {
    const r = rng();
    if (r < 0.04) return [`${pad(Math.floor(rng() * 6))}# note`, l];
    if (r < 0.06) return ['', l];
    if (r < 0.065) return [` ${l}`];
    if (r < 0.07) return [l.trimStart()];
    return [l];
  });
  return noisy.join('\n') + (rng() < 0.8 ? '\n' : '');
}
