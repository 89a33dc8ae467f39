/** VideoJobs and the JobQueue port with its adapters: in-process (embedded default) and Kafka. */
export * from './video-job.js';
export * from './queue.js';
export * from './memory-queue.js';
export * from './kafka-queue.js';
