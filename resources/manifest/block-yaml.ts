/**
 * Fast reader for the plain block-style YAML that fleet files are made of: block mappings
 * and sequences, plain and simply quoted scalars, one-line flow lists of plain scalars,
 * comments, `---` between documents.
 *
 * Parsing 6,000 cameras with the full `yaml` composer costs several times more than
 * everything else `vmsctl validate` does, and building its syntax tree only pays off
 * when a diagnostic needs a line number. This reader accepts a strict subset and gives up
 * (returns undefined) on anything else: anchors, tags, nested flow collections, block or
 * multi-line scalars, escapes, directives, duplicate keys, empty documents, tabs, odd
 * indentation. The caller then uses `yaml` itself, so the result is always exactly
 * what `parseAllDocuments(text).map((d) => d.toJS())` gives for an error-free file.
 */

/** Thrown inside the reader to give up; never escapes `readBlockYaml`. */
class Unsupported extends Error {}
const unsupported = new Unsupported('outside the block-YAML subset');

// Characters whose meaning differs between YAML versions or parsers, or that this reader
// does not handle (tabs, CR, BOM, C0/C1 controls, Unicode line separators): give up.
// eslint-disable-next-line no-control-regex
const AWKWARD_CHARS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\ufeff]/;

const MAX_KEY_LENGTH = 1000; // `yaml` rejects implicit keys longer than 1024 characters.

const SPACE = 32;
const DASH = 45;
const HASH = 35;
const COLON = 58;

/** One document's content lines: comments and blank lines removed. */
interface Lines {
  text: string[];
  indent: number[];
}

/**
 * Reads every document of `text` when it is in the supported subset, else undefined.
 * Each document must be a block mapping (a resource); empty documents make it give up,
 * because `yaml` reports them as documents whose value is null.
 */
export function readBlockYaml(text: string): unknown[] | undefined {
  if (AWKWARD_CHARS.test(text)) return undefined;
  try {
    const docs: unknown[] = [];
    let lines: Lines = { text: [], indent: [] };
    let separators = 0;
    const finish = () => {
      if (lines.text.length === 0) {
        // Comments before the first `---` belong to the first document; any other
        // document without content is a null document to `yaml`.
        if (separators === 0) return;
        throw unsupported;
      }
      docs.push(readDocument(lines));
      lines = { text: [], indent: [] };
    };
    let start = 0;
    while (start <= text.length) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      const line = text.slice(start, end);
      start = end + 1;
      let indent = 0;
      while (line.charCodeAt(indent) === SPACE) indent++;
      if (indent === line.length || line.charCodeAt(indent) === HASH) continue;
      if (indent === 0) {
        if (line.startsWith('---')) {
          if (!/^--- *$/.test(line)) throw unsupported;
          if (lines.text.length > 0 || separators > 0) finish();
          separators++;
          continue;
        }
        if (line.startsWith('...') || line.charCodeAt(0) === 37 /* % */) throw unsupported;
      }
      lines.text.push(line);
      lines.indent.push(indent);
    }
    if (lines.text.length > 0 || separators > 0) finish();
    return docs;
  } catch (err) {
    if (err === unsupported) return undefined;
    throw err;
  }
}

function readDocument(lines: Lines): unknown {
  if (lines.indent[0] !== 0 || keyAt(lines.text[0]!, 0) < 0) throw unsupported;
  const reader = new BlockReader(lines);
  const value = reader.map(0);
  if (reader.line !== lines.text.length) throw unsupported;
  return value;
}

/** Key found by the last successful `keyAt`. */
let foundKey = '';
/** Keys already checked to read as strings (fleets repeat a few dozen keys thousands of times). */
const stringKeys = new Set<string>();

/**
 * Where the value starts if a plain key followed by ":" and a space or the end of the line
 * starts at `col` (the key is left in `foundKey`); -1 if there is none. Keys are narrower
 * than YAML allows (letters, digits and `_./-`, no quotes or spaces): others fall back.
 */
function keyAt(line: string, col: number): number {
  const first = line.charCodeAt(col);
  if (!isKeyStart(first)) return -1;
  let i = col + 1;
  while (isKeyChar(line.charCodeAt(i))) i++;
  if (line.charCodeAt(i) !== COLON) return -1;
  let valueAt = i + 1;
  if (valueAt < line.length && line.charCodeAt(valueAt) !== SPACE) return -1;
  while (line.charCodeAt(valueAt) === SPACE) valueAt++;
  const key = line.slice(col, i);
  if (!stringKeys.has(key)) {
    if (key.length > MAX_KEY_LENGTH || key === '__proto__' || typeof plainScalar(key) !== 'string')
      throw unsupported;
    stringKeys.add(key);
  }
  foundKey = key;
  return valueAt;
}

function isKeyStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95; // a-z A-Z 0-9 _
}

function isKeyChar(c: number): boolean {
  return isKeyStart(c) || c === 46 || c === 47 || c === 45; // . / -
}

/** Whether a block sequence entry ("-" then a space or the end) starts at `col`. */
function dashAt(line: string, col: number): boolean {
  if (line.charCodeAt(col) !== DASH) return false;
  const next = line.charCodeAt(col + 1);
  return Number.isNaN(next) || next === SPACE;
}

class BlockReader {
  /** Index of the next unread content line. */
  line = 0;
  constructor(private readonly lines: Lines) {}

  private get done(): boolean {
    return this.line >= this.lines.text.length;
  }

  /** A block mapping whose first key starts at column `col` of the current line. */
  map(col: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    let first = true;
    for (;;) {
      const text = this.lines.text[this.line]!;
      if (!first && this.lines.indent[this.line] !== col) throw unsupported;
      first = false;
      const valueAt = keyAt(text, col);
      if (valueAt < 0) throw unsupported;
      const key = foundKey;
      if (Object.hasOwn(out, key)) throw unsupported; // `yaml` reports duplicate keys.
      out[key] =
        valueAt >= text.length || text.charCodeAt(valueAt) === HASH
          ? this.nested(col, true)
          : this.inlineScalar(text, valueAt);
      if (this.done) return out;
      const indent = this.lines.indent[this.line]!;
      if (indent < col) return out;
      if (indent > col) throw unsupported; // a multi-line scalar or a syntax error
    }
  }

  /** A block sequence whose first "-" is at column `col` of the current line. */
  seq(col: number): unknown[] {
    const out: unknown[] = [];
    let first = true;
    for (;;) {
      const text = this.lines.text[this.line]!;
      if (!first && (this.lines.indent[this.line] !== col || !dashAt(text, col))) throw unsupported;
      first = false;
      let at = col + 1;
      while (text.charCodeAt(at) === SPACE) at++;
      out.push(
        at >= text.length || text.charCodeAt(at) === HASH
          ? this.nested(col, false)
          : this.inline(text, at),
      );
      if (this.done) return out;
      const indent = this.lines.indent[this.line]!;
      if (indent < col) return out;
      if (indent > col) throw unsupported;
      if (!dashAt(this.lines.text[this.line]!, col)) return out; // a key of the parent mapping
    }
  }

  /**
   * The value of a key or entry with nothing after its indicator: a collection on the next
   * lines, indented deeper (or, under a key, a sequence at the key's own column), else null.
   */
  private nested(ownerCol: number, underKey: boolean): unknown {
    this.line++;
    if (this.done) return null;
    const indent = this.lines.indent[this.line]!;
    const text = this.lines.text[this.line]!;
    if (indent > ownerCol) {
      if (dashAt(text, indent)) return this.seq(indent);
      if (keyAt(text, indent) >= 0) return this.map(indent);
      throw unsupported; // a scalar on its own line
    }
    if (underKey && indent === ownerCol && dashAt(text, indent)) return this.seq(indent);
    return null;
  }

  /** Content that starts on the line of a "- ": a nested sequence, a mapping or a scalar. */
  private inline(text: string, at: number): unknown {
    if (dashAt(text, at)) return this.seq(at);
    if (keyAt(text, at) >= 0) return this.map(at);
    return this.inlineScalar(text, at);
  }

  /** A scalar that ends on this line; the next line is the caller's. */
  private inlineScalar(text: string, at: number): unknown {
    this.line++;
    return scalar(text, at);
  }
}

/** The scalar at `at` up to the end of the line (or a comment). */
function scalar(text: string, at: number): unknown {
  const c = text[at]!;
  if (c === "'" || c === '"') {
    let value = '';
    let i = at + 1;
    for (;;) {
      const close = text.indexOf(c, i);
      if (close < 0) throw unsupported; // continues on the next line
      value += text.slice(i, close);
      if (c === "'" && text[close + 1] === "'") {
        value += "'";
        i = close + 2;
        continue;
      }
      i = close + 1;
      break;
    }
    if (c === '"' && value.includes('\\')) throw unsupported; // escapes
    if (!restIsBlank(text, i)) throw unsupported;
    return value;
  }
  if (c === '[') return flowSequence(text, at);
  if (c === '{') {
    if (text[at + 1] !== '}' || !restIsBlank(text, at + 2)) throw unsupported;
    return {};
  }
  if (',]}#&*!|>%@`'.includes(c)) throw unsupported;
  if ((c === '-' || c === '?' || c === ':') && (at + 1 === text.length || text[at + 1] === ' '))
    throw unsupported;
  const hash = text.indexOf(' #', at);
  let end = hash < 0 ? text.length : hash;
  while (text.charCodeAt(end - 1) === SPACE) end--;
  const value = text.slice(at, end);
  // "a: b: c" and "a: b:" are nested mappings on one line: errors to `yaml`.
  if (value.includes(': ') || value.endsWith(':')) throw unsupported;
  return plainScalar(value);
}

/**
 * A one-line flow sequence of plain scalars, as `yaml` writes short lists of numbers
 * (`[ 0.3, 0.2 ]`). Items with quotes, colons, brackets or comments make it give up.
 */
function flowSequence(text: string, at: number): unknown[] {
  const close = text.indexOf(']', at);
  if (close < 0 || !restIsBlank(text, close + 1)) throw unsupported;
  const inner = text.slice(at + 1, close);
  if (/^ *$/.test(inner)) {
    if (inner.length > 0) throw unsupported; // "[ ]" is fine YAML but rare: keep the subset small
    return [];
  }
  if (/[[\]{}"'#:]/.test(inner)) throw unsupported;
  return inner.split(',').map((raw) => {
    const item = raw.replace(/^ +| +$/g, ''); // spaces only: YAML does not trim NBSP
    if (item === '' || '&*!|>%@`'.includes(item[0]!)) throw unsupported;
    if ((item[0] === '-' || item[0] === '?') && (item.length === 1 || item[1] === ' '))
      throw unsupported;
    return plainScalar(item);
  });
}

/** Only spaces, or spaces then a comment, from `i` to the end of the line. */
function restIsBlank(text: string, i: number): boolean {
  let j = i;
  while (text.charCodeAt(j) === SPACE) j++;
  return j === text.length || (j > i && text.charCodeAt(j) === HASH);
}

// The YAML 1.2 core schema as `yaml` implements it (same tests, same order, same results).
const NULL = /^(?:~|[Nn]ull|NULL)?$/;
const BOOL = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const INT_OCT = /^0o[0-7]+$/;
const INT = /^[-+]?[0-9]+$/;
const INT_HEX = /^0x[0-9a-fA-F]+$/;
const FLOAT_NAN = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const FLOAT_EXP = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;

/** Value of a plain scalar under the core schema. */
function plainScalar(s: string): unknown {
  const c = s.charCodeAt(0);
  if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90)) {
    // Of the non-string forms only null and the booleans start with a letter.
    if (c === 110 /* n */ || c === 78 /* N */) return NULL.test(s) ? null : s;
    if (c === 116 /* t */ || c === 84 /* T */ || c === 102 /* f */ || c === 70 /* F */)
      return BOOL.test(s) ? c === 116 || c === 84 : s;
    return s;
  }
  if (NULL.test(s)) return null;
  if (INT_OCT.test(s)) return parseInt(s.substring(2), 8);
  if (INT.test(s)) return parseInt(s, 10);
  if (INT_HEX.test(s)) return parseInt(s.substring(2), 16);
  if (FLOAT_NAN.test(s))
    return s.slice(-3).toLowerCase() === 'nan'
      ? NaN
      : s[0] === '-'
        ? Number.NEGATIVE_INFINITY
        : Number.POSITIVE_INFINITY;
  if (FLOAT_EXP.test(s) || FLOAT.test(s)) return parseFloat(s);
  return s;
}
