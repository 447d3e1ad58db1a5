import { strict as assert } from 'node:assert';
import { isMixmeshError } from '../common/errors.js';
import { DEFAULT_MESH_VALUES } from '../descriptor/index.js';
import { Injector, type NovaLike } from './injector.js';
import { injectionView } from './api/app.js';
import { MemoryCluster } from '../test/helpers/memory-cluster.js';

function injector(nova?: NovaLike): Injector {
  const cluster = new MemoryCluster();
  cluster.meshServices.set('cafe/iot-cafe', {
    spec: { microservices: [{ name: 'order-api', version: 'v1', runtime: 'vm', vm: { ssh: { user: 'ubuntu', port: 2222, credentialsSecret: 'vm-ssh', hostKey: 'accept-new' }, sidecar: { package: 'rpm', istioVersion: '1.30.1' } } }] },
  });
  return new Injector({
    cluster, nova, connect: async () => { throw new Error('not used'); }, parseConsoleHostKeys: () => [],
    meshValues: DEFAULT_MESH_VALUES, artifacts: { dir: '/nonexistent' }, renewal: false,
  });
}

const identity = { namespace: 'cafe', service: 'iot-cafe', name: 'order-api', version: 'v1', index: 0 };

describe('vm-sidecar-injector/injector: the plug-in form', () => {
  it('takes ssh user, port, credentials, host key and package from the MeshService; prefers a floating address from Nova', async () => {
    const nova: NovaLike = {
      getServer: async () => ({ addresses: { net0: [{ addr: '10.0.0.5', version: 4, 'OS-EXT-IPS:type': 'fixed' }, { addr: '203.0.113.9', version: 4, 'OS-EXT-IPS:type': 'floating' }] } }),
      getConsoleOutput: async () => '',
    };
    const r = await injector(nova).resolvePluginRequest({ vnfInstanceId: 'v1', identity, servers: [{ serverId: 's1', fixedAddresses: ['10.0.0.5'] }] });
    assert.deepEqual(r.vm, { address: '203.0.113.9', port: 2222, user: 'ubuntu', secretRef: { namespace: 'cafe', name: 'vm-ssh' }, hostKey: 'accept-new', serverId: 's1', floating: true });
    assert.deepEqual(r.sidecar, { package: 'rpm', istioVersion: '1.30.1' });
    assert.deepEqual(r.workload, { service: 'iot-cafe', name: 'order-api', version: 'v1', namespace: 'cafe' });
  });

  it('uses the fixed address without Nova, and refuses what it cannot resolve with stable codes', async () => {
    const r = await injector().resolvePluginRequest({ vnfInstanceId: 'v1', identity, servers: [{ serverId: 's1', fixedAddresses: ['10.0.0.5'] }] });
    assert.equal(r.vm.address, '10.0.0.5');
    assert.equal(r.vm.floating, false);
    const cases: [Parameters<Injector['resolvePluginRequest']>[0], string][] = [
      [{ vnfInstanceId: 'v1', identity, servers: [{ serverId: 's1' }] }, 'OPENSTACK_NOT_CONFIGURED'],
      [{ vnfInstanceId: 'v1', identity, servers: [{ serverId: 's1' }, { serverId: 's2' }] }, 'VNF_SHAPE_UNSUPPORTED'],
      [{ vnfInstanceId: 'v1', identity: { ...identity, version: 'v9' }, servers: [{ serverId: 's1', fixedAddresses: ['10.0.0.5'] }] }, 'NOT_FOUND'],
    ];
    for (const [body, code] of cases) await assert.rejects(injector().resolvePluginRequest(body), (e: unknown) => isMixmeshError(e, code as never));
  });
});

describe('vm-sidecar-injector/injector: the orchestrator form', () => {
  it('takes the package and Istio version from the MeshService and floating-ness from Nova when the request has none', async () => {
    const nova: NovaLike = {
      getServer: async () => ({ addresses: { net0: [{ addr: '10.0.0.5', version: 4, 'OS-EXT-IPS:type': 'fixed' }, { addr: '203.0.113.9', version: 4, 'OS-EXT-IPS:type': 'floating' }] } }),
      getConsoleOutput: async () => '',
    };
    const inj = injector(nova);
    const i = inj.create({
      vm: { address: '203.0.113.9', port: 22, user: 'root', secretRef: { namespace: 'cafe', name: 'vm-ssh' }, hostKey: 'accept-new', serverId: 's1' },
      workload: { service: 'iot-cafe', name: 'order-api', version: 'v1', namespace: 'cafe' },
    });
    await inj.idle();
    assert.deepEqual(i.sidecar, { package: 'rpm', istioVersion: '1.30.1' });
    assert.equal(i.vm.floating, true);
    // explicit values win
    const j = inj.create({
      vm: { address: '10.0.0.5', port: 22, user: 'root', secretRef: { namespace: 'cafe', name: 'vm-ssh' }, hostKey: 'accept-new', serverId: 's1' },
      workload: { service: 'iot-cafe', name: 'order-api', version: 'v1', namespace: 'cafe' },
      sidecar: { package: 'tar' },
    });
    await inj.idle();
    assert.deepEqual(j.sidecar, { package: 'tar', istioVersion: '1.30.1' });
    assert.equal(j.vm.floating, false);
  });
});

describe('vm-sidecar-injector/api injectionView', () => {
  it('shows TokenExpired once the token is past its expiry, whatever renewal did', () => {
    const base = {
      id: 'i', state: 'Succeeded' as const, createdAt: '', updatedAt: '', steps: [],
      vm: { address: '10.0.0.1', port: 22, user: 'root', hostKey: 'accept-new', secretRef: { namespace: 'n', name: 's' } },
      workload: { service: 's', name: 'a', version: 'v1', namespace: 'n' },
      sidecar: { package: 'deb' as const, istioVersion: '1.30.3', state: 'Running' as const },
      tokenExpiresAt: '2026-01-01T00:00:00.000Z',
    };
    assert.equal((injectionView(base, Date.parse('2025-12-31T23:00:00Z')).sidecar as { state: string }).state, 'Running');
    assert.equal((injectionView(base, Date.parse('2026-01-01T00:00:01Z')).sidecar as { state: string }).state, 'TokenExpired');
    assert.equal(base.sidecar.state, 'Running', 'the view does not change the injection');
  });
});
