import { Flags } from '@oclif/core';
import { formatBytes, Name } from '../../resources/index.js';
import { VmsCommand } from '../base-command.js';
import { InputError } from '../input-error.js';
import { clusterClient, clusterError, kubeFlags } from '../kube-input.js';
import { line, table } from '../render/blocks.js';

const NAME = new RegExp(Name.pattern!);
/** registry/path:tag or @sha256:digest; no spaces, nothing a shell or YAML would read differently. */
const IMAGE =
  /^[a-z0-9][a-z0-9._/:-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?$/;

export default class Install extends VmsCommand {
  static override summary =
    'Install or upgrade vmsctl in the cloud cluster: CRDs, controllers and their RBAC.';
  static override description =
    'Server-side applies (field manager vmsctl-install) the vmsctl CRDs and waits until they are served, then the system namespace, the controllers’ ServiceAccount with least-privilege ClusterRole and Role, the controllers Deployment (2 replicas with leader election) and the Service in front of their FleetSync webhook (port 80 → 9292, /hooks/fleetsync/<name>). Idempotent: a second run changes nothing. --dry-run has the apiserver check everything and store nothing. The same objects are in manifests/crds/ and manifests/install/ for GitOps installs.';
  static override examples = [
    '<%= config.bin %> install',
    '<%= config.bin %> install --kubeconfig cloud.kubeconfig --dry-run',
    '<%= config.bin %> install --image registry.example.com/vmsctl:0.1.0 --json',
    '<%= config.bin %> install --memory 2Gi',
  ];
  static override flags = {
    ...kubeFlags,
    namespace: Flags.string({
      char: 'n',
      description: 'Namespace of the controllers.',
      default: 'vmsctl-system',
    }),
    image: Flags.string({
      description: 'Controllers image [default: ghcr.io/vmsctl/vmsctl:<this version>].',
    }),
    memory: Flags.string({
      description:
        'Memory limit of each controllers container; the Node heap gets a quarter of it. 1Gi serves the 6,000-camera reference fleet with room to spare; give more to larger fleets.',
      default: '1Gi',
    }),
    'dry-run': Flags.boolean({
      description: 'Server-side dry run: check every object, store nothing.',
    }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Install);
    if (!NAME.test(flags.namespace))
      throw new InputError(
        `--namespace "${flags.namespace}" is not a namespace name`,
        'Use lower-case letters, digits and "-", e.g. --namespace vmsctl-system.',
      );
    if (flags.image !== undefined && !IMAGE.test(flags.image))
      throw new InputError(
        `--image "${flags.image}" is not an image reference`,
        'e.g. --image ghcr.io/vmsctl/vmsctl:0.1.0',
      );
    const {
      controllersMemoryProblem,
      CONTROLLERS_MEMORY_RANGE,
      installPlatform,
      controllersImage,
    } = await import('../../controllers/index.js');
    const memoryProblem = controllersMemoryProblem(flags.memory);
    if (memoryProblem) {
      const { min, max } = CONTROLLERS_MEMORY_RANGE;
      throw new InputError(
        `--memory "${flags.memory}" ${memoryProblem}`,
        `Give a memory quantity from ${formatBytes(min)} to ${formatBytes(max)}, e.g. --memory 2Gi for a fleet of about 12,000 cameras.`,
      );
    }
    const dryRun = Boolean(flags['dry-run']);
    const target = await clusterClient(flags, 'vmsctl-install');
    const options = {
      version: this.config.version,
      namespace: flags.namespace,
      ...(flags.image ? { image: flags.image } : {}),
      memory: flags.memory,
      dryRun,
    };
    const outcomes = await installPlatform(target.client, options).catch((err: unknown) => {
      throw clusterError(err, target);
    });
    target.client.close();
    const summary = { created: 0, configured: 0, unchanged: 0 };
    for (const o of outcomes) summary[o.action]++;
    const image = controllersImage(options);
    const verb = dryRun ? 'Would install' : 'Installed';
    await this.emit({
      json: flags.json,
      data: {
        dryRun,
        server: target.server,
        context: target.context,
        namespace: flags.namespace,
        image,
        version: this.config.version,
        summary,
        objects: outcomes,
      },
      blocks: () => [
        table(outcomes, [
          { header: 'OBJECT', get: (o) => o.id },
          { header: dryRun ? 'WOULD BE' : 'RESULT', get: (o) => o.action },
          { header: '', get: (o) => o.note ?? '' },
        ]),
        line(
          `${verb} vmsctl ${this.config.version} in ${target.server} (context ${target.context}), namespace ${flags.namespace}, image ${image}: ${summary.created} created, ${summary.configured} configured, ${summary.unchanged} unchanged.${dryRun ? ' Dry run: nothing was stored.' : ''}`,
          'ok',
        ),
      ],
    });
  }
}
