import { Flags } from '@oclif/core';
import { hasErrors, type Diagnostic } from '../../resources/index.js';
import { EXIT, VmsCommand } from '../base-command.js';
import { dirArg, loadValidatedFleet, nowFlag } from '../fleet-input.js';
import { line } from '../render/blocks.js';

export default class Validate extends VmsCommand {
  static override summary =
    'Check a fleet: schemas, references, license, model compatibility and capacity.';
  static override description =
    'Prints `file:line:col  severity  kind/name  field  message` per finding. Exit 0 when clean (warnings allowed), 1 when there are errors, 2 when the fleet cannot be read.';
  static override examples = [
    '<%= config.bin %> validate fleet',
    '<%= config.bin %> validate . --json',
    '<%= config.bin %> validate . --format github',
  ];
  static override args = { dir: dirArg };
  static override flags = {
    format: Flags.string({
      description: 'Text style: plain lines or GitHub annotations.',
      options: ['text', 'github'],
      default: 'text',
    }),
    now: nowFlag,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Validate);
    const result = await loadValidatedFleet(args.dir, flags.now);
    const { diagnostics } = result;
    const resources = result.fleet.resources.length;
    const errors = diagnostics.filter((d) => d.severity === 'error').length;
    const warnings = diagnostics.length - errors;
    const summary = errors
      ? `${errors} error(s), ${warnings} warning(s) in ${resources} loaded resource(s): fix the errors above and run validate again.`
      : `Fleet is valid: ${resources} resource(s), ${warnings} warning(s).`;
    await this.emit({
      json: flags.json,
      data: { valid: !hasErrors(diagnostics), resources, errors, warnings, diagnostics },
      // GitHub annotations are for the Actions log: plain lines, whatever the terminal.
      blocks: () =>
        flags.format === 'github'
          ? [...diagnostics.map((d) => line(githubAnnotation(d))), line(summary)]
          : [{ type: 'diagnostics', diagnostics, summary }],
    });
    this.setExit(errors ? EXIT.findings : EXIT.ok);
  }
}

/** GitHub Actions workflow command, shown inline on the pull request diff. */
function githubAnnotation(d: Diagnostic): string {
  // Escaping as GitHub's toolkit does: data escapes %, CR, LF; properties also ":" and ",".
  const data = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  const prop = (s: string) => data(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
  const title = d.kind ? `${d.kind}/${d.name} ${d.field ?? ''}`.trim() : d.code;
  return `::${d.severity === 'error' ? 'error' : 'warning'} file=${prop(d.file)},line=${d.line},col=${d.col},title=${prop(title)}::${data(d.message)}`;
}
