import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import {
  CORE,
  heartbeatLeaseName,
  CONTROLLERS_NAME,
  VMS,
  type HeartbeatLease,
  type KubeClient,
  type KubeObject,
} from '../controllers/index.js';
import { caPem, defaultRegisterEdge } from '../cli/edge-provision/index.js';
import { editFile, exampleFiles, PATHS } from './fixtures/fleet.js';
import { startKube, type KubeServer } from './servers/kube.js';
import { waitFor, writeFleet } from './fixtures/gitops.js';

/**
 * vmsctl against a real kube-apiserver: install, apply, plan --cluster, get/describe
 * --cluster, controllers run (as the ServiceAccount install creates, so its RBAC is what is
 * tested) and the edge agent. Runs the built CLI (npm run build first), like tests/cli.test.ts.
 */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin/run.js');
const SA = `system:serviceaccount:vmsctl-system:${CONTROLLERS_NAME}`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd: work, env: { ...process.env, ...env }, maxBuffer: 16 << 20 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The built vmsctl; the license window of the example fleet is checked against VMSCTL_NOW. */
const vmsctl = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  run(process.execPath, [bin, ...args], { CI: '1', VMSCTL_NOW: '2026-06-01', ...env });

const oneLine = (text: string) => text.replace(/\s*›\s*/g, ' ').replace(/\s+/g, ' ');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** A long-running vmsctl command; `exited` resolves with its exit code (or signal). */
function start(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: work,
    env: { ...process.env, CI: '1', VMSCTL_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout!.resume();
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return { child, exited, stderr: () => stderr };
}

/** A kubeconfig for the same server with another bearer token. */
async function tokenKubeconfig(file: string, token: string): Promise<void> {
  const admin = parse(await readFile(server.kubeconfig, 'utf8')) as {
    users: { user: Record<string, string> }[];
  };
  admin.users[0]!.user = { token };
  await writeFile(file, stringify(admin), { mode: 0o600 });
}

interface ApplyJson {
  summary: Record<'created' | 'configured' | 'unchanged' | 'failed' | 'pruned', number>;
  kinds: Record<string, Record<string, number>>;
  takeovers: { id: string; managers: string[] }[];
  pruned: string[];
  writes: number;
}

let server: KubeServer;
let admin: KubeClient;
let work: string;
let fleet: string;
let kc: string[];
const children: ChildProcess[] = [];

beforeAll(async () => {
  server = await startKube();
  admin = server.client();
  work = await mkdtemp(path.join(tmpdir(), 'vmsctl-cli-cluster-'));
  fleet = path.join(work, 'fleet');
  await writeFleet(fleet, exampleFiles());
  kc = ['--kubeconfig', server.kubeconfig];
}, 600_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  admin?.close();
  await server?.stop();
  if (work) await rm(work, { recursive: true, force: true });
}, 120_000);

describe('vmsctl install', () => {
  it('before install, apply says vmsctl is not installed (exit 2) and writes nothing', async () => {
    const r = await vmsctl(['apply', fleet, ...kc]);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toContain('vmsctl is not installed in the cluster');
    expect(oneLine(r.stderr)).toContain('vmsctl install');
    expect(await admin.get(CORE.Namespace, { name: 'acme' })).toBeUndefined();
  });

  it('a dry run checks everything and stores nothing', async () => {
    const r = await vmsctl(['install', ...kc, '--dry-run', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { dryRun: boolean; summary: Record<string, number> };
    expect(out.dryRun).toBe(true);
    expect(out.summary.created).toBe(16);
    expect(
      await admin.get(CORE.CustomResourceDefinition, { name: 'cameras.vmsctl.io' }),
    ).toBeUndefined();
    expect(await admin.get(CORE.Namespace, { name: 'vmsctl-system' })).toBeUndefined();
  });

  it('installs CRDs, namespace, RBAC and the Deployment; a second run changes nothing', async () => {
    const first = await vmsctl(['install', ...kc, '--json']);
    expect(first.code, first.stderr).toBe(0);
    const a = JSON.parse(first.stdout) as {
      summary: Record<string, number>;
      objects: { id: string }[];
    };
    expect(a.summary).toEqual({ created: 16, configured: 0, unchanged: 0 });
    expect(a.objects.map((o) => o.id)).toEqual(
      expect.arrayContaining([
        'CustomResourceDefinition/cameras.vmsctl.io',
        'ClusterRole/vmsctl-controllers',
        'ClusterRoleBinding/vmsctl-controllers',
        'Role/vmsctl-system/vmsctl-controllers',
        'Deployment/vmsctl-system/vmsctl-controllers',
        'Service/vmsctl-system/vmsctl-controllers',
      ]),
    );
    const second = await vmsctl(['install', ...kc, '--json']);
    expect(JSON.parse(second.stdout).summary).toEqual({ created: 0, configured: 0, unchanged: 16 });

    for (const plural of ['cameras', 'fleetsyncs', 'edgereleases']) {
      const crd = await admin.get<KubeObject & { status: { conditions: { type: string }[] } }>(
        CORE.CustomResourceDefinition,
        { name: `${plural}.vmsctl.io` },
      );
      expect(crd?.status.conditions.map((c) => c.type)).toContain('Established');
    }
    const deployment = await admin.get<KubeObject & { spec: Record<string, never> }>(
      CORE.Deployment,
      { namespace: 'vmsctl-system', name: CONTROLLERS_NAME },
    );
    const spec = deployment!.spec as unknown as {
      replicas: number;
      template: { spec: { serviceAccountName: string; containers: Record<string, unknown>[] } };
    };
    expect(spec.replicas).toBe(2);
    expect(spec.template.spec.serviceAccountName).toBe(CONTROLLERS_NAME);
    const container = spec.template.spec.containers[0]!;
    expect(container['image']).toBe('ghcr.io/vmsctl/vmsctl:0.1.0');
    expect(container['command']).toEqual(['vmsctl', 'controllers', 'run']);
    expect(container['readinessProbe']).toBeDefined();
    expect(container['resources']).toBeDefined();
    const managers = deployment!.metadata.managedFields!.map((m) => m.manager);
    expect(managers).toContain('vmsctl-install');

    // The generated copy in manifests/install is what install applied: kubectl sees no diff.
    const diff = await run('/usr/bin/kubectl', [
      'diff',
      '--server-side',
      '--field-manager=vmsctl-install',
      '--force-conflicts',
      '-f',
      path.join(root, 'manifests/install/controllers.yaml'),
      '--kubeconfig',
      server.kubeconfig,
    ]);
    expect(diff.stdout + diff.stderr).toBe('');
    expect(diff.code).toBe(0);

    // A dry run with another image says the Deployment would change, and changes nothing.
    const dry = await vmsctl(['install', ...kc, '--dry-run', '--image', 'reg.example/vmsctl:9']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/Deployment\/vmsctl-system\/vmsctl-controllers\s+configured/);
    const after = await admin.get(CORE.Deployment, {
      namespace: 'vmsctl-system',
      name: CONTROLLERS_NAME,
    });
    expect(after!.metadata.resourceVersion).toBe(deployment!.metadata.resourceVersion);
  }, 120_000);

  it('sizes the controllers to --memory and refuses a size that is not one', async () => {
    const deployment = () =>
      admin.get<KubeObject & { spec: { template: { spec: { containers: Container[] } } } }>(
        CORE.Deployment,
        { namespace: 'vmsctl-system', name: CONTROLLERS_NAME },
      );
    type Container = { env: { name: string; value: string }[]; resources: unknown };
    const sizing = async () => {
      const c = (await deployment())!.spec.template.spec.containers[0]!;
      return {
        heap: c.env.find((e) => e.name === 'NODE_OPTIONS')?.value,
        arenas: c.env.find((e) => e.name === 'MALLOC_ARENA_MAX')?.value,
        resources: c.resources,
      };
    };
    // What a container of `limit` gets: a quarter of it as heap cap and memory request.
    const sized = (heapMB: number, limit: string) => ({
      heap: `--max-old-space-size=${heapMB} --max-semi-space-size=8`,
      arenas: '2',
      resources: {
        requests: { cpu: '100m', memory: `${heapMB}Mi` },
        limits: { cpu: '1', memory: limit },
      },
    });
    expect(await sizing()).toEqual(sized(256, '1Gi'));
    const bigger = await vmsctl(['install', ...kc, '--memory', '3Gi', '--json']);
    expect(bigger.code, bigger.stderr).toBe(0);
    expect(JSON.parse(bigger.stdout).summary).toEqual({ created: 0, configured: 1, unchanged: 15 });
    expect(await sizing()).toEqual(sized(768, '3Gi'));

    const before = (await deployment())!.metadata.resourceVersion;
    for (const [memory, why] of [
      ['lots', 'is not a Kubernetes memory quantity'],
      ['100Mi', 'is below 256Mi'],
      ['512m', 'is not a whole number of bytes'],
      ['1Ti', 'is above 64Gi'],
    ]) {
      const r = await vmsctl(['install', ...kc, '--memory', memory!]);
      expect({ memory, code: r.code }).toEqual({ memory, code: 2 });
      expect(oneLine(r.stderr)).toContain(`--memory "${memory}" ${why}`);
      expect(oneLine(r.stderr)).toContain('e.g. --memory 2Gi');
    }
    expect((await deployment())!.metadata.resourceVersion).toBe(before);

    const back = await vmsctl(['install', ...kc, '--json']);
    expect(JSON.parse(back.stdout).summary).toEqual({ created: 0, configured: 1, unchanged: 15 });
    expect((await sizing()).heap).toBe('--max-old-space-size=256 --max-semi-space-size=8');
  }, 120_000);

  it("the controllers' ServiceAccount may do what they need and nothing more", async () => {
    const can = async (...args: string[]) => {
      const r = await run('/usr/bin/kubectl', [
        'auth',
        'can-i',
        ...args,
        '--as',
        SA,
        '--kubeconfig',
        server.kubeconfig,
      ]);
      return r.stdout.trim();
    };
    const checks: [string[], string][] = [
      [['watch', 'cameras.vmsctl.io', '--all-namespaces'], 'yes'],
      [['patch', 'cameras.vmsctl.io', '--subresource', 'status', '-n', 'acme'], 'yes'],
      [['delete', 'namespaces'], 'yes'],
      [['get', 'secrets', '-n', 'vmsctl-system'], 'yes'],
      [['update', 'leases', '-n', 'vmsctl-system'], 'yes'],
      [['escalate', 'roles/vmsctl-admin', '-n', 'acme'], 'yes'],
      // Denied: tenant Secrets, listing Secrets, other roles, workloads, other CRDs.
      [['get', 'secrets', '-n', 'acme'], 'no'],
      [['list', 'secrets', '-n', 'vmsctl-system'], 'no'],
      [['escalate', 'roles/cluster-admin-ish', '-n', 'acme'], 'no'],
      [['create', 'deployments', '-n', 'acme'], 'no'],
      [['update', 'leases', '-n', 'kube-system'], 'no'],
      [['patch', 'customresourcedefinitions/widgets.example.com'], 'no'],
    ];
    const answers = await Promise.all(checks.map(([args]) => can(...args)));
    expect(answers).toEqual(checks.map(([, want]) => want));
  });
});

describe('vmsctl apply and plan --cluster', () => {
  it('applies the example fleet: counts per kind', async () => {
    const r = await vmsctl(['apply', fleet, ...kc, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as ApplyJson;
    expect(out.summary).toEqual({
      created: 17,
      configured: 0,
      unchanged: 0,
      failed: 0,
      pruned: 0,
    });
    expect(out.kinds['Camera']).toEqual({ created: 3, configured: 0, unchanged: 0, failed: 0 });
    expect(out.kinds['AIModel']!['created']).toBe(10);
    expect(out.kinds['Namespace']!['created']).toBe(1);
    const cam = await admin.get(VMS['Camera']!, { namespace: 'acme', name: 'entrance-cam' });
    expect(cam!.metadata.labels!['vmsctl.io/applied-by']).toBe('vmsctl-apply');
    expect(cam!.metadata.managedFields!.map((m) => m.manager)).toContain('vmsctl-apply');
  });

  it('a second apply leaves everything unchanged and writes nothing', async () => {
    const r = await vmsctl(['apply', fleet, ...kc, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as ApplyJson;
    expect(out.summary).toMatchObject({ created: 0, configured: 0, unchanged: 17, failed: 0 });
    expect(out.writes).toBe(0);
    // The text form, with KUBECONFIG instead of --kubeconfig.
    const text = await vmsctl(['apply', fleet], { KUBECONFIG: server.kubeconfig });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^Camera\s+0\s+0\s+3\s+0$/m);
    expect(text.stdout).toContain('0 created, 0 configured, 17 unchanged, 0 failed');
  });

  it('plan --cluster: exit 0 without changes, 1 with the changed field', async () => {
    const same = await vmsctl(['plan', fleet, '--cluster', ...kc]);
    expect(same.stderr).toBe('');
    expect(same.code).toBe(0);
    expect(same.stdout).toContain('No changes: the fleet matches cluster https://127.0.0.1:');

    const edited = path.join(work, 'edited');
    await writeFleet(
      edited,
      editFile(exampleFiles(), PATHS.cameras, 'bitrate: 4Mbps', 'bitrate: 6Mbps'),
    );
    const changed = await vmsctl(['plan', edited, '--cluster', ...kc]);
    expect(changed.code, changed.stderr).toBe(1);
    expect(changed.stdout).toMatch(/~ update Camera\/acme\/entrance-cam/);
    expect(changed.stdout).toContain('~ spec.streams.main.bitrate: "4Mbps" → "6Mbps"');
    expect(changed.stdout).toContain('Plan: 0 to create, 1 to update, 0 to delete.');
    const json = await vmsctl(['plan', edited, '--cluster', ...kc, '--json']);
    expect(json.code).toBe(1);
    const plan = JSON.parse(json.stdout) as {
      summary: Record<string, number>;
      changes: { key: string; fields: { path: string; from: unknown; to: unknown }[] }[];
    };
    expect(plan.summary).toMatchObject({ create: 0, update: 1, delete: 0 });
    expect(plan.changes[0]!.fields).toEqual([
      { path: 'spec.streams.main.bitrate', op: 'replace', from: '4Mbps', to: '6Mbps' },
    ]);
    // Nothing was written by the dry runs.
    const cam = await admin.get<KubeObject & { spec: { streams: { main: { bitrate: string } } } }>(
      VMS['Camera']!,
      { namespace: 'acme', name: 'entrance-cam' },
    );
    expect(cam!.spec.streams.main.bitrate).toBe('4Mbps');
  });

  it('an invalid fleet: plan --cluster exits 2 (like flux diff), apply exits 1, nothing applied', async () => {
    const invalid = path.join(work, 'invalid');
    await writeFleet(
      invalid,
      editFile(exampleFiles(), PATHS.cameras, 'bitrate: 4Mbps', 'bitrate: lots'),
    );
    const plan = await vmsctl(['plan', invalid, '--cluster', ...kc]);
    expect(plan.code).toBe(2);
    expect(plan.stderr).toMatch(/cameras\.yaml:\d+:\d+\s+error/);
    expect(oneLine(plan.stderr)).toContain('has errors; nothing was planned');
    const apply = await vmsctl(['apply', invalid, ...kc]);
    expect(apply.code).toBe(1);
    expect(apply.stdout).toMatch(/cameras\.yaml:\d+:\d+\s+error/);
    expect(apply.stdout).toContain('nothing was applied');
    const again = JSON.parse((await vmsctl(['apply', fleet, ...kc, '--json'])).stdout) as ApplyJson;
    expect(again.writes).toBe(0);
  });

  it('apply takes back a field another manager changed and says from whom', async () => {
    const alice = `apiVersion: vmsctl.io/v1alpha1
kind: Camera
metadata:
  name: lobby-cam
  namespace: acme
spec:
  streams:
    main:
      fps: 10
`;
    const file = path.join(work, 'alice.yaml');
    await writeFile(file, alice);
    const k = await run('/usr/bin/kubectl', [
      'apply',
      '--server-side',
      '--field-manager=alice',
      '--force-conflicts',
      '-f',
      file,
      '--kubeconfig',
      server.kubeconfig,
    ]);
    expect(k.code, k.stderr).toBe(0);
    const plan = await vmsctl(['plan', fleet, '--cluster', ...kc]);
    expect(plan.code).toBe(1);
    expect(plan.stdout).toContain('~ spec.streams.main.fps: 10 → 20');
    expect(plan.stderr).toContain('Camera/acme/lobby-cam takes fields over from alice');

    const r = await vmsctl(['apply', fleet, ...kc, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as ApplyJson;
    expect(out.takeovers).toEqual([{ id: 'Camera/acme/lobby-cam', managers: ['alice'] }]);
    expect(out.summary).toMatchObject({ configured: 1, unchanged: 16 });
    const cam = await admin.get<KubeObject & { spec: { streams: { main: { fps: number } } } }>(
      VMS['Camera']!,
      { namespace: 'acme', name: 'lobby-cam' },
    );
    expect(cam!.spec.streams.main.fps).toBe(20);
    const text = await vmsctl(['plan', fleet, '--cluster', ...kc]);
    expect(text.code).toBe(0);
  });
});

describe('the controllers and the edge agent', () => {
  let controllers: ReturnType<typeof start>;

  it('controllers run, as the ServiceAccount vmsctl install made, reconciles the applied fleet', async () => {
    const token = await admin.create<KubeObject & { status: { token: string } }>(
      CORE.ServiceAccount,
      {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        metadata: { name: CONTROLLERS_NAME, namespace: 'vmsctl-system' },
        spec: { expirationSeconds: 3600 },
      },
      '/token',
    );
    const saKubeconfig = path.join(work, 'controllers.kubeconfig');
    await tokenKubeconfig(saKubeconfig, token.status.token);
    const health = await freePort();
    controllers = start([
      'controllers',
      'run',
      '--kubeconfig',
      saKubeconfig,
      '--cache-dir',
      path.join(work, 'cache'),
      '--health-port',
      String(health),
    ]);
    await waitFor('controllers running', async () =>
      controllers.stderr().includes('controllers running'),
    );
    const ready = await fetch(`http://127.0.0.1:${health}/readyz`);
    expect(ready.status).toBe(200);
    // The tenant controller writes tenant Roles it may escalate/bind, not hold: it works.
    await waitFor(
      'tenant provisioned',
      async () => {
        const r = await vmsctl(['get', 'tenants', '--cluster', ...kc]);
        return /acme .*True\s+Provisioned/.test(r.stdout);
      },
      60_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${controllers.stderr().slice(-3000)}`);
    });
    expect(controllers.stderr()).not.toMatch(/forbidden/i);
  }, 120_000);

  it('get/describe --cluster show conditions, placement and models', async () => {
    const cams = await waitFor('cameras placed', async () => {
      const r = await vmsctl(['get', 'cameras', '--cluster', ...kc, '--json']);
      const items = (JSON.parse(r.stdout) as { items: KubeObject[] }).items;
      return (
        items.length === 3 &&
        items.every((c) => (c.status as { edgeServer?: string } | undefined)?.edgeServer) &&
        items
      );
    });
    expect(cams[0]!.metadata.managedFields).toBeUndefined();
    const table = await vmsctl(['get', 'cameras', '--cluster', ...kc, '-n', 'acme']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(
      /^NAMESPACE\s+NAME\s+SITE\s+ZONE\s+RESOLUTION\s+EDGE\s+READY\s+REASON\s+MODELS\s+AGE$/,
    );
    expect(table.stdout).toMatch(
      /acme\s+entrance-cam\s+hq\s+\S+\s+1920x1080\s+hq-edge-1\s+False\s+EdgeNotReady\s+\S*anpr/,
    );

    const d = await vmsctl(['describe', 'camera/acme/entrance-cam', '--cluster', ...kc]);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toContain('Camera/acme/entrance-cam');
    expect(d.stdout).toMatch(/Conditions:\n\s+TYPE\s+STATUS\s+REASON\s+AGE\s+MESSAGE/);
    expect(d.stdout).toMatch(/Ready\s+False\s+EdgeNotReady\s+\d+[smhd]\s+edge server hq-edge-1/);
    expect(d.stdout).toMatch(/Scheduled\s+True/);
    expect(d.stdout).toContain('edge server: hq-edge-1');
    expect(d.stdout).toMatch(/active models: .*anpr/);
    expect(d.stdout).toMatch(/Managed by: .*vmsctl-apply/);
    // A bare name is found in whichever namespace has it.
    const bare = await vmsctl(['describe', 'camera/entrance-cam', '--cluster', ...kc, '--json']);
    const j = JSON.parse(bare.stdout) as { key: string; conditions: { type: string }[] };
    expect(j.key).toBe('Camera/acme/entrance-cam');
    expect(j.conditions.map((c) => c.type)).toContain('Ready');

    const missing = await vmsctl(['describe', 'camera/acme/nope', '--cluster', ...kc]);
    expect(missing.code).toBe(2);
    expect(oneLine(missing.stderr)).toContain('Camera "acme/nope" not found');
    const folderOnly = await vmsctl(['get', 'fleetsyncs', '--dir', fleet]);
    expect(folderOnly.code).toBe(2);
    expect(oneLine(folderOnly.stderr)).toContain('add --cluster');
  }, 120_000);

  it('FleetSyncs: revisions and inventory in get and describe --cluster', async () => {
    await admin.apply(
      VMS['FleetSync']!,
      {
        metadata: { name: 'main' },
        spec: { url: `file://${path.join(work, 'no-such-repo')}`, interval: '1h' },
      },
      { fieldManager: 'test' },
    );
    const r = await waitFor('FleetSync status', async () => {
      const g = await vmsctl(['get', 'fleetsyncs', '--cluster', ...kc]);
      return /main\s+file:\/\/\S+\s+.*False/.test(g.stdout) && g;
    });
    expect(r.stdout.split('\n')[0]).toMatch(/NAME\s+URL\s+REVISION\s+.*READY\s+REASON\s+INVENTORY/);
    const d = await vmsctl(['describe', 'fs/main', '--cluster', ...kc]);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toContain('Revisions:');
    expect(d.stdout).toContain('last applied: none');
    expect(d.stdout).toContain('inventory: 0 object(s)');
    expect(d.stdout).toMatch(/Ready\s+False/);
    await admin.delete(VMS['FleetSync']!, { name: 'main' });
  }, 120_000);

  it('controllers run stops on SIGTERM within a few seconds, exit 0', async () => {
    const t0 = Date.now();
    controllers.child.kill('SIGTERM');
    expect(await controllers.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(controllers.stderr()).toContain('controllers stopped');
  });

  it('edge agent: missing or conflicting credentials and a bad --edge exit 2', async () => {
    const cases: [string[], string][] = [
      [['edge', 'agent'], 'the edge agent needs credentials for the cloud cluster'],
      [['edge', 'agent', '--cloud-credentials', path.join(work, 'nope')], 'no such folder'],
      [
        ['edge', 'agent', '--cloud-credentials', work, '--cloud-kubeconfig', server.kubeconfig],
        'Pass one of them',
      ],
      [
        ['edge', 'agent', '--cloud-kubeconfig', server.kubeconfig, '--edge', 'acme'],
        '--edge "acme" is not NAMESPACE/NAME',
      ],
      [['edge', 'agent', '--cloud-kubeconfig', server.kubeconfig], 'Pass --edge NAMESPACE/NAME'],
      [
        ['edge', 'agent', '--cloud-server', 'http://cloud', '--edge', 'acme/hq-edge-1'],
        '--cloud-server, --cloud-ca-file and --cloud-token-file go together',
      ],
    ];
    const results = await Promise.all(cases.map(([args]) => vmsctl(args)));
    results.forEach((r, i) => {
      expect(r.code, cases[i]![0].join(' ')).toBe(2);
      expect(oneLine(r.stderr)).toContain(cases[i]![1]);
      expect(r.stderr).toContain('Try this:');
    });
  }, 60_000);

  it('edge agent with registered credentials (the bootstrap Secret layout) heartbeats; SIGTERM stops it', async () => {
    // Registration as `vmsctl edge join` does it, through the CLI's wired registrar.
    const reg = await defaultRegisterEdge({
      edge: { namespace: 'acme', name: 'hq-edge-1' },
      nodeName: 'edge-1',
      cloudKubeconfig: server.kubeconfig,
    });
    // The folder holds the keys join-edge.sh puts in the vmsctl-edge-bootstrap Secret.
    const joinScript = await readFile(path.join(root, 'manifests/edge/join-edge.sh'), 'utf8');
    const secretKeys = [...joinScript.matchAll(/^ {2}([a-z.-]+): \$\(b64 /gm)].map((m) => m[1]);
    expect(secretKeys).toEqual(['server', 'ca.crt', 'token', 'edge-namespace', 'edge-name']);
    const creds = path.join(work, 'bootstrap');
    await mkdir(creds, { mode: 0o700 });
    const values: Record<string, string> = {
      server: reg.server,
      'ca.crt': caPem(reg.caData),
      token: reg.token,
      'edge-namespace': 'acme',
      'edge-name': 'hq-edge-1',
    };
    for (const key of secretKeys) await writeFile(path.join(creds, key!), values[key!]!);

    // The edge cluster is the same apiserver here: what matters is the cloud side.
    const agent = start([
      'edge',
      'agent',
      '--cloud-credentials',
      creds,
      '--kubeconfig',
      server.kubeconfig,
      '--heartbeat-seconds',
      '1',
    ]);
    await waitFor('edge agent running', async () =>
      agent.stderr().includes('edge agent running'),
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${agent.stderr()}`);
    });
    // It renews its Lease with the registered token (which may patch only that Lease) and
    // says once in the EdgeServer status what it runs.
    const renewTime = async () =>
      (
        await admin.get<HeartbeatLease>(CORE.Lease, {
          namespace: 'acme',
          name: heartbeatLeaseName('hq-edge-1'),
        })
      )?.spec?.renewTime;
    const first = await waitFor('heartbeat Lease renewed', renewTime);
    await waitFor('heartbeat Lease renewed again', async () => (await renewTime()) !== first);
    const edge = await admin.get(VMS['EdgeServer']!, { namespace: 'acme', name: 'hq-edge-1' });
    expect((edge?.status as { agent?: { version?: string } }).agent?.version).toBeTruthy();
    const t0 = Date.now();
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5_000);
    // Stopped, so the Lease holds its last renewal: describe shows it.
    const described = await vmsctl(['describe', 'edgeserver/acme/hq-edge-1', '--cluster', ...kc]);
    expect(described.code, described.stderr).toBe(0);
    expect(described.stdout).toContain(`last heartbeat: ${await renewTime()}`);
    expect(described.stdout).toMatch(/runs: vmsctl \S+, Kubernetes v\d/);

    // As the edge's Deployment runs it: no flags, the environment of edge-agent.yaml, with
    // its secretKeyRefs resolved and its mount path pointing at the folder.
    const manifest = parseAllDocuments(
      await readFile(path.join(root, 'manifests/edge/edge-agent.yaml'), 'utf8'),
    )
      .map((d) => d.toJS() as { kind: string; spec?: unknown })
      .find((d) => d.kind === 'Deployment') as unknown as {
      spec: {
        template: {
          spec: {
            containers: {
              command: string[];
              env: {
                name: string;
                value?: string;
                valueFrom?: { secretKeyRef: { name: string; key: string } };
              }[];
              volumeMounts: { name: string; mountPath: string }[];
            }[];
          };
        };
      };
    };
    const container = manifest.spec.template.spec.containers[0]!;
    expect(container.command).toEqual(['vmsctl', 'edge', 'agent']);
    const mount = container.volumeMounts.find((m) => m.name === 'bootstrap')!.mountPath;
    const env: NodeJS.ProcessEnv = {};
    for (const e of container.env) {
      const ref = e.valueFrom?.secretKeyRef;
      if (ref) {
        expect(ref.name).toBe('vmsctl-edge-bootstrap');
        expect(secretKeys).toContain(ref.key);
        env[e.name] = values[ref.key]!;
      } else {
        expect(e.value!.startsWith(`${mount}/`)).toBe(true);
        expect(secretKeys).toContain(path.basename(e.value!));
        env[e.name] = path.join(creds, path.basename(e.value!));
      }
    }
    const deployed = start(['edge', 'agent', '--kubeconfig', server.kubeconfig], env);
    await waitFor('edge agent running from its environment', async () =>
      deployed.stderr().includes('edge agent running'),
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${deployed.stderr()}`);
    });
    deployed.child.kill('SIGTERM');
    expect(await deployed.exited).toBe(0);

    // A token the cloud refuses fails fast with exit 2 and a next step.
    await writeFile(path.join(creds, 'token'), 'not-a-token');
    const refused = await vmsctl([
      'edge',
      'agent',
      '--cloud-credentials',
      creds,
      '--kubeconfig',
      server.kubeconfig,
    ]);
    expect(refused.code).toBe(2);
    expect(oneLine(refused.stderr)).toContain('refused the credentials (401 Unauthorized)');
  }, 120_000);
});

describe('vmsctl apply --prune', () => {
  it('deletes what left the folder and was applied by vmsctl apply, nothing else', async () => {
    // Someone else's camera in the same namespace: not labelled as ours, never pruned.
    await admin.apply(
      VMS['Camera']!,
      {
        metadata: { name: 'hand-made', namespace: 'acme' },
        spec: (await admin.get(VMS['Camera']!, { namespace: 'acme', name: 'storage-cam' }))!.spec,
      },
      { fieldManager: 'bob' },
    );
    const files = exampleFiles().map((f) =>
      f.path === PATHS.cameras
        ? {
            ...f,
            text: f.text
              .split(/^---\n/m)
              .filter((d) => !/^ {2}name: storage-cam$/m.test(d))
              .join('---\n'),
          }
        : f,
    );
    const smaller = path.join(work, 'smaller');
    await writeFleet(smaller, files);
    const plan = await vmsctl(['plan', smaller, '--cluster', ...kc]);
    expect(plan.code).toBe(1);
    expect(plan.stdout).toContain('- delete Camera/acme/storage-cam');
    expect(plan.stdout).not.toContain('hand-made');
    const dry = await vmsctl(['apply', smaller, ...kc, '--prune', '--dry-run', '--json']);
    expect((JSON.parse(dry.stdout) as ApplyJson).pruned).toEqual(['Camera/acme/storage-cam']);
    expect(
      await admin.get(VMS['Camera']!, { namespace: 'acme', name: 'storage-cam' }),
    ).toBeDefined();
    // Without --prune nothing is deleted.
    const kept = JSON.parse(
      (await vmsctl(['apply', smaller, ...kc, '--json'])).stdout,
    ) as ApplyJson;
    expect(kept.pruned).toEqual([]);
    const r = await vmsctl(['apply', smaller, ...kc, '--prune']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Pruned Camera/acme/storage-cam');
    await waitFor(
      'storage-cam deleted',
      async () => !(await admin.get(VMS['Camera']!, { namespace: 'acme', name: 'storage-cam' })),
    );
    expect(await admin.get(VMS['Camera']!, { namespace: 'acme', name: 'hand-made' })).toBeDefined();
    const after = await vmsctl(['plan', smaller, '--cluster', ...kc]);
    expect(after.code).toBe(0);
  }, 120_000);
});
