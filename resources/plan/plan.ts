/** What it takes to turn one fleet into another: resource changes with field-level detail. */
import type { LoadedResource } from '../manifest/load.js';
import { KINDS, type AnyResource } from '../schema/kinds.js';
import { byCodeUnit, diffValues, type FieldChange } from './diff.js';

export type { FieldChange } from './diff.js';

export type ChangeAction = 'create' | 'update' | 'delete';

/** One resource that a plan creates, updates or deletes. */
export interface ResourceChange {
  action: ChangeAction;
  /** Identity, as `resourceKey` gives it: `Kind/namespace/name` or `Kind/name`. */
  key: string;
  kind: string;
  namespace?: string;
  name: string;
  /** File of the desired resource for create and update; of the current one for delete. */
  file?: string;
  /**
   * Field changes in a stable order (declared parts, then keys and list names sorted).
   * A create adds (a delete removes) each declared part whole: `apiVersion`, `kind`,
   * `metadata.labels`, `metadata.annotations`, `spec`.
   */
  fields: FieldChange[];
}

export interface PlanSummary {
  create: number;
  update: number;
  delete: number;
  unchanged: number;
}

/** The changes between a current and a desired fleet, in apply order. */
export interface FleetPlan {
  changes: ResourceChange[];
  summary: PlanSummary;
}

// The parts of a resource that a user declares. Status and server-set metadata
// (resourceVersion, generation, uid, creationTimestamp) change without anyone editing
// the fleet, so comparing them would report noise on every plan against a live cluster.
const DECLARED: readonly (readonly string[])[] = [
  ['apiVersion'],
  ['kind'],
  ['metadata', 'labels'],
  ['metadata', 'annotations'],
  ['spec'],
];

const RANK = new Map<string, number>(KINDS.map((k) => [k.kind, k.rank]));
// An unknown kind (not possible after schema validation) sorts last rather than throwing.
const rankOf = (kind: string) => RANK.get(kind) ?? KINDS.length;

function valueAt(resource: AnyResource, path: readonly string[]): unknown {
  let value: unknown = resource;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function diffResources(current: AnyResource, desired: AnyResource): FieldChange[] {
  const out: FieldChange[] = [];
  for (const path of DECLARED) {
    diffValues(valueAt(current, path), valueAt(desired, path), path.join('.'), out);
  }
  return out;
}

// Whole parts rather than every leaf: a first plan of 6,000 cameras would otherwise build
// hundreds of thousands of entries that only the few rendered resources ever need.
function wholeResource(resource: AnyResource, op: 'add' | 'remove'): FieldChange[] {
  const out: FieldChange[] = [];
  for (const path of DECLARED) {
    const value = valueAt(resource, path);
    if (value === undefined) continue;
    const at = path.join('.');
    out.push(op === 'add' ? { path: at, op, to: value } : { path: at, op, from: value });
  }
  return out;
}

function change(
  action: ChangeAction,
  loaded: LoadedResource,
  fields: FieldChange[],
): ResourceChange {
  const { kind, metadata } = loaded.resource;
  return {
    action,
    key: loaded.key,
    kind,
    ...(metadata.namespace ? { namespace: metadata.namespace } : {}),
    name: metadata.name,
    file: loaded.source.path,
    fields,
  };
}

// The first definition of a key wins; duplicates are a validation error reported elsewhere.
function byKey(resources: readonly LoadedResource[]): Map<string, LoadedResource> {
  const map = new Map<string, LoadedResource>();
  for (const r of resources) if (!map.has(r.key)) map.set(r.key, r);
  return map;
}

function applyOrder(a: ResourceChange, b: ResourceChange): number {
  const deleting = (a.action === 'delete' ? 1 : 0) - (b.action === 'delete' ? 1 : 0);
  if (deleting) return deleting;
  const rank = rankOf(a.kind) - rankOf(b.kind);
  // Deletes run dependents first: cameras before the sites and tenants they reference.
  return (a.action === 'delete' ? -rank : rank) || byCodeUnit(a.key, b.key);
}

/** Compares a desired fleet with the current one by resource identity, field by field. */
export function planFleet(
  desired: readonly LoadedResource[],
  current: readonly LoadedResource[],
): FleetPlan {
  const wanted = byKey(desired);
  const existing = byKey(current);
  const changes: ResourceChange[] = [];
  let unchanged = 0;
  for (const [key, d] of wanted) {
    const c = existing.get(key);
    if (!c) {
      changes.push(change('create', d, wholeResource(d.resource, 'add')));
      continue;
    }
    const fields = diffResources(c.resource, d.resource);
    if (fields.length) changes.push(change('update', d, fields));
    else unchanged++;
  }
  for (const [key, c] of existing) {
    if (!wanted.has(key)) changes.push(change('delete', c, wholeResource(c.resource, 'remove')));
  }
  changes.sort(applyOrder);
  const count = (action: ChangeAction) => changes.filter((c) => c.action === action).length;
  return {
    changes,
    summary: {
      create: count('create'),
      update: count('update'),
      delete: count('delete'),
      unchanged,
    },
  };
}
