import type { EffectiveConfig } from '../config/defaults.js';
import type { Fleet } from '../fleet/fleet.js';
import type { LoadedResource } from '../manifest/load.js';
import { parseBitrate, parseQuantity, parseResolution } from '../quantities.js';
import type { Camera, EdgeServer } from '../schema/kinds.js';
import { CAPACITY_COEFFICIENTS as C } from './coefficients.js';

/** Resources one camera needs on the edge server that runs it. */
export interface CameraDemand {
  camera: string;
  decodeCores: number;
  recordCores: number;
  /** Inference on CPU cores when the server has no GPU (or for CPU-only runtimes). */
  inferenceCpuCores: number;
  /** GPU-seconds per second of inference if a GPU is present. */
  inferenceGpu: number;
  /** Inference if it had to run on CPU: used when the server has no GPU. */
  inferenceCpuIfNoGpu: number;
  memoryBytes: number;
  storageBytes: number;
  keyframesOnly: boolean;
  models: string[];
}

/** What one camera costs, from its streams and effective configuration. */
export function cameraDemand(
  fleet: Fleet,
  camera: LoadedResource<Camera>,
  config: EffectiveConfig,
): CameraDemand {
  const spec = camera.resource.spec;
  const stream =
    spec.analyticsStream === 'sub' && spec.streams.sub ? spec.streams.sub : spec.streams.main;
  const recorded =
    config.recording.stream === 'sub' && spec.streams.sub ? spec.streams.sub : spec.streams.main;
  const models = Object.keys(config.models);
  const neededFps = Math.max(0, ...models.map((m) => config.models[m]!.fps));
  const { width, height } = parseResolution(stream.resolution);
  const megapixels = (width * height) / 1e6;
  const keyframesOnly = models.length > 0 && neededFps <= 1;
  const perMpS = C.decodeCoresPerMegapixelSecond[stream.codec];
  let decodeCores = 0;
  if (models.length > 0) {
    decodeCores = keyframesOnly
      ? (megapixels * C.keyframeDecodeFactor * perMpS) / C.assumedKeyframeIntervalSeconds
      : megapixels * stream.fps * perMpS;
  }
  const recordBps = parseBitrate(recorded.bitrate);
  const recordCores = (recordBps / 1e6) * C.remuxCoresPerMbps;

  let inferenceCpuCores = 0;
  let inferenceGpu = 0;
  let inferenceCpuIfNoGpu = 0;
  for (const m of models) {
    const fps = Math.min(config.models[m]!.fps, stream.fps);
    const runtime = fleet.models.get(m)?.resource.spec.runtime;
    const cpuMs = C.inferenceCpuMsPerFrame[m] ?? C.defaultInferenceCpuMs;
    const gpuMs = C.inferenceGpuMsPerFrame[m] ?? C.defaultInferenceGpuMs;
    if (runtime && (C.cpuOnlyRuntimes as readonly string[]).includes(runtime)) {
      inferenceCpuCores += (fps * cpuMs) / 1000;
    } else {
      inferenceGpu += (fps * gpuMs) / 1000;
      inferenceCpuIfNoGpu += (fps * cpuMs) / 1000;
    }
  }
  const preEventBytes = (config.clips.preSeconds * parseBitrate(spec.streams.main.bitrate)) / 8;
  const duty = recordingDuty(camera.resource, config);
  const storageBytes = (recordBps / 8) * 86_400 * config.retention.recordingsDays * duty;
  return {
    camera: camera.key,
    decodeCores,
    recordCores,
    inferenceCpuCores,
    inferenceGpu,
    inferenceCpuIfNoGpu,
    memoryBytes: C.pipelineBaseBytes + preEventBytes,
    storageBytes,
    keyframesOnly,
    models,
  };
}

function recordingDuty(camera: Camera, config: EffectiveConfig): number {
  if (config.recording.mode !== 'schedule') return C.recordingDutyCycle[config.recording.mode] ?? 1;
  const windows = camera.spec.recording?.schedule ?? [];
  let minutesPerWeek = 0;
  for (const w of windows) {
    const [sh, sm] = w.start.split(':').map(Number) as [number, number];
    const [eh, em] = w.end.split(':').map(Number) as [number, number];
    const start = sh * 60 + sm;
    const end = eh * 60 + em;
    // A window that ends at or before its start runs past midnight (22:00 → 06:00).
    minutesPerWeek += (end > start ? end - start : 24 * 60 - start + end) * w.days.length;
  }
  return Math.min(1, minutesPerWeek / (7 * 24 * 60));
}

/** Usable capacity of an edge server after the reserves. */
export interface EdgeCapacity {
  cpuCores: number;
  memoryBytes: number;
  storageBytes: number;
  gpus: number;
}

export function edgeCapacity(edge: EdgeServer): EdgeCapacity {
  const hw = edge.spec.hardware;
  return {
    cpuCores: hw.cpuCores * (1 - C.cpuReserveFraction),
    memoryBytes: Math.max(0, parseQuantity(hw.memory) - C.memoryReserveBytes),
    storageBytes: parseQuantity(hw.storage) * (1 - C.storageReserveFraction),
    gpus: (hw.gpus ?? []).reduce((n, g) => n + g.count, 0),
  };
}

/** CPU cores a camera takes on a given server (inference moves to GPU when there is one). */
export function cpuOn(d: CameraDemand, cap: EdgeCapacity): number {
  return (
    d.decodeCores + d.recordCores + d.inferenceCpuCores + (cap.gpus > 0 ? 0 : d.inferenceCpuIfNoGpu)
  );
}

/** Memory of the model workers an edge runs: one worker per distinct model. */
export function modelWorkersMemory(fleet: Fleet, models: Iterable<string>): number {
  let bytes = 0;
  for (const m of models) {
    const spec = fleet.models.get(m)?.resource.spec;
    bytes += spec ? parseQuantity(spec.resources.memory) : C.defaultModelWorkerBytes;
  }
  return bytes;
}
