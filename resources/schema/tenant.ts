import { Type, type Static } from '@sinclair/typebox';
import {
  Conditions,
  DateOnly,
  Name,
  Priority,
  Retention,
  SecretRef,
  StringEnum,
  Strict,
} from './common.js';
import { TenantConfiguration } from './configuration.js';

export const TenantSpec = Strict({
  displayName: Type.String({ minLength: 1, maxLength: 200 }),
  license: Strict(
    {
      cameraLimit: Type.Integer({ minimum: 0, description: 'Cameras this tenant may run.' }),
      validFrom: DateOnly,
      validUntil: DateOnly,
      models: Type.Array(Name, {
        uniqueItems: true,
        description: 'AIModel names the tenant purchased.',
      }),
    },
    { description: 'What the customer bought.' },
  ),
  contacts: Type.Optional(
    Type.Array(
      Strict({
        name: Type.String({ minLength: 1 }),
        email: Type.String({ format: 'email' }),
        phone: Type.Optional(Type.String({ pattern: '^\\+?[0-9 ()-]{5,20}$' })),
        role: Type.Optional(StringEnum(['technical', 'billing', 'security', 'executive'] as const)),
      }),
    ),
  ),
  configuration: Type.Optional(TenantConfiguration),
  retention: Type.Optional(Retention),
  notifications: Type.Optional(
    Strict({
      minPriority: Type.Optional(Priority),
      channels: Type.Array(
        Strict({
          type: StringEnum(['email', 'webhook', 'sms', 'slack', 'teams'] as const),
          target: Type.String({
            minLength: 1,
            description: 'Address, phone number or URL (no secrets).',
          }),
          secretRef: Type.Optional(SecretRef),
        }),
      ),
    }),
  ),
  rollout: Type.Optional(
    Strict(
      {
        maxUnavailable: Type.Optional(
          Type.String({
            pattern: '^([0-9]+|[0-9]{1,2}%|100%)$',
            description:
              'Edges that may be mid-update at once: a count or a percentage (default 25%).',
          }),
        ),
      },
      { description: "Staged rollout of changes across the tenant's edge servers." },
    ),
  ),
  storage: Type.Optional(
    Strict({
      bucket: Type.String({ pattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$' }),
      region: Type.Optional(Type.String()),
      endpoint: Type.Optional(Type.String({ format: 'uri' })),
      credentialsSecretRef: Type.Optional(SecretRef),
    }),
  ),
});
export type TenantSpec = Static<typeof TenantSpec>;

export const TenantStatus = Strict({
  observedGeneration: Type.Optional(Type.Integer()),
  conditions: Type.Optional(Conditions),
  namespace: Type.Optional(Type.String()),
  camerasUsed: Type.Optional(Type.Integer({ minimum: 0 })),
  licenseDaysLeft: Type.Optional(Type.Integer()),
});
