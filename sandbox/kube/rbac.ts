/**
 * Service-account authentication and RBAC authorization, as the real API server does them for a
 * bearer token it signed itself: the token (from TokenRequest) is verified (signature, expiry,
 * audience = the API server, the ServiceAccount still exists), and the request is allowed only when
 * a ClusterRoleBinding, or a RoleBinding in the request's namespace, binds a (Cluster)Role whose
 * rule matches the verb, API group, resource (with its subresource) and, where the rule names
 * them, the object's name. Non-resource paths (discovery, /version, /openapi) are open to every
 * authenticated user, as the default `system:discovery` binding makes them. The admin token is
 * not checked here (system:masters).
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { Store } from './store.js';

type Obj = Record<string, unknown>;

export interface ServiceAccountUser {
  username: string;
  namespace: string;
  name: string;
  groups: string[];
}

export interface RbacRequest {
  verb: string;
  group: string;
  /** plural, with `/subresource` when there is one */
  resource: string;
  namespace?: string;
  name?: string;
}

/** the user a service-account token names, or undefined when it is not a valid one for this server */
export function authenticateServiceAccount(store: Store, signingKey: KeyObject, issuer: string, token: string): ServiceAccountUser | undefined {
  const [h, p, sig] = token.split('.');
  if (!h || !p || !sig) return undefined;
  if (!verify('sha256', Buffer.from(`${h}.${p}`), createPublicKey(signingKey), Buffer.from(sig, 'base64url'))) return undefined;
  let claims: Obj;
  try { claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Obj; } catch { return undefined; }
  if (typeof claims.exp !== 'number' || claims.exp * 1000 <= Date.now()) return undefined;
  if (!Array.isArray(claims.aud) || !claims.aud.includes(issuer)) return undefined;
  const k8s = (claims['kubernetes.io'] ?? {}) as { namespace?: string; serviceaccount?: { name?: string } };
  const namespace = k8s.namespace ?? '';
  const name = k8s.serviceaccount?.name ?? '';
  if (!namespace || !name || !store.get('/serviceaccounts', namespace, name)) return undefined;
  return { username: `system:serviceaccount:${namespace}:${name}`, namespace, name, groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'] };
}

interface Rule { apiGroups?: string[]; resources?: string[]; verbs?: string[]; resourceNames?: string[] }
interface Binding { metadata?: { namespace?: string }; roleRef?: { kind?: string; name?: string }; subjects?: Array<{ kind?: string; name?: string; namespace?: string }> }

function boundTo(b: Binding, u: ServiceAccountUser): boolean {
  return (b.subjects ?? []).some((s) => (s.kind === 'ServiceAccount' && s.name === u.name && s.namespace === u.namespace)
    || (s.kind === 'Group' && s.name !== undefined && u.groups.includes(s.name))
    || (s.kind === 'User' && s.name === u.username));
}

function matches(rule: Rule, r: RbacRequest): boolean {
  const has = (list: string[] | undefined, v: string) => (list ?? []).includes('*') || (list ?? []).includes(v);
  if (!has(rule.verbs, r.verb) || !has(rule.apiGroups, r.group)) return false;
  const [plural] = r.resource.split('/');
  if (!has(rule.resources, r.resource) && !(r.resource.includes('/') && (rule.resources ?? []).includes(`${plural}/*`))) return false;
  if (rule.resourceNames && rule.resourceNames.length > 0) return r.name !== undefined && rule.resourceNames.includes(r.name);
  return true;
}

/** allowed by a binding? (the rules of every role bound to the user, cluster-wide or in the request's namespace) */
export function authorize(store: Store, u: ServiceAccountUser, r: RbacRequest): boolean {
  const rules = (kind: string, name: string | undefined, namespace?: string): Rule[] => {
    if (!name) return [];
    const role = kind === 'ClusterRole' ? store.get('rbac.authorization.k8s.io/clusterroles', undefined, name) : store.get('rbac.authorization.k8s.io/roles', namespace, name);
    return ((role?.rules as Rule[] | undefined) ?? []);
  };
  for (const b of store.list('rbac.authorization.k8s.io/clusterrolebindings') as Binding[]) {
    if (boundTo(b, u) && b.roleRef?.kind === 'ClusterRole' && rules('ClusterRole', b.roleRef.name).some((x) => matches(x, r))) return true;
  }
  if (r.namespace === undefined) return false;
  for (const b of store.list('rbac.authorization.k8s.io/rolebindings', r.namespace) as Binding[]) {
    if (boundTo(b, u) && rules(b.roleRef?.kind ?? '', b.roleRef?.name, r.namespace).some((x) => matches(x, r))) return true;
  }
  return false;
}
