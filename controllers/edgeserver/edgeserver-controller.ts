import { fleetCache, type FleetCache, type LiveEdge } from '../cache/fleet-cache.js';
import { EDGE_AGENT_LABEL } from './registration.js';
import { placeSite } from '../camera/placement.js';
import {
  applyStatusIfChanged,
  Controller,
  CORE,
  mergeConditions,
  outcome,
  specOrMetaChanged,
  VMS,
  type KubeObject,
  type Manager,
  type ReconcileResult,
} from '../runtime/index.js';
import { cpuOn, edgeCapacity } from '../../resources/index.js';

export const EDGESERVER_MANAGER = 'vmsctl-edgeserver';
/** Heartbeat grace when the EdgeServer does not set one. */
export const DEFAULT_HEARTBEAT_GRACE_S = 90;

export interface EdgeServerControllerOptions {
  now?: () => Date;
  workers?: number;
}

/**
 * The edgeserver controller: reports whether the edge is registered (its agent identity,
 * made by `vmsctl edge join`, exists), turns heartbeat freshness into Ready, and reports the
 * capacity the placed cameras use. A visit is scheduled for the moment the heartbeat would
 * go stale, so NotReady needs no event.
 */
export class EdgeServerReconciler {
  private readonly cache: FleetCache;
  private readonly agents;
  constructor(
    private readonly mgr: Manager,
    private readonly options: EdgeServerControllerOptions = {},
  ) {
    this.cache = fleetCache(mgr);
    this.agents = agentAccounts(mgr);
  }

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const edge = this.cache.edges.get(key);
    if (!edge || edge.metadata.deletionTimestamp) return;
    const now = this.options.now?.() ?? new Date();
    const graceMs =
      (edge.spec.registration?.heartbeatGraceSeconds ?? DEFAULT_HEARTBEAT_GRACE_S) * 1000;
    const beat = edge.status?.lastHeartbeatTime
      ? Date.parse(edge.status.lastHeartbeatTime)
      : undefined;
    // A heartbeat stamped in the future (the edge's clock is ahead) counts as fresh, not as
    // fresh for longer: a negative age would push the expiry visit out by the skew.
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

  private capacityUsed(edge: LiveEdge) {
    const placed = this.cache.cameras.byIndex(
      'placed',
      `${edge.metadata.namespace}/${edge.metadata.name}`,
    );
    if (placed.length === 0)
      return { cpuCores: 0, memoryBytes: 0, gpus: 0, storageBytes: 0, cameras: 0 };
    const p = placeSite(
      this.cache,
      `${edge.metadata.namespace}/${edge.spec.site}`,
      this.options.now?.() ?? new Date(),
    );
    const cap = edgeCapacity(edge as never);
    let cpu = 0;
    let mem = 0;
    let gpu = 0;
    let storage = 0;
    let cameras = 0;
    for (const c of placed) {
      const d = p.demands.get(c.metadata.name);
      if (!d) continue;
      cameras++;
      cpu += cpuOn(d, cap);
      mem += d.memoryBytes;
      storage += d.storageBytes;
      gpu += cap.gpus > 0 ? d.inferenceGpu : 0;
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
  const controller = new Controller(
    { name: 'edgeserver', workers: options.workers ?? 4, log: mgr.log },
    new EdgeServerReconciler(mgr, options),
  );
  controller.watch(
    cache.edges,
    undefined,
    (a, b) =>
      specOrMetaChanged(a, b) || a.status?.lastHeartbeatTime !== b.status?.lastHeartbeatTime,
  );
  controller.watch(
    cache.cameras,
    (c) => (c.status?.edgeServer ? [`${c.metadata.namespace}/${c.status.edgeServer}`] : []),
    undefined,
    2_000,
  );
  controller.watch(agentAccounts(mgr), (sa) => [
    `${sa.metadata.namespace}/${sa.metadata.labels?.[EDGE_AGENT_LABEL]}`,
  ]);
  mgr.add(controller);
  return controller;
}
