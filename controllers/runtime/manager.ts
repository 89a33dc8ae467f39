import { ApplyBarrier } from './apply-barrier.js';
import type { Controller } from './controller.js';
import { Informer, type InformerOptions } from './informer.js';
import type { KubeClient } from './kube-client.js';
import { LeaderElector } from './leader-election.js';
import type { Logger } from './log.js';
import type { KubeObject, ResourceType } from './objects.js';

export interface ManagerOptions {
  client: KubeClient;
  log: Logger;
  /** Namespace of the leader-election Lease. */
  namespace: string;
  /** Lease name; replicas sharing it elect one leader. Omit to run without election. */
  leaseName?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Periodic level-triggered pass over every cached object (0: off). */
  resyncMs?: number;
  /** Longest a revision being applied holds the downstream controllers back. */
  maxApplyHoldMs?: number;
}

/**
 * Owns the shared informers and the controllers of one process. Informers run on every
 * replica (a standby has warm caches); controllers run only on the elected leader. Stopping
 * drains the controllers' reconciles in flight, hands the Lease back and closes watches.
 */
export class Manager {
  private readonly informers = new Map<string, Informer<KubeObject>>();
  private readonly controllers: Controller[] = [];
  private readonly stoppers: (() => Promise<void> | void)[] = [];
  private elector?: LeaderElector;
  private leading = false;
  private stopping?: Promise<void>;
  /** Resolves when leadership is lost (the process should exit and start over). */
  readonly lostLeadership: Promise<void>;
  private resolveLost!: () => void;
  /** Held by fleet-sync while it applies a revision; downstream controllers wait on it. */
  readonly barrier: ApplyBarrier;

  constructor(readonly options: ManagerOptions) {
    this.lostLeadership = new Promise((resolve) => (this.resolveLost = resolve));
    this.barrier = new ApplyBarrier(options.maxApplyHoldMs);
  }

  get client(): KubeClient {
    return this.options.client;
  }

  get log(): Logger {
    return this.options.log;
  }

  /** The shared informer for a type (and optional namespace/selector), created on first use. */
  informer<T extends KubeObject>(
    type: ResourceType,
    options: InformerOptions<T> = {},
  ): Informer<T> {
    const key = JSON.stringify([
      type.apiVersion,
      type.kind,
      options.namespace,
      options.labelSelector,
      options.fieldSelector,
    ]);
    let inf = this.informers.get(key);
    if (!inf) {
      inf = new Informer<T>(this.client, type, {
        resyncMs: this.options.resyncMs,
        ...options,
      }) as unknown as Informer<KubeObject>;
      this.informers.set(key, inf);
    }
    return inf as unknown as Informer<T>;
  }

  add(controller: Controller): void {
    this.controllers.push(controller);
  }

  /** Registers work to run at shutdown (webhook servers, timers). */
  onStop(fn: () => Promise<void> | void): void {
    this.stoppers.push(fn);
  }

  /** Re-delivers every cached object to every controller: a full level-triggered pass. */
  resyncAll(): void {
    for (const inf of this.informers.values()) inf.resync();
  }

  /** All controllers' queues are empty and nothing is being reconciled. */
  isIdle(): boolean {
    return this.controllers.every((c) => c.queue.isIdle());
  }

  controller(name: string): Controller | undefined {
    return this.controllers.find((c) => c.name === name);
  }

  /** Reconciles run so far by each controller, by name (benchmarks, hot-loop checks). */
  reconcileCounts(): Record<string, number> {
    return Object.fromEntries(this.controllers.map((c) => [c.name, c.stats.reconciles]));
  }

  /** Starts informers, waits for their caches, then (once leader) the controllers. */
  async start(): Promise<void> {
    for (const inf of this.informers.values()) inf.start();
    await Promise.all([...this.informers.values()].map((i) => i.waitForSync()));
    const startControllers = () => {
      this.leading = true;
      for (const c of this.controllers) c.start();
    };
    if (!this.options.leaseName) {
      startControllers();
      return;
    }
    this.elector = new LeaderElector(this.client, {
      namespace: this.options.namespace,
      name: this.options.leaseName,
      leaseDurationMs: this.options.leaseDurationMs,
      renewDeadlineMs: this.options.renewDeadlineMs,
      retryPeriodMs: this.options.retryPeriodMs,
      log: this.log,
    });
    this.elector.run(startControllers, () => {
      // A replica that lost the lease must stop acting before the next leader starts.
      this.leading = false;
      void Promise.all(this.controllers.map((c) => c.stop(2_000))).then(() => this.resolveLost());
    });
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** Graceful shutdown; safe to call more than once. */
  stop(timeoutMs = 10_000): Promise<void> {
    this.stopping ??= (async () => {
      const stopped = Promise.all(this.controllers.map((c) => c.stop(timeoutMs)));
      // Workers waiting for an apply to finish wake up, see the stop and take nothing.
      this.barrier.openAll();
      await stopped;
      this.leading = false;
      await this.elector?.stop();
      for (const fn of this.stoppers) await fn();
      for (const inf of this.informers.values()) inf.stop();
      this.client.close();
    })();
    return this.stopping;
  }

  /** Stops gracefully on SIGTERM/SIGINT (what Kubernetes sends before killing a pod). */
  handleSignals(onDone: () => void = () => process.exit(0)): void {
    const handler = (signal: string) => {
      this.log.info('shutting down', { signal });
      void this.stop().then(onDone);
    };
    process.once('SIGTERM', () => handler('SIGTERM'));
    process.once('SIGINT', () => handler('SIGINT'));
  }
}
