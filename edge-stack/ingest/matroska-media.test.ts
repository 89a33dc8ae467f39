import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileHoldsFrames, holdsFrames } from './matroska-media.js';

const run = promisify(execFile);

/** Whether ffprobe can open the file and read its video stream. */
async function ffprobeReads(path: string): Promise<boolean> {
  try {
    await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-count_packets', path]);
    return true;
  } catch {
    return false;
  }
}

describe('Matroska frame check', () => {
  let dir: string;
  let full: Buffer;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mkv-'));
    // Written the way the recorder writes: segment muxer, live flushing, unknown sizes.
    await run('ffmpeg', [
      ...['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=10', '-t', '2'],
      ...['-c:v', 'mpeg4', '-f', 'segment', '-segment_time', '10', '-segment_format', 'matroska'],
      ...['-segment_format_options', 'flush_packets=1:cluster_time_limit=1000'],
      join(dir, 'full-%d.mkv'),
    ]);
    full = await readFile(join(dir, 'full-0.mkv'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('agrees with ffprobe on every cut of a recording, from empty to whole', async () => {
    const firstCluster = full.indexOf(Buffer.from([0x1f, 0x43, 0xb6, 0x75]));
    expect(firstCluster).toBeGreaterThan(0);
    // Every byte around the first frame, then coarser steps through the rest.
    const cuts = new Set<number>([0, 1, 4, 20, 40, full.length]);
    for (let n = firstCluster - 40; n < firstCluster + 80; n++) cuts.add(n);
    for (let n = 0; n < full.length; n += Math.ceil(full.length / 40)) cuts.add(n);
    for (const n of [...cuts].sort((a, b) => a - b)) {
      const path = join(dir, `cut-${n}.mkv`);
      await writeFile(path, full.subarray(0, n));
      const mine = await fileHoldsFrames(path);
      // ffprobe opens a file cut inside the first block header; the check asks for a whole
      // block header, so it may only be stricter than ffprobe, never more lenient.
      if (mine) expect({ n, ffprobe: await ffprobeReads(path) }).toEqual({ n, ffprobe: true });
      if (n < firstCluster) expect({ n, mine }).toEqual({ n, mine: false });
      if (n >= firstCluster + 40) expect({ n, mine }).toEqual({ n, mine: true });
    }
  }, 120_000);

  it('keeps a file whose first frame lies beyond the part it reads: no proof, no delete', async () => {
    const firstCluster = full.indexOf(Buffer.from([0x1f, 0x43, 0xb6, 0x75]));
    // An EBML Void element of 300 KiB between the headers and the first cluster.
    const size = 300 * 1024;
    const voidHeader = Buffer.alloc(9);
    voidHeader[0] = 0xec;
    voidHeader[1] = 0x01;
    voidHeader.writeUIntBE(size, 3, 6);
    const padding = Buffer.concat([voidHeader, Buffer.alloc(size)]);
    const far = join(dir, 'far.mkv');
    await writeFile(
      far,
      Buffer.concat([full.subarray(0, firstCluster), padding, full.subarray(firstCluster)]),
    );
    expect(await fileHoldsFrames(far)).toBe(true);
    // The same head, read whole, is judged on what it holds.
    const head = Buffer.concat([full.subarray(0, firstCluster), padding]);
    expect(holdsFrames(head, true)).toBe(false);
    expect(holdsFrames(head, false)).toBe(true);
    expect(holdsFrames(Buffer.concat([head, full.subarray(firstCluster)]), true)).toBe(true);
  });

  it('says no to files that are not Matroska or cannot be read', async () => {
    expect(holdsFrames(Buffer.from('not a video at all'))).toBe(false);
    expect(holdsFrames(Buffer.alloc(4096, 0xff))).toBe(false);
    expect(holdsFrames(Buffer.alloc(0))).toBe(false);
    expect(await fileHoldsFrames(join(dir, 'missing.mkv'))).toBe(false);
  });
});
