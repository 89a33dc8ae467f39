import { isDeepStrictEqual } from 'node:util';
import { packPayload } from '../apply/payload.js';
import type { LiveBundle, LiveEdge } from '../cache/fleet-cache.js';
import { controllerRef, VMS, type KubeObject, type Manager } from '../runtime/index.js';
import { workloadDigest, type Workload } from './render.js';

/** The bundle shares: which workloads (by name prefix) and payload each controller owns. */
export const CAMERA_SHARE = 'camera';
export const MODEL_SHARE = 'model';

/** Server-side applies one controller's share of an edge's bundle: index entries and payload. */
export async function applyBundleShare(
  mgr: Manager,
  edge: LiveEdge,
  share: string,
  workloads: Workload[],
  fieldManager: string,
  labels: Record<string, string> = {},
): Promise<void> {
  const sorted = [...workloads].sort((a, b) => (a.name < b.name ? -1 : 1));
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
        workloads: sorted.map((w) => ({
          name: w.name,
          source: w.source,
          ...(w.models ? { models: w.models } : {}),
          ...(w.usage ? { usage: w.usage } : {}),
          digest: workloadDigest(w),
        })),
        payloads: [packPayload(share, sorted)],
      },
    },
    { fieldManager, force: true },
  );
}

/** Whether a bundle's share (`share-` workloads and its payload) is exactly `entries`. */
export function ownedEntriesEqual(bundle: LiveBundle, entries: Workload[], share: string): boolean {
  if (!bundle.spec.payloads?.some((p) => p.name === share)) return false;
  const current = (bundle.spec.workloads ?? []).filter((w) => w.name.startsWith(`${share}-`));
  if (current.length !== entries.length) return false;
  const byName = new Map(current.map((w) => [w.name, w]));
  return entries.every((e) => {
    const c = byName.get(e.name);
    return (
      !!c &&
      c.source === e.source &&
      isDeepStrictEqual(c.models ?? [], e.models ?? []) &&
      isDeepStrictEqual(c.usage, e.usage) &&
      c.digest === workloadDigest(e)
    );
  });
}

export function hasOwner(obj: KubeObject, owner: KubeObject): boolean {
  return !!obj.metadata.ownerReferences?.some((r) => r.uid === owner.metadata.uid);
}
