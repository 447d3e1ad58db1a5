/**
 * The emulator's key material: a CA and a server certificate for TLS (kubectl sends its bearer
 * token only over https), the RSA key that signs TokenRequest JWTs, the Istio root CA published in
 * every namespace, and the admin bearer token. node:crypto cannot issue X.509 certificates, so the
 * certificates come from Debian's `openssl` CLI. Everything is kept in `dir` so a restarted
 * emulator (persistence) keeps the same CA, token and signing key.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject, createPrivateKey } from 'node:crypto';

export interface Pki {
  caPem: string;
  serverCertPem: string;
  serverKeyPem: string;
  /** the Istio root CA (self-signed), published as ConfigMap istio-ca-root-cert */
  istioRootPem: string;
  /** signs service-account tokens (RS256) */
  signingKey: KeyObject;
  signingKid: string;
  adminToken: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function selfSignedCa(cwd: string, base: string, subject: string): void {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${base}.key`, '-out', `${base}.crt`, '-days', '3650', '-subj', subject,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], cwd);
}

/** Load the PKI from `dir`, creating whatever is missing. */
export function loadOrCreatePki(dir: string, serverIps: readonly string[] = []): Pki {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = (name: string) => join(dir, name);
  if (!existsSync(file('ca.crt'))) selfSignedCa(dir, 'ca', '/CN=mixmesh-sandbox-kube-ca');
  if (!existsSync(file('server.crt'))) {
    const extra = serverIps.filter((ip) => ip !== '127.0.0.1').map((ip) => `,IP:${ip}`).join('');
    writeFileSync(file('server.ext'), `subjectAltName=IP:127.0.0.1${extra},DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'server.key',
      '-out', 'server.csr', '-subj', '/CN=kube-apiserver'], dir);
    openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
      '-out', 'server.crt', '-days', '3650', '-extfile', 'server.ext'], dir);
  }
  if (!existsSync(file('istio-root.crt'))) selfSignedCa(dir, 'istio-root', '/O=cluster.local/CN=Root CA');
  if (!existsSync(file('sa.key'))) {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(file('sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  }
  if (!existsSync(file('token'))) writeFileSync(file('token'), `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  const signingKey = createPrivateKey(readFileSync(file('sa.key'), 'utf8'));
  const spki = createPublicKey(signingKey).export({ type: 'spki', format: 'der' });
  return {
    caPem: readFileSync(file('ca.crt'), 'utf8'),
    serverCertPem: readFileSync(file('server.crt'), 'utf8'),
    serverKeyPem: readFileSync(file('server.key'), 'utf8'),
    istioRootPem: readFileSync(file('istio-root.crt'), 'utf8'),
    signingKey,
    // like the real API server: the kid is a hash of the public key
    signingKid: createHash('sha256').update(spki).digest('base64url'),
    adminToken: readFileSync(file('token'), 'utf8').trim(),
  };
}

/**
 * A serving certificate signed by the cluster CA (a kubelet's on :10250), made by `openssl` in a
 * temporary directory under `dir`; the CA key never leaves `dir`.
 */
export function issueServingCert(dir: string, commonName: string, ips: readonly string[], dnsNames: readonly string[] = []): { certPem: string; keyPem: string } {
  const work = join(dir, `issue-${randomBytes(6).toString('hex')}`);
  mkdirSync(work, { mode: 0o700 });
  try {
    const san = [...ips.map((ip) => `IP:${ip}`), ...dnsNames.map((d) => `DNS:${d}`)].join(',');
    writeFileSync(join(work, 'ext'), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'key.pem', '-out', 'csr.pem', '-subj', `/CN=${commonName.replace(/[^A-Za-z0-9.:@-]/g, '-')}`], work);
    openssl(['x509', '-req', '-in', 'csr.pem', '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-CAserial', join(work, 'serial'), '-out', 'cert.pem', '-days', '365', '-extfile', 'ext'], work);
    return { certPem: readFileSync(join(work, 'cert.pem'), 'utf8'), keyPem: readFileSync(join(work, 'key.pem'), 'utf8') };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
