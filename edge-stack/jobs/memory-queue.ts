import type { Priority } from '../../resources/index.js';
import {
  admits,
  type JobConsumerFactory,
  type JobQueue,
  type JobQueueStats,
  type JobSubscription,
} from './queue.js';
import { PRIORITY_ORDER, type VideoJob } from './video-job.js';
import { notifyPublished, QUIET_LOGGER, type QueueLogger } from './queue-logger.js';

/** Where the in-process queue reports trouble; it never receives job payloads. */
export type MemoryQueueLogger = QueueLogger;

/** Settings of the embedded job queue. */
export interface MemoryJobQueueOptions {
  /** Jobs accepted but not yet handed to the model groups (default 10,000). */
  bufferLimit?: number;
  /**
   * Jobs waiting for one model (default: `bufferLimit`, so a model that keeps up never sheds
   * the burst released when it subscribes). A model that falls further behind sheds its
   * oldest least urgent job, so one slow model costs neither memory nor other models.
   * Backlogs hold references to the same job objects, so each costs a pointer per job.
   */
  subscriberBacklog?: number;
  /** Attempts of `handle` per job before it is logged and skipped (default 3). */
  maxAttempts?: number;
  /** Pause between attempts (default 100 ms, growing linearly). */
  retryDelayMs?: number;
  logger?: MemoryQueueLogger;
}

/** What one model's group has done, for health and tests. */
export interface ModelDeliveryStats {
  members: number;
  backlog: number;
  inFlight: number;
  delivered: number;
  /** Jobs dropped from the backlog because the model did not keep up. */
  shed: number;
  /** Jobs skipped after `handle` failed `maxAttempts` times. */
  failed: number;
}

/** Jobs by priority, FIFO within a priority; the most urgent job leaves first. */
class PriorityFifo {
  private readonly levels = new Map<Priority, VideoJob[]>(PRIORITY_ORDER.map((p) => [p, []]));
  size = 0;

  push(job: VideoJob): void {
    this.level(job.metadata.priority).push(job);
    this.size++;
  }

  /** Most urgent, oldest job whose camera `accept`s, removed from the queue. */
  take(accept: (job: VideoJob) => boolean = () => true): VideoJob | undefined {
    for (const priority of PRIORITY_ORDER) {
      const jobs = this.level(priority);
      const index = jobs.findIndex(accept);
      if (index >= 0) {
        this.size--;
        return jobs.splice(index, 1)[0];
      }
    }
    return undefined;
  }

  /** Least urgent priority that has jobs. */
  leastUrgent(): Priority | undefined {
    for (let i = PRIORITY_ORDER.length - 1; i >= 0; i--) {
      if (this.level(PRIORITY_ORDER[i]!).length > 0) return PRIORITY_ORDER[i];
    }
    return undefined;
  }

  /** Removes the oldest job of `priority`. */
  dropOldest(priority: Priority): VideoJob | undefined {
    const job = this.level(priority).shift();
    if (job) this.size--;
    return job;
  }

  clear(): void {
    for (const jobs of this.levels.values()) jobs.length = 0;
    this.size = 0;
  }

  private level(priority: Priority): VideoJob[] {
    const jobs = this.levels.get(priority);
    if (!jobs) throw new Error(`unknown job priority ${String(priority)}`);
    return jobs;
  }
}

interface Member {
  sub: JobSubscription;
  stopped: boolean;
  wake?: () => void;
  done: Promise<void>;
}

/** One consumer group: every job for the model is handled by one of its members. */
interface ModelGroup {
  model: string;
  backlog: PriorityFifo;
  members: Set<Member>;
  /** Cameras with a job in flight, so a second member cannot overtake it. */
  busyCameras: Set<string>;
  inFlight: number;
  delivered: number;
  shed: number;
  failed: number;
  /** True while shedding, so the warning is logged once per episode, not per job. */
  shedding: boolean;
}

const rank = (p: Priority): number => PRIORITY_ORDER.indexOf(p);

/**
 * The embedded default queue: an in-process priority queue that fans each job out to one
 * delivery per subscribed model named in `enabledModels`. Jobs wait in a bounded buffer
 * (same admission as Kafka) while no model has subscribed yet; a job counts as published
 * when it has been enqueued for every subscribed model that wants it.
 *
 * Each model's backlog is bounded too: a model that falls `subscriberBacklog` jobs behind
 * sheds its oldest least urgent jobs (counted in `deliveryStats().shed`, logged once per
 * episode) rather than growing memory or holding back the other models. A failing
 * `handle` is retried `maxAttempts` times, then the job is logged and skipped.
 */
export class MemoryJobQueue implements JobQueue, JobConsumerFactory {
  private readonly buffer = new PriorityFifo();
  private readonly groups = new Map<string, ModelGroup>();
  private readonly listeners: ((job: VideoJob, publishedAtMs: number) => void)[] = [];
  private readonly refused: Record<Priority, number> = {
    CRITICAL: 0,
    HIGH: 0,
    MEDIUM: 0,
    STANDARD: 0,
  };
  private readonly bufferLimit: number;
  private readonly backlogLimit: number;
  private readonly maxAttempts: number;
  private readonly retryDelayMs: number;
  private readonly log: MemoryQueueLogger;
  private published = 0;
  private dispatchScheduled = false;
  private closed = false;
  /** Resolved whenever the buffer or a backlog empties, so waiters re-check. */
  private progressWaiters: (() => void)[] = [];

  constructor(options: MemoryJobQueueOptions = {}) {
    this.bufferLimit = positive('bufferLimit', options.bufferLimit ?? 10_000);
    this.backlogLimit = positive(
      'subscriberBacklog',
      options.subscriberBacklog ?? this.bufferLimit,
    );
    this.maxAttempts = positive('maxAttempts', options.maxAttempts ?? 3);
    this.retryDelayMs = options.retryDelayMs ?? 100;
    this.log = options.logger ?? QUIET_LOGGER;
  }

  /** Accepts the job unless its priority's share of the buffer is used up or the queue is closed. */
  offer(job: VideoJob): boolean {
    if (this.closed) return false;
    const priority = job.metadata.priority;
    if (!admits(priority, this.buffer.size, this.bufferLimit)) {
      this.refused[priority]++;
      return false;
    }
    this.buffer.push(job);
    this.scheduleDispatch();
    return true;
  }

  /** Resolves when every accepted job has been enqueued for its models (needs one subscriber). */
  async drain(): Promise<void> {
    while (this.buffer.size > 0) await this.progress();
  }

  /** Counters; `connected` is always true in-process. */
  stats(): JobQueueStats {
    return {
      buffered: this.buffer.size,
      bufferLimit: this.bufferLimit,
      published: this.published,
      refused: { ...this.refused },
      connected: true,
    };
  }

  /** Per-model delivery counters, keyed by model name. */
  deliveryStats(): Record<string, ModelDeliveryStats> {
    const out: Record<string, ModelDeliveryStats> = {};
    for (const g of this.groups.values()) {
      out[g.model] = {
        members: g.members.size,
        backlog: g.backlog.size,
        inFlight: g.inFlight,
        delivered: g.delivered,
        shed: g.shed,
        failed: g.failed,
      };
    }
    return out;
  }

  /** Registers a listener called once per job when it has been enqueued for delivery. */
  onPublished(listener: (job: VideoJob, publishedAtMs: number) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Joins the model's group (created on first use and kept, like a Kafka consumer group, so
   * jobs keep collecting while its worker restarts). Members of one group share the work;
   * a camera's jobs are never handled by two members at once, so per-camera order holds.
   */
  async subscribe(sub: JobSubscription): Promise<{ stop(): Promise<void> }> {
    if (this.closed) throw new Error('job queue is closed');
    let group = this.groups.get(sub.model);
    if (!group) {
      group = {
        model: sub.model,
        backlog: new PriorityFifo(),
        members: new Set(),
        busyCameras: new Set(),
        inFlight: 0,
        delivered: 0,
        shed: 0,
        failed: 0,
        shedding: false,
      };
      this.groups.set(sub.model, group);
    }
    const member: Member = { sub, stopped: false, done: Promise.resolve() };
    group.members.add(member);
    member.done = this.work(group, member);
    this.scheduleDispatch();
    const owner = group;
    return {
      stop: async () => {
        member.stopped = true;
        member.wake?.();
        await member.done;
        owner.members.delete(member);
      },
    };
  }

  /**
   * Stops accepting jobs, waits up to `timeoutMs` for the buffer and the model backlogs to
   * empty, then stops every member. What is still queued then is dropped and logged.
   */
  async close(timeoutMs = 5_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const deadline = Date.now() + timeoutMs;
    // A group without members keeps its backlog for a worker that is not coming back now.
    const idle = () =>
      this.buffer.size === 0 &&
      [...this.groups.values()].every(
        (g) => g.members.size === 0 || (g.backlog.size === 0 && g.inFlight === 0),
      );
    while (!idle() && Date.now() < deadline) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.progress(),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, deadline - Date.now()))),
      ]);
      clearTimeout(timer);
    }
    const left =
      this.buffer.size + [...this.groups.values()].reduce((n, g) => n + g.backlog.size, 0);
    if (left > 0) this.log.warn(`job queue closed with ${left} job(s) undelivered`);
    this.buffer.clear();
    const stops: Promise<void>[] = [];
    for (const g of this.groups.values()) {
      g.backlog.clear();
      for (const m of g.members) {
        m.stopped = true;
        m.wake?.();
        stops.push(m.done);
      }
    }
    await Promise.all(stops);
    this.notifyProgress();
  }

  /** Deferred so `offer` stays cheap and listeners never run inside the caller's stack. */
  private scheduleDispatch(): void {
    if (this.dispatchScheduled) return;
    this.dispatchScheduled = true;
    queueMicrotask(() => this.dispatch());
  }

  private dispatch(): void {
    this.dispatchScheduled = false;
    // Until a model subscribes, jobs wait in the buffer instead of vanishing at start-up.
    if (this.groups.size === 0) return;
    for (let job = this.buffer.take(); job; job = this.buffer.take()) {
      for (const group of this.groups.values()) {
        if (job.metadata.enabledModels.includes(group.model)) this.enqueue(group, job);
      }
      this.published++;
      const at = Date.now();
      notifyPublished(this.listeners, job, at, this.log);
    }
    this.notifyProgress();
  }

  /**
   * Bounded backlog: when full, the oldest job of the least urgent priority present makes
   * room, unless the new job is less urgent still, in which case the new job is dropped.
   */
  private enqueue(group: ModelGroup, job: VideoJob): void {
    if (group.backlog.size >= this.backlogLimit) {
      const lowest = group.backlog.leastUrgent();
      const victim =
        lowest !== undefined && rank(job.metadata.priority) <= rank(lowest)
          ? group.backlog.dropOldest(lowest)
          : job;
      group.shed++;
      if (!group.shedding) {
        group.shedding = true;
        this.log.warn(
          `model ${group.model} is ${this.backlogLimit} jobs behind; shedding its oldest ${victim?.metadata.priority ?? ''} jobs`,
        );
      }
      if (victim === job) return;
    } else if (group.shedding && group.backlog.size < this.backlogLimit / 2) {
      group.shedding = false;
      this.log.info(`model ${group.model} caught up (${group.shed} jobs shed so far)`);
    }
    group.backlog.push(job);
    for (const m of group.members) m.wake?.();
  }

  private async work(group: ModelGroup, member: Member): Promise<void> {
    while (!member.stopped) {
      const job = group.backlog.take((j) => !group.busyCameras.has(j.cameraId));
      if (!job) {
        await new Promise<void>((resolve) => (member.wake = resolve));
        member.wake = undefined;
        continue;
      }
      group.busyCameras.add(job.cameraId);
      group.inFlight++;
      try {
        if (await this.deliver(member.sub, job)) group.delivered++;
        else group.failed++;
      } finally {
        group.busyCameras.delete(job.cameraId);
        group.inFlight--;
        // Another member may have skipped this camera's next job while this one ran.
        for (const m of group.members) if (m !== member) m.wake?.();
        this.notifyProgress();
      }
    }
  }

  private async deliver(sub: JobSubscription, job: VideoJob): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await sub.handle(job);
        return true;
      } catch (err) {
        if (attempt >= this.maxAttempts) {
          this.log.warn(
            `model ${sub.model}: job ${job.jobId} failed ${attempt} time(s), skipped: ${describe(err)}`,
          );
          return false;
        }
        await delay(this.retryDelayMs * attempt);
      }
    }
  }

  private progress(): Promise<void> {
    return new Promise((resolve) => this.progressWaiters.push(resolve));
  }

  private notifyProgress(): void {
    const waiters = this.progressWaiters;
    this.progressWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
