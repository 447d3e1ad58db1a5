import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { toYaml, toYamlStream } from '../common/yaml.js';
import { parseAndValidate } from '../descriptor/index.js';
import { generateDescriptor } from '../bench/render.js';
import { fastYaml, fastYamlStream } from './yaml-stream.js';
import { renderAll } from './index.js';

const GOLDEN = fileURLToPath(new URL('../test/golden/', import.meta.url));

const STRINGS = [
  '', 'a', 'true', 'True', 'yes', 'y', 'Y', 'n', 'on', 'off', 'null', 'Null', '~', '1.30', '0x1F', '1_000', '12:30', '190:20:30', '2001-12-14',
  '2001-12-14t21:59:43.10-05:00', '.inf', '-.inf', '.NaN', 'NaN', '1e3', '+1', '-1', '0o17', '0b101', '010', '1,000', '-', '- a', '-a', '?', '? x', '?x',
  'a: b', 'a:b', 'x:', 'a #b', 'a#b', '#x', "it's", 'say "hi"', 'both \' "', 'trailing ', ' leading', '@at', '`b', 'ünïcødé', 'tab\tin', 'bell\u0007',
  'multi\nline', 'trailing newline\n', '---', '--- x', '...', '%x', 'a,b', '[x]', '{x}', '*x', '&x', '!x', '|x', '>x', '=', '<<', 'ghcr.io/x/y:1.0.0',
  '5xx,connect-failure', 'x'.repeat(300), 'k'.repeat(1100), 'cluster.local/ns/a/sa/b', 'sidecar.istio.io/inject', '/healthz', '3s', '100m', '128Mi',
];
const NUMBERS = [0, 1, -1, 42, 1.5, 0.1, 100.25, 1e21, -0, Number.MAX_SAFE_INTEGER, 2 ** 60];

describe('mesh-config/yaml-stream (fast path of toYamlStream)', () => {
  it('spells every tricky scalar, as a value, a key and a list item, exactly like toYaml', () => {
    for (const s of STRINGS) {
      for (const doc of [{ v: s }, { [s || 'empty']: 1 }, { l: [s, { k: s, j: [s] }] }, { m: { deep: { x: s } } }]) {
        assert.equal(fastYaml(doc), toYaml(doc), JSON.stringify(doc));
      }
    }
    for (const n of NUMBERS) assert.equal(fastYaml({ n, l: [n] }), toYaml({ n, l: [n] }), String(n));
    const shapes = [
      { a: true, b: false, c: null, d: [], e: {}, f: [[]], g: [{}], h: [[1, 2]], i: [{ a: [] }, { b: {} }], j: { k: undefined }, l: [undefined, 1] },
      { apiVersion: 'v1', kind: 'K', metadata: { name: 'x' }, spec: { b: 1, a: [{ z: 1, y: [{ q: 1 }] }] } },
      {},
    ];
    for (const doc of shapes) assert.equal(fastYaml(doc), toYaml(doc), JSON.stringify(doc));
  });

  it('equals toYamlStream on every golden case', () => {
    let cases = 0;
    for (const c of readdirSync(GOLDEN)) {
      const file = join(GOLDEN, c, 'expected.yaml');
      if (!existsSync(file)) continue;
      const docs = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as unknown);
      assert.equal(fastYamlStream(docs), toYamlStream(docs), c);
      cases++;
    }
    assert.ok(cases >= 10);
  });

  it('equals toYamlStream on a generated 30-microservice service', () => {
    const result = parseAndValidate(JSON.stringify(generateDescriptor(30)), 'gen');
    assert.ok(result.ok);
    const objects = renderAll(result.value);
    assert.equal(fastYamlStream(objects), toYamlStream(objects));
  });
});
