import {
  cpuOn,
  type CameraDemand,
  type EdgeCapacity,
  type EffectiveConfig,
} from '../../resources/index.js';
import type { LiveCamera } from '../cache/fleet-cache.js';
import { childName, digest, textDigest } from './names.js';

/** Image of the edge workloads; the controllers render the version they were built with. */
export const EDGE_IMAGE = process.env['VMSCTL_EDGE_IMAGE'] ?? 'ghcr.io/vmsctl/vmsctl:0.1.0';
/** Label carried by every object rendered for an edge, naming the workload it belongs to. */
export const WORKLOAD_LABEL = 'vmsctl.io/workload';

/** One named piece of an edge bundle: the objects rendered from one resource. */
export interface Workload {
  name: string;
  source: string;
  /** For a camera workload: the models it feeds (their workers are rendered from these). */
  models?: string[];
  /** For a camera workload: what it uses of its edge, summed into the edge's capacityUsed. */
  usage?: WorkloadUsage;
  objects: Record<string, unknown>[];
}

export interface WorkloadUsage {
  cpuCores: number;
  memoryBytes: number;
  gpus: number;
  storageBytes: number;
}

/** A camera's share of its edge, as the capacity model counts it (GPU offload included). */
export function cameraUsage(demand: CameraDemand, edge: EdgeCapacity): WorkloadUsage {
  const round = (n: number) => Math.round(n * 1e4) / 1e4;
  return {
    cpuCores: round(cpuOn(demand, edge)),
    memoryBytes: Math.round(demand.memoryBytes),
    gpus: edge.gpus > 0 ? round(demand.inferenceGpu) : 0,
    storageBytes: Math.round(demand.storageBytes),
  };
}

/** `name@digest`, how releases list what they carry. */
export function workloadId(w: Workload): string {
  return `${w.name}@${workloadDigest(w)}`;
}

/**
 * Digest of a workload's objects. A bundle's index entries carry it (`digest`); the objects
 * themselves travel in the bundle's payloads, which the controllers compare by digest only.
 */
export function workloadDigest(w: Workload & { digest?: string }): string {
  if (w.digest) return w.digest;
  let d = digests.get(w);
  if (d === undefined) {
    d = digest(w.objects);
    digests.set(w, d);
  }
  return d;
}

// Rendered workloads are not changed after rendering, so each is hashed once.
const digests = new WeakMap<Workload, string>();

/** Records a digest already known for a freshly rendered workload (same inputs as before). */
export function knownDigest(w: Workload, d: string): Workload {
  digests.set(w, d);
  return w;
}

function millicores(cores: number): string {
  return `${Math.max(50, Math.ceil(cores * 1000))}m`;
}

function mebibytes(bytes: number): string {
  return `${Math.max(64, Math.ceil(bytes / 1048576))}Mi`;
}

/**
 * A camera's edge workload: its effective configuration as a ConfigMap and the ingest
 * Deployment that runs recorder, normalizer and segmenter for it. Credentials stay a
 * reference: the Deployment mounts the named Secret, whose value never leaves the edge.
 */
export function renderCameraWorkload(
  camera: LiveCamera,
  config: EffectiveConfig,
  demand: CameraDemand | undefined,
  activeModels: string[],
  edge?: EdgeCapacity,
): Workload {
  const ns = camera.metadata.namespace!;
  const name = childName('camera', camera.metadata.name);
  const labels = {
    'app.kubernetes.io/name': 'vmsctl-ingest',
    'app.kubernetes.io/part-of': 'vmsctl',
    'vmsctl.io/camera': camera.metadata.name,
    [WORKLOAD_LABEL]: name,
  };
  const cameraDoc = {
    name: camera.metadata.name,
    namespace: ns,
    spec: camera.spec,
    effective: config,
    activeModels,
  };
  const cameraJson = JSON.stringify(cameraDoc);
  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: childName('ingest', camera.metadata.name), namespace: ns, labels },
    data: { 'camera.json': cameraJson },
  };
  const volumes: Record<string, unknown>[] = [
    { name: 'config', configMap: { name: configMap.metadata.name } },
  ];
  const mounts: Record<string, unknown>[] = [
    { name: 'config', mountPath: '/etc/vmsctl', readOnly: true },
  ];
  const secret = camera.spec.auth?.secretRef;
  if (secret) {
    volumes.push({ name: 'credentials', secret: { secretName: secret.name } });
    mounts.push({
      name: 'credentials',
      mountPath: `/var/run/secrets/vmsctl/${secret.name}`,
      readOnly: true,
    });
  }
  const cpu = demand ? demand.decodeCores + demand.recordCores : 0.2;
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: childName('ingest', camera.metadata.name), namespace: ns, labels },
    spec: {
      replicas: camera.spec.enabled === false ? 0 : 1,
      // One recorder per camera at a time: two would write the same segments.
      strategy: { type: 'Recreate' },
      selector: { matchLabels: { 'vmsctl.io/camera': camera.metadata.name } },
      template: {
        metadata: { labels, annotations: { 'vmsctl.io/config-digest': textDigest(cameraJson) } },
        spec: {
          priorityClassName: priorityClassName(highestPriority(config, activeModels)),
          containers: [
            {
              name: 'ingest',
              image: EDGE_IMAGE,
              args: [
                'edge',
                'ingest',
                '--camera-config',
                '/etc/vmsctl/camera.json',
                '--secrets',
                '/var/run/secrets/vmsctl',
              ],
              resources: {
                requests: {
                  cpu: millicores(cpu),
                  memory: mebibytes(demand?.memoryBytes ?? 256 * 1048576),
                },
                limits: { memory: mebibytes((demand?.memoryBytes ?? 256 * 1048576) * 2) },
              },
              volumeMounts: mounts,
            },
          ],
          volumes,
        },
      },
    },
  };
  return {
    name,
    source: `Camera/${ns}/${camera.metadata.name}`,
    models: activeModels,
    ...(demand && edge ? { usage: cameraUsage(demand, edge) } : {}),
    objects: [configMap, deployment],
  };
}

const PRIORITY_ORDER = ['CRITICAL', 'HIGH', 'MEDIUM', 'STANDARD'] as const;
export type PriorityName = (typeof PRIORITY_ORDER)[number];

/** PriorityClass values: under pressure the kubelet evicts standard analytics first. */
export const PRIORITY_VALUES: Record<PriorityName, number> = {
  CRITICAL: 1_000_000,
  HIGH: 100_000,
  MEDIUM: 10_000,
  STANDARD: 1_000,
};

export function priorityClassName(p: PriorityName): string {
  return `vmsctl-${p.toLowerCase()}`;
}

function highestPriority(config: EffectiveConfig, models: string[]): PriorityName {
  let best: PriorityName = 'STANDARD';
  for (const m of models) {
    const p = (config.models[m]?.priority ?? 'STANDARD') as PriorityName;
    if (PRIORITY_ORDER.indexOf(p) < PRIORITY_ORDER.indexOf(best)) best = p;
  }
  return best;
}
