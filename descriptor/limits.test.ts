/**
 * The streaming structure limits (limits.ts): they must see at least every level and node the
 * parser sees (so nothing deeper or larger slips through to it), must not refuse what is within
 * the limits (exact depth, and the node count within a few percent, on every YAML file of the
 * repository and on generated texts in every style), and must refuse the hostile shapes after reading only a little of them.
 */
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMap, isPair, isSeq, parseDocument, stringify, type Node as YamlNode } from 'yaml';
import { generateDescriptor } from '../bench/render.js';
import { scanStructure } from './limits.js';
import { parseDescriptorText } from './parse.js';
import { LIMITS } from './schema.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NO_LIMIT = 1e12;

function yamlFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name === 'out' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yamlFiles(path, out);
    else if (/\.(ya?ml|json)$/.test(name) && statSync(path).size < 2_000_000) out.push(path);
  }
  return out;
}

/** the parser's own view: open collections at the deepest point, and nodes (collections, keys, values) */
function parsed(text: string): { depth: number; nodes: number } | undefined {
  const docs = (() => { try { return [parseDocument(text, { uniqueKeys: false })]; } catch { return []; } })();
  const doc = docs[0];
  if (!doc || doc.errors.length) return undefined;
  let nodes = 0;
  const walk = (n: unknown): number => {
    if (n === null || n === undefined) return 0;
    nodes++;
    if (isMap(n) || isSeq(n)) {
      let deepest = 0;
      for (const item of (n as { items: unknown[] }).items) {
        if (isPair(item)) deepest = Math.max(deepest, walk(item.key), walk(item.value));
        else deepest = Math.max(deepest, walk(item));
      }
      return 1 + deepest;
    }
    return 0;
  };
  const depth = walk(doc.contents as YamlNode | null);
  return { depth, nodes };
}

/** the scanner's depth: the least maxDepth it accepts */
function scannedDepth(text: string): number {
  for (let d = 0; d < 200; d++) if (!scanStructure(text, { maxDepth: d, maxNodes: NO_LIMIT })) return d;
  return Infinity;
}

function scannedNodes(text: string): number {
  const f = scanStructure(text, { maxDepth: 1e9, maxNodes: 0 });
  if (!f) return 0;
  let lo = 0;
  let hi = 1;
  while (scanStructure(text, { maxDepth: 1e9, maxNodes: hi })) hi *= 2;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (scanStructure(text, { maxDepth: 1e9, maxNodes: mid })) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function checkAgainstParser(text: string, where: string): void {
  const p = parsed(text);
  if (!p) return;
  assert.equal(scannedDepth(text), p.depth, `${where}: depth`);
  const n = scannedNodes(text);
  // empty values (`key:` and nothing) are the parser's nodes the scan does not count
  assert.ok(n >= p.nodes * 0.8 - 2 && n <= p.nodes * 1.5 + 2, `${where}: counted ${n} nodes, the parser has ${p.nodes}`);
}

/** mulberry32: seeded, so a failure reproduces */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SCALARS = ['x', 'a [b] {c}', '[not, flow]', '- not a list', 'a: b', '# no comment', "it's", '"quoted"', 'line one\nline two [ { -', '', 'http://h:80/p', '{', '}', ']', '|', '>', '?', ': x', 'é', 'tab\there'];

function value(rnd: () => number, depth: number): unknown {
  if (depth <= 0 || rnd() < 0.25) return SCALARS[Math.floor(rnd() * SCALARS.length)];
  const n = Math.floor(rnd() * 3) + (rnd() < 0.1 ? 0 : 1);
  if (rnd() < 0.5) return Array.from({ length: n }, () => value(rnd, depth - 1));
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [`${SCALARS[Math.floor(rnd() * SCALARS.length)]}${i}`, value(rnd, depth - 1)]));
}

describe('descriptor: streaming structure limits', () => {
  it('sees exactly the depth the parser sees, and at least its nodes, on every YAML and JSON file of the repository', () => {
    const files = yamlFiles(ROOT);
    assert.ok(files.length > 10);
    for (const f of files) checkAgainstParser(readFileSync(f, 'utf8'), f);
  });

  it('agrees with the parser on 3000 generated texts in block, flow, JSON and mixed styles', () => {
    const rnd = random(8);
    for (let i = 0; i < 3000; i++) {
      const v = value(rnd, 1 + Math.floor(rnd() * 8));
      const style = i % 4;
      const text = style === 0 ? stringify(v) : style === 1 ? stringify(v, { collectionStyle: 'flow' }) : style === 2 ? JSON.stringify(v, null, i % 8 === 2 ? 2 : undefined) : stringify(v, { indentSeq: false, defaultStringType: rnd() < 0.5 ? 'QUOTE_DOUBLE' : 'PLAIN', blockQuote: rnd() < 0.5 ? 'literal' : 'folded' });
      checkAgainstParser(text, `text ${i}:\n${text}`);
    }
  });

  it('a 1000-microservice, 10000-connection descriptor with every connection option is within the node limit', () => {
    const d = generateDescriptor(1000) as { spec: Record<string, unknown> };
    d.spec.connections = Array.from({ length: 10000 }, (_, i) => ({ from: `ms-${i % 1000}`, to: `ms-${(i * 7) % 1000}`, port: 'http', timeout: '2s', retries: { attempts: 3, perTryTimeout: '1s', retryOn: '5xx' }, fault: { delay: { percent: 5, fixedDelay: '1s' }, abort: { percent: 1, httpStatus: 503 } } }));
    for (const text of [stringify(d), JSON.stringify(d)]) {
      assert.ok(text.length < LIMITS.inputBytes);
      assert.equal(scanStructure(text, { maxDepth: 64, maxNodes: LIMITS.nodes }), undefined);
    }
  });

  const FOUR_MB = 4 * 1024 * 1024 - 64;
  const fill = (unit: string, tail = ''): string => unit.repeat(Math.floor((FOUR_MB - tail.length) / unit.length)) + tail;
  const HOSTILE: [string, () => string, string, number][] = [
    ['JSON arrays 2M deep', () => fill('['), 'nested deeper than 64 levels', 1000],
    ['JSON objects deep', () => fill('{"a":'), 'nested deeper than 64 levels', 1000],
    ['YAML flow mappings deep', () => fill('{a: '), 'nested deeper than 64 levels', 1000],
    ['compact block sequences', () => fill('- '), 'nested deeper than 64 levels', 1000],
    ['compact explicit keys', () => fill('? '), 'nested deeper than 64 levels', 1000],
    ['growing indentation', () => { let s = ''; for (let d = 0; s.length < FOUR_MB - 5000; d++) s += `${' '.repeat(d)}a:\n`; return s; }, 'nested deeper than 64 levels', 10000],
    ['block sequence of deep flow', () => `a:\n- ${fill('[')}`, 'nested deeper than 64 levels', 1000],
    ['2M flow items', () => `[${fill('1,', '1]')}`, `more than ${LIMITS.nodes} nodes`, FOUR_MB],
    ['1M block items', () => fill('- 1\n'), `more than ${LIMITS.nodes} nodes`, FOUR_MB],
  ];
  for (const [name, text, reason, within] of HOSTILE) {
    it(`refuses ${name} where the limit is passed`, () => {
      const t = text();
      const f = scanStructure(t, { maxDepth: 64, maxNodes: LIMITS.nodes });
      assert.ok(f, 'not refused');
      assert.equal(f.reason, reason);
      assert.ok(f.offset <= within, `refused only at offset ${f.offset}`);
      const r = parseDescriptorText(t);
      assert.equal(r.ok, false);
      assert.match(r.ok ? '' : r.problems[0]!.message, new RegExp(`^not YAML or JSON: ${reason} at line \\d+, column \\d+$`));
    });
  }

  it('text that only looks nested (quoted, block scalars, comments, plain continuations) is not counted', () => {
    const deep = '['.repeat(500);
    for (const text of [`a: "${deep}"\n`, `a: '${deep}'\n`, `a: |\n  ${deep}\n  ${'- '.repeat(300)}\nb: 1\n`, `a: 1 # ${deep}\n`, `a: b\n  ${deep}\n  ${'- '.repeat(300)}\n`, `a: "x\n  ${deep}"\n`]) {
      assert.equal(scanStructure(text, { maxDepth: 64, maxNodes: LIMITS.nodes }), undefined, text);
      assert.equal(parseDescriptorText(text).ok, true, text);
    }
  });
});
