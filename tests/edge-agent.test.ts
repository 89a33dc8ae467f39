import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Condition } from '../resources/index.js';
import {
  bundleRevision,
  cloudClient,
  CORE,
  createLogger,
  EdgeAgent,
  heartbeatLeaseName,
  installCrds,
  packPayload,
  registerEdgeAgent,
  VMS,
  type KubeClient,
  type KubeObject,
  type LiveBundle,
} from '../controllers/index.js';
import { startKube, type KubeServer } from './servers/kube.js';
import { narrowToLegacyAgentRole, waitFor } from './fixtures/gitops.js';

const log = createLogger({}, { level: (process.env['VMSCTL_LOG_LEVEL'] as 'debug') ?? 'warn' });
const NS = 'solo';
const EDGE = 'solo-edge';
const ref = { namespace: NS, name: EDGE };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A bundle of one workload: a ConfigMap whose data says which version it is. */
function bundleOf(version: string, edgeName = EDGE, configMap = 'lobby-config') {
  const workload = {
    name: 'camera-lobby',
    source: `Camera/${NS}/lobby`,
    objects: [
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: configMap, namespace: NS },
        data: { version },
      },
    ],
  };
  return {
    metadata: { name: edgeName, namespace: NS },
    spec: {
      edgeServer: edgeName,
      workloads: [{ name: workload.name, source: workload.source, digest: `d-${version}` }],
      payloads: [packPayload('camera', [workload])],
    },
  };
}

/**
 * The agent against a real cloud apiserver and a real edge apiserver, with no controllers: the
 * bundle and the release are written by hand, so every case of the two disagreeing is exact.
 */
describe('edge agent: applies its bundle only at the revision its release allows', () => {
  let cloud: KubeServer;
  let edge: KubeServer;
  let admin: KubeClient;
  let agent: EdgeAgent | undefined;

  const writeBundle = (version: string) =>
    admin.apply<LiveBundle>(VMS['EdgeBundle']!, bundleOf(version), {
      fieldManager: 'test',
      force: true,
    });
  const release = (revision: string, version: string) =>
    admin.apply(
      VMS['EdgeRelease']!,
      {
        metadata: ref,
        spec: { edgeServer: EDGE, revision, workloads: [`camera-lobby@d-${version}`] },
      },
      { fieldManager: 'test', force: true },
    );
  const releaseStatus = async () =>
    ((await admin.get<KubeObject>(VMS['EdgeRelease']!, ref))?.status ?? {}) as {
      appliedRevision?: string;
    };
  const onEdge = async () =>
    (
      await edge.client().get<KubeObject & { data?: { version?: string } }>(CORE.ConfigMap, {
        namespace: NS,
        name: 'lobby-config',
      })
    )?.data?.version;

  const edgeServer = (name: string) =>
    admin.apply(
      VMS['EdgeServer']!,
      {
        metadata: { namespace: NS, name },
        spec: {
          site: 'lobby-site',
          hardware: { cpuCores: 4, memory: '8Gi', storage: '1Ti' },
          cluster: { distribution: 'k3s', version: 'v1.30.4+k3s1' },
        },
      },
      { fieldManager: 'test' },
    );

  beforeAll(async () => {
    [cloud, edge] = await Promise.all([startKube(), startKube()]);
    admin = cloud.client();
    await installCrds(admin);
    await admin.apply(CORE.Namespace, { metadata: { name: NS } }, { fieldManager: 'test' });
    await edgeServer(EDGE);
  }, 300_000);

  afterAll(async () => {
    await agent?.stop();
    admin?.close();
    await Promise.all([cloud?.stop(), edge?.stop()]);
  }, 120_000);

  it('waits while the bundle is not at the released revision, applies when it is, and never applies content the release did not allow', async () => {
    const v1 = await writeBundle('1');
    // A release ahead of what its agent's watch shows of the bundle (or behind it): nothing.
    await release('not-the-bundles-revision', '1');
    agent = new EdgeAgent({
      cloud: cloudClient(await registerEdgeAgent(admin, NS, EDGE)),
      edge: edge.client(),
      namespace: NS,
      edgeName: EDGE,
      heartbeatMs: 60_000,
      log,
    });
    await agent.start();
    await sleep(2_000);
    expect(await onEdge()).toBeUndefined();
    expect((await releaseStatus()).appliedRevision).toBeUndefined();

    // Released at the bundle's revision: applied and reported.
    const rev1 = bundleRevision(v1);
    await release(rev1, '1');
    await waitFor(
      'revision 1 applied',
      async () => (await releaseStatus()).appliedRevision === rev1,
    );
    expect(await onEdge()).toBe('1');

    // The bundle moves on while the release still says revision 1 (a staged rollout holding
    // this edge back): what runs stays as it is.
    const v2 = await writeBundle('2');
    await sleep(2_000);
    expect(await onEdge()).toBe('1');
    expect((await releaseStatus()).appliedRevision).toBe(rev1);

    // The rollout's go-ahead for revision 2: the agent applies it.
    const rev2 = bundleRevision(v2);
    expect(rev2).not.toBe(rev1);
    await release(rev2, '2');
    await waitFor(
      'revision 2 applied',
      async () => (await releaseStatus()).appliedRevision === rev2,
    );
    expect(await onEdge()).toBe('2');
  }, 120_000);

  it('an agent whose Role may not read its bundle (made by an older vmsctl) keeps heartbeating, says why in its release, and applies once `edge join` renews the Role', async () => {
    const name = 'old-role-edge';
    const oldRef = { namespace: NS, name };
    await edgeServer(name);
    const creds = await registerEdgeAgent(admin, NS, name);
    await narrowToLegacyAgentRole(admin, NS, name);
    const bundle = await admin.apply<LiveBundle>(
      VMS['EdgeBundle']!,
      bundleOf('1', name, 'old-role-config'),
      { fieldManager: 'test', force: true },
    );
    const revision = bundleRevision(bundle);
    await admin.apply(
      VMS['EdgeRelease']!,
      {
        metadata: oldRef,
        spec: { edgeServer: name, revision, workloads: ['camera-lobby@d-1'] },
      },
      { fieldManager: 'test', force: true },
    );
    const old = new EdgeAgent({
      cloud: cloudClient(creds),
      edge: edge.client(),
      namespace: NS,
      edgeName: name,
      heartbeatMs: 1_000,
      log,
    });
    try {
      // start() returns once heartbeating, though the bundle cannot be read.
      await old.start();
      const release = async () =>
        (await admin.get<KubeObject>(VMS['EdgeRelease']!, oldRef))?.status as
          { appliedRevision?: string; conditions?: Condition[] } | undefined;
      const said = await waitFor('the release says the bundle is forbidden', async () => {
        const ready = (await release())?.conditions?.find((c) => c.type === 'Ready');
        return ready?.reason === 'Forbidden' && ready;
      });
      expect(said.status).toBe('False');
      expect(said.message).toContain(`EdgeBundle ${NS}/${name} (403 Forbidden)`);
      expect(said.message).toContain(`vmsctl edge join --edge ${NS}/${name}`);
      // Alive all along: the Lease is renewed, so the edge is not taken for dead.
      const renewed = async () =>
        (await admin.get<KubeObject & { spec: { renewTime?: string } }>(CORE.Lease, {
          namespace: NS,
          name: heartbeatLeaseName(name),
        }))!.spec.renewTime;
      const first = await renewed();
      expect(first).toBeDefined();
      await waitFor('another heartbeat', async () => (await renewed()) !== first);
      const configMap = () =>
        edge.client().get(CORE.ConfigMap, { namespace: NS, name: 'old-role-config' });
      expect(await configMap()).toBeUndefined();

      // `vmsctl edge join` again: the registration renews the Role, and the same running
      // agent (its informer keeps retrying) applies and reports.
      await registerEdgeAgent(admin, NS, name);
      await waitFor(
        'applied after the Role was renewed',
        async () => (await release())?.appliedRevision === revision,
        60_000,
      );
      const ready = (await release())?.conditions?.find((c) => c.type === 'Ready');
      expect(ready?.reason).toBe('Applied');
      expect(await configMap()).toBeDefined();
    } finally {
      await old.stop();
    }
  }, 120_000);
});
