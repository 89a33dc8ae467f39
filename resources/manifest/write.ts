import { Document, isScalar, isSeq, visit } from 'yaml';
import type { AnyResource } from '../schema/kinds.js';

/**
 * Serializes resources as one multi-document YAML text. Strings that YAML 1.1 readers
 * (kubectl, Go) would take for dates or booleans are quoted, and number pairs such as
 * ROI points stay on one line.
 */
export function toYaml(resources: readonly AnyResource[], header?: string): string {
  const body = resources
    .map((r) => {
      const doc = new Document(r, { version: '1.1', aliasDuplicateObjects: false });
      visit(doc, {
        Seq(_, node) {
          if (
            isSeq(node) &&
            node.items.length <= 4 &&
            node.items.every((i) => isScalar(i) && typeof i.value === 'number')
          ) {
            node.flow = true;
          }
        },
      });
      return doc.toString({ lineWidth: 0 });
    })
    .join('---\n');
  return header ? `# ${header.split('\n').join('\n# ')}\n${body}` : body;
}
