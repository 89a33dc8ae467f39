import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
import { scrub } from './source-input.js';

/** Why an ffmpeg run ended, read from what it printed. */
export type ExitReason =
  | 'unauthorized'
  | 'unreachable'
  | 'not-found'
  | 'timeout'
  | 'disk-full'
  | 'invalid-data'
  | 'stalled'
  | 'stopped'
  | 'ended'
  | 'crashed';

const REASONS: [RegExp, ExitReason][] = [
  [/401 Unauthorized|403 Forbidden|authorization failed/i, 'unauthorized'],
  [/No space left on device/i, 'disk-full'],
  [/404 Not Found|No such file or directory|Server returned 404/i, 'not-found'],
  [
    /Connection refused|No route to host|Network is unreachable|Failed to resolve|Name or service not known|Cannot assign requested address/i,
    'unreachable',
  ],
  [/timed out|Connection timed out|Operation timed out/i, 'timeout'],
  [/Invalid data found|could not find codec parameters|Unsupported codec/i, 'invalid-data'],
];

/** Classifies an ffmpeg failure from its last lines of output. */
export function classifyExit(lines: readonly string[]): ExitReason | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    for (const [re, reason] of REASONS) if (re.test(lines[i]!)) return reason;
  }
  return undefined;
}

/** One ffmpeg invocation's command line and environment. */
export interface FfmpegCommand {
  ffmpegPath: string;
  args: string[];
  /** Strings to scrub from every line of output. */
  secrets: readonly string[];
  env?: NodeJS.ProcessEnv;
}

export interface RunHooks {
  /** Called with each (scrubbed) stderr line. */
  onLine?(line: string): void;
  /** Called once the process is spawned, with its stdout (for frames) and extra pipes. */
  onStart?(child: ChildProcess): void;
}

/** Result of one ffmpeg run. */
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  reason: ExitReason;
  /** Last lines ffmpeg printed, scrubbed, for the health message. */
  tail: string[];
  ranMs: number;
}

/** A running ffmpeg child and how to end it. */
export interface FfmpegRun {
  child: ChildProcess;
  done: Promise<RunResult>;
  /** Asks ffmpeg to finish (so it closes the current file properly), then kills it. */
  stop(reason?: ExitReason, graceMs?: number): void;
}

/** Spawns ffmpeg without a shell, with output scrubbed of secrets. */
export function runFfmpeg(cmd: FfmpegCommand, hooks: RunHooks = {}): FfmpegRun {
  const started = Date.now();
  const child = spawn(cmd.ffmpegPath, cmd.args, {
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    env: { ...process.env, TZ: 'UTC', ...cmd.env },
  });
  const tail: string[] = [];
  let forced: ExitReason | undefined;
  const rl = createInterface({ input: child.stderr! });
  rl.on('line', (raw) => {
    const line = scrub(raw, cmd.secrets);
    tail.push(line);
    if (tail.length > 20) tail.shift();
    hooks.onLine?.(line);
  });
  // A child that dies before reading stdin makes writes fail with EPIPE; that is not an error here.
  child.stdin!.on('error', () => undefined);
  hooks.onStart?.(child);
  const done = new Promise<RunResult>((resolve) => {
    let spawnError: Error | undefined;
    child.on('error', (e) => (spawnError = e));
    child.on('close', (code, signal) => {
      if (spawnError) tail.push(`cannot start ${cmd.ffmpegPath}: ${spawnError.message}`);
      const reason =
        forced ??
        (code === 0 ? 'ended' : (classifyExit(tail) ?? (spawnError ? 'not-found' : 'crashed')));
      resolve({ code, signal, reason, tail: [...tail], ranMs: Date.now() - started });
    });
  });
  let stopping = false;
  const stop = (reason: ExitReason = 'stopped', graceMs = 3000) => {
    if (stopping) return;
    stopping = true;
    forced = reason;
    // "q" on stdin makes ffmpeg flush and finalize the segment it is writing.
    child.stdin!.end('q');
    const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    killer.unref();
    child.once('close', () => clearTimeout(killer));
  };
  return { child, done, stop };
}

/** State of a supervised ffmpeg, as health reports it. */
export type SupervisorState = 'starting' | 'running' | 'backoff' | 'stopped';

export interface SupervisorOptions {
  /** Builds the command for each attempt (credentials may be re-read). */
  command(): Promise<FfmpegCommand>;
  hooks: RunHooks;
  backoff?: BackoffPolicy;
  /** A run longer than this counts as healthy and resets the backoff. */
  healthyAfterMs?: number;
  onExit?(result: RunResult, nextDelayMs: number): void;
  onState?(state: SupervisorState): void;
  onCommandError?(error: Error): void;
}

/**
 * Keeps one ffmpeg running: restarts it after any exit with exponential backoff and
 * jitter; wrong credentials wait the longest so a camera does not lock the account.
 */
export class FfmpegSupervisor {
  private current?: FfmpegRun;
  private stopped = false;
  private attempt = 0;
  private wake?: () => void;
  private loop?: Promise<void>;
  restarts = 0;

  constructor(private readonly opts: SupervisorOptions) {}

  /** Starts the supervision loop. */
  start(): void {
    this.loop ??= this.run();
  }

  /** Ends the current run with `reason`; the supervisor starts a new one after backoff. */
  restart(reason: ExitReason): void {
    this.current?.stop(reason, 1000);
  }

  /** Ends a backoff wait now and resets the backoff (the cause was fixed, e.g. disk freed). */
  retryNow(): void {
    this.attempt = 0;
    this.wake?.();
  }

  /** Stops for good, letting ffmpeg close its files. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.current?.stop('stopped');
    this.wake?.();
    await this.loop;
  }

  private async run() {
    const policy = this.opts.backoff ?? DEFAULT_BACKOFF;
    while (!this.stopped) {
      this.opts.onState?.('starting');
      let result: RunResult | undefined;
      try {
        const cmd = await this.opts.command();
        if (this.stopped) break;
        this.current = runFfmpeg(cmd, {
          ...this.opts.hooks,
          onStart: (child) => {
            this.opts.onState?.('running');
            this.opts.hooks.onStart?.(child);
          },
        });
        result = await this.current.done;
        this.current = undefined;
      } catch (e) {
        this.opts.onCommandError?.(e as Error);
      }
      if (this.stopped) break;
      if (result && result.ranMs >= (this.opts.healthyAfterMs ?? 10_000)) this.attempt = 0;
      const delay =
        result?.reason === 'unauthorized' ? policy.maxMs : backoffDelay(this.attempt++, policy);
      this.restarts++;
      if (result) this.opts.onExit?.(result, delay);
      this.opts.onState?.('backoff');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    this.opts.onState?.('stopped');
  }
}
