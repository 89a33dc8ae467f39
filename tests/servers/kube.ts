import { readFileSync } from 'node:fs';
import { repoRoot, runScript } from './scripts.js';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { KubeClient } from '../../controllers/index.js';

/** A running etcd + kube-apiserver (+ GC/namespace/quota controllers) owned by a test file. */
export interface KubeServer {
  /** Path of a cluster-admin kubeconfig (token auth, CA pinned). */
  kubeconfig: string;
  /** https://127.0.0.1:<port> */
  server: string;
  dir: string;
  /** A fresh client with cluster-admin rights. */
  client(userAgent?: string): KubeClient;
  /** Stops everything and removes `dir` unless KEEP_KUBE_DIR is set. */
  stop(): Promise<void>;
  /** Stops only the apiserver (etcd keeps the data), as a restart or crash of it would. */
  stopApiserver(): Promise<void>;
  /** Starts whatever is not running, on the same ports with the same data. */
  start(): Promise<void>;
}

const repo = repoRoot();
const script = join(repo, 'tests/servers/kube.sh');
const installer = join(repo, 'scripts/kube/install.sh');

/** The binary directory, building kube-apiserver the first time (several minutes, cached). */
async function kubeBin(): Promise<string> {
  if (process.env['KUBE_BIN']) return process.env['KUBE_BIN'];
  const out = await runScript(installer, [], 1_500_000);
  return out.split('\n').pop() ?? '';
}

/**
 * Starts a real Kubernetes control plane in a fresh temp dir on free ports. Takes a few
 * seconds once the binaries are cached; call it once per test file in `beforeAll`.
 */
export async function startKube(): Promise<KubeServer> {
  const env = { KUBE_BIN: await kubeBin(), KUBE_OWNER_PID: String(process.pid) };
  const dir = await mkdtemp(join(tmpdir(), 'vmsctl-kube-'));
  const killOnExit = () => {
    for (const p of ['controller-manager', 'apiserver', 'etcd']) {
      try {
        process.kill(Number(readFileSync(join(dir, `${p}.pid`), 'utf8')), 'SIGKILL');
      } catch {
        // Not running.
      }
    }
  };
  process.on('exit', killOnExit);
  let port: string;
  try {
    port = (await runScript(script, ['start', dir], 180_000, env)).split('\n').pop()!;
  } catch (err) {
    process.off('exit', killOnExit);
    throw err;
  }
  const kubeconfig = join(dir, 'kubeconfig');
  return {
    kubeconfig,
    server: `https://127.0.0.1:${port}`,
    dir,
    client: (userAgent?: string) => KubeClient.fromFile(kubeconfig, undefined, userAgent),
    async stop() {
      await runScript(script, ['stop', dir], 60_000, env);
      process.off('exit', killOnExit);
      if (!process.env['KEEP_KUBE_DIR']) await rm(dir, { recursive: true, force: true });
    },
    async stopApiserver() {
      await runScript(script, ['stop-apiserver', dir], 60_000, env);
    },
    async start() {
      await runScript(script, ['start', dir], 180_000, env);
    },
  };
}

/** The generated CRDs in manifests/crds, parsed. */
export async function crdManifests(): Promise<Record<string, unknown>[]> {
  const dir = join(repo, 'manifests/crds');
  const out: Record<string, unknown>[] = [];
  for (const f of (await readdir(dir)).sort()) {
    for (const doc of parseAllDocuments(await readFile(join(dir, f), 'utf8'))) {
      out.push(doc.toJS() as Record<string, unknown>);
    }
  }
  return out;
}
