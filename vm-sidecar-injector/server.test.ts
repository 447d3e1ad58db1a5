import { strict as assert } from 'node:assert';
import { createOpenStackClient, validateConfig, type OpenStackClient } from '../clients/openstack/index.js';
import { silentLogger } from '../common/logger.js';
import { DEFAULT_MESH_VALUES } from '../descriptor/index.js';
import { PLAIN_VNFD_ID, startOpenStack, type OpenStackSandbox } from '../sandbox/openstack/index.js';
import { readInjectorConfig } from './config.js';
import { Injector } from './injector.js';
import { notificationHandler, startInjector } from './server.js';
import { parseConsoleHostKeys, sshConnector } from './shell.js';
import { MemoryCluster } from '../test/helpers/memory-cluster.js';
import { seedCluster } from '../test/helpers/injector-fixture.js';
import { PACKAGE_CACHE, createVmWorld, prepareArtifacts, type VmWorld } from '../test/helpers/vm-world.js';

describe('vm-sidecar-injector with the Tacker/Nova emulator (real Nova console host keys and addresses)', function () {
  this.timeout(60_000);
  let world: VmWorld;
  let os: OpenStackSandbox;
  let openstack: OpenStackClient;

  before(async () => {
    world = await createVmWorld('mixmesh-injos-');
    await prepareArtifacts(world.artifacts, PACKAGE_CACHE, '1.30.3', ['tar']);
    os = await startOpenStack({ dir: world.dir, vmProvider: world.provider, keystone: 'emulated', latencies: { startingMs: 5, processingMs: 10, terminateMs: 5, sshdMs: 50 } });
    openstack = createOpenStackClient(validateConfig({ authUrl: os.authUrl, ...os.credentials }));
  });
  after(async () => {
    await os?.stop();
    await world?.close();
  });

  it('stand-alone mode: an INSTANTIATE COMPLETED hint injects the instance\'s VM (identity from its metadata, console host key and address from Nova)', async () => {
    const cluster = new MemoryCluster();
    seedCluster(cluster, world, 'tar');
    const injector = new Injector({
      cluster, nova: openstack.nova, connect: sshConnector({ connectBudgetMs: 10_000 }), parseConsoleHostKeys, meshValues: DEFAULT_MESH_VALUES,
      artifacts: { dir: world.artifacts }, readiness: { attempts: 40, intervalSeconds: 0.1 }, renewal: false,
    });
    try {
      const inst = await openstack.tacker.createVnfInstance({
        vnfdId: PLAIN_VNFD_ID, vnfInstanceName: 'cafe.iot-cafe.order-api.v1.0',
        metadata: { 'mixmesh.io/namespace': 'cafe', 'mixmesh.io/service': 'iot-cafe', 'mixmesh.io/name': 'order-api', 'mixmesh.io/version': 'v1', 'mixmesh.io/index': '0' },
      });
      const op = await openstack.tacker.waitForOperation(await openstack.tacker.instantiate(inst.id, { flavourId: 'simple' }), { minIntervalMs: 10 });
      assert.equal(op.operationState, 'COMPLETED');
      const handle = notificationHandler(injector, openstack, silentLogger);
      await handle(inst.id);
      await handle(inst.id); // a duplicated notification changes nothing
      const found = injector.list({ vnfInstanceId: inst.id });
      assert.equal(found.length, 1);
      await injector.idle();
      assert.equal(found[0]!.state, 'Succeeded', JSON.stringify(found[0]!.error));
      assert.equal(found[0]!.vm.hostKey, 'console');
      const server = (await openstack.tacker.getVnfInstance(inst.id)).instantiatedVnfInfo as { vnfcResourceInfo: { computeResource: { resourceId: string } }[] };
      assert.equal(found[0]!.vm.serverId, server.vnfcResourceInfo[0]!.computeResource.resourceId);
    } finally {
      await injector.close();
    }
  });

  it('startInjector listens on its own port with auth, answers health, and stops cleanly', async () => {
    const cluster = new MemoryCluster();
    seedCluster(cluster, world, 'tar');
    const config = readInjectorConfig({ MIXMESH_INJECTOR_TOKEN: 'start-injector-token-0123', MIXMESH_SIDECAR_ARTIFACTS: world.artifacts, MIXMESH_INJECTOR_LISTEN: '127.0.0.1:0' });
    const running = await startInjector(config, { cluster, openstack: null });
    try {
      assert.match(running.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal((await fetch(`${running.url}/healthz`)).status, 200);
      assert.equal((await fetch(`${running.url}/readyz`)).status, 200);
      assert.equal((await fetch(`${running.url}/v1/injections`)).status, 401);
      assert.equal((await fetch(`${running.url}/v1/injections`, { headers: { authorization: 'Bearer start-injector-token-0123' } })).status, 200);
    } finally {
      await running.close();
    }
    await assert.rejects(fetch(`${running.url}/healthz`));
  });

  it('reads its configuration once: token and artifacts required, listen and notification credentials checked', () => {
    assert.throws(() => readInjectorConfig({ MIXMESH_SIDECAR_ARTIFACTS: '/srv' }), /MIXMESH_INJECTOR_TOKEN/);
    assert.throws(() => readInjectorConfig({ MIXMESH_INJECTOR_TOKEN: 'x'.repeat(20) }), /MIXMESH_SIDECAR_ARTIFACTS/);
    assert.throws(() => readInjectorConfig({ MIXMESH_INJECTOR_TOKEN: 'x'.repeat(20), MIXMESH_SIDECAR_ARTIFACTS: 'relative/dir' }), /absolute/);
    assert.throws(() => readInjectorConfig({ MIXMESH_INJECTOR_TOKEN: 'x'.repeat(20), MIXMESH_SIDECAR_ARTIFACTS: '/srv', MIXMESH_INJECTOR_LISTEN: 'nohost' }), /HOST:PORT/);
    assert.throws(() => readInjectorConfig({ MIXMESH_INJECTOR_TOKEN: 'x'.repeat(20), MIXMESH_SIDECAR_ARTIFACTS: '/srv', MIXMESH_INJECTOR_NOTIFICATIONS: 'true' }), /CALLBACK_USER/);
    const c = readInjectorConfig({ MIXMESH_INJECTOR_TOKEN: 'x'.repeat(20), MIXMESH_SIDECAR_ARTIFACTS: 'https://artifacts.example/istio/', MIXMESH_INJECTOR_LISTEN: '[::1]:9000' });
    assert.deepEqual({ host: c.host, port: c.port, artifacts: c.artifacts, parallel: c.maxParallel, notifications: c.notifications }, { host: '::1', port: 9000, artifacts: { baseUrl: 'https://artifacts.example/istio' }, parallel: 8, notifications: undefined });
    assert.ok(Object.isFrozen(c));
  });
});
