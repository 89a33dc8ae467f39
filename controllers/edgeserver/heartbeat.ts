import { CORE, type Informer, type Lease, type Manager } from '../runtime/index.js';
import { EDGE_AGENT_LABEL } from './registration.js';

/**
 * Edge agents heartbeat by renewing a small Lease in the cloud (coordination.k8s.io/v1), as
 * kubelets do since Kubernetes moved node heartbeats off the Node status (KEP-589): at 800
 * edges every 15-30 s, rewriting each EdgeServer's status (a few kilobytes of custom resource
 * with managed fields) was a large share of the apiserver's work, and woke every controller
 * that watches EdgeServers. The status is now written only when something in it changes.
 */
export type HeartbeatLease = Lease;

/** The agents' heartbeat Leases in the cloud (those carrying the edge-agent label). */
export function heartbeatLeases(mgr: Manager): Informer<HeartbeatLease> {
  return mgr.informer<HeartbeatLease>(CORE.Lease, { labelSelector: EDGE_AGENT_LABEL });
}

/** `namespace/edge` of a heartbeat Lease. */
export function edgeKeyOf(lease: HeartbeatLease): string {
  return `${lease.metadata.namespace}/${lease.metadata.labels?.[EDGE_AGENT_LABEL]}`;
}

/**
 * When each edge's heartbeat was last seen, by this controller's clock. A renewal counts
 * from the moment the watch delivers it, not from the renewTime the edge wrote, so an edge
 * whose clock is off is neither kept alive nor cut off by the skew (the node lifecycle
 * controller judges node Leases the same way). Only a Lease first seen when the controller
 * starts is dated by its renewTime, capped at now: a dead edge is then not given a fresh
 * grace period by a controller restart, and a clock running ahead cannot extend it.
 */
export class HeartbeatClock {
  private readonly seen = new Map<string, { renewTime: string; at: number }>();

  constructor(
    leases: Pick<Informer<HeartbeatLease>, 'on' | 'hasSynced'>,
    private readonly now: () => number,
    /** Told when an edge's heartbeat moves (after it was recorded). */
    onRenew: (edgeKey: string) => void = () => undefined,
  ) {
    const observe = (l: HeartbeatLease, first: boolean) => {
      const renewTime = l.spec?.renewTime;
      const key = edgeKeyOf(l);
      if (!renewTime || this.seen.get(key)?.renewTime === renewTime) return;
      const now = this.now();
      const stamped = Date.parse(renewTime);
      const at = first && Number.isFinite(stamped) ? Math.min(now, stamped) : now;
      this.seen.set(key, { renewTime, at });
      onRenew(key);
    };
    leases.on({
      add: (l) => observe(l, !leases.hasSynced()),
      update: (_, l) => observe(l, false),
      delete: (l) => this.seen.delete(edgeKeyOf(l)),
    });
  }

  /** When the edge `namespace/name` last renewed its heartbeat (epoch ms), if ever. */
  lastSeen(edgeKey: string): number | undefined {
    return this.seen.get(edgeKey)?.at;
  }
}
