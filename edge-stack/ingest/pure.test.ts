import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.js';
import { normalizeSettings } from './camera-pipeline.js';
import { classifyExit } from './ffmpeg-process.js';
import { normalizeFilter, WallClock } from './normalizer.js';
import { recordingStartFromName } from './recorder.js';
import { parseStreamLine, streamMismatch } from './stream-info.js';
import { SYSTEM_DEFAULTS, type EffectiveConfig } from '../../resources/index.js';

describe('stream info', () => {
  it('parses the video stream line of common cameras', () => {
    expect(
      parseStreamLine(
        '  Stream #0:0: Video: h264 (High), yuv420p(progressive), 1920x1080 [SAR 1:1 DAR 16:9], 30 fps, 30 tbr, 90k tbn',
      ),
    ).toEqual({ codec: 'H264', width: 1920, height: 1080, fps: 30 });
    expect(
      parseStreamLine('  Stream #0:0: Video: hevc (Main), yuv420p(tv), 640x360, 10 tbr, 90k tbn'),
    ).toEqual({ codec: 'H265', width: 640, height: 360, fps: 10 });
    expect(
      parseStreamLine(
        '  Stream #0:0: Video: mpeg4 (Simple Profile) (XVID / 0x44495658), yuv420p, 768x576 [SAR 1:1 DAR 4:3], 10 fps, 10 tbr, 10 tbn',
      ),
    ).toEqual({ codec: 'mpeg4', width: 768, height: 576, fps: 10 });
    expect(parseStreamLine('  Stream #0:1: Audio: aac, 8000 Hz')).toBeUndefined();
  });

  it('names each difference from the manifest', () => {
    expect(
      streamMismatch(
        { codec: 'H264', resolution: '1920x1080', fps: 30 },
        { codec: 'H265', width: 1280, height: 720, fps: 15 },
      ),
    ).toEqual([
      'codec is H265, the manifest says H264',
      'resolution is 1280x720, the manifest says 1920x1080',
      'frame rate is 15 fps, the manifest says 30',
    ]);
  });
});

describe('backoff', () => {
  it('grows exponentially, caps, and jitters within [bound/2, bound]', () => {
    const p = { initialMs: 100, maxMs: 1000, factor: 2 };
    expect(backoffDelay(0, p, () => 0)).toBe(50);
    expect(backoffDelay(0, p, () => 1)).toBe(100);
    expect(backoffDelay(3, p, () => 1)).toBe(800);
    expect(backoffDelay(10, p, () => 1)).toBe(1000);
    expect(backoffDelay(10, p, () => 0)).toBe(500);
  });
});

describe('classifyExit', () => {
  it('reads the reason from the last matching line', () => {
    expect(classifyExit(['x', '[rtsp @ 0x] method DESCRIBE failed: 401 Unauthorized'])).toBe(
      'unauthorized',
    );
    expect(classifyExit(['Connection to tcp://127.0.0.1:9 failed: Connection refused'])).toBe(
      'unreachable',
    );
    expect(classifyExit(['av_interleaved_write_frame(): No space left on device'])).toBe(
      'disk-full',
    );
    expect(classifyExit(['nothing useful'])).toBeUndefined();
  });
});

describe('normalizer settings', () => {
  const config = (models: Record<string, number>): EffectiveConfig => ({
    ...structuredClone(SYSTEM_DEFAULTS),
    models: Object.fromEntries(
      Object.entries(models).map(([n, fps]) => [
        n,
        { priority: 'HIGH', confidenceThreshold: 0.5, overlapSeconds: 1, fps },
      ]),
    ),
  });
  const models = (c: EffectiveConfig) =>
    Object.entries(c.models).map(([name, m]) => ({ name, ...m }));

  it('decodes at the highest rate any model needs, capped by config and source', () => {
    const c = config({ a: 5, b: 10 });
    expect(normalizeSettings(c, models(c), 30)).toMatchObject({ fps: 10, keyframesOnly: false });
    const fast = config({ a: 30 });
    expect(normalizeSettings(fast, models(fast), 30).fps).toBe(15);
    expect(normalizeSettings(fast, models(fast), 8).fps).toBe(8);
  });

  it('decodes keyframes only when every model needs 1 fps or less', () => {
    const c = config({ tamper: 1, missing: 0.5 });
    expect(normalizeSettings(c, models(c), 25)).toMatchObject({ fps: 1, keyframesOnly: true });
  });

  it('letterboxes without distortion', () => {
    expect(
      normalizeFilter({ width: 640, height: 480, fps: 15, letterbox: true, keyframesOnly: false }),
    ).toBe(
      "select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,0.0653)',scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2,format=rgb24,showinfo=checksum=0",
    );
  });
});

describe('WallClock', () => {
  it('anchors on the fastest frame and ignores later network delay', () => {
    const c = new WallClock();
    expect(c.stamp(0, 10_050)).toBe(10_050);
    // Arrived 30 ms late: the stamp still follows the stream's own clock.
    expect(c.stamp(0.1, 10_180)).toBe(10_150);
    // Arrived faster than any before: the estimate moves back.
    expect(c.stamp(0.2, 10_240)).toBe(10_240);
    expect(c.stamp(0.3, 10_345)).toBe(10_340);
  });

  it('starts over when the stream time jumps back', () => {
    const c = new WallClock();
    c.stamp(100, 5000);
    expect(c.stamp(0, 9000)).toBe(9000);
  });
});

describe('recording names', () => {
  it('reads the UTC start from the file name', () => {
    expect(recordingStartFromName('/r/20261121T101502Z-lx9a.mkv')).toBe(
      Date.UTC(2026, 10, 21, 10, 15, 2),
    );
    expect(recordingStartFromName('/r/notes.txt')).toBeUndefined();
  });
});
