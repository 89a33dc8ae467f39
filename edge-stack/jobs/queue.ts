import type { Priority } from '../../resources/index.js';
import type { VideoJob } from './video-job.js';

/** Publication counters of a job queue, for health and metrics. */
export interface JobQueueStats {
  /** Jobs accepted but not yet acknowledged by the broker (or handed to a consumer). */
  buffered: number;
  bufferLimit: number;
  published: number;
  /** Offers refused because the buffer had no room for that priority. */
  refused: Record<Priority, number>;
  connected: boolean;
  lastError?: string;
}

/**
 * Where the segmenter sends VideoJobs. Two adapters: an in-process priority queue (the
 * embedded default) and Kafka. A job that `offer` accepted is never dropped: it waits in
 * a bounded buffer until it is published, in order per camera.
 */
export interface JobQueue {
  /**
   * Accepts a job into the local buffer, or refuses it (false) when there is no room for
   * its priority. Lower priorities are refused first so CRITICAL work keeps flowing.
   */
  offer(job: VideoJob): boolean;
  /** Resolves when every accepted job has been published. */
  drain(): Promise<void>;
  stats(): JobQueueStats;
  /** Called once per job when the broker has acknowledged it. */
  onPublished(listener: (job: VideoJob, publishedAtMs: number) => void): void;
  /** Publishes what is buffered (waiting at most `timeoutMs`), then disconnects. */
  close(timeoutMs?: number): Promise<void>;
}

/** A model worker's subscription: one consumer group per model, fan-out across models. */
export interface JobSubscription {
  model: string;
  priority: Priority;
  handle(job: VideoJob): Promise<void>;
}

/** Consumer side of the queue, used by model workers. */
export interface JobConsumerFactory {
  /** Starts delivering jobs whose `enabledModels` include the model; resolves when subscribed. */
  subscribe(sub: JobSubscription): Promise<{ stop(): Promise<void> }>;
}

/**
 * How much of the buffer each priority may fill before its offers are refused: STANDARD
 * work is shed first, CRITICAL only when the buffer is completely full.
 */
export const ADMISSION_SHARE: Record<Priority, number> = {
  CRITICAL: 1,
  HIGH: 0.9,
  MEDIUM: 0.75,
  STANDARD: 0.5,
};

/** Whether a job of this priority may enter a buffer holding `buffered` of `limit`. */
export function admits(priority: Priority, buffered: number, limit: number): boolean {
  return buffered < Math.floor(limit * ADMISSION_SHARE[priority]);
}
