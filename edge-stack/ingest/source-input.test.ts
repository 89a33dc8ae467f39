import { describe, expect, it } from 'vitest';
import type { CameraSpec } from '../../resources/index.js';
import { scrub, sourceInput, SourceError, streamUrl } from './source-input.js';

const spec = (
  url: string,
  type: CameraSpec['source']['type'] = 'rtsp',
  path?: string,
): CameraSpec => ({
  site: 'hq',
  zone: 'a/b/c',
  source: { type, url },
  streams: {
    main: {
      codec: 'H264',
      resolution: '1920x1080',
      fps: 30,
      bitrate: '4Mbps',
      ...(path ? { path } : {}),
    },
  },
});

const creds = { kind: 'basic' as const, username: 'admin', password: 'p@ss word:/?#-i x' };

describe('sourceInput', () => {
  it('puts the URL in one argument after the protocol whitelist and percent-encodes credentials', () => {
    const input = sourceInput(spec('rtsp://cam.local:554/live', 'rtsp', '/ch1'), 'main', creds);
    expect(input.url).toBe('rtsp://admin:p%40ss%20word%3A%2F%3F%23-i%20x@cam.local:554/live/ch1');
    expect(input.display).toBe('rtsp://cam.local:554/live/ch1');
    expect(input.options).toEqual([
      '-protocol_whitelist',
      'rtsp,rtsps,rtp,srtp,udp,tcp,tls',
      '-rtsp_transport',
      'tcp',
      '-timeout',
      '10000000',
    ]);
    expect(input.secrets).toContain('p@ss word:/?#-i x');
  });

  it.each([
    ['rtsp://cam/live -f lavfi -i testsrc', 'unsafe-url'],
    ['rtsp://cam/live\n-y', 'unsafe-url'],
    ['-i /etc/passwd', 'unsafe-url'],
    ['concat:rtsp://a|file:/etc/passwd', 'invalid-url'],
    ['file:/etc/passwd', 'invalid-url'],
    ['subfile,,start,0,end,100,,:/etc/passwd', 'invalid-url'],
    ['http://cam/live', 'invalid-url'],
    ['rtsp://user:secret@cam/live', 'unsafe-url'],
    ['rtsp://cam/$(reboot)`id`;|&', undefined],
  ])('rejects or neutralises %j', (url, code) => {
    if (code === undefined) {
      // Shell characters are harmless without a shell: ffmpeg gets them as one URL.
      const input = sourceInput(spec(url), 'main', undefined);
      expect(input.url.startsWith('rtsp://cam/')).toBe(true);
      return;
    }
    let err: unknown;
    try {
      sourceInput(spec(url), 'main', undefined);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SourceError);
    expect((err as SourceError).code).toBe(code);
  });

  it('rejects a stream path that sneaks an option in', () => {
    expect(() => sourceInput(spec('rtsp://cam', 'rtsp', '/live -i x'), 'main', undefined)).toThrow(
      /ffmpeg arguments/,
    );
  });

  it('refuses file sources unless the edge allows them, and never with ".."', () => {
    expect(() => sourceInput(spec('/videos/a.mp4', 'file'), 'main', undefined)).toThrow(/disabled/);
    const ok = sourceInput(spec('/videos/a.mp4', 'file'), 'main', undefined, { allowFiles: true });
    expect(ok.url).toBe('file:/videos/a.mp4');
    expect(ok.options).toEqual(['-protocol_whitelist', 'file']);
    expect(() =>
      sourceInput(spec('/videos/../etc/passwd', 'file'), 'main', undefined, { allowFiles: true }),
    ).toThrow(/\.\./);
  });

  it('sends a token as an HTTP header and refuses line breaks in it', () => {
    const input = sourceInput(spec('https://cam/mjpeg', 'http'), 'main', {
      kind: 'token',
      token: 'tok-123',
    });
    expect(input.options).toContain('Authorization: Bearer tok-123\r\n');
    expect(() =>
      sourceInput(spec('https://cam/mjpeg', 'http'), 'main', { kind: 'token', token: 'a\r\nX: y' }),
    ).toThrow(/line break/);
    expect(() =>
      sourceInput(spec('rtsp://cam/x'), 'main', { kind: 'token', token: 'tok-123' }),
    ).toThrow(/http sources only/);
  });

  it('joins stream paths and queries', () => {
    expect(streamUrl('rtsp://a/', '/ch1')).toBe('rtsp://a/ch1');
    expect(streamUrl('rtsp://a/live', '?subtype=1')).toBe('rtsp://a/live?subtype=1');
  });
});

describe('scrub', () => {
  it('removes secrets and any user info from ffmpeg output', () => {
    const input = sourceInput(spec('rtsp://cam.local/live'), 'main', creds);
    const line = `[rtsp @ 0x1] method DESCRIBE failed: 401 Unauthorized ${input.url} p@ss word:/?#-i x`;
    const out = scrub(line, input.secrets);
    expect(out).not.toContain('p@ss');
    expect(out).not.toContain('p%40ss');
    expect(out).toContain('rtsp://***@cam.local/live');
    expect(scrub('Opening rtsp://bob:hunter2@x/y', [])).toBe('Opening rtsp://***@x/y');
  });
});
