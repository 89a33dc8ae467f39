import type { EffectiveConfig } from '../config/defaults.js';
import type { Fleet } from '../fleet/fleet.js';
import type { LoadedResource } from '../manifest/load.js';
import type { Camera } from '../schema/kinds.js';
import { CAPACITY_COEFFICIENTS as C } from './coefficients.js';
import {
  cameraDemand,
  cpuOn,
  edgeCapacity,
  modelWorkersMemory,
  type CameraDemand,
  type EdgeCapacity,
} from './model.js';

export interface Utilization {
  cpu: number;
  memory: number;
  storage: number;
  gpu: number;
}

export interface EdgeLoad {
  edge: string;
  namespace: string;
  name: string;
  site: string;
  capacity: EdgeCapacity;
  cameras: string[];
  pinnedCameras: string[];
  models: string[];
  cpuCores: number;
  memoryBytes: number;
  storageBytes: number;
  gpus: number;
  utilization: Utilization;
}

export interface SiteLoad {
  site: string;
  edgeServers: number;
  cameras: number;
  cpuCores: number;
  cpuCapacity: number;
  memoryBytes: number;
  memoryCapacity: number;
  storageBytes: number;
  storageCapacity: number;
  gpus: number;
  gpuCapacity: number;
}

export interface Placement {
  camera: string;
  edge: string;
  pinned: boolean;
}

export interface Unplaced {
  camera: string;
  reason: string;
}

export interface CapacityReport {
  edges: EdgeLoad[];
  sites: SiteLoad[];
  placements: Placement[];
  unplaced: Unplaced[];
  demands: Map<string, CameraDemand>;
}

/**
 * Computes what every edge server must carry: pinned cameras where pinned, the rest placed
 * on the edge server of their site with the most CPU headroom that still fits them.
 */
export function computeCapacity(
  fleet: Fleet,
  configOf: (camera: LoadedResource<Camera>) => EffectiveConfig,
  /** Where each camera runs now (camera key → edge key): kept there while it still fits. */
  current?: (cameraKey: string) => string | undefined,
): CapacityReport {
  const loads = new Map<string, EdgeLoad & { modelSet: Set<string> }>();
  for (const e of fleet.edgeServers.values()) {
    const r = e.resource;
    loads.set(e.key, {
      edge: e.key,
      namespace: r.metadata.namespace!,
      name: r.metadata.name,
      site: `${r.metadata.namespace}/${r.spec.site}`,
      capacity: edgeCapacity(r),
      cameras: [],
      pinnedCameras: [],
      models: [],
      modelSet: new Set(),
      cpuCores: 0,
      memoryBytes: 0,
      storageBytes: 0,
      gpus: 0,
      utilization: { cpu: 0, memory: 0, storage: 0, gpu: 0 },
    });
  }
  const edgesBySite = new Map<string, (EdgeLoad & { modelSet: Set<string> })[]>();
  for (const l of loads.values()) {
    const list = edgesBySite.get(l.site) ?? [];
    list.push(l);
    edgesBySite.set(l.site, list);
  }

  const demands = new Map<string, CameraDemand>();
  const placements: Placement[] = [];
  const unplaced: Unplaced[] = [];
  const unpinned: { camera: LoadedResource<Camera>; demand: CameraDemand }[] = [];

  const add = (load: EdgeLoad & { modelSet: Set<string> }, d: CameraDemand, pinned: boolean) => {
    const newModels = d.models.filter((m) => !load.modelSet.has(m));
    for (const m of newModels) load.modelSet.add(m);
    load.cameras.push(d.camera);
    if (pinned) load.pinnedCameras.push(d.camera);
    load.cpuCores += cpuOn(d, load.capacity);
    load.memoryBytes += d.memoryBytes + modelWorkersMemory(fleet, newModels);
    load.storageBytes += d.storageBytes;
    load.gpus += load.capacity.gpus > 0 ? d.inferenceGpu : 0;
    placements.push({ camera: d.camera, edge: load.edge, pinned });
  };

  for (const camera of fleet.cameras.values()) {
    const spec = camera.resource.spec;
    if (spec.enabled === false) continue;
    const demand = cameraDemand(fleet, camera, configOf(camera));
    demands.set(camera.key, demand);
    if (spec.edgeServer) {
      const load = loads.get(`EdgeServer/${camera.resource.metadata.namespace}/${spec.edgeServer}`);
      if (load) add(load, demand, true);
      else
        unplaced.push({
          camera: camera.key,
          reason: `pinned edge server "${spec.edgeServer}" does not exist`,
        });
    } else {
      unpinned.push({ camera, demand });
    }
  }

  // Largest first, onto the server with the most CPU left: a worst-fit that keeps sites balanced.
  unpinned.sort(
    (a, b) =>
      b.demand.decodeCores +
      b.demand.inferenceCpuIfNoGpu -
      (a.demand.decodeCores + a.demand.inferenceCpuIfNoGpu),
  );
  // Sticky placement: moving a running camera interrupts its recording, so a camera stays on
  // the server it is on while that server is a candidate and still has room for it.
  const moving: typeof unpinned = [];
  for (const u of unpinned) {
    const on = current?.(u.camera.key);
    const load = on ? loads.get(on) : undefined;
    const siteKey = `${u.camera.resource.metadata.namespace}/${u.camera.resource.spec.site}`;
    if (load && load.site === siteKey && shortOf(load, u.demand).length === 0)
      add(load, u.demand, false);
    else moving.push(u);
  }
  for (const { camera, demand } of moving) {
    const siteKey = `${camera.resource.metadata.namespace}/${camera.resource.spec.site}`;
    const candidates = edgesBySite.get(siteKey) ?? [];
    if (candidates.length === 0) {
      unplaced.push({
        camera: camera.key,
        reason: `site "${camera.resource.spec.site}" has no edge server`,
      });
      continue;
    }
    let best: (typeof candidates)[number] | undefined;
    let bestFree = -Infinity;
    const shortages = new Set<string>();
    for (const l of candidates) {
      const short = shortOf(l, demand);
      for (const dim of short) shortages.add(dim);
      const free = l.capacity.cpuCores - l.cpuCores;
      if (short.length === 0 && free > bestFree) {
        best = l;
        bestFree = free;
      }
    }
    if (best) add(best, demand, false);
    else {
      unplaced.push({
        camera: camera.key,
        reason: `no edge server at site "${camera.resource.spec.site}" has room: short of ${[...shortages].join(', ')} (${candidates.length} server(s) checked)`,
      });
    }
  }

  /** The resources an edge server lacks for one more camera (empty when it fits). */
  function shortOf(l: EdgeLoad & { modelSet: Set<string> }, demand: CameraDemand): string[] {
    const newModels = demand.models.filter((m) => !l.modelSet.has(m));
    const mem = demand.memoryBytes + modelWorkersMemory(fleet, newModels);
    const short: string[] = [];
    if (l.cpuCores + cpuOn(demand, l.capacity) > l.capacity.cpuCores) short.push('CPU');
    if (l.memoryBytes + mem > l.capacity.memoryBytes) short.push('memory');
    if (l.storageBytes + demand.storageBytes > l.capacity.storageBytes) short.push('storage');
    if (l.capacity.gpus > 0 && l.gpus + demand.inferenceGpu > l.capacity.gpus) short.push('GPU');
    return short;
  }

  const edges = [...loads.values()].map(({ modelSet, ...l }) => {
    l.models = [...modelSet].sort();
    l.utilization = {
      cpu: ratio(l.cpuCores, l.capacity.cpuCores),
      memory: ratio(l.memoryBytes, l.capacity.memoryBytes),
      storage: ratio(l.storageBytes, l.capacity.storageBytes),
      gpu: ratio(l.gpus, l.capacity.gpus),
    };
    return l;
  });

  const sites = new Map<string, SiteLoad>();
  for (const s of fleet.sites.values()) {
    const key = `${s.resource.metadata.namespace}/${s.resource.metadata.name}`;
    sites.set(key, {
      site: key,
      edgeServers: 0,
      cameras: 0,
      cpuCores: 0,
      cpuCapacity: 0,
      memoryBytes: 0,
      memoryCapacity: 0,
      storageBytes: 0,
      storageCapacity: 0,
      gpus: 0,
      gpuCapacity: 0,
    });
  }
  for (const l of edges) {
    const s = sites.get(l.site);
    if (!s) continue;
    s.edgeServers++;
    s.cameras += l.cameras.length;
    s.cpuCores += l.cpuCores;
    s.cpuCapacity += l.capacity.cpuCores;
    s.memoryBytes += l.memoryBytes;
    s.memoryCapacity += l.capacity.memoryBytes;
    s.storageBytes += l.storageBytes;
    s.storageCapacity += l.capacity.storageBytes;
    s.gpus += l.gpus;
    s.gpuCapacity += l.capacity.gpus;
  }
  return { edges, sites: [...sites.values()], placements, unplaced, demands };
}

function ratio(used: number, capacity: number): number {
  if (used === 0) return 0;
  return capacity > 0 ? used / capacity : Infinity;
}

/** Utilization level used by validation: ok, warn (over the headroom target) or over. */
export function utilizationLevel(u: number): 'ok' | 'warn' | 'over' {
  return u > 1 ? 'over' : u > C.warnUtilization ? 'warn' : 'ok';
}
