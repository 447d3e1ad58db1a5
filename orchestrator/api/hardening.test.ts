/**
 * Issue 8's API defects, each reproduced over real HTTP (real descriptor reader and generators,
 * in-memory Kubernetes and Tacker): nested bodies refused while reading, invalid UTF-8 refused as
 * `mixmesh validate` refuses it, path segments that are not Kubernetes names, 405 with Allow, the
 * token route's own 413.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseAndValidate } from '../../descriptor/index.js';
import { silentLogger } from '../../common/logger.js';
import { DEFAULT_MESH_VALUES } from '../../descriptor/index.js';
import { CallbackAuthority } from '../callbacks.js';
import type { ApiToken } from '../config.js';
import { createGenerators } from '../generators.js';
import { createMetrics } from '../metrics.js';
import { OperationLog, ServiceManager } from '../services.js';
import { MemoryKube } from '../../test/helpers/memory-kube.js';
import { MemoryTacker } from '../../test/helpers/memory-tacker.js';
import { createApp } from './app.js';

const sha = (t: string): string => createHash('sha256').update(t).digest('hex');
const ADMIN = 'admin-token-0123456789';
const MINIMAL = readFileSync(new URL('../../examples/minimal/descriptor.yaml', import.meta.url), 'utf8');

export interface TestApi {
  kube: MemoryKube;
  url: string;
  server: Server;
  call(method: string, path: string, o?: { token?: string | null; body?: string | Uint8Array; type?: string; headers?: Record<string, string> }): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }>;
  close(): void;
}

export async function startApi(tokens: (ApiToken & { token: string })[] = [{ name: 'admin', role: 'admin', sha256: sha(ADMIN), token: ADMIN }], kube = new MemoryKube()): Promise<TestApi> {
  const tacker = new MemoryTacker();
  tacker.packages.push({ vnfdId: '6a4b5a1e-0000-4000-8000-000000000001', onboardingState: 'ONBOARDED', operationalState: 'ENABLED' });
  const callbacks = new CallbackAuthority('oauth2');
  callbacks.setCredentials({ user: 'tacker', password: 'callback-password-1' });
  const services = new ServiceManager({ kube, generators: createGenerators(DEFAULT_MESH_VALUES), tacker, operations: new OperationLog() });
  const app = createApp({ tokens: tokens.map(({ token: _t, ...t }) => t), bodyLimitBytes: 4 * 1024 * 1024, services, callbacks, metrics: createMetrics(), log: silentLogger, ready: async () => true });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    kube, url, server,
    async call(method, path, o = {}) {
      const headers: Record<string, string> = { ...(o.headers ?? {}) };
      const token = o.token === undefined ? tokens[0]!.token : o.token;
      if (token) headers.authorization = `Bearer ${token}`;
      if (o.body !== undefined) headers['content-type'] ??= o.type ?? 'application/yaml';
      // node:http, not fetch: the WHATWG URL parser would turn `%2e%2e` into `..` and remove it
      const res = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = request(url + '/', { method, path, headers }, resolve);
        req.on('error', reject);
        req.end(o.body === undefined ? undefined : Buffer.from(o.body));
      });
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      const text = Buffer.concat(chunks).toString('utf8');
      let body: Record<string, unknown> = {};
      try { body = JSON.parse(text) as Record<string, unknown>; } catch { /* not JSON */ }
      const h = new Headers();
      for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h.set(k, v);
      return { status: res.statusCode ?? 0, body, headers: h };
    },
    close: () => { server.close(); },
  };
}

describe('orchestrator API: hostile requests (issue 8)', () => {
  let api: TestApi;
  beforeEach(async () => { api = await startApi(); });
  afterEach(() => api.close());

  describe('nested and huge bodies are refused while reading', () => {
    const FOUR_MB = 4 * 1024 * 1024 - 16;
    const bodies: [string, string, string][] = [
      ['JSON arrays', '['.repeat(FOUR_MB), 'application/json'],
      ['JSON objects', '{"a":'.repeat(FOUR_MB / 5), 'application/json'],
      ['YAML block sequences', '- '.repeat(FOUR_MB / 2), 'application/yaml'],
      ['YAML flow items', `a: [${'1,'.repeat(FOUR_MB / 2 - 8)}1]`, 'application/yaml'],
    ];
    for (const [name, body, type] of bodies) {
      it(`a 4 MB body of nested or countless ${name}: 400 DESCRIPTOR_UNREADABLE on /v1/plan and /v1/services, nothing written`, async () => {
        for (const [method, path] of [['POST', '/v1/plan'], ['POST', '/v1/services'], ['PUT', '/v1/services/default/hello']] as const) {
          const r = await api.call(method, path, { body, type });
          assert.equal(r.status, 400, `${method} ${path}`);
          assert.equal(r.body.code, 'DESCRIPTOR_UNREADABLE');
          assert.match(String(r.body.detail), /nested deeper than 64 levels|more than 500000 nodes/);
        }
        const c = await api.call('PUT', '/v1/services/default/hello/connections', { body, type });
        assert.equal(c.status, 400);
        assert.equal(c.body.code, 'BAD_REQUEST');
        assert.equal(api.kube.writes.length, 0);
      });
    }
  });

  describe('invalid UTF-8: one reader, one rule', () => {
    it('the API refuses the bytes `mixmesh validate` refuses, with the same message, and writes nothing', async () => {
      const bytes = Buffer.from(MINIMAL.replace('ghcr.io/example/frontend:1.0.0', 'nginx:1XX'), 'utf8');
      const at = bytes.indexOf('XX');
      bytes[at] = 0xff;
      bytes[at + 1] = 0xfe;
      const cli = parseAndValidate(bytes, 'descriptor.yaml', {});
      assert.equal(cli.ok, false);
      const cliMessage = cli.ok ? '' : cli.problems[0]!.message;
      for (const [method, path] of [['POST', '/v1/services'], ['PUT', '/v1/services/default/hello'], ['POST', '/v1/plan'], ['POST', '/v1/services/default/hello/plan']] as const) {
        const r = await api.call(method, path, { body: bytes });
        assert.equal(r.status, 400, `${method} ${path}`);
        assert.equal(r.body.code, 'DESCRIPTOR_UNREADABLE');
        assert.deepEqual(r.body.errors, [{ pointer: '', message: cliMessage }]);
      }
      assert.equal(api.kube.writes.length, 0);
      assert.equal((await api.call('GET', '/v1/services')).body.items instanceof Array, true);
      assert.deepEqual((await api.call('GET', '/v1/services')).body.items, []);
      const conn = await api.call('PUT', '/v1/services/default/hello/connections', { body: Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]), type: 'application/json' });
      assert.equal(conn.status, 400);
      assert.equal(conn.body.code, 'BAD_REQUEST');
    });
  });

  describe('path segments are Kubernetes names before they reach a URL', () => {
    it('`..`, slashes, upper case and over-long names are 400 BAD_REQUEST on every service route, never 500 or 200', async () => {
      const bad = ['%2e%2e', '..', '.', 'a%2Fb', 'A', 'a_b', '-a', 'a'.repeat(64), '%00', 'a%20b'];
      for (const seg of bad) {
        for (const path of [`/v1/services/${seg}/${seg}`, `/v1/services/default/${seg}`, `/v1/services/${seg}/hello`]) {
          for (const suffix of ['', '/mesh-config', '/events']) {
            const r = await api.call('GET', path + suffix);
            assert.equal(r.status, 400, `${path}${suffix}: ${r.status}`);
            assert.equal(r.body.code, 'BAD_REQUEST');
          }
          assert.equal((await api.call('DELETE', path)).status, 400);
          assert.equal((await api.call('PUT', path, { body: MINIMAL })).status, 400);
        }
      }
      assert.equal((await api.call('GET', '/v1/services?namespace=%2e%2e')).status, 400);
      assert.equal((await api.call('GET', '/v1/operations/..')).status, 400);
      assert.equal(api.kube.writes.length, 0);
    });
  });

  describe('two services declaring one microservice, sent at the same moment', () => {
    it('exactly one gets 202 and the other 409 NAME_CONFLICT, every time', async () => {
      for (let round = 0; round < 5; round++) {
        const ns = `race${round}`;
        const bodies = ['one', 'two', 'three'].map((n) => MINIMAL.replace('name: hello', `name: ${n}\n  namespace: ${ns}`));
        const answers = await Promise.all(bodies.map((body) => api.call('POST', '/v1/services', { body })));
        assert.deepEqual(answers.map((a) => a.status).sort(), [202, 409, 409], `round ${round}`);
        for (const a of answers.filter((x) => x.status === 409)) assert.equal(a.body.code, 'NAME_CONFLICT');
        const stored = (await api.kube.list('mixmesh.io/v1alpha1', 'MeshService', { namespace: ns })).map((r) => r.metadata.name);
        assert.equal(stored.length, 1);
      }
    });
  });

  describe('safety by design: system namespaces, foreign ServiceAccounts, namespace-scoped tokens', () => {
    const DEPLOYER = 'deployer-token-0123456789';
    const TEAM_A = 'team-a-token-0123456789';
    let scoped: TestApi;
    beforeEach(async () => {
      scoped = await startApi([
        { name: 'admin', role: 'admin', sha256: sha(ADMIN), token: ADMIN },
        { name: 'deployer', role: 'deployer', sha256: sha(DEPLOYER), token: DEPLOYER },
        { name: 'team-a', role: 'deployer', sha256: sha(TEAM_A), token: TEAM_A, namespaces: ['team-a'] },
      ]);
    });
    afterEach(() => scoped.close());
    const inNs = (ns: string, extra = ''): string => MINIMAL.replace('name: hello', `name: hello\n  namespace: ${ns}`).replace('    - name: frontend\n', `    - name: frontend\n${extra}`);

    it('a deployer may not place workloads in istio-system or kube-system (403 NAMESPACE_PROTECTED, nothing written); an admin may', async () => {
      for (const ns of ['istio-system', 'kube-system', 'mixmesh-system']) {
        const r = await scoped.call('PUT', `/v1/services/${ns}/hello`, { token: DEPLOYER, body: inNs(ns) });
        assert.equal(r.status, 403, ns);
        assert.equal(r.body.code, 'NAMESPACE_PROTECTED');
      }
      assert.equal(scoped.kube.writes.length, 0);
      assert.equal((await scoped.call('PUT', '/v1/services/istio-system/hello', { token: ADMIN, body: inNs('istio-system') })).status, 202);
    });

    it("a deployer may not run a workload as the ingress gateway's (or any foreign) ServiceAccount; an admin or the SA's allowed-services annotation may", async () => {
      await scoped.kube.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'istio-ingressgateway-service-account', namespace: 'shop' } });
      const writes = scoped.kube.writes.length;
      const body = inNs('shop', '      serviceAccount: istio-ingressgateway-service-account\n');
      const r = await scoped.call('PUT', '/v1/services/shop/hello', { token: DEPLOYER, body });
      assert.equal(r.status, 403);
      assert.equal(r.body.code, 'SERVICE_ACCOUNT_FOREIGN');
      assert.deepEqual((r.body.errors as { pointer: string }[]).map((e) => e.pointer), ['/spec/microservices/0/serviceAccount']);
      assert.equal(scoped.kube.writes.length, writes, 'nothing written');
      // the SA's owner allows this service by name
      const sa = (await scoped.kube.get({ apiVersion: 'v1', kind: 'ServiceAccount', namespace: 'shop', name: 'istio-ingressgateway-service-account' }))!;
      await scoped.kube.replace({ ...sa, metadata: { ...sa.metadata, annotations: { 'mixmesh.io/allowed-services': 'other, hello' } } });
      assert.equal((await scoped.call('PUT', '/v1/services/shop/hello', { token: DEPLOYER, body })).status, 202);
      await scoped.kube.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'backend', namespace: 'admin-ns' } });
      assert.equal((await scoped.call('PUT', '/v1/services/admin-ns/hello', { token: ADMIN, body: inNs('admin-ns') })).status, 202);
    });

    it('a token limited to namespaces sees and changes only those (403 elsewhere, filtered lists, hidden operations)', async () => {
      const b = await scoped.call('PUT', '/v1/services/team-b/hello', { token: ADMIN, body: inNs('team-b') });
      assert.equal(b.status, 202);
      assert.equal((await scoped.call('PUT', '/v1/services/team-a/hello', { token: TEAM_A, body: inNs('team-a') })).status, 202);
      for (const [method, path, body] of [['PUT', '/v1/services/team-b/hello', inNs('team-b')], ['GET', '/v1/services/team-b/hello'], ['DELETE', '/v1/services/team-b/hello'], ['GET', '/v1/services/team-b/hello/events'], ['GET', '/v1/services/team-b/hello/mesh-config'], ['POST', '/v1/plan', inNs('team-b')], ['POST', '/v1/services', inNs('team-b')], ['GET', '/v1/services?namespace=team-b']] as const) {
        const r = await scoped.call(method, path, { token: TEAM_A, ...(body ? { body } : {}) });
        assert.equal(r.status, 403, `${method} ${path}`);
        assert.equal(r.body.code, 'FORBIDDEN');
      }
      const list = await scoped.call('GET', '/v1/services', { token: TEAM_A });
      assert.deepEqual((list.body.items as { metadata: { namespace: string } }[]).map((i) => i.metadata.namespace), ['team-a']);
      assert.equal((await scoped.call('GET', `/v1/operations/${String(b.body.operationId)}`, { token: TEAM_A })).status, 404);
      assert.equal((await scoped.call('GET', `/v1/operations/${String(b.body.operationId)}`, { token: ADMIN })).status, 200);
      assert.equal((await scoped.call('GET', '/v1/services/team-b/hello', { token: ADMIN })).status, 200);
    });
  });

  describe('methods and limits', () => {
    it('PATCH (or POST) on a service path is 405 with Allow, not 404; an unknown path stays 404', async () => {
      const r = await api.call('PATCH', '/v1/services/default/hello', { body: '{}', type: 'application/json' });
      assert.equal(r.status, 405);
      assert.equal(r.body.code, 'METHOD_NOT_ALLOWED');
      assert.equal(r.headers.get('allow'), 'DELETE, GET, HEAD, PUT');
      const c = await api.call('POST', '/v1/services/default/hello/connections', { body: '{}', type: 'application/json' });
      assert.equal(c.status, 405);
      assert.equal(c.headers.get('allow'), 'PUT');
      const list = await api.call('DELETE', '/v1/services');
      assert.equal(list.headers.get('allow'), 'GET, HEAD, POST');
      assert.equal((await api.call('GET', '/v1/nothing-here')).status, 404);
    });
    it("the OAuth2 token route's 413 names its own 16 kB limit", async () => {
      const r = await api.call('POST', '/v1/tacker/oauth2/token', { token: null, body: `grant_type=client_credentials&x=${'a'.repeat(20_000)}`, type: 'application/x-www-form-urlencoded' });
      assert.equal(r.status, 413);
      assert.equal(r.body.code, 'PAYLOAD_TOO_LARGE');
      assert.match(String(r.body.detail), /limit of 16384 bytes/);
      assert.doesNotMatch(String(r.body.detail), /4194304/);
    });
  });
});
