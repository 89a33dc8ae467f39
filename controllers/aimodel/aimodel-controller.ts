import {
  fleetCache,
  type FleetCache,
  type LiveEdge,
  type LiveModel,
} from '../cache/fleet-cache.js';
import { applyBundleShare, MODEL_SHARE, ownedEntriesEqual } from '../camera/bundle-share.js';
import { childName } from '../camera/names.js';
import {
  EDGE_IMAGE,
  PRIORITY_VALUES,
  priorityClassName,
  WORKLOAD_LABEL,
  type PriorityName,
  type Workload,
} from '../camera/render.js';
import {
  applyStatusIfChanged,
  Controller,
  keyOf,
  mergeConditions,
  outcome,
  specOrMetaChanged,
  VMS,
  type Manager,
} from '../runtime/index.js';

export const AIMODEL_MANAGER = 'vmsctl-aimodel';

/** Label on the EdgeBundles of the edges that run a model. */
export function modelLabel(model: string): string {
  return `model.vmsctl.io/${model}`;
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
  const hasGpu = (edge.spec.hardware.gpus ?? []).some((g) => g.count > 0);
  const gpu = hasGpu ? (model.spec.resources.gpu ?? 0) : 0;
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

/**
 * The aimodel controller, keyed by edge server: renders an inference Deployment for each
 * model that the edge's placed cameras run (active models are already filtered by license
 * and compatibility), plus the PriorityClasses, into its share of the EdgeBundle.
 */
export class AIModelReconciler {
  private readonly cache: FleetCache;
  constructor(private readonly mgr: Manager) {
    this.cache = fleetCache(mgr);
  }

  async reconcile(key: string): Promise<void> {
    if (key.startsWith('model:')) {
      await this.modelStatus(key.slice(6));
      return;
    }
    const edge = this.cache.edges.get(key);
    if (!edge || edge.metadata.deletionTimestamp) return;
    // The camera share of the bundle says which models its cameras feed: reading it (not
    // camera status) renders the models in the same burst as the cameras.
    const users = new Map<string, number>();
    for (const w of this.cache.bundles.get(key)?.spec.workloads ?? []) {
      if (!w.source.startsWith('Camera/')) continue;
      for (const m of w.models ?? []) users.set(m, (users.get(m) ?? 0) + 1);
    }
    const workloads: Workload[] = [];
    for (const [m, count] of [...users].sort()) {
      const model = this.cache.models.get(m);
      if (model) workloads.push(renderModelWorkload(model, edge, count));
    }
    if (workloads.length > 0) workloads.unshift(priorityClassesWorkload());
    const bundle = this.cache.bundles.get(key);
    // No share at all yet and nothing to run: nothing to write.
    if (!bundle?.spec.payloads?.some((p) => p.name === MODEL_SHARE) && workloads.length === 0)
      return;
    if (bundle && ownedEntriesEqual(bundle, workloads, MODEL_SHARE)) return;
    // Labelled per model so `kubectl get edgebundles -l model.vmsctl.io/<name>` lists its edges.
    const labels = Object.fromEntries(
      workloads
        .filter((w) => w.source.startsWith('AIModel/'))
        .map((w) => [modelLabel(w.source.slice(8)), 'true']),
    );
    await applyBundleShare(this.mgr, edge, MODEL_SHARE, workloads, AIMODEL_MANAGER, labels);
  }

  /** AIModel status: which edge servers run it. */
  private async modelStatus(name: string): Promise<void> {
    const model = this.cache.models.get(name);
    if (!model) return;
    // A count, not the list: at 800 edges the list made every status write ~30 KB.
    const count = this.cache.bundles.countByIndex('source', `AIModel/${name}`);
    await applyStatusIfChanged(
      this.mgr.client,
      VMS['AIModel']!,
      model,
      {
        observedGeneration: model.metadata.generation,
        conditions: mergeConditions(
          model.status?.conditions,
          outcome(
            true,
            count ? 'InUse' : 'Unused',
            count ? `rendered for ${count} edge server(s)` : 'no camera runs this model',
          ),
          model.metadata.generation,
        ),
        edgeServerCount: count,
      },
      AIMODEL_MANAGER,
    );
  }
}

/** Wires the aimodel controller into a manager. */
export function setupAIModelController(
  mgr: Manager,
  options: { workers?: number } = {},
): Controller {
  const cache = fleetCache(mgr);
  const controller = new Controller(
    { name: 'aimodel', workers: options.workers ?? 4, log: mgr.log, barrier: mgr.barrier },
    new AIModelReconciler(mgr),
  );
  controller.watch(cache.edges, undefined, specOrMetaChanged);
  controller.watch(
    cache.models,
    (m) => [`model:${m.metadata.name}`, ...cache.edges.list().map((e) => keyOf(e))],
    specOrMetaChanged,
  );
  // Bundles change in bursts (a commit, an edge's rollout): render once per burst, and count
  // a model's edges less often still (its status lists them: hundreds of names).
  controller.watch(cache.bundles, (b) => [keyOf(b)], specOrMetaChanged, 1_000);
  controller.watch(
    cache.bundles,
    (b) =>
      (b.spec.workloads ?? [])
        .filter((w) => w.source.startsWith('AIModel/'))
        .map((w) => `model:${w.source.slice(8)}`),
    specOrMetaChanged,
    5_000,
  );
  mgr.add(controller);
  return controller;
}
