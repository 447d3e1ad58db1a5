/**
 * The Kubernetes API emulator's request handling: discovery, CRUD for every served resource,
 * patches (merge, JSON, strategic, server-side apply), the status subresource, TokenRequest,
 * watches, Tables, dryRun, finalizers. Built to the API conventions closely enough that kubectl
 * and @kubernetes/client-node work unchanged against it.
 *
 * KubeApi is layered, one file a seam: api-writes.ts (registry, writes, internal writes) ←
 * api-admission.ts (admission) ← api-tokens.ts (TokenReview, TokenRequest) ← this file (routes,
 * reads, watches, request counts and faults).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createPublicKey, createHash, timingSafeEqual } from 'node:crypto';
import { join as kubeadmJoin } from './kubeadm.js';
import { podLog } from './podlog.js';
import { ApiError, badRequest, invalid, notFound } from './errors.js';
import { groupVersion, storeKey, type Obj } from './resources.js';
import { metaOf, type StoreEvent } from './store.js';
import { clone, isObject, jsonPatch, mergePatch, PatchError } from './patch.js';
import { pageOf } from './paging.js';
import { AGGREGATED_DISCOVERY, aggregatedDiscovery, apiGroupDoc, apiGroupList, apiResourceList, apiVersions, openApiDocument, openApiIndex, toTable, wantsAggregated } from './discovery.js';
import { decodeKubernetesProtobuf } from './protobuf.js';
import { nowIso, parseFieldSelector, parseJson, parseLabelSelector, type ExtraValidator, type Target, type WriteContext } from './api-writes.js';
import { ISSUER, KubeTokens } from './api-tokens.js';
import { authenticateServiceAccount, authorize, type ServiceAccountUser } from './rbac.js';

export { nowIso, parseFieldSelector, parseLabelSelector, ISSUER, type ExtraValidator };
export type { ApiOptions } from './api-writes.js';

export interface RequestCount { verb: string; kind: string; dryRun: boolean; /** the namespace of a namespaced request */ namespace?: string; count: number }

/** one distinct access, as RBAC sees it (GET /_sandbox/requests `access`) */
export interface AccessEntry {
  verb: string;
  group: string;
  resource: string;
  namespace?: string;
  /** a service account's requests (its token); absent: the admin's */
  user?: string;
  /** refused by RBAC (a service account's request no role allows) */
  denied?: boolean;
}

export interface Faults {
  /** Deployments ("namespace/name") whose pods never become ready */
  neverReady: string[];
  /** requests answered 403 Forbidden, as RBAC would: a verb (list, delete, …) on a kind, optionally only in one namespace */
  forbid?: Array<{ verb: string; kind: string; namespace?: string }>;
  /** `kubeadm join` (the stand-in's POST /_sandbox/kubeadm/join) held until this is cleared (at most 10 min): a join that takes its time */
  holdJoin?: boolean;
}

const BODY_LIMIT = 3 * 1024 * 1024;

const BOOKMARK_EVERY_MS = 60_000;

export class KubeApi extends KubeTokens {
  private counts = new Map<string, RequestCount>();
  private access = new Map<string, AccessEntry>();
  faults: Faults = { neverReady: [] };
  private readonly watches = new Set<ServerResponse>();
  /** called when faults change (the controller re-checks held-back Deployments) */
  onFaultsChanged: () => void = () => undefined;

  // ---------- counters and faults ----------

  requestCounts(): { total: number; writes: number; byVerb: Record<string, number>; byKind: Record<string, number>; entries: RequestCount[]; access: AccessEntry[] } {
    const entries = [...this.counts.values()].sort((a, b) => `${a.verb}${a.kind}`.localeCompare(`${b.verb}${b.kind}`));
    const byVerb: Record<string, number> = {};
    const byKind: Record<string, number> = {};
    let total = 0;
    let writes = 0;
    for (const e of entries) {
      total += e.count;
      byVerb[e.verb] = (byVerb[e.verb] ?? 0) + e.count;
      byKind[e.kind] = (byKind[e.kind] ?? 0) + e.count;
      if (!e.dryRun && ['create', 'update', 'patch', 'delete', 'deletecollection'].includes(e.verb)) writes += e.count;
    }
    return { total, writes, byVerb, byKind, entries, access: [...this.access.values()].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))) };
  }

  resetCounts(): void {
    this.counts = new Map();
    this.access = new Map();
  }

  /** what RBAC would be asked: verb, API group, resource (with subresource), cluster-wide or in which namespace */
  private recordAccess(verb: string, t: Target, user?: ServiceAccountUser): void {
    const e: AccessEntry = { verb, group: t.r.group, resource: t.sub ? `${t.r.plural}/${t.sub}` : t.r.plural, ...(t.namespace !== undefined ? { namespace: t.namespace } : {}), ...(user ? { user: user.username } : {}) };
    this.access.set(JSON.stringify(e), e);
  }

  private count(verb: string, kind: string, dryRun: boolean, namespace?: string): void {
    const key = `${verb}|${kind}|${dryRun}|${namespace ?? ''}`;
    const c = this.counts.get(key) ?? { verb, kind, dryRun, ...(namespace ? { namespace } : {}), count: 0 };
    c.count++;
    this.counts.set(key, c);
  }

  closeWatches(): void {
    for (const w of this.watches) w.end();
    this.watches.clear();
  }

  // ---------- HTTP ----------

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const auth = req.headers.authorization ?? '';
      const url = new URL(req.url ?? '/', 'https://emulator');
      if (['/healthz', '/livez', '/readyz'].includes(url.pathname)) { res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok'); return; }
      // like system:public-info-viewer: the version is no secret
      if (url.pathname === '/version') return send(res, 200, VERSION);
      // a joining node authenticates with its bootstrap token (kubeadm.ts)
      if (url.pathname === '/_sandbox/kubeadm/join' && req.method === 'POST') return await this.kubeadmJoin(req, res, auth);
      // the admin token, or a service-account token this server signed (then RBAC decides: rbac.ts)
      let user: ServiceAccountUser | undefined;
      if (!sameSecret(auth, `Bearer ${this.opts.pki.adminToken}`)) {
        user = auth.startsWith('Bearer ') ? authenticateServiceAccount(this.store, this.opts.pki.signingKey, ISSUER, auth.slice(7)) : undefined;
        if (!user) throw new ApiError(401, 'Unauthorized', 'Unauthorized');
      }
      await this.route(req, res, url, user);
    } catch (e) {
      const err = e instanceof ApiError ? e : e instanceof PatchError ? new ApiError(422, 'Invalid', e.message) : new ApiError(500, 'InternalError', `Internal error occurred: ${e instanceof Error ? e.message : String(e)}`);
      if (!res.headersSent) send(res, err.code, err.toStatus());
      else res.end();
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse, url: URL, user?: ServiceAccountUser): Promise<void> {
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? 'GET';
    if (parts[0] === '_sandbox') {
      if (user) throw new ApiError(403, 'Forbidden', `forbidden: User "${user.username}" cannot ${method.toLowerCase()} path "${url.pathname}"`);
      return this.sandboxRoute(req, res, parts.slice(1), method);
    }
    if ((url.pathname === '/api' || url.pathname === '/apis') && wantsAggregated(String(req.headers.accept ?? ''))) {
      return send(res, 200, aggregatedDiscovery(this.allResources(), url.pathname === '/api'), { 'Content-Type': AGGREGATED_DISCOVERY, Vary: 'Accept' });
    }
    if (url.pathname === '/api') return send(res, 200, apiVersions(this.opts.serverAddress()), { Vary: 'Accept' });
    if (url.pathname === '/apis') return send(res, 200, apiGroupList(this.allResources()), { Vary: 'Accept' });
    if (parts[0] === 'openapi') return this.openApi(res, parts.slice(1));
    if (url.pathname === '/.well-known/openid-configuration') return send(res, 200, { issuer: ISSUER, jwks_uri: `https://${this.opts.serverAddress()}/openid/v1/jwks`, response_types_supported: ['id_token'], subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['RS256'] });
    if (url.pathname === '/openid/v1/jwks') return send(res, 200, { keys: [{ ...createPublicKey(this.opts.pki.signingKey).export({ format: 'jwk' }), kid: this.opts.pki.signingKid, use: 'sig', alg: 'RS256' }] });
    let rest: string[];
    let group: string;
    let version: string;
    if (parts[0] === 'api' && parts[1] !== undefined) { group = ''; version = parts[1]; rest = parts.slice(2); }
    else if (parts[0] === 'apis' && parts[1] !== undefined) {
      group = parts[1];
      if (parts[2] === undefined) {
        const doc = apiGroupDoc(this.allResources(), group);
        if (!doc) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
        return send(res, 200, doc);
      }
      version = parts[2]; rest = parts.slice(3);
    } else throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    if (rest.length === 0) {
      const list = apiResourceList(this.allResources(), group, version);
      if (!list) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      return send(res, 200, list);
    }
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3 && !(rest.length === 3 && ['status', 'finalize'].includes(rest[2]!))) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const r = this.resource(group, rest[0]!);
    if (!r || !r.versions.includes(version) || rest.length > 3) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    if (namespace !== undefined && !r.namespaced) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const target: Target = { r, version, namespace, name: rest[1], sub: rest[2] };
    if (target.sub !== undefined && !(target.sub === 'status' && r.status) && !r.subresources.includes(target.sub)) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    if (r.namespaced && target.name !== undefined && namespace === undefined) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const q = url.searchParams;
    const dryRun = q.getAll('dryRun').includes('All');
    const ctx: WriteContext = {
      dryRun,
      manager: q.get('fieldManager') ?? (req.headers['user-agent'] ?? 'unknown').split('/')[0]!,
      fieldValidation: q.get('fieldValidation') ?? 'Warn',
      warnings: [],
      managerGiven: (q.get('fieldManager') ?? '') !== '',
    };
    const kindLabel = target.sub === 'token' ? 'TokenRequest' : r.kind;
    const q2 = url.searchParams;
    const rbacVerb = method === 'GET' ? (target.name === undefined ? (q2.get('watch') === 'true' || q2.get('watch') === '1' ? 'watch' : 'list') : 'get')
      : ({ POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: target.name === undefined ? 'deletecollection' : 'delete' } as Record<string, string>)[method] ?? method.toLowerCase();
    this.recordAccess(rbacVerb, target, user);
    if (user) this.checkRbac(user, rbacVerb, target);
    this.checkForbidden(method, target, q);
    if (r.review) {
      if (method !== 'POST' || target.name !== undefined) throw new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
      this.count('create', r.kind, dryRun);
      const raw = await readBody(req);
      const protobuf = String(req.headers['content-type'] ?? '').startsWith('application/vnd.kubernetes.protobuf');
      let body: Obj | undefined;
      try { body = protobuf ? decodeKubernetesProtobuf(raw) : parseJson(raw); } catch (e) { throw badRequest(`the body of the request could not be decoded: ${e instanceof Error ? e.message : String(e)}`); }
      return send(res, 201, this.review(r, body ?? {}));
    }
    if (target.sub === 'scale') return this.scale(req, res, target, method, ctx);
    if (target.sub === 'log') return this.podLog(res, target, q, method);
    if (method === 'GET') {
      const watch = q.get('watch') === 'true' || q.get('watch') === '1';
      this.count(target.name === undefined ? (watch ? 'watch' : 'list') : 'get', kindLabel, false, target.namespace);
      if (watch) return this.watch(res, target, q, wantsTable(req));
      if (target.name === undefined) return this.list(req, res, target, q);
      const obj = this.get(target);
      if (wantsTable(req)) return send(res, 200, toTable(r, version, [obj], String(this.store.rv)));
      return send(res, 200, obj);
    }
    const verb = { POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: target.name === undefined ? 'deletecollection' : 'delete' }[method];
    if (!verb) throw new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
    this.count(verb, kindLabel, dryRun, target.namespace);
    let body = await readBody(req);
    const mediaType = String(req.headers['content-type'] ?? '').split(';')[0]!.trim();
    if (mediaType === 'application/vnd.kubernetes.protobuf' && method !== 'PATCH') {
      let decoded: Obj | undefined;
      try { decoded = decodeKubernetesProtobuf(body); } catch (e) { throw badRequest(`the body of the request could not be decoded: ${e instanceof Error ? e.message : String(e)}`); }
      if (!decoded) throw new ApiError(415, 'UnsupportedMediaType', `protobuf bodies are understood for Namespace, ConfigMap, Secret, ServiceAccount, Service, Deployment and TokenRequest only; send ${r.kind} as application/json`);
      body = Buffer.from(JSON.stringify(decoded));
    } else if (mediaType.includes('protobuf') || mediaType.includes('cbor')) {
      throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml`);
    }
    // validating admission webhooks see the object as it would be stored (dry runs too)
    if ((method === 'POST' || method === 'PUT' || method === 'PATCH') && target.sub === undefined) {
      await this.admitWrite(target, method, body, String(req.headers['content-type'] ?? ''), ctx, q.get('force') === 'true');
    }
    let result: { code: number; object: Obj };
    if (method === 'POST' && target.sub === 'token') result = { code: 201, object: this.tokenRequest(target, parseJson(body)) };
    else if (method === 'POST') {
      if (target.name !== undefined) throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
      result = { code: 201, object: this.create(target, parseJson(body), ctx) };
    } else if (method === 'PUT') result = this.update(target, parseJson(body), ctx);
    else if (method === 'PATCH') result = this.patch(target, body, String(req.headers['content-type'] ?? ''), ctx, q.get('force') === 'true');
    else result = this.remove(target, body.length ? parseJson(body) : {}, q, ctx);
    const headers: Record<string, string> = {};
    if (ctx.warnings.length) headers.Warning = ctx.warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', ');
    send(res, result.code, result.object, headers);
  }

  /** The scale subresource (`kubectl scale`): an autoscaling/v1 Scale view of spec.replicas. */
  private async scale(req: IncomingMessage, res: ServerResponse, t: Target, method: string, ctx: WriteContext): Promise<void> {
    const old = this.store.get(storeKey(t.r), t.namespace, t.name!);
    if (!old) throw notFound(t.r, t.name!);
    const scaleOf = (o: Obj): Obj => {
      const m = metaOf(o);
      const labels = (((o.spec as Obj | undefined)?.selector as Obj | undefined)?.matchLabels ?? {}) as Record<string, string>;
      return {
        kind: 'Scale', apiVersion: 'autoscaling/v1',
        metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion, creationTimestamp: m.creationTimestamp },
        spec: { replicas: (o.spec as Obj | undefined)?.replicas ?? 1 },
        status: { replicas: (o.status as Obj | undefined)?.replicas ?? 0, selector: Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',') },
      };
    };
    if (method === 'GET') { this.count('get', 'Scale', false); return send(res, 200, scaleOf(old)); }
    if (method !== 'PUT' && method !== 'PATCH') throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    this.count(method === 'PUT' ? 'update' : 'patch', 'Scale', ctx.dryRun);
    const raw = await readBody(req);
    const current = scaleOf(old);
    let next: unknown;
    const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim();
    if (method === 'PUT') next = parseJson(raw);
    else if (type === 'application/json-patch+json') next = jsonPatch(current, parseJson(raw, true));
    else if (type === 'application/merge-patch+json' || type === 'application/strategic-merge-patch+json') next = mergePatch(current, parseJson(raw));
    else throw new ApiError(415, 'UnsupportedMediaType', 'the scale subresource takes JSON, merge or strategic merge patches');
    const replicas = isObject(next) && isObject(next.spec) ? next.spec.replicas : undefined;
    if (!Number.isInteger(replicas) || (replicas as number) < 0) throw invalid({ ...t.r, kind: 'Scale', group: 'autoscaling' }, t.name!, [{ reason: 'FieldValueInvalid', field: 'spec.replicas', message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0` }]);
    const rv = isObject(next) && isObject(next.metadata) ? next.metadata.resourceVersion : undefined;
    const updated = this.commitUpdate({ ...t, sub: undefined }, old, { ...clone(old), metadata: { ...metaOf(old), resourceVersion: rv ?? metaOf(old).resourceVersion }, spec: { ...(old.spec as Obj), replicas } }, ctx, undefined);
    send(res, 200, scaleOf(updated));
  }

  /** the `forbid` fault: a 403 Status worded as the real API server's RBAC denial */
  /** a service account's request: allowed only by its roles (rbac.ts); a denial is recorded and answered as RBAC's */
  private checkRbac(user: ServiceAccountUser, verb: string, t: Target): void {
    const resource = t.sub ? `${t.r.plural}/${t.sub}` : t.r.plural;
    if (authorize(this.store, user, { verb, group: t.r.group, resource, ...(t.namespace !== undefined ? { namespace: t.namespace } : {}), ...(t.name !== undefined ? { name: t.name } : {}) })) return;
    const e: AccessEntry = { verb, group: t.r.group, resource, ...(t.namespace !== undefined ? { namespace: t.namespace } : {}), user: user.username, denied: true };
    this.access.set(JSON.stringify(e), e);
    const where = t.namespace ? ` in the namespace "${t.namespace}"` : ' at the cluster scope';
    throw new ApiError(403, 'Forbidden', `${t.r.group ? `${t.r.plural}.${t.r.group}` : t.r.plural}${t.name ? ` "${t.name}"` : ''} is forbidden: User "${user.username}" cannot ${verb} resource "${resource}" in API group "${t.r.group}"${where}`);
  }

  private checkForbidden(method: string, t: Target, q: URLSearchParams): void {
    const rules = this.faults.forbid ?? [];
    if (rules.length === 0) return;
    const watch = q.get('watch') === 'true' || q.get('watch') === '1';
    const verb = method === 'GET' ? (t.name === undefined ? (watch ? 'watch' : 'list') : 'get') : ({ POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: t.name === undefined ? 'deletecollection' : 'delete' } as Record<string, string>)[method];
    const hit = rules.find((f) => f.verb === verb && f.kind === t.r.kind && (f.namespace === undefined || f.namespace === t.namespace));
    if (!hit) return;
    this.count(`${verb}-forbidden`, t.r.kind, false);
    const resource = t.r.group ? `${t.r.plural}.${t.r.group}` : t.r.plural;
    const where = t.namespace ? ` in the namespace "${t.namespace}"` : ' at the cluster scope';
    throw new ApiError(403, 'Forbidden', `${resource}${t.name ? ` "${t.name}"` : ''} is forbidden: User "system:serviceaccount:mixmesh-system:mixmesh" cannot ${verb} resource "${t.r.plural}" in API group "${t.r.group}"${where}`);
  }

  private async sandboxRoute(req: IncomingMessage, res: ServerResponse, parts: string[], method: string): Promise<void> {
    if (parts[0] === 'requests' && method === 'GET') return send(res, 200, this.requestCounts());
    if (parts[0] === 'requests' && method === 'DELETE') { this.resetCounts(); return send(res, 200, this.requestCounts()); }
    if (parts[0] === 'faults' && method === 'GET') return send(res, 200, this.faults);
    if (parts[0] === 'faults' && method === 'PUT') {
      const body = parseJson(await readBody(req));
      const neverReady = body.neverReady ?? [];
      if (!Array.isArray(neverReady) || !neverReady.every((x) => typeof x === 'string' && /^[^/]+\/[^/]+$/.test(x))) {
        throw badRequest('faults.neverReady: must be a list of "namespace/name" Deployment references');
      }
      const forbid = body.forbid ?? [];
      if (!Array.isArray(forbid) || !forbid.every((f) => isObject(f) && typeof f.verb === 'string' && typeof f.kind === 'string' && (f.namespace === undefined || typeof f.namespace === 'string'))) {
        throw badRequest('faults.forbid: must be a list of {verb, kind, namespace?}');
      }
      if (body.holdJoin !== undefined && typeof body.holdJoin !== 'boolean') throw badRequest('faults.holdJoin: true or false');
      this.faults = { neverReady: neverReady as string[], forbid: forbid as Faults['forbid'], ...(body.holdJoin ? { holdJoin: true } : {}) };
      this.onFaultsChanged();
      return send(res, 200, this.faults);
    }
    if (parts[0] === 'kubeadm' && parts[1] === 'token-delete' && method === 'POST') {
      const body = parseJson(await readBody(req));
      const id = typeof body.token === 'string' ? body.token.split('.')[0]! : '';
      if (!/^[a-z0-9]{6}$/.test(id)) throw badRequest(`token ${JSON.stringify(body.token)}: a bootstrap token ID ([a-z0-9]{6}) or a whole token is required`);
      const secret = this.internalGet('v1', 'Secret', 'kube-system', `bootstrap-token-${id}`);
      if (!secret) throw new ApiError(404, 'NotFound', `secrets "bootstrap-token-${id}" not found`, { name: `bootstrap-token-${id}`, kind: 'secrets' });
      this.internalDelete(secret);
      return send(res, 200, { kind: 'Status', apiVersion: 'v1', status: 'Success', message: `bootstrap token "${id}" deleted` });
    }
    throw new ApiError(404, 'NotFound', 'no such sandbox route (GET/DELETE /_sandbox/requests, GET/PUT /_sandbox/faults, POST /_sandbox/kubeadm/join, POST /_sandbox/kubeadm/token-delete)');
  }

  /** pods/log: the kubelet of the pod's node answers (podlog.ts) */
  private async podLog(res: ServerResponse, t: Target, q: URLSearchParams, method: string): Promise<void> {
    if (method !== 'GET') throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    const text = await podLog({ caPem: this.opts.pki.caPem, token: this.opts.pki.adminToken, getNode: (name) => this.internalGet('v1', 'Node', undefined, name) }, this.get(t), q);
    res.writeHead(200, { 'Content-Type': 'text/plain' }).end(text);
  }

  private async kubeadmJoin(req: IncomingMessage, res: ServerResponse, auth: string): Promise<void> {
    let body: unknown;
    try { body = JSON.parse((await readBody(req)).toString('utf8') || '{}'); } catch { throw badRequest('the join request must be JSON: {"nodeName", "caCertHashes"}'); }
    // fault: the join takes its time (polled with backoff, at most 10 min)
    for (let delay = 50, until = Date.now() + 600_000; this.faults.holdJoin && Date.now() < until; delay = Math.min(delay * 2, 500)) await new Promise((r) => setTimeout(r, delay));
    const answer = kubeadmJoin({
      caPem: this.opts.pki.caPem, kubeletToken: this.opts.pki.adminToken, server: `https://${this.opts.serverAddress()}`,
      getSecret: (name) => this.internalGet('v1', 'Secret', 'kube-system', name),
      getNode: (name) => this.internalGet('v1', 'Node', undefined, name),
    }, auth, body);
    if (!answer.kubeconfig) {
      // the stand-in kubeadm (busybox wget) sees neither the body nor the headers of an error: the
      // message also goes in the status line's reason phrase
      res.writeHead(answer.status, answer.message.replace(/[^\x20-\x7e]/g, ' '), { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(new ApiError(answer.status, answer.reason, answer.message).toStatus()));
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/yaml' }).end(answer.kubeconfig);
  }

  private openApi(res: ServerResponse, parts: string[]): void {
    if (parts[0] !== 'v3') throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const resources = this.allResources();
    if (parts.length === 1) return send(res, 200, openApiIndex(resources, String(this.store.rv)));
    const [group, version] = parts[1] === 'api' ? ['', parts[2] ?? ''] : [parts[2] ?? '', parts[3] ?? ''];
    const doc = openApiDocument(resources, group, version);
    if (!doc) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    send(res, 200, doc);
  }

  // ---------- reads ----------

  private get(t: Target): Obj {
    const obj = this.store.get(storeKey(t.r), t.namespace, t.name!);
    if (!obj) throw notFound(t.r, t.name!);
    return this.present(t.r, t.version, obj);
  }

  private list(req: IncomingMessage, res: ServerResponse, t: Target, q: URLSearchParams): void {
    const match = this.selected(t, q);
    const page = pageOf(this.store.list(storeKey(t.r), t.namespace).filter(match), q, String(this.store.rv)); // limit/continue (paging.ts)
    const items = page.items.map((o) => this.present(t.r, t.version, o));
    const rv = page.metadata.resourceVersion;
    if (wantsTable(req)) return send(res, 200, { ...toTable(t.r, t.version, items, rv), metadata: page.metadata });
    send(res, 200, { apiVersion: groupVersion(t.r.group, t.version), kind: t.r.listKind, metadata: page.metadata, items });
  }

  private watch(res: ServerResponse, t: Target, q: URLSearchParams, table: boolean): void {
    const key = storeKey(t.r);
    const match = this.selected(t, q);
    const rvParam = q.get('resourceVersion') ?? '';
    // `kubectl get -w` asks for Tables: each event then carries a one-row Table
    const shape = (type: string, object: Obj) => (table && type !== 'ERROR' && type !== 'BOOKMARK' ? toTable(t.r, t.version, [object], String(metaOf(object).resourceVersion ?? this.store.rv)) : object);
    const write = (type: string, object: Obj) => res.write(`${JSON.stringify({ type, object: shape(type, object) })}\n`);
    let backlog: StoreEvent[] | undefined = [];
    if (rvParam !== '' && rvParam !== '0') {
      backlog = this.store.since(Number(rvParam));
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();
    if (!backlog) {
      write('ERROR', new ApiError(410, 'Expired', `too old resource version: ${rvParam} (${this.store.oldestRv})`).toStatus());
      res.end();
      return;
    }
    const initial = q.get('sendInitialEvents') === 'true';
    if (rvParam === '' || rvParam === '0' || initial) for (const o of this.store.list(key, t.namespace).filter(match)) write('ADDED', this.present(t.r, t.version, o));
    const bookmark = (annotations?: Record<string, string>) => write('BOOKMARK', { apiVersion: groupVersion(t.r.group, t.version), kind: t.r.kind, metadata: { resourceVersion: String(this.store.rv), ...(annotations ? { annotations } : {}) } });
    // watch-list clients learn that the initial state is complete from this bookmark
    if (initial) bookmark({ 'k8s.io/initial-events-end': 'true' });
    else for (const e of backlog) if (e.key === key && match(e.object)) write(e.type, this.present(t.r, t.version, e.object));
    const unsubscribe = this.store.subscribe((e) => {
      if (e.key === key && match(e.object)) write(e.type, this.present(t.r, t.version, e.object));
    });
    const timeout = Number(q.get('timeoutSeconds') ?? 1800);
    const timer = setTimeout(() => res.end(), Math.max(1, timeout) * 1000);
    const bookmarks = q.get('allowWatchBookmarks') === 'true' ? setInterval(() => bookmark(), BOOKMARK_EVERY_MS) : undefined;
    this.watches.add(res);
    // the client leaving shows as the response closing (req 'close' fires when the body is read)
    res.on('close', () => { unsubscribe(); clearTimeout(timer); clearInterval(bookmarks); this.watches.delete(res); });
  }
}

/** 1.32: a lower minor makes the kubectl dispatcher pick an older kubectl (docs/sandbox.md). */
const VERSION = { major: '1', minor: '32', gitVersion: 'v1.32.0', gitCommit: 'mixmesh-sandbox', gitTreeState: 'clean', buildDate: '2026-01-01T00:00:00Z', goVersion: 'go1.23.4', compiler: 'gc', platform: 'linux/amd64' };

function sameSecret(a: string, b: string): boolean {
  const h = (x: string) => createHash('sha256').update(x).digest();
  return timingSafeEqual(h(a), h(b));
}

function wantsTable(req: IncomingMessage): boolean {
  return /as=Table/.test(String(req.headers.accept ?? ''));
}

function send(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  // nothing may be cached without asking again: CRDs change discovery and OpenAPI at run time
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-cache, private', ...headers });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > BODY_LIMIT) throw new ApiError(413, 'RequestEntityTooLarge', 'the request body is too large');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
