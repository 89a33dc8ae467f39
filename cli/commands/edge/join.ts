import { randomBytes } from 'node:crypto';
import { access, constants } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Flags } from '@oclif/core';
import {
  defaultRegisterEdge,
  edgeScriptsDir,
  executeSteps,
  existingFile,
  formatPlan,
  parseEdge,
  parseImageTag,
  parseNodeName,
  planJoin,
  registerEdgeUnavailable,
  registrationUnavailable,
  stepJson,
  type RegisterEdge,
} from '../../edge-provision/index.js';
import { VmsCommand } from '../../base-command.js';
import { InputError } from '../../input-error.js';
import { line } from '../../render/blocks.js';

/** k3s's admin kubeconfig, what join-edge.sh uses unless told otherwise. */
const K3S_KUBECONFIG = '/etc/rancher/k3s/k3s.yaml';

export default class EdgeJoin extends VmsCommand {
  /** Registration with the cloud; replaced when the controllers' edge registration is wired. */
  static registerEdge: RegisterEdge = defaultRegisterEdge;

  static override summary =
    "Register this host's k3s with the cloud and start the vmsctl edge agent here.";
  static override description =
    'Run on the edge host after k3s is installed (manifests/edge/install-k3s.sh, or `vmsctl edge provision`, which does all of this over SSH). Registers the edge with the cloud using --cloud-kubeconfig (the agent gets least-privilege credentials), writes them to a private temporary folder, runs manifests/edge/join-edge.sh (the vmsctl-system Namespace, the bootstrap Secret, the agent RBAC and Deployment) and removes the folder. --dry-run registers nothing and runs join-edge.sh with --dry-run, which prints every command it would run.';
  static override examples = [
    'sudo <%= config.bin %> edge join --edge acme/hq-edge-1 --cloud-kubeconfig cloud.kubeconfig',
    '<%= config.bin %> edge join --edge acme/hq-edge-1 --cloud-kubeconfig cloud.kubeconfig --dry-run',
  ];
  static override flags = {
    edge: Flags.string({
      description: 'The EdgeServer this host is (NAMESPACE/NAME).',
      required: true,
    }),
    'cloud-kubeconfig': Flags.string({
      description: 'Kubeconfig of the cloud cluster, for registration.',
      required: true,
    }),
    'node-name': Flags.string({
      description: "This host's Kubernetes node name [default: the host name].",
    }),
    'agent-version': Flags.string({
      description:
        'Tag of ghcr.io/vmsctl/vmsctl for the edge agent [default: this vmsctl version].',
    }),
    kubeconfig: Flags.string({
      description: `Kubeconfig of this edge's cluster [default: ${K3S_KUBECONFIG}].`,
    }),
    'no-wait': Flags.boolean({ description: "Do not wait for the agent's rollout." }),
    'dry-run': Flags.boolean({
      description: 'Register nothing; print the plan and the commands join-edge.sh would run.',
    }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(EdgeJoin);
    const edge = parseEdge(flags.edge);
    const cloudKubeconfig = await existingFile(
      flags['cloud-kubeconfig'],
      '--cloud-kubeconfig',
      'Pass the kubeconfig of the cloud cluster this edge registers with.',
    );
    const nodeName = parseNodeName(flags['node-name'] ?? os.hostname().toLowerCase());
    const agentVersion = parseImageTag(
      flags['agent-version'] ?? this.config.version,
      '--agent-version',
    );
    const kubeconfig = flags.kubeconfig ? path.resolve(flags.kubeconfig) : undefined;
    const dryRun = flags['dry-run'];
    const registerEdge = (this.constructor as typeof EdgeJoin).registerEdge;
    if (!dryRun) {
      // Checked before registering: a registration that cannot be used would only leave
      // credentials behind in the cloud.
      if (registerEdge === registerEdgeUnavailable) throw registrationUnavailable();
      const edgeKubeconfig = kubeconfig ?? K3S_KUBECONFIG;
      await access(edgeKubeconfig, constants.R_OK).catch(() => {
        throw new InputError(
          `cannot read the edge cluster's kubeconfig ${edgeKubeconfig}`,
          'Run on the edge host as root (sudo) after k3s is installed, or pass --kubeconfig.',
        );
      });
    }
    const plan = planJoin({
      edge,
      nodeName,
      agentVersion,
      cloudKubeconfig,
      ...(kubeconfig ? { kubeconfig } : {}),
      wait: !flags['no-wait'],
      dryRun,
      scriptsDir: edgeScriptsDir(),
      workDir: path.join(os.tmpdir(), `vmsctl-join-${randomBytes(6).toString('hex')}`),
    });

    // Text: the plan first, then what the script prints as it goes (its own plan in a dry run).
    const log = (l: string) => (flags.json ? process.stderr : process.stdout).write(`${l}\n`);
    if (dryRun && !flags.json) {
      log(plan.summary);
      log('Dry run: nothing is registered; join-edge.sh runs with --dry-run and changes nothing.');
      for (const l of formatPlan(plan)) log(l);
      log('');
    } else {
      log(plan.summary);
    }
    const result = await executeSteps(plan, {
      registerEdge,
      dryRun,
      log: dryRun && !flags.json ? () => {} : log,
      output: flags.json ? 'capture' : 'stdout',
    });
    const script = result.steps.find((s) => s.id === 'join');
    await this.emit({
      json: flags.json,
      data: {
        dryRun,
        ok: result.ok,
        summary: plan.summary,
        steps: dryRun ? plan.steps.map(stepJson) : result.steps,
        ...(script?.output !== undefined
          ? { scriptOutput: script.output.split('\n').filter(Boolean) }
          : {}),
        ...(result.failure ? { failure: result.failure } : {}),
      },
      blocks: () =>
        result.ok && !dryRun
          ? [
              line(
                `Edge ${edge.namespace}/${edge.name} joined; its agent runs in vmsctl-system.`,
                'ok',
              ),
            ]
          : [],
    });
    if (result.failure) this.fail(result.failure.message, result.failure.next);
  }
}
