import { stringify } from 'yaml';
import type { AnyResource } from '../schema/kinds.js';

/** Serializes resources as one multi-document YAML text, in the given order. */
export function toYaml(resources: readonly AnyResource[], header?: string): string {
  const body = resources
    .map((r) => stringify(r, { lineWidth: 0, aliasDuplicateObjects: false }))
    .join('---\n');
  return header ? `# ${header.split('\n').join('\n# ')}\n${body}` : body;
}
