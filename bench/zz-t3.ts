import { spawn } from 'node:child_process';
import { startSimulator } from './ingest-servers.js';
import { clockGeometry, readClock, timeOfDayNear } from './ingest-clock.js';
import { normalizerArgs, sourceInput } from '../edge-stack/ingest/index.js';
const sim = await startSimulator([{ name: 'fire', codec: 'H264', width: 1280, height: 720, fps: 15, bitrateKbps: 2500, scene: 'pattern' }]);
const g = clockGeometry(1280, 720, 640, 480);
const input = sourceInput({ site: 'a', zone: 'a', source: { type: 'rtsp', url: sim.url('fire'), transport: 'tcp' }, streams: { main: { codec: 'H264', resolution: '1280x720', fps: 15, bitrate: '2500Kbps' } } } as never, 'main', undefined, {});
for (const variant of (process.env.V ?? 'default,threads1,default,threads1').split(',')) {
  const args = normalizerArgs(input, { width: 640, height: 480, fps: Number(process.env.FPS ?? 15), letterbox: true, keyframesOnly: false });
  args[args.indexOf('-loglevel') + 1] = 'error';
  if (variant === 'threads1') args.splice(args.indexOf('-i'), 0, '-threads', '1');
  args.splice(args.length - 1, 0, '-t', '12');
  const ff = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let buf = Buffer.alloc(0); const FB = 640 * 480 * 3; const lats: number[] = [];
  ff.stdout!.on('data', (c: Buffer) => { buf = Buffer.concat([buf, c]); while (buf.length >= FB) { const f = buf.subarray(0, FB); buf = buf.subarray(FB); const t = readClock(f.subarray(g.firstRow * 1920, g.endRow * 1920), g); if (t !== undefined) lats.push(Date.now() - timeOfDayNear(t, Date.now())); } });
  await new Promise((r) => ff.on('close', r));
  const s = lats.slice(45).sort((a, b) => a - b);
  console.log(variant, s.length, 'p50', s[Math.floor(s.length / 2)], 'p95', s[Math.floor(s.length * 0.95)], 'min', s[0]);
}
await sim.stop();
