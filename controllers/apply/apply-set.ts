import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { KINDS, type AnyResource } from '../../resources/index.js';
import { canonicalJson } from './canonical-json.js';
import {
  CORE,
  KubeApiError,
  typeOf,
  type ApplyOptions,
  type KubeClient,
  type KubeObject,
  type ResourceType,
} from '../runtime/index.js';

/** Label that marks objects applied by a FleetSync (or `vmsctl apply`), naming the source. */
export const SOURCE_LABEL = 'vmsctl.io/applied-by';
/** Annotation holding the digest of what was applied, so unchanged objects are not re-sent. */
export const DIGEST_ANNOTATION = 'vmsctl.io/applied-digest';
/** Label on tenant namespaces. */
export const TENANT_LABEL = 'vmsctl.io/tenant';

export type ApplyAction = 'created' | 'configured' | 'unchanged' | 'failed';

export interface ApplyOutcome {
  id: string;
  action: ApplyAction;
  /** Managers whose fields this apply took over (someone edited Git-owned fields by hand). */
  tookOverFrom?: string[];
  /** Why the apply failed (action "failed"); the other objects are still applied. */
  error?: string;
}

export interface ApplySetOptions {
  fieldManager: string;
  /** Value of SOURCE_LABEL, e.g. `fleetsync.flux-like/main` or `vmsctl-apply`. */
  source: string;
  /** Live objects by `Kind/namespace/name` (an informer cache); missing ones are fetched. */
  live?: (id: string, type: ResourceType) => KubeObject | undefined;
  concurrency?: number;
  /** See ApplyOptions; for measuring the apiserver's cost of it (bench:write-cost). */
  fieldValidation?: ApplyOptions['fieldValidation'];
}

/** `Kind/namespace/name` or `Kind/name`. */
export function objectId(o: {
  kind?: string;
  metadata: { name: string; namespace?: string };
}): string {
  return o.metadata.namespace
    ? `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`
    : `${o.kind}/${o.metadata.name}`;
}

const RANK = new Map<string, number>(KINDS.map((k) => [k.kind, k.rank]));

/** Apply order: namespaces, then the fleet kinds by rank (a kind only references lower ranks). */
export function applyRank(kind: string | undefined): number {
  if (kind === 'Namespace') return -1;
  return RANK.get(kind ?? '') ?? KINDS.length;
}

/** Stable digest of what an apply sends (labels, annotations and spec). */
export function digestOf(obj: KubeObject): string {
  const { labels, annotations } = obj.metadata;
  const rest = { ...annotations };
  delete rest[DIGEST_ANNOTATION];
  return createHash('sha256')
    .update(canonicalJson([labels ?? {}, rest, obj.spec ?? null]))
    .digest('hex')
    .slice(0, 20);
}

/** The object an apply sends for a fleet resource: no status, source label, digest annotation. */
export function desiredObject(resource: AnyResource, source: string): KubeObject {
  const { name, namespace, labels, annotations } = resource.metadata;
  const obj: KubeObject = {
    apiVersion: resource.apiVersion,
    kind: resource.kind,
    metadata: {
      name,
      ...(namespace ? { namespace } : {}),
      labels: { ...labels, [SOURCE_LABEL]: source },
      ...(annotations ? { annotations: { ...annotations } } : {}),
    },
    spec: resource.spec,
  };
  obj.metadata.annotations = { ...obj.metadata.annotations, [DIGEST_ANNOTATION]: digestOf(obj) };
  return obj;
}

/** The Namespace each tenant's namespaced resources live in. */
export function tenantNamespaces(objects: readonly KubeObject[], source: string): KubeObject[] {
  const names = new Set<string>();
  for (const o of objects) if (o.metadata.namespace) names.add(o.metadata.namespace);
  return [...names].sort().map((name) => {
    const ns: KubeObject = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, labels: { [TENANT_LABEL]: name, [SOURCE_LABEL]: source } },
    };
    ns.metadata.annotations = { [DIGEST_ANNOTATION]: digestOf(ns) };
    return ns;
  });
}

/** True when everything `want` sets has the same value in `have` (extra fields are fine). */
export function isSubset(want: unknown, have: unknown): boolean {
  if (want && typeof want === 'object' && !Array.isArray(want)) {
    if (!have || typeof have !== 'object' || Array.isArray(have)) return false;
    return Object.entries(want as Record<string, unknown>).every(
      ([k, v]) => v === undefined || isSubset(v, (have as Record<string, unknown>)[k]),
    );
  }
  if (Array.isArray(want)) {
    return (
      Array.isArray(have) &&
      want.length === have.length &&
      want.every((v, i) => isSubset(v, have[i]))
    );
  }
  return isDeepStrictEqual(want, have);
}

/** Whether the live object already carries this apply (same digest, no drift in our fields). */
export function upToDate(desired: KubeObject, live: KubeObject | undefined): boolean {
  if (!live || live.metadata.deletionTimestamp) return false;
  const digest = desired.metadata.annotations?.[DIGEST_ANNOTATION];
  return (
    live.metadata.annotations?.[DIGEST_ANNOTATION] === digest &&
    isSubset(desired.metadata.labels ?? {}, live.metadata.labels ?? {}) &&
    isSubset(desired.spec ?? {}, live.spec ?? {})
  );
}

/** Field managers named in a 409 apply conflict ("conflict with \"kubectl\" using v1: .spec.x"). */
export function conflictManagers(err: KubeApiError): string[] {
  const text = `${err.message} ${JSON.stringify(err.details ?? '')}`;
  return [...new Set([...text.matchAll(/conflicts? with \\?"([^"\\]+)\\?"/g)].map((m) => m[1]!))];
}

/**
 * Server-side applies objects in dependency order with bounded concurrency. Objects whose
 * live copy already matches are skipped (zero writes when nothing changed). A conflict with
 * another field manager (someone edited a Git-owned field) is resolved the GitOps way: the
 * apply is forced and the managers it took over from are reported.
 */
export async function applyObjects(
  client: KubeClient,
  objects: readonly KubeObject[],
  options: ApplySetOptions,
): Promise<ApplyOutcome[]> {
  const byRank = new Map<number, KubeObject[]>();
  for (const o of objects) {
    const r = applyRank(o.kind);
    byRank.set(r, [...(byRank.get(r) ?? []), o]);
  }
  const outcomes: ApplyOutcome[] = [];
  for (const rank of [...byRank.keys()].sort((a, b) => a - b)) {
    const group = byRank.get(rank)!;
    outcomes.push(
      ...(await pool(group, options.concurrency ?? 16, (o) => applyOne(client, o, options))),
    );
  }
  return outcomes;
}

async function applyOne(
  client: KubeClient,
  obj: KubeObject,
  options: ApplySetOptions,
): Promise<ApplyOutcome> {
  const type = typeOf(obj) ?? (obj.kind === 'Namespace' ? CORE.Namespace : undefined);
  if (!type) throw new Error(`cannot apply ${obj.apiVersion}/${obj.kind}: unknown kind`);
  const id = objectId(obj);
  const live = options.live ? options.live(id, type) : await client.get(type, obj.metadata);
  if (upToDate(obj, live)) return { id, action: 'unchanged' };
  const action: ApplyAction = live ? 'configured' : 'created';
  const { fieldManager, fieldValidation } = options;
  try {
    try {
      await client.apply(type, obj, { fieldManager, fieldValidation });
      return { id, action };
    } catch (err) {
      if (!(err instanceof KubeApiError) || err.statusCode !== 409) throw err;
      const managers = conflictManagers(err);
      await client.apply(type, obj, { fieldManager, fieldValidation, force: true });
      return { id, action, tookOverFrom: managers };
    }
  } catch (err) {
    // Transport failures abort the whole set (the caller retries); object errors are reported.
    if (!(err instanceof KubeApiError) || err.statusCode >= 500 || err.statusCode === 429)
      throw err;
    return { id, action: 'failed', error: err.message };
  }
}

/** Runs `fn` over items with at most `limit` in flight; results keep the input order. */
export async function pool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
