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
// Block nesting always moves right (a sequence under a key at most keeps the key's column),
// so a column cap bounds the depth far below `yaml`'s resource limit and the call stack.
const MAX_COLUMN = 64;

const SPACE = 32;
const DASH = 45;
const HASH = 35;
const COLON = 58;

/**
 * One document's content lines (comments and blank lines left out) as offsets into the
 * text: slicing hundreds of thousands of lines would cost more than reading them.
 */
interface Lines {
  start: number[];
  /** Offset of the line's "\n" (or the end of the text). */
  end: number[];
  indent: number[];
}

const noLines = (): Lines => ({ start: [], end: [], indent: [] });

/**
 * Reads every document of `text` when it is in the supported subset, else undefined.
 * Each document must be a block mapping (a resource); empty documents make it give up,
 * because `yaml` reports them as documents whose value is null.
 */
export function readBlockYaml(text: string): unknown[] | undefined {
  if (AWKWARD_CHARS.test(text)) return undefined;
  try {
    const docs: unknown[] = [];
    let lines = noLines();
    let separators = 0;
    const finish = () => {
      if (lines.start.length === 0) {
        // Comments before the first `---` belong to the first document; any other
        // document without content is a null document to `yaml`.
        if (separators === 0) return;
        throw unsupported;
      }
      docs.push(readDocument(text, lines));
      lines = noLines();
    };
    let start = 0;
    while (start <= text.length) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      const lineStart = start;
      start = end + 1;
      let p = lineStart;
      while (text.charCodeAt(p) === SPACE) p++;
      if (p === end || text.charCodeAt(p) === HASH) continue;
      if (p === lineStart) {
        if (text.startsWith('---', p)) {
          if (!/^--- *$/.test(text.slice(p, end))) throw unsupported;
          if (lines.start.length > 0 || separators > 0) finish();
          separators++;
          continue;
        }
        if (text.startsWith('...', p) || text.charCodeAt(p) === 37 /* % */) throw unsupported;
      }
      lines.start.push(lineStart);
      lines.end.push(end);
      lines.indent.push(p - lineStart);
    }
    if (lines.start.length > 0 || separators > 0) finish();
    return docs;
  } catch (err) {
    if (err === unsupported) return undefined;
    throw err;
  }
}

function readDocument(text: string, lines: Lines): unknown {
  if (lines.indent[0] !== 0 || keyAt(text, lines.start[0]!, lines.end[0]!) < 0) throw unsupported;
  const reader = new BlockReader(text, lines);
  const value = reader.map(0);
  if (reader.line !== lines.start.length) throw unsupported;
  return value;
}

/** Key found by the last successful `keyAt`. */
let foundKey = '';

/**
 * Where the value starts if a plain key followed by ":" and a space or the end of the line
 * starts at offset `at` (the key is left in `foundKey`); -1 if there is none. Keys are
 * narrower than YAML allows (letters, digits and `_./-`, no quotes or spaces): others fall back.
 */
function keyAt(text: string, at: number, end: number): number {
  const first = text.charCodeAt(at);
  if (!isKeyStart(first)) return -1;
  let i = at + 1;
  while (isKeyChar(text.charCodeAt(i))) i++; // stops at the "\n" at the latest
  if (i >= end || text.charCodeAt(i) !== COLON) return -1;
  let valueAt = i + 1;
  if (valueAt < end && text.charCodeAt(valueAt) !== SPACE) return -1;
  while (valueAt < end && text.charCodeAt(valueAt) === SPACE) valueAt++;
  const key = text.slice(at, i);
  // A key must read as a string. Only "null"-like and boolean words (4 or 5 letters), numbers
  // (starting with a digit) and `__proto__` (starting with "_") can fail: check just those.
  const length = i - at;
  if (
    length > MAX_KEY_LENGTH ||
    ((length === 4 || length === 5 || first < 65 || first === 95) &&
      (key === '__proto__' || typeof plainScalar(key) !== 'string'))
  )
    throw unsupported;
  foundKey = key;
  return valueAt;
}

/** a-z, A-Z, 0-9 or _ */
function isKeyStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95;
}

function isKeyChar(c: number): boolean {
  return isKeyStart(c) || c === 46 || c === 47 || c === 45; // . / -
}

/** Whether a block sequence entry ("-" then a space or the end of the line) starts at `at`. */
function dashAt(text: string, at: number, end: number): boolean {
  return (
    at < end &&
    text.charCodeAt(at) === DASH &&
    (at + 1 === end || text.charCodeAt(at + 1) === SPACE)
  );
}

class BlockReader {
  /** Index of the next unread content line. */
  line = 0;
  constructor(
    private readonly text: string,
    private readonly lines: Lines,
  ) {}

  private get done(): boolean {
    return this.line >= this.lines.start.length;
  }

  /** A block mapping whose first key starts at column `col` of the current line. */
  map(col: number): Record<string, unknown> {
    if (col > MAX_COLUMN) throw unsupported;
    const { text, lines } = this;
    const out: Record<string, unknown> = {};
    let first = true;
    for (;;) {
      if (!first && lines.indent[this.line] !== col) throw unsupported;
      first = false;
      const end = lines.end[this.line]!;
      const valueAt = keyAt(text, lines.start[this.line]! + col, end);
      if (valueAt < 0) throw unsupported;
      const key = foundKey;
      if (Object.hasOwn(out, key)) throw unsupported; // `yaml` reports duplicate keys.
      out[key] =
        valueAt >= end || text.charCodeAt(valueAt) === HASH
          ? this.nested(col, true)
          : this.inlineScalar(valueAt, end);
      if (this.done) return out;
      const indent = lines.indent[this.line]!;
      if (indent < col) return out;
      if (indent > col) throw unsupported; // a multi-line scalar or a syntax error
    }
  }

  /** A block sequence whose first "-" is at column `col` of the current line. */
  seq(col: number): unknown[] {
    if (col > MAX_COLUMN) throw unsupported;
    const { text, lines } = this;
    const out: unknown[] = [];
    let first = true;
    for (;;) {
      const start = lines.start[this.line]!;
      const end = lines.end[this.line]!;
      if (!first && (lines.indent[this.line] !== col || !dashAt(text, start + col, end)))
        throw unsupported;
      first = false;
      let at = start + col + 1;
      while (at < end && text.charCodeAt(at) === SPACE) at++;
      out.push(
        at >= end || text.charCodeAt(at) === HASH
          ? this.nested(col, false)
          : this.inline(at - start),
      );
      if (this.done) return out;
      const indent = lines.indent[this.line]!;
      if (indent < col) return out;
      if (indent > col) throw unsupported;
      // A line at this column that is not an entry is a key of the parent mapping.
      if (!dashAt(text, lines.start[this.line]! + col, lines.end[this.line]!)) return out;
    }
  }

  /**
   * The value of a key or entry with nothing after its indicator: a collection on the next
   * lines, indented deeper (or, under a key, a sequence at the key's own column), else null.
   */
  private nested(ownerCol: number, underKey: boolean): unknown {
    this.line++;
    if (this.done) return null;
    const { text, lines } = this;
    const indent = lines.indent[this.line]!;
    const at = lines.start[this.line]! + indent;
    const end = lines.end[this.line]!;
    if (indent > ownerCol) {
      if (dashAt(text, at, end)) return this.seq(indent);
      if (keyAt(text, at, end) >= 0) return this.map(indent);
      throw unsupported; // a scalar on its own line
    }
    if (underKey && indent === ownerCol && dashAt(text, at, end)) return this.seq(indent);
    return null;
  }

  /** Content at column `col` on the line of a "- ": a nested sequence, a mapping or a scalar. */
  private inline(col: number): unknown {
    const at = this.lines.start[this.line]! + col;
    const end = this.lines.end[this.line]!;
    if (dashAt(this.text, at, end)) return this.seq(col);
    if (keyAt(this.text, at, end) >= 0) return this.map(col);
    return this.inlineScalar(at, end);
  }

  /** A scalar that ends on this line; the next line is the caller's. */
  private inlineScalar(at: number, end: number): unknown {
    this.line++;
    return scalar(this.text.slice(at, end));
  }
}

/** A scalar that fills `text` (the rest of a line), possibly followed by a comment. */
function scalar(text: string): unknown {
  const c = text[0]!;
  if (c === "'" || c === '"') {
    let value = '';
    let i = 1;
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
  if (c === '[') return flowSequence(text);
  if (c === '{') {
    if (text[1] !== '}' || !restIsBlank(text, 2)) throw unsupported;
    return {};
  }
  if (',]}#&*!|>%@`'.includes(c)) throw unsupported;
  if ((c === '-' || c === '?' || c === ':') && (text.length === 1 || text[1] === ' '))
    throw unsupported;
  const hash = text.indexOf(' #');
  let end = hash < 0 ? text.length : hash;
  while (text.charCodeAt(end - 1) === SPACE) end--;
  const value = end === text.length ? text : text.slice(0, end);
  // "a: b: c" and "a: b:" are nested mappings on one line: errors to `yaml`.
  if (value.includes(': ') || value.endsWith(':')) throw unsupported;
  return plainScalar(value);
}

/**
 * A one-line flow sequence of plain scalars, as `yaml` writes short lists of numbers
 * (`[ 0.3, 0.2 ]`). Items with quotes, colons, brackets or comments make it give up.
 */
function flowSequence(text: string): unknown[] {
  const close = text.indexOf(']');
  if (close < 0 || !restIsBlank(text, close + 1)) throw unsupported;
  const inner = text.slice(1, close);
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

/** Only spaces, or spaces then a comment, from `i` to the end of `text`. */
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
