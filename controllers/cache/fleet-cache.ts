import type {
  AIModel,
  Camera,
  EdgeBundle,
  EdgeRelease,
  EdgeServer,
  FleetSync,
  Site,
  Tenant,
} from '../../resources/index.js';
import { CORE, VMS, type Informer, type KubeObject, type Manager } from '../runtime/index.js';
import { StringInterner } from './intern.js';

type Live<T> = T & KubeObject & { metadata: KubeObject['metadata'] };

/** The shared informers of the vmsctl kinds, with the indexes the controllers look up by. */
export interface FleetCache {
  tenants: Informer<Live<Tenant>>;
  sites: Informer<Live<Site>>;
  edges: Informer<Live<EdgeServer>>;
  models: Informer<Live<AIModel>>;
  cameras: Informer<Live<Camera>>;
  fleetSyncs: Informer<Live<FleetSync>>;
  bundles: Informer<Live<EdgeBundle>>;
  releases: Informer<Live<EdgeRelease>>;
  namespaces: Informer<KubeObject>;
  /** The informer holding objects of a kind, for lookups by `Kind/namespace/name`. */
  ofKind(kind: string): Informer<KubeObject> | undefined;
}

export type LiveTenant = Live<Tenant>;
export type LiveSite = Live<Site>;
export type LiveEdge = Live<EdgeServer>;
export type LiveModel = Live<AIModel>;
export type LiveCamera = Live<Camera>;
export type LiveFleetSync = Live<FleetSync>;
export type LiveBundle = Live<EdgeBundle>;
export type LiveRelease = Live<EdgeRelease>;

const caches = new WeakMap<Manager, FleetCache>();

/**
 * Keeps of managedFields only what reconciles read (which top-level status fields a manager
 * applied): the full field sets are most of an object's size and 6,000 cached cameras pay
 * for them several times over.
 */
export function slimManagedFields<T extends KubeObject>(obj: T): T {
  const fields = obj.metadata.managedFields;
  if (!fields) return obj;
  return {
    ...obj,
    metadata: {
      ...obj.metadata,
      managedFields: fields.map((e) => {
        const status = (e.fieldsV1 as Record<string, unknown> | undefined)?.['f:status'];
        return {
          manager: e.manager,
          operation: e.operation,
          subresource: e.subresource,
          ...(e.subresource === 'status' && status && typeof status === 'object'
            ? {
                fieldsV1: {
                  'f:status': Object.fromEntries(Object.keys(status).map((k) => [k, {}])),
                },
              }
            : {}),
        };
      }),
    },
  };
}

/** The manager's fleet informers (created once per manager). */
export function fleetCache(mgr: Manager): FleetCache {
  let cache = caches.get(mgr);
  if (cache) return cache;
  const interner = new StringInterner();
  // Slimmed first, so the field sets it drops are not walked.
  const transform = <T extends KubeObject>(o: T): T => interner.intern(slimManagedFields(o));
  const tenants = mgr.informer<Live<Tenant>>(VMS['Tenant']!, { transform });
  const sites = mgr.informer<Live<Site>>(VMS['Site']!, { transform });
  const edges = mgr.informer<Live<EdgeServer>>(VMS['EdgeServer']!, { transform });
  const models = mgr.informer<Live<AIModel>>(VMS['AIModel']!, { transform });
  const cameras = mgr.informer<Live<Camera>>(VMS['Camera']!, { transform });
  const fleetSyncs = mgr.informer<Live<FleetSync>>(VMS['FleetSync']!);
  const bundles = mgr.informer<Live<EdgeBundle>>(VMS['EdgeBundle']!, { transform });
  const releases = mgr.informer<Live<EdgeRelease>>(VMS['EdgeRelease']!, { transform });
  const namespaces = mgr.informer<KubeObject>(CORE.Namespace, {
    labelSelector: 'vmsctl.io/tenant',
  });
  sites.addIndex('namespace', (s) => [s.metadata.namespace!]);
  edges.addIndex('site', (e) => [`${e.metadata.namespace}/${e.spec.site}`]);
  edges.addIndex('namespace', (e) => [e.metadata.namespace!]);
  cameras.addIndex('namespace', (c) => [c.metadata.namespace!]);
  cameras.addIndex('site', (c) => [`${c.metadata.namespace}/${c.spec.site}`]);
  cameras.addIndex('pinned', (c) =>
    c.spec.edgeServer ? [`${c.metadata.namespace}/${c.spec.edgeServer}`] : [],
  );
  bundles.addIndex('namespace', (b) => [b.metadata.namespace!]);
  bundles.addIndex('source', (b) => (b.spec.workloads ?? []).map((w) => w.source));
  releases.addIndex('namespace', (r) => [r.metadata.namespace!]);
  const byKind: Record<string, Informer<KubeObject>> = {
    Tenant: tenants,
    Site: sites,
    EdgeServer: edges,
    AIModel: models,
    Camera: cameras,
    FleetSync: fleetSyncs,
    EdgeBundle: bundles,
    EdgeRelease: releases,
    Namespace: namespaces,
  } as unknown as Record<string, Informer<KubeObject>>;
  cache = {
    tenants,
    sites,
    edges,
    models,
    cameras,
    fleetSyncs,
    bundles,
    releases,
    namespaces,
    ofKind: (k) => byKind[k],
  };
  caches.set(mgr, cache);
  return cache;
}
