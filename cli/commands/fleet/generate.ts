import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Args, Flags } from '@oclif/core';
import { generateFleet, Name } from '../../../resources/index.js';
import { VmsCommand } from '../../base-command.js';
import { line } from '../../render/blocks.js';

export default class FleetGenerate extends VmsCommand {
  static override summary =
    'Generate a large, valid fleet: the reference customer for scale tests and benchmarks.';
  static override description =
    'One tenant; about 84% small branch sites and 16% large sites with building/floor/zone trees; edge servers sized so the fleet validates; a realistic mix of resolutions, codecs, bitrates and models. Deterministic for a given --seed.';
  static override examples = [
    '<%= config.bin %> fleet generate big --sites 690 --cameras 6000',
    '<%= config.bin %> fleet generate small --sites 3 --cameras 20 --seed 7',
  ];
  static override args = {
    dir: Args.string({
      description: 'Directory to create (must be empty or absent).',
      required: true,
    }),
  };
  static override flags = {
    sites: Flags.integer({ description: 'Number of sites.', default: 690, min: 1, max: 100_000 }),
    cameras: Flags.integer({
      description: 'Number of cameras.',
      default: 6000,
      min: 1,
      max: 1_000_000,
    }),
    tenant: Flags.string({ description: 'Tenant name.', default: 'reference-customer' }),
    seed: Flags.integer({ description: 'Random seed.', default: 1 }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(FleetGenerate);
    if (flags.cameras < flags.sites)
      this.fail(
        `--cameras (${flags.cameras}) must be at least --sites (${flags.sites})`,
        'Every site gets at least one camera.',
      );
    if (!new RegExp(Name.pattern!).test(flags.tenant)) {
      this.fail(
        `--tenant "${flags.tenant}" is not a valid name`,
        'Use lower-case letters, digits and "-".',
      );
    }
    const dir = path.resolve(args.dir);
    const existing = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[];
      this.fail(
        `cannot use "${args.dir}" (${err.code}): nothing was written`,
        'Give a new directory path.',
      );
    });
    if (existing.length)
      this.fail(`"${args.dir}" is not empty; nothing was written`, 'Choose a new directory.');
    const files = generateFleet({
      sites: flags.sites,
      cameras: flags.cameras,
      tenant: flags.tenant,
      seed: flags.seed,
    });
    for (const f of files) {
      await mkdir(path.dirname(path.join(dir, f.path)), { recursive: true });
      await writeFile(path.join(dir, f.path), f.text);
    }
    const summary = {
      dir,
      files: files.length,
      sites: flags.sites,
      cameras: flags.cameras,
      seed: flags.seed,
    };
    const message = `Generated ${flags.sites} site(s) and ${flags.cameras} camera(s) in ${files.length} file(s) under ${args.dir}.\nNext: vmsctl validate ${args.dir}`;
    await this.emit({
      json: flags.json,
      data: summary,
      blocks: () => [line(message, 'ok')],
    });
  }
}
