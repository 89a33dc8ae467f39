// The reconcile runtime (controllers/runtime) against a real control plane: etcd,
// kube-apiserver v1.34 and kube-controller-manager's garbage collector (tests/servers/kube.sh).
// A second control plane that compacts etcd every 2 s with the watch cache off makes watches
// fall out of the window (410 Gone). A TCP proxy between a client and the apiserver cuts
// (refuses) or black-holes that client's connections, to partition one replica while the
// apiserver keeps serving everyone else.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CORE,
  Controller,
  Informer,
  KubeApiError,
  KubeClient,
  LeaderElector,
  Manager,
  VMS,
  applyStatusIfChanged,
  controllerRef,
  createLogger,
  installCrds,
  isConflict,
  keyOf,
  mergeConditions,
  outcome,
  type KubeObject,
} from '../controllers/index.js';
import type { Condition } from '../resources/index.js';
import { startKube, type KubeServer } from './servers/kube.js';

const execFileP = promisify(execFile);
const log = createLogger(
  { test: 'reconcile-runtime' },
  { level: process.env['VMSCTL_TEST_LOG'] ? 'debug' : 'silent' },
);

type ConfigMap = KubeObject & { data?: Record<string, string> };
interface License {
  cameraLimit: number;
  validFrom: string;
  validUntil: string;
  models: string[];
}
type Tenant = KubeObject & {
  spec: { displayName: string; license: License };
  status?: {
    observedGeneration?: number;
    conditions?: Condition[];
    camerasUsed?: number;
    licenseDaysLeft?: number;
    namespace?: string;
  };
};
type Lease = KubeObject & { spec?: { holderIdentity?: string | null; renewTime?: string } };

const license = (cameraLimit = 5): License => ({
  cameraLimit,
  validFrom: '2026-01-01',
  validUntil: '2027-01-01',
  models: [],
});

/** Polls `check` until it returns something truthy; fails with `what` and the last value. */
async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      last = await check();
      if (last) return last as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last)?.slice(0, 300);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail})`);
    }
    await sleep(intervalMs);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `fn` over `items` with at most `limit` in flight. */
async function inParallel<T>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

function totalRequests(c: KubeClient): number {
  return Object.values(c.counts).reduce((a, b) => a + b, 0);
}

async function ensureNamespace(c: KubeClient, name: string): Promise<void> {
  await c.apply(
    CORE.Namespace,
    { metadata: { name } },
    { fieldManager: 'runtime-test', force: true },
  );
}

/** `key -> resourceVersion` of a list, to compare caches with the server. */
function versions(items: KubeObject[]): Record<string, string> {
  return Object.fromEntries(items.map((o) => [keyOf(o), o.metadata.resourceVersion!]).sort());
}

/** A handler-side copy of an informer: what add/update/delete told us, nothing else. */
function mirrorOf<T extends KubeObject>(inf: Informer<T>) {
  const seen = new Map<string, string>();
  const deleted: string[] = [];
  inf.on({
    add: (o) => seen.set(keyOf(o), o.metadata.resourceVersion!),
    update: (_, o) => seen.set(keyOf(o), o.metadata.resourceVersion!),
    delete: (o) => {
      seen.delete(keyOf(o));
      deleted.push(keyOf(o));
    },
  });
  return {
    versions: () => Object.fromEntries([...seen].sort()),
    deleted,
  };
}

/**
 * A TCP proxy in front of the apiserver (TLS passes through; the serving certificate is for
 * 127.0.0.1). `refuse` resets every connection and every new one, `blackhole` keeps
 * connections open but lets nothing through (a partition: requests hang), `restore` forwards
 * again.
 */
class TcpProxy {
  private server?: net.Server;
  private readonly conns = new Set<{ client: net.Socket; upstream?: net.Socket }>();
  private mode: 'forward' | 'refuse' | 'blackhole' = 'forward';
  port = 0;

  constructor(private readonly targetPort: number) {}

  async listen(): Promise<void> {
    this.server = net.createServer((client) => this.accept(client));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  private accept(client: net.Socket): void {
    client.on('error', () => {});
    if (this.mode === 'refuse') {
      client.destroy();
      return;
    }
    const conn: { client: net.Socket; upstream?: net.Socket } = { client };
    this.conns.add(conn);
    client.on('close', () => {
      conn.upstream?.destroy();
      this.conns.delete(conn);
    });
    if (this.mode === 'blackhole') {
      client.resume(); // read and drop
      return;
    }
    const upstream = net.connect(this.targetPort, '127.0.0.1');
    conn.upstream = upstream;
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }

  refuse(): void {
    this.mode = 'refuse';
    for (const { client, upstream } of this.conns) {
      upstream?.destroy();
      client.destroy();
    }
  }

  blackhole(): void {
    this.mode = 'blackhole';
    for (const conn of this.conns) {
      const { client, upstream } = conn;
      if (!upstream) continue;
      client.unpipe(upstream);
      upstream.unpipe(client);
      upstream.removeAllListeners('close');
      upstream.removeAllListeners('error');
      upstream.on('error', () => {});
      upstream.destroy();
      conn.upstream = undefined;
      client.on('data', () => {});
    }
  }

  restore(): void {
    this.mode = 'forward';
    // Connections held in the black hole end now; clients reconnect.
    for (const { client, upstream } of this.conns) if (!upstream) client.destroy();
  }

  async close(): Promise<void> {
    this.refuse();
    await new Promise((r) => this.server?.close(r));
  }
}

/** A client whose every connection goes through `proxy`. */
async function clientVia(
  server: KubeServer,
  proxy: TcpProxy,
  name: string,
  userAgent: string,
): Promise<KubeClient> {
  const text = await readFile(server.kubeconfig, 'utf8');
  const port = new URL(server.server).port;
  const file = join(server.dir, `kubeconfig-${name}`);
  await writeFile(
    file,
    text.replace(`https://127.0.0.1:${port}`, `https://127.0.0.1:${proxy.port}`),
    {
      mode: 0o600,
    },
  );
  return KubeClient.fromFile(file, undefined, userAgent);
}

let server: KubeServer;
let client: KubeClient;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  server = await startKube();
  client = server.client('runtime-test');
  await installCrds(client);
}, 180_000);

afterAll(async () => {
  for (const fn of cleanups.reverse()) await fn();
  client?.close();
  await server?.stop();
}, 120_000);

function track<T extends { stop(): unknown }>(x: T): T {
  cleanups.push(() => x.stop());
  return x;
}

describe('Informer on a real apiserver', () => {
  it('initial list fills the cache; adds, updates, deletes arrive in order; indexes follow', async () => {
    const ns = 'inf-basic';
    await ensureNamespace(client, ns);
    for (const [name, color] of [
      ['pre-1', 'red'],
      ['pre-2', 'blue'],
      ['pre-3', 'blue'],
    ] as const) {
      await client.create(CORE.ConfigMap, {
        metadata: { name, namespace: ns, labels: { color } },
        data: { v: '0' },
      });
    }
    const inf = track(
      new Informer<ConfigMap>(server.client('inf-basic'), CORE.ConfigMap, { namespace: ns }),
    );
    inf.addIndex('color', (o) =>
      o.metadata.labels?.['color'] ? [o.metadata.labels['color']] : [],
    );
    const events: string[] = [];
    inf.on({
      add: (o) => events.push(`ADDED ${o.metadata.name} v=${o.data?.['v']}`),
      update: (a, b) =>
        events.push(
          `MODIFIED ${b.metadata.name} v=${a.data?.['v']}->${b.data?.['v']} rv=${a.metadata.resourceVersion}->${b.metadata.resourceVersion}`,
        ),
      delete: (o) => events.push(`DELETED ${o.metadata.name}`),
    });
    // Only the red ones, through the server's label selector.
    const reds = track(
      new Informer<ConfigMap>(server.client('inf-red'), CORE.ConfigMap, {
        namespace: ns,
        labelSelector: 'color=red',
      }),
    );
    inf.start();
    reds.start();
    await Promise.all([inf.waitForSync(), reds.waitForSync()]);
    expect(inf.hasSynced()).toBe(true);
    expect(inf.size).toBe(3);
    expect(events.sort()).toEqual(['ADDED pre-1 v=0', 'ADDED pre-2 v=0', 'ADDED pre-3 v=0']);
    const byColor = (c: string) =>
      inf
        .byIndex('color', c)
        .map((o) => o.metadata.name)
        .sort();
    expect(byColor('red')).toEqual(['pre-1']);
    expect(byColor('blue')).toEqual(['pre-2', 'pre-3']);
    expect(reds.list().map((o) => o.metadata.name)).toEqual(['pre-1']);

    events.length = 0;
    const seen = (key: string, rv: string) => () => inf.get(key)?.metadata.resourceVersion === rv;
    const x1 = await client.create<ConfigMap>(CORE.ConfigMap, {
      metadata: { name: 'x', namespace: ns, labels: { color: 'blue' } },
      data: { v: '1' },
    });
    await waitFor('x created', seen(`${ns}/x`, x1.metadata.resourceVersion!));
    expect(byColor('blue')).toEqual(['pre-2', 'pre-3', 'x']);
    const x2 = await client.mergePatch<ConfigMap>(
      CORE.ConfigMap,
      { namespace: ns, name: 'x' },
      { data: { v: '2' } },
    );
    const x3 = await client.mergePatch<ConfigMap>(
      CORE.ConfigMap,
      { namespace: ns, name: 'x' },
      { metadata: { labels: { color: 'red' } } },
    );
    await waitFor('x relabelled', seen(`${ns}/x`, x3.metadata.resourceVersion!));
    expect(byColor('blue')).toEqual(['pre-2', 'pre-3']);
    expect(byColor('red')).toEqual(['pre-1', 'x']);
    await waitFor('x in the red informer', () => reds.get(`${ns}/x`));
    // pre-1 leaves the selector: the filtered watch reports it deleted.
    await client.mergePatch(
      CORE.ConfigMap,
      { namespace: ns, name: 'pre-1' },
      { metadata: { labels: { color: 'green' } } },
    );
    await waitFor('pre-1 gone from the red informer', () => !reds.get(`${ns}/pre-1`));
    await client.delete(CORE.ConfigMap, { namespace: ns, name: 'x' });
    await client.delete(CORE.ConfigMap, { namespace: ns, name: 'pre-2' });
    await waitFor('deletes seen', () => events.includes('DELETED pre-2'));
    expect(events).toEqual([
      'ADDED x v=1',
      `MODIFIED x v=1->2 rv=${x1.metadata.resourceVersion}->${x2.metadata.resourceVersion}`,
      `MODIFIED x v=2->2 rv=${x2.metadata.resourceVersion}->${x3.metadata.resourceVersion}`,
      expect.stringMatching(/^MODIFIED pre-1 v=0->0 /),
      'DELETED x',
      'DELETED pre-2',
    ]);
    expect(byColor('red')).toEqual([]);
    expect(byColor('green')).toEqual(['pre-1']);
    expect(byColor('blue')).toEqual(['pre-3']);
    expect(reds.size).toBe(0);
    expect(versions(inf.list())).toEqual(
      versions((await client.list(CORE.ConfigMap, { namespace: ns })).items),
    );
  });

  it('pages through a list of more than 500 objects', async () => {
    const ns = 'inf-many';
    await ensureNamespace(client, ns);
    const names = Array.from({ length: 600 }, (_, i) => `cm-${String(i).padStart(3, '0')}`);
    await inParallel(names, 20, (name) =>
      client.create(CORE.ConfigMap, { metadata: { name, namespace: ns }, data: { name } }),
    );
    const c = server.client('inf-many');
    const inf = track(new Informer<ConfigMap>(c, CORE.ConfigMap, { namespace: ns }));
    inf.start();
    await inf.waitForSync();
    expect(inf.size).toBe(600);
    expect(
      inf
        .list()
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(names);
    expect(inf.stats.lists).toBe(1);
    expect(c.counts.list).toBe(2); // 500 + 100
    // Small pages: the continue token carries the list through a consistent snapshot.
    const paged = await client.list(CORE.ConfigMap, { namespace: ns, limit: 70 });
    expect(paged.items).toHaveLength(600);
    expect(new Set(paged.items.map((o) => o.metadata.name)).size).toBe(600);
    // And the watch after it works.
    const last = await client.create(CORE.ConfigMap, {
      metadata: { name: 'cm-600', namespace: ns },
    });
    await waitFor(
      'the 601st object',
      () => inf.get(`${ns}/cm-600`)?.metadata.resourceVersion === last.metadata.resourceVersion,
    );
    c.close();
  }, 120_000);
});

describe('apiserver restart', () => {
  it('the informer resumes (or relists on 410) and loses nothing written around the restart', async () => {
    const ns = 'restart';
    await ensureNamespace(client, ns);
    await inParallel(
      Array.from({ length: 20 }, (_, i) => `r-${i}`),
      10,
      (name) =>
        client.create(CORE.ConfigMap, { metadata: { name, namespace: ns }, data: { v: '0' } }),
    );
    const inf = track(
      new Informer<ConfigMap>(server.client('restart'), CORE.ConfigMap, {
        namespace: ns,
        maxRetryMs: 1000,
      }),
    );
    const mirror = mirrorOf(inf);
    inf.start();
    await inf.waitForSync();
    expect(inf.size).toBe(20);

    // Right before the stop (not waiting for the informer to see them).
    for (let i = 0; i < 4; i++)
      await client.delete(CORE.ConfigMap, { namespace: ns, name: `r-${i}` });
    for (let i = 4; i < 8; i++) {
      await client.mergePatch(
        CORE.ConfigMap,
        { namespace: ns, name: `r-${i}` },
        { data: { v: 'before-stop' } },
      );
    }
    for (let i = 0; i < 4; i++)
      await client.create(CORE.ConfigMap, { metadata: { name: `before-${i}`, namespace: ns } });
    const before = { ...inf.stats };
    const stopAt = Date.now();
    await server.stopApiserver();
    const startAt = Date.now();
    await server.start();
    const upAt = Date.now();
    // Right after the start.
    const writer = server.client('restart-writer');
    for (let i = 8; i < 12; i++)
      await writer.delete(CORE.ConfigMap, { namespace: ns, name: `r-${i}` });
    for (let i = 12; i < 16; i++) {
      await writer.mergePatch(
        CORE.ConfigMap,
        { namespace: ns, name: `r-${i}` },
        { data: { v: 'after-start' } },
      );
    }
    for (let i = 0; i < 4; i++)
      await writer.create(CORE.ConfigMap, { metadata: { name: `after-${i}`, namespace: ns } });
    const fresh = versions((await writer.list(CORE.ConfigMap, { namespace: ns })).items);
    expect(Object.keys(fresh)).toHaveLength(20);
    await waitFor(
      'the cache to match the server',
      () => JSON.stringify(versions(inf.list())) === JSON.stringify(fresh),
      60_000,
    );
    expect(mirror.versions()).toEqual(fresh);
    for (const i of [0, 1, 2, 3, 8, 9, 10, 11]) expect(mirror.deleted).toContain(`${ns}/r-${i}`);
    expect(inf.get(`${ns}/r-5`)?.data).toEqual({ v: 'before-stop' });
    expect(inf.get(`${ns}/r-13`)?.data).toEqual({ v: 'after-start' });
    const after = inf.stats;
    expect(after.watches).toBeGreaterThan(before.watches);
    // Either the watch resumed where it was (no list) or a 410 made it list again (a resume
    // from a version the new apiserver's watch cache does not have).
    if (after.lists > before.lists)
      expect(after.relistsOnGone).toBeGreaterThan(before.relistsOnGone);
    console.info(
      `[restart] stop ${startAt - stopAt} ms, start ${upAt - startAt} ms; ` +
        `watches +${after.watches - before.watches}, lists +${after.lists - before.lists}, ` +
        `relistsOnGone +${after.relistsOnGone - before.relistsOnGone}`,
    );
    writer.close();
  }, 120_000);
});

describe('410 Gone on a compacting apiserver without watch cache', () => {
  let gone: KubeServer;
  let proxy: TcpProxy;

  beforeAll(async () => {
    const saved = process.env['KUBE_APISERVER_EXTRA_ARGS'];
    process.env['KUBE_APISERVER_EXTRA_ARGS'] = '--etcd-compaction-interval=2s --watch-cache=false';
    try {
      gone = await startKube();
    } finally {
      if (saved === undefined) delete process.env['KUBE_APISERVER_EXTRA_ARGS'];
      else process.env['KUBE_APISERVER_EXTRA_ARGS'] = saved;
    }
    proxy = new TcpProxy(Number(new URL(gone.server).port));
    await proxy.listen();
  }, 180_000);

  afterAll(async () => {
    await proxy?.close();
    await gone?.stop();
  }, 120_000);

  /** Opens a watch from `rv` and reports its first event: 'ERROR 410', 'ADDED', ... */
  async function firstWatchEvent(c: KubeClient, ns: string, rv: string): Promise<string> {
    let result = 'none';
    let handle: { stop(): void } | undefined;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2000);
      void c
        .watch(
          CORE.ConfigMap,
          { namespace: ns, resourceVersion: rv },
          (type, obj) => {
            const code = (obj as unknown as { code?: number }).code;
            result = type === 'ERROR' ? `ERROR ${code}` : type;
            clearTimeout(timer);
            resolve();
          },
          (err) => {
            result = `closed ${err instanceof KubeApiError ? err.statusCode : String(err)}`;
            clearTimeout(timer);
            resolve();
          },
        )
        .then((h) => (handle = h));
    });
    handle?.stop();
    return result;
  }

  it('an informer that missed events past compaction relists and matches the server, deletions included', async () => {
    const ns = 'gone';
    const direct = gone.client('gone-direct');
    await ensureNamespace(direct, ns);
    await inParallel(
      Array.from({ length: 30 }, (_, i) => `g-${i}`),
      10,
      (name) =>
        direct.create(CORE.ConfigMap, { metadata: { name, namespace: ns }, data: { v: '0' } }),
    );
    const proxied = await clientVia(gone, proxy, 'informer', 'gone-informer');
    const inf = track(
      new Informer<ConfigMap>(proxied, CORE.ConfigMap, { namespace: ns, maxRetryMs: 300 }),
    );
    const mirror = mirrorOf(inf);
    inf.start();
    await inf.waitForSync();
    expect(inf.size).toBe(30);
    const marker = await direct.create(CORE.ConfigMap, {
      metadata: { name: 'marker', namespace: ns },
    });
    const lastSeen = marker.metadata.resourceVersion!;
    await waitFor(
      'the informer to see the marker',
      () => inf.get(`${ns}/marker`)?.metadata.resourceVersion === lastSeen,
    );

    // Cut the informer off; the world moves on without it.
    proxy.refuse();
    for (let i = 0; i < 10; i++)
      await direct.delete(CORE.ConfigMap, { namespace: ns, name: `g-${i}` });
    for (let i = 10; i < 20; i++) {
      await direct.mergePatch(
        CORE.ConfigMap,
        { namespace: ns, name: `g-${i}` },
        { data: { v: 'missed' } },
      );
    }
    for (let i = 0; i < 10; i++)
      await direct.create(CORE.ConfigMap, { metadata: { name: `new-${i}`, namespace: ns } });
    // Proof that the informer's version has been compacted away: a watch from it gets 410.
    let tick = 0;
    await waitFor(
      "a watch from the informer's last version to get 410",
      async () => {
        const first = await firstWatchEvent(direct, ns, lastSeen);
        if (first === 'ERROR 410' || first === 'closed 410') return first;
        // Keep etcd's revision moving so the next compaction passes our version.
        await direct.apply(
          CORE.ConfigMap,
          { metadata: { name: 'ticker', namespace: 'default' }, data: { tick: String(tick++) } },
          { fieldManager: 'ticker', force: true },
        );
        return undefined;
      },
      60_000,
      500,
    );
    expect(inf.stats.relistsOnGone).toBe(0);
    expect(inf.stats.lastError).toBeDefined(); // the resume attempts fail while cut off

    proxy.restore();
    const fresh = versions((await direct.list(CORE.ConfigMap, { namespace: ns })).items);
    expect(Object.keys(fresh)).toHaveLength(31);
    await waitFor('the informer to relist after 410', () => inf.stats.relistsOnGone > 0, 60_000);
    await waitFor(
      'the cache to match a fresh list',
      () => JSON.stringify(versions(inf.list())) === JSON.stringify(fresh),
      30_000,
    );
    expect(mirror.versions()).toEqual(fresh);
    expect(mirror.deleted.sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => `${ns}/g-${i}`).sort(),
    );
    expect(inf.get(`${ns}/g-15`)?.data).toEqual({ v: 'missed' });
    // Watching again after the relist: new writes arrive.
    const after = await direct.create(CORE.ConfigMap, {
      metadata: { name: 'after-relist', namespace: ns },
    });
    await waitFor(
      'a write after the relist',
      () =>
        inf.get(`${ns}/after-relist`)?.metadata.resourceVersion === after.metadata.resourceVersion,
    );
    inf.stop();
    proxied.close();
    direct.close();
  }, 150_000);
});

describe('server-side apply', () => {
  const name = 'ssa-demo';
  const managerOf = (t: Tenant, manager: string, subresource?: string) =>
    t.metadata.managedFields?.find(
      (m) =>
        m.manager === manager &&
        m.operation === 'Apply' &&
        (m.subresource ?? undefined) === subresource,
    );
  const fields = (entry: { fieldsV1?: unknown } | undefined) =>
    JSON.stringify(entry?.fieldsV1 ?? {});

  it('conflicts between managers, force, the status subresource and dry-run', async () => {
    await client.apply(
      VMS.Tenant,
      { metadata: { name }, spec: { displayName: 'Acme', license: license() } },
      { fieldManager: 'alice' },
    );

    // Bob wants the same field without force: 409 naming alice.
    const conflict = await client
      .apply(
        VMS.Tenant,
        { metadata: { name }, spec: { displayName: 'Bobco' } },
        { fieldManager: 'bob' },
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(conflict).toBeInstanceOf(KubeApiError);
    expect(isConflict(conflict)).toBe(true);
    expect((conflict as KubeApiError).statusCode).toBe(409);
    expect((conflict as KubeApiError).reason).toBe('Conflict');
    expect((conflict as KubeApiError).message).toContain('"alice"');
    expect((conflict as KubeApiError).message).toContain('.spec.displayName');
    expect((await client.get<Tenant>(VMS.Tenant, { name }))?.spec.displayName).toBe('Acme');

    // With force Bob takes the field over; Alice keeps what she alone set.
    const forced = await client.apply<Tenant>(
      VMS.Tenant,
      { metadata: { name }, spec: { displayName: 'Bobco' } },
      { fieldManager: 'bob', force: true },
    );
    expect(forced.spec.displayName).toBe('Bobco');
    expect(forced.spec.license.cameraLimit).toBe(5);
    expect(fields(managerOf(forced, 'bob'))).toContain('"f:displayName"');
    expect(fields(managerOf(forced, 'alice'))).not.toContain('"f:displayName"');
    expect(fields(managerOf(forced, 'alice'))).toContain('"f:license"');
    // Now Alice is the one who gets a conflict, naming bob.
    const back = await client
      .apply(
        VMS.Tenant,
        { metadata: { name }, spec: { displayName: 'Acme', license: license() } },
        { fieldManager: 'alice' },
      )
      .catch((e: unknown) => e);
    expect(isConflict(back)).toBe(true);
    expect((back as Error).message).toContain('"bob"');

    // Status goes through its subresource; a status in a main-resource apply is ignored.
    const withStatus = await client.apply<Tenant>(
      VMS.Tenant,
      { metadata: { name }, status: { camerasUsed: 4 } },
      { fieldManager: 'status-writer', subresource: 'status' },
    );
    expect(withStatus.status?.camerasUsed).toBe(4);
    expect(managerOf(withStatus, 'status-writer', 'status')).toBeDefined();
    expect(withStatus.spec.displayName).toBe('Bobco');
    const ignored = await client.apply<Tenant>(
      VMS.Tenant,
      { metadata: { name }, status: { camerasUsed: 9 } },
      { fieldManager: 'carol' },
    );
    expect(ignored.status?.camerasUsed).toBe(4);

    // Dry-run: the answer shows the result, nothing is written or counted as a write.
    const stored = (await client.get<Tenant>(VMS.Tenant, { name }))!;
    const applies = client.counts.apply;
    const writes = client.writes();
    const dry = await client.apply<Tenant>(
      VMS.Tenant,
      { metadata: { name }, spec: { displayName: 'Dry run' } },
      { fieldManager: 'bob', force: true, dryRun: true },
    );
    expect(dry.spec.displayName).toBe('Dry run');
    expect(client.counts.apply).toBe(applies);
    expect(client.writes()).toBe(writes);
    const still = (await client.get<Tenant>(VMS.Tenant, { name }))!;
    expect(still.spec.displayName).toBe('Bobco');
    expect(still.metadata.resourceVersion).toBe(stored.metadata.resourceVersion);
    // A dry-run that the schema rejects still reports the field.
    const invalid = await client
      .apply(
        VMS.Tenant,
        { metadata: { name }, spec: { license: { ...license(), cameraLimit: -1 } } },
        {
          fieldManager: 'bob',
          force: true,
          dryRun: true,
        },
      )
      .catch((e: unknown) => e);
    expect((invalid as KubeApiError).statusCode).toBe(422);
    expect((invalid as KubeApiError).message).toContain('spec.license.cameraLimit');
  });
});

describe('applyStatusIfChanged', () => {
  it('makes no request for an unchanged status and one for a change (including a dropped field)', async () => {
    const name = 'status-demo';
    await client.apply(
      VMS.Tenant,
      { metadata: { name }, spec: { displayName: 'Status', license: license() } },
      {
        fieldManager: 'runtime-test',
      },
    );
    const sc = server.client('status-writer');
    const read = async () => (await client.get<Tenant>(VMS.Tenant, { name }))!;
    const manager = 'tenant-controller';
    const t0 = new Date('2026-02-01T00:00:00Z');

    let cached = await read();
    const gen = cached.metadata.generation;
    const status1 = {
      observedGeneration: gen,
      conditions: mergeConditions(undefined, outcome(true, 'Reconciled', 'ok'), gen, t0),
      camerasUsed: 2,
      licenseDaysLeft: 30,
    };
    let before = totalRequests(sc);
    expect(await applyStatusIfChanged(sc, VMS.Tenant, cached, status1, manager)).toBe(true);
    expect(totalRequests(sc) - before).toBe(1);
    expect(sc.counts.apply).toBe(1);

    // Recomputed a day later from the stored conditions: the same status, no request at all.
    cached = await read();
    expect(cached.status?.camerasUsed).toBe(2);
    const again = {
      conditions: mergeConditions(
        cached.status?.conditions,
        outcome(true, 'Reconciled', 'ok'),
        gen,
        new Date('2026-02-02T00:00:00Z'),
      ),
      licenseDaysLeft: 30,
      camerasUsed: 2,
      observedGeneration: gen,
      namespace: undefined, // an optional field left unset
    };
    before = totalRequests(sc);
    expect(await applyStatusIfChanged(sc, VMS.Tenant, cached, again, manager)).toBe(false);
    // Even when a nested value is explicitly undefined (JSON drops it; the server never has it).
    const noGen = (cached.status?.conditions ?? []).map((c) => ({
      ...c,
      observedGeneration: undefined,
    }));
    const withoutGen = { ...again, conditions: noGen };
    expect(await applyStatusIfChanged(sc, VMS.Tenant, cached, withoutGen, manager)).toBe(true);
    cached = await read();
    expect(cached.status?.conditions?.[0]?.observedGeneration).toBeUndefined();
    expect(await applyStatusIfChanged(sc, VMS.Tenant, cached, withoutGen, manager)).toBe(false);
    expect(totalRequests(sc) - before).toBe(1);

    // A real change: exactly one request.
    before = totalRequests(sc);
    expect(
      await applyStatusIfChanged(sc, VMS.Tenant, cached, { ...again, camerasUsed: 3 }, manager),
    ).toBe(true);
    expect(totalRequests(sc) - before).toBe(1);
    cached = await read();
    expect(cached.status?.camerasUsed).toBe(3);
    expect(cached.status?.conditions?.[0]?.lastTransitionTime).toBe('2026-02-01T00:00:00Z');

    // A field this manager set and now leaves out is a change: the apply removes it.
    const { licenseDaysLeft: _, ...dropped } = { ...again, camerasUsed: 3 };
    before = totalRequests(sc);
    expect(await applyStatusIfChanged(sc, VMS.Tenant, cached, dropped, manager)).toBe(true);
    cached = await read();
    expect(cached.status?.licenseDaysLeft).toBeUndefined();
    expect(await applyStatusIfChanged(sc, VMS.Tenant, cached, dropped, manager)).toBe(false);
    expect(totalRequests(sc) - before).toBe(1);

    // A field someone else owns is not ours to remove: no request.
    await client.apply(
      VMS.Tenant,
      { metadata: { name }, status: { namespace: 'tenant-x' } },
      {
        fieldManager: 'namespace-controller',
        subresource: 'status',
      },
    );
    cached = await read();
    expect(cached.status?.namespace).toBe('tenant-x');
    before = totalRequests(sc);
    expect(await applyStatusIfChanged(sc, VMS.Tenant, cached, dropped, manager)).toBe(false);
    expect(totalRequests(sc) - before).toBe(0);
    sc.close();
  });
});

describe('Controller and WorkQueue on a real apiserver', () => {
  it('mirrors Tenants into ConfigMaps with SSA and owner refs; retries with backoff; GC cascades deletes', async () => {
    const ns = 'mirror';
    await ensureNamespace(client, ns);
    const mc = server.client('mirror-controller');
    const tenants = track(new Informer<Tenant>(mc, VMS.Tenant, { labelSelector: 'test=mirror' }));
    const mirrors = track(new Informer<ConfigMap>(mc, CORE.ConfigMap, { namespace: ns }));
    const attempts = new Map<string, { at: number; ok: boolean }[]>();
    const controller = new Controller(
      { name: 'tenant-mirror', workers: 3, log, baseDelayMs: 100, maxDelayMs: 5_000 },
      {
        async reconcile(key) {
          const tries = attempts.get(key) ?? [];
          attempts.set(key, tries);
          const attempt = { at: Date.now(), ok: false };
          tries.push(attempt);
          const t = tenants.get(key);
          if (!t) return; // gone: the garbage collector removes the ConfigMap
          const failTimes = Number(t.metadata.labels?.['fail-times'] ?? 0);
          if (tries.length <= failTimes) throw new Error(`injected failure ${tries.length}`);
          await mc.apply(
            CORE.ConfigMap,
            {
              metadata: {
                name: `tenant-${t.metadata.name}`,
                namespace: ns,
                labels: { 'vmsctl.io/tenant': t.metadata.name },
                ownerReferences: [controllerRef(VMS.Tenant, t)],
              },
              data: {
                displayName: t.spec.displayName,
                cameraLimit: String(t.spec.license.cameraLimit),
              },
            },
            { fieldManager: 'tenant-mirror', force: true },
          );
          attempt.ok = true;
        },
      },
    );
    cleanups.push(() => controller.stop());
    controller.watch(tenants);
    // A change to a mirror (someone deletes it) brings its tenant back to the queue.
    controller.watch(mirrors, (cm) =>
      cm.metadata.labels?.['vmsctl.io/tenant'] ? [cm.metadata.labels['vmsctl.io/tenant']] : [],
    );
    tenants.start();
    mirrors.start();
    await Promise.all([tenants.waitForSync(), mirrors.waitForSync()]);
    controller.start();

    const names = ['m-0', 'm-1', 'm-2', 'm-3', 'm-flaky'];
    for (const name of names) {
      await client.apply(
        VMS.Tenant,
        {
          metadata: {
            name,
            labels: { test: 'mirror', ...(name === 'm-flaky' ? { 'fail-times': '3' } : {}) },
          },
          spec: { displayName: `Tenant ${name}`, license: license() },
        },
        { fieldManager: 'runtime-test' },
      );
    }
    const mirrorOk =
      (name: string, displayName: string, limit = '5') =>
      () => {
        const cm = mirrors.get(`${ns}/tenant-${name}`);
        return cm?.data?.['displayName'] === displayName && cm.data['cameraLimit'] === limit;
      };
    for (const name of names) await waitFor(`mirror of ${name}`, mirrorOk(name, `Tenant ${name}`));

    // Owner references point at the tenant's uid, as the controller.
    const t0 = (await client.get<Tenant>(VMS.Tenant, { name: 'm-0' }))!;
    const cm0 = (await client.get<ConfigMap>(CORE.ConfigMap, {
      namespace: ns,
      name: 'tenant-m-0',
    }))!;
    expect(cm0.metadata.ownerReferences).toEqual([
      {
        apiVersion: 'vmsctl.io/v1alpha1',
        kind: 'Tenant',
        name: 'm-0',
        uid: t0.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);

    // The failing key: three failures then success, each retry later than the one before.
    // (Later visits come from its mirror's events.)
    const flaky = attempts.get('m-flaky')!.slice(0, 4);
    expect(flaky.map((a) => a.ok)).toEqual([false, false, false, true]);
    const gaps = flaky.slice(1).map((a, i) => a.at - flaky[i]!.at);
    expect(gaps[0]).toBeGreaterThanOrEqual(95);
    expect(gaps[1]).toBeGreaterThanOrEqual(195);
    expect(gaps[2]).toBeGreaterThanOrEqual(395);
    expect(controller.stats.errors).toBe(3);
    expect(controller.queue.retries('m-flaky')).toBe(0); // forgotten after the success

    // Spec changes converge.
    await client.mergePatch(VMS.Tenant, { name: 'm-1' }, { spec: { displayName: 'Renamed' } });
    await client.mergePatch(
      VMS.Tenant,
      { name: 'm-2' },
      { spec: { license: { cameraLimit: 42 } } },
    );
    await waitFor('m-1 renamed', mirrorOk('m-1', 'Renamed'));
    await waitFor('m-2 limit', mirrorOk('m-2', 'Tenant m-2', '42'));
    // A deleted mirror comes back.
    await client.delete(CORE.ConfigMap, { namespace: ns, name: 'tenant-m-3' });
    await waitFor(
      'm-3 mirror recreated',
      async () => !!(await client.get(CORE.ConfigMap, { namespace: ns, name: 'tenant-m-3' })),
    );

    // Settled: no hot loop (unchanged applies write nothing, so no events come back).
    await waitFor('the queue to go idle', () => controller.queue.isIdle());
    await sleep(500);
    const reconciles = controller.stats.reconciles;
    const applies = mc.counts.apply;
    await sleep(1500);
    expect(controller.stats.reconciles).toBe(reconciles);
    expect(mc.counts.apply).toBe(applies);

    // Deleting the owner cascades through the garbage collector.
    await client.delete(VMS.Tenant, { name: 'm-0' });
    await waitFor(
      'the garbage collector to delete tenant-m-0',
      async () => !(await client.get(CORE.ConfigMap, { namespace: ns, name: 'tenant-m-0' })),
      90_000,
      250,
    );
    expect(await client.get(CORE.ConfigMap, { namespace: ns, name: 'tenant-m-1' })).toBeDefined();
    await controller.stop();
  }, 150_000);
});

describe('leader election', () => {
  const timing = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 };

  /** Samples isLeader() of every candidate; records any moment with two leaders. */
  function sampleLeaders(candidates: { isLeader(): boolean }[]) {
    const overlaps: number[] = [];
    let samples = 0;
    const timer = setInterval(() => {
      samples++;
      if (candidates.filter((c) => c.isLeader()).length > 1) overlaps.push(Date.now());
    }, 10);
    return {
      overlaps,
      samples: () => samples,
      stop: () => clearInterval(timer),
    };
  }

  function elector(c: KubeClient, name: string, identity: string) {
    const e = new LeaderElector(c, { namespace: 'default', name, identity, log, ...timing });
    const events: { started?: number; stopped?: number } = {};
    e.run(
      () => (events.started = Date.now()),
      () => (events.stopped = Date.now()),
    );
    cleanups.push(() => e.stop());
    return { e, events };
  }

  async function lease(name: string): Promise<Lease> {
    return (await client.get<Lease>(CORE.Lease, { namespace: 'default', name }))!;
  }

  it('one leader at a time; a graceful stop hands over well within the lease duration', async () => {
    const a = elector(server.client('elector-a'), 'le-graceful', 'a');
    await waitFor('a to lead', () => a.e.isLeader(), 20_000);
    const b = elector(server.client('elector-b'), 'le-graceful', 'b');
    const sampler = sampleLeaders([a.e, b.e]);
    try {
      await sleep(2 * timing.leaseDurationMs); // b keeps seeing a renew: it never takes over
      expect(b.e.isLeader()).toBe(false);
      expect(a.e.isLeader()).toBe(true);
      expect((await lease('le-graceful')).spec?.holderIdentity).toBe('a');
      const stoppedAt = Date.now();
      await a.e.stop();
      expect(a.e.isLeader()).toBe(false);
      await waitFor('b to lead', () => b.e.isLeader(), 20_000, 10);
      const handover = b.events.started! - stoppedAt;
      console.info(`[leader] graceful handover in ${handover} ms`);
      expect(handover).toBeLessThan(timing.leaseDurationMs);
      expect((await lease('le-graceful')).spec?.holderIdentity).toBe('b');
      await sleep(1000);
      expect(b.e.isLeader()).toBe(true);
    } finally {
      sampler.stop();
    }
    expect(sampler.samples()).toBeGreaterThan(100);
    expect(sampler.overlaps).toEqual([]);
    await b.e.stop();
  }, 60_000);

  it('a partitioned leader steps down by its renew deadline; the other waits out the lease', async () => {
    const proxy = new TcpProxy(Number(new URL(server.server).port));
    await proxy.listen();
    cleanups.push(() => proxy.close());
    const cut = await clientVia(server, proxy, 'elector-partitioned', 'elector-partitioned');
    const a = elector(cut, 'le-partition', 'partitioned');
    await waitFor('a to lead', () => a.e.isLeader(), 20_000);
    const b = elector(server.client('elector-b2'), 'le-partition', 'b');
    const sampler = sampleLeaders([a.e, b.e]);
    try {
      await sleep(2 * timing.retryPeriodMs);
      // Requests from a now hang: no answer, no error (the worst case for a leader).
      const cutAt = Date.now();
      proxy.blackhole();
      await sleep(200); // a renewal in flight at the cut lands or never will
      const renewTime = (await lease('le-partition')).spec?.renewTime;
      const lastRenew = Date.parse(renewTime!.replace(/(\.\d{3})\d*Z$/, '$1Z'));
      expect((await lease('le-partition')).spec?.holderIdentity).toBe('partitioned');
      await waitFor('b to take over', () => b.e.isLeader(), 30_000, 10);
      const tookOver = b.events.started!;
      const steppedDown = a.events.stopped;
      console.info(
        `[leader] partition: a stepped down ${steppedDown! - cutAt} ms after the cut; ` +
          `b took over ${tookOver - lastRenew} ms after a's last renewal`,
      );
      expect(steppedDown).toBeDefined();
      expect(a.e.isLeader()).toBe(false);
      expect(steppedDown!).toBeLessThan(tookOver);
      // It stops acting before its lease can expire anywhere else.
      expect(steppedDown! - lastRenew).toBeLessThan(timing.leaseDurationMs);
      expect(tookOver - lastRenew).toBeGreaterThanOrEqual(timing.leaseDurationMs - 5);
      expect((await lease('le-partition')).spec?.holderIdentity).toBe('b');
    } finally {
      sampler.stop();
      proxy.restore();
    }
    expect(sampler.overlaps).toEqual([]);
    // Back on the network, a does not take the lease back while b renews it.
    await sleep(timing.leaseDurationMs + 2 * timing.retryPeriodMs);
    expect(a.e.isLeader()).toBe(false);
    expect(b.e.isLeader()).toBe(true);
    await a.e.stop();
    await b.e.stop();
    cut.close();
  }, 90_000);

  it('Manager: only the leader runs controllers; the standby has a warm cache and takes over on stop', async () => {
    await client.apply(
      VMS.Tenant,
      {
        metadata: { name: 'managed', labels: { test: 'manager' } },
        spec: { displayName: 'Managed', license: license() },
      },
      { fieldManager: 'runtime-test' },
    );
    const replica = (id: string) => {
      const m = new Manager({
        client: server.client(`manager-${id}`),
        log,
        namespace: 'default',
        leaseName: 'mgr-lease',
        ...timing,
      });
      const informer = m.informer<Tenant>(VMS.Tenant, { labelSelector: 'test=manager' });
      const reconciled: string[] = [];
      const c = new Controller(
        { name: 'count', log, workers: 1 },
        { reconcile: async (key) => void reconciled.push(key) },
      );
      c.watch(informer);
      m.add(c);
      cleanups.push(() => m.stop());
      return { id, m, informer, reconciled };
    };
    const one = replica('one');
    const two = replica('two');
    await Promise.all([one.m.start(), two.m.start()]);
    const sampler = sampleLeaders([one.m, two.m]);
    try {
      const leader = await waitFor(
        'a leader',
        () => [one, two].find((r) => r.m.isLeader()),
        20_000,
      );
      const standby = leader === one ? two : one;
      await waitFor('the leader to reconcile', () => leader.reconciled.includes('managed'));
      await sleep(1500);
      expect(standby.m.isLeader()).toBe(false);
      expect(standby.reconciled).toEqual([]);
      expect(standby.informer.get('managed')?.spec.displayName).toBe('Managed'); // warm cache
      expect(leader.m.controller('count')).toBeDefined();
      const stoppedAt = Date.now();
      await leader.m.stop();
      expect(leader.m.isLeader()).toBe(false);
      await waitFor('the standby to lead', () => standby.m.isLeader(), 20_000, 10);
      expect(Date.now() - stoppedAt).toBeLessThan(timing.leaseDurationMs);
      await waitFor('the new leader to reconcile', () => standby.reconciled.includes('managed'));
      await standby.m.stop();
    } finally {
      sampler.stop();
    }
    expect(sampler.overlaps).toEqual([]);
  }, 60_000);
});

describe('kubectl as an independent client', () => {
  const kubectl = async (...args: string[]) =>
    (
      await execFileP('kubectl', ['--kubeconfig', server.kubeconfig, ...args], {
        maxBuffer: 16 << 20,
      })
    ).stdout;

  it('sees what the runtime applied, and the runtime sees what kubectl applied', async () => {
    await client.apply(
      VMS.Tenant,
      {
        metadata: { name: 'kubectl-seen' },
        spec: { displayName: 'Seen by kubectl', license: license(7) },
      },
      { fieldManager: 'runtime-test' },
    );
    await client.apply(
      VMS.Tenant,
      { metadata: { name: 'kubectl-seen' }, status: { camerasUsed: 6 } },
      {
        fieldManager: 'runtime-test',
        subresource: 'status',
      },
    );
    const list = JSON.parse(
      await kubectl('get', 'tenants', '-o', 'json', '--show-managed-fields'),
    ) as { items: Tenant[] };
    const seen = list.items.find((t) => t.metadata.name === 'kubectl-seen');
    expect(seen?.spec).toEqual({ displayName: 'Seen by kubectl', license: license(7) });
    expect(seen?.status?.camerasUsed).toBe(6);
    expect(seen?.metadata.managedFields?.map((m) => m.manager)).toContain('runtime-test');
    const table = await kubectl('get', 'tenant', 'kubectl-seen');
    expect(table).toMatch(/kubectl-seen\s+Seen by kubectl\s+7\s+6\s+2027-01-01/);

    const crd = JSON.parse(await kubectl('get', 'crd', 'tenants.vmsctl.io', '-o', 'json')) as {
      spec: { scope: string; names: { plural: string; kind: string } };
      status: { conditions: { type: string; status: string }[] };
    };
    expect(crd.spec.scope).toBe('Cluster');
    expect(crd.spec.names).toMatchObject({ plural: 'tenants', kind: 'Tenant' });
    expect(crd.status.conditions).toContainEqual(
      expect.objectContaining({ type: 'Established', status: 'True' }),
    );

    // The other direction: kubectl's server-side apply, then the runtime conflicts with it.
    const manifest = JSON.stringify({
      apiVersion: 'vmsctl.io/v1alpha1',
      kind: 'Tenant',
      metadata: { name: 'from-kubectl' },
      spec: { displayName: 'From kubectl', license: license(3) },
    });
    const child = execFile('kubectl', [
      '--kubeconfig',
      server.kubeconfig,
      'apply',
      '--server-side',
      '--field-manager',
      'fleet-admin',
      '-f',
      '-',
    ]);
    child.stdin!.end(manifest);
    await new Promise<void>((resolve, reject) =>
      child.on('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`kubectl exited ${code}`)),
      ),
    );
    const fromKubectl = await client.get<Tenant>(VMS.Tenant, { name: 'from-kubectl' });
    expect(fromKubectl?.spec.displayName).toBe('From kubectl');
    const err = await client
      .apply(
        VMS.Tenant,
        { metadata: { name: 'from-kubectl' }, spec: { displayName: 'Runtime' } },
        { fieldManager: 'runtime-test' },
      )
      .catch((e: unknown) => e);
    expect(isConflict(err)).toBe(true);
    expect((err as Error).message).toContain('"fleet-admin"');
  });
});
