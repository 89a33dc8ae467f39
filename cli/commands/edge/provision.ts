import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Args, Flags } from '@oclif/core';
import {
  DEFAULT_K3S_VERSION,
  defaultRegisterEdge,
  edgeScriptsDir,
  executeSteps,
  existingFile,
  formatPlan,
  imagesExtension,
  parseAirGap,
  parseEdge,
  parseHost,
  parseImageTag,
  parseK3sVersion,
  parseNodeName,
  parsePort,
  parseUser,
  planProvision,
  registerEdgeUnavailable,
  registrationUnavailable,
  stepJson,
  type RegisterEdge,
} from '../../edge-provision/index.js';
import { VmsCommand } from '../../base-command.js';
import { InputError } from '../../input-error.js';
import { loadKubeConfig } from '../../kube-input.js';
import { line, type Block } from '../../render/blocks.js';

export default class EdgeProvision extends VmsCommand {
  /** Registration with the cloud; replaced when the controllers' edge registration is wired. */
  static registerEdge: RegisterEdge = defaultRegisterEdge;

  static override summary =
    'Turn a Linux host into a vmsctl edge over SSH: k3s, GPU support, the edge agent.';
  static override description =
    'Checks SSH access, registers the edge with the cloud (the agent gets least-privilege credentials), copies manifests/edge/ to the host, installs a pinned k3s (online with a checksum check, or air-gapped from files you copy), optionally the NVIDIA container toolkit and device plugin, starts the edge agent with its bootstrap Secret, saves the edge kubeconfig here and removes the staged files. ssh and scp run in batch mode (no prompts) and accept a new host key but refuse a changed one. A non-root --user needs passwordless sudo. Every step is idempotent: run it again after a failure. --dry-run prints every step and the exact commands (with --json, as a list) and contacts nothing; run the scripts on the host with --dry-run to see their own plan.';
  static override examples = [
    '<%= config.bin %> edge provision 10.0.0.5 --edge acme/hq-edge-1 --identity ~/.ssh/id_ed25519 --dry-run',
    '<%= config.bin %> edge provision edge-1.example.com --edge acme/hq-edge-1 --user ubuntu --gpu',
    '<%= config.bin %> edge provision 10.0.0.5 --edge acme/hq-edge-1 --air-gapped --k3s-binary k3s --images k3s-airgap-images-amd64.tar.zst',
  ];
  static override args = {
    host: Args.string({
      description: 'Host name or IP address of the edge server.',
      required: true,
    }),
  };
  static override flags = {
    edge: Flags.string({
      description: 'The EdgeServer this host becomes (NAMESPACE/NAME).',
      required: true,
    }),
    user: Flags.string({
      description: 'SSH user; other than root, commands run through passwordless sudo.',
      default: 'root',
    }),
    port: Flags.string({ description: 'SSH port.', default: '22' }),
    identity: Flags.string({ description: 'SSH private key file.' }),
    'k3s-version': Flags.string({
      description: 'k3s release to install.',
      default: DEFAULT_K3S_VERSION,
    }),
    'air-gapped': Flags.boolean({
      description:
        'Install from --k3s-binary and --images (copied over SSH) instead of downloading.',
    }),
    'k3s-binary': Flags.string({ description: 'k3s binary of the release (air-gapped).' }),
    images: Flags.string({
      description: 'k3s-airgap-images-<arch>.tar.zst of the release (air-gapped).',
    }),
    gpu: Flags.boolean({
      description: 'Install the NVIDIA container toolkit, RuntimeClass and device plugin.',
    }),
    'node-name': Flags.string({
      description: 'Kubernetes node name [default: the EdgeServer name].',
    }),
    'agent-version': Flags.string({
      description:
        'Tag of ghcr.io/vmsctl/vmsctl for the edge agent [default: this vmsctl version].',
    }),
    'cloud-kubeconfig': Flags.string({
      description:
        'Kubeconfig of the cloud cluster, for registration [default: KUBECONFIG or ~/.kube/config].',
    }),
    'kubeconfig-out': Flags.string({
      description: 'Where to save the edge kubeconfig [default: ./NAMESPACE-NAME.kubeconfig].',
    }),
    'dry-run': Flags.boolean({
      description: 'Print every step and command; run nothing, contact nothing.',
    }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(EdgeProvision);
    const host = parseHost(args.host);
    const user = parseUser(flags.user);
    const port = parsePort(flags.port);
    const identity = flags.identity
      ? await existingFile(
          flags.identity,
          '--identity',
          'Pass the private key that logs in to the host, e.g. --identity ~/.ssh/id_ed25519.',
        )
      : undefined;
    const edge = parseEdge(flags.edge);
    const k3sVersion = parseK3sVersion(flags['k3s-version']);
    const airGap = await parseAirGap({
      airGapped: flags['air-gapped'],
      k3sBinary: flags['k3s-binary'],
      images: flags.images,
    });
    const nodeName = parseNodeName(flags['node-name'] ?? edge.name);
    const agentVersion = parseImageTag(
      flags['agent-version'] ?? this.config.version,
      '--agent-version',
    );
    const cloudKubeconfig = flags['cloud-kubeconfig']
      ? await existingFile(
          flags['cloud-kubeconfig'],
          '--cloud-kubeconfig',
          'Pass the kubeconfig of the cloud cluster the edge registers with.',
        )
      : undefined;
    const kubeconfigOut = path.resolve(
      flags['kubeconfig-out'] ?? `${edge.namespace}-${edge.name}.kubeconfig`,
    );
    const outDir = await stat(path.dirname(kubeconfigOut)).catch(() => undefined);
    if (!outDir?.isDirectory())
      throw new InputError(
        `--kubeconfig-out ${kubeconfigOut}: its folder does not exist`,
        'Create the folder or choose another path.',
      );
    const dryRun = flags['dry-run'];
    const registerEdge = (this.constructor as typeof EdgeProvision).registerEdge;
    // Refused before anything runs: failing at step 2 would leave a half-provisioned host.
    if (!dryRun && registerEdge === registerEdgeUnavailable) throw registrationUnavailable();
    // Registration needs the cloud's kubeconfig: refused here rather than after SSH work.
    if (!dryRun && registerEdge === defaultRegisterEdge && !cloudKubeconfig)
      await loadKubeConfig({}, 'the cloud cluster (edge registration)', '--cloud-kubeconfig');

    const plan = planProvision({
      target: { host, user, port, ...(identity ? { identity } : {}) },
      edge,
      nodeName,
      k3sVersion,
      agentVersion,
      ...(airGap ? { airGap: { ...airGap, imagesExt: imagesExtension(airGap.images) } } : {}),
      gpu: flags.gpu,
      ...(cloudKubeconfig ? { cloudKubeconfig } : {}),
      kubeconfigOut,
      scriptsDir: edgeScriptsDir(),
    });
    const facts = {
      host,
      user,
      port,
      edge,
      nodeName,
      k3sVersion,
      agentVersion,
      airGapped: Boolean(airGap),
      gpu: flags.gpu,
      kubeconfig: kubeconfigOut,
    };

    if (dryRun) {
      await this.emit({
        json: flags.json,
        data: { dryRun: true, summary: plan.summary, ...facts, steps: plan.steps.map(stepJson) },
        blocks: () => [
          line(plan.summary, undefined, true),
          line('Dry run: nothing is run and the host is not contacted.', 'muted'),
          ...formatPlan(plan).map((l) => line(l)),
        ],
      });
      return;
    }

    const log = (l: string) => (flags.json ? process.stderr : process.stdout).write(`${l}\n`);
    log(plan.summary);
    const result = await executeSteps(plan, {
      registerEdge,
      dryRun: false,
      log,
      output: flags.json ? 'stderr' : 'stdout',
    });
    const blocks: Block[] = result.ok
      ? [
          line(`Edge ${edge.namespace}/${edge.name} is provisioned on ${host}.`, 'ok'),
          line(`Kubeconfig: ${kubeconfigOut}. Next: KUBECONFIG=${kubeconfigOut} kubectl get nodes`),
        ]
      : [];
    await this.emit({
      json: flags.json,
      data: { dryRun: false, summary: plan.summary, ...facts, ...result },
      blocks: () => blocks,
    });
    if (result.failure) this.fail(result.failure.message, result.failure.next);
  }
}
