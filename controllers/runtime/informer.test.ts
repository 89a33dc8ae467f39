// Informer behaviour against a scripted fake client (exact event sequences, failures on cue),
// plus KubeClient.watch against a tiny HTTP server that answers like an apiserver that lost
// the requested resourceVersion. The real apiserver is exercised in tests/reconcile-runtime.test.ts.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { Informer } from './informer.js';
import { KubeApiError, KubeClient, type ListOptions } from './kube-client.js';
import { CORE, keyOf, type KubeObject } from './objects.js';

type Obj = KubeObject & { data?: Record<string, string> };

function cm(
  name: string,
  rv: string,
  data: Record<string, string> = {},
  labels?: Record<string, string>,
): Obj {
  return { metadata: { name, namespace: 'ns', resourceVersion: rv, labels }, data };
}

interface FakeWatch {
  resourceVersion: string;
  event(type: string, obj: unknown): void;
  close(err: unknown): void;
  stopped: boolean;
}

/** What the informer calls on KubeClient: list and watch, scripted by the test. */
class FakeClient {
  objects = new Map<string, Obj>();
  rv = 100;
  lists: ListOptions[] = [];
  watches: FakeWatch[] = [];
  /** Errors the next lists throw, in order. */
  listErrors: unknown[] = [];
  /** When set, list() waits for this before answering. */
  listGate?: Promise<void>;

  set(o: Obj): Obj {
    const obj = { ...o, metadata: { ...o.metadata, resourceVersion: String(++this.rv) } };
    this.objects.set(keyOf(obj), obj);
    return obj;
  }

  async list(_type: unknown, options: ListOptions) {
    this.lists.push(options);
    const gate = this.listGate;
    if (gate) await gate;
    const err = this.listErrors.shift();
    if (err) throw err;
    return { items: [...this.objects.values()], resourceVersion: String(this.rv) };
  }

  async watch(
    _type: unknown,
    options: { resourceVersion: string },
    onEvent: (type: string, obj: unknown) => void,
    onClose: (err: unknown) => void,
  ) {
    const w: FakeWatch = {
      resourceVersion: options.resourceVersion,
      stopped: false,
      event: (type, obj) => {
        if (!w.stopped) onEvent(type, obj);
      },
      close: (err) => {
        if (w.stopped) return;
        w.stopped = true;
        onClose(err);
      },
    };
    this.watches.push(w);
    return {
      stop() {
        w.stopped = true;
      },
    };
  }

  /** Watches neither stopped by the informer nor closed by the "server". */
  live(): FakeWatch[] {
    return this.watches.filter((w) => !w.stopped);
  }
}

async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

function recorder<T extends Obj>(inf: Informer<T>) {
  const log: string[] = [];
  inf.on({
    add: (o) => log.push(`add ${o.metadata.name}@${o.metadata.resourceVersion}`),
    update: (a, b) =>
      log.push(
        `update ${b.metadata.name}@${a.metadata.resourceVersion}->${b.metadata.resourceVersion}`,
      ),
    delete: (o) => log.push(`delete ${o.metadata.name}@${o.metadata.resourceVersion}`),
  });
  return log;
}

const stops: (() => void)[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s();
});

function informer(fake: FakeClient, options = {}) {
  const inf = new Informer<Obj>(fake as unknown as KubeClient, CORE.ConfigMap, {
    namespace: 'ns',
    maxRetryMs: 20,
    ...options,
  });
  stops.push(() => inf.stop());
  return inf;
}

describe('Informer (scripted client)', () => {
  it('lists, then watches from the list resourceVersion and applies events in order', async () => {
    const fake = new FakeClient();
    fake.set(cm('a', ''));
    fake.set(cm('b', ''));
    const inf = informer(fake);
    const log = recorder(inf);
    inf.start();
    await inf.waitForSync();
    expect(inf.hasSynced()).toBe(true);
    expect(fake.lists[0]).toEqual({
      namespace: 'ns',
      labelSelector: undefined,
      fieldSelector: undefined,
    });
    await until(() => fake.watches.length === 1, 'a watch');
    expect(fake.watches[0]!.resourceVersion).toBe('102');
    const w = fake.watches[0]!;
    w.event('ADDED', cm('c', '103'));
    w.event('MODIFIED', cm('a', '104', { v: '2' }));
    w.event('DELETED', cm('b', '105'));
    w.event('DELETED', cm('never-seen', '106'));
    expect(log).toEqual([
      'add a@101',
      'add b@102',
      'add c@103',
      'update a@101->104',
      'delete b@102', // handlers get the last version they saw
    ]);
    expect(
      inf
        .list()
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['a', 'c']);
    expect(inf.get('ns/a')?.data).toEqual({ v: '2' });
    expect(inf.size).toBe(2);
  });

  it('a watch the server ends resumes from the last version seen, bookmarks included', async () => {
    const fake = new FakeClient();
    const inf = informer(fake);
    const log = recorder(inf);
    inf.start();
    await until(() => fake.watches.length === 1, 'a watch');
    fake.watches[0]!.event('ADDED', cm('a', '150'));
    fake.watches[0]!.event('BOOKMARK', { metadata: { resourceVersion: '170' } });
    fake.watches[0]!.close(null);
    await until(() => fake.watches.length === 2, 'the resumed watch');
    expect(fake.watches[1]!.resourceVersion).toBe('170');
    expect(fake.lists).toHaveLength(1);
    expect(inf.stats).toMatchObject({ lists: 1, watches: 2, relistsOnGone: 0 });
    expect(log).toEqual(['add a@150']);
  });

  it('410 Gone (ERROR event) relists and delivers only the differences', async () => {
    const fake = new FakeClient();
    const a = fake.set(cm('a', ''));
    fake.set(cm('b', ''));
    fake.set(cm('c', ''));
    const inf = informer(fake);
    const log = recorder(inf);
    inf.start();
    await until(() => fake.watches.length === 1, 'a watch');
    const first = fake.watches[0]!;
    // While the informer was not looking: b deleted, c changed, d created, a untouched.
    fake.objects.delete('ns/b');
    fake.set({ ...cm('c', ''), data: { v: '2' } });
    fake.set(cm('d', ''));
    log.length = 0;
    first.event('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old' });
    await until(() => fake.watches.length === 2, 'the watch after the relist');
    expect(log.sort()).toEqual(['add d@105', 'delete b@102', 'update c@103->104']);
    expect(inf.stats).toMatchObject({ lists: 2, relistsOnGone: 1 });
    expect(fake.watches[1]!.resourceVersion).toBe('105');
    expect(inf.get('ns/a')).toBe(a);
    // The abandoned watch is stopped and nothing it might still say is applied.
    expect(first.stopped).toBe(true);
    first.event('ADDED', cm('ghost', '999'));
    expect(inf.get('ns/ghost')).toBeUndefined();
  });

  it('410 Gone as the close error (KubeApiError) relists too', async () => {
    const fake = new FakeClient();
    const inf = informer(fake);
    inf.start();
    await until(() => fake.watches.length === 1, 'a watch');
    fake.set(cm('x', ''));
    fake.watches[0]!.close(new KubeApiError(410, 'Gone', 'too old'));
    await until(() => fake.watches.length === 2, 'the watch after the relist');
    expect(inf.stats.relistsOnGone).toBe(1);
    expect(inf.get('ns/x')).toBeDefined();
  });

  it('other watch failures retry the watch with backoff; a 404 (kind gone) lists again', async () => {
    const fake = new FakeClient();
    const inf = informer(fake);
    inf.start();
    await until(() => fake.watches.length === 1, 'a watch');
    fake.watches[0]!.close(new Error('ECONNRESET'));
    await until(() => fake.watches.length === 2, 'the retried watch');
    expect(inf.stats.lists).toBe(1);
    expect(inf.stats.lastError).toBe('ECONNRESET');
    fake.watches[1]!.close(
      new KubeApiError(404, 'NotFound', 'the server could not find the requested resource'),
    );
    await until(() => fake.watches.length === 3, 'the watch after a new list');
    expect(inf.stats.lists).toBe(2);
    // An ERROR event other than 410 also retries the watch (no list).
    fake.watches[2]!.event('ERROR', { code: 500, message: 'internal error' });
    await until(() => fake.watches.length === 4, 'the watch after an error event');
    expect(inf.stats.lists).toBe(2);
    expect(fake.live()).toHaveLength(1);
  });

  it('retries a failing first list until it works; waitForSync resolves only then', async () => {
    const fake = new FakeClient();
    fake.set(cm('a', ''));
    fake.listErrors = [
      new KubeApiError(503, 'ServiceUnavailable', 'down'),
      new Error('ECONNREFUSED'),
    ];
    const inf = informer(fake);
    let synced = false;
    void inf.waitForSync().then(() => (synced = true));
    inf.start();
    await until(() => fake.lists.length === 2, 'the second list');
    expect(synced).toBe(false);
    expect(inf.hasSynced()).toBe(false);
    await inf.waitForSync();
    expect(fake.lists).toHaveLength(3);
    expect(inf.size).toBe(1);
    expect(inf.stats.lastError).toBeUndefined();
  });

  it('stop() then start() while a list is in flight: the stale list starts no second watch', async () => {
    const fake = new FakeClient();
    fake.set(cm('a', ''));
    let open!: () => void;
    fake.listGate = new Promise((r) => (open = r));
    const inf = informer(fake);
    inf.start();
    await until(() => fake.lists.length === 1, 'the first list');
    inf.stop();
    inf.start();
    inf.start(); // a second start() of a running informer is a no-op
    await until(() => fake.lists.length === 2, 'the second list');
    open();
    await inf.waitForSync();
    await new Promise((r) => setTimeout(r, 20));
    expect(fake.lists).toHaveLength(2);
    expect(fake.watches).toHaveLength(1);
    expect(fake.live()).toHaveLength(1);
  });

  it('stop() ends the watch and cancels retries; waiters of a never-synced informer are released', async () => {
    const fake = new FakeClient();
    fake.listErrors = Array.from({ length: 1000 }, () => new Error('down'));
    const inf = informer(fake);
    inf.start();
    await until(() => fake.lists.length >= 2, 'a retry');
    const waiting = inf.waitForSync();
    inf.stop();
    await waiting;
    const n = fake.lists.length;
    await new Promise((r) => setTimeout(r, 60));
    expect(fake.lists.length).toBe(n);
  });

  it('indexes follow adds, updates, deletes and relists', async () => {
    const fake = new FakeClient();
    fake.set(cm('a', '', {}, { site: 's1' }));
    fake.set(cm('b', '', {}, { site: 's1' }));
    const inf = informer(fake);
    inf.addIndex('site', (o) => (o.metadata.labels?.['site'] ? [o.metadata.labels['site']] : []));
    inf.start();
    await until(() => fake.watches.length === 1, 'a watch');
    const names = (v: string) =>
      inf
        .byIndex('site', v)
        .map((o) => o.metadata.name)
        .sort();
    expect(names('s1')).toEqual(['a', 'b']);
    fake.watches[0]!.event('MODIFIED', cm('a', '200', {}, { site: 's2' }));
    expect(names('s1')).toEqual(['b']);
    expect(names('s2')).toEqual(['a']);
    fake.watches[0]!.event('DELETED', cm('b', '201', {}, { site: 's1' }));
    expect(names('s1')).toEqual([]);
    // An index added late covers what is cached already.
    inf.addIndex('name', (o) => [o.metadata.name]);
    expect(inf.byIndex('name', 'a')).toHaveLength(1);
    // A relist moves objects between index values too.
    fake.objects.clear();
    fake.set(cm('a', '', {}, { site: 's3' }));
    fake.watches[0]!.event('ERROR', { code: 410 });
    await until(() => fake.watches.length === 2, 'the relist');
    expect(names('s2')).toEqual([]);
    expect(names('s3')).toEqual(['a']);
    expect(inf.byIndex('nope', 'x')).toEqual([]);
  });

  it('late handlers get the cache as adds; resync re-delivers unchanged updates', async () => {
    const fake = new FakeClient();
    fake.set(cm('a', ''));
    fake.set(cm('b', ''));
    const inf = informer(fake);
    inf.start();
    await inf.waitForSync();
    const log = recorder(inf);
    expect(log).toEqual(['add a@101', 'add b@102']);
    inf.resync();
    expect(log.slice(2)).toEqual(['update a@101->101', 'update b@102->102']);
  });

  it('resyncMs delivers periodic updates', async () => {
    const fake = new FakeClient();
    fake.set(cm('a', ''));
    const inf = informer(fake, { resyncMs: 10 });
    let updates = 0;
    inf.on({ update: () => updates++ });
    inf.start();
    await inf.waitForSync();
    await until(() => updates >= 3, 'three resyncs');
  });

  it('a throwing handler neither hides the change from other handlers nor makes the informer relist', async () => {
    const fake = new FakeClient();
    fake.set(cm('a', ''));
    const inf = informer(fake);
    inf.on({
      add: () => {
        throw new Error('handler bug');
      },
    });
    const log = recorder(inf);
    inf.start();
    await inf.waitForSync();
    await until(() => fake.watches.length === 1, 'a watch');
    fake.watches[0]!.event('ADDED', cm('b', '300'));
    expect(log).toEqual(['add a@101', 'add b@300']);
    expect(inf.stats.handlerErrors).toBe(2);
    await new Promise((r) => setTimeout(r, 50));
    expect(fake.lists).toHaveLength(1);
  });
});

describe('KubeClient.watch against an HTTP server', () => {
  let server: http.Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r) ?? r(undefined));
    server = undefined;
  });

  async function fakeApiserver(handler: http.RequestListener): Promise<KubeClient> {
    server = http.createServer(handler);
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    return new KubeClient(kc);
  }

  it('reports an HTTP error answer as a KubeApiError with the status code', async () => {
    const client = await fakeApiserver((_req, res) => {
      res.writeHead(410, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', code: 410, reason: 'Expired', message: 'too old' }));
    });
    const closed = await new Promise<unknown>((resolve) => {
      void client.watch(
        CORE.ConfigMap,
        { namespace: 'ns', resourceVersion: '5' },
        () => {},
        resolve,
      );
    });
    expect(closed).toBeInstanceOf(KubeApiError);
    expect((closed as KubeApiError).statusCode).toBe(410);
    client.close();
  });

  it('an informer whose watch gets HTTP 410 relists instead of retrying the same version forever', async () => {
    let rv = 10;
    const watchRvs: string[] = [];
    const client = await fakeApiserver((req, res) => {
      const url = new URL(req.url!, 'http://x');
      res.setHeader('content-type', 'application/json');
      if (url.searchParams.get('watch') !== 'true') {
        rv += 10;
        res.end(JSON.stringify({ metadata: { resourceVersion: String(rv) }, items: [] }));
        return;
      }
      watchRvs.push(url.searchParams.get('resourceVersion')!);
      if (watchRvs.length === 1) {
        res.writeHead(410);
        res.end(JSON.stringify({ kind: 'Status', code: 410, reason: 'Expired' }));
        return;
      }
      res.writeHead(200);
      res.write(''); // keep the watch open
    });
    const inf = new Informer(client, CORE.ConfigMap, { namespace: 'ns', maxRetryMs: 20 });
    stops.push(() => inf.stop());
    inf.start();
    await until(() => watchRvs.length === 2, 'a second watch');
    expect(inf.stats).toMatchObject({ lists: 2, relistsOnGone: 1 });
    expect(watchRvs).toEqual(['20', '30']);
    inf.stop();
    client.close();
  });
});
