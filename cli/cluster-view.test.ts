import { describe, expect, it } from 'vitest';
import { KINDS } from '../resources/index.js';
import type { KubeObject } from '../controllers/index.js';
import { clusterColumns, statusSections } from './cluster-view.js';

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

describe('describe --cluster of an edge server', () => {
  const edge: KubeObject = {
    apiVersion: 'vmsctl.io/v1alpha1',
    kind: 'EdgeServer',
    metadata: { name: 'e1', namespace: 'acme' },
    spec: {},
    status: { agent: { version: '0.1.0', kubernetesVersion: 'v1.34.4+k3s1' }, health: 'Healthy' },
  };

  it("shows the last heartbeat from the agent's Lease and what the agent runs", () => {
    const agent = statusSections(edge, now, { heartbeat: '2026-11-22T07:59:30.000000Z' }).find(
      (s) => s.title === 'Agent',
    )!;
    expect(agent.lines[0]).toMatch(/^last heartbeat: 2026-11-22T07:59:30.000000Z \(30s ago/);
    expect(agent.lines[1]).toBe('runs: vmsctl 0.1.0, Kubernetes v1.34.4+k3s1');
  });

  it('says never when the agent has not heartbeated', () => {
    const agent = statusSections({ ...edge, status: {} }, now).find((s) => s.title === 'Agent')!;
    expect(agent.lines).toEqual(['last heartbeat: never', 'runs: not reported yet']);
  });
});
