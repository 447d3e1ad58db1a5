import { strict as assert } from 'node:assert';
import { toYaml, toYamlStream, toJson } from './yaml.js';

describe('common/yaml', () => {
  it('puts apiVersion, kind, metadata first and sorts the rest', () => {
    const y = toYaml({ spec: { b: 1, a: 2 }, metadata: { name: 'x' }, kind: 'K', apiVersion: 'v1', extra: undefined });
    assert.equal(y, 'apiVersion: v1\nkind: K\nmetadata:\n  name: x\nspec:\n  a: 2\n  b: 1\n');
  });
  it('is byte-identical for equal objects built in another order', () => {
    const a = { x: [{ q: 1, p: 2 }], a: 'on' };
    const b = { a: 'on', x: [{ p: 2, q: 1 }] };
    assert.equal(toYaml(a), toYaml(b));
    assert.equal(toJson(a), toJson(b));
  });
  it('quotes strings YAML would read as other types', () => {
    assert.equal(toYaml({ a: 'true', b: '1.30', c: 'on' }), 'a: "true"\nb: "1.30"\nc: "on"\n');
  });
  it('joins documents with ---', () => {
    assert.equal(toYamlStream([{ a: 1 }, { b: 2 }]), 'a: 1\n---\nb: 2\n');
  });
});
