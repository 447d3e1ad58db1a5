/**
 * The pure parts: request validation (pointers), the catalog rendering, the translations per
 * orchestrator, and the README's capability matrix kept equal to the one the API serves.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { isMixmeshError } from '../common/errors.js';
import { CAPABILITY_MATRIX, capabilityMarkdown, CATALOG, renderService, toKubernetes, toMarathonApp, toSwarmService } from './index.js';
import { validateClusterRequest, validateServiceRequest } from './validate.js';
import { parseGatewayConfig } from './config.js';

const pointers = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (e) {
    assert.ok(isMixmeshError(e, 'BAD_REQUEST'));
    return [...new Set((e.errors ?? []).map((p) => p.pointer))];
  }
  assert.fail('no error');
};

describe('gateway: validation, catalog, translations, capability matrix', () => {
  it('validates cluster and service requests with pointers', () => {
    assert.deepEqual(validateClusterRequest({ name: 'a', orchestrator: 'swarm', infrastructure: { provider: 'ec2' }, size: { managers: 1, workers: 2 } }).name, 'a');
    assert.deepEqual(pointers(() => validateClusterRequest({ name: 'a', orchestrator: 'swarm' })), ['']);
    assert.deepEqual(pointers(() => validateClusterRequest({ name: 'a', orchestrator: 'swarm', register: { endpoint: 'tcp://x:1' }, infrastructure: { provider: 'ec2' }, size: { managers: 1, workers: 0 } })), ['/register']);
    assert.deepEqual(pointers(() => validateClusterRequest({ name: 'a', orchestrator: 'marathon', register: { endpoint: 'tcp://x:1' } })), ['/register/endpoint']);
    assert.deepEqual(pointers(() => validateClusterRequest({ name: 'a', orchestrator: 'swarm', infrastructure: { provider: 'ec2' }, size: { managers: 2, workers: 0 } })), ['/size/managers']);
    assert.deepEqual(pointers(() => validateServiceRequest({ name: 'web', template: 'web', parameters: { env: { 'bad-name': 'x' } } })), ['/parameters/env']);
    assert.deepEqual(pointers(() => validateServiceRequest({ name: 'web', template: 'web', parameters: { ports: [70000] } })), ['/parameters/ports/0']);
  });

  it('renders a template with parameters and translates it for every orchestrator, deterministically', () => {
    const def = renderService('c1', { name: 'web', template: 'web', parameters: { replicas: 3, env: { B: '2', A: '1' } } });
    assert.equal(def.replicas, 3);
    const swarm = toSwarmService(def) as { Mode: { Replicated: { Replicas: number } }; TaskTemplate: { ContainerSpec: { Env: string[]; Image: string; Init: boolean } } };
    assert.equal(swarm.Mode.Replicated.Replicas, 3);
    assert.equal(swarm.TaskTemplate.ContainerSpec.Init, true, 'an init as PID 1: the task stops on SIGTERM');
    assert.deepEqual(swarm.TaskTemplate.ContainerSpec.Env, ['A=1', 'B=2']);
    assert.equal(swarm.TaskTemplate.ContainerSpec.Image, 'busybox:stable');
    const app = toMarathonApp(def) as { id: string; instances: number; cmd: string };
    assert.equal(app.id, '/web');
    assert.equal(app.instances, 3);
    assert.match(app.cmd, /^sh -c 'mkdir -p \/www && exec httpd/);
    const [dep, svc] = toKubernetes(def, 'ns') as [{ kind: string; spec: { replicas: number } }, { kind: string }];
    assert.equal(dep.kind, 'Deployment');
    assert.equal(dep.spec.replicas, 3);
    assert.equal(svc.kind, 'Service');
    assert.equal(JSON.stringify(toSwarmService(def)), JSON.stringify(toSwarmService(renderService('c1', { name: 'web', template: 'web', parameters: { replicas: 3, env: { A: '1', B: '2' } } }))));
    for (const t of CATALOG) assert.ok(renderService('c', { name: 'x', template: t.name }).image, t.name);
    for (const name of ['web', 'cache', 'kiosk-ui', 'order-api', 'kitchen-display', 'device-api', 'inventory-db']) assert.ok(CATALOG.some((t) => t.name === name), name);
  });

  it('the README prints the capability matrix the API serves', () => {
    const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
    assert.ok(readme.includes(capabilityMarkdown()), 'gateway/README.md: paste the output of capabilityMarkdown()');
    assert.deepEqual(CAPABILITY_MATRIX.map((r) => r.driver), ['swarm', 'marathon', 'kubernetes', 'openstack', 'ec2', 'baremetal']);
  });

  it('reads its configuration strictly', () => {
    assert.throws(() => parseGatewayConfig({ nope: 1 }), /unknown key "nope"/);
    assert.throws(() => parseGatewayConfig({ baremetal: { inventory: [{ address: '10.0.0.1' }] } }), /inventory\[0\] needs address, user and hostKey/);
    assert.throws(() => parseGatewayConfig({ ec2: { region: 'x' } }), /ec2\.image is required/);
    assert.equal(parseGatewayConfig({}).namespace, 'mixmesh-gateway');
  });
});
