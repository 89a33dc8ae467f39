import { writeFile, unlink } from 'node:fs/promises';
import { runFfmpeg } from './ffmpeg-process.js';
import type { RecordingSegment } from './recorder.js';

/** Result of cutting a clip out of the recordings. */
export interface Clip {
  path: string;
  fromMs: number;
  toMs: number;
  segments: number;
}

/**
 * Cuts [fromMs, toMs] out of recorded segments into one file without re-encoding. The
 * start snaps to the keyframe before `fromMs` (copying cannot start elsewhere), so a
 * clip is never shorter than asked. The segment still being written can be included.
 */
export async function extractClip(
  ffmpegPath: string,
  segments: readonly RecordingSegment[],
  fromMs: number,
  toMs: number,
  outPath: string,
): Promise<Clip> {
  const parts = segments
    .filter((s) => s.startMs <= toMs && (s.endMs ?? Infinity) >= fromMs)
    .sort((a, b) => a.startMs - b.startMs);
  if (parts.length === 0)
    throw new Error(
      `no recording covers ${new Date(fromMs).toISOString()}..${new Date(toMs).toISOString()}`,
    );
  const first = parts[0]!;
  const offset = Math.max(0, (fromMs - first.startMs) / 1000);
  const duration = (toMs - Math.max(fromMs, first.startMs)) / 1000;
  const list = `${outPath}.concat.txt`;
  // The concat list quotes each path; our paths come from ffmpeg's own segment names.
  await writeFile(list, parts.map((p) => `file '${p.path.replace(/'/g, "'\\''")}'\n`).join(''));
  try {
    const run = runFfmpeg({
      ffmpegPath,
      secrets: [],
      args: [
        '-hide_banner',
        '-loglevel',
        'error',
        '-nostdin',
        '-f',
        'concat',
        '-safe',
        '0',
        '-i',
        list,
        '-ss',
        offset.toFixed(3),
        '-t',
        duration.toFixed(3),
        '-map',
        '0',
        '-c',
        'copy',
        '-y',
        outPath,
      ],
    });
    const result = await run.done;
    if (result.code !== 0) throw new Error(`clip extraction failed: ${result.tail.join(' | ')}`);
  } finally {
    await unlink(list).catch(() => undefined);
  }
  return { path: outPath, fromMs, toMs, segments: parts.length };
}
