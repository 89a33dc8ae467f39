import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';

/** A job whose publication is in doubt: its id and the time its message carries. */
export interface DoubtfulJob {
  jobId: string;
  createdAtMs: number;
}

/** Where the check reads and how long it may take. */
export interface PublishedCheckOptions {
  /** Gives up (rejects) after this long (default 30 s). */
  timeoutMs?: number;
  /** Consumer group id prefix; a fresh, uncommitted group is used and deleted afterwards. */
  groupPrefix?: string;
}

interface Range {
  topic: string;
  partition: number;
  /** Offset of the first message to read. */
  start: bigint;
  /** Offset of the last message the check must see. */
  last: bigint;
}

/**
 * Which of `jobs` (per topic) the broker already holds. Reads every partition of each topic
 * from the first message stamped at or after the earliest doubtful job's creation time up
 * to the end offset found at the start: a job written before the check began is in that
 * range whatever other producers wrote since. Used after a producer lost its idempotent
 * state, when a batch may be on the broker in part, so re-sending it whole would duplicate.
 */
export async function findPublishedJobs(
  kafka: Kafka,
  jobs: ReadonlyMap<string, readonly DoubtfulJob[]>,
  options: PublishedCheckOptions = {},
): Promise<Set<string>> {
  const wanted = new Set<string>();
  for (const list of jobs.values()) for (const j of list) wanted.add(j.jobId);
  const found = new Set<string>();
  const ranges = await rangesToRead(kafka, jobs);
  if (ranges.length === 0) return found;

  const timeoutMs = options.timeoutMs ?? 30_000;
  const groupId = `${options.groupPrefix ?? 'vmsctl-publish-check-'}${randomUUID()}`;
  const consumer = kafka.consumer({
    groupId,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 500,
    retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 1_000 },
  });
  const open = new Map(ranges.map((r) => [`${r.topic}/${r.partition}`, r]));
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`published-job check timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        if (!payload.restart) reject(payload.error);
      });
      // Seeking once the group is joined: before that the partitions are not assigned.
      consumer.on(consumer.events.GROUP_JOIN, () => {
        for (const r of ranges)
          consumer.seek({ topic: r.topic, partition: r.partition, offset: r.start.toString() });
      });
      void (async () => {
        await consumer.connect();
        await consumer.subscribe({ topics: [...new Set(ranges.map((r) => r.topic))] });
        await consumer.run({
          autoCommit: false,
          eachMessage: async ({ topic, partition, message }) => {
            const id = message.headers?.['jobId']?.toString();
            if (id && wanted.has(id)) found.add(id);
            const key = `${topic}/${partition}`;
            const range = open.get(key);
            if (range && BigInt(message.offset) >= range.last) open.delete(key);
            if (open.size === 0) resolve();
          },
        });
      })().catch(reject);
    });
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => {});
    await deleteGroup(kafka, groupId);
  }
  return found;
}

/** The partitions holding messages stamped at or after each topic's earliest doubtful job. */
async function rangesToRead(
  kafka: Kafka,
  jobs: ReadonlyMap<string, readonly DoubtfulJob[]>,
): Promise<Range[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ranges: Range[] = [];
    for (const [topic, list] of jobs) {
      if (list.length === 0) continue;
      const since = Math.min(...list.map((j) => j.createdAtMs));
      const ends = await admin.fetchTopicOffsets(topic);
      const starts = await admin.fetchTopicOffsetsByTimestamp(topic, since);
      for (const { partition, high } of ends) {
        const start = BigInt(starts.find((s) => s.partition === partition)?.offset ?? high);
        const end = BigInt(high);
        if (start < end) ranges.push({ topic, partition, start, last: end - 1n });
      }
    }
    return ranges;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** Removes the check's consumer group; it committed nothing, so this only tidies up. */
async function deleteGroup(kafka: Kafka, groupId: string): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.deleteGroups([groupId]);
  } catch {
    // An empty group without offsets expires on its own.
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
