import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  VTEST_PATH,
  hasSimulatorDeps,
  startCameraSimulator,
  type CameraSimulator,
  type SimCameraSpec,
} from './index.js';

// ffmpeg and ffprobe are the independent RTSP client: nothing here asks the simulator
// what it believes it sends.
const hasFfmpeg = spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' }).status === 0;
const runnable = hasFfmpeg && hasSimulatorDeps() && existsSync(VTEST_PATH);

const AUTH = { user: 'admin', password: 's3cret' };
const small = { width: 320, height: 180, fps: 10, bitrateKbps: 256 } as const;
const CAMERAS: SimCameraSpec[] = [
  { name: 'pattern', codec: 'H264', ...small, width: 640, height: 360, scene: 'pattern' },
  { name: 'covered', codec: 'H265', ...small, scene: 'covered' },
  // RTP/JPEG sizes come in blocks of 8.
  { name: 'frozen', codec: 'MJPEG', ...small, height: 240, bitrateKbps: 1000, scene: 'frozen' },
  { name: 'footage', codec: 'H264', ...small, width: 384, height: 288, scene: 'vtest', auth: AUTH },
  // One camera per fault, so that the fault tests can run side by side.
  { name: 'drop', codec: 'H264', ...small, scene: 'pattern' },
  { name: 'stall', codec: 'H264', ...small, scene: 'pattern' },
  { name: 'damage', codec: 'H264', ...small, scene: 'vtest' },
  { name: 'congest', codec: 'H264', ...small, scene: 'vtest' },
];

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  wallMs: number;
}

interface Running {
  done: Promise<Result>;
  /** Frames ffmpeg has decoded so far, from its -progress reports (0 before the first). */
  frames(): number;
  kill(): void;
}

/** Runs ffmpeg or ffprobe with a hard time limit. */
function run(cmd: 'ffmpeg' | 'ffprobe', args: string[], timeoutMs = 20_000): Running {
  const extra = cmd === 'ffmpeg' ? ['-nostdin', '-progress', 'pipe:1', '-stats_period', '0.2'] : [];
  const child = spawn(cmd, ['-hide_banner', ...extra, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const start = Date.now();
  let stdout = '';
  let stderr = '';
  let frames = 0;
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    const all = [...stdout.matchAll(/^frame=(\d+)$/gm)];
    if (all.length) frames = Number(all[all.length - 1]![1]);
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<Result>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, wallMs: Date.now() - start });
    }),
  );
  return { done, frames: () => frames, kill: () => child.kill('SIGKILL') };
}

/** Reads a stream for `seconds` of stream time and decodes every frame. */
function read(url: string, seconds: number, transport: 'tcp' | 'udp' = 'tcp'): Promise<Result> {
  return run('ffmpeg', [
    '-rtsp_transport',
    transport,
    '-i',
    url,
    '-t',
    String(seconds),
    '-f',
    'null',
    '-',
  ]).done;
}

/** A reader that decodes until it is killed or the stream ends. */
function reader(url: string): Running {
  return run('ffmpeg', ['-rtsp_transport', 'tcp', '-i', url, '-f', 'null', '-'], 40_000);
}

/** Codec and size of the video stream as ffprobe sees it, or ffprobe's complaint. */
async function probe(url: string) {
  const r = await run('ffprobe', [
    ...['-v', 'error', '-rtsp_transport', 'tcp', '-select_streams', 'v:0'],
    ...['-show_entries', 'stream=codec_name,width,height', '-of', 'json', url],
  ]).done;
  if (r.code !== 0) return { error: r.stderr };
  const [s] = (
    JSON.parse(r.stdout) as { streams: { codec_name: string; width: number; height: number }[] }
  ).streams;
  return { codec: s?.codec_name, size: `${s?.width}x${s?.height}` };
}

/** Frames decoded, from ffmpeg's final report. */
function framesOf(r: Result): number {
  const all = [...r.stdout.matchAll(/^frame=(\d+)$/gm)];
  return all.length ? Number(all[all.length - 1]![1]) : 0;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves once the reader decodes frames, so that a fault lands mid-stream. */
async function receiving(r: Running, atLeast = 5): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (r.frames() < atLeast) {
    if (Date.now() > deadline) throw new Error('the reader never started receiving');
    await sleep(100);
  }
}

describe.skipIf(!runnable)('camera simulator over RTSP', () => {
  let sim: CameraSimulator;
  const withAuth = (url: string, user: string, password: string) =>
    url.replace('rtsp://', `rtsp://${user}:${password}@`);

  beforeAll(async () => {
    sim = await startCameraSimulator({ cameras: CAMERAS });
  });
  afterAll(async () => {
    await sim?.stop();
  });

  it('serves each codec and scene at its size; sub streams are smaller', async () => {
    const found = await Promise.all([
      probe(sim.url('pattern')),
      probe(sim.url('covered')),
      probe(sim.url('frozen')),
      probe(withAuth(sim.url('footage'), AUTH.user, AUTH.password)),
      probe(sim.url('pattern', 'sub')),
      probe(sim.url('frozen', 'sub')),
    ]);
    expect(found).toEqual([
      { codec: 'h264', size: '640x360' },
      { codec: 'hevc', size: '320x180' },
      { codec: 'mjpeg', size: '320x240' },
      { codec: 'h264', size: '384x288' },
      { codec: 'h264', size: '320x180' },
      { codec: 'mjpeg', size: '160x120' },
    ]);
    expect(sim.url('footage')).not.toContain(AUTH.password);
  });

  it('shares a mount between readers over TCP and UDP, in real time', async () => {
    const [tcp, udp] = await Promise.all([
      read(sim.url('pattern'), 3, 'tcp'),
      read(sim.url('pattern'), 3, 'udp'),
    ]);
    for (const r of [tcp, udp]) {
      expect(r.code, r.stderr).toBe(0);
      // 10 fps for 3 s of stream time, less what precedes the first keyframe (< 1 s)...
      expect(framesOf(r)).toBeGreaterThanOrEqual(18);
      expect(framesOf(r)).toBeLessThanOrEqual(32);
      // ...delivered live, not as fast as the encoder could go.
      expect(r.wallMs).toBeGreaterThan(2_500);
    }
  });

  it('answers 401 to missing or wrong credentials and streams with the right ones', async () => {
    const [none, wrong, right] = await Promise.all([
      probe(sim.url('footage')),
      probe(withAuth(sim.url('footage'), AUTH.user, 'nope')),
      probe(withAuth(sim.url('footage', 'sub'), AUTH.user, AUTH.password)),
    ]);
    expect(none.error).toMatch(/401 Unauthorized/);
    expect(wrong.error).toMatch(/401 Unauthorized/);
    expect(right).toEqual({ codec: 'h264', size: '192x144' });
  });

  describe.concurrent('faults', () => {
    it('disconnect ends running readers, refuses new ones for the window, then accepts', async () => {
      const r = reader(sim.url('drop'));
      await receiving(r);
      await sim.fault('drop', 'disconnect', 3);
      const faultAt = Date.now();
      const refused = await probe(sim.url('drop'));
      await r.done;
      expect(Date.now() - faultAt).toBeLessThan(2_500);
      expect(refused.error).toMatch(/503 Service Unavailable/);
      await sleep(3_200 - (Date.now() - faultAt));
      expect(await probe(sim.url('drop'))).toEqual({ codec: 'h264', size: '320x180' });
    });

    it('stall keeps the session open but stops the frames until it ends', async () => {
      const r = reader(sim.url('stall'));
      let ended = false;
      void r.done.then(() => (ended = true));
      try {
        await receiving(r);
        await sim.fault('stall', 'stall', 3);
        await sleep(500);
        const during = r.frames();
        await sleep(2_000);
        // Nothing decoded for 2 s (a frame in flight when the stall began may still land).
        expect(r.frames() - during).toBeLessThanOrEqual(1);
        await sleep(2_500);
        // Flowing again from the next keyframe, to the same reader: it never gave up.
        expect(r.frames() - during).toBeGreaterThanOrEqual(5);
        expect(ended).toBe(false);
      } finally {
        r.kill();
      }
    });

    it('corrupt makes the decoder report errors while the stream keeps going', async () => {
      const r = run('ffmpeg', [
        '-rtsp_transport',
        'tcp',
        '-i',
        sim.url('damage'),
        '-t',
        '7',
        '-f',
        'null',
        '-',
      ]);
      await receiving(r);
      await sim.fault('damage', 'corrupt', 3);
      const result = await r.done;
      expect(result.code).toBe(0);
      expect(result.stderr).toMatch(/error while decoding|concealing|corrupt/i);
      expect(framesOf(result)).toBeGreaterThanOrEqual(60);
    });

    it('slow delivers well below the stream rate until recover', async () => {
      const r = reader(sim.url('congest'));
      try {
        await receiving(r);
        await sim.fault('congest', 'slow');
        await sleep(1_000);
        const before = r.frames();
        await sleep(3_000);
        const slowed = r.frames() - before;
        await sim.fault('congest', 'recover');
        await sleep(1_500);
        const after = r.frames();
        await sleep(2_000);
        expect(slowed).toBeLessThan(25); // 30 at full rate
        expect(r.frames() - after).toBeGreaterThanOrEqual(15);
      } finally {
        r.kill();
      }
    });
  });

  it('rejects an unknown camera or fault kind', async () => {
    await expect(sim.fault('nobody', 'stall', 1)).rejects.toThrow(/unknown camera/);
    await expect(sim.fault('pattern', 'melt' as never)).rejects.toThrow(/unknown fault/);
  });
});

describe.skipIf(!runnable)('camera simulator process', () => {
  it('reports a bad configuration with the reason', async () => {
    await expect(
      startCameraSimulator({
        cameras: [{ ...CAMERAS[0]!, codec: 'VP9' as never }],
      }),
    ).rejects.toThrow(/codec: one of H264, H265, MJPEG/);
  });

  it('stops cleanly and frees its port', async () => {
    const sim = await startCameraSimulator({ cameras: [CAMERAS[0]!] });
    expect((await probe(sim.url('pattern'))).codec).toBe('h264');
    await sim.stop();
    await sim.stop();
    expect((await probe(sim.url('pattern'))).error).toMatch(/Connection refused/);
  });
});
