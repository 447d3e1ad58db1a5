import { strict as assert } from 'node:assert';
import { jsonPatch, mergePatch, strategicMerge, PatchError } from './patch.js';
import { builtinListType } from './resources.js';
import { fieldSetOf, fromFieldsV1, serverSideApply, toFieldsV1, trackUpdate } from './fields.js';
import { structuralProblems, validateAgainstSchema } from './schema.js';

const deployment = () => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'cafe', labels: { app: 'web' } },
  spec: {
    replicas: 1,
    template: { spec: { containers: [
      { name: 'a', image: 'a:1', env: [{ name: 'X', value: '1' }, { name: 'Y', value: '2' }], ports: [{ containerPort: 80, name: 'http' }] },
      { name: 'b', image: 'b:1', args: ['--x'] },
    ] } },
  },
});

describe('sandbox/kube patches', () => {
  it('merge patch: null deletes, maps merge, lists are replaced', () => {
    assert.deepEqual(mergePatch({ a: 1, b: { c: 2, d: 3 }, l: [1, 2] }, { a: null, b: { c: 5 }, l: [3] }), { b: { c: 5, d: 3 }, l: [3] });
  });

  it('JSON patch: add, replace, remove, test; a failing test changes nothing', () => {
    const doc = { a: [1, 2], b: 'x' };
    assert.deepEqual(jsonPatch(doc, [{ op: 'add', path: '/a/-', value: 3 }, { op: 'replace', path: '/b', value: 'y' }, { op: 'remove', path: '/a/0' }]), { a: [2, 3], b: 'y' });
    assert.throws(() => jsonPatch(doc, [{ op: 'test', path: '/b', value: 'nope' }]), PatchError);
    assert.deepEqual(doc, { a: [1, 2], b: 'x' });
  });

  it('strategic merge: containers and env merge by name, $setElementOrder orders, $patch delete removes', () => {
    const out = strategicMerge(deployment(), {
      spec: { template: { spec: {
        '$setElementOrder/containers': [{ name: 'b' }, { name: 'a' }],
        containers: [
          { name: 'a', '$setElementOrder/env': [{ name: 'Y' }, { name: 'X' }], env: [{ name: 'X', value: '9' }] },
          { name: 'b', $patch: 'delete' },
        ],
      } } },
    }, [], builtinListType) as ReturnType<typeof deployment>;
    const containers = out.spec.template.spec.containers;
    assert.equal(containers.length, 1);
    assert.equal(containers[0]!.image, 'a:1', 'fields not in the patch stay');
    assert.deepEqual(containers[0]!.env, [{ name: 'Y', value: '2' }, { name: 'X', value: '9' }]);
    assert.ok(!JSON.stringify(out).includes('$'), 'no directive is stored');
  });

  it('strategic merge: $retainKeys, $deleteFromPrimitiveList, $patch replace, container ports by containerPort, Service ports by port', () => {
    const out = strategicMerge({ spec: { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } }, ports: [{ port: 80, name: 'a' }] }, metadata: { finalizers: ['x', 'y'] } }, {
      spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' }, ports: [{ port: 81, name: 'b' }] },
      metadata: { '$deleteFromPrimitiveList/finalizers': ['x'] },
    }, [], builtinListType) as { spec: { strategy: unknown; ports: unknown[] }; metadata: { finalizers: string[] } };
    assert.deepEqual(out.spec.strategy, { type: 'Recreate' });
    assert.equal(out.spec.ports.length, 2, 'Service ports merge by port');
    assert.deepEqual(out.metadata.finalizers, ['y']);
    const replaced = strategicMerge({ spec: { template: { spec: { containers: [{ name: 'a', image: 'a', ports: [{ containerPort: 80 }] }] } } } }, {
      spec: { template: { spec: { containers: [{ name: 'a', ports: [{ containerPort: 81 }] }] } } },
    }, [], builtinListType) as ReturnType<typeof deployment>;
    assert.deepEqual(replaced.spec.template.spec.containers[0]!.ports, [{ containerPort: 80 }, { containerPort: 81 }]);
    const whole = strategicMerge({ l: { x: 1, y: 2 } }, { l: { $patch: 'replace', z: 3 } }, [], builtinListType);
    assert.deepEqual(whole, { l: { z: 3 } });
  });
});

describe('sandbox/kube field ownership', () => {
  const opts = (manager: string, force = false) => ({ manager, apiVersion: 'apps/v1', force, listTypeOf: builtinListType, part: 'main' as const, statusSubresource: true, now: '2026-01-01T00:00:00Z' });

  it('FieldsV1 round-trips, list items keyed by their merge key', () => {
    const set = fieldSetOf(deployment(), builtinListType, 'main');
    const tree = toFieldsV1(set);
    assert.ok(JSON.stringify(tree).includes('k:{\\"name\\":\\"a\\"}'));
    assert.deepEqual([...fromFieldsV1(tree)].sort(), [...set].sort());
  });

  it('apply: a dropped field is removed, a field changed by another manager conflicts unless forced', () => {
    const first = serverSideApply(undefined, deployment(), opts('mixmesh')).object;
    const smaller = deployment();
    delete (smaller.metadata as { labels?: unknown }).labels;
    const second = serverSideApply(first, smaller, opts('mixmesh')).object;
    assert.equal((second.metadata as { labels?: unknown }).labels, undefined, 'the label mixmesh stopped applying is gone');
    const other = deployment();
    other.spec.replicas = 5;
    const conflict = serverSideApply(second, other, opts('kubectl'));
    assert.deepEqual(conflict.conflicts.map((c) => c.field), ['.spec.replicas']);
    const forced = serverSideApply(second, other, opts('kubectl', true));
    assert.equal(forced.conflicts.length, 0);
    assert.equal((forced.object.spec as { replicas: number }).replicas, 5);
  });

  it('an ordinary write takes the fields it changed from their owner', () => {
    const applied = serverSideApply(undefined, deployment(), opts('mixmesh')).object;
    const edited = structuredClone(applied) as ReturnType<typeof deployment>;
    edited.spec.replicas = 3;
    const mf = trackUpdate(applied, edited, { manager: 'kubectl-edit', apiVersion: 'apps/v1', listTypeOf: builtinListType, part: 'main', statusSubresource: true, now: 'now' });
    const editEntry = mf.find((m) => m.manager === 'kubectl-edit')!;
    assert.deepEqual(editEntry.fieldsV1, { 'f:spec': { 'f:replicas': {} } });
    assert.ok(!JSON.stringify(mf.find((m) => m.manager === 'mixmesh')!.fieldsV1).includes('f:replicas'));
  });
});

describe('sandbox/kube schemas', () => {
  it('refuses non-structural schemas with the server field paths', () => {
    const problems = structuralProblems({ type: 'object', properties: { spec: { properties: { a: { type: 'string' } } } } }, 'spec.versions[0].schema.openAPIV3Schema');
    assert.deepEqual(problems.map((p) => p.field), ['spec.versions[0].schema.openAPIV3Schema.properties[spec].type']);
  });

  it('validates and prunes custom resources', () => {
    const schema = { type: 'object', properties: { spec: { type: 'object', required: ['size'], properties: { size: { type: 'integer', minimum: 1 }, mode: { type: 'string', enum: ['a', 'b'] }, port: { 'x-kubernetes-int-or-string': true } } } } };
    const obj = { apiVersion: 'x/v1', kind: 'X', metadata: { name: 'n' }, spec: { size: 0, mode: 'c', port: 'http', extra: 1 } };
    const check = validateAgainstSchema(obj, schema);
    assert.deepEqual(check.causes.map((c) => c.field).sort(), ['spec.mode', 'spec.size']);
    assert.deepEqual(check.unknownFields, ['spec.extra']);
    assert.equal((obj.spec as { extra?: number }).extra, undefined, 'unknown fields are pruned');
  });
});

describe('sandbox/kube schemas: int-or-string and defaults', () => {
  it('accepts the canonical int-or-string anyOf and fills defaults', () => {
    const schema = { type: 'object', properties: { spec: { type: 'object', properties: {
      port: { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] },
      mode: { type: 'string', default: 'auto' },
    } } } };
    assert.deepEqual(structuralProblems(schema, 'root'), []);
    const obj = { spec: { port: 8080 } } as { spec: { port: unknown; mode?: string } };
    assert.deepEqual(validateAgainstSchema(obj, schema).causes, []);
    assert.equal(obj.spec.mode, 'auto');
    const bad = { spec: { port: true } };
    assert.equal(validateAgainstSchema(bad, schema).causes[0]?.field, 'spec.port');
  });
});
