/**
 * A fast path for the common shape of a descriptor: block mappings and sequences of one-line
 * plain or quoted scalars, with comments. The `yaml` package's parseDocument builds a syntax tree
 * with positions for every token, about 1 s for a 1.2 MB descriptor; this reads the same text in
 * a few tens of milliseconds.
 *
 * It never decides that a text is wrong: on anything outside its narrow subset (anchors, aliases,
 * tags, flow collections other than `[]`/`{}`, block scalars, multi-line scalars, duplicate or
 * non-string keys, tabs, document markers, deep nesting…) it returns undefined and the caller
 * parses with the full path, which gives the error with its line:column, or the value. So every
 * hostile-input guarantee stays with parseDocument. When it returns a value, that value equals
 * what parseDocument(...).toJS() gives (descriptor/fast-yaml.test.ts compares both on the test
 * corpus and on many generated texts). Plain scalars are resolved by the `yaml` package's own
 * core-schema tags, so `080`, `0x1f`, `.inf`, `~`, `True` mean exactly what they mean there.
 */
import { isScalar, parseDocument, type DocumentOptions, type ParseOptions, type ScalarTag, type SchemaOptions } from 'yaml';

/** The options of the full path (parse.ts); the schema and tag options must be the same. */
export const YAML_OPTIONS: Readonly<ParseOptions & DocumentOptions & SchemaOptions> = {
  prettyErrors: false,
  uniqueKeys: true,
  merge: false,
  schema: 'core',
  customTags: [],
  version: '1.2',
  strict: true,
  stringKeys: false,
};

/** Thrown inside the fast path: "not in the subset", never "invalid". */
const BAIL = Symbol('bail');

interface Line {
  /** column of the first non-space character */
  indent: number;
  /** the line from `indent` on, without trailing spaces */
  text: string;
  /** splitEntry(text), when already computed */
  entry?: [string, string];
}

// Only printable characters and line feeds: tabs, CR, control characters, BOM, NEL, no-break
// space, line/paragraph separators and surrogates (astral characters) go the full path.
const OUTSIDE_SUBSET = /[^\n\x20-\x7e\u00a1-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd]/;
// YAML indicators that may not start a plain scalar here (`-` is handled apart)
const INDICATOR_START = new Set([...'?:,[]{}#&*!|>\'"%@`'].map((c) => c.charCodeAt(0)));
const JSON_ESCAPES_ONLY = /\\(?!["\\/bfnrt]|u[0-9a-fA-F]{4})/;
const MAX_KEY_LENGTH = 1000; // the yaml package refuses implicit keys over 1024 characters
const MAX_NESTING = 40;

let tagCache: { tags: ScalarTag[]; keyTags: ScalarTag[]; options: object } | undefined;

/** The core schema's implicit scalar tags, in the order the yaml package tries them. */
function scalarTags(): { tags: ScalarTag[]; keyTags: ScalarTag[]; options: object } {
  if (tagCache === undefined) {
    const doc = parseDocument('', YAML_OPTIONS);
    if (doc.schema.compat) throw new Error('unexpected compat schema');
    const all = doc.schema.tags.filter((t): t is ScalarTag => !('collection' in t && t.collection) && t.test !== undefined);
    tagCache = {
      tags: all.filter((t) => t.default === true),
      keyTags: all.filter((t) => t.default === true || t.default === 'key'),
      options: doc.options,
    };
  }
  return tagCache;
}

// Every implicit core tag (null, bool, int, float) matches only texts starting with one of these
// (or the empty text); anything else is a string without trying them.
const MAYBE_NOT_STRING = new Set([...'~nNtTfF0123456789.+-'].map((c) => c.charCodeAt(0)));

function resolvePlain(source: string, atKey: boolean): unknown {
  if (source.length > 0 && !MAYBE_NOT_STRING.has(source.charCodeAt(0))) return source;
  const { tags, keyTags, options } = scalarTags();
  const tag = (atKey ? keyTags : tags).find((t) => t.test!.test(source));
  if (tag === undefined) return source; // the string tag
  if (atKey) throw BAIL; // a key that is a number, null or boolean: rare, and the full path knows
  const res: unknown = tag.resolve(source, () => {
    throw BAIL;
  }, options as never);
  return isScalar(res) ? res.value : res;
}

/** Index just past a quoted scalar starting at 0, or BAIL when it does not end on this line. */
function quotedEnd(text: string): number {
  const q = text[0];
  for (let i = 1; i < text.length; i++) {
    const c = text[i];
    if (q === '"' && c === '\\') i++;
    else if (c === q) {
      if (q === "'" && text[i + 1] === "'") i++;
      else return i + 1;
    }
  }
  throw BAIL;
}

function unquote(token: string): string {
  const inner = token.slice(1, -1);
  if (token[0] === "'") return inner.replace(/''/g, "'");
  if (JSON_ESCAPES_ONLY.test(inner)) throw BAIL;
  // with only these escapes, YAML double-quoted and JSON strings mean the same
  return JSON.parse(`"${inner}"`) as string;
}

/** What may follow a value on its line: nothing, or a comment after a space. */
function checkTail(tail: string): void {
  if (tail !== '' && !/^ +#/.test(tail)) throw BAIL;
}

function checkPlainStart(text: string): void {
  if (INDICATOR_START.has(text.charCodeAt(0))) throw BAIL;
  if (text[0] === '-' && (text.length === 1 || text[1] === ' ')) throw BAIL;
}

// what scanPlain found, in module variables: no allocation per line
let scanColon = -1;
let scanEnd = 0;
let scanFlow = -1;

/**
 * One pass over a plain scalar from `from`: the first `: ` or final `:` (scanColon), where it ends
 * before a ` #` comment, trailing spaces dropped (scanEnd), the first flow indicator (scanFlow);
 * -1 for none. A colon or flow indicator after the comment does not count.
 */
function scanPlain(text: string, from: number): void {
  scanColon = -1;
  scanFlow = -1;
  let end = text.length;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 58 /* : */) {
      if (scanColon === -1 && (i + 1 === text.length || text.charCodeAt(i + 1) === 32)) scanColon = i;
    } else if (c === 32 /* space */) {
      if (text.charCodeAt(i + 1) === 35 /* # */) {
        end = i;
        break;
      }
    } else if (c === 91 || c === 93 || c === 123 || c === 125 /* [ ] { } */) {
      if (scanFlow === -1) scanFlow = i;
    }
  }
  while (end > from && text.charCodeAt(end - 1) === 32) end--;
  scanEnd = end;
}

/** A value written on the same line as its key or dash. */
function inlineValue(text: string): unknown {
  if (text[0] === '"' || text[0] === "'") {
    const end = quotedEnd(text);
    checkTail(text.slice(end));
    return unquote(text.slice(0, end));
  }
  if (text.startsWith('[]') || text.startsWith('{}')) {
    checkTail(text.slice(2));
    return text[0] === '[' ? [] : {};
  }
  checkPlainStart(text);
  scanPlain(text, 0);
  // `a: b` here would be a mapping nested on one line, an error; `[`… a flow collection
  if (scanColon !== -1 || scanFlow !== -1) throw BAIL;
  return resolvePlain(scanEnd === text.length ? text : text.slice(0, scanEnd), false);
}

/** `key: rest` → [key, rest]; undefined when the text is not a mapping entry. */
function splitEntry(text: string): [string, string] | undefined {
  let key: string;
  let rest: string;
  if (text[0] === '"' || text[0] === "'") {
    const end = quotedEnd(text);
    const m = /^ *:(?: +|$)/.exec(text.slice(end));
    if (m === null) return undefined;
    key = unquote(text.slice(0, end));
    rest = text.slice(end + m[0].length);
  } else {
    scanPlain(text, 0);
    const colon = scanColon;
    if (colon === -1) return undefined;
    checkPlainStart(text);
    if (scanFlow !== -1 && scanFlow < colon) throw BAIL;
    let keyEnd = colon;
    while (keyEnd > 0 && text.charCodeAt(keyEnd - 1) === 32) keyEnd--;
    key = resolvePlain(text.slice(0, keyEnd), true) as string;
    let restStart = colon + 1;
    while (text.charCodeAt(restStart) === 32) restStart++;
    rest = text.slice(restStart);
  }
  if (text.length - rest.length > MAX_KEY_LENGTH) throw BAIL;
  if (key === '__proto__' || key === '<<') throw BAIL;
  return [key, rest];
}

const isDash = (text: string) => text[0] === '-' && (text.length === 1 || text[1] === ' ');

class BlockParser {
  private pos = 0;

  constructor(
    private readonly lines: Line[],
    private readonly maxNesting: number,
  ) {}

  parse(): unknown {
    if (this.lines.length === 0) throw BAIL;
    const value = this.node(this.lines[0]!.indent, 1);
    if (this.pos !== this.lines.length) throw BAIL;
    return value;
  }

  private node(indent: number, depth: number): unknown {
    if (depth > this.maxNesting) throw BAIL;
    return isDash(this.lines[this.pos]!.text) ? this.seq(indent, depth) : this.map(indent, depth);
  }

  private map(indent: number, depth: number): Record<string, unknown> {
    const map: Record<string, unknown> = {};
    while (this.pos < this.lines.length) {
      const line = this.lines[this.pos]!;
      if (line.indent < indent) break;
      if (line.indent > indent || isDash(line.text)) throw BAIL;
      const entry = line.entry ?? splitEntry(line.text);
      if (entry === undefined) throw BAIL;
      const [key, rest] = entry;
      if (Object.prototype.hasOwnProperty.call(map, key)) throw BAIL; // duplicate: the full path reports it
      this.pos++;
      const next = this.lines[this.pos];
      let value: unknown;
      if (rest === '' || rest[0] === '#') {
        if (next !== undefined && next.indent > indent) value = this.node(next.indent, depth + 1);
        else if (next !== undefined && next.indent === indent && isDash(next.text)) value = this.seq(indent, depth + 1);
        else value = null;
      } else {
        value = inlineValue(rest);
        if (next !== undefined && next.indent > indent) throw BAIL; // a continuation line
      }
      // as the yaml package's addPairToJSMap does for names an object already has
      if (key in map) Object.defineProperty(map, key, { value, writable: true, enumerable: true, configurable: true });
      else map[key] = value;
    }
    return map;
  }

  private seq(indent: number, depth: number): unknown[] {
    const seq: unknown[] = [];
    while (this.pos < this.lines.length) {
      const line = this.lines[this.pos]!;
      if (line.indent < indent) break;
      if (line.indent > indent) throw BAIL;
      if (!isDash(line.text)) break;
      const dash = /^- +/.exec(line.text);
      if (dash === null) throw BAIL; // a bare `-`: its item is on the next lines
      const content = line.text.slice(dash[0].length);
      if (content[0] === '#') throw BAIL;
      const entry = isDash(content) ? undefined : splitEntry(content);
      if (entry !== undefined || isDash(content)) {
        // a compact collection: read the rest of the line as a line of its own at its column
        this.lines[this.pos] = { indent: indent + dash[0].length, text: content, entry };
        seq.push(this.node(indent + dash[0].length, depth + 1));
      } else {
        seq.push(inlineValue(content));
        this.pos++;
        const next = this.lines[this.pos];
        if (next !== undefined && next.indent > indent) throw BAIL;
      }
    }
    return seq;
  }
}

/**
 * The value of `text` when it lies in the fast subset, else undefined (then use the full path).
 * `maxDepth` is the full path's nesting limit: deeper texts are left to it.
 */
export function fastParseYaml(text: string, maxDepth = 64): { value: unknown } | undefined {
  if (OUTSIDE_SUBSET.test(text)) return undefined;
  const maxNesting = Math.min(MAX_NESTING, Math.floor(maxDepth / 2));
  const first = text.trimStart()[0];
  if (first === '{' || first === '[') return fastParseJson(text, maxNesting);
  const lines: Line[] = [];
  for (const raw of text.split('\n')) {
    if (raw.startsWith('---') || raw.startsWith('...')) return undefined;
    let indent = 0;
    while (raw.charCodeAt(indent) === 32) indent++;
    if (indent === raw.length || raw.charCodeAt(indent) === 35 /* # */) continue;
    let end = raw.length;
    while (raw.charCodeAt(end - 1) === 32) end--;
    lines.push({ indent, text: raw.slice(indent, end) });
  }
  try {
    return { value: new BlockParser(lines, maxNesting).parse() };
  } catch (e) {
    if (e === BAIL) return undefined;
    throw e;
  }
}

/**
 * JSON is YAML: when JSON.parse reads the text, the full path yields the same value, except where
 * JSON.parse is lenient or YAML is strict. So this steps aside on duplicate keys (JSON.parse keeps
 * the last; counted as key tokens in the text against keys in the value), keys over the implicit-key
 * limit or split from their colon by a line break, integers of more than 15 digits (YAML's parseInt
 * and JSON's rounding may differ), `__proto__`/`<<` keys, and nesting deeper than `maxNesting`.
 */
function fastParseJson(text: string, maxNesting: number): { value: unknown } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  let keyTokens = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      let end = i + 1;
      while (end < text.length && text.charCodeAt(end) !== 34) end += text.charCodeAt(end) === 92 /* \ */ ? 2 : 1;
      let next = end + 1;
      let newline = false;
      for (let d = text.charCodeAt(next); d === 32 || d === 10; d = text.charCodeAt(++next)) newline ||= d === 10;
      if (text.charCodeAt(next) === 58 /* : */) {
        if (newline || end - i > MAX_KEY_LENGTH) return undefined;
        keyTokens++;
      }
      i = end;
    } else if (c >= 48 && c <= 57 /* 0-9 */) {
      let end = i;
      while (end < text.length && text.charCodeAt(end) >= 48 && text.charCodeAt(end) <= 57) end++;
      const next = text.charCodeAt(end);
      if (end - i > 15 && next !== 46 /* . */ && next !== 101 && next !== 69 /* e E */) return undefined;
      i = end - 1;
    }
  }
  let keys = 0;
  const walk = (node: unknown, depth: number): boolean => {
    if (node === null || typeof node !== 'object') return true;
    if (depth > maxNesting) return false;
    if (Array.isArray(node)) return node.every((item) => walk(item, depth + 1));
    for (const [k, v] of Object.entries(node)) {
      keys++;
      if (k === '__proto__' || k === '<<' || !walk(v, depth + 1)) return false;
    }
    return true;
  };
  if (!walk(value, 1) || keys !== keyTokens) return undefined;
  return { value };
}
