import { gunzipSync, gzipSync } from 'node:zlib';

/**
 * The rendered objects of a bundle share travel as one gzip+base64 string per share (Helm and
 * Fleet store release content the same way). The apiserver then parses, validates, diffs and
 * stores a string instead of thousands of nested fields on every write, and each watcher gets
 * a few kilobytes instead of tens: at 800 edges the rendered objects were most of what it did.
 */
export interface Payload {
  name: string;
  content: string;
}

/** Packs workloads' objects, by workload name, into one payload. */
export function packPayload(
  name: string,
  workloads: readonly { name: string; objects: readonly Record<string, unknown>[] }[],
): Payload {
  const byName: Record<string, readonly Record<string, unknown>[]> = {};
  for (const w of workloads) byName[w.name] = w.objects;
  return { name, content: gzipSync(JSON.stringify(byName)).toString('base64') };
}

/**
 * The objects of each workload in a payload. Throws a clear error when the content is not
 * what packPayload writes (truncated, hand-edited, from an incompatible version).
 */
export function unpackPayload(payload: Payload): Map<string, Record<string, unknown>[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(gunzipSync(Buffer.from(payload.content, 'base64')).toString('utf8'));
  } catch (err) {
    throw new Error(
      `payload "${payload.name}" is not gzip+base64 JSON: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new Error(`payload "${payload.name}" does not map workload names to objects`);
  const out = new Map<string, Record<string, unknown>[]>();
  for (const [workload, objects] of Object.entries(parsed as Record<string, unknown>)) {
    const valid =
      Array.isArray(objects) &&
      objects.every(
        (o) =>
          !!o &&
          typeof o === 'object' &&
          typeof (o as { apiVersion?: unknown }).apiVersion === 'string' &&
          typeof (o as { kind?: unknown }).kind === 'string' &&
          typeof (o as { metadata?: { name?: unknown } }).metadata?.name === 'string',
      );
    if (!valid)
      throw new Error(
        `payload "${payload.name}", workload "${workload}": expected a list of objects with apiVersion, kind and metadata.name`,
      );
    out.set(workload, objects as Record<string, unknown>[]);
  }
  return out;
}
