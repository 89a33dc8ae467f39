/**
 * Benchmark of the operators at the reference customer's scale (690 sites, 800 edge servers,
 * 6,000 cameras): a fleet repo commit applied through fleet-sync on a real kube-apiserver
 * until every camera is Ready, then a no-change resync and a 1 % change.
 *
 *   npm run bench:reconcile [-- --sites 690 --cameras 6000 --seed 1]
 *
 * The controllers run in a child process (this script with --controllers) so their peak
 * memory is measured alone. This process plays the 800 edge agents: a heartbeat Lease per
 * edge renewed every 30 s and an "applied" report per release once the edge's bundle is at its
 * revision (the agents' writes are counted apart). The baseline, measured in the same run on a
 * second control plane, is the bare server-side apply of the same objects with no validation
 * and no controllers: the floor of writing them at all.
 * The last line printed is one JSON object for tooling.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  applyObjects,
  bundleRevision,
  controllersMemoryEnv,
  createControlPlane,
  createLogger,
  CORE,
  desiredObject,
  EDGE_AGENT_LABEL,
  findCondition,
  heartbeatLeaseName,
  Informer,
  installCrds,
  KubeClient,
  microTime,
  pool,
  tenantNamespaces,
  unpackPayload,
  VMS,
  type KubeObject,
  type LiveBundle,
  type LiveEdge,
  type LiveRelease,
} from '../controllers/index.js';
import { generateFleet, mutateFleet, parseFleetFiles, type FleetFile } from '../resources/index.js';
import { intArg } from './args.js';
import { startKube, type BenchKube } from './kube-server.js';

interface ChildStats {
  writes: number;
  byResource: Record<string, number>;
  rssMB: number;
  /** Heap in use (after a forced collection when asked for 'heap'). */
  heapMB: number;
  idle: boolean;
  /** Reconciles run so far, by controller. */
  reconciles: Record<string, number>;
  /** What the memory was made of at the highest RSS sampled (MB). */
  atPeak: { rss: number; heapTotal: number; heapUsed: number; external: number };
}

/**
 * Samples the process's memory every 100 ms and keeps the sample with the highest RSS, so the
 * peak can be told apart: V8's heap (live or not yet collected) or memory outside it.
 */
function trackPeakMemory(): () => ChildStats['atPeak'] {
  const mb = (n: number) => Math.round(n / 1048576);
  let peak = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0 };
  setInterval(() => {
    const m = process.memoryUsage();
    if (mb(m.rss) > peak.rss)
      peak = {
        rss: mb(m.rss),
        heapTotal: mb(m.heapTotal),
        heapUsed: mb(m.heapUsed),
        external: mb(m.external),
      };
  }, 100).unref();
  return () => peak;
}

const AGENT_MANAGER = 'vmsctl-edge-agent';

async function controllersProcess(kubeconfig: string, cacheDir: string): Promise<void> {
  const client = KubeClient.fromFile(kubeconfig, undefined, 'vmsctl-controllers');
  const plane = await createControlPlane({
    client,
    log: createLogger({}, { level: 'warn' }),
    cacheDir,
  });
  await plane.manager.start();
  const atPeak = trackPeakMemory();
  process.on('message', (m: { type: string }) => {
    if (m.type === 'stats') {
      const stats: ChildStats = {
        writes: client.writes(),
        byResource: Object.fromEntries(client.writesByResource),
        rssMB: Math.round(process.resourceUsage().maxRSS / 1024),
        heapMB: Math.round(process.memoryUsage().heapUsed / 1048576),
        idle: plane.manager.isIdle(),
        reconciles: plane.manager.reconcileCounts(),
        atPeak: atPeak(),
      };
      process.send!({ type: 'stats', stats });
    } else if (m.type === 'heap') {
      (globalThis as { gc?: () => void }).gc?.();
      process.send!({
        type: 'heap',
        stats: { heapMB: Math.round(process.memoryUsage().heapUsed / 1048576) },
      });
    } else if (m.type === 'resync') {
      plane.manager.resyncAll();
      process.send!({ type: 'resynced' });
    } else if (m.type === 'stop') {
      void plane.manager.stop().then(() => process.exit(0));
    }
  });
  process.send!({ type: 'ready' });
}

function ask<T>(child: ChildProcess, type: string, reply: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: { type: string; stats?: T }) => {
      if (m.type !== reply) return;
      child.off('message', on);
      resolve((m.stats ?? m) as T);
    };
    child.on('message', on);
    child.send({ type });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Writes per resource made between two snapshots of the counters. */
function writesSince(
  before: Record<string, number>,
  after: Record<string, number>,
): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after)
      .map(([k, n]) => [k, n - (before[k] ?? 0)] as const)
      .filter(([, n]) => n > 0),
  );
}

/** Writes to the main resource of the given kinds (fleet-sync's own, as opposed to derived). */
function appliedWrites(byResource: Record<string, number>, resources: ReadonlySet<string>): number {
  return Object.entries(byResource)
    .filter(([k]) => resources.has(k))
    .reduce((n, [, v]) => n + v, 0);
}

/**
 * Object parts (an object's main resource, or its status) that the controllers' field managers
 * hold, read back from the apiserver's managedFields: every changed part needs one write, so
 * writes ÷ parts is 1.00 with no write repeated or wasted, whatever the client counted.
 */
async function writtenParts(
  client: KubeClient,
  byResource: Record<string, number>,
): Promise<{ parts: number; objects: number }> {
  const types = [...Object.values(CORE), ...Object.values(VMS)];
  const controllers = (m: string | undefined) => !!m?.startsWith('vmsctl-') && m !== AGENT_MANAGER;
  let parts = 0;
  const objects = new Set<string>();
  for (const plural of new Set(Object.keys(byResource).map((k) => k.split('/')[0]!))) {
    const type = types.find((t) => t.plural === plural);
    if (!type) throw new Error(`writes counted for an unknown resource: ${plural}`);
    for (const o of (await client.list(type)).items) {
      const held = new Set(
        (o.metadata.managedFields ?? [])
          .filter((e) => controllers(e.manager))
          .map((e) => e.subresource ?? ''),
      );
      parts += held.size;
      if (held.size > 0) objects.add(`${plural}/${o.metadata.namespace}/${o.metadata.name}`);
    }
  }
  return { parts, objects: objects.size };
}

/** Waits until the controllers are idle and have not written for `quietMs`. */
async function quiesce(child: ChildProcess, quietMs = 3_000): Promise<ChildStats> {
  let last = await ask<ChildStats>(child, 'stats', 'stats');
  let since = Date.now();
  for (;;) {
    await sleep(500);
    const s = await ask<ChildStats>(child, 'stats', 'stats');
    if (s.writes !== last.writes || !s.idle) {
      last = s;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      return s;
    }
  }
}

/**
 * Plays the edge agents as `vmsctl edge agent` behaves: says what it runs in its EdgeServer
 * status once, renews its heartbeat Lease every 30 s, and reports each released revision as
 * applied in the EdgeRelease status once its EdgeBundle is at that revision. (Here the first
 * renewal also creates the Lease, which `vmsctl edge join` makes for a real agent.)
 */
function simulateAgents(client: KubeClient) {
  let writes = 0;
  const edges = new Informer<LiveEdge>(client, VMS['EdgeServer']!);
  const releases = new Informer<LiveRelease>(client, VMS['EdgeRelease']!);
  // Each real agent watches its own bundle and release; one watch each stands in for 800.
  const bundles = new Informer<LiveBundle>(client, VMS['EdgeBundle']!);
  const pending = new Set<string>();
  const renew = (ns: string, name: string) => {
    writes++;
    return client
      .apply(
        CORE.Lease,
        {
          metadata: {
            name: heartbeatLeaseName(name),
            namespace: ns,
            labels: { [EDGE_AGENT_LABEL]: name },
          },
          spec: { holderIdentity: name, renewTime: microTime() },
        },
        { fieldManager: AGENT_MANAGER, force: true },
      )
      .catch(() => undefined);
  };
  const connect = async (ns: string, name: string) => {
    writes++;
    await client
      .apply(
        VMS['EdgeServer']!,
        { metadata: { name, namespace: ns }, status: { agent: { version: 'bench' } } },
        { fieldManager: AGENT_MANAGER, force: true, subresource: 'status' },
      )
      .catch(() => undefined);
    await renew(ns, name);
  };
  const report = async (r: LiveRelease) => {
    const key = `${r.metadata.namespace}/${r.metadata.name}`;
    const job = `${key}@${r.spec.revision}`;
    const bundle = bundles.get(key);
    // As the agent does: only a bundle at the released revision is applied.
    if (!bundle || bundleRevision(bundle) !== r.spec.revision) return;
    if (r.status?.appliedRevision === r.spec.revision || pending.has(job)) return;
    pending.add(job);
    writes++;
    await client
      .apply(
        VMS['EdgeRelease']!,
        {
          metadata: { name: r.metadata.name, namespace: r.metadata.namespace },
          status: {
            appliedRevision: r.spec.revision,
            appliedWorkloads: r.spec.workloads,
            appliedObjects: (bundle.spec.payloads ?? []).reduce(
              (n, p) => n + [...unpackPayload(p).values()].reduce((m, o) => m + o.length, 0),
              0,
            ),
          },
        },
        { fieldManager: AGENT_MANAGER, force: true, subresource: 'status' },
      )
      .catch(() => undefined);
    pending.delete(job);
  };
  edges.on({ add: (e) => void connect(e.metadata.namespace!, e.metadata.name) });
  releases.on({ add: (r) => void report(r), update: (_, r) => void report(r) });
  const reportFor = (b: LiveBundle) => {
    const r = releases.get(`${b.metadata.namespace}/${b.metadata.name}`);
    if (r) void report(r);
  };
  bundles.on({ add: reportFor, update: (_, b) => reportFor(b) });
  edges.start();
  releases.start();
  bundles.start();
  // Heartbeats well inside the default 90 s grace, as real agents send them.
  const timer = setInterval(() => {
    void pool(edges.list(), 16, (e) => renew(e.metadata.namespace!, e.metadata.name));
  }, 30_000);
  return {
    writes: () => writes,
    stop() {
      clearInterval(timer);
      edges.stop();
      releases.stop();
      bundles.stop();
    },
  };
}

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd: dir,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'bench',
      GIT_AUTHOR_EMAIL: 'b@x',
      GIT_COMMITTER_NAME: 'bench',
      GIT_COMMITTER_EMAIL: 'b@x',
    },
  }).trim();
}

async function writeFiles(dir: string, files: readonly FleetFile[]) {
  for (const f of files) {
    await mkdir(path.dirname(path.join(dir, f.path)), { recursive: true });
    await writeFile(path.join(dir, f.path), f.text);
  }
}

/** Ready counts from a watch-fed cache: listing 6,000 cameras every second would load the apiserver. */
async function countReady(
  cache: Informer<KubeObject>,
): Promise<{ total: number; ready: number; waiting: Record<string, number>; sample?: string }> {
  const items = cache.list();
  let ready = 0;
  const waiting: Record<string, number> = {};
  let sample: string | undefined;
  for (const c of items) {
    const r = findCondition(
      (c.status as { conditions?: never[] } | undefined)?.conditions,
      'Ready',
    ) as { status: string; reason: string; message: string } | undefined;
    if (r?.status === 'True') ready++;
    else {
      const reason = r?.reason ?? 'NoStatus';
      waiting[reason] = (waiting[reason] ?? 0) + 1;
      if (reason !== 'Disabled')
        sample ??= `${c.metadata.namespace}/${c.metadata.name}: ${r?.message ?? ''}`;
    }
  }
  return { total: items.length, ready, waiting, sample };
}

/** The floor: server-side apply of every object once, no validation, no controllers. */
async function bareApply(
  files: readonly FleetFile[],
): Promise<{ seconds: number; writes: number }> {
  const kube = await startKube();
  try {
    const client = KubeClient.fromFile(kube.kubeconfig, undefined, 'bench-bare');
    await installCrds(client);
    const objects = parseFleetFiles(files).resources.map((r) => desiredObject(r.resource, 'bare'));
    const all = [...tenantNamespaces(objects, 'bare'), ...objects];
    const before = client.writes();
    const t0 = performance.now();
    await applyObjects(client, all, {
      fieldManager: 'bare',
      source: 'bare',
      live: () => undefined,
      concurrency: 24,
    });
    const seconds = (performance.now() - t0) / 1000;
    const writes = client.writes() - before;
    client.close();
    return { seconds, writes };
  } finally {
    await kube.stop();
  }
}

async function main() {
  const args = process.argv.slice(2);
  if (args[0] === '--controllers') return controllersProcess(args[1]!, args[2]!);
  const sites = intArg(args, '--sites', 690);
  const cameras = intArg(args, '--cameras', 6000);
  const seed = intArg(args, '--seed', 1);
  const timeoutS = intArg(args, '--timeout', 900);
  const today = new Date().toISOString().slice(0, 10);
  const files = generateFleet({ sites, cameras, seed, licenseFrom: today });
  const parsed = parseFleetFiles(files).resources;
  const objectsInFleet = parsed.length;
  // What fleet-sync applies: the fleet's own kinds (their main resource, not status).
  const fleetResources = new Set(parsed.map((r) => VMS[r.resource.kind]!.plural));
  // Disabled cameras are placed nowhere and never Ready; convergence is every enabled one.
  const enabled = parsed.filter(
    (r) =>
      r.resource.kind === 'Camera' && (r.resource.spec as { enabled?: boolean }).enabled !== false,
  ).length;
  console.log(
    `fleet: ${sites} sites, ${cameras} cameras (${enabled} enabled), ${objectsInFleet} objects (seed ${seed})`,
  );

  console.log('baseline: bare server-side apply of the same objects on a fresh control plane…');
  const bare = await bareApply(files);
  console.log(`  ${bare.seconds.toFixed(1)} s, ${bare.writes} writes`);

  const work = await mkdtemp(path.join(os.tmpdir(), 'vmsctl-bench-reconcile-'));
  let kube: BenchKube | undefined;
  let child: ChildProcess | undefined;
  try {
    kube = await startKube();
    const admin = KubeClient.fromFile(kube.kubeconfig, undefined, 'bench-admin');
    await installCrds(admin);
    await admin.apply(
      CORE.Namespace,
      { metadata: { name: 'vmsctl-system' } },
      { fieldManager: 'bench' },
    );
    const repo = path.join(work, 'fleet');
    await mkdir(repo);
    git(repo, 'init', '-q', '-b', 'main');
    await writeFiles(repo, files);
    git(repo, 'add', '-A');
    git(repo, 'commit', '-q', '-m', 'reference customer');

    child = fork(
      fileURLToPath(import.meta.url),
      ['--controllers', kube.kubeconfig, path.join(work, 'cache')],
      {
        // The memory settings the controllers' Deployment has (vmsctl install, default size).
        env: {
          ...process.env,
          ...Object.fromEntries(controllersMemoryEnv().map((e) => [e.name, e.value])),
        },
        // --expose-gc only to measure the live heap at the end (the figure next to peak RSS).
        execArgv: [
          '--expose-gc',
          // BENCH_CPU_PROF=dir writes a V8 CPU profile of the controllers there.
          ...(process.env['BENCH_CPU_PROF']
            ? ['--cpu-prof', `--cpu-prof-dir=${process.env['BENCH_CPU_PROF']}`]
            : []),
          // BENCH_TRACE_GC=1 prints every collection of the controllers (where the peak grows).
          ...(process.env['BENCH_TRACE_GC'] ? ['--trace-gc'] : []),
        ],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    await new Promise<void>((resolve) => child!.once('message', () => resolve()));
    const agents = simulateAgents(KubeClient.fromFile(kube.kubeconfig, undefined, 'bench-agents'));

    const cameraCache = new Informer<KubeObject>(
      KubeClient.fromFile(kube.kubeconfig, undefined, 'bench-watch'),
      VMS['Camera']!,
    );
    cameraCache.start();
    await cameraCache.waitForSync();
    console.log('fleet-sync: applying the commit and waiting for every camera to be Ready…');
    const t0 = performance.now();
    await admin.apply(
      VMS['FleetSync']!,
      {
        metadata: { name: 'reference' },
        spec: { url: `file://${repo}`, ref: { branch: 'main' }, interval: '10m' },
      },
      { fieldManager: 'bench' },
    );
    let lastLog = 0;
    let state: Awaited<ReturnType<typeof countReady>>;
    for (;;) {
      state = await countReady(cameraCache);
      const elapsed = (performance.now() - t0) / 1000;
      if (state.ready === enabled) break;
      if (elapsed > timeoutS && process.env['BENCH_KEEP']) {
        console.log(`kept for inspection: KUBECONFIG=${kube.kubeconfig}; sample ${state.sample}`);
        await sleep(3_600_000);
      }
      if (elapsed > timeoutS)
        throw new Error(`not converged after ${timeoutS} s: ${state.ready}/${enabled} Ready`);
      if (elapsed - lastLog >= 5) {
        lastLog = elapsed;
        const s = await ask<ChildStats>(child, 'stats', 'stats');
        console.log(
          `  ${elapsed.toFixed(0)} s: ${state.total} cameras, ${state.ready} Ready, waiting ${JSON.stringify(state.waiting)}, ${s.writes} controller writes, ${s.rssMB} MB`,
        );
        if (process.env['BENCH_DEBUG'])
          console.log(
            `    e.g. ${state.sample}; ${JSON.stringify(s.byResource)}; reconciles ${JSON.stringify(s.reconciles)}`,
          );
      }
      await sleep(1_000);
    }
    const convergeSeconds = (performance.now() - t0) / 1000;
    const converged = await quiesce(child);
    const written = await writtenParts(admin, converged.byResource);
    console.log(
      `  converged in ${convergeSeconds.toFixed(1)} s; ${converged.writes} controller writes when quiet, to ${written.objects} objects (${written.parts} parts: main resource or status)`,
    );

    child.send({ type: 'resync' });
    await sleep(1_000);
    const afterResync = await quiesce(child);
    const noopResyncWrites = afterResync.writes - converged.writes;
    console.log(
      `no-change resync (every object re-delivered to every controller): ${noopResyncWrites} writes`,
    );
    console.log(
      `  controllers' peak RSS so far: ${converged.rssMB} MB when converged, ${afterResync.rssMB} MB after the resync`,
    );

    const mutated = mutateFleet(files, { seed: seed + 1, fraction: 0.01 });
    const changed = mutated.filter((f, i) => f.text !== files[i]!.text);
    await writeFiles(repo, mutated);
    git(repo, 'commit', '-q', '-am', '1% change');
    const head = git(repo, 'rev-parse', 'HEAD');
    // Changed, added and removed objects: each is one write for fleet-sync to make.
    const changedObjects = (() => {
      const before = new Map(
        parseFleetFiles(files).resources.map((r) => [r.key, JSON.stringify(r.resource.spec)]),
      );
      const after = parseFleetFiles(mutated).resources;
      const kept = new Set(after.map((r) => r.key));
      return (
        after.filter((r) => before.get(r.key) !== JSON.stringify(r.resource.spec)).length +
        [...before.keys()].filter((k) => !kept.has(k)).length
      );
    })();
    const t1 = performance.now();
    await admin.mergePatch(
      VMS['FleetSync']!,
      { name: 'reference' },
      { metadata: { annotations: { 'reconcile.vmsctl.io/requestedAt': 'bench-change' } } },
    );
    for (;;) {
      const fs = await admin.get<KubeObject & { status?: { lastAppliedRevision?: string } }>(
        VMS['FleetSync']!,
        { name: 'reference' },
      );
      if (fs?.status?.lastAppliedRevision === `main@sha1:${head}`) break;
      await sleep(500);
    }
    const afterChange = await quiesce(child);
    const changeSeconds = (performance.now() - t1) / 1000;
    const changeWrites = afterChange.writes - afterResync.writes;
    console.log(
      `1 % change (${changed.length} files, ${changedObjects} objects changed, added or removed): ${changeWrites} writes in ${changeSeconds.toFixed(1)} s`,
    );

    const ratio = convergeSeconds / bare.seconds;
    const writesPerObject = converged.writes / objectsInFleet;
    console.log('');
    console.log(`| figure | vmsctl | bare SSA | ratio |`);
    console.log(`|---|---|---|---|`);
    console.log(
      `| time to apply ${objectsInFleet} objects (all cameras Ready) | ${convergeSeconds.toFixed(1)} s | ${bare.seconds.toFixed(1)} s | ${ratio.toFixed(2)} |`,
    );
    console.log(
      `| API writes | ${converged.writes} (${writesPerObject.toFixed(2)}/object) | ${bare.writes} | ${(converged.writes / bare.writes).toFixed(2)} |`,
    );
    const changeByResource = writesSince(afterResync.byResource, afterChange.byResource);
    const changeApplied = appliedWrites(changeByResource, fleetResources);
    const applied = appliedWrites(converged.byResource, fleetResources);
    console.log(
      `| API writes per object part changed (main resource or status, from managedFields) | ${(converged.writes / written.parts).toFixed(2)} (${converged.writes} writes, ${written.parts} parts of ${written.objects} objects) | 1.00 | - |`,
    );
    console.log(
      `| of which applying the fleet's objects | ${applied} (${(applied / objectsInFleet).toFixed(2)}/object) | ${bare.writes} | ${(applied / bare.writes).toFixed(2)} |`,
    );
    console.log(
      `| of which derived (status, bundles, releases, namespaces, tenant RBAC) | ${converged.writes - applied} | - | - |`,
    );
    console.log(`| writes of a no-change resync | ${noopResyncWrites} | - | - |`);
    console.log(
      `| writes for ${changedObjects} changed objects | ${changeWrites}: ${changeApplied} applying them (${(changeApplied / changedObjects).toFixed(2)}/object), ${changeWrites - changeApplied} derived | - | - |`,
    );
    const live = await ask<{ heapMB: number }>(child, 'heap', 'heap');
    console.log(
      `| controller peak RSS | ${afterChange.rssMB} MB (live heap after GC: ${live.heapMB} MB) | - | - |`,
    );
    const p = afterChange.atPeak;
    console.log(
      `  at the highest RSS sampled (${p.rss} MB): V8 heap ${p.heapTotal} MB (${p.heapUsed} MB used), external ${p.external} MB`,
    );
    console.log(`writes by resource: ${JSON.stringify(afterChange.byResource)}`);
    console.log(
      `reconciles by controller: ${JSON.stringify(converged.reconciles)} to converge, ${JSON.stringify(afterChange.reconciles)} in all`,
    );
    console.log(`  of which the 1 % change: ${JSON.stringify(changeByResource)}`);
    console.log(`edge-agent simulator writes (not counted above): ${agents.writes()}`);
    agents.stop();
    cameraCache.stop();
    child.send({ type: 'stop' });
    await new Promise((r) => child!.once('exit', r));
    child = undefined;
    admin.close();
    console.log(
      JSON.stringify({
        bench: 'reconcile',
        sites,
        cameras,
        enabledCameras: enabled,
        objects: objectsInFleet,
        convergeSeconds: Number(convergeSeconds.toFixed(1)),
        bareApplySeconds: Number(bare.seconds.toFixed(1)),
        ratio: Number(ratio.toFixed(2)),
        apiWrites: converged.writes,
        objectsWritten: written.objects,
        objectPartsWritten: written.parts,
        writesPerPart: Number((converged.writes / written.parts).toFixed(2)),
        bareApplyWrites: bare.writes,
        noopResyncWrites,
        appliedWrites: applied,
        derivedWrites: converged.writes - applied,
        changedObjects,
        changeWrites,
        changeAppliedWrites: changeApplied,
        peakRssMB: afterChange.rssMB,
        liveHeapMB: live.heapMB,
      }),
    );
  } finally {
    child?.kill('SIGKILL');
    await kube?.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
