import { describe, expect, it } from 'vitest';
import { scaffoldFleet } from '../fleet/scaffold.js';
import { parseFleetFiles, type LoadedResource } from '../manifest/load.js';
import { resourceKey, type Camera, type Site } from '../schema/kinds.js';
import { planFleet, type FieldChange, type ResourceChange } from './index.js';

/** A fresh, independently mutable copy of the scaffolded fleet. */
function fleet(): LoadedResource[] {
  const { resources, diagnostics } = parseFleetFiles(scaffoldFleet({ licenseFrom: '2025-01-01' }));
  expect(diagnostics).toEqual([]);
  return resources;
}

function get(resources: LoadedResource[], key: string): LoadedResource {
  const found = resources.find((r) => r.key === key);
  if (!found) throw new Error(`no ${key} in fleet`);
  return found;
}

const camera = (resources: LoadedResource[], name: string) =>
  get(resources, `Camera/acme/${name}`).resource as Camera;

const fieldsOf = (change: ResourceChange | undefined) =>
  Object.fromEntries((change?.fields ?? []).map((f) => [f.path, f]));

const summaryLine = (c: ResourceChange) => `${c.action} ${c.key}`;

describe('planFleet', () => {
  it('finds nothing to do for identical fleets', () => {
    const plan = planFleet(fleet(), fleet());
    expect(plan.changes).toEqual([]);
    expect(plan.summary).toEqual({ create: 0, update: 0, delete: 0, unchanged: 16 });
  });

  it('reports field changes with dotted paths and named-list items by name', () => {
    const current = fleet();
    const desired = fleet();
    const cam = camera(desired, 'entrance-cam');
    cam.spec.streams.main.bitrate = '6Mbps';
    const models = cam.spec.models ?? [];
    models.find((m) => m.name === 'anpr')!.confidenceThreshold = 0.8;
    cam.spec.models = [
      ...models.filter((m) => m.name !== 'tailgating'),
      { name: 'crowd-detection' },
    ];
    cam.spec.tags = ['perimeter', 'north'];
    cam.metadata.labels = { ...cam.metadata.labels, 'vmsctl.io/zone': 'gate' };

    const plan = planFleet(desired, current);
    expect(plan.changes.map(summaryLine)).toEqual(['update Camera/acme/entrance-cam']);
    const [change] = plan.changes;
    expect(change).toMatchObject({
      kind: 'Camera',
      namespace: 'acme',
      name: 'entrance-cam',
      file: 'tenants/acme/sites/hq/cameras.yaml',
    });
    expect(change?.fields).toEqual<FieldChange[]>([
      {
        path: 'metadata.labels["vmsctl.io/zone"]',
        op: 'replace',
        from: 'entrance',
        to: 'gate',
      },
      { path: 'spec.models[anpr].confidenceThreshold', op: 'replace', from: 0.7, to: 0.8 },
      { path: 'spec.models[crowd-detection]', op: 'add', to: { name: 'crowd-detection' } },
      {
        path: 'spec.models[tailgating]',
        op: 'remove',
        from: expect.objectContaining({ name: 'tailgating' }),
      },
      { path: 'spec.streams.main.bitrate', op: 'replace', from: '4Mbps', to: '6Mbps' },
      { path: 'spec.tags[1]', op: 'add', to: 'north' },
    ]);
    expect(plan.summary).toEqual({ create: 0, update: 1, delete: 0, unchanged: 15 });
  });

  it('ignores status, server-set metadata and the order of named lists', () => {
    const current = fleet();
    const desired = fleet();
    const live = camera(current, 'lobby-cam');
    live.status = {
      edgeServer: 'hq-edge-1',
      observedGeneration: 3,
      activeModels: ['crowd-detection'],
    };
    Object.assign(live.metadata, {
      resourceVersion: '123',
      generation: 3,
      uid: 'd1e2',
      creationTimestamp: '2025-01-01T00:00:00Z',
    });
    const wanted = camera(desired, 'lobby-cam');
    wanted.spec.models = [...(wanted.spec.models ?? [])].reverse();
    expect(planFleet(desired, current).changes).toEqual([]);
  });

  it('addresses plain lists by index', () => {
    const current = fleet();
    const desired = fleet();
    const ptz = camera(desired, 'lobby-cam').spec.ptz!;
    ptz.tours![0]!.presets = ['reception', 'overview'];
    const fields = fieldsOf(planFleet(desired, current).changes[0]);
    expect(Object.keys(fields)).toEqual([
      'spec.ptz.tours[patrol].presets[0]',
      'spec.ptz.tours[patrol].presets[1]',
    ]);
    expect(fields['spec.ptz.tours[patrol].presets[0]']).toMatchObject({
      op: 'replace',
      from: 'overview',
      to: 'reception',
    });
  });

  it('orders creates by dependency and deletes in reverse, after creates and updates', () => {
    const current = fleet().filter((r) => r.resource.kind !== 'Tenant');
    const desired = fleet().filter(
      (r) => r.resource.kind !== 'Site' && r.resource.kind !== 'Camera',
    );
    (get(desired, 'EdgeServer/acme/hq-edge-1').resource.spec as { site: string }).site = 'hq2';

    const plan = planFleet(desired, current);
    expect(plan.changes.map(summaryLine)).toEqual([
      'create Tenant/acme',
      'update EdgeServer/acme/hq-edge-1',
      'delete Camera/acme/entrance-cam',
      'delete Camera/acme/lobby-cam',
      'delete Camera/acme/storage-cam',
      'delete Site/acme/hq',
    ]);
    expect(plan.summary).toEqual({ create: 1, update: 1, delete: 4, unchanged: 10 });
    expect(plan.changes.find((c) => c.action === 'delete')?.file).toBe(
      'tenants/acme/sites/hq/cameras.yaml',
    );
  });

  it('adds or removes the declared parts of created and deleted resources whole', () => {
    const plan = planFleet(fleet(), []);
    expect(plan.summary.create).toBe(16);
    const edge = plan.changes.find((c) => c.key === 'EdgeServer/acme/hq-edge-1');
    expect(edge?.fields.map((f) => `${f.op} ${f.path}`)).toEqual([
      'add apiVersion',
      'add kind',
      'add metadata.labels',
      'add spec',
    ]);
    expect(fieldsOf(edge)['spec']?.to).toMatchObject({
      site: 'hq',
      cluster: { distribution: 'k3s' },
    });

    const gone = planFleet([], fleet()).changes.find((c) => c.key === 'Camera/acme/entrance-cam');
    expect(gone?.fields.every((f) => f.op === 'remove' && 'from' in f && !('to' in f))).toBe(true);
    expect(fieldsOf(gone)['spec']?.from).toMatchObject({
      site: 'hq',
      zone: 'main/ground/entrance',
    });
  });

  it('sorts field paths within an object so output is deterministic', () => {
    const current = fleet();
    const desired = fleet();
    const spec = (get(desired, 'Site/acme/hq').resource as Site).spec;
    spec.timezone = 'Europe/Paris';
    spec.displayName = 'HQ';
    spec.address = '2 Main Street';
    const paths = planFleet(desired, current).changes[0]?.fields.map((f) => f.path);
    expect(paths).toEqual(['spec.address', 'spec.displayName', 'spec.timezone']);
  });

  it('plans 6,000 cameras and 700 other resources', () => {
    const base = fleet();
    const build = (changed: boolean): LoadedResource[] => {
      const out: LoadedResource[] = [];
      const add = (template: LoadedResource, name: string, edit?: (r: Camera) => void) => {
        const resource = structuredClone(template.resource);
        resource.metadata.name = name;
        if (edit) edit(resource as Camera);
        out.push({ ...template, resource, key: resourceKey(resource) });
      };
      const site = get(base, 'Site/acme/hq');
      const edge = get(base, 'EdgeServer/acme/hq-edge-1');
      for (let i = 0; i < 345; i++) add(site, `site-${i}`);
      for (let i = 0; i < 345; i++) add(edge, `edge-${i}`);
      for (const m of base.filter((r) => r.resource.kind === 'AIModel'))
        add(m, m.resource.metadata.name);
      const cam = get(base, 'Camera/acme/entrance-cam');
      for (let i = 0; i < 6000; i++) {
        add(cam, `cam-${i}`, (c) => {
          if (changed && i % 10 === 0) c.spec.streams.main.bitrate = '6Mbps';
        });
      }
      return out;
    };
    const current = build(false);
    const desired = build(true);
    const plan = planFleet(desired, current);
    expect(plan.summary).toEqual({ create: 0, update: 600, delete: 0, unchanged: 6100 });
    // Speed is measured by `npm run bench:plan`, not asserted here.
  });
});
