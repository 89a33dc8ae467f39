import { describe, expect, it } from 'vitest';
import { KINDS } from '../resources/index.js';
import type { KubeObject } from '../controllers/index.js';
import { clusterColumns } from './cluster-view.js';

const camera = KINDS.find((k) => k.kind === 'Camera')!;
const now = new Date('2026-11-22T08:00:00Z');

function cameraAt(generation: number, observedGeneration: number): KubeObject {
  return {
    apiVersion: 'vmsctl.io/v1alpha1',
    kind: 'Camera',
    metadata: { name: 'lobby', namespace: 'acme', generation },
    spec: {},
    status: {
      observedGeneration,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Deployed',
          message: 'running on edge server e1',
          observedGeneration,
          lastTransitionTime: '2026-11-22T07:59:00Z',
        },
      ],
    },
  };
}

describe('get --cluster columns', () => {
  const reason = (o: KubeObject) =>
    clusterColumns(camera, now)
      .find((c) => c.header === 'REASON')!
      .get(o);

  it('shows the Ready reason of an object whose status is current', () => {
    expect(reason(cameraAt(3, 3))).toBe('Deployed');
  });

  it('marks a Ready judged for an older spec as a change in progress', () => {
    expect(reason(cameraAt(4, 3))).toBe('Deployed (generation 4 in progress)');
  });
});
