import type { KubeClient, ListOptions, WatchHandle } from './kube-client.js';
import { KubeApiError } from './kube-client.js';
import { keyOf, type KubeObject, type ResourceType } from './objects.js';

export interface InformerHandlers<T> {
  add?(obj: T): void;
  update?(oldObj: T, newObj: T): void;
  delete?(obj: T): void;
}

export interface InformerOptions<T = KubeObject> extends ListOptions {
  /** Re-delivers every cached object as an update this often (0: never). */
  resyncMs?: number;
  /** Longest wait between attempts while the API server is unreachable. */
  maxRetryMs?: number;
  /**
   * Slims each object before it is cached (client-go's SetTransform): thousands of cached
   * objects cost memory in proportion to what they carry, most of which no reconcile reads.
   */
  transform?: (obj: T) => T;
  /**
   * Told of each failed list or watch before it is retried. Retrying never ends, so a caller
   * uses this to surface what retrying cannot fix, such as a 403 from a Role that lacks a verb.
   */
  onError?: (err: unknown) => void;
}

export interface InformerStats {
  lists: number;
  watches: number;
  /** Lists forced by 410 Gone (the resourceVersion fell out of the watch window). */
  relistsOnGone: number;
  events: number;
  /** Exceptions thrown by handlers (caught so the cache and the other handlers carry on). */
  handlerErrors: number;
  lastError?: string;
}

/**
 * A list+watch cache of one resource type. It lists once, then watches from the list's
 * resourceVersion; a watch the server ends normally resumes from the last version seen
 * (bookmarks keep it fresh), a 410 Gone triggers a new list whose differences against the
 * cache are delivered as add/update/delete, and errors (API server down, CRD deleted) are
 * retried with capped backoff. Handlers see every change in order, exactly once per version.
 */
export class Informer<T extends KubeObject> {
  private readonly store = new Map<string, T>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private readonly indexers = new Map<string, (obj: T) => string[]>();
  private readonly indices = new Map<string, Map<string, Set<string>>>();
  private resourceVersion = '';
  private watchHandle?: WatchHandle;
  private stopped = false;
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private retryTimer?: NodeJS.Timeout;
  private resyncTimer?: NodeJS.Timeout;
  private failures = 0;
  /** Bumped by stop(): async work begun by an earlier start() must not touch this run. */
  private epoch = 0;
  /** Bumped whenever a watch is started or abandoned: only the current one's callbacks count. */
  private watchSeq = 0;
  readonly stats: InformerStats = {
    lists: 0,
    watches: 0,
    relistsOnGone: 0,
    events: 0,
    handlerErrors: 0,
  };

  constructor(
    private readonly client: KubeClient,
    readonly type: ResourceType,
    private readonly options: InformerOptions<T> = {},
  ) {}

  /** Registers handlers; objects already cached are delivered as adds. */
  on(handlers: InformerHandlers<T>): void {
    this.handlers.push(handlers);
    if (handlers.add)
      for (const obj of this.store.values()) this.deliver(() => handlers.add?.(obj));
  }

  /** Adds a secondary index (e.g. cameras by site); `byIndex` reads it. */
  addIndex(name: string, fn: (obj: T) => string[]): void {
    this.indexers.set(name, fn);
    const index = new Map<string, Set<string>>();
    this.indices.set(name, index);
    for (const [key, obj] of this.store) for (const v of fn(obj)) addTo(index, v, key);
  }

  /** How many cached objects have `value` in index `name` (no array built). */
  countByIndex(name: string, value: string): number {
    return this.indices.get(name)?.get(value)?.size ?? 0;
  }

  hasIndex(name: string): boolean {
    return this.indexers.has(name);
  }

  /** Cached objects whose index `name` contains `value`. */
  byIndex(name: string, value: string): T[] {
    const keys = this.indices.get(name)?.get(value);
    if (!keys) return [];
    const out: T[] = [];
    for (const k of keys) {
      const obj = this.store.get(k);
      if (obj) out.push(obj);
    }
    return out;
  }

  /** The cached object with this `namespace/name` (or `name`) key. */
  get(key: string): T | undefined {
    return this.store.get(key);
  }

  list(): T[] {
    return [...this.store.values()];
  }

  get size(): number {
    return this.store.size;
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves once the first list has filled the cache. */
  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  /** Starts listing and watching in the background. */
  start(): void {
    if (!this.stopped && this.epoch > 0) return;
    this.stopped = false;
    this.epoch++;
    void this.relist();
    if (this.options.resyncMs) {
      clearInterval(this.resyncTimer);
      this.resyncTimer = setInterval(() => this.resync(), this.options.resyncMs);
      this.resyncTimer.unref();
    }
  }

  stop(): void {
    this.stopped = true;
    this.epoch++;
    this.watchSeq++;
    clearTimeout(this.retryTimer);
    clearInterval(this.resyncTimer);
    this.watchHandle?.stop();
    this.watchHandle = undefined;
    for (const w of this.syncWaiters) w();
    this.syncWaiters = [];
  }

  /** Re-delivers every cached object as an unchanged update (periodic level-triggered pass). */
  resync(): void {
    for (const obj of this.store.values()) {
      for (const h of this.handlers) this.deliver(() => h.update?.(obj, obj));
    }
  }

  private stale(epoch: number): boolean {
    return this.stopped || epoch !== this.epoch;
  }

  private async relist(epoch = this.epoch): Promise<void> {
    if (this.stale(epoch)) return;
    try {
      this.stats.lists++;
      const { items, resourceVersion } = await this.client.list<T>(this.type, this.listOptions());
      if (this.stale(epoch)) return;
      this.replace(items);
      this.resourceVersion = resourceVersion;
      this.failures = 0;
      this.stats.lastError = undefined;
      if (!this.synced) {
        this.synced = true;
        for (const w of this.syncWaiters) w();
        this.syncWaiters = [];
      }
      await this.startWatch(epoch);
    } catch (err) {
      if (!this.stale(epoch)) this.retry(err, () => this.relist(epoch));
    }
  }

  private listOptions(): ListOptions {
    const { namespace, labelSelector, fieldSelector } = this.options;
    return { namespace, labelSelector, fieldSelector };
  }

  /** Applies a full list to the cache, delivering only the differences. */
  private replace(items: T[]): void {
    const seen = new Set<string>();
    for (const obj of items) {
      const key = keyOf(obj);
      seen.add(key);
      const old = this.store.get(key);
      if (!old) this.put(key, obj, undefined);
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion)
        this.put(key, obj, old);
    }
    for (const [key, old] of [...this.store]) if (!seen.has(key)) this.remove(key, old);
  }

  private async startWatch(epoch: number): Promise<void> {
    if (this.stale(epoch)) return;
    this.stats.watches++;
    // Callbacks of a watch that was replaced or abandoned (after an ERROR event, say, or one
    // that closed before client.watch even returned) are ignored.
    const id = ++this.watchSeq;
    const current = () => id === this.watchSeq && !this.stale(epoch);
    const handle = await this.client.watch<T>(
      this.type,
      { ...this.listOptions(), resourceVersion: this.resourceVersion },
      (type, obj) => {
        if (current()) this.onEvent(type, obj);
      },
      (err) => {
        if (!current()) return;
        this.watchSeq++;
        this.onWatchClosed(err);
      },
    );
    if (current()) this.watchHandle = handle;
    else handle.stop();
  }

  private onEvent(type: string, obj: T): void {
    this.stats.events++;
    if (type === 'ERROR') {
      // The server sends a Status object; 410 means our resourceVersion is too old to resume.
      const status = obj as unknown as { code?: number; message?: string };
      this.watchSeq++;
      this.watchHandle?.stop();
      this.watchHandle = undefined;
      if (status.code === 410) {
        this.stats.relistsOnGone++;
        void this.relist();
      } else {
        this.retry(new Error(status.message ?? 'watch error'), () => this.resume());
      }
      return;
    }
    // The watch works again: the next outage starts from the shortest backoff.
    this.failures = 0;
    this.stats.lastError = undefined;
    const rv = obj.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    if (type === 'BOOKMARK') return;
    const key = keyOf(obj);
    const old = this.store.get(key);
    if (type === 'DELETED') {
      if (old) this.remove(key, old);
    } else {
      this.put(key, obj, old);
    }
  }

  private onWatchClosed(err: unknown): void {
    this.watchHandle = undefined;
    if (this.stopped) return;
    if (err instanceof KubeApiError && err.statusCode === 410) {
      this.stats.relistsOnGone++;
      void this.relist();
    } else if (err === null) {
      void this.resume();
    } else {
      this.retry(err, () => this.resume());
    }
  }

  /** Watches again from the last version seen; a 410 there falls back to a list. */
  private async resume(epoch = this.epoch): Promise<void> {
    if (this.stale(epoch)) return;
    try {
      await this.startWatch(epoch);
    } catch (err) {
      if (this.stale(epoch)) return;
      if ((err as { statusCode?: number }).statusCode === 410) {
        this.stats.relistsOnGone++;
        void this.relist(epoch);
      } else {
        this.retry(err, () => this.resume(epoch));
      }
    }
  }

  private retry(err: unknown, again: () => Promise<void>): void {
    if (this.stopped) return;
    this.failures++;
    this.stats.lastError = err instanceof Error ? err.message : String(err);
    this.deliver(() => this.options.onError?.(err));
    const max = this.options.maxRetryMs ?? 5_000;
    const delay = Math.min(max, 100 * 2 ** Math.min(this.failures, 10)) * (0.5 + Math.random() / 2);
    // A 404 on the list means the kind itself is gone (CRD deleted): list again from scratch.
    const statusCode = (err as { statusCode?: number }).statusCode;
    const next = statusCode === 404 ? () => this.relist() : again;
    this.retryTimer = setTimeout(() => void next(), delay);
    this.retryTimer.unref();
  }

  private put(key: string, raw: T, old: T | undefined): void {
    const obj = this.options.transform ? this.options.transform(raw) : raw;
    if (old) this.unindex(key, old);
    this.store.set(key, obj);
    for (const [name, fn] of this.indexers)
      for (const v of fn(obj)) addTo(this.indices.get(name)!, v, key);
    for (const h of this.handlers) this.deliver(() => (old ? h.update?.(old, obj) : h.add?.(obj)));
  }

  private remove(key: string, old: T): void {
    this.unindex(key, old);
    this.store.delete(key);
    for (const h of this.handlers) this.deliver(() => h.delete?.(old));
  }

  /**
   * Runs one handler. A throwing handler must not stop the others from seeing the change nor
   * make the informer relist (a list that throws is retried: it would relist forever).
   */
  private deliver(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.stats.handlerErrors++;
      this.stats.lastError = `handler: ${err instanceof Error ? err.message : String(err)}`;
    }
  }

  private unindex(key: string, obj: T): void {
    for (const [name, fn] of this.indexers) {
      const index = this.indices.get(name)!;
      for (const v of fn(obj)) {
        const set = index.get(v);
        set?.delete(key);
        if (set?.size === 0) index.delete(v);
      }
    }
  }
}

function addTo(index: Map<string, Set<string>>, value: string, key: string): void {
  let set = index.get(value);
  if (!set) index.set(value, (set = new Set()));
  set.add(key);
}
