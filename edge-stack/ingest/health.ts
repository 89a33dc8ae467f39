import type { Priority } from '../../resources/index.js';
import type { ExitReason, SupervisorState } from './ffmpeg-process.js';
import type { ObservedStream } from './stream-info.js';

/**
 * Overall state of a camera, worst first: `unauthorized` and `unreachable` say what to fix,
 * `stalled` means connected but no frames, `degraded` means recording works and something
 * else does not (a mismatch, dropped frames, decode errors, a disabled model).
 */
export type CameraState =
  | 'starting'
  | 'streaming'
  | 'degraded'
  | 'reconnecting'
  | 'stalled'
  | 'unauthorized'
  | 'unreachable'
  | 'misconfigured'
  | 'stopped';

/** Health of one ffmpeg path (recorder or normalizer). */
export interface PathHealth {
  state: SupervisorState;
  restarts: number;
  lastExit?: { reason: ExitReason; atMs: number; message: string };
}

/** Everything the rest of the system can see about a camera's ingest. */
export interface CameraHealth {
  cameraId: string;
  state: CameraState;
  /** Human-readable reason for a state other than `streaming`. */
  message?: string;
  source: string;
  recorder: PathHealth & {
    bitrateBps: number;
    lastDataMs?: number;
    segments: number;
    bytesWritten: number;
  };
  normalizer: PathHealth & {
    fps: number;
    lastFrameMs?: number;
    decodeErrors: number;
    frames: number;
    keyframesOnly: boolean;
    decodeFps: number;
  };
  /** Total reconnects of both paths. */
  reconnects: number;
  observedStream?: ObservedStream;
  /** Differences between the manifest and the stream the camera sends. */
  mismatches: string[];
  activeModels: string[];
  disabledModels: { name: string; reason: string }[];
  jobs: {
    segments: number;
    offered: number;
    microJobs: number;
    refused: Record<Priority, number>;
    framesDropped: number;
    spoolBytes: number;
  };
  warnings: string[];
  updatedMs: number;
}
