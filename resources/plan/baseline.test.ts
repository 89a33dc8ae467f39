import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaffoldFleet } from '../fleet/scaffold.js';
import { loadFleetDir, parseFleetFiles, type FleetFile } from '../manifest/load.js';
import { gitBlobId } from './git.js';
import { loadBaselineFiles, planFleet, readGitFleet, readPlanBaseline } from './index.js';

const CAMERAS = 'tenants/acme/sites/hq/cameras.yaml';
const files = () => scaffoldFleet({ licenseFrom: '2026-01-01', licenseUntil: '2030-12-31' });

describe('loadBaselineFiles', () => {
  it('reuses the parsed resources of files whose text is unchanged', () => {
    const desired = parseFleetFiles(files()).resources;
    const base = files().map((f) =>
      f.path === CAMERAS ? { ...f, text: f.text.replace('bitrate: 4Mbps', 'bitrate: 3Mbps') } : f,
    );
    const current = loadBaselineFiles(base, desired);
    const tenant = desired.find((r) => r.key === 'Tenant/acme')!;
    expect(current.resources.find((r) => r.key === 'Tenant/acme')).toBe(tenant);
    const entrance = current.resources.find((r) => r.key === 'Camera/acme/entrance-cam')!;
    expect(entrance).not.toBe(desired.find((r) => r.key === 'Camera/acme/entrance-cam'));
    const plan = planFleet(desired, current.resources);
    expect(plan.summary).toEqual({ create: 0, update: 1, delete: 0, unchanged: 15 });
  });

  it('matches a resource that moved to another file', () => {
    const [first, ...rest] = files()
      .find((f) => f.path === CAMERAS)!
      .text.split('---\n');
    const moved: FleetFile[] = [
      ...files().filter((f) => f.path !== CAMERAS),
      { path: CAMERAS, text: rest.join('---\n') },
      { path: 'tenants/acme/sites/hq/entrance.yaml', text: first! },
    ];
    const desired = parseFleetFiles(moved).resources;
    const plan = planFleet(desired, loadBaselineFiles(files(), desired).resources);
    expect(plan.changes).toEqual([]);
  });
});

describe('readPlanBaseline against Git', () => {
  let repo: string;
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', ...args], {
      cwd: repo,
      encoding: 'utf8',
    });

  beforeAll(async () => {
    repo = await realpath(await mkdtemp(path.join(os.tmpdir(), 'vmsctl-baseline-')));
    for (const f of files()) {
      await mkdir(path.dirname(path.join(repo, 'fleet', f.path)), { recursive: true });
      await writeFile(path.join(repo, 'fleet', f.path), f.text);
    }
    git('init', '-q');
    git('add', '.');
    git('commit', '-q', '-m', 'base');
    const cams = path.join(repo, 'fleet', CAMERAS);
    const text = files().find((f) => f.path === CAMERAS)!.text;
    await writeFile(cams, text.replace('bitrate: 4Mbps', 'bitrate: 8Mbps'));
  });
  afterAll(async () => {
    await rm(repo, { recursive: true, force: true });
  });

  it('computes the object ids Git stores', () => {
    const text = files()[0]!.text;
    const oid = execFileSync('git', ['hash-object', '--stdin'], {
      input: text,
      encoding: 'utf8',
    }).trim();
    expect(gitBlobId(text, 40)).toBe(oid);
  });

  it('reads only what changed and plans the same as a full read', async () => {
    const dir = path.join(repo, 'fleet');
    const desired = (await loadFleetDir(dir)).resources;
    const full = await readGitFleet(repo, 'HEAD', 'fleet');
    const known = new Map(desired.map((r) => [r.source.path, r.source.text]));
    const partial = await readGitFleet(repo, 'HEAD', 'fleet', known);
    expect(partial.files).toEqual(full.files);
    const { current, label } = await readPlanBaseline(dir, 'HEAD', desired);
    expect(label).toMatch(/^HEAD \([0-9a-f]{12}\)$/);
    const viaBaseline = planFleet(desired, current.resources);
    const viaFull = planFleet(desired, parseFleetFiles(full.files).resources);
    expect(viaBaseline).toEqual(viaFull);
    expect(viaBaseline.summary.update).toBe(1);
  });
});
