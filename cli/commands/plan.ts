import { Flags } from '@oclif/core';
import {
  formatDiagnostic,
  hasErrors,
  planFleet,
  planToJson,
  readPlanBaseline,
  renderPlanMarkdown,
  renderPlanText,
  type LoadResult,
} from '../../resources/index.js';
import { EXIT, VmsCommand } from '../base-command.js';
import { dirArg, InputError, loadValidatedFleet, nowFlag } from '../fleet-input.js';

export default class Plan extends VmsCommand {
  static override summary = 'Show what a fleet changes against a Git ref or another directory.';
  static override description =
    'Creates, field-level updates and deletes per resource, in dependency order (tenants, sites, edge servers, models, cameras; deletes in reverse). Exit codes follow `flux diff`: 0 no changes, 1 changes, 2 error. The desired fleet must validate; an invalid fleet plans nothing.';
  static override examples = [
    '<%= config.bin %> plan fleet',
    '<%= config.bin %> plan fleet --against origin/main --output markdown > plan.md',
    '<%= config.bin %> plan fleet --against ../fleet-prod --output json',
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
