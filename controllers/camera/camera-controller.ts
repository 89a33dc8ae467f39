import { isDeepStrictEqual } from 'node:util';
import {
  edgeCapacity,
  parseResolution,
  parseResolutionClass,
  type EffectiveConfig,
} from '../../resources/index.js';
import {
  fleetCache,
  type FleetCache,
  type LiveBundle,
  type LiveCamera,
  type LiveEdge,
  type LiveRelease,
} from '../cache/fleet-cache.js';
import {
  applyStatusIfChanged,
  Controller,
  findCondition,
  isReady,
  keyOf,
  mergeConditions,
  specOrMetaChanged,
  VMS,
  type ConditionInput,
  type Manager,
  type ReconcileResult,
} from '../runtime/index.js';
import { placeSite, placementSite, type SitePlacement } from './placement.js';
import {
  applyBundle,
  bundleEquals,
  CAMERA_SHARE,
  hasOwner,
  MODEL_SHARE,
  type BundleShare,
} from './bundle-share.js';
import {
  MODEL_LABEL_PREFIX,
  modelLabels,
  renderModelWorkloads,
} from '../aimodel/model-workload.js';
import { textDigest } from './names.js';
import {
  EDGE_IMAGE,
  knownDigest,
  renderCameraWorkload,
  workloadDigest,
  workloadId,
  type Workload,
} from './render.js';

export const CAMERA_MANAGER = 'vmsctl-camera';
/**
 * A new camera's first status, and a changed Ready camera's next one, is held back this long
 * (from when it was first rendered into a bundle) while it is only waiting for its edge to
 * apply it: most cameras go straight to Ready, and 6,000 of them then cost one status write
 * each instead of two. One still waiting when the window ends gets its status then.
 */
export const SETTLE_MS = 30_000;
const DEFERRED = Symbol('deferred');

export interface CameraControllerOptions {
  now?: () => Date;
  workers?: number;
}

/** Models a camera may run: enabled, existing, purchased by the tenant and served by its stream. */
export function activeModels(
  cache: FleetCache,
  camera: LiveCamera,
  config: EffectiveConfig,
): { active: string[]; dropped: string[] } {
  const tenant = cache.tenants.get(camera.metadata.namespace!);
  const purchased = new Set(tenant?.spec.license.models ?? []);
  const spec = camera.spec;
  const stream =
    spec.analyticsStream === 'sub' && spec.streams.sub ? spec.streams.sub : spec.streams.main;
  const height = parseResolution(stream.resolution).height;
  const active: string[] = [];
  const dropped: string[] = [];
  for (const m of Object.keys(config.models).sort()) {
    const model = cache.models.get(m);
    if (!model) dropped.push(`${m} (no such AIModel)`);
    else if (!purchased.has(m)) dropped.push(`${m} (not in the tenant's license)`);
    else if (height < parseResolutionClass(model.spec.requirements.minResolution))
      dropped.push(
        `${m} (needs ${model.spec.requirements.minResolution}, stream is ${stream.resolution})`,
      );
    else active.push(m);
  }
  return { active, dropped };
}

/**
 * The camera controller, keyed by site: places the site's cameras on its edge servers (pin,
 * site, capacity, license), writes each camera's status, and renders the cameras' workloads
 * into each edge server's EdgeBundle. Working per site makes placement one consistent
 * decision instead of thousands of racing ones.
 */
export class CameraReconciler {
  private readonly cache: FleetCache;
  /** Digest of the last workload rendered for each camera (by uid) and of its inputs. */
  private readonly rendered = new Map<string, { inputs: string; digest: string }>();
  /** When each camera (by uid) without a status was first found waiting for its rollout. */
  private readonly pendingSince = new Map<string, number>();
  constructor(
    private readonly mgr: Manager,
    private readonly options: CameraControllerOptions = {},
  ) {
    this.cache = fleetCache(mgr);
    this.cache.cameras.on({
      delete: (c) => {
        this.pendingSince.delete(c.metadata.uid ?? '');
        this.rendered.delete(c.metadata.uid ?? '');
      },
    });
  }

  async reconcile(siteKey: string): Promise<ReconcileResult | void> {
    const p = placeSite(this.cache, siteKey, this.options.now?.() ?? new Date());
    const workloads = new Map<string, Workload[]>();
    for (const e of p.edges) workloads.set(e.metadata.name, []);
    const writes: Promise<unknown>[] = [];
    for (const camera of p.cameras) {
      const name = camera.metadata.name;
      const edgeName = p.placed.get(name);
      const config = p.configs.get(name);
      const models = config
        ? activeModels(this.cache, camera, config)
        : { active: [], dropped: [] };
      let workload: Workload | undefined;
      if (edgeName && config) {
        workload = this.render(camera, config, p, edgeName, models.active);
        workloads.get(edgeName)?.push(workload);
      }
      writes.push(this.writeCameraStatus(camera, p, edgeName, models, workload));
    }
    for (const edge of p.edges)
      writes.push(this.applyBundle(edge, workloads.get(edge.metadata.name) ?? []));
    const results = await Promise.all(writes);
    // Cameras whose first status was held back get one written when the window ends.
    if (results.includes(DEFERRED)) return { requeueAfterMs: SETTLE_MS };
  }

  /**
   * The camera's workload. Its digest is computed again only when what it is rendered from
   * changed: a site is reconciled on every report from its edges, and hashing every camera's
   * objects each time was most of the controller's work.
   */
  private render(
    camera: LiveCamera,
    config: EffectiveConfig,
    p: SitePlacement,
    edgeName: string,
    models: string[],
  ): Workload {
    const edge = p.edges.find((e) => e.metadata.name === edgeName);
    const capacity = edge && edgeCapacity(edge as never);
    const demand = p.demands.get(camera.metadata.name);
    // The spec is all of the camera a render reads; its generation says when it changed.
    const inputs = textDigest(
      JSON.stringify([camera.metadata.generation, config, demand, models, capacity, EDGE_IMAGE]),
    );
    const uid = camera.metadata.uid ?? '';
    const memo = this.rendered.get(uid);
    const workload = renderCameraWorkload(camera, config, demand, models, capacity);
    if (memo?.inputs === inputs) return knownDigest(workload, memo.digest);
    this.rendered.set(uid, { inputs, digest: workloadDigest(workload) });
    return workload;
  }

  private async writeCameraStatus(
    camera: LiveCamera,
    p: SitePlacement,
    edgeName: string | undefined,
    models: { active: string[]; dropped: string[] },
    workload: Workload | undefined,
  ): Promise<typeof DEFERRED | void> {
    const name = camera.metadata.name;
    const ns = camera.metadata.namespace!;
    const conds: ConditionInput[] = [];
    let ready: ConditionInput;
    if (camera.spec.enabled === false) {
      ready = {
        type: 'Ready',
        status: 'False',
        reason: 'Disabled',
        message: 'spec.enabled is false',
      };
    } else if (!p.license.licensed.has(name)) {
      const msg = `tenant license allows ${p.license.limit} camera(s) and ${p.license.enabled} are enabled; this one is not deployed`;
      conds.push({ type: 'Licensed', status: 'False', reason: 'OverCameraLimit', message: msg });
      ready = { type: 'Ready', status: 'False', reason: 'OverCameraLimit', message: msg };
    } else if (!edgeName) {
      const reason = p.unplaced.get(name) ?? 'no edge server could take it';
      conds.push({ type: 'Licensed', status: 'True', reason: 'WithinLimit', message: '' });
      conds.push({ type: 'Scheduled', status: 'False', reason: 'NoCapacity', message: reason });
      ready = { type: 'Ready', status: 'False', reason: 'NoCapacity', message: reason };
      conds.push({
        type: 'Stalled',
        status: 'True',
        reason: 'NoCapacity',
        message: `${reason}; add capacity or move the camera`,
      });
    } else {
      conds.push({ type: 'Licensed', status: 'True', reason: 'WithinLimit', message: '' });
      conds.push({
        type: 'Scheduled',
        status: 'True',
        reason: camera.spec.edgeServer ? 'Pinned' : 'Placed',
        message: `on edge server ${edgeName}`,
      });
      const edge = this.cache.edges.get(`${ns}/${edgeName}`);
      const release = this.cache.releases.get(`${ns}/${edgeName}`);
      // Judged on what the edge runs, not on the latest release: a rollout that changes
      // another camera of this edge does not make this one un-Ready.
      const deployed =
        !!workload && !!release?.status?.appliedWorkloads?.includes(workloadId(workload));
      const edgeReady = !!edge && isReady(edge);
      const failure = deployed ? undefined : releaseFailure(release);
      if (!edgeReady) {
        const why =
          findCondition(edge?.status?.conditions, 'Ready')?.message ||
          'edge server has not reported yet';
        conds.push({
          type: 'EdgeReady',
          status: 'False',
          reason: 'EdgeNotReady',
          message: `${edgeName}: ${why}`,
        });
        ready = {
          type: 'Ready',
          status: 'False',
          reason: 'EdgeNotReady',
          message: `edge server ${edgeName} is not ready: ${why}`,
        };
      } else if (failure) {
        // The agent says why it applies nothing (a payload it cannot read, a Role that may
        // not read the bundle): the camera says so too instead of "waiting".
        conds.push({ type: 'EdgeReady', status: 'True', reason: 'Heartbeating', message: '' });
        ready = {
          type: 'Ready',
          status: 'False',
          reason: 'EdgeApplyFailed',
          message: `edge server ${edgeName} could not apply its release: ${failure}`,
        };
      } else if (!deployed) {
        conds.push({ type: 'EdgeReady', status: 'True', reason: 'Heartbeating', message: '' });
        ready = {
          type: 'Ready',
          status: 'False',
          reason: 'RolloutPending',
          message: `waiting for edge server ${edgeName} to apply this camera's workload`,
        };
        conds.push({
          type: 'Reconciling',
          status: 'True',
          reason: 'RolloutPending',
          message: ready.message,
        });
      } else {
        conds.push({ type: 'EdgeReady', status: 'True', reason: 'Heartbeating', message: '' });
        ready = {
          type: 'Ready',
          status: 'True',
          reason: 'Deployed',
          message: `running on edge server ${edgeName}`,
        };
      }
    }
    if (models.dropped.length > 0) {
      conds.push({
        type: 'ModelsCompatible',
        status: 'False',
        reason: 'ModelsDropped',
        message: `not run: ${models.dropped.join(', ')}`,
      });
    } else {
      conds.push({ type: 'ModelsCompatible', status: 'True', reason: 'AllModelsRun', message: '' });
    }
    const status = {
      observedGeneration: camera.metadata.generation,
      conditions: mergeConditions(
        camera.status?.conditions,
        [ready, ...conds],
        camera.metadata.generation,
      ),
      edgeServer: edgeName,
      activeModels: models.active,
    };
    const uid = camera.metadata.uid ?? '';
    // Held too: an edge the edgeserver controller has not judged yet (it is about to).
    const edge = edgeName ? this.cache.edges.get(`${ns}/${edgeName}`) : undefined;
    const unjudged =
      ready.reason === 'EdgeNotReady' && !findCondition(edge?.status?.conditions, 'Ready');
    // A changed camera still running its previous spec keeps its Ready status (now behind
    // metadata.generation, which readers such as kstatus take as "in progress") until it runs
    // the new one: one status write per change instead of two.
    const readyForOlderSpec =
      findCondition(camera.status?.conditions, 'Ready')?.status === 'True' &&
      camera.status?.observedGeneration !== camera.metadata.generation;
    if (
      ((ready.reason === 'RolloutPending' || unjudged) && !camera.status?.conditions) ||
      (ready.reason === 'RolloutPending' && readyForOlderSpec)
    ) {
      const since = this.pendingSince.get(uid) ?? Date.now();
      this.pendingSince.set(uid, since);
      if (Date.now() - since < SETTLE_MS) return DEFERRED;
    }
    this.pendingSince.delete(uid);
    await applyStatusIfChanged(this.mgr.client, VMS['Camera']!, camera, status, CAMERA_MANAGER);
  }

  /**
   * Applies an edge's bundle if it changed: its cameras' workloads and the inference workers
   * they feed, in one write.
   */
  private async applyBundle(edge: LiveEdge, cameras: Workload[]): Promise<void> {
    const models = renderModelWorkloads(edge, cameras, (m) => this.cache.models.get(m));
    const shares: BundleShare[] = [{ name: CAMERA_SHARE, workloads: cameras }];
    // No model payload at all rather than an empty one: an edge without analytics.
    if (models.length > 0) shares.push({ name: MODEL_SHARE, workloads: models });
    const labels = modelLabels(models);
    const bundle = this.cache.bundles.get(keyOf(edge));
    const former = !!bundle && ownedByOthers(bundle);
    if (
      bundle &&
      !former &&
      bundleEquals(bundle, shares, labels, MODEL_LABEL_PREFIX) &&
      hasOwner(bundle, edge)
    )
      return;
    await applyBundle(this.mgr, edge, shares, CAMERA_MANAGER, labels);
    // After our apply, so every field it still needs is co-owned and stays.
    if (former) await releaseFormerWriter(this.mgr, bundle);
  }
}

/** Why the edge's agent could not apply its current release, if it said so. */
function releaseFailure(release: LiveRelease | undefined): string | undefined {
  const c = findCondition(release?.status?.conditions, 'Ready');
  if (!release || c?.status !== 'False') return undefined;
  if ((c.observedGeneration ?? 0) < (release.metadata.generation ?? 0)) return undefined;
  return c.message || c.reason;
}

/**
 * Earlier versions had the aimodel controller apply the model half of each bundle. Fields it
 * still co-owns would outlive their removal from this controller's apply (SSA keeps a field
 * any manager still applies), so it is made to let go of them once.
 */
const FORMER_BUNDLE_WRITERS = ['vmsctl-aimodel'];

function ownedByOthers(bundle: LiveBundle): boolean {
  return !!bundle.metadata.managedFields?.some(
    (e) => FORMER_BUNDLE_WRITERS.includes(e.manager ?? '') && !e.subresource,
  );
}

async function releaseFormerWriter(mgr: Manager, bundle: LiveBundle): Promise<void> {
  for (const manager of FORMER_BUNDLE_WRITERS)
    await mgr.client.apply(
      VMS['EdgeBundle']!,
      { metadata: { name: bundle.metadata.name, namespace: bundle.metadata.namespace } },
      { fieldManager: manager, force: true },
    );
}

/** Wires the camera controller into a manager. */
export function setupCameraController(
  mgr: Manager,
  options: CameraControllerOptions = {},
): Controller {
  const cache = fleetCache(mgr);
  const controller = new Controller(
    { name: 'camera', workers: options.workers ?? 4, log: mgr.log, barrier: mgr.barrier },
    new CameraReconciler(mgr, options),
  );
  const sitesOfNamespace = (ns: string) =>
    cache.sites.byIndex('namespace', ns).map((s) => keyOf(s));
  controller.watch(
    cache.cameras,
    (c) => {
      const keys = [placementSite(cache, c), `${c.metadata.namespace}/${c.spec.site}`];
      const on =
        c.status?.edgeServer && cache.edges.get(`${c.metadata.namespace}/${c.status.edgeServer}`);
      if (on) keys.push(`${c.metadata.namespace}/${on.spec.site}`);
      // Over the license, any camera change can move the line between licensed and not.
      const tenant = cache.tenants.get(c.metadata.namespace!);
      if (
        tenant &&
        cache.cameras.countByIndex('namespace', c.metadata.namespace!) >
          tenant.spec.license.cameraLimit
      ) {
        keys.push(...sitesOfNamespace(c.metadata.namespace!));
      }
      return keys;
    },
    specOrMetaChanged,
    1_000,
  );
  controller.watch(cache.sites);
  controller.watch(
    cache.edges,
    (e) => [`${e.metadata.namespace}/${e.spec.site}`],
    // Also when an edge is judged for the first time: its cameras' first status waits for it.
    (a, b) =>
      specOrMetaChanged(a, b) ||
      isReady(a) !== isReady(b) ||
      !findCondition(a.status?.conditions, 'Ready') !==
        !findCondition(b.status?.conditions, 'Ready'),
  );
  controller.watch(cache.tenants, (t) => sitesOfNamespace(t.metadata.name), specOrMetaChanged);
  controller.watch(cache.models, () => cache.sites.list().map((s) => keyOf(s)), specOrMetaChanged);
  // An edge reporting what it applied is what turns cameras Ready: that visit goes first.
  // Only what the edge runs matters to a camera: a release not yet applied anywhere (the
  // rollout controller's own write, most of all a new one) changes no camera's status.
  controller.watch(
    cache.releases,
    (r) => {
      const edge = cache.edges.get(`${r.metadata.namespace}/${r.spec.edgeServer}`);
      return edge && (r.status?.appliedWorkloads || releaseFailure(r))
        ? [`${r.metadata.namespace}/${edge.spec.site}`]
        : [];
    },
    (a, b) =>
      a.spec.edgeServer !== b.spec.edgeServer ||
      !isDeepStrictEqual(a.status?.appliedWorkloads, b.status?.appliedWorkloads) ||
      releaseFailure(a) !== releaseFailure(b),
    0,
    true,
  );
  controller.watch(
    cache.bundles,
    (b) => {
      const edge = cache.edges.get(`${b.metadata.namespace}/${b.spec.edgeServer}`);
      return edge ? [`${b.metadata.namespace}/${edge.spec.site}`] : [];
    },
    specOrMetaChanged,
    1_000,
  );
  mgr.add(controller);
  return controller;
}
