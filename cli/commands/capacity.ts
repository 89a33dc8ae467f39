import { Flags } from '@oclif/core';
import {
  formatBytes,
  utilizationLevel,
  type EdgeLoad,
  type SiteLoad,
} from '../../resources/index.js';
import { EXIT, VmsCommand } from '../base-command.js';
import { dirArg, loadValidatedFleet, nowFlag } from '../fleet-input.js';
import { line, table } from '../render/blocks.js';
import type { Column } from '../render/table.js';

const pct = (u: number) => (Number.isFinite(u) ? `${Math.round(u * 100)}%` : 'n/a');
const cores = (n: number) => n.toFixed(2);

const edgeColumns: Column<EdgeLoad>[] = [
  { header: 'EDGE SERVER', get: (l) => `${l.namespace}/${l.name}` },
  { header: 'SITE', get: (l) => l.site.split('/')[1] },
  { header: 'CAMERAS', get: (l) => l.cameras.length, align: 'right' },
  {
    header: 'CPU CORES',
    get: (l) => `${cores(l.cpuCores)}/${cores(l.capacity.cpuCores)}`,
    align: 'right',
  },
  { header: 'CPU', get: (l) => pct(l.utilization.cpu), align: 'right' },
  {
    header: 'MEMORY',
    get: (l) => `${formatBytes(l.memoryBytes)}/${formatBytes(l.capacity.memoryBytes)}`,
    align: 'right',
  },
  {
    header: 'GPU',
    get: (l) => (l.capacity.gpus ? `${l.gpus.toFixed(2)}/${l.capacity.gpus}` : '-'),
    align: 'right',
  },
  {
    header: 'STORAGE',
    get: (l) => `${formatBytes(l.storageBytes)}/${formatBytes(l.capacity.storageBytes)}`,
    align: 'right',
  },
  { header: 'STATUS', get: (l) => status(l) },
];

const siteColumns: Column<SiteLoad>[] = [
  { header: 'SITE', get: (s) => s.site },
  { header: 'EDGES', get: (s) => s.edgeServers, align: 'right' },
  { header: 'CAMERAS', get: (s) => s.cameras, align: 'right' },
  {
    header: 'CPU CORES',
    get: (s) => `${cores(s.cpuCores)}/${cores(s.cpuCapacity)}`,
    align: 'right',
  },
  {
    header: 'MEMORY',
    get: (s) => `${formatBytes(s.memoryBytes)}/${formatBytes(s.memoryCapacity)}`,
    align: 'right',
  },
  {
    header: 'GPU',
    get: (s) => (s.gpuCapacity ? `${s.gpus.toFixed(2)}/${s.gpuCapacity}` : '-'),
    align: 'right',
  },
  {
    header: 'STORAGE',
    get: (s) => `${formatBytes(s.storageBytes)}/${formatBytes(s.storageCapacity)}`,
    align: 'right',
  },
];

function status(l: EdgeLoad): string {
  const levels = Object.values(l.utilization).map(utilizationLevel);
  return levels.includes('over') ? 'OVER' : levels.includes('warn') ? 'NEAR' : 'ok';
}

export default class Capacity extends VmsCommand {
  static override summary =
    'CPU, GPU, memory and storage needed per edge server and site, with a placement of unpinned cameras.';
  static override description =
    'Uses the coefficient table in resources/capacity/coefficients.ts. Exit 1 when a server is over capacity or a camera cannot be placed.';
  static override examples = [
    '<%= config.bin %> capacity fleet',
    '<%= config.bin %> capacity fleet --placements',
    '<%= config.bin %> capacity . --json',
  ];
  static override args = { dir: dirArg };
  static override flags = {
    placements: Flags.boolean({
      description: 'Also list where each unpinned camera goes.',
      default: false,
    }),
    now: nowFlag,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Capacity);
    const report = (await loadValidatedFleet(args.dir, flags.now)).capacity;
    const suggested = report.placements.filter((p) => !p.pinned);
    const placementColumns: Column<(typeof suggested)[number]>[] = [
      { header: 'CAMERA', get: (p) => p.camera.replace(/^Camera\//, '') },
      { header: 'EDGE SERVER', get: (p) => p.edge.replace(/^EdgeServer\//, '') },
    ];
    const problems = report.unplaced.map(
      (u) => `unplaced ${u.camera.replace(/^Camera\//, '')}: ${u.reason}`,
    );
    const json = {
      edges: report.edges,
      sites: report.sites,
      placements: report.placements,
      unplaced: report.unplaced,
      cameras: Object.fromEntries(report.demands),
    };
    await this.emit({
      json: flags.json,
      data: json,
      blocks: () => [
        table(report.edges, edgeColumns, 'Edge servers'),
        table(report.sites, siteColumns, 'Sites'),
        ...(flags.placements ? [table(suggested, placementColumns, 'Suggested placement')] : []),
        ...problems.map((p) => line(p, 'error')),
      ],
    });
    const over = report.edges.some((l) => status(l) === 'OVER');
    this.setExit(over || report.unplaced.length ? EXIT.findings : EXIT.ok);
  }
}
