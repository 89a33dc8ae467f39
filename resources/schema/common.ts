import { Type, type Static, type TSchema, type SchemaOptions } from '@sinclair/typebox';
import {
  BITRATE_PATTERN,
  QUANTITY_PATTERN,
  RESOLUTION_CLASS_PATTERN,
  RESOLUTION_PATTERN,
} from '../quantities.js';

/** API group of every vmsctl kind. */
export const API_GROUP = 'vmsctl.io';
/** The one served and stored version. */
export const API_VERSION = 'v1alpha1';
/** `apiVersion` value that every manifest carries. */
export const API_GROUP_VERSION = `${API_GROUP}/${API_VERSION}`;

/**
 * A string restricted to a fixed set of values. Emitted as `enum` (not anyOf of consts)
 * because structural CRD schemas and editors both understand `enum` directly.
 */
export function StringEnum<const T extends readonly string[]>(
  values: T,
  options: SchemaOptions = {},
) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

/** A map with string keys; emitted as `additionalProperties` so the CRD stays structural. */
export function StringMap<T extends TSchema>(value: T, options: SchemaOptions = {}) {
  return Type.Unsafe<Record<string, Static<T>>>({
    type: 'object',
    additionalProperties: value,
    ...options,
  });
}

/** A list of objects keyed by `name`, merged per item by server-side apply. */
export function NamedList<T extends TSchema>(item: T, options: SchemaOptions = {}) {
  return Type.Array(item, {
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['name'],
    ...options,
  });
}

/** Object with unknown fields rejected, so typos surface as errors instead of being ignored. */
export function Strict<T extends Parameters<typeof Type.Object>[0]>(
  properties: T,
  options: SchemaOptions = {},
) {
  return Type.Object(properties, { additionalProperties: false, ...options });
}

export const Name = Type.String({
  pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
  maxLength: 63,
  description: 'Lower-case DNS-1123 label: letters, digits and "-", at most 63 characters.',
});

/** A reference to another resource by name, with a field-specific description. */
export function NameRef(description: string) {
  return Type.String({ pattern: Name.pattern, maxLength: 63, description });
}

export const Priority = StringEnum(['CRITICAL', 'HIGH', 'MEDIUM', 'STANDARD'] as const, {
  description: 'Queue priority: CRITICAL and HIGH models get the low-latency path.',
});
export type Priority = Static<typeof Priority>;

/** Pixel size, e.g. `1920x1080`. */
export const Resolution = Type.String({
  pattern: RESOLUTION_PATTERN,
  description: 'Width x height in pixels, e.g. 1920x1080.',
});

/** Vertical resolution class, e.g. `720p`. */
export const ResolutionClass = Type.String({
  pattern: RESOLUTION_CLASS_PATTERN,
  description: 'Minimum vertical resolution, e.g. 480p, 720p, 1080p.',
});

/** Bit rate with a unit, e.g. `512Kbps`, `4Mbps`. */
export const Bitrate = Type.String({
  pattern: BITRATE_PATTERN,
  description: 'Bit rate with unit: bps, Kbps, Mbps or Gbps, e.g. 4Mbps.',
});

/** Kubernetes resource quantity, e.g. `32Gi`, `500m`, `4`. */
export const Quantity = Type.String({
  pattern: QUANTITY_PATTERN,
  description: 'Kubernetes quantity, e.g. 500m, 4, 512Mi, 32Gi, 4Ti.',
});

export const DateOnly = Type.String({ format: 'date', description: 'Calendar date, YYYY-MM-DD.' });

/** Reference to a Kubernetes Secret: the only way a credential enters a manifest. */
export const SecretRef = Strict(
  {
    name: Name,
    key: Type.Optional(Type.String({ minLength: 1, description: 'Key inside the Secret.' })),
  },
  { description: 'Reference to a Secret in the tenant namespace; credentials are never inline.' },
);

export const ObjectMeta = Strict({
  name: Name,
  namespace: Type.Optional(Name),
  labels: Type.Optional(StringMap(Type.String({ maxLength: 63 }))),
  annotations: Type.Optional(StringMap(Type.String())),
  generation: Type.Optional(Type.Integer()),
  resourceVersion: Type.Optional(Type.String()),
  uid: Type.Optional(Type.String()),
  creationTimestamp: Type.Optional(Type.String()),
});
export type ObjectMeta = Static<typeof ObjectMeta>;

/** Status condition as in the Kubernetes API conventions. */
export const Condition = Strict({
  type: Type.String({ description: 'Ready, Reconciling, Stalled or a kind-specific type.' }),
  status: StringEnum(['True', 'False', 'Unknown'] as const),
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
  lastTransitionTime: Type.String({ format: 'date-time' }),
  reason: Type.String({ pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$', maxLength: 1024 }),
  message: Type.String({ maxLength: 32768 }),
});
export type Condition = Static<typeof Condition>;

/**
 * Conditions as one atomic list, as Flux's CRDs have them: one controller computes and writes
 * the whole list of each object, so per-condition field ownership buys nothing, and tracking
 * it took ~1 KB of managed fields per Ready camera, half its status, on every status write.
 */
export const Conditions = Type.Array(Condition, { 'x-kubernetes-list-type': 'atomic' });

/**
 * An object that server-side apply treats as one value: a manager that sets it owns all of it
 * and an apply replaces it whole. For unions switched by a type field (a camera's source, its
 * auth): merging two writers' halves of one would be a configuration neither wrote.
 */
export function AtomicStrict<T extends Parameters<typeof Type.Object>[0]>(
  properties: T,
  options: SchemaOptions = {},
) {
  return Strict(properties, { 'x-kubernetes-map-type': 'atomic', ...options });
}

export const Retention = Strict(
  {
    recordingsDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
    eventsDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
    clipsDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
  },
  { description: 'How long recordings, events and event clips are kept.' },
);
