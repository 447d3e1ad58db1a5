/**
 * The Kubernetes API emulator's request handling: discovery, CRUD for every served resource,
 * patches (merge, JSON, strategic, server-side apply), the status subresource, TokenRequest,
 * watches, Tables, dryRun, finalizers. Built to the API conventions closely enough that kubectl
 * and @kubernetes/client-node work unchanged against it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID, randomBytes, sign, verify, createPublicKey, createHash, timingSafeEqual } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { join as kubeadmJoin } from './kubeadm.js';
import { podLog } from './podlog.js';
import { ApiError, qualified, alreadyExists, badRequest, conflict, invalid, notFound } from './errors.js';
import { BUILTIN_RESOURCES, groupVersion, listTypeFor, resourceFromCrd, storeKey, type Obj, type ResourceInfo } from './resources.js';
import { Store, metaOf, type StoreEvent } from './store.js';
import { clone, deepEqual, isObject, jsonPatch, mergePatch, PatchError, strategicMerge, type ListTypeOf } from './patch.js';
import { serverSideApply, trackUpdate, type ManagedFieldsEntry, type Part } from './fields.js';
import { structuralProblems, validateAgainstSchema, type Cause } from './schema.js';
import { celCauses } from './crd-cel.js';
import { admit, type AdmissionWorld } from './admission.js';
import { AGGREGATED_DISCOVERY, aggregatedDiscovery, apiGroupDoc, apiGroupList, apiResourceList, apiVersions, openApiDocument, openApiIndex, toTable, wantsAggregated } from './discovery.js';
import type { Pki } from './pki.js';
import { decodeKubernetesProtobuf } from './protobuf.js';

export type ExtraValidator = (obj: Obj) => string[];

export interface RequestCount { verb: string; kind: string; dryRun: boolean; /** the namespace of a namespaced request */ namespace?: string; count: number }

/** one distinct access, as RBAC sees it (GET /_sandbox/requests `access`) */
export interface AccessEntry {
  verb: string;
  group: string;
  resource: string;
  namespace?: string;
}

export interface Faults {
  /** Deployments ("namespace/name") whose pods never become ready */
  neverReady: string[];
  /** requests answered 403 Forbidden, as RBAC would: a verb (list, delete, …) on a kind, optionally only in one namespace */
  forbid?: Array<{ verb: string; kind: string; namespace?: string }>;
}

export interface ApiOptions {
  pki: Pki;
  extraValidators: Map<string, ExtraValidator>;
  serverAddress: () => string;
}

const BODY_LIMIT = 3 * 1024 * 1024;
const BOOKMARK_EVERY_MS = 60_000;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

export function nowIso(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

interface WriteContext {
  dryRun: boolean;
  manager: string;
  fieldValidation: string;
  warnings: string[];
  /** fieldManager was given in the query (apply requires it) */
  managerGiven: boolean;
}

interface Target {
  r: ResourceInfo;
  version: string;
  namespace?: string;
  name?: string;
  sub?: string;
}

export class KubeApi {
  readonly store = new Store();
  private readonly resources = new Map<string, ResourceInfo>();
  private counts = new Map<string, RequestCount>();
  private access = new Map<string, AccessEntry>();
  faults: Faults = { neverReady: [] };
  private readonly watches = new Set<ServerResponse>();
  /** called after every stored change (persistence) */
  onChange: () => void = () => undefined;
  /** called when faults change (the controller re-checks held-back Deployments) */
  onFaultsChanged: () => void = () => undefined;

  constructor(private readonly opts: ApiOptions) {
    for (const r of BUILTIN_RESOURCES) this.resources.set(storeKey(r), r);
  }

  // ---------- registry ----------

  allResources(): ResourceInfo[] {
    return [...this.resources.values()];
  }

  resource(group: string, plural: string): ResourceInfo | undefined {
    return this.resources.get(`${group}/${plural}`);
  }

  resourceByKind(apiVersion: string, kind: string): ResourceInfo | undefined {
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') as [string, string] : ['', apiVersion];
    return this.allResources().find((r) => r.group === group && r.kind === kind && r.versions.includes(version));
  }

  /** (Re-)register the resource a CRD defines; called for every stored CRD. */
  registerCrd(crd: Obj): void {
    const r = resourceFromCrd(crd);
    if (r) this.resources.set(storeKey(r), r);
  }

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
  private recordAccess(verb: string, t: Target): void {
    const e: AccessEntry = { verb, group: t.r.group, resource: t.sub ? `${t.r.plural}/${t.sub}` : t.r.plural, ...(t.namespace !== undefined ? { namespace: t.namespace } : {}) };
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
      if (!sameSecret(auth, `Bearer ${this.opts.pki.adminToken}`)) throw new ApiError(401, 'Unauthorized', 'Unauthorized');
      await this.route(req, res, url);
    } catch (e) {
      const err = e instanceof ApiError ? e : e instanceof PatchError ? new ApiError(422, 'Invalid', e.message) : new ApiError(500, 'InternalError', `Internal error occurred: ${e instanceof Error ? e.message : String(e)}`);
      if (!res.headersSent) send(res, err.code, err.toStatus());
      else res.end();
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? 'GET';
    if (parts[0] === '_sandbox') return this.sandboxRoute(req, res, parts.slice(1), method);
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
    this.recordAccess(method === 'GET' ? (target.name === undefined ? (q2.get('watch') === 'true' || q2.get('watch') === '1' ? 'watch' : 'list') : 'get')
      : ({ POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: target.name === undefined ? 'deletecollection' : 'delete' } as Record<string, string>)[method] ?? method.toLowerCase(), target);
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

  /** The world admission webhooks are matched and called in (admission.ts). */
  private admissionWorld(): AdmissionWorld {
    return {
      configurations: () => this.internalList('admissionregistration.k8s.io/v1', 'ValidatingWebhookConfiguration'),
      namespaceLabels: (n) => {
        const ns = this.internalGet('v1', 'Namespace', undefined, n);
        const labels = isObject(ns?.metadata) ? (ns!.metadata as Obj).labels : undefined;
        return { 'kubernetes.io/metadata.name': n, ...(isObject(labels) ? (labels as Record<string, string>) : {}) };
      },
      serviceEndpoint: (namespace, name, port) => {
        const svc = this.internalGet('v1', 'Service', namespace, name);
        const ep = this.internalGet('v1', 'Endpoints', namespace, name);
        const svcPort = ((isObject(svc?.spec) && Array.isArray((svc!.spec as Obj).ports) ? (svc!.spec as Obj).ports : []) as Obj[]).find((p) => Number(p.port) === port);
        const subset = (Array.isArray(ep?.subsets) ? ep!.subsets : [])[0] as Obj | undefined;
        const address = ((Array.isArray(subset?.addresses) ? subset!.addresses : []) as Obj[])[0];
        const ports = (Array.isArray(subset?.ports) ? subset!.ports : []) as Obj[];
        const epPort = ports.find((p) => svcPort?.name !== undefined && p.name === svcPort.name) ?? ports[0];
        if (!svcPort || !address || !epPort) return undefined;
        return { host: String(address.ip), port: Number(epPort.port) };
      },
    };
  }

  /** Compute the object a write would store (a dry run of it), then ask the matching webhooks. */
  private async admitWrite(t: Target, method: string, body: Buffer, contentType: string, ctx: WriteContext, force: boolean): Promise<void> {
    const world = this.admissionWorld();
    if (world.configurations().length === 0) return;
    const old = t.name !== undefined ? this.store.get(storeKey(t.r), t.namespace, t.name) : undefined;
    const dry: WriteContext = { ...ctx, dryRun: true, warnings: [] };
    const object = method === 'POST' ? this.create(t, parseJson(body), dry) : method === 'PUT' ? this.update(t, parseJson(body), dry).object : this.patch(t, body, contentType, dry, force).object;
    await admit(world, {
      r: t.r, version: t.version, operation: old ? 'UPDATE' : 'CREATE', namespace: t.namespace, name: String(metaOf(object).name),
      object, oldObject: old ? this.present(t.r, t.version, old) : undefined, dryRun: ctx.dryRun, fieldManager: ctx.manager, username: 'kubernetes-admin',
    });
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
      this.faults = { neverReady: neverReady as string[], forbid: forbid as Faults['forbid'] };
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

  private present(r: ResourceInfo, version: string, obj: Obj): Obj {
    return { ...obj, apiVersion: groupVersion(r.group, version), kind: r.kind };
  }

  private get(t: Target): Obj {
    const obj = this.store.get(storeKey(t.r), t.namespace, t.name!);
    if (!obj) throw notFound(t.r, t.name!);
    return this.present(t.r, t.version, obj);
  }

  private selected(t: Target, q: URLSearchParams): (o: Obj) => boolean {
    const labels = parseLabelSelector(q.get('labelSelector') ?? '');
    const fields = parseFieldSelector(q.get('fieldSelector') ?? '');
    return (o) => (t.namespace === undefined || metaOf(o).namespace === t.namespace) && labels(((metaOf(o).labels ?? {}) as Record<string, string>)) && fields(o);
  }

  private list(req: IncomingMessage, res: ServerResponse, t: Target, q: URLSearchParams): void {
    const match = this.selected(t, q);
    const items = this.store.list(storeKey(t.r), t.namespace).filter(match).map((o) => this.present(t.r, t.version, o));
    const rv = String(this.store.rv);
    if (wantsTable(req)) return send(res, 200, toTable(t.r, t.version, items, rv));
    send(res, 200, { apiVersion: groupVersion(t.r.group, t.version), kind: t.r.listKind, metadata: { resourceVersion: rv }, items });
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

  // ---------- writes ----------

  private listTypeOf(r: ResourceInfo, version: string): ListTypeOf {
    return (names) => listTypeFor(r, version, names);
  }

  private checkNamespace(r: ResourceInfo, namespace: string | undefined, name: string): void {
    if (!r.namespaced) return;
    const ns = this.store.get('/namespaces', undefined, namespace!);
    if (!ns) throw new ApiError(404, 'NotFound', `namespaces "${namespace}" not found`, { name: namespace, kind: 'namespaces' });
    if (metaOf(ns).deletionTimestamp) throw new ApiError(403, 'Forbidden', `${qualified(r)} "${name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`, { name: namespace, kind: 'namespaces', causes: [{ reason: 'NamespaceTerminating', message: `namespace ${namespace} is being terminated`, field: 'metadata.namespace' }] });
  }

  /** Kind-specific defaults and checks shared by create and update. */
  private normalize(r: ResourceInfo, version: string, obj: Obj, old: Obj | undefined, ctx: WriteContext): void {
    const name = String(metaOf(obj).name);
    const causes: Cause[] = [];
    const meta = metaOf(obj);
    for (const field of ['labels', 'annotations'] as const) {
      const m = meta[field];
      if (m !== undefined && (!isObject(m) || Object.values(m).some((v) => typeof v !== 'string'))) causes.push({ reason: 'FieldValueInvalid', field: `metadata.${field}`, message: 'Invalid value: must be a map of strings' });
    }
    if (r.builtin) {
      switch (r.kind) {
        case 'Secret': {
          if (isObject(obj.stringData)) {
            const data = isObject(obj.data) ? obj.data : {};
            for (const [k, v] of Object.entries(obj.stringData)) data[k] = Buffer.from(String(v)).toString('base64');
            obj.data = data;
            delete obj.stringData;
          }
          obj.type ??= 'Opaque';
          break;
        }
        case 'Service': {
          const spec = (obj.spec ??= {}) as Obj;
          spec.type ??= 'ClusterIP';
          if (old && isObject(old.spec) && old.spec.clusterIP) spec.clusterIP = old.spec.clusterIP;
          if (spec.clusterIP === undefined) spec.clusterIP = `10.96.${Math.floor(Math.random() * 250) + 1}.${Math.floor(Math.random() * 250) + 1}`;
          spec.clusterIPs ??= spec.clusterIP === 'None' ? ['None'] : [spec.clusterIP];
          const ports = Array.isArray(spec.ports) ? spec.ports as Obj[] : [];
          const oldPorts = ((old?.spec as Obj | undefined)?.ports as Obj[] | undefined) ?? [];
          ports.forEach((p, i) => {
            if (typeof p.port !== 'number') causes.push({ reason: 'FieldValueRequired', field: `spec.ports[${i}].port`, message: 'Required value' });
            p.protocol ??= 'TCP';
            p.targetPort ??= p.port;
            if ((spec.type === 'NodePort' || spec.type === 'LoadBalancer') && p.nodePort === undefined) {
              p.nodePort = oldPorts.find((o) => o.port === p.port)?.nodePort ?? 30000 + Math.floor(Math.random() * 2768);
            }
          });
          if (!obj.status) obj.status = { loadBalancer: {} };
          break;
        }
        case 'Deployment': {
          const spec = (obj.spec ??= {}) as Obj;
          spec.replicas ??= 1;
          const selector = (spec.selector as Obj | undefined)?.matchLabels as Record<string, string> | undefined;
          const tmplLabels = ((spec.template as Obj | undefined)?.metadata as Obj | undefined)?.labels as Record<string, string> | undefined;
          if (!selector) causes.push({ reason: 'FieldValueRequired', field: 'spec.selector', message: 'Required value' });
          else if (!Object.entries(selector).every(([k, v]) => tmplLabels?.[k] === v)) causes.push({ reason: 'FieldValueInvalid', field: 'spec.template.metadata.labels', message: `Invalid value: ${JSON.stringify(tmplLabels ?? {})}: \`selector\` does not match template \`labels\`` });
          const containers = ((spec.template as Obj | undefined)?.spec as Obj | undefined)?.containers;
          if (!Array.isArray(containers) || containers.length === 0) causes.push({ reason: 'FieldValueRequired', field: 'spec.template.spec.containers', message: 'Required value' });
          else (containers as Obj[]).forEach((c, i) => {
            if (typeof c.name !== 'string') causes.push({ reason: 'FieldValueRequired', field: `spec.template.spec.containers[${i}].name`, message: 'Required value' });
            if (typeof c.image !== 'string') causes.push({ reason: 'FieldValueRequired', field: `spec.template.spec.containers[${i}].image`, message: 'Required value' });
          });
          if (old && !deepEqual((old.spec as Obj | undefined)?.selector, spec.selector)) causes.push({ reason: 'FieldValueInvalid', field: 'spec.selector', message: `Invalid value: ${JSON.stringify(spec.selector)}: field is immutable` });
          obj.status ??= {};
          break;
        }
        case 'Namespace': {
          meta.labels = { ...(meta.labels as Obj | undefined), 'kubernetes.io/metadata.name': name };
          if (!old) { obj.spec = { finalizers: ['kubernetes'] }; obj.status = { phase: 'Active' }; }
          break;
        }
        case 'ConfigMap': {
          if (obj.data !== undefined && (!isObject(obj.data) || Object.values(obj.data).some((v) => typeof v !== 'string'))) causes.push({ reason: 'FieldValueInvalid', field: 'data', message: 'Invalid value: must be a map of strings' });
          break;
        }
        case 'Pod': {
          if (!old) obj.status = { phase: 'Pending', ...(isObject(obj.status) ? obj.status : {}) };
          break;
        }
        case 'CustomResourceDefinition': this.checkCrd(obj, name, causes); break;
        default: break;
      }
    } else {
      const schema = r.schemas?.[version];
      if (schema) {
        const check = validateAgainstSchema(obj, schema);
        causes.push(...check.causes);
        // the CRD's CEL rules, once the object has the right shape
        if (check.causes.length === 0) causes.push(...celCauses(schema, obj, old));
        if (check.unknownFields.length) {
          if (ctx.fieldValidation === 'Strict') throw badRequest(`${r.kind} in version "${version}" cannot be handled as a ${r.kind}: strict decoding error: ${check.unknownFields.map((f) => `unknown field "${f}"`).join(', ')}`);
          if (ctx.fieldValidation !== 'Ignore') ctx.warnings.push(...check.unknownFields.map((f) => `unknown field "${f}"`));
        }
      }
    }
    const extra = this.opts.extraValidators.get(`${groupVersion(r.group, version)}/${r.kind}`);
    if (extra && causes.length === 0) {
      for (const line of extra(obj)) {
        const i = line.indexOf(': ');
        const pointer = i >= 0 ? line.slice(0, i) : '';
        causes.push({ reason: 'FieldValueInvalid', field: pointerToField(pointer), message: i >= 0 ? line.slice(i + 2) : line });
      }
    }
    if (causes.length) throw invalid(r, name, causes);
  }

  private checkCrd(obj: Obj, name: string, causes: Cause[]): void {
    const spec = obj.spec as Obj | undefined;
    const names = spec?.names as Obj | undefined;
    if (!spec || typeof spec.group !== 'string' || spec.group === '') causes.push({ reason: 'FieldValueRequired', field: 'spec.group', message: 'Required value' });
    if (!names || typeof names.plural !== 'string') causes.push({ reason: 'FieldValueRequired', field: 'spec.names.plural', message: 'Required value' });
    if (!names || typeof names.kind !== 'string') causes.push({ reason: 'FieldValueRequired', field: 'spec.names.kind', message: 'Required value' });
    if (spec && !['Namespaced', 'Cluster'].includes(String(spec.scope))) causes.push({ reason: 'FieldValueNotSupported', field: 'spec.scope', message: `Unsupported value: "${String(spec.scope ?? '')}": supported values: "Cluster", "Namespaced"` });
    if (spec && names && name !== `${String(names.plural)}.${String(spec.group)}`) causes.push({ reason: 'FieldValueInvalid', field: 'metadata.name', message: `Invalid value: "${name}": must be spec.names.plural+"."+spec.group` });
    const versions = (spec?.versions as Obj[] | undefined) ?? [];
    if (versions.length === 0) causes.push({ reason: 'FieldValueInvalid', field: 'spec.versions', message: 'Invalid value: null: must have exactly one version marked as storage version' });
    else if (versions.filter((v) => v.storage === true).length !== 1) causes.push({ reason: 'FieldValueInvalid', field: 'spec.versions', message: `Invalid value: ${JSON.stringify(versions.map((v) => v.name))}: must have exactly one version marked as storage version` });
    versions.forEach((v, i) => {
      const schema = (v.schema as Obj | undefined)?.openAPIV3Schema;
      causes.push(...structuralProblems(schema, `spec.versions[${i}].schema.openAPIV3Schema`));
    });
    if (causes.length === 0 && spec && names) {
      const other = this.resource(String(spec.group), String(names.plural));
      if (other && other.builtin) causes.push({ reason: 'FieldValueInvalid', field: 'spec.names.plural', message: 'Invalid value: is a built-in resource' });
      // an unchanged condition keeps its transition time, so a no-op re-apply stays a no-op
      const before = ((isObject(obj.status) ? obj.status.conditions : undefined) as Obj[] | undefined) ?? [];
      const since = (type: string) => (before.find((c) => c.type === type && c.status === 'True')?.lastTransitionTime as string | undefined) ?? nowIso();
      obj.status = {
        acceptedNames: { ...names, singular: names.singular ?? String(names.kind).toLowerCase(), listKind: names.listKind ?? `${String(names.kind)}List` },
        conditions: [
          { type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found', lastTransitionTime: since('NamesAccepted') },
          { type: 'Established', status: 'True', reason: 'InitialNamesAccepted', message: 'the initial names have been accepted', lastTransitionTime: since('Established') },
        ],
        storedVersions: versions.filter((v) => v.storage === true).map((v) => v.name),
      };
    }
  }

  private stored(r: ResourceInfo, obj: Obj, type: 'ADDED' | 'MODIFIED'): Obj {
    metaOf(obj).resourceVersion = String(this.store.nextRv());
    this.store.put(storeKey(r), obj, type);
    if (r.kind === 'CustomResourceDefinition' && r.builtin) this.registerCrd(obj);
    this.onChange();
    return obj;
  }

  create(t: Target, body: Obj, ctx: WriteContext, internal = false): Obj {
    const { r, version } = t;
    if (!isObject(body)) throw badRequest('the body of the request was in an unknown format');
    const obj = clone(body);
    if (obj.kind !== undefined && obj.kind !== r.kind) throw badRequest(`the kind in the data (${String(obj.kind)}) does not match the kind on the URL (${r.kind})`);
    obj.apiVersion = groupVersion(r.group, version);
    obj.kind = r.kind;
    const meta = metaOf(obj);
    if (meta.name === undefined && typeof meta.generateName === 'string') meta.name = `${meta.generateName}${randomBytes(4).toString('hex').slice(0, 5)}`;
    if (typeof meta.name !== 'string' || meta.name === '') throw invalid(r, '', [{ reason: 'FieldValueRequired', field: 'metadata.name', message: 'Required value: name or generateName is required' }]);
    const name = meta.name;
    const nameRule = r.kind === 'Namespace' ? DNS1123_LABEL : r.kind === 'Service' ? DNS1035_LABEL : DNS1123_SUBDOMAIN;
    if (!nameRule.test(name) || name.length > (nameRule === DNS1123_SUBDOMAIN ? 253 : 63)) {
      throw invalid(r, name, [{ reason: 'FieldValueInvalid', field: 'metadata.name', message: `Invalid value: "${name}": a lowercase RFC 1123 ${nameRule === DNS1123_SUBDOMAIN ? 'subdomain' : 'label'} must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character` }]);
    }
    if (r.namespaced) {
      if (meta.namespace !== undefined && meta.namespace !== t.namespace) throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      meta.namespace = t.namespace;
      this.checkNamespace(r, t.namespace, name);
    } else delete meta.namespace;
    if (this.store.get(storeKey(r), t.namespace, name)) throw alreadyExists(r, name);
    if (r.status && !internal && r.kind !== 'Pod') delete obj.status;
    for (const k of ['uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'generation', 'managedFields', 'selfLink']) delete meta[k];
    this.normalize(r, version, obj, undefined, ctx);
    const now = nowIso();
    meta.uid = randomUUID();
    meta.creationTimestamp = now;
    if (tracksGeneration(r)) meta.generation = 1;
    meta.managedFields = trackUpdate(undefined, obj, { manager: ctx.manager, apiVersion: obj.apiVersion as string, listTypeOf: this.listTypeOf(r, version), part: 'all', statusSubresource: r.status, now });
    if (ctx.dryRun) return this.present(r, version, obj);
    return this.present(r, version, this.stored(r, obj, 'ADDED'));
  }

  /** Shared tail of PUT and PATCH: keep what the server owns, validate, bump generation, store. */
  private commitUpdate(t: Target, old: Obj, next: Obj, ctx: WriteContext, managedFields: ManagedFieldsEntry[] | undefined): Obj {
    const { r, version } = t;
    const part: Part = t.sub === 'status' ? 'status' : 'main';
    const meta = metaOf(next);
    const oldMeta = metaOf(old);
    if (meta.name !== oldMeta.name) throw badRequest(`the name of the object (${String(meta.name)}) does not match the name on the URL (${String(oldMeta.name)})`);
    if (r.namespaced && meta.namespace !== undefined && meta.namespace !== oldMeta.namespace) throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    if (meta.resourceVersion !== undefined && meta.resourceVersion !== '' && meta.resourceVersion !== oldMeta.resourceVersion) throw conflict(r, String(oldMeta.name));
    let obj: Obj;
    if (part === 'status') {
      obj = { ...clone(old), status: clone(next.status) };
      if (r.kind === 'Namespace' && t.sub === 'finalize') obj.spec = clone(next.spec);
    } else {
      obj = clone(next);
      if (r.status) { if (old.status === undefined) delete obj.status; else obj.status = clone(old.status); }
      if (r.kind === 'Namespace' && t.sub !== 'finalize') obj.spec = clone(old.spec);
    }
    if (t.sub === 'finalize') obj = { ...clone(old), spec: clone(next.spec) };
    obj.apiVersion = groupVersion(r.group, version);
    obj.kind = r.kind;
    const m = metaOf(obj);
    for (const k of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'namespace', 'name']) {
      if (oldMeta[k] === undefined) delete m[k];
      else m[k] = oldMeta[k];
    }
    m.resourceVersion = oldMeta.resourceVersion;
    if (oldMeta.deletionTimestamp && Array.isArray(m.finalizers)) {
      // finalizers may only be removed once deletion started
      m.finalizers = (m.finalizers as string[]).filter((f) => ((oldMeta.finalizers as string[] | undefined) ?? []).includes(f));
    }
    this.normalize(r, version, obj, old, ctx);
    const specOf = (o: Obj) => Object.fromEntries(Object.entries(o).filter(([k]) => !['metadata', 'status', 'apiVersion', 'kind'].includes(k)));
    if (tracksGeneration(r)) m.generation = part === 'main' && !deepEqual(specOf(old), specOf(obj)) ? Number(oldMeta.generation ?? 1) + 1 : oldMeta.generation;
    else delete m.generation;
    m.managedFields = managedFields ?? trackUpdate(old, obj, { manager: ctx.manager, apiVersion: obj.apiVersion as string, listTypeOf: this.listTypeOf(r, version), part: t.sub === 'status' ? 'status' : 'main', statusSubresource: r.status, now: nowIso() });
    // a write that changes nothing is a no-op: same resourceVersion, no event
    if (deepEqual(obj, { ...old, apiVersion: obj.apiVersion, kind: obj.kind })) return this.present(r, version, old);
    if (ctx.dryRun) return this.present(r, version, obj);
    if (m.deletionTimestamp && (((m.finalizers as string[] | undefined) ?? []).length === 0) && !(r.kind === 'Namespace')) {
      return this.present(r, version, this.store.remove(storeKey(r), obj));
    }
    return this.present(r, version, this.stored(r, obj, 'MODIFIED'));
  }

  update(t: Target, body: Obj, ctx: WriteContext): { code: number; object: Obj } {
    if (t.name === undefined) throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    if (!isObject(body)) throw badRequest('the body of the request was in an unknown format');
    const old = this.store.get(storeKey(t.r), t.namespace, t.name);
    if (!old) throw notFound(t.r, t.name);
    if (body.kind !== undefined && body.kind !== t.r.kind) throw badRequest(`the kind in the data (${String(body.kind)}) does not match the kind on the URL (${t.r.kind})`);
    return { code: 200, object: this.commitUpdate(t, old, clone(body), ctx, undefined) };
  }

  patch(t: Target, raw: Buffer, contentType: string, ctx: WriteContext, force: boolean): { code: number; object: Obj } {
    const { r, version } = t;
    if (t.name === undefined) throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    const type = contentType.split(';')[0]!.trim();
    const old = this.store.get(storeKey(r), t.namespace, t.name);
    const listTypeOf = this.listTypeOf(r, version);
    if (type === 'application/apply-patch+yaml' || type === 'application/apply-patch+cbor') {
      let applied: unknown;
      try { applied = parseYaml(raw.toString('utf8')); } catch (e) { throw badRequest(`error decoding YAML: ${e instanceof Error ? e.message : String(e)}`); }
      if (!isObject(applied)) throw badRequest('the body of the request was in an unknown format');
      if (!ctx.managerGiven) throw invalid(r, t.name, [{ reason: 'FieldValueRequired', field: 'fieldManager', message: 'Required value: is required for apply patch' }]);
      if (applied.kind !== r.kind || applied.apiVersion !== groupVersion(r.group, version)) {
        throw badRequest(`the apiVersion/kind in the body (${String(applied.apiVersion)}/${String(applied.kind)}) does not match the URL (${groupVersion(r.group, version)}/${r.kind})`);
      }
      const am = metaOf(applied);
      if (am.name !== undefined && am.name !== t.name) throw badRequest(`the name of the object (${String(am.name)}) does not match the name on the URL (${t.name})`);
      const part: Part = t.sub === 'status' ? 'status' : 'main';
      const result = serverSideApply(old ? this.present(r, version, old) : undefined, applied, { manager: ctx.manager, apiVersion: groupVersion(r.group, version), force, listTypeOf, part, statusSubresource: r.status, now: nowIso() });
      if (result.conflicts.length > 0) {
        const byManager = new Map<string, string[]>();
        for (const c of result.conflicts) byManager.set(`"${c.manager}" using ${c.apiVersion}`, [...(byManager.get(`"${c.manager}" using ${c.apiVersion}`) ?? []), c.field]);
        const n = result.conflicts.length;
        const text = [...byManager].map(([who, fields]) => (n === 1 ? `conflict with ${who}: ${fields[0]}` : `conflicts with ${who}:\n${fields.map((f) => `- ${f}`).join('\n')}`)).join('\n');
        throw new ApiError(409, 'Conflict', `Apply failed with ${n} conflict${n === 1 ? '' : 's'}: ${text}`, {
          name: t.name, group: r.group, kind: r.plural,
          causes: result.conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with "${c.manager}" using ${c.apiVersion}`, field: c.field })),
        });
      }
      if (!old) {
        const created = this.create(t, { ...result.object, metadata: { ...metaOf(result.object), name: t.name, namespace: t.namespace, managedFields: undefined } }, ctx);
        // the creating apply owns every field it set
        const mf = metaOf(result.object).managedFields;
        const stored = ctx.dryRun ? created : this.store.get(storeKey(r), t.namespace, t.name)!;
        metaOf(stored).managedFields = mf;
        metaOf(created).managedFields = mf;
        return { code: 201, object: created };
      }
      const next = result.object;
      metaOf(next).resourceVersion = metaOf(applied).resourceVersion ?? metaOf(old).resourceVersion;
      return { code: 200, object: this.commitUpdate(t, old, next, ctx, metaOf(next).managedFields as ManagedFieldsEntry[]) };
    }
    if (!old) throw notFound(r, t.name);
    const body = parseJson(raw, true);
    let next: unknown;
    const current = this.present(r, version, old);
    switch (type) {
      case 'application/merge-patch+json': next = mergePatch(current, body); break;
      case 'application/json-patch+json': next = jsonPatch(current, body); break;
      case 'application/strategic-merge-patch+json':
        // custom resources have no patch strategies: the patch merges like a merge patch
        next = strategicMerge(current, body, [], r.builtin ? listTypeOf : () => ({ type: 'atomic' }));
        break;
      default: throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`);
    }
    if (!isObject(next)) throw badRequest('the patch did not produce an object');
    if (!isObject(body) || metaOf(body as Obj).resourceVersion === undefined) metaOf(next).resourceVersion = metaOf(old).resourceVersion;
    return { code: 200, object: this.commitUpdate(t, old, next, ctx, undefined) };
  }

  remove(t: Target, body: Obj, q: URLSearchParams, ctx: WriteContext): { code: number; object: Obj } {
    const { r, version } = t;
    if (t.name === undefined) {
      const match = this.selected(t, q);
      const items = this.store.list(storeKey(r), t.namespace).filter(match).map((o) => this.deleteObject(r, version, o, ctx));
      return { code: 200, object: { apiVersion: groupVersion(r.group, version), kind: r.listKind, metadata: { resourceVersion: String(this.store.rv) }, items } };
    }
    const obj = this.store.get(storeKey(r), t.namespace, t.name);
    if (!obj) throw notFound(r, t.name);
    const pre = isObject(body.preconditions) ? body.preconditions : {};
    if ((pre.uid !== undefined && pre.uid !== metaOf(obj).uid) || (pre.resourceVersion !== undefined && pre.resourceVersion !== metaOf(obj).resourceVersion)) {
      throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${r.plural} "${t.name}": Precondition failed`, { name: t.name, group: r.group, kind: r.plural });
    }
    return { code: 200, object: this.deleteObject(r, version, obj, ctx) };
  }

  /** Delete now, or mark for deletion while finalizers remain (namespaces: Terminating). */
  deleteObject(r: ResourceInfo, version: string, obj: Obj, ctx: Pick<WriteContext, 'dryRun'>): Obj {
    const meta = metaOf(obj);
    const finalizers = [...((meta.finalizers as string[] | undefined) ?? []), ...(r.kind === 'Namespace' ? ((obj.spec as Obj | undefined)?.finalizers as string[] | undefined) ?? [] : [])];
    if (finalizers.length > 0) {
      if (meta.deletionTimestamp) return this.present(r, version, obj);
      const next = clone(obj);
      metaOf(next).deletionTimestamp = nowIso();
      metaOf(next).deletionGracePeriodSeconds = 0;
      if (r.kind === 'Namespace') next.status = { ...(next.status as Obj), phase: 'Terminating' };
      if (ctx.dryRun) return this.present(r, version, next);
      return this.present(r, version, this.stored(r, next, 'MODIFIED'));
    }
    if (ctx.dryRun) return this.present(r, version, obj);
    const gone = this.store.remove(storeKey(r), obj);
    if (r.kind === 'CustomResourceDefinition' && r.builtin) this.unregisterCrd(obj);
    this.onChange();
    return this.present(r, version, gone);
  }

  private unregisterCrd(crd: Obj): void {
    const res = resourceFromCrd(crd);
    if (!res) return;
    this.store.dropAll(storeKey(res));
    this.resources.delete(storeKey(res));
  }

  /** TokenReview checks a service-account token this server signed; the admin may do anything. */
  private review(r: ResourceInfo, body: Obj): Obj {
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

  private tokenRequest(t: Target, body: Obj): Obj {
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

  // ---------- internal writes (seed, controller): not counted, never refused for status ----------

  private target(apiVersion: string, kind: string, namespace?: string, name?: string, sub?: string): Target {
    const r = this.resourceByKind(apiVersion, kind);
    if (!r) throw new Error(`no resource for ${apiVersion} ${kind}`);
    return { r, version: apiVersion.includes('/') ? apiVersion.split('/')[1]! : apiVersion, namespace, name, sub };
  }

  private internalCtx(manager: string): WriteContext {
    return { dryRun: false, manager, fieldValidation: 'Ignore', warnings: [], managerGiven: true };
  }

  internalCreate(obj: Obj, manager = 'kube-controller-manager'): Obj {
    const m = metaOf(obj);
    return this.create(this.target(obj.apiVersion as string, obj.kind as string, m.namespace as string | undefined), obj, this.internalCtx(manager), true);
  }

  internalGet(apiVersion: string, kind: string, namespace: string | undefined, name: string): Obj | undefined {
    const t = this.target(apiVersion, kind, namespace, name);
    const o = this.store.get(storeKey(t.r), namespace, name);
    return o ? this.present(t.r, t.version, o) : undefined;
  }

  internalList(apiVersion: string, kind: string, namespace?: string): Obj[] {
    const t = this.target(apiVersion, kind, namespace);
    return this.store.list(storeKey(t.r), namespace).map((o) => this.present(t.r, t.version, o));
  }

  /** Replace an object's status (the status subresource), as a controller does. */
  internalUpdateStatus(obj: Obj, status: Obj, manager = 'kube-controller-manager'): Obj | undefined {
    const m = metaOf(obj);
    const t = this.target(obj.apiVersion as string, obj.kind as string, m.namespace as string | undefined, m.name as string, 'status');
    const old = this.store.get(storeKey(t.r), t.namespace, t.name!);
    if (!old) return undefined;
    return this.commitUpdate(t.r.status ? t : { ...t, sub: undefined }, old, { ...clone(old), status, metadata: { ...metaOf(old), resourceVersion: undefined } }, this.internalCtx(manager), undefined);
  }

  /** Create or replace a whole object (spec and metadata; status kept), as a controller does. */
  internalPut(obj: Obj, manager = 'kube-controller-manager'): Obj {
    const m = metaOf(obj);
    const t = this.target(obj.apiVersion as string, obj.kind as string, m.namespace as string | undefined, m.name as string);
    const old = this.store.get(storeKey(t.r), t.namespace, t.name!);
    if (!old) return this.internalCreate(obj, manager);
    return this.commitUpdate(t, old, { ...clone(obj), metadata: { ...clone(m), resourceVersion: undefined } }, this.internalCtx(manager), undefined);
  }

  internalDelete(obj: Obj): void {
    const m = metaOf(obj);
    const t = this.target(obj.apiVersion as string, obj.kind as string, m.namespace as string | undefined, m.name as string);
    const cur = this.store.get(storeKey(t.r), t.namespace, t.name!);
    if (cur) this.deleteObject(t.r, t.version, cur, { dryRun: false });
  }

  /** Graceful deletion as the API server starts it: deletionTimestamp set, the object stays (Terminating) until its kubelet confirms. */
  internalMarkTerminating(obj: Obj, graceSeconds = 30): void {
    const m = metaOf(obj);
    const t = this.target(obj.apiVersion as string, obj.kind as string, m.namespace as string | undefined, m.name as string);
    const cur = this.store.get(storeKey(t.r), t.namespace, t.name!);
    if (!cur || metaOf(cur).deletionTimestamp) return;
    const next = clone(cur);
    metaOf(next).deletionTimestamp = nowIso();
    metaOf(next).deletionGracePeriodSeconds = graceSeconds;
    this.stored(t.r, next, 'MODIFIED');
  }

  /** Remove a finalizer-free namespace for good (the namespace controller's last step). */
  finalizeNamespace(ns: Obj): void {
    const cur = this.store.get('/namespaces', undefined, metaOf(ns).name as string);
    if (cur) { this.store.remove('/namespaces', cur); this.onChange(); }
  }
}

export const ISSUER = 'https://kubernetes.default.svc.cluster.local';

/** 1.32: a lower minor makes the kubectl dispatcher pick an older kubectl (docs/sandbox.md). */
const VERSION = { major: '1', minor: '32', gitVersion: 'v1.32.0', gitCommit: 'mixmesh-sandbox', gitTreeState: 'clean', buildDate: '2026-01-01T00:00:00Z', goVersion: 'go1.23.4', compiler: 'gc', platform: 'linux/amd64' };

function pointerToField(pointer: string): string {
  return pointer.split('/').filter(Boolean).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~')).reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc === '' ? p : `${acc}.${p}`), '');
}

/** Like the real server: generation on workloads, CRDs and custom resources, not on ConfigMaps and such. */
function tracksGeneration(r: ResourceInfo): boolean {
  return !r.builtin || ['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'Ingress', 'PodDisruptionBudget', 'CustomResourceDefinition'].includes(r.kind);
}

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

function parseJson(raw: Buffer, allowArray = false): Obj {
  if (raw.length === 0) return {};
  let v: unknown;
  try { v = JSON.parse(raw.toString('utf8')); } catch {
    try { v = parseYaml(raw.toString('utf8')); } catch (e) { throw badRequest(`the body of the request was in an unknown format: ${e instanceof Error ? e.message : String(e)}`); }
  }
  if (!isObject(v) && !(allowArray && Array.isArray(v))) throw badRequest('the body of the request was in an unknown format');
  return v as Obj;
}

/** Equality-based and set-based label selectors: `a=b,c!=d,e in (x,y),f notin (z),g,!h`. */
export function parseLabelSelector(sel: string): (labels: Record<string, string>) => boolean {
  if (sel.trim() === '') return () => true;
  const terms: Array<(l: Record<string, string>) => boolean> = [];
  const parts = sel.match(/([^,(]+(\([^)]*\))?)/g) ?? [];
  for (const raw of parts) {
    const p = raw.trim();
    if (p === '') continue;
    let m: RegExpMatchArray | null;
    if ((m = p.match(/^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/))) {
      const [, k, op, vs] = m;
      const values = vs!.split(',').map((v) => v.trim());
      terms.push(op === 'in' ? (l) => l[k!] !== undefined && values.includes(l[k!]!) : (l) => l[k!] === undefined || !values.includes(l[k!]!));
    } else if ((m = p.match(/^([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)$/))) {
      const [, k, op, v] = m;
      terms.push(op === '!=' ? (l) => l[k!] !== v : (l) => l[k!] === v);
    } else if ((m = p.match(/^!([\w./-]+)$/))) { const k = m[1]!; terms.push((l) => l[k] === undefined); }
    else if ((m = p.match(/^([\w./-]+)$/))) { const k = m[1]!; terms.push((l) => l[k] !== undefined); }
    else throw badRequest(`unable to parse requirement: invalid label selector "${sel}"`);
  }
  return (l) => terms.every((t) => t(l));
}

/** Field selectors: `metadata.name=x,metadata.namespace!=y` and other dotted paths. */
export function parseFieldSelector(sel: string): (obj: Obj) => boolean {
  if (sel.trim() === '') return () => true;
  const terms = sel.split(',').map((p) => {
    const m = p.trim().match(/^([\w.]+)\s*(==|=|!=)\s*(.*)$/);
    if (!m) throw badRequest(`invalid field selector "${sel}"`);
    const [, path, op, value] = m;
    return (o: Obj) => {
      let cur: unknown = o;
      for (const k of path!.split('.')) cur = isObject(cur) ? cur[k] : undefined;
      const s = cur === undefined || cur === null ? '' : String(cur);
      return op === '!=' ? s !== value : s === value;
    };
  });
  return (o) => terms.every((t) => t(o));
}
