import { Type, type Static } from '@sinclair/typebox';
import {
  Bitrate,
  Conditions,
  NameRef,
  Priority,
  Quantity,
  ResolutionClass,
  StringEnum,
  Strict,
} from './common.js';

export const ModelRequirements = Strict({
  minResolution: ResolutionClass,
  minBitrate: Bitrate,
  minDurationSeconds: Type.Number({ minimum: 0.1, maximum: 60 }),
  overlapSeconds: Type.Number({ minimum: 0, maximum: 5 }),
  fps: Type.Number({
    exclusiveMinimum: 0,
    maximum: 30,
    description: 'Frames per second the model consumes; the normalizer decodes no more.',
  }),
});
export type ModelRequirements = Static<typeof ModelRequirements>;

export const AIModelSpec = Strict({
  displayName: Type.String({ minLength: 1 }),
  category: StringEnum(['builtin', 'customer'] as const),
  tenant: Type.Optional(NameRef('Tenant that owns a customer model.')),
  artifact: Strict({
    uri: Type.String({
      pattern: '^(builtin|oci|https|s3|file|npm)://',
      description: 'Where the model file comes from.',
    }),
    sha256: Type.Optional(Type.String({ pattern: '^[a-f0-9]{64}$' })),
    format: StringEnum(['onnx', 'tfjs', 'none'] as const),
  }),
  runtime: StringEnum(['onnxruntime', 'tfjs', 'cv'] as const, {
    description: 'onnxruntime and tfjs run a model file; cv is a classical vision algorithm.',
  }),
  priority: Priority,
  requirements: ModelRequirements,
  resources: Strict({
    cpu: Quantity,
    memory: Quantity,
    gpu: Type.Optional(Type.Integer({ minimum: 0, maximum: 8 })),
  }),
  batchSize: Type.Integer({ minimum: 1, maximum: 256 }),
  input: Type.Optional(
    Strict({
      width: Type.Integer({ minimum: 32, maximum: 4096 }),
      height: Type.Integer({ minimum: 32, maximum: 4096 }),
    }),
  ),
  classes: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
  confidenceThreshold: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
});
export type AIModelSpec = Static<typeof AIModelSpec>;

export const AIModelStatus = Strict({
  observedGeneration: Type.Optional(Type.Integer()),
  conditions: Type.Optional(Conditions),
  edgeServerCount: Type.Optional(
    Type.Integer({
      minimum: 0,
      description:
        'Edge servers whose bundle runs this model (list them: kubectl get edgebundles -l model.vmsctl.io/<name>).',
    }),
  ),
});
