import { isSubset } from '../apply/apply-set.js';
import {
  Controller,
  CORE,
  specOrMetaChanged,
  type KubeObject,
  type Manager,
  type ReconcileResult,
} from '../runtime/index.js';
import { crdObjects, INSTALL_FIELD_MANAGER, waitEstablished } from './crds.js';

/** Label every vmsctl CRD carries; the guard watches only those. */
export const CRD_PART_OF_SELECTOR = 'app.kubernetes.io/part-of=vmsctl';

export interface CrdGuardOptions {
  /**
   * Called once a CRD that was missing is installed and served again. Every object of that
   * kind went with it (the apiserver deletes a CRD's objects first), so whoever owns them
   * (fleet-sync) should re-apply now rather than at its next interval.
   */
  onRestored?: (crdName: string) => void;
  /** How long to wait for a re-applied CRD to be served before trying again. */
  establishTimeoutMs?: number;
}

/**
 * crd-guard: keeps the vmsctl CustomResourceDefinitions installed as this build generates
 * them. A CRD that is deleted (`kubectl delete crd cameras.vmsctl.io`) is re-applied as soon
 * as the apiserver has finished removing it (re-applying while it terminates would be undone
 * by the deletion), and one whose spec or labels were edited is put back, with the same field
 * manager as `vmsctl install`. Informers of the kind keep retrying meanwhile and relist once
 * it is served again; `onRestored` lets the owner of the objects re-create them at once.
 * It never deletes anything and ignores CRDs with the label that this build does not know
 * (a newer kind installed by a newer release).
 */
export class CrdGuardReconciler {
  private readonly desired = new Map(crdObjects().map((c) => [c.metadata.name, c]));

  constructor(
    private readonly mgr: Manager,
    private readonly crds: ReturnType<typeof crdInformer>,
    private readonly options: CrdGuardOptions = {},
  ) {}

  /** Names of the CRDs the guard keeps. */
  names(): string[] {
    return [...this.desired.keys()];
  }

  async reconcile(name: string): Promise<ReconcileResult | void> {
    const want = this.desired.get(name);
    if (!want) return;
    const live = this.crds.get(name);
    // Being deleted: its objects are being removed; come back when it is gone.
    if (live?.metadata.deletionTimestamp) return { requeueAfterMs: 2_000 };
    if (live && upToDate(want, live)) return;
    this.mgr.log.warn(
      live ? 'vmsctl CRD was changed, re-applying it' : 'vmsctl CRD is missing, re-applying it',
      { crd: name },
    );
    await this.mgr.client.apply(CORE.CustomResourceDefinition, want, {
      fieldManager: INSTALL_FIELD_MANAGER,
      force: true,
    });
    if (live) return;
    await waitEstablished(this.mgr.client, [name], this.options.establishTimeoutMs ?? 30_000);
    this.mgr.log.info('vmsctl CRD restored', { crd: name });
    this.options.onRestored?.(name);
  }
}

/** Whether the live CRD carries everything the generated one sets (server defaults are fine). */
function upToDate(want: KubeObject, live: KubeObject): boolean {
  return (
    isSubset(want.metadata.labels ?? {}, live.metadata.labels ?? {}) &&
    isSubset(want.spec ?? {}, live.spec ?? {})
  );
}

function crdInformer(mgr: Manager) {
  return mgr.informer<KubeObject>(CORE.CustomResourceDefinition, {
    labelSelector: CRD_PART_OF_SELECTOR,
  });
}

/** Wires the crd-guard controller into a manager; every CRD is checked once at start. */
export function setupCrdGuard(mgr: Manager, options: CrdGuardOptions = {}): Controller {
  const crds = crdInformer(mgr);
  const reconciler = new CrdGuardReconciler(mgr, crds, options);
  const controller = new Controller(
    { name: 'crd-guard', workers: 1, log: mgr.log, baseDelayMs: 500, maxDelayMs: 30_000 },
    reconciler,
  );
  // Status updates (Established, accepted names) are not drift; spec, labels and deletion are.
  controller.watch(crds, undefined, specOrMetaChanged);
  // A CRD missing before the controllers start produces no event: look at each once.
  for (const name of reconciler.names()) controller.queue.add(name);
  mgr.add(controller);
  return controller;
}
