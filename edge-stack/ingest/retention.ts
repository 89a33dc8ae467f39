import { readdir, stat, statfs, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { recordingStartFromName } from './recorder.js';

/** Limits on the recordings disk. */
export interface RetentionPolicy {
  /** Per camera key: days to keep recordings. */
  days(cameraKey: string): number;
  /** Keep the recordings folder under this many bytes (all cameras together). */
  maxBytes?: number;
  /** Keep at least this much free space on the file system. */
  minFreeBytes?: number;
}

/** What one retention pass deleted. */
export interface RetentionResult {
  deleted: { path: string; bytes: number; reason: 'expired' | 'space' }[];
  totalBytes: number;
  freeBytes: number;
}

interface FileEntry {
  path: string;
  camera: string;
  startMs: number;
  bytes: number;
}

/**
 * Enforces retention on the recordings folder: first what is older than its camera's
 * retention, then, while over the byte budget or under the free-space floor, the oldest
 * recordings of any camera. `inUse` protects the file each recorder is writing.
 */
export async function enforceRetention(
  recordingsDir: string,
  policy: RetentionPolicy,
  inUse: ReadonlySet<string> = new Set(),
  now: number = Date.now(),
): Promise<RetentionResult> {
  const files: FileEntry[] = [];
  for (const camera of await readdir(recordingsDir).catch(() => [] as string[])) {
    const dir = join(recordingsDir, camera);
    for (const f of await readdir(dir).catch(() => [] as string[])) {
      const startMs = recordingStartFromName(f);
      if (startMs === undefined) continue;
      const path = join(dir, f);
      const s = await stat(path).catch(() => undefined);
      if (s?.isFile()) files.push({ path, camera, startMs, bytes: s.size });
    }
  }
  files.sort((a, b) => a.startMs - b.startMs);
  const deleted: RetentionResult['deleted'] = [];
  let total = files.reduce((n, f) => n + f.bytes, 0);
  const remove = async (f: FileEntry, reason: 'expired' | 'space') => {
    await unlink(f.path).catch(() => undefined);
    total -= f.bytes;
    deleted.push({ path: f.path, bytes: f.bytes, reason });
  };
  const left: FileEntry[] = [];
  for (const f of files) {
    if (!inUse.has(f.path) && f.startMs < now - policy.days(f.camera) * 86_400_000)
      await remove(f, 'expired');
    else left.push(f);
  }
  const free = async () => {
    const s = await statfs(recordingsDir).catch(() => undefined);
    return s ? s.bavail * s.bsize : Infinity;
  };
  let freeBytes = await free();
  for (const f of left) {
    const overBudget = policy.maxBytes !== undefined && total > policy.maxBytes;
    const underFloor = policy.minFreeBytes !== undefined && freeBytes < policy.minFreeBytes;
    if (!overBudget && !underFloor) break;
    if (inUse.has(f.path)) continue;
    await remove(f, 'space');
    freeBytes = await free();
  }
  return { deleted, totalBytes: total, freeBytes };
}
