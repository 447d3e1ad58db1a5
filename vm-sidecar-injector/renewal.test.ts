import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectSsh } from '../clients/ssh/index.js';
import type { Injection } from './injector.js';
import { startInjectorFixture, type InjectorFixture } from '../test/helpers/injector-fixture.js';
import { PACKAGE_CACHE, createVmWorld, prepareArtifacts, type VmWorld } from '../test/helpers/vm-world.js';

describe('vm-sidecar-injector token renewal on a real VM', function () {
  this.timeout(60_000);
  let world: VmWorld;
  let fixture: InjectorFixture;

  before(async () => {
    world = await createVmWorld('mixmesh-renew-');
    await prepareArtifacts(world.artifacts, PACKAGE_CACHE, '1.30.3', ['tar']);
    // 5 s tokens: the scheduled renewal comes at 80 %, 4 s after issue
    fixture = await startInjectorFixture(world, { renewal: true, tokenLifetimeSeconds: 5 });
  });
  after(async () => {
    await fixture?.close();
    await world?.close();
  });

  it('renews on schedule at 80% of the lifetime, atomically replacing both token copies', async () => {
    const vm = await world.provider.create({ serverId: 'renew-1', name: 'renew' });
    const renewed = new Promise<{ injection: Injection; ok: boolean }>((resolve) => {
      fixture.injector.events = { renewed: (injection, ok) => resolve({ injection, ok }) };
    });
    const injection = fixture.injector.create({
      vm: { address: vm.address, port: 22, user: 'root', secretRef: { namespace: 'cafe', name: 'vm-ssh' }, hostKey: vm.hostPublicKey },
      workload: { service: 'iot-cafe', name: 'order-api', version: 'v1', namespace: 'cafe' },
      sidecar: { package: 'tar', istioVersion: '1.30.3' },
    });
    const { injection: after, ok } = await renewed;
    assert.equal(after.id, injection.id);
    assert.ok(ok, JSON.stringify(after.renewal));
    // the first token (5 s) was replaced after 80% of its life had passed (generous bounds: no timing race), before expiry
    const first = fixture.cluster.issued[0]!;
    const renewedAt = Date.parse(after.renewal!.renewedAt!);
    assert.ok(renewedAt < first.expiresAt.getTime(), 'renewed before expiry');
    assert.ok(renewedAt >= first.expiresAt.getTime() - 5000 * 0.5, 'not renewed early');
    assert.ok(fixture.cluster.issued.length >= 2);
    const latest = fixture.cluster.issued.at(-1)!.token;
    assert.equal(readFileSync(join(vm.rootfs, 'var/lib/mixmesh/istio-token'), 'utf8'), latest);
    assert.equal(readFileSync(join(vm.rootfs, 'run/secrets/tokens/istio-token'), 'utf8'), latest);
    assert.equal(after.tokenExpiresAt, fixture.cluster.issued.at(-1)!.expiresAt.toISOString());
    assert.ok(after.renewal?.nextAt, 'the next renewal is scheduled');
    fixture.injector.remove(injection.id);
    await fixture.injector.idle();
  });

  it('re-bootstraps a VM that fails readiness after the new token is in place', async () => {
    const vm = await world.provider.create({ serverId: 'renew-2', name: 'rebootstrap' });
    fixture.cluster.tokenLifetimeSeconds = 3600;
    fixture.injector.events = {};
    const injection = fixture.injector.create({
      vm: { address: vm.address, port: 22, user: 'root', secretRef: { namespace: 'cafe', name: 'vm-ssh' }, hostKey: vm.hostPublicKey },
      workload: { service: 'iot-cafe', name: 'order-api', version: 'v1', namespace: 'cafe' },
      sidecar: { package: 'tar', istioVersion: '1.30.3' },
    });
    await fixture.injector.idle();
    assert.equal(injection.state, 'Succeeded', JSON.stringify(injection.error));
    // break the VM: stop the agent and remove its cluster.env
    const shell = await connectSsh({ host: vm.address, username: 'root', privateKey: world.clientKey, hostKey: { expected: [vm.hostPublicKey] } });
    try {
      await shell.exec('kill -TERM "-$(cat /var/lib/mixmesh/istio.pid)"; rm -f /var/lib/istio/envoy/cluster.env', { allowFailure: true });
      assert.notEqual((await shell.exec(`wget -q -O - http://${vm.address}:15021/healthz/ready`, { allowFailure: true })).code, 0);
      const after = await fixture.injector.renew(injection.id);
      assert.equal(after.sidecar.state, 'Running', JSON.stringify(after.renewal));
      assert.equal((await shell.exec(`wget -q -O - http://${vm.address}:15021/healthz/ready`, { allowFailure: true })).code, 0, 'ready again');
    } finally {
      await shell.close();
    }
  });
});
