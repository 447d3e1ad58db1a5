import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMixmeshError } from '../../common/errors.js';
import { createCa, issueServerCert } from '../../orchestrator/webhook/x509.js';
import { ApiClient, clientSettings } from './api.js';

describe('cli client over TLS: --certificate-authority, no token over remote plain http', () => {
  const ca = createCa('cli-test-ca');
  const cert = issueServerCert(ca, ['127.0.0.1']);
  let server: Server;
  let url: string;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-cli-tls-'));
    writeFileSync(join(dir, 'ca.crt'), ca.certPem);
    writeFileSync(join(dir, 'other.crt'), createCa('other').certPem);
    server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ items: [], auth: req.headers.authorization }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('verifies the server against the given CA, and refuses one it does not vouch for', async () => {
    const ok = new ApiClient(clientSettings({ server: url, token: 't', certificateAuthority: join(dir, 'ca.crt') }, {}));
    const r = await ok.request('GET', '/v1/services');
    assert.deepEqual(r.json, { items: [], auth: 'Bearer t' });
    const env = new ApiClient(clientSettings({ server: url, token: 't' }, { MIXMESH_CERTIFICATE_AUTHORITY: join(dir, 'ca.crt') }));
    assert.equal((await env.request('GET', '/v1/services')).status, 200);
    const wrong = new ApiClient(clientSettings({ server: url, token: 't', certificateAuthority: join(dir, 'other.crt') }, {}));
    await assert.rejects(wrong.request('GET', '/v1/services'), (e) => isMixmeshError(e, 'USAGE') && /cannot reach/.test(e.message));
    const system = new ApiClient(clientSettings({ server: url, token: 't' }, {}));
    await assert.rejects(system.request('GET', '/v1/services'));
  });

  it('never sends a token over plain http to a remote server; a bad CA file is a usage error', () => {
    assert.throws(() => clientSettings({ server: 'http://orchestrator.example.net:7070', token: 't' }, {}), (e) => isMixmeshError(e, 'USAGE') && /plain http/.test(e.message));
    assert.doesNotThrow(() => clientSettings({ server: 'http://127.0.0.1:7070', token: 't' }, {}));
    assert.doesNotThrow(() => clientSettings({ server: 'http://localhost:7070', token: 't' }, {}));
    assert.throws(() => clientSettings({ server: url, certificateAuthority: join(dir, 'missing.crt') }, {}), (e) => isMixmeshError(e, 'USAGE') && /cannot read/.test(e.message));
  });
});
