import {
  computeCapacity,
  cpuOn,
  Fleet,
  modelWorkersMemory,
  resolveCameraConfig,
  resourceKey,
  SourceFile,
  type AnyResource,
  type CameraDemand,
  type CapacityReport,
  type EffectiveConfig,
  type LoadedResource,
} from '../../resources/index.js';
import type { FleetCache, LiveCamera, LiveEdge } from '../cache/fleet-cache.js';
import { tenantLicense, type LicenseAllocation } from './license.js';

/** The outcome of placing one site's cameras. */
export interface SitePlacement {
  namespace: string;
  site: string;
  edges: LiveEdge[];
  /** Cameras this site decides about (its own unpinned ones and any pinned to its edges). */
  cameras: LiveCamera[];
  license: LicenseAllocation;
  /** camera name → edge name */
  placed: Map<string, string>;
  /** camera name → why it could not be placed */
  unplaced: Map<string, string>;
  demands: Map<string, CameraDemand>;
  configs: Map<string, EffectiveConfig>;
}

function loaded(r: AnyResource): LoadedResource {
  // Cluster objects have no YAML source; validation-style positions are not needed here.
  return {
    resource: r,
    key: resourceKey(r),
    source: new SourceFile(`cluster:${resourceKey(r)}`, ''),
    docIndex: 0,
  };
}

/** Site placement key of a camera: the site of its pinned edge, else its own site. */
export function placementSite(cache: FleetCache, camera: LiveCamera): string {
  const ns = camera.metadata.namespace!;
  if (camera.spec.edgeServer) {
    const edge = cache.edges.get(`${ns}/${camera.spec.edgeServer}`);
    if (edge) return `${ns}/${edge.spec.site}`;
  }
  return `${ns}/${camera.spec.site}`;
}

/**
 * Places the cameras of one site with the capacity model `vmsctl validate` uses (same
 * demands, same fit rules), keeping running cameras where they are. Cameras beyond the
 * tenant's license are left out and so never deployed.
 */
export function placeSite(cache: FleetCache, siteKey: string, now: Date): SitePlacement {
  const [namespace, site] = siteKey.split('/') as [string, string];
  const tenant = cache.tenants.get(namespace);
  const license = tenantLicense(cache, namespace, now);
  const edges = cache.edges.byIndex('site', siteKey).filter((e) => !e.metadata.deletionTimestamp);
  const cameras = new Map<string, LiveCamera>();
  for (const c of cache.cameras.byIndex('site', siteKey)) {
    if (placementSite(cache, c) === siteKey) cameras.set(c.metadata.name, c);
  }
  for (const e of edges) {
    for (const c of cache.cameras.byIndex('pinned', `${namespace}/${e.metadata.name}`))
      cameras.set(c.metadata.name, c);
  }
  const group = [...cameras.values()].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
  const deployable = group.filter((c) => license.licensed.has(c.metadata.name));

  const siteNames = new Set([site, ...deployable.map((c) => c.spec.site)]);
  const resources: AnyResource[] = [];
  if (tenant) resources.push(tenant as AnyResource);
  for (const s of siteNames) {
    const obj = cache.sites.get(`${namespace}/${s}`);
    if (obj) resources.push(obj as AnyResource);
  }
  for (const e of edges) resources.push(e as AnyResource);
  for (const m of cache.models.list()) resources.push(m as AnyResource);
  for (const c of deployable) resources.push(c as AnyResource);
  const fleet = new Fleet(resources.map(loaded));

  const configs = new Map<string, EffectiveConfig>();
  for (const c of fleet.cameras.values()) {
    configs.set(
      c.resource.metadata.name,
      resolveCameraConfig(fleet, c as LoadedResource<never>, { provenance: false }).value,
    );
  }
  const others = resources.filter((r) => r.kind !== 'Camera');
  const capacityOf = (group: LiveCamera[]) =>
    computeCapacity(
      new Fleet([...others, ...(group as AnyResource[])].map(loaded)),
      (c) => configs.get(c.resource.metadata.name)!,
      (key) => {
        const cam = cameras.get(key.split('/')[2]!);
        // Where it runs: its status, or (before its first status) the bundle that carries it.
        const on =
          cam?.status?.edgeServer ??
          cache.bundles.byIndex('source', `Camera/${namespace}/${key.split('/')[2]}`)[0]?.spec
            .edgeServer;
        return on ? `EdgeServer/${namespace}/${on}` : undefined;
      },
    );
  // computeCapacity places every pinned camera, full edge or not (validation then reports the
  // edge as overloaded). Deployed, it would overload the edge or push running cameras off it,
  // so a camera newly pinned to an edge joins, oldest first, only if it fits beside the rest.
  const newlyPinned = (c: LiveCamera) =>
    !!c.spec.edgeServer && c.status?.edgeServer !== c.spec.edgeServer;
  const accepted = deployable.filter((c) => !newlyPinned(c));
  let report = capacityOf(accepted);
  const refused = new Map<string, string>();
  for (const c of deployable.filter(newlyPinned).sort(byAge)) {
    const trial = capacityOf([...accepted, c]);
    const why = pinRefusal(report, trial, c, cameras, fleet);
    if (why) refused.set(c.metadata.name, why);
    else {
      accepted.push(c);
      report = trial;
    }
  }
  const placed = new Map<string, string>();
  for (const p of report.placements) placed.set(p.camera.split('/')[2]!, p.edge.split('/')[2]!);
  const unplaced = new Map<string, string>(refused);
  for (const u of report.unplaced) unplaced.set(u.camera.split('/')[2]!, u.reason);
  const demands = new Map<string, CameraDemand>();
  for (const [k, d] of report.demands) demands.set(k.split('/')[2]!, d);
  return { namespace, site, edges, cameras: group, license, placed, unplaced, demands, configs };
}

function byAge(a: LiveCamera, b: LiveCamera): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.metadata.name < b.metadata.name ? -1 : 1;
}

/**
 * Why a newly pinned camera cannot join its edge: with it (`after`) the edge is over capacity,
 * or a camera placed without it (`before`) loses its place, or a running one has to move.
 */
function pinRefusal(
  before: CapacityReport,
  after: CapacityReport,
  camera: LiveCamera,
  cameras: Map<string, LiveCamera>,
  fleet: Fleet,
): string | undefined {
  const ns = camera.metadata.namespace!;
  const edgeKey = `EdgeServer/${ns}/${camera.spec.edgeServer}`;
  const load = before.edges.find((l) => l.edge === edgeKey);
  const over = after.edges.find((l) => l.edge === edgeKey);
  // No such edge: computeCapacity reports the camera unplaced with that reason.
  if (!load || !over) return undefined;
  const placedAfter = new Map(after.placements.map((p) => [p.camera, p.edge]));
  const displaced = before.placements.some((p) => {
    const now = placedAfter.get(p.camera);
    if (!now) return true;
    // A camera not running yet may as well start elsewhere; a running one must not move.
    return now !== p.edge && !!cameras.get(p.camera.split('/')[2]!)?.status?.edgeServer;
  });
  const overloaded = Object.values(over.utilization).some((u) => u > 1);
  if (!displaced && !overloaded) return undefined;
  const d = after.demands.get(`Camera/${ns}/${camera.metadata.name}`);
  const short: string[] = [];
  if (d) {
    const cap = load.capacity;
    const newModels = d.models.filter((m) => !load.models.includes(m));
    if (load.cpuCores + cpuOn(d, cap) > cap.cpuCores) short.push('CPU');
    if (load.memoryBytes + d.memoryBytes + modelWorkersMemory(fleet, newModels) > cap.memoryBytes)
      short.push('memory');
    if (load.storageBytes + d.storageBytes > cap.storageBytes) short.push('storage');
    if (cap.gpus > 0 && load.gpus + d.inferenceGpu > cap.gpus) short.push('GPU');
  }
  return `pinned edge server "${camera.spec.edgeServer}" has no room: short of ${
    short.length ? short.join(', ') : 'room beside the cameras already placed there'
  }`;
}
