import { createHash } from 'node:crypto';
import { canonicalJson } from '../apply/canonical-json.js';

/** A DNS-1123 name `<prefix>-<name>`, shortened with a hash suffix when over 63 characters. */
export function childName(prefix: string, name: string): string {
  const full = `${prefix}-${name}`;
  if (full.length <= 63) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 8);
  return `${full.slice(0, 54).replace(/-+$/, '')}-${hash}`;
}

/** Short content digest used in revisions and workload ids. */
export function digest(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 12);
}

/** Digest of a text as it is (a rendered file: it changes exactly when the file does). */
export function textDigest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}
