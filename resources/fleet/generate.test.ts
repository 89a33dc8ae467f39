import { beforeAll, describe, expect, it } from 'vitest';
import { MODEL_CATALOG } from '../catalog/models.js';
import { parseFleetFiles, type FleetFile } from '../manifest/load.js';
import { parseResolution } from '../quantities.js';
import type { Camera, EdgeServer, Site, Tenant } from '../schema/kinds.js';
import { validateFleet, type ValidationResult } from '../validate/semantic.js';
import { generateFleet, mutateFleet } from './generate.js';

const LICENSE = { licenseFrom: '2026-01-01', licenseUntil: '2027-12-31' };
const NOW = new Date('2026-06-01');

function validate(files: readonly FleetFile[]): ValidationResult {
  return validateFleet(parseFleetFiles(files), { now: NOW });
}

function ofKind<K extends string>(result: ValidationResult, kind: K) {
  return result.fleet.resources.filter((r) => r.resource.kind === kind).map((r) => r.resource);
}

describe('generateFleet: the reference customer (690 sites, 6000 cameras)', () => {
  let files: FleetFile[];
  let result: ValidationResult;
  beforeAll(() => {
    files = generateFleet({ sites: 690, cameras: 6000, seed: 1, ...LICENSE });
    result = validate(files);
  });

  it('has exactly 6000 cameras, 690 sites, one tenant and the 10 catalog models', () => {
    expect(ofKind(result, 'Camera')).toHaveLength(6000);
    expect(ofKind(result, 'Site')).toHaveLength(690);
    expect(ofKind(result, 'Tenant')).toHaveLength(1);
    expect(ofKind(result, 'AIModel').map((m) => m.metadata.name)).toEqual(
      MODEL_CATALOG.map((m) => m.name).sort(),
    );
    const tenant = ofKind(result, 'Tenant')[0] as Tenant;
    expect(tenant.spec.license.cameraLimit).toBeGreaterThanOrEqual(6000);
    expect(tenant.spec.license.models).toHaveLength(10);
  });

  it('validates with zero errors and zero warnings', () => {
    expect(result.diagnostics).toEqual([]);
    expect(result.capacity.unplaced).toEqual([]);
  });

  it('has 110 large sites with GPU servers and 580 branches with about five cameras', () => {
    const sites = ofKind(result, 'Site') as Site[];
    const large = sites.filter((s) => s.metadata.labels?.['vmsctl.io/site-class'] === 'large');
    expect(large).toHaveLength(110);
    const perSite = new Map<string, number>();
    for (const c of ofKind(result, 'Camera') as Camera[])
      perSite.set(c.spec.site, (perSite.get(c.spec.site) ?? 0) + 1);
    const mean = (list: Site[]) =>
      list.reduce((n, s) => n + (perSite.get(s.metadata.name) ?? 0), 0) / list.length;
    const branches = sites.filter((s) => !large.includes(s));
    expect(mean(large)).toBeGreaterThanOrEqual(25);
    expect(mean(large)).toBeLessThanOrEqual(31);
    expect(mean(branches)).toBeGreaterThanOrEqual(4);
    expect(mean(branches)).toBeLessThanOrEqual(6);
    const largeNames = new Set(large.map((s) => s.metadata.name));
    for (const e of ofKind(result, 'EdgeServer') as EdgeServer[]) {
      if (largeNames.has(e.spec.site)) expect(e.spec.hardware.gpus?.length).toBe(1);
    }
  });

  it('mixes resolutions (1080p most, 4K few), codecs, sub streams, pins, ROI and secret refs', () => {
    const cameras = ofKind(result, 'Camera') as Camera[];
    const share = (f: (c: Camera) => boolean) => cameras.filter(f).length / cameras.length;
    const height = (c: Camera) => parseResolution(c.spec.streams.main.resolution).height;
    expect(share((c) => height(c) === 1080)).toBeGreaterThan(0.45);
    expect(share((c) => height(c) === 2160)).toBeLessThan(0.1);
    expect(share((c) => height(c) === 2160)).toBeGreaterThan(0);
    expect(share((c) => height(c) === 720)).toBeGreaterThan(0.15);
    expect(share((c) => height(c) === 480)).toBeGreaterThan(0.03);
    expect(share((c) => c.spec.streams.main.codec === 'H265')).toBeGreaterThan(0.1);
    expect(share((c) => c.spec.streams.sub !== undefined)).toBeGreaterThan(0.3);
    expect(share((c) => c.spec.edgeServer !== undefined)).toBeGreaterThan(0.01);
    expect(share((c) => (c.spec.models ?? []).some((m) => m.roi || m.tripwires))).toBeGreaterThan(
      0.05,
    );
    expect(cameras.every((c) => c.spec.auth?.secretRef.name)).toBe(true);
    const missingObject = cameras.filter((c) =>
      (c.spec.models ?? []).some((m) => m.name === 'missing-object-detection'),
    );
    expect(missingObject.length).toBeGreaterThan(0);
    for (const c of missingObject) expect(c.spec.configuration?.segment?.durationSeconds).toBe(10);
  });

  it('lays files out like a fleet repository', () => {
    const paths = files.map((f) => f.path);
    expect(paths).toContain('models/anpr.yaml');
    expect(paths).toContain('tenants/acme/tenant.yaml');
    const site = (ofKind(result, 'Site')[0] as Site).metadata.name;
    for (const name of ['site.yaml', 'edge-servers.yaml', 'cameras.yaml'])
      expect(paths).toContain(`tenants/acme/sites/${site}/${name}`);
  });

  it('mutates like a pull request: ~1% of cameras changed, a few deleted and added, still valid', () => {
    const changed = mutateFleet(files, { seed: 1, fraction: 0.01 });
    expect(mutateFleet(files, { seed: 1, fraction: 0.01 })).toEqual(changed);
    const after = validate(changed);
    expect(after.diagnostics).toEqual([]);
    const before = new Map(
      (ofKind(result, 'Camera') as Camera[]).map((c) => [c.metadata.name, JSON.stringify(c)]),
    );
    const now = new Map(
      (ofKind(after, 'Camera') as Camera[]).map((c) => [c.metadata.name, JSON.stringify(c)]),
    );
    const added = [...now.keys()].filter((n) => !before.has(n));
    const removed = [...before.keys()].filter((n) => !now.has(n));
    const updated = [...now.keys()].filter((n) => before.has(n) && before.get(n) !== now.get(n));
    expect(added.length).toBeGreaterThan(0);
    expect(removed.length).toBeGreaterThan(0);
    expect(updated.length).toBeGreaterThanOrEqual(40);
    expect(updated.length).toBeLessThanOrEqual(80);
    // Files without a change come back as they were.
    const untouched = changed.filter((f, i) => f.text === files[i]!.text).length;
    expect(untouched).toBeGreaterThan(files.length - 150);
  });
});

describe('generateFleet: small fleets', () => {
  it('generates 3 sites and 20 cameras that validate cleanly', () => {
    const files = generateFleet({ sites: 3, cameras: 20, seed: 7, ...LICENSE });
    const result = validate(files);
    expect(result.diagnostics).toEqual([]);
    expect(ofKind(result, 'Camera')).toHaveLength(20);
    expect(ofKind(result, 'Site')).toHaveLength(3);
    const perSite = new Map<string, number>();
    for (const c of ofKind(result, 'Camera') as Camera[])
      perSite.set(c.spec.site, (perSite.get(c.spec.site) ?? 0) + 1);
    expect(perSite.size).toBe(3); // every site has cameras
  });

  it('is deterministic for a seed and differs between seeds', () => {
    const options = { sites: 40, cameras: 350, ...LICENSE };
    const a = generateFleet({ ...options, seed: 42 });
    expect(generateFleet({ ...options, seed: 42 })).toEqual(a);
    expect(generateFleet({ ...options, seed: 43 })).not.toEqual(a);
    expect(validate(a).diagnostics).toEqual([]);
  });

  it('honours the tenant name and handles a single site', () => {
    const files = generateFleet({ sites: 1, cameras: 6, tenant: 'globex', seed: 3, ...LICENSE });
    const result = validate(files);
    expect(result.diagnostics).toEqual([]);
    expect(ofKind(result, 'Tenant')[0]!.metadata.name).toBe('globex');
    expect(ofKind(result, 'Camera')).toHaveLength(6);
  });
});
