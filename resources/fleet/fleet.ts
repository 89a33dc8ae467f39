import type {
  AIModel,
  AnyResource,
  Camera,
  EdgeServer,
  KindName,
  Site,
  Tenant,
} from '../schema/kinds.js';
import type { LoadedResource } from '../manifest/load.js';

type Loaded<R extends AnyResource> = LoadedResource<R>;

/** A loaded fleet with lookups by identity. Duplicates keep the first and are listed apart. */
export class Fleet {
  readonly tenants = new Map<string, Loaded<Tenant>>();
  /** Keyed by `namespace/name`. */
  readonly sites = new Map<string, Loaded<Site>>();
  readonly edgeServers = new Map<string, Loaded<EdgeServer>>();
  readonly models = new Map<string, Loaded<AIModel>>();
  readonly cameras = new Map<string, Loaded<Camera>>();
  /** Second and later definitions of an identity, with the first one they clash with. */
  readonly duplicates: { duplicate: LoadedResource; first: LoadedResource }[] = [];

  constructor(readonly resources: readonly LoadedResource[]) {
    for (const r of resources) {
      const map = this.mapOf(r.resource.kind);
      const id = scopedName(r.resource);
      const first = map.get(id);
      if (first) this.duplicates.push({ duplicate: r, first });
      else map.set(id, r as never);
    }
  }

  private mapOf(kind: KindName): Map<string, LoadedResource> {
    switch (kind) {
      case 'Tenant':
        return this.tenants;
      case 'Site':
        return this.sites;
      case 'EdgeServer':
        return this.edgeServers;
      case 'AIModel':
        return this.models;
      case 'Camera':
        return this.cameras;
    }
  }

  /** Unique resources (first definition of each identity), in load order. */
  unique(): LoadedResource[] {
    return [this.tenants, this.sites, this.edgeServers, this.models, this.cameras].flatMap((m) => [
      ...m.values(),
    ]);
  }

  /** Resources of one kind. */
  ofKind(kind: KindName): LoadedResource[] {
    return [...this.mapOf(kind).values()];
  }

  /** Finds a resource by `name` or `namespace/name`; ambiguous short names return all matches. */
  find(kind: KindName, ref: string): LoadedResource[] {
    const map = this.mapOf(kind);
    const exact = map.get(ref);
    if (exact) return [exact];
    if (ref.includes('/')) return [];
    return [...map.values()].filter((r) => r.resource.metadata.name === ref);
  }

  site(namespace: string, name: string) {
    return this.sites.get(`${namespace}/${name}`);
  }

  edgeServer(namespace: string, name: string) {
    return this.edgeServers.get(`${namespace}/${name}`);
  }

  /** Cameras grouped by the tenant (namespace) they belong to. */
  camerasByTenant(): Map<string, Loaded<Camera>[]> {
    const out = new Map<string, Loaded<Camera>[]>();
    for (const c of this.cameras.values()) {
      const ns = c.resource.metadata.namespace!;
      let list = out.get(ns);
      if (!list) out.set(ns, (list = []));
      list.push(c);
    }
    return out;
  }
}

/** `namespace/name` for namespaced resources, `name` for cluster-scoped ones. */
export function scopedName(r: AnyResource): string {
  return r.metadata.namespace ? `${r.metadata.namespace}/${r.metadata.name}` : r.metadata.name;
}
