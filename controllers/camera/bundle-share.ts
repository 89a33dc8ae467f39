import { isDeepStrictEqual } from 'node:util';
import { packPayload } from '../apply/payload.js';
import type { LiveBundle, LiveEdge } from '../cache/fleet-cache.js';
import { controllerRef, VMS, type KubeObject, type Manager } from '../runtime/index.js';
import { digest } from './names.js';
import { workloadDigest, type Workload } from './render.js';

/**
 * The payloads of a bundle: the camera workloads and the model workloads travel as two
 * compressed payloads, so a change to one side leaves the other's bytes as they were.
 */
export const CAMERA_SHARE = 'camera';
export const MODEL_SHARE = 'model';

/** One payload of a bundle and the workloads it carries. */
export interface BundleShare {
  name: string;
  workloads: Workload[];
}

// Informers replace an object on every change, so the object itself is the memo key: a
// tenant-wide pass over hundreds of bundles hashes only the ones that changed.
const revisions = new WeakMap<LiveBundle, string>();

/** The revision of a bundle: a digest of its workloads in name order. */
export function bundleRevision(bundle: LiveBundle): string {
  let revision = revisions.get(bundle);
  if (revision === undefined) {
    const workloads = [...(bundle.spec.workloads ?? [])].sort((a, b) => (a.name < b.name ? -1 : 1));
    revision = digest(workloads.map((w) => [w.name, workloadDigest(w as never)]));
    revisions.set(bundle, revision);
  }
  return revision;
}

/** Server-side applies an edge's whole bundle: index entries, payloads and labels. */
export async function applyBundle(
  mgr: Manager,
  edge: LiveEdge,
  shares: readonly BundleShare[],
  fieldManager: string,
  labels: Record<string, string> = {},
): Promise<void> {
  const sorted = shares.map((s) => ({
    name: s.name,
    workloads: [...s.workloads].sort((a, b) => (a.name < b.name ? -1 : 1)),
  }));
  await mgr.client.apply(
    VMS['EdgeBundle']!,
    {
      metadata: {
        name: edge.metadata.name,
        namespace: edge.metadata.namespace,
        ...(Object.keys(labels).length > 0 ? { labels } : {}),
        ownerReferences: [controllerRef(VMS['EdgeServer']!, edge)],
      },
      spec: {
        edgeServer: edge.metadata.name,
        workloads: sorted.flatMap((s) =>
          s.workloads.map((w) => ({
            name: w.name,
            source: w.source,
            ...(w.models ? { models: w.models } : {}),
            ...(w.usage ? { usage: w.usage } : {}),
            digest: workloadDigest(w),
          })),
        ),
        payloads: sorted.map((s) => packPayload(s.name, s.workloads)),
      },
    },
    { fieldManager, force: true },
  );
}

/**
 * Whether a bundle already is exactly these shares: entries, payload names, and the labels
 * under `labelPrefix` (those the writer manages; others are left to whoever set them).
 */
export function bundleEquals(
  bundle: LiveBundle,
  shares: readonly BundleShare[],
  labels: Record<string, string> = {},
  labelPrefix = '',
): boolean {
  const payloads = (bundle.spec.payloads ?? []).map((p) => p.name).sort();
  if (!isDeepStrictEqual(payloads, shares.map((s) => s.name).sort())) return false;
  const current = bundle.spec.workloads ?? [];
  const entries = shares.flatMap((s) => s.workloads);
  if (current.length !== entries.length) return false;
  const byName = new Map(current.map((w) => [w.name, w]));
  const sameEntries = entries.every((e) => {
    const c = byName.get(e.name);
    return (
      !!c &&
      c.source === e.source &&
      isDeepStrictEqual(c.models ?? [], e.models ?? []) &&
      isDeepStrictEqual(c.usage, e.usage) &&
      c.digest === workloadDigest(e)
    );
  });
  if (!sameEntries) return false;
  const have = Object.entries(bundle.metadata.labels ?? {}).filter(
    ([k]) => labelPrefix && k.startsWith(labelPrefix),
  );
  return have.length === Object.keys(labels).length && have.every(([k, v]) => labels[k] === v);
}

export function hasOwner(obj: KubeObject, owner: KubeObject): boolean {
  return !!obj.metadata.ownerReferences?.some((r) => r.uid === owner.metadata.uid);
}
