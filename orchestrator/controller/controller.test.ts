/**
 * The controller against the in-memory Kubernetes, Tacker and injector: the deploy steps, VM chains
 * in parallel, exactly-once injection, writes only on change, connections, teardown, faults.
 * (The same stories run on the sandbox in test/e2e/.)
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
import { LeaderElector } from './lease.js';
import { backoffDelay } from './controller.js';

const CAFE = readFileSync(new URL('../../examples/iot-cafe/descriptor.yaml', import.meta.url), 'utf8');
const MINIMAL = readFileSync(new URL('../../examples/minimal/descriptor.yaml', import.meta.url), 'utf8');
const REF = { apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService', namespace: 'cafe', name: 'iot-cafe' };

interface World {
  kube: MemoryKube;
  tacker: MemoryTacker;
  injector: MemoryInjector;
  orch: Orchestrator;
  creates: { name: string; at: number }[];
}

async function world(options: { retries?: number; notifications?: boolean; subscriptionFails?: boolean; backoff?: { baseMs: number; capMs: number } } = {}): Promise<World> {
  const kube = new MemoryKube();
  kube.ready.add('Deployment');
  const tacker = new MemoryTacker();
  if (options.subscriptionFails) tacker.createSubscription = async () => { throw new Error('422: callback test GET failed'); };
  tacker.packages.push({ vnfdId: '6a4b5a1e-0000-4000-8000-000000000001', onboardingState: 'ONBOARDED', operationalState: 'ENABLED' });
  const injector = new MemoryInjector();
  const creates: { name: string; at: number }[] = [];
  const orch = createOrchestrator({
    kube, tacker, injector, generators: createGenerators(DEFAULT_MESH_VALUES), log: silentLogger,
    settings: {
      tokens: [], bodyLimitBytes: 1 << 20, callback: { url: 'http://127.0.0.1:1/v1/tacker/notifications', auth: 'basic' }, systemNamespace: 'mixmesh-system',
      resyncSeconds: 3600, tackerRetries: options.retries ?? 2, tackerPollMs: options.notifications === false ? 5 : 1000, vmTimeoutMs: 10_000, readyTimeoutMs: 10_000, readyPollMs: 5,
      leaderElection: false, ...(options.backoff ? { backoff: options.backoff } : {}),
    },
    onCreateSent: (name, at) => creates.push({ name, at }),
  });
  if (options.notifications !== false) tacker.notify = (n) => orch.callbacks.accept(n);
  await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'cafe' } });
  await kube.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'vm-ssh', namespace: 'cafe' }, data: { 'ssh-privatekey': 'eA==' } });
  await orch.start();
  return { kube, tacker, injector, orch, creates };
}

async function settle(w: World): Promise<MeshServiceResource> {
  // a status write comes back as an event: wait until the queue is quiet twice
  await w.orch.controller.idle();
  await new Promise((r) => setImmediate(r));
  await w.orch.controller.idle();
  return (await w.kube.get(REF)) as MeshServiceResource;
}

const kinds = (w: World, ns = 'cafe'): string[] => w.kube.all().filter((o) => o.metadata.namespace === ns && o.kind !== 'Event').map((o) => `${o.kind}/${o.metadata.name}`).sort();

describe('orchestrator controller', () => {
  let w: World;
  afterEach(async () => { await w?.orch.stop(); });

  it('deploys the IoT café to Ready: VMs created at the start and in parallel, injected once, registered', async () => {
    w = await world();
    // compile the schema validators first: the clock is about the deploy, not about ajv
    const g = createGenerators(DEFAULT_MESH_VALUES);
    const warm = g.validate(parse(CAFE));
    assert.ok(warm.ok);
    g.render(warm.value);
    const t0 = Date.now();
    await w.orch.services.put('cafe', 'iot-cafe', parse(CAFE));
    const svc = await settle(w);
    assert.equal(svc.status?.phase, 'Ready', JSON.stringify(svc.status?.conditions));
    assert.equal(svc.status?.observedGeneration, 1);
    assert.deepEqual(svc.status?.conditions?.map((c) => `${c.type}=${c.status}`), ['Ready=True', 'Valid=True']);
    const op = svc.status!.operations![0]!;
    assert.equal(op.state, 'Succeeded');
    assert.match(op.id, /-1$/);
    assert.ok(op.steps.some((s) => s.name === 'vms'));
    // both VMs: one create each, sent right at the start
    assert.deepEqual(w.creates.map((c) => c.name).sort(), ['cafe.iot-cafe.inventory-db.v1.0', 'cafe.iot-cafe.order-api.v1.0']);
    assert.ok(w.creates.every((c) => c.at - t0 < 1000), JSON.stringify(w.creates.map((c) => c.at - t0)));
    const vms = svc.status!.microservices!.filter((m) => m.runtime === 'vm');
    assert.equal(vms.length, 2);
    for (const m of vms) {
      assert.equal(m.ready, 1);
      const inst = m.instances![0]!;
      assert.equal(inst.sidecar, 'Succeeded');
      assert.match(inst.address!, /^10\.0\.0\.\d+$/);
      assert.equal(w.injector.countFor(inst.vnfInstanceId!), 1);
    }
    const we = await w.kube.get({ apiVersion: 'networking.istio.io/v1', kind: 'WorkloadEntry', namespace: 'cafe', name: 'order-api-v1-0' });
    assert.deepEqual((we?.spec as { labels: unknown }).labels, { app: 'order-api', version: 'v1', 'mixmesh.io/service': 'iot-cafe' });
    assert.ok(kinds(w).includes('VirtualService/iot-cafe-ingress'));
    assert.ok(kinds(w).includes('Deployment/order-api-v2'));
    const events = await w.orch.services.events('cafe', 'iot-cafe');
    assert.deepEqual([events[0]!.reason, events.at(-1)!.reason], ['Deploying', 'Ready']);
  });

  it('a resync of an unchanged service writes nothing; a connections change rewrites only mesh objects', async () => {
    w = await world();
    await w.orch.services.put('cafe', 'iot-cafe', parse(CAFE));
    await settle(w);
    let before = w.kube.writes.length;
    await w.orch.controller.resync();
    await settle(w);
    assert.deepEqual(w.kube.writes.slice(before), []);
    // drift: someone deletes a WorkloadEntry and a VirtualService; a resync puts them back
    await w.kube.delete({ apiVersion: 'networking.istio.io/v1', kind: 'WorkloadEntry', namespace: 'cafe', name: 'inventory-db-v1-0' });
    await w.kube.delete({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', namespace: 'cafe', name: 'order-api' });
    await w.orch.controller.resync();
    await settle(w);
    assert.ok(kinds(w).includes('WorkloadEntry/inventory-db-v1-0'));
    assert.ok(kinds(w).includes('VirtualService/order-api'));
    assert.equal(w.creates.length, 2, 'no VM touched');
    before = w.kube.writes.length;
    await w.orch.services.put('cafe', 'iot-cafe', parse(CAFE));
    await settle(w);
    assert.deepEqual(w.kube.writes.slice(before), [], 'an unchanged PUT writes nothing either');

    const current = (await w.orch.services.get('cafe', 'iot-cafe')).spec as { connections: Record<string, unknown>[] };
    const connections = current.connections.map((c) => (c.to === 'device-api' && c.from === 'ingress' ? { ...c, timeout: '7s' } : c));
    await w.orch.services.putConnections('cafe', 'iot-cafe', { connections });
    const svc = await settle(w);
    assert.equal(svc.status?.phase, 'Ready');
    const written = new Set(w.kube.writes.slice(before).filter((x) => x.verb === 'PATCH').map((x) => x.kind));
    assert.deepEqual([...written].sort(), ['VirtualService']);
    assert.equal(w.creates.length, 2, 'no VM touched');
    assert.equal([...w.injector.injections.values()].length, 2, 'no re-injection');
  });

  it('a Ready service turns Degraded when a workload is not ready, and Ready again; the operation stays as it was', async () => {
    w = await world();
    await w.orch.services.put('shop', 'hello', parse(MINIMAL));
    const ref = { ...REF, namespace: 'shop', name: 'hello' };
    await settle(w);
    w.kube.ready.delete('Deployment');
    await w.orch.controller.resync();
    await settle(w);
    let svc = (await w.kube.get(ref)) as MeshServiceResource;
    assert.equal(svc.status?.phase, 'Degraded');
    assert.match(svc.status!.conditions!.find((c) => c.type === 'Ready')!.message, /not ready: backend-v1, frontend-v1/);
    assert.equal(svc.status!.operations!.at(-1)!.state, 'Succeeded');
    const writes = w.kube.writes.length;
    await w.orch.controller.resync();
    await settle(w);
    assert.equal(w.kube.writes.length, writes, 'still Degraded: nothing new to write');
    w.kube.ready.add('Deployment');
    await w.orch.controller.resync();
    svc = await settle(w).then(() => w.kube.get(ref)) as MeshServiceResource;
    assert.equal(svc.status?.phase, 'Ready');
  });

  it('a MeshService written with kubectl gets our finalizer, deploys, and a removed microservice is pruned', async () => {
    w = await world();
    const doc = parse(MINIMAL) as { spec: { microservices: { name: string }[]; connections: unknown[] } };
    await w.kube.create({ apiVersion: REF.apiVersion, kind: REF.kind, metadata: { name: 'hello', namespace: 'cafe' }, spec: doc.spec });
    const ref = { ...REF, name: 'hello' };
    await settle(w);
    let svc = (await w.kube.get(ref)) as MeshServiceResource;
    assert.deepEqual(svc.metadata.finalizers, ['mixmesh.io/teardown']);
    assert.equal(svc.status?.phase, 'Ready');
    assert.ok(kinds(w).includes('Deployment/backend-v1'));
    // kubectl edit: drop backend (and its connection)
    const spec = { ...doc.spec, microservices: doc.spec.microservices.filter((m) => m.name !== 'backend'), connections: [] };
    await w.kube.replace({ ...svc, spec });
    await settle(w);
    svc = (await w.kube.get(ref)) as MeshServiceResource;
    assert.equal(svc.status?.phase, 'Ready');
    assert.equal(svc.status?.observedGeneration, 2);
    assert.deepEqual(kinds(w).filter((k) => k.endsWith('/backend') || k.endsWith('/backend-v1')), []);
    assert.ok(kinds(w).includes('Deployment/frontend-v1'));
  });

  it('an invalid MeshService written directly is Failed with Valid=False, and nothing changes', async () => {
    w = await world();
    const doc = parse(CAFE) as { spec: { connections: { to: string }[] } };
    doc.spec.connections[0]!.to = 'order-apii';
    await w.kube.create({ apiVersion: REF.apiVersion, kind: REF.kind, metadata: { name: 'iot-cafe', namespace: 'cafe', finalizers: ['mixmesh.io/teardown'] }, spec: doc.spec });
    const svc = await settle(w);
    assert.equal(svc.status?.phase, 'Failed');
    const valid = svc.status!.conditions!.find((c) => c.type === 'Valid')!;
    assert.equal(valid.status, 'False');
    assert.equal(valid.reason, 'DescriptorInvalid');
    assert.match(valid.message, /\/spec\/connections\/0\/to: "order-apii"/);
    assert.deepEqual(kinds(w), ['MeshService/iot-cafe', 'Secret/vm-ssh']);
    assert.equal(w.creates.length, 0);
  });

  it('FAILED_TEMP once is retried and reaches Ready; always failing is rolled back and Failed with Tacker\'s error', async () => {
    w = await world();
    w.tacker.failures.set('cafe.iot-cafe.order-api.v1.0', 1);
    w.tacker.failures.set('cafe.iot-cafe.inventory-db.v1.0', Infinity);
    await w.orch.services.put('cafe', 'iot-cafe', parse(CAFE));
    const svc = await settle(w);
    assert.equal(svc.status?.phase, 'Failed');
    const op = svc.status!.operations!.at(-1)!;
    assert.equal(op.state, 'RolledBack');
    assert.match(op.error!, /injected failure for cafe\.iot-cafe\.inventory-db\.v1\.0/);
    const ready = svc.status!.conditions!.find((c) => c.type === 'Ready')!;
    assert.equal(ready.reason, 'TackerOperationFailed');
    const order = svc.status!.microservices!.find((m) => m.name === 'order-api' && m.version === 'v1')!;
    assert.equal(order.instances![0]!.sidecar, 'Succeeded', 'the retried VM made it');
    assert.equal(w.tacker.calls.filter((c) => c.call === 'retry').length, 1 + 2);
    assert.equal(w.tacker.calls.filter((c) => c.call === 'rollback').length, 1);
    assert.ok(!kinds(w).includes('WorkloadEntry/inventory-db-v1-0'));
  });

  it('re-applying the same descriptor after a failure tries that generation again', async () => {
    w = await world();
    w.tacker.failures.set('cafe.iot-cafe.inventory-db.v1.0', Infinity);
    const first = await w.orch.services.put('cafe', 'iot-cafe', parse(CAFE));
    assert.equal((await settle(w)).status?.phase, 'Failed');
    assert.equal((await w.orch.services.operation(first.operationId)).state, 'RolledBack');
    w.tacker.failures.delete('cafe.iot-cafe.inventory-db.v1.0');
    const again = await w.orch.services.put('cafe', 'iot-cafe', parse(CAFE));
    assert.deepEqual(again, first, 'the same generation and operation');
    assert.match((await w.orch.services.operation(first.operationId)).state, /^(Queued|Running)$/, 'not the old RolledBack');
    const svc = await settle(w);
    assert.equal(svc.status?.phase, 'Ready');
    assert.equal((await w.orch.services.operation(first.operationId)).state, 'Succeeded');
    assert.equal(svc.status!.operations!.filter((o) => o.id === first.operationId).length, 1);
  });

  it('a failed injection fails the deploy with the injector\'s code; the VM gets no WorkloadEntry', async () => {
    w = await world();
    const realCreate = w.tacker.createVnfInstance.bind(w.tacker);
    w.tacker.createVnfInstance = async (body) => {
      const i = await realCreate(body);
      if (String(body.vnfInstanceName).includes('inventory-db')) w.injector.failVnfs.add(i.id);
      return i;
    };
    await w.orch.services.put('cafe', 'iot-cafe', parse(CAFE));
    const svc = await settle(w);
    assert.equal(svc.status?.phase, 'Failed');
    const op = svc.status!.operations!.at(-1)!;
    assert.equal(op.state, 'Failed');
    assert.equal(op.code, 'SSH_CONNECT_FAILED');
    assert.match(op.error!, /inventory-db.*sshd did not answer/);
    assert.equal(svc.status!.conditions!.find((c) => c.type === 'Ready')!.reason, 'InjectionFailed');
    const db = svc.status!.microservices!.find((m) => m.name === 'inventory-db')!;
    assert.equal(db.ready, 0);
    assert.match(db.instances![0]!.lastError!, /sshd did not answer/);
    assert.ok(!kinds(w).includes('WorkloadEntry/inventory-db-v1-0'));
    assert.ok(kinds(w).includes('WorkloadEntry/order-api-v1-0'), 'the other VM is registered');
  });

  it('restart: an existing instance is reused, duplicates removed — never a second VNF per VM', async () => {
    w = await world();
    // a previous orchestrator was killed after its create requests (twice, even)
    await w.tacker.createVnfInstance({ vnfInstanceName: 'cafe.iot-cafe.order-api.v1.0', vnfdId: 'x' });
    await w.tacker.createVnfInstance({ vnfInstanceName: 'cafe.iot-cafe.order-api.v1.0', vnfdId: 'x' });
    await w.orch.services.put('cafe', 'iot-cafe', parse(CAFE));
    const svc = await settle(w);
    assert.equal(svc.status?.phase, 'Ready');
    const names = [...w.tacker.instances.values()].map((i) => i.vnfInstanceName).sort();
    assert.deepEqual(names, ['cafe.iot-cafe.inventory-db.v1.0', 'cafe.iot-cafe.order-api.v1.0']);
  });

  it('a VNF with two VMs is VNF_SHAPE_UNSUPPORTED: terminated and deleted, the version fails', async () => {
    w = await world();
    w.tacker.vmsPerInstance.set('cafe.iot-cafe.inventory-db.v1.0', 2);
    await w.orch.services.put('cafe', 'iot-cafe', parse(CAFE));
    const svc = await settle(w);
    assert.equal(svc.status?.phase, 'Failed');
    const op = svc.status!.operations!.at(-1)!;
    assert.equal(op.code, 'VNF_SHAPE_UNSUPPORTED');
    assert.match(op.error!, /has 2 VMs; mixmesh supports exactly one/);
    assert.deepEqual([...w.tacker.instances.values()].map((i) => i.vnfInstanceName), ['cafe.iot-cafe.order-api.v1.0']);
  });

  it('starts and reaches Ready by polling when Tacker refuses the subscription', async () => {
    w = await world({ notifications: false, subscriptionFails: true });
    assert.equal(w.tacker.subscriptions.size, 0);
    await w.orch.services.put('cafe', 'iot-cafe', parse(CAFE));
    assert.equal((await settle(w)).status?.phase, 'Ready');
  });

  it('reaches Ready by polling when every notification is lost', async () => {
    w = await world({ notifications: false });
    await w.orch.services.put('cafe', 'iot-cafe', parse(CAFE));
    const svc = await settle(w);
    assert.equal(svc.status?.phase, 'Ready');
  });

  it('delete tears everything down in reverse order and leaves nothing; our namespace goes too', async () => {
    w = await world();
    await w.orch.services.put('shop', 'hello', parse(MINIMAL));
    await w.orch.services.put('cafe', 'iot-cafe', parse(CAFE));
    await settle(w);
    assert.equal((await w.kube.get({ ...REF, namespace: 'shop', name: 'hello' }) as MeshServiceResource).status?.phase, 'Ready');
    await w.orch.services.delete('cafe', 'iot-cafe');
    await w.orch.services.delete('shop', 'hello');
    await settle(w);
    assert.equal(await w.kube.get(REF), undefined);
    assert.deepEqual(kinds(w), ['Secret/vm-ssh'], 'the namespace cafe was not ours: kept, emptied of ours');
    assert.equal(await w.kube.get({ apiVersion: 'v1', kind: 'Namespace', name: 'shop' }), undefined, 'shop was created for hello');
    assert.ok(await w.kube.get({ apiVersion: 'v1', kind: 'Namespace', name: 'cafe' }));
    assert.equal(w.tacker.instances.size, 0);
    const order = w.kube.writes.filter((x) => x.verb === 'DELETE' && ['VirtualService', 'WorkloadEntry', 'Deployment'].includes(x.kind)).map((x) => x.kind);
    assert.ok(order.lastIndexOf('VirtualService') < order.indexOf('Deployment'));
    assert.ok(order.lastIndexOf('WorkloadEntry') < order.indexOf('Deployment'));
  });

  it('20 services at once all reach Ready', async () => {
    w = await world();
    for (let i = 0; i < 20; i++) {
      const doc = parse(MINIMAL) as { metadata: { name: string } };
      doc.metadata.name = `hello-${i}`;
      await w.orch.services.put(`team-${i}`, `hello-${i}`, doc);
    }
    await settle(w);
    const all = await w.orch.services.list();
    assert.equal(all.length, 20);
    assert.deepEqual(all.map((s) => (s.status as { phase: string }).phase), Array(20).fill('Ready'));
  });

  it('removing a connection setting removes it from the live VirtualService; plan shows the removal (issue 8.2)', async () => {
    w = await world();
    const doc = parse(MINIMAL) as { spec: { connections: Record<string, unknown>[] } };
    const full = { from: 'frontend', to: 'backend', timeout: '3s', retries: { attempts: 3, perTryTimeout: '1s' }, fault: { abort: { percent: 50, httpStatus: 503 } } };
    doc.spec.connections = [full];
    await w.orch.services.put('shop', 'hello', doc);
    await settle(w);
    const vsRef = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', namespace: 'shop', name: 'backend' };
    const route = async (): Promise<Record<string, unknown>> => ((await w.kube.get(vsRef))!.spec as { http: Record<string, unknown>[] }).http[0]!;
    assert.equal((await route()).timeout, '3s');
    for (const field of ['fault', 'retries'] as const) {
      const { [field]: _gone, ...rest } = doc.spec.connections[0]!;
      doc.spec.connections = [rest];
      const plan = await w.orch.services.plan(structuredClone(doc), { namespace: 'shop', name: 'hello' });
      const vs = plan.changes.find((c) => c.kind === 'VirtualService')!;
      assert.equal(vs.action, 'update', `${field}: ${JSON.stringify(plan.changes.filter((c) => c.action !== 'unchanged'))}`);
      assert.ok(vs.diff!.some((d) => d.path.endsWith(`/${field}`) && d.from !== undefined && d.to === undefined), JSON.stringify(vs.diff));
      await w.orch.services.put('shop', 'hello', structuredClone(doc));
      await settle(w);
      assert.equal(((await w.kube.get({ ...REF, namespace: 'shop', name: 'hello' })) as MeshServiceResource).status?.phase, 'Ready');
      assert.equal((await route())[field], undefined, `${field} is gone from the live VirtualService`);
      assert.equal((await route()).timeout, '3s', 'the rest stays');
    }
  });

  it('scaling a VM 2 → 1 drops the instance from the status; a repair never brings its WorkloadEntry back (issue 8.3)', async () => {
    w = await world();
    const doc = parse(CAFE) as { spec: { microservices: { name: string; runtime: string; vm?: { instances?: number } }[] } };
    const db = doc.spec.microservices.find((m) => m.name === 'inventory-db')!;
    db.vm!.instances = 2;
    await w.orch.services.put('cafe', 'iot-cafe', structuredClone(doc));
    await settle(w);
    assert.ok(kinds(w).includes('WorkloadEntry/inventory-db-v1-1'));
    db.vm!.instances = 1;
    await w.orch.services.put('cafe', 'iot-cafe', structuredClone(doc));
    let svc = await settle(w);
    assert.equal(svc.status?.phase, 'Ready');
    assert.deepEqual(svc.status!.microservices!.find((m) => m.name === 'inventory-db')!.instances!.map((i) => i.index), [0]);
    assert.ok(!kinds(w).includes('WorkloadEntry/inventory-db-v1-1'));
    // the drift repair of a resync
    await w.orch.controller.resync();
    svc = await settle(w);
    assert.ok(!kinds(w).includes('WorkloadEntry/inventory-db-v1-1'), 'not resurrected');
    assert.deepEqual([...w.tacker.instances.values()].map((i) => i.vnfInstanceName).filter((n) => String(n).includes('inventory-db')), ['cafe.iot-cafe.inventory-db.v1.0']);
    assert.ok(!(await w.orch.services.events('cafe', 'iot-cafe')).some((e) => e.reason === 'DriftRepaired'));
  });

  it('delete finishes when the server does not serve a kind or forbids listing one: the namespace stays and says why (issue 8.1)', async () => {
    w = await world();
    w.kube.unserved.add('StatefulSet');
    await w.orch.services.put('shop', 'hello', parse(MINIMAL));
    await w.orch.services.put('lab', 'hello', parse(MINIMAL));
    await settle(w);
    w.kube.forbidList.add('DaemonSet');
    await w.orch.services.delete('lab', 'hello');
    await settle(w);
    assert.equal(await w.kube.get({ ...REF, namespace: 'lab', name: 'hello' }), undefined, 'the delete finished');
    assert.ok(await w.kube.get({ apiVersion: 'v1', kind: 'Namespace', name: 'lab' }), 'kept: it may hold DaemonSets');
    const kept = (await w.kube.list('events.k8s.io/v1', 'Event', { namespace: 'lab' })).filter((e) => e.reason === 'NamespaceKept');
    assert.equal(kept.length, 1);
    assert.match(String(kept[0]!.note), /listing DaemonSet \(apps\/v1\) is forbidden/);
    w.kube.forbidList.clear();
    await w.orch.services.delete('shop', 'hello');
    await settle(w);
    assert.equal(await w.kube.get({ ...REF, namespace: 'shop', name: 'hello' }), undefined);
    assert.equal(await w.kube.get({ apiVersion: 'v1', kind: 'Namespace', name: 'shop' }), undefined, 'an unserved kind holds nothing');
  });

  it('a teardown that keeps failing backs off exponentially: few attempts, one Event with a count (issue 8.1)', async () => {
    w = await world({ backoff: { baseMs: 40, capMs: 400 } });
    await w.orch.services.put('shop', 'hello', parse(MINIMAL));
    await settle(w);
    w.kube.failKinds.add('Deployment');
    const t0 = Date.now();
    await w.orch.services.delete('shop', 'hello');
    const key = 'shop/hello';
    const startAttempts = w.orch.controller.attempts.get(key) ?? 0;
    for (let i = 0; i < 400 && (w.orch.controller.attempts.get(key) ?? 0) - startAttempts < 5; i++) await new Promise((r) => setTimeout(r, 25));
    const attempts = (w.orch.controller.attempts.get(key) ?? 0) - startAttempts;
    assert.ok(attempts >= 5, `attempts: ${attempts}`);
    // five attempts need at least the four waits between them: half of 40 + 80 + 160 + 320 ms each (jitter keeps half)
    assert.ok(Date.now() - t0 >= (40 + 80 + 160 + 320) / 2, `five attempts in ${Date.now() - t0} ms: no backoff`);
    const failed = (await w.kube.list('events.k8s.io/v1', 'Event', { namespace: 'shop' })).filter((e) => e.reason === 'TeardownFailed');
    assert.equal(failed.length, 1, 'one Event, counted');
    assert.ok(Number((failed[0]!.series as { count: number }).count) >= 4, JSON.stringify(failed[0]!.series));
    w.kube.failKinds.delete('Deployment');
    for (let i = 0; i < 400 && (await w.kube.get({ ...REF, namespace: 'shop', name: 'hello' })); i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(await w.kube.get({ ...REF, namespace: 'shop', name: 'hello' }), undefined, 'the next try after the fault went succeeded');
  });

  it('backoff: doubles from the base up to the cap, half fixed and half jitter', () => {
    assert.deepEqual([1, 2, 3, 10, 40].map((n) => backoffDelay(n, 1000, 300_000, () => 0)), [500, 1000, 2000, 150_000, 150_000]);
    assert.deepEqual([1, 2, 3, 10, 40].map((n) => backoffDelay(n, 1000, 300_000, () => 1)), [1000, 2000, 4000, 300_000, 300_000]);
  });

  it('with a mesh revision, the namespace mixmesh creates carries istio.io/rev exactly as render prints it', async () => {
    w = await world();
    const values = { ...DEFAULT_MESH_VALUES, revision: 'canary-1-30' };
    const g = createGenerators(values);
    const valid = g.validate(parse(MINIMAL.replace('name: hello', 'name: hello\n  namespace: rev')));
    assert.ok(valid.ok);
    const rendered = g.render(valid.value).find((o) => o.kind === 'Namespace')!;
    const orch = createOrchestrator({ kube: w.kube, generators: g, log: silentLogger, settings: { tokens: [], bodyLimitBytes: 1 << 20, callback: { url: 'http://127.0.0.1:1/x', auth: 'basic' }, systemNamespace: 'mixmesh-system', resyncSeconds: 3600, tackerRetries: 0, tackerPollMs: 10, vmTimeoutMs: 1000, readyTimeoutMs: 5000, readyPollMs: 5, leaderElection: false } });
    await orch.services.put('rev', 'hello', parse(MINIMAL));
    const live = await w.kube.get({ apiVersion: 'v1', kind: 'Namespace', name: 'rev' });
    assert.deepEqual(live?.metadata.labels, rendered.metadata.labels);
    assert.equal(live?.metadata.labels?.['istio.io/rev'], 'canary-1-30');
    assert.equal(live?.metadata.labels?.['istio-injection'], undefined);
  });

  it('leader election: one of two candidates leads; the other takes over when it stops', async () => {
    const kube = new MemoryKube();
    let a = 0;
    let b = 0;
    const ea = new LeaderElector(kube, silentLogger, { namespace: 'mixmesh-system', identity: 'a', renewEveryMs: 3_600_000 }, { onStart: async () => { a++; }, onStop: async () => { a--; } });
    const eb = new LeaderElector(kube, silentLogger, { namespace: 'mixmesh-system', identity: 'b', renewEveryMs: 3_600_000 }, { onStart: async () => { b++; }, onStop: async () => { b--; } });
    await ea.start();
    await eb.start();
    assert.deepEqual([ea.isLeader, eb.isLeader, a, b], [true, false, 1, 0]);
    await ea.stop();
    assert.equal(await eb.tryAcquire(), true);
    await eb.stop();
  });
});
