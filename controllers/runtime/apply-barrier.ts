/**
 * While a Git revision is being applied, the controllers downstream of it would otherwise
 * render every intermediate state: a site's bundle rewritten as each of its cameras arrives,
 * a tenant's license status once per camera, releases of half a revision to the edges. The
 * barrier lets fleet-sync say "a revision is going in"; controllers that honour it take no
 * key until it is done, then visit each queued key once against the whole revision.
 *
 * A hold is bounded (`maxHoldMs`): a very long apply delays the others by at most that, and
 * then they go on working against whatever has arrived so far.
 */
export class ApplyBarrier {
  private readonly holds = new Map<symbol, { holder: string; since: number }>();
  private waiters: (() => void)[] = [];
  private timer?: NodeJS.Timeout;

  constructor(private readonly maxHoldMs = 120_000) {}

  /** Holds the barrier until the returned function is called (idempotent). */
  hold(holder: string): () => void {
    const id = Symbol(holder);
    this.holds.set(id, { holder, since: Date.now() });
    this.arm();
    return () => {
      if (this.holds.delete(id)) this.settle();
    };
  }

  /** Whether a hold younger than `maxHoldMs` is in place. */
  get held(): boolean {
    const now = Date.now();
    for (const h of this.holds.values()) if (now - h.since < this.maxHoldMs) return true;
    return false;
  }

  /** Who holds it, for logs. */
  holders(): string[] {
    return [...this.holds.values()].map((h) => h.holder);
  }

  /** Resolves when the barrier is open (at once if it is). */
  whenOpen(): Promise<void> {
    if (!this.held) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Lets every waiter go (shutdown). */
  openAll(): void {
    this.holds.clear();
    this.settle();
  }

  /** Wakes the waiters once no valid hold is left; otherwise re-arms for the oldest expiry. */
  private settle(): void {
    if (this.held) return this.arm();
    clearTimeout(this.timer);
    this.timer = undefined;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private arm(): void {
    clearTimeout(this.timer);
    const now = Date.now();
    let next = Infinity;
    for (const h of this.holds.values()) {
      const expires = h.since + this.maxHoldMs;
      if (expires > now) next = Math.min(next, expires);
    }
    if (next === Infinity) return;
    this.timer = setTimeout(() => this.settle(), next - now + 1);
    this.timer.unref();
  }
}
