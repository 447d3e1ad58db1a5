/**
 * End to end with TLS on (the rest of the e2e suite runs this way with MIXMESH_E2E_TLS=1): the
 * API, the Tacker callback on it and the injector serve HTTPS with a certificate from a CA made for
 * the run. The sandbox's Tacker subscribes and delivers over HTTPS, checking the callback's
 * certificate against that CA; the Tacker plug-in reaches the injector over HTTPS, checking its
 * certificate against `caFile`; a client that does not trust the CA is refused by its own TLS.
 * Deploy with VMs, a connections change, a delete: the representative e2e that `npm test` runs with
 * TLS on; `npm run test:e2e-tls` runs the whole e2e suite that way.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startWorld, vmService, type World } from './world.js';

describe('e2e: TLS on (API, Tacker callback, injector, plug-in)', function () {
  this.timeout(180_000);
  let w: World;

  before(async () => {
    w = await startWorld({ tls: true });
    for (const ns of ['tls-orch', 'tls-plugin']) {
      await w.stack.kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
      await w.stack.kube.create({ apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/ssh-auth', metadata: { name: 'vm-ssh', namespace: ns }, data: { 'ssh-privatekey': Buffer.from(w.sandbox.sshPrivateKey).toString('base64') } });
    }
  });
  after(async () => { await w?.stop(); });

  it('the API and the injector answer over HTTPS only, with a certificate the run\'s CA vouches for', async () => {
    assert.match(w.stack.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.match(String(w.stack.injectorUrl), /^https:\/\/127\.0\.0\.1:\d+$/);
    const r = await w.api('GET', '/v1/services');
    assert.equal(r.status, 200, r.text);
    // without the CA, node's own TLS refuses the certificate
    await assert.rejects(fetch(`${w.stack.url}/readyz`), (e: Error & { cause?: { code?: string } }) => /CERT|SIGNATURE|self.signed|verify/i.test(String(e.cause?.code ?? e.cause ?? e.message)));
    await assert.rejects(fetch(`${w.stack.injectorUrl}/readyz`));
    // plain http to the TLS port is no way in either
    await assert.rejects(fetch(`${w.stack.url.replace('https:', 'http:')}/readyz`).then(async (res) => { if (res.status < 400) throw new Error('plain http answered'); throw new Error(`status ${res.status}`); }));
  });

  it('a VM service deploys; Tacker\'s notifications reach the callback over HTTPS (204), the certificate checked', async () => {
    const r = await w.api('PUT', '/v1/services/tls-orch/db', { body: vmService('db', 'tls-orch') });
    assert.equal(r.status, 202, r.text);
    const op = await w.waitOperation(String(r.json.operationId), 120_000);
    assert.equal(op.state, 'Succeeded', JSON.stringify(op));
    const res = await fetch(`${w.sandbox.openstack.adminUrl}/notifications`, { headers: { authorization: `Bearer ${w.sandbox.openstack.adminToken}` } });
    const deliveries = (await res.json()) as { status: number | string; operationState?: string }[];
    assert.ok(deliveries.some((d) => d.status === 204 && d.operationState === 'COMPLETED'), `deliveries: ${JSON.stringify(deliveries)}`);
    assert.ok(!deliveries.some((d) => d.status === 'error'), `a delivery failed: ${JSON.stringify(deliveries)}`);
  });

  it('a connections change and a delete over HTTPS: the mesh config follows, the VNF is terminated, every callback delivery succeeded', async () => {
    const change = await w.api('PUT', '/v1/services/tls-orch/db/connections', { body: JSON.stringify({ connections: [{ from: 'web', to: 'db', connectionPool: { maxConnections: 7 } }] }), type: 'application/json' });
    assert.equal(change.status, 202, change.text);
    assert.equal((await w.waitOperation(String(change.json.operationId), 120_000)).state, 'Succeeded');
    const dr = await w.stack.kube.list('networking.istio.io/v1', 'DestinationRule', { namespace: 'tls-orch' });
    assert.match(JSON.stringify(dr.items), /"maxConnections":7/, 'the DestinationRule carries the new connection pool');
    const del = await w.api('DELETE', '/v1/services/tls-orch/db');
    assert.equal(del.status, 202, del.text);
    for (const deadline = Date.now() + 120_000; (await w.api('GET', '/v1/services/tls-orch/db')).status !== 404;) {
      if (Date.now() > deadline) throw new Error('tls-orch/db still there');
      await new Promise((r) => setTimeout(r, 200));
    }
    const vnfs = await w.stack.openstack!.tacker.listVnfInstances();
    assert.ok(!vnfs.some((v) => (v.vnfInstanceName ?? '').startsWith('tls-orch.')), `a VNF of tls-orch is left: ${JSON.stringify(vnfs.map((v) => v.vnfInstanceName))}`);
    const res = await fetch(`${w.sandbox.openstack.adminUrl}/notifications`, { headers: { authorization: `Bearer ${w.sandbox.openstack.adminToken}` } });
    const deliveries = (await res.json()) as { status: number | string }[];
    assert.ok(deliveries.length > 0 && deliveries.every((d) => d.status === 204), `deliveries: ${JSON.stringify(deliveries)}`);
  });

  it('plug-in mode: the instantiate_end script reaches the HTTPS injector, verifying it against caFile', async () => {
    const injectorJson = JSON.parse(readFileSync(join(w.dir, 'injector.json'), 'utf8')) as { url: string; caFile?: string };
    assert.match(injectorJson.url, /^https:/);
    assert.equal(injectorJson.caFile, join(w.dir, 'ca.crt'));
    const r = await w.api('PUT', '/v1/services/tls-plugin/db', { body: vmService('db', 'tls-plugin', 'plugin') });
    assert.equal(r.status, 202, r.text);
    const op = await w.waitOperation(String(r.json.operationId), 120_000);
    assert.equal(op.state, 'Succeeded', JSON.stringify(op));
  });
});
