import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Request, Response } from 'express';
import { createCa, issueServerCert } from '../orchestrator/webhook/x509.js';
import { isMixmeshError } from './errors.js';
import { silentLogger } from './logger.js';
import { ReloadingTls, createReloadingHttpsServer, fetchTrusting, filesLoader, isLoopback, refuseInsecureCredentials } from './tls.js';

/** the serial number of the certificate a server presents to a new connection */
function presentedSerial(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, ca, agent: false }, (res) => {
      resolve((res.socket as unknown as { getPeerCertificate(): { serialNumber: string } }).getPeerCertificate().serialNumber);
      res.resume();
    });
    req.on('error', reject);
    req.end();
  });
}

describe('common/tls', () => {
  const ca = createCa('tls-test-ca');
  const other = createCa('someone-else');

  it('credentials over plain HTTP are refused from non-loopback peers only, unless allowed', () => {
    const call = (allow: boolean, o: { remote: string; encrypted?: boolean; auth?: string }): unknown => {
      const req = { socket: { remoteAddress: o.remote, encrypted: o.encrypted }, headers: o.auth ? { authorization: o.auth } : {} } as unknown as Request;
      let passed = false;
      try {
        refuseInsecureCredentials(allow)(req, {} as Response, () => { passed = true; });
      } catch (e) {
        return e;
      }
      return passed;
    };
    const refused = call(false, { remote: '10.1.2.3', auth: 'Bearer x' });
    assert.ok(isMixmeshError(refused, 'INSECURE_TRANSPORT'), String(refused));
    assert.equal(call(false, { remote: '127.0.0.1', auth: 'Bearer x' }), true);
    assert.equal(call(false, { remote: '::ffff:127.0.0.1', auth: 'Basic eA==' }), true);
    assert.equal(call(false, { remote: '::1', auth: 'Bearer x' }), true);
    assert.equal(call(false, { remote: '10.1.2.3', auth: 'Bearer x', encrypted: true }), true);
    assert.equal(call(false, { remote: '10.1.2.3' }), true, 'no credentials, nothing to protect');
    assert.equal(call(true, { remote: '10.1.2.3', auth: 'Bearer x' }), true);
    assert.equal(isLoopback('127.9.9.9'), true);
    assert.equal(isLoopback('128.0.0.1'), false);
  });

  it('serves the files\' certificate, and the new one after they change (new connections), keeping the last good pair on a bad one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mixmesh-tls-'));
    const first = issueServerCert(ca, ['127.0.0.1']);
    writeFileSync(join(dir, 'tls.crt'), first.certPem);
    writeFileSync(join(dir, 'tls.key'), first.keyPem);
    const tls = await ReloadingTls.start(filesLoader(join(dir, 'tls.crt'), join(dir, 'tls.key')), silentLogger, 3_600_000);
    const server = createReloadingHttpsServer(tls, (_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    try {
      const s1 = await presentedSerial(port, ca.certPem);
      const second = issueServerCert(ca, ['127.0.0.1']);
      writeFileSync(join(dir, 'tls.crt'), second.certPem);
      writeFileSync(join(dir, 'tls.key'), second.keyPem);
      assert.equal(await tls.check(), true);
      const s2 = await presentedSerial(port, ca.certPem);
      assert.notEqual(s2, s1);
      writeFileSync(join(dir, 'tls.key'), 'not a key');
      assert.equal(await tls.check(), false);
      assert.equal(await presentedSerial(port, ca.certPem), s2);
      // fetchTrusting: the right CA gets in, another one does not
      const ok = await fetchTrusting(ca.certPem)(`https://127.0.0.1:${port}/`);
      assert.equal(await ok.text(), 'ok');
      await assert.rejects(fetchTrusting(other.certPem)(`https://127.0.0.1:${port}/`));
    } finally {
      tls.stop();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
