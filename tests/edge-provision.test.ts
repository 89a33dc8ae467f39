import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  executeSteps,
  planJoin,
  planProvision,
  type EdgeRegistration,
  type EdgeRegistrationRequest,
  type Exec,
  type ProvisionOptions,
} from '../cli/edge-provision/index.js';
import type { KubeServer } from './servers/kube.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin/run.js');
const edgeDir = path.join(root, 'manifests/edge');
const VERSION = 'v1.31.4+k3s1';
/** k3s's name for this machine's architecture (what install-k3s.sh derives from uname -m). */
const ARCH = process.arch === 'arm64' ? 'arm64' : 'amd64';
/** Commands the scripts may run to change a host; in a dry run none of them may be called. */
const STUBBED = ['systemctl', 'apt-get', 'curl', 'wget', 'k3s', 'kubectl', 'install', 'gpg'];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return new Promise<Run>((resolve) => {
    execFile(
      file,
      args,
      { cwd: opts.cwd ?? root, env: opts.env ?? process.env, maxBuffer: 16 << 20 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Runs the built vmsctl as a user would (the test command builds it first). */
function vmsctl(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  return run(process.execPath, [bin, ...args], { cwd, env: { ...process.env, CI: '1', ...env } });
}

/** oclif wraps errors at the terminal width behind "›": one line again, for matching. */
const oneLine = (text: string) => text.replace(/\s*›\s*/g, ' ').replace(/\s+/g, ' ');
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const plusLines = (out: string) => out.split('\n').filter((l) => l.startsWith('+ '));

/** Each pattern matches a line after the one the previous pattern matched. */
function expectInOrder(lines: readonly string[], patterns: readonly RegExp[]) {
  let from = 0;
  for (const p of patterns) {
    const i = lines.findIndex((l, j) => j >= from && p.test(l));
    expect(i, `${p} (after line ${from}) in:\n${lines.join('\n')}`).toBeGreaterThanOrEqual(0);
    from = i + 1;
  }
}

/** Every file under a folder with its size and content, to prove a dry run wrote nothing. */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const f of (await readdir(dir, { recursive: true })).sort()) {
    const p = path.join(dir, f);
    const s = await stat(p);
    out.push(s.isFile() ? `${f} ${s.size} ${await readFile(p, 'utf8')}` : `${f}/`);
  }
  return out;
}

let work: string;
let stubs: string;
let calls: string;

/**
 * A stub that records its call and answers the read-only queries the scripts make: the
 * installed k3s version and whether k3s.service is enabled and running.
 */
function stubScript(name: string): string {
  return `#!/bin/sh
echo "${name} $*" >> "$VMSCTL_TEST_CALLS"
case "${name} $1" in
  "k3s --version") echo "k3s version \${STUB_K3S_VERSION:-${VERSION}} (stub)" ;;
  "systemctl is-enabled" | "systemctl is-active") [ "\${STUB_K3S_RUNNING:-0}" = 1 ] || exit 3 ;;
esac
exit 0
`;
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'vmsctl-edge-provision-'));
  stubs = path.join(work, 'stubs');
  calls = path.join(work, 'calls.log');
  await mkdir(stubs);
  for (const name of [...STUBBED, 'ssh', 'scp']) {
    await writeFile(path.join(stubs, name), stubScript(name), { mode: 0o755 });
  }
  // Fake inputs: a token, an air-gap k3s "binary" that reports the pinned version, images.
  await writeFile(path.join(work, 'cluster-token'), 'K10-cluster-token\n');
  await writeFile(
    path.join(work, 'k3s'),
    `#!/bin/sh\necho "k3s version ${VERSION} (air-gap file)"\n`,
    { mode: 0o755 },
  );
  await writeFile(path.join(work, `k3s-airgap-images-${ARCH}.tar.zst`), 'not really zstd');
  await writeFile(path.join(work, 'id_ed25519'), 'not a real key\n', { mode: 0o600 });
  await writeFile(path.join(work, 'server'), 'https://cloud.example.com:6443\n');
  await writeFile(
    path.join(work, 'ca.crt'),
    '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  );
  await writeFile(path.join(work, 'agent-token'), 'agent-token-s3cr3t\n');
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Runs a script of manifests/edge with the stubs first in PATH and a fresh VMSCTL_ROOT. */
async function script(
  name: string,
  args: string[],
  opts: { root?: string; env?: NodeJS.ProcessEnv } = {},
) {
  const hostRoot = opts.root ?? (await mkdtemp(path.join(work, 'root-')));
  await rm(calls, { force: true });
  const before = await snapshot(hostRoot);
  const r = await run('bash', [path.join(edgeDir, name), ...args], {
    cwd: work,
    env: {
      ...process.env,
      PATH: `${stubs}:${process.env.PATH}`,
      VMSCTL_ROOT: hostRoot,
      VMSCTL_TEST_CALLS: calls,
      ...opts.env,
    },
  });
  const recorded = existsSync(calls)
    ? (await readFile(calls, 'utf8')).split('\n').filter(Boolean)
    : [];
  return {
    ...r,
    root: hostRoot,
    R: escape(hostRoot),
    calls: recorded,
    before,
    after: await snapshot(hostRoot),
  };
}

describe('manifests/edge scripts', () => {
  it('pass shellcheck (and bash -n)', async () => {
    const files = (await readdir(edgeDir)).filter((f) => f.endsWith('.sh')).sort();
    expect(files).toEqual(['install-k3s.sh', 'join-edge.sh', 'lib.sh']);
    const r = await run('shellcheck', ['-x', '--source-path=SCRIPTDIR', '-S', 'style', ...files], {
      cwd: edgeDir,
    });
    expect(r.stderr, 'shellcheck must be installed (scripts/bootstrap.sh installs it)').toBe('');
    expect(r.stdout).toBe('');
    expect(r.code).toBe(0);
    for (const f of files) expect((await run('bash', ['-n', path.join(edgeDir, f)])).code).toBe(0);
  });

  it('every script sets -euo pipefail and routes changes through one run helper', async () => {
    for (const f of ['install-k3s.sh', 'join-edge.sh', 'lib.sh']) {
      const text = await readFile(path.join(edgeDir, f), 'utf8');
      expect(text, f).toMatch(/^set -euo pipefail$/m);
    }
    const lib = await readFile(path.join(edgeDir, 'lib.sh'), 'utf8');
    expect(lib.match(/^run\(\) \{/gm)).toHaveLength(1);
  });

  it('online install, dry run: download + checksum, binary, token, unit, start; nothing changed', async () => {
    const r = await script('install-k3s.sh', [
      '--version',
      VERSION,
      '--node-name',
      'edge-1',
      '--tls-san',
      '10.0.0.5',
      '--token-file',
      path.join(work, 'cluster-token'),
      '--dry-run',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const asset = ARCH === 'amd64' ? 'k3s' : `k3s-${ARCH}`;
    const cache = `${r.R}/var/cache/vmsctl/k3s/v1\\.31\\.4\\+k3s1`;
    const release = 'https://github\\.com/k3s-io/k3s/releases/download/v1\\.31\\.4%2Bk3s1';
    expectInOrder(plusLines(r.stdout), [
      new RegExp(`^\\+ curl .*-o ${cache}/${asset} ${release}/${asset}$`),
      new RegExp(
        `^\\+ curl .*-o ${cache}/sha256sum-${ARCH}\\.txt ${release}/sha256sum-${ARCH}\\.txt$`,
      ),
      new RegExp(`^\\+ verify_sha256 ${cache} sha256sum-${ARCH}\\.txt ${asset}$`),
      new RegExp(`^\\+ install -D -m 0755 ${cache}/${asset} ${r.R}/usr/local/bin/k3s$`),
      new RegExp(
        `^\\+ install -D -m 0600 \\S+/cluster-token ${r.R}/etc/rancher/k3s/cluster-token$`,
      ),
      new RegExp(`^\\+ install -D -m 0644 /dev/stdin ${r.R}/etc/systemd/system/k3s\\.service `),
      /^\+ systemctl daemon-reload$/,
      /^\+ systemctl enable k3s\.service$/,
      /^\+ systemctl restart k3s\.service$/,
      /^\+ wait_node_ready 300$/,
    ]);
    // The unit is shown in full, with the flags the edge relies on.
    expect(r.stdout).toContain(
      '    | ExecStart=/usr/local/bin/k3s server --node-name edge-1 --disable traefik --write-kubeconfig-mode 0600 --secrets-encryption --tls-san 10.0.0.5 --token-file /etc/rancher/k3s/cluster-token',
    );
    expect(r.stdout).not.toMatch(/apt-get|nvidia/);
    expect(r.calls).toEqual([]);
    expect(r.after).toEqual(r.before);
  });

  it('air-gapped install, dry run (VMSCTL_DRY_RUN=1): binary and images placed, no download', async () => {
    const images = path.join(work, `k3s-airgap-images-${ARCH}.tar.zst`);
    const r = await script(
      'install-k3s.sh',
      [
        '--version',
        VERSION,
        '--node-name',
        'edge-1',
        '--air-gapped',
        '--k3s-binary',
        path.join(work, 'k3s'),
        '--images',
        images,
      ],
      { env: { VMSCTL_DRY_RUN: '1' } },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expectInOrder(plusLines(r.stdout), [
      new RegExp(
        `^\\+ install -D -m 0755 ${escape(path.join(work, 'k3s'))} ${r.R}/usr/local/bin/k3s$`,
      ),
      new RegExp(
        `^\\+ install -D -m 0644 ${escape(images)} ${r.R}/var/lib/rancher/k3s/agent/images/k3s-airgap-images-${ARCH}\\.tar\\.zst$`,
      ),
      new RegExp(`^\\+ install -D -m 0644 /dev/stdin ${r.R}/etc/systemd/system/k3s\\.service `),
      /^\+ systemctl restart k3s\.service$/,
    ]);
    expect(r.stdout).not.toMatch(/^\+ curl/m);
    expect(r.calls).toEqual([]);
    expect(r.after).toEqual(r.before);
  });

  it('GPU install, dry run: toolkit before k3s starts, device plugin after; nothing changed', async () => {
    const r = await script('install-k3s.sh', [
      '--version',
      VERSION,
      '--node-name',
      'gpu-1',
      '--gpu',
      '--dry-run',
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('warning: no NVIDIA driver is loaded');
    expectInOrder(plusLines(r.stdout), [
      new RegExp(`^\\+ install -D -m 0755 \\S+ ${r.R}/usr/local/bin/k3s$`),
      new RegExp(`^\\+ install -D -m 0644 /dev/stdin ${r.R}/etc/systemd/system/k3s\\.service `),
      new RegExp(
        `^\\+ curl .*-o ${r.R}/usr/share/keyrings/nvidia-container-toolkit-keyring\\.asc https://nvidia\\.github\\.io/libnvidia-container/gpgkey$`,
      ),
      new RegExp(
        `^\\+ install -D -m 0644 /dev/stdin ${r.R}/etc/apt/sources\\.list\\.d/nvidia-container-toolkit\\.list `,
      ),
      /^\+ apt-get update$/,
      /^\+ env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nvidia-container-toolkit$/,
      /^\+ systemctl restart k3s\.service$/,
      /^\+ wait_node_ready 300$/,
      new RegExp(
        `^\\+ ${r.R}/usr/local/bin/k3s kubectl apply -f ${escape(edgeDir)}/nvidia-device-plugin\\.yaml$`,
      ),
    ]);
    expect(r.stdout).toContain(
      '    | deb [signed-by=/usr/share/keyrings/nvidia-container-toolkit-keyring.asc] https://nvidia.github.io/libnvidia-container/stable/deb/$(ARCH) /',
    );
    expect(r.calls).toEqual([]);
    expect(r.after).toEqual(r.before);
    // The device plugin manifest carries the RuntimeClass and asks for it.
    const plugin = await readFile(path.join(edgeDir, 'nvidia-device-plugin.yaml'), 'utf8');
    expect(plugin).toMatch(/kind: RuntimeClass\nmetadata:\n {2}name: nvidia[\s\S]*handler: nvidia/);
    expect(plugin).toMatch(/runtimeClassName: nvidia/);
  });

  it('air-gapped GPU: needs the toolkit already installed; then only the device plugin is added', async () => {
    const images = path.join(work, `k3s-airgap-images-${ARCH}.tar.zst`);
    const args = [
      '--version',
      VERSION,
      '--air-gapped',
      '--k3s-binary',
      path.join(work, 'k3s'),
      '--images',
      images,
      '--gpu',
      '--dry-run',
    ];
    const missing = await script('install-k3s.sh', args);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(
      'air-gapped GPU install: the NVIDIA container toolkit is not installed',
    );
    expect(plusLines(missing.stdout)).toEqual([]);

    const hostRoot = await mkdtemp(path.join(work, 'toolkit-'));
    await mkdir(path.join(hostRoot, 'usr/bin'), { recursive: true });
    await writeFile(path.join(hostRoot, 'usr/bin/nvidia-container-runtime'), '', { mode: 0o755 });
    const r = await script('install-k3s.sh', args, { root: hostRoot });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('= the NVIDIA container toolkit is already installed: skipped');
    expect(r.stdout).not.toMatch(/apt-get|libnvidia-container/);
    expectInOrder(plusLines(r.stdout), [
      /^\+ install -D -m 0644 \S+ \S+\/var\/lib\/rancher\/k3s\/agent\/images\//,
      /^\+ systemctl restart k3s\.service$/,
      /kubectl apply -f \S+\/nvidia-device-plugin\.yaml$/,
    ]);
    expect(r.calls).toEqual([]);
    expect(r.after).toEqual(r.before);
  });

  it('join-edge.sh, dry run: Namespace, Secret, agent, rollout; the token is never printed', async () => {
    const r = await script('join-edge.sh', [
      '--edge',
      'acme/hq-edge-1',
      '--server-file',
      path.join(work, 'server'),
      '--ca-file',
      path.join(work, 'ca.crt'),
      '--token-file',
      path.join(work, 'agent-token'),
      '--agent-version',
      '0.1.0',
      '--dry-run',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const apply =
      'kubectl --kubeconfig \\S+ apply --server-side --field-manager vmsctl-edge-join --force-conflicts -f -';
    expectInOrder(plusLines(r.stdout), [
      new RegExp(`^\\+ ${apply} {2}# stdin: Namespace vmsctl-system$`),
      new RegExp(
        `^\\+ ${apply} {2}# stdin: Secret vmsctl-system/vmsctl-edge-bootstrap \\(token from \\S+/agent-token, values not shown\\)$`,
      ),
      new RegExp(
        `^\\+ ${apply} {2}# stdin: edge-agent\\.yaml \\(image ghcr\\.io/vmsctl/vmsctl:0\\.1\\.0\\)$`,
      ),
      /^\+ kubectl .* -n vmsctl-system rollout status deployment\/vmsctl-edge-agent --timeout 300s$/,
    ]);
    expect(r.stdout + r.stderr).not.toContain('s3cr3t');
    expect(r.stdout).toContain('cloud https://cloud.example.com:6443');
    expect(r.calls).toEqual([]);
    expect(r.after).toEqual(r.before);
  });

  it('refuse bad input with exit 2 before doing anything', async () => {
    const cases: [string, string[], string][] = [
      ['install-k3s.sh', ['--version', '1.31', '--dry-run'], 'is not a k3s release name'],
      ['install-k3s.sh', ['--dry-run'], '--version is required'],
      ['install-k3s.sh', ['--version', VERSION, '--bogus'], 'unknown argument: --bogus'],
      [
        'install-k3s.sh',
        ['--version', VERSION, '--node-name', 'a;b', '--dry-run'],
        'is not a valid node name',
      ],
      [
        'install-k3s.sh',
        ['--version', VERSION, '--air-gapped', '--dry-run'],
        '--air-gapped needs --k3s-binary FILE and --images FILE',
      ],
      [
        'install-k3s.sh',
        ['--version', VERSION, '--token-file', '/nonexistent', '--dry-run'],
        '--token-file /nonexistent: no such readable file',
      ],
      [
        'install-k3s.sh',
        [
          '--version',
          'v1.30.4+k3s1',
          '--air-gapped',
          '--k3s-binary',
          path.join(work, 'k3s'),
          '--images',
          path.join(work, `k3s-airgap-images-${ARCH}.tar.zst`),
          '--dry-run',
        ],
        `is k3s ${VERSION}, but --version asks for v1.30.4+k3s1`,
      ],
      ['join-edge.sh', ['--edge', 'Acme', '--dry-run'], "--edge 'Acme' must be NAMESPACE/NAME"],
      [
        'join-edge.sh',
        [
          '--edge',
          'acme/e',
          '--agent-version',
          '0.1.0',
          '--server',
          'http://x',
          '--ca-file',
          'c',
          '--token-file',
          't',
          '--dry-run',
        ],
        "cloud server 'http://x' is not an https:// URL",
      ],
    ];
    for (const [name, args, message] of cases) {
      const r = await script(name, args);
      expect(r.code, `${name} ${args.join(' ')}`).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stdout).not.toMatch(/^\+ /m);
      expect(r.calls).toEqual([]);
    }
  });
});

describe('install-k3s.sh is idempotent', () => {
  /** A host root where the given install already happened: k3s stub, its unit, its files. */
  async function installed(
    args: string[],
    extra: (hostRoot: string) => Promise<void> = async () => {},
  ) {
    const hostRoot = await mkdtemp(path.join(work, 'installed-'));
    await mkdir(path.join(hostRoot, 'usr/local/bin'), { recursive: true });
    await writeFile(path.join(hostRoot, 'usr/local/bin/k3s'), stubScript('k3s'), { mode: 0o755 });
    await extra(hostRoot);
    // The unit the script wants, exactly as its dry run shows it.
    const first = await script('install-k3s.sh', [...args, '--dry-run'], { root: hostRoot });
    const lines = first.stdout.split('\n');
    const at = lines.findIndex((l) =>
      /^\+ install .*\/etc\/systemd\/system\/k3s\.service /.test(l),
    );
    expect(at).toBeGreaterThanOrEqual(0);
    const unit: string[] = [];
    for (const l of lines.slice(at + 1)) {
      if (!l.startsWith('    | ')) break;
      unit.push(l.slice('    | '.length));
    }
    await mkdir(path.join(hostRoot, 'etc/systemd/system'), { recursive: true });
    await writeFile(path.join(hostRoot, 'etc/systemd/system/k3s.service'), `${unit.join('\n')}\n`);
    return hostRoot;
  }

  it('skips everything when k3s is installed at that version and running', async () => {
    const args = [
      '--version',
      VERSION,
      '--node-name',
      'edge-1',
      '--token-file',
      path.join(work, 'cluster-token'),
    ];
    const hostRoot = await installed(args, async (r) => {
      await mkdir(path.join(r, 'etc/rancher/k3s'), { recursive: true });
      await copyFile(
        path.join(work, 'cluster-token'),
        path.join(r, 'etc/rancher/k3s/cluster-token'),
      );
    });
    const again = await script('install-k3s.sh', [...args, '--dry-run'], {
      root: hostRoot,
      env: { STUB_K3S_RUNNING: '1' },
    });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(
      `= k3s ${VERSION} is already installed at ${hostRoot}/usr/local/bin/k3s: skipped`,
    );
    expect(again.stdout).toContain(
      `= ${hostRoot}/etc/rancher/k3s/cluster-token is up to date: skipped`,
    );
    expect(again.stdout).toContain(
      `= ${hostRoot}/etc/systemd/system/k3s.service is up to date: skipped`,
    );
    expect(again.stdout).toContain('= k3s.service is enabled and running: skipped');
    expect(plusLines(again.stdout)).toEqual([]);
    // Only read-only queries were made.
    expect(again.calls).toEqual([
      'k3s --version',
      'systemctl is-enabled --quiet k3s.service',
      'systemctl is-active --quiet k3s.service',
    ]);
    expect(again.after).toEqual(again.before);

    // Installed but stopped: only starting it is planned.
    const stopped = await script('install-k3s.sh', [...args, '--dry-run'], { root: hostRoot });
    expect(plusLines(stopped.stdout)).toEqual([
      '+ systemctl enable --now k3s.service',
      '+ wait_node_ready 300',
    ]);
    // Another version installed: the pinned one replaces it, and k3s restarts.
    const older = await script('install-k3s.sh', [...args, '--dry-run'], {
      root: hostRoot,
      env: { STUB_K3S_RUNNING: '1', STUB_K3S_VERSION: 'v1.30.0+k3s1' },
    });
    expectInOrder(plusLines(older.stdout), [
      /^\+ curl /,
      /^\+ install -D -m 0755 \S+ \S+\/usr\/local\/bin\/k3s$/,
      /^\+ systemctl restart k3s\.service$/,
    ]);
  });

  it('air-gapped: images already in place are skipped', async () => {
    const images = path.join(work, `k3s-airgap-images-${ARCH}.tar.zst`);
    const args = [
      '--version',
      VERSION,
      '--node-name',
      'edge-1',
      '--air-gapped',
      '--k3s-binary',
      path.join(work, 'k3s'),
      '--images',
      images,
    ];
    const hostRoot = await installed(args, async (r) => {
      await mkdir(path.join(r, 'var/lib/rancher/k3s/agent/images'), { recursive: true });
      await copyFile(
        images,
        path.join(r, `var/lib/rancher/k3s/agent/images/k3s-airgap-images-${ARCH}.tar.zst`),
      );
    });
    const again = await script('install-k3s.sh', [...args, '--dry-run'], {
      root: hostRoot,
      env: { STUB_K3S_RUNNING: '1' },
    });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`k3s-airgap-images-${ARCH}.tar.zst is up to date: skipped`);
    expect(plusLines(again.stdout)).toEqual([]);
  });
});

describe('vmsctl edge provision --dry-run', () => {
  const ssh = (steps: Step[], id: string) => steps.find((s) => s.id === id)!;
  type Step = {
    id: string;
    kind: string;
    command?: string[];
    commandLine?: string;
    stdin?: string;
    description?: string;
  };

  async function plan(args: string[]) {
    await rm(calls, { force: true });
    const r = await vmsctl(['edge', 'provision', ...args, '--dry-run', '--json'], work, {
      PATH: `${stubs}:${process.env.PATH}`,
      VMSCTL_TEST_CALLS: calls,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // Nothing was contacted: the ssh and scp stubs were never called.
    expect(existsSync(calls)).toBe(false);
    return JSON.parse(r.stdout) as { dryRun: boolean; steps: Step[]; [k: string]: unknown };
  }

  it('online: every step with its exact ssh/scp argv', async () => {
    const p = await plan([
      '10.0.0.5',
      '--edge',
      'acme/hq-edge-1',
      '--port',
      '2222',
      '--identity',
      'id_ed25519',
    ]);
    expect(p.dryRun).toBe(true);
    expect(p.steps.map((s) => s.id)).toEqual([
      'preflight',
      'register',
      'stage',
      'copy-scripts',
      'install-k3s',
      'send-server',
      'send-ca',
      'send-token',
      'join',
      'fetch-kubeconfig',
      'cleanup',
    ]);
    const base = [
      '-o',
      'BatchMode=yes',
      '-o',
      'StrictHostKeyChecking=accept-new',
      '-o',
      'ConnectTimeout=20',
      '-o',
      'ServerAliveInterval=30',
      '-i',
      path.join(work, 'id_ed25519'),
      '-o',
      'IdentitiesOnly=yes',
    ];
    expect(ssh(p.steps, 'preflight').command).toEqual([
      'ssh',
      ...base,
      '-p',
      '2222',
      '--',
      'root@10.0.0.5',
      'true',
    ]);
    expect(ssh(p.steps, 'copy-scripts').command).toEqual([
      'scp',
      ...base,
      '-P',
      '2222',
      '--',
      ...[
        'lib.sh',
        'install-k3s.sh',
        'join-edge.sh',
        'edge-agent.yaml',
        'nvidia-device-plugin.yaml',
      ].map((f) => path.join(edgeDir, f)),
      'root@10.0.0.5:.vmsctl/provision/',
    ]);
    expect(ssh(p.steps, 'install-k3s').command!.at(-1)).toBe(
      `bash .vmsctl/provision/install-k3s.sh --version ${VERSION} --node-name hq-edge-1 --tls-san 10.0.0.5`,
    );
    expect(ssh(p.steps, 'register').description).toMatch(
      /^registerEdge\(acme\/hq-edge-1, node hq-edge-1\): creates the edge agent's least-privilege credentials/,
    );
    const token = ssh(p.steps, 'send-token');
    expect(token.command!.at(-1)).toBe('umask 077 && cat > .vmsctl/provision/cloud/token');
    expect(token.stdin).toBe('agent token from registration (not shown)');
    expect(ssh(p.steps, 'join').command!.at(-1)).toBe(
      'bash .vmsctl/provision/join-edge.sh --edge acme/hq-edge-1 --server-file .vmsctl/provision/cloud/server --ca-file .vmsctl/provision/cloud/ca.crt --token-file .vmsctl/provision/cloud/token --agent-version 0.1.0',
    );
    expect(ssh(p.steps, 'fetch-kubeconfig').command!.at(-1)).toBe('cat /etc/rancher/k3s/k3s.yaml');
    expect(ssh(p.steps, 'cleanup').command!.at(-1)).toBe('rm -rf .vmsctl/provision');
    expect(p.kubeconfig).toBe(path.join(work, 'acme-hq-edge-1.kubeconfig'));
    expect(existsSync(path.join(work, 'acme-hq-edge-1.kubeconfig'))).toBe(false);
  });

  it('air-gapped GPU edge over IPv6 with a sudo user: files copied, flags passed, sudo -n', async () => {
    const p = await plan([
      'fd00::5',
      '--edge',
      'acme/gpu-edge',
      '--user',
      'ubuntu',
      '--air-gapped',
      '--k3s-binary',
      'k3s',
      '--images',
      `k3s-airgap-images-${ARCH}.tar.zst`,
      '--gpu',
      '--k3s-version',
      'v1.30.4+k3s1',
      '--agent-version',
      '0.2.0',
    ]);
    expect(p.steps.map((s) => s.id).slice(0, 7)).toEqual([
      'preflight',
      'register',
      'stage',
      'copy-scripts',
      'copy-k3s-binary',
      'copy-images',
      'install-k3s',
    ]);
    expect(ssh(p.steps, 'preflight').command!.slice(-3)).toEqual([
      '--',
      'ubuntu@fd00::5',
      'sudo -n true',
    ]);
    expect(ssh(p.steps, 'copy-k3s-binary').command!.slice(-2)).toEqual([
      path.join(work, 'k3s'),
      'ubuntu@[fd00::5]:.vmsctl/provision/airgap/k3s',
    ]);
    expect(ssh(p.steps, 'copy-images').command!.at(-1)).toBe(
      'ubuntu@[fd00::5]:.vmsctl/provision/airgap/k3s-airgap-images.tar.zst',
    );
    expect(ssh(p.steps, 'install-k3s').command!.at(-1)).toBe(
      'sudo -n bash .vmsctl/provision/install-k3s.sh --version v1.30.4+k3s1 --node-name gpu-edge --tls-san fd00::5 --air-gapped --k3s-binary .vmsctl/provision/airgap/k3s --images .vmsctl/provision/airgap/k3s-airgap-images.tar.zst --gpu',
    );
    expect(ssh(p.steps, 'join').command!.at(-1)).toMatch(
      /^sudo -n bash .*--agent-version 0\.2\.0$/,
    );
    expect(ssh(p.steps, 'fetch-kubeconfig').command!.at(-1)).toBe(
      'sudo -n cat /etc/rancher/k3s/k3s.yaml',
    );
  });

  it('prints the same plan as text', async () => {
    const r = await vmsctl(
      ['edge', 'provision', 'edge-1.example.com', '--edge', 'acme/e1', '--dry-run'],
      work,
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Dry run: nothing is run and the host is not contacted.');
    expect(r.stdout).toMatch(
      / 2\. Register edge acme\/e1 with the cloud {2}\[register\]\n {4}registerEdge\(acme\/e1/,
    );
    expect(r.stdout).toContain(
      "$ ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o ConnectTimeout=20 -o ServerAliveInterval=30 -p 22 -- root@edge-1.example.com 'umask 077 && cat > .vmsctl/provision/cloud/token'  < agent token from registration (not shown)",
    );
  });

  it('refuses bad input with exit 2, a clear message and a next step', async () => {
    const cases: [string[], string][] = [
      [['a;b'], 'host "a;b" contains ";": not a host name or IP address'],
      [['--', '-oProxyCommand=touch /tmp/x'], 'starts with "-", which ssh would read as an option'],
      [['edge 1'], 'host "edge 1" contains a space'],
      [['$(reboot)'], 'host "$(reboot)" contains "$"'],
      [['10.0.0.300'], 'host "10.0.0.300" is not a valid IPv4 address'],
      [['10.0.0.5', '--user', 'root;id'], '--user "root;id" contains ";"'],
      [['10.0.0.5', '--user', '-oX'], '--user "-oX" starts with "-"'],
      [['10.0.0.5', '--port', '0'], '--port "0" is not a port number'],
      [['10.0.0.5', '--port', '65536'], '--port "65536" is not a port number'],
      [['10.0.0.5', '--port', '22x'], '--port "22x" is not a port number'],
      [['10.0.0.5', '--identity', 'missing-key'], '--identity missing-key: no such file'],
      [['10.0.0.5', '--air-gapped'], '--air-gapped needs --k3s-binary FILE and --images FILE'],
      [
        ['10.0.0.5', '--air-gapped', '--k3s-binary', 'k3s', '--images', 'nope.tar.zst'],
        '--images nope.tar.zst: no such file',
      ],
      [
        ['10.0.0.5', '--k3s-binary', 'k3s'],
        '--k3s-binary and --images are for air-gapped installs',
      ],
      [['10.0.0.5', '--k3s-version', 'v1.31.4'], '--k3s-version "v1.31.4" is not a k3s release'],
      [['10.0.0.5', '--k3s-version', 'latest'], '--k3s-version "latest" is not a k3s release'],
    ];
    await rm(calls, { force: true });
    // Flags first: after "--" everything is an argument. Run side by side: each starts Node.
    const results = await Promise.all(
      cases.map(([args]) =>
        vmsctl(['edge', 'provision', '--edge', 'acme/e1', '--dry-run', ...args], work, {
          PATH: `${stubs}:${process.env.PATH}`,
          VMSCTL_TEST_CALLS: calls,
        }),
      ),
    );
    cases.forEach(([args, message], i) => {
      const r = results[i]!;
      expect(r.code, args.join(' ')).toBe(2);
      expect(oneLine(r.stderr)).toContain(message);
      expect(r.stderr).toContain('Try this:');
      expect(r.stdout).toBe('');
    });
    // No ssh or scp was started for any of them.
    expect(existsSync(calls)).toBe(false);
  }, 180_000);

  it('without --dry-run refuses to start when no cloud kubeconfig is found (nothing contacted)', async () => {
    await rm(calls, { force: true });
    const r = await vmsctl(['edge', 'provision', '10.0.0.5', '--edge', 'acme/e1'], work, {
      PATH: `${stubs}:${process.env.PATH}`,
      VMSCTL_TEST_CALLS: calls,
      // No KUBECONFIG and a home without ~/.kube/config: registration has no cloud to use.
      KUBECONFIG: '',
      HOME: work,
    });
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toContain('no kubeconfig for the cloud cluster');
    expect(oneLine(r.stderr)).toContain('Pass --cloud-kubeconfig FILE');
    expect(existsSync(calls)).toBe(false);
  });
});

describe('vmsctl edge join', () => {
  it('--dry-run --json: the plan and join-edge.sh’s own dry-run output', async () => {
    const cloud = path.join(work, 'cloud.kubeconfig');
    await writeFile(cloud, 'apiVersion: v1\nkind: Config\n');
    const r = await vmsctl(
      [
        'edge',
        'join',
        '--edge',
        'acme/hq-edge-1',
        '--cloud-kubeconfig',
        cloud,
        '--node-name',
        'edge-1',
        '--dry-run',
        '--json',
      ],
      work,
      { PATH: `${stubs}:${process.env.PATH}`, VMSCTL_TEST_CALLS: calls },
    );
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      steps: { id: string; command?: string[] }[];
      scriptOutput: string[];
    };
    expect(out.steps.map((s) => s.id)).toEqual([
      'register',
      'write-registration',
      'join',
      'cleanup',
    ]);
    expect(out.steps[2]!.command!.slice(0, 2)).toEqual([
      'bash',
      path.join(edgeDir, 'join-edge.sh'),
    ]);
    expect(out.steps[2]!.command!.at(-1)).toBe('--dry-run');
    expectInOrder(out.scriptOutput, [
      /^\+ kubectl .* apply .*# stdin: Namespace vmsctl-system$/,
      /^\+ kubectl .* apply .*# stdin: Secret vmsctl-system\/vmsctl-edge-bootstrap/,
      /^\+ kubectl .* apply .*# stdin: edge-agent\.yaml \(image ghcr\.io\/vmsctl\/vmsctl:0\.1\.0\)$/,
    ]);
    // The registration folder was neither created nor left behind.
    const dir = out.steps[1] as unknown as { dir: string };
    expect(existsSync(dir.dir)).toBe(false);
  });

  it('refuses a missing cloud kubeconfig and a bad edge with exit 2', async () => {
    const missing = await vmsctl(
      ['edge', 'join', '--edge', 'acme/e1', '--cloud-kubeconfig', 'nope', '--dry-run'],
      work,
    );
    expect(missing.code).toBe(2);
    expect(oneLine(missing.stderr)).toContain('--cloud-kubeconfig nope: no such file');
    const bad = await vmsctl(
      ['edge', 'join', '--edge', 'acme', '--cloud-kubeconfig', 'nope', '--dry-run'],
      work,
    );
    expect(bad.code).toBe(2);
    expect(oneLine(bad.stderr)).toContain('--edge "acme" is not NAMESPACE/NAME of an EdgeServer');
  });
});

describe('executeSteps (the non-dry-run path, with a fake ssh and registrar)', () => {
  const registration: EdgeRegistration = {
    server: 'https://cloud.example.com:6443',
    caData: Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString(
      'base64',
    ),
    token: 'agent-token-s3cr3t',
  };
  const k3sKubeconfig = `apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: Q0E=
    server: https://127.0.0.1:6443
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
users:
- name: default
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
`;

  function options(over: Partial<ProvisionOptions> = {}): ProvisionOptions {
    return {
      target: { host: '10.0.0.5', user: 'root', port: 22 },
      edge: { namespace: 'acme', name: 'hq-edge-1' },
      nodeName: 'hq-edge-1',
      k3sVersion: VERSION,
      agentVersion: '0.1.0',
      gpu: false,
      kubeconfigOut: path.join(work, 'exec.kubeconfig'),
      scriptsDir: edgeDir,
      ...over,
    };
  }

  /** A fake exec that records every call and fails the step whose remote command matches. */
  function fakeExec(failOn?: { match: RegExp; code: number }) {
    const seen: { argv: readonly string[]; input?: string }[] = [];
    const exec: Exec = async (argv, o) => {
      seen.push({ argv, ...(o.input !== undefined ? { input: o.input } : {}) });
      if (failOn && failOn.match.test(argv.at(-1)!)) return { exitCode: failOn.code, stdout: '' };
      return { exitCode: 0, stdout: argv.at(-1)!.endsWith('k3s.yaml') ? k3sKubeconfig : '' };
    };
    return { exec, seen };
  }

  it('runs every step in order; secrets only on stdin; kubeconfig saved 0600 for remote use', async () => {
    const { exec, seen } = fakeExec();
    const requests: EdgeRegistrationRequest[] = [];
    const result = await executeSteps(planProvision(options()), {
      registerEdge: async (req) => {
        requests.push(req);
        return registration;
      },
      dryRun: false,
      log: () => {},
      output: 'capture',
      exec,
    });
    expect(result.ok).toBe(true);
    expect(result.steps.every((s) => s.status === 'done')).toBe(true);
    expect(requests).toEqual([
      { edge: { namespace: 'acme', name: 'hq-edge-1' }, nodeName: 'hq-edge-1', host: '10.0.0.5' },
    ]);
    expect(seen.map((c) => c.argv.at(-1))).toEqual([
      'true',
      'rm -rf .vmsctl/provision && umask 077 && mkdir -p .vmsctl/provision/cloud .vmsctl/provision/airgap',
      'root@10.0.0.5:.vmsctl/provision/',
      `bash .vmsctl/provision/install-k3s.sh --version ${VERSION} --node-name hq-edge-1 --tls-san 10.0.0.5`,
      'umask 077 && cat > .vmsctl/provision/cloud/server',
      'umask 077 && cat > .vmsctl/provision/cloud/ca.crt',
      'umask 077 && cat > .vmsctl/provision/cloud/token',
      expect.stringMatching(/^bash \.vmsctl\/provision\/join-edge\.sh /),
      'cat /etc/rancher/k3s/k3s.yaml',
      'rm -rf .vmsctl/provision',
    ]);
    expect(seen[4]!.input).toBe('https://cloud.example.com:6443\n');
    expect(seen[5]!.input).toBe('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    expect(seen[6]!.input).toBe('agent-token-s3cr3t');
    expect(seen.flatMap((c) => c.argv).join(' ')).not.toContain('s3cr3t');
    const saved = await readFile(path.join(work, 'exec.kubeconfig'), 'utf8');
    expect(saved).toContain('server: https://10.0.0.5:6443');
    expect(saved).toContain('current-context: vmsctl-edge-acme-hq-edge-1');
    expect((await stat(path.join(work, 'exec.kubeconfig'))).mode & 0o777).toBe(0o600);
  });

  it('stops at a failed install, still removes the staged token, and says what to do', async () => {
    const { exec, seen } = fakeExec({ match: /install-k3s\.sh/, code: 1 });
    const result = await executeSteps(planProvision(options()), {
      registerEdge: async () => registration,
      dryRun: false,
      log: () => {},
      output: 'capture',
      exec,
    });
    expect(result.ok).toBe(false);
    expect(result.failure).toMatchObject({
      step: 'install-k3s',
      next: expect.stringContaining('idempotent'),
    });
    expect(result.steps.find((s) => s.id === 'join')!.status).toBe('not run');
    expect(result.steps.find((s) => s.id === 'cleanup')!.status).toBe('done');
    expect(seen.at(-1)!.argv.at(-1)).toBe('rm -rf .vmsctl/provision');
  });

  it('an unreachable host fails at preflight: no registration, no cleanup attempt', async () => {
    const { exec, seen } = fakeExec({ match: /^true$/, code: 255 });
    let registered = false;
    const result = await executeSteps(planProvision(options()), {
      registerEdge: async () => {
        registered = true;
        return registration;
      },
      dryRun: false,
      log: () => {},
      output: 'capture',
      exec,
    });
    expect(result.failure?.message).toContain('could not connect or log in (exit 255)');
    expect(result.failure?.next).toContain('--identity');
    expect(registered).toBe(false);
    expect(seen).toHaveLength(1);
  });

  it('a registration that returns a bad server URL changes nothing on the host', async () => {
    const { exec, seen } = fakeExec();
    const result = await executeSteps(planProvision(options()), {
      registerEdge: async () => ({ ...registration, server: 'http://cloud' }),
      dryRun: false,
      log: () => {},
      output: 'capture',
      exec,
    });
    expect(result.failure).toMatchObject({ step: 'register' });
    expect(result.failure!.message).toContain('not an https:// URL');
    expect(seen.map((c) => c.argv.at(-1))).toEqual(['true']);
  });

  it('join: registration files are private while join-edge.sh runs, and removed after', async () => {
    const workDir = path.join(work, 'join-run');
    const modes: number[] = [];
    const exec: Exec = async (argv) => {
      modes.push((await stat(workDir)).mode & 0o777);
      for (const f of ['server', 'ca.crt', 'token'])
        modes.push((await stat(path.join(workDir, f))).mode & 0o777);
      expect(await readFile(path.join(workDir, 'token'), 'utf8')).toBe('agent-token-s3cr3t');
      expect(argv).toContain(path.join(workDir, 'token'));
      return { exitCode: 0, stdout: '' };
    };
    const plan = planJoin({
      edge: { namespace: 'acme', name: 'hq-edge-1' },
      nodeName: 'edge-1',
      agentVersion: '0.1.0',
      cloudKubeconfig: '/cloud.kubeconfig',
      wait: true,
      dryRun: false,
      scriptsDir: edgeDir,
      workDir,
    });
    const result = await executeSteps(plan, {
      registerEdge: async () => registration,
      dryRun: false,
      log: () => {},
      output: 'capture',
      exec,
    });
    expect(result.ok).toBe(true);
    expect(modes).toEqual([0o700, 0o600, 0o600, 0o600]);
    expect(existsSync(workDir)).toBe(false);
  });
});

/**
 * join-edge.sh for real against a real kube-apiserver (tests/servers/kube.ts): the agent's
 * objects are created, a re-run changes nothing, and the RBAC + admission policy confine the
 * agent to tenant namespaces. No kubelet runs there, so the rollout is not waited for.
 */
const kubectl = (process.env.PATH ?? '')
  .split(':')
  .map((dir) => path.join(dir, 'kubectl'))
  .find((p) => p.startsWith('/') && existsSync(p));
describe.skipIf(!kubectl)('join-edge.sh against a real kube-apiserver', () => {
  let kube: KubeServer;
  let kc: (args: string[]) => Promise<Run>;
  const agent = '--as=system:serviceaccount:vmsctl-system:vmsctl-edge-agent';

  beforeAll(async () => {
    const { startKube } = await import('./servers/kube.js');
    kube = await startKube();
    kc = (args) => run(kubectl!, ['--kubeconfig', kube.kubeconfig, ...args]);
  }, 600_000);
  afterAll(async () => {
    await kube?.stop();
  });

  const join = (tokenFile: string) =>
    run('bash', [
      path.join(edgeDir, 'join-edge.sh'),
      '--edge',
      'acme/hq-edge-1',
      '--server-file',
      path.join(work, 'server'),
      '--ca-file',
      path.join(work, 'ca.crt'),
      '--token-file',
      tokenFile,
      '--agent-version',
      '0.1.0',
      '--kubeconfig',
      kube.kubeconfig,
      '--no-wait',
    ]);
  const versions = async () =>
    (
      await kc([
        'get',
        '-n',
        'vmsctl-system',
        'secret,deployment,serviceaccount',
        '-o',
        'jsonpath={.items[*].metadata.resourceVersion}',
      ])
    ).stdout;

  it('applies the Secret and the agent; a re-run changes nothing; new credentials restart the pod', async () => {
    const first = await join(path.join(work, 'agent-token'));
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const token = await kc([
      'get',
      'secret',
      '-n',
      'vmsctl-system',
      'vmsctl-edge-bootstrap',
      '-o',
      'jsonpath={.data.token}',
    ]);
    expect(Buffer.from(token.stdout, 'base64').toString()).toBe('agent-token-s3cr3t');
    const deploy = JSON.parse(
      (await kc(['get', 'deployment', '-n', 'vmsctl-system', 'vmsctl-edge-agent', '-o', 'json']))
        .stdout,
    ) as {
      spec: {
        template: {
          metadata: { annotations: Record<string, string> };
          spec: { containers: { image: string; command: string[]; env: { value?: string }[] }[] };
        };
      };
    };
    const container = deploy.spec.template.spec.containers[0]!;
    expect(container.image).toBe('ghcr.io/vmsctl/vmsctl:0.1.0');
    expect(container.command).toEqual(['vmsctl', 'edge', 'agent']);
    expect(JSON.stringify(container.env)).not.toContain('s3cr3t');
    const checksum = deploy.spec.template.metadata.annotations['vmsctl.io/bootstrap-checksum'];

    const before = await versions();
    expect((await join(path.join(work, 'agent-token'))).code).toBe(0);
    expect(await versions()).toBe(before);

    const rotated = path.join(work, 'rotated-token');
    await writeFile(rotated, 'another-token\n');
    expect((await join(rotated)).code).toBe(0);
    const after = await kc([
      'get',
      'deployment',
      '-n',
      'vmsctl-system',
      'vmsctl-edge-agent',
      '-o',
      "jsonpath={.spec.template.metadata.annotations['vmsctl\\.io/bootstrap-checksum']}",
    ]);
    expect(after.stdout).not.toBe(checksum);
  });

  it('the agent manages tenant namespaces only', async () => {
    const allowed = async (args: string[]) =>
      expect((await kc([agent, ...args])).code, args.join(' ')).toBe(0);
    const denied = async (args: string[], message: string) => {
      const r = await kc([agent, ...args]);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr).toContain(message);
    };
    const tenantNs = path.join(work, 'tenant-ns.json');
    await writeFile(
      tenantNs,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: 'tenant-a', labels: { 'vmsctl.io/tenant': 'acme' } },
      }),
    );
    await allowed(['apply', '--server-side', '-f', tenantNs]);
    await allowed([
      '-n',
      'tenant-a',
      'create',
      'rolebinding',
      'agent',
      '--clusterrole',
      'vmsctl-edge-tenant',
      '--serviceaccount',
      'vmsctl-system:vmsctl-edge-agent',
    ]);
    await allowed(['-n', 'tenant-a', 'create', 'configmap', 'c', '--from-literal', 'a=b']);
    await allowed(['create', 'priorityclass', 'vmsctl-test-critical', '--value', '1000']);
    await denied(
      ['create', 'namespace', 'unlabelled'],
      'manages only namespaces labelled vmsctl.io/tenant',
    );
    await denied(
      ['label', 'namespace', 'kube-system', 'vmsctl.io/tenant=x'],
      'manages only namespaces labelled vmsctl.io/tenant',
    );
    await denied(
      [
        '-n',
        'kube-system',
        'create',
        'rolebinding',
        'agent',
        '--clusterrole',
        'vmsctl-edge-tenant',
        '--serviceaccount',
        'vmsctl-system:vmsctl-edge-agent',
      ],
      'binds roles only in namespaces labelled vmsctl.io/tenant',
    );
    await denied(
      ['-n', 'kube-system', 'create', 'configmap', 'c', '--from-literal', 'a=b'],
      'forbidden',
    );
    await denied(['get', 'secrets', '-A'], 'forbidden');
  });
});
