import {
  Kafka,
  logLevel,
  Partitioners,
  type Admin,
  type Consumer,
  type LogEntry,
  type Message,
  type Producer,
} from 'kafkajs';
import type { Priority } from '../../resources/index.js';
import {
  admits,
  type JobConsumerFactory,
  type JobQueue,
  type JobQueueStats,
  type JobSubscription,
} from './queue.js';
import {
  ALL_JOB_TOPICS,
  PRIORITY_ORDER,
  topicFor,
  type JobTopic,
  type VideoJob,
} from './video-job.js';
import { findPublishedJobs } from './published-jobs.js';
import { notifyPublished, QUIET_LOGGER, type QueueLogger } from './queue-logger.js';

/** Where the Kafka adapters report; it gets short lines, never job payloads. */
export type KafkaQueueLogger = QueueLogger;

/** Connection settings shared by the producer and the consumers. */
export interface KafkaConnectionOptions {
  /** Bootstrap brokers, `host:port`. */
  brokers: string[];
  clientId?: string;
  /** Partitions of each job topic when this client creates it (default 6). */
  partitions?: number;
  /** Replication factor of created topics (default: the broker's `default.replication.factor`). */
  replicationFactor?: number;
  /** TCP connect timeout (default 3 s). */
  connectionTimeoutMs?: number;
  /** Per-request timeout (default 10 s). */
  requestTimeoutMs?: number;
  /** Gets kafkajs's own warnings and errors at debug level, and state changes at info/warn. */
  logger?: KafkaQueueLogger;
}

/** Settings of the Kafka producer side. */
export interface KafkaJobQueueOptions extends KafkaConnectionOptions {
  /** Jobs accepted but not yet acknowledged by the broker (default 10,000). */
  bufferLimit?: number;
  /** Jobs per produce request (default 100; a job is about 2 KB of JSON). */
  maxBatch?: number;
  /**
   * Serialized bytes per produce request (default 512 KiB; at least one job goes). Keeps
   * a partition's record batch under the broker's 1 MiB `message.max.bytes`.
   */
  maxBatchBytes?: number;
  /** Largest serialized job accepted (default 512 KiB); a larger one could never be published. */
  maxJobBytes?: number;
  /** Retry delays while the broker is unreachable: exponential from `initialMs` to `maxMs`, jittered. */
  backoff?: { initialMs: number; maxMs: number };
}

/** Settings of the Kafka consumer side. */
export interface KafkaJobConsumerOptions extends KafkaConnectionOptions {
  /** Consumer group of a model: `<groupPrefix><model>` (default `vmsctl-model-`). */
  groupPrefix?: string;
  /** Where a new group starts: the oldest retained job (default) or only new ones. */
  fromBeginning?: boolean;
  /** Attempts of `handle` per job before it is logged and skipped (default 3). */
  maxAttempts?: number;
  /** Pause between attempts (default 200 ms, growing linearly). */
  retryDelayMs?: number;
  /** How long `subscribe` waits for the group to be joined (default 60 s). */
  joinTimeoutMs?: number;
  sessionTimeoutMs?: number;
}

/**
 * A kafkajs client whose log lines go to `logger.debug`, shortened and never with payloads,
 * remembering the first error kafkajs logged in an attempt: it is usually the root cause and
 * often says more than what kafkajs throws ("Request ApiVersions(key: 18, version: 2) timed
 * out" before a bare "Broker not connected").
 */
class KafkaConnection {
  readonly kafka: Kafka;
  private firstLogged: string | undefined;

  constructor(options: KafkaConnectionOptions, log: KafkaQueueLogger) {
    if (options.brokers.length === 0) throw new Error('Kafka job queue: no brokers configured');
    this.kafka = new Kafka({
      clientId: options.clientId ?? 'vmsctl',
      brokers: options.brokers,
      connectionTimeout: options.connectionTimeoutMs ?? 3_000,
      requestTimeout: options.requestTimeoutMs ?? 10_000,
      // Few, quick retries inside kafkajs: the queue's own loop owns the long wait for a broker.
      retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2_000 },
      logLevel: logLevel.WARN,
      logCreator:
        () =>
        ({ namespace, level, label, log: entry }: LogEntry) => {
          const { message, broker, error } = entry as {
            message?: string;
            broker?: string;
            error?: string;
          };
          if (level === logLevel.ERROR && message) this.firstLogged ??= message;
          const where = broker ? ` (${broker})` : '';
          log.debug(
            `kafkajs ${label} [${namespace}] ${message ?? ''}${where}${error ? `: ${error}` : ''}`,
          );
        },
    });
  }

  /** Forgets errors logged before the attempt about to start. */
  beginAttempt(): void {
    this.firstLogged = undefined;
  }

  /** The error and its causes on one line, plus what kafkajs logged during the attempt. */
  explain(err: unknown): string {
    const text = describe(err);
    const logged = this.firstLogged;
    return logged && !text.includes(logged) ? `${text} (kafkajs: ${logged})` : text;
  }
}

/** Creates whichever job topics are missing; concurrent creators are fine. */
async function ensureJobTopics(admin: Admin, options: KafkaConnectionOptions): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing = ALL_JOB_TOPICS.filter((t) => !existing.has(t));
  if (missing.length === 0) return;
  await admin.createTopics({
    waitForLeaders: true,
    topics: missing.map((topic) => ({
      topic,
      numPartitions: options.partitions ?? 6,
      ...(options.replicationFactor ? { replicationFactor: options.replicationFactor } : {}),
    })),
  });
}

/**
 * An error and its causes on one line, e.g. `KafkaJSConnectionError: Connection error:
 * connect ECONNREFUSED 127.0.0.1:9092`; a cause repeating its wrapper's message only
 * lends its more specific name.
 */
function describe(err: unknown): string {
  const parts: { name: string; message: string }[] = [];
  for (let e: unknown = err; e !== undefined && parts.length < 4;) {
    const name = e instanceof Error ? e.name : 'Error';
    const message = e instanceof Error ? e.message : String(e);
    const same = parts.find((p) => p.message.includes(message));
    if (same) same.name = name;
    else parts.push({ name, message });
    if (!(e instanceof Error) || e.cause === e) break;
    e = e.cause;
  }
  return parts.map((p) => `${p.name}: ${p.message}`).join(' <- ');
}

interface Pending {
  job: VideoJob;
  value: string;
  bytes: number;
}

/**
 * JobQueue on Kafka: `offer` puts the job in a bounded local buffer and a background loop
 * publishes it with an idempotent producer (acks=all, one request in flight), most urgent
 * topic first, in offer order within a topic. Key = cameraId, so a camera's jobs share a
 * partition and keep their order. While the broker is unreachable the jobs wait and the
 * loop retries with capped, jittered exponential backoff; `stats()` says why.
 *
 * A retried batch is not written twice: the same producer keeps its idempotent sequence
 * numbers, and when the broker answers that it lost them (a new producer must take over),
 * the jobs of the failed batch that reached the broker anyway are looked up and not sent
 * again. Delivery is still at least once where that look-up fails three times (e.g. an ACL
 * denies consumer groups to this client): then the batch is sent whole, so consumers
 * de-duplicate by `jobId`.
 */
export class KafkaJobQueue implements JobQueue {
  private readonly connection: KafkaConnection;
  private producer: Producer;
  private readonly options: KafkaJobQueueOptions;
  private readonly log: KafkaQueueLogger;
  private readonly bufferLimit: number;
  private readonly maxBatch: number;
  private readonly maxBatchBytes: number;
  private readonly maxJobBytes: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  /** One FIFO per topic: order only matters within a topic's partitions. */
  private readonly pending = new Map<JobTopic, Pending[]>(ALL_JOB_TOPICS.map((t) => [t, []]));
  private readonly listeners: ((job: VideoJob, publishedAtMs: number) => void)[] = [];
  private readonly refused: Record<Priority, number> = {
    CRITICAL: 0,
    HIGH: 0,
    MEDIUM: 0,
    STANDARD: 0,
  };
  private buffered = 0;
  private published = 0;
  private connected = false;
  private lastError: string | undefined;
  private disconnectedSince: number | undefined;
  private producerReady = false;
  private topicsReady = false;
  /** A batch that failed with the producer's state lost: parts of it may be on the broker. */
  private unconfirmed: Map<JobTopic, Pending[]> | undefined;
  private checkFailures = 0;
  private loop: Promise<void> | undefined;
  private closing = false;
  /** Set when `close` runs out of time: the loop stops even with jobs left. */
  private abandoned = false;
  /** Ends the loop's wait for work (offer, close). */
  private wake: (() => void) | undefined;
  /** Ends a backoff pause early (close only: offers must not defeat the backoff). */
  private interruptPause: (() => void) | undefined;
  private drainWaiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  private firstAttempt: Promise<boolean>;
  private settleFirstAttempt: (connected: boolean) => void = () => {};

  constructor(options: KafkaJobQueueOptions) {
    this.options = options;
    this.log = options.logger ?? QUIET_LOGGER;
    this.bufferLimit = positive('bufferLimit', options.bufferLimit ?? 10_000);
    this.maxBatch = positive('maxBatch', options.maxBatch ?? 100);
    this.maxBatchBytes = positive('maxBatchBytes', options.maxBatchBytes ?? 512 * 1024);
    this.maxJobBytes = positive('maxJobBytes', options.maxJobBytes ?? 512 * 1024);
    this.backoff = options.backoff ?? { initialMs: 250, maxMs: 10_000 };
    this.connection = new KafkaConnection(options, this.log);
    this.producer = this.newProducer();
    this.firstAttempt = new Promise((resolve) => (this.settleFirstAttempt = resolve));
  }

  /**
   * Connects and creates the job topics if missing. Resolves true when connected, false
   * when the first attempt failed (`stats().lastError` says why); it keeps retrying either
   * way. Optional: the first `offer` starts the queue too.
   */
  start(): Promise<boolean> {
    this.loop ??= this.run();
    return this.firstAttempt;
  }

  /** Buffers the job for publishing, or refuses it when its priority's share of the buffer is used. */
  offer(job: VideoJob): boolean {
    if (this.closing) return false;
    const priority = job.metadata.priority;
    if (!admits(priority, this.buffered, this.bufferLimit)) {
      this.refused[priority]++;
      return false;
    }
    const value = JSON.stringify(job);
    const bytes = Buffer.byteLength(value);
    if (bytes > this.maxJobBytes) {
      // It could never be published and would block its topic forever.
      this.refused[priority]++;
      this.log.warn(
        `job ${job.jobId} refused: ${bytes} bytes serialized, over ${this.maxJobBytes}`,
      );
      return false;
    }
    this.pending.get(topicFor(priority))!.push({ job, value, bytes });
    this.buffered++;
    this.loop ??= this.run();
    this.wake?.();
    return true;
  }

  /** Resolves when every accepted job has been acknowledged; rejects if `close` gave up first. */
  drain(): Promise<void> {
    if (this.buffered === 0) return Promise.resolve();
    this.loop ??= this.run();
    return new Promise((resolve, reject) => this.drainWaiters.push({ resolve, reject }));
  }

  /** Counters; `connected` is false until the broker answers and after any failed request. */
  stats(): JobQueueStats {
    return {
      buffered: this.buffered,
      bufferLimit: this.bufferLimit,
      published: this.published,
      refused: { ...this.refused },
      connected: this.connected,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /** Registers a listener called once per job after the broker acknowledged it. */
  onPublished(listener: (job: VideoJob, publishedAtMs: number) => void): void {
    this.listeners.push(listener);
  }

  /** Refuses new offers, publishes what is buffered for up to `timeoutMs`, then disconnects. */
  async close(timeoutMs = 10_000): Promise<void> {
    this.closing = true;
    if (this.loop) {
      this.wake?.();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        this.loop.then(() => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        this.abandoned = true;
        this.interruptPause?.();
      }
      // Disconnecting aborts a send still in flight, which ends the loop; the second
      // disconnect covers a connect that completed in the meantime.
      await this.producer.disconnect().catch(() => {});
      await this.loop;
      await this.producer.disconnect().catch(() => {});
    }
    this.connected = false;
    if (this.buffered > 0) {
      this.log.warn(`Kafka job queue closed with ${this.buffered} job(s) unpublished`);
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      const err = new Error(`Kafka job queue closed with ${this.buffered} job(s) unpublished`);
      for (const w of waiters) w.reject(err);
    }
    this.settleFirstAttempt(false);
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.abandoned && !(this.closing && this.buffered === 0)) {
      if (!this.producerReady || !this.topicsReady) {
        if (await this.connect()) {
          failures = 0;
        } else {
          await this.pause(failures++);
        }
        continue;
      }
      if (this.unconfirmed && !(await this.settleUnconfirmed())) {
        await this.pause(failures++);
        continue;
      }
      if (this.buffered === 0) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      const batch = this.nextBatch();
      this.connection.beginAttempt();
      try {
        await this.producer.sendBatch({
          acks: -1,
          timeout: this.options.requestTimeoutMs ?? 10_000,
          topicMessages: [...batch].map(([topic, entries]) => ({
            topic,
            messages: entries.map(toMessage),
          })),
        });
        this.acknowledged(batch);
        failures = 0;
      } catch (err) {
        this.failed('publish', err);
        // Reconnect from scratch. The same producer keeps its idempotent id and sequence
        // numbers, so a retried batch the broker already wrote is not written twice; only
        // when the broker has forgotten that id does a new producer (new id) take over,
        // after finding out which of the batch's jobs the broker holds.
        this.producerReady = false;
        await this.producer.disconnect().catch(() => {});
        if (hasErrorType(err, PRODUCER_STATE_LOST)) {
          this.producer = this.newProducer();
          this.unconfirmed = batch;
          this.checkFailures = 0;
        }
        await this.pause(failures++);
      }
    }
  }

  /**
   * Jobs from the heads of the topic queues, most urgent topic first, up to `maxBatch` jobs
   * and `maxBatchBytes`; they stay queued until acknowledged.
   */
  private nextBatch(): Map<JobTopic, Pending[]> {
    const batch = new Map<JobTopic, Pending[]>();
    let jobs = 0;
    let bytes = 0;
    for (const topic of ALL_JOB_TOPICS) {
      const head: Pending[] = [];
      for (const entry of this.pending.get(topic)!) {
        const full = jobs >= this.maxBatch || bytes + entry.bytes > this.maxBatchBytes;
        if (full && jobs > 0) break;
        head.push(entry);
        jobs++;
        bytes += entry.bytes;
      }
      if (head.length > 0) batch.set(topic, head);
    }
    return batch;
  }

  /**
   * Looks up which jobs of the batch that failed with the producer's state lost are on
   * the broker, and takes them off the queue as published; the rest are sent again in
   * order. False when the look-up failed and should be retried after a pause.
   */
  private async settleUnconfirmed(): Promise<boolean> {
    const batch = this.unconfirmed!;
    const jobs = new Map([...batch].map(([topic, entries]) => [topic, entries.map((e) => e.job)]));
    const count = [...batch.values()].reduce((n, entries) => n + entries.length, 0);
    this.connection.beginAttempt();
    let found: Set<string>;
    try {
      found = await findPublishedJobs(this.connection.kafka, jobs, {
        timeoutMs: Math.max(10_000, this.options.requestTimeoutMs ?? 10_000),
      });
    } catch (err) {
      this.failed('check which jobs reached the broker', err);
      // An unreachable broker is waited out like any outage; only a broker that answers and
      // still lets the check fail (e.g. consumer groups denied) makes it give up.
      if (hasErrorName(err, CONNECTION_ERRORS) || ++this.checkFailures < 3) return false;
      this.log.warn(
        `Kafka job queue: could not check which of ${count} job(s) reached the broker; sending them again, some may be duplicated`,
      );
      this.unconfirmed = undefined;
      return true;
    }
    this.unconfirmed = undefined;
    // Only the loop removes from the heads, so the batch is still exactly there.
    const settled: Pending[] = [];
    for (const [topic, entries] of batch) {
      const queue = this.pending.get(topic)!;
      const head = queue.splice(0, entries.length);
      queue.unshift(...head.filter((e) => !found.has(e.job.jobId)));
      settled.push(...head.filter((e) => found.has(e.job.jobId)));
    }
    this.log.info(
      `Kafka job queue: new producer; ${settled.length} of ${count} job(s) of the failed batch were already on the broker, sending the rest`,
    );
    this.settled(settled);
    return true;
  }

  private acknowledged(batch: Map<JobTopic, Pending[]>): void {
    // Only the loop removes from the heads, so the batch is still exactly there.
    for (const [topic, entries] of batch) this.pending.get(topic)!.splice(0, entries.length);
    this.settled([...batch.values()].flat());
  }

  /** Counts jobs the broker holds as published and tells listeners and drain waiters. */
  private settled(entries: Pending[]): void {
    const at = Date.now();
    for (const { job } of entries) {
      this.buffered--;
      this.published++;
      notifyPublished(this.listeners, job, at, this.log);
    }
    this.markConnected();
    if (this.buffered === 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w.resolve();
    }
  }

  private async connect(): Promise<boolean> {
    this.connection.beginAttempt();
    try {
      await this.producer.connect();
      this.producerReady = true;
    } catch (err) {
      this.failed('connect', err);
      this.settleFirstAttempt(false);
      return false;
    }
    if (!this.topicsReady) {
      const admin = this.connection.kafka.admin();
      try {
        await admin.connect();
        await ensureJobTopics(admin, this.options);
        this.topicsReady = true;
      } catch (err) {
        this.failed('create topics', err);
        this.settleFirstAttempt(false);
        return false;
      } finally {
        await admin.disconnect().catch(() => {});
      }
    }
    this.markConnected();
    this.settleFirstAttempt(true);
    return true;
  }

  private markConnected(): void {
    if (this.connected) return;
    this.connected = true;
    if (this.disconnectedSince !== undefined) {
      const downS = ((Date.now() - this.disconnectedSince) / 1000).toFixed(1);
      this.log.info(
        `Kafka job queue reconnected after ${downS}s; ${this.buffered} job(s) buffered`,
      );
      this.disconnectedSince = undefined;
    }
  }

  private failed(phase: string, err: unknown): void {
    const brokers = this.options.brokers.join(',');
    this.lastError = `${phase} failed (brokers ${brokers}): ${this.connection.explain(err)}`;
    if (this.connected || this.disconnectedSince === undefined) {
      this.log.warn(`Kafka job queue: ${this.lastError}; buffering and retrying`);
      this.disconnectedSince ??= Date.now();
    }
    this.connected = false;
  }

  private newProducer(): Producer {
    return this.connection.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // Java-compatible murmur2, so other clients agree on a camera's partition.
      createPartitioner: Partitioners.DefaultPartitioner,
      // The loop retries for as long as it takes; kafkajs only smooths over blips.
      retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2_000 },
    });
  }

  /** Sleeps the backoff for the n-th consecutive failure; only `close` cuts it short. */
  private async pause(failures: number): Promise<void> {
    if (this.abandoned) return;
    const bound = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** failures);
    // Half fixed, half random: edges that lost the same broker do not retry in lockstep.
    const ms = bound / 2 + (Math.random() * bound) / 2;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      this.interruptPause = resolve;
    });
    clearTimeout(timer);
    this.interruptPause = undefined;
  }
}

/** Broker answers meaning it no longer knows this producer's id, so retrying it cannot succeed. */
const PRODUCER_STATE_LOST = new Set([
  'UNKNOWN_PRODUCER_ID',
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'INVALID_PRODUCER_EPOCH',
  'INVALID_PRODUCER_ID_MAPPING',
]);

/** kafkajs errors meaning no broker could be reached or a connection dropped. */
const CONNECTION_ERRORS = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSBrokerNotFound',
  'KafkaJSRequestTimeoutError',
]);

/** Whether kafkajs's `type` of the error, its causes or aggregated errors is one of `types`. */
function hasErrorType(err: unknown, types: Set<string>): boolean {
  return someError(err, (e) => typeof e.type === 'string' && types.has(e.type));
}

/** Whether the error, its causes or aggregated errors has one of `names`. */
function hasErrorName(err: unknown, names: Set<string>): boolean {
  return someError(err, (e) => typeof e.name === 'string' && names.has(e.name));
}

function someError(
  err: unknown,
  test: (e: { type?: unknown; name?: unknown }) => boolean,
  depth = 0,
): boolean {
  if (typeof err !== 'object' || err === null || depth > 8) return false;
  const e = err as { type?: unknown; name?: unknown; cause?: unknown; errors?: unknown };
  if (test(e)) return true;
  if (Array.isArray(e.errors) && e.errors.some((x) => someError(x, test, depth + 1))) return true;
  return e.cause !== undefined && e.cause !== err && someError(e.cause, test, depth + 1);
}

function toMessage({ job, value }: Pending): Message {
  return {
    key: job.cameraId,
    value,
    timestamp: String(job.createdAtMs),
    headers: { jobId: job.jobId, priority: job.metadata.priority },
  };
}

/** Parses a job message; returns why it is not a job instead of throwing. */
export function decodeJob(value: Buffer | null): VideoJob | string {
  if (!value) return 'empty message';
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch (err) {
    return `not JSON: ${describe(err)}`;
  }
  const job = parsed as Partial<VideoJob> | null;
  if (typeof job !== 'object' || job === null) return 'not a JSON object';
  if (typeof job.jobId !== 'string') return 'jobId missing';
  if (typeof job.cameraId !== 'string') return `job ${job.jobId}: cameraId missing`;
  const meta = job.metadata;
  if (
    typeof meta !== 'object' ||
    meta === null ||
    !Array.isArray(meta.enabledModels) ||
    !PRIORITY_ORDER.includes(meta.priority)
  ) {
    return `job ${job.jobId}: metadata.enabledModels or metadata.priority invalid`;
  }
  return job as VideoJob;
}

/**
 * Model workers on Kafka: one consumer group per model (`vmsctl-model-<model>`), subscribed
 * to all three job topics because a camera may raise or lower a model's priority. Jobs whose
 * `enabledModels` lack the model are skipped; an offset is committed only after `handle`
 * resolved (or after a job failed `maxAttempts` times and was logged and skipped).
 */
export class KafkaJobConsumerFactory implements JobConsumerFactory {
  private readonly connection: KafkaConnection;
  private readonly options: KafkaJobConsumerOptions;
  private readonly log: KafkaQueueLogger;
  private topicsReady = false;

  constructor(options: KafkaJobConsumerOptions) {
    this.options = options;
    this.log = options.logger ?? QUIET_LOGGER;
    this.connection = new KafkaConnection(options, this.log);
  }

  /** Joins the model's consumer group; resolves once the group has assigned partitions. */
  async subscribe(sub: JobSubscription): Promise<{ stop(): Promise<void> }> {
    const groupId = `${this.options.groupPrefix ?? 'vmsctl-model-'}${sub.model}`;
    this.connection.beginAttempt();
    try {
      await this.ensureTopics();
    } catch (err) {
      throw new Error(`cannot subscribe ${groupId}: ${this.connection.explain(err)}`, {
        cause: err,
      });
    }
    const consumer = this.connection.kafka.consumer({
      groupId,
      allowAutoTopicCreation: false,
      sessionTimeout: this.options.sessionTimeoutMs ?? 30_000,
      // An idle fetch returns after 1 s instead of 5 s, so `stop` does not hang that long.
      maxWaitTimeInMs: 1_000,
      retry: { retries: 5, initialRetryTime: 300, maxRetryTime: 5_000 },
    });
    const joined = this.joined(consumer);
    try {
      await consumer.connect();
      await consumer.subscribe({
        topics: [...ALL_JOB_TOPICS],
        fromBeginning: this.options.fromBeginning ?? true,
      });
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ topic, partition, message }) => {
          const job = decodeJob(message.value);
          if (typeof job === 'string') {
            this.log.warn(`${groupId}: skipped ${topic}/${partition}@${message.offset}: ${job}`);
          } else if (job.metadata.enabledModels.includes(sub.model)) {
            await this.deliver(groupId, sub, job);
          }
          const next = (BigInt(message.offset) + 1n).toString();
          await consumer.commitOffsets([{ topic, partition, offset: next }]);
        },
      });
      await joined.promise;
    } catch (err) {
      joined.cancel();
      await consumer.disconnect().catch(() => {});
      throw new Error(`cannot subscribe ${groupId}: ${this.connection.explain(err)}`, {
        cause: err,
      });
    }
    return { stop: () => consumer.disconnect() };
  }

  private async ensureTopics(): Promise<void> {
    if (this.topicsReady) return;
    const admin = this.connection.kafka.admin();
    try {
      await admin.connect();
      await ensureJobTopics(admin, this.options);
      this.topicsReady = true;
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  /**
   * Settles on the first group join, or rejects if the consumer crashes for good or the
   * join takes longer than `joinTimeoutMs`. Listening starts before `run` so no join is missed.
   */
  private joined(consumer: Consumer): { promise: Promise<void>; cancel(): void } {
    const timeoutMs = this.options.joinTimeoutMs ?? 60_000;
    let timer: NodeJS.Timeout | undefined;
    const offs: (() => void)[] = [];
    const cancel = () => {
      clearTimeout(timer);
      for (const off of offs) off();
    };
    const promise = new Promise<void>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no group join within ${timeoutMs} ms`)),
        timeoutMs,
      );
      offs.push(
        consumer.on(consumer.events.GROUP_JOIN, () => {
          cancel();
          resolve();
        }),
        consumer.on(consumer.events.CRASH, ({ payload }) => {
          if (payload.restart) return;
          cancel();
          reject(payload.error);
        }),
      );
    });
    // Awaited only once `run` succeeded; until then a rejection must not count as unhandled.
    promise.catch(() => {});
    return { promise, cancel };
  }

  private async deliver(groupId: string, sub: JobSubscription, job: VideoJob): Promise<void> {
    const maxAttempts = this.options.maxAttempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      try {
        await sub.handle(job);
        return;
      } catch (err) {
        if (attempt >= maxAttempts) {
          this.log.warn(
            `${groupId}: job ${job.jobId} failed ${attempt} time(s), skipped: ${describe(err)}`,
          );
          return;
        }
        await new Promise((resolve) =>
          setTimeout(resolve, (this.options.retryDelayMs ?? 200) * attempt),
        );
      }
    }
  }
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}
