import type { Codec } from '../../resources/index.js';

/** What ffmpeg reports about the video stream it opened. */
export interface ObservedStream {
  /** Our codec name when it is one of ours, else ffmpeg's (e.g. "mpeg4"). */
  codec: Codec | string;
  width: number;
  height: number;
  fps?: number;
}

const CODECS: Record<string, Codec> = { h264: 'H264', hevc: 'H265', h265: 'H265', mjpeg: 'MJPEG' };

/**
 * Parses ffmpeg's input stream line, e.g.
 * `Stream #0:0: Video: h264 (High), yuv420p(progressive), 1920x1080, 30 fps, 30 tbr, 90k tbn`.
 * Only lines of input streams (before "Output #") should be passed in.
 */
export function parseStreamLine(line: string): ObservedStream | undefined {
  const m = /Stream #\d+:\d+.*?: Video: ([a-z0-9_]+)/i.exec(line);
  if (!m) return undefined;
  const size = /, (\d{2,5})x(\d{2,5})[, []/.exec(line);
  if (!size) return undefined;
  const fps = /, ([\d.]+) fps/.exec(line) ?? /, ([\d.]+) tbr/.exec(line);
  const name = m[1]!.toLowerCase();
  return {
    codec: CODECS[name] ?? name,
    width: Number(size[1]),
    height: Number(size[2]),
    ...(fps ? { fps: Number(fps[1]) } : {}),
  };
}

/** Differences between what the manifest declares and what the camera sends. */
export function streamMismatch(
  declared: { codec: Codec; resolution: string; fps: number },
  observed: ObservedStream,
): string[] {
  const out: string[] = [];
  if (declared.codec !== observed.codec)
    out.push(`codec is ${observed.codec}, the manifest says ${declared.codec}`);
  const res = `${observed.width}x${observed.height}`;
  if (declared.resolution !== res)
    out.push(`resolution is ${res}, the manifest says ${declared.resolution}`);
  if (observed.fps !== undefined && Math.abs(observed.fps - declared.fps) > declared.fps * 0.2)
    out.push(`frame rate is ${observed.fps} fps, the manifest says ${declared.fps}`);
  return out;
}
