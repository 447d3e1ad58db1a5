/**
 * The API-server side of the sandbox's `kubeadm` stand-ins (sandbox/nodes): bootstrap tokens are
 * what kubeadm stores — Secrets `kube-system/bootstrap-token-<id>` of type
 * `bootstrap.kubernetes.io/token` — and a join is checked against them and against the CA pin.
 *
 * Real kubeadm reads the `cluster-info` ConfigMap, checks its JWS signature with the token and
 * pins the CA client-side, then TLS-bootstraps the kubelet with the token. The sandbox VMs have
 * no openssl, so `POST /_sandbox/kubeadm/join` does both checks here, with the token as the bearer
 * credential (as in the TLS bootstrap), and answers the kubelet's kubeconfig. busybox wget sends
 * only GET and POST, hence `POST /_sandbox/kubeadm/token-delete` for `kubeadm token delete`.
 */
import { X509Certificate, createHash, timingSafeEqual } from 'node:crypto';
import { toYaml } from '../../common/yaml.js';
import type { Obj } from './resources.js';

export const BOOTSTRAP_TOKEN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;

/** kubeadm's --discovery-token-ca-cert-hash: sha256 of the CA's SubjectPublicKeyInfo (DER). */
export function caCertHash(caPem: string): string {
  const spki = new X509Certificate(caPem).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

export interface JoinRequest {
  nodeName: string;
  caCertHashes: string[];
}

export interface JoinAnswer {
  status: number;
  reason: string;
  message: string;
  kubeconfig?: string;
}

export interface KubeadmDeps {
  caPem: string;
  /** the credential the kubelet gets (the emulator has one identity: no RBAC) */
  kubeletToken: string;
  server: string;
  getSecret(name: string): Obj | undefined;
  getNode(name: string): Obj | undefined;
}

const decode = (data: Obj | undefined, key: string): string | undefined => {
  const v = data?.[key];
  return typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : undefined;
};

/** The token Secret's facts, or why it does not authenticate. */
export function checkBootstrapToken(deps: Pick<KubeadmDeps, 'getSecret'>, token: string, now = Date.now()): { ok: true; id: string } | { ok: false; message: string } {
  const m = BOOTSTRAP_TOKEN.exec(token);
  if (!m) return { ok: false, message: `the bootstrap token "${token.replace(/\..*/, '.<redacted>')}" was not of the form "^([a-z0-9]{6})\\.([a-z0-9]{16})$"` };
  const [, id, secret] = m as unknown as [string, string, string];
  const s = deps.getSecret(`bootstrap-token-${id}`);
  const data = s?.data as Obj | undefined;
  const stored = decode(data, 'token-secret') ?? '';
  const same = stored.length === secret.length && timingSafeEqual(Buffer.from(stored), Buffer.from(secret));
  if (!s || s.type !== 'bootstrap.kubernetes.io/token' || !same || decode(data, 'usage-bootstrap-authentication') !== 'true') {
    return { ok: false, message: `could not find a JWS signature in the cluster-info ConfigMap for token ID "${id}"` };
  }
  const exp = decode(data, 'expiration');
  if (exp !== undefined && Date.parse(exp) <= now) return { ok: false, message: `token id "${id}" is invalid for this cluster or it has expired. Use "kubeadm token create" on the control-plane node to create a new valid token` };
  return { ok: true, id };
}

export function join(deps: KubeadmDeps, authorization: string, body: unknown): JoinAnswer {
  const token = authorization.startsWith('Bearer ') ? authorization.slice(7).trim() : '';
  const tok = checkBootstrapToken(deps, token);
  if (!tok.ok) return { status: 401, reason: 'Unauthorized', message: tok.message };
  const b = (body && typeof body === 'object' ? body : {}) as Obj;
  const nodeName = b.nodeName;
  if (typeof nodeName !== 'string' || !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(nodeName)) {
    return { status: 400, reason: 'BadRequest', message: `nodeName ${JSON.stringify(nodeName)}: a lowercase RFC 1123 subdomain is required` };
  }
  const hashes = Array.isArray(b.caCertHashes) ? b.caCertHashes.filter((h): h is string => typeof h === 'string') : [];
  const ours = caCertHash(deps.caPem);
  if (hashes.length === 0) return { status: 400, reason: 'BadRequest', message: 'using token-based discovery without caCertHashes can be unsafe. Set unsafeSkipCAVerification as true in your kubeadm config file or pass --discovery-token-unsafe-skip-ca-verification flag to continue' };
  if (!hashes.some((h) => h.toLowerCase() === ours)) {
    return { status: 403, reason: 'Forbidden', message: `cluster CA found in cluster-info ConfigMap is not trusted: none of the public keys "${ours}" are pinned` };
  }
  const existing = deps.getNode(nodeName);
  const ready = ((existing?.status as Obj | undefined)?.conditions as Obj[] | undefined)?.find((c) => c.type === 'Ready')?.status === 'True';
  if (existing && ready) return { status: 409, reason: 'AlreadyExists', message: `a Node with name "${nodeName}" and status "Ready" already exists in the cluster. You must delete the existing Node or change the name of this new joining node` };
  const kubeconfig = toYaml({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'default-cluster', cluster: { server: deps.server, 'certificate-authority-data': Buffer.from(deps.caPem).toString('base64') } }],
    users: [{ name: 'default-auth', user: { token: deps.kubeletToken } }],
    contexts: [{ name: 'default-context', context: { cluster: 'default-cluster', user: 'default-auth', namespace: 'default' } }],
    'current-context': 'default-context',
    preferences: {},
  });
  return { status: 200, reason: 'OK', message: `node ${nodeName} may join`, kubeconfig };
}
