/**
 * What one write costs the apiserver: its CPU time per Camera create (fleet-sync's server-side
 * apply) and per Ready status write (the camera controller's), as this version writes them,
 * next to the previous version (conditions as a list keyed by type, source and auth tracked
 * field by field, the apiserver's default field validation) and the current CRDs with that
 * validation (to tell the two changes apart). The reconcile benchmark is the apiserver's CPU
 * per write times the writes, and its run-to-run spread (±10 s) hides a 20 % change in the
 * first factor; this measures it alone.
 *
 *   npm run bench:write-cost [-- --cameras 3000 --rounds 3 --repeats 2]
 *
 * Each repeat starts a fresh control plane per variant, in turn, so drift of the VM's speed
 * falls on all of them. CPU is the kube-apiserver process's own, from /proc. The last line
 * printed is one JSON object for tooling.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  applyObjects,
  CORE,
  crdObjects,
  desiredObject,
  FLEET_SYNC_MANAGER,
  KubeClient,
  mergeConditions,
  outcome,
  pool,
  tenantNamespaces,
  VMS,
  waitEstablished,
  type KubeObject,
} from '../controllers/index.js';
import { generateFleet, parseFleetFiles } from '../resources/index.js';
import { intArg } from './args.js';
import { startKube, type BenchKube } from './kube-server.js';

type Shape = 'previous' | 'validated' | 'current';
type Schema = Record<string, unknown>;

/** The CRDs as they were before conditions and unions became atomic. */
function previousShape(node: unknown): void {
  if (!node || typeof node !== 'object') return;
  const n = node as Schema;
  const items = n['items'] as Schema | undefined;
  const props = items?.['properties'] as Schema | undefined;
  if (n['x-kubernetes-list-type'] === 'atomic' && props?.['type'] && props['lastTransitionTime']) {
    n['x-kubernetes-list-type'] = 'map';
    n['x-kubernetes-list-map-keys'] = ['type'];
  }
  delete n['x-kubernetes-map-type'];
  for (const v of Object.values(n)) previousShape(v);
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** CPU seconds the apiserver of this control plane has used so far. */
function apiserverCpu(kube: BenchKube): number {
  const pid = readFileSync(path.join(kube.dir, 'apiserver.pid'), 'utf8').trim();
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** A Ready camera's status as the camera controller writes it, on round `round`. */
function readyStatus(camera: KubeObject, round: number): Record<string, unknown> {
  const edge = `edge-${round}`;
  return {
    observedGeneration: 1,
    conditions: mergeConditions(
      undefined,
      [
        ...outcome(true, 'Deployed', `running on edge server ${edge}`),
        { type: 'Licensed', status: 'True', reason: 'WithinLimit', message: '' },
        { type: 'Scheduled', status: 'True', reason: 'Placed', message: `on edge server ${edge}` },
        { type: 'EdgeReady', status: 'True', reason: 'Heartbeating', message: '' },
        { type: 'ModelsCompatible', status: 'True', reason: 'AllModelsRun', message: '' },
      ],
      camera.metadata.generation ?? 1,
    ),
    edgeServer: edge,
    activeModels: ['intrusion-detection', 'camera-tampering'],
  };
}

interface Run {
  shape: Shape;
  createMs: number;
  statusMs: number;
  storedBytes: number;
  managedFieldsBytes: number;
}

async function measure(shape: Shape, cameras: KubeObject[], rounds: number): Promise<Run> {
  const kube = await startKube();
  try {
    const client = KubeClient.fromFile(kube.kubeconfig, undefined, 'bench-write-cost');
    const crds = crdObjects();
    if (shape === 'previous') previousShape(crds);
    // The previous version sent no fieldValidation: the apiserver's default, Warn.
    const fieldValidation = shape === 'current' ? ('Ignore' as const) : ('Warn' as const);
    await Promise.all(
      crds.map((crd) =>
        client.apply(CORE.CustomResourceDefinition, crd, { fieldManager: 'bench', force: true }),
      ),
    );
    await waitEstablished(
      client,
      crds.map((c) => c.metadata.name),
      60_000,
    );
    const options = {
      fieldValidation,
      fieldManager: FLEET_SYNC_MANAGER,
      source: 'bench',
      live: () => undefined,
      concurrency: 24,
    };
    await applyObjects(client, tenantNamespaces(cameras, 'bench'), options);
    let cpu = apiserverCpu(kube);
    await applyObjects(client, cameras, options);
    const createMs = ((apiserverCpu(kube) - cpu) * 1000) / cameras.length;
    cpu = apiserverCpu(kube);
    for (let round = 0; round < rounds; round++) {
      await pool(cameras, 16, (c) =>
        client.apply(
          VMS['Camera']!,
          {
            metadata: { name: c.metadata.name, namespace: c.metadata.namespace },
            status: readyStatus(c, round),
          },
          { fieldManager: 'vmsctl-camera', force: true, subresource: 'status', fieldValidation },
        ),
      );
    }
    const statusMs = ((apiserverCpu(kube) - cpu) * 1000) / (cameras.length * rounds);
    const stored = (await client.get(VMS['Camera']!, cameras[0]!.metadata))!;
    client.close();
    return {
      shape,
      createMs,
      statusMs,
      storedBytes: JSON.stringify(stored).length,
      managedFieldsBytes: JSON.stringify(stored.metadata.managedFields).length,
    };
  } finally {
    await kube.stop();
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function main() {
  const args = process.argv.slice(2);
  const count = intArg(args, '--cameras', 3000, 1);
  const rounds = intArg(args, '--rounds', 3, 1);
  const repeats = intArg(args, '--repeats', 2, 1);
  const today = new Date().toISOString().slice(0, 10);
  const files = generateFleet({ sites: 690, cameras: 6000, seed: 1, licenseFrom: today });
  const cameras = parseFleetFiles(files)
    .resources.filter((r) => r.resource.kind === 'Camera')
    .slice(0, count)
    .map((r) => desiredObject(r.resource, 'bench'));
  console.log(
    `${cameras.length} cameras: one create each, then ${rounds} Ready status writes each; ${repeats} repeat(s) per variant`,
  );
  const runs: Run[] = [];
  for (let i = 0; i < repeats; i++) {
    for (const shape of ['previous', 'validated', 'current'] as const) {
      const run = await measure(shape, cameras, rounds);
      runs.push(run);
      console.log(
        `  ${shape}: ${run.createMs.toFixed(2)} ms apiserver CPU per create, ${run.statusMs.toFixed(2)} ms per status write; a Ready camera is ${run.storedBytes} B stored (${run.managedFieldsBytes} B managed fields)`,
      );
    }
  }
  const of = (shape: Shape) => runs.filter((r) => r.shape === shape);
  const summary = (shape: Shape) => ({
    createMs: Number(mean(of(shape).map((r) => r.createMs)).toFixed(2)),
    statusMs: Number(mean(of(shape).map((r) => r.statusMs)).toFixed(2)),
    storedBytes: of(shape)[0]!.storedBytes,
    managedFieldsBytes: of(shape)[0]!.managedFieldsBytes,
  });
  const cur = summary('current');
  const val = summary('validated');
  const prev = summary('previous');
  console.log('');
  console.log(
    '| per write (apiserver CPU) | current | current CRDs, field validation | previous | ratio current ÷ previous |',
  );
  console.log('|---|---|---|---|---|');
  console.log(
    `| camera create | ${cur.createMs} ms | ${val.createMs} ms | ${prev.createMs} ms | ${(cur.createMs / prev.createMs).toFixed(2)} |`,
  );
  console.log(
    `| camera status write (Ready) | ${cur.statusMs} ms | ${val.statusMs} ms | ${prev.statusMs} ms | ${(cur.statusMs / prev.statusMs).toFixed(2)} |`,
  );
  console.log(
    `| Ready camera stored | ${cur.storedBytes} B (${cur.managedFieldsBytes} B managed fields) | ${val.storedBytes} B | ${prev.storedBytes} B (${prev.managedFieldsBytes} B) | ${(cur.storedBytes / prev.storedBytes).toFixed(2)} |`,
  );
  console.log(
    JSON.stringify({
      bench: 'write-cost',
      cameras: cameras.length,
      rounds,
      repeats,
      createCpuMs: cur.createMs,
      statusCpuMs: cur.statusMs,
      validatedCreateCpuMs: val.createMs,
      validatedStatusCpuMs: val.statusMs,
      previousCreateCpuMs: prev.createMs,
      previousStatusCpuMs: prev.statusMs,
      createRatio: Number((cur.createMs / prev.createMs).toFixed(2)),
      statusRatio: Number((cur.statusMs / prev.statusMs).toFixed(2)),
      storedBytes: cur.storedBytes,
      previousStoredBytes: prev.storedBytes,
    }),
  );
}

await main();
