import { KubeConfig } from '@kubernetes/client-node';
import { heartbeatLeaseName, type EdgeCredentials } from '../edgeserver/registration.js';
import type { LiveBundle, LiveRelease } from '../cache/fleet-cache.js';
import { unpackPayload } from '../apply/payload.js';
import { bundleRevision } from '../camera/bundle-share.js';
import {
  Controller,
  CORE,
  Informer,
  KubeApiError,
  KubeClient,
  mergeConditions,
  microTime,
  outcome,
  typeOf,
  VMS,
  type ConditionInput,
  type KubeObject,
  type Logger,
  type ResourceType,
} from '../runtime/index.js';

export const EDGE_AGENT_MANAGER = 'vmsctl-edge-agent';
/** Label on everything the agent applied in the edge cluster (its prune inventory). */
export const MANAGED_BY_LABEL = 'vmsctl.io/managed-by';
export const RELEASE_LABEL = 'vmsctl.io/release';

/** Kinds a release may contain; prune looks for leftovers of exactly these. */
const PRUNABLE: ResourceType[] = [CORE.Deployment, CORE.ConfigMap, CORE.PriorityClass];

export interface EdgeAgentOptions {
  /** Client for the cloud cluster with the edge's own least-privilege token. */
  cloud: KubeClient;
  /** Client for the local (k3s) cluster. */
  edge: KubeClient;
  namespace: string;
  edgeName: string;
  heartbeatMs?: number;
  version?: string;
  log: Logger;
}

/** A client for the cloud from the credentials `vmsctl edge join` issued. */
export function cloudClient(creds: EdgeCredentials): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'cloud', server: creds.server, caData: creds.caData, skipTLSVerify: false }],
    users: [{ name: 'edge-agent', token: creds.token }],
    contexts: [{ name: 'cloud', cluster: 'cloud', user: 'edge-agent' }],
    currentContext: 'cloud',
  });
  return new KubeClient(kc, `vmsctl-edge-agent/${creds.edge}`);
}

/**
 * The edge agent, one per k3s edge cluster. It dials out to the cloud (so it works behind NAT),
 * watches only its own EdgeBundle and EdgeRelease (its token can read nothing else), and once
 * the bundle is at the revision the release allows, applies the bundle's objects to the local
 * cluster with server-side apply, prunes what an earlier release had and this one lacks, and
 * reports the applied revision in the release's status. It heartbeats by renewing its Lease
 * (see heartbeat.ts) and writes its EdgeServer's status only to say what it runs.
 */
export class EdgeAgent {
  private readonly releases: Informer<LiveRelease>;
  private readonly bundles: Informer<LiveBundle>;
  private readonly controller: Controller;
  private heartbeatTimer?: NodeJS.Timeout;
  private stopped = false;
  private kubernetesVersion?: string;
  /** What the EdgeServer status last said the agent runs (written again only when it changes). */
  private reported?: string;
  /** The read failure last reported in the release (each distinct one is written once). */
  private readProblem?: string;
  /** The read failure last logged. */
  private loggedProblem?: string;

  constructor(private readonly options: EdgeAgentOptions) {
    const own = {
      namespace: options.namespace,
      fieldSelector: `metadata.name=${options.edgeName}`,
    };
    this.releases = new Informer<LiveRelease>(options.cloud, VMS['EdgeRelease']!, {
      ...own,
      onError: (err) => void this.readFailed('EdgeRelease', err),
    });
    this.bundles = new Informer<LiveBundle>(options.cloud, VMS['EdgeBundle']!, {
      ...own,
      onError: (err) => void this.readFailed('EdgeBundle', err),
    });
    this.controller = new Controller(
      { name: 'edge-agent', workers: 1, log: options.log, baseDelayMs: 500, maxDelayMs: 60_000 },
      { reconcile: () => this.applyRelease() },
    );
    this.controller.watch(
      this.releases,
      () => ['release'],
      (a, b) =>
        a.spec.revision !== b.spec.revision || a.metadata.generation !== b.metadata.generation,
    );
    // A release can arrive before the bundle write it was made from reaches this watch.
    this.controller.watch(
      this.bundles,
      () => ['release'],
      (a, b) => a.metadata.generation !== b.metadata.generation,
    );
  }

  /**
   * Starts heartbeating (resolves after the first heartbeat) and, once its bundle and release
   * are cached, applying.
   */
  async start(): Promise<void> {
    const version = await this.options.edge
      .request<{ gitVersion?: string }>('GET', '/version')
      .catch(() => undefined);
    this.kubernetesVersion = version?.gitVersion;
    this.releases.start();
    this.bundles.start();
    // Heartbeats do not wait for the caches: an agent that cannot read its bundle (a Role
    // from an older vmsctl) is alive, keeps what runs, and says why it applies nothing
    // (readFailed) instead of going silent until its edge is marked unreachable.
    await this.heartbeat();
    const tick = () => {
      // A heartbeat in flight when stop() ran must not schedule another one.
      if (this.stopped) return;
      this.heartbeatTimer = setTimeout(() => {
        void this.heartbeat().finally(tick);
      }, this.options.heartbeatMs ?? 15_000);
    };
    tick();
    // Applying starts once both caches are filled, which a 403 can hold off indefinitely.
    void Promise.all([this.releases.waitForSync(), this.bundles.waitForSync()]).then(() => {
      if (this.stopped) return;
      this.controller.start();
      this.controller.queue.add('release');
    });
  }

  /**
   * A list or watch of the agent's own bundle or release failed. A 403 does not pass with
   * retrying (the informer retries anyway, so a widened Role takes effect by itself): it is
   * logged with the command that fixes it and, when the release can be written, reported in
   * its status, once per distinct cause.
   */
  private async readFailed(kind: 'EdgeBundle' | 'EdgeRelease', err: unknown): Promise<void> {
    if (!(err instanceof KubeApiError) || err.statusCode !== 403) return;
    const { namespace, edgeName, log } = this.options;
    const message =
      `this agent may not read its ${kind} ${namespace}/${edgeName} (403 Forbidden): its Role ` +
      `was made by an older vmsctl or edited; run \`vmsctl edge join --edge ${namespace}/${edgeName}\` ` +
      `again to renew it. Nothing is applied or pruned until then; what runs on the edge stays.`;
    if (this.readProblem === message) return;
    if (this.loggedProblem !== message) {
      this.loggedProblem = message;
      log.error('cannot read its own desired state', {
        kind,
        edge: `${namespace}/${edgeName}`,
        next: `run \`vmsctl edge join --edge ${namespace}/${edgeName}\` again`,
      });
    }
    // Not cached yet (or unreadable itself): the next failed retry tries again.
    const release = this.releases.get(`${namespace}/${edgeName}`);
    if (!release) return;
    try {
      await this.reportRelease(release, outcome(false, 'Forbidden', message));
      this.readProblem = message;
    } catch (e) {
      log.warn('could not report on the release', { error: (e as Error).message });
    }
  }

  /** Applies the release's status: its current fields with these conditions. */
  private async reportRelease(
    release: LiveRelease,
    conditions: ConditionInput[],
    fields: Record<string, unknown> = {},
  ): Promise<void> {
    await this.options.cloud.apply(
      VMS['EdgeRelease']!,
      {
        metadata: { name: this.options.edgeName, namespace: this.options.namespace },
        status: {
          // Everything in this status is the agent's own: leaving a field out would remove it.
          ...release.status,
          observedGeneration: release.metadata.generation,
          conditions: mergeConditions(
            release.status?.conditions,
            conditions,
            release.metadata.generation,
          ),
          ...fields,
        },
      },
      { fieldManager: EDGE_AGENT_MANAGER, force: true, subresource: 'status' },
    );
  }

  /**
   * Renews the agent's heartbeat Lease, after telling the EdgeServer status what the agent
   * runs if that changed (or was never said).
   */
  async heartbeat(): Promise<void> {
    const { cloud, edgeName, namespace } = this.options;
    try {
      const agent = {
        version: this.options.version ?? '0.1.0',
        kubernetesVersion: this.kubernetesVersion,
      };
      const report = JSON.stringify(agent);
      if (this.reported !== report) {
        await cloud.apply(
          VMS['EdgeServer']!,
          { metadata: { name: edgeName, namespace }, status: { agent } },
          { fieldManager: EDGE_AGENT_MANAGER, force: true, subresource: 'status' },
        );
        this.reported = report;
      }
      await cloud.apply(
        CORE.Lease,
        {
          metadata: { name: heartbeatLeaseName(edgeName), namespace },
          spec: { holderIdentity: edgeName, renewTime: microTime() },
        },
        { fieldManager: EDGE_AGENT_MANAGER, force: true },
      );
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.options.log.warn('heartbeat failed', {
        error: message,
        // The Lease is made by registration; an agent registered by an older vmsctl has none.
        ...(/not found|forbidden/i.test(message)
          ? { next: `run \`vmsctl edge join\` for ${namespace}/${edgeName} again` }
          : {}),
      });
    }
  }

  private async applyRelease(): Promise<void> {
    const key = `${this.options.namespace}/${this.options.edgeName}`;
    const release = this.releases.get(key);
    const bundle = this.bundles.get(key);
    if (!release || !bundle) return;
    // The bundle moved past the released revision (or this watch has not seen it get there
    // yet): what runs stays, and the rollout releases the bundle's current revision next.
    if (bundleRevision(bundle) !== release.spec.revision) {
      this.options.log.debug('bundle is not at the released revision; waiting', {
        released: release.spec.revision,
        bundle: bundleRevision(bundle),
      });
      return;
    }
    const edge = this.options.edge;
    const failed: { id: string; message: string }[] = [];
    const keep = new Set<string>();
    await edge.apply(
      CORE.Namespace,
      {
        metadata: {
          name: this.options.namespace,
          labels: { [MANAGED_BY_LABEL]: EDGE_AGENT_MANAGER },
        },
      },
      {
        fieldManager: EDGE_AGENT_MANAGER,
        force: true,
      },
    );
    let objects = 0;
    for (const raw of this.releasedObjects(release, bundle, failed)) {
      objects++;
      const type = typeOf(raw);
      const id = `${raw.kind}/${raw.metadata?.namespace ? `${raw.metadata.namespace}/` : ''}${raw.metadata?.name}`;
      if (!type) {
        failed.push({ id, message: `unknown kind ${raw.apiVersion}/${raw.kind}` });
        continue;
      }
      const obj: KubeObject = {
        ...raw,
        metadata: {
          ...raw.metadata,
          ...(type.namespaced
            ? { namespace: raw.metadata.namespace ?? this.options.namespace }
            : {}),
          labels: {
            ...raw.metadata.labels,
            [MANAGED_BY_LABEL]: EDGE_AGENT_MANAGER,
            [RELEASE_LABEL]: this.options.edgeName,
          },
        },
      };
      keep.add(`${type.kind}/${obj.metadata.namespace ?? ''}/${obj.metadata.name}`);
      try {
        await edge.apply(type, obj, { fieldManager: EDGE_AGENT_MANAGER, force: true });
      } catch (err) {
        failed.push({ id, message: err instanceof Error ? err.message : String(err) });
      }
    }
    // Prune only after a complete apply: a half-applied release must not remove the old one.
    if (failed.length === 0) {
      for (const type of PRUNABLE) {
        const { items } = await edge.list(type, {
          labelSelector: `${MANAGED_BY_LABEL}=${EDGE_AGENT_MANAGER},${RELEASE_LABEL}=${this.options.edgeName}`,
        });
        for (const o of items) {
          if (!keep.has(`${type.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`))
            await edge.delete(type, o.metadata);
        }
      }
    }
    const ok = failed.length === 0;
    this.readProblem = this.loggedProblem = undefined;
    await this.reportRelease(
      release,
      outcome(
        ok,
        ok ? 'Applied' : 'ApplyFailed',
        ok
          ? `revision ${release.spec.revision} applied`
          : `${failed.length} object(s) failed: ${failed
              .slice(0, 5)
              .map((f) => `${f.id}: ${f.message}`)
              .join('; ')}`,
      ),
      {
        ...(ok
          ? { appliedRevision: release.spec.revision, appliedWorkloads: release.spec.workloads }
          : {}),
        appliedObjects: objects - failed.length,
        failedObjects: failed,
        lastAppliedTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      },
    );
    if (!ok) throw new Error(`release ${release.spec.revision}: ${failed.length} object(s) failed`);
  }

  /**
   * The objects of every workload the release lists, from the bundle's payloads. A payload
   * that cannot be read, or a workload missing from them, is reported as failed (and nothing
   * is pruned).
   */
  private releasedObjects(
    release: LiveRelease,
    bundle: LiveBundle,
    failed: { id: string; message: string }[],
  ): KubeObject[] {
    const byWorkload = new Map<string, Record<string, unknown>[]>();
    for (const p of bundle.spec.payloads ?? []) {
      try {
        for (const [name, objs] of unpackPayload(p)) byWorkload.set(name, objs);
      } catch (err) {
        failed.push({ id: `payload/${p.name}`, message: (err as Error).message });
      }
    }
    const out: KubeObject[] = [];
    for (const id of release.spec.workloads) {
      const name = id.slice(0, id.lastIndexOf('@'));
      const objs = byWorkload.get(name);
      if (objs) out.push(...(objs as KubeObject[]));
      else failed.push({ id: `workload/${name}`, message: 'not in any payload of the bundle' });
    }
    return out;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.heartbeatTimer);
    await this.controller.stop();
    this.releases.stop();
    this.bundles.stop();
    this.options.cloud.close();
    this.options.edge.close();
  }
}
