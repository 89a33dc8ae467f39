import { isDeepStrictEqual } from 'node:util';
import {
  fleetCache,
  type FleetCache,
  type LiveBundle,
  type LiveRelease,
} from '../cache/fleet-cache.js';
import { bundleRevision } from '../camera/bundle-share.js';
import { workloadId } from '../camera/render.js';
import { pool } from '../apply/apply-set.js';
import {
  Controller,
  controllerRef,
  isReady,
  keyOf,
  specOrMetaChanged,
  VMS,
  type Manager,
} from '../runtime/index.js';

export const ROLLOUT_MANAGER = 'vmsctl-rollout';
/** Default share of a tenant's connected edges that may be mid-update at once. */
export const DEFAULT_MAX_UNAVAILABLE = '25%';

/** maxUnavailable ("3" or "25%") as a count of `total` edges; at least one. */
export function maxUnavailableCount(value: string | undefined, total: number): number {
  const v = value ?? DEFAULT_MAX_UNAVAILABLE;
  const n = v.endsWith('%') ? Math.floor((Number(v.slice(0, -1)) / 100) * total) : Number(v);
  return Math.max(1, Number.isFinite(n) ? n : 1);
}

/** Annotation on an EdgeRelease: whether it only adds workloads or changes running ones. */
export const CHANGE_ANNOTATION = 'vmsctl.io/change';

/**
 * Staged rollout of edge bundles, keyed by tenant namespace (Fleet's maxUnavailable). A release
 * that changes or removes workloads an edge is running makes that edge unavailable from the
 * moment it is released until its agent reports it applied; at most maxUnavailable connected
 * edges are in that state at once. A release that only adds workloads (a new camera, a model
 * the edge did not run) disturbs nothing that runs and goes out at once, as does any release
 * to an edge whose agent is not connected (it picks it up when it connects).
 */
export class RolloutReconciler {
  private readonly cache: FleetCache;
  /**
   * What this controller last released to each edge (`namespace/name`) until the cache shows
   * it. The next reconcile can run before the watch delivers our own write: counted from the
   * cache alone, the edge just given a release would look idle and a second one would start.
   */
  private readonly released = new Map<string, { revision: string; uid?: string }>();
  constructor(private readonly mgr: Manager) {
    this.cache = fleetCache(mgr);
    this.cache.releases.on({
      delete: (r) => {
        const mine = this.released.get(keyOf(r));
        if (mine && (!mine.uid || mine.uid === r.metadata.uid)) this.released.delete(keyOf(r));
      },
    });
  }

  /** The revision an edge was last given: our own latest write, or the cached release's. */
  private releasedRevision(key: string): string | undefined {
    const cached = this.cache.releases.get(key)?.spec.revision;
    const mine = this.released.get(key)?.revision;
    if (mine !== undefined && cached === mine) this.released.delete(key); // the cache caught up
    return mine ?? cached;
  }

  async reconcile(namespace: string): Promise<void> {
    const tenant = this.cache.tenants.get(namespace);
    const bundles = this.cache.bundles
      .byIndex('namespace', namespace)
      .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
    const connected = (edgeName: string) => {
      const edge = this.cache.edges.get(`${namespace}/${edgeName}`);
      // Heartbeating, and its agent has said what it runs (it does once it is up).
      return !!edge && isReady(edge) && !!edge.status?.agent;
    };
    const inFlight = (key: string) => {
      const revision = this.releasedRevision(key);
      return (
        revision !== undefined && this.cache.releases.get(key)?.status?.appliedRevision !== revision
      );
    };
    let total = 0;
    let busy = 0;
    for (const b of bundles) {
      if (!connected(b.spec.edgeServer)) continue;
      total++;
      if (inFlight(`${namespace}/${b.metadata.name}`)) busy++;
    }
    let budget = maxUnavailableCount(tenant?.spec.rollout?.maxUnavailable, total) - busy;
    const due: { bundle: LiveBundle; revision: string; additive: boolean }[] = [];
    for (const bundle of bundles) {
      const key = `${namespace}/${bundle.metadata.name}`;
      const release = this.cache.releases.get(key);
      const revision = bundleRevision(bundle);
      if (this.releasedRevision(key) === revision) continue;
      const additive = isAdditive(release, bundle);
      const isConnected = connected(bundle.spec.edgeServer);
      // An edge mid-update whose bundle moved on gets the new revision at once: the one it was
      // given is no longer in its bundle, so it could not finish it. It stays in the budget
      // it already holds.
      if (isConnected && !additive && !inFlight(key)) {
        if (budget <= 0) continue;
        budget--;
      }
      due.push({ bundle, revision, additive });
    }
    // The budget was spent above; the writes themselves can go out side by side.
    await pool(due, 16, (d) => this.release(d.bundle, d.revision, d.additive));
  }

  private async release(bundle: LiveBundle, revision: string, additive: boolean): Promise<void> {
    const ns = bundle.metadata.namespace!;
    const edge = this.cache.edges.get(`${ns}/${bundle.spec.edgeServer}`);
    if (!edge) return;
    // Released from the cache: a bundle that moved on meanwhile triggers another pass. The
    // release names the revision and its workloads, not their objects: the agent reads those
    // from its bundle (Fleet's BundleDeployment likewise points at content), so the payloads
    // are written once per change instead of three times (bundle, release, agent's report).
    const workloads = [...(bundle.spec.workloads ?? [])].sort((a, b) => (a.name < b.name ? -1 : 1));
    const spec = {
      edgeServer: bundle.spec.edgeServer,
      revision,
      workloads: workloads.map((w) => workloadId(w as never)),
    };
    const key = `${ns}/${bundle.metadata.name}`;
    const current = this.cache.releases.get(key);
    if (
      current &&
      current.spec.revision === spec.revision &&
      current.spec.edgeServer === spec.edgeServer &&
      isDeepStrictEqual(current.spec.workloads, spec.workloads)
    ) {
      return;
    }
    const written = await this.mgr.client.apply<LiveRelease>(
      VMS['EdgeRelease']!,
      {
        metadata: {
          name: bundle.metadata.name,
          namespace: ns,
          annotations: { [CHANGE_ANNOTATION]: additive ? 'additive' : 'update' },
          ownerReferences: [controllerRef(VMS['EdgeServer']!, edge)],
        },
        spec,
      },
      { fieldManager: ROLLOUT_MANAGER, force: true },
    );
    this.released.set(key, { revision, uid: written?.metadata?.uid });
  }
}

/** Whether the bundle keeps every workload the current release runs, unchanged. */
export function isAdditive(release: LiveRelease | undefined, bundle: LiveBundle): boolean {
  if (!release) return true;
  const next = new Set((bundle.spec.workloads ?? []).map((w) => workloadId(w as never)));
  return release.spec.workloads.every((id) => next.has(id));
}

/** Wires the rollout controller into a manager. */
export function setupRolloutController(
  mgr: Manager,
  options: { workers?: number } = {},
): Controller {
  const cache = fleetCache(mgr);
  const controller = new Controller(
    { name: 'rollout', workers: options.workers ?? 2, log: mgr.log, barrier: mgr.barrier },
    new RolloutReconciler(mgr),
  );
  const ns = (o: { metadata: { namespace?: string } }) => [o.metadata.namespace!];
  controller.watch(cache.bundles, ns, specOrMetaChanged, 1_000);
  controller.watch(
    cache.releases,
    ns,
    (a, b) => a.status?.appliedRevision !== b.status?.appliedRevision || specOrMetaChanged(a, b),
  );
  controller.watch(
    cache.edges,
    ns,
    (a, b) => isReady(a) !== isReady(b) || !a.status?.agent !== !b.status?.agent,
  );
  controller.watch(cache.tenants, (t) => [t.metadata.name], specOrMetaChanged);
  mgr.add(controller);
  return controller;
}
