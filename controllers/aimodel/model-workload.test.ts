import { describe, expect, it } from 'vitest';
import type { LiveBundle, LiveEdge, LiveModel } from '../cache/fleet-cache.js';
import { bundleEquals, CAMERA_SHARE, MODEL_SHARE } from '../camera/bundle-share.js';
import { workloadDigest, type Workload } from '../camera/render.js';
import { MODEL_LABEL_PREFIX, modelLabels, renderModelWorkloads } from './model-workload.js';

const edge = (gpus: number) =>
  ({
    metadata: { name: 'e1', namespace: 'acme', uid: 'e1-uid' },
    spec: { site: 's1', hardware: { gpus: gpus ? [{ model: 'L4', count: gpus }] : [] } },
  }) as unknown as LiveEdge;
const model = (name: string, gpu: number) =>
  ({
    metadata: { name, uid: `${name}-uid`, generation: 1 },
    spec: {
      priority: 'HIGH',
      batchSize: 4,
      resources: { cpu: '1', memory: '1Gi', gpu },
      requirements: { minResolution: '720p' },
    },
  }) as unknown as LiveModel;
const models = new Map([
  ['person', model('person', 1)],
  ['vehicle', model('vehicle', 0)],
]);
const cam = (name: string, feeds: string[]): Workload => ({
  name: `camera-${name}`,
  source: `Camera/${name}`,
  models: feeds,
  objects: [{ kind: 'Deployment', metadata: { name } }],
});

describe('model workloads of an edge bundle', () => {
  it('one worker per model its cameras feed, counted, after the PriorityClasses', () => {
    const w = renderModelWorkloads(
      edge(0),
      [cam('a', ['person', 'vehicle']), cam('b', ['person']), cam('c', ['nosuch'])],
      (m) => models.get(m),
    );
    expect(w.map((x) => x.name)).toEqual(['model-priorities', 'model-person', 'model-vehicle']);
    const env = (x: Workload) =>
      JSON.stringify((x.objects[0] as { spec: unknown }).spec).match(
        /"VMSCTL_CAMERAS","value":"(\d+)"/,
      )?.[1];
    expect(env(w[1]!)).toBe('2');
    expect(env(w[2]!)).toBe('1');
    // No GPU on the edge: a GPU model runs on CPU, without asking for nvidia.com/gpu.
    expect(JSON.stringify(w[1]!.objects)).not.toContain('nvidia.com/gpu');
    expect(modelLabels(w)).toEqual({
      [`${MODEL_LABEL_PREFIX}person`]: 'true',
      [`${MODEL_LABEL_PREFIX}vehicle`]: 'true',
    });
  });

  it('asks for GPUs where the edge has them; nothing at all when no camera feeds a model', () => {
    const w = renderModelWorkloads(edge(2), [cam('a', ['person'])], (m) => models.get(m));
    expect(JSON.stringify(w[1]!.objects)).toContain('"nvidia.com/gpu":"1"');
    expect(JSON.stringify(w[1]!.objects)).toContain('"runtimeClassName":"nvidia"');
    expect(renderModelWorkloads(edge(2), [cam('a', [])], (m) => models.get(m))).toEqual([]);
  });

  it('digests do not depend on the memo: the same inputs give the same digest', () => {
    const a = renderModelWorkloads(edge(0), [cam('a', ['vehicle'])], (m) => models.get(m));
    const b = renderModelWorkloads(edge(0), [cam('a', ['vehicle'])], (m) => models.get(m));
    expect(a.map((w) => workloadDigest(w))).toEqual(b.map((w) => workloadDigest(w)));
    const c = renderModelWorkloads(edge(0), [cam('a', ['vehicle']), cam('b', ['vehicle'])], (m) =>
      models.get(m),
    );
    expect(workloadDigest(c[1]!)).not.toBe(workloadDigest(a[1]!));
  });
});

describe('bundleEquals', () => {
  const cams = [cam('a', ['vehicle'])];
  const mods = renderModelWorkloads(edge(0), cams, (m) => models.get(m));
  const shares = [
    { name: CAMERA_SHARE, workloads: cams },
    { name: MODEL_SHARE, workloads: mods },
  ];
  const bundle = (labels: Record<string, string>, payloads = [CAMERA_SHARE, MODEL_SHARE]) =>
    ({
      metadata: { name: 'e1', namespace: 'acme', labels },
      spec: {
        edgeServer: 'e1',
        workloads: [...cams, ...mods].map((w) => ({
          name: w.name,
          source: w.source,
          ...(w.models ? { models: w.models } : {}),
          digest: workloadDigest(w),
        })),
        payloads: payloads.map((name) => ({ name, content: '' })),
      },
    }) as unknown as LiveBundle;
  const labels = modelLabels(mods);

  it('is true for the same entries, payloads and model labels', () => {
    expect(bundleEquals(bundle(labels), shares, labels, MODEL_LABEL_PREFIX)).toBe(true);
  });
  it('sees a stale model label, a missing one, and a missing payload; ignores others labels', () => {
    const stale = { ...labels, [`${MODEL_LABEL_PREFIX}person`]: 'true' };
    expect(bundleEquals(bundle(stale), shares, labels, MODEL_LABEL_PREFIX)).toBe(false);
    expect(bundleEquals(bundle({}), shares, labels, MODEL_LABEL_PREFIX)).toBe(false);
    expect(bundleEquals(bundle(labels, [CAMERA_SHARE]), shares, labels, MODEL_LABEL_PREFIX)).toBe(
      false,
    );
    expect(
      bundleEquals(bundle({ ...labels, team: 'ops' }), shares, labels, MODEL_LABEL_PREFIX),
    ).toBe(true);
  });
  it('sees a changed workload', () => {
    const changed = [
      { name: CAMERA_SHARE, workloads: [cam('a', ['vehicle', 'person'])] },
      shares[1]!,
    ];
    expect(bundleEquals(bundle(labels), changed, labels, MODEL_LABEL_PREFIX)).toBe(false);
  });
});
