import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Flags } from '@oclif/core';
import { caPem, parseEdge, type EdgeRef } from '../../edge-provision/index.js';
import { VmsCommand } from '../../base-command.js';
import { InputError } from '../../input-error.js';
import { clusterError, inCluster, loadKubeConfig, type ClusterTarget } from '../../kube-input.js';

/**
 * Files of a cloud credentials folder: the keys of the vmsctl-edge-bootstrap Secret that
 * manifests/edge/join-edge.sh writes and edge-agent.yaml mounts at
 * /var/run/secrets/vmsctl.io/bootstrap (`vmsctl edge join` hands the first three to it).
 */
const CREDENTIAL_FILES = {
  server: 'server',
  ca: 'ca.crt',
  token: 'token',
  edgeNamespace: 'edge-namespace',
  edgeName: 'edge-name',
} as const;

/** Same rule as join-edge.sh and registration: an https URL with a host and optional port/path. */
const SERVER_URL =
  /^https:\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?(\/[A-Za-z0-9._~/-]*)?$/;

interface CloudCredentials {
  server: string;
  /** base64 of the PEM, as a kubeconfig carries it. */
  caData: string;
  token: string;
}

async function readInput(file: string, what: string, next: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new InputError(
      `${what} ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'not readable' : (err as Error).message}`,
      next,
    );
  }
}

async function optionalInput(file: string): Promise<string | undefined> {
  return readFile(file, 'utf8').then(
    (t) => t.trim() || undefined,
    () => undefined,
  );
}

function checkCredentials(
  server: string,
  ca: string,
  token: string,
  origin: string,
): CloudCredentials {
  const next = `Re-register the edge (vmsctl edge join) or fix ${origin}.`;
  if (!SERVER_URL.test(server))
    throw new InputError(`cloud server "${server}" (${origin}) is not an https:// URL`, next);
  if (!ca.includes('-----BEGIN CERTIFICATE-----'))
    throw new InputError(`the cloud CA (${origin}) holds no PEM certificate`, next);
  if (!token || /\s/.test(token))
    throw new InputError(`the cloud token (${origin}) is empty or has whitespace`, next);
  return { server, caData: Buffer.from(caPem(ca)).toString('base64'), token };
}

export default class EdgeAgentCommand extends VmsCommand {
  static override summary =
    "Run the edge agent: pull this edge's release from the cloud and apply it to the edge cluster.";
  static override description = `What the vmsctl-edge-agent Deployment runs in each k3s edge (manifests/edge/edge-agent.yaml). It dials out to the cloud apiserver (works behind NAT) with the edge's own least-privilege token, watches only its EdgeRelease, applies it to the edge cluster, prunes what the release dropped, reports what it applied in the EdgeRelease status and heartbeats by renewing its Lease in the cloud.

Cloud credentials, one of:
  --cloud-credentials DIR   a folder with ${Object.values(CREDENTIAL_FILES).join(', ')} (the vmsctl-edge-bootstrap Secret as mounted; edge-namespace and edge-name may be absent when --edge is given)
  --cloud-server URL --cloud-ca-file FILE --cloud-token-file FILE   (what edge-agent.yaml passes, as VMSCTL_CLOUD_SERVER, VMSCTL_CLOUD_CA_FILE, VMSCTL_CLOUD_TOKEN_FILE)
  --cloud-kubeconfig FILE   any kubeconfig of the cloud cluster (tests, workstations)
The edge cluster: --kubeconfig, else the pod's service account inside Kubernetes, else KUBECONFIG or ~/.kube/config. Logs go to stderr; SIGTERM stops it.`;
  static override examples = [
    '<%= config.bin %> edge agent --cloud-credentials /var/run/secrets/vmsctl.io/bootstrap',
    '<%= config.bin %> edge agent --cloud-kubeconfig cloud.kubeconfig --edge acme/hq-edge-1 --kubeconfig edge.kubeconfig',
  ];
  static override flags = {
    'cloud-credentials': Flags.string({
      description: `Folder of cloud credentials (${Object.values(CREDENTIAL_FILES).join(', ')}).`,
      env: 'VMSCTL_CLOUD_CREDENTIALS',
    }),
    'cloud-kubeconfig': Flags.string({ description: 'Kubeconfig of the cloud cluster.' }),
    'cloud-server': Flags.string({
      description: 'Cloud apiserver URL (with --cloud-ca-file and --cloud-token-file).',
      env: 'VMSCTL_CLOUD_SERVER',
    }),
    'cloud-ca-file': Flags.string({
      description: "PEM file of the cloud apiserver's CA.",
      env: 'VMSCTL_CLOUD_CA_FILE',
    }),
    'cloud-token-file': Flags.string({
      description: "File holding the edge agent's cloud token.",
      env: 'VMSCTL_CLOUD_TOKEN_FILE',
    }),
    edge: Flags.string({
      description:
        'The EdgeServer this agent is (NAMESPACE/NAME) [default: VMSCTL_EDGE_NAMESPACE/VMSCTL_EDGE_NAME, or the credentials folder].',
    }),
    kubeconfig: Flags.string({
      description:
        'Kubeconfig of the edge cluster [default: in-cluster service account in a pod, else KUBECONFIG or ~/.kube/config].',
    }),
    context: Flags.string({ description: 'Context of the edge kubeconfig.' }),
    'heartbeat-seconds': Flags.integer({
      description: "Seconds between heartbeats (renewals of the agent's Lease in the cloud).",
      default: 15,
    }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(EdgeAgentCommand);
    const sources = [
      flags['cloud-credentials'] && '--cloud-credentials',
      flags['cloud-kubeconfig'] && '--cloud-kubeconfig',
    ].filter(Boolean);
    if (sources.length > 1)
      throw new InputError(
        '--cloud-credentials and --cloud-kubeconfig are two ways to say the same thing',
        'Pass one of them.',
      );
    if (!(flags['heartbeat-seconds'] >= 1 && flags['heartbeat-seconds'] <= 3600))
      throw new InputError(
        `--heartbeat-seconds ${flags['heartbeat-seconds']} is out of range`,
        'Use 1-3600, e.g. --heartbeat-seconds 15.',
      );

    let edge: EdgeRef | undefined = flags.edge ? parseEdge(flags.edge) : undefined;
    const envEdge = [process.env['VMSCTL_EDGE_NAMESPACE'], process.env['VMSCTL_EDGE_NAME']];
    if (!edge && envEdge[0] && envEdge[1]) edge = parseEdge(`${envEdge[0]}/${envEdge[1]}`);

    let creds: CloudCredentials | undefined;
    let cloudKubeconfig: string | undefined;
    if (flags['cloud-credentials']) {
      const dir = path.resolve(flags['cloud-credentials']);
      const info = await stat(dir).catch(() => undefined);
      const next = `Pass the folder that holds ${Object.values(CREDENTIAL_FILES).join(', ')} (the vmsctl-edge-bootstrap Secret).`;
      if (!info?.isDirectory())
        throw new InputError(
          `--cloud-credentials ${flags['cloud-credentials']}: ${info ? 'not a folder' : 'no such folder'}`,
          next,
        );
      const file = (name: string) => path.join(dir, name);
      const [server, ca, token] = await Promise.all([
        readInput(file(CREDENTIAL_FILES.server), '--cloud-credentials', next),
        readInput(file(CREDENTIAL_FILES.ca), '--cloud-credentials', next),
        readInput(file(CREDENTIAL_FILES.token), '--cloud-credentials', next),
      ]);
      creds = checkCredentials(server.trim(), ca, token.trim(), dir);
      if (!edge) {
        const [ns, name] = await Promise.all([
          optionalInput(file(CREDENTIAL_FILES.edgeNamespace)),
          optionalInput(file(CREDENTIAL_FILES.edgeName)),
        ]);
        if (ns && name) edge = parseEdge(`${ns}/${name}`);
      }
    } else if (flags['cloud-kubeconfig']) {
      cloudKubeconfig = flags['cloud-kubeconfig'];
    } else if (flags['cloud-server'] || flags['cloud-ca-file'] || flags['cloud-token-file']) {
      const missing = (['cloud-server', 'cloud-ca-file', 'cloud-token-file'] as const).filter(
        (f) => !flags[f],
      );
      if (missing.length)
        throw new InputError(
          `--cloud-server, --cloud-ca-file and --cloud-token-file go together; missing: ${missing.map((m) => `--${m}`).join(', ')}`,
          'Pass all three, or --cloud-credentials DIR.',
        );
      const next = 'Pass the files the vmsctl-edge-bootstrap Secret holds.';
      const [ca, token] = await Promise.all([
        readInput(flags['cloud-ca-file']!, '--cloud-ca-file', next),
        readInput(flags['cloud-token-file']!, '--cloud-token-file', next),
      ]);
      creds = checkCredentials(flags['cloud-server']!.trim(), ca, token.trim(), 'the flags');
    } else {
      throw new InputError(
        'the edge agent needs credentials for the cloud cluster',
        'Pass --cloud-credentials DIR (what vmsctl edge join writes) or --cloud-kubeconfig FILE.',
      );
    }
    if (!edge)
      throw new InputError(
        'which EdgeServer this agent is was not given',
        'Pass --edge NAMESPACE/NAME, e.g. --edge acme/hq-edge-1.',
      );

    const { cloudClient, createLogger, EdgeAgent, KubeClient, VMS } =
      await import('../../../controllers/index.js');
    const cloud: ClusterTarget = creds
      ? {
          client: cloudClient({ ...creds, namespace: edge.namespace, edge: edge.name }),
          context: 'edge agent credentials',
          server: creds.server,
          source: flags['cloud-credentials'] ?? 'flags',
        }
      : await (async () => {
          const { config, source } = await loadKubeConfig(
            { kubeconfig: cloudKubeconfig },
            'the cloud cluster',
            '--cloud-kubeconfig',
          );
          const client = new KubeClient(config, `vmsctl-edge-agent/${edge.name}`);
          return { client, context: config.getCurrentContext(), server: client.serverUrl, source };
        })();
    const edgeFlags = { kubeconfig: flags.kubeconfig, context: flags.context };
    let edgeTarget: ClusterTarget;
    if (!flags.kubeconfig && inCluster()) {
      const { KubeConfig } = await import('@kubernetes/client-node');
      const kc = new KubeConfig();
      kc.loadFromCluster();
      const client = new KubeClient(kc, 'vmsctl-edge-agent');
      edgeTarget = {
        client,
        context: 'in-cluster',
        server: client.serverUrl,
        source: 'in-cluster',
      };
    } else {
      const { config, source } = await loadKubeConfig(edgeFlags, 'the edge cluster');
      const client = new KubeClient(config, 'vmsctl-edge-agent');
      edgeTarget = {
        client,
        context: config.getCurrentContext(),
        server: client.serverUrl,
        source,
      };
    }

    const log = createLogger({ component: 'edge-agent', edge: `${edge.namespace}/${edge.name}` });
    const agent = new EdgeAgent({
      cloud: cloud.client,
      edge: edgeTarget.client,
      namespace: edge.namespace,
      edgeName: edge.name,
      heartbeatMs: flags['heartbeat-seconds'] * 1000,
      version: this.config.version,
      log,
    });
    const done = new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        log.info('shutting down', { signal });
        void agent.stop().then(resolve, resolve);
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
    // Fail fast on credentials the cloud refuses or a cloud that cannot be reached: the
    // informers would otherwise retry quietly forever.
    await cloud.client
      .get(VMS['EdgeRelease']!, { namespace: edge.namespace, name: edge.name })
      .catch((err: unknown) => {
        throw clusterError(
          err,
          cloud,
          `EdgeRelease ${edge.namespace}/${edge.name}`,
          'Re-register the edge for a new token: vmsctl edge join (or edge provision).',
        );
      });
    await agent.start().catch((err: unknown) => {
      throw clusterError(err, cloud, `EdgeServer ${edge.namespace}/${edge.name}`);
    });
    log.info('edge agent running', { cloud: cloud.server, edgeCluster: edgeTarget.server });
    await done;
    log.info('edge agent stopped');
    setTimeout(() => process.exit(0), 2_000).unref();
  }
}
