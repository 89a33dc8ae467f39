import { isDeepStrictEqual } from 'node:util';
import {
  fleetCache,
  type FleetCache,
  type LiveBundle,
  type LiveRelease,
} from '../cache/fleet-cache.js';
import { digest } from '../camera/names.js';
import { workloadId } from '../camera/render.js';
import {
  Controller,
  controllerRef,
  isReady,
  specOrMetaChanged,
  VMS,
  type Manager,
} from '../runtime/index.js';

export const ROLLOUT_MANAGER = 'vmsctl-rollout';
/** Default share of a tenant's connected edges that may be mid-update at once. */
export const DEFAULT_MAX_UNAVAILABLE = '25%';

/** The revision of a bundle: a digest of its workloads in name order. */
export function bundleRevision(bundle: LiveBundle): string {
  const workloads = [...(bundle.spec.workloads ?? [])].sort((a, b) => (a.name < b.name ? -1 : 1));
  return digest(workloads.map((w) => [w.name, w.objects]));
}

/** maxUnavailable ("3" or "25%") as a count of `total` edges; at least one. */
export function maxUnavailableCount(value: string | undefined, total: number): number {
  const v = value ?? DEFAULT_MAX_UNAVAILABLE;
  const n = v.endsWith('%') ? Math.floor((Number(v.slice(0, -1)) / 100) * total) : Number(v);
  return Math.max(1, Number.isFinite(n) ? n : 1);
}

/**
 * Staged rollout of edge bundles, keyed by tenant namespace (Fleet's maxUnavailable). An edge
 * whose agent is connected and running an older release counts as unavailable from the moment
 * it is given a new release until its agent reports that release applied; at most
 * maxUnavailable of them are mid-update at once. Edges that are not connected get their
 * release at once: nothing runs there to disrupt, and they pick it up when they connect.
 */
export class RolloutReconciler {
  private readonly cache: FleetCache;
  constructor(private readonly mgr: Manager) {
    this.cache = fleetCache(mgr);
  }

  async reconcile(namespace: string): Promise<void> {
    const tenant = this.cache.tenants.get(namespace);
    const bundles = this.cache.bundles
      .byIndex('namespace', namespace)
      .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
    const connected = (edgeName: string) => {
      const edge = this.cache.edges.get(`${namespace}/${edgeName}`);
      return !!edge && isReady(edge) && !!edge.status?.agent?.appliedRevision;
    };
    const inFlight = (r: LiveRelease | undefined) =>
      !!r && r.status?.appliedRevision !== r.spec.revision;
    let total = 0;
    let busy = 0;
    for (const b of bundles) {
      if (!connected(b.spec.edgeServer)) continue;
      total++;
      if (inFlight(this.cache.releases.get(`${namespace}/${b.metadata.name}`))) busy++;
    }
    let budget = maxUnavailableCount(tenant?.spec.rollout?.maxUnavailable, total) - busy;
    for (const bundle of bundles) {
      const release = this.cache.releases.get(`${namespace}/${bundle.metadata.name}`);
      const revision = bundleRevision(bundle);
      if (release?.spec.revision === revision) continue;
      const isConnected = connected(bundle.spec.edgeServer);
      if (isConnected) {
        if (inFlight(release)) continue; // already counted; let it finish first
        if (budget <= 0) continue;
        budget--;
      }
      await this.release(bundle, revision);
    }
  }

  private async release(bundle: LiveBundle, revision: string): Promise<void> {
    const ns = bundle.metadata.namespace!;
    const edge = this.cache.edges.get(`${ns}/${bundle.spec.edgeServer}`);
    if (!edge) return;
    const workloads = [...(bundle.spec.workloads ?? [])].sort((a, b) => (a.name < b.name ? -1 : 1));
    const spec = {
      edgeServer: bundle.spec.edgeServer,
      revision,
      workloads: workloads.map((w) => workloadId(w as never)),
      objects: workloads.flatMap((w) => w.objects),
    };
    const current = this.cache.releases.get(`${ns}/${bundle.metadata.name}`);
    if (current && isDeepStrictEqual(current.spec, spec)) return;
    await this.mgr.client.apply(
      VMS['EdgeRelease']!,
      {
        metadata: {
          name: bundle.metadata.name,
          namespace: ns,
          ownerReferences: [controllerRef(VMS['EdgeServer']!, edge)],
        },
        spec,
      },
      { fieldManager: ROLLOUT_MANAGER, force: true },
    );
  }
}

/** Wires the rollout controller into a manager. */
export function setupRolloutController(
  mgr: Manager,
  options: { workers?: number } = {},
): Controller {
  const cache = fleetCache(mgr);
  const controller = new Controller(
    { name: 'rollout', workers: options.workers ?? 2, log: mgr.log },
    new RolloutReconciler(mgr),
  );
  const ns = (o: { metadata: { namespace?: string } }) => [o.metadata.namespace!];
  controller.watch(cache.bundles, ns, specOrMetaChanged);
  controller.watch(
    cache.releases,
    ns,
    (a, b) => a.status?.appliedRevision !== b.status?.appliedRevision || specOrMetaChanged(a, b),
  );
  controller.watch(
    cache.edges,
    ns,
    (a, b) =>
      isReady(a) !== isReady(b) ||
      a.status?.agent?.appliedRevision !== b.status?.agent?.appliedRevision,
  );
  controller.watch(cache.tenants, (t) => [t.metadata.name], specOrMetaChanged);
  mgr.add(controller);
  return controller;
}
