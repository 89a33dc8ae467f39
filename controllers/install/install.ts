import { isDeepStrictEqual } from 'node:util';
import { objectId } from '../apply/apply-set.js';
import {
  CORE,
  KubeApiError,
  typeOf,
  type KubeClient,
  type KubeObject,
  type ResourceType,
} from '../runtime/index.js';
import { crdObjects, INSTALL_FIELD_MANAGER, waitEstablished } from './crds.js';
import { installManifests, SYSTEM_NAMESPACE, type InstallManifestOptions } from './manifests.js';

export type InstallAction = 'created' | 'configured' | 'unchanged';

export interface InstallOutcome {
  /** `Kind/namespace/name` or `Kind/name`. */
  id: string;
  action: InstallAction;
  /** Why the server did not check it (a dry run into a namespace that does not exist yet). */
  note?: string;
}

export interface InstallOptions extends InstallManifestOptions {
  /** Server-side dry run: the apiserver validates and admits everything, stores nothing. */
  dryRun?: boolean;
  /** How long to wait for the CRDs to be served. */
  timeoutMs?: number;
}

/** Metadata the server changes on every write, and status: not part of what was applied. */
function comparable(o: KubeObject): unknown {
  const { resourceVersion, generation, managedFields, ...metadata } = o.metadata;
  void resourceVersion;
  void generation;
  void managedFields;
  const { status, ...rest } = o;
  void status;
  return { ...rest, metadata };
}

/**
 * Server-side applies one object (field manager vmsctl-install, forced: the installer owns
 * what it installs) and says whether that created, changed or left it as it was. An API
 * error names the object.
 */
async function applyTracked(
  client: KubeClient,
  type: ResourceType,
  obj: KubeObject,
  dryRun: boolean,
): Promise<InstallOutcome> {
  const id = objectId(obj);
  try {
    const live = await client.get(type, obj.metadata);
    const result = await client.apply(type, obj, {
      fieldManager: INSTALL_FIELD_MANAGER,
      force: true,
      dryRun,
    });
    if (!live) return { id, action: 'created' };
    // A no-op apply writes nothing, so the resourceVersion stays; a dry run never writes,
    // so compare what it would store with what is stored.
    const same = dryRun
      ? isDeepStrictEqual(comparable(live), comparable(result))
      : live.metadata.resourceVersion === result.metadata.resourceVersion;
    return { id, action: same ? 'unchanged' : 'configured' };
  } catch (err) {
    if (err instanceof KubeApiError)
      throw new KubeApiError(err.statusCode, err.reason, `${id}: ${err.message}`, err.details);
    throw err;
  }
}

/**
 * Installs (or upgrades) vmsctl in a cluster: the CRDs (waiting until they are served),
 * then the system namespace, the controllers' ServiceAccount and RBAC, their Deployment and webhook Service.
 * Idempotent: a second run with the same options reports everything unchanged and writes
 * nothing. With `dryRun` the apiserver checks every object and stores none; objects in a
 * namespace that does not exist yet cannot be checked and say so.
 */
export async function installPlatform(
  client: KubeClient,
  options: InstallOptions,
): Promise<InstallOutcome[]> {
  const dryRun = options.dryRun ?? false;
  const crds = crdObjects();
  const outcomes = await Promise.all(
    crds.map((crd) => applyTracked(client, CORE.CustomResourceDefinition, crd, dryRun)),
  );
  if (!dryRun)
    await waitEstablished(
      client,
      crds.map((c) => c.metadata.name),
      options.timeoutMs ?? 60_000,
    );
  const namespace = options.namespace ?? SYSTEM_NAMESPACE;
  let namespaceExists = true;
  for (const obj of installManifests(options)) {
    const type = typeOf(obj);
    if (!type) throw new Error(`install: unknown kind ${obj.apiVersion}/${obj.kind}`);
    if (dryRun && type.namespaced && !namespaceExists) {
      outcomes.push({
        id: objectId(obj),
        action: 'created',
        note: `namespace ${namespace} does not exist yet: not checked by the server`,
      });
      continue;
    }
    const outcome = await applyTracked(client, type, obj, dryRun);
    if (obj.kind === 'Namespace') namespaceExists = outcome.action !== 'created';
    outcomes.push(outcome);
  }
  return outcomes;
}
