import { Flags } from '@oclif/core';
import path from 'node:path';
import { hasErrors } from '../../../resources/index.js';
import {
  EdgeIngest,
  formatBitrate,
  KafkaJobQueue,
  MemoryJobQueue,
  MountedSecrets,
  type CameraHealth,
  type JobQueue,
} from '../../../edge-stack/index.js';
import { EXIT, VmsCommand } from '../../base-command.js';
import { dirArg, InputError, loadValidatedFleet, nowFlag } from '../../fleet-input.js';
import { blocksToText, line, table } from '../../render/blocks.js';
import type { Column } from '../../render/table.js';

const ago = (ms?: number) => (ms ? `${((Date.now() - ms) / 1000).toFixed(1)}s` : '-');

const columns: Column<CameraHealth>[] = [
  { header: 'CAMERA', get: (h) => h.cameraId },
  { header: 'STATE', get: (h) => h.state },
  {
    header: 'STREAM',
    get: (h) =>
      h.observedStream
        ? `${h.observedStream.codec} ${h.observedStream.width}x${h.observedStream.height}`
        : '-',
  },
  {
    header: 'BITRATE',
    get: (h) => (h.recorder.bitrateBps ? formatBitrate(h.recorder.bitrateBps) : '-'),
    align: 'right',
  },
  { header: 'FPS', get: (h) => h.normalizer.fps.toFixed(1), align: 'right' },
  {
    header: 'LAST FRAME',
    get: (h) => ago(h.normalizer.lastFrameMs ?? h.recorder.lastDataMs),
    align: 'right',
  },
  { header: 'RECORDINGS', get: (h) => h.recorder.segments, align: 'right' },
  { header: 'JOBS', get: (h) => h.jobs.offered, align: 'right' },
  { header: 'RECONNECTS', get: (h) => h.reconnects, align: 'right' },
  { header: 'MESSAGE', get: (h) => h.message ?? '' },
];

export default class EdgeIngestCommand extends VmsCommand {
  static override summary =
    "Run the cameras' ingest on this machine: record, normalize, segment and queue VideoJobs.";
  static override description =
    "Reads the fleet, resolves each camera's configuration and runs one recorder and one normalizer ffmpeg per camera. Jobs go to Kafka with --kafka, else to the embedded in-process queue. Prints camera health every --interval seconds (JSON lines with --json). Stops on Ctrl-C or after --duration, flushing partial segments.";
  static override examples = [
    '<%= config.bin %> edge ingest fleet --edge hq-edge-1 --data /var/lib/vmsctl --kafka kafka:9092',
    '<%= config.bin %> edge ingest fleet --camera acme/lobby-cam --duration 60 --json',
  ];
  static override args = { dir: dirArg };
  static override flags = {
    edge: Flags.string({ description: 'Only cameras pinned to this edge server.' }),
    camera: Flags.string({
      description: 'Only this camera (namespace/name); repeatable.',
      multiple: true,
    }),
    data: Flags.directory({
      description: 'Where recordings and segment files go.',
      default: 'vmsctl-data',
    }),
    kafka: Flags.string({ description: 'Kafka bootstrap brokers (host:port, comma-separated).' }),
    secrets: Flags.directory({
      description: 'Root of mounted secrets: <root>/<namespace>/<secret>/<key>.',
      env: 'VMSCTL_SECRETS_DIR',
    }),
    ffmpeg: Flags.string({
      description: 'ffmpeg binary.',
      default: 'ffmpeg',
      env: 'VMSCTL_FFMPEG',
    }),
    duration: Flags.integer({ description: 'Stop after this many seconds.', min: 1 }),
    interval: Flags.integer({
      description: 'Seconds between health reports.',
      default: 10,
      min: 1,
    }),
    'allow-file-sources': Flags.boolean({
      description: 'Let cameras read local files (demos, tests).',
    }),
    'max-recordings-gb': Flags.string({ description: 'Keep recordings under this size (GB).' }),
    'min-free-gb': Flags.string({ description: 'Keep at least this much disk free (GB).' }),
    now: nowFlag,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(EdgeIngestCommand);
    const result = await loadValidatedFleet(args.dir, flags.now);
    if (hasErrors(result.diagnostics))
      throw new InputError(
        'the fleet has errors; the edge runs only a valid fleet',
        `Run: vmsctl validate ${args.dir}`,
      );
    const gb = (v: string | undefined, flag: string) => {
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0)
        throw new InputError(`--${flag} must be a positive number`, `e.g. --${flag} 500`);
      return n * 1024 ** 3;
    };
    const maxBytes = gb(flags['max-recordings-gb'], 'max-recordings-gb');
    const minFreeBytes = gb(flags['min-free-gb'], 'min-free-gb');
    const brokers = flags.kafka
      ?.split(',')
      .map((b) => b.trim())
      .filter(Boolean);
    if (brokers?.some((b) => !/^[a-z0-9.-]+:\d{1,5}$/i.test(b)))
      throw new InputError(
        `--kafka "${flags.kafka}" is not a list of host:port`,
        'e.g. --kafka kafka-0:9092,kafka-1:9092',
      );
    const queue: JobQueue & { start?(): Promise<boolean> } = brokers
      ? new KafkaJobQueue({ brokers, clientId: 'vmsctl-edge-ingest' })
      : new MemoryJobQueue();
    if (queue instanceof KafkaJobQueue && !(await queue.start()))
      this.warn(
        `Kafka at ${brokers!.join(',')} is not reachable yet: jobs wait in the local buffer`,
      );
    const data = path.resolve(flags.data);
    const ingest = EdgeIngest.fromFleet(result.fleet, {
      ffmpegPath: flags.ffmpeg,
      recordingsDir: path.join(data, 'recordings'),
      spoolDir: path.join(data, 'segments'),
      queue,
      ...(flags.secrets ? { secrets: new MountedSecrets(path.resolve(flags.secrets)) } : {}),
      ...(flags.edge ? { edgeServerFilter: flags.edge, edgeServer: flags.edge } : {}),
      ...(flags.camera ? { cameras: flags.camera } : {}),
      allowFileSources: flags['allow-file-sources'],
      retention: {
        ...(maxBytes !== undefined ? { maxBytes } : {}),
        ...(minFreeBytes !== undefined ? { minFreeBytes } : {}),
      },
      log: (l) => process.stderr.write(`${new Date().toISOString()} ${l}\n`),
    });
    if (ingest.pipelines.size === 0)
      throw new InputError(
        'no cameras to run',
        flags.edge
          ? `No enabled camera is pinned to edge server "${flags.edge}".`
          : 'Check --camera.',
      );
    let closed = false;
    const report = () => {
      const health = ingest.health();
      if (flags.json)
        process.stdout.write(
          `${JSON.stringify({ time: new Date().toISOString(), cameras: health, queue: queue.stats() })}\n`,
        );
      else {
        const q = queue.stats();
        process.stdout.write(
          `${blocksToText([
            table(health, columns, new Date().toISOString()),
            line(
              `queue: ${brokers ? 'kafka' : 'embedded'} ${closed ? 'closed' : q.connected ? 'connected' : 'DISCONNECTED'}, ${q.published} published, ${q.buffered}/${q.bufferLimit} buffered${q.lastError ? `, last error: ${q.lastError}` : ''}`,
            ),
          ])}\n`,
        );
      }
      return health;
    };
    await ingest.start();
    const timer = setInterval(report, flags.interval * 1000);
    await new Promise<void>((resolve) => {
      const done = () => resolve();
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
      if (flags.duration) setTimeout(done, flags.duration * 1000).unref();
    });
    clearInterval(timer);
    await ingest.stop();
    // The embedded queue has no model workers in this command: nothing would take its jobs.
    await queue.close(brokers ? 15_000 : 0);
    closed = true;
    const final = report();
    this.setExit(final.some((h) => h.state === 'misconfigured') ? EXIT.findings : EXIT.ok);
  }
}
