import { Flags } from '@oclif/core';
import { hasErrors } from '../../resources/index.js';
import type { ApplyOutcome } from '../../controllers/index.js';
import { EXIT, VmsCommand } from '../base-command.js';
import { dirArg, displayPath, loadValidatedFleet, nowFlag } from '../fleet-input.js';
import {
  APPLY_SOURCE,
  clusterClient,
  clusterError,
  kubeFlags,
  requireVmsApi,
} from '../kube-input.js';
import { line, table, type Block } from '../render/blocks.js';

type Counts = Record<ApplyOutcome['action'], number>;

export default class Apply extends VmsCommand {
  static override summary = 'Apply a fleet folder to the cluster directly, without Git.';
  static override description = `For bootstrapping and break-glass changes; day to day, a FleetSync applies the fleet repository. The folder is validated first, like vmsctl validate: with errors nothing is applied (exit 1). Then every resource (and its tenant namespace) is server-side applied with field manager ${APPLY_SOURCE} and labelled vmsctl.io/applied-by=${APPLY_SOURCE}, in dependency order; objects already up to date are not written. Fields someone changed by hand are taken back, and the output says from whom. --prune deletes what an earlier vmsctl apply created and the folder no longer has. --dry-run has the apiserver check everything and store nothing. Exit 0 applied, 1 invalid fleet, 2 an object failed or the cluster could not be used.`;
  static override examples = [
    '<%= config.bin %> apply fleet',
    '<%= config.bin %> apply fleet --kubeconfig cloud.kubeconfig --dry-run',
    '<%= config.bin %> apply fleet --prune --json',
  ];
  static override args = { dir: dirArg };
  static override flags = {
    ...kubeFlags,
    'dry-run': Flags.boolean({ description: 'Server-side dry run: check, store nothing.' }),
    prune: Flags.boolean({
      description: `Delete objects labelled vmsctl.io/applied-by=${APPLY_SOURCE} that the folder no longer has.`,
    }),
    now: nowFlag,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Apply);
    const dryRun = Boolean(flags['dry-run']);
    const result = await loadValidatedFleet(args.dir, flags.now);
    if (hasErrors(result.diagnostics)) {
      const errors = result.diagnostics.filter((d) => d.severity === 'error');
      await this.emit({
        json: flags.json,
        data: { applied: false, valid: false, errors: errors.length, diagnostics: errors },
        blocks: () => [
          {
            type: 'diagnostics',
            diagnostics: errors,
            summary: `${errors.length} error(s) in ${args.dir}: nothing was applied. Fix them (vmsctl validate ${args.dir}) and apply again.`,
          },
        ],
      });
      this.setExit(EXIT.findings);
      return;
    }
    const target = await clusterClient(flags, 'vmsctl-apply');
    await requireVmsApi(target);
    const controllers = await import('../../controllers/index.js');
    const { client } = target;
    const resources = result.fleet.unique();
    let outcomes: ApplyOutcome[];
    let pruned: string[] = [];
    let wouldPrune: string[] = [];
    try {
      if (dryRun) {
        const plan = await controllers.planCluster(
          client,
          resources.map((r) => ({
            resource: r.resource,
            file: displayPath(args.dir, r.source.path),
          })),
          { fieldManager: APPLY_SOURCE, source: APPLY_SOURCE, prune: flags.prune },
        );
        outcomes = plan.outcomes;
        wouldPrune = plan.changes.filter((c) => c.action === 'delete').map((c) => c.key);
      } else {
        const objects = resources.map((r) => controllers.desiredObject(r.resource, APPLY_SOURCE));
        const namespaces = controllers.tenantNamespaces(objects, APPLY_SOURCE);
        outcomes = await controllers.applyObjects(client, [...namespaces, ...objects], {
          fieldManager: APPLY_SOURCE,
          source: APPLY_SOURCE,
        });
        // As fleet-sync does: never prune after a partial apply.
        if (flags.prune && !outcomes.some((o) => o.action === 'failed')) {
          const keep = new Set(objects.map((o) => controllers.objectId(o)));
          const stale = await controllers.staleObjects(client, keep, APPLY_SOURCE);
          pruned = await controllers.pruneObjects(client, stale, APPLY_SOURCE);
        }
      }
    } catch (err) {
      throw clusterError(err, target);
    } finally {
      client.close();
    }

    const kinds = new Map<string, Counts>();
    const total: Counts = { created: 0, configured: 0, unchanged: 0, failed: 0 };
    for (const o of outcomes) {
      const kind = o.id.split('/')[0]!;
      const row = kinds.get(kind) ?? { created: 0, configured: 0, unchanged: 0, failed: 0 };
      row[o.action]++;
      total[o.action]++;
      kinds.set(kind, row);
    }
    const failed = outcomes.filter((o) => o.action === 'failed');
    const takeovers = outcomes
      .filter((o) => o.tookOverFrom?.length)
      .map((o) => ({ id: o.id, managers: o.tookOverFrom! }));
    const deleted = dryRun ? wouldPrune : pruned;
    const where = `${target.server} (context ${target.context})`;
    const blocks = (): Block[] => [
      table(
        [...kinds.entries()],
        [
          { header: 'KIND', get: ([k]) => k },
          {
            header: dryRun ? 'WOULD CREATE' : 'CREATED',
            get: ([, c]) => c.created,
            align: 'right',
          },
          {
            header: dryRun ? 'WOULD CONFIGURE' : 'CONFIGURED',
            get: ([, c]) => c.configured,
            align: 'right',
          },
          { header: 'UNCHANGED', get: ([, c]) => c.unchanged, align: 'right' },
          { header: 'FAILED', get: ([, c]) => c.failed, align: 'right' },
        ],
      ),
      ...takeovers.map((t) =>
        line(
          `${dryRun ? 'Would take' : 'Took'} over fields of ${t.id} from ${t.managers.join(', ')} (changed outside the fleet)`,
          'warning',
        ),
      ),
      ...deleted.map((id) => line(`${dryRun ? 'Would prune' : 'Pruned'} ${id}`, 'warning')),
      ...failed.map((f) => line(`${f.id}: ${f.error}`, 'error')),
      line(
        `${dryRun ? 'Dry run against' : 'Applied to'} ${where}: ${total.created} created, ${total.configured} configured, ${total.unchanged} unchanged, ${total.failed} failed${flags.prune ? `, ${deleted.length} pruned` : ''}.${dryRun ? ' Nothing was stored.' : ''}`,
        failed.length ? 'error' : 'ok',
      ),
    ];
    await this.emit({
      json: flags.json,
      data: {
        applied: !dryRun && failed.length === 0,
        dryRun,
        server: target.server,
        context: target.context,
        fieldManager: APPLY_SOURCE,
        source: APPLY_SOURCE,
        summary: { ...total, pruned: deleted.length },
        kinds: Object.fromEntries(kinds),
        takeovers,
        pruned: deleted,
        objects: outcomes,
        writes: client.writes(),
      },
      blocks,
    });
    if (failed.length) {
      process.stderr.write(
        `${failed.length} object(s) could not be applied${flags.prune ? '; nothing was pruned' : ''}. Fix them and apply again.\n`,
      );
      this.setExit(EXIT.error);
    }
  }
}
