import { join } from 'node:path';
import {
  parseResolutionClass,
  type CameraSpec,
  type EffectiveConfig,
} from '../../resources/index.js';
import type { JobQueue, SourceQuality } from '../jobs/index.js';
import { extractClip, type Clip } from './clips.js';
import type { ExitReason, RunResult, SupervisorState } from './ffmpeg-process.js';
import type { CameraHealth, CameraState, PathHealth } from './health.js';
import { Normalizer, type NormalizeSettings } from './normalizer.js';
import { Recorder, type RecordingSegment } from './recorder.js';
import { Segmenter, type SegmentModel } from './segmenter.js';
import { sourceInput, type SecretResolver, type SourceInput } from './source-input.js';
import { streamMismatch, type ObservedStream } from './stream-info.js';

/** What a camera pipeline needs from its edge. */
export interface PipelineEnv {
  ffmpegPath: string;
  /** Recordings live under `<recordingsDir>/<camera key>/`. */
  recordingsDir: string;
  /** Segment files (claim-checks) live under `<spoolDir>/<camera key>/`. */
  spoolDir: string;
  queue: JobQueue;
  secrets?: SecretResolver;
  edgeServer?: string;
  /** Seconds without data before ffmpeg is restarted. */
  stallSeconds?: number;
  ioTimeoutSeconds?: number;
  spoolLimitBytes?: number;
  spoolGraceSeconds?: number;
  allowFileSources?: boolean;
  /** Called whenever the camera's health changes state. */
  onHealth?(health: CameraHealth): void;
  /** A recorder found the disk full (the edge frees space before it restarts). */
  onDiskFull?(cameraId: string): void;
  log?(line: string): void;
}

/** The camera as the pipeline sees it: identity, spec and resolved configuration. */
export interface PipelineCamera {
  namespace: string;
  name: string;
  spec: CameraSpec;
  config: EffectiveConfig;
  /** Requirements of each enabled model (from its AIModel). */
  requirements: Record<string, { minResolution: string; minBitrate: string }>;
}

/** File-system-safe key for a camera: `<namespace>_<name>` (both are DNS labels). */
export function cameraKey(c: { namespace: string; name: string }): string {
  return `${c.namespace}_${c.name}`;
}

/** Decode rate and mode the enabled models need: the highest model rate, capped by config. */
export function normalizeSettings(
  config: EffectiveConfig,
  models: readonly SegmentModel[],
  sourceFps: number,
): NormalizeSettings {
  const need = Math.max(0, ...models.map((m) => m.fps));
  const fps = Math.max(0.1, Math.min(config.normalize.fps, need || 1, sourceFps || Infinity));
  return {
    width: config.normalize.width,
    height: config.normalize.height,
    letterbox: config.normalize.letterbox,
    fps,
    keyframesOnly: need <= 1,
  };
}

/**
 * One camera on one edge: the recorder (copy, always on) and the analytics path
 * (normalizer → segmenter → job queue), each an ffmpeg under its own supervisor, with
 * health derived from both.
 */
export class CameraPipeline {
  readonly id: string;
  readonly key: string;
  readonly recorder: Recorder;
  readonly normalizer: Normalizer;
  readonly segmenter: Segmenter;
  private recorderPath: PathHealth = { state: 'starting', restarts: 0 };
  private normalizerPath: PathHealth = { state: 'starting', restarts: 0 };
  private disabled = new Map<string, string>();
  private mismatches: string[] = [];
  private warnings = new Set<string>();
  private observed?: ObservedStream;
  private analyticsObserved?: ObservedStream;
  private eventWindows: { fromMs: number; toMs: number }[] = [];
  private misconfigured?: string;
  private lastState?: CameraState;
  private settings: NormalizeSettings;

  constructor(
    private readonly camera: PipelineCamera,
    private readonly env: PipelineEnv,
  ) {
    this.id = `${camera.namespace}/${camera.name}`;
    this.key = cameraKey(camera);
    const cfg = camera.config;
    const mode = cfg.recording.mode;
    // Outside continuous recording the segments are the pre-event ring: short enough that
    // a clip can start `preSeconds` before an event without keeping much more.
    const segmentSeconds =
      mode === 'continuous'
        ? cfg.recording.segmentSeconds
        : Math.max(2, Math.min(cfg.recording.segmentSeconds, cfg.clips.preSeconds || 2));
    const stall = env.stallSeconds ?? 10;
    this.recorder = new Recorder({
      ffmpegPath: env.ffmpegPath,
      cameraId: this.id,
      dir: join(env.recordingsDir, this.key),
      segmentSeconds,
      preEventSeconds: cfg.clips.preSeconds,
      stallSeconds: stall,
      keep: (s) => this.keep(s),
      input: () => this.input(cfg.recording.stream),
      onState: (s, d) => this.pathState(this.recorderPath, s, d),
      onStream: (s) => this.onRecorderStream(s),
      onError: (m) => this.fail(m),
    });
    this.settings = normalizeSettings(cfg, this.models(), this.declaredAnalytics().fps);
    this.segmenter = new Segmenter({
      customerId: camera.namespace,
      cameraId: this.id,
      ...(env.edgeServer ? { edgeServer: env.edgeServer } : {}),
      spoolDir: join(env.spoolDir, this.key),
      width: cfg.normalize.width,
      height: cfg.normalize.height,
      segmentSeconds: cfg.segment.durationSeconds,
      models: () => this.models(),
      quality: () => this.quality(),
      queue: env.queue,
      spoolLimitBytes: env.spoolLimitBytes ?? 1024 * 1024 * 1024,
      graceSeconds: env.spoolGraceSeconds ?? 30,
      onError: (m) => this.warn(m),
    });
    this.normalizer = new Normalizer({
      ffmpegPath: env.ffmpegPath,
      settings: () => this.settings,
      input: () => this.input(this.analyticsStreamName()),
      stallSeconds: stall,
      onFrame: (f) => this.segmenter.push(f),
      onState: (s, d) => {
        // The stream ended mid-segment: what was captured goes out as a partial segment.
        if (d?.result) void this.segmenter.flush();
        this.pathState(this.normalizerPath, s, d);
      },
      onStream: (s) => this.onAnalyticsStream(s),
      onError: (m) => this.fail(m),
    });
  }

  /** Starts recording and, when models are enabled, analytics. */
  async start(): Promise<void> {
    await this.recorder.start();
    if (this.models().length > 0) this.normalizer.start();
    else this.normalizerPath.state = 'stopped';
    this.emit();
  }

  /** Stops both paths; the open segment is flushed as a partial job. */
  async stop(): Promise<void> {
    await Promise.all([this.recorder.stop(), this.normalizer.stop()]);
    await this.segmenter.stop();
    this.recorderPath.state = this.normalizerPath.state = 'stopped';
    this.emit();
  }

  /** Keeps recordings around an event (pre/post from config) and returns the window. */
  markEvent(atMs: number): { fromMs: number; toMs: number } {
    const w = {
      fromMs: atMs - this.camera.config.clips.preSeconds * 1000,
      toMs: atMs + this.camera.config.clips.postSeconds * 1000,
    };
    this.eventWindows.push(w);
    return w;
  }

  /** Cuts a clip out of the recordings. */
  clip(fromMs: number, toMs: number, outPath: string): Promise<Clip> {
    return extractClip(this.env.ffmpegPath, this.recorder.segments, fromMs, toMs, outPath);
  }

  /** Restarts the recorder (after retention freed disk space). */
  restartRecorder(reason: ExitReason): void {
    this.recorder.restart(reason);
  }

  /** Models that run on this camera now: enabled and not disabled by a stream mismatch. */
  models(): SegmentModel[] {
    return Object.entries(this.camera.config.models)
      .filter(([name]) => !this.disabled.has(name))
      .map(([name, m]) => ({
        name,
        priority: m.priority,
        overlapSeconds: m.overlapSeconds,
        fps: m.fps,
      }));
  }

  /** Current health snapshot. */
  health(): CameraHealth {
    const seg = this.segmenter.stats;
    const state = this.state();
    return {
      cameraId: this.id,
      state: state.state,
      ...(state.message ? { message: state.message } : {}),
      source: this.display ?? this.camera.spec.source.url ?? this.camera.spec.source.type,
      recorder: {
        ...this.recorderPath,
        restarts: this.recorder.restarts,
        bitrateBps: Math.round(this.recorder.bitrateBps),
        ...(this.recorder.lastDataMs ? { lastDataMs: this.recorder.lastDataMs } : {}),
        segments: this.recorder.segments.length,
        bytesWritten: this.recorder.bytesWritten,
      },
      normalizer: {
        ...this.normalizerPath,
        restarts: this.normalizer.restarts,
        fps: Math.round(this.normalizer.fps * 10) / 10,
        ...(this.normalizer.lastFrameMs ? { lastFrameMs: this.normalizer.lastFrameMs } : {}),
        decodeErrors: this.normalizer.decodeErrors,
        frames: this.normalizer.frames,
        keyframesOnly: this.settings.keyframesOnly,
        decodeFps: this.settings.fps,
      },
      reconnects: this.recorder.restarts + this.normalizer.restarts,
      ...(this.observed ? { observedStream: this.observed } : {}),
      mismatches: [...this.mismatches],
      activeModels: this.models().map((m) => m.name),
      disabledModels: [...this.disabled].map(([name, reason]) => ({ name, reason })),
      jobs: {
        segments: seg.segments,
        offered: seg.jobsOffered,
        microJobs: seg.microJobs,
        refused: { ...seg.jobsRefused },
        framesDropped: seg.framesDropped,
        spoolBytes: seg.spoolBytes,
      },
      warnings: [...this.warnings],
      updatedMs: Date.now(),
    };
  }

  private display?: string;

  private async input(stream: 'main' | 'sub'): Promise<SourceInput> {
    const auth = this.camera.spec.auth;
    let credentials;
    if (auth) {
      if (!this.env.secrets) throw new Error('the camera has auth but this edge has no secrets');
      credentials = await this.env.secrets.resolve(this.camera.namespace, auth.secretRef);
    }
    try {
      const input = sourceInput(this.camera.spec, stream, credentials, {
        ioTimeoutSeconds: this.env.ioTimeoutSeconds ?? 10,
        allowFiles: this.env.allowFileSources ?? false,
      });
      this.display = input.display;
      return input;
    } catch (e) {
      // A bad URL will not fix itself by retrying: say so and stop both paths.
      this.misconfigured = (e as Error).message;
      this.emit();
      void this.recorder.stop();
      void this.normalizer.stop();
      throw e;
    }
  }

  private analyticsStreamName(): 'main' | 'sub' {
    return this.camera.spec.analyticsStream === 'sub' && this.camera.spec.streams.sub
      ? 'sub'
      : 'main';
  }

  private declaredAnalytics() {
    return this.analyticsStreamName() === 'sub'
      ? this.camera.spec.streams.sub!
      : this.camera.spec.streams.main;
  }

  private onRecorderStream(s: ObservedStream) {
    this.observed = s;
    const recording = this.camera.config.recording.stream;
    const declared =
      recording === 'sub' && this.camera.spec.streams.sub
        ? this.camera.spec.streams.sub
        : this.camera.spec.streams.main;
    this.mismatches = streamMismatch(declared, s).map((m) => `${recording} stream: ${m}`);
    if (this.analyticsStreamName() === recording) this.checkModels(s);
    this.emit();
  }

  private onAnalyticsStream(s: ObservedStream) {
    this.analyticsObserved = s;
    if (this.analyticsStreamName() !== this.camera.config.recording.stream) this.checkModels(s);
    // Keyframe-only decoding and the decode rate depend on the real frame rate.
    const next = normalizeSettings(this.camera.config, this.models(), s.fps ?? 0);
    if (next.fps !== this.settings.fps || next.keyframesOnly !== this.settings.keyframesOnly) {
      this.settings = next;
      this.normalizer.reconfigure();
    }
    this.emit();
  }

  /**
   * Disables models the stream the camera really sends cannot serve (e.g. a 720p model on
   * a camera that turned out to send 576 lines) and re-enables them when it changes back.
   */
  private checkModels(s: ObservedStream) {
    const lines = Math.min(s.width, s.height);
    const before = new Set(this.disabled.keys());
    this.disabled.clear();
    for (const name of Object.keys(this.camera.config.models)) {
      const req = this.camera.requirements[name];
      if (!req) continue;
      const need = parseResolutionClass(req.minResolution);
      if (lines < need)
        this.disabled.set(
          name,
          `needs at least ${req.minResolution}; the camera sends ${s.width}x${s.height}`,
        );
    }
    for (const [name, reason] of this.disabled)
      if (!before.has(name)) this.env.log?.(`camera ${this.id}: model ${name} disabled: ${reason}`);
    const changed =
      before.size !== this.disabled.size || [...before].some((n) => !this.disabled.has(n));
    if (changed) {
      const models = this.models();
      if (models.length === 0) void this.normalizer.stop();
      this.settings = normalizeSettings(
        this.camera.config,
        models,
        this.analyticsObserved?.fps ?? this.declaredAnalytics().fps,
      );
    }
  }

  private quality(): SourceQuality {
    const s = this.analyticsObserved ?? this.observed;
    const bps = this.recorder.bitrateBps;
    return {
      stream: this.analyticsStreamName(),
      codec: String(s?.codec ?? this.declaredAnalytics().codec),
      resolution: s ? `${s.width}x${s.height}` : this.declaredAnalytics().resolution,
      fps: Math.round((s?.fps ?? this.declaredAnalytics().fps) * 100) / 100,
      bitrate: bps > 0 ? formatBitrate(bps) : this.declaredAnalytics().bitrate,
      decodeErrors: this.normalizer.decodeErrors,
      droppedFrames: this.segmenter.stats.framesDropped,
    };
  }

  /** Recordings kept: all in continuous mode, else those overlapping an event window. */
  private keep(s: RecordingSegment): boolean {
    const cfg = this.camera.config;
    if (cfg.recording.mode === 'continuous') return true;
    const end = s.endMs ?? Date.now();
    return this.eventWindows.some((w) => s.startMs <= w.toMs && end >= w.fromMs);
  }

  private pathState(
    path: PathHealth,
    state: SupervisorState,
    detail?: { result?: RunResult; delayMs?: number },
  ) {
    path.state = state;
    if (path === this.recorderPath && state === 'running') this.lastError = undefined;
    if (detail?.result) {
      const r = detail.result;
      if (r.reason === 'disk-full') this.env.onDiskFull?.(this.id);
      path.lastExit = {
        reason: r.reason,
        atMs: Date.now(),
        message: r.tail.slice(-3).join(' | ').slice(0, 500),
      };
      this.env.log?.(
        `camera ${this.id}: ffmpeg ended (${r.reason}); retrying in ${detail.delayMs ?? 0} ms`,
      );
    }
    this.emit();
  }

  private fail(message: string) {
    this.env.log?.(`camera ${this.id}: ${message}`);
    this.lastError = message;
    this.warn(message);
  }

  /** The last error that kept ffmpeg from starting (e.g. a secret that is not mounted). */
  private lastError?: string;

  private warn(message: string) {
    this.warnings.add(message);
    if (this.warnings.size > 20) this.warnings.delete(this.warnings.values().next().value!);
  }

  private state(): { state: CameraState; message?: string } {
    if (this.misconfigured) return { state: 'misconfigured', message: this.misconfigured };
    const rec = this.recorderPath;
    if (rec.state === 'stopped' && this.normalizerPath.state === 'stopped')
      return { state: 'stopped' };
    if (rec.state !== 'running') {
      const reason = rec.lastExit?.reason;
      if (reason === 'unauthorized')
        return { state: 'unauthorized', message: 'the camera refused the credentials (401)' };
      if (reason === 'unreachable' || reason === 'timeout' || reason === 'not-found')
        return { state: 'unreachable', message: rec.lastExit!.message };
      if (reason === 'stalled')
        return { state: 'stalled', message: 'no data from the camera; reconnecting' };
      if (rec.state === 'starting' && !rec.lastExit && !this.lastError)
        return { state: 'starting' };
      const message = reason ? `last exit: ${reason}` : this.lastError;
      return { state: 'reconnecting', ...(message ? { message } : {}) };
    }
    const problems = [
      ...this.mismatches,
      ...[...this.disabled].map(([n, r]) => `${n} disabled: ${r}`),
    ];
    if (this.normalizerPath.state !== 'running' && this.models().length > 0)
      problems.push(`analytics ${this.normalizerPath.lastExit?.reason ?? 'starting'}`);
    if (this.segmenter.stats.framesDropped > 0)
      problems.push(`${this.segmenter.stats.framesDropped} frames dropped (spool full)`);
    return problems.length > 0
      ? { state: 'degraded', message: problems.join('; ') }
      : { state: 'streaming' };
  }

  private emit() {
    const h = this.health();
    if (h.state !== this.lastState) {
      this.lastState = h.state;
      this.env.onHealth?.(h);
    }
  }
}

/** "3.9Mbps" style text for a bits-per-second figure. */
export function formatBitrate(bps: number): string {
  if (bps >= 1e6) return `${Math.round(bps / 1e5) / 10}Mbps`;
  if (bps >= 1e3) return `${Math.round(bps / 100) / 10}Kbps`;
  return `${Math.round(bps)}bps`;
}
