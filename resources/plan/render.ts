/** Plan output for a terminal, a pull-request comment and machines. */
import { redactCredentials } from '../manifest/redact.js';
import { KINDS } from '../schema/kinds.js';
import { flattenValue, type FieldChange } from './diff.js';
import type { ChangeAction, FleetPlan, PlanSummary, ResourceChange } from './plan.js';

/** Longest value shown in text and Markdown; the JSON output keeps whole values. */
const MAX_VALUE_CHARS = 120;

const MARK: Record<ChangeAction, string> = { create: '+', update: '~', delete: '-' };
const FIELD_MARK: Record<FieldChange['op'], string> = { add: '+', remove: '-', replace: '~' };

/** Compact, redacted, shortened display of a field value. */
export function formatValue(value: unknown): string {
  const json = value === undefined ? '(none)' : (JSON.stringify(value) ?? String(value));
  // Redact before shortening: a cut could drop the `@` that marks credentials in a URL.
  const safe = redactCredentials(json);
  return safe.length > MAX_VALUE_CHARS ? `${safe.slice(0, MAX_VALUE_CHARS - 1)}…` : safe;
}

function fieldLine(f: FieldChange): string {
  const value =
    f.op === 'replace'
      ? `${formatValue(f.from)} → ${formatValue(f.to)}`
      : formatValue(f.op === 'add' ? f.to : f.from);
  return `${FIELD_MARK[f.op]} ${f.path}: ${value}`;
}

function totals(summary: PlanSummary): string {
  return `${summary.create} to create, ${summary.update} to update, ${summary.delete} to delete`;
}

const hasChanges = (plan: FleetPlan) => plan.changes.length > 0;

// ---------------------------------------------------------------------------------------
// Text

export interface TextOptions {
  /** ANSI colours, for a terminal. */
  color?: boolean;
  /** What the fleet was compared with, for the no-change line, e.g. `origin/main`. */
  against?: string;
}

const ANSI: Record<ChangeAction, string> = { create: '32', update: '33', delete: '31' };
const FIELD_ANSI: Record<FieldChange['op'], string> = { add: '32', remove: '31', replace: '33' };

const paint = (on: boolean, code: string, text: string) =>
  on ? `\x1b[${code}m${text}\x1b[0m` : text;

const heading = (c: ResourceChange) =>
  `${MARK[c.action]} ${c.action} ${c.key}${c.file ? ` (${c.file})` : ''}`;

/**
 * Terraform-like plan for a terminal. Creates and deletes take one line each so a first
 * plan of thousands of cameras stays readable; updates list their field changes.
 */
export function renderPlanText(plan: FleetPlan, options: TextOptions = {}): string {
  const color = options.color ?? false;
  if (!hasChanges(plan)) {
    return `No changes: the fleet matches ${options.against ?? 'the current state'}.\n`;
  }
  const lines: string[] = [];
  for (const c of plan.changes) {
    lines.push(paint(color, ANSI[c.action], heading(c)));
    if (c.action !== 'update') continue;
    for (const f of c.fields) lines.push(`  ${paint(color, FIELD_ANSI[f.op], fieldLine(f))}`);
  }
  lines.push('', paint(color, '1', `Plan: ${totals(plan.summary)}.`));
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------
// Markdown

export interface MarkdownOptions {
  title?: string;
  /** What the fleet was compared with, for the no-change line. */
  against?: string;
  /** Resources shown with their field changes; the rest are counted. Default 200. */
  maxDetails?: number;
  /** Field lines per resource. Default 60. */
  maxFieldsPerResource?: number;
  /**
   * Size budget for the whole comment. Default 60,000 characters: GitHub rejects comments
   * over 65,536, and 200 detailed cameras can exceed that.
   */
  maxChars?: number;
}

const escapeHtml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const escapeCell = (text: string) => escapeHtml(text).replace(/\|/g, '\\|');

function summaryTable(plan: FleetPlan): string[] {
  const rows = new Map<string, Record<ChangeAction, number>>();
  for (const c of plan.changes) {
    const row = rows.get(c.kind) ?? { create: 0, update: 0, delete: 0 };
    row[c.action]++;
    rows.set(c.kind, row);
  }
  const order = KINDS.map((k) => k.kind as string).filter((k) => rows.has(k));
  const unknown = [...rows.keys()].filter((k) => !order.includes(k)).sort();
  const { summary } = plan;
  return [
    '| Kind | Create | Update | Delete |',
    '| --- | ---: | ---: | ---: |',
    ...[...order, ...unknown].map((kind) => {
      const r = rows.get(kind) as Record<ChangeAction, number>;
      return `| ${escapeCell(kind)} | ${r.create} | ${r.update} | ${r.delete} |`;
    }),
    `| **Total** | **${summary.create}** | **${summary.update}** | **${summary.delete}** |`,
  ];
}

/** A diff lists a replace as the old line and the new line, so GitHub colours both. */
function diffLines(f: FieldChange): string[] {
  if (f.op === 'add') return [`+ ${f.path}: ${formatValue(f.to)}`];
  if (f.op === 'remove') return [`- ${f.path}: ${formatValue(f.from)}`];
  return [`- ${f.path}: ${formatValue(f.from)}`, `+ ${f.path}: ${formatValue(f.to)}`];
}

/** A fence longer than any backtick run inside, so values cannot close it early. */
function fence(body: string): string {
  const longest = Math.max(0, ...(body.match(/`+/g) ?? []).map((run) => run.length));
  return '`'.repeat(Math.max(3, longest + 1));
}

/** Creates and deletes carry whole parts; a reviewer reads them field by field. */
function displayFields(c: ResourceChange): FieldChange[] {
  if (c.action === 'update') return c.fields;
  const out: FieldChange[] = [];
  for (const f of c.fields) {
    if (f.op === 'add') flattenValue(f.to, f.path, 'add', out);
    else flattenValue(f.from, f.path, 'remove', out);
  }
  return out;
}

function detailSection(c: ResourceChange, maxFields: number): string {
  const fields = displayFields(c);
  const lines = fields.slice(0, maxFields).flatMap(diffLines);
  const hidden = fields.length - maxFields;
  if (hidden > 0) lines.push(`  … and ${hidden} more field changes`);
  const body = lines.join('\n');
  const f = fence(body);
  const where = c.file ? ` — ${escapeHtml(c.file)}` : '';
  return [
    '<details>',
    `<summary><code>${MARK[c.action]} ${c.action}</code> ${escapeHtml(c.key)}${where}</summary>`,
    '',
    `${f}diff`,
    body,
    f,
    '',
    '</details>',
  ].join('\n');
}

/** A pull-request comment: counts per kind and action, then each resource's field changes. */
export function renderPlanMarkdown(plan: FleetPlan, options: MarkdownOptions = {}): string {
  const title = options.title ?? 'vmsctl plan';
  const head = [`## ${title}`, ''];
  if (!hasChanges(plan)) {
    head.push(`No changes: the fleet matches ${options.against ?? 'the current state'}.`);
    return `${head.join('\n')}\n`;
  }
  const { summary } = plan;
  head.push(`**Plan: ${totals(summary)}** (${summary.unchanged} unchanged).`, '');
  head.push(...summaryTable(plan), '');
  const maxDetails = options.maxDetails ?? 200;
  const maxFields = options.maxFieldsPerResource ?? 60;
  const maxChars = options.maxChars ?? 60_000;
  const sections: string[] = [];
  let size = head.join('\n').length;
  for (const c of plan.changes) {
    if (sections.length >= maxDetails) break;
    const section = detailSection(c, maxFields);
    if (size + section.length > maxChars) break;
    sections.push(section);
    size += section.length + 2;
  }
  const more = plan.changes.length - sections.length;
  if (more > 0) sections.push(`… and ${more} more resource changes not shown.`);
  return `${[...head, sections.join('\n\n')].join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------
// JSON

/** The plan as plain data, values redacted, ready for JSON.stringify. */
export interface PlanJson {
  summary: PlanSummary;
  changes: ResourceChange[];
}

function redactDeep(value: unknown): unknown {
  if (typeof value === 'string') return redactCredentials(value);
  if (Array.isArray(value)) return value.map(redactDeep);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v)]));
  }
  return value;
}

function fieldJson(f: FieldChange): FieldChange {
  const out: FieldChange = { path: f.path, op: f.op };
  if (f.op !== 'add') out.from = redactDeep(f.from);
  if (f.op !== 'remove') out.to = redactDeep(f.to);
  return out;
}

/** Plain, serializable copy of a plan with every string value redacted. */
export function planToJson(plan: FleetPlan): PlanJson {
  return {
    summary: { ...plan.summary },
    changes: plan.changes.map((c) => ({ ...c, fields: c.fields.map(fieldJson) })),
  };
}
