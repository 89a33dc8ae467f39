import { fleetCache, type FleetCache } from '../cache/fleet-cache.js';
import {
  applyStatusIfChanged,
  Controller,
  mergeConditions,
  outcome,
  specOrMetaChanged,
  VMS,
  type Manager,
} from '../runtime/index.js';

export const AIMODEL_MANAGER = 'vmsctl-aimodel';

/**
 * The aimodel controller, keyed by model: reports where each model runs. Its inference
 * Deployments are rendered (model-workload.ts) into each edge's bundle by the same write as
 * the cameras that feed them: one writer per bundle makes one write and one release per
 * change, and an edge never gets cameras before their workers.
 */
export class AIModelReconciler {
  private readonly cache: FleetCache;
  constructor(private readonly mgr: Manager) {
    this.cache = fleetCache(mgr);
  }

  async reconcile(name: string): Promise<void> {
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
    { name: 'aimodel', workers: options.workers ?? 2, log: mgr.log, barrier: mgr.barrier },
    new AIModelReconciler(mgr),
  );
  controller.watch(cache.models, undefined, specOrMetaChanged);
  // Bundles change in bursts (a commit, a rollout): count a model's edges once per burst.
  controller.watch(
    cache.bundles,
    (b) =>
      (b.spec.workloads ?? [])
        .filter((w) => w.source.startsWith('AIModel/'))
        .map((w) => w.source.slice(8)),
    specOrMetaChanged,
    5_000,
  );
  mgr.add(controller);
  return controller;
}
