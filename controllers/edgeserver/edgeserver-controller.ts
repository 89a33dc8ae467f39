import { fleetCache, type FleetCache, type LiveEdge } from '../cache/fleet-cache.js';
import { DEFAULT_HEARTBEAT_GRACE_S, EDGE_AGENT_LABEL } from './registration.js';
import { HeartbeatClock, heartbeatLeases } from './heartbeat.js';
import {
  applyStatusIfChanged,
  Controller,
  CORE,
  isReady,
  keyOf,
  mergeConditions,
  outcome,
  specOrMetaChanged,
  VMS,
  type KubeObject,
  type Manager,
  type ReconcileResult,
} from '../runtime/index.js';

export const EDGESERVER_MANAGER = 'vmsctl-edgeserver';
/** Longest a new edge's first status waits for its bundle (see firstStatusWait). */
export const FIRST_STATUS_WAIT_MS = 30_000;

export interface EdgeServerControllerOptions {
  now?: () => Date;
  workers?: number;
}

/**
 * The edgeserver controller: reports whether the edge is registered (its agent identity,
 * made by `vmsctl edge join`, exists), turns heartbeat freshness (renewals of the agent's
 * Lease, see heartbeat.ts) into Ready, and reports the capacity the placed cameras use. A
 * visit is scheduled for the moment the heartbeat would go stale, so NotReady needs no event,
 * and a renewal of a Ready edge's Lease costs no visit and no write.
 */
export class EdgeServerReconciler {
  private readonly cache: FleetCache;
  private readonly agents;
  readonly heartbeats: HeartbeatClock;
  /** Since when each new edge's first status has been held (see firstStatusWait). */
  private readonly heldSince = new Map<string, number>();
  constructor(
    private readonly mgr: Manager,
    private readonly options: EdgeServerControllerOptions = {},
    /** Told when an edge that is not Ready renews its heartbeat. */
    onRevived: (edgeKey: string) => void = () => undefined,
  ) {
    this.cache = fleetCache(mgr);
    this.agents = agentAccounts(mgr);
    this.heartbeats = new HeartbeatClock(heartbeatLeases(mgr), this.now, (key) => {
      const edge = this.cache.edges.get(key);
      if (edge && !isReady(edge)) onRevived(key);
    });
    this.cache.edges.on({ delete: (e) => this.heldSince.delete(keyOf(e)) });
  }

  private readonly now = (): number => (this.options.now?.() ?? new Date()).getTime();

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const edge = this.cache.edges.get(key);
    if (!edge || edge.metadata.deletionTimestamp) return;
    const wait = this.firstStatusWait(edge);
    if (wait > 0) return { requeueAfterMs: wait };
    const now = new Date(this.now());
    const graceMs =
      (edge.spec.registration?.heartbeatGraceSeconds ?? DEFAULT_HEARTBEAT_GRACE_S) * 1000;
    const beat = this.heartbeats.lastSeen(key);
    const age = beat === undefined ? undefined : Math.max(0, now.getTime() - beat);
    let conditions;
    let health: 'Healthy' | 'Unreachable' | 'Unknown';
    let requeueAfterMs: number | undefined;
    if (age === undefined) {
      health = 'Unknown';
      conditions = outcome(
        false,
        'NeverConnected',
        "waiting for the edge agent's first heartbeat (run `vmsctl edge join` on the edge)",
      );
    } else if (age > graceMs) {
      health = 'Unreachable';
      conditions = outcome(
        false,
        'HeartbeatMissed',
        `no heartbeat for ${Math.round(age / 1000)} s (grace ${graceMs / 1000} s)`,
      );
    } else {
      health = 'Healthy';
      conditions = outcome(
        true,
        'Heartbeating',
        `last heartbeat ${Math.max(0, Math.round(age / 1000))} s ago`,
      );
      // Ready only while fresh: come back when it would expire.
      requeueAfterMs = graceMs - age + 500;
    }
    // The age in the message would change on every visit; say it only when it matters.
    if (health === 'Healthy') conditions[0]!.message = 'heartbeat within the grace period';
    const registered = this.agents.byIndex('edge', key).length > 0;
    conditions.push(
      registered
        ? { type: 'Registered', status: 'True', reason: 'AgentIdentityExists', message: '' }
        : {
            type: 'Registered',
            status: 'False',
            reason: 'NotJoined',
            message: 'no agent identity yet: run `vmsctl edge join` or `vmsctl edge provision`',
          },
    );
    const capacity = this.capacityUsed(edge);
    await applyStatusIfChanged(
      this.mgr.client,
      VMS['EdgeServer']!,
      edge,
      {
        observedGeneration: edge.metadata.generation,
        conditions: mergeConditions(
          edge.status?.conditions,
          conditions,
          edge.metadata.generation,
          now,
        ),
        health,
        capacityUsed: capacity,
      },
      EDGESERVER_MANAGER,
    );
    return requeueAfterMs === undefined ? undefined : { requeueAfterMs };
  }

  /**
   * How long to hold a new edge's first status (0: write it). Until the camera controller has
   * rendered the edge's bundle its capacity is unknown, and a first status written now would
   * be rewritten a moment later: at 800 edges, 800 writes. Held at most FIRST_STATUS_WAIT_MS.
   */
  private firstStatusWait(edge: LiveEdge): number {
    const key = keyOf(edge);
    const siteHasCameras =
      this.cache.cameras.countByIndex('site', `${edge.metadata.namespace}/${edge.spec.site}`) > 0;
    if (edge.status?.conditions || this.cache.bundles.get(key) || !siteHasCameras) {
      this.heldSince.delete(key);
      return 0;
    }
    const since = this.heldSince.get(key) ?? Date.now();
    this.heldSince.set(key, since);
    return Math.max(0, since + FIRST_STATUS_WAIT_MS - Date.now());
  }

  /**
   * What the cameras rendered into the edge's bundle use of it: the camera controller
   * publishes each camera's share with its workload, so a heartbeat never re-runs placement.
   */
  private capacityUsed(edge: LiveEdge) {
    let cpu = 0;
    let mem = 0;
    let gpu = 0;
    let storage = 0;
    let cameras = 0;
    for (const w of this.cache.bundles.get(keyOf(edge))?.spec.workloads ?? []) {
      if (!w.source.startsWith('Camera/') || !w.usage) continue;
      cameras++;
      cpu += w.usage.cpuCores;
      mem += w.usage.memoryBytes;
      gpu += w.usage.gpus;
      storage += w.usage.storageBytes;
    }
    const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
    return {
      cpuCores: round(cpu),
      memoryBytes: Math.round(mem),
      gpus: round(gpu),
      storageBytes: Math.round(storage),
      cameras,
    };
  }
}

/** Agent ServiceAccounts in the cloud, indexed by `namespace/edge`. */
function agentAccounts(mgr: Manager) {
  const inf = mgr.informer<KubeObject>(CORE.ServiceAccount, { labelSelector: EDGE_AGENT_LABEL });
  if (!inf.hasIndex('edge'))
    inf.addIndex('edge', (sa) => [
      `${sa.metadata.namespace}/${sa.metadata.labels?.[EDGE_AGENT_LABEL]}`,
    ]);
  return inf;
}

/** Wires the edgeserver controller into a manager. */
export function setupEdgeServerController(
  mgr: Manager,
  options: EdgeServerControllerOptions = {},
): Controller {
  const cache = fleetCache(mgr);
  let controller: Controller | undefined = undefined;
  const reconciler = new EdgeServerReconciler(mgr, options, (key) => controller?.queue.add(key));
  controller = new Controller(
    { name: 'edgeserver', workers: options.workers ?? 4, log: mgr.log, barrier: mgr.barrier },
    reconciler,
  );
  // The agent's own report (version) is shown as it is; only spec and metadata need a visit.
  controller.watch(cache.edges, undefined, specOrMetaChanged);
  // A bundle is named for its edge server.
  controller.watch(cache.bundles, undefined, specOrMetaChanged, 2_000);
  controller.watch(agentAccounts(mgr), (sa) => [
    `${sa.metadata.namespace}/${sa.metadata.labels?.[EDGE_AGENT_LABEL]}`,
  ]);
  mgr.add(controller);
  return controller;
}
