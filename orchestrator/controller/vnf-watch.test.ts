/**
 * A VM deleted behind mixmesh's back (issue 8, defect 6), on the in-memory Kubernetes, Tacker and
 * injector: detected from the notifications or by the resync, reported (Degraded, condition
 * VnfLost, a Warning Event), its WorkloadEntry removed, and the VM recreated under the same
 * name, unless the descriptor says `vm.recreate: false`. (test/e2e has the story on the sandbox.)
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { silentLogger } from '../../common/logger.js';
import { DEFAULT_MESH_VALUES } from '../../descriptor/index.js';
import { createGenerators } from '../generators.js';
import { createOrchestrator, type Orchestrator } from '../orchestrator.js';
import type { MeshServiceResource } from '../ports.js';
import { MemoryInjector } from '../../test/helpers/memory-injector.js';
import { MemoryKube } from '../../test/helpers/memory-kube.js';
import { MemoryTacker } from '../../test/helpers/memory-tacker.js';

const CAFE = readFileSync(new URL('../../examples/iot-cafe/descriptor.yaml', import.meta.url), 'utf8');
const REF = { apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService', namespace: 'cafe', name: 'iot-cafe' };
const WE = { apiVersion: 'networking.istio.io/v1', kind: 'WorkloadEntry', namespace: 'cafe', name: 'order-api-v1-0' };
const VNF = 'cafe.iot-cafe.order-api.v1.0';

interface World {
  kube: MemoryKube;
  tacker: MemoryTacker;
  orch: Orchestrator;
}

async function world(notifications: boolean): Promise<World> {
  const kube = new MemoryKube();
  kube.ready.add('Deployment');
  const tacker = new MemoryTacker();
  tacker.packages.push({ vnfdId: '6a4b5a1e-0000-4000-8000-000000000001', onboardingState: 'ONBOARDED', operationalState: 'ENABLED' });
  const orch = createOrchestrator({
    kube, tacker, injector: new MemoryInjector(), generators: createGenerators(DEFAULT_MESH_VALUES), log: silentLogger,
    settings: {
      tokens: [], bodyLimitBytes: 1 << 20, callback: { url: 'http://127.0.0.1:1/v1/tacker/notifications', auth: 'basic' }, systemNamespace: 'mixmesh-system',
      // no resync by timer here: the test calls the watch's resync itself when it needs one
      resyncSeconds: 3600, tackerRetries: 2, tackerPollMs: notifications ? 1000 : 5, vmTimeoutMs: 10_000, readyTimeoutMs: 10_000, readyPollMs: 5, leaderElection: false,
    },
  });
  if (notifications) tacker.notify = (n) => orch.callbacks.accept(n);
  await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'cafe' } });
  await kube.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'vm-ssh', namespace: 'cafe' }, data: { 'ssh-privatekey': 'eA==' } });
  await orch.start();
  return { kube, tacker, orch };
}

/** wait for a condition, with a generous deadline (never a fixed sleep) */
async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const service = async (w: World): Promise<MeshServiceResource> => (await w.kube.get(REF)) as MeshServiceResource;
const vnfsNamed = (w: World): { id: string; state: string }[] => [...w.tacker.instances.values()].filter((i) => i.vnfInstanceName === VNF).map((i) => ({ id: i.id, state: i.instantiationState }));
const events = async (w: World, reason: string): Promise<Record<string, unknown>[]> => (await w.kube.list('events.k8s.io/v1', 'Event', { namespace: 'cafe' })).filter((e) => (e as unknown as { reason: string }).reason === reason) as unknown as Record<string, unknown>[];

/** terminate + delete the VNF through Tacker, as `openstack vnflcm terminate` + `delete` would */
async function deleteBehindTheBack(w: World, id: string): Promise<void> {
  const op = await w.tacker.terminate(id, { terminationType: 'FORCEFUL' });
  await until('terminate COMPLETED', async () => (await w.tacker.getOpOcc(op)).operationState === 'COMPLETED');
  await w.tacker.deleteVnfInstance(id);
}

async function deployed(w: World, descriptor = CAFE): Promise<string> {
  await w.orch.services.put('cafe', 'iot-cafe', parse(descriptor));
  await until('Ready', async () => (await service(w)).status?.phase === 'Ready');
  assert.ok(await w.kube.get(WE));
  return vnfsNamed(w)[0]!.id;
}

describe('orchestrator: a VNF deleted behind mixmesh\'s back', () => {
  let w: World;
  afterEach(async () => { await w?.orch.stop(); });

  it('is detected from the notifications: Degraded with the reason, WorkloadEntry gone at once, the VM recreated under the same name', async () => {
    w = await world(true);
    const old = await deployed(w);
    const oldAddress = ((await w.kube.get(WE))!.spec as { address: string }).address;
    await deleteBehindTheBack(w, old);
    const lost = await until('VnfLost event', async () => (await events(w, 'VnfLost'))[0]);
    assert.equal(lost.type, 'Warning');
    assert.match(String(lost.note), new RegExp(`VNF ${VNF.replace(/\./g, '\\.')} \\(${old}\\) was (terminated|deleted) outside mixmesh; recreating it`));
    // recreated: a new VNF of the same name, injected, registered; Ready again
    await until('a new VNF', async () => vnfsNamed(w).some((v) => v.id !== old && v.state === 'INSTANTIATED'));
    const svc = await until('Ready again', async () => { const s = await service(w); return s.status?.phase === 'Ready' && s; });
    assert.equal(vnfsNamed(w).length, 1);
    const inst = svc.status!.microservices!.find((m) => m.name === 'order-api')!.instances![0]!;
    assert.notEqual(inst.vnfInstanceId, old);
    assert.equal(inst.sidecar, 'Succeeded');
    assert.equal(inst.lastError, undefined);
    const entry = (await w.kube.get(WE))!;
    assert.equal((entry.spec as { address: string }).address, inst.address);
    assert.ok(oldAddress);
  });

  it('is detected by the resync when no notification comes; with vm.recreate: false it is only reported until applied again', async () => {
    w = await world(false);
    const descriptor = CAFE.replace(/(\n(\s+)vnfdId: [^\n]+)/, '$1\n$2recreate: false');
    assert.notEqual(descriptor, CAFE);
    const old = await deployed(w, descriptor);
    await deleteBehindTheBack(w, old);
    await w.orch.vnfWatch!.checkAll();
    // reported, entry gone, nothing recreated
    const svc = await service(w);
    assert.equal(svc.status?.phase, 'Degraded');
    const ready = svc.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.reason, 'VnfLost');
    assert.match(ready!.message, /was deleted outside mixmesh; vm.recreate is false/);
    assert.equal(await w.kube.get(WE), undefined);
    assert.equal((await events(w, 'VnfLost')).length, 1);
    // a check of a Degraded service never brings the entry back from the status
    await w.orch.controller.resync();
    await w.orch.controller.idle();
    assert.equal(await w.kube.get(WE), undefined);
    assert.equal(vnfsNamed(w).length, 0);
    // another resync reports nothing new
    await w.orch.vnfWatch!.checkAll();
    assert.equal((await events(w, 'VnfLost')).length, 1);
    // applied again (unchanged): the VM is recreated
    await w.orch.services.put('cafe', 'iot-cafe', parse(descriptor));
    await until('Ready again', async () => (await service(w)).status?.phase === 'Ready');
    assert.equal(vnfsNamed(w).length, 1);
    assert.ok(await w.kube.get(WE));
  });

  it('leaves VNFs alone that mixmesh itself removes (teardown)', async () => {
    w = await world(true);
    await deployed(w);
    await w.orch.services.delete('cafe', 'iot-cafe');
    await until('torn down', async () => (await service(w)) === undefined);
    assert.equal((await events(w, 'VnfLost')).length, 0);
  });
});

describe('orchestrator: a FAILED_TEMP retry is recorded', () => {
  let w: World;
  afterEach(async () => { await w?.orch.stop(); });

  it('leaves an Event InstantiateRetried naming the VNF, the operation and the retry count', async () => {
    w = await world(true);
    w.tacker.failures.set(VNF, 1);
    await deployed(w);
    const retried = await events(w, 'InstantiateRetried');
    assert.equal(retried.length, 1);
    assert.match(String(retried[0]!.note), new RegExp(`^${VNF.replace(/\./g, '\\.')}: instantiate \\S+ FAILED_TEMP \\(.*injected failure.*\\); retry 1 of 2$`));
  });
});
