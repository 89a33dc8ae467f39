import { existsSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { Flags } from '@oclif/core';
import {
  API_GROUP_VERSION,
  CONTROL_KINDS,
  KINDS,
  type KindDefinition,
} from '../resources/index.js';
import type { KubeClient } from '../controllers/index.js';
import { InputError } from './input-error.js';

/**
 * Reaching a cluster from the CLI: `--kubeconfig` / `--context`, the usual lookup
 * (KUBECONFIG, ~/.kube/config, the in-cluster service account) and errors that say which
 * cluster and which object. The controllers module is loaded only by commands that talk to
 * a cluster (client-node costs start-up time the folder commands should not pay).
 */

/** Field manager and applied-by label value of `vmsctl apply` (and what `plan --cluster` previews). */
export const APPLY_SOURCE = 'vmsctl-apply';

/** Where a pod's service account credentials are mounted. */
const IN_CLUSTER_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** `--kubeconfig` and `--context`, shared by every command that talks to a cluster. */
export const kubeFlags = {
  kubeconfig: Flags.string({
    description:
      'Kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, then the in-cluster service account].',
  }),
  context: Flags.string({ description: 'Kubeconfig context [default: its current context].' }),
};

/** A client and where it points, for messages. */
export interface ClusterTarget {
  client: KubeClient;
  /** Context name, or "in-cluster". */
  context: string;
  /** API server URL. */
  server: string;
  /** Where the configuration came from (a file path or "in-cluster"). */
  source: string;
}

/** True inside a Kubernetes pod with a mounted service account. */
export function inCluster(): boolean {
  return Boolean(process.env['KUBERNETES_SERVICE_HOST']) && existsSync(IN_CLUSTER_TOKEN);
}

/**
 * The kubeconfig the usual lookup finds: `flag`, then $KUBECONFIG (a path list; the files
 * that exist), then ~/.kube/config; "in-cluster" inside a pod; undefined when there is none.
 */
export function defaultKubeconfig(flag?: string): string[] | 'in-cluster' | undefined {
  if (flag) return [flag];
  const env = process.env['KUBECONFIG'];
  if (env) {
    const files = env.split(path.delimiter).filter((f) => f && existsSync(f));
    return files.length ? files : undefined;
  }
  const home = path.join(os.homedir(), '.kube', 'config');
  if (existsSync(home)) return [home];
  return inCluster() ? 'in-cluster' : undefined;
}

/** Loads a KubeConfig as `--kubeconfig`/`--context` say, failing with a next step. */
export async function loadKubeConfig(
  flags: { kubeconfig?: string; context?: string },
  what = 'the cluster',
  flag = '--kubeconfig',
): Promise<{ config: KubeConfig; source: string }> {
  const found = defaultKubeconfig(flags.kubeconfig);
  const { KubeConfig } = await import('@kubernetes/client-node');
  const config = new KubeConfig();
  let source: string;
  if (found === undefined) {
    throw new InputError(
      process.env['KUBECONFIG']
        ? `no kubeconfig for ${what}: none of the files in KUBECONFIG (${process.env['KUBECONFIG']}) exists`
        : `no kubeconfig for ${what}: KUBECONFIG is not set and ~/.kube/config does not exist`,
      `Pass ${flag} FILE, or set KUBECONFIG.`,
    );
  } else if (found === 'in-cluster') {
    config.loadFromCluster();
    source = 'in-cluster';
  } else {
    if (flags.kubeconfig) {
      const info = statSync(flags.kubeconfig, { throwIfNoEntry: false });
      if (!info)
        throw new InputError(
          `${flag} ${flags.kubeconfig}: no such file`,
          `Pass the kubeconfig of ${what}.`,
        );
      if (!info.isFile())
        throw new InputError(
          `${flag} ${flags.kubeconfig} is not a file`,
          `Pass the kubeconfig of ${what}.`,
        );
    }
    source = found.join(path.delimiter);
    try {
      if (found.length === 1) config.loadFromFile(found[0]!);
      else {
        // KUBECONFIG lists several files: client-node merges them as kubectl does.
        const saved = process.env['KUBECONFIG'];
        process.env['KUBECONFIG'] = found.join(path.delimiter);
        try {
          config.loadFromDefault();
        } finally {
          process.env['KUBECONFIG'] = saved;
        }
      }
    } catch (err) {
      throw new InputError(
        `kubeconfig ${source} cannot be read: ${err instanceof Error ? err.message : String(err)}`,
        'Check the file (kubectl config view --kubeconfig FILE).',
      );
    }
  }
  if (flags.context) {
    const names = config.getContexts().map((c) => c.name);
    if (!names.includes(flags.context))
      throw new InputError(
        `--context ${flags.context} is not in ${source}`,
        names.length ? `Use one of: ${names.join(', ')}.` : 'The kubeconfig has no contexts.',
      );
    config.setCurrentContext(flags.context);
  }
  const cluster = config.getCurrentCluster();
  if (!cluster?.server)
    throw new InputError(
      `kubeconfig ${source} has no current context with a cluster`,
      'Pass --context NAME, or set one with: kubectl config use-context NAME.',
    );
  return { config, source };
}

/** A client for the cluster `--kubeconfig`/`--context` point at. */
export async function clusterClient(
  flags: { kubeconfig?: string; context?: string },
  userAgent = 'vmsctl',
): Promise<ClusterTarget> {
  const { config, source } = await loadKubeConfig(flags);
  const { KubeClient } = await import('../controllers/index.js');
  const client = new KubeClient(config, userAgent);
  return {
    client,
    context: source === 'in-cluster' ? 'in-cluster' : config.getCurrentContext(),
    server: client.serverUrl.replace(/\/$/, ''),
    source,
  };
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * An error from talking to the cluster, as a message that names the cluster and, when
 * given, the object (`what`). Unreachable servers and refused credentials become input
 * errors with a next step; the rest keep the apiserver's own message.
 */
export function clusterError(
  err: unknown,
  target: ClusterTarget,
  what?: string,
  renew = 'Renew the credentials in the kubeconfig, or pass another --kubeconfig/--context.',
): Error {
  if (err instanceof InputError) return err;
  const e = err as Error & { code?: string; statusCode?: number; name?: string };
  const where = `${target.server} (context ${target.context})`;
  const prefix = what ? `${what}: ` : '';
  if (e?.code && NETWORK_CODES.has(e.code))
    return new InputError(
      `${prefix}cannot reach the Kubernetes API at ${where}: ${e.message}`,
      'Check --kubeconfig and --context (kubectl cluster-info shows where they point).',
    );
  if (e?.name === 'KubeApiError' && e.statusCode === 401)
    return new InputError(
      `${prefix}the Kubernetes API at ${where} refused the credentials (401 Unauthorized)`,
      renew,
    );
  if (e?.name === 'KubeApiError' && e.statusCode === 403)
    return new InputError(
      `${prefix}forbidden at ${where}: ${e.message}`,
      'Ask a cluster admin for the permission, or use a kubeconfig that has it.',
    );
  return new Error(`${prefix}${e?.message ?? String(err)}`);
}

/**
 * Fails with a next step unless the cluster serves the vmsctl.io API (the CRDs are
 * installed); also the first request, so an unreachable cluster is reported here.
 */
export async function requireVmsApi(target: ClusterTarget): Promise<void> {
  try {
    await target.client.request('GET', `/apis/${API_GROUP_VERSION}`);
  } catch (err) {
    const e = err as { name?: string; statusCode?: number };
    if (e?.name === 'KubeApiError' && e.statusCode === 404)
      throw new InputError(
        `vmsctl is not installed in the cluster at ${target.server} (context ${target.context}): it does not serve ${API_GROUP_VERSION}`,
        `Install it first: vmsctl install${target.source === 'in-cluster' ? '' : ` --kubeconfig ${target.source}`}`,
      );
    throw clusterError(err, target);
  }
}

/** Fleet kinds and control kinds (FleetSync, EdgeBundle, EdgeRelease), by any of their names. */
export function findClusterKind(name: string): KindDefinition | undefined {
  const lower = name.toLowerCase();
  const all: readonly KindDefinition[] = [...KINDS, ...CONTROL_KINDS];
  const match = (n: string) =>
    all.find((k) =>
      [k.kind, k.plural, k.singular, ...k.shortNames].some((a) => a.toLowerCase() === n),
    );
  return match(lower) ?? (lower.endsWith('s') ? match(lower.slice(0, -1)) : undefined);
}

/** Every kind name `--cluster` commands accept, for messages. */
export function clusterKindNames(): string {
  return [...KINDS, ...CONTROL_KINDS].map((k) => k.plural).join(', ');
}
