import { Args, Flags } from '@oclif/core';
import { stringify } from 'yaml';
import {
  findKind,
  formatBytes,
  formatDiagnostic,
  KINDS,
  positionOf,
  type ValidationResult,
} from '../../resources/index.js';
import { VmsCommand } from '../base-command.js';
import { dirFlag, displayPath, loadValidatedFleet, nowFlag, parseNow } from '../fleet-input.js';
import { line, type Block } from '../render/blocks.js';
import type { HeartbeatLease, KubeClient, KubeObject } from '../../controllers/index.js';
import {
  conditionsBlock,
  getCluster,
  managers,
  statusSections,
  withoutManagedFields,
} from '../cluster-view.js';
import {
  clusterClient,
  clusterKindNames,
  findClusterKind,
  kubeFlags,
  requireVmsApi,
} from '../kube-input.js';

interface Section {
  title: string;
  lines: string[];
}

export default class Describe extends VmsCommand {
  static override summary =
    'Show one resource with its source, relations, effective settings and findings.';
  static override examples = [
    '<%= config.bin %> describe camera/acme/entrance-cam --dir fleet',
    '<%= config.bin %> describe tenant/acme',
    '<%= config.bin %> describe edge/hq-edge-1 --json',
    '<%= config.bin %> describe camera/acme/entrance-cam --cluster',
    '<%= config.bin %> describe fleetsync/main --cluster',
  ];
  static override args = {
    resource: Args.string({ description: 'kind/name or kind/namespace/name.', required: true }),
  };
  static override flags = {
    dir: dirFlag,
    now: nowFlag,
    cluster: Flags.boolean({
      description:
        'Read the live object from the cluster: its status conditions, placement, revisions.',
    }),
    ...kubeFlags,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Describe);
    if (flags.cluster) {
      await this.describeCluster(args.resource, flags);
      return;
    }
    const [kindText, ...rest] = args.resource.split('/');
    const def = findKind(kindText ?? '');
    if (!def || rest.length === 0 || rest.length > 2) {
      this.fail(
        `"${args.resource}" is not kind/name`,
        `For example: vmsctl describe camera/acme/entrance-cam (kinds: ${KINDS.map((k) => k.singular).join(', ')})`,
      );
    }
    const result = await loadValidatedFleet(flags.dir, flags.now);
    const matches = result.fleet.find(def.kind, rest.join('/'));
    if (matches.length !== 1) {
      this.fail(
        matches.length
          ? `"${rest.join('/')}" is ambiguous: ${matches.map((m) => m.key).join(', ')}`
          : result.failed.has(`${def.kind}/${rest.join('/')}`)
            ? `${def.kind} "${rest.join('/')}" is in ${flags.dir} but does not load`
            : `${def.kind} "${rest.join('/')}" not found in ${flags.dir}`,
        matches.length
          ? 'Give it as kind/namespace/name.'
          : result.failed.has(`${def.kind}/${rest.join('/')}`)
            ? `See why with: vmsctl validate ${flags.dir}`
            : `List them with: vmsctl get ${def.plural} --dir ${flags.dir}`,
      );
    }
    const item = matches[0]!;
    const pos = positionOf(item);
    const sections = describeSections(result, item.key, parseNow(flags.now) ?? new Date());
    const findings = result.diagnostics.filter(
      (d) =>
        d.kind === item.resource.kind &&
        d.name === item.resource.metadata.name &&
        d.file === displayPath(flags.dir, pos.file),
    );
    const text = [
      `${item.key}`,
      `Source: ${displayPath(flags.dir, pos.file)}:${pos.line}`,
      '',
      stringify(
        { metadata: item.resource.metadata, spec: item.resource.spec },
        { lineWidth: 0 },
      ).trimEnd(),
      ...sections.flatMap((s) => ['', `${s.title}:`, ...s.lines.map((l) => `  ${l}`)]),
      '',
      findings.length
        ? `Findings:\n${findings.map((d) => `  ${formatDiagnostic(d)}`).join('\n')}`
        : 'Findings: none',
    ].join('\n');
    await this.emit({
      json: flags.json,
      data: {
        key: item.key,
        source: { ...pos, file: displayPath(flags.dir, pos.file) },
        resource: item.resource,
        details: sections,
        findings,
      },
      blocks: () => [line(text)],
    });
  }

  /** `--cluster`: the live object, its conditions and what its status says. */
  private async describeCluster(
    resource: string,
    flags: { json: boolean; kubeconfig?: string; context?: string },
  ): Promise<void> {
    const [kindText, ...rest] = resource.split('/');
    const def = findClusterKind(kindText ?? '');
    if (!def || rest.length === 0 || rest.length > 2 || rest.some((p) => !p)) {
      this.fail(
        `"${resource}" is not kind/name or kind/namespace/name`,
        `For example: vmsctl describe camera/acme/entrance-cam --cluster (kinds: ${clusterKindNames()})`,
      );
    }
    const target = await clusterClient(flags, 'vmsctl-describe');
    await requireVmsApi(target);
    const { obj, heartbeat } = await getCluster(target, def, rest)
      .then(async (obj) => ({ obj, heartbeat: await edgeHeartbeat(target.client, obj) }))
      .finally(() => target.client.close());
    const now = new Date();
    const key = obj.metadata.namespace
      ? `${def.kind}/${obj.metadata.namespace}/${obj.metadata.name}`
      : `${def.kind}/${obj.metadata.name}`;
    const m = obj.metadata;
    const header = [
      key,
      `Cluster: ${target.server} (context ${target.context})`,
      `Created: ${m.creationTimestamp ?? '?'}; generation ${m.generation ?? '?'}, observed ${
        (obj.status as { observedGeneration?: number } | undefined)?.observedGeneration ?? 'never'
      }${m.deletionTimestamp ? `; being deleted since ${m.deletionTimestamp}` : ''}`,
      `Managed by: ${managers(obj).join(', ') || 'nobody'}`,
      '',
      stringify(
        {
          metadata: {
            ...(m.labels ? { labels: m.labels } : {}),
            ...(m.annotations ? { annotations: m.annotations } : {}),
          },
          spec: obj.spec,
        },
        { lineWidth: 0 },
      ).trimEnd(),
      '',
    ].join('\n');
    const sections = statusSections(obj, now, { heartbeat });
    const blocks = (): Block[] => [
      line(header),
      conditionsBlock(obj, now),
      ...sections.map((s) => line([`${s.title}:`, ...s.lines.map((l) => `  ${l}`), ''].join('\n'))),
    ];
    await this.emit({
      json: flags.json,
      data: {
        key,
        cluster: { server: target.server, context: target.context },
        resource: withoutManagedFields(obj),
        conditions: (obj.status as { conditions?: unknown[] } | undefined)?.conditions ?? [],
        managers: managers(obj),
        details: sections,
      },
      blocks,
    });
  }
}

/** An edge server's last heartbeat: its agent's Lease renewTime (undefined for other kinds). */
async function edgeHeartbeat(client: KubeClient, o: KubeObject): Promise<string | undefined> {
  if (o.kind !== 'EdgeServer') return undefined;
  const { CORE, heartbeatLeaseName } = await import('../../controllers/index.js');
  const lease = await client
    .get<HeartbeatLease>(CORE.Lease, {
      namespace: o.metadata.namespace,
      name: heartbeatLeaseName(o.metadata.name),
    })
    .catch(() => undefined);
  return lease?.spec?.renewTime ?? undefined;
}

/** Relations and derived figures for one resource, by kind. */
function describeSections(result: ValidationResult, key: string, now: Date): Section[] {
  const { fleet, capacity, configs } = result;
  const [kind, ...id] = key.split('/');
  const scoped = id.join('/');
  const sections: Section[] = [];
  if (kind === 'Camera') {
    const cfg = configs.get(key)?.value;
    const placed = capacity.placements.find((p) => p.camera === key);
    const demand = capacity.demands.get(key);
    sections.push({
      title: 'Placement',
      lines: [
        placed
          ? `${placed.edge}${placed.pinned ? ' (pinned)' : ' (suggested)'}`
          : (capacity.unplaced.find((u) => u.camera === key)?.reason ?? 'disabled'),
      ],
    });
    if (cfg) {
      sections.push({
        title: 'Effective configuration',
        lines: [
          `segment ${cfg.segment.durationSeconds}s, overlap ${cfg.segment.overlapSeconds}s; recording ${cfg.recording.mode} (${cfg.recording.stream}); clips -${cfg.clips.preSeconds}s/+${cfg.clips.postSeconds}s`,
          `retention: recordings ${cfg.retention.recordingsDays}d, events ${cfg.retention.eventsDays}d, clips ${cfg.retention.clipsDays}d`,
          ...Object.entries(cfg.models).map(
            ([m, v]) =>
              `${m}: ${v.priority}, ${v.fps} fps, confidence ≥ ${v.confidenceThreshold}, overlap ${v.overlapSeconds}s`,
          ),
        ],
      });
    }
    if (demand) {
      sections.push({
        title: 'Demand',
        lines: [
          `decode ${demand.decodeCores.toFixed(3)} cores${demand.keyframesOnly ? ' (keyframes only)' : ''}, record ${demand.recordCores.toFixed(3)} cores`,
          `inference ${demand.inferenceCpuIfNoGpu.toFixed(3)} cores on CPU or ${demand.inferenceGpu.toFixed(3)} GPU; cv ${demand.inferenceCpuCores.toFixed(3)} cores`,
          `memory ${formatBytes(demand.memoryBytes)}, storage ${formatBytes(demand.storageBytes)}`,
        ],
      });
    }
  } else if (kind === 'EdgeServer') {
    const load = capacity.edges.find((l) => l.edge === key);
    if (load) {
      sections.push({
        title: 'Load',
        lines: [
          `${load.cameras.length} camera(s), ${load.pinnedCameras.length} pinned; models: ${load.models.join(', ') || 'none'}`,
          `CPU ${load.cpuCores.toFixed(2)}/${load.capacity.cpuCores.toFixed(2)} cores, memory ${formatBytes(load.memoryBytes)}/${formatBytes(load.capacity.memoryBytes)}, storage ${formatBytes(load.storageBytes)}/${formatBytes(load.capacity.storageBytes)}, GPU ${load.gpus.toFixed(2)}/${load.capacity.gpus}`,
        ],
      });
    }
  } else if (kind === 'Tenant') {
    const t = fleet.tenants.get(scoped)!.resource;
    const cams = fleet.camerasByTenant().get(scoped) ?? [];
    const enabled = cams.filter((c) => c.resource.spec.enabled !== false).length;
    const days = Math.ceil(
      (Date.parse(`${t.spec.license.validUntil}T23:59:59Z`) - now.getTime()) / 86_400_000,
    );
    sections.push({
      title: 'License',
      lines: [
        `cameras ${enabled}/${t.spec.license.cameraLimit}`,
        `valid ${t.spec.license.validFrom} → ${t.spec.license.validUntil} (${days} day(s) left)`,
        `models: ${t.spec.license.models.join(', ')}`,
      ],
    });
    const sites = [...fleet.sites.values()].filter((s) => s.resource.metadata.namespace === scoped);
    sections.push({ title: 'Sites', lines: sites.map((s) => s.resource.metadata.name) });
  } else if (kind === 'Site') {
    const edges = capacity.edges.filter((l) => l.site === scoped);
    const site = capacity.sites.find((s) => s.site === scoped);
    sections.push({
      title: 'Edge servers',
      lines: edges.map((l) => `${l.name}: ${l.cameras.length} camera(s)`),
    });
    if (site)
      sections.push({
        title: 'Totals',
        lines: [
          `${site.cameras} camera(s), CPU ${site.cpuCores.toFixed(2)}/${site.cpuCapacity.toFixed(2)} cores, storage ${formatBytes(site.storageBytes)}/${formatBytes(site.storageCapacity)}`,
        ],
      });
  } else if (kind === 'AIModel') {
    const users = [...fleet.cameras.values()].filter((c) =>
      (c.resource.spec.models ?? []).some((m) => m.name === scoped && m.enabled !== false),
    );
    const tenants = [...fleet.tenants.values()].filter((t) =>
      t.resource.spec.license.models.includes(scoped),
    );
    sections.push({
      title: 'Used by',
      lines: [
        `${users.length} camera(s)`,
        `licensed to: ${tenants.map((t) => t.resource.metadata.name).join(', ') || 'nobody'}`,
      ],
    });
  }
  return sections;
}
