/* eslint-disable @typescript-eslint/no-explicit-any -- documents are free-form */
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAndValidate, validateDescriptor } from './index.js';
import type { MeshService } from './index.js';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const load = (p: string) => readFileSync(here(p), 'utf8');

function valid(text: string, file: string, options = {}): MeshService {
  const r = parseAndValidate(text, file, options);
  assert.deepEqual(r.problems, [], `${file} should be valid`);
  assert.ok(r.ok);
  return r.value;
}

describe('descriptor/validate: good descriptors', () => {
  it('testdata/spec-example.yaml is the spec example, verbatim', function () {
    // the spec sits beside the checkout in the workspace; a bare checkout (CI) has only the copy
    const spec = here('../../shared/spec/descriptor.md');
    assert.ok(existsSync(spec), `${spec} is missing: the tests need ../shared beside the checkout`);
    const block = /## Example[^\n]*\n\n```yaml\n([\s\S]*?)```/.exec(readFileSync(spec, 'utf8'));
    assert.ok(block, 'the spec has an example block');
    assert.equal(load('testdata/spec-example.yaml'), block[1]);
  });

  it('accepts the spec example verbatim and applies every default', () => {
    const s = valid(load('testdata/spec-example.yaml'), 'spec-example.yaml');
    assert.equal(s.metadata.namespace, 'cafe');
    assert.deepEqual(s.metadata.labels, { team: 'store' });
    assert.deepEqual(s.spec.mesh, { mtls: 'STRICT', authorization: 'connections', network: '' });
    const [kiosk, orderV2, orderV1, db] = s.spec.microservices;
    assert.equal(kiosk!.version, 'v1');
    assert.equal(kiosk!.serviceAccount, 'kiosk-ui');
    assert.deepEqual(kiosk!.ports, [{ name: 'http', port: 8080, targetPort: 8080, protocol: 'HTTP' }]);
    assert.equal(kiosk!.container!.replicas, 1);
    assert.equal(orderV2!.container!.replicas, 2);
    assert.equal(orderV1!.ports[0]!.targetPort, 8081);
    assert.deepEqual(db!.vm!.ssh, { user: 'ubuntu', credentialsSecret: 'vm-ssh', port: 22, hostKey: 'console' });
    assert.deepEqual(db!.vm!.sidecar, { package: 'deb', injection: 'orchestrator', istioVersion: '1.30.3' });
    assert.equal(db!.vm!.instances, 1);
    assert.equal(db!.ports[0]!.protocol, 'TCP');
    assert.deepEqual(s.spec.connections.map((c) => c.port), ['http', 'mysql']);
    assert.deepEqual(s.spec.ingress!.routes[0], { pathPrefix: '/order', to: 'order-api', port: 'http' });
  });

  it('takes the sidecar istioVersion from the options', () => {
    const s = valid(load('testdata/spec-example.yaml'), 'spec-example.yaml', { istioVersion: '1.29.0' });
    assert.equal(s.spec.microservices[3]!.vm!.sidecar.istioVersion, '1.29.0');
    assert.equal(s.spec.microservices[2]!.vm!.sidecar.istioVersion, '1.30.3', 'an explicit version wins');
  });

  it('accepts the IoT café and fills connection and ingress ports', () => {
    const s = valid(load('../examples/iot-cafe/descriptor.yaml'), 'iot-cafe');
    assert.equal(s.metadata.namespace, 'cafe');
    assert.ok(s.spec.connections.every((c) => typeof c.port === 'string'));
    const vms = s.spec.microservices.filter((m) => m.runtime === 'vm');
    assert.deepEqual(vms.map((m) => `${m.name}-${m.version}`), ['order-api-v1', 'inventory-db-v1']);
    for (const vm of vms) {
      assert.equal(vm.vm!.vnfdId, '6a4b5a1e-0000-4000-8000-000000000001');
      assert.deepEqual(vm.vm!.ssh, { user: 'root', credentialsSecret: 'vm-ssh', hostKey: 'console', port: 22 });
      assert.equal(vm.vm!.fixedIp, undefined);
    }
    assert.deepEqual(s.spec.ingress!.routes.map((r) => r.pathPrefix), ['/order', '/control', '/kitchen', '/']);
  });

  it('accepts the minimal example with namespace "default", labels {} and connections filled', () => {
    const s = valid(load('../examples/minimal/descriptor.yaml'), 'minimal');
    assert.equal(s.metadata.namespace, 'default');
    assert.deepEqual(s.metadata.labels, {});
    assert.deepEqual(s.spec.connections, [{ from: 'frontend', to: 'backend', port: 'http' }]);
    assert.equal(s.spec.ingress, undefined);
  });

  it('accepts JSON and never changes its input', () => {
    const input = { apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService', metadata: { name: 'x' }, spec: { microservices: [{ name: 'a', runtime: 'container', ports: [{ name: 'http', port: 80 }], container: { image: 'a:1' } }] } };
    const before = JSON.stringify(input);
    const r = validateDescriptor(input);
    assert.ok(r.ok);
    assert.equal(JSON.stringify(input), before);
    const fromJson = parseAndValidate(before, 'x.json');
    assert.deepEqual(fromJson.ok && fromJson.value, r.value);
  });
});

describe('descriptor/resource: a stored MeshService back to its descriptor', () => {
  it('drops server fields, status and the management labels mixmesh wrote, keeps the user labels', async () => {
    const { descriptorFromResource } = await import('./index.js');
    const { parse } = await import('yaml');
    const descriptor = parse(load('../examples/iot-cafe/descriptor.yaml')) as Record<string, any>;
    const stored = structuredClone(descriptor);
    stored.metadata = {
      ...stored.metadata,
      uid: 'u-1',
      resourceVersion: '7',
      generation: 3,
      creationTimestamp: '2026-01-01T00:00:00Z',
      finalizers: ['mixmesh.io/teardown'],
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
      managedFields: [],
      labels: { ...stored.metadata.labels, 'app.kubernetes.io/managed-by': 'mixmesh', 'app.kubernetes.io/part-of': 'iot-cafe', 'mixmesh.io/service': 'iot-cafe' },
    };
    stored.status = { phase: 'Ready' };
    assert.deepEqual(descriptorFromResource(stored), descriptor);
    assert.ok(validateDescriptor(descriptorFromResource(stored)).ok);
    // a reserved label the user set by hand is still the user's, and still an error
    stored.metadata.labels['mixmesh.io/service'] = 'other';
    const r = validateDescriptor(descriptorFromResource(stored));
    assert.deepEqual(r.problems.map((p) => p.pointer), ['/metadata/labels/mixmesh.io~1service']);
  });
});
