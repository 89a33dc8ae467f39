import { stringify } from 'yaml';
import {
  API_GROUP_VERSION,
  type Condition,
  type KindDefinition,
  type PrinterColumn,
} from '../resources/index.js';
import type { KubeObject } from '../controllers/index.js';
import { InputError } from './input-error.js';
import { clusterError, type ClusterTarget } from './kube-input.js';
import { line, table, type Block } from './render/blocks.js';
import type { Column } from './render/table.js';

/**
 * `get --cluster` and `describe --cluster`: live objects with their status, printed like
 * kubectl does (printer columns, ages) plus the conditions and the figures that say where
 * a camera runs and what a FleetSync applied.
 */

/** The type a kind is served as. */
function resourceType(def: KindDefinition) {
  return {
    apiVersion: API_GROUP_VERSION,
    kind: def.kind,
    plural: def.plural,
    namespaced: def.scope === 'Namespaced',
  };
}

const FILTER = /^(.*?)\[\?\(@\.([A-Za-z0-9_]+)==["']([^"']*)["']\)\](.*)$/;

/**
 * Reads a printer column's JSONPath: dotted fields and one `[?(@.key=="value")]` filter,
 * which is all the vmsctl CRDs use (`.status.conditions[?(@.type=="Ready")].status`).
 */
export function readJsonPath(obj: unknown, jsonPath: string): unknown {
  const walk = (value: unknown, dotted: string): unknown => {
    let cur = value;
    for (const seg of dotted.split('.').filter(Boolean)) {
      if (!cur || typeof cur !== 'object') return undefined;
      cur = (cur as Record<string, unknown>)[seg];
    }
    return cur;
  };
  const m = FILTER.exec(jsonPath);
  if (!m) return walk(obj, jsonPath);
  const list = walk(obj, m[1]!);
  if (!Array.isArray(list)) return undefined;
  const item = list.find(
    (i) => i && typeof i === 'object' && (i as Record<string, unknown>)[m[2]!] === m[3],
  );
  return item === undefined ? undefined : walk(item, m[4]!);
}

/** kubectl-style age: 45s, 12m, 3h, 5d (undefined or unparsable: empty). */
export function age(timestamp: unknown, now: Date): string {
  if (typeof timestamp !== 'string') return '';
  const ms = now.getTime() - Date.parse(timestamp);
  if (Number.isNaN(ms)) return '';
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

function conditions(o: KubeObject): Condition[] {
  return ((o.status as { conditions?: Condition[] } | undefined)?.conditions ?? []).filter(
    (c) => c && typeof c === 'object',
  );
}

const ready = (o: KubeObject) => conditions(o).find((c) => c.type === 'Ready');

/** The Ready reason, marked when it was judged for an older spec (a change in progress). */
function readyReason(o: KubeObject): string {
  const r = ready(o);
  if (!r) return '';
  const behind =
    r.observedGeneration !== undefined &&
    o.metadata.generation !== undefined &&
    r.observedGeneration < o.metadata.generation;
  return behind ? `${r.reason} (generation ${o.metadata.generation} in progress)` : r.reason;
}

function cell(value: unknown, type: PrinterColumn['type'], now: Date): string {
  if (value === undefined || value === null) return '';
  if (type === 'date') return age(value, now);
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** Table columns of `get --cluster` for a kind. */
export function clusterColumns(def: KindDefinition, now: Date): Column<KubeObject>[] {
  const printer = def.printerColumns.filter((c) => !c.priority);
  const columns: Column<KubeObject>[] = [
    ...(def.scope === 'Namespaced'
      ? [{ header: 'NAMESPACE', get: (o: KubeObject) => o.metadata.namespace }]
      : []),
    { header: 'NAME', get: (o) => o.metadata.name },
  ];
  for (const c of printer) {
    if (c.jsonPath === '.metadata.creationTimestamp') continue;
    columns.push({
      header: c.name.toUpperCase(),
      get: (o) => cell(readJsonPath(o, c.jsonPath), c.type, now),
    });
  }
  if (!printer.some((c) => c.name === 'Ready'))
    columns.push({ header: 'READY', get: (o) => ready(o)?.status ?? '' });
  columns.push({ header: 'REASON', get: (o) => readyReason(o) });
  if (def.kind === 'Camera')
    columns.push({
      header: 'MODELS',
      get: (o) =>
        ((o.status as { activeModels?: string[] } | undefined)?.activeModels ?? []).join(','),
    });
  if (def.kind === 'FleetSync')
    columns.push({
      header: 'INVENTORY',
      get: (o) => inventorySize(o) ?? '',
      align: 'right',
    });
  columns.push({ header: 'AGE', get: (o) => age(o.metadata.creationTimestamp, now) });
  return columns;
}

function inventorySize(o: KubeObject): number | undefined {
  return (o.status as { inventory?: { entries?: unknown[] } } | undefined)?.inventory?.entries
    ?.length;
}

/** The object as `--json` shows it: managedFields left out (noise, and large). */
export function withoutManagedFields(o: KubeObject): KubeObject {
  const { managedFields, ...metadata } = o.metadata;
  void managedFields;
  return { ...o, metadata };
}

/** Lists a kind in the cluster (one namespace or all). */
export async function listCluster(
  target: ClusterTarget,
  def: KindDefinition,
  namespace?: string,
): Promise<KubeObject[]> {
  try {
    const { items } = await target.client.list<KubeObject>(resourceType(def), {
      ...(namespace && def.scope === 'Namespaced' ? { namespace } : {}),
    });
    return items
      .map((o) => ({ ...o, apiVersion: API_GROUP_VERSION, kind: def.kind }))
      .sort((a, b) =>
        `${a.metadata.namespace ?? ''}/${a.metadata.name}` <
        `${b.metadata.namespace ?? ''}/${b.metadata.name}`
          ? -1
          : 1,
      );
  } catch (err) {
    throw clusterError(err, target, `listing ${def.plural}`);
  }
}

/** One object by `name` or `namespace/name`; a bare name of a namespaced kind is searched. */
export async function getCluster(
  target: ClusterTarget,
  def: KindDefinition,
  id: readonly string[],
): Promise<KubeObject> {
  const type = resourceType(def);
  const shown = `${def.kind} "${id.join('/')}"`;
  const where = `${target.server} (context ${target.context})`;
  if (def.scope === 'Cluster' && id.length !== 1)
    throw new InputError(
      `${def.kind} is cluster-scoped: give it as ${def.singular}/NAME`,
      `For example: vmsctl describe ${def.singular}/${id.at(-1)} --cluster`,
    );
  try {
    if (id.length === 2 || def.scope === 'Cluster') {
      const ref = id.length === 2 ? { namespace: id[0], name: id[1]! } : { name: id[0]! };
      const o = await target.client.get<KubeObject>(type, ref);
      if (!o)
        throw new InputError(
          `${shown} not found in ${where}`,
          `List them with: vmsctl get ${def.plural} --cluster`,
        );
      return { ...o, apiVersion: API_GROUP_VERSION, kind: def.kind };
    }
    const { items } = await target.client.list<KubeObject>(type, {
      fieldSelector: `metadata.name=${id[0]}`,
    });
    if (items.length !== 1)
      throw new InputError(
        items.length
          ? `"${id[0]}" is ambiguous: ${items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`).join(', ')}`
          : `${shown} not found in ${where}`,
        items.length
          ? `Give it as ${def.singular}/NAMESPACE/NAME.`
          : `List them with: vmsctl get ${def.plural} --cluster`,
      );
    return { ...items[0]!, apiVersion: API_GROUP_VERSION, kind: def.kind };
  } catch (err) {
    throw clusterError(err, target, shown);
  }
}

/** The conditions of an object as a table (type, status, reason, age, message). */
export function conditionsBlock(o: KubeObject, now: Date): Block {
  const list = conditions(o);
  if (!list.length) return line('Conditions: none reported yet\n');
  return table(
    list,
    [
      { header: '  TYPE', get: (c) => `  ${c.type}` },
      { header: 'STATUS', get: (c) => c.status },
      { header: 'REASON', get: (c) => c.reason },
      { header: 'AGE', get: (c) => age(c.lastTransitionTime, now) },
      {
        header: 'MESSAGE',
        get: (c) => {
          const stale =
            c.observedGeneration !== undefined &&
            o.metadata.generation !== undefined &&
            c.observedGeneration < o.metadata.generation
              ? ` (for generation ${c.observedGeneration}, now ${o.metadata.generation})`
              : '';
          return `${(c.message ?? '').replace(/\s*\n\s*/g, ' ⏎ ')}${stale}`;
        },
      },
    ],
    'Conditions:',
  );
}

export interface Section {
  title: string;
  lines: string[];
}

/** What the status says, by kind: placement of a camera, revisions of a FleetSync... */
export function statusSections(
  o: KubeObject,
  now: Date,
  /** What other objects say about this one: an edge's heartbeat Lease renewTime. */
  related: { heartbeat?: string } = {},
): Section[] {
  const status = (o.status ?? {}) as Record<string, unknown>;
  const sections: Section[] = [];
  if (o.kind === 'Camera') {
    const s = status as {
      edgeServer?: string;
      activeModels?: string[];
      observedStream?: Record<string, unknown>;
    };
    sections.push({
      title: 'Placement',
      lines: [
        `edge server: ${s.edgeServer ?? '(not placed)'}`,
        `active models: ${s.activeModels?.length ? s.activeModels.join(', ') : 'none'}`,
        ...(s.observedStream
          ? [
              `observed stream: ${Object.entries(s.observedStream)
                .map(([k, v]) => `${k} ${String(v)}`)
                .join(', ')}`,
            ]
          : []),
      ],
    });
  } else if (o.kind === 'FleetSync') {
    const s = status as {
      lastAppliedRevision?: string;
      lastAttemptedRevision?: string;
      lastHandledReconcileAt?: string;
      lastApplied?: {
        created: number;
        configured: number;
        unchanged: number;
        pruned: number;
        time: string;
      };
    };
    const a = s.lastApplied;
    sections.push({
      title: 'Revisions',
      lines: [
        `last applied: ${s.lastAppliedRevision ?? 'none'}`,
        `last attempted: ${s.lastAttemptedRevision ?? 'none'}`,
        ...(a
          ? [
              `last apply (${age(a.time, now)} ago): ${a.created} created, ${a.configured} configured, ${a.unchanged} unchanged, ${a.pruned} pruned`,
            ]
          : []),
        `inventory: ${inventorySize(o) ?? 0} object(s)`,
      ],
    });
  } else if (o.kind === 'EdgeServer') {
    const agent = status['agent'] as { version?: string; kubernetesVersion?: string } | undefined;
    const hb = related.heartbeat;
    sections.push({
      title: 'Agent',
      lines: [
        `last heartbeat: ${hb ? `${hb} (${age(hb, now)} ago, by the edge's clock)` : 'never'}`,
        `runs: ${agent ? `vmsctl ${agent.version ?? '?'}, Kubernetes ${agent.kubernetesVersion ?? '?'}` : 'not reported yet'}`,
      ],
    });
  }
  // Everything else the status holds, as it is (what the sections above show is left out;
  // the inventory is only counted).
  const shown: Record<string, string[]> = {
    Camera: ['edgeServer', 'activeModels', 'observedStream'],
    FleetSync: ['lastAppliedRevision', 'lastAttemptedRevision', 'lastApplied', 'inventory'],
    EdgeServer: ['agent'],
  };
  const rest = { ...status };
  for (const key of ['conditions', ...(shown[o.kind ?? ''] ?? [])]) delete rest[key];
  if (Object.keys(rest).length)
    sections.push({
      title: 'Status',
      lines: stringify(rest, { lineWidth: 0 }).trimEnd().split('\n'),
    });
  return sections;
}

/** Field managers of an object and what they did (Apply, Update; on status or not). */
export function managers(o: KubeObject): string[] {
  return [
    ...new Set(
      (o.metadata.managedFields ?? []).map(
        (m) => `${m.manager ?? '?'}${m.subresource ? ` (${m.subresource})` : ''}`,
      ),
    ),
  ];
}
