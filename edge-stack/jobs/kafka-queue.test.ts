import { execFile } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import type { Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Priority } from '../../resources/index.js';
import { startKafka, type KafkaServer } from '../../tests/servers/kafka.js';
import {
  KafkaJobConsumerFactory,
  KafkaJobQueue,
  type KafkaJobQueueOptions,
  type KafkaQueueLogger,
} from './kafka-queue.js';
import { ALL_JOB_TOPICS, PRIORITY_ORDER, topicFor, type VideoJob } from './video-job.js';
import { job } from '../../tests/fixtures/video-job.js';

function captureLog(): KafkaQueueLogger & { lines: string[] } {
  const lines: string[] = [];
  const push = (...args: unknown[]) => void lines.push(args.map(String).join(' '));
  return { lines, debug: push, info: push, warn: push, error: push };
}

function exec(file: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: 60_000, maxBuffer: 64 << 20 }, (err, out, e) =>
      err ? reject(new Error(`${file} ${args.join(' ')}: ${err.message}\n${e}`)) : resolve(out),
    );
    child.stdin?.end(input ?? '');
  });
}

interface Record_ {
  partition: number;
  key: string;
  headers: string;
  job: VideoJob;
}

/** The messages of a topic whose key starts with `keyPrefix`, read by kcat (librdkafka). */
async function readTopic(brokers: string[], topic: string, keyPrefix: string): Promise<Record_[]> {
  const out = await exec('kcat', [
    ...['-C', '-b', brokers[0]!, '-t', topic, '-o', 'beginning', '-e', '-q'],
    ...['-f', '%p\\t%k\\t%h\\t%s\\n'],
  ]);
  return out
    .split('\n')
    .map((line) => line.split('\t'))
    .filter(([, key]) => key?.startsWith(keyPrefix))
    .map(([partition, key, headers, value]) => {
      return {
        partition: Number(partition),
        key: key!,
        headers: headers!,
        job: JSON.parse(value!) as VideoJob,
      };
    });
}

/** Sequence numbers of a camera's jobs in one topic, in the order the broker holds them. */
function sequences(records: Record_[], cameraId: string): number[] {
  return records.filter((r) => r.key === cameraId).map((r) => r.job.segmentSequence);
}

async function until(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Makes the queue's first producer write only the first topic of its first batch and then
 * fail it as a broker that lost the producer's sequence numbers answers (what kafkajs
 * sees after a broker restart); `count` is how many batches it failed (at most one).
 */
function loseProducerStateOnFirstBatch(q: KafkaJobQueue): { count: number } {
  const first = (q as unknown as { producer: Producer }).producer;
  const send = first.sendBatch.bind(first);
  const sends = { count: 0 };
  first.sendBatch = async (batch) => {
    if (sends.count > 0) return send(batch);
    sends.count++;
    await send({ ...batch, topicMessages: batch.topicMessages!.slice(0, 1) });
    throw Object.assign(new Error('The broker received an out of order sequence number'), {
      type: 'OUT_OF_ORDER_SEQUENCE_NUMBER',
    });
  };
  return sends;
}

const fastRetry: Partial<KafkaJobQueueOptions> = {
  backoff: { initialMs: 100, maxMs: 1_000 },
  connectionTimeoutMs: 1_000,
  requestTimeoutMs: 5_000,
};

describe('KafkaJobQueue against a real broker', { timeout: 180_000 }, () => {
  let kafka: KafkaServer;

  beforeAll(async () => {
    kafka = await startKafka();
  }, 300_000);

  afterAll(async () => {
    await kafka?.stop();
  }, 120_000);

  it('publishes each job to its priority topic, keyed by camera, in order per camera', async () => {
    const log = captureLog();
    const q = new KafkaJobQueue({ brokers: kafka.brokers, logger: log, maxBatch: 7 });
    expect(await q.start()).toBe(true);
    const published: VideoJob[] = [];
    q.onPublished((j, at) => {
      expect(at).toBeGreaterThanOrEqual(j.createdAtMs);
      published.push(j);
    });
    const cameras = ['t1-cam-a', 't1-cam-b', 't1-cam-c'];
    const offered: VideoJob[] = [];
    for (let seq = 0; seq < 60; seq++) {
      // A mix that changes priority per camera over time, as per-camera overrides do.
      const j = job(cameras[seq % 3]!, seq, PRIORITY_ORDER[(seq * 7) % 4]!, ['fire', 'crowd']);
      expect(q.offer(j)).toBe(true);
      offered.push(j);
    }
    await q.drain();
    expect(q.stats()).toMatchObject({ buffered: 0, published: 60, connected: true });
    expect(published.map((j) => j.jobId).sort()).toEqual(offered.map((j) => j.jobId).sort());
    await q.close();

    for (const topic of ALL_JOB_TOPICS) {
      const records = await readTopic(kafka.brokers, topic, 't1-');
      const expected = offered.filter((j) => topicFor(j.metadata.priority) === topic);
      expect(records).toHaveLength(expected.length);
      for (const r of records) {
        expect(r.key).toBe(r.job.cameraId);
        expect(r.job).toEqual(offered.find((j) => j.jobId === r.job.jobId));
        expect(r.headers).toBe(`jobId=${r.job.jobId},priority=${r.job.metadata.priority}`);
      }
      for (const cam of cameras) {
        const want = expected.filter((j) => j.cameraId === cam).map((j) => j.segmentSequence);
        expect(sequences(records, cam)).toEqual(want);
        // One partition per camera is what keeps its order.
        expect(new Set(records.filter((r) => r.key === cam).map((r) => r.partition)).size).toBe(1);
      }
    }
    // kafkajs logged nothing worth a warning, and nothing logged carries a payload.
    expect(log.lines.filter((l) => l.includes('file://'))).toEqual([]);
  });

  it('fans out to one consumer group per model, skipping jobs and messages not for it', async () => {
    const log = captureLog();
    const factory = new KafkaJobConsumerFactory({ brokers: kafka.brokers, logger: log });
    const got: Record<string, VideoJob[]> = { 't2-fire': [], 't2-crowd': [] };
    const subscribe = (model: string) =>
      factory.subscribe({
        model,
        priority: 'HIGH',
        handle: async (j) => {
          got[model]!.push(j);
        },
      });
    const subs = [await subscribe('t2-fire'), await subscribe('t2-crowd')];

    // A message that is not a job (another producer's mistake) must not stop the groups.
    await exec(
      'kcat',
      ['-P', '-b', kafka.brokers[0]!, '-t', 'video-jobs-high', '-K', '\t'],
      't2-bad\tnot json\n',
    );

    const q = new KafkaJobQueue({ brokers: kafka.brokers, logger: log });
    const offered = [
      job('t2-cam-a', 1, 'CRITICAL', ['t2-fire']),
      job('t2-cam-a', 2, 'MEDIUM', ['t2-crowd']),
      job('t2-cam-b', 1, 'HIGH', ['t2-fire', 't2-crowd']),
      job('t2-cam-b', 2, 'HIGH', ['t2-fire', 't2-crowd']),
      job('t2-cam-c', 1, 'STANDARD', ['anpr']),
      job('t2-cam-a', 3, 'CRITICAL', ['t2-fire']),
    ];
    for (const j of offered) expect(q.offer(j)).toBe(true);
    await q.drain();
    await q.close();

    const ids = (model: string) => got[model]!.map((j) => j.jobId);
    await until(() => ids('t2-fire').length >= 4 && ids('t2-crowd').length >= 3, 'deliveries');
    expect(new Set(ids('t2-fire'))).toEqual(
      new Set([
        't2-cam-a/segment/1/CRITICAL',
        't2-cam-b/segment/1/HIGH',
        't2-cam-b/segment/2/HIGH',
        't2-cam-a/segment/3/CRITICAL',
      ]),
    );
    expect(new Set(ids('t2-crowd'))).toEqual(
      new Set(['t2-cam-a/segment/2/MEDIUM', 't2-cam-b/segment/1/HIGH', 't2-cam-b/segment/2/HIGH']),
    );
    // Per camera and topic the order holds (cam-a's CRITICAL jobs, cam-b's HIGH jobs).
    expect(ids('t2-fire').filter((id) => id.startsWith('t2-cam-a'))).toEqual([
      't2-cam-a/segment/1/CRITICAL',
      't2-cam-a/segment/3/CRITICAL',
    ]);
    expect(ids('t2-crowd').filter((id) => id.startsWith('t2-cam-b'))).toEqual([
      't2-cam-b/segment/1/HIGH',
      't2-cam-b/segment/2/HIGH',
    ]);
    await until(
      () => log.lines.filter((l) => l.includes('not JSON')).length >= 2,
      'both groups to skip the bad message',
    );
    await Promise.all(subs.map((s) => s.stop()));

    // Offsets were committed after handling: a restarted worker gets only what is new.
    const again = new KafkaJobQueue({ brokers: kafka.brokers, logger: log });
    const before = got['t2-fire']!.length;
    const sub = await subscribe('t2-fire');
    again.offer(job('t2-cam-a', 4, 'CRITICAL', ['t2-fire']));
    await again.close();
    await until(() => got['t2-fire']!.length > before, 'the new job');
    await new Promise((resolve) => setTimeout(resolve, 500));
    await sub.stop();
    expect(ids('t2-fire').slice(before)).toEqual(['t2-cam-a/segment/4/CRITICAL']);
  });

  it('buffers while the broker is down, sheds STANDARD first, then publishes everything in order', async () => {
    const log = captureLog();
    const q = new KafkaJobQueue({
      brokers: kafka.brokers,
      bufferLimit: 40,
      logger: log,
      ...fastRetry,
    });
    expect(await q.start()).toBe(true);
    q.offer(job('t3-warm', 0, 'HIGH'));
    await q.drain();

    await kafka.kill();
    const accepted: VideoJob[] = [];
    const offer = (p: Priority, n: number, from: number) => {
      let ok = 0;
      for (let i = 0; i < n; i++) {
        const j = job(i % 2 ? 't3-cam-b' : 't3-cam-a', from + i, p);
        if (q.offer(j)) {
          accepted.push(j);
          ok++;
        }
      }
      return ok;
    };
    expect(offer('STANDARD', 1, 0)).toBe(1);
    await until(() => !q.stats().connected, 'the queue to notice the broker is gone');
    // Nothing can be acknowledged now, so admission is exact: 50/75/90/100 % of 40.
    expect(offer('STANDARD', 25, 100)).toBe(19);
    expect(offer('MEDIUM', 12, 200)).toBe(10);
    expect(offer('HIGH', 8, 300)).toBe(6);
    expect(offer('CRITICAL', 6, 400)).toBe(4);
    expect(offer('STANDARD', 1, 500)).toBe(0);
    const down = q.stats();
    expect(down).toMatchObject({
      buffered: 40,
      published: 1,
      connected: false,
      refused: { STANDARD: 7, MEDIUM: 2, HIGH: 2, CRITICAL: 2 },
    });
    expect(down.lastError).toMatch(/^(publish|connect) failed \(brokers 127\.0\.0\.1:\d+\): /);
    expect(log.lines.some((l) => l.includes('buffering and retrying'))).toBe(true);

    await kafka.restart();
    await q.drain();
    expect(q.stats()).toMatchObject({ buffered: 0, published: 41, connected: true });
    expect(log.lines.some((l) => /reconnected after [\d.]+s; \d+ job\(s\) buffered/.test(l))).toBe(
      true,
    );
    await q.close();

    for (const topic of ALL_JOB_TOPICS) {
      const records = await readTopic(kafka.brokers, topic, 't3-cam');
      for (const cam of ['t3-cam-a', 't3-cam-b']) {
        const want = accepted
          .filter((j) => j.cameraId === cam && topicFor(j.metadata.priority) === topic)
          .map((j) => j.segmentSequence);
        // Exactly once, in offer order: nothing lost, nothing duplicated by the retries.
        expect(sequences(records, cam)).toEqual(want);
      }
    }
  });

  it('after the broker lost the producer state, sends again only what the broker lacks', async () => {
    const log = captureLog();
    const q = new KafkaJobQueue({ brokers: kafka.brokers, logger: log, ...fastRetry });
    expect(await q.start()).toBe(true);
    const sends = loseProducerStateOnFirstBatch(q);
    const offered: VideoJob[] = [];
    for (let seq = 0; seq < 12; seq++) {
      const j = job(seq % 2 ? 't5-cam-b' : 't5-cam-a', seq, seq % 3 ? 'HIGH' : 'CRITICAL');
      expect(q.offer(j)).toBe(true);
      offered.push(j);
    }
    await q.drain();
    expect(sends.count).toBe(1);
    expect(q.stats()).toMatchObject({ buffered: 0, published: 12, connected: true });
    // The CRITICAL topic went first and was on the broker; only the HIGH jobs were re-sent.
    expect(
      log.lines.some((l) =>
        l.includes('4 of 12 job(s) of the failed batch were already on the broker'),
      ),
    ).toBe(true);
    await q.close();

    for (const topic of ALL_JOB_TOPICS) {
      const records = await readTopic(kafka.brokers, topic, 't5-cam');
      for (const cam of ['t5-cam-a', 't5-cam-b']) {
        const want = offered
          .filter((j) => j.cameraId === cam && topicFor(j.metadata.priority) === topic)
          .map((j) => j.segmentSequence);
        expect({ topic, cam, seqs: sequences(records, cam) }).toEqual({ topic, cam, seqs: want });
      }
    }
  });

  it('sends the whole batch again, and says so, when the broker keeps refusing the check', async () => {
    const log = captureLog();
    const q = new KafkaJobQueue({ brokers: kafka.brokers, logger: log, ...fastRetry });
    expect(await q.start()).toBe(true);
    loseProducerStateOnFirstBatch(q);
    // A broker that answers but denies this client consumer groups (an ACL).
    const kafkajs = (q as unknown as { connection: { kafka: { consumer: unknown } } }).connection
      .kafka;
    let checks = 0;
    kafkajs.consumer = () => {
      checks++;
      throw Object.assign(new Error('Not authorized to access group'), {
        name: 'KafkaJSProtocolError',
        type: 'GROUP_AUTHORIZATION_FAILED',
      });
    };
    const offered: VideoJob[] = [];
    for (let seq = 0; seq < 6; seq++) {
      const j = job('t6-cam-a', seq, seq % 2 ? 'HIGH' : 'CRITICAL');
      expect(q.offer(j)).toBe(true);
      offered.push(j);
    }
    await q.drain();
    await q.close();
    expect(checks).toBe(3);
    expect(q.stats()).toMatchObject({ buffered: 0, published: 6 });
    expect(log.lines.some((l) => l.includes('some may be duplicated'))).toBe(true);
    expect(log.lines.join('\n')).toMatch(
      /check which jobs reached the broker failed .*Not authorized to access group/,
    );
    // At least once: the CRITICAL jobs the broker had are there twice, nothing is missing.
    const critical = await readTopic(kafka.brokers, 'video-jobs-critical', 't6-cam');
    const high = await readTopic(kafka.brokers, 'video-jobs-high', 't6-cam');
    expect(sequences(critical, 't6-cam-a')).toEqual([0, 2, 4, 0, 2, 4]);
    expect(sequences(high, 't6-cam-a')).toEqual([1, 3, 5]);
  });

  it('fails clearly, without crashing, on brokers that refuse or never answer', async () => {
    expect(() => new KafkaJobQueue({ brokers: [] })).toThrow('no brokers configured');

    // Nothing listens on a port we just closed.
    const closedPort = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    const refusedLog = captureLog();
    const refused = new KafkaJobQueue({
      brokers: [`127.0.0.1:${closedPort}`],
      logger: refusedLog,
      ...fastRetry,
    });
    expect(await refused.start()).toBe(false);
    expect(refused.stats().lastError).toMatch(
      new RegExp(`^connect failed \\(brokers 127\\.0\\.0\\.1:${closedPort}\\): .*ECONNREFUSED`),
    );
    expect(refused.offer(job('t4-cam', 1, 'CRITICAL'))).toBe(true);
    // A job too large for any broker is refused up front instead of blocking its topic.
    const huge = job('t4-cam', 2, 'CRITICAL');
    huge.segment.frameOffsetsMs = Array.from({ length: 200_000 }, (_, i) => i);
    expect(refused.offer(huge)).toBe(false);
    expect(
      refusedLog.lines.some((l) => /^job t4-cam\/segment\/2\/CRITICAL refused: \d+ bytes/.test(l)),
    ).toBe(true);
    expect(refused.stats()).toMatchObject({
      buffered: 1,
      connected: false,
      published: 0,
      refused: { CRITICAL: 1 },
    });
    const drained = refused.drain();
    await refused.close(300);
    await expect(drained).rejects.toThrow('closed with 1 job(s) unpublished');
    expect(refusedLog.lines).toContain('Kafka job queue closed with 1 job(s) unpublished');

    // A "broker" that accepts connections and never says a word.
    const sockets = new Set<Socket>();
    const silent: Server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
    });
    const silentPort = await new Promise<number>((resolve) =>
      silent.listen(0, '127.0.0.1', () => resolve((silent.address() as { port: number }).port)),
    );
    try {
      const mute = new KafkaJobQueue({
        brokers: [`127.0.0.1:${silentPort}`],
        logger: captureLog(),
        ...fastRetry,
        requestTimeoutMs: 500,
      });
      expect(await mute.start()).toBe(false);
      expect(mute.stats().lastError).toMatch(/^connect failed .*timed out/i);
      await mute.close(100);

      const consumers = new KafkaJobConsumerFactory({
        brokers: [`127.0.0.1:${silentPort}`],
        logger: captureLog(),
        connectionTimeoutMs: 500,
        requestTimeoutMs: 500,
      });
      await expect(
        consumers.subscribe({ model: 'fire', priority: 'CRITICAL', handle: async () => {} }),
      ).rejects.toThrow(/^cannot subscribe vmsctl-model-fire: .*timed out/i);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
