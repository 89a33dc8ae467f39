import type { Codec } from '../schema/camera.js';

import type { BuiltinModel } from '../catalog/models.js';

/**
 * Every number the capacity model uses, in one table. Decode figures are calibrated on
 * Debian ffmpeg: one core normalizes a 1080p30 H.264 stream at about 6x real time
 * (≈ 0.17 core for one live stream) and copy-remuxes it at over 300x.
 */
export const CAPACITY_COEFFICIENTS = {
  /** CPU cores per decoded megapixel per second, by codec (decode + scale to 640x480). */
  decodeCoresPerMegapixelSecond: { H264: 0.0027, H265: 0.0038, MJPEG: 0.0022 } satisfies Record<
    Codec,
    number
  >,
  /** A keyframe costs this many times an average frame to decode. */
  keyframeDecodeFactor: 3,
  /** Seconds between keyframes assumed when decoding keyframes only. */
  assumedKeyframeIntervalSeconds: 1,
  /** CPU cores per Mbps copied by the recorder (remux without decode). */
  remuxCoresPerMbps: 0.0006,
  /** Inference cost per analysed frame (640x480), milliseconds on one CPU core. */
  inferenceCpuMsPerFrame: {
    'intrusion-detection': 28,
    'advanced-motion-detection': 2,
    'camera-tampering': 3,
    'fire-smoke-detection': 40,
    'crowd-detection': 30,
    'missing-object-detection': 45,
    'abnormal-behavior': 35,
    'fallen-person-detection': 32,
    tailgating: 28,
    anpr: 60,
  } satisfies Record<BuiltinModel, number> as Record<string, number>,
  /** Same, on one GPU (milliseconds of GPU time per frame with batching). */
  inferenceGpuMsPerFrame: {
    'intrusion-detection': 2.5,
    'advanced-motion-detection': 0.5,
    'camera-tampering': 0.5,
    'fire-smoke-detection': 4,
    'crowd-detection': 3,
    'missing-object-detection': 4,
    'abnormal-behavior': 3.5,
    'fallen-person-detection': 3,
    tailgating: 2.5,
    anpr: 6,
  } satisfies Record<BuiltinModel, number> as Record<string, number>,
  /** Customer models without a row above. */
  defaultInferenceCpuMs: 50,
  defaultInferenceGpuMs: 5,
  /** Worker memory of a model the fleet references but does not define. */
  defaultModelWorkerBytes: 512 * 2 ** 20,
  /** Models of runtime `cv` always run on the CPU. */
  cpuOnlyRuntimes: ['cv'],
  /** Memory of one camera pipeline (ingest, recorder, normalizer, segmenter). */
  pipelineBaseBytes: 96 * 2 ** 20,
  /** Fraction of a day recorded, by recording mode (schedule is computed from the schedule). */
  recordingDutyCycle: { continuous: 1, motion: 0.3, event: 0.1 } as Record<string, number>,
  /** Share of the server kept free for k3s, the OS and bursts. */
  cpuReserveFraction: 0.15,
  memoryReserveBytes: 2 * 2 ** 30,
  storageReserveFraction: 0.1,
  /** Utilization above this is a warning; above 1 is an error. */
  warnUtilization: 0.85,
} as const;
