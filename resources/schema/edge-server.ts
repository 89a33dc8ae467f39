import { Type, type Static } from '@sinclair/typebox';
import { Conditions, NameRef, Quantity, SecretRef, StringEnum, Strict } from './common.js';

export const EdgeServerSpec = Strict({
  site: NameRef('Site in the same namespace.'),
  hardware: Strict({
    cpuCores: Type.Integer({ minimum: 1, maximum: 1024 }),
    memory: Quantity,
    storage: Quantity,
    gpus: Type.Optional(
      Type.Array(
        Strict({
          model: Type.String({ minLength: 1, description: 'e.g. nvidia-t4, nvidia-l4.' }),
          count: Type.Integer({ minimum: 1, maximum: 16 }),
          memory: Type.Optional(Quantity),
        }),
      ),
    ),
  }),
  cluster: Type.Optional(
    Strict({
      distribution: Type.Optional(StringEnum(['k3s', 'local'] as const)),
      version: Type.Optional(Type.String()),
      airGapped: Type.Optional(Type.Boolean()),
    }),
  ),
  registration: Type.Optional(
    Strict({
      tokenSecretRef: Type.Optional(SecretRef),
      heartbeatGraceSeconds: Type.Optional(Type.Integer({ minimum: 10, maximum: 3600 })),
    }),
  ),
});
export type EdgeServerSpec = Static<typeof EdgeServerSpec>;

export const EdgeServerStatus = Strict({
  observedGeneration: Type.Optional(Type.Integer()),
  conditions: Type.Optional(Conditions),
  health: Type.Optional(StringEnum(['Healthy', 'Degraded', 'Unreachable', 'Unknown'] as const)),
  agent: Type.Optional(
    Strict(
      {
        version: Type.Optional(Type.String()),
        kubernetesVersion: Type.Optional(Type.String()),
      },
      {
        description:
          'What the edge agent runs, written when it starts. Its heartbeat is a Lease (coordination.k8s.io) named like its ServiceAccount, and what it applied is in its EdgeRelease.',
      },
    ),
  ),
  capacityUsed: Type.Optional(
    Strict({
      cpuCores: Type.Optional(Type.Number()),
      memoryBytes: Type.Optional(Type.Number()),
      gpus: Type.Optional(Type.Number()),
      storageBytes: Type.Optional(Type.Number()),
      cameras: Type.Optional(Type.Integer()),
    }),
  ),
});
