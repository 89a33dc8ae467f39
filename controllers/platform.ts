import { setupAIModelController } from './aimodel/aimodel-controller.js';
import { fleetCache } from './cache/fleet-cache.js';
import { setupCameraController } from './camera/camera-controller.js';
import { setupEdgeServerController } from './edgeserver/edgeserver-controller.js';
import { setupFleetSync, type FleetSyncReconciler } from './fleet-sync/fleet-sync-controller.js';
import { setupCrdGuard } from './install/crd-guard.js';
import { setupRolloutController } from './rollout/rollout-controller.js';
import { keyOf, Manager, type KubeClient, type Logger } from './runtime/index.js';
import { setupTenantController } from './tenant/tenant-controller.js';

export interface ControlPlaneOptions {
  client: KubeClient;
  log: Logger;
  /** Where fleet-sync keeps Git checkouts. */
  cacheDir: string;
  systemNamespace?: string;
  /** Lease name for leader election (omit for a single replica without election). */
  leaseName?: string;
  webhookPort?: number;
  resyncMs?: number;
  now?: () => Date;
}

export interface ControlPlane {
  manager: Manager;
  fleetSync: FleetSyncReconciler;
}

/** Builds the cloud control plane: every controller on one manager, sharing its informers. */
export async function createControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const systemNamespace = options.systemNamespace ?? 'vmsctl-system';
  const manager = new Manager({
    client: options.client,
    log: options.log,
    namespace: systemNamespace,
    leaseName: options.leaseName,
    resyncMs: options.resyncMs,
  });
  fleetCache(manager);
  const fleetSync = await setupFleetSync(manager, {
    cacheDir: options.cacheDir,
    systemNamespace,
    webhookPort: options.webhookPort,
    now: options.now,
  });
  setupTenantController(manager, { now: options.now, systemNamespace });
  setupEdgeServerController(manager, { now: options.now });
  setupCameraController(manager, { now: options.now });
  setupAIModelController(manager);
  setupRolloutController(manager);
  // A deleted vmsctl CRD takes all its objects with it: put the CRD back, then have
  // fleet-sync re-create the objects from Git now instead of at its next interval.
  setupCrdGuard(manager, {
    onRestored: () => {
      const controller = manager.controller('fleet-sync');
      for (const fs of fleetCache(manager).fleetSyncs.list()) controller?.queue.add(keyOf(fs));
    },
  });
  return { manager, fleetSync };
}
