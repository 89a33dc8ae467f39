import { mkdir, readdir, stat, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { ExitReason, FfmpegCommand, RunResult, SupervisorState } from './ffmpeg-process.js';
import { FfmpegSupervisor } from './ffmpeg-process.js';
import { fileHoldsFrames, MATROSKA_HEAD_BYTES } from './matroska-media.js';
import type { SourceInput } from './source-input.js';
import { parseStreamLine, type ObservedStream } from './stream-info.js';

/** One recording file on disk. */
export interface RecordingSegment {
  path: string;
  /** Wall-clock start and end (ms); `endMs` is undefined while ffmpeg is still writing it. */
  startMs: number;
  endMs?: number;
  bytes?: number;
}

export interface RecorderOptions {
  ffmpegPath: string;
  cameraId: string;
  /** Folder for this camera's recordings. */
  dir: string;
  segmentSeconds: number;
  /** Which segments to keep; the rest are deleted once older than the pre-event window. */
  keep: (segment: RecordingSegment) => boolean;
  /** How far back a clip may need to reach (the pre-event window). */
  preEventSeconds: number;
  stallSeconds: number;
  input(): Promise<SourceInput>;
  onState(state: SupervisorState, detail?: { result?: RunResult; delayMs?: number }): void;
  onStream(stream: ObservedStream): void;
  onError(message: string): void;
  /** A segment was closed (and kept or dropped per `keep`). */
  onSegment?(segment: RecordingSegment, kept: boolean): void;
}

const NAME = /^(\d{8}T\d{6}Z)-([a-z0-9]+)\.mkv$/;

/** Start time encoded in a recording's file name (second resolution), or undefined. */
export function recordingStartFromName(file: string): number | undefined {
  const m = NAME.exec(basename(file));
  if (!m) return undefined;
  const s = m[1]!;
  return Date.UTC(
    Number(s.slice(0, 4)),
    Number(s.slice(4, 6)) - 1,
    Number(s.slice(6, 8)),
    Number(s.slice(9, 11)),
    Number(s.slice(11, 13)),
    Number(s.slice(13, 15)),
  );
}

/** ffmpeg arguments of the recorder: copy the main stream into fixed-length files, no decoding. */
export function recorderArgs(
  input: SourceInput,
  dir: string,
  segmentSeconds: number,
  runId: string,
): string[] {
  return [
    '-hide_banner',
    '-loglevel',
    'info',
    '-nostats',
    '-progress',
    'pipe:3',
    '-stats_period',
    '1',
    ...input.options,
    '-analyzeduration',
    '2000000',
    // Cameras send broken packets; keep what can be kept rather than stopping the recording.
    '-fflags',
    '+genpts+discardcorrupt',
    '-i',
    input.url,
    '-map',
    '0:v:0',
    '-map',
    '0:a?',
    '-c',
    'copy',
    '-f',
    'segment',
    '-segment_time',
    String(segmentSeconds),
    '-segment_format',
    'matroska',
    // Matroska holds a cluster in memory until it is closed; flushing every packet puts the
    // video on disk as it arrives, so a crash or a power cut loses at most a packet and a
    // clip can read the segment still being written.
    '-segment_format_options',
    'flush_packets=1:cluster_time_limit=1000',
    '-reset_timestamps',
    '1',
    '-strftime',
    '1',
    // The run id keeps two runs starting in the same second from writing the same file.
    join(dir, `%Y%m%dT%H%M%SZ-${runId}.mkv`),
  ];
}

/**
 * The recording path: one ffmpeg per camera copying the main stream into segments on
 * local disk. It never decodes and shares nothing with the AI path, so a slow model,
 * a full job queue or a crashed normalizer cannot stop it.
 */
export class Recorder {
  readonly segments: RecordingSegment[] = [];
  private supervisor: FfmpegSupervisor;
  private open?: RecordingSegment;
  private lastProgressAt = Date.now();
  /** Bytes of the open segment already added to `bytesWritten`. */
  private openCounted = 0;
  private stallTimer?: NodeJS.Timeout;
  /** Closes still checking their file; `stop` waits for them so no unreadable file is left. */
  private closing = new Set<Promise<void>>();
  /** Bytes per second of the copied stream over the last progress interval. */
  bitrateBps = 0;
  bytesWritten = 0;
  lastDataMs?: number;
  stream?: ObservedStream;

  constructor(private readonly opts: RecorderOptions) {
    this.supervisor = new FfmpegSupervisor({
      command: () => this.command(),
      hooks: {
        onLine: (line) => this.onLine(line),
        onStart: (child) => this.watchProgress(child.stdio[3] as Readable),
      },
      onState: (state) => this.opts.onState(state),
      onExit: (result, delayMs) => {
        this.closeOpenInBackground(Date.now());
        this.opts.onState('backoff', { result, delayMs });
      },
      onCommandError: (e) => this.opts.onError(e.message),
    });
  }

  get restarts(): number {
    return this.supervisor.restarts;
  }

  /** Loads segments already on disk (from before a restart) and starts recording. */
  async start(): Promise<void> {
    await mkdir(this.opts.dir, { recursive: true });
    for (const f of (await readdir(this.opts.dir)).sort()) {
      const startMs = recordingStartFromName(f);
      if (startMs === undefined) continue;
      const path = join(this.opts.dir, f);
      const s = await stat(path).catch(() => undefined);
      if (!s) continue;
      // A run killed before its first frame left only headers: not a recording, nothing lost.
      // Only a small file can be that; reading every file would cost a read per recording
      // of the whole archive at each start.
      if (s.size <= MATROSKA_HEAD_BYTES && !(await fileHoldsFrames(path))) {
        await unlink(path).catch(() => undefined);
        continue;
      }
      this.segments.push({ path, startMs, endMs: s.mtimeMs, bytes: s.size });
    }
    this.stallTimer = setInterval(() => this.checkStall(), 1000);
    this.stallTimer.unref();
    this.supervisor.start();
  }

  /** Stops ffmpeg, letting it finalize the segment it is writing. */
  async stop(): Promise<void> {
    clearInterval(this.stallTimer);
    await this.supervisor.stop();
    await this.closeOpen(Date.now());
    await Promise.all(this.closing);
  }

  /** Restarts ffmpeg (e.g. after the disk was freed). */
  restart(reason: ExitReason): void {
    this.supervisor.restart(reason);
  }

  /** Retries at once if ffmpeg is waiting out a backoff (e.g. after the disk was freed). */
  retryNow(): void {
    this.supervisor.retryNow();
  }

  /** Segments overlapping [fromMs, toMs], oldest first, including one still being written. */
  segmentsBetween(fromMs: number, toMs: number): RecordingSegment[] {
    return this.segments.filter((s) => s.startMs <= toMs && (s.endMs ?? Infinity) >= fromMs);
  }

  /** Forgets a segment that retention deleted. */
  forget(path: string): void {
    const i = this.segments.findIndex((s) => s.path === path);
    if (i >= 0) this.segments.splice(i, 1);
  }

  private async command(): Promise<FfmpegCommand> {
    const input = await this.opts.input();
    await mkdir(this.opts.dir, { recursive: true });
    const runId = Date.now().toString(36);
    this.lastProgressAt = Date.now();
    return {
      ffmpegPath: this.opts.ffmpegPath,
      args: recorderArgs(input, this.opts.dir, this.opts.segmentSeconds, runId),
      secrets: input.secrets,
    };
  }

  private onLine(line: string) {
    const opening = /\[segment @ [^\]]+\] Opening '(.+)' for writing/.exec(line);
    if (opening) {
      const now = Date.now();
      this.closeOpenInBackground(now);
      this.open = { path: opening[1]!, startMs: now };
      this.segments.push(this.open);
      return;
    }
    if (!this.stream && /Stream #0:\d+.*: Video:/.test(line)) {
      const s = parseStreamLine(line);
      if (s) {
        this.stream = s;
        this.opts.onStream(s);
      }
    }
  }

  /**
   * ffmpeg's progress reports frames but not sizes for the segment muxer, so frames are the
   * liveness signal and the bitrate comes from the growth of the file being written.
   */
  private watchProgress(pipe: Readable | undefined) {
    if (!pipe) return;
    let lastFrame = -1;
    let prevAt = Date.now();
    let prevBytes = this.bytesWritten;
    createInterface({ input: pipe }).on('line', (line) => {
      if (line.startsWith('frame=')) {
        const frame = Number(line.slice('frame='.length));
        if (frame > lastFrame) {
          lastFrame = frame;
          this.lastProgressAt = this.lastDataMs = Date.now();
        }
        return;
      }
      if (!line.startsWith('progress=')) return;
      const open = this.open;
      if (!open) return;
      void stat(open.path)
        .then((st) => {
          if (this.open !== open) return;
          this.count(st.size);
          const now = Date.now();
          if (now - prevAt >= 900) {
            this.bitrateBps = ((this.bytesWritten - prevBytes) * 8 * 1000) / (now - prevAt);
            prevAt = now;
            prevBytes = this.bytesWritten;
          }
        })
        .catch(() => undefined);
    });
  }

  /** Adds the growth of the open segment (now `size` bytes) to the total. */
  private count(size: number) {
    if (size > this.openCounted) this.bytesWritten += size - this.openCounted;
    this.openCounted = size;
  }

  private checkStall() {
    if (Date.now() - this.lastProgressAt > this.opts.stallSeconds * 1000) {
      this.lastProgressAt = Date.now();
      this.supervisor.restart('stalled');
    }
  }

  private closeOpenInBackground(now: number) {
    const closing = this.closeOpen(now);
    this.closing.add(closing);
    void closing.finally(() => this.closing.delete(closing));
  }

  private async closeOpen(now: number) {
    const seg = this.open;
    if (!seg) return;
    this.open = undefined;
    seg.endMs = now;
    const s = await stat(seg.path).catch(() => undefined);
    this.count(s?.size ?? 0);
    this.openCounted = 0;
    // ffmpeg opens the next file before its first frame arrives; a run that ends (camera
    // gone, stall, kill) before that frame leaves headers only, which no player can open.
    if (!s || !(await fileHoldsFrames(seg.path))) {
      this.forget(seg.path);
      if (s) await unlink(seg.path).catch(() => undefined);
      return;
    }
    seg.bytes = s.size;
    const kept = this.opts.keep(seg);
    this.opts.onSegment?.(seg, kept);
    this.pruneRing(now);
  }

  /** Deletes segments that are neither kept nor needed for a pre-event window any more. */
  private pruneRing(now: number) {
    const horizon = now - (this.opts.preEventSeconds + this.opts.segmentSeconds) * 1000;
    for (const seg of [...this.segments]) {
      if (seg.endMs === undefined || seg.endMs >= horizon || this.opts.keep(seg)) continue;
      this.forget(seg.path);
      void unlink(seg.path).catch(() => undefined);
    }
  }
}
