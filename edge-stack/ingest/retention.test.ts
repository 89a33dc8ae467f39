import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { enforceRetention } from './retention.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'retention-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const NOW = Date.UTC(2026, 10, 21, 12, 0, 0);
const name = (ms: number) =>
  `${new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}-run1.mkv`;

async function file(camera: string, ageHours: number, bytes: number) {
  await mkdir(join(dir, camera), { recursive: true });
  const path = join(dir, camera, name(NOW - ageHours * 3_600_000));
  await writeFile(path, Buffer.alloc(bytes));
  return path;
}

describe('enforceRetention', () => {
  it('deletes recordings older than their camera retention', async () => {
    await file('acme_a', 24 * 8, 10);
    await file('acme_a', 1, 10);
    await file('acme_b', 24 * 8, 10);
    await writeFile(join(dir, 'acme_a', 'notes.txt'), 'not a recording');
    const r = await enforceRetention(
      dir,
      { days: (cam) => (cam === 'acme_a' ? 7 : 30) },
      new Set(),
      NOW,
    );
    expect(r.deleted.map((d) => [d.path.split('/').at(-2), d.reason])).toEqual([
      ['acme_a', 'expired'],
    ]);
    expect((await readdir(join(dir, 'acme_a'))).sort()).toEqual([
      name(NOW - 3_600_000),
      'notes.txt',
    ]);
  });

  it('frees space oldest first across cameras and spares files being written', async () => {
    const oldest = await file('acme_a', 5, 1000);
    const second = await file('acme_b', 4, 1000);
    const writing = await file('acme_a', 3, 1000);
    await file('acme_b', 2, 1000);
    await file('acme_a', 1, 1000);
    const r = await enforceRetention(
      dir,
      { days: () => 30, maxBytes: 2500 },
      new Set([writing]),
      NOW,
    );
    expect(r.deleted.map((d) => d.path)).toEqual([
      oldest,
      second,
      expect.stringContaining('acme_b'),
    ]);
    expect(r.totalBytes).toBe(2000);
    expect((await readdir(join(dir, 'acme_a'))).length).toBe(2);
  });

  it('keeps a free-space floor', async () => {
    await file('acme_a', 2, 1000);
    await file('acme_a', 1, 1000);
    // No file system has this much free space: everything that may go, goes.
    const r = await enforceRetention(
      dir,
      { days: () => 30, minFreeBytes: Number.MAX_SAFE_INTEGER },
      new Set(),
      NOW,
    );
    expect(r.deleted).toHaveLength(2);
    expect(r.deleted.every((d) => d.reason === 'space')).toBe(true);
  });

  it('treats a missing folder as empty', async () => {
    const r = await enforceRetention(join(dir, 'nope'), { days: () => 1 }, new Set(), NOW);
    expect(r.deleted).toEqual([]);
  });
});
