import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { isConflict, type KubeClient } from './kube-client.js';
import type { Logger } from './log.js';
import { CORE, type KubeObject } from './objects.js';

export interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}
/** A coordination.k8s.io/v1 Lease (leader election here, edge heartbeats elsewhere). */
export type Lease = KubeObject & { spec?: LeaseSpec };

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  log: Logger;
}

/** Kubernetes MicroTime as the apiserver expects it (RFC 3339 with microseconds). */
export function microTime(d: Date = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/**
 * Lease-based leader election as client-go does it: the holder renews the Lease every retry
 * period; a candidate takes over only when it has seen the same lease record unchanged for
 * a whole lease duration by its own clock (so clock skew between replicas does not matter),
 * and updates go through resourceVersion so two candidates can never both win. A leader that
 * cannot renew within the renew deadline steps down before anyone else may take over.
 */
export class LeaderElector {
  readonly identity: string;
  private readonly leaseMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;
  private observed?: { record: string; at: number };
  private leading = false;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private lastRenew = 0;
  private inflight?: Promise<void>;

  constructor(
    private readonly client: KubeClient,
    private readonly options: LeaderElectionOptions,
  ) {
    this.identity =
      options.identity ?? `${hostname()}_${process.pid}_${randomBytes(4).toString('hex')}`;
    this.leaseMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryMs = options.retryPeriodMs ?? 2_000;
  }

  isLeader(): boolean {
    return this.leading;
  }

  /**
   * Campaigns until this replica leads, then keeps renewing. `onStarted` runs on winning and
   * `onStopped` when leadership is lost (the caller should stop acting at once).
   */
  run(onStarted: () => void, onStopped: () => void): void {
    const tick = async () => {
      if (this.stopped) return;
      // Leadership counts from when the attempt began, not when its answer came back: the
      // lease may have been written (and seen by others) any time in between.
      const startedAt = Date.now();
      const attempt = this.tryAcquireOrRenew();
      // A leader must learn within the renew deadline whether it still leads: a request that
      // hangs (half-open connection, partitioned node) counts as failed once the deadline
      // passes, as client-go bounds each renewal with a timeout. Without this bound a leader
      // would keep acting while another replica has already taken the expired lease over.
      const bounded = this.leading
        ? within(attempt, this.lastRenew + this.renewDeadlineMs - Date.now())
        : attempt;
      const ok = await bounded.catch((err: unknown) => {
        this.options.log.debug('lease update failed', {
          lease: this.options.name,
          error: err instanceof Error ? err.message : String(err),
        });
        return false;
      });
      if (this.stopped) return;
      let delay = this.retryMs;
      if (ok) {
        this.lastRenew = startedAt;
        if (!this.leading) {
          this.leading = true;
          this.options.log.info('became leader', {
            lease: this.options.name,
            identity: this.identity,
          });
          onStarted();
        }
      } else if (this.leading) {
        const left = this.lastRenew + this.renewDeadlineMs - Date.now();
        if (left <= 0) {
          this.leading = false;
          this.options.log.warn('lost leadership', {
            lease: this.options.name,
            identity: this.identity,
          });
          onStopped();
        } else {
          // Try once more before the deadline rather than finding out a retry period late.
          delay = Math.min(delay, left);
        }
      }
      this.timer = setTimeout(() => {
        this.inflight = tick();
      }, delay);
    };
    this.inflight = tick();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    const ref = { namespace: this.options.namespace, name: this.options.name };
    const lease = await this.client.get<Lease>(CORE.Lease, ref);
    const mine: LeaseSpec = {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.ceil(this.leaseMs / 1000),
      renewTime: microTime(now),
    };
    if (!lease) {
      try {
        await this.client.create(CORE.Lease, {
          metadata: ref,
          spec: { ...mine, acquireTime: microTime(now), leaseTransitions: 0 },
        });
        return true;
      } catch (err) {
        if (isConflict(err)) return false;
        throw err;
      }
    }
    const spec = lease.spec ?? {};
    const record = JSON.stringify([spec.holderIdentity, spec.renewTime, spec.leaseDurationSeconds]);
    if (this.observed?.record !== record) this.observed = { record, at: Date.now() };
    const holder = spec.holderIdentity ?? '';
    const durationMs = (spec.leaseDurationSeconds ?? 15) * 1000;
    const expired = Date.now() > this.observed.at + durationMs;
    if (holder && holder !== this.identity && !expired) return false;
    const takingOver = holder !== this.identity;
    try {
      await this.client.update(CORE.Lease, {
        ...lease,
        spec: {
          ...spec,
          ...mine,
          acquireTime: takingOver ? microTime(now) : spec.acquireTime,
          leaseTransitions: (spec.leaseTransitions ?? 0) + (takingOver && holder ? 1 : 0),
        },
      });
      return true;
    } catch (err) {
      // Someone else wrote the lease between our read and write: they won this round.
      if (isConflict(err)) return false;
      throw err;
    }
  }

  /** Stops campaigning; a leader hands the lease back so a standby takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.leading = false;
    // An attempt in flight may still win or renew the lease: let it land (bounded), then hand
    // back whatever this replica holds, so the release cannot race our own last renewal.
    await within(this.inflight ?? Promise.resolve(), this.renewDeadlineMs).catch(() => undefined);
    const ref = { namespace: this.options.namespace, name: this.options.name };
    const lease = await this.client.get<Lease>(CORE.Lease, ref).catch(() => undefined);
    if (!lease?.spec?.holderIdentity || lease.spec.holderIdentity !== this.identity) return;
    await this.client
      .update(CORE.Lease, {
        ...lease,
        spec: {
          ...lease.spec,
          holderIdentity: null,
          leaseDurationSeconds: 1,
          renewTime: microTime(new Date()),
        },
      })
      .catch(() => undefined);
  }
}

/** `promise`, or a rejection once `ms` have passed (the promise itself keeps running). */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  promise.catch(() => undefined);
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('renew deadline exceeded')), Math.max(0, ms));
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
