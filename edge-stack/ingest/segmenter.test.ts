import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Priority } from '../../resources/index.js';
import type { JobQueue, JobQueueStats, VideoJob } from '../jobs/index.js';
import { Segmenter, type SegmentModel } from './segmenter.js';

/** A queue that accepts up to `room` jobs and publishes when told to. */
class FakeQueue implements JobQueue {
  jobs: VideoJob[] = [];
  private listeners: ((job: VideoJob, at: number) => void)[] = [];
  constructor(public room = Infinity) {}
  offer(job: VideoJob) {
    if (this.jobs.length >= this.room) return false;
    this.jobs.push(job);
    return true;
  }
  publishAll() {
    for (const j of this.jobs) for (const l of this.listeners) l(j, Date.now());
  }
  async drain() {}
  stats(): JobQueueStats {
    return {
      buffered: 0,
      bufferLimit: 0,
      published: 0,
      refused: { CRITICAL: 0, HIGH: 0, MEDIUM: 0, STANDARD: 0 },
      connected: true,
    };
  }
  onPublished(l: (job: VideoJob, at: number) => void) {
    this.listeners.push(l);
  }
  async close() {}
}

const W = 8;
const H = 6;
const FRAME = W * H * 3;
const model = (name: string, priority: Priority, overlapSeconds = 1, fps = 2): SegmentModel => ({
  name,
  priority,
  overlapSeconds,
  fps,
});

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'seg-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function make(models: SegmentModel[], queue: JobQueue, spoolLimitBytes = 1e9) {
  return new Segmenter({
    customerId: 'acme',
    cameraId: 'acme/lobby',
    spoolDir: dir,
    width: W,
    height: H,
    segmentSeconds: 5,
    models: () => models,
    quality: () => ({
      stream: 'main',
      codec: 'H264',
      resolution: '1920x1080',
      fps: 30,
      bitrate: '4Mbps',
      decodeErrors: 0,
      droppedFrames: 0,
    }),
    queue,
    spoolLimitBytes,
    graceSeconds: 0,
  });
}

/** Frame i at 2 fps starting at wall second 1000 (a segment boundary: 1000 % 5 == 0). */
const frame = (i: number) => ({
  index: i,
  wallMs: 1_000_000 + i * 500,
  arrivedMs: 1_000_000 + i * 500 + 40,
  data: [Buffer.alloc(FRAME / 2, i), Buffer.alloc(FRAME / 2, i)],
});

describe('Segmenter', () => {
  it('writes wall-aligned segments with overlap and offers one job per priority', async () => {
    const q = new FakeQueue();
    const s = make([model('intrusion', 'MEDIUM'), model('motion', 'STANDARD', 0.5)], q);
    for (let i = 0; i < 25; i++) s.push(frame(i)); // 12.5 s: two full segments and a partial
    await s.flush();
    const seg = q.jobs.filter((j) => j.kind === 'segment');
    expect(seg.map((j) => [j.segmentSequence, j.metadata.priority])).toEqual([
      [200, 'MEDIUM'],
      [200, 'STANDARD'],
      [201, 'MEDIUM'],
      [201, 'STANDARD'],
      [202, 'MEDIUM'],
      [202, 'STANDARD'],
    ]);
    const second = seg[2]!;
    // 10 frames of its own plus 2 frames (1 s) of overlap from segment 200.
    expect(second.segment.frameCount).toBe(12);
    expect(second.segment.overlapSeconds).toBe(1);
    expect(second.segment.frameOffsetsMs.slice(0, 3)).toEqual([0, 500, 1000]);
    expect(second.metadata).toMatchObject({
      resolution: '8x6',
      duration: 5,
      frameCount: 12,
      enabledModels: ['intrusion'],
      priority: 'MEDIUM',
      partial: false,
      modelOverlapSeconds: { intrusion: 1 },
    });
    expect(second.jobId).toBe('acme/lobby/segment/201/MEDIUM');
    expect(seg.at(-1)!.metadata).toMatchObject({ partial: true, duration: 2.5 });
    // The claim-check points at a file whose bytes are exactly the frames, overlap first.
    const bytes = await readFile(fileURLToPath(second.segment.uri));
    expect(bytes.length).toBe(12 * FRAME);
    expect(bytes[0]).toBe(8);
    expect(bytes[2 * FRAME]).toBe(10);
    expect(bytes[11 * FRAME]).toBe(19);
  });

  it('calls a segment partial only when the stream stopped short of its window', async () => {
    const whole = new FakeQueue();
    const a = make([model('intrusion', 'MEDIUM')], whole);
    // Frames 0..9 fill window 200 up to its last frame; the stream then ends before frame 10.
    for (let i = 0; i < 10; i++) a.push(frame(i));
    await a.flush();
    expect(whole.jobs.map((j) => j.metadata)).toMatchObject([{ partial: false, duration: 5 }]);

    const cut = new FakeQueue();
    const b = make([model('intrusion', 'MEDIUM')], cut);
    // One frame short of the window's end is a cut: 4 s of a 5 s window.
    for (let i = 0; i < 8; i++) b.push(frame(i));
    await b.flush();
    expect(cut.jobs.map((j) => j.metadata)).toMatchObject([{ partial: true, duration: 4 }]);
  });

  it('offers a micro-job per frame for CRITICAL and HIGH models, pointing into the segment', async () => {
    const q = new FakeQueue();
    const s = make([model('fire', 'CRITICAL', 2), model('crowd', 'MEDIUM')], q);
    for (let i = 0; i < 4; i++) s.push(frame(i));
    await s.flush();
    const micro = q.jobs.filter((j) => j.kind === 'micro');
    expect(micro).toHaveLength(4);
    expect(micro.every((j) => j.metadata.priority === 'CRITICAL')).toBe(true);
    expect(micro[3]!.segment).toMatchObject({ byteOffset: 3 * FRAME, frameCount: 1 });
    const bytes = await readFile(fileURLToPath(micro[3]!.segment.uri));
    expect(bytes[3 * FRAME]).toBe(3);
  });

  it("sends micro-jobs at the priority's model rate, each naming its own frame", async () => {
    const q = new FakeQueue();
    const s = make([model('fire', 'CRITICAL', 0, 1), model('motion', 'STANDARD', 0, 2)], q);
    for (let i = 0; i < 6; i++) s.push(frame(i));
    await s.flush();
    const micro = q.jobs.filter((j) => j.kind === 'micro');
    // Frames come at 2 fps (what motion needs); fire needs 1, so every other frame.
    expect(micro.map((j) => j.segment.byteOffset / FRAME)).toEqual([0, 2, 4]);
    expect(micro.map((j) => j.timestamp)).toEqual(
      [0, 2, 4].map((i) => new Date(frame(i).wallMs).toISOString()),
    );
  });

  it('keeps a file until its jobs are published, then evicts it', async () => {
    const q = new FakeQueue();
    const s = make([model('intrusion', 'MEDIUM', 0)], q);
    for (let i = 0; i < 30; i++) s.push(frame(i));
    await s.flush();
    expect((await readdir(dir)).sort()).toEqual(['200.rgb', '201.rgb', '202.rgb']);
    s.push(frame(40)); // triggers eviction; nothing published yet
    expect((await readdir(dir)).length).toBeGreaterThanOrEqual(3);
    q.publishAll();
    s.push(frame(41));
    await s.flush();
    await new Promise((r) => setTimeout(r, 50));
    // Published and past the grace period; the newest closed file stays for the overlap.
    expect((await readdir(dir)).sort()).toEqual(['202.rgb', '204.rgb']);
  });

  it('drops frames, never queued segments, when the spool is full', async () => {
    const q = new FakeQueue();
    const s = make([model('intrusion', 'MEDIUM', 0)], q, 12 * FRAME);
    for (let i = 0; i < 20; i++) s.push(frame(i));
    await s.flush();
    expect(s.stats.framesDropped).toBe(8);
    expect(q.jobs.map((j) => j.segment.frameCount)).toEqual([10, 2]);
  });

  it('gives a segment cut by a reconnect its own file and job id', async () => {
    const q = new FakeQueue();
    const s = make([model('intrusion', 'MEDIUM', 0)], q);
    for (let i = 0; i < 4; i++) s.push(frame(i));
    await s.flush();
    for (let i = 5; i < 10; i++) s.push(frame(i));
    await s.flush();
    expect(q.jobs.map((j) => [j.jobId, j.segment.frameCount, j.metadata.partial])).toEqual([
      ['acme/lobby/segment/200/MEDIUM', 4, true],
      // The second part starts after the reconnect but runs to the window's end: not cut.
      ['acme/lobby/segment/200.1/MEDIUM', 5, false],
    ]);
    expect(q.jobs[0]!.segment.uri).not.toBe(q.jobs[1]!.segment.uri);
  });

  it('counts refusals per priority when the queue has no room', async () => {
    const q = new FakeQueue(1);
    const s = make([model('fire', 'HIGH', 0), model('motion', 'STANDARD', 0)], q);
    for (let i = 0; i < 11; i++) s.push(frame(i));
    await s.flush();
    expect(q.jobs).toHaveLength(1);
    expect(s.stats.jobsRefused.STANDARD).toBeGreaterThan(0);
  });
});
