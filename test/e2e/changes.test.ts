/**
 * End to end on the sandbox, the defects of issue 8 that live in change detection, scaling and
 * teardown: every optional connection setting removed one at a time leaves the live objects
 * (and `plan` says so), a VM scaled 2 → 1 → 2, a delete in a namespace mixmesh created finishes,
 * a list the orchestrator may not make keeps the namespace instead of retrying forever, and a
 * teardown that keeps failing backs off with one counted Event.
 */
import assert from 'node:assert/strict';
import { validateDescriptor } from '../../descriptor/index.js';
import { renderAll } from '../../mesh-config/index.js';
import { DEFAULT_MESH_VALUES } from '../../descriptor/index.js';
import { startWorld, vmService, type World } from './world.js';

/** a connection with every optional setting (and a second version of `to` for routes) */
const FULL = {
  from: 'frontend', to: 'backend', port: 'http',
  timeout: '3s',
  retries: { attempts: 3, perTryTimeout: '1s', retryOn: '5xx' },
  fault: { delay: { percent: 10, fixed: '2s' }, abort: { percent: 50, httpStatus: 503 } },
  routes: [{ match: { pathPrefix: '/v2' }, split: [{ version: 'v2', weight: 100 }] }, { split: [{ version: 'v1', weight: 90 }, { version: 'v2', weight: 10 }] }],
  loadBalancer: 'LEAST_REQUEST',
  connectionPool: { maxConnections: 100, maxPendingRequests: 10, maxRequestsPerConnection: 5 },
  circuitBreaker: { consecutiveErrors: 5, interval: '10s', baseEjectionTime: '30s', maxEjectionPercent: 50 },
};

function descriptor(namespace: string, connection: Record<string, unknown>): Record<string, unknown> {
  const backend = (version: string): Record<string, unknown> => ({ name: 'backend', version, runtime: 'container', ports: [{ name: 'http', port: 9090 }, { name: 'admin', port: 9901 }], container: { image: `ghcr.io/example/backend:${version}` } });
  return {
    apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService', metadata: { name: 'knobs', namespace },
    spec: {
      microservices: [{ name: 'frontend', runtime: 'container', ports: [{ name: 'http', port: 8080 }], container: { image: 'ghcr.io/example/frontend:1' } }, backend('v1'), backend('v2')],
      connections: [connection],
    },
  };
}

/** the objects `mixmesh render` makes of a descriptor, by kind/name */
function rendered(doc: Record<string, unknown>): Map<string, Record<string, unknown>> {
  const v = validateDescriptor(doc);
  assert.ok(v.ok, JSON.stringify(v));
  return new Map(renderAll(v.value, DEFAULT_MESH_VALUES).map((o) => [`${o.kind}/${o.metadata.name}`, o as unknown as Record<string, unknown>]));
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('e2e: changes, scaling and teardown on the sandbox (issue 8)', function () {
  this.timeout(180_000);
  let w: World;

  before(async () => {
    w = await startWorld();
    for (const ns of ['knobs', 'scaled']) {
      await w.stack.kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
      await w.stack.kube.create({ apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/ssh-auth', metadata: { name: 'vm-ssh', namespace: ns }, data: { 'ssh-privatekey': Buffer.from(w.sandbox.sshPrivateKey).toString('base64') } });
    }
  });
  after(async () => { await w?.stop(); });

  async function deploy(namespace: string, name: string, body: string): Promise<void> {
    const r = await w.api('PUT', `/v1/services/${namespace}/${name}`, { body, type: 'application/json' });
    assert.equal(r.status, 202, r.text);
    const op = await w.waitOperation(String(r.json.operationId), 90_000);
    assert.equal(op.state, 'Succeeded', JSON.stringify(op));
  }

  it('removing each optional connection setting, one at a time: plan shows it, the live objects lose it', async () => {
    await deploy('knobs', 'knobs', JSON.stringify(descriptor('knobs', FULL)));
    const optional = ['timeout', 'retries', 'fault', 'routes', 'loadBalancer', 'connectionPool', 'circuitBreaker'] as const;
    for (const field of optional) {
      const { [field]: _removed, ...rest } = FULL;
      const doc = descriptor('knobs', rest);
      const want = rendered(doc);
      const before = rendered(descriptor('knobs', FULL));
      const touched = [...want.keys()].filter((k) => JSON.stringify(want.get(k)) !== JSON.stringify(before.get(k)));
      assert.ok(touched.length > 0, `${field}: removing it changes the rendered objects`);
      const plan = await w.api('POST', '/v1/services/knobs/knobs/plan', { body: JSON.stringify(doc), type: 'application/json' });
      assert.equal(plan.status, 200, plan.text);
      const changes = plan.json.changes as { action: string; kind: string; name: string; diff?: { path: string; from?: unknown; to?: unknown }[] }[];
      for (const key of touched) {
        const c = changes.find((x) => `${x.kind}/${x.name}` === key);
        assert.equal(c?.action, 'update', `${field}: plan for ${key}: ${JSON.stringify(c)}`);
        assert.ok(c.diff!.some((d) => d.from !== undefined), `${field}: ${key} diff shows what goes: ${JSON.stringify(c.diff)}`);
      }
      await deploy('knobs', 'knobs', JSON.stringify(doc));
      for (const key of touched) {
        const [kind, name] = key.split('/') as [string, string];
        const live = await w.stack.kube.get({ apiVersion: 'networking.istio.io/v1', kind, namespace: 'knobs', name });
        assert.deepEqual(live?.spec, JSON.parse(JSON.stringify(want.get(key)!.spec)), `${field}: live ${key} is exactly what render makes now`);
      }
      // and back: everything set again
      await deploy('knobs', 'knobs', JSON.stringify(descriptor('knobs', FULL)));
    }
  });

  it('scales a VM 2 → 1 → 2: the removed instance stays gone (no WorkloadEntry back), then comes back fresh', async () => {
    const two = vmService('scaled', 'scaled').replace('flavourId: simple', 'flavourId: simple\n        instances: 2');
    const one = vmService('scaled', 'scaled');
    const entries = async (): Promise<string[]> => (await w.stack.kube.list('networking.istio.io/v1', 'WorkloadEntry', { namespace: 'scaled' })).items.map((o) => o.metadata.name).sort();
    const vnfs = async (): Promise<string[]> => (await w.stack.openstack!.tacker.listVnfInstances()).map((v) => String(v.vnfInstanceName)).filter((n) => n.startsWith('scaled.')).sort();
    const putYaml = async (body: string): Promise<void> => {
      const r = await w.api('PUT', '/v1/services/scaled/scaled', { body });
      assert.equal(r.status, 202, r.text);
      assert.equal((await w.waitOperation(String(r.json.operationId), 90_000)).state, 'Succeeded');
    };
    await putYaml(two);
    assert.deepEqual(await entries(), ['db-v1-0', 'db-v1-1']);
    await putYaml(one);
    assert.deepEqual(await entries(), ['db-v1-0']);
    assert.deepEqual(await vnfs(), ['scaled.scaled.db.v1.0']);
    const svc = (await w.api('GET', '/v1/services/scaled/scaled')).json as { status: { microservices: { name: string; instances?: { index: number }[] }[] } };
    assert.deepEqual(svc.status.microservices.find((m) => m.name === 'db')!.instances!.map((i) => i.index), [0]);
    // the drift repair of a resync reads the status: instance 1 must not come back
    await w.stack.orchestrator.controller.resync();
    await w.stack.orchestrator.controller.idle();
    assert.deepEqual(await entries(), ['db-v1-0']);
    await putYaml(two);
    assert.deepEqual(await entries(), ['db-v1-0', 'db-v1-1']);
    assert.deepEqual(await vnfs(), ['scaled.scaled.db.v1.0', 'scaled.scaled.db.v1.1']);
  });

  it('delete in a namespace mixmesh created finishes within 30 s, and takes the namespace', async () => {
    await deploy('made-here', 'knobs', JSON.stringify(descriptor('made-here', { from: 'frontend', to: 'backend', port: 'http' })));
    const ns = await w.stack.kube.get({ apiVersion: 'v1', kind: 'Namespace', name: 'made-here' });
    assert.equal(ns?.metadata.annotations?.['mixmesh.io/created-by'], 'knobs');
    const t0 = Date.now();
    assert.equal((await w.api('DELETE', '/v1/services/made-here/knobs')).status, 202);
    await until('the service is gone', async () => (await w.api('GET', '/v1/services/made-here/knobs')).status === 404, 30_000);
    assert.ok(Date.now() - t0 < 30_000);
    await until('the namespace is gone', async () => !(await w.stack.kube.get({ apiVersion: 'v1', kind: 'Namespace', name: 'made-here' })), 30_000);
  });

  it('a kind the orchestrator may not list keeps the namespace, says why, and the delete still finishes', async () => {
    await deploy('guarded', 'knobs', JSON.stringify(descriptor('guarded', { from: 'frontend', to: 'backend', port: 'http' })));
    w.sandbox.kube.setFaults({ neverReady: [], forbid: [{ verb: 'list', kind: 'StatefulSet', namespace: 'guarded' }] });
    try {
      assert.equal((await w.api('DELETE', '/v1/services/guarded/knobs')).status, 202);
      await until('the service is gone', async () => (await w.api('GET', '/v1/services/guarded/knobs')).status === 404, 30_000);
      assert.ok(await w.stack.kube.get({ apiVersion: 'v1', kind: 'Namespace', name: 'guarded' }), 'kept: it may hold StatefulSets');
      const { items } = await w.stack.kube.list('events.k8s.io/v1', 'Event', { namespace: 'guarded' });
      const kept = items.filter((e) => e.reason === 'NamespaceKept');
      assert.equal(kept.length, 1, JSON.stringify(items.map((e) => e.reason)));
      assert.match(String(kept[0]!.note), /StatefulSet .* forbidden/);
    } finally {
      w.sandbox.kube.setFaults({ neverReady: [] });
    }
  });

  it('a teardown that keeps failing backs off: fewer than 20 attempts in the window, one Event with a count', async () => {
    await deploy('stuck', 'knobs', JSON.stringify(descriptor('stuck', { from: 'frontend', to: 'backend', port: 'http' })));
    const key = 'stuck/knobs';
    const controller = w.stack.orchestrator.controller;
    w.sandbox.kube.setFaults({ neverReady: [], forbid: [{ verb: 'delete', kind: 'Deployment', namespace: 'stuck' }] });
    try {
      const first = controller.attempts.get(key) ?? 0;
      assert.equal((await w.api('DELETE', '/v1/services/stuck/knobs')).status, 202);
      // the window: ten seconds of a failing teardown (the defect made hundreds of attempts in it)
      await new Promise((r) => setTimeout(r, 10_000));
      const attempts = (controller.attempts.get(key) ?? 0) - first;
      assert.ok(attempts >= 2 && attempts < 20, `attempts in 10 s: ${attempts}`);
      const { items } = await w.stack.kube.list('events.k8s.io/v1', 'Event', { namespace: 'stuck', labelSelector: 'mixmesh.io/service=knobs' });
      const failed = items.filter((e) => e.reason === 'TeardownFailed');
      assert.equal(failed.length, 1, 'one Event');
      assert.ok(Number((failed[0]!.series as { count?: number } | undefined)?.count) >= 2, JSON.stringify(failed[0]!.series));
      const svc = (await w.api('GET', '/v1/services/stuck/knobs')).json as { status: { phase: string; conditions: { type: string; reason: string; message: string }[] } };
      assert.equal(svc.status.phase, 'Deleting');
      assert.match(svc.status.conditions.find((c) => c.type === 'Ready')!.message, /forbidden/);
    } finally {
      w.sandbox.kube.setFaults({ neverReady: [] });
    }
    // the next try (the backoff is at most a few seconds here) finishes the delete
    await until('the service is gone', async () => (await w.api('GET', '/v1/services/stuck/knobs')).status === 404, 60_000);
  });
});
