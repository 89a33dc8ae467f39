import { stat } from 'node:fs/promises';
import path from 'node:path';
import {
  formatDiagnostic,
  loadFleetDir,
  validateFleet,
  type Condition,
  type FleetSync,
} from '../../resources/index.js';
import {
  applyObjects,
  applyRank,
  desiredObject,
  objectId,
  SOURCE_LABEL,
  tenantNamespaces,
  type ApplyOutcome,
} from '../apply/apply-set.js';
import { fleetCache, type FleetCache, type LiveFleetSync } from '../cache/fleet-cache.js';
import {
  applyStatusIfChanged,
  Controller,
  CORE,
  mergeConditions,
  outcome,
  specOrMetaChanged,
  typeOf,
  VMS,
  type ConditionInput,
  type KubeClient,
  type KubeObject,
  type Manager,
  type ReconcileResult,
} from '../runtime/index.js';
import { parseDuration } from './duration.js';
import { GitSource, type GitCredentials } from './git-source.js';
import { startWebhookServer } from './webhook.js';

export const FLEET_SYNC_MANAGER = 'vmsctl-fleet-sync';
/** Annotation that asks for a reconcile now (its value, any string, is echoed in status). */
export const RECONCILE_REQUEST_ANNOTATION = 'reconcile.vmsctl.io/requestedAt';

type Status = NonNullable<FleetSync['status']>;
type InventoryEntry = { id: string; v: string };

export interface FleetSyncOptions {
  /** Where repositories are fetched to. */
  cacheDir: string;
  /** Namespace of credential and webhook secrets. */
  systemNamespace: string;
  /** Serve push webhooks on this port (omit: no webhook server). */
  webhookPort?: number;
  /** Clock for license checks (tests pin it). */
  now?: () => Date;
  workers?: number;
}

/** The label value that marks objects of one FleetSync. */
export function sourceOf(name: string): string {
  return `fleetsync.${name}`;
}

/**
 * fleet-sync: Git → cluster, Flux style. Each reconcile fetches the FleetSync's branch or tag,
 * validates the whole revision with the same code as `vmsctl validate` (an invalid revision
 * changes nothing and says why, with file:line), server-side applies what changed, and prunes
 * what left Git using the inventory kept in status. Suspend stops it; the requestedAt
 * annotation or a signed webhook reconciles at once; otherwise it polls at spec.interval.
 */
export class FleetSyncReconciler {
  private readonly cache: FleetCache;
  private readonly client: KubeClient;
  private readonly git: GitSource;
  /**
   * What the last apply of each FleetSync could not apply (tests, debugging). Only failures:
   * every outcome of a 7,500-object fleet would be kept for good, and its ids are slices of
   * the fleet files' text, which they would keep alive.
   */
  readonly lastFailures = new Map<string, ApplyOutcome[]>();

  constructor(
    private readonly mgr: Manager,
    private readonly options: FleetSyncOptions,
  ) {
    this.cache = fleetCache(mgr);
    this.client = mgr.client;
    this.git = new GitSource(options.cacheDir);
  }

  async reconcile(name: string): Promise<ReconcileResult | void> {
    const fs = this.cache.fleetSyncs.get(name);
    if (!fs || fs.metadata.deletionTimestamp) return;
    if (fs.spec.suspend) {
      this.mgr.log.debug('fleet sync suspended', { fleetsync: name });
      return;
    }
    const intervalMs = parseDuration(fs.spec.interval);
    const status: Status = { ...(fs.status ?? {}) };
    const requested = fs.metadata.annotations?.[RECONCILE_REQUEST_ANNOTATION];
    if (requested) status.lastHandledReconcileAt = requested;

    let fetched;
    try {
      const credentials = await this.credentials(fs);
      fetched = await this.git.fetch(fs.spec.url, fs.spec.ref, credentials);
    } catch (err) {
      // Keep what was applied; the cluster stays on the last good revision.
      await this.writeStatus(
        fs,
        status,
        outcome(false, 'GitOperationFailed', `fetching ${fs.spec.url} failed: ${message(err)}`),
      );
      return { requeueAfterMs: Math.min(intervalMs, 30_000) };
    }
    status.lastAttemptedRevision = fetched.revision;

    const fleetDir = path.resolve(fetched.dir, fs.spec.path ?? '.');
    if (
      !fleetDir.startsWith(fetched.dir) ||
      !(await stat(fleetDir).catch(() => undefined))?.isDirectory()
    ) {
      await this.writeStatus(
        fs,
        status,
        outcome(
          false,
          'PathNotFound',
          `path "${fs.spec.path}" is not a folder in ${fetched.revision}; nothing was applied`,
          'stalled',
        ),
      );
      return { requeueAfterMs: intervalMs };
    }
    const loaded = await loadFleetDir(fleetDir);
    const result = validateFleet(loaded, { now: this.options.now?.() ?? new Date() });
    const errors = result.diagnostics.filter((d) => d.severity === 'error');
    if (errors.length > 0) {
      const shown = errors.slice(0, 10).map(formatDiagnostic).join('\n');
      const more = errors.length > 10 ? `\n… and ${errors.length - 10} more` : '';
      await this.writeStatus(
        fs,
        status,
        outcome(
          false,
          'ValidationFailed',
          `revision ${fetched.revision} is invalid (${errors.length} error(s)); nothing was applied:\n${shown}${more}`,
          'stalled',
        ),
      );
      return { requeueAfterMs: intervalMs };
    }

    const source = sourceOf(name);
    const objects = result.fleet.unique().map((r) => desiredObject(r.resource, source));
    const namespaces = tenantNamespaces(objects, source);
    if (status.lastAppliedRevision !== fetched.revision) {
      await this.writeStatus(
        fs,
        status,
        [...outcome(false, 'Progressing', `applying revision ${fetched.revision}`, 'progressing')],
        fs.status?.conditions?.filter((c) => c.type === 'Ready'),
      );
    }
    const desiredInventory: InventoryEntry[] = objects
      .map((o) => ({ id: objectId(o), v: o.apiVersion! }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const previous = fs.status?.inventory?.entries ?? [];
    // The controllers downstream see the revision whole (applied and pruned) instead of
    // object by object.
    const release = this.mgr.barrier.hold(`fleetsync/${name}`);
    let outcomes: ApplyOutcome[];
    let pruned = 0;
    try {
      outcomes = await applyObjects(this.client, [...namespaces, ...objects], {
        fieldManager: FLEET_SYNC_MANAGER,
        source,
        live: (id, type) => this.live(id, type.kind),
        concurrency: 24,
      });
      // Never prune after a partial apply: what failed may still be what replaces it.
      if (!outcomes.some((o) => o.action === 'failed') && fs.spec.prune !== false)
        pruned = await this.prune(previous, desiredInventory, source);
    } finally {
      release();
    }
    const failed = outcomes.filter((o) => o.action === 'failed');
    this.lastFailures.set(name, failed);
    if (failed.length > 0) {
      // Keep everything we may own in the inventory so a later prune still finds it.
      status.inventory = { entries: union(previous, desiredInventory) };
      const lines = failed
        .slice(0, 10)
        .map((f) => `${f.id}: ${f.error}`)
        .join('\n');
      await this.writeStatus(
        fs,
        status,
        outcome(
          false,
          'ApplyFailed',
          `${failed.length} object(s) of ${fetched.revision} could not be applied; nothing was pruned:\n${lines}`,
        ),
      );
      return { requeueAfterMs: Math.min(intervalMs, 30_000) };
    }

    const counts = { created: 0, configured: 0, unchanged: 0 };
    for (const o of outcomes)
      if (o.action !== 'failed' && !o.id.startsWith('Namespace/')) counts[o.action]++;
    const takeovers = outcomes.filter((o) => o.tookOverFrom?.length);
    status.inventory = { entries: desiredInventory };
    status.lastAppliedRevision = fetched.revision;
    if (counts.created + counts.configured + pruned > 0 || !status.lastApplied) {
      status.lastApplied = {
        ...counts,
        pruned,
        time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      };
    }
    let msg = `Applied revision: ${fetched.revision}`;
    if (takeovers.length > 0) {
      const who = [...new Set(takeovers.flatMap((t) => t.tookOverFrom!))].join(', ');
      msg += `; reverted manual changes by ${who} on ${takeovers
        .map((t) => t.id)
        .slice(0, 5)
        .join(', ')}`;
      this.mgr.log.warn('took over fields changed outside Git', {
        fleetsync: name,
        managers: who,
        objects: takeovers.length,
      });
    }
    await this.writeStatus(fs, status, outcome(true, 'ReconciliationSucceeded', msg));
    return { requeueAfterMs: intervalMs };
  }

  /** Deletes what the previous inventory had and the new one lacks, dependents first. */
  private async prune(
    previous: InventoryEntry[],
    desired: InventoryEntry[],
    source: string,
  ): Promise<number> {
    const keep = new Set(desired.map((e) => e.id));
    const stale = previous
      .filter((e) => !keep.has(e.id))
      .sort((a, b) => applyRank(b.id.split('/')[0]) - applyRank(a.id.split('/')[0]));
    let pruned = 0;
    for (const e of stale) {
      const [kind, ...rest] = e.id.split('/');
      const type = typeOf({ apiVersion: e.v, kind });
      if (!type) continue;
      const ref = rest.length === 2 ? { namespace: rest[0], name: rest[1]! } : { name: rest[0]! };
      const live = this.live(e.id, kind!) ?? (await this.client.get(type, ref));
      // Only what this FleetSync applied: something re-created by hand under the same name stays.
      if (!live || live.metadata.labels?.[SOURCE_LABEL] !== source) continue;
      if (await this.client.delete(type, ref, { uid: live.metadata.uid })) pruned++;
    }
    return pruned;
  }

  private live(id: string, kind: string): KubeObject | undefined {
    const informer = this.cache.ofKind(kind);
    if (!informer) return undefined;
    return informer.get(id.slice(kind.length + 1));
  }

  private async credentials(fs: LiveFleetSync): Promise<GitCredentials | undefined> {
    const ref = fs.spec.secretRef;
    if (!ref) return undefined;
    const data = await readSecret(this.client, this.options.systemNamespace, ref.name);
    if (!data) throw new Error(`secret ${this.options.systemNamespace}/${ref.name} not found`);
    return {
      username: data['username'],
      password: data['password'],
      identity: data['identity'],
      knownHosts: data['known_hosts'],
    };
  }

  private async writeStatus(
    fs: LiveFleetSync,
    status: Status,
    conditions: ConditionInput[],
    keep: Condition[] = [],
  ): Promise<void> {
    const kept = keep.filter((k) => !conditions.some((c) => c.type === k.type));
    const merged = mergeConditions(
      fs.status?.conditions,
      [...kept, ...conditions],
      fs.metadata.generation,
    );
    await applyStatusIfChanged(
      this.client,
      VMS['FleetSync']!,
      fs,
      {
        ...status,
        observedGeneration: fs.metadata.generation,
        conditions: merged,
      },
      FLEET_SYNC_MANAGER,
    );
  }
}

/** Decoded data of a Secret, or undefined when it does not exist. */
export async function readSecret(client: KubeClient, namespace: string, name: string) {
  const secret = await client.get<KubeObject & { data?: Record<string, string> }>(CORE.Secret, {
    namespace,
    name,
  });
  if (!secret) return undefined;
  return Object.fromEntries(
    Object.entries(secret.data ?? {}).map(([k, v]) => [
      k,
      Buffer.from(v, 'base64').toString('utf8'),
    ]),
  ) as Record<string, string>;
}

function union(a: InventoryEntry[], b: InventoryEntry[]): InventoryEntry[] {
  const map = new Map([...a, ...b].map((e) => [e.id, e]));
  return [...map.values()].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Wires the fleet-sync controller (and its webhook server, if configured) into a manager. */
export async function setupFleetSync(
  mgr: Manager,
  options: FleetSyncOptions,
): Promise<FleetSyncReconciler> {
  const reconciler = new FleetSyncReconciler(mgr, options);
  const controller = new Controller(
    {
      name: 'fleet-sync',
      workers: options.workers ?? 2,
      log: mgr.log,
      baseDelayMs: 1_000,
      maxDelayMs: 300_000,
    },
    reconciler,
  );
  const cache = fleetCache(mgr);
  // Its own status writes must not trigger another fetch: spec and annotations only.
  controller.watch(cache.fleetSyncs, undefined, specOrMetaChanged);
  mgr.add(controller);
  if (options.webhookPort !== undefined) {
    const server = await startWebhookServer({
      port: options.webhookPort,
      log: mgr.log,
      // A standby replica (the Service reaches both) asks the leader through the FleetSync.
      trigger: (name) => {
        if (mgr.isLeader()) controller.queue.add(name);
        else
          void mgr.client
            .mergePatch(
              VMS['FleetSync']!,
              { name },
              {
                metadata: {
                  annotations: { [RECONCILE_REQUEST_ANNOTATION]: `webhook-${Date.now()}` },
                },
              },
            )
            .catch((err: Error) =>
              mgr.log.warn('passing a webhook on to the leader failed', {
                fleetsync: name,
                error: err.message,
              }),
            );
      },
      secretOf: async (name) => {
        const fs = cache.fleetSyncs.get(name);
        const ref = fs?.spec.webhook?.secretRef;
        if (!ref) return undefined;
        const data = await readSecret(mgr.client, options.systemNamespace, ref.name);
        return data?.[ref.key ?? 'token'];
      },
    });
    mgr.onStop(() => new Promise<void>((resolve) => server.close(() => resolve())));
  }
  return reconciler;
}

export type { FleetSync };
