/**
 * End to end on the sandbox: the IoT café through the orchestrator API to Ready with its VMs
 * created by Tacker, injected over real SSH and registered as WorkloadEntries; configuration
 * changes; re-apply; teardown; the fault stories of issue 5.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { KINDS, PRUNABLE_KINDS } from '../../mesh-config/index.js';
import { startWorld, vmService, type World } from './world.js';

const CAFE = readFileSync(new URL('../../examples/iot-cafe/descriptor.yaml', import.meta.url), 'utf8');
const MINIMAL = readFileSync(new URL('../../examples/minimal/descriptor.yaml', import.meta.url), 'utf8');
/** the mesh objects a connections change may rewrite (the kind table's mesh.yaml kinds but the VMs' own) */
const MESH_KINDS = new Set(KINDS.filter((k) => k.file === 'mesh' && k.kind !== 'WorkloadGroup' && k.kind !== 'WorkloadEntry').map((k) => k.kind));
/** writes that are bookkeeping, not deployed objects */
const BOOKKEEPING = new Set(['MeshService', 'Event', 'Lease']);

/** writes by kind; with `namespace`, only those to objects in it (the service's: not the leader's Lease heartbeat in mixmesh-system) */
async function writesByKind(w: World, namespace?: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const e of (await w.kubeRequests()).entries) {
    if (e.dryRun || !['create', 'update', 'patch', 'delete', 'deletecollection'].includes(e.verb)) continue;
    if (namespace !== undefined && e.namespace !== namespace) continue;
    out[e.kind] = (out[e.kind] ?? 0) + e.count;
  }
  return out;
}

async function vnfNames(w: World): Promise<string[]> {
  return (await w.stack.openstack!.tacker.listVnfInstances()).map((v) => String(v.vnfInstanceName)).sort();
}

describe('e2e: orchestrator on the sandbox', function () {
  this.timeout(120_000);
  let w: World;

  before(async () => {
    w = await startWorld();
    for (const ns of ['cafe', 'retried', 'doomed', 'noisy', 'crashy', 'plugged', 'oauth']) {
      await w.stack.kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
      await w.stack.kube.create({ apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/ssh-auth', metadata: { name: 'vm-ssh', namespace: ns }, data: { 'ssh-privatekey': Buffer.from(w.sandbox.sshPrivateKey).toString('base64') } });
    }
  });
  after(async () => { await w?.stop(); });

  it('the IoT café reaches Ready: VMs created by Tacker, injected over SSH, registered', async () => {
    const r = await w.api('PUT', '/v1/services/cafe/iot-cafe', { body: CAFE });
    assert.equal(r.status, 202, r.text);
    const op = await w.waitOperation(String(r.json.operationId));
    assert.equal(op.state, 'Succeeded', JSON.stringify(op));
    const svc = (await w.api('GET', '/v1/services/cafe/iot-cafe')).json as { status: { phase: string; microservices: { name: string; runtime: string; ready: number; instances?: { address: string; sidecar: string; vnfInstanceId: string }[] }[] } };
    assert.equal(svc.status.phase, 'Ready');
    const vms = svc.status.microservices.filter((m) => m.runtime === 'vm');
    assert.equal(vms.length, 2);
    for (const m of vms) {
      const inst = m.instances![0]!;
      assert.equal(inst.sidecar, 'Succeeded');
      assert.match(inst.address, /^127\.0\.10\.\d+$/);
      // the stand-in pilot-agent answers ready only with good cluster.env, root cert and token
      const ready = await fetch(`http://${inst.address}:15021/healthz/ready`);
      assert.equal(ready.status, 200);
      const we = await w.stack.kube.get({ apiVersion: 'networking.istio.io/v1', kind: 'WorkloadEntry', namespace: 'cafe', name: `${m.name}-v1-0` });
      assert.equal((we?.spec as { address: string }).address, inst.address);
    }
    assert.deepEqual(await vnfNames(w), ['cafe.iot-cafe.inventory-db.v1.0', 'cafe.iot-cafe.order-api.v1.0']);
    const mesh = await w.api('GET', '/v1/services/cafe/iot-cafe/mesh-config');
    assert.match(mesh.text, /kind: VirtualService/);
    assert.match(mesh.text, /kind: WorkloadEntry/);
  });

  it('an unchanged re-apply writes nothing (also after a resync)', async () => {
    await w.resetKubeRequests();
    const r = await w.api('PUT', '/v1/services/cafe/iot-cafe', { body: CAFE });
    assert.equal(r.status, 202);
    assert.equal(r.json.generation, 1);
    await w.stack.orchestrator.controller.resync();
    await w.stack.orchestrator.controller.idle();
    assert.deepEqual(await writesByKind(w, 'cafe'), {});
  });

  it('a connections change rewrites only mesh objects', async () => {
    const spec = (parse(CAFE) as { spec: { connections: Record<string, unknown>[] } }).spec;
    const connections = spec.connections.map((c) => (c.from === 'kiosk-ui' ? { ...c, timeout: '9s' } : c));
    await w.resetKubeRequests();
    const r = await w.api('PUT', '/v1/services/cafe/iot-cafe/connections', { body: JSON.stringify({ connections }), type: 'application/json' });
    assert.equal(r.status, 202, r.text);
    const op = await w.waitOperation(String(r.json.operationId));
    assert.equal(op.state, 'Succeeded');
    const writes = await writesByKind(w);
    const deployed = Object.keys(writes).filter((k) => !BOOKKEEPING.has(k));
    assert.ok(deployed.length > 0, JSON.stringify(writes));
    assert.deepEqual(deployed.filter((k) => !MESH_KINDS.has(k)), [], JSON.stringify(writes));
    assert.deepEqual(await vnfNames(w), ['cafe.iot-cafe.inventory-db.v1.0', 'cafe.iot-cafe.order-api.v1.0'], 'no VM touched');
  });

  it('rejects an invalid descriptor (400), a viewer (403) and wrong notification credentials (401), changing nothing', async () => {
    await w.resetKubeRequests();
    const bad = await w.api('POST', '/v1/services', { body: MINIMAL.replace('{from: frontend, to: backend}', '{from: frontend, to: backendd}') });
    assert.equal(bad.status, 400);
    assert.ok((bad.json.errors as { pointer: string }[]).some((e) => e.pointer === '/spec/connections/0/to'), bad.text);
    const viewer = await w.api('PUT', '/v1/services/default/hello', { body: MINIMAL, token: w.tokens.viewer });
    assert.equal(viewer.status, 403);
    const basic = `Basic ${Buffer.from('tacker:guess').toString('base64')}`;
    assert.equal((await w.api('POST', '/v1/tacker/notifications', { token: null, headers: { authorization: basic }, body: '{}', type: 'application/json' })).status, 401);
    assert.equal((await w.api('GET', '/v1/tacker/notifications', { token: null })).status, 401);
    assert.deepEqual(await writesByKind(w), {});
  });

  it('plugin mode: Tacker\'s instantiate_end injects, the orchestrator confirms and registers (one injection)', async () => {
    const r = await w.api('PUT', '/v1/services/plugged/plugged', { body: vmService('plugged', 'plugged', 'plugin') });
    assert.equal(r.status, 202, r.text);
    const op = await w.waitOperation(String(r.json.operationId));
    assert.equal(op.state, 'Succeeded', JSON.stringify(op));
    const svc = (await w.api('GET', '/v1/services/plugged/plugged')).json as { status: { microservices: { name: string; instances?: { vnfInstanceId: string; address: string; sidecar: string }[] }[] } };
    const inst = svc.status.microservices.find((m) => m.name === 'db')!.instances![0]!;
    assert.equal(inst.sidecar, 'Succeeded');
    const injections = await w.fetch(`${w.stack.injectorUrl}/v1/injections?vnfInstanceId=${inst.vnfInstanceId}`, { headers: { authorization: `Bearer ${w.stack.injectorToken}` } });
    const body = (await injections.json()) as { items?: unknown[] } | unknown[];
    assert.equal((Array.isArray(body) ? body : body.items ?? []).length, 1, 'injected exactly once, by the plug-in');
    assert.equal((await fetch(`http://${inst.address}:15021/healthz/ready`)).status, 200);
  });

  it('OAuth2 callbacks: Tacker takes a token from our endpoint, and its notifications are accepted', async () => {
    // a second replica: same Lease, so it serves the API and callbacks but does not reconcile
    const other = await w.another({ MIXMESH_CALLBACK_AUTH: 'oauth2' });
    assert.equal(other.orchestrator.isLeader, false);
    const before = other.orchestrator.callbacks.received;
    const r = await w.api('PUT', '/v1/services/oauth/oauth', { body: vmService('oauth', 'oauth') });
    assert.equal(r.status, 202, r.text);
    assert.equal((await w.waitOperation(String(r.json.operationId))).state, 'Succeeded');
    await w.sandbox.openstack.drainNotifications();
    assert.ok(other.orchestrator.callbacks.received > before, 'the OAuth2 subscriber got the notifications');
    const subs = await other.openstack!.tacker.listSubscriptions();
    assert.ok(subs.some((s) => s.callbackUri === `${other.url}/v1/tacker/notifications`));
    await other.stop();
  });

  it('FAILED_TEMP once is retried and reaches Ready', async () => {
    await w.faults({ fail: { operation: 'INSTANTIATE', count: 1, error: { status: 500, title: 'Heat', detail: 'stack create failed once' } } });
    const r = await w.api('PUT', '/v1/services/retried/retried', { body: vmService('retried', 'retried') });
    assert.equal(r.status, 202, r.text);
    const op = await w.waitOperation(String(r.json.operationId));
    assert.equal(op.state, 'Succeeded', JSON.stringify(op));
    assert.deepEqual((await vnfNames(w)).filter((n) => n.startsWith('retried.retried.')), ['retried.retried.db.v1.0']);
  });

  it('an instantiate that always fails is rolled back: Failed with Tacker\'s error', async () => {
    await w.faults({ fail: { operation: 'INSTANTIATE', count: 10, error: { status: 500, title: 'Heat', detail: 'no valid host was found' } } });
    try {
      const r = await w.api('PUT', '/v1/services/doomed/doomed', { body: vmService('doomed', 'doomed') });
      const op = await w.waitOperation(String(r.json.operationId));
      assert.equal(op.state, 'RolledBack', JSON.stringify(op));
      assert.match(String(op.error), /no valid host was found/);
      const svc = (await w.api('GET', '/v1/services/doomed/doomed')).json as { status: { phase: string; conditions: { type: string; reason: string; message: string }[] } };
      assert.equal(svc.status.phase, 'Failed');
      assert.match(svc.status.conditions.find((c) => c.type === 'Ready')!.message, /no valid host was found/);
      assert.equal(await w.stack.kube.get({ apiVersion: 'networking.istio.io/v1', kind: 'WorkloadEntry', namespace: 'doomed', name: 'db-v1-0' }), undefined);
    } finally {
      await w.faults(null);
    }
  });

  it('reaches Ready with notifications lost, duplicated and reordered (they are hints; GET decides)', async () => {
    await w.faults({ notifications: { drop: 2, duplicate: 2, reorder: 2 } });
    try {
      const r = await w.api('PUT', '/v1/services/noisy/noisy', { body: vmService('noisy', 'noisy') });
      const op = await w.waitOperation(String(r.json.operationId));
      assert.equal(op.state, 'Succeeded', JSON.stringify(op));
    } finally {
      await w.faults(null);
    }
  });

  it('an orchestrator killed (SIGKILL) mid-deploy never makes a second VNF for one VM', async () => {
    // the in-process orchestrator steps aside; `mixmesh serve` in a child process takes over
    await w.stack.stop();
    const child = await w.spawnServe();
    await w.faults({ delay: { operation: 'INSTANTIATE', ms: 1500 } });
    try {
      const put = await w.fetch(`${child.url}/v1/services/crashy/crashy`, { method: 'PUT', headers: { authorization: `Bearer ${w.tokens.admin}`, 'content-type': 'application/yaml' }, body: vmService('crashy', 'crashy') });
      assert.equal(put.status, 202);
      const { operationId } = (await put.json()) as { operationId: string };
      // the create request went out: kill it there, no goodbye
      for (let i = 0; i < 200 && !(await vnfNames(w)).includes('crashy.crashy.db.v1.0'); i++) await new Promise((res) => setTimeout(res, 50));
      assert.ok((await vnfNames(w)).includes('crashy.crashy.db.v1.0'));
      await child.kill();
      // a new orchestrator (the dead one still holds the Lease for a while: this one runs without)
      await w.restart({ settings: { leaderElection: false } });
      const op = await w.waitOperation(operationId, 90_000);
      assert.equal(op.state, 'Succeeded', JSON.stringify(op));
      assert.deepEqual((await vnfNames(w)).filter((n) => n.startsWith('crashy.')), ['crashy.crashy.db.v1.0']);
    } finally {
      await w.faults(null);
    }
  });

  it('20 services at once all reach Ready', async () => {
    const ops: string[] = [];
    await Promise.all(Array.from({ length: 20 }, async (_, i) => {
      const r = await w.api('PUT', `/v1/services/crowd-${i}/hello-${i}`, { body: MINIMAL.replace('name: hello', `name: hello-${i}`) });
      assert.equal(r.status, 202, r.text);
      ops.push(String(r.json.operationId));
    }));
    const states = await Promise.all(ops.map((id) => w.waitOperation(id, 90_000)));
    assert.deepEqual(states.map((s) => s.state), Array(20).fill('Succeeded'));
  });

  it('delete tears the café down and leaves nothing of it', async () => {
    const r = await w.api('DELETE', '/v1/services/cafe/iot-cafe');
    assert.equal(r.status, 202);
    for (let i = 0; i < 300; i++) {
      if ((await w.api('GET', '/v1/services/cafe/iot-cafe')).status === 404) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal((await w.api('GET', '/v1/services/cafe/iot-cafe')).status, 404);
    assert.deepEqual((await vnfNames(w)).filter((n) => n.startsWith('cafe.')), []);
    const left: string[] = [];
    for (const { apiVersion, kind } of [...PRUNABLE_KINDS, { apiVersion: 'events.k8s.io/v1', kind: 'Event' }]) {
      const { items } = await w.stack.kube.list(apiVersion, kind, { namespace: 'cafe', labelSelector: 'mixmesh.io/service=iot-cafe' });
      left.push(...items.map((o) => `${kind}/${o.metadata.name}`));
    }
    assert.deepEqual(left, []);
  });
});
