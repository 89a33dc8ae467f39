import type { Priority } from '../schema/common.js';
import type { RecordingMode, StreamName } from '../schema/configuration.js';

/** Effective per-model settings on one camera. */
export interface EffectiveModel {
  priority: Priority;
  confidenceThreshold: number;
  overlapSeconds: number;
  fps: number;
}

/** Fully resolved configuration of one camera: every key has a value. */
export interface EffectiveConfig {
  segment: { durationSeconds: number; overlapSeconds: number };
  normalize: { width: number; height: number; fps: number; letterbox: boolean };
  recording: { mode: RecordingMode; stream: StreamName; segmentSeconds: number };
  clips: { preSeconds: number; postSeconds: number };
  retention: { recordingsDays: number; eventsDays: number; clipsDays: number };
  models: Record<string, EffectiveModel>;
}

/** System layer: the platform defaults from the requirements (model defaults come from AIModel). */
export const SYSTEM_DEFAULTS: Omit<EffectiveConfig, 'models'> = {
  segment: { durationSeconds: 5, overlapSeconds: 1 },
  normalize: { width: 640, height: 480, fps: 15, letterbox: true },
  recording: { mode: 'continuous', stream: 'main', segmentSeconds: 60 },
  clips: { preSeconds: 10, postSeconds: 10 },
  retention: { recordingsDays: 30, eventsDays: 90, clipsDays: 90 },
};

/** Default confidence when neither the AIModel nor any layer sets one. */
export const DEFAULT_CONFIDENCE = 0.5;
