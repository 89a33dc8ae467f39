/**
 * Benchmark of what CI runs on every pull request of the reference customer (690 sites,
 * 6,000 cameras): `vmsctl validate` and `vmsctl plan`, against the bare cost of reading
 * and parsing the same YAML.
 *
 *   npx tsc -p tsconfig.build.json
 *   node --expose-gc dist/bench/plan.js [--sites 690] [--cameras 6000] [--runs 3] [--seed 1]
 *
 * Every measurement runs in a fresh child process (this script, forked with --measure) so
 * that one phase's peak memory and warmed-up JIT do not leak into another. The last line
 * printed is one JSON object for tooling.
 */
import { execFileSync, fork } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import {
  generateFleet,
  loadFleetDir,
  mutateFleet,
  planFleet,
  readPlanBaseline,
  validateFleet,
  type FleetFile,
} from '../resources/index.js';
import { argValue, intArg } from './args.js';

type Phase = 'parse' | 'validate' | 'plan';

/** What one child process reports back. */
interface Measurement {
  phase: Phase;
  seconds: number;
  /** CPU time (user + system) of the same span: steadier than wall time on a busy machine. */
  cpuSeconds: number;
  peakRssMB: number;
  errors: number;
  warnings: number;
  changes?: { create: number; update: number; delete: number; unchanged: number };
}

const TARGET_SECONDS = 2;
const GOAL_SECONDS = 1;
const TARGET_RSS_MB = 300;
// Fixed clock inside the generated license window, so license checks never drift with the date.
const NOW = new Date('2026-06-01T00:00:00Z');
const LICENSE = { licenseFrom: '2026-01-01', licenseUntil: '2027-12-31' };

const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;
const cpuSince = (start: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
};
const peakRssMB = () => process.resourceUsage().maxRSS / 1024;
const collect = () => (globalThis as { gc?: () => void }).gc?.();

type PhaseResult = Pick<Measurement, 'errors' | 'warnings' | 'changes'>;

/** Runs one phase's work and takes its wall time, CPU time and peak memory. */
async function timed(phase: Phase, work: () => Promise<PhaseResult>): Promise<Measurement> {
  collect();
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  const result = await work();
  const s = seconds(start);
  return { phase, seconds: s, cpuSeconds: cpuSince(cpu), peakRssMB: peakRssMB(), ...result };
}

/** Child side: one phase, timed from the first byte read; the result goes back over IPC. */
function measure(phase: Phase, baseDir: string, prDir: string): Promise<Measurement> {
  if (phase === 'parse') {
    return timed(phase, async () => {
      // Read the way the loader reads (synchronously), so the ratio compares parsing work.
      const entries = readdirSync(baseDir, { recursive: true }) as string[];
      let documents = 0;
      for (const rel of entries.filter((r) => /\.ya?ml$/.test(r))) {
        const docs = parseAllDocuments(readFileSync(path.join(baseDir, rel), 'utf8'));
        documents += (Array.isArray(docs) ? docs : []).map((d) => d.toJS()).length;
      }
      if (documents === 0) throw new Error(`no YAML documents under ${baseDir}`);
      return { errors: 0, warnings: 0 };
    });
  }
  if (phase === 'validate') {
    return timed(phase, async () => {
      const result = validateFleet(await loadFleetDir(baseDir), { now: NOW });
      return count(result.diagnostics);
    });
  }
  // What `vmsctl plan <dir> --against HEAD` does: load and validate the pull request's
  // fleet, read the base commit through Git, reuse unchanged files, and diff.
  return timed(phase, async () => {
    const result = validateFleet(await loadFleetDir(prDir), { now: NOW });
    const { current } = await readPlanBaseline(prDir, 'HEAD', result.fleet.resources);
    const plan = planFleet(result.fleet.unique(), current.resources);
    return { ...count([...result.diagnostics, ...current.diagnostics]), changes: plan.summary };
  });
}

function count(diagnostics: readonly { severity: string }[]) {
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  return { errors, warnings: diagnostics.length - errors };
}

/** Parent side: runs one phase in a fresh process of this same script. */
function runChild(phase: Phase, baseDir: string, prDir: string): Promise<Measurement> {
  const script = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const child = fork(script, ['--measure', phase, '--base', baseDir, '--pr', prDir], {
      execArgv: [...new Set([...process.execArgv, '--expose-gc'])],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result: Measurement | undefined;
    child.on('message', (m) => (result = m as Measurement));
    child.on('error', reject);
    child.on('exit', (code) =>
      result && code === 0
        ? resolve(result)
        : reject(new Error(`${phase} measurement exited with code ${code}`)),
    );
  });
}

async function writeFleet(dir: string, files: readonly FleetFile[]): Promise<void> {
  const dirs = new Set(files.map((f) => path.dirname(path.join(dir, f.path))));
  for (const d of dirs) await mkdir(d, { recursive: true });
  await Promise.all(files.map((f) => writeFile(path.join(dir, f.path), f.text)));
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const fmtS = (s: number) => s.toFixed(3);
const fmtMB = (mb: number) => mb.toFixed(0);
const mark = (ok: boolean) => (ok ? 'ok' : 'OVER');

async function main(args: readonly string[]): Promise<void> {
  const phase = argValue(args, '--measure') as Phase | undefined;
  if (phase) {
    const result = await measure(phase, argValue(args, '--base')!, argValue(args, '--pr')!);
    process.send!(result);
    return;
  }

  const sites = intArg(args, '--sites', 690);
  const cameras = intArg(args, '--cameras', 6000);
  const runs = Math.max(1, intArg(args, '--runs', 3));
  const seed = intArg(args, '--seed', 1);

  const genStart = process.hrtime.bigint();
  const base = generateFleet({ sites, cameras, seed, ...LICENSE });
  const pr = mutateFleet(base, { seed, fraction: 0.01 });
  const generateSeconds = seconds(genStart);
  const root = await mkdtemp(path.join(os.tmpdir(), 'vmsctl-bench-plan-'));
  // The base fleet is a commit of a Git repository and the pull request its working tree,
  // as in CI; bare parsing reads the base as plain files.
  const baseDir = path.join(root, 'base');
  const prDir = path.join(root, 'repo', 'fleet');
  try {
    await writeFleet(baseDir, base);
    await writeFleet(prDir, base);
    const git = (...a: string[]) =>
      execFileSync(
        'git',
        ['-c', 'user.name=bench', '-c', 'user.email=bench@example.invalid', ...a],
        {
          cwd: path.dirname(prDir),
          stdio: 'ignore',
        },
      );
    git('init', '-q');
    git('add', '.');
    git('commit', '-q', '-m', 'base');
    await rm(prDir, { recursive: true });
    await writeFleet(prDir, pr);
    const bytes = base.reduce((n, f) => n + Buffer.byteLength(f.text), 0);
    const changedFiles = pr.filter((f, i) => f.text !== base[i]?.text).length;

    const results: Record<Phase, Measurement[]> = { parse: [], validate: [], plan: [] };
    for (let i = 0; i < runs; i++) {
      for (const p of ['parse', 'validate', 'plan'] as const) {
        results[p].push(await runChild(p, baseDir, prDir));
      }
    }
    const med = (p: Phase, f: (m: Measurement) => number) => median(results[p].map(f));
    const parseS = med('parse', (m) => m.seconds);
    const validateS = med('validate', (m) => m.seconds);
    const planS = med('plan', (m) => m.seconds);
    const parseMB = med('parse', (m) => m.peakRssMB);
    const validateMB = med('validate', (m) => m.peakRssMB);
    const planMB = med('plan', (m) => m.peakRssMB);
    const peakMB = Math.max(validateMB, planMB);
    const slowest = Math.max(validateS, planS);
    const ratio = validateS / parseS;
    if (results.plan.some((m) => m.changes!.create + m.changes!.update + m.changes!.delete === 0))
      throw new Error('the pull request plans no change: the fixture is wrong');
    const last = results.plan[results.plan.length - 1]!;
    const lastValidate = results.validate[results.validate.length - 1]!;

    const cpu = (p: Phase) => fmtS(med(p, (m) => m.cpuSeconds));
    const rows: string[][] = [
      ['phase', 'wall s', 'cpu s', 'peak RSS MB', 'target'],
      ['baseline: read + YAML parse (bare)', fmtS(parseS), cpu('parse'), fmtMB(parseMB), '-'],
      [
        'validate: load + validate',
        fmtS(validateS),
        cpu('validate'),
        fmtMB(validateMB),
        `goal < ${GOAL_SECONDS} s`,
      ],
      [
        'plan: load + validate + read HEAD + diff',
        fmtS(planS),
        cpu('plan'),
        fmtMB(planMB),
        `goal < ${GOAL_SECONDS} s`,
      ],
      [
        'slowest of the two',
        fmtS(slowest),
        '',
        fmtMB(peakMB),
        `< ${TARGET_SECONDS} s and < ${TARGET_RSS_MB} MB: time ${mark(slowest < TARGET_SECONDS)}, memory ${mark(peakMB < TARGET_RSS_MB)}; goal ${GOAL_SECONDS} s: ${mark(slowest < GOAL_SECONDS)}`,
      ],
      ['validate / bare parse (wall)', `${ratio.toFixed(2)}x`, '', '', ''],
    ];
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    const line = (r: readonly string[]) =>
      r
        .map((cell, c) =>
          c === 0 || c === r.length - 1 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!),
        )
        .join('  ')
        .trimEnd();

    console.log(
      `vmsctl plan benchmark: ${sites} sites, ${cameras} cameras, ${base.length} files (${(bytes / 2 ** 20).toFixed(1)} MiB)`,
    );
    console.log(
      `fixture generated in ${generateSeconds.toFixed(1)} s; the pull request changes ${changedFiles} file(s): ` +
        `${last.changes!.create} create, ${last.changes!.update} update, ${last.changes!.delete} delete, ${last.changes!.unchanged} unchanged`,
    );
    console.log(
      `diagnostics: base ${lastValidate.errors} error(s), ${lastValidate.warnings} warning(s); pull request ${last.errors} error(s), ${last.warnings} warning(s)`,
    );
    console.log(
      `median of ${runs} run(s), each phase in a fresh process; node ${process.version}, ${os.cpus().length} CPU(s)`,
    );
    console.log('');
    console.log(line(rows[0]!));
    console.log(line(rows[0]!.map((_, c) => '-'.repeat(widths[c]!))));
    for (const r of rows.slice(1)) console.log(line(r));
    console.log('');
    if (lastValidate.errors || last.errors) {
      process.exitCode = 1;
      console.log('the generated fleet does not validate: figures are not representative');
    }
    console.log(
      JSON.stringify({
        bench: 'plan',
        cameras,
        sites,
        validateSeconds: round(validateS),
        planSeconds: round(planS),
        peakRssMB: Math.round(peakMB),
        baselineParseSeconds: round(parseS),
        ratioToParse: Math.round(ratio * 100) / 100,
      }),
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const round = (n: number) => Math.round(n * 1000) / 1000;

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 2;
});
