import { describe, expect, it } from 'vitest';
import { scaffoldFleet } from '../fleet/scaffold.js';
import { parseFleetFiles, type LoadedResource } from '../manifest/load.js';
import { resourceKey, type Camera } from '../schema/kinds.js';
import {
  planFleet,
  planToJson,
  renderPlanMarkdown,
  renderPlanText,
  type FleetPlan,
} from './index.js';

function fleet(): LoadedResource[] {
  const { resources, diagnostics } = parseFleetFiles(scaffoldFleet({ licenseFrom: '2025-01-01' }));
  expect(diagnostics).toEqual([]);
  return resources;
}

const camera = (resources: LoadedResource[], name: string) =>
  resources.find((r) => r.key === `Camera/acme/${name}`)?.resource as Camera;

/** Changes one camera, adds one and deletes one. */
function mixedPlan(): FleetPlan {
  const current = fleet();
  const desired = fleet().filter((r) => r.key !== 'Camera/acme/storage-cam');
  camera(desired, 'entrance-cam').spec.streams.main.bitrate = '6Mbps';
  const lobby = desired.find((r) => r.key === 'Camera/acme/lobby-cam') as LoadedResource;
  const added = structuredClone(lobby.resource);
  added.metadata.name = 'gate-cam';
  desired.push({ ...lobby, resource: added, key: resourceKey(added) });
  return planFleet(desired, current);
}

/** `count` new cameras against an empty fleet. */
function manyCreates(count: number): FleetPlan {
  const template = fleet().find((r) => r.key === 'Camera/acme/entrance-cam') as LoadedResource;
  const desired = Array.from({ length: count }, (_, i) => {
    const resource = structuredClone(template.resource);
    resource.metadata.name = `cam-${String(i).padStart(4, '0')}`;
    return { ...template, resource, key: resourceKey(resource) };
  });
  return planFleet(desired, []);
}

describe('renderPlanText', () => {
  it('lists creates and updates with their fields, then deletes, then the totals', () => {
    const text = renderPlanText(mixedPlan());
    expect(text.split('\n')).toEqual([
      '~ update Camera/acme/entrance-cam (tenants/acme/sites/hq/cameras.yaml)',
      '  ~ spec.streams.main.bitrate: "4Mbps" → "6Mbps"',
      '+ create Camera/acme/gate-cam (tenants/acme/sites/hq/cameras.yaml)',
      '- delete Camera/acme/storage-cam (tenants/acme/sites/hq/cameras.yaml)',
      '',
      'Plan: 1 to create, 1 to update, 1 to delete.',
      '',
    ]);
  });

  it('says what the fleet matches when nothing changes', () => {
    const plan = planFleet(fleet(), fleet());
    expect(renderPlanText(plan, { against: 'origin/main' })).toBe(
      'No changes: the fleet matches origin/main.\n',
    );
    expect(renderPlanText(plan)).toMatch(/^No changes: the fleet matches /);
  });

  it('colours lines only when asked', () => {
    const plan = mixedPlan();
    expect(renderPlanText(plan)).not.toContain('\x1b[');
    const colored = renderPlanText(plan, { color: true });
    expect(colored).toContain('\x1b[32m+ create Camera/acme/gate-cam');
    expect(colored).toContain('\x1b[31m- delete Camera/acme/storage-cam');
  });

  it('shows objects as compact JSON cut to about 120 characters', () => {
    const current = fleet();
    const desired = fleet();
    camera(desired, 'lobby-cam').spec.ptz = {
      presets: Array.from({ length: 20 }, (_, i) => ({ name: `p${i}`, pan: i, tilt: 0, zoom: 1 })),
    };
    camera(current, 'lobby-cam').spec.ptz = undefined;
    const line = renderPlanText(planFleet(desired, current))
      .split('\n')
      .find((l) => l.includes('spec.ptz'));
    expect(line).toMatch(/^ {2}\+ spec\.ptz: \{"presets":\[\{"name":"p0","pan":0,/);
    expect(line?.endsWith('…')).toBe(true);
    expect(line?.length).toBeLessThanOrEqual('  + spec.ptz: '.length + 120);
  });
});

describe('renderPlanMarkdown', () => {
  it('gives a heading, counts per kind and action, and a diff per resource', () => {
    const md = renderPlanMarkdown(mixedPlan(), { title: 'Fleet plan for #42' });
    expect(md).toMatch(/^## Fleet plan for #42\n/);
    expect(md).toContain('**Plan: 1 to create, 1 to update, 1 to delete** (14 unchanged).');
    expect(md).toContain('| Camera | 1 | 1 | 1 |');
    expect(md).toContain('| **Total** | **1** | **1** | **1** |');
    expect(md.match(/<details>/g)).toHaveLength(3);
    expect(md).toContain(
      '```diff\n- spec.streams.main.bitrate: "4Mbps"\n+ spec.streams.main.bitrate: "6Mbps"\n```',
    );
    // A created resource reads field by field, not as one truncated object.
    expect(md).toContain('+ spec.streams.main.fps: 20');
    expect(md).toContain('+ spec.ptz.tours[patrol].dwellSeconds: 30');
    expect(md).toContain('- spec.recording.schedule[0].start: "18:00"');
    expect(md).not.toContain('more resource changes');
  });

  it('says so when nothing changes', () => {
    const md = renderPlanMarkdown(planFleet(fleet(), fleet()), { against: '`main`' });
    expect(md).toBe('## vmsctl plan\n\nNo changes: the fleet matches `main`.\n');
  });

  it('caps detail sections at 200 and counts the rest', () => {
    const md = renderPlanMarkdown(manyCreates(260), { maxChars: Infinity });
    expect(md.match(/<details>/g)).toHaveLength(200);
    expect(md).toContain('| Camera | 260 | 0 | 0 |');
    expect(md.trimEnd().endsWith('… and 60 more resource changes not shown.')).toBe(true);
  });

  it('keeps a 6,000-camera plan under the size GitHub accepts for a comment', () => {
    const md = renderPlanMarkdown(manyCreates(6000));
    expect(md.length).toBeLessThan(65_536);
    expect(md).toContain('| Camera | 6000 | 0 | 0 |');
    expect(md).toMatch(/… and \d+ more resource changes not shown\.\n$/);
  });

  it('uses a longer fence when a value contains backticks', () => {
    const current = fleet();
    const desired = fleet();
    camera(desired, 'entrance-cam').metadata.annotations = { note: 'see ```docs```' };
    const md = renderPlanMarkdown(planFleet(desired, current));
    expect(md).toContain('````diff\n+ metadata.annotations: {"note":"see ```docs```"}\n````');
  });
});

describe('credentials in values', () => {
  const withCredentials = () => {
    const current = fleet();
    const desired = fleet();
    // Validation rejects inline credentials, but a plan must not echo them even if one slips in.
    camera(desired, 'entrance-cam').spec.source.url = 'rtsp://admin:hunter2@10.0.10.11:554/live';
    return planFleet(desired, current);
  };

  it('are redacted in text, Markdown and JSON output', () => {
    const plan = withCredentials();
    const outputs = [
      renderPlanText(plan),
      renderPlanMarkdown(plan),
      JSON.stringify(planToJson(plan)),
    ];
    for (const out of outputs) {
      expect(out).not.toContain('hunter2');
      expect(out).toContain('rtsp://***@10.0.10.11:554/live');
    }
  });

  it('are redacted in a copy, leaving the plan itself as it was', () => {
    const plan = withCredentials();
    const json = planToJson(plan);
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
    expect(json.summary).toEqual(plan.summary);
    expect(json.changes[0]?.fields[0]).toEqual({
      path: 'spec.source.url',
      op: 'replace',
      from: 'rtsp://10.0.10.11:554/Streaming/Channels/101',
      to: 'rtsp://***@10.0.10.11:554/live',
    });
    expect(plan.changes[0]?.fields[0]?.to).toBe('rtsp://admin:hunter2@10.0.10.11:554/live');
  });
});
