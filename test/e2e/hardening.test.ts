/**
 * End to end on the sandbox, issue 8: a VNF deleted behind mixmesh's back (terminate + delete
 * through Tacker's API) is detected, reported and recreated; two services declaring the same
 * microservice sent at the same moment get exactly one 202; a 4 MB nested body is refused while
 * the orchestrator keeps answering /healthz. (The times are in `npm run bench -- limits`.)
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startWorld, vmService, type World } from './world.js';

const MINIMAL = readFileSync(new URL('../../examples/minimal/descriptor.yaml', import.meta.url), 'utf8');

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Svc { status: { phase: string; conditions?: { type: string; reason: string; message: string }[]; microservices: { name: string; instances?: { vnfInstanceId: string; vnfInstanceName: string; address: string; sidecar?: string }[] }[] } }

describe('e2e: issue 8 on the sandbox', function () {
  this.timeout(180_000);
  let w: World;

  before(async () => {
    w = await startWorld();
    await w.stack.kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'lost' } });
    await w.stack.kube.create({ apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/ssh-auth', metadata: { name: 'vm-ssh', namespace: 'lost' }, data: { 'ssh-privatekey': Buffer.from(w.sandbox.sshPrivateKey).toString('base64') } });
  });
  after(async () => { await w?.stop(); });

  it('a VNF terminated and deleted through Tacker behind mixmesh\'s back is detected, reported, its WorkloadEntry removed, and the VM recreated', async () => {
    const r = await w.api('PUT', '/v1/services/lost/lost', { body: vmService('lost', 'lost') });
    assert.equal(r.status, 202, r.text);
    assert.equal((await w.waitOperation(String(r.json.operationId))).state, 'Succeeded');
    const before = ((await w.api('GET', '/v1/services/lost/lost')).json as unknown as Svc).status.microservices.find((m) => m.name === 'db')!.instances![0]!;
    // watch the WorkloadEntry: its removal must be seen, whatever comes after
    const seen: string[] = [];
    const stopWatch = await w.stack.kube.watch('networking.istio.io/v1', 'WorkloadEntry', { namespace: 'lost' }, (e) => { seen.push(`${e.type} ${(e.object as { metadata: { name: string } }).metadata.name}`); });
    try {
      const tacker = w.stack.openstack!.tacker;
      const op = await tacker.terminate(before.vnfInstanceId, { terminationType: 'FORCEFUL' });
      await until('terminate COMPLETED', async () => (await tacker.getOpOcc(op)).operationState === 'COMPLETED');
      await tacker.deleteVnfInstance(before.vnfInstanceId);
      // reported: a Warning Event VnfLost naming the VNF
      const events = await until('a VnfLost event', async () => {
        const e = (await w.api('GET', '/v1/services/lost/lost/events')).json.items as { reason: string; type: string; note: string }[];
        return e.find((x) => x.reason === 'VnfLost');
      });
      assert.equal(events.type, 'Warning');
      assert.match(events.note, new RegExp(`${before.vnfInstanceName.replace(/\./g, '\\.')} \\(${before.vnfInstanceId}\\) was (terminated|deleted) outside mixmesh`));
      await until('the WorkloadEntry removed', async () => seen.includes('DELETED db-v1-0'));
      // recreated: same name, a new VNF, injected and registered again
      const after = await until('recreated and Ready', async () => {
        const s = (await w.api('GET', '/v1/services/lost/lost')).json as unknown as Svc;
        const i = s.status.microservices.find((m) => m.name === 'db')?.instances?.[0];
        return s.status.phase === 'Ready' && i && i.vnfInstanceId !== before.vnfInstanceId && i.sidecar === 'Succeeded' && i;
      });
      assert.equal(after.vnfInstanceName, before.vnfInstanceName);
      const named = (await tacker.listVnfInstances()).filter((v) => v.vnfInstanceName === before.vnfInstanceName);
      assert.deepEqual(named.map((v) => v.id), [after.vnfInstanceId], 'exactly one VNF of that name');
      const we = await w.stack.kube.get({ apiVersion: 'networking.istio.io/v1', kind: 'WorkloadEntry', namespace: 'lost', name: 'db-v1-0' });
      assert.equal((we?.spec as { address: string }).address, after.address);
      assert.equal((await fetch(`http://${after.address}:15021/healthz/ready`)).status, 200);
    } finally {
      stopWatch();
    }
  });

  it('two services declaring the same microservice, sent at the same moment: exactly one 202, the others 409 NAME_CONFLICT', async () => {
    const bodies = ['first', 'second', 'third'].map((n) => MINIMAL.replace('name: hello', `name: ${n}\n  namespace: race`));
    const answers = await Promise.all(bodies.map((body) => w.api('POST', '/v1/services', { body })));
    assert.deepEqual(answers.map((a) => a.status).sort(), [202, 409, 409], answers.map((a) => a.text).join('\n'));
    for (const a of answers.filter((x) => x.status === 409)) assert.equal(a.json.code, 'NAME_CONFLICT');
    const winner = answers.find((a) => a.status === 202)!;
    assert.equal((await w.waitOperation(String(winner.json.operationId))).state, 'Succeeded');
    // the winner owns every object it made; nothing is labelled for a loser
    for (const kind of ['Deployment', 'Service', 'ServiceAccount']) {
      const items = await w.stack.kube.list(kind === 'Deployment' ? 'apps/v1' : 'v1', kind, { namespace: 'race', labelSelector: 'app.kubernetes.io/managed-by=mixmesh' });
      for (const o of items.items) assert.equal(o.metadata.labels?.['mixmesh.io/service'], winner.json.name, `${kind} ${o.metadata.name}`);
    }
  });

  it('a 4 MB nested body is refused (400 DESCRIPTOR_UNREADABLE) while /healthz keeps answering', async () => {
    let stop = false;
    let healthy = 0;
    const health = (async () => {
      while (!stop) {
        if ((await w.fetch(`${w.stack.url}/healthz`)).status === 200) healthy++;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const r = await w.api('POST', '/v1/plan', { body: '['.repeat(4 * 1024 * 1024 - 16), type: 'application/json', token: w.tokens.viewer });
    await until('a /healthz answer during or after', async () => healthy > 0);
    stop = true;
    await health;
    assert.equal(r.status, 400);
    assert.equal(r.json.code, 'DESCRIPTOR_UNREADABLE');
    assert.match(String(r.json.detail), /nested deeper than 64 levels/);
  });
});
