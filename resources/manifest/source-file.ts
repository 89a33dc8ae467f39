import {
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseAllDocuments,
  visit,
  type Document,
  type Node,
  type ParsedNode,
} from 'yaml';
import { readBlockYaml } from './block-yaml.js';

export type Path = readonly (string | number)[];

/** One parsed YAML document of a file, as plain data. */
export interface ParsedDocument {
  index: number;
  value: unknown;
  /** Syntax errors with their positions; a document with errors yields no resource. */
  errors: { message: string; line: number; col: number }[];
  warnings: { message: string; line: number; col: number }[];
}

/**
 * A YAML file and its documents. The composed syntax tree is what maps a field path back
 * to line and column; it is kept only while diagnostics may still need it.
 */
export class SourceFile {
  private tree?: { docs: Document.Parsed[]; lines: LineCounter };

  constructor(
    /** Path as shown to users (relative to the fleet root). */
    readonly path: string,
    readonly text: string,
  ) {}

  private composed() {
    if (!this.tree) {
      const lines = new LineCounter();
      const docs = parseAllDocuments(this.text, { lineCounter: lines, uniqueKeys: true });
      this.tree = { docs: Array.isArray(docs) ? docs : [], lines };
    }
    return this.tree;
  }

  /**
   * Parses every document. Empty documents (a trailing `---`, a file of only comments) and
   * documents that are just `null` are skipped; indices stay those of `yaml`, which
   * `locate` uses.
   */
  documents(): ParsedDocument[] {
    // Plain block YAML (what fleets are written in) is read without building `yaml`'s
    // syntax tree, which costs many times more; the reader gives up on anything else.
    // `locate` still builds the tree on demand.
    const fast = this.tree ? undefined : readBlockYaml(this.text);
    if (fast) {
      const out: ParsedDocument[] = [];
      fast.forEach((value, index) => {
        if (value !== null) out.push({ index, value, errors: [], warnings: [] });
      });
      return out;
    }
    try {
      return this.parsedDocuments();
    } catch (err) {
      // Nesting deep enough to overflow the stack: a finding, not a crash.
      if (!(err instanceof RangeError)) throw err;
      const message = `cannot be read: ${firstLine(err.message)} (nested too deeply?)`;
      return [{ index: 0, value: undefined, errors: [{ message, line: 1, col: 1 }], warnings: [] }];
    }
  }

  private parsedDocuments(): ParsedDocument[] {
    const { docs, lines } = this.composed();
    const pos = (offset: number) => lines.linePos(offset);
    const out: ParsedDocument[] = [];
    docs.forEach((doc, index) => {
      const errors = doc.errors.map((e) => ({ message: firstLine(e.message), ...pos(e.pos[0]) }));
      const warnings = doc.warnings.map((e) => ({
        message: firstLine(e.message),
        ...pos(e.pos[0]),
      }));
      let value: unknown;
      if (errors.length === 0) {
        try {
          value = doc.toJS({ maxAliasCount: 100 });
        } catch (err) {
          // Alias problems (unknown anchor, alias bombs) surface only when building values.
          const at = unresolvedAliasOffset(doc, err) ?? doc.contents?.range?.[0] ?? 0;
          errors.push({ message: firstLine((err as Error).message), ...pos(at) });
        }
        // An empty document is a null scalar to `yaml`, like an explicit `null`.
        if (errors.length === 0 && value === null) return;
      }
      out.push({ index, value, errors, warnings });
    });
    return out;
  }

  /** Drops the syntax tree to save memory; `locate` re-parses on demand. */
  release(): void {
    this.tree = undefined;
  }

  /**
   * Line and column of a field: of its key when the key exists, else of the deepest
   * existing parent (so "missing field" points at the object that lacks it).
   */
  locate(docIndex: number, path: Path): { line: number; col: number } {
    const { docs, lines } = this.composed();
    const doc = docs[docIndex];
    if (!doc) return { line: 1, col: 1 };
    let node: Node | null = doc.contents as ParsedNode | null;
    let offset = node?.range?.[0] ?? 0;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) break;
        offset = (pair.key as ParsedNode).range?.[0] ?? offset;
        node = pair.value as Node | null;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg] as ParsedNode | undefined;
        if (!item) break;
        offset = item.range?.[0] ?? offset;
        node = item;
      } else {
        break;
      }
    }
    return lines.linePos(offset);
  }
}

/** Offset of the alias an error names, so the finding points at it rather than the document. */
function unresolvedAliasOffset(doc: Document.Parsed, err: unknown): number | undefined {
  const name = /alias[^:]*: (\S+)/i.exec((err as Error)?.message ?? '')?.[1];
  let offset: number | undefined;
  if (name) {
    visit(doc, {
      Alias(_, node) {
        if (node.source === name && offset === undefined) offset = node.range?.[0];
      },
    });
  }
  return offset;
}

/** First line of a `yaml` message, without its trailing "at line N, column M:" (we give the position). */
function firstLine(message: string): string {
  return message
    .split('\n')[0]!
    .replace(/ at line \d+, column \d+:?$/, '')
    .trim();
}
