import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { scaffoldFleet } from '../fleet/scaffold.js';
import { isManifestPath, parseFleetFiles, readFleetDir, type FleetFile } from '../manifest/load.js';
import { toYaml } from '../manifest/write.js';
import type { Camera } from '../schema/kinds.js';
import { gitFleetLocation, planFleet, readGitFleet } from './index.js';

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();

async function writeFiles(root: string, files: readonly FleetFile[]): Promise<void> {
  for (const f of files) {
    await mkdir(path.dirname(path.join(root, f.path)), { recursive: true });
    await writeFile(path.join(root, f.path), f.text);
  }
}

async function newRepo(): Promise<string> {
  const dir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'vmsctl-plan-git-')));
  git(dir, 'init', '-q');
  // Repo config, so a developer's global settings (signing, hooks) do not affect the test.
  git(dir, 'config', 'user.name', 'Plan Test');
  git(dir, 'config', 'user.email', 'plan-test@example.com');
  git(dir, 'config', 'commit.gpgsign', 'false');
  return dir;
}

function commitAll(dir: string, message: string): string {
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '--no-verify', '-m', message);
  return git(dir, 'rev-parse', 'HEAD');
}

const scaffold = () => scaffoldFleet({ licenseFrom: '2025-01-01' });
const CAMERAS = 'tenants/acme/sites/hq/cameras.yaml';
const EXTRA = 'tenants/acme/sites/hq/extra-cameras.yaml';

/** The second commit: one camera changed, one model deleted, one camera file added. */
function editedFleet(): FleetFile[] {
  const cameras = parseFleetFiles(scaffold())
    .resources.filter((r) => r.source.path === CAMERAS)
    .map((r) => r.resource as Camera);
  const entrance = cameras.find((c) => c.metadata.name === 'entrance-cam') as Camera;
  entrance.spec.streams.main.bitrate = '6Mbps';
  const gate = structuredClone(entrance);
  gate.metadata.name = 'gate-cam';
  return [
    ...scaffold()
      .filter((f) => f.path !== 'models/anpr.yaml')
      .map((f) => (f.path === CAMERAS ? { path: f.path, text: toYaml(cameras) } : f)),
    { path: EXTRA, text: toYaml([gate]) },
  ];
}

describe('readGitFleet', () => {
  let repo: string;
  let fleetDir: string;
  let first: string;
  let second: string;

  beforeAll(async () => {
    repo = await newRepo();
    fleetDir = path.join(repo, 'fleet');
    await writeFiles(fleetDir, scaffold());
    // Manifests outside the fleet folder must not be read.
    await writeFiles(repo, [{ path: 'other/stray.yaml', text: 'not: a fleet file\n' }]);
    first = commitAll(repo, 'fleet');
    await rm(path.join(fleetDir, 'models/anpr.yaml'));
    await writeFiles(fleetDir, editedFleet());
    second = commitAll(repo, 'edit fleet');
  });

  afterAll(async () => {
    await rm(repo, { recursive: true, force: true });
  });

  it('locates a fleet folder in its repository', async () => {
    expect(await gitFleetLocation(fleetDir)).toEqual({ repoRoot: repo, prefix: 'fleet/' });
    expect(await gitFleetLocation(repo)).toEqual({ repoRoot: repo, prefix: '' });
  });

  it('reads the manifests of the fleet folder as they were at a ref', async () => {
    const { files, revision } = await readGitFleet(repo, 'HEAD~1', 'fleet/');
    expect(revision).toBe(first);
    const expected = scaffold()
      .filter((f) => isManifestPath(f.path))
      .sort((a, b) => (a.path < b.path ? -1 : 1));
    expect(files).toEqual(expected);
  });

  it('gives the same files as reading the checked-out folder', async () => {
    const fromGit = await readGitFleet(repo, 'HEAD', 'fleet');
    expect(fromGit.revision).toBe(second);
    const fromDisk = await readFleetDir(fleetDir);
    expect(fromGit.files).toEqual(fromDisk.files);
  });

  it('accepts the fleet folder as ./fleet, fleet or fleet/, and reads the whole tree without one', async () => {
    const paths = async (subdir?: string) =>
      (await readGitFleet(repo, second, subdir)).files.map((f) => f.path);
    const expected = await paths('fleet/');
    expect(await paths('./fleet')).toEqual(expected);
    expect(await paths('fleet')).toEqual(expected);
    expect(await paths()).toEqual(
      [...expected.map((p) => `fleet/${p}`), 'other/stray.yaml'].sort(),
    );
  });

  it('plans the changes between two commits', async () => {
    const load = async (ref: string) => {
      const { resources, diagnostics } = parseFleetFiles(
        (await readGitFleet(repo, ref, 'fleet/')).files,
      );
      expect(diagnostics).toEqual([]);
      return resources;
    };
    const plan = planFleet(await load('HEAD'), await load('HEAD~1'));
    expect(plan.changes.map((c) => `${c.action} ${c.key} ${c.file}`)).toEqual([
      `update Camera/acme/entrance-cam ${CAMERAS}`,
      `create Camera/acme/gate-cam ${EXTRA}`,
      'delete AIModel/anpr models/anpr.yaml',
    ]);
    expect(plan.changes[0]?.fields).toEqual([
      { path: 'spec.streams.main.bitrate', op: 'replace', from: '4Mbps', to: '6Mbps' },
    ]);
    expect(plan.summary).toEqual({ create: 1, update: 1, delete: 1, unchanged: 14 });
  });

  it('reads the commit, not the work tree, and leaves the work tree alone', async () => {
    const tenant = path.join(fleetDir, 'tenants/acme/tenant.yaml');
    await writeFile(tenant, 'uncommitted: true\n');
    try {
      const { files } = await readGitFleet(repo, 'HEAD', 'fleet/');
      expect(files.find((f) => f.path === 'tenants/acme/tenant.yaml')?.text).toContain(
        'kind: Tenant',
      );
      expect(git(repo, 'status', '--porcelain')).toBe('M fleet/tenants/acme/tenant.yaml');
      expect(git(repo, 'rev-parse', 'HEAD')).toBe(second);
      expect(git(repo, 'stash', 'list')).toBe('');
    } finally {
      git(repo, 'checkout', '--', 'fleet/tenants/acme/tenant.yaml');
    }
  });

  it('names a ref that does not exist and how to fix it', async () => {
    await expect(readGitFleet(repo, 'nope', 'fleet/')).rejects.toThrow(
      `git ref "nope" does not exist in ${repo}: check the branch, tag or commit name (git fetch may be needed)`,
    );
    // A ref that looks like an option is a ref name, never an option.
    await expect(readGitFleet(repo, '--output=/tmp/x', 'fleet/')).rejects.toThrow(
      /git ref "--output=\/tmp\/x" does not exist/,
    );
  });
});

describe('outside a Git repository', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'vmsctl-plan-nogit-')));
  });

  afterEach(() => {
    vi.unstubAllEnvs();
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('says the folder is not in a Git work tree', async () => {
    // Stops git from finding a repository above the temp folder, wherever TMPDIR points.
    vi.stubEnv('GIT_CEILING_DIRECTORIES', path.dirname(dir));
    await expect(gitFleetLocation(dir)).rejects.toThrow(`${dir} is not inside a Git work tree`);
    await expect(readGitFleet(dir, 'HEAD')).rejects.toThrow(`${dir} is not a Git repository`);
  });

  it('says so when the folder does not exist', async () => {
    const missing = path.join(dir, 'missing');
    await expect(gitFleetLocation(missing)).rejects.toThrow(`cannot open ${missing}`);
    await expect(readGitFleet(missing, 'HEAD')).rejects.toThrow(`cannot open ${missing}`);
  });
});

describe('reading many files through one cat-file process', () => {
  let repo: string;

  beforeAll(async () => {
    repo = await newRepo();
  });

  afterAll(async () => {
    await rm(repo, { recursive: true, force: true });
  });

  it('keeps every file intact across output chunk boundaries', async () => {
    const odd: FleetFile[] = [
      { path: 'empty.yaml', text: '' },
      { path: 'unicode.yaml', text: 'name: Café – Überwachung 监控 📷\n' },
      { path: 'framing.yaml', text: '0123456789abcdef0123456789abcdef01234567 blob 12\nx\n\n' },
      { path: 'crlf.yaml', text: 'a: 1\r\nb: 2\r\n' },
      { path: 'no-newline.yml', text: 'a: 1' },
    ];
    const bulk = Array.from({ length: 750 }, (_, i) => ({
      path: `cams/c${String(i).padStart(3, '0')}.yaml`,
      text: `# ${'x'.repeat(i * 7)}\nindex: ${i}\n`,
    }));
    await writeFiles(repo, [...odd, ...bulk, { path: 'notes.txt', text: 'skipped' }]);
    commitAll(repo, 'many files');
    const { files } = await readGitFleet(repo, 'HEAD');
    const expected = [...odd, ...bulk].sort((a, b) => (a.path < b.path ? -1 : 1));
    expect(files).toHaveLength(755);
    expect(files).toEqual(expected);
  });
});
