/**
 * The edge ingest demo: three simulated cameras and one playing vtest.avi, a real Kafka
 * broker, `vmsctl edge ingest` running for minutes while faults are injected, then the
 * topics read back with kcat and the recordings listed.
 *
 *   npm run demo:ingest -- [seconds=180] [data-dir=demo-ingest]
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startCameraSimulator } from '../edge-stack/simulator/index.js';
import { startKafka } from '../tests/servers/kafka.js';
import { SIMULATED_CAMERAS, writeSimulatedFleet } from '../tests/fixtures/simulated-fleet.js';

const run = promisify(execFile);
const seconds = Number(process.argv[2] ?? 180);
const dir = resolve(process.argv[3] ?? 'demo-ingest');
const say = (s: string) => process.stdout.write(`\n== ${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

await rm(dir, { recursive: true, force: true });
await mkdir(dir, { recursive: true });
say('starting Kafka (KRaft, Maven Central artifacts) and the camera simulator');
const [kafka, sim] = await Promise.all([
  startKafka(),
  startCameraSimulator({ cameras: SIMULATED_CAMERAS }),
]);
try {
  const { fleetDir, secretsDir } = await writeSimulatedFleet(dir, (name) =>
    sim.url(name).replace(/\/main$/, ''),
  );
  say(
    `fleet in ${fleetDir}; cameras: ${SIMULATED_CAMERAS.map((c) => `${c.name} (${c.codec} ${c.width}x${c.height} ${c.scene})`).join(', ')}`,
  );
  const child = spawn(
    process.execPath,
    [
      'bin/run.js',
      'edge',
      'ingest',
      fleetDir,
      '--edge',
      'hq-edge-1',
      '--kafka',
      kafka.brokers.join(','),
      '--secrets',
      secretsDir,
      '--data',
      join(dir, 'data'),
      '--duration',
      String(seconds),
      '--interval',
      '20',
    ],
    { stdio: 'inherit' },
  );
  const exited = new Promise<number | null>((r) => child.on('close', r));
  const at = (fraction: number) => sleep(seconds * fraction * 1000);
  await at(0.3);
  say('fault: the entrance camera disconnects for 5 s');
  await sim.fault('entrance', 'disconnect', 5);
  await at(0.15);
  say('fault: the lobby camera stalls for 12 s (connected, no frames)');
  await sim.fault('lobby', 'stall', 12);
  await at(0.15);
  say('fault: the Kafka broker is killed for 15 s (jobs wait in the local buffer)');
  await kafka.kill();
  await sleep(15_000);
  await kafka.restart();
  say('Kafka is back');
  const code = await exited;
  say(`vmsctl edge ingest exited with ${code}`);

  say('VideoJobs read back from Kafka with kcat');
  for (const topic of ['video-jobs-critical', 'video-jobs-high', 'video-jobs-standard']) {
    const { stdout } = await run(
      'kcat',
      ['-C', '-b', kafka.brokers[0]!, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%s\n'],
      { maxBuffer: 512 * 1024 * 1024 },
    );
    const counts = new Map<string, number>();
    for (const line of stdout.split('\n').filter(Boolean)) {
      const job = JSON.parse(line) as { cameraId: string; kind: string };
      const k = `${job.cameraId} ${job.kind}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    console.log(`${topic}:`);
    for (const [k, n] of [...counts].sort()) console.log(`  ${k.padEnd(30)} ${n}`);
  }
  say('recordings on disk');
  const rec = join(dir, 'data', 'recordings');
  for (const cam of (await readdir(rec)).sort()) {
    const files = (await readdir(join(rec, cam))).filter((f) => f.endsWith('.mkv'));
    let bytes = 0;
    for (const f of files) bytes += (await stat(join(rec, cam, f))).size;
    console.log(
      `  ${cam.padEnd(20)} ${String(files.length).padStart(3)} files ${(bytes / 1e6).toFixed(1)} MB`,
    );
  }
} finally {
  await sim.stop();
  await kafka.stop();
}
