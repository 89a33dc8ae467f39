import { Type, type Static } from '@sinclair/typebox';
import { Priority, Retention, StringEnum, StringMap, Strict } from './common.js';

export const RecordingMode = StringEnum(['continuous', 'motion', 'event', 'schedule'] as const);
export type RecordingMode = Static<typeof RecordingMode>;

export const StreamName = StringEnum(['main', 'sub'] as const);
export type StreamName = Static<typeof StreamName>;

/** Per-model knobs that any layer may override. */
export const ModelTuning = Strict({
  priority: Type.Optional(Priority),
  confidenceThreshold: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  overlapSeconds: Type.Optional(Type.Number({ minimum: 0, maximum: 5 })),
  fps: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 30 })),
});
export type ModelTuning = Static<typeof ModelTuning>;

/**
 * Configuration overrides accepted at tenant, site and camera level. Every field is
 * optional: a layer sets only what it changes, and the resolver records who set what.
 */
export const ConfigurationOverrides = Strict({
  segment: Type.Optional(
    Strict({
      durationSeconds: Type.Optional(Type.Number({ minimum: 1, maximum: 10 })),
      overlapSeconds: Type.Optional(Type.Number({ minimum: 0, maximum: 5 })),
    }),
  ),
  normalize: Type.Optional(
    Strict({
      width: Type.Optional(Type.Integer({ minimum: 32, maximum: 3840 })),
      height: Type.Optional(Type.Integer({ minimum: 32, maximum: 2160 })),
      fps: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 30 })),
      letterbox: Type.Optional(Type.Boolean()),
    }),
  ),
  recording: Type.Optional(
    Strict({
      mode: Type.Optional(RecordingMode),
      stream: Type.Optional(StreamName),
      segmentSeconds: Type.Optional(Type.Integer({ minimum: 2, maximum: 600 })),
    }),
  ),
  clips: Type.Optional(
    Strict({
      preSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 60 })),
      postSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 60 })),
    }),
  ),
  retention: Type.Optional(Retention),
  models: Type.Optional(StringMap(ModelTuning)),
});
export type ConfigurationOverrides = Static<typeof ConfigurationOverrides>;

// Tenants and cameras have dedicated `retention` (and cameras `recording`) fields; their
// `configuration` leaves those out so each fact has one place per layer.
export const TenantConfiguration = Type.Omit(ConfigurationOverrides, ['retention'], {
  additionalProperties: false,
});
export const CameraConfiguration = Type.Omit(ConfigurationOverrides, ['retention', 'recording'], {
  additionalProperties: false,
});
