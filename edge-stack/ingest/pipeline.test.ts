import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MODEL_CATALOG,
  SYSTEM_DEFAULTS,
  type CameraSpec,
  type EffectiveConfig,
} from '../../resources/index.js';
import { MemoryJobQueue, type VideoJob } from '../jobs/index.js';
import { startCameraSimulator, type CameraSimulator } from '../simulator/index.js';
import { CameraPipeline, type PipelineCamera } from './camera-pipeline.js';
import type { CameraHealth } from './health.js';
import { MountedSecrets } from './mounted-secrets.js';

const run = promisify(execFile);

let sim: CameraSimulator;
let dir: string;
const logs: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pipeline-'));
  sim = await startCameraSimulator({
    cameras: [
      {
        name: 'lobby',
        codec: 'H264',
        width: 1280,
        height: 720,
        fps: 10,
        bitrateKbps: 1500,
        scene: 'pattern',
      },
      {
        name: 'gate',
        codec: 'H264',
        width: 640,
        height: 360,
        fps: 10,
        bitrateKbps: 600,
        scene: 'pattern',
        auth: { user: 'viewer', password: 'S3cret!pw' },
      },
      {
        name: 'yard',
        codec: 'H264',
        width: 640,
        height: 360,
        fps: 10,
        bitrateKbps: 600,
        scene: 'pattern',
      },
      {
        name: 'dock',
        codec: 'H264',
        width: 640,
        height: 360,
        fps: 10,
        bitrateKbps: 600,
        scene: 'pattern',
      },
    ],
  });
  await mkdir(join(dir, 'secrets/acme/gate-right'), { recursive: true });
  await writeFile(join(dir, 'secrets/acme/gate-right/username'), 'viewer');
  await writeFile(join(dir, 'secrets/acme/gate-right/password'), 'S3cret!pw');
  await mkdir(join(dir, 'secrets/acme/gate-wrong'), { recursive: true });
  await writeFile(join(dir, 'secrets/acme/gate-wrong/username'), 'viewer');
  await writeFile(join(dir, 'secrets/acme/gate-wrong/password'), 'Wr0ng!pw');
}, 60_000);

afterAll(async () => {
  await sim?.stop();
  await rm(dir, { recursive: true, force: true });
});

function camera(
  name: string,
  url: string,
  opts: {
    models: string[];
    main?: Partial<CameraSpec['streams']['main']>;
    secret?: string;
    mode?: EffectiveConfig['recording']['mode'];
  },
): PipelineCamera {
  const config: EffectiveConfig = structuredClone({ ...SYSTEM_DEFAULTS, models: {} });
  config.recording.segmentSeconds = 4;
  config.recording.mode = opts.mode ?? 'continuous';
  config.segment.durationSeconds = 3;
  const requirements: PipelineCamera['requirements'] = {};
  for (const m of opts.models) {
    const entry = MODEL_CATALOG.find((e) => e.name === m)!;
    config.models[m] = {
      priority: entry.priority,
      confidenceThreshold: entry.confidenceThreshold,
      overlapSeconds: entry.overlapSeconds,
      fps: entry.fps,
    };
    requirements[m] = { minResolution: entry.minResolution, minBitrate: entry.minBitrate };
  }
  return {
    namespace: 'acme',
    name,
    spec: {
      site: 'hq',
      zone: 'main/ground/lobby',
      source: { type: 'rtsp', url, transport: 'tcp' },
      ...(opts.secret ? { auth: { type: 'basic', secretRef: { name: opts.secret } } } : {}),
      streams: {
        main: { codec: 'H264', resolution: '1280x720', fps: 10, bitrate: '1500Kbps', ...opts.main },
      },
    },
    config,
    requirements,
  };
}

function pipeline(
  cam: PipelineCamera,
  queue: MemoryJobQueue,
  extra: { recordingsDir?: string } = {},
) {
  const states: CameraHealth['state'][] = [];
  const p = new CameraPipeline(cam, {
    ffmpegPath: 'ffmpeg',
    recordingsDir: extra.recordingsDir ?? join(dir, 'rec'),
    spoolDir: join(dir, 'spool'),
    queue,
    secrets: new MountedSecrets(join(dir, 'secrets')),
    stallSeconds: 3,
    ioTimeoutSeconds: 3,
    spoolGraceSeconds: 60,
    onHealth: (h) => states.push(h.state),
    log: (l) => logs.push(l),
  });
  return { p, states };
}

/** Subscribes a collector for every model so the memory queue delivers (publishes) jobs. */
async function collect(queue: MemoryJobQueue, models: string[]) {
  const jobs: VideoJob[] = [];
  for (const model of models) {
    const entry = MODEL_CATALOG.find((e) => e.name === model)!;
    await queue.subscribe({
      model,
      priority: entry.priority,
      handle: async (job) => {
        jobs.push(job);
      },
    });
  }
  return jobs;
}

async function until(what: string, check: () => boolean, timeoutMs = 20_000, everyMs = 200) {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function probe(path: string) {
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-count_packets',
    '-show_entries',
    'stream=codec_name,width,height,nb_read_packets',
    '-of',
    'json',
    path,
  ]);
  return JSON.parse(stdout).streams[0] as {
    codec_name: string;
    width: number;
    height: number;
    nb_read_packets: string;
  };
}

describe('camera pipeline on a simulated RTSP camera', () => {
  it('records, normalizes, segments and queues jobs; health says streaming', async () => {
    const models = ['fire-smoke-detection', 'camera-tampering', 'advanced-motion-detection'];
    const queue = new MemoryJobQueue({ bufferLimit: 1000 });
    const jobs = await collect(queue, models);
    const { p } = pipeline(camera('lobby', sim.url('lobby'), { models }), queue);
    await p.start();
    try {
      await until(
        'two segments',
        () => jobs.filter((j) => j.kind === 'segment').length >= 6,
        30_000,
      );
      await until('streaming', () => p.health().state === 'streaming');
      const h = p.health();
      expect(h.observedStream).toMatchObject({ codec: 'H264', width: 1280, height: 720 });
      expect(h.recorder.bitrateBps).toBeGreaterThan(100_000);
      expect(h.normalizer.decodeFps).toBe(5); // motion needs 5 fps, the most of the three
      expect(h.normalizer.keyframesOnly).toBe(false);
      expect(h.activeModels.sort()).toEqual([...models].sort());
      const seg = jobs.filter((j) => j.kind === 'segment');
      const crit = seg.find((j) => j.metadata.priority === 'CRITICAL')!;
      expect(crit.metadata.enabledModels).toEqual(['fire-smoke-detection']);
      expect(crit.metadata.resolution).toBe('640x480');
      expect(crit.metadata.sourceQuality).toMatchObject({
        stream: 'main',
        codec: 'H264',
        resolution: '1280x720',
      });
      expect(crit.segment.byteLength).toBe(crit.segment.frameCount * 640 * 480 * 3);
      expect(crit.customerId).toBe('acme');
      expect(crit.cameraId).toBe('acme/lobby');
      // After the first (which starts whenever the camera came up), a segment holds its own
      // 3 s at the decode rate (5 fps: 15 frames when the machine keeps up; a loaded CI
      // machine may lose some, never most), after the overlap copied from the one before.
      const first = Math.min(...seg.map((j) => j.segmentSequence));
      const full = seg.filter((j) => !j.metadata.partial && j.segmentSequence > first);
      expect(full.length).toBeGreaterThan(0);
      for (const j of full) {
        const overlapMs = j.segment.overlapSeconds * 1000;
        const own = j.segment.frameOffsetsMs.filter((o) => o >= overlapMs - 1);
        expect(own.length).toBeGreaterThanOrEqual(8);
        expect(own.length).toBeLessThanOrEqual(16);
        expect(own.at(-1)! - own[0]!).toBeGreaterThanOrEqual(2000);
        expect(overlapMs).toBeLessThanOrEqual(2000);
      }
      // CRITICAL and HIGH models get a micro-job for each frame within a fraction of a second.
      const micro = jobs.filter((j) => j.kind === 'micro');
      expect(new Set(micro.map((j) => j.metadata.priority))).toEqual(new Set(['CRITICAL', 'HIGH']));
      const lat = micro.map((j) => j.createdAtMs - Date.parse(j.timestamp)).sort((a, b) => a - b);
      expect(lat[Math.floor(lat.length / 2)]!).toBeLessThan(500);
      // Segments are wall-clock aligned and in order.
      const seqs = seg
        .filter((j) => j.metadata.priority === 'STANDARD')
        .map((j) => j.segmentSequence);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    } finally {
      await p.stop();
    }
    const files = (await readdir(join(dir, 'rec/acme_lobby'))).filter((f) => f.endsWith('.mkv'));
    expect(files.length).toBeGreaterThanOrEqual(2);
    const info = await probe(join(dir, 'rec/acme_lobby', files.sort()[0]!));
    expect(info).toMatchObject({ codec_name: 'h264', width: 1280, height: 720 });
    expect(Number(info.nb_read_packets)).toBeGreaterThanOrEqual(30);
  }, 60_000);

  it('reports a stream that differs from the manifest and disables the models it cannot serve', async () => {
    const queue = new MemoryJobQueue({ bufferLimit: 100 });
    const models = ['intrusion-detection', 'advanced-motion-detection'];
    await collect(queue, models);
    const cam = camera('yard-mismatch', sim.url('yard'), {
      models,
      main: { codec: 'H265', resolution: '1920x1080' },
    });
    const { p } = pipeline(cam, queue);
    await p.start();
    try {
      await until('the observed stream', () => p.health().mismatches.length > 0);
      const h = p.health();
      expect(h.state).toBe('degraded');
      expect(h.mismatches).toEqual([
        'main stream: codec is H264, the manifest says H265',
        'main stream: resolution is 640x360, the manifest says 1920x1080',
      ]);
      expect(h.disabledModels).toEqual([
        { name: 'intrusion-detection', reason: 'needs at least 480p; the camera sends 640x360' },
      ]);
      expect(h.activeModels).toEqual(['advanced-motion-detection']);
      expect(logs.some((l) => l.includes('intrusion-detection disabled'))).toBe(true);
    } finally {
      await p.stop();
    }
  }, 40_000);

  it('says unauthorized for wrong credentials and never prints the password', async () => {
    const queue = new MemoryJobQueue({ bufferLimit: 100 });
    const gate = (secret: string) =>
      pipeline(
        camera('gate', sim.url('gate'), {
          models: [],
          secret,
          main: { resolution: '640x360', bitrate: '600Kbps' },
        }),
        queue,
      );
    const wrong = gate('gate-wrong');
    await wrong.p.start();
    try {
      await until('unauthorized', () => wrong.p.health().state === 'unauthorized');
      const h = wrong.p.health();
      expect(JSON.stringify(h)).not.toContain('Wr0ng');
      expect(h.source).toBe(sim.url('gate'));
    } finally {
      await wrong.p.stop();
    }
    const right = gate('gate-right');
    await right.p.start();
    try {
      await until(
        'streaming',
        () => right.p.health().state === 'streaming' && right.p.health().recorder.bytesWritten > 0,
      );
    } finally {
      await right.p.stop();
    }
    const all = logs.join('\n') + JSON.stringify(right.p.health());
    expect(all).not.toContain('Wr0ng');
    expect(all).not.toContain('S3cret');
  }, 60_000);

  it('backs off and reports an unreachable camera', async () => {
    const queue = new MemoryJobQueue({ bufferLimit: 100 });
    const { p } = pipeline(camera('ghost', 'rtsp://127.0.0.1:9/none', { models: [] }), queue);
    await p.start();
    try {
      await until('unreachable', () => p.health().state === 'unreachable');
      await until('a few reconnects', () => p.health().recorder.restarts >= 2);
      expect(p.health().message).toMatch(/refused/i);
    } finally {
      await p.stop();
    }
  }, 40_000);

  it('stops a camera with a URL trick before ffmpeg runs', async () => {
    const queue = new MemoryJobQueue({ bufferLimit: 100 });
    const { p } = pipeline(
      camera('trick', `${sim.url('dock')} -f lavfi -i testsrc`, { models: [] }),
      queue,
    );
    await p.start();
    await until('misconfigured', () => p.health().state === 'misconfigured');
    expect(p.health().message).toMatch(/extra ffmpeg arguments/);
    await p.stop();
  }, 20_000);

  it('survives corrupt packets, a stall and a camera that stops mid-segment', async () => {
    const models = ['advanced-motion-detection'];
    const queue = new MemoryJobQueue({ bufferLimit: 1000 });
    const jobs = await collect(queue, models);
    const { p, states } = pipeline(
      camera('dock', sim.url('dock'), {
        models,
        main: { resolution: '640x360', bitrate: '600Kbps' },
      }),
      queue,
    );
    await p.start();
    try {
      await until('streaming', () => p.health().normalizer.frames > 10);
      await sim.fault('dock', 'corrupt');
      await until('decode errors', () => p.health().normalizer.decodeErrors > 0);
      const bytes = p.health().recorder.bytesWritten;
      await until('recording goes on', () => p.health().recorder.bytesWritten > bytes + 50_000);
      await sim.fault('dock', 'recover');

      await sim.fault('dock', 'stall', 8);
      await until(
        'stall detected',
        () => states.includes('stalled') || p.health().recorder.lastExit?.reason === 'stalled',
        20_000,
      );
      await sim.fault('dock', 'recover');
      // Reconnect attempts during the stall grew the backoff; allow for it on a busy machine.
      await until('streaming again', () => p.health().state === 'streaming', 60_000);

      const framesBefore = p.health().normalizer.frames;
      await until('more frames', () => p.health().normalizer.frames > framesBefore + 10);
      // Cut the stream about a second into a 3 s window: the open segment then holds a few
      // frames and is clearly short of its window (a cut just after a window's last frame
      // leaves a complete segment, which is not partial).
      await until(
        'a second into a segment window',
        () => Math.abs((Date.now() % 3000) - 1000) < 300,
        5_000,
        20,
      );
      await sim.fault('dock', 'disconnect', 10);
      await until('partial segment', () => jobs.some((j) => j.metadata.partial), 20_000);
    } finally {
      await p.stop();
    }
    const partial = jobs.find((j) => j.metadata.partial)!;
    expect(partial.metadata.duration).toBeLessThan(3);
    expect(partial.segment.frameCount).toBeGreaterThan(0);
    // Every recording, including the one cut by the disconnect, is a readable file.
    const recDir = join(dir, 'rec/acme_dock');
    for (const f of (await readdir(recDir)).filter((f) => f.endsWith('.mkv'))) {
      const info = await probe(join(recDir, f));
      expect(info.codec_name).toBe('h264');
    }
  }, 180_000);
});
