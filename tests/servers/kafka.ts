import { existsSync, readFileSync } from 'node:fs';
import { repoRoot, runScript } from './scripts.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

/** A running single-node Kafka broker owned by the calling test file. */
export interface KafkaServer {
  /** Bootstrap addresses, e.g. `["127.0.0.1:41234"]`. */
  brokers: string[];
  /** Where its configuration, data and logs live. */
  dir: string;
  /** Graceful stop; removes `dir` unless KEEP_KAFKA_DIR is set. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data (after `kill` or a crash). */
  restart(): Promise<void>;
  /** SIGKILL, as a crash or a pulled cable would. */
  kill(): Promise<void>;
}

const repo = repoRoot();
const script = join(repo, 'tests/servers/kafka.sh');
const installer = join(repo, 'scripts/kafka/install.sh');

/** The jar directory, running scripts/kafka/install.sh (Maven) the first time. */
async function kafkaLibs(): Promise<string> {
  const home = join(process.env['VMSCTL_CACHE'] ?? join(homedir(), '.cache/vmsctl'), 'kafka-3.9.1');
  if (existsSync(join(home, '.complete'))) return join(home, 'libs');
  return (await runScript(installer, [], 600_000)).split('\n').pop() ?? '';
}

/**
 * Starts a Kafka 3.9 broker (KRaft, broker + controller in one JVM) in a fresh temp dir on
 * a free port. Takes a few seconds; call it once per test file in `beforeAll`.
 */
export async function startKafka(): Promise<KafkaServer> {
  // The owner pid makes the script kill the broker if this process dies without stop().
  const env = { KAFKA_LIBS: await kafkaLibs(), KAFKA_OWNER_PID: String(process.pid) };
  const dir = await mkdtemp(join(tmpdir(), 'vmsctl-kafka-'));
  const killOnExit = () => {
    // Synchronous: 'exit' handlers cannot wait for the script.
    try {
      process.kill(Number(readFileSync(join(dir, 'pid'), 'utf8')), 'SIGKILL');
    } catch {
      // Not running.
    }
  };
  process.on('exit', killOnExit);
  let port: string;
  try {
    port = await runScript(script, ['start', dir], 180_000, env);
  } catch (err) {
    process.off('exit', killOnExit);
    throw err;
  }
  return {
    brokers: [`127.0.0.1:${port}`],
    dir,
    async stop() {
      await runScript(script, ['stop', dir], 60_000, env);
      process.off('exit', killOnExit);
      if (!process.env['KEEP_KAFKA_DIR']) await rm(dir, { recursive: true, force: true });
    },
    async restart() {
      await runScript(script, ['start', dir, port], 180_000, env);
    },
    async kill() {
      await runScript(script, ['kill', dir], 30_000, env);
    },
  };
}
