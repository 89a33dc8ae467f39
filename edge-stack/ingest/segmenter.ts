import { mkdir, open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Priority } from '../../resources/index.js';
import {
  jobIdOf,
  PRIORITY_ORDER,
  type JobQueue,
  type SegmentRef,
  type SourceQuality,
  type VideoJob,
} from '../jobs/index.js';
import type { Frame } from './normalizer.js';

/** A model as the segmenter needs it. */
export interface SegmentModel {
  name: string;
  priority: Priority;
  overlapSeconds: number;
  fps: number;
}

export interface SegmenterOptions {
  customerId: string;
  cameraId: string;
  edgeServer?: string;
  /** Folder for this camera's segment files (the claim-check store). */
  spoolDir: string;
  width: number;
  height: number;
  segmentSeconds: number;
  models(): readonly SegmentModel[];
  quality(): SourceQuality;
  queue: JobQueue;
  /** Stop writing new frames while the camera's spool holds this many bytes. */
  spoolLimitBytes: number;
  /** How long a published segment stays readable for the workers. */
  graceSeconds: number;
  onError?(message: string): void;
}

interface SpoolFile {
  path: string;
  sequence: number;
  /** > 0 when this sequence was cut before (a reconnect mid-segment). */
  part: number;
  handle?: FileHandle;
  bytes: number;
  frames: { wallMs: number; offset: number }[];
  /** Jobs offered for this file and not yet published. */
  pending: Set<string>;
  closedAtMs?: number;
  /** Its segment jobs have been offered (until then it must not be evicted). */
  settled: boolean;
  /** Writes to this file, chained so frames land in order; never rejects. */
  writing: Promise<void>;
  /** Set when a write failed (e.g. the spool disk is full); no job will point at this file. */
  failed?: Error;
  startMs: number;
}

/** Counters the segmenter keeps for health and metrics. */
export interface SegmenterStats {
  segments: number;
  jobsOffered: number;
  jobsRefused: Record<Priority, number>;
  microJobs: number;
  framesDropped: number;
  spoolBytes: number;
}

/** Priorities that get per-frame micro-jobs to meet the 500 ms response target. */
export const LOW_LATENCY: ReadonlySet<Priority> = new Set(['CRITICAL', 'HIGH']);

/**
 * Cuts normalized frames into wall-clock-aligned segments (sequence = start / duration,
 * so ids survive restarts), writes each to the spool once, and offers one VideoJob per
 * priority present among the enabled models. Frames for CRITICAL and HIGH models are
 * also offered as micro-jobs the moment they are written, pointing into the growing file.
 */
export class Segmenter {
  private current?: SpoolFile;
  private files: SpoolFile[] = [];
  private byJob = new Map<string, SpoolFile>();
  private microSeq = 0;
  private lastMicroMs = new Map<Priority, number>();
  /** Offers run in this chain so jobs leave in capture order, each after its frames are on disk. */
  private offers: Promise<void> = Promise.resolve();
  readonly stats: SegmenterStats = {
    segments: 0,
    jobsOffered: 0,
    jobsRefused: { CRITICAL: 0, HIGH: 0, MEDIUM: 0, STANDARD: 0 },
    microJobs: 0,
    framesDropped: 0,
    spoolBytes: 0,
  };

  constructor(private readonly opts: SegmenterOptions) {
    opts.queue.onPublished((job) => {
      const file = this.byJob.get(job.jobId);
      if (!file) return;
      this.byJob.delete(job.jobId);
      file.pending.delete(job.jobId);
    });
  }

  private get frameBytes() {
    return this.opts.width * this.opts.height * 3;
  }

  /** Takes one frame; drops it (counted) when the spool is full. */
  push(frame: Frame): void {
    const models = this.opts.models();
    if (models.length === 0) return;
    const seqLen = this.opts.segmentSeconds * 1000;
    const sequence = Math.floor(frame.wallMs / seqLen);
    if (this.current && sequence !== this.current.sequence) this.close(false);
    this.evict();
    if (this.stats.spoolBytes + this.frameBytes > this.opts.spoolLimitBytes) {
      this.stats.framesDropped++;
      return;
    }
    if (!this.current) this.current = this.openFile(sequence, frame.wallMs, models);
    const file = this.current;
    const offset = file.bytes;
    file.bytes += this.frameBytes;
    this.stats.spoolBytes += this.frameBytes;
    file.frames.push({ wallMs: frame.wallMs, offset });
    const write = file.writing.then(async () => {
      if (file.failed) return;
      await file.handle!.writev(frame.data, offset).catch((e: Error) => {
        this.fail(file, e);
      });
    });
    file.writing = write;
    const urgent = this.tierModels(models).filter(
      ([p, names]) => LOW_LATENCY.has(p) && this.microDue(p, names, models, frame.wallMs),
    );
    if (urgent.length > 0) {
      const index = file.frames.length - 1;
      this.offers = this.offers.then(async () => {
        await write;
        for (const [priority, names] of urgent)
          this.offer(file, 'micro', this.microSeq++, priority, names, models, {
            first: index,
            count: 1,
            overlap: 0,
            partial: false,
          });
      });
    }
  }

  /**
   * Whether a frame is due for a micro-job of this priority: the decoder runs at the rate
   * of the fastest model of any priority, but a 2 fps CRITICAL model needs only 2 jobs a second.
   */
  private microDue(
    priority: Priority,
    names: readonly string[],
    models: readonly SegmentModel[],
    wallMs: number,
  ): boolean {
    const fps = Math.max(...models.filter((m) => names.includes(m.name)).map((m) => m.fps));
    const last = this.lastMicroMs.get(priority);
    // Same 2 % tolerance as the decoder's frame selection, so jitter does not skip frames.
    if (last !== undefined && wallMs >= last && wallMs - last < (1000 / fps) * 0.98) return false;
    this.lastMicroMs.set(priority, wallMs);
    return true;
  }

  /** Closes the open segment as partial (the camera stopped mid-segment). */
  async flush(): Promise<void> {
    if (this.current) this.close(true);
    await this.offers;
  }

  /** Ends the segmenter: flushes and closes every file handle. */
  async stop(): Promise<void> {
    await this.flush();
  }

  private openFile(sequence: number, firstWallMs: number, models: readonly SegmentModel[]) {
    const previous = this.files.at(-1);
    const overlapMs = Math.max(0, ...models.map((m) => m.overlapSeconds)) * 1000;
    const startMs = sequence * this.opts.segmentSeconds * 1000;
    const part = previous?.sequence === sequence ? previous.part + 1 : 0;
    const file: SpoolFile = {
      path: join(this.opts.spoolDir, part > 0 ? `${sequence}.${part}.rgb` : `${sequence}.rgb`),
      sequence,
      part,
      bytes: 0,
      frames: [],
      pending: new Set(),
      writing: Promise.resolve(),
      startMs,
      settled: false,
    };
    const carried =
      previous && overlapMs > 0
        ? previous.frames.filter((f) => f.wallMs >= startMs - overlapMs && f.wallMs < firstWallMs)
        : [];
    file.writing = (async () => {
      await mkdir(this.opts.spoolDir, { recursive: true });
      file.handle = await open(file.path, 'w');
      await this.copyOverlap(previous, carried, file);
    })().catch((e: Error) => this.fail(file, e));
    for (const [i, f] of carried.entries())
      file.frames.push({ wallMs: f.wallMs, offset: i * this.frameBytes });
    file.bytes = carried.length * this.frameBytes;
    this.stats.spoolBytes += file.bytes;
    this.files.push(file);
    return file;
  }

  /** Copies the overlap frames from the previous segment file into the new one. */
  private async copyOverlap(
    previous: SpoolFile | undefined,
    carried: { offset: number }[],
    file: SpoolFile,
  ) {
    if (carried.length === 0 || !previous || previous.failed) return;
    // The overlap is re-read from the previous file (page cache) instead of being held
    // in memory, so a camera costs a frame or two of RAM whatever the overlap.
    await previous.writing;
    const buf = Buffer.allocUnsafe(this.frameBytes);
    const reader = previous.handle ?? (await open(previous.path, 'r'));
    try {
      for (const [i, f] of carried.entries()) {
        await reader.read(buf, 0, buf.length, f.offset);
        await file.handle!.write(buf, 0, buf.length, i * this.frameBytes);
      }
    } finally {
      if (reader !== previous.handle) await reader.close();
    }
  }

  private fail(file: SpoolFile, e: Error) {
    if (!file.failed)
      this.opts.onError?.(`spool write failed for segment ${file.sequence}: ${e.message}`);
    file.failed ??= e;
  }

  private close(flushed: boolean) {
    const file = this.current!;
    this.current = undefined;
    file.closedAtMs = Date.now();
    this.stats.segments++;
    const models = this.opts.models();
    const overlapMs =
      file.frames.length > 0 ? Math.max(0, file.startMs - file.frames[0]!.wallMs) : 0;
    // A stream that ends just after a window's last frame left a complete segment: only one
    // cut more than a frame short of its window's end is partial.
    const frameMs = models.length > 0 ? 1000 / Math.max(...models.map((m) => m.fps)) : 0;
    const last = file.frames.at(-1);
    const windowEndMs = file.startMs + this.opts.segmentSeconds * 1000;
    const cut = flushed && (!last || last.wallMs + 1.5 * frameMs < windowEndMs);
    const written = file.writing;
    this.offers = this.offers.then(async () => {
      await written;
      if (!file.failed)
        for (const [priority, names] of this.tierModels(models))
          this.offer(file, 'segment', file.sequence, priority, names, models, {
            first: 0,
            count: file.frames.length,
            overlap: overlapMs / 1000,
            partial: cut,
          });
      file.settled = true;
      await file.handle?.close().catch(() => undefined);
      file.handle = undefined;
    });
    file.writing = this.offers;
  }

  private tierModels(models: readonly SegmentModel[]): [Priority, string[]][] {
    return PRIORITY_ORDER.map((p): [Priority, string[]] => [
      p,
      models.filter((m) => m.priority === p).map((m) => m.name),
    ]).filter(([, names]) => names.length > 0);
  }

  private offer(
    file: SpoolFile,
    kind: VideoJob['kind'],
    sequence: number,
    priority: Priority,
    names: string[],
    models: readonly SegmentModel[],
    range: { first: number; count: number; overlap: number; partial: boolean },
  ) {
    const frames = file.frames.slice(range.first, range.first + range.count);
    if (frames.length === 0 || file.failed) return;
    const first = frames[0]!;
    const last = frames.at(-1)!;
    const q = this.opts.quality();
    const frameMs = models.length > 0 ? 1000 / Math.max(...models.map((m) => m.fps)) : 0;
    const segment: SegmentRef = {
      uri: pathToFileURL(file.path).href,
      format: 'rgb24',
      byteOffset: first.offset,
      width: this.opts.width,
      height: this.opts.height,
      frameCount: frames.length,
      byteLength: frames.length * this.frameBytes,
      startTime: new Date(first.wallMs).toISOString(),
      endTime: new Date(last.wallMs).toISOString(),
      frameOffsetsMs: frames.map((f) => f.wallMs - first.wallMs),
      overlapSeconds: range.overlap,
    };
    const chosen = models.filter((m) => names.includes(m.name));
    const job: VideoJob = {
      jobId: jobIdOf(
        this.opts.cameraId,
        kind,
        sequence,
        priority,
        kind === 'segment' ? file.part : 0,
      ),
      kind,
      customerId: this.opts.customerId,
      cameraId: this.opts.cameraId,
      ...(this.opts.edgeServer ? { edgeServer: this.opts.edgeServer } : {}),
      segmentSequence: sequence,
      timestamp: segment.startTime,
      segment,
      metadata: {
        resolution: `${this.opts.width}x${this.opts.height}`,
        bitrate: q.bitrate,
        duration:
          kind === 'micro'
            ? Math.round(frameMs) / 1000
            : Math.round(
                Math.min(this.opts.segmentSeconds, (last.wallMs - file.startMs + frameMs) / 1000) *
                  1000,
              ) / 1000,
        frameCount: frames.length,
        enabledModels: names,
        priority,
        sourceQuality: q,
        modelOverlapSeconds: Object.fromEntries(chosen.map((m) => [m.name, m.overlapSeconds])),
        modelFps: Object.fromEntries(chosen.map((m) => [m.name, m.fps])),
        partial: range.partial,
      },
      createdAtMs: Date.now(),
    };
    if (this.opts.queue.offer(job)) {
      this.stats.jobsOffered++;
      if (kind === 'micro') this.stats.microJobs++;
      file.pending.add(job.jobId);
      this.byJob.set(job.jobId, file);
    } else {
      this.stats.jobsRefused[priority]++;
    }
  }

  /**
   * Deletes spool files whose jobs were all published and whose grace period passed, oldest
   * first. A file with a job still waiting in the queue is never deleted: the job must
   * find its frames whenever the broker takes it.
   */
  private evict() {
    const now = Date.now();
    const grace = this.opts.graceSeconds * 1000;
    const newestClosed = this.files.filter((f) => f.closedAtMs !== undefined).at(-1);
    this.files = this.files.filter((f) => {
      // The newest closed file is kept too: the next segment copies its overlap from it.
      if (f === this.current || f === newestClosed || !f.settled) return true;
      if (f.pending.size > 0) return true;
      if (now - f.closedAtMs! < grace) return true;
      this.stats.spoolBytes -= f.bytes;
      void f.writing.then(() => unlink(f.path)).catch(() => undefined);
      return false;
    });
  }
}
