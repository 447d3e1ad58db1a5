import { strict as assert } from 'node:assert';
import type { KubeObject } from './client.js';
import { diffApply } from './diff.js';

const owned = (fieldsV1: Record<string, unknown>): KubeObject['metadata']['managedFields'] => [
  { manager: 'mixmesh', operation: 'Apply', apiVersion: 'networking.istio.io/v1', fieldsType: 'FieldsV1', fieldsV1 },
  { manager: 'kubectl-edit', operation: 'Update', apiVersion: 'networking.istio.io/v1', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { 'f:exportTo': {} } } },
];

const vs = (http: Record<string, unknown>[], extra: Record<string, unknown> = {}, managedFields?: KubeObject['metadata']['managedFields']): KubeObject => ({
  apiVersion: 'networking.istio.io/v1', kind: 'VirtualService',
  metadata: { name: 'backend', namespace: 'shop', labels: { app: 'backend' }, ...(managedFields ? { managedFields, resourceVersion: '7', uid: 'u' } : {}) },
  spec: { hosts: ['backend'], http, ...extra },
});

describe('clients/kube diffApply (what an apply would change)', () => {
  const liveFields = { 'f:metadata': { 'f:labels': { 'f:app': {} } }, 'f:spec': { 'f:hosts': {}, 'f:http': {} } };

  it('unchanged: the same fields and values; server defaults, status and other managers\' fields do not count', () => {
    const live = { ...vs([{ timeout: '3s', route: [{ destination: { host: 'backend' } }] }], { exportTo: ['*'] }, owned(liveFields)), status: { observedGeneration: 1 } };
    assert.deepEqual(diffApply(live, vs([{ timeout: '3s', route: [{ destination: { host: 'backend' } }] }])), []);
  });

  it('a field removed inside an atomic list (owned as a whole) is a change at that field', () => {
    const live = vs([{ timeout: '3s', fault: { abort: { percent: 50, httpStatus: 503 } } }], {}, owned(liveFields));
    assert.deepEqual(diffApply(live, vs([{ timeout: '3s' }])), [{ path: '/spec/http/0/fault', from: { abort: { percent: 50, httpStatus: 503 } } }]);
  });

  it('a field mixmesh owned and no longer applies is a removal; one it never owned is not', () => {
    const live = vs([], { gateways: ['mesh'], exportTo: ['.'] }, owned({ ...liveFields, 'f:spec': { 'f:hosts': {}, 'f:http': {}, 'f:gateways': {} } }));
    assert.deepEqual(diffApply(live, vs([])), [{ path: '/spec/gateways', from: ['mesh'] }]);
  });

  it('keyed list items: a removed item is found by its key; a key field left out matches the server default', () => {
    const dep = (ports: Record<string, unknown>[], managedFields?: KubeObject['metadata']['managedFields']): KubeObject => ({
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop', ...(managedFields ? { managedFields } : {}) },
      spec: { template: { spec: { containers: [{ name: 'web', ports }] } } },
    });
    const fields = { 'f:spec': { 'f:template': { 'f:spec': { 'f:containers': { 'k:{"name":"web"}': { '.': {}, 'f:name': {}, 'f:ports': {
      'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} }, 'k:{"containerPort":81,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} },
    } } } } } } };
    const live = dep([{ containerPort: 80, protocol: 'TCP' }, { containerPort: 81, protocol: 'TCP' }], [{ manager: 'mixmesh', operation: 'Apply', fieldsV1: fields }]);
    assert.deepEqual(diffApply(live, dep([{ containerPort: 80 }, { containerPort: 81 }])), [], 'protocol TCP is the default');
    const changes = diffApply(live, dep([{ containerPort: 80 }]));
    assert.ok(changes.some((c) => c.path.includes('k:{"containerPort":81,"protocol":"TCP"}') && c.to === undefined), JSON.stringify(changes));
  });

  it('a label removed is a removal; a changed value is a change; no live object: everything is new', () => {
    const live = vs([], {}, owned({ 'f:metadata': { 'f:labels': { 'f:app': {}, 'f:tier': {} } }, 'f:spec': { 'f:hosts': {}, 'f:http': {} } }));
    live.metadata.labels = { app: 'backend', tier: 'web' };
    assert.deepEqual(diffApply(live, vs([])), [{ path: '/metadata/labels/tier', from: 'web' }]);
    assert.deepEqual(diffApply(vs([], {}, owned(liveFields)), { ...vs([]), spec: { hosts: ['other'], http: [] } }), [{ path: '/spec/hosts/0', from: 'backend', to: 'other' }]);
    assert.equal(diffApply(undefined, vs([])).length, 1);
  });
});
