import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApplyBarrier } from './apply-barrier.js';

afterEach(() => vi.useRealTimers());

describe('ApplyBarrier', () => {
  it('is open until held, and opens when every hold is released', async () => {
    const b = new ApplyBarrier();
    expect(b.held).toBe(false);
    await b.whenOpen(); // resolves at once
    const r1 = b.hold('fleetsync/a');
    const r2 = b.hold('fleetsync/b');
    expect(b.holders()).toEqual(['fleetsync/a', 'fleetsync/b']);
    let opened = false;
    const wait = b.whenOpen().then(() => (opened = true));
    r1();
    r1(); // releasing twice changes nothing
    await Promise.resolve();
    expect(opened).toBe(false);
    expect(b.held).toBe(true);
    r2();
    await wait;
    expect(opened).toBe(true);
    expect(b.held).toBe(false);
  });

  it('lets waiters go when a hold outlives maxHoldMs', async () => {
    vi.useFakeTimers();
    const b = new ApplyBarrier(1_000);
    b.hold('stuck');
    let opened = false;
    void b.whenOpen().then(() => (opened = true));
    await vi.advanceTimersByTimeAsync(900);
    expect(opened).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    expect(opened).toBe(true);
    expect(b.held).toBe(false);
  });

  it('openAll wakes every waiter (shutdown)', async () => {
    const b = new ApplyBarrier();
    b.hold('x');
    const waits = [b.whenOpen(), b.whenOpen()];
    b.openAll();
    await Promise.all(waits);
    expect(b.held).toBe(false);
  });
});

describe('Controller with a barrier', () => {
  it('takes no key while a revision is applied, then visits each queued key once', async () => {
    const { Controller } = await import('./controller.js');
    const { createLogger } = await import('./log.js');
    const barrier = new ApplyBarrier();
    const seen: string[] = [];
    const c = new Controller(
      { name: 't', workers: 2, log: createLogger({}, { level: 'error' }), barrier },
      { reconcile: async (k) => void seen.push(k) },
    );
    c.start();
    const release = barrier.hold('fleetsync/x');
    for (const k of ['site-a', 'site-b', 'site-a', 'site-c', 'site-b']) c.queue.add(k);
    await new Promise((r) => setTimeout(r, 30));
    expect(seen).toEqual([]);
    release();
    await new Promise((r) => setTimeout(r, 30));
    expect([...seen].sort()).toEqual(['site-a', 'site-b', 'site-c']);
    await c.stop();
  });
});
