/**
 * The read-only routes the web console uses (console/README.md): who the token is, and the live
 * objects of a service with their YAML; both under the API's bearer auth.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { silentLogger } from '../../common/logger.js';
import { LoginCodes } from '../../console/index.js';
import { DEFAULT_MESH_VALUES } from '../../descriptor/index.js';
import { CallbackAuthority } from '../callbacks.js';
import { createGenerators } from '../generators.js';
import { createMetrics } from '../metrics.js';
import { OperationLog, ServiceManager } from '../services.js';
import { MemoryKube } from '../../test/helpers/memory-kube.js';
import { createApp } from './app.js';

const sha = (t: string): string => createHash('sha256').update(t).digest('hex');
const MINIMAL = readFileSync(new URL('../../examples/minimal/descriptor.yaml', import.meta.url), 'utf8');

describe('api: the console routes', () => {
  let server: Server;
  let url: string;
  let kube: MemoryKube;
  const codes = new LoginCodes();
  const call = async (path: string, token: string | null, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(url + path, { ...init, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers as Record<string, string> | undefined) } });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };
  before(async () => {
    kube = new MemoryKube();
    const services = new ServiceManager({ kube, generators: createGenerators(DEFAULT_MESH_VALUES), operations: new OperationLog() });
    const app = createApp({
      tokens: [{ name: 'ops', role: 'deployer', sha256: sha('deployer-token-0123456789') }, { name: 'team-a', role: 'viewer', sha256: sha('viewer-token-0123456789'), namespaces: ['team-a'] }],
      bodyLimitBytes: 1 << 20, services, callbacks: new CallbackAuthority('basic'), metrics: createMetrics(), log: silentLogger, ready: async () => true,
      console: { loginCodes: codes },
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => { server.close(); });

  it('GET /v1/whoami: the token\'s name, role and namespaces; 401 without a good token', async () => {
    assert.deepEqual((await call('/v1/whoami', 'deployer-token-0123456789')).body, { name: 'ops', role: 'deployer' });
    assert.deepEqual((await call('/v1/whoami', 'viewer-token-0123456789')).body, { name: 'team-a', role: 'viewer', namespaces: ['team-a'] });
    assert.equal((await call('/v1/whoami', 'wrong')).status, 401);
    assert.equal((await call('/v1/whoami', null)).status, 401);
  });

  it('GET …/objects: the service\'s generated objects with their YAML; 404 for an unknown service, 403 outside the token\'s namespaces', async () => {
    const put = await call('/v1/services/default/hello', 'deployer-token-0123456789', { method: 'PUT', body: MINIMAL, headers: { 'content-type': 'application/yaml' } });
    assert.equal(put.status, 202, JSON.stringify(put.body));
    // what the controller would have applied
    await kube.apply({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'backend', namespace: 'default', labels: { 'app.kubernetes.io/managed-by': 'mixmesh', 'mixmesh.io/service': 'hello' } }, spec: { hosts: ['backend'] } });
    await kube.apply({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'other', namespace: 'default', labels: { 'app.kubernetes.io/managed-by': 'mixmesh', 'mixmesh.io/service': 'other' } }, spec: { hosts: ['other'] } });
    const r = await call('/v1/services/default/hello/objects', 'deployer-token-0123456789');
    assert.equal(r.status, 200);
    const items = r.body.items as { kind: string; name: string; yaml: string }[];
    assert.deepEqual(items.map((i) => `${i.kind}/${i.name}`), ['VirtualService/backend']);
    assert.match(items[0]!.yaml, /^apiVersion: networking\.istio\.io\/v1\nkind: VirtualService\n/);
    assert.equal((await call('/v1/services/default/nope/objects', 'deployer-token-0123456789')).status, 404);
    assert.equal((await call('/v1/services/default/hello/objects', 'viewer-token-0123456789')).status, 403);
    assert.equal((await call('/v1/services/default/hello/objects', null)).status, 401);
  });
});
