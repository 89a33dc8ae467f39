import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Args, Flags } from '@oclif/core';
import { Name, scaffoldFleet } from '../../resources/index.js';
import { VmsCommand } from '../base-command.js';
import { line } from '../render/blocks.js';

const NAME = new RegExp(Name.pattern!);

export default class Init extends VmsCommand {
  static override summary = 'Scaffold a fleet repository that validates.';
  static override description =
    'Creates one tenant, one site with a building/floor/zone tree, one edge server, three cameras, the 10-model catalog and a CI workflow that validates and plans pull requests. Refuses a non-empty directory unless --force.';
  static override examples = [
    '<%= config.bin %> init my-fleet',
    '<%= config.bin %> init . --tenant globex --site plant-1',
  ];
  static override args = {
    dir: Args.string({ description: 'Directory to create.', default: '.' }),
  };
  static override flags = {
    tenant: Flags.string({ description: 'Tenant name (DNS label).', default: 'acme' }),
    site: Flags.string({ description: 'Site name (DNS label).', default: 'hq' }),
    force: Flags.boolean({
      description: 'Write into a non-empty directory (existing files are kept).',
      default: false,
    }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Init);
    for (const [flag, value] of [
      ['tenant', flags.tenant],
      ['site', flags.site],
    ] as const) {
      if (!NAME.test(value))
        this.fail(
          `--${flag} "${value}" is not a valid name`,
          'Use lower-case letters, digits and "-", starting and ending with a letter or digit.',
        );
    }
    const dir = path.resolve(args.dir);
    const existing = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[];
      if (err.code === 'ENOTDIR')
        this.fail(`"${args.dir}" is a file, not a directory`, 'Choose a new directory name.');
      this.fail(`cannot read "${args.dir}": ${err.code}`, 'Check the path and its permissions.');
    });
    const files = scaffoldFleet({ tenant: flags.tenant, site: flags.site });
    const visible = existing.filter((e) => e !== '.git');
    if (visible.length && !flags.force) {
      this.fail(
        `"${args.dir}" is not empty (${visible.length} entries); nothing was written`,
        `Pick an empty directory, or re-run with --force to add the scaffold beside the existing files.`,
      );
    }
    const written: string[] = [];
    const skipped: string[] = [];
    for (const f of files) {
      const target = path.join(dir, f.path);
      await mkdir(path.dirname(target), { recursive: true });
      try {
        await writeFile(target, f.text, { flag: 'wx' });
        written.push(f.path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        skipped.push(f.path);
      }
    }
    const rel = path.relative(process.cwd(), dir) || '.';
    const next = [
      `vmsctl validate ${rel}`,
      `vmsctl capacity ${rel}`,
      `vmsctl config explain ${flags.tenant}/entrance-cam --dir ${rel}`,
      `cd ${rel} && git init && git add . && git commit -m "Initial fleet"`,
    ];
    await this.emit({
      json: flags.json,
      data: { dir, written, skipped },
      blocks: () => [
        line(
          `Created a fleet in ${rel}: ${written.length} file(s)${skipped.length ? `, ${skipped.length} kept as they were` : ''}.`,
          'ok',
          true,
        ),
        ...written.map((w) => line(`  ${w}`, 'muted')),
        line('Next:'),
        ...next.map((n) => line(`  ${n}`)),
      ],
    });
  }
}
