/**
 * The fast path must never change a result: for every text it either steps aside (undefined) or
 * gives exactly what the full path (parseDocument with the same options, no error or warning,
 * toJS) gives. Checked on every YAML file of the repository, on the hostile cases, and on
 * thousands of generated texts full of the constructs where the two could differ.
 */
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument, stringify } from 'yaml';
import { fastParseYaml, YAML_OPTIONS } from './fast-yaml.js';
import { parseDescriptorText } from './parse.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The full path's verdict, as parse.ts reads it. */
function full(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    const doc = parseDocument(text, YAML_OPTIONS);
    if (doc.errors.length > 0 || doc.warnings.length > 0) return { ok: false };
    return { ok: true, value: doc.toJS({ maxAliasCount: -1 }) };
  } catch {
    return { ok: false };
  }
}

/** Asserts agreement; true when the fast path took the text. */
function agrees(text: string): boolean {
  const fast = fastParseYaml(text);
  if (fast === undefined) return false;
  const slow = full(text);
  assert.ok(slow.ok, `fast path accepted a text the full path refuses:\n${text}`);
  assert.deepStrictEqual(fast.value, slow.value, `values differ for:\n${text}`);
  return true;
}

function yamlFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    // bench/out holds large generated copies of what the test below generates
    if (name === 'node_modules' || name === 'dist' || name === 'out' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yamlFiles(path, out);
    else if (/\.ya?ml$/.test(name)) out.push(path);
  }
  return out;
}

/** mulberry32: a small seeded generator, so a failure reproduces. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYS = ['a', 'b', 'name', 'port', 'a b', 'a:b', 'a#b', 'a #b', '"a"', "'a'", '"a b"', "'it''s'", '"\\u0041"', '1', '0x1', 'null', '~', 'true', 'yes', 'on', '__proto__', 'toString', 'constructor', '<<', '-a', '?a', ':a', '[a]', 'a,b', 'é', '"a\\tb"', 'k'.repeat(1030), 'a ', 'a  ', 'a"b', "a'b", 'a!b', 'a&b', 'a*b', 'a|b', 'a%b', 'a\\b', '"a\\\\b"', '"a: b"', "'a #b'", 'a-', '1a', '.a', '~a', 'nulls', 'True1'];
const VALUES = [
  'x', 'svc-0001', '1', '-1', '+1', '080', '0x1F', '0o17', '0b1', '1e3', '1.5', '.5', '1.', '.inf', '-.Inf', '.NaN', '~', 'null', 'Null', 'NULL', 'nULL', 'true', 'True', 'TRUE', 'tRUE', 'false', 'yes', 'no', 'on',
  '"q"', '"q\\n"', '"a\\"b"', '"\\/"', '"\\x41"', '"\\u00e9"', '"\\ud83d\\ude00"', '"\\e"', '"\\ "', "'it''s'", "'a'b'", "''", '""', '"unterminated', "'unterminated",
  'a: b', 'a:b', 'a:', 'a,b', '5xx,connect-failure', 'http://x:80/y', '[]', '{}', '[ ]', '[a]', '{a: 1}', '&x a', '*x', '!t a', '!!str 1', '|', '>', '|-', '- a', '-', '-a', '?', '? a', ':', '%a', '@a', '`a',
  'a #c', 'a#c', '"a" #c', '"a"#c', '[] #c', 'a  ', 'é', 'a b  c', '#c', '12345678901234567890', '-0', '+.5', '1_000', '0o8', '0xg',
  '"a: b"', "'a #b'", '"a #b" # c', 'a"b', "a'b", 'a!b', 'a&b', 'a*b', 'a|b', 'a\\b', '"a\\\\b"', "'a\\b'", '"\\u00"', '2001-12-14', '12:30', '1,000', 'a]', 'a}', '[]x', '{}x', '- ', '-  a',
];

function pick<T>(rnd: () => number, list: readonly T[]): T {
  return list[Math.floor(rnd() * list.length)]!;
}

/** A random block-style text: nested maps and sequences, compact items, comments, odd indents. */
function generate(rnd: () => number): string {
  const lines: string[] = [];
  const pad = (n: number) => ' '.repeat(Math.max(0, n));
  const jitter = () => (rnd() < 0.04 ? pick(rnd, [-1, 1, 2]) : 0);
  const extras = () => {
    if (rnd() < 0.05) lines.push(pad(Math.floor(rnd() * 6)) + '# comment: x');
    if (rnd() < 0.04) lines.push(rnd() < 0.5 ? '' : '   ');
    if (rnd() < 0.01) lines.push(pick(rnd, ['---', '...', '\tx', '  continued', 'x', '- y']));
  };
  const map = (indent: number, depth: number, first?: string) => {
    const n = 1 + Math.floor(rnd() * 4);
    const used: string[] = [];
    for (let i = 0; i < n; i++) {
      let key = pick(rnd, KEYS.slice(0, rnd() < 0.7 ? 6 : KEYS.length));
      if (rnd() < 0.6) key = `${key}${i}`.replace(/^(["'])(.*)\1(\d)$/, '$1$2$3$1');
      if (used.includes(key) && rnd() < 0.7) continue;
      used.push(key);
      const lead = i === 0 && first !== undefined ? first : pad(indent + jitter());
      const r = rnd();
      if (depth < 4 && r < 0.25) {
        lines.push(`${lead}${key}:${rnd() < 0.1 ? '   # c' : ''}`);
        map(indent + pick(rnd, [2, 2, 4, 1]), depth + 1);
      } else if (depth < 4 && r < 0.45) {
        lines.push(`${lead}${key}:`);
        seq(indent + pick(rnd, [0, 2, 2, 4]), depth + 1);
      } else if (r < 0.5) {
        lines.push(`${lead}${key}:`);
      } else {
        lines.push(`${lead}${key}:${pick(rnd, [' ', ' ', '  ', ''])}${pick(rnd, VALUES)}`);
      }
      extras();
    }
  };
  const seq = (indent: number, depth: number, first?: string) => {
    const n = 1 + Math.floor(rnd() * 3);
    for (let i = 0; i < n; i++) {
      const dash = `${i === 0 && first !== undefined ? first : pad(indent + jitter())}-${pick(rnd, [' ', ' ', '   '])}`;
      const r = rnd();
      if (depth < 4 && r < 0.4) map(dash.length, depth + 1, dash);
      else if (depth < 4 && r < 0.5) seq(dash.length, depth + 1, dash);
      else lines.push(`${dash}${pick(rnd, VALUES)}`);
      extras();
    }
  };
  if (rnd() < 0.8) map(rnd() < 0.9 ? 0 : 2, 0);
  else seq(0, 0);
  return lines.join('\n') + (rnd() < 0.9 ? '\n' : '');
}

describe('descriptor fast YAML path', () => {
  it('agrees with the full path on every YAML file of the repository', () => {
    let taken = 0;
    const files = yamlFiles(ROOT);
    for (const file of files) if (agrees(readFileSync(file, 'utf8'))) taken++;
    assert.ok(files.length > 10 && taken > 0, `${taken} of ${files.length} files took the fast path`);
  });

  it('takes a large generated descriptor and yields what the full path yields', () => {
    const microservices = Array.from({ length: 200 }, (_, i) => ({
      name: `svc-${i}`,
      runtime: i % 3 === 0 ? 'vm' : 'container',
      ports: [{ name: 'http', port: 8080 }, { name: 'admin', port: 9090, protocol: 'HTTP' }],
      container: { image: `registry.example/svc-${i}:1.0.0`, replicas: 2, env: [{ name: 'A', value: 'it\'s "q" #1: x' }] },
      labels: {},
      list: [],
    }));
    const text = stringify({ apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService', metadata: { name: 'x' }, spec: { microservices } });
    assert.ok(agrees(text));
  });

  it('steps aside for every hostile or unusual construct', () => {
    const texts = [
      'a: &x 1\nb: *x\n',
      'a: !!str 1\n',
      'a: !custom 1\n',
      'a: 1\na: 2\n',
      'a: 1\n"a": 2\n',
      'a: [1, 2]\n',
      'a: |\n  text\n',
      'a: b\n  c\n',
      '---\na: 1\n',
      'a:\tb\n',
      'a: 1\r\n',
      '\ufeffa: 1\n',
      '{"a": [1, 2}',
      '[1, 2',
      'just a scalar\n',
      '',
      '# only a comment\n',
      '__proto__: {}\n',
      '1: a\n',
      `${'k'.repeat(1100)}: 1\n`,
      Array.from({ length: 50 }, (_, i) => `${' '.repeat(i * 2)}k:`).join('\n') + ' 1\n',
    ];
    for (const text of texts) {
      assert.equal(fastParseYaml(text), undefined, JSON.stringify(text.slice(0, 80)));
      // and parse.ts still answers them as before, from the full path
      const r = parseDescriptorText(text);
      if (!r.ok) assert.match(r.problems[0]!.message, /^(not YAML or JSON: |input is )/);
    }
    assert.match((parseDescriptorText('a: 1\nb:\n  c: 2\n  c: 3\n') as { ok: false; problems: { message: string }[] }).problems[0]!.message, /duplicated mapping key at line 4, column 3/);
  });

  it('reads JSON with JSON.parse where that means the same, and steps aside where it may not', () => {
    const rnd = random(7);
    let taken = 0;
    for (let i = 0; i < 3000; i++) {
      const text = generate(rnd);
      const slow = full(text);
      if (!slow.ok || slow.value === null || typeof slow.value !== 'object') continue;
      for (const indent of [0, 1, 2]) {
        const json = JSON.stringify(slow.value, null, indent);
        if (agrees(json)) taken++;
        // line breaks and spaces around the punctuation
        agrees(json.replace(/,/g, ',\n').replace(/:/g, ' : '));
      }
    }
    assert.ok(taken > 1000, `only ${taken} JSON texts took the fast path`);
    const aside = [
      '{"a": 1, "a": 2}',
      '{"a": {"b": 1, "b": 1}}',
      '[{"a": 1}, {"c": 1, "c": 2}]',
      '{"a"\n: 1}',
      '{"a": 12345678901234567890}',
      '{"a": -1234567890123456}',
      '{"__proto__": {}}',
      `{"${'k'.repeat(1100)}": 1}`,
      '['.repeat(50) + ']'.repeat(50),
      '{"a": 1} x',
      '{"a": 1,}',
      '\ufeff{"a": 1}',
      '{\t"a": 1}',
    ];
    for (const text of aside) assert.equal(fastParseYaml(text), undefined, text.slice(0, 40));
    // and where the fast path stepped aside, the full path still decides as before
    assert.match((parseDescriptorText('{"a": 1, "a": 2}') as { ok: false; problems: { message: string }[] }).problems[0]!.message, /duplicated mapping key at line 1, column 10/);
    assert.deepEqual(fastParseYaml(' {"a": [1, 2.5, -0, 1e3, true, null, "\\u00e9\\n"]} ')?.value, { a: [1, 2.5, -0, 1e3, true, null, 'é\n'] });
  });

  it('agrees with the full path on 20000 generated texts, and takes a good share of them', () => {
    const rnd = random(20260514);
    let taken = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) if (agrees(generate(rnd))) taken++;
    // the generator is hostile on purpose; still a real share must go the fast way
    assert.ok(taken > n / 10, `only ${taken} of ${n} took the fast path`);
  });
});
