/**
 * The API over real HTTP, with the real descriptor validation and mesh-config generators, against
 * the in-memory Kubernetes and Tacker fakes (the controller is not running here).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { silentLogger } from '../../common/logger.js';
import { DEFAULT_MESH_VALUES } from '../../descriptor/index.js';
import { CallbackAuthority } from '../callbacks.js';
import { createGenerators } from '../generators.js';
import { createMetrics } from '../metrics.js';
import { OperationLog, ServiceManager } from '../services.js';
import { MemoryKube } from '../../test/helpers/memory-kube.js';
import { MemoryTacker } from '../../test/helpers/memory-tacker.js';
import { buildEvent } from '../events.js';
import { createApp } from './app.js';

const sha = (t: string): string => createHash('sha256').update(t).digest('hex');
const TOKENS = { admin: 'admin-token-0123456789', deployer: 'deployer-token-0123456789', viewer: 'viewer-token-0123456789' };
const MINIMAL = readFileSync(new URL('../../examples/minimal/descriptor.yaml', import.meta.url), 'utf8');
const CAFE = readFileSync(new URL('../../examples/iot-cafe/descriptor.yaml', import.meta.url), 'utf8');

interface World {
  kube: MemoryKube;
  tacker: MemoryTacker;
  callbacks: CallbackAuthority;
  url: string;
  server: Server;
  req(method: string, path: string, options?: { token?: string | null; body?: string; type?: string; headers?: Record<string, string> }): Promise<{ status: number; body: Record<string, unknown>; text: string; headers: Headers }>;
}

async function start(options: { tacker?: boolean; limit?: number; callbackMode?: 'basic' | 'oauth2' } = {}): Promise<World> {
  const kube = new MemoryKube();
  const tacker = new MemoryTacker();
  tacker.packages.push({ vnfdId: '6a4b5a1e-0000-4000-8000-000000000001', onboardingState: 'ONBOARDED', operationalState: 'ENABLED' });
  const callbacks = new CallbackAuthority(options.callbackMode ?? 'basic');
  callbacks.setCredentials({ user: 'tacker', password: 'callback-password-1' });
  const services = new ServiceManager({ kube, generators: createGenerators(DEFAULT_MESH_VALUES), tacker: options.tacker === false ? undefined : tacker, operations: new OperationLog() });
  const app = createApp({
    tokens: Object.entries(TOKENS).map(([role, t]) => ({ name: role, role: role as 'admin', sha256: sha(t) })),
    bodyLimitBytes: options.limit ?? 4 * 1024 * 1024,
    services, callbacks, metrics: createMetrics(), log: silentLogger, ready: async () => true,
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    kube, tacker, callbacks, url, server,
    async req(method, path, o = {}) {
      const headers: Record<string, string> = { ...(o.headers ?? {}) };
      const token = o.token === undefined ? TOKENS.admin : o.token;
      if (token) headers.authorization = `Bearer ${token}`;
      if (o.body !== undefined) headers['content-type'] = o.type ?? 'application/yaml';
      const res = await fetch(url + path, { method, headers, ...(o.body !== undefined ? { body: o.body } : {}) });
      const text = await res.text();
      let body: Record<string, unknown> = {};
      try { body = JSON.parse(text) as Record<string, unknown>; } catch { /* not JSON */ }
      return { status: res.status, body, text, headers: res.headers };
    },
  };
}

describe('orchestrator API', () => {
  let w: World;
  beforeEach(async () => { w = await start(); });
  afterEach(() => { w.server.close(); });

  describe('auth and roles', () => {
    it('401 without a token or with an unknown one, problem+json with a code', async () => {
      for (const token of [null, 'nope-nope-nope']) {
        const r = await w.req('GET', '/v1/services', { token });
        assert.equal(r.status, 401);
        assert.equal(r.body.code, 'UNAUTHORIZED');
        assert.match(r.headers.get('content-type')!, /application\/problem\+json/);
      }
    });
    it('viewer may read and plan but not write (403); deployer may write', async () => {
      assert.equal((await w.req('GET', '/v1/services', { token: TOKENS.viewer })).status, 200);
      assert.equal((await w.req('POST', '/v1/plan', { token: TOKENS.viewer, body: MINIMAL })).status, 200);
      const denied = await w.req('PUT', '/v1/services/default/hello', { token: TOKENS.viewer, body: MINIMAL });
      assert.equal(denied.status, 403);
      assert.equal(denied.body.code, 'FORBIDDEN');
      assert.equal((await w.req('DELETE', '/v1/services/default/hello', { token: TOKENS.viewer })).status, 403);
      assert.equal(w.kube.writes.length, 0);
      assert.equal((await w.req('PUT', '/v1/services/default/hello', { token: TOKENS.deployer, body: MINIMAL })).status, 202);
    });
    it('health, metrics and openapi need no token', async () => {
      assert.equal((await w.req('GET', '/healthz', { token: null })).status, 200);
      assert.equal((await w.req('GET', '/readyz', { token: null })).status, 200);
      const m = await w.req('GET', '/metrics', { token: null });
      assert.match(m.text, /mixmesh_deploy_duration_seconds/);
      assert.match(m.text, /mixmesh_tacker_request_duration_seconds/);
      const o = await w.req('GET', '/openapi.json', { token: null });
      assert.ok((o.body.paths as Record<string, unknown>)['/v1/services/{namespace}/{name}/connections']);
    });
  });

  describe('bodies and errors', () => {
    it('415 for a body that is neither YAML nor JSON; JSON works too', async () => {
      const r = await w.req('POST', '/v1/services', { body: MINIMAL, type: 'text/plain' });
      assert.equal(r.status, 415);
      assert.equal(r.body.code, 'UNSUPPORTED_MEDIA_TYPE');
      const json = JSON.stringify({ apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService', metadata: { name: 'j' }, spec: { microservices: [{ name: 'a', runtime: 'container', ports: [{ name: 'http', port: 80 }], container: { image: 'x' } }] } });
      assert.equal((await w.req('POST', '/v1/services', { body: json, type: 'application/json' })).status, 202);
    });
    it('413 over the body limit, and nothing changes', async () => {
      const small = await start({ limit: 256 });
      try {
        const r = await small.req('PUT', '/v1/services/default/hello', { body: MINIMAL + '#'.repeat(300) });
        assert.equal(r.status, 413);
        assert.equal(r.body.code, 'PAYLOAD_TOO_LARGE');
        assert.equal(small.kube.writes.length, 0);
      } finally { small.server.close(); }
    });
    it('400 with every problem under errors[] for an invalid descriptor; nothing changes', async () => {
      const bad = MINIMAL.replace('port: 9090', 'port: 99999').replace('runtime: container\n      ports: [{name: http, port: 8080}]', 'runtime: containers\n      ports: [{name: http, port: 8080}]');
      const r = await w.req('POST', '/v1/services', { body: bad });
      assert.equal(r.status, 400);
      assert.equal(r.body.code, 'DESCRIPTOR_INVALID');
      const pointers = (r.body.errors as { pointer: string }[]).map((e) => e.pointer);
      assert.ok(pointers.some((p) => p.startsWith('/spec/microservices/1/ports/0/port')), pointers.join());
      assert.ok(pointers.some((p) => p.startsWith('/spec/microservices/0/runtime')), pointers.join());
      assert.equal(w.kube.writes.length, 0);
    });
    it('400 DESCRIPTOR_UNREADABLE for text that does not parse', async () => {
      const r = await w.req('POST', '/v1/services', { body: 'a: 1\na: 2\n' });
      assert.equal(r.status, 400);
      assert.equal(r.body.code, 'DESCRIPTOR_UNREADABLE');
    });
    it('400 at /metadata/name when the body names another service than the path', async () => {
      const r = await w.req('PUT', '/v1/services/default/other', { body: MINIMAL });
      assert.equal(r.status, 400);
      assert.deepEqual((r.body.errors as { pointer: string }[]).map((e) => e.pointer), ['/metadata/name']);
      const ns = await w.req('PUT', '/v1/services/prod/hello', { body: MINIMAL.replace('name: hello', 'name: hello\n  namespace: dev') });
      assert.deepEqual((ns.body.errors as { pointer: string }[]).map((e) => e.pointer), ['/metadata/namespace']);
    });
    it('a missing namespace is taken from the path', async () => {
      const r = await w.req('PUT', '/v1/services/shop/hello', { body: MINIMAL });
      assert.equal(r.status, 202);
      assert.equal(r.body.namespace, 'shop');
      const ns = await w.kube.get({ apiVersion: 'v1', kind: 'Namespace', name: 'shop' });
      assert.equal(ns?.metadata.annotations?.['mixmesh.io/created-by'], 'hello');
      assert.equal(ns?.metadata.labels?.['istio-injection'], 'enabled');
    });
    it('5xx bodies say little', async () => {
      w.kube.failKinds.add('MeshService');
      const r = await w.req('PUT', '/v1/services/default/hello', { body: MINIMAL });
      assert.equal(r.status, 502);
      assert.equal(r.body.detail, 'internal error; see the server log');
      assert.doesNotMatch(r.text, /injected failure/);
    });
    it('404 problem for unknown routes and services', async () => {
      assert.equal((await w.req('GET', '/v1/nothing')).body.code, 'NOT_FOUND');
      assert.equal((await w.req('GET', '/v1/services/default/ghost')).status, 404);
      assert.equal((await w.req('PUT', '/v1/services/default/ghost/connections', { body: 'connections: []' })).status, 404);
    });
  });

  describe('services', () => {
    it('POST creates (202 with operationId), a second POST is 409 ALREADY_EXISTS', async () => {
      const r = await w.req('POST', '/v1/services', { body: MINIMAL });
      assert.equal(r.status, 202);
      assert.equal(r.body.name, 'hello');
      assert.equal(r.body.namespace, 'default');
      assert.equal(r.body.generation, 1);
      assert.match(String(r.body.operationId), /^[0-9a-f-]{36}-1$/);
      const stored = await w.kube.get({ apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService', namespace: 'default', name: 'hello' });
      assert.deepEqual(stored?.metadata.finalizers, ['mixmesh.io/teardown']);
      assert.equal(stored?.metadata.labels?.['app.kubernetes.io/managed-by'], 'mixmesh');
      const again = await w.req('POST', '/v1/services', { body: MINIMAL });
      assert.equal(again.status, 409);
      assert.equal(again.body.code, 'ALREADY_EXISTS');
      const op = await w.req('GET', `/v1/operations/${String(r.body.operationId)}`);
      assert.equal(op.body.state, 'Queued');
    });
    it('409 NAME_CONFLICT when a generated name is taken by another owner; nothing changes', async () => {
      await w.kube.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'backend', namespace: 'default' }, spec: {} });
      const before = w.kube.writes.length;
      const r = await w.req('PUT', '/v1/services/default/hello', { body: MINIMAL });
      assert.equal(r.status, 409);
      assert.equal(r.body.code, 'NAME_CONFLICT');
      assert.match(String(r.body.detail), /Service default\/backend/);
      assert.equal(w.kube.writes.length, before);
    });
    it('PUT of an unchanged descriptor writes nothing and answers the same generation', async () => {
      const first = await w.req('PUT', '/v1/services/default/hello', { body: MINIMAL });
      const writes = w.kube.writes.length;
      const second = await w.req('PUT', '/v1/services/default/hello', { body: MINIMAL });
      assert.equal(second.status, 202);
      assert.equal(second.body.generation, first.body.generation);
      assert.equal(w.kube.writes.length, writes);
      const changed = await w.req('PUT', '/v1/services/default/hello', { body: MINIMAL.replace('backend:1.0.0', 'backend:1.0.1') });
      assert.equal(changed.body.generation, 2);
    });
    it('PUT …/connections replaces only spec.connections, validated against the stored microservices', async () => {
      await w.req('PUT', '/v1/services/default/hello', { body: MINIMAL });
      const bad = await w.req('PUT', '/v1/services/default/hello/connections', { body: JSON.stringify({ connections: [{ from: 'frontend', to: 'nobody' }] }), type: 'application/json' });
      assert.equal(bad.status, 400);
      assert.ok((bad.body.errors as { pointer: string }[]).some((e) => e.pointer === '/spec/connections/0/to'));
      const ok = await w.req('PUT', '/v1/services/default/hello/connections', { body: 'connections:\n  - {from: frontend, to: backend, timeout: 2s}\n' });
      assert.equal(ok.status, 202);
      assert.equal(ok.body.generation, 2);
      const got = await w.req('GET', '/v1/services/default/hello');
      const spec = got.body.spec as { connections: unknown[]; microservices: unknown[] };
      assert.deepEqual(spec.connections, [{ from: 'frontend', to: 'backend', timeout: '2s' }]);
      assert.equal(spec.microservices.length, 2);
    });
    it('plan lists creates, then unchanged, and writes nothing', async () => {
      const plan = await w.req('POST', '/v1/services/default/hello/plan', { body: MINIMAL });
      assert.equal(plan.status, 200);
      const changes = plan.body.changes as { action: string; kind: string; name: string }[];
      assert.ok(changes.length > 5);
      assert.deepEqual(changes.filter((c) => c.action !== 'create'), []);
      assert.ok(changes.some((c) => c.kind === 'Deployment' && c.name === 'backend-v1'));
      assert.equal(w.kube.writes.length, 0);
      // now make them live and plan a change
      for (const o of createGenerators(DEFAULT_MESH_VALUES).render((createGenerators(DEFAULT_MESH_VALUES).validate(w.kube && (await import('yaml')).parse(MINIMAL)) as { ok: true; value: never }).value)) await w.kube.apply(o);
      const writesBefore = w.kube.writes.length;
      const again = await w.req('POST', '/v1/plan', { body: MINIMAL.replace('backend:1.0.0', 'backend:2.0.0') });
      const c2 = again.body.changes as { action: string; kind: string; name: string; diff?: { path: string }[] }[];
      const dep = c2.find((c) => c.kind === 'Deployment' && c.name === 'backend-v1')!;
      assert.equal(dep.action, 'update');
      assert.ok(dep.diff!.some((d) => d.path.includes('/image')));
      assert.deepEqual(c2.filter((c) => (c.kind !== 'Deployment' || c.name !== 'backend-v1') && c.action !== 'unchanged'), []);
      // without backend: its objects show up as deletes
      const smaller = MINIMAL.replace(/ {4}- name: backend\n(.*\n){3}/, '').replace(/ {2}connections:\n.*\n/, '');
      const third = await w.req('POST', '/v1/plan', { body: smaller });
      assert.equal(third.status, 200, third.text);
      const deletes = (third.body.changes as { action: string; kind: string; name: string }[]).filter((c) => c.action === 'delete').map((c) => `${c.kind}/${c.name}`).sort();
      assert.ok(deletes.includes('Deployment/backend-v1') && deletes.includes('Service/backend'), deletes.join());
      assert.equal(w.kube.writes.length, writesBefore, 'plans write nothing');
    });
    it('plan shows the Tacker requests and VMs', async () => {
      await w.kube.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'vm-ssh', namespace: 'cafe' }, data: { 'ssh-privatekey': 'eA==' } });
      const plan = await w.req('POST', '/v1/plan', { body: CAFE });
      assert.equal(plan.status, 200);
      assert.deepEqual((plan.body.vms as { vnfInstanceName: string }[]).map((v) => v.vnfInstanceName), ['cafe.iot-cafe.inventory-db.v1.0', 'cafe.iot-cafe.order-api.v1.0']);
      assert.equal((plan.body.tacker as { action: string }[])[0]!.action, 'create');
    });
    it('422 pre-flight: missing credentials Secret, unknown VNF package; OPENSTACK_NOT_CONFIGURED without OpenStack', async () => {
      const r = await w.req('PUT', '/v1/services/cafe/iot-cafe', { body: CAFE.replace(/6a4b5a1e-0000-4000-8000-000000000001\n(\s+flavourId: simple\n\s+ssh: \{user: root, credentialsSecret: vm-ssh, hostKey: console\}\n\n\s+# ... and v2)/, '6a4b5a1e-0000-4000-8000-00000000ffff\n$1') });
      assert.equal(r.status, 422);
      assert.equal(r.body.code, 'PREFLIGHT_FAILED');
      const pointers = (r.body.errors as { pointer: string }[]).map((e) => e.pointer);
      assert.ok(pointers.includes('/spec/microservices/1/vm/vnfdId'), pointers.join());
      assert.ok(pointers.includes('/spec/microservices/1/vm/ssh/credentialsSecret'), pointers.join());
      assert.equal(w.kube.writes.length, 0);
      const bare = await start({ tacker: false });
      try {
        const n = await bare.req('PUT', '/v1/services/cafe/iot-cafe', { body: CAFE });
        assert.equal(n.status, 422);
        assert.equal(n.body.code, 'OPENSTACK_NOT_CONFIGURED');
      } finally { bare.server.close(); }
    });
    it('GET lists and shows descriptor + status; DELETE marks it for teardown (202)', async () => {
      await w.req('PUT', '/v1/services/default/hello', { body: MINIMAL });
      await w.req('PUT', '/v1/services/other/hello', { body: MINIMAL });
      assert.equal(((await w.req('GET', '/v1/services')).body.items as unknown[]).length, 2);
      assert.equal(((await w.req('GET', '/v1/services?namespace=other')).body.items as unknown[]).length, 1);
      const one = await w.req('GET', '/v1/services/default/hello');
      assert.deepEqual(one.body.status, { phase: 'Pending' });
      assert.equal((one.body.metadata as { labels?: unknown }).labels, undefined, 'management labels are not the user\'s');
      const d = await w.req('DELETE', '/v1/services/default/hello', { token: TOKENS.deployer });
      assert.equal(d.status, 202);
      const held = await w.kube.get({ apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService', namespace: 'default', name: 'hello' });
      assert.ok(held?.metadata.deletionTimestamp, 'the finalizer holds it for the controller');
    });
    it('events: ordered list, and an SSE stream honouring Last-Event-ID', async () => {
      const created = await w.req('PUT', '/v1/services/default/hello', { body: MINIMAL });
      assert.equal(created.status, 202);
      const svc = { namespace: 'default', name: 'hello' };
      const e1 = await w.kube.create(buildEvent(svc, 'Normal', 'Deploying', 'Deploy', 'first'));
      await w.kube.create(buildEvent(svc, 'Normal', 'Applied', 'Deploy', 'second'));
      const list = await w.req('GET', '/v1/services/default/hello/events', { token: TOKENS.viewer });
      assert.deepEqual((list.body.items as { note: string }[]).map((e) => e.note), ['first', 'second']);

      const ac = new AbortController();
      const res = await fetch(`${w.url}/v1/services/default/hello/events?watch=true`, { headers: { authorization: `Bearer ${TOKENS.viewer}`, 'last-event-id': e1.metadata.name }, signal: ac.signal });
      assert.match(res.headers.get('content-type')!, /text\/event-stream/);
      const reader = res.body!.getReader();
      let text = '';
      const readUntil = async (needle: string): Promise<void> => {
        while (!text.includes(needle)) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`stream ended before ${needle}`);
          text += Buffer.from(value).toString('utf8');
        }
      };
      await readUntil('second');
      assert.doesNotMatch(text, /first/);
      await w.kube.create(buildEvent(svc, 'Warning', 'Failed', 'Deploy', 'third'));
      await readUntil('third');
      assert.match(text, /id: hello\.[0-9a-f]+\nevent: Failed\ndata: \{/);
      ac.abort();
    });
  });

  describe('Tacker callbacks', () => {
    const basic = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
    it('Basic: the registered credentials get 204, anything else 401', async () => {
      assert.equal((await w.req('GET', '/v1/tacker/notifications', { token: null, headers: { authorization: basic('tacker', 'callback-password-1') } })).status, 204);
      assert.equal((await w.req('GET', '/v1/tacker/notifications', { token: null, headers: { authorization: basic('tacker', 'wrong') } })).status, 401);
      assert.equal((await w.req('GET', '/v1/tacker/notifications', { token: null })).status, 401);
      assert.equal((await w.req('POST', '/v1/tacker/notifications', { token: TOKENS.admin, body: '{}', type: 'application/json' })).status, 401);
      const hints: unknown[] = [];
      w.callbacks.hints.on('hint', (h) => hints.push(h));
      const n = await w.req('POST', '/v1/tacker/notifications', { token: null, headers: { authorization: basic('tacker', 'callback-password-1') }, type: 'application/json', body: JSON.stringify({ notificationType: 'VnfLcmOperationOccurrenceNotification', vnfLcmOpOccId: 'op-1', vnfInstanceId: 'i-1', operationState: 'COMPLETED' }) });
      assert.equal(n.status, 204);
      assert.deepEqual(hints, [{ vnfLcmOpOccId: 'op-1', vnfInstanceId: 'i-1', operationState: 'COMPLETED' }]);
    });
    it('OAuth2: client credentials → a token good only for notifications; a bad client → invalid_client', async () => {
      const o = await start({ callbackMode: 'oauth2' });
      try {
        const bad = await o.req('POST', '/v1/tacker/oauth2/token', { token: null, body: 'grant_type=client_credentials', type: 'application/x-www-form-urlencoded', headers: { authorization: basic('tacker', 'nope') } });
        assert.equal(bad.status, 401);
        assert.deepEqual(bad.body, { error: 'invalid_client' });
        const good = await o.req('POST', '/v1/tacker/oauth2/token', { token: null, body: 'grant_type=client_credentials', type: 'application/x-www-form-urlencoded', headers: { authorization: basic('tacker', 'callback-password-1') } });
        assert.equal(good.status, 200);
        assert.equal(good.body.token_type, 'Bearer');
        assert.equal(good.body.expires_in, 3600);
        const token = String(good.body.access_token);
        assert.equal((await o.req('GET', '/v1/tacker/notifications', { token })).status, 204);
        assert.equal((await o.req('GET', '/v1/services', { token })).status, 401, 'not an API token');
        assert.equal((await o.req('GET', '/v1/tacker/notifications', { token: null, headers: { authorization: basic('tacker', 'callback-password-1') } })).status, 401, 'oauth2 mode takes no Basic');
      } finally { o.server.close(); }
    });
  });
});
