import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_DEFAULTS, type EffectiveConfig } from '../../resources/index.js';
import { MemoryJobQueue } from '../jobs/index.js';
import { startCameraSimulator, type CameraSimulator } from '../simulator/index.js';
import { EdgeIngest } from './edge-ingest.js';

const run = promisify(execFile);

let sim: CameraSimulator;
let dir: string;
let disk: string;
let mounted = false;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'disk-full-'));
  disk = join(dir, 'disk');
  await mkdir(disk);
  // A real, tiny file system, so ffmpeg meets a real ENOSPC. Mounting needs root (as in
  // CI here); elsewhere the test keeps the same assertions with a byte budget instead.
  mounted = await run('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', disk]).then(
    () => true,
    () => false,
  );
  sim = await startCameraSimulator({
    cameras: [
      {
        name: 'busy',
        codec: 'H264',
        width: 768,
        height: 576,
        fps: 10,
        bitrateKbps: 2500,
        scene: 'vtest',
      },
    ],
  });
}, 60_000);

afterAll(async () => {
  await sim?.stop();
  if (mounted) await run('umount', [disk]).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

describe('a full recordings disk', () => {
  it('deletes the oldest recordings first and keeps recording', async () => {
    const config: EffectiveConfig = structuredClone({ ...SYSTEM_DEFAULTS, models: {} });
    config.recording.segmentSeconds = 2;
    const logs: string[] = [];
    const ingest = new EdgeIngest(
      [
        {
          namespace: 'acme',
          name: 'busy',
          spec: {
            site: 'hq',
            zone: 'a/b/c',
            source: { type: 'rtsp', url: sim.url('busy') },
            streams: {
              main: { codec: 'H264', resolution: '768x576', fps: 10, bitrate: '2500Kbps' },
            },
          },
          config,
          requirements: {},
        },
      ],
      {
        ffmpegPath: 'ffmpeg',
        recordingsDir: disk,
        spoolDir: join(dir, 'spool'),
        queue: new MemoryJobQueue(),
        // No floor and no budget on a real tmpfs: only the ENOSPC path can save the recorder.
        retention: mounted
          ? { intervalMs: 60_000 }
          : { maxBytes: 3 * 1024 * 1024, intervalMs: 500 },
        log: (l) => logs.push(l),
      },
    );
    await ingest.start();
    const p = ingest.pipelines.get('acme/busy')!;
    const deleted: string[] = [];
    try {
      const end = Date.now() + 60_000;
      while (p.health().recorder.bytesWritten < 4.5 * 1024 * 1024 || deleted.length < 2) {
        if (Date.now() > end)
          throw new Error(
            `wrote only ${p.health().recorder.bytesWritten} bytes; logs: ${logs.join(' | ')}`,
          );
        await new Promise((r) => setTimeout(r, 500));
        for (const d of ingest.lastRetention?.deleted ?? [])
          if (!deleted.includes(d.path)) deleted.push(d.path);
      }
      const files = (await readdir(join(disk, 'acme_busy'))).sort();
      // What is left is the newest footage; everything deleted is older than all of it.
      expect(files.length).toBeGreaterThan(0);
      for (const d of deleted) expect(d.split('/').at(-1)! <= files[0]!).toBe(true);
      if (mounted) expect(logs.some((l) => /disk-full/.test(l))).toBe(true);
      const before = p.health().recorder.bytesWritten;
      const until = Date.now() + 20_000;
      while (p.health().recorder.bytesWritten < before + 500_000) {
        if (Date.now() > until)
          throw new Error(
            `the recorder did not continue after the disk filled: ${JSON.stringify(p.health().recorder)} logs: ${logs.slice(-8).join(' | ')}`,
          );
        await new Promise((r) => setTimeout(r, 500));
      }
    } finally {
      await ingest.stop();
    }
    expect(deleted.length).toBeGreaterThanOrEqual(2);
  }, 120_000);
});
