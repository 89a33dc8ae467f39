import { Type, type Static } from '@sinclair/typebox';
import { Conditions, Name, NamedList, SecretRef, StringEnum, Strict } from './common.js';
import { ConfigurationOverrides } from './configuration.js';

export const ZoneType = StringEnum([
  'indoor',
  'outdoor',
  'perimeter',
  'entrance',
  'parking',
  'restricted',
  'public',
] as const);

const Zone = Strict({
  name: Name,
  displayName: Type.Optional(Type.String()),
  type: Type.Optional(ZoneType),
});
const Floor = Strict({
  name: Name,
  displayName: Type.Optional(Type.String()),
  level: Type.Optional(Type.Integer()),
  zones: NamedList(Zone, { minItems: 1 }),
});
const Building = Strict({
  name: Name,
  displayName: Type.Optional(Type.String()),
  floors: NamedList(Floor, { minItems: 1 }),
});

export const SiteSpec = Strict({
  displayName: Type.String({ minLength: 1, maxLength: 200 }),
  address: Type.Optional(Type.String()),
  timezone: Type.String({ description: 'IANA time zone, e.g. Europe/Berlin.' }),
  buildings: NamedList(Building, {
    minItems: 1,
    description: 'Location tree: building → floor → zone.',
  }),
  network: Type.Optional(
    Strict({
      ddns: Type.Optional(
        Strict({
          provider: StringEnum(['noip', 'dynu', 'duckdns', 'cloudflare', 'custom'] as const),
          hostname: Type.String({ minLength: 3 }),
          updateUrl: Type.Optional(
            Type.String({ format: 'uri', description: 'Only for provider custom.' }),
          ),
          credentialsSecretRef: Type.Optional(SecretRef),
        }),
      ),
      nat: Type.Optional(
        Strict({
          mode: StringEnum(['port-forward', 'stun-turn', 'upnp', 'none'] as const),
          publicPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
          turnServers: Type.Optional(Type.Array(Type.String({ pattern: '^(stun|turns?):' }))),
        }),
      ),
    }),
  ),
  configuration: Type.Optional(ConfigurationOverrides),
});
export type SiteSpec = Static<typeof SiteSpec>;

export const SiteStatus = Strict({
  observedGeneration: Type.Optional(Type.Integer()),
  conditions: Type.Optional(Conditions),
  cameras: Type.Optional(Type.Integer()),
  edgeServers: Type.Optional(Type.Integer()),
});
