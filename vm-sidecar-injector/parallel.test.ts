import { strict as assert } from 'node:assert';
import { startInjectorFixture, type InjectorFixture } from '../test/helpers/injector-fixture.js';
import { PACKAGE_CACHE, createVmWorld, prepareArtifacts, type VmWorld } from '../test/helpers/vm-world.js';

describe('vm-sidecar-injector bounded parallelism across VMs', function () {
  this.timeout(60_000);
  let world: VmWorld;
  let fixture: InjectorFixture;

  before(async () => {
    world = await createVmWorld('mixmesh-par-');
    await prepareArtifacts(world.artifacts, PACKAGE_CACHE, '1.30.3', ['tar']);
    fixture = await startInjectorFixture(world, { maxParallel: 2 });
  });
  after(async () => {
    await fixture?.close();
    await world?.close();
  });

  it('never works on more VMs at once than maxParallel; the others wait Pending', async () => {
    const vms = await Promise.all([0, 1, 2, 3].map((i) => world.provider.create({ serverId: `par-${i}`, name: `par-${i}` })));
    const injections = vms.map((vm) => fixture.injector.create({
      vm: { address: vm.address, port: 22, user: 'root', secretRef: { namespace: 'cafe', name: 'vm-ssh' }, hostKey: vm.hostPublicKey },
      workload: { service: 'iot-cafe', name: 'order-api', version: 'v1', namespace: 'cafe' },
      sidecar: { package: 'tar', istioVersion: '1.30.3' },
    }));
    assert.deepEqual(injections.map((i) => i.state), ['Pending', 'Pending', 'Pending', 'Pending']);
    await fixture.injector.idle();
    for (const i of injections) assert.equal(i.state, 'Succeeded', JSON.stringify(i.error));
    // intervals [first step started, last step ended] of each VM: at no instant more than 2 overlap
    const spans = injections.map((i) => [Date.parse(i.steps[0]!.startedAt), Date.parse(i.steps.at(-1)!.endedAt!)] as const);
    for (const [start] of spans) {
      const overlapping = spans.filter(([s, e]) => s <= start && start < e).length;
      assert.ok(overlapping <= 2, `${overlapping} VMs at once`);
    }
  });
});
