import { strict as assert } from 'node:assert';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_MESH_VALUES } from '../../descriptor/index.js';
import { Injector } from '../injector.js';
import { MemoryCluster } from '../../test/helpers/memory-cluster.js';
import { createInjectorApp } from './app.js';

describe('vm-sidecar-injector API: the stand-alone Tacker notification mode', () => {
  let server: Server;
  let base: string;
  const seen: string[] = [];
  const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

  before(async () => {
    const injector = new Injector({
      cluster: new MemoryCluster(), connect: async () => { throw new Error('no VMs here'); }, parseConsoleHostKeys: () => [],
      meshValues: DEFAULT_MESH_VALUES, artifacts: { dir: '/nonexistent' }, renewal: false,
    });
    const app = createInjectorApp({
      injector, token: 'api-token-0123456789abcdef',
      notifications: { username: 'tacker', password: 'callback-password-1', onInstantiated: async (id) => { seen.push(id); } },
    });
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/tacker/notifications`;
  });
  after(async () => new Promise<void>((resolve) => server.close(() => resolve())));

  it('answers Tacker\'s subscription test with 204 for the registered Basic credentials only', async () => {
    assert.equal((await fetch(base, { headers: { authorization: basic('tacker', 'callback-password-1'), version: '2.0.0' } })).status, 204);
    assert.equal((await fetch(base, { headers: { authorization: basic('tacker', 'wrong') } })).status, 401);
    assert.equal((await fetch(base)).status, 401);
    assert.equal((await fetch(base, { headers: { authorization: 'Bearer api-token-0123456789abcdef' } })).status, 401, 'the API token is not a Tacker credential');
  });

  it('acts on INSTANTIATE COMPLETED only, answering 204 at once', async () => {
    const post = (body: unknown) => fetch(base, { method: 'POST', headers: { authorization: basic('tacker', 'callback-password-1'), 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const n = { notificationType: 'VnfLcmOperationOccurrenceNotification', operation: 'INSTANTIATE', vnfInstanceId: 'vnf-1' };
    assert.equal((await post({ ...n, operationState: 'STARTING' })).status, 204);
    assert.equal((await post({ ...n, operation: 'TERMINATE', operationState: 'COMPLETED' })).status, 204);
    assert.equal((await post({ ...n, operationState: 'COMPLETED' })).status, 204);
    assert.deepEqual(seen, ['vnf-1']);
  });

  it('bounds bodies (413) and answers unparsable JSON with 400 problem+json', async () => {
    const url = base.replace('/v1/tacker/notifications', '/v1/injections');
    const headers = { authorization: 'Bearer api-token-0123456789abcdef', 'content-type': 'application/json' };
    const big = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ pad: 'x'.repeat(2 << 20) }) });
    assert.equal(big.status, 413);
    assert.equal((await big.json() as { code: string }).code, 'PAYLOAD_TOO_LARGE');
    const bad = await fetch(url, { method: 'POST', headers, body: '{"vm": ' });
    assert.equal(bad.status, 400);
    assert.match(bad.headers.get('content-type') ?? '', /application\/problem\+json/);
  });
});
