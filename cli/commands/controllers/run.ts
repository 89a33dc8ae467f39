import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Flags } from '@oclif/core';
import { Name } from '../../../resources/index.js';
import { VmsCommand } from '../../base-command.js';
import { InputError } from '../../input-error.js';
import { clusterClient, clusterError, kubeFlags, requireVmsApi } from '../../kube-input.js';

const NAME = new RegExp(Name.pattern!);

function port(raw: number | undefined, flag: string): number | undefined {
  if (raw === undefined) return undefined;
  if (!Number.isInteger(raw) || raw < 0 || raw > 65535)
    throw new InputError(`${flag} ${raw} is not a port number`, `Use 1-65535, e.g. ${flag} 8081.`);
  return raw;
}

/** /healthz (the process works) and /readyz (caches synced) for the pod's probes. */
function startHealthServer(
  portNumber: number,
  state: { ready: () => boolean; healthy: () => boolean },
): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const ok =
      req.url === '/healthz' ? state.healthy() : req.url === '/readyz' ? state.ready() : undefined;
    if (ok === undefined) res.writeHead(404).end();
    else res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok' : 'not ok');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(portNumber, () => resolve(server));
  });
}

export default class ControllersRun extends VmsCommand {
  static override summary =
    'Run the cloud controllers: fleet-sync, tenant, site, camera, edgeserver, aimodel, rollout.';
  static override description =
    'What the vmsctl-controllers Deployment runs (vmsctl install); also useful on a workstation against a test cluster. Replicas elect a leader through a Lease in --namespace; only the leader reconciles, the others keep warm caches. Logs go to stderr (VMSCTL_LOG_LEVEL, VMSCTL_LOG_FORMAT=json). SIGTERM or SIGINT stops it gracefully: reconciles in flight finish, the Lease is handed back.';
  static override examples = [
    '<%= config.bin %> controllers run --kubeconfig cloud.kubeconfig --no-leader-elect',
    '<%= config.bin %> controllers run --namespace vmsctl-system --webhook-port 9292 --health-port 8081',
  ];
  static override flags = {
    ...kubeFlags,
    namespace: Flags.string({
      char: 'n',
      description: 'System namespace: the leader Lease and the Secrets FleetSyncs refer to.',
      default: 'vmsctl-system',
    }),
    lease: Flags.string({
      description: 'Name of the leader-election Lease.',
      default: 'vmsctl-controllers',
    }),
    'leader-elect': Flags.boolean({
      description: 'Elect a leader among replicas (--no-leader-elect: one replica only).',
      default: true,
      allowNo: true,
    }),
    'webhook-port': Flags.integer({
      description: 'Serve FleetSync push webhooks on this port [default: none].',
    }),
    'health-port': Flags.integer({
      description: 'Serve /healthz and /readyz on this port [default: none].',
    }),
    'cache-dir': Flags.string({
      description: 'Where fleet-sync keeps Git checkouts [default: <tmp>/vmsctl-fleet-sync].',
    }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(ControllersRun);
    if (!NAME.test(flags.namespace))
      throw new InputError(
        `--namespace "${flags.namespace}" is not a namespace name`,
        'e.g. --namespace vmsctl-system',
      );
    if (!NAME.test(flags.lease))
      throw new InputError(
        `--lease "${flags.lease}" is not a Lease name`,
        'e.g. --lease vmsctl-controllers',
      );
    const webhookPort = port(flags['webhook-port'], '--webhook-port');
    const healthPort = port(flags['health-port'], '--health-port');
    const cacheDir = path.resolve(
      flags['cache-dir'] ?? path.join(os.tmpdir(), 'vmsctl-fleet-sync'),
    );
    const target = await clusterClient(flags, 'vmsctl-controllers');
    await requireVmsApi(target);
    const { createControlPlane, createLogger } = await import('../../../controllers/index.js');
    const log = createLogger({ component: 'controllers' });
    let ready = false;
    let stopping = false;
    const health = healthPort
      ? await startHealthServer(healthPort, {
          ready: () => ready && !stopping,
          healthy: () => !stopping,
        }).catch((err: Error) => {
          throw new InputError(
            `--health-port ${healthPort}: ${err.message}`,
            'Choose a free port.',
          );
        })
      : undefined;
    const plane = await createControlPlane({
      client: target.client,
      log,
      cacheDir,
      systemNamespace: flags.namespace,
      ...(flags['leader-elect'] ? { leaseName: flags.lease } : {}),
      ...(webhookPort !== undefined ? { webhookPort } : {}),
    }).catch((err: unknown) => {
      health?.close();
      throw clusterError(err, target);
    });
    const done = new Promise<number>((resolve) => {
      plane.manager.handleSignals(() => resolve(0));
      // A replica that lost the Lease exits; Kubernetes starts it again as a candidate.
      void plane.manager.lostLeadership.then(async () => {
        log.error('lost leadership; exiting');
        await plane.manager.stop();
        resolve(1);
      });
    });
    await plane.manager.start();
    ready = true;
    log.info('controllers running', {
      server: target.server,
      namespace: flags.namespace,
      leaderElection: flags['leader-elect'] ? flags.lease : 'off',
      ...(webhookPort !== undefined ? { webhookPort } : {}),
      ...(healthPort !== undefined ? { healthPort } : {}),
    });
    const code = await done;
    stopping = true;
    await new Promise<void>((resolve) => (health ? health.close(() => resolve()) : resolve()));
    log.info('controllers stopped');
    process.exitCode = code;
    // Nothing should be left running; if a handle lingers, do not keep a stopped pod alive.
    setTimeout(() => process.exit(code), 2_000).unref();
  }
}
