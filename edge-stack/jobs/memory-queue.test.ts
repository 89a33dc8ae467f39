import { describe, expect, it } from 'vitest';
import type { Priority } from '../../resources/index.js';
import { MemoryJobQueue, type MemoryQueueLogger } from './memory-queue.js';
import type { VideoJob } from './video-job.js';
import { job } from '../../tests/fixtures/video-job.js';

/** A handler that records jobs and can be held shut until released. */
function recorder(model: string) {
  const seen: VideoJob[] = [];
  let gate: Promise<void> = Promise.resolve();
  let open = () => {};
  return {
    seen,
    ids: () => seen.map((j) => j.jobId),
    hold() {
      gate = new Promise((resolve) => (open = resolve));
    },
    release: () => open(),
    sub: (priority: Priority = 'STANDARD') => ({
      model,
      priority,
      handle: async (j: VideoJob) => {
        seen.push(j);
        await gate;
      },
    }),
  };
}

function captureLog(): MemoryQueueLogger & { lines: string[] } {
  const lines: string[] = [];
  const push = (...args: unknown[]) => void lines.push(args.map(String).join(' '));
  return { lines, debug: push, info: push, warn: push, error: push };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

async function until(check: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('MemoryJobQueue', () => {
  it('delivers CRITICAL before HIGH before MEDIUM before STANDARD, FIFO within a priority', async () => {
    const q = new MemoryJobQueue();
    const fire = recorder('fire');
    // Offered before anyone subscribes: they wait in the buffer, then leave by priority.
    const offered = [
      job('cam-a', 1, 'STANDARD'),
      job('cam-a', 2, 'MEDIUM'),
      job('cam-b', 1, 'STANDARD'),
      job('cam-a', 3, 'HIGH'),
      job('cam-b', 2, 'CRITICAL'),
      job('cam-a', 4, 'CRITICAL'),
      job('cam-b', 3, 'MEDIUM'),
    ];
    for (const j of offered) expect(q.offer(j)).toBe(true);
    await tick();
    expect(q.stats()).toMatchObject({ buffered: 7, published: 0, connected: true });

    await q.subscribe(fire.sub());
    await q.drain();
    await until(() => fire.seen.length === 7, 'all deliveries');
    expect(fire.ids()).toEqual([
      'cam-b/segment/2/CRITICAL',
      'cam-a/segment/4/CRITICAL',
      'cam-a/segment/3/HIGH',
      'cam-a/segment/2/MEDIUM',
      'cam-b/segment/3/MEDIUM',
      'cam-a/segment/1/STANDARD',
      'cam-b/segment/1/STANDARD',
    ]);
    expect(q.stats()).toMatchObject({ buffered: 0, published: 7 });
    await q.close();
  });

  it('keeps per-camera order for a long run of jobs', async () => {
    const q = new MemoryJobQueue();
    const fire = recorder('fire');
    await q.subscribe(fire.sub());
    for (let seq = 0; seq < 200; seq++) q.offer(job(`cam-${seq % 3}`, seq, 'HIGH'));
    await q.close();
    for (const cam of ['cam-0', 'cam-1', 'cam-2']) {
      const seqs = fire.seen.filter((j) => j.cameraId === cam).map((j) => j.segmentSequence);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(seqs.length).toBeGreaterThanOrEqual(66);
    }
    expect(fire.seen).toHaveLength(200);
  });

  it('refuses STANDARD first, then MEDIUM, then HIGH, and CRITICAL only when full', async () => {
    const q = new MemoryJobQueue({ bufferLimit: 10 });
    const accepted = (p: Priority, n: number) =>
      Array.from({ length: n }, (_, i) => q.offer(job('cam-a', i, p))).filter(Boolean).length;
    // Nobody subscribed, so nothing leaves the buffer while we fill it.
    expect(accepted('STANDARD', 8)).toBe(5); // 50 % of 10
    expect(accepted('MEDIUM', 8)).toBe(2); // up to 75 %
    expect(accepted('HIGH', 8)).toBe(2); // up to 90 %
    expect(accepted('CRITICAL', 8)).toBe(1); // up to 100 %
    expect(q.stats()).toEqual({
      buffered: 10,
      bufferLimit: 10,
      published: 0,
      refused: { CRITICAL: 7, HIGH: 6, MEDIUM: 6, STANDARD: 3 },
      connected: true,
    });
    const fire = recorder('fire');
    await q.subscribe(fire.sub());
    await q.drain();
    expect(q.offer(job('cam-a', 99, 'STANDARD'))).toBe(true);
    await q.close();
    expect(q.offer(job('cam-a', 100, 'CRITICAL'))).toBe(false);
  });

  it('fans each job out to every subscribed model in enabledModels, once', async () => {
    const q = new MemoryJobQueue();
    const fire = recorder('fire');
    const crowd = recorder('crowd');
    const published: string[] = [];
    q.onPublished((j, at) => {
      expect(at).toBeGreaterThan(0);
      published.push(j.jobId);
    });
    await q.subscribe(fire.sub('CRITICAL'));
    await q.subscribe(crowd.sub('MEDIUM'));
    q.offer(job('cam-a', 1, 'CRITICAL', ['fire']));
    q.offer(job('cam-a', 2, 'MEDIUM', ['crowd']));
    q.offer(job('cam-b', 1, 'CRITICAL', ['fire', 'crowd']));
    q.offer(job('cam-b', 2, 'STANDARD', ['anpr'])); // nobody runs ANPR: published, not delivered
    await q.close();

    expect(fire.ids()).toEqual(['cam-a/segment/1/CRITICAL', 'cam-b/segment/1/CRITICAL']);
    expect(crowd.ids()).toEqual(['cam-b/segment/1/CRITICAL', 'cam-a/segment/2/MEDIUM']);
    expect(published.sort()).toEqual([
      'cam-a/segment/1/CRITICAL',
      'cam-a/segment/2/MEDIUM',
      'cam-b/segment/1/CRITICAL',
      'cam-b/segment/2/STANDARD',
    ]);
    expect(q.stats().published).toBe(4);
    expect(q.deliveryStats()).toMatchObject({
      fire: { delivered: 2, shed: 0 },
      crowd: { delivered: 2, shed: 0 },
    });
  });

  it('bounds a slow model: it sheds its oldest least urgent jobs, other models keep everything', async () => {
    const log = captureLog();
    const q = new MemoryJobQueue({ subscriberBacklog: 3, logger: log });
    const slow = recorder('anpr');
    const fast = recorder('fire');
    slow.hold();
    await q.subscribe(slow.sub());
    await q.subscribe(fast.sub());
    const models = ['anpr', 'fire'];

    q.offer(job('cam-a', 0, 'STANDARD', models));
    await until(() => slow.seen.length === 1, 'the slow model to start job 0');
    // One job per turn of the event loop, as a segmenter offers them: the fast model keeps up.
    for (let seq = 1; seq <= 6; seq++) {
      q.offer(job('cam-a', seq, 'STANDARD', models));
      await tick();
    }
    // Backlog full of STANDARD 4,5,6: a CRITICAL job evicts the oldest STANDARD one.
    q.offer(job('cam-b', 1, 'CRITICAL', models));
    await tick();
    expect(q.deliveryStats()['anpr']).toMatchObject({ backlog: 3, inFlight: 1, shed: 4 });
    expect(q.stats().buffered).toBe(0);
    expect(log.lines.some((l) => l.includes('model anpr is 3 jobs behind'))).toBe(true);

    slow.release();
    await q.close();
    expect(slow.ids()).toEqual([
      'cam-a/segment/0/STANDARD',
      'cam-b/segment/1/CRITICAL',
      'cam-a/segment/5/STANDARD',
      'cam-a/segment/6/STANDARD',
    ]);
    expect(fast.seen).toHaveLength(8);
    expect(q.deliveryStats()['fire']!.shed).toBe(0);
  });

  it('drops a new job that is less urgent than everything in a full backlog', async () => {
    const q = new MemoryJobQueue({ subscriberBacklog: 2, logger: captureLog() });
    const slow = recorder('fire');
    slow.hold();
    await q.subscribe(slow.sub());
    q.offer(job('cam-a', 0, 'CRITICAL'));
    await until(() => slow.seen.length === 1, 'job 0 in flight');
    q.offer(job('cam-a', 1, 'CRITICAL'));
    q.offer(job('cam-a', 2, 'CRITICAL'));
    q.offer(job('cam-a', 3, 'STANDARD'));
    await tick();
    slow.release();
    await q.close();
    expect(slow.ids()).toEqual([
      'cam-a/segment/0/CRITICAL',
      'cam-a/segment/1/CRITICAL',
      'cam-a/segment/2/CRITICAL',
    ]);
    expect(q.deliveryStats()['fire']!.shed).toBe(1);
  });

  it('retries a failing handler, then skips the job and goes on', async () => {
    const log = captureLog();
    const q = new MemoryJobQueue({ maxAttempts: 3, retryDelayMs: 1, logger: log });
    const attempts = new Map<string, number>();
    await q.subscribe({
      model: 'fire',
      priority: 'CRITICAL',
      handle: async (j) => {
        attempts.set(j.jobId, (attempts.get(j.jobId) ?? 0) + 1);
        if (j.segmentSequence === 1) throw new Error('model crashed');
        if (j.segmentSequence === 2 && attempts.get(j.jobId) === 1) throw new Error('flaky');
      },
    });
    for (const seq of [1, 2, 3]) q.offer(job('cam-a', seq, 'CRITICAL'));
    await q.close();
    expect(Object.fromEntries(attempts)).toEqual({
      'cam-a/segment/1/CRITICAL': 3,
      'cam-a/segment/2/CRITICAL': 2,
      'cam-a/segment/3/CRITICAL': 1,
    });
    expect(q.deliveryStats()['fire']).toMatchObject({ delivered: 2, failed: 1 });
    expect(log.lines).toEqual([
      'model fire: job cam-a/segment/1/CRITICAL failed 3 time(s), skipped: model crashed',
    ]);
  });

  it('shares a model between members without letting a camera overtake itself', async () => {
    const q = new MemoryJobQueue();
    const seen: { member: number; job: VideoJob }[] = [];
    const active = new Set<string>();
    let overlap = false;
    const member = (n: number) => ({
      model: 'fire',
      priority: 'CRITICAL' as const,
      handle: async (j: VideoJob) => {
        if (active.has(j.cameraId)) overlap = true;
        active.add(j.cameraId);
        seen.push({ member: n, job: j });
        await new Promise((resolve) => setTimeout(resolve, 1 + (j.segmentSequence % 3)));
        active.delete(j.cameraId);
      },
    });
    const one = await q.subscribe(member(1));
    await q.subscribe(member(2));
    for (let seq = 0; seq < 40; seq++) q.offer(job(`cam-${seq % 4}`, seq, 'CRITICAL'));
    await q.drain();
    await until(() => seen.length === 40, 'all jobs handled');
    expect(overlap).toBe(false);
    expect(new Set(seen.map((s) => s.member))).toEqual(new Set([1, 2]));
    for (let cam = 0; cam < 4; cam++) {
      const seqs = seen
        .filter((s) => s.job.cameraId === `cam-${cam}`)
        .map((s) => s.job.segmentSequence);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }

    // A stopped member gets nothing more; the group's remaining member takes over.
    await one.stop();
    const before = seen.length;
    q.offer(job('cam-9', 1, 'CRITICAL'));
    await q.close();
    expect(seen.slice(before).map((s) => s.member)).toEqual([2]);
  });

  it('drain waits for a subscriber and close gives up after its timeout', async () => {
    const log = captureLog();
    const q = new MemoryJobQueue({ logger: log });
    q.offer(job('cam-a', 1, 'HIGH'));
    let drained = false;
    void q.drain().then(() => (drained = true));
    await tick();
    expect(drained).toBe(false);
    const started = Date.now();
    await q.close(50);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(log.lines).toEqual(['job queue closed with 1 job(s) undelivered']);
    await expect(q.subscribe(recorder('fire').sub())).rejects.toThrow('job queue is closed');
  });

  it('rejects a nonsensical configuration', () => {
    expect(() => new MemoryJobQueue({ bufferLimit: 0 })).toThrow(
      'bufferLimit must be a positive integer, got 0',
    );
    expect(() => new MemoryJobQueue({ subscriberBacklog: 1.5 })).toThrow(/subscriberBacklog/);
  });
});
