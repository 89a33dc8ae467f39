/**
 * Simulated IP cameras over real RTSP, for tests, benchmarks and the demo.
 *
 * The cameras are served by `camera-sim.py` (gst-rtsp-server through python3-gi), one
 * process for all of them on one port. This module starts it, waits until it listens,
 * injects faults through its stdin control channel and stops it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The real footage the `vtest` and `frozen` scenes use (Debian package opencv-doc). */
export const VTEST_PATH = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';

/** Debian's interpreter: it has python3-gi; a `python3` earlier on PATH may not. */
const PYTHON = '/usr/bin/python3';
const SCRIPT_IN_REPO = 'edge-stack/simulator/camera-sim.py';
const READY_TIMEOUT_MS = 30_000;
const REPLY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;

export type SimCodec = 'H264' | 'H265' | 'MJPEG';

/**
 * What a camera shows: `pattern` a ball moving over a flat background with the wall clock
 * (HH:MM:SS.mmm) in the top-left corner; `vtest` the looped vtest.avi footage; `covered` a
 * nearly black, nearly uniform picture (lens covered); `frozen` one still frame repeated.
 */
export type SimScene = 'pattern' | 'vtest' | 'covered' | 'frozen';

/**
 * Faults injected at runtime. `disconnect` drops the camera's RTSP connections and answers
 * 503 to new ones; `stall` keeps sessions open but sends no frames; `slow` delivers at about
 * half the stream's rate (frames are lost as the backlog overflows); `corrupt` damages bytes
 * of encoded frames; `recover` clears every fault of the camera.
 */
export type SimFault = 'disconnect' | 'stall' | 'slow' | 'corrupt' | 'recover';

/** One simulated camera. Mounts: `/<name>/main` and `/<name>/sub` (at most 640 wide, half size). */
export interface SimCameraSpec {
  /** Letters, digits, `_`, `-`, `.`; unique. */
  name: string;
  codec: SimCodec;
  /** Even, 32..4096 x 32..2160. */
  width: number;
  height: number;
  /** 1..60. */
  fps: number;
  /** Target bitrate of the main stream (MJPEG: mapped roughly onto a JPEG quality). */
  bitrateKbps: number;
  scene: SimScene;
  /** Basic auth: without it the camera is open; with it, missing or wrong credentials get 401. */
  auth?: { user: string; password: string };
}

/** A running simulator. */
export interface CameraSimulator {
  port: number;
  /** RTSP URL of a camera's stream, without credentials. */
  url(name: string, stream?: 'main' | 'sub'): string;
  /** Injects a fault; without `seconds` it lasts until `recover` (disconnect: until recover too). */
  fault(name: string, kind: SimFault, seconds?: number): Promise<void>;
  /** Ends the process (and every RTSP session); safe to call twice. */
  stop(): Promise<void>;
}

/** Where camera-sim.py lies: the source tree above this module, also when it runs from dist/. */
export function simulatorScriptPath(): string {
  // The .py file is not compiled, so dist/edge-stack/simulator/ has no copy: walk up to the
  // first folder that holds the script at its repository path.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, SCRIPT_IN_REPO);
    if (existsSync(candidate)) return candidate;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find ${SCRIPT_IN_REPO} above ${import.meta.url}`);
    dir = up;
  }
}

let depsChecked: boolean | undefined;

/** Whether this machine can run the simulator (python3-gi, gst-rtsp-server and the encoders). */
export function hasSimulatorDeps(): boolean {
  if (depsChecked === undefined) {
    const probe = [
      'import gi',
      "gi.require_version('Gst', '1.0')",
      "gi.require_version('GstRtspServer', '1.0')",
      'from gi.repository import Gst, GstRtspServer',
      'Gst.init(None)',
      'needed = "intervideosrc x264enc x265enc jpegenc rtph264pay rtph265pay rtpjpegpay ' +
        'breakmydata overlaycomposition videotestsrc decodebin avidemux imagefreeze".split()',
      'missing = [e for e in needed if Gst.ElementFactory.find(e) is None]',
      'raise SystemExit(1 if missing else 0)',
    ].join('\n');
    const r = spawnSync(PYTHON, ['-c', probe], { stdio: 'ignore', timeout: 30_000 });
    depsChecked = r.status === 0;
  }
  return depsChecked;
}

interface Reply {
  id?: number;
  ok?: boolean;
  error?: string;
  ready?: boolean;
  port?: number;
}

/**
 * Starts one simulator process serving `cameras` on 127.0.0.1:`port` (0, the default,
 * picks a free port). Resolves once it accepts connections; rejects with the process's
 * stderr if it does not start within 30 s.
 */
export async function startCameraSimulator(options: {
  cameras: SimCameraSpec[];
  port?: number;
}): Promise<CameraSimulator> {
  const script = simulatorScriptPath();
  const config = JSON.stringify({
    port: options.port ?? 0,
    address: '127.0.0.1',
    cameras: options.cameras,
  });
  // The config (with any camera passwords) goes through stdin, not the process list.
  const child = spawn(PYTHON, [script, '-'], { stdio: ['pipe', 'pipe', 'pipe'] });

  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    stderr.push(line);
    if (stderr.length > 40) stderr.shift();
  });
  const stderrTail = () => stderr.slice(-10).join('\n');
  // A write after the child died must not crash the test process.
  child.stdin!.on('error', () => undefined);
  child.stdin!.write(`${config}\n`);

  // The child also ends when its stdin closes, which covers a parent killed with SIGKILL;
  // this covers a normal exit that forgot stop().
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);

  const pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  let exited: Error | undefined;
  let onReady: ((reply: Reply) => void) | undefined;

  createInterface({ input: child.stdout! }).on('line', (line) => {
    let reply: Reply;
    try {
      reply = JSON.parse(line) as Reply;
    } catch {
      return;
    }
    if (onReady) {
      onReady(reply);
      return;
    }
    const waiter = typeof reply.id === 'number' ? pending.get(reply.id) : undefined;
    if (!waiter) return;
    pending.delete(reply.id!);
    if (reply.ok) waiter.resolve();
    else waiter.reject(new Error(`camera simulator: ${reply.error ?? 'request failed'}`));
  });

  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      process.off('exit', killOnExit);
      exited = new Error(
        `camera simulator exited (${signal ?? `code ${code}`})${stderr.length ? `: ${stderrTail()}` : ''}`,
      );
      for (const waiter of pending.values()) waiter.reject(exited);
      pending.clear();
      resolve();
    });
  });

  const port = await new Promise<number>((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      onReady = undefined;
      child.kill('SIGKILL');
      reject(new Error(`camera simulator ${why}${stderr.length ? `:\n${stderrTail()}` : ''}`));
    };
    const timer = setTimeout(
      () => fail(`not ready after ${READY_TIMEOUT_MS / 1000} s`),
      READY_TIMEOUT_MS,
    );
    child.once('error', (err) => fail(`could not start ${PYTHON}: ${err.message}`));
    // stderr may still be in flight when 'exit' fires; 'close' waits for the pipes.
    child.once('close', (code, signal) => {
      if (onReady) fail(`exited before it was ready (${signal ?? `code ${code}`})`);
    });
    onReady = (reply) => {
      onReady = undefined;
      clearTimeout(timer);
      if (reply.ready && typeof reply.port === 'number') resolve(reply.port);
      else fail(`said ${JSON.stringify(reply)} instead of ready`);
    };
  });

  let nextId = 1;
  const request = (body: Record<string, unknown>): Promise<void> => {
    if (exited) return Promise.reject(exited);
    const id = nextId++;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`camera simulator did not answer ${JSON.stringify(body)}`));
      }, REPLY_TIMEOUT_MS);
      pending.set(id, {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      child.stdin!.write(`${JSON.stringify({ id, ...body })}\n`);
    });
  };

  return {
    port,
    url: (name, stream = 'main') =>
      `rtsp://127.0.0.1:${port}/${encodeURIComponent(name)}/${stream}`,
    fault: (name, kind, seconds) =>
      request({ cmd: 'fault', camera: name, kind, ...(seconds === undefined ? {} : { seconds }) }),
    stop: () => stopChild(child, exitedPromise),
  };
}

/** Asks the child to stop (stdin command, then EOF), SIGKILLs it after a grace period. */
async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const killer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.stdin!.end('{"cmd":"stop"}\n');
    await exited;
    clearTimeout(killer);
  }
  await exited;
}
