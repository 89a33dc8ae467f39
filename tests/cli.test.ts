import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin/run.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built vmsctl binary as a user would (the test command builds it first). */
function vmsctl(args: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { cwd, env: { ...process.env, CI: '1', ...env } },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'vmsctl-cli-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('vmsctl init + validate', () => {
  it('init scaffolds a fleet that validates (exit 0)', async () => {
    const init = await vmsctl(['init', 'x'], work);
    expect(init.code).toBe(0);
    expect(init.stdout).toContain('Created a fleet in x');
    const files = await readdir(path.join(work, 'x'), { recursive: true });
    expect(files).toContain(path.join('.github', 'workflows', 'vmsctl.yaml'));
    expect(files.filter((f) => f.startsWith(`models${path.sep}`))).toHaveLength(10);
    const validate = await vmsctl(['validate', 'x'], work);
    expect(validate.stderr).toBe('');
    expect(validate.stdout.trim()).toBe('Fleet is valid: 16 resource(s), 0 warning(s).');
    expect(validate.code).toBe(0);
  });

  it('init refuses a non-empty directory and writes nothing', async () => {
    const dir = path.join(work, 'busy');
    await vmsctl(['init', 'busy'], work);
    await writeFile(path.join(dir, 'notes.txt'), 'keep me');
    const before = (await readdir(dir, { recursive: true })).sort();
    const again = await vmsctl(['init', 'busy', '--tenant', 'globex'], work);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('is not empty');
    expect(again.stderr).toContain('--force');
    expect((await readdir(dir, { recursive: true })).sort()).toEqual(before);
  });

  it('init rejects an invalid tenant name', async () => {
    const r = await vmsctl(['init', 'bad-name', '--tenant', 'Acme Corp'], work);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--tenant "Acme Corp" is not a valid name');
  });

  it('validate reports file:line:col severity kind/name field message and exits 1', async () => {
    await vmsctl(['init', 'broken'], work);
    const cams = path.join(work, 'broken/tenants/acme/sites/hq/cameras.yaml');
    await writeFile(
      cams,
      (await readFile(cams, 'utf8')).replace('bitrate: 4Mbps', 'bitrate: 1Mbps'),
    );
    const r = await vmsctl(['validate', 'broken'], work);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      'broken/tenants/acme/sites/hq/cameras.yaml:42:7  error  Camera/entrance-cam  spec.models[1].name  model "anpr" needs at least 3Mbps, the main stream has 1Mbps',
    );
    const json = JSON.parse((await vmsctl(['validate', 'broken', '--json'], work)).stdout);
    expect(json.valid).toBe(false);
    expect(json.diagnostics[0]).toMatchObject({
      severity: 'error',
      code: 'model-incompatible',
      kind: 'Camera',
    });
    const gh = await vmsctl(['validate', 'broken', '--format', 'github'], work);
    expect(gh.stdout).toMatch(
      /^::error file=broken\/tenants\/acme\/sites\/hq\/cameras.yaml,line=42,col=7,title=Camera\/entrance-cam spec.models\[1\].name::model "anpr"/m,
    );
  });

  it('validate: expired license via --now is an error', async () => {
    await vmsctl(['init', 'lic'], work);
    const r = await vmsctl(['validate', 'lic', '--now', '2099-01-01'], work);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('license expired on');
  });

  it('validate: a directory that does not exist exits 2 with a next step', async () => {
    const r = await vmsctl(['validate', 'nope'], work);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('fleet directory "nope" does not exist');
    expect(r.stderr).toContain('vmsctl init nope');
  });

  it('validate: a file that cannot be read (a dangling link) is reported with its path', async () => {
    await vmsctl(['init', 'unreadable'], work);
    await symlink(
      path.join(work, 'missing-target.yaml'),
      path.join(work, 'unreadable/tenants/acme/dangling.yaml'),
    );
    const r = await vmsctl(['validate', 'unreadable'], work);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      'unreadable/tenants/acme/dangling.yaml:1:1  error  -  -  cannot read file (ENOENT)',
    );
  });

  it('validate: an inline password never reaches the output', async () => {
    await vmsctl(['init', 'secret'], work);
    const cams = path.join(work, 'secret/tenants/acme/sites/hq/cameras.yaml');
    await writeFile(
      cams,
      (await readFile(cams, 'utf8')).replace(
        'rtsp://10.0.10.11',
        'rtsp://admin:S3cr3tPa55@10.0.10.11',
      ),
    );
    const r = await vmsctl(['validate', 'secret', '--json'], work);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('URL contains credentials');
    expect(r.stdout + r.stderr).not.toContain('S3cr3tPa55');
  });
});

describe('read commands', () => {
  beforeAll(async () => {
    await vmsctl(['init', 'reads'], work);
  });

  it('config explain shows values with their layer and source line', async () => {
    const r = await vmsctl(
      ['config', 'explain', 'acme/entrance-cam', 'models.anpr', '--dir', 'reads'],
      work,
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /models\.anpr\.confidenceThreshold\s+0\.7\s+camera-model\s+Camera\/acme\/entrance-cam\s+reads\/tenants\/acme\/sites\/hq\/cameras\.yaml:43/,
    );
    const json = JSON.parse(
      (
        await vmsctl(
          ['config', 'explain', 'lobby-cam', 'segment.durationSeconds', '-d', 'reads', '--json'],
          work,
        )
      ).stdout,
    );
    expect(json).toEqual([
      {
        key: 'segment.durationSeconds',
        value: 5,
        layer: 'system',
        setBy: 'vmsctl defaults',
        at: '',
      },
    ]);
    const missing = await vmsctl(['config', 'explain', 'ghost-cam', '-d', 'reads'], work);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('vmsctl get cameras');
  });

  it('capacity prints edge and site tables and JSON', async () => {
    const r = await vmsctl(['capacity', 'reads', '--placements'], work);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/acme\/hq-edge-1\s+hq\s+3/);
    expect(r.stdout).toContain('Suggested placement');
    const json = JSON.parse((await vmsctl(['capacity', 'reads', '--json'], work)).stdout);
    expect(json.edges[0].cameras).toHaveLength(3);
    expect(json.cameras['Camera/acme/entrance-cam'].decodeCores).toBeGreaterThan(0);
  });

  it('get and describe read the fleet directory', async () => {
    const get = await vmsctl(['get', 'cameras', '-d', 'reads'], work);
    expect(get.stdout.split('\n')[0]).toMatch(
      /^NAMESPACE\s+NAME\s+SITE\s+ZONE\s+RESOLUTION\s+PLACED ON$/,
    );
    expect(get.stdout).toMatch(
      /acme\s+lobby-cam\s+hq\s+main\/ground\/lobby\s+1920x1080\s+hq-edge-1/,
    );
    const models = JSON.parse(
      (await vmsctl(['get', 'models', '-d', 'reads', '--json'], work)).stdout,
    );
    expect(models.items).toHaveLength(10);
    const describeCam = await vmsctl(['describe', 'camera/acme/storage-cam', '-d', 'reads'], work);
    expect(describeCam.stdout).toContain('Source: reads/tenants/acme/sites/hq/cameras.yaml:');
    expect(describeCam.stdout).toContain('segment 10s, overlap 2s; recording schedule');
    expect(describeCam.stdout).toContain('Findings: none');
    const unknown = await vmsctl(['get', 'widgets', '-d', 'reads'], work);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown kind "widgets"');
  });
});

describe('vmsctl plan', () => {
  const git = (cwd: string, ...args: string[]) =>
    new Promise<string>((resolve, reject) =>
      execFile(
        'git',
        ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', ...args],
        { cwd },
        (err, out) => (err ? reject(err) : resolve(out)),
      ),
    );
  let repo: string;
  let camsFile: string;

  beforeAll(async () => {
    repo = path.join(work, 'repo');
    await vmsctl(['init', 'repo/fleet'], work);
    await git(repo, 'init', '-q', '-b', 'main');
    await git(repo, 'add', '.');
    await git(repo, 'commit', '-q', '-m', 'first');
    camsFile = path.join(repo, 'fleet/tenants/acme/sites/hq/cameras.yaml');
    const text = await readFile(camsFile, 'utf8');
    const [entrance, lobby] = text.split('---\n');
    // Second commit: change a field, delete storage-cam.
    await writeFile(
      camsFile,
      `${entrance!.replace('bitrate: 4Mbps', 'bitrate: 6Mbps')}---\n${lobby}`,
    );
    await git(repo, 'commit', '-q', '-am', 'second');
  });

  it('shows the diff between two commits (exit 1)', async () => {
    const r = await vmsctl(['plan', 'fleet', '--against', 'HEAD~1'], repo);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('~ update Camera/acme/entrance-cam');
    expect(r.stdout).toContain('spec.streams.main.bitrate: "4Mbps" → "6Mbps"');
    expect(r.stdout).toContain('- delete Camera/acme/storage-cam');
    expect(r.stdout).toContain('Plan: 0 to create, 1 to update, 1 to delete.');
  });

  it('no changes against HEAD exits 0', async () => {
    const r = await vmsctl(['plan', 'fleet'], repo);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('No changes');
  });

  it('markdown and json outputs for CI', async () => {
    const md = await vmsctl(['plan', 'fleet', '--against', 'HEAD~1', '--output', 'markdown'], repo);
    expect(md.code).toBe(1);
    expect(md.stdout).toMatch(/^#+ /m);
    expect(md.stdout).toContain('```diff');
    const json = JSON.parse(
      (await vmsctl(['plan', 'fleet', '--against', 'HEAD~1', '--json'], repo)).stdout,
    );
    expect(json.summary).toMatchObject({ create: 0, update: 1, delete: 1 });
    expect(json.changes.map((c: { key: string }) => c.key)).toEqual([
      'Camera/acme/entrance-cam',
      'Camera/acme/storage-cam',
    ]);
  });

  it('against a directory', async () => {
    await vmsctl(['init', 'other'], work);
    const r = await vmsctl(['plan', 'repo/fleet', '--against', 'other'], work);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('- delete Camera/acme/storage-cam');
  });

  it('a Git ref that does not exist exits 2 and says what to check', async () => {
    const r = await vmsctl(['plan', 'fleet', '--against', 'no-such-branch'], repo);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('git ref "no-such-branch" does not exist');
  });

  it('an invalid fleet plans nothing (exit 2) and changes nothing', async () => {
    const before = await readFile(camsFile, 'utf8');
    await writeFile(camsFile, before.replace('fps: 25', 'fps: [25'));
    const status = await git(repo, 'status', '--porcelain');
    const r = await vmsctl(['plan', 'fleet', '--against', 'HEAD~1'], repo);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('YAML syntax');
    expect(r.stderr).toContain('nothing was planned');
    expect(r.stdout).toBe('');
    expect(await git(repo, 'status', '--porcelain')).toBe(status);
    await writeFile(camsFile, before);
  });

  it('outside a Git repository with a ref exits 2', async () => {
    const r = await vmsctl(['plan', 'reads', '--against', 'HEAD'], work);
    expect(r.code).toBe(2);
    expect(r.stderr.toLowerCase()).toContain('git');
  });
});

describe('vmsctl fleet generate', () => {
  it('writes a fleet that validates, and refuses a non-empty directory', async () => {
    const r = await vmsctl(
      ['fleet', 'generate', 'gen', '--sites', '5', '--cameras', '40', '--seed', '3'],
      work,
    );
    expect(r.code).toBe(0);
    const v = await vmsctl(['validate', 'gen', '--json'], work);
    expect(JSON.parse(v.stdout)).toMatchObject({ valid: true, errors: 0 });
    const cams = JSON.parse((await vmsctl(['get', 'cameras', '-d', 'gen', '--json'], work)).stdout);
    expect(cams.items).toHaveLength(40);
    const again = await vmsctl(
      ['fleet', 'generate', 'gen', '--sites', '5', '--cameras', '40'],
      work,
    );
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('not empty');
  });
});
