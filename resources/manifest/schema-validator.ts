import { createHash } from 'node:crypto';
import { Ajv, type CodeOptions, type ErrorObject, type ValidateFunction } from 'ajv';
import { createRequire } from 'node:module';
import type { TObject } from '@sinclair/typebox';
import { KINDS, type KindName } from '../schema/kinds.js';
import { redactCredentials } from './redact.js';
import type { Path } from './source-file.js';

const require = createRequire(import.meta.url);
// ajv-formats is CommonJS whose typings describe an ESM default export; require() is exact.
const addFormats = require('ajv-formats') as (ajv: Ajv, formats: string[]) => Ajv;

export interface SchemaIssue {
  path: Path;
  message: string;
}

/** Options shared by the runtime compile and the build-time precompile, so both agree. */
export function createSchemaAjv(code: CodeOptions = {}): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    verbose: true,
    strict: true,
    strictTuples: false,
    // ajv's code optimizer costs ~40% of a compile and saves far less at validation time.
    code: { optimize: false, ...code },
  });
  addFormats(ajv, ['date', 'date-time', 'email', 'uri']);
  // Kubernetes schema extensions carried by the schemas for the CRD generator.
  ajv.addVocabulary([
    'x-kubernetes-list-type',
    'x-kubernetes-list-map-keys',
    'x-kubernetes-map-type',
    'x-kubernetes-preserve-unknown-fields',
  ]);
  return ajv;
}

/** Fingerprint of the schemas, stored in the precompiled validators to detect a stale build. */
export function schemaFingerprint(): string {
  return createHash('sha256')
    .update(JSON.stringify(KINDS.map((k) => k.schema)))
    .digest('hex');
}

/** File name of the validators that `npm run build` precompiles next to this module. */
export const PRECOMPILED_VALIDATORS = 'schema-validators.cjs';

let validators: Map<KindName, ValidateFunction> | undefined;

/**
 * Validators per kind: the build's precompiled ones when present and made from these
 * schemas (compiling costs ~0.2 s per run), else compiled now (tests run from sources).
 */
function compiled(): Map<KindName, ValidateFunction> {
  if (!validators) {
    const pre = loadPrecompiled();
    validators = new Map(
      KINDS.map((k) => [k.kind, pre?.[k.kind] ?? createSchemaAjv().compile(k.schema as TObject)]),
    );
  }
  return validators;
}

function loadPrecompiled(): Record<string, ValidateFunction> | undefined {
  try {
    const mod = require(`./${PRECOMPILED_VALIDATORS}`) as Record<string, ValidateFunction> & {
      fingerprint?: string;
    };
    return mod.fingerprint === schemaFingerprint() ? mod : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return undefined;
    throw err;
  }
}

/** Validates one document against its kind's schema; returns issues with field paths. */
export function validateAgainstSchema(kind: KindName, value: unknown): SchemaIssue[] {
  const validate = compiled().get(kind)!;
  if (!validate(value)) return dedupe((validate.errors ?? []).map(toIssue));
  const issues: SchemaIssue[] = [];
  duplicateListKeys(KINDS.find((k) => k.kind === kind)!.schema as SchemaNode, value, [], issues);
  return issues;
}

interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  items?: SchemaNode | SchemaNode[];
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
}

const holdsMapList = new WeakMap<SchemaNode, boolean>();

/** Whether a schema node has a keyed list anywhere below it (memoized; prunes the walk). */
function hasMapList(node: SchemaNode): boolean {
  let known = holdsMapList.get(node);
  if (known === undefined) {
    const children = [
      ...Object.values(node.properties ?? {}),
      ...(typeof node.additionalProperties === 'object' ? [node.additionalProperties] : []),
      ...(Array.isArray(node.items) ? node.items : node.items ? [node.items] : []),
    ];
    known = node['x-kubernetes-list-type'] === 'map' || children.some(hasMapList);
    holdsMapList.set(node, known);
  }
  return known;
}

/**
 * Lists the schema marks as keyed (`x-kubernetes-list-type: map`) may not repeat a key:
 * server-side apply merges items by it, and the apiserver rejects duplicates. JSON Schema
 * cannot say this, so the rule is read from the same schema here.
 */
function duplicateListKeys(node: SchemaNode, value: unknown, path: Path, out: SchemaIssue[]): void {
  if (!hasMapList(node) || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    const keys =
      node['x-kubernetes-list-type'] === 'map' ? node['x-kubernetes-list-map-keys'] : undefined;
    const seen = new Map<string, number>();
    value.forEach((item, i) => {
      if (keys && item && typeof item === 'object') {
        const key = keys.map((k) => String((item as Record<string, unknown>)[k])).join('/');
        const first = seen.get(key);
        if (first === undefined) seen.set(key, i);
        else
          out.push({
            path: [...path, i, keys[0]!],
            message: `duplicate ${keys.join('/')} "${key}" (first at index ${first})`,
          });
      }
      const itemSchema = Array.isArray(node.items) ? node.items[i] : node.items;
      if (itemSchema) duplicateListKeys(itemSchema, item, [...path, i], out);
    });
    return;
  }
  const record = value as Record<string, unknown>;
  for (const [k, child] of Object.entries(node.properties ?? {})) {
    if (k in record) duplicateListKeys(child, record[k], [...path, k], out);
  }
  if (typeof node.additionalProperties === 'object') {
    for (const k of Object.keys(record)) {
      if (!node.properties?.[k])
        duplicateListKeys(node.additionalProperties, record[k], [...path, k], out);
    }
  }
}

function toIssue(e: ErrorObject): SchemaIssue {
  const path: (string | number)[] = e.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^[0-9]+$/.test(s) ? Number(s) : s));
  const shown = (v: unknown) => redactCredentials(JSON.stringify(v));
  const description = (e.parentSchema as { description?: string } | undefined)?.description;
  switch (e.keyword) {
    case 'required':
      return {
        path: [...path, e.params.missingProperty as string],
        message: `missing required field "${e.params.missingProperty}"`,
      };
    case 'additionalProperties': {
      const key = e.params.additionalProperty as string;
      const known = Object.keys((e.parentSchema as { properties?: object })?.properties ?? {});
      const guess = closest(key, known);
      return {
        path: [...path, key],
        message: `unknown field "${key}"${guess ? ` (did you mean "${guess}"?)` : ''}`,
      };
    }
    case 'type':
      return { path, message: `must be ${e.params.type}, got ${typeName(e.data)}` };
    case 'enum':
      return {
        path,
        message: `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}; got ${shown(e.data)}`,
      };
    case 'const':
      return {
        path,
        message: `must be ${JSON.stringify(e.params.allowedValue)}; got ${shown(e.data)}`,
      };
    case 'pattern':
      return {
        path,
        message: `${shown(e.data)} is not valid${description ? `: ${description}` : ` (must match ${e.params.pattern})`}`,
      };
    case 'format':
      return { path, message: `${shown(e.data)} is not a valid ${e.params.format}` };
    default:
      return {
        path,
        message: `${e.message ?? 'is invalid'}${e.data !== undefined && typeof e.data !== 'object' ? `; got ${shown(e.data)}` : ''}`,
      };
  }
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function dedupe(issues: SchemaIssue[]): SchemaIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.path.join('/')}|${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Closest known key by edit distance, when close enough to be a likely typo. */
function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
