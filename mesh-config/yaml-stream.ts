/**
 * A fast path for common/yaml.ts `toYamlStream`, byte-identical to it for the block-style documents
 * mesh-config generates. The `yaml` package needs ~5 s for the 7000 objects of a 1000-microservice
 * descriptor (it builds and tag-tests a node per scalar); this writer walks the plain objects once.
 * Every scalar whose spelling could depend on YAML rules is spelled by the `yaml` package itself
 * (memoised), and any document with a shape this writer does not cover (multi-line strings,
 * document markers, nested sequences, very long keys) goes whole to `toYaml`. `yaml-stream.test.ts`
 * checks equality with `toYamlStream` on every golden case and a large generated one.
 */
import { stringify } from 'yaml';
import { toYaml } from '../common/yaml.js';

/** apiVersion, kind, metadata first (in that order), then the rest. */
function firstKeyRank(k: string): number {
  return k === 'apiVersion' ? 0 : k === 'kind' ? 1 : k === 'metadata' ? 2 : 99;
}

function compareKeys(a: string, b: string): number {
  const ia = firstKeyRank(a);
  const ib = firstKeyRank(b);
  if (ia !== 99 || ib !== 99) return ia - ib;
  return a < b ? -1 : a > b ? 1 : 0;
}

class Unsupported extends Error {}

/** Words YAML 1.1 reads as booleans or null: a string spelled so must be quoted. */
const SPECIAL_WORDS = new Set(
  'y Y yes Yes YES n N no No NO true True TRUE false False FALSE on On ON off Off OFF null Null NULL'.split(' '),
);
const PLAIN_SAFE = /^[A-Za-z][A-Za-z0-9_./-]*$/;

const memo = new Map<unknown, string>();

function librarySpelling(value: unknown): string {
  let s = memo.get(value);
  if (s === undefined) {
    s = stringify(value, { version: '1.1', lineWidth: 0 }).replace(/\n$/, '');
    if (s.includes('\n')) throw new Unsupported();
    if (memo.size > 200_000) memo.clear();
    memo.set(value, s);
  }
  return s;
}

/** Strings already spelled: names, ports and labels repeat thousands of times in one render. */
const stringMemo = new Map<string, string>();

function scalar(value: unknown): string {
  if (typeof value === 'string') {
    const known = stringMemo.get(value);
    if (known !== undefined) return known;
    const spelled = spellString(value);
    if (stringMemo.size > 200_000) stringMemo.clear();
    stringMemo.set(value, spelled);
    return spelled;
  }
  if (typeof value === 'number' && Number.isSafeInteger(value) && !Object.is(value, -0)) return String(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number' || value === null) return librarySpelling(value);
  throw new Unsupported();
}

function spellString(value: string): string {
  if (PLAIN_SAFE.test(value) && !SPECIAL_WORDS.has(value)) return value;
  // spelled by the library at document level: the same as nested, once these two are excluded
  if (value.includes('\n') || /^(%|---|\.\.\.)/.test(value)) throw new Unsupported();
  return librarySpelling(value);
}

function key(k: string): string {
  if (k.length > 1000) throw new Unsupported();
  return scalar(k);
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Own enumerable values other than undefined (what Object.values(v).some(...) asked, without the array). */
function hasDefinedValue(map: Record<string, unknown>): boolean {
  for (const k in map) if (Object.prototype.hasOwnProperty.call(map, k) && map[k] !== undefined) return true;
  return false;
}

const pads: string[] = [];
function padOf(indent: number): string {
  return (pads[indent] ??= ' '.repeat(indent));
}

function emitMap(map: Record<string, unknown>, indent: number, out: string[]): void {
  const pad = padOf(indent);
  const keys = Object.keys(map).sort(compareKeys);
  for (const k of keys) {
    const v = map[k];
    if (v === undefined) continue;
    const head = `${pad}${key(k)}:`;
    if (Array.isArray(v)) {
      const items = v.includes(undefined) ? v.filter((x) => x !== undefined) : v;
      if (items.length === 0) out.push(`${head} []\n`);
      else {
        out.push(`${head}\n`);
        emitSeq(items, indent + 2, out);
      }
    } else if (isMap(v)) {
      if (!hasDefinedValue(v)) out.push(`${head} {}\n`);
      else {
        out.push(`${head}\n`);
        emitMap(v, indent + 2, out);
      }
    } else {
      out.push(`${head} ${scalar(v)}\n`);
    }
  }
}

function emitSeq(items: unknown[], indent: number, out: string[]): void {
  const pad = padOf(indent);
  for (const item of items) {
    if (Array.isArray(item)) {
      if (item.some((x) => x !== undefined)) throw new Unsupported();
      out.push(`${pad}- []\n`);
    } else if (isMap(item)) {
      if (!hasDefinedValue(item)) {
        out.push(`${pad}- {}\n`);
        continue;
      }
      const start = out.length;
      emitMap(item, indent + 2, out);
      // the first key goes on the dash line: "- key: …", the rest stay aligned under it
      out[start] = `${pad}- ${out[start]!.slice(indent + 2)}`;
    } else {
      out.push(`${pad}- ${scalar(item)}\n`);
    }
  }
}

/** One document, byte-identical to `toYaml(value)`. */
export function fastYaml(value: unknown): string {
  if (!isMap(value)) return toYaml(value);
  if (!Object.values(value).some((x) => x !== undefined)) return toYaml(value);
  const out: string[] = [];
  try {
    emitMap(value, 0, out);
  } catch (e) {
    if (e instanceof Unsupported) return toYaml(value);
    throw e;
  }
  return out.join('');
}

/** Byte-identical to `toYamlStream(values)`: documents joined by `---`. */
export function fastYamlStream(values: readonly unknown[]): string {
  return values.map((v) => fastYaml(v)).join('---\n');
}
