import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toYaml, type Camera } from '../resources/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin/run.js');
const exec = promisify(execFile);

/** Runs the built vmsctl as a user would; resolves with the exit code. */
function vmsctl(args: string[], cwd: string) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { cwd, env: { ...process.env, CI: '1' }, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'vmsctl-ingest-cli-'));
  const init = await vmsctl(['init', 'fleet'], work);
  if (init.code !== 0) throw new Error(init.stderr);
  const video = path.join(work, 'clip.mkv');
  await exec('ffmpeg', [
    '-v',
    'error',
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=1280x720:rate=10',
    '-t',
    '6',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-g',
    '10',
    '-b:v',
    '2M',
    video,
  ]);
  const camera: Camera = {
    apiVersion: 'vmsctl.io/v1alpha1',
    kind: 'Camera',
    metadata: { name: 'replay', namespace: 'acme' },
    spec: {
      site: 'hq',
      zone: 'main/ground/lobby',
      edgeServer: 'hq-edge-1',
      source: { type: 'file', url: video },
      streams: { main: { codec: 'H264', resolution: '1280x720', fps: 10, bitrate: '2Mbps' } },
      recording: { mode: 'continuous', segmentSeconds: 2 },
      models: [{ name: 'camera-tampering' }, { name: 'advanced-motion-detection' }],
    },
  };
  await writeFile(path.join(work, 'fleet/tenants/acme/sites/hq/cameras.yaml'), toYaml([camera]));
}, 60_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('vmsctl edge ingest', () => {
  it('runs a fleet camera, records, queues jobs and reports health as JSON lines', async () => {
    const r = await vmsctl(
      [
        'edge',
        'ingest',
        'fleet',
        '--edge',
        'hq-edge-1',
        '--data',
        'data',
        '--allow-file-sources',
        '--duration',
        '5',
        '--interval',
        '2',
        '--json',
        '--now',
        '2026-11-21',
      ],
      work,
    );
    expect(r.code).toBe(0);
    const reports = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const last = reports.at(-1)!;
    expect(last.cameras).toHaveLength(1);
    const cam = last.cameras[0];
    expect(cam).toMatchObject({
      cameraId: 'acme/replay',
      state: 'stopped',
      source: path.join(work, 'clip.mkv'),
      observedStream: { codec: 'H264', width: 1280, height: 720 },
      activeModels: ['camera-tampering', 'advanced-motion-detection'],
    });
    expect(cam.jobs.offered).toBeGreaterThan(0);
    expect(cam.normalizer.decodeFps).toBe(5);
    const rec = await readdir(path.join(work, 'data/recordings/acme_replay'));
    expect(rec.filter((f) => f.endsWith('.mkv')).length).toBeGreaterThan(0);
  }, 60_000);

  it('refuses file sources unless allowed, and says so in health', async () => {
    const r = await vmsctl(
      [
        'edge',
        'ingest',
        'fleet',
        '--data',
        'data2',
        '--duration',
        '2',
        '--json',
        '--now',
        '2026-11-21',
      ],
      work,
    );
    expect(r.code).toBe(1);
    const last = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(last.cameras[0]).toMatchObject({
      state: 'misconfigured',
      message: 'file sources are disabled on this edge',
    });
  }, 30_000);

  it.each([
    [['--kafka', 'kafka:9092;rm -rf /'], /is not a list of host:port/],
    [['--edge', 'no-such-edge'], /no cameras to run/],
    [['--max-recordings-gb', 'lots'], /must be a positive number/],
  ])('rejects bad input %j with exit 2', async (flags, message) => {
    const r = await vmsctl(
      ['edge', 'ingest', 'fleet', '--duration', '1', '--now', '2026-11-21', ...flags],
      work,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('runs nothing for a fleet with errors', async () => {
    await writeFile(path.join(work, 'fleet/broken.yaml'), 'kind: Camera\nmetadata: {name: x}\n');
    const r = await vmsctl(
      ['edge', 'ingest', 'fleet', '--duration', '1', '--now', '2026-11-21'],
      work,
    );
    await rm(path.join(work, 'fleet/broken.yaml'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/the fleet has errors.*vmsctl validate/s);
  });
});
