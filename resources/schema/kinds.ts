import { Type, type Static, type TObject, type TSchema } from '@sinclair/typebox';
import { API_GROUP_VERSION, ObjectMeta, Strict } from './common.js';
import { TenantSpec, TenantStatus } from './tenant.js';
import { SiteSpec, SiteStatus } from './site.js';
import { EdgeServerSpec, EdgeServerStatus } from './edge-server.js';
import { AIModelSpec, AIModelStatus } from './aimodel.js';
import { CameraSpec, CameraStatus } from './camera.js';

/** Extra column for `kubectl get`, expressed as a JSONPath into the object. */
export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

export interface KindDefinition<S extends TSchema = TSchema, T extends TSchema = TSchema> {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  scope: 'Cluster' | 'Namespaced';
  /** Position in apply order: a kind only references kinds with a smaller rank. */
  rank: number;
  description: string;
  spec: S;
  status: T;
  printerColumns: PrinterColumn[];
}

/** The full object schema of a kind: apiVersion, kind, metadata, spec and optional status. */
export function resource<K extends string, S extends TSchema, T extends TSchema>(
  kind: K,
  spec: S,
  status: T,
) {
  return Strict(
    {
      apiVersion: Type.Literal(API_GROUP_VERSION),
      kind: Type.Literal(kind),
      metadata: ObjectMeta,
      spec,
      status: Type.Optional(status),
    },
    { $id: `https://vmsctl.io/schemas/${kind.toLowerCase()}.json`, title: kind },
  );
}

const ready: PrinterColumn = {
  name: 'Ready',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].status',
};
const age: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

export const Tenant = resource('Tenant', TenantSpec, TenantStatus);
export const Site = resource('Site', SiteSpec, SiteStatus);
export const EdgeServer = resource('EdgeServer', EdgeServerSpec, EdgeServerStatus);
export const AIModel = resource('AIModel', AIModelSpec, AIModelStatus);
export const Camera = resource('Camera', CameraSpec, CameraStatus);

export type Tenant = Static<typeof Tenant>;
export type Site = Static<typeof Site>;
export type EdgeServer = Static<typeof EdgeServer>;
export type AIModel = Static<typeof AIModel>;
export type Camera = Static<typeof Camera>;
export type AnyResource = Tenant | Site | EdgeServer | AIModel | Camera;
export type KindName = AnyResource['kind'];

/** Every kind, in apply order. The one registry that generators and validators read. */
export const KINDS: ReadonlyArray<KindDefinition & { kind: KindName; schema: TObject }> = [
  {
    kind: 'Tenant',
    plural: 'tenants',
    singular: 'tenant',
    shortNames: ['tn'],
    scope: 'Cluster',
    rank: 0,
    description: 'A customer: license, contacts, configuration and retention overrides.',
    spec: TenantSpec,
    status: TenantStatus,
    schema: Tenant,
    printerColumns: [
      { name: 'Display Name', type: 'string', jsonPath: '.spec.displayName' },
      { name: 'Camera Limit', type: 'integer', jsonPath: '.spec.license.cameraLimit' },
      { name: 'Cameras', type: 'integer', jsonPath: '.status.camerasUsed' },
      { name: 'Valid Until', type: 'string', jsonPath: '.spec.license.validUntil' },
      ready,
      age,
    ],
  },
  {
    kind: 'Site',
    plural: 'sites',
    singular: 'site',
    shortNames: ['st'],
    scope: 'Namespaced',
    rank: 1,
    description: 'A location: building → floor → zone tree, time zone and network.',
    spec: SiteSpec,
    status: SiteStatus,
    schema: Site,
    printerColumns: [
      { name: 'Display Name', type: 'string', jsonPath: '.spec.displayName' },
      { name: 'Timezone', type: 'string', jsonPath: '.spec.timezone' },
      { name: 'Cameras', type: 'integer', jsonPath: '.status.cameras' },
      ready,
      age,
    ],
  },
  {
    kind: 'EdgeServer',
    plural: 'edgeservers',
    singular: 'edgeserver',
    shortNames: ['es', 'edge'],
    scope: 'Namespaced',
    rank: 2,
    description: 'A machine (k3s cluster) at a site that runs ingest and inference.',
    spec: EdgeServerSpec,
    status: EdgeServerStatus,
    schema: EdgeServer,
    printerColumns: [
      { name: 'Site', type: 'string', jsonPath: '.spec.site' },
      { name: 'CPU', type: 'integer', jsonPath: '.spec.hardware.cpuCores' },
      { name: 'Memory', type: 'string', jsonPath: '.spec.hardware.memory' },
      { name: 'Health', type: 'string', jsonPath: '.status.health' },
      { name: 'Agent', type: 'string', jsonPath: '.status.agent.version' },
      ready,
    ],
  },
  {
    kind: 'AIModel',
    plural: 'aimodels',
    singular: 'aimodel',
    shortNames: ['aim', 'model'],
    scope: 'Cluster',
    rank: 3,
    description: 'An analytics model: artifact, runtime, priority and stream requirements.',
    spec: AIModelSpec,
    status: AIModelStatus,
    schema: AIModel,
    printerColumns: [
      { name: 'Display Name', type: 'string', jsonPath: '.spec.displayName' },
      { name: 'Priority', type: 'string', jsonPath: '.spec.priority' },
      { name: 'Min Resolution', type: 'string', jsonPath: '.spec.requirements.minResolution' },
      { name: 'Runtime', type: 'string', jsonPath: '.spec.runtime' },
      ready,
    ],
  },
  {
    kind: 'Camera',
    plural: 'cameras',
    singular: 'camera',
    shortNames: ['cam'],
    scope: 'Namespaced',
    rank: 4,
    description: 'A camera: source, credentials by reference, streams, recording and models.',
    spec: CameraSpec,
    status: CameraStatus,
    schema: Camera,
    printerColumns: [
      { name: 'Site', type: 'string', jsonPath: '.spec.site' },
      { name: 'Zone', type: 'string', jsonPath: '.spec.zone' },
      { name: 'Resolution', type: 'string', jsonPath: '.spec.streams.main.resolution' },
      { name: 'Edge', type: 'string', jsonPath: '.status.edgeServer' },
      ready,
      age,
    ],
  },
];

const byName = new Map<string, (typeof KINDS)[number]>();
for (const k of KINDS) {
  for (const alias of [k.kind, k.kind.toLowerCase(), k.plural, k.singular, ...k.shortNames]) {
    byName.set(alias.toLowerCase(), k);
  }
}

/** Looks a kind up by its name, plural, singular or short name (case-insensitive). */
export function findKind(name: string) {
  const lower = name.toLowerCase();
  // Plurals of short names (`models`, `edges`) read naturally on the command line.
  return byName.get(lower) ?? (lower.endsWith('s') ? byName.get(lower.slice(0, -1)) : undefined);
}

/** Canonical identity of a resource: Kind/namespace/name or Kind/name. */
export function resourceKey(r: {
  kind: string;
  metadata: { name: string; namespace?: string };
}): string {
  return r.metadata.namespace
    ? `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`
    : `${r.kind}/${r.metadata.name}`;
}
