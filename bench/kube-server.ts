/**
 * The control plane of the reconcile benchmark (etcd + kube-apiserver + controller-manager),
 * started with tests/servers/kube.sh from the binaries scripts/kube/install.sh cached. Not
 * through tests/servers/kube.ts, for the reason bench/ingest-servers.ts gives.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { bash, repoRoot } from './ingest-servers.js';

export interface BenchKube {
  kubeconfig: string;
  dir: string;
  stop(): Promise<void>;
}

/** Starts a control plane in a temp dir; rejects when the binaries were never built. */
export async function startKube(): Promise<BenchKube> {
  const cache = process.env['VMSCTL_CACHE'] ?? path.join(homedir(), '.cache/vmsctl');
  const bin = path.join(cache, 'kube-1.34.4/bin');
  if (!existsSync(path.join(bin, 'kube-apiserver'))) {
    throw new Error(`no kube-apiserver under ${bin} (scripts/kube/install.sh builds it)`);
  }
  const script = path.join(repoRoot(), 'tests/servers/kube.sh');
  const env = { KUBE_BIN: bin, KUBE_OWNER_PID: String(process.pid) };
  const dir = await mkdtemp(path.join(tmpdir(), 'vmsctl-bench-kube-'));
  await bash([script, 'start', dir], env, 180_000);
  return {
    kubeconfig: path.join(dir, 'kubeconfig'),
    dir,
    async stop() {
      await bash([script, 'stop', dir], env, 60_000).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
