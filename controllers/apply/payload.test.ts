import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { packPayload, unpackPayload } from './payload.js';

const cm = (name: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name },
  data: { 'camera.json': JSON.stringify({ name, fps: 15 }) },
});

describe('bundle payloads', () => {
  it('round-trips workloads and is much smaller than the objects', () => {
    const workloads = Array.from({ length: 12 }, (_, i) => ({
      name: `camera-cam-${i}`,
      objects: [cm(`ingest-cam-${i}`), { ...cm(`x-${i}`), kind: 'Secret' }],
    }));
    const p = packPayload('camera', workloads);
    expect(p.name).toBe('camera');
    const back = unpackPayload(p);
    expect([...back.keys()]).toEqual(workloads.map((w) => w.name));
    expect(back.get('camera-cam-3')).toEqual(workloads[3]!.objects);
    expect(p.content.length).toBeLessThan(JSON.stringify(workloads).length / 3);
  });

  const gz = (v: unknown) => gzipSync(JSON.stringify(v)).toString('base64');
  it.each([
    ['not base64 gzip', 'definitely not gzip', /not gzip\+base64 JSON/],
    [
      'truncated',
      packPayload('camera', [{ name: 'w', objects: [cm('a')] }]).content.slice(0, 20),
      /not gzip\+base64 JSON/,
    ],
    ['a list instead of a map', gz([cm('a')]), /does not map workload names/],
    [
      'objects without a kind',
      gz({ w: [{ apiVersion: 'v1', metadata: { name: 'a' } }] }),
      /workload "w": expected a list of objects/,
    ],
    ['a workload that is not a list', gz({ w: cm('a') }), /workload "w"/],
  ])('refuses %s with a clear error', (_, content, message) => {
    expect(() => unpackPayload({ name: 'camera', content })).toThrow(message);
  });
});
