import { Type, type Static } from '@sinclair/typebox';
import {
  AtomicStrict,
  Bitrate,
  Conditions,
  Name,
  NameRef,
  NamedList,
  Resolution,
  Retention,
  SecretRef,
  StringEnum,
  Strict,
} from './common.js';
import { CameraConfiguration, ModelTuning, RecordingMode, StreamName } from './configuration.js';

export const Codec = StringEnum(['H264', 'H265', 'MJPEG'] as const);
export type Codec = Static<typeof Codec>;

export const Stream = Strict({
  codec: Codec,
  resolution: Resolution,
  fps: Type.Number({ exclusiveMinimum: 0, maximum: 120 }),
  bitrate: Bitrate,
  path: Type.Optional(
    Type.String({ description: 'Path or query appended to the source for this stream.' }),
  ),
});
export type Stream = Static<typeof Stream>;

export const SourceType = StringEnum([
  'rtsp',
  'http',
  'file',
  'onvif',
  'hikvision',
  'dahua',
] as const);

/** A point in normalized image coordinates (0..1 from the top-left corner). */
const Point = Type.Tuple([
  Type.Number({ minimum: 0, maximum: 1 }),
  Type.Number({ minimum: 0, maximum: 1 }),
]);

const Roi = Strict({
  name: Name,
  points: Type.Array(Point, { minItems: 3, description: 'Polygon, normalized coordinates.' }),
});
const Tripwire = Strict({
  name: Name,
  from: Point,
  to: Point,
  direction: Type.Optional(StringEnum(['both', 'in', 'out'] as const)),
});

export const CameraModel = Type.Composite(
  [
    Type.Object({
      name: Name,
      enabled: Type.Optional(Type.Boolean()),
      roi: Type.Optional(NamedList(Roi)),
      tripwires: Type.Optional(NamedList(Tripwire)),
    }),
    ModelTuning,
  ],
  { additionalProperties: false },
);
export type CameraModel = Static<typeof CameraModel>;

export const CameraSpec = Strict({
  site: NameRef('Site in the same namespace.'),
  zone: Type.String({
    pattern: '^[a-z0-9-]+/[a-z0-9-]+/[a-z0-9-]+$',
    description: 'building/floor/zone inside the site.',
  }),
  edgeServer: Type.Optional(NameRef('Pin the camera to this edge server.')),
  enabled: Type.Optional(Type.Boolean()),
  source: AtomicStrict({
    type: SourceType,
    url: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 2048,
        description: 'rtsp://, rtsps://, http(s):// or file path. Never with credentials.',
      }),
    ),
    transport: Type.Optional(StringEnum(['tcp', 'udp'] as const)),
    onvif: Type.Optional(
      Strict({
        endpoint: Type.String({ format: 'uri' }),
        profileToken: Type.Optional(Type.String()),
      }),
    ),
    sdk: Type.Optional(
      Strict({
        host: Type.String({ minLength: 1 }),
        port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
        channel: Type.Integer({ minimum: 1 }),
      }),
    ),
  }),
  auth: Type.Optional(
    AtomicStrict({
      type: StringEnum(['basic', 'token', 'certificate', 'vendor'] as const),
      secretRef: SecretRef,
    }),
  ),
  streams: Strict({ main: Stream, sub: Type.Optional(Stream) }),
  analyticsStream: Type.Optional(StreamName),
  recording: Type.Optional(
    Strict({
      mode: Type.Optional(RecordingMode),
      stream: Type.Optional(StreamName),
      segmentSeconds: Type.Optional(Type.Integer({ minimum: 2, maximum: 600 })),
      schedule: Type.Optional(
        Type.Array(
          Strict({
            days: Type.Array(
              StringEnum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const),
              {
                minItems: 1,
                uniqueItems: true,
              },
            ),
            start: Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' }),
            end: Type.String({ pattern: '^([01][0-9]|2[0-4]):[0-5][0-9]$' }),
          }),
        ),
      ),
    }),
  ),
  retention: Type.Optional(Retention),
  configuration: Type.Optional(CameraConfiguration),
  models: Type.Optional(NamedList(CameraModel)),
  ptz: Type.Optional(
    Strict({
      presets: Type.Optional(
        NamedList(
          Strict({
            name: Name,
            pan: Type.Number({ minimum: -180, maximum: 180 }),
            tilt: Type.Number({ minimum: -90, maximum: 90 }),
            zoom: Type.Number({ minimum: 0, maximum: 100 }),
          }),
        ),
      ),
      tours: Type.Optional(
        NamedList(
          Strict({
            name: Name,
            presets: Type.Array(Name, { minItems: 1 }),
            dwellSeconds: Type.Integer({ minimum: 1, maximum: 3600 }),
          }),
        ),
      ),
    }),
  ),
  tags: Type.Optional(
    Type.Array(Type.String({ minLength: 1, maxLength: 63 }), { uniqueItems: true }),
  ),
});
export type CameraSpec = Static<typeof CameraSpec>;

export const CameraStatus = Strict({
  observedGeneration: Type.Optional(Type.Integer()),
  conditions: Type.Optional(Conditions),
  edgeServer: Type.Optional(Type.String()),
  observedStream: Type.Optional(
    Strict({
      codec: Type.Optional(Type.String()),
      resolution: Type.Optional(Type.String()),
      fps: Type.Optional(Type.Number()),
      bitrate: Type.Optional(Type.String()),
    }),
  ),
  activeModels: Type.Optional(Type.Array(Type.String())),
});
