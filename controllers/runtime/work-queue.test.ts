import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WorkQueue } from './work-queue.js';

/** What a get() resolved to by now: the key, undefined (shut down) or 'pending'. */
async function peek(p: Promise<string | undefined>): Promise<string | undefined | 'pending'> {
  const pending = Symbol('pending');
  const winner = await Promise.race([p, Promise.resolve().then(() => pending)]);
  return winner === pending ? 'pending' : (winner as string | undefined);
}

/** Drains what is queued right now (get + done for each), in order. */
async function drain(q: WorkQueue): Promise<string[]> {
  const out: string[] = [];
  while (q.length > 0) {
    const key = (await q.get())!;
    out.push(key);
    q.done(key);
  }
  return out;
}

describe('WorkQueue de-duplication and processing', () => {
  it('hands a key added many times out once, in first-add order', async () => {
    const q = new WorkQueue();
    for (let i = 0; i < 5; i++) q.add('a');
    q.add('b');
    q.add('a');
    expect(q.length).toBe(2);
    expect(q.deduplicated).toBe(5);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    const third = q.get();
    expect(await peek(third)).toBe('pending');
    q.shutDown();
    expect(await third).toBeUndefined();
  });

  it('never hands a key out twice while it is processed; an add meanwhile re-queues it once after done()', async () => {
    const q = new WorkQueue();
    q.add('a');
    const first = await q.get();
    expect(first).toBe('a');
    // Another worker waits; adds of the key in flight must not reach it.
    const second = q.get();
    q.add('a');
    q.add('a');
    q.add('a');
    expect(q.length).toBe(0);
    expect(await peek(second)).toBe('pending');
    q.add('b');
    expect(await second).toBe('b');
    q.done('b');
    // Done with 'a': it comes back exactly once for the three adds made while it ran.
    const third = q.get();
    expect(await peek(third)).toBe('pending');
    q.done('a');
    expect(await third).toBe('a');
    q.done('a');
    expect(q.length).toBe(0);
    expect(q.isIdle()).toBe(true);
    expect(await peek(q.get())).toBe('pending');
  });

  it('puts urgent keys ahead of waiting ones, once, also when added again while processed', async () => {
    const q = new WorkQueue();
    for (const k of ['a', 'b', 'c', 'd']) q.add(k);
    q.add('x', true); // new: to the front
    q.add('c', true); // already waiting: promoted, not duplicated
    expect(q.length).toBe(5);
    const first = (await q.get())!;
    expect(first).toBe('c');
    q.add('c', true); // while processed: comes back first after done()
    q.done(first);
    expect(await drain(q)).toEqual(['c', 'x', 'a', 'b', 'd']);
  });

  it('keeps a delayed key urgent when it fires', async () => {
    vi.useFakeTimers();
    try {
      const q = new WorkQueue();
      q.add('a');
      q.addAfter('z', 50, true);
      q.addAfter('z', 100); // a later, plain add does not cancel the earlier urgent one
      await vi.advanceTimersByTimeAsync(60);
      expect(await drain(q)).toEqual(['z', 'a']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('done() without an add meanwhile does not re-queue', async () => {
    const q = new WorkQueue();
    q.add('a');
    const key = (await q.get())!;
    q.done(key);
    expect(q.length).toBe(0);
    expect(q.isIdle()).toBe(true);
  });

  it('keeps order and de-duplication across its internal compaction', async () => {
    const q = new WorkQueue();
    const keys = Array.from({ length: 5000 }, (_, i) => `k${i}`);
    for (const k of keys) q.add(k);
    for (const k of keys.slice(0, 100)) q.add(k);
    const out: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const k = (await q.get())!;
      out.push(k);
      q.done(k);
    }
    for (const k of keys.slice(0, 10)) q.add(k);
    out.push(...(await drain(q)));
    expect(out).toEqual([...keys, ...keys.slice(0, 10)]);
  });

  it('with concurrent workers: never two on one key, and every add is followed by a reconcile', async () => {
    const q = new WorkQueue();
    const inFlight = new Set<string>();
    const lastAdd = new Map<string, number>();
    const lastStart = new Map<string, number>();
    let clock = 0;
    let overlaps = 0;
    const worker = async () => {
      for (;;) {
        const key = await q.get();
        if (key === undefined) return;
        if (inFlight.has(key)) overlaps++;
        inFlight.add(key);
        lastStart.set(key, ++clock);
        await new Promise((r) => setTimeout(r, Math.random() * 2));
        inFlight.delete(key);
        q.done(key);
      }
    };
    const workers = Array.from({ length: 4 }, () => worker());
    for (let i = 0; i < 400; i++) {
      const key = `k${i % 7}`;
      lastAdd.set(key, ++clock);
      q.add(key);
      if (i % 13 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    await q.whenIdle();
    q.shutDown();
    await Promise.all(workers);
    expect(overlaps).toBe(0);
    for (const [key, added] of lastAdd) expect(lastStart.get(key)!).toBeGreaterThan(added);
  });
});

describe('WorkQueue delays and rate limiting', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('addAfter keeps the earliest pending delay', async () => {
    const q = new WorkQueue();
    q.addAfter('a', 1000);
    q.addAfter('a', 300);
    q.addAfter('a', 2000);
    await vi.advanceTimersByTimeAsync(299);
    expect(q.length).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(await drain(q)).toEqual(['a']);
    // The later delays were dropped, not kept for a second visit.
    await vi.advanceTimersByTimeAsync(5000);
    expect(q.length).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('addAfter with no delay adds now; a delayed add of a queued key still de-duplicates', async () => {
    const q = new WorkQueue();
    q.addAfter('a', 0);
    expect(q.length).toBe(1);
    q.addAfter('a', 50);
    await vi.advanceTimersByTimeAsync(50);
    expect(q.length).toBe(1);
    expect(await drain(q)).toEqual(['a']);
  });

  it('per-key backoff doubles from baseDelayMs up to maxDelayMs; forget resets it', async () => {
    const q = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 80, burst: 1000 });
    const seen: number[] = [];
    for (let i = 0; i < 6; i++) {
      const t0 = Date.now();
      q.addRateLimited('a');
      while (q.length === 0) await vi.advanceTimersByTimeAsync(1);
      seen.push(Date.now() - t0);
      await drain(q);
    }
    expect(seen).toEqual([10, 20, 40, 80, 80, 80]);
    expect(q.retries('a')).toBe(6);
    // Another key has its own count.
    expect(q.retries('b')).toBe(0);
    q.forget('a');
    expect(q.retries('a')).toBe(0);
    const t0 = Date.now();
    q.addRateLimited('a');
    while (q.length === 0) await vi.advanceTimersByTimeAsync(1);
    expect(Date.now() - t0).toBe(10);
  });

  it('the global token bucket delays retries once the burst is spent, then refills', async () => {
    const q = new WorkQueue({ baseDelayMs: 1, maxDelayMs: 1, qps: 10, burst: 3 });
    const readyAt = new Map<string, number>();
    const t0 = Date.now();
    for (const k of ['k1', 'k2', 'k3', 'k4', 'k5', 'k6']) q.addRateLimited(k);
    for (let t = 0; t <= 400 && readyAt.size < 6; t++) {
      for (const k of await drain(q)) readyAt.set(k, Date.now() - t0);
      await vi.advanceTimersByTimeAsync(1);
    }
    // Three tokens: the first three wait only their 1 ms backoff; then one per 100 ms.
    expect(Object.fromEntries(readyAt)).toEqual({ k1: 1, k2: 1, k3: 1, k4: 100, k5: 200, k6: 300 });
    // After a quiet second the bucket is full again.
    await vi.advanceTimersByTimeAsync(1000);
    const t1 = Date.now();
    q.addRateLimited('k7');
    await vi.advanceTimersByTimeAsync(1);
    expect(await drain(q)).toEqual(['k7']);
    expect(Date.now() - t1).toBe(1);
  });

  it('the per-key delay wins when it is the longer one', async () => {
    const q = new WorkQueue({ baseDelayMs: 500, qps: 10, burst: 1 });
    q.addRateLimited('a');
    q.addRateLimited('b'); // bucket: 100 ms, per key: 500 ms
    await vi.advanceTimersByTimeAsync(499);
    expect(q.length).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect((await drain(q)).sort()).toEqual(['a', 'b']);
  });

  it('shutDown releases waiting workers with undefined, cancels delays and ignores later adds', async () => {
    const q = new WorkQueue();
    const waiting = [q.get(), q.get()];
    q.addAfter('later', 1000);
    q.shutDown();
    expect(await Promise.all(waiting)).toEqual([undefined, undefined]);
    expect(vi.getTimerCount()).toBe(0);
    q.add('x');
    q.addAfter('y', 10);
    q.addRateLimited('z');
    await vi.advanceTimersByTimeAsync(2000);
    expect(q.length).toBe(0);
    expect(await q.get()).toBeUndefined();
  });

  it('shutDown drops queued keys; a key in flight can still be marked done', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('b');
    const a = (await q.get())!;
    q.add('a');
    q.shutDown();
    expect(q.length).toBe(0);
    expect(q.isIdle()).toBe(false);
    const idle = q.whenIdle();
    q.done(a);
    await idle;
    expect(q.isIdle()).toBe(true);
    expect(await q.get()).toBeUndefined();
  });
});

describe('WorkQueue.whenIdle', () => {
  it('resolves at once when idle, otherwise after the last key in flight is done', async () => {
    const q = new WorkQueue();
    await q.whenIdle();
    q.add('a');
    q.add('b');
    let idle = false;
    const p = q.whenIdle().then(() => (idle = true));
    const a = (await q.get())!;
    q.done(a);
    await Promise.resolve();
    expect(idle).toBe(false); // 'b' still queued
    const b = (await q.get())!;
    q.add('b'); // re-added while in flight
    q.done(b);
    await Promise.resolve();
    expect(idle).toBe(false); // 'b' is back in the queue
    const b2 = (await q.get())!;
    q.done(b2);
    await p;
    expect(idle).toBe(true);
  });

  it('does not wait for delayed keys (they are not queued yet)', async () => {
    const q = new WorkQueue();
    q.addAfter('a', 60_000);
    expect(q.isIdle()).toBe(true);
    await q.whenIdle();
    q.shutDown();
  });

  it('shutDown with nothing in flight resolves idle waiters', async () => {
    const q = new WorkQueue();
    q.add('a');
    const p = q.whenIdle();
    q.shutDown();
    await p;
  });
});
