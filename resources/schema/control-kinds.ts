/**
 * Kinds the controllers use among themselves (not written in a fleet repo): FleetSync says
 * which Git repository to reconcile, EdgeBundle is the rendered desired state of one edge
 * server, and EdgeRelease is the staged rollout's go-ahead for one revision of it: the edge's
 * agent applies its bundle's payloads once the bundle is at the released revision.
 */
import { Type, type Static, type TObject } from '@sinclair/typebox';
import { Conditions, Name, NamedList, SecretRef, Strict } from './common.js';
import { resource, type KindDefinition } from './kinds.js';

const Duration = Type.String({
  pattern: '^([0-9]+(ms|s|m|h))+$',
  description: 'Duration such as 30s, 5m, 1h30m.',
});

/**
 * Rendered objects of one share of a bundle (the camera controller's, the aimodel
 * controller's): gzip+base64 of a JSON map from workload name to its objects.
 */
const Payload = Strict({
  name: Name,
  content: Type.String({ description: 'gzip+base64 JSON: workload name → its objects.' }),
});

export const FleetSyncSpec = Strict({
  url: Type.String({
    minLength: 1,
    description: 'Git repository: https://, ssh://, git@host:path or file:// (tests, mirrors).',
  }),
  ref: Type.Optional(
    Strict({
      branch: Type.Optional(Type.String({ minLength: 1 })),
      tag: Type.Optional(Type.String({ minLength: 1 })),
    }),
  ),
  path: Type.Optional(Type.String({ description: 'Folder of the fleet inside the repository.' })),
  interval: Duration,
  timeout: Type.Optional(Duration),
  suspend: Type.Optional(
    Type.Boolean({ description: 'Stop reconciling; nothing is applied or pruned.' }),
  ),
  prune: Type.Optional(
    Type.Boolean({ description: 'Delete what was removed from Git (default true).' }),
  ),
  secretRef: Type.Optional(SecretRef),
  webhook: Type.Optional(
    Strict(
      { secretRef: SecretRef },
      { description: 'HMAC secret that authenticates push webhooks.' },
    ),
  ),
});
export type FleetSyncSpec = Static<typeof FleetSyncSpec>;

const InventoryEntry = Strict({
  id: Type.String({ description: 'Kind/namespace/name or Kind/name.' }),
  v: Type.String({ description: 'apiVersion it was applied with.' }),
});

export const FleetSyncStatus = Strict({
  observedGeneration: Type.Optional(Type.Integer()),
  conditions: Type.Optional(Conditions),
  lastAppliedRevision: Type.Optional(Type.String()),
  lastAttemptedRevision: Type.Optional(Type.String()),
  lastHandledReconcileAt: Type.Optional(Type.String()),
  lastApplied: Type.Optional(
    Strict({
      created: Type.Integer(),
      configured: Type.Integer(),
      unchanged: Type.Integer(),
      pruned: Type.Integer(),
      time: Type.String(),
    }),
  ),
  inventory: Type.Optional(
    Strict({ entries: Type.Array(InventoryEntry) }, { description: 'What the last apply owns.' }),
  ),
});

export const EdgeBundleSpec = Strict({
  edgeServer: Name,
  // Atomic, not a map keyed by name: the camera controller is its one writer and rewrites
  // it whole, and tracking each item's fields in managedFields made up a quarter of every
  // bundle the apiserver decoded and encoded on each write.
  workloads: Type.Optional(
    Type.Array(
      Strict({
        name: Name,
        source: Type.String({ description: 'The resource this workload was rendered from.' }),
        models: Type.Optional(
          Type.Array(Name, { description: 'Models a camera workload feeds (read by aimodel).' }),
        ),
        usage: Type.Optional(
          Strict(
            {
              cpuCores: Type.Number(),
              memoryBytes: Type.Number(),
              gpus: Type.Number(),
              storageBytes: Type.Number(),
            },
            {
              description:
                'What a camera workload uses of its edge (capacity model); the edge server sums it.',
            },
          ),
        ),
        digest: Type.String({
          description: "Digest of the workload's objects (they travel in a payload).",
        }),
      }),
      { 'x-kubernetes-list-type': 'atomic' },
    ),
  ),
  payloads: Type.Optional(
    NamedList(Payload, { description: "The workloads' objects, one payload per controller." }),
  ),
});
export type EdgeBundleSpec = Static<typeof EdgeBundleSpec>;

export const EdgeBundleStatus = Strict({
  observedGeneration: Type.Optional(Type.Integer()),
  conditions: Type.Optional(Conditions),
  revision: Type.Optional(Type.String()),
  releasedRevision: Type.Optional(Type.String()),
});

export const EdgeReleaseSpec = Strict({
  edgeServer: Name,
  revision: Type.String({ minLength: 1 }),
  workloads: Type.Array(Type.String(), { description: 'name@digest of each released workload.' }),
});
export type EdgeReleaseSpec = Static<typeof EdgeReleaseSpec>;

export const EdgeReleaseStatus = Strict({
  observedGeneration: Type.Optional(Type.Integer()),
  conditions: Type.Optional(Conditions),
  appliedRevision: Type.Optional(Type.String()),
  appliedWorkloads: Type.Optional(
    Type.Array(Type.String(), { description: 'name@digest of each workload the edge runs.' }),
  ),
  appliedObjects: Type.Optional(Type.Integer()),
  failedObjects: Type.Optional(Type.Array(Strict({ id: Type.String(), message: Type.String() }))),
  lastAppliedTime: Type.Optional(Type.String()),
});

export const FleetSync = resource('FleetSync', FleetSyncSpec, FleetSyncStatus);
export const EdgeBundle = resource('EdgeBundle', EdgeBundleSpec, EdgeBundleStatus);
export const EdgeRelease = resource('EdgeRelease', EdgeReleaseSpec, EdgeReleaseStatus);
export type FleetSync = Static<typeof FleetSync>;
export type EdgeBundle = Static<typeof EdgeBundle>;
export type EdgeRelease = Static<typeof EdgeRelease>;

const ready = {
  name: 'Ready',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].status',
} as const;

/** The control kinds: CRDs and editor schemas are generated from these like the fleet kinds. */
export const CONTROL_KINDS: ReadonlyArray<KindDefinition & { schema: TObject }> = [
  {
    kind: 'FleetSync',
    plural: 'fleetsyncs',
    singular: 'fleetsync',
    shortNames: ['fs'],
    scope: 'Cluster',
    rank: 10,
    description: 'A Git repository of fleet manifests that fleet-sync applies to the cluster.',
    spec: FleetSyncSpec,
    status: FleetSyncStatus,
    schema: FleetSync,
    printerColumns: [
      { name: 'URL', type: 'string', jsonPath: '.spec.url' },
      { name: 'Revision', type: 'string', jsonPath: '.status.lastAppliedRevision' },
      { name: 'Suspended', type: 'boolean', jsonPath: '.spec.suspend' },
      ready,
      {
        name: 'Status',
        type: 'string',
        jsonPath: '.status.conditions[?(@.type=="Ready")].message',
        priority: 1,
      },
    ],
  },
  {
    kind: 'EdgeBundle',
    plural: 'edgebundles',
    singular: 'edgebundle',
    shortNames: ['eb'],
    scope: 'Namespaced',
    rank: 11,
    description:
      'Everything one edge server should run, rendered by the camera and aimodel controllers.',
    spec: EdgeBundleSpec,
    status: EdgeBundleStatus,
    schema: EdgeBundle,
    printerColumns: [
      { name: 'Edge', type: 'string', jsonPath: '.spec.edgeServer' },
      { name: 'Revision', type: 'string', jsonPath: '.status.revision' },
      { name: 'Released', type: 'string', jsonPath: '.status.releasedRevision' },
      ready,
    ],
  },
  {
    kind: 'EdgeRelease',
    plural: 'edgereleases',
    singular: 'edgerelease',
    shortNames: ['er'],
    scope: 'Namespaced',
    rank: 12,
    description:
      'The bundle revision released to one edge server; its agent applies it and reports back.',
    spec: EdgeReleaseSpec,
    status: EdgeReleaseStatus,
    schema: EdgeRelease,
    printerColumns: [
      { name: 'Edge', type: 'string', jsonPath: '.spec.edgeServer' },
      { name: 'Revision', type: 'string', jsonPath: '.spec.revision' },
      { name: 'Applied', type: 'string', jsonPath: '.status.appliedRevision' },
      ready,
    ],
  },
];
