/**
 * CPU and memory accounting for the ingest benchmark, read from Linux's /proc.
 *
 * CPU of a finished child is exact without sampling: once Node reaps a child, the kernel
 * adds the child's user and system time to this process's `cutime`/`cstime`. CPU of a child
 * that is still running, and memory, are read from the child's own /proc entries.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of the /proc CPU fields (`getconf CLK_TCK`, almost always 100). */
export const CLK_TCK: number = (() => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/**
 * Fields of /proc/<pid>/stat after the command name, so index 0 is field 3 (state). The
 * name is cut at the last ")" because a command name may itself contain spaces or ")".
 */
function statFields(pid: number | 'self'): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) of every child this process has reaped so far. */
export function reapedChildrenCpuSeconds(): number {
  const f = statFields('self');
  if (!f) throw new Error('/proc/self/stat is not readable: this benchmark needs Linux');
  // Fields 16 (cutime) and 17 (cstime).
  return (Number(f[13]) + Number(f[14])) / CLK_TCK;
}

/** CPU seconds (user + system) a live process has used so far, or undefined once it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  const f = statFields(pid);
  // Fields 14 (utime) and 15 (stime).
  return f ? (Number(f[11]) + Number(f[12])) / CLK_TCK : undefined;
}

/** This process's own CPU seconds (all threads, user + system). */
export function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** What a span cost: this process's CPU and the CPU of the children reaped during it. */
export interface CpuSnapshot {
  self: number;
  children: number;
  wallMs: number;
}

/** Takes a CPU snapshot, to subtract from a later one. */
export function cpuSnapshot(): CpuSnapshot {
  return {
    self: selfCpuSeconds(),
    children: reapedChildrenCpuSeconds(),
    wallMs: performance.now(),
  };
}

/** CPU spent between two snapshots, split into this process and its reaped children. */
export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): CpuSnapshot {
  return { self: b.self - a.self, children: b.children - a.children, wallMs: b.wallMs - a.wallMs };
}

/** Direct children of `ppid` whose command name is `comm` (e.g. every ffmpeg we spawned). */
export function childPids(comm: string, ppid: number = process.pid): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we were listing
    }
    const name = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
    const ppidField = text.slice(text.lastIndexOf(')') + 2).split(' ')[1];
    if (name === comm && Number(ppidField) === ppid) pids.push(Number(entry));
  }
  return pids;
}

/** Resident memory of one process in KiB: RSS, and PSS (shared pages split among sharers). */
export interface ProcessMemory {
  rssKiB: number;
  pssKiB: number;
}

/** Memory of a live process, or undefined once it is gone. */
export function processMemory(pid: number): ProcessMemory | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
    // smaps_rollup is cheap (one pass in the kernel) and gives PSS, which does not count
    // the ffmpeg libraries once per process the way RSS does.
    let pss: RegExpExecArray | null = null;
    try {
      pss = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    } catch {
      // Older kernels: PSS unknown, RSS stands in.
    }
    if (!rss) return undefined;
    return { rssKiB: Number(rss[1]), pssKiB: Number(pss?.[1] ?? rss[1]) };
  } catch {
    return undefined;
  }
}

/** The command line of a live process, or undefined once it is gone. */
export function processArgs(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds the whole machine has been busy (every state but idle and iowait), so a run
 * can tell how much of the machine other processes took while it measured.
 */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [, ...ticks] = line.trim().split(/\s+/).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user).
  const busy = ticks.slice(0, 8).reduce((a, t, i) => (i === 3 || i === 4 ? a : a + t), 0);
  return busy / CLK_TCK;
}
