import { strict as assert } from 'node:assert';
import { parseDescriptorText, positionSuffix } from '../descriptor/index.js';
import { problemLines } from './validate.js';

describe('mixmesh validate: where a syntax problem is comes from the problem, not its text', () => {
  it('a YAML syntax problem carries its line and column, and its message still names them', () => {
    const r = parseDescriptorText('apiVersion: mixmesh.io/v1alpha1\nkind: MeshService\nmetadata:\n  name: a\n  name: b\n');
    assert.equal(r.ok, false);
    const p = r.ok ? undefined : r.problems[0]!;
    assert.deepEqual({ line: p?.line, column: p?.column }, { line: 5, column: 3 });
    assert.ok(p?.message.endsWith(positionSuffix(5, 3)), p?.message);
    assert.deepEqual(problemLines('d.yaml', { ok: false, problems: [p!] }), ['d.yaml:5:3: not YAML or JSON: duplicated mapping key']);
  });

  it('a structure limit (refused before parsing) carries its place too', () => {
    const r = parseDescriptorText(`a: ${'['.repeat(100)}`);
    const p = r.ok ? undefined : r.problems[0]!;
    assert.equal(p?.line, 1);
    assert.equal(typeof p?.column, 'number');
    assert.match(problemLines('d.yaml', { ok: false, problems: [p!] })[0]!, /^d\.yaml:1:\d+: not YAML or JSON: nested deeper than 64 levels$/);
  });

  it('a problem without a place is FILE:POINTER: even when its text reads like a place', () => {
    const problems = [{ pointer: '', message: 'cannot use the file "notes at line 3, column 4"' }, { pointer: '/metadata/name', message: 'x at line 1, column 2' }];
    assert.deepEqual(problemLines('d.yaml', { ok: false, problems }), ['d.yaml:: cannot use the file "notes at line 3, column 4"', 'd.yaml:/metadata/name: x at line 1, column 2']);
  });

  it('an unreadable text (not UTF-8) has no place', () => {
    const r = parseDescriptorText(Buffer.from([0x61, 0x3a, 0x20, 0xff]));
    const p = r.ok ? undefined : r.problems[0]!;
    assert.equal(p?.line, undefined);
    assert.deepEqual(problemLines('d.yaml', { ok: false, problems: [p!] }), ['d.yaml:: not YAML or JSON: not UTF-8 text']);
  });
});
