import type { ApplyBarrier } from './apply-barrier.js';
import type { Informer } from './informer.js';
import type { Logger } from './log.js';
import type { KubeObject } from './objects.js';
import { keyOf } from './objects.js';
import { WorkQueue, type WorkQueueOptions } from './work-queue.js';

/** What a reconcile asks for next: nothing (wait for a change) or a visit after a delay. */
export interface ReconcileResult {
  requeueAfterMs?: number;
}

/** A level-triggered reconciler: reads the world for a key and makes it match, idempotently. */
export interface Reconciler {
  reconcile(key: string): Promise<ReconcileResult | void>;
}

export interface ControllerOptions extends WorkQueueOptions {
  name: string;
  workers?: number;
  log: Logger;
  /** Take no key while a revision is being applied (see ApplyBarrier). */
  barrier?: ApplyBarrier;
}

/** Spec or metadata changed: the generation moved, or labels, annotations, finalizers, deletion. */
export function specOrMetaChanged(oldObj: KubeObject, newObj: KubeObject): boolean {
  const a = oldObj.metadata;
  const b = newObj.metadata;
  return (
    a.generation !== b.generation ||
    a.deletionTimestamp !== b.deletionTimestamp ||
    JSON.stringify([a.labels, a.annotations, a.finalizers]) !==
      JSON.stringify([b.labels, b.annotations, b.finalizers])
  );
}

export interface ControllerStats {
  reconciles: number;
  errors: number;
}

/**
 * Runs a reconciler over a de-duplicated work queue with N workers. Events from informers
 * only enqueue keys; the reconcile reads current state, so missed or merged events cannot
 * leave the world wrong. Errors requeue with backoff; results may ask for a timed visit.
 */
export class Controller {
  readonly queue: WorkQueue;
  readonly stats: ControllerStats = { reconciles: 0, errors: 0 };
  private running: Promise<void>[] = [];
  private started = false;

  constructor(
    readonly options: ControllerOptions,
    private readonly reconciler: Reconciler,
  ) {
    this.queue = new WorkQueue(options);
  }

  get name(): string {
    return this.options.name;
  }

  /**
   * Enqueues keys for an informer's changes: the object's own key by default, or the keys
   * `map` derives (an owner, the site a camera belongs to, every edge of a tenant...).
   */
  watch<T extends KubeObject>(
    informer: Informer<T>,
    map: (obj: T) => string[] = (o) => [keyOf(o)],
    /** Updates that matter (default: all); e.g. skip a controller's own status writes. */
    relevant: (oldObj: T, newObj: T) => boolean = () => true,
    /**
     * Coalescing window: keys derived from a burst of events (a commit creating a site's
     * cameras) are visited once at the end of it instead of once per event.
     */
    delayMs = 0,
    /** Keys from this watch go ahead of others waiting (see WorkQueue.add). */
    urgent = false,
  ): void {
    // Each key once per event: an idle worker takes a key at once, and adding it again while
    // it is being processed would queue a second, redundant reconcile for afterwards.
    const enqueue = (...objs: T[]) => {
      for (const key of new Set(objs.flatMap((o) => map(o)))) {
        if (delayMs > 0) this.queue.addAfter(key, delayMs, urgent);
        else this.queue.add(key, urgent);
      }
    };
    informer.on({
      add: (obj) => enqueue(obj),
      update: (oldObj, newObj) => {
        // A periodic resync delivers (obj, obj): always a visit, that is its purpose.
        if (oldObj !== newObj && !relevant(oldObj, newObj)) return;
        // Both: a camera moving from site A to B must reconcile A (to drop it) and B.
        if (oldObj !== newObj) enqueue(oldObj, newObj);
        else enqueue(oldObj);
      },
      delete: (obj) => enqueue(obj),
    });
  }

  /** Starts the workers. */
  start(): void {
    if (this.started) return;
    this.started = true;
    const workers = this.options.workers ?? 4;
    for (let i = 0; i < workers; i++) this.running.push(this.work());
  }

  private async work(): Promise<void> {
    for (;;) {
      const barrier = this.options.barrier;
      if (barrier?.held) {
        this.options.log.debug('waiting for a revision to be applied', {
          controller: this.name,
          holders: barrier.holders().join(', '),
        });
        await barrier.whenOpen();
        if (!this.started) return;
      }
      const key = await this.queue.get();
      if (key === undefined) return;
      // Held while this worker was waiting for a key: the key waits too, still once.
      if (barrier?.held) {
        this.queue.giveBack(key);
        continue;
      }
      try {
        this.stats.reconciles++;
        const result = await this.reconciler.reconcile(key);
        this.queue.forget(key);
        if (result?.requeueAfterMs !== undefined) this.queue.addAfter(key, result.requeueAfterMs);
      } catch (err) {
        this.stats.errors++;
        const retries = this.queue.retries(key);
        // The first failures are usually races (a namespace not there yet); say more as they repeat.
        // Called as a method: a Logger may be a class instance that needs its `this`.
        this.options.log[retries >= 3 ? 'warn' : 'debug']('reconcile failed, will retry', {
          controller: this.name,
          key,
          retries,
          error: err instanceof Error ? err.message : String(err),
        });
        this.queue.addRateLimited(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  /** Stops taking keys and waits (up to `timeoutMs`) for reconciles in flight to finish. */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.started = false;
    this.queue.shutDown();
    await Promise.race([
      Promise.all(this.running),
      new Promise((resolve) => setTimeout(resolve, timeoutMs).unref()),
    ]);
    this.running = [];
    this.started = false;
  }
}
