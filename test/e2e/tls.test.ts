/**
 * End to end with TLS on (the rest of the e2e suite runs this way with MIXMESH_E2E_TLS=1): the
 * API, the Tacker callback on it and the injector serve HTTPS with a certificate from a CA made for
 * the run. The sandbox's Tacker subscribes and delivers over HTTPS, checking the callback's
 * certificate against that CA; the Tacker plug-in reaches the injector over HTTPS, checking its
 * certificate against `caFile`; a client that does not trust the CA is refused by its own TLS.
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
