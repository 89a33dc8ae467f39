import https from 'node:https';
import http, { STATUS_CODES } from 'node:http';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import type { KubeObject, ObjectList, ObjectRef, ResourceType } from './objects.js';
import { objectPath, collectionPath } from './objects.js';

/** An API error with the HTTP status and the apiserver's Status reason and message. */
export class KubeApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly reason: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

/**
 * client-node's Watch reports a non-200 answer as a plain Error with `statusCode` (and the
 * status text as message); turn it into a KubeApiError so callers can tell 410 Gone, 404 and
 * 403 apart the same way as for every other request. Null (a normal close) stays null.
 */
function asKubeError(err: unknown): unknown {
  if (err === null || err === undefined) return null;
  if (err instanceof KubeApiError) return err;
  const statusCode = (err as { statusCode?: unknown }).statusCode;
  if (typeof statusCode !== 'number') return err;
  const message = err instanceof Error ? err.message : String(err);
  const reason = STATUS_CODES[statusCode]?.replace(/\s+/g, '') ?? 'Unknown';
  return new KubeApiError(statusCode, reason, `watch: HTTP ${statusCode} ${message}`);
}

/** True for errors worth retrying as they are (the server or the network, not the request). */
export function isTransient(err: unknown): boolean {
  if (err instanceof KubeApiError) return err.statusCode >= 500 || err.statusCode === 429;
  return true;
}

export const isNotFound = (err: unknown) => err instanceof KubeApiError && err.statusCode === 404;
export const isConflict = (err: unknown) => err instanceof KubeApiError && err.statusCode === 409;

export interface ApplyOptions {
  /** Field manager that owns what this apply sets; one per controller. */
  fieldManager: string;
  /** Take fields over from other managers (controllers own their fields; humans get a conflict). */
  force?: boolean;
  dryRun?: boolean;
  subresource?: 'status';
  /** The apiserver's field validation; Ignore unless asked (see apply). */
  fieldValidation?: 'Ignore' | 'Warn' | 'Strict';
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
}

/** Counts of requests by verb, for benchmarks and hot-loop checks. */
export interface RequestCounts {
  get: number;
  list: number;
  watch: number;
  apply: number;
  create: number;
  update: number;
  patch: number;
  delete: number;
}

const WRITE_VERBS = ['apply', 'create', 'update', 'patch', 'delete'] as const;

type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** A running watch; `stop` ends it without calling `onClose` with an error. */
export interface WatchHandle {
  stop(): void;
}

/**
 * The thin REST client every controller uses. Authentication, TLS and kubeconfig loading come
 * from @kubernetes/client-node's KubeConfig and watches use its Watch; plain requests go over one
 * keep-alive agent so thousands of applies reuse connections, server-side apply can target the
 * status subresource (client-node 1.x's generic object API cannot) and every request is counted.
 */
export class KubeClient {
  readonly counts: RequestCounts = {
    get: 0,
    list: 0,
    watch: 0,
    apply: 0,
    create: 0,
    update: 0,
    patch: 0,
    delete: 0,
  };
  private options?: Promise<https.RequestOptions>;
  private readonly agent: http.Agent;
  private readonly server: URL;

  constructor(
    readonly config: KubeConfig,
    private readonly userAgent = 'vmsctl',
  ) {
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
    const secure = this.server.protocol === 'https:';
    this.agent = secure
      ? new https.Agent({ keepAlive: true, maxSockets: 64 })
      : new http.Agent({ keepAlive: true, maxSockets: 64 });
  }

  /** A client for a kubeconfig file (or the default loading rules when no path is given). */
  static fromFile(path?: string, context?: string, userAgent?: string): KubeClient {
    const kc = new KubeConfig();
    if (path) kc.loadFromFile(path);
    else kc.loadFromDefault();
    if (context) kc.setCurrentContext(context);
    return new KubeClient(kc, userAgent);
  }

  /** Writes by `plural` or `plural/status`, to see which objects a controller writes. */
  readonly writesByResource = new Map<string, number>();

  private countWrite(verb: (typeof WRITE_VERBS)[number], type: ResourceType, subresource?: string) {
    this.counts[verb]++;
    const key = subresource ? `${type.plural}/${subresource}` : type.plural;
    this.writesByResource.set(key, (this.writesByResource.get(key) ?? 0) + 1);
  }

  /** Writes (apply, create, update, patch, delete) made so far. */
  writes(): number {
    return WRITE_VERBS.reduce((n, v) => n + this.counts[v], 0);
  }

  /** The API server URL this client talks to. */
  get serverUrl(): string {
    return this.server.toString();
  }

  private requestOptions(): Promise<https.RequestOptions> {
    this.options ??= (async () => {
      const opts: https.RequestOptions = {};
      await this.config.applyToHTTPSOptions(opts);
      return opts;
    })();
    return this.options;
  }

  /** One HTTP request; JSON in and out, Kubernetes Status errors turned into KubeApiError. */
  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<T> {
    const base = await this.requestOptions();
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const url = new URL(path, this.server);
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise<T>((resolve, reject) => {
      const req = transport.request(
        url,
        {
          ...base,
          method,
          agent: this.agent,
          headers: {
            ...(base.headers ?? {}),
            accept: 'application/json',
            'user-agent': this.userAgent,
            ...(payload === undefined
              ? {}
              : { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            let parsed: unknown;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              parsed = undefined;
            }
            if (status >= 200 && status < 300) {
              resolve(parsed as T);
              return;
            }
            const s = (parsed ?? {}) as { reason?: string; message?: string; details?: unknown };
            reject(
              new KubeApiError(
                status,
                s.reason ?? res.statusMessage ?? 'Unknown',
                s.message ?? `${method} ${url.pathname}: HTTP ${status} ${text.slice(0, 200)}`,
                s.details,
              ),
            );
          });
        },
      );
      req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${url.pathname}: timed out`)));
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** GET one object; undefined when it does not exist. */
  async get<T extends KubeObject>(type: ResourceType, ref: ObjectRef): Promise<T | undefined> {
    this.counts.get++;
    try {
      return await this.request<T>('GET', objectPath(type, ref));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** One page of a list. */
  async listPage<T extends KubeObject>(
    type: ResourceType,
    options: ListOptions & { continue?: string; resourceVersion?: string } = {},
  ): Promise<ObjectList<T>> {
    this.counts.list++;
    const q = new URLSearchParams();
    if (options.labelSelector) q.set('labelSelector', options.labelSelector);
    if (options.fieldSelector) q.set('fieldSelector', options.fieldSelector);
    if (options.limit) q.set('limit', String(options.limit));
    if (options.continue) q.set('continue', options.continue);
    if (options.resourceVersion !== undefined) q.set('resourceVersion', options.resourceVersion);
    const qs = q.toString();
    return this.request<ObjectList<T>>(
      'GET',
      collectionPath(type, options.namespace) + (qs ? `?${qs}` : ''),
    );
  }

  /** Every object of a type (paged), with the list's resourceVersion to start a watch from. */
  async list<T extends KubeObject>(
    type: ResourceType,
    options: ListOptions = {},
  ): Promise<{ items: T[]; resourceVersion: string }> {
    const items: T[] = [];
    let cont: string | undefined;
    let resourceVersion = '';
    do {
      const page = await this.listPage<T>(type, {
        ...options,
        limit: options.limit ?? 500,
        continue: cont,
      });
      for (const item of page.items) items.push(item);
      cont = page.metadata.continue || undefined;
      resourceVersion = page.metadata.resourceVersion ?? resourceVersion;
    } while (cont);
    return { items, resourceVersion };
  }

  /** Server-side apply of a (partial) object with a field manager. */
  async apply<T extends KubeObject>(
    type: ResourceType,
    object: KubeObject,
    options: ApplyOptions,
  ): Promise<T> {
    if (!options.dryRun) this.countWrite('apply', type, options.subresource);
    // Field validation off: its duplicate-field check parses the YAML body a second time (a
    // Ready status write costs the apiserver 6.23 ms of CPU with it, 5.71 without:
    // bench:write-cost), and cannot fire on a body JSON.stringify wrote. Its unknown-field findings come back only as Warning headers,
    // which this client never read: our objects are built from the types of the generated
    // schemas, fleet objects are validated against those schemas, and crd-guard keeps the
    // served CRDs equal to them. Dry runs too, so a plan predicts exactly what the apply does.
    const q = new URLSearchParams({
      fieldManager: options.fieldManager,
      fieldValidation: options.fieldValidation ?? 'Ignore',
    });
    if (options.force) q.set('force', 'true');
    if (options.dryRun) q.set('dryRun', 'All');
    const path =
      objectPath(type, {
        name: object.metadata.name,
        namespace: object.metadata.namespace,
      }) + (options.subresource ? `/${options.subresource}` : '');
    return this.request<T>(
      'PATCH',
      `${path}?${q.toString()}`,
      { ...object, apiVersion: type.apiVersion, kind: type.kind },
      'application/apply-patch+yaml',
    );
  }

  /** JSON merge patch (used for tiny edits such as removing a finalizer). */
  async mergePatch<T extends KubeObject>(
    type: ResourceType,
    ref: ObjectRef,
    patch: unknown,
    subresource?: 'status',
  ): Promise<T> {
    this.countWrite('patch', type, subresource);
    return this.request<T>(
      'PATCH',
      objectPath(type, ref) + (subresource ? `/${subresource}` : ''),
      patch,
      'application/merge-patch+json',
    );
  }

  /** JSON patch (RFC 6902), for edits guarded by a `test` operation. */
  async jsonPatch<T extends KubeObject>(
    type: ResourceType,
    ref: ObjectRef,
    ops: unknown[],
  ): Promise<T> {
    this.countWrite('patch', type);
    return this.request<T>('PATCH', objectPath(type, ref), ops, 'application/json-patch+json');
  }

  /** POST a new object. */
  async create<T extends KubeObject>(
    type: ResourceType,
    object: KubeObject,
    subpath = '',
  ): Promise<T> {
    this.countWrite('create', type);
    const path = subpath
      ? objectPath(type, { name: object.metadata.name, namespace: object.metadata.namespace }) +
        subpath
      : collectionPath(type, object.metadata.namespace);
    return this.request<T>('POST', path, {
      ...object,
      apiVersion: object.apiVersion ?? type.apiVersion,
      kind: object.kind ?? type.kind,
    });
  }

  /** PUT an object (optimistic concurrency through metadata.resourceVersion). */
  async update<T extends KubeObject>(type: ResourceType, object: KubeObject): Promise<T> {
    this.countWrite('update', type);
    return this.request<T>(
      'PUT',
      objectPath(type, { name: object.metadata.name, namespace: object.metadata.namespace }),
      { ...object, apiVersion: type.apiVersion, kind: type.kind },
    );
  }

  /** DELETE; false when it was already gone. Background propagation lets the GC cascade. */
  async delete(
    type: ResourceType,
    ref: ObjectRef,
    options: { uid?: string; propagation?: 'Background' | 'Foreground' | 'Orphan' } = {},
  ): Promise<boolean> {
    this.countWrite('delete', type);
    try {
      await this.request('DELETE', objectPath(type, ref), {
        kind: 'DeleteOptions',
        apiVersion: 'v1',
        propagationPolicy: options.propagation ?? 'Background',
        ...(options.uid ? { preconditions: { uid: options.uid } } : {}),
      });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /**
   * Watches a collection from a resourceVersion. Events arrive in order; `onClose` gets null
   * when the server ended the watch normally (time to resume) and an error otherwise.
   */
  async watch<T extends KubeObject>(
    type: ResourceType,
    options: ListOptions & { resourceVersion: string; timeoutSeconds?: number },
    onEvent: (type: WatchEventType, object: T) => void,
    onClose: (err: unknown) => void,
  ): Promise<WatchHandle> {
    this.counts.watch++;
    let stopped = false;
    const watch = new Watch(this.config);
    const controller = await watch.watch(
      collectionPath(type, options.namespace),
      {
        resourceVersion: options.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: options.timeoutSeconds ?? 300 + Math.floor(Math.random() * 60),
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
      },
      (phase, obj) => {
        if (!stopped) onEvent(phase as WatchEventType, obj as T);
      },
      (err) => {
        if (!stopped) onClose(asKubeError(err));
      },
    );
    return {
      stop() {
        stopped = true;
        controller.abort();
      },
    };
  }

  /** Closes idle keep-alive connections (graceful shutdown). */
  close(): void {
    this.agent.destroy();
  }
}
