import type { Readable } from 'node:stream';
import type { FfmpegCommand, RunResult, SupervisorState } from './ffmpeg-process.js';
import { FfmpegSupervisor } from './ffmpeg-process.js';
import type { SourceInput } from './source-input.js';
import { parseStreamLine, type ObservedStream } from './stream-info.js';

/** One decoded, scaled frame with its capture time. */
export interface Frame {
  /** Counts frames across restarts of ffmpeg. */
  index: number;
  /** Wall-clock capture time in ms, derived from the stream's timestamps. */
  wallMs: number;
  /** When the last byte reached us (for latency accounting). */
  arrivedMs: number;
  /**
   * The frame's bytes as views into the pipe's chunks, in order (`width * height * 3` in
   * all). Not copied into one buffer: a 1 MB allocation per frame made Node's garbage
   * collector the largest cost of the analytics path.
   */
  data: Buffer[];
}

/** What the normalizer produces: size, rate and decode mode. */
export interface NormalizeSettings {
  width: number;
  height: number;
  fps: number;
  letterbox: boolean;
  /** Decode only keyframes (every enabled model needs <= 1 fps). */
  keyframesOnly: boolean;
}

/**
 * The filter chain: keep at most `fps` frames per second (by selecting real frames, never
 * inventing duplicates during a gap, so a stall stays visible), fit the picture inside
 * width x height without distortion and pad the rest black, convert to RGB.
 */
export function normalizeFilter(s: NormalizeSettings): string {
  // 2% tolerance so a 30 fps source thinned to 15 fps keeps every other frame despite jitter.
  const interval = (1 / s.fps) * 0.98;
  const select = `select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,${interval.toFixed(4)})'`;
  const scale = s.letterbox
    ? `scale=${s.width}:${s.height}:force_original_aspect_ratio=decrease,pad=${s.width}:${s.height}:(ow-iw)/2:(oh-ih)/2`
    : `scale=${s.width}:${s.height}`;
  return `${select},${scale},format=rgb24,showinfo=checksum=0`;
}

/** ffmpeg arguments of the normalizer: decode once, emit raw RGB frames on stdout. */
export function normalizerArgs(input: SourceInput, s: NormalizeSettings): string[] {
  return [
    '-hide_banner',
    '-loglevel',
    'info',
    '-nostats',
    ...(s.keyframesOnly ? ['-skip_frame', 'nokey'] : []),
    ...input.options,
    // Frames should leave as soon as they are decoded: a short probe (RTSP's SDP already
    // names the codec) and no input buffering keep the first frames from arriving in a burst.
    '-analyzeduration',
    '1000000',
    '-probesize',
    '1000000',
    '-fflags',
    '+discardcorrupt+nobuffer',
    '-flags',
    'low_delay',
    '-i',
    input.url,
    '-map',
    '0:v:0',
    '-an',
    '-vf',
    normalizeFilter(s),
    '-fps_mode',
    'passthrough',
    '-f',
    'rawvideo',
    'pipe:1',
  ];
}

/**
 * Maps stream timestamps to wall-clock time. The offset (arrival minus stream time) is
 * smallest for the frame that had the shortest trip, which is closest to capture; the
 * estimate follows that minimum and may creep forward by 100 ppm to absorb clock drift
 * between camera and edge. A jump in stream time starts a new estimate.
 */
export class WallClock {
  private offset?: number;
  private lastPts?: number;
  private lastArrival?: number;
  private lastStamp = -Infinity;

  /** Capture time (ms) of a frame with stream time `ptsSec` that arrived at `arrivedMs`. */
  stamp(ptsSec: number, arrivedMs: number): number {
    const ptsMs = ptsSec * 1000;
    if (this.lastPts !== undefined && (ptsMs < this.lastPts || ptsMs - this.lastPts > 10_000))
      this.offset = undefined;
    const candidate = arrivedMs - ptsMs;
    if (this.offset === undefined) this.offset = candidate;
    else {
      this.offset += (arrivedMs - this.lastArrival!) * 1e-4;
      if (candidate < this.offset) this.offset = candidate;
    }
    this.lastPts = ptsMs;
    this.lastArrival = arrivedMs;
    // Stamps never go backwards, even while the estimate is still settling.
    this.lastStamp = Math.max(this.lastStamp + 1, Math.round(this.offset + ptsMs));
    return this.lastStamp;
  }

  /** Forgets the estimate (a new connection has a new time base). */
  reset(): void {
    this.offset = this.lastPts = this.lastArrival = undefined;
    // lastStamp stays: a reconnect must not stamp frames earlier than ones already sent.
  }
}

const DECODE_ERROR =
  /error while decoding|concealing \d+|corrupt|Invalid NAL|missing picture|decode_slice_header error|Error splitting|non-existing PPS|RTP: missed \d+ packets|max delay reached/i;

export interface NormalizerOptions {
  ffmpegPath: string;
  settings(): NormalizeSettings;
  input(): Promise<SourceInput>;
  stallSeconds: number;
  onFrame(frame: Frame): void;
  onState(state: SupervisorState, detail?: { result?: RunResult; delayMs?: number }): void;
  onStream(stream: ObservedStream): void;
  onError(message: string): void;
}

/**
 * The analytics path's decoder: one ffmpeg per camera, at the lowest rate the enabled
 * models need, stdout read continuously so ffmpeg never blocks on us (frames we cannot
 * use are dropped downstream, not left in the pipe).
 */
export class Normalizer {
  private supervisor: FfmpegSupervisor;
  private clock = new WallClock();
  private ptsQueue: number[] = [];
  private frameQueue: { data: Buffer[]; arrivedMs: number }[] = [];
  private parts: Buffer[] = [];
  private filled = 0;
  private frameBytes = 0;
  private nextIndex = 0;
  private lastFrameAt = Date.now();
  private stallTimer?: NodeJS.Timeout;
  private sawInputStream = false;
  decodeErrors = 0;
  frames = 0;
  lastFrameMs?: number;
  stream?: ObservedStream;
  /** Frames per second measured over the last few seconds. */
  fps = 0;
  private fpsWindow: number[] = [];

  constructor(private readonly opts: NormalizerOptions) {
    this.supervisor = new FfmpegSupervisor({
      command: () => this.command(),
      hooks: {
        onLine: (line) => this.onLine(line),
        onStart: (child) => this.readFrames(child.stdout!),
      },
      onState: (state) => this.opts.onState(state),
      onExit: (result, delayMs) => this.opts.onState('backoff', { result, delayMs }),
      onCommandError: (e) => this.opts.onError(e.message),
    });
  }

  get restarts(): number {
    return this.supervisor.restarts;
  }

  /** Starts decoding. */
  start(): void {
    this.stallTimer = setInterval(() => {
      if (Date.now() - this.lastFrameAt > this.opts.stallSeconds * 1000) {
        this.lastFrameAt = Date.now();
        this.supervisor.restart('stalled');
      }
    }, 1000);
    this.stallTimer.unref();
    this.supervisor.start();
  }

  /** Restarts with new settings (models changed, or the stream turned out different). */
  reconfigure(): void {
    this.supervisor.restart('stopped');
  }

  /** Stops decoding. */
  async stop(): Promise<void> {
    clearInterval(this.stallTimer);
    await this.supervisor.stop();
  }

  private async command(): Promise<FfmpegCommand> {
    const input = await this.opts.input();
    const s = this.opts.settings();
    this.frameBytes = s.width * s.height * 3;
    this.ptsQueue = [];
    this.frameQueue = [];
    this.parts = [];
    this.filled = 0;
    this.sawInputStream = false;
    this.clock.reset();
    this.lastFrameAt = Date.now();
    return {
      ffmpegPath: this.opts.ffmpegPath,
      args: normalizerArgs(input, s),
      secrets: input.secrets,
    };
  }

  private onLine(line: string) {
    const info = /\] n:\s*\d+ pts:\s*-?\d+ pts_time:(-?[\d.e+-]+)/.exec(line);
    if (info && line.includes('showinfo')) {
      this.ptsQueue.push(Number(info[1]));
      this.pair();
      return;
    }
    if (!this.sawInputStream && /Stream #0:\d+.*: Video:/.test(line)) {
      this.sawInputStream = true;
      const s = parseStreamLine(line);
      if (s) {
        this.stream = s;
        this.opts.onStream(s);
      }
      return;
    }
    if (DECODE_ERROR.test(line)) this.decodeErrors++;
  }

  private readFrames(out: Readable) {
    out.on('data', (chunk: Buffer) => {
      let off = 0;
      while (off < chunk.length) {
        const n = Math.min(this.frameBytes - this.filled, chunk.length - off);
        this.parts.push(off === 0 && n === chunk.length ? chunk : chunk.subarray(off, off + n));
        this.filled += n;
        off += n;
        if (this.filled === this.frameBytes) {
          this.frameQueue.push({ data: this.parts, arrivedMs: Date.now() });
          this.parts = [];
          this.filled = 0;
          this.pair();
        }
      }
    });
  }

  /** Frames and their timestamps come on different pipes; match them in order. */
  private pair() {
    while (this.ptsQueue.length > 0 && this.frameQueue.length > 0) {
      const pts = this.ptsQueue.shift()!;
      const f = this.frameQueue.shift()!;
      const now = f.arrivedMs;
      this.lastFrameAt = now;
      this.lastFrameMs = now;
      this.frames++;
      this.fpsWindow.push(now);
      while (this.fpsWindow.length > 0 && this.fpsWindow[0]! < now - 5000) this.fpsWindow.shift();
      this.fps =
        this.fpsWindow.length > 1
          ? ((this.fpsWindow.length - 1) * 1000) / (now - this.fpsWindow[0]!)
          : 0;
      this.opts.onFrame({
        index: this.nextIndex++,
        wallMs: this.clock.stamp(pts, f.arrivedMs),
        arrivedMs: f.arrivedMs,
        data: f.data,
      });
    }
  }
}
