import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Recorder, type RecordingSegment } from './recorder.js';

const run = promisify(execFile);

let dir: string;
let whole: Buffer;
/** The first bytes of a recording, as a run killed before its first frame leaves them. */
let headersOnly: Buffer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'recorder-'));
  await run('ffmpeg', [
    ...['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=10', '-t', '1'],
    ...['-c:v', 'mpeg4', '-f', 'matroska', join(dir, 'whole.mkv')],
  ]);
  whole = await readFile(join(dir, 'whole.mkv'));
  headersOnly = whole.subarray(0, whole.indexOf(Buffer.from([0x1f, 0x43, 0xb6, 0x75])));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/**
 * A stand-in for ffmpeg that announces the segment it opens, as ffmpeg's segment muxer
 * does, writes `content` there and exits with `code`: a camera lost right after the
 * output was opened.
 */
async function fakeFfmpeg(name: string, content: Buffer, code: number): Promise<string> {
  const src = join(dir, `${name}.bin`);
  await writeFile(src, content);
  const path = join(dir, `${name}.sh`);
  await writeFile(
    path,
    `#!/bin/sh
for last; do :; done
out=$(date -u +"$last")
echo "[segment @ 0x1] Opening '$out' for writing" >&2
cat '${src}' > "$out"
exit ${code}
`,
  );
  await chmod(path, 0o755);
  return path;
}

function recorder(
  ffmpegPath: string,
  recDir: string,
  segments: RecordingSegment[],
  states: string[] = [],
) {
  return new Recorder({
    ffmpegPath,
    cameraId: 'acme/dock',
    dir: recDir,
    segmentSeconds: 10,
    keep: () => true,
    preEventSeconds: 5,
    stallSeconds: 30,
    input: async () => ({
      url: 'rtsp://127.0.0.1:1/none',
      display: 'rtsp://127.0.0.1:1/none',
      options: [],
      secrets: [],
      kind: 'rtsp',
    }),
    onState: (s) => void states.push(s),
    onStream: () => undefined,
    onError: () => undefined,
    onSegment: (s) => segments.push(s),
  });
}

async function until(what: string, check: () => boolean, ms = 10_000) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('recorder', () => {
  it('deletes a segment whose run ended before its first frame, and keeps one with frames', async () => {
    for (const [name, content, kept] of [
      ['headers', headersOnly, false],
      ['frames', whole, true],
    ] as const) {
      const recDir = join(dir, `rec-${name}`);
      const closed: RecordingSegment[] = [];
      const states: string[] = [];
      const r = recorder(await fakeFfmpeg(name, content, 1), recDir, closed, states);
      await r.start();
      await until('the run to end', () => states.includes('backoff'));
      await r.stop();
      const files = (await readdir(recDir)).filter((f) => f.endsWith('.mkv'));
      expect({
        name,
        files: files.length,
        closed: closed.length,
        listed: r.segments.length,
      }).toEqual(
        kept ? { name, files: 1, closed: 1, listed: 1 } : { name, files: 0, closed: 0, listed: 0 },
      );
    }
  }, 30_000);

  it('drops header-only files an earlier run left on disk, and lists the rest', async () => {
    const recDir = join(dir, 'rec-restart');
    await mkdir(recDir, { recursive: true });
    await writeFile(join(recDir, '20261201T100000Z-aaaa.mkv'), whole);
    await writeFile(join(recDir, '20261201T100010Z-bbbb.mkv'), headersOnly);
    await writeFile(join(recDir, 'notes.txt'), 'not a recording');
    // Larger than any set of headers: kept unread, so a start costs no read per recording.
    await writeFile(
      join(recDir, '20261201T100020Z-cccc.mkv'),
      Buffer.concat([headersOnly, Buffer.alloc(70 * 1024)]),
    );
    // An ffmpeg that never starts: only what start() found on disk is listed.
    const r = recorder(join(dir, 'no-such-ffmpeg'), recDir, []);
    await r.start();
    await r.stop();
    expect(r.segments.map((s) => s.path)).toEqual([
      join(recDir, '20261201T100000Z-aaaa.mkv'),
      join(recDir, '20261201T100020Z-cccc.mkv'),
    ]);
    expect((await readdir(recDir)).sort()).toEqual([
      '20261201T100000Z-aaaa.mkv',
      '20261201T100020Z-cccc.mkv',
      'notes.txt',
    ]);
  }, 30_000);
});
