import { Args } from '@oclif/core';
import {
  explainRows,
  originPosition,
  resolveCameraConfig,
  type Camera,
  type LoadedResource,
  type Origin,
} from '../../../resources/index.js';
import { VmsCommand } from '../../base-command.js';
import {
  dirFlag,
  displayPath,
  InputError,
  loadValidatedFleet,
  nowFlag,
} from '../../fleet-input.js';
import { line, table } from '../../render/blocks.js';
import type { Column } from '../../render/table.js';

interface Row {
  key: string;
  value: unknown;
  layer: string;
  setBy: string;
  at: string;
}

export default class ConfigExplain extends VmsCommand {
  static override summary =
    "Show a camera's effective configuration and which layer set each value.";
  static override description =
    'Layers, lowest first: system defaults → AIModel defaults → tenant → site → camera → per-model settings on the camera.';
  static override examples = [
    '<%= config.bin %> config explain acme/entrance-cam --dir fleet',
    '<%= config.bin %> config explain entrance-cam segment --dir fleet',
    '<%= config.bin %> config explain acme/lobby-cam models.fallen-person-detection.priority --dir fleet --json',
  ];
  static override args = {
    camera: Args.string({
      description: 'Camera as namespace/name, or name when unique.',
      required: true,
    }),
    key: Args.string({ description: 'Only this key or subtree, e.g. segment or models.anpr.fps.' }),
  };
  static override flags = { dir: dirFlag, now: nowFlag };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(ConfigExplain);
    const result = await loadValidatedFleet(flags.dir, flags.now);
    const matches = result.fleet.find('Camera', args.camera);
    if (matches.length === 0)
      throw new InputError(
        `camera "${args.camera}" not found in ${flags.dir}`,
        `List cameras with: vmsctl get cameras --dir ${flags.dir}`,
      );
    if (matches.length > 1)
      throw new InputError(
        `camera name "${args.camera}" is ambiguous: ${matches.map((m) => m.key.replace(/^Camera\//, '')).join(', ')}`,
        'Give it as namespace/name.',
      );
    const resolved = resolveCameraConfig(result.fleet, matches[0] as LoadedResource<Camera>);
    const found = explainRows(resolved, args.key);
    if (found.length === 0) {
      throw new InputError(
        `"${args.key}" is not a configuration key of this camera`,
        `Top-level keys: ${Object.keys(resolved.value).join(', ')}`,
      );
    }
    const rows: Row[] = found.map((r) => ({
      key: r.key,
      value: r.value,
      layer: r.origin.layer,
      setBy: setBy(r.origin),
      at: where(flags.dir, r.origin),
    }));
    const columns: Column<Row>[] = [
      { header: 'KEY', get: (r) => r.key },
      { header: 'VALUE', get: (r) => JSON.stringify(r.value) },
      { header: 'LAYER', get: (r) => r.layer },
      { header: 'SET BY', get: (r) => r.setBy },
      { header: 'AT', get: (r) => r.at },
    ];
    await this.emit({
      json: flags.json,
      data: rows,
      blocks: () => [
        line(`Effective configuration of ${args.camera}`, 'muted'),
        table(rows, columns),
      ],
    });
  }
}

function setBy(o: Origin): string {
  return o.resource ?? 'vmsctl defaults';
}

function where(dir: string, o: Origin): string {
  const p = originPosition(o);
  return p ? `${displayPath(dir, p.file)}:${p.line}` : '';
}
