import {
  diffValues,
  KINDS,
  type AnyResource,
  type ChangeAction,
  type FieldChange,
  type FleetPlan,
  type ResourceChange,
} from '../../resources/index.js';
import {
  CORE,
  KubeApiError,
  typeOf,
  VMS,
  type KubeClient,
  type KubeObject,
  type ResourceType,
} from '../runtime/index.js';
import {
  applyRank,
  conflictManagers,
  desiredObject,
  DIGEST_ANNOTATION,
  objectId,
  pool,
  SOURCE_LABEL,
  tenantNamespaces,
  type ApplyOutcome,
} from './apply-set.js';

/**
 * What applying a fleet would change in a live cluster, Flux `diff` style: every object is
 * server-side applied with `dryRun=All` (the apiserver runs defaulting, validation,
 * admission and the field-manager merge, and stores nothing) and the result is compared with
 * the live object, field by field, on what a fleet declares (labels, annotations, spec).
 * Objects the same source applied earlier and the fleet no longer has are deletions.
 */

export interface ClusterPlanOptions {
  /** Field manager of the apply being previewed (`vmsctl-apply`). */
  fieldManager: string;
  /** Value of the applied-by label (`vmsctl-apply`, `fleetsync.<name>`). */
  source: string;
  /** List what the source applied and the fleet lacks as deletions (default true). */
  prune?: boolean;
  concurrency?: number;
}

/** A fleet resource to plan, with the file it came from (shown next to the change). */
export interface PlannedResource {
  resource: AnyResource;
  file?: string;
}

export interface ClusterPlan extends FleetPlan {
  /** What an apply would do to each object (tenant namespaces included), in apply order. */
  outcomes: ApplyOutcome[];
  /** Objects whose apply would take fields over from other field managers. */
  conflicts: { id: string; managers: string[] }[];
  /** Objects the apiserver refused in the dry run: an apply would fail on them. */
  errors: { id: string; message: string }[];
  /** Objects in a namespace the apply would create first: the server could not check them. */
  unchecked: string[];
}

/** Labels, annotations (less the apply digest) and spec: what a fleet declares. */
function declared(o: KubeObject): [string, unknown][] {
  const annotations = { ...o.metadata.annotations };
  delete annotations[DIGEST_ANNOTATION];
  return [
    ['metadata.labels', o.metadata.labels && { ...o.metadata.labels }],
    ['metadata.annotations', Object.keys(annotations).length ? annotations : undefined],
    ['spec', o.spec],
  ];
}

function wholeObject(o: KubeObject, op: 'add' | 'remove'): FieldChange[] {
  const parts: [string, unknown][] = [
    ['apiVersion', o.apiVersion],
    ['kind', o.kind],
    ...declared(o),
  ];
  return parts
    .filter(([, v]) => v !== undefined)
    .map(([path, v]) => (op === 'add' ? { path, op, to: v } : { path, op, from: v }));
}

function diffObjects(live: KubeObject, next: KubeObject): FieldChange[] {
  const out: FieldChange[] = [];
  const after = new Map(declared(next));
  for (const [path, before] of declared(live)) diffValues(before, after.get(path), path, out);
  return out;
}

function change(
  action: ChangeAction,
  o: KubeObject,
  fields: FieldChange[],
  file?: string,
): ResourceChange {
  return {
    action,
    key: objectId(o),
    kind: o.kind ?? '',
    ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
    name: o.metadata.name,
    ...(file ? { file } : {}),
    fields,
  };
}

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function applyOrder(a: ResourceChange, b: ResourceChange): number {
  const deleting = (a.action === 'delete' ? 1 : 0) - (b.action === 'delete' ? 1 : 0);
  if (deleting) return deleting;
  const rank = applyRank(a.kind) - applyRank(b.kind);
  return (a.action === 'delete' ? -rank : rank) || byCodeUnit(a.key, b.key);
}

/** The type of an object the plan handles, or an error that names it. */
function typeFor(o: KubeObject): ResourceType {
  const type = typeOf(o);
  if (!type) throw new Error(`${objectId(o)}: unknown kind ${o.apiVersion}/${o.kind}`);
  return type;
}

interface Planned {
  outcome: ApplyOutcome;
  change?: ResourceChange;
  unchecked?: boolean;
}

async function planOne(
  client: KubeClient,
  obj: KubeObject,
  file: string | undefined,
  missingNamespaces: ReadonlySet<string>,
  options: ClusterPlanOptions,
): Promise<Planned> {
  const type = typeFor(obj);
  const id = objectId(obj);
  if (type.namespaced && missingNamespaces.has(obj.metadata.namespace ?? '')) {
    return {
      outcome: { id, action: 'created' },
      change: change('create', obj, wholeObject(obj, 'add'), file),
      unchecked: true,
    };
  }
  const live = await client.get(type, obj.metadata);
  let result: KubeObject;
  let tookOverFrom: string[] | undefined;
  try {
    try {
      result = await client.apply(type, obj, { fieldManager: options.fieldManager, dryRun: true });
    } catch (err) {
      if (!(err instanceof KubeApiError) || err.statusCode !== 409) throw err;
      tookOverFrom = conflictManagers(err);
      result = await client.apply(type, obj, {
        fieldManager: options.fieldManager,
        force: true,
        dryRun: true,
      });
    }
  } catch (err) {
    // The server's answer for this object (invalid, forbidden); transport errors abort.
    if (!(err instanceof KubeApiError) || err.statusCode >= 500 || err.statusCode === 429)
      throw err;
    return { outcome: { id, action: 'failed', error: err.message } };
  }
  const conflict = tookOverFrom?.length ? { tookOverFrom } : {};
  if (!live) {
    return {
      outcome: { id, action: 'created', ...conflict },
      change: change('create', result, wholeObject(result, 'add'), file),
    };
  }
  const fields = diffObjects(live, result);
  if (!fields.length) return { outcome: { id, action: 'unchanged', ...conflict } };
  return {
    outcome: { id, action: 'configured', ...conflict },
    change: change('update', result, fields, file),
  };
}

/**
 * Live objects of the fleet kinds that carry `source`'s applied-by label and are not in
 * `keep` (ids): what a prune would delete, dependents first (cameras before tenants).
 */
export async function staleObjects(
  client: KubeClient,
  keep: ReadonlySet<string>,
  source: string,
): Promise<KubeObject[]> {
  const lists = await Promise.all(
    KINDS.map((k) =>
      client.list<KubeObject>(VMS[k.kind]!, { labelSelector: `${SOURCE_LABEL}=${source}` }),
    ),
  );
  return lists
    .flatMap((l, i) => {
      const type = VMS[KINDS[i]!.kind]!;
      return l.items.map((o) => ({ ...o, apiVersion: type.apiVersion, kind: type.kind }));
    })
    .filter((o) => !o.metadata.deletionTimestamp && !keep.has(objectId(o)))
    .sort((a, b) => applyRank(b.kind) - applyRank(a.kind) || byCodeUnit(objectId(a), objectId(b)));
}

/**
 * Deletes the objects `staleObjects` found, in that order, each only if it is still the
 * same object (uid precondition) and still labelled as `source`'s. Returns the deleted ids.
 */
export async function pruneObjects(
  client: KubeClient,
  stale: readonly KubeObject[],
  source: string,
): Promise<string[]> {
  const deleted: string[] = [];
  for (const o of stale) {
    if (o.metadata.labels?.[SOURCE_LABEL] !== source) continue;
    const id = objectId(o);
    try {
      if (await client.delete(typeFor(o), o.metadata, { uid: o.metadata.uid })) deleted.push(id);
    } catch (err) {
      // Re-created under the same name since the list (uid precondition): not ours to delete.
      if (err instanceof KubeApiError && err.statusCode === 409) continue;
      if (err instanceof KubeApiError)
        throw new KubeApiError(err.statusCode, err.reason, `${id}: ${err.message}`, err.details);
      throw err;
    }
  }
  return deleted;
}

/**
 * Plans applying `resources` (plus the tenant namespaces they need) to the cluster with a
 * server-side dry run. Nothing is written.
 */
export async function planCluster(
  client: KubeClient,
  resources: readonly PlannedResource[],
  options: ClusterPlanOptions,
): Promise<ClusterPlan> {
  const objects = resources.map((r) => ({
    obj: desiredObject(r.resource, options.source),
    file: r.file,
  }));
  const namespaces = tenantNamespaces(
    objects.map((o) => o.obj),
    options.source,
  );
  const missing = new Set<string>();
  await Promise.all(
    namespaces.map(async (ns) => {
      if (!(await client.get(CORE.Namespace, { name: ns.metadata.name })))
        missing.add(ns.metadata.name);
    }),
  );
  const all = [...namespaces.map((obj) => ({ obj, file: undefined })), ...objects];
  const planned = await pool(all, options.concurrency ?? 16, ({ obj, file }) =>
    planOne(client, obj, file, missing, options),
  );
  const changes = planned.flatMap((p) => (p.change ? [p.change] : []));
  if (options.prune ?? true) {
    const keep = new Set(objects.map((o) => objectId(o.obj)));
    for (const o of await staleObjects(client, keep, options.source)) {
      changes.push(change('delete', o, wholeObject(o, 'remove')));
    }
  }
  changes.sort(applyOrder);
  const outcomes = planned
    .map((p) => p.outcome)
    .sort(
      (a, b) =>
        applyRank(a.id.split('/')[0]) - applyRank(b.id.split('/')[0]) || byCodeUnit(a.id, b.id),
    );
  const count = (action: ChangeAction) => changes.filter((c) => c.action === action).length;
  return {
    changes,
    summary: {
      create: count('create'),
      update: count('update'),
      delete: count('delete'),
      unchanged: planned.filter((p) => p.outcome.action === 'unchanged').length,
    },
    outcomes,
    conflicts: planned
      .filter((p) => p.outcome.tookOverFrom?.length)
      .map((p) => ({ id: p.outcome.id, managers: p.outcome.tookOverFrom! })),
    errors: planned
      .filter((p) => p.outcome.action === 'failed')
      .map((p) => ({ id: p.outcome.id, message: p.outcome.error ?? 'failed' })),
    unchecked: planned.filter((p) => p.unchecked).map((p) => p.outcome.id),
  };
}
