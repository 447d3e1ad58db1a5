/**
 * The Kubernetes API emulator's tokens (a layer of KubeApi): TokenReview of a service-account
 * token this server signed, and TokenRequest (bound, audience, expiry). Moved here unchanged from api.ts.
 */
import { randomUUID, sign, verify, createPublicKey } from 'node:crypto';
import { invalid, notFound } from './errors.js';
import { groupVersion, type Obj, type ResourceInfo } from './resources.js';
import { metaOf } from './store.js';
import { isObject } from './patch.js';
import { type Target } from './api-writes.js';
import { KubeAdmission } from './api-admission.js';

export const ISSUER = 'https://kubernetes.default.svc.cluster.local';

export class KubeTokens extends KubeAdmission {
  /** TokenReview checks a service-account token this server signed; the admin may do anything. */
  protected review(r: ResourceInfo, body: Obj): Obj {
    const spec = isObject(body.spec) ? body.spec : {};
    const answer = (status: Obj) => ({ apiVersion: groupVersion(r.group, r.version), kind: r.kind, metadata: { creationTimestamp: null }, spec, status });
    const admin = { username: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] };
    if (r.kind === 'SelfSubjectReview') return answer({ userInfo: admin });
    if (r.kind === 'SelfSubjectAccessReview') return answer({ allowed: true, reason: 'the sandbox admin may do anything' });
    const token = typeof spec.token === 'string' ? spec.token : '';
    if (token === this.opts.pki.adminToken) return answer({ authenticated: true, user: admin, audiences: [ISSUER] });
    const [h, p, sig] = token.split('.');
    const fail = (error: string) => answer({ authenticated: false, user: {}, error });
    if (!h || !p || !sig) return fail('invalid bearer token');
    const ok = verify('sha256', Buffer.from(`${h}.${p}`), createPublicKey(this.opts.pki.signingKey), Buffer.from(sig, 'base64url'));
    if (!ok) return fail('invalid bearer token, square/go-jose: error in cryptographic primitive');
    let claims: Obj;
    try { claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Obj; } catch { return fail('invalid bearer token'); }
    if (typeof claims.exp !== 'number' || claims.exp * 1000 <= Date.now()) return fail('invalid bearer token, service account token has expired');
    const tokenAudiences = (claims.aud as string[] | undefined) ?? [];
    const wanted = Array.isArray(spec.audiences) && spec.audiences.length > 0 ? (spec.audiences as string[]) : [ISSUER];
    const audiences = wanted.filter((a) => tokenAudiences.includes(a));
    if (audiences.length === 0) return fail('token audiences are invalid');
    const k8s = (claims['kubernetes.io'] ?? {}) as { namespace?: string; serviceaccount?: { name?: string; uid?: string } };
    if (!this.store.get('/serviceaccounts', k8s.namespace, k8s.serviceaccount?.name ?? '')) return fail('service account has been deleted');
    return answer({
      authenticated: true, audiences,
      user: { username: claims.sub, uid: k8s.serviceaccount?.uid, groups: ['system:serviceaccounts', `system:serviceaccounts:${k8s.namespace}`, 'system:authenticated'] },
    });
  }

  protected tokenRequest(t: Target, body: Obj): Obj {
    const sa = this.store.get('/serviceaccounts', t.namespace, t.name!);
    if (!sa) throw notFound(t.r, t.name!);
    const spec = isObject(body.spec) ? body.spec : {};
    const seconds = spec.expirationSeconds === undefined ? 3600 : Number(spec.expirationSeconds);
    const tr: ResourceInfo = { ...t.r, kind: 'TokenRequest', group: 'authentication.k8s.io' };
    if (!Number.isInteger(seconds) || seconds < 600) throw invalid(tr, t.name!, [{ reason: 'FieldValueInvalid', field: 'spec.expirationSeconds', message: `Invalid value: ${String(spec.expirationSeconds)}: may not specify a duration less than 10 minutes` }]);
    if (seconds > 2 ** 32) throw invalid(tr, t.name!, [{ reason: 'FieldValueInvalid', field: 'spec.expirationSeconds', message: `Invalid value: ${seconds}: may not specify a duration larger than 2^32 seconds` }]);
    const audiences = Array.isArray(spec.audiences) && spec.audiences.length > 0 ? (spec.audiences as unknown[]).map(String) : [ISSUER];
    const iat = Math.floor(Date.now() / 1000);
    const exp = iat + seconds;
    const payload = {
      aud: audiences, exp, iat, iss: ISSUER, jti: randomUUID(), nbf: iat,
      sub: `system:serviceaccount:${t.namespace}:${t.name}`,
      'kubernetes.io': { namespace: t.namespace, serviceaccount: { name: t.name, uid: metaOf(sa).uid } },
    };
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const signingInput = `${b64({ alg: 'RS256', kid: this.opts.pki.signingKid })}.${b64(payload)}`;
    const signature = sign('sha256', Buffer.from(signingInput), this.opts.pki.signingKey).toString('base64url');
    return {
      kind: 'TokenRequest', apiVersion: 'authentication.k8s.io/v1',
      metadata: { name: t.name, namespace: t.namespace, creationTimestamp: null },
      spec: { audiences, expirationSeconds: seconds, boundObjectRef: spec.boundObjectRef ?? null },
      status: { token: `${signingInput}.${signature}`, expirationTimestamp: new Date(exp * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') },
    };
  }
}
