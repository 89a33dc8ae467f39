import type { LiveEdge, LiveModel } from '../cache/fleet-cache.js';
import { childName } from '../camera/names.js';
import {
  EDGE_IMAGE,
  knownDigest,
  PRIORITY_VALUES,
  priorityClassName,
  WORKLOAD_LABEL,
  workloadDigest,
  type PriorityName,
  type Workload,
} from '../camera/render.js';

/** Prefix of the labels that say which models a bundle runs. */
export const MODEL_LABEL_PREFIX = 'model.vmsctl.io/';

/** Label on the EdgeBundles of the edges that run a model. */
export function modelLabel(model: string): string {
  return `${MODEL_LABEL_PREFIX}${model}`;
}

/** Whether the edge has GPUs to give a model worker. */
function hasGpu(edge: LiveEdge): boolean {
  return (edge.spec.hardware.gpus ?? []).some((g) => g.count > 0);
}

/**
 * An inference Deployment for one model on one edge. GPU models ask for `nvidia.com/gpu`
 * only where the edge has GPUs (elsewhere they run on CPU, as the capacity model assumed).
 */
export function renderModelWorkload(model: LiveModel, edge: LiveEdge, cameras: number): Workload {
  const ns = edge.metadata.namespace!;
  const name = childName('model', model.metadata.name);
  const labels = {
    'app.kubernetes.io/name': 'vmsctl-model-worker',
    'app.kubernetes.io/part-of': 'vmsctl',
    'vmsctl.io/model': model.metadata.name,
    [WORKLOAD_LABEL]: name,
  };
  const gpu = hasGpu(edge) ? (model.spec.resources.gpu ?? 0) : 0;
  const limits: Record<string, string> = { memory: model.spec.resources.memory };
  if (gpu > 0) limits['nvidia.com/gpu'] = String(gpu);
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: childName('worker', model.metadata.name), namespace: ns, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: { 'vmsctl.io/model': model.metadata.name } },
      template: {
        metadata: { labels },
        spec: {
          priorityClassName: priorityClassName(model.spec.priority as PriorityName),
          ...(gpu > 0 ? { runtimeClassName: 'nvidia' } : {}),
          containers: [
            {
              name: 'worker',
              image: EDGE_IMAGE,
              args: [
                'edge',
                'worker',
                '--model',
                model.metadata.name,
                '--batch-size',
                String(model.spec.batchSize),
              ],
              env: [{ name: 'VMSCTL_CAMERAS', value: String(cameras) }],
              resources: {
                requests: {
                  cpu: model.spec.resources.cpu,
                  memory: model.spec.resources.memory,
                  ...(gpu > 0 ? { 'nvidia.com/gpu': String(gpu) } : {}),
                },
                limits,
              },
            },
          ],
        },
      },
    },
  };
  return { name, source: `AIModel/${model.metadata.name}`, objects: [deployment] };
}

/** The four PriorityClasses every edge gets, one per model priority. */
export function priorityClassesWorkload(): Workload {
  const objects = (Object.keys(PRIORITY_VALUES) as PriorityName[]).map((p) => ({
    apiVersion: 'scheduling.k8s.io/v1',
    kind: 'PriorityClass',
    metadata: {
      name: priorityClassName(p),
      labels: { 'app.kubernetes.io/part-of': 'vmsctl', [WORKLOAD_LABEL]: 'model-priorities' },
    },
    value: PRIORITY_VALUES[p],
    globalDefault: false,
    preemptionPolicy: p === 'CRITICAL' || p === 'HIGH' ? 'PreemptLowerPriority' : 'Never',
    description: `vmsctl ${p} analytics`,
  }));
  return { name: 'model-priorities', source: 'vmsctl', objects };
}

/** Digests of rendered model workloads, by what they are rendered from. */
const modelDigests = new Map<string, string>();
let priorityDigest: string | undefined;

/**
 * The model side of an edge's bundle: one inference Deployment per model that the edge's
 * camera workloads feed (their `models` are already filtered by license and compatibility),
 * plus the PriorityClasses, or nothing when no camera runs a model there.
 */
export function renderModelWorkloads(
  edge: LiveEdge,
  cameraWorkloads: readonly Workload[],
  modelOf: (name: string) => LiveModel | undefined,
): Workload[] {
  const users = new Map<string, number>();
  for (const w of cameraWorkloads)
    for (const m of w.models ?? []) users.set(m, (users.get(m) ?? 0) + 1);
  const workloads: Workload[] = [];
  for (const [m, count] of [...users].sort()) {
    const model = modelOf(m);
    if (!model) continue;
    const w = renderModelWorkload(model, edge, count);
    // A site pass renders every edge's models again; hashing them each time is wasted work.
    const inputs = JSON.stringify([
      model.metadata.uid,
      model.metadata.generation,
      edge.metadata.namespace,
      hasGpu(edge),
      count,
      EDGE_IMAGE,
    ]);
    const known = modelDigests.get(inputs);
    if (known) knownDigest(w, known);
    else {
      if (modelDigests.size > 10_000) modelDigests.clear();
      modelDigests.set(inputs, workloadDigest(w));
    }
    workloads.push(w);
  }
  if (workloads.length === 0) return [];
  const priorities = priorityClassesWorkload();
  if (priorityDigest) knownDigest(priorities, priorityDigest);
  else priorityDigest = workloadDigest(priorities);
  return [priorities, ...workloads];
}

/** The `model.vmsctl.io/<model>` labels of a bundle whose model workloads are these. */
export function modelLabels(modelWorkloads: readonly Workload[]): Record<string, string> {
  return Object.fromEntries(
    modelWorkloads
      .filter((w) => w.source.startsWith('AIModel/'))
      .map((w) => [modelLabel(w.source.slice(8)), 'true']),
  );
}
