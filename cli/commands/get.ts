import { Args, Flags } from '@oclif/core';
import { KINDS, findKind, type LoadedResource, type PrinterColumn } from '../../resources/index.js';
import { VmsCommand } from '../base-command.js';
import { dirFlag, loadValidatedFleet, nowFlag } from '../fleet-input.js';
import { line, table } from '../render/blocks.js';
import type { Column } from '../render/table.js';
import { clusterColumns, listCluster, withoutManagedFields } from '../cluster-view.js';
import {
  clusterClient,
  clusterKindNames,
  findClusterKind,
  kubeFlags,
  requireVmsApi,
} from '../kube-input.js';

/** Reads a simple `.a.b.c` JSONPath; status columns have no value in a fleet directory. */
function readPath(obj: unknown, jsonPath: string): unknown {
  let cur: unknown = obj;
  for (const seg of jsonPath.replace(/^\./, '').split('.')) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

const fromFleet = (c: PrinterColumn) =>
  !c.jsonPath.startsWith('.status') && !c.jsonPath.startsWith('.metadata');

export default class Get extends VmsCommand {
  static override summary = 'List resources of a kind from a fleet directory or the cluster.';
  static override description =
    'From a fleet directory by default; with --cluster, the live objects with their status: the printer columns, the Ready condition and its reason, for cameras the edge server and active models, for FleetSyncs the applied revision and inventory size. --cluster also lists the control kinds (fleetsyncs, edgebundles, edgereleases).';
  static override examples = [
    '<%= config.bin %> get cameras --dir fleet',
    '<%= config.bin %> get cameras --cluster -n acme',
    '<%= config.bin %> get fleetsyncs --cluster --json',
    '<%= config.bin %> get aimodels --json',
    '<%= config.bin %> get edge -d fleet',
  ];
  static override args = {
    kind: Args.string({
      description: `Kind, plural or short name: ${KINDS.map((k) => k.plural).join(', ')}.`,
      required: true,
    }),
  };
  static override flags = {
    dir: dirFlag,
    now: nowFlag,
    cluster: Flags.boolean({ description: 'Read from the cluster instead of a fleet directory.' }),
    namespace: Flags.string({
      char: 'n',
      description: 'Only this namespace (--cluster) [default: all].',
    }),
    ...kubeFlags,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Get);
    if (flags.cluster) {
      await this.runCluster(args.kind, flags);
      return;
    }
    const def = findKind(args.kind);
    if (!def)
      this.fail(
        `unknown kind "${args.kind}"`,
        findClusterKind(args.kind)
          ? `${args.kind} exist only in the cluster: add --cluster.`
          : `Use one of: ${KINDS.map((k) => k.plural).join(', ')}.`,
      );
    const result = await loadValidatedFleet(flags.dir, flags.now);
    const items = result.fleet.ofKind(def.kind);
    const broken = [...result.failed].filter((id) => id.startsWith(`${def.kind}/`)).length;
    if (broken) {
      process.stderr.write(
        `warning: ${broken} ${def.kind} document(s) in ${flags.dir} do not load and are not listed; see why with: vmsctl validate ${flags.dir}\n`,
      );
    }
    const placement = new Map(
      result.capacity.placements.map((p) => [p.camera, p.edge.split('/').pop()!]),
    );
    const columns: Column<LoadedResource>[] = [
      ...(def.scope === 'Namespaced'
        ? [{ header: 'NAMESPACE', get: (r: LoadedResource) => r.resource.metadata.namespace }]
        : []),
      { header: 'NAME', get: (r) => r.resource.metadata.name },
      ...def.printerColumns.filter(fromFleet).map((c) => ({
        header: c.name.toUpperCase(),
        get: (r: LoadedResource) => {
          const v = readPath(r.resource, c.jsonPath);
          return v === undefined ? '' : String(v);
        },
      })),
      ...(def.kind === 'Camera'
        ? [{ header: 'PLACED ON', get: (r: LoadedResource) => placement.get(r.key) ?? '-' }]
        : []),
    ];
    await this.emit({
      json: flags.json,
      data: { apiVersion: 'v1', kind: 'List', items: items.map((r) => r.resource) },
      blocks: () =>
        items.length
          ? [table(items, columns)]
          : [line(`No ${def.plural} in ${flags.dir}.`, 'muted')],
    });
  }

  /** `--cluster`: the live objects of a kind (fleet or control kinds) with their status. */
  private async runCluster(
    kindText: string,
    flags: { json: boolean; namespace?: string; kubeconfig?: string; context?: string },
  ): Promise<void> {
    const def = findClusterKind(kindText);
    if (!def) this.fail(`unknown kind "${kindText}"`, `Use one of: ${clusterKindNames()}.`);
    const target = await clusterClient(flags, 'vmsctl-get');
    await requireVmsApi(target);
    const items = await listCluster(target, def, flags.namespace).finally(() =>
      target.client.close(),
    );
    const now = new Date();
    const where = flags.namespace ? ` in namespace ${flags.namespace}` : '';
    await this.emit({
      json: flags.json,
      data: { apiVersion: 'v1', kind: 'List', items: items.map(withoutManagedFields) },
      blocks: () =>
        items.length
          ? [table(items, clusterColumns(def, now))]
          : [
              line(
                `No ${def.plural}${where} in ${target.server} (context ${target.context}).`,
                'muted',
              ),
            ],
    });
  }
}
