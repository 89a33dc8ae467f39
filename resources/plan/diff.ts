/** Deep, deterministic field-level comparison of plain YAML/JSON values. */

/** One difference between two versions of a resource, at a dotted field path. */
export interface FieldChange {
  /** Dotted path, e.g. `spec.streams.main.bitrate` or `spec.models[anpr].confidenceThreshold`. */
  path: string;
  op: 'add' | 'remove' | 'replace';
  from?: unknown;
  to?: unknown;
}

type PlainObject = Record<string, unknown>;

const isObject = (v: unknown): v is PlainObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

// Keys that read unambiguously after a dot; anything else (label keys such as
// `vmsctl.io/zone`) is bracket-quoted so the path can be split back apart.
const PLAIN_KEY = /^[A-Za-z0-9_][A-Za-z0-9_-]*$/;
// A list item name that could be mistaken for an index is quoted for the same reason.
const PLAIN_NAME = /^(?![0-9]+$)[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** Appends an object key to a dotted path. */
export function keySegment(base: string, key: string): string {
  if (!PLAIN_KEY.test(key)) return `${base}[${JSON.stringify(key)}]`;
  return base ? `${base}.${key}` : key;
}

const nameSegment = (base: string, name: string) =>
  `${base}[${PLAIN_NAME.test(name) ? name : JSON.stringify(name)}]`;

const sortedKeys = (o: PlainObject) => Object.keys(o).sort(byCodeUnit);

/** Locale-independent string order, so plans read the same on every machine. */
export function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Items by name when every item of both lists is an object with a unique string `name`.
 * Such lists are maps in the schema (x-kubernetes-list-type: map), so matching by name
 * keeps a reorder or an insertion from reading as a change to every later item.
 */
function namedItems(...lists: unknown[][]): Map<string, unknown>[] | undefined {
  const maps: Map<string, unknown>[] = [];
  for (const list of lists) {
    const map = new Map<string, unknown>();
    for (const item of list) {
      if (!isObject(item) || typeof item.name !== 'string' || map.has(item.name)) return undefined;
      map.set(item.name, item);
    }
    maps.push(map);
  }
  return maps;
}

function sameScalar(a: unknown, b: unknown): boolean {
  // NaN (YAML `.nan`) equals itself here, so an untouched value never shows as changed.
  return a === b || (a !== a && b !== b);
}

/**
 * Plain deep equality, checked before the sorted diff: most resources of a plan are
 * unchanged, so this cheap walk is what a 6,000-camera plan mostly runs.
 */
function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    return sameScalar(a, b);
  }
  const isList = Array.isArray(a);
  if (isList !== Array.isArray(b)) return false;
  if (isList) return sameItems(a as unknown[], b as unknown[]);
  const x = a as PlainObject;
  const y = b as PlainObject;
  const keys = Object.keys(x);
  if (keys.length !== Object.keys(y).length) return false;
  for (const key of keys) if (!Object.hasOwn(y, key) || !deepEqual(x[key], y[key])) return false;
  return true;
}

function sameItems(a: unknown[], b: unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
  return true;
}

/** Appends the changes that turn `from` into `to` (either may be undefined = absent). */
export function diffValues(from: unknown, to: unknown, path: string, out: FieldChange[]): void {
  if (deepEqual(from, to)) return;
  if (from === undefined) out.push({ path, op: 'add', to });
  else if (to === undefined) out.push({ path, op: 'remove', from });
  else if (isObject(from) && isObject(to)) diffObjects(from, to, path, out);
  else if (Array.isArray(from) && Array.isArray(to)) diffArrays(from, to, path, out);
  else out.push({ path, op: 'replace', from, to });
}

function diffObjects(from: PlainObject, to: PlainObject, path: string, out: FieldChange[]): void {
  const keys = new Set([...Object.keys(from), ...Object.keys(to)]);
  for (const key of [...keys].sort(byCodeUnit)) {
    diffValues(from[key], to[key], keySegment(path, key), out);
  }
}

function diffArrays(from: unknown[], to: unknown[], path: string, out: FieldChange[]): void {
  const named = namedItems(from, to);
  if (named) {
    const [a, b] = named as [Map<string, unknown>, Map<string, unknown>];
    const names = new Set([...a.keys(), ...b.keys()]);
    for (const name of [...names].sort(byCodeUnit)) {
      diffValues(a.get(name), b.get(name), nameSegment(path, name), out);
    }
    return;
  }
  const length = Math.max(from.length, to.length);
  for (let i = 0; i < length; i++) diffValues(from[i], to[i], `${path}[${i}]`, out);
}

/**
 * Appends one change per leaf of `value`, to show a whole created or deleted subtree
 * field by field, with the same paths an update would use.
 */
export function flattenValue(
  value: unknown,
  path: string,
  op: 'add' | 'remove',
  out: FieldChange[],
): void {
  if (value === undefined) return;
  if (isObject(value)) {
    const keys = sortedKeys(value);
    for (const key of keys) flattenValue(value[key], keySegment(path, key), op, out);
    if (keys.length) return;
  } else if (Array.isArray(value)) {
    flattenArray(value, path, op, out);
    if (value.length) return;
  }
  // Scalars, and empty maps and lists, which would otherwise vanish from the plan.
  out.push(op === 'add' ? { path, op, to: value } : { path, op, from: value });
}

function flattenArray(list: unknown[], path: string, op: 'add' | 'remove', out: FieldChange[]) {
  const named = namedItems(list)?.[0];
  if (!named) {
    list.forEach((item, i) => flattenValue(item, `${path}[${i}]`, op, out));
    return;
  }
  for (const name of [...named.keys()].sort(byCodeUnit)) {
    flattenValue(named.get(name), nameSegment(path, name), op, out);
  }
}
