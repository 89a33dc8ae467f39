import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cloudClient,
  createControlPlane,
  createLogger,
  CORE,
  EdgeAgent,
  findCondition,
  installCrds,
  heartbeatLeaseName,
  microTime,
  registerEdgeAgent,
  VMS,
  type ControlPlane,
  type KubeClient,
  type KubeObject,
} from '../controllers/index.js';
import { exampleFiles, NOW } from './fixtures/fleet.js';
import { startKube, type KubeServer } from './servers/kube.js';
import { git, waitFor, writeFleet } from './fixtures/gitops.js';

const log = createLogger({}, { level: (process.env['VMSCTL_LOG_LEVEL'] as 'debug') ?? 'warn' });

type Cond = { type: string; status: string; reason: string; message: string };
const cond = (o: KubeObject | undefined, type: string) =>
  findCondition((o?.status as { conditions?: Cond[] } | undefined)?.conditions as never, type) as
    Cond | undefined;

describe('GitOps end to end: fleet repo → cloud apiserver → edge apiserver', () => {
  let cloud: KubeServer;
  let edge: KubeServer;
  let admin: KubeClient;
  let repo: string;
  let work: string;
  let plane: ControlPlane;
  let agent: EdgeAgent | undefined;

  beforeAll(async () => {
    [cloud, edge] = await Promise.all([startKube(), startKube()]);
    admin = cloud.client();
    await installCrds(admin);
    work = await mkdtemp(path.join(tmpdir(), 'vmsctl-gitops-'));
    repo = path.join(work, 'fleet');
    await mkdir(repo);
    git(repo, 'init', '-q', '-b', 'main');
    await writeFleet(repo, exampleFiles());
    git(repo, 'add', '-A');
    git(repo, 'commit', '-q', '-m', 'fleet');
    await admin.apply(
      CORE.Namespace,
      { metadata: { name: 'vmsctl-system' } },
      { fieldManager: 'test' },
    );
    plane = await createControlPlane({
      client: cloud.client('vmsctl-controllers'),
      log,
      cacheDir: path.join(work, 'cache'),
      now: () => NOW,
    });
    await plane.manager.start();
    await admin.apply(
      VMS['FleetSync']!,
      {
        metadata: { name: 'main' },
        spec: { url: `file://${repo}`, ref: { branch: 'main' }, interval: '1h' },
      },
      { fieldManager: 'test' },
    );
  }, 600_000);

  afterAll(async () => {
    await agent?.stop();
    await plane?.manager.stop();
    admin?.close();
    await Promise.all([cloud?.stop(), edge?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  }, 120_000);

  it('applies the fleet and reports the revision', async () => {
    const head = git(repo, 'rev-parse', 'HEAD');
    let seen: unknown;
    const fs = await waitFor('FleetSync Ready', async () => {
      const o = await admin.get(VMS['FleetSync']!, { name: 'main' });
      seen = o?.status;
      return cond(o, 'Ready')?.status === 'True' && o;
    }).catch((err: Error) => {
      const failed = [...plane.fleetSync.lastFailures.values()].flat();
      throw new Error(
        `${err.message}; failed: ${JSON.stringify(failed)}; status: ${JSON.stringify(seen)}`,
      );
    });
    const status = fs.status as {
      lastAppliedRevision: string;
      inventory: { entries: { id: string }[] };
    };
    expect(status.lastAppliedRevision).toBe(`main@sha1:${head}`);
    expect(status.inventory.entries.map((e) => e.id)).toContain('Tenant/acme');
    const tenant = await waitFor('Tenant Ready', async () => {
      const t = await admin.get(VMS['Tenant']!, { name: 'acme' });
      return cond(t, 'Ready')?.status === 'True' && t;
    });
    expect((tenant.status as { camerasUsed: number }).camerasUsed).toBe(3);
    const quota = await admin.get(CORE.ResourceQuota, { namespace: 'acme', name: 'vmsctl-tenant' });
    expect(quota).toBeDefined();
  }, 120_000);

  it('places cameras, renders bundles and reports the edge NotReady until its agent connects', async () => {
    const cams = await waitFor('cameras placed', async () => {
      const { items } = await admin.list(VMS['Camera']!, { namespace: 'acme' });
      return (
        items.length === 3 &&
        items.every((c) => (c.status as { edgeServer?: string })?.edgeServer) &&
        items
      );
    });
    for (const c of cams) expect(cond(c, 'Ready')?.reason).toBe('EdgeNotReady');
    const edgeName = (cams[0]!.status as { edgeServer: string }).edgeServer;
    const bundle = await waitFor('bundle', () =>
      admin.get(VMS['EdgeBundle']!, { namespace: 'acme', name: edgeName }),
    );
    const names = ((bundle.spec as { workloads: { name: string }[] }).workloads ?? []).map(
      (w) => w.name,
    );
    expect(names.some((n) => n.startsWith('camera-'))).toBe(true);
    await waitFor('release', () =>
      admin.get(VMS['EdgeRelease']!, { namespace: 'acme', name: edgeName }),
    );
  }, 120_000);

  it('an edge agent with its own token applies its release to the edge cluster and cameras become Ready', async () => {
    const cams = (await admin.list(VMS['Camera']!, { namespace: 'acme' })).items;
    const edgeName = (cams[0]!.status as { edgeServer: string }).edgeServer;
    const creds = await registerEdgeAgent(admin, 'acme', edgeName);
    const agentCloud = cloudClient(creds);
    // Least privilege: the agent's token cannot read other objects of its tenant.
    await expect(agentCloud.list(VMS['Camera']!, { namespace: 'acme' })).rejects.toThrow(
      /forbidden/i,
    );
    // Nor touch another edge's heartbeat: its Role names its own Lease only.
    await expect(
      agentCloud.mergePatch(
        CORE.Lease,
        { namespace: 'acme', name: heartbeatLeaseName('some-other-edge') },
        { spec: { renewTime: microTime() } },
      ),
    ).rejects.toThrow(/forbidden/i);
    agent = new EdgeAgent({
      cloud: agentCloud,
      edge: edge.client(),
      namespace: 'acme',
      edgeName,
      heartbeatMs: 2_000,
      log,
    });
    await agent.start();
    const onEdge = cams.filter((c) => (c.status as { edgeServer: string }).edgeServer === edgeName);
    await waitFor(
      'cameras on the joined edge Ready',
      async () => {
        const list = await Promise.all(
          onEdge.map((c) =>
            admin.get(VMS['Camera']!, { namespace: 'acme', name: c.metadata.name }),
          ),
        );
        return list.every((c) => cond(c, 'Ready')?.status === 'True');
      },
      90_000,
    );
    const deployments = await edge.client().list(CORE.Deployment, { namespace: 'acme' });
    expect(deployments.items.map((d) => d.metadata.name)).toEqual(
      expect.arrayContaining(onEdge.map((c) => `ingest-${c.metadata.name}`)),
    );
    // The model workers travel in the same bundle write, so in the same release, as the
    // cameras: once the cameras are Ready, their workers are already on the edge.
    const edgeClient = edge.client();
    const pcs = await edgeClient.list(CORE.PriorityClass, {
      labelSelector: 'app.kubernetes.io/part-of=vmsctl',
    });
    const workers = await edgeClient.list(CORE.Deployment, {
      namespace: 'acme',
      labelSelector: 'app.kubernetes.io/name=vmsctl-model-worker',
    });
    const fed = new Set(
      onEdge.flatMap((c) => (c.status as { activeModels?: string[] }).activeModels ?? []),
    );
    expect(fed.size).toBeGreaterThan(0);
    expect(workers.items.map((w) => w.metadata.name).sort()).toEqual(
      [...fed].map((m) => `worker-${m}`).sort(),
    );
    expect(pcs.items.map((p) => p.metadata.name).sort()).toEqual([
      'vmsctl-critical',
      'vmsctl-high',
      'vmsctl-medium',
      'vmsctl-standard',
    ]);
  }, 180_000);

  it('a camera source, its auth and its conditions are each owned whole, so a second writer cannot leave half of one', async () => {
    const { items } = await admin.list(VMS['Camera']!, { namespace: 'acme' });
    const camera = items.find((c) => cond(c, 'Ready')?.status === 'True')!;
    expect(camera).toBeDefined();
    const fields = (manager: string, subresource?: string) =>
      camera.metadata.managedFields?.find(
        (e) => e.manager === manager && (e.subresource ?? undefined) === subresource,
      )?.fieldsV1 as Record<string, Record<string, Record<string, unknown>>> | undefined;
    const spec = fields('vmsctl-fleet-sync')?.['f:spec'];
    expect(spec?.['f:source']).toEqual({});
    expect(spec?.['f:auth']).toEqual({});
    // A stream stays field by field: `kubectl apply` of one setting (fps) is a normal edit.
    expect(Object.keys((spec?.['f:streams'] as Record<string, object>)['f:main']!)).toContain(
      'f:fps',
    );
    expect(fields('vmsctl-camera', 'status')?.['f:status']?.['f:conditions']).toEqual({});
    // Another writer setting only the URL conflicts on the whole source, not on source.url:
    // taking it over would mean owning the whole union, type and all.
    const source = (camera.spec as { source: Record<string, unknown> }).source;
    const err = await admin
      .apply(
        VMS['Camera']!,
        {
          metadata: { name: camera.metadata.name, namespace: 'acme' },
          spec: { source: { ...source, url: 'rtsp://10.9.9.9/other' } },
        },
        { fieldManager: 'someone-else' },
      )
      .then(() => undefined)
      .catch((e: Error) => e);
    expect(err?.message).toMatch(/conflict with "vmsctl-fleet-sync"[^]*\.spec\.source\b/);
    expect(err?.message).not.toMatch(/\.spec\.source\.url/);
    const after = await admin.get(VMS['Camera']!, {
      namespace: 'acme',
      name: camera.metadata.name,
    });
    expect((after!.spec as { source: unknown }).source).toEqual(source);
  }, 60_000);

  it('a bundle whose payload cannot be read is reported as failed in the release and nothing is pruned', async () => {
    const cams = (await admin.list(VMS['Camera']!, { namespace: 'acme' })).items;
    const edgeName = (cams[0]!.status as { edgeServer: string }).edgeServer;
    const ref = { namespace: 'acme', name: edgeName };
    const deployments = async () =>
      (await edge.client().list(CORE.Deployment, { namespace: 'acme' })).items
        .map((d) => d.metadata.name)
        .sort();
    const running = await deployments();
    expect(running.length).toBeGreaterThan(0);
    // The release names a revision; the objects come from the bundle, so that is what breaks.
    const bundle = await admin.get(VMS['EdgeBundle']!, ref);
    const payloads = (bundle!.spec as { payloads: { name: string; content: string }[] }).payloads;
    const release = await admin.get(VMS['EdgeRelease']!, ref);
    expect(release!.spec).not.toHaveProperty('payloads');
    await admin.mergePatch(VMS['EdgeBundle']!, ref, {
      spec: { payloads: payloads.map((p) => ({ ...p, content: `${p.content.slice(0, 40)}…` })) },
    });
    const failed = await waitFor('release ApplyFailed', async () => {
      const r = await admin.get(VMS['EdgeRelease']!, ref);
      return cond(r, 'Ready')?.reason === 'ApplyFailed' && r;
    });
    expect(cond(failed, 'Ready')?.message).toMatch(
      /payload\/camera: payload "camera" is not gzip\+base64 JSON/,
    );
    expect(await deployments()).toEqual(running);
    // Put it back: the agent applies it again and reports success.
    await admin.mergePatch(VMS['EdgeBundle']!, ref, { spec: { payloads } });
    await waitFor('release Applied again', async () => {
      const r = await admin.get(VMS['EdgeRelease']!, ref);
      return cond(r, 'Ready')?.reason === 'Applied';
    });
    expect(await deployments()).toEqual(running);
  }, 120_000);

  it('bundle fields left by a former writer (the aimodel manager of earlier versions) are let go', async () => {
    const cams = (await admin.list(VMS['Camera']!, { namespace: 'acme' })).items;
    const edgeName = (cams[0]!.status as { edgeServer: string }).edgeServer;
    const ref = { namespace: 'acme', name: edgeName };
    // Earlier versions applied the model half of each bundle as `vmsctl-aimodel`; a label only
    // it applied must not outlive the model it named.
    await admin.apply(
      VMS['EdgeBundle']!,
      {
        metadata: { ...ref, labels: { 'model.vmsctl.io/retired': 'true' } },
        spec: { edgeServer: edgeName },
      },
      { fieldManager: 'vmsctl-aimodel', force: true },
    );
    const cleaned = await waitFor('the former writer let go', async () => {
      const b = await admin.get(VMS['EdgeBundle']!, ref);
      return !!b && !b.metadata.managedFields?.some((e) => e.manager === 'vmsctl-aimodel') && b;
    });
    expect(cleaned.metadata.labels?.['model.vmsctl.io/retired']).toBeUndefined();
    const workloads = (cleaned.spec as { workloads: { name: string }[] }).workloads;
    expect(workloads.some((w) => w.name.startsWith('camera-'))).toBe(true);
    expect(workloads.some((w) => w.name.startsWith('model-'))).toBe(true);
  }, 60_000);

  it('an invalid commit changes nothing and says why with file and line', async () => {
    const file = path.join(repo, 'tenants/acme/sites/hq/cameras.yaml');
    const { readFile } = await import('node:fs/promises');
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace(/bitrate: [0-9]+Mbps/, 'bitrate: lots'));
    git(repo, 'commit', '-q', '-am', 'broken');
    await admin.mergePatch(
      VMS['FleetSync']!,
      { name: 'main' },
      { metadata: { annotations: { 'reconcile.vmsctl.io/requestedAt': 'invalid-1' } } },
    );
    const fs = await waitFor('ValidationFailed', async () => {
      const o = await admin.get(VMS['FleetSync']!, { name: 'main' });
      return cond(o, 'Ready')?.reason === 'ValidationFailed' && o;
    });
    expect(cond(fs, 'Ready')?.message).toMatch(/tenants\/acme\/sites\/hq\/cameras\.yaml:\d+:\d+/);
    expect(cond(fs, 'Stalled')?.status).toBe('True');
    const status = fs.status as { lastAppliedRevision: string; lastAttemptedRevision: string };
    expect(status.lastAttemptedRevision).not.toBe(status.lastAppliedRevision);
    git(repo, 'revert', '--no-edit', 'HEAD');
  }, 120_000);

  it('a camera removed from Git is pruned from the cloud and from the edge', async () => {
    const cams = (await admin.list(VMS['Camera']!, { namespace: 'acme' })).items;
    const victim = cams.find((c) => cond(c, 'Ready')?.status === 'True') ?? cams[0]!;
    const file = path.join(repo, 'tenants/acme/sites/hq/cameras.yaml');
    const { readFile } = await import('node:fs/promises');
    const docs = (await readFile(file, 'utf8')).split(/^---\n/m);
    await writeFile(
      file,
      docs
        .filter((d) => !new RegExp(`^  name: ${victim.metadata.name}$`, 'm').test(d))
        .join('---\n'),
    );
    git(repo, 'commit', '-q', '-am', `remove ${victim.metadata.name}`);
    await admin.mergePatch(
      VMS['FleetSync']!,
      { name: 'main' },
      { metadata: { annotations: { 'reconcile.vmsctl.io/requestedAt': 'prune-1' } } },
    );
    await waitFor(
      'camera pruned',
      async () =>
        !(await admin.get(VMS['Camera']!, { namespace: 'acme', name: victim.metadata.name })),
    );
    // fleet-sync writes its status after pruning: wait for it rather than read it at once.
    await waitFor('prune reported', async () => {
      const fs = await admin.get(VMS['FleetSync']!, { name: 'main' });
      return (fs?.status as { lastApplied?: { pruned: number } })?.lastApplied?.pruned === 1;
    });
    if ((victim.status as { edgeServer: string }).edgeServer && agent) {
      await waitFor(
        'ingest Deployment pruned on the edge',
        async () =>
          !(await edge
            .client()
            .get(CORE.Deployment, { namespace: 'acme', name: `ingest-${victim.metadata.name}` })),
        90_000,
      );
    }
  }, 180_000);
});
