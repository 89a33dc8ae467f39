/**
 * The Kafka broker of the ingest benchmark's latency run, started with
 * tests/servers/kafka.sh. Not through `tests/servers/kafka.ts`: the benchmark runs compiled,
 * from `dist/`, and that module finds `kafka.sh` relative to its own file, which from
 * `dist/tests/servers/` is a folder without the script (and importing it would compile
 * the test helpers into the build).
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
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

/** A running Kafka broker. */
export interface BenchKafka {
  brokers: string[];
  stop(): Promise<void>;
}

/** Runs bash with the given arguments; resolves with trimmed stdout. */
export function bash(
  args: string[],
  env: Record<string, string>,
  timeoutMs: number,
): Promise<string> {
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
