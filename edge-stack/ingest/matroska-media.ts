import { open } from 'node:fs/promises';

// Matroska element IDs (with their length marker, as they appear in the file).
const EBML_HEADER = 0x1a45dfa3;
const SEGMENT = 0x18538067;
const CLUSTER = 0x1f43b675;
const SIMPLE_BLOCK = 0xa3;
const BLOCK_GROUP = 0xa0;

/**
 * How much of a file is read to find its first frame. The headers ffmpeg writes before it
 * are ~1 KB, so a file larger than this that holds no frame is not one a recorder left.
 */
export const MATROSKA_HEAD_BYTES = 64 * 1024;

interface Vint {
  value: number;
  length: number;
  /** All value bits set: the "unknown size" a live muxer writes for a Segment or Cluster. */
  unknown: boolean;
}

/** Reads an EBML variable-length integer at `pos`; `keepMarker` for element IDs. */
function readVint(buf: Buffer, pos: number, keepMarker: boolean): Vint | undefined {
  if (pos >= buf.length) return undefined;
  const first = buf[pos]!;
  let length = 1;
  while (length <= 8 && !(first & (0x80 >> (length - 1)))) length++;
  if (length > 8 || pos + length > buf.length) return undefined;
  let value = keepMarker ? first : first & (0xff >> length);
  let allOnes = value === 0xff >> length;
  for (let i = 1; i < length; i++) {
    const b = buf[pos + i]!;
    value = value * 256 + b;
    allOnes &&= b === 0xff;
  }
  return { value, length, unknown: !keepMarker && allOnes };
}

/** One element header: its id, where its body starts, and its body size (undefined: unknown). */
function readElement(buf: Buffer, pos: number) {
  const id = readVint(buf, pos, true);
  if (!id) return undefined;
  const size = readVint(buf, pos + id.length, false);
  if (!size) return undefined;
  return {
    id: id.value,
    body: pos + id.length + size.length,
    size: size.unknown ? undefined : size.value,
  };
}

/**
 * Whether a Matroska file holds at least one frame: a Cluster with a block in it. A
 * recorder killed between opening a segment and writing its first frame leaves only
 * headers (or part of them); players and ffprobe reject such a file, so it is not a
 * recording. Walks the element tree by sizes, so frame payloads are never scanned.
 * `complete` says `buf` is the whole file; when it is only the head and the walk runs
 * past it, the answer is yes: a file is never taken for empty without proof.
 */
export function holdsFrames(buf: Buffer, complete = true): boolean {
  const answer = walk(buf);
  return answer === 'unknown' ? !complete : answer;
}

function walk(buf: Buffer): boolean | 'unknown' {
  const header = readElement(buf, 0);
  if (!header) return buf.length < 64 ? 'unknown' : false;
  if (header.id !== EBML_HEADER || header.size === undefined) return false;
  const segment = readElement(buf, header.body + header.size);
  if (!segment) return 'unknown';
  if (segment.id !== SEGMENT) return false;
  let pos = segment.body;
  while (pos < buf.length) {
    const el = readElement(buf, pos);
    if (!el) return 'unknown';
    if (el.id === CLUSTER) {
      const end = el.size === undefined ? buf.length : Math.min(buf.length, el.body + el.size);
      for (let p = el.body; p < end;) {
        const child = readElement(buf, p);
        if (!child || child.size === undefined) return 'unknown';
        if (child.id === SIMPLE_BLOCK || child.id === BLOCK_GROUP) return child.size > 0;
        p = child.body + child.size;
      }
      if (el.size === undefined) return 'unknown';
    } else if (el.size === undefined) {
      return false;
    }
    pos = el.body + el.size!;
  }
  return 'unknown';
}

/** Whether the Matroska file at `path` holds at least one frame (see `holdsFrames`). */
export async function fileHoldsFrames(path: string): Promise<boolean> {
  const file = await open(path, 'r').catch(() => undefined);
  if (!file) return false;
  try {
    const buf = Buffer.alloc(MATROSKA_HEAD_BYTES);
    const { bytesRead } = await file.read(buf, 0, MATROSKA_HEAD_BYTES, 0);
    const { size } = await file.stat();
    return holdsFrames(buf.subarray(0, bytesRead), bytesRead >= size);
  } finally {
    await file.close();
  }
}
