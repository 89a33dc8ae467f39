export interface WorkQueueOptions {
  /** First retry delay of a failing key; doubles on each failure. */
  baseDelayMs?: number;
  /** Longest per-key retry delay. */
  maxDelayMs?: number;
  /** Global retry rate (tokens per second) shared by every key. */
  qps?: number;
  /** Retries allowed at once before the global rate applies. */
  burst?: number;
}

/** The longest delay setTimeout accepts. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * controller-runtime's work queue: a key is queued at most once however often it is added,
 * is never handed to two workers at once (an add while it is being processed queues it
 * again for afterwards), and failed keys come back after the larger of a per-key exponential
 * backoff and a global token-bucket delay, so a broken object cannot turn into a hot loop.
 */
export class WorkQueue {
  private readonly queue: string[] = [];
  private head = 0;
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<
    string,
    { at: number; timer: NodeJS.Timeout; urgent: boolean }
  >();
  /** Keys added urgently while being processed: they go to the front when done. */
  private readonly urgentLater = new Set<string>();
  private waiters: ((key: string | undefined) => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  private shuttingDown = false;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly qps: number;
  private readonly burst: number;
  private tokens: number;
  private lastRefill = Date.now();
  /** Adds that found the key already waiting (how much de-duplication saved). */
  deduplicated = 0;

  constructor(options: WorkQueueOptions = {}) {
    this.baseDelayMs = options.baseDelayMs ?? 5;
    this.maxDelayMs = options.maxDelayMs ?? 300_000;
    this.qps = options.qps ?? 10;
    this.burst = options.burst ?? 100;
    this.tokens = this.burst;
  }

  /**
   * Queues a key now (no-op if it is already waiting). An urgent key goes to the front, as
   * controller-runtime's priority queue puts changes ahead of the initial list: after a
   * commit, finishing what is under way must not wait behind hundreds of first visits.
   */
  add(key: string, urgent = false): void {
    if (this.shuttingDown) return;
    if (this.dirty.has(key)) {
      this.deduplicated++;
      if (urgent) {
        if (this.processing.has(key)) this.urgentLater.add(key);
        else this.promote(key);
      }
      return;
    }
    this.dirty.add(key);
    if (this.processing.has(key)) {
      if (urgent) this.urgentLater.add(key);
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      this.dirty.delete(key);
      this.processing.add(key);
      waiter(key);
    } else if (urgent) {
      this.queue.splice(this.head, 0, key);
    } else {
      this.queue.push(key);
    }
  }

  /** Moves a waiting key to the front. */
  private promote(key: string): void {
    const at = this.queue.indexOf(key, this.head);
    if (at <= this.head) return;
    this.queue.splice(at, 1);
    this.queue.splice(this.head, 0, key);
  }

  /** Queues a key after a delay; an earlier pending delay for the same key wins. */
  addAfter(key: string, delayMs: number, urgent = false): void {
    if (this.shuttingDown) return;
    // setTimeout fires at once for anything over 2^31-1 ms (~24.8 days): that would be a hot
    // loop. Later visits than that happen at the cap instead.
    delayMs = Math.min(delayMs, MAX_TIMER_MS);
    if (delayMs <= 0) {
      this.add(key, urgent);
      return;
    }
    const at = Date.now() + delayMs;
    const pending = this.timers.get(key);
    if (pending && pending.at <= at) {
      pending.urgent ||= urgent;
      return;
    }
    if (pending) clearTimeout(pending.timer);
    const entry = {
      at,
      timer: undefined as unknown as NodeJS.Timeout,
      urgent: urgent || !!pending?.urgent,
    };
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key, entry.urgent);
    }, delayMs);
    entry.timer = timer;
    timer.unref();
    this.timers.set(key, entry);
  }

  /** Queues a failed key after its backoff. */
  addRateLimited(key: string): void {
    this.addAfter(key, this.when(key));
  }

  /** The delay the next failure of `key` gets: max(per-key exponential, global bucket). */
  private when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const perItem = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** n);
    return Math.max(perItem, this.bucketDelay());
  }

  private bucketDelay(): number {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.lastRefill) / 1000) * this.qps);
    this.lastRefill = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.qps) * 1000;
  }

  /** Clears a key's failure count after a success. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** How often the key has failed in a row. */
  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** The next key to work on; undefined once the queue shuts down. */
  get(): Promise<string | undefined> {
    if (this.head < this.queue.length) {
      const key = this.queue[this.head++]!;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      this.dirty.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Returns a key taken with get() but not worked on: it waits again, at the front, once. */
  giveBack(key: string): void {
    if (!this.processing.delete(key)) return;
    this.urgentLater.delete(key);
    this.dirty.delete(key);
    this.add(key, true);
  }

  /** Marks a key finished; if it was added meanwhile it goes back in the queue. */
  done(key: string): void {
    this.processing.delete(key);
    const urgent = this.urgentLater.delete(key);
    if (this.dirty.has(key)) {
      this.dirty.delete(key);
      this.add(key, urgent);
    }
    if (this.isIdle()) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Keys waiting (not counting delayed ones or those being processed). */
  get length(): number {
    return this.queue.length - this.head;
  }

  /** Nothing queued and nothing being processed (delayed retries may still be pending). */
  isIdle(): boolean {
    return this.length === 0 && this.processing.size === 0;
  }

  /** Resolves when the queue is idle. */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops handing out keys; workers blocked in get() receive undefined. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.queue.length = 0;
    this.head = 0;
    this.dirty.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
    if (this.isIdle()) for (const w of this.idleWaiters.splice(0)) w();
  }
}
