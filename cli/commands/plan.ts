import { Flags } from '@oclif/core';
import {
  formatDiagnostic,
  hasErrors,
  planFleet,
  planToJson,
  readPlanBaseline,
  renderPlanMarkdown,
  renderPlanText,
  type LoadedResource,
  type LoadResult,
} from '../../resources/index.js';
import { EXIT, VmsCommand } from '../base-command.js';
import { dirArg, displayPath, InputError, loadValidatedFleet, nowFlag } from '../fleet-input.js';
import {
  APPLY_SOURCE,
  clusterClient,
  clusterError,
  kubeFlags,
  requireVmsApi,
} from '../kube-input.js';

export default class Plan extends VmsCommand {
  static override summary =
    'Show what a fleet changes against a Git ref, another directory or the live cluster.';
  static override description =
    'Creates, field-level updates and deletes per resource, in dependency order (tenants, sites, edge servers, models, cameras; deletes in reverse), against a Git ref, a directory or (--cluster) the live cluster. Exit codes follow `flux diff`: 0 no changes, 1 changes, 2 error. The desired fleet must validate; an invalid fleet plans nothing and exits 2.';
  static override examples = [
    '<%= config.bin %> plan fleet',
    '<%= config.bin %> plan fleet --against origin/main --output markdown > plan.md',
    '<%= config.bin %> plan fleet --against ../fleet-prod --output json',
    '<%= config.bin %> plan fleet --cluster --kubeconfig cloud.kubeconfig',
  ];
  static override args = { dir: dirArg };
  static override flags = {
    against: Flags.string({
      description: 'Git ref (branch, tag, commit) or directory to compare with.',
      default: 'HEAD',
    }),
    output: Flags.string({
      char: 'o',
      description: 'Output format.',
      options: ['text', 'markdown', 'json'],
      default: 'text',
    }),
    cluster: Flags.boolean({
      description: `Compare with the live cluster instead (--against is ignored): a server-side dry-run apply of every object, diffed with the live one; objects labelled vmsctl.io/applied-by=${APPLY_SOURCE} that the folder lacks are deletions (what vmsctl apply --prune removes).`,
    }),
    ...kubeFlags,
    now: nowFlag,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Plan);
    const output = flags.json ? 'json' : flags.output;
    const result = await loadValidatedFleet(args.dir, flags.now);
    if (hasErrors(result.diagnostics)) {
      process.stderr.write(
        `${result.diagnostics
          .filter((d) => d.severity === 'error')
          .map(formatDiagnostic)
          .join('\n')}\n`,
      );
      throw new InputError(
        `the fleet in "${args.dir}" has errors; nothing was planned`,
        `Fix them (vmsctl validate ${args.dir}) and plan again.`,
      );
    }
    if (flags.cluster) {
      await this.planCluster(args.dir, result.fleet.unique(), output, flags);
      return;
    }
    const { current, label: against } = await readPlanBaseline(
      args.dir,
      flags.against,
      result.fleet.resources,
    );
    warnUnreadable(current, against);
    const plan = planFleet(result.fleet.unique(), current.resources);
    const changed = plan.changes.length > 0;
    if (output === 'json') {
      process.stdout.write(`${JSON.stringify({ against, ...planToJson(plan) }, null, 2)}\n`);
    } else if (output === 'markdown') {
      process.stdout.write(`${renderPlanMarkdown(plan, { against })}\n`);
    } else {
      const text = renderPlanText(plan, { against });
      await this.emit({ json: false, data: null, blocks: () => [{ type: 'diff', text }] });
    }
    this.setExit(changed ? EXIT.findings : EXIT.ok);
  }

  /** `--cluster`: the same plan output, against the live cluster (server-side dry run). */
  private async planCluster(
    dir: string,
    resources: readonly LoadedResource[],
    output: string,
    flags: { kubeconfig?: string; context?: string },
  ): Promise<void> {
    const target = await clusterClient(flags, 'vmsctl-plan');
    await requireVmsApi(target);
    const { planCluster } = await import('../../controllers/index.js');
    const plan = await planCluster(
      target.client,
      resources.map((r) => ({ resource: r.resource, file: displayPath(dir, r.source.path) })),
      { fieldManager: APPLY_SOURCE, source: APPLY_SOURCE },
    )
      .catch((err: unknown) => {
        throw clusterError(err, target);
      })
      .finally(() => target.client.close());
    const against = `cluster ${target.server} (context ${target.context})`;
    const notes = [
      ...plan.conflicts.map(
        (c) =>
          `note: applying ${c.id} takes fields over from ${c.managers.join(', ')} (changed outside the fleet)`,
      ),
      ...(plan.unchecked.length
        ? [
            `note: ${plan.unchecked.length} object(s) go into namespaces the apply creates first; the server could not check them`,
          ]
        : []),
      ...plan.errors.map((e) => `error: ${e.id}: the server refused it: ${e.message}`),
    ];
    if (output === 'json') {
      const { conflicts, errors, unchecked } = plan;
      process.stdout.write(
        `${JSON.stringify({ against, ...planToJson(plan), conflicts, errors, unchecked }, null, 2)}\n`,
      );
    } else if (output === 'markdown') {
      process.stdout.write(`${renderPlanMarkdown(plan, { against })}\n`);
    } else {
      const text = renderPlanText(plan, { against });
      await this.emit({ json: false, data: null, blocks: () => [{ type: 'diff', text }] });
    }
    if (output !== 'json' && notes.length) process.stderr.write(`${notes.join('\n')}\n`);
    // Like flux diff: an object the server refuses is an error (2), not a change.
    this.setExit(plan.errors.length ? EXIT.error : plan.changes.length ? EXIT.findings : EXIT.ok);
  }
}

/** Baseline documents that do not load are left out of the plan; say so rather than hide it. */
function warnUnreadable(current: LoadResult, label: string) {
  const errors = current.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) {
    process.stderr.write(
      `warning: ${errors.length} problem(s) in ${label}; resources that do not load there count as new:\n${errors.slice(0, 5).map(formatDiagnostic).join('\n')}\n`,
    );
  }
}
