/**
 * The two servers the live part of the ingest benchmark needs: the RTSP camera simulator
 * and a Kafka broker, both started from the scripts in this repository.
 *
 * They are started here rather than through `edge-stack/simulator/index.ts` and
 * `tests/servers/kafka.ts` because the benchmark runs compiled, from `dist/`:
 * `tests/servers/kafka.ts` finds `kafka.sh` relative to its own file, which from
 * `dist/tests/servers/` points at a folder without the script.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest folder above this file with vmsctl's package.json. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && /"name":\s*"vmsctl"/.test(readFileSync(pkg, 'utf8'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the vmsctl repository root');
    dir = up;
  }
}

/** One simulated camera, as camera-sim.py takes it. */
export interface SimCamera {
  name: string;
  codec: 'H264' | 'H265' | 'MJPEG';
  width: number;
  height: number;
  fps: number;
  bitrateKbps: number;
  scene: 'pattern' | 'vtest' | 'covered' | 'frozen';
}

/** A running simulator process. */
export interface Simulator {
  pid: number;
  port: number;
  /** RTSP URL of a camera's main stream. */
  url(name: string): string;
  stop(): Promise<void>;
}

/**
 * Starts camera-sim.py with the cameras given. Its stdin stays an open pipe: the simulator
 * stops when stdin ends, so closing it is also how a crashed benchmark leaves nothing behind.
 * TZ=UTC makes the clock it burns into the "pattern" picture read in UTC.
 */
export async function startSimulator(cameras: readonly SimCamera[]): Promise<Simulator> {
  const script = path.join(repoRoot(), 'edge-stack/simulator/camera-sim.py');
  const config = JSON.stringify({ port: 0, address: '127.0.0.1', cameras });
  const child = spawn('/usr/bin/python3', [script, config], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, TZ: 'UTC' },
  });
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => {
    stderr.push(l);
    if (stderr.length > 20) stderr.shift();
  });
  child.stdin!.on('error', () => undefined);
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => fail('not ready after 30 s'), 30_000);
    function fail(why: string) {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`camera simulator ${why}: ${stderr.slice(-5).join(' | ')}`));
    }
    child.on('error', (e) => fail(e.message));
    child.on('exit', (code) => fail(`exited with code ${code}`));
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      child.removeAllListeners('exit');
      try {
        const msg = JSON.parse(line) as { ready?: boolean; port?: number };
        if (msg.ready && msg.port) return resolve(msg.port);
      } catch {
        // falls through to the failure below
      }
      fail(`said ${line}`);
    });
  });
  return {
    pid: child.pid!,
    port,
    url: (name) => `rtsp://127.0.0.1:${port}/${name}/main`,
    stop: () => endChild(child, () => child.stdin!.end('{"id":1,"cmd":"stop"}\n')),
  };
}

/** Asks a child to end, SIGKILLs it after 5 s, and resolves once it has exited. */
function endChild(child: ChildProcess, ask: () => void): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(killer);
      resolve();
    });
    ask();
  });
}

/** A running Kafka broker. */
export interface BenchKafka {
  brokers: string[];
  stop(): Promise<void>;
}

function bash(args: string[], env: Record<string, string>, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      args,
      { env: { ...process.env, ...env }, timeout: timeoutMs },
      (err, stdout, stderr) =>
        err
          ? reject(new Error(`${err.message.split('\n')[0]} ${stderr.trim().split('\n').pop()}`))
          : resolve(stdout.trim()),
    );
  });
}

/**
 * Starts a single-node Kafka with tests/servers/kafka.sh, from the jars install.sh cached
 * (it is not installed here: that downloads from Maven and takes minutes). Rejects when
 * the jars, Java or kcat are missing, so the caller can fall back to the in-process queue.
 */
export async function startKafka(): Promise<BenchKafka> {
  const cache = process.env['VMSCTL_CACHE'] ?? path.join(homedir(), '.cache/vmsctl');
  const home = path.join(cache, 'kafka-3.9.1');
  if (!existsSync(path.join(home, '.complete')))
    throw new Error(`no Kafka jars under ${home} (scripts/kafka/install.sh installs them)`);
  const script = path.join(repoRoot(), 'tests/servers/kafka.sh');
  // The owner pid makes the script kill the broker if this process dies without stop().
  const env = { KAFKA_LIBS: path.join(home, 'libs'), KAFKA_OWNER_PID: String(process.pid) };
  const dir = await mkdtemp(path.join(tmpdir(), 'vmsctl-bench-kafka-'));
  const killOnExit = () => {
    try {
      process.kill(Number(readFileSync(path.join(dir, 'pid'), 'utf8')), 'SIGKILL');
    } catch {
      // not running
    }
  };
  process.on('exit', killOnExit);
  let port: string;
  try {
    port = await bash([script, 'start', dir], env, 180_000);
  } catch (e) {
    process.off('exit', killOnExit);
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    brokers: [`127.0.0.1:${port}`],
    async stop() {
      await bash([script, 'stop', dir], env, 60_000).catch(() => killOnExit());
      process.off('exit', killOnExit);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
