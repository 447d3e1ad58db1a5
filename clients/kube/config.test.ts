/**
 * The kubeconfig loader against a real TLS server (node:https with the sandbox PKI, asking for a
 * client certificate): what a request made with `applyToHTTPSOptions` presents (CA trust, server
 * name, client certificate, bearer token, basic auth), for files, text, contexts, the in-cluster
 * service account, and a user with an exec credential plugin (handed to client-node). A child
 * process that cannot resolve @kubernetes/client-node shows the static cases never load it.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type RequestOptions, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { stringify } from 'yaml';
import { isMixmeshError } from '../../common/errors.js';
import { loadOrCreatePki } from '../../sandbox/kube/pki.js';
import { kubeConfigFromText, loadKubeConfig, type KubeConfig } from './config.js';

interface Seen { authorization?: string; cn?: string; authorized: boolean }

const b64 = (s: string) => Buffer.from(s).toString('base64');

function kubeconfig(cluster: Record<string, unknown>, user: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  return stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'c', cluster }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'x',
    ...extra,
  });
}

/** GET / with the options the kubeconfig gives, as KubeClient and KubeletClient make them. */
async function call(kc: KubeConfig | { applyToHTTPSOptions(o: RequestOptions): Promise<void> }, url: string): Promise<Seen> {
  const o: RequestOptions = { method: 'GET', headers: {} };
  await kc.applyToHTTPSOptions(o);
  return new Promise((resolve, reject) => {
    const req = request(url, o, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString('utf8'); });
      res.on('end', () => resolve(JSON.parse(text) as Seen));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('clients/kube kubeconfig loader', function () {
  this.timeout(30_000);
  let dir: string;
  let server: Server;
  let url: string;
  let caPem: string;
  let certPem: string;
  let keyPem: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kubeconfig-loader-'));
    const pki = loadOrCreatePki(join(dir, 'pki'), ['127.0.0.1']);
    caPem = pki.caPem;
    // a client certificate signed by the cluster CA (what kubeadm's admin.conf carries)
    writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n');
    execFileSync('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/O=system:masters/CN=alice'], { cwd: dir, stdio: 'ignore' });
    execFileSync('openssl', ['x509', '-req', '-in', 'client.csr', '-CA', 'pki/ca.crt', '-CAkey', 'pki/ca.key', '-CAcreateserial', '-CAserial', 'client.srl', '-out', 'client.crt', '-days', '1', '-extfile', 'client.ext'], { cwd: dir, stdio: 'ignore' });
    certPem = readFileSync(join(dir, 'client.crt'), 'utf8');
    keyPem = readFileSync(join(dir, 'client.key'), 'utf8');
    server = createServer({ cert: pki.serverCertPem, key: pki.serverKeyPem, ca: caPem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
      const socket = req.socket as TLSSocket;
      const peer = socket.getPeerCertificate();
      const seen: Seen = { authorization: req.headers.authorization, cn: peer.subject?.CN === undefined ? undefined : String(peer.subject.CN), authorized: socket.authorized };
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify(seen));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); });
    rmSync(dir, { recursive: true, force: true });
  });

  it('a file with relative CA, client certificate and key files: the server trusts the client certificate', async () => {
    const sub = join(dir, 'files');
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, 'ca.crt'), caPem);
    writeFileSync(join(sub, 'admin.crt'), certPem);
    writeFileSync(join(sub, 'admin.key'), keyPem);
    writeFileSync(join(sub, 'config'), kubeconfig({ server: `${url}/`, 'certificate-authority': 'ca.crt' }, { 'client-certificate': 'admin.crt', 'client-key': 'admin.key' }));
    const kc = loadKubeConfig({ path: join(sub, 'config'), env: {} });
    assert.equal(kc.getCurrentCluster()?.server, url, 'the trailing slash is dropped, as client-node does');
    assert.equal(kc.needsClientNode(), false);
    assert.deepEqual(await call(kc, url), { cn: 'alice', authorized: true });
  });

  it('text with certificate-authority-data and client certificate/key data; KUBECONFIG is used when no path is given', async () => {
    const text = kubeconfig({ server: url, 'certificate-authority-data': b64(caPem) }, { 'client-certificate-data': b64(certPem), 'client-key-data': b64(keyPem) });
    assert.deepEqual(await call(kubeConfigFromText(text), url), { cn: 'alice', authorized: true });
    writeFileSync(join(dir, 'env-config'), text);
    assert.deepEqual(await call(loadKubeConfig({ env: { KUBECONFIG: `${join(dir, 'env-config')}:/nonexistent` } }), url), { cn: 'alice', authorized: true });
  });

  it('token, tokenFile (re-read on every request, as a projected token rotates) and basic auth', async () => {
    const ca = { server: url, 'certificate-authority-data': b64(caPem) };
    assert.equal((await call(kubeConfigFromText(kubeconfig(ca, { token: 'static-token' })), url)).authorization, 'Bearer static-token');
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'first-token\n');
    const kc = kubeConfigFromText(kubeconfig(ca, { tokenFile }));
    assert.equal((await call(kc, url)).authorization, 'Bearer first-token');
    writeFileSync(tokenFile, 'second-token\n');
    assert.equal((await call(kc, url)).authorization, 'Bearer second-token');
    // what pods/exec uses: client-node's KubeConfig built from the same text, with kubectl's tokenFile
    // (client-node's file provider does not trim: a projected token has no newline)
    writeFileSync(tokenFile, 'third-token');
    assert.equal((await call(await kc.clientNode(), url)).authorization, 'Bearer third-token');
    const basic = await call(kubeConfigFromText(kubeconfig(ca, { username: 'admin', password: 's3cret' })), url);
    assert.equal(basic.authorization, `Basic ${b64('admin:s3cret')}`);
  });

  it('trust: no CA fails, insecure-skip-tls-verify connects, tls-server-name is the name checked', async () => {
    await assert.rejects(call(kubeConfigFromText(kubeconfig({ server: url }, { token: 't' })), url), /self-signed|unable to verify|certificate/i);
    assert.equal((await call(kubeConfigFromText(kubeconfig({ server: url, 'insecure-skip-tls-verify': true }, { token: 't' })), url)).authorization, 'Bearer t');
    const ca = b64(caPem);
    assert.equal((await call(kubeConfigFromText(kubeconfig({ server: url, 'certificate-authority-data': ca, 'tls-server-name': 'kubernetes.default.svc' }, { token: 't' })), url)).authorization, 'Bearer t');
    await assert.rejects(call(kubeConfigFromText(kubeconfig({ server: url, 'certificate-authority-data': ca, 'tls-server-name': 'elsewhere.example' }, { token: 't' })), url), /elsewhere\.example|altnames/i);
  });

  it('contexts: the current one, an explicit one, and the errors of a missing or malformed one', () => {
    const text = stringify({
      clusters: [{ name: 'a', cluster: { server: 'https://127.0.0.1:1' } }, { name: 'b', cluster: { server: 'https://127.0.0.2:2' } }],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'ctx-a', context: { cluster: 'a', user: 'u' } }, { name: 'ctx-b', context: { cluster: 'b', user: 'u', namespace: 'ns' } }],
      'current-context': 'ctx-a',
    });
    assert.equal(kubeConfigFromText(text).getCurrentCluster()?.server, 'https://127.0.0.1:1');
    const b = kubeConfigFromText(text, 'ctx-b');
    assert.equal(b.getCurrentContext(), 'ctx-b');
    assert.equal(b.getCurrentCluster()?.server, 'https://127.0.0.2:2');
    assert.deepEqual(b.getContexts().map((c) => c.name), ['ctx-a', 'ctx-b']);
    assert.throws(() => kubeConfigFromText(text, 'ctx-c'), (e) => isMixmeshError(e, 'CONFIG_INVALID') && /no context "ctx-c"/.test(e.message));
    assert.throws(() => kubeConfigFromText(text.replace("'current-context': ctx-a", '').replace('current-context: ctx-a', '')), (e) => isMixmeshError(e, 'CONFIG_INVALID') && /no current cluster/.test(e.message));
    assert.throws(() => kubeConfigFromText('clusters: [{name: a, cluster: {}}]'), (e) => isMixmeshError(e, 'CONFIG_INVALID') && /clusters\[0\]\.cluster\.server is missing/.test(e.message));
    assert.throws(() => kubeConfigFromText('clusters: [unclosed'), (e) => isMixmeshError(e, 'CONFIG_INVALID') && /^kubeconfig: /.test(e.message));
    const ftp = join(dir, 'ftp-config');
    writeFileSync(ftp, kubeconfig({ server: 'ftp://127.0.0.1' }, { token: 't' }));
    assert.throws(() => loadKubeConfig({ path: ftp, env: {} }), (e) => isMixmeshError(e, 'CONFIG_INVALID') && /not an http\(s\) URL/.test(e.message));
    const bad = join(dir, 'bad-config');
    writeFileSync(bad, 'users: [{user: {token: t}}]\n');
    assert.throws(() => loadKubeConfig({ path: bad, env: {} }), (e) => isMixmeshError(e, 'CONFIG_INVALID') && /cannot read the Kubernetes configuration: users\[0\]\.name is missing/.test(e.message));
  });

  it('in-cluster: KUBERNETES_SERVICE_HOST/PORT, the service account CA and its token re-read per request', async () => {
    const sa = join(dir, 'serviceaccount');
    mkdirSync(sa, { recursive: true });
    const port = String((server.address() as AddressInfo).port);
    assert.throws(() => loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: port }, serviceAccountDir: sa }), (e) => isMixmeshError(e, 'CONFIG_INVALID') && /no Kubernetes configuration/.test(e.message));
    writeFileSync(join(sa, 'ca.crt'), caPem);
    writeFileSync(join(sa, 'token'), 'sa-token-1');
    writeFileSync(join(sa, 'namespace'), 'mixmesh-system');
    const kc = loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: port }, serviceAccountDir: sa });
    assert.equal(kc.getCurrentCluster()?.server, url);
    assert.equal(kc.getContexts()[0]?.namespace, 'mixmesh-system');
    assert.equal((await call(kc, url)).authorization, 'Bearer sa-token-1');
    writeFileSync(join(sa, 'token'), 'sa-token-2');
    assert.equal((await call(kc, url)).authorization, 'Bearer sa-token-2');
    assert.equal((await call(await kc.clientNode(), url)).authorization, 'Bearer sa-token-2');
  });

  it('a user with an exec credential plugin goes through client-node (the plugin runs, its token is sent)', async () => {
    const plugin = join(dir, 'credential-plugin');
    writeFileSync(plugin, `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"from-plugin"}}'\n`);
    chmodSync(plugin, 0o755);
    const kc = kubeConfigFromText(kubeconfig({ server: url, 'certificate-authority-data': b64(caPem) }, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'Never' } }));
    assert.equal(kc.needsClientNode(), true);
    assert.equal((await call(kc, url)).authorization, 'Bearer from-plugin');
  });

  it('a process that cannot resolve @kubernetes/client-node loads the static kubeconfig and makes requests; an exec user needs it', () => {
    const forbid = join(dir, 'forbid.mjs');
    writeFileSync(forbid, `export async function resolve(spec, ctx, next) { if (spec.startsWith('@kubernetes/client-node')) throw new Error('client-node was imported'); return next(spec, ctx); }\n`);
    writeFileSync(join(dir, 'forbid-register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(`file://${forbid}`)});\n`);
    const index = new URL('./index.ts', import.meta.url).href;
    const tokenConfig = join(dir, 'static-config');
    writeFileSync(tokenConfig, kubeconfig({ server: url, 'certificate-authority-data': b64(caPem) }, { 'client-certificate-data': b64(certPem), 'client-key-data': b64(keyPem) }));
    const execConfig = join(dir, 'exec-config');
    writeFileSync(execConfig, kubeconfig({ server: url, 'certificate-authority-data': b64(caPem) }, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: join(dir, 'credential-plugin') } }));
    const script = `const { loadKubeConfig } = await import(${JSON.stringify(index)});
const o = { headers: {} };
await loadKubeConfig({ path: process.argv[1], env: {} }).applyToHTTPSOptions(o);
console.log(o.cert ? 'cert' : 'none');`;
    const run = (config: string) => spawnSync(process.execPath, ['--import', 'tsx', '--import', join(dir, 'forbid-register.mjs'), '--input-type=module', '-e', script, config], { encoding: 'utf8', timeout: 60_000 });
    const ok = run(tokenConfig);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout.trim(), 'cert');
    const fallback = run(execConfig);
    assert.notEqual(fallback.status, 0);
    assert.match(fallback.stderr, /client-node was imported/);
  });
});
