import type { VideoJob } from './video-job.js';

/** Where a job queue reports what happens to it; a subset of `console`. */
export type QueueLogger = Pick<Console, 'debug' | 'info' | 'warn' | 'error'>;

/** Default logger: warnings and errors only. */
export const QUIET_LOGGER: QueueLogger = {
  debug: () => {},
  info: () => {},
  warn: (...args: unknown[]) => console.warn(...args),
  error: (...args: unknown[]) => console.error(...args),
};

/** Calls each onPublished listener; one that throws is logged and does not stop the others. */
export function notifyPublished(
  listeners: readonly ((job: VideoJob, at: number) => void)[],
  job: VideoJob,
  at: number,
  log: QueueLogger,
): void {
  for (const listener of listeners) {
    try {
      listener(job, at);
    } catch (err) {
      log.warn(
        `onPublished listener failed for job ${job.jobId}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
}
