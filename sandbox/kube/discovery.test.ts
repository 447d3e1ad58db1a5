import { strict as assert } from 'node:assert';
import { humanDuration, jsonPathFirst, openApiDocument, toTable } from './discovery.js';
import { parseFieldSelector, parseLabelSelector } from './api.js';
import { BUILTIN_RESOURCES, resourceFromCrd } from './resources.js';

describe('sandbox/kube discovery, tables, selectors', () => {
  it('ages read like the API server prints them', () => {
    assert.deepEqual([5_000, 119_000, 150_000, 600_000, 3 * 3600_000 + 60_000, 30 * 3600_000, 3 * 86400_000].map(humanDuration), ['5s', '119s', '2m30s', '10m', '3h1m', '30h', '3d']);
  });

  it('printer-column JSONPath: fields, indices, filters', () => {
    const obj = { status: { conditions: [{ type: 'Ready', status: 'False' }, { type: 'Valid', status: 'True' }] }, spec: { hosts: ['a', 'b'] } };
    assert.equal(jsonPathFirst(obj, '.status.conditions[?(@.type=="Valid")].status'), 'True');
    assert.equal(jsonPathFirst(obj, '.spec.hosts[1]'), 'b');
    assert.equal(jsonPathFirst(obj, '.spec.missing.deeper'), undefined);
  });

  it('label selectors: equality, sets, existence', () => {
    const match = parseLabelSelector('app=web,tier!=db,env in (prod, staging),!legacy,version');
    assert.equal(match({ app: 'web', env: 'prod', version: 'v1' }), true);
    assert.equal(match({ app: 'web', env: 'dev', version: 'v1' }), false);
    assert.equal(match({ app: 'web', env: 'prod', version: 'v1', legacy: 'y' }), false);
    assert.equal(match({ app: 'web', env: 'prod' }), false);
    assert.equal(parseLabelSelector('a notin (x)')({ a: 'y' }), true);
    assert.throws(() => parseLabelSelector('a===b'));
    assert.equal(parseFieldSelector('metadata.name=x,metadata.namespace!=y')({ metadata: { name: 'x', namespace: 'z' } }), true);
  });

  it('Tables honour CRD printer columns and show dates as ages', () => {
    const r = resourceFromCrd({ spec: { group: 'mixmesh.io', scope: 'Namespaced', names: { kind: 'MeshService', plural: 'meshservices' }, versions: [{ name: 'v1alpha1', served: true, storage: true, additionalPrinterColumns: [{ name: 'Phase', type: 'string', jsonPath: '.status.phase' }, { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }] }] } })!;
    const now = Date.parse('2026-01-01T00:10:00Z');
    const table = toTable(r, 'v1alpha1', [{ metadata: { name: 'cafe', namespace: 'x', creationTimestamp: '2026-01-01T00:00:00Z' }, status: { phase: 'Ready' } }], '7', now);
    assert.deepEqual((table.rows as Array<{ cells: unknown[] }>)[0]!.cells, ['cafe', 'Ready', '10m']);
  });

  it('OpenAPI v3 patch operations carry the GVK and the fieldValidation parameter kubectl looks for', () => {
    const doc = openApiDocument(BUILTIN_RESOURCES, 'apps', 'v1')!;
    const patch = (doc.paths as Record<string, { patch: { parameters: Array<{ name: string }>; 'x-kubernetes-group-version-kind': unknown } }>)['/apis/apps/v1/namespaces/{namespace}/deployments/{name}']!.patch;
    assert.deepEqual(patch['x-kubernetes-group-version-kind'], { group: 'apps', version: 'v1', kind: 'Deployment' });
    assert.ok(patch.parameters.some((p) => p.name === 'fieldValidation'));
  });
});
