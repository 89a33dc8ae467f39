import { describe, expect, it } from 'vitest';
import {
  allocateLicense,
  conflictManagers,
  digestOf,
  isAdditive,
  isSubset,
  KubeApiError,
  maxUnavailableCount,
  parseDuration,
  upToDate,
  validSignature,
  type LiveBundle,
  type LiveCamera,
  type LiveRelease,
  type LiveTenant,
} from './index.js';
import { createHmac } from 'node:crypto';
import { childName } from './camera/names.js';
import { workloadId, type Workload } from './camera/render.js';

const tenant = (limit: number, from = '2026-01-01', until = '2026-12-31') =>
  ({
    metadata: { name: 'acme' },
    spec: {
      displayName: 'Acme',
      license: { cameraLimit: limit, validFrom: from, validUntil: until, models: [] },
    },
  }) as unknown as LiveTenant;
const camera = (name: string, created: string, enabled = true) =>
  ({
    metadata: { name, namespace: 'acme', creationTimestamp: created },
    spec: { enabled },
  }) as unknown as LiveCamera;

describe('license allocation', () => {
  const now = new Date('2026-06-01T12:00:00Z');
  it('keeps the oldest cameras within the limit and names the rest', () => {
    const cams = [
      camera('c', '2026-01-03T00:00:00Z'),
      camera('a', '2026-01-01T00:00:00Z'),
      camera('b', '2026-01-02T00:00:00Z'),
      camera('off', '2025-01-01T00:00:00Z', false),
    ];
    const a = allocateLicense(tenant(2), cams, now);
    expect([...a.licensed].sort()).toEqual(['a', 'b']);
    expect(a.over).toEqual(['c']);
    expect(a.enabled).toBe(3);
    expect(a.window).toBe('valid');
    expect(a.daysLeft).toBe(214);
  });
  it('breaks creation-time ties by name and reports expiry without switching cameras off', () => {
    const t = '2026-01-01T00:00:00Z';
    const a = allocateLicense(
      tenant(1, '2025-01-01', '2026-05-31'),
      [camera('y', t), camera('x', t)],
      now,
    );
    expect([...a.licensed]).toEqual(['x']);
    expect(a.window).toBe('expired');
    expect(a.daysLeft).toBe(0);
    expect(allocateLicense(tenant(1, '2026-07-01'), [], now).window).toBe('not-yet-valid');
  });
});

describe('apply set', () => {
  it('isSubset ignores extra live fields but not changed ones', () => {
    expect(isSubset({ a: 1, b: { c: [1, 2] } }, { a: 1, b: { c: [1, 2], d: 3 }, e: 4 })).toBe(true);
    expect(isSubset({ a: 1, b: { c: [1, 2] } }, { a: 1, b: { c: [1, 3] } })).toBe(false);
    expect(isSubset({ a: [1] }, { a: [1, 2] })).toBe(false);
  });
  it('upToDate needs the same digest and no drift in owned fields', () => {
    const desired = {
      apiVersion: 'v1',
      kind: 'X',
      metadata: { name: 'x', labels: { l: '1' }, annotations: {} as Record<string, string> },
      spec: { a: 1 },
    };
    desired.metadata.annotations['vmsctl.io/applied-digest'] = digestOf(desired);
    const live = structuredClone(desired);
    expect(upToDate(desired, live)).toBe(true);
    expect(upToDate(desired, { ...live, spec: { a: 2 } })).toBe(false);
    expect(upToDate(desired, { ...live, metadata: { ...live.metadata, annotations: {} } })).toBe(
      false,
    );
    expect(upToDate(desired, undefined)).toBe(false);
  });
  it('reads the managers out of an apply conflict', () => {
    const err = new KubeApiError(
      409,
      'Conflict',
      'Apply failed with 1 conflict: conflict with "alice" using vmsctl.io/v1alpha1: .spec.streams.main.bitrate',
    );
    expect(conflictManagers(err)).toEqual(['alice']);
  });
});

describe('rollout', () => {
  it('maxUnavailable as a count or a percentage, at least one', () => {
    expect(maxUnavailableCount('3', 10)).toBe(3);
    expect(maxUnavailableCount('25%', 10)).toBe(2);
    expect(maxUnavailableCount('10%', 4)).toBe(1);
    expect(maxUnavailableCount(undefined, 800)).toBe(200);
  });
  it('a release that only adds workloads is additive; one that changes a running one is not', () => {
    const w = (name: string, v: number): Workload => ({
      name,
      source: `Camera/acme/${name}`,
      objects: [{ v }],
    });
    const release = {
      spec: { workloads: [workloadId(w('camera-a', 1))] },
    } as unknown as LiveRelease;
    const bundle = (...ws: Workload[]) => ({ spec: { workloads: ws } }) as unknown as LiveBundle;
    expect(isAdditive(release, bundle(w('camera-a', 1), w('camera-b', 1)))).toBe(true);
    expect(isAdditive(release, bundle(w('camera-a', 2)))).toBe(false);
    expect(isAdditive(release, bundle())).toBe(false);
    expect(isAdditive(undefined, bundle(w('camera-a', 1)))).toBe(true);
  });
});

describe('small parts', () => {
  it('durations', () => {
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(() => parseDuration('5 minutes')).toThrow(/invalid duration/);
    expect(() => parseDuration('')).toThrow(/invalid duration/);
  });
  it('webhook signatures are checked in constant time and exactly', () => {
    const body = Buffer.from('{"ref":"refs/heads/main"}');
    const good = `sha256=${createHmac('sha256', 's3cret').update(body).digest('hex')}`;
    expect(validSignature('s3cret', body, good)).toBe(true);
    expect(validSignature('other', body, good)).toBe(false);
    expect(validSignature('s3cret', body, good.slice(0, -1))).toBe(false);
    expect(validSignature('s3cret', body, 'sha1=abc')).toBe(false);
  });
  it('child names stay valid DNS labels', () => {
    expect(childName('ingest', 'lobby')).toBe('ingest-lobby');
    const long = childName('ingest', 'x'.repeat(63));
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(childName('ingest', 'x'.repeat(63))).toBe(long);
  });
});
