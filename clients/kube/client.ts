/**
 * The thin, typed Kubernetes client every flow uses: CRUD, server-side apply with a change set,
 * prune by labels, wait with watch, TokenRequest. Requests go over node:https with the
 * kubeconfig's CA and credentials (client-node's KubeConfig applies them), so it works the same
 * against the sandbox emulator and a real API server.
 */
import { request as httpsRequest, Agent as HttpsAgent, type RequestOptions } from 'node:https';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { KubeConfig } from './config.js';
import { MixmeshError, isMixmeshError, type ErrorCode } from '../../common/errors.js';
import { silentLogger, type Logger } from '../../common/logger.js';
import { Applier, type ApplyPort } from './applier.js';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
  ownerReferences?: Array<Record<string, unknown>>;
  managedFields?: Array<Record<string, unknown>>;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface ChangeSet {
  created: ObjectRef[];
  configured: ObjectRef[];
  unchanged: ObjectRef[];
  pruned: ObjectRef[];
}

export interface ApplyOptions {
  fieldManager?: string;
  /** answer as the server would, change nothing */
  dryRun?: boolean;
  /** take fields other managers own (default true: mixmesh is the source of truth of what it renders) */
  force?: boolean;
  /** how long to wait for applied CRDs to be Established (default 30 s) */
  crdTimeoutMs?: number;
  /** objects of one kind applied at the same time (default 8) */
  concurrency?: number;
}

export interface WatchEvent { type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR'; object: KubeObject }

interface ResourceMeta { plural: string; namespaced: boolean }

interface Response { status: number; body: unknown; headers: IncomingMessage['headers'] }

export class KubeRequestError extends Error {
  constructor(readonly status: number, readonly reason: string, message: string, readonly body: unknown) {
    super(message);
  }
}

export function refOf(o: KubeObject | ObjectRef): ObjectRef {
  const name = 'metadata' in o ? (o as KubeObject).metadata.name : (o as ObjectRef).name;
  const namespace = 'metadata' in o ? (o as KubeObject).metadata.namespace : (o as ObjectRef).namespace;
  return { apiVersion: o.apiVersion, kind: o.kind, name, ...(namespace ? { namespace } : {}) };
}

export function describeRef(r: ObjectRef): string {
  return `${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}`;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export class KubeClient {
  private readonly discovery = new Map<string, Map<string, ResourceMeta>>();
  private agent: HttpsAgent | undefined;
  private readonly server: URL;

  constructor(private readonly kc: KubeConfig, private readonly log: Logger = silentLogger) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new MixmeshError('CONFIG_INVALID', 'the kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
  }

  // ---------- transport ----------

  private async send(method: string, path: string, opts: { query?: Record<string, string | undefined>; body?: unknown; contentType?: string; accept?: string; raw?: boolean } = {}): Promise<Response> {
    const url = new URL(path, this.server);
    url.pathname = `${this.server.pathname.replace(/\/$/, '')}${path.split('?')[0]}`;
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const reqOpts = await this.requestOptions(method, url, opts.contentType, opts.accept, payload?.length);
    return new Promise<Response>((resolve, reject) => {
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, reqOpts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          const plain = opts.raw && (res.statusCode ?? 0) < 400;
          if (!plain) try { body = text ? JSON.parse(text) : undefined; } catch { /* not JSON: keep the text */ }
          resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  private async requestOptions(method: string, url: URL, contentType: string | undefined, accept: string | undefined, length: number | undefined): Promise<RequestOptions> {
    const o: RequestOptions = { method, headers: {} };
    await this.kc.applyToHTTPSOptions(o);
    // one keep-alive agent for the client's life instead of a new TLS session per request
    if (url.protocol === 'https:') {
      const a = o.agent as HttpsAgent | undefined;
      this.agent ??= new HttpsAgent({ keepAlive: true, ca: a?.options.ca, cert: a?.options.cert, key: a?.options.key, rejectUnauthorized: a?.options.rejectUnauthorized, servername: a?.options.servername });
      o.agent = this.agent;
    } else delete o.agent;
    const headers = o.headers as Record<string, string | number>;
    headers.Accept = accept ?? 'application/json';
    headers['User-Agent'] = 'mixmesh';
    if (contentType) headers['Content-Type'] = contentType;
    if (length !== undefined) headers['Content-Length'] = length;
    return o;
  }

  private async call(method: string, path: string, context: string, opts: Parameters<KubeClient['send']>[2] = {}, code: ErrorCode = 'K8S_REQUEST_FAILED', okStatuses: number[] = []): Promise<Response> {
    let res: Response;
    const started = Date.now();
    try {
      res = await this.send(method, path, opts);
    } catch (e) {
      throw new MixmeshError(code, `${context}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    this.log.debug({ op: method, path, status: res.status, ms: Date.now() - started }, 'kube request');
    if (res.status >= 400 && !okStatuses.includes(res.status)) {
      const b = isObj(res.body) ? res.body : {};
      const message = typeof b.message === 'string' ? b.message : `HTTP ${res.status}`;
      const cause = new KubeRequestError(res.status, typeof b.reason === 'string' ? b.reason : '', message, res.body);
      throw new MixmeshError(code, `${context}: ${message}`, { cause, details: { httpStatus: res.status, reason: cause.reason } });
    }
    return res;
  }

  close(): void {
    this.agent?.destroy();
  }

  /** a pod's log (the pods/log subresource) as text: the last `tailLines` lines of `container` (default: the pod's only one) */
  async podLog(namespace: string, name: string, opts: { container?: string; tailLines?: number } = {}): Promise<string> {
    const res = await this.call('GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}/log`, `log of pod ${namespace}/${name}`, {
      query: { container: opts.container, tailLines: opts.tailLines === undefined ? undefined : String(opts.tailLines) }, accept: 'text/plain', raw: true,
    });
    return typeof res.body === 'string' ? res.body : '';
  }

  // ---------- discovery ----------

  private async resourceMeta(apiVersion: string, kind: string): Promise<ResourceMeta> {
    for (let attempt = 0; attempt < 2; attempt++) {
      let gv = this.discovery.get(apiVersion);
      if (!gv || attempt === 1) {
        const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
        const res = await this.call('GET', path, `discover ${apiVersion}`, {}, 'K8S_REQUEST_FAILED', [404]);
        gv = new Map();
        const resources = isObj(res.body) && Array.isArray(res.body.resources) ? (res.body.resources as Array<Record<string, unknown>>) : [];
        for (const r of resources) if (typeof r.name === 'string' && !r.name.includes('/')) gv.set(String(r.kind), { plural: r.name, namespaced: r.namespaced === true });
        this.discovery.set(apiVersion, gv);
      }
      const meta = gv.get(kind);
      if (meta) return meta;
      // a CRD applied a moment ago: discover again once
    }
    throw new MixmeshError('K8S_REQUEST_FAILED', `the server does not serve ${kind} in ${apiVersion}`, { details: { notServed: true } });
  }

  private async pathOf(apiVersion: string, kind: string, namespace: string | undefined, name?: string): Promise<string> {
    const meta = await this.resourceMeta(apiVersion, kind);
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    if (meta.namespaced && !namespace && name !== undefined) throw new MixmeshError('BAD_REQUEST', `${kind} ${name}: a namespace is required`);
    const ns = meta.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
    return `${base}${ns}/${meta.plural}${name !== undefined ? `/${encodeURIComponent(name)}` : ''}`;
  }

  /** GET /version: the server's gitVersion */
  async version(): Promise<string> {
    const res = await this.call('GET', '/version', 'get /version', {}, 'K8S_REQUEST_FAILED');
    return isObj(res.body) && typeof res.body.gitVersion === 'string' ? res.body.gitVersion : '';
  }

  // ---------- CRUD ----------

  /** The object, or undefined when it does not exist. */
  async get<T extends KubeObject = KubeObject>(ref: ObjectRef): Promise<T | undefined> {
    const res = await this.call('GET', await this.pathOf(ref.apiVersion, ref.kind, ref.namespace, ref.name), `get ${describeRef(ref)}`, {}, 'K8S_REQUEST_FAILED', [404]);
    return res.status === 404 ? undefined : (res.body as T);
  }

  async list<T extends KubeObject = KubeObject>(apiVersion: string, kind: string, opts: { namespace?: string; labelSelector?: string; fieldSelector?: string } = {}): Promise<{ items: T[]; resourceVersion: string }> {
    const res = await this.call('GET', await this.pathOf(apiVersion, kind, opts.namespace), `list ${kind}${opts.namespace ? ` in ${opts.namespace}` : ''}`, { query: { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector } });
    const body = res.body as { items?: T[]; metadata?: { resourceVersion?: string } };
    // list items may omit apiVersion/kind (typed lists): fill them in
    const items = (body.items ?? []).map((o) => ({ ...o, apiVersion, kind }));
    return { items, resourceVersion: body.metadata?.resourceVersion ?? '' };
  }

  /**
   * One page of a list (limit/continue, as kubectl and Velero page): `continue` is empty on the
   * last page. A server that does not page returns everything at once with no token.
   */
  async listPage<T extends KubeObject = KubeObject>(apiVersion: string, kind: string, opts: { namespace?: string; labelSelector?: string; fieldSelector?: string; limit?: number; continue?: string } = {}): Promise<{ items: T[]; continue: string; resourceVersion: string }> {
    const res = await this.call('GET', await this.pathOf(apiVersion, kind, opts.namespace), `list ${kind}${opts.namespace ? ` in ${opts.namespace}` : ''}`, {
      query: { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector, limit: opts.limit === undefined ? undefined : String(opts.limit), continue: opts.continue || undefined },
    });
    const body = res.body as { items?: T[]; metadata?: { resourceVersion?: string; continue?: string } };
    return { items: (body.items ?? []).map((o) => ({ ...o, apiVersion, kind })), continue: body.metadata?.continue ?? '', resourceVersion: body.metadata?.resourceVersion ?? '' };
  }

  /** The resource name and scope of a kind the server serves, or undefined when it does not. */
  async describeKind(apiVersion: string, kind: string): Promise<{ plural: string; namespaced: boolean } | undefined> {
    try {
      return await this.resourceMeta(apiVersion, kind);
    } catch (e) {
      if (e instanceof MixmeshError && e.code === 'K8S_REQUEST_FAILED' && e.details?.httpStatus === undefined) return undefined;
      throw e;
    }
  }

  async create<T extends KubeObject = KubeObject>(obj: KubeObject, opts: { dryRun?: boolean; fieldManager?: string } = {}): Promise<T> {
    const res = await this.call('POST', await this.pathOf(obj.apiVersion, obj.kind, obj.metadata.namespace), `create ${describeRef(refOf(obj))}`, {
      body: obj, contentType: 'application/json', query: { dryRun: opts.dryRun ? 'All' : undefined, fieldManager: opts.fieldManager ?? 'mixmesh' },
    });
    return res.body as T;
  }

  /** PUT the object (optimistic concurrency on its resourceVersion). */
  async replace<T extends KubeObject = KubeObject>(obj: KubeObject, opts: { subresource?: 'status'; fieldManager?: string } = {}): Promise<T> {
    const path = `${await this.pathOf(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name)}${opts.subresource ? `/${opts.subresource}` : ''}`;
    const res = await this.call('PUT', path, `update ${opts.subresource ?? ''}${opts.subresource ? ' of ' : ''}${describeRef(refOf(obj))}`, { body: obj, contentType: 'application/json', query: { fieldManager: opts.fieldManager ?? 'mixmesh' } });
    return res.body as T;
  }

  /** Merge-patch an object or its status. */
  async mergePatch<T extends KubeObject = KubeObject>(ref: ObjectRef, patch: unknown, opts: { subresource?: 'status'; fieldManager?: string } = {}): Promise<T> {
    const path = `${await this.pathOf(ref.apiVersion, ref.kind, ref.namespace, ref.name)}${opts.subresource ? `/${opts.subresource}` : ''}`;
    const res = await this.call('PATCH', path, `patch ${describeRef(ref)}`, { body: patch, contentType: 'application/merge-patch+json', query: { fieldManager: opts.fieldManager ?? 'mixmesh' } });
    return res.body as T;
  }

  /** Delete; false when it was already gone. Background propagation, like kubectl. */
  async delete(ref: ObjectRef, opts: { dryRun?: boolean; propagationPolicy?: 'Background' | 'Foreground' | 'Orphan' } = {}): Promise<boolean> {
    const res = await this.call('DELETE', await this.pathOf(ref.apiVersion, ref.kind, ref.namespace, ref.name), `delete ${describeRef(ref)}`, {
      body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: opts.propagationPolicy ?? 'Background' }, contentType: 'application/json', query: { dryRun: opts.dryRun ? 'All' : undefined },
    }, 'K8S_REQUEST_FAILED', [404]);
    return res.status !== 404;
  }

  // ---------- apply ----------

  private async ssa(obj: KubeObject, opts: { fieldManager: string; force: boolean; dryRun: boolean; subresource?: 'status' }): Promise<KubeObject> {
    const path = `${await this.pathOf(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name)}${opts.subresource ? '/status' : ''}`;
    const res = await this.call('PATCH', path, `apply ${describeRef(refOf(obj))}`, {
      body: obj, contentType: 'application/apply-patch+yaml',
      query: { fieldManager: opts.fieldManager, force: String(opts.force), dryRun: opts.dryRun ? 'All' : undefined },
    }, 'K8S_APPLY_FAILED');
    return res.body as KubeObject;
  }

  /** One server-side apply request (no read, no comparison: `apply` decides when one is needed). */
  async serverSideApply<T extends KubeObject = KubeObject>(obj: KubeObject, opts: { fieldManager?: string; force?: boolean; dryRun?: boolean } = {}): Promise<T> {
    return (await this.ssa(stripServerFields(obj), { fieldManager: opts.fieldManager ?? 'mixmesh', force: opts.force ?? true, dryRun: opts.dryRun ?? false })) as T;
  }

  /** Server-side apply of one object's status (the status subresource). */
  async applyStatus<T extends KubeObject = KubeObject>(obj: KubeObject, opts: { fieldManager?: string; force?: boolean } = {}): Promise<T> {
    return (await this.ssa(obj, { fieldManager: opts.fieldManager ?? 'mixmesh', force: opts.force ?? true, dryRun: false, subresource: 'status' })) as T;
  }

  /** This client as the applier's port: server-side apply with our field manager, discovery, waits. */
  private applyPort(opts: { fieldManager: string; force: boolean }): ApplyPort {
    return {
      get: (ref) => this.get(ref),
      list: async (apiVersion, kind, o) => (await this.list(apiVersion, kind, o)).items,
      apply: (obj) => this.serverSideApply(obj, opts),
      delete: (ref) => this.delete(ref),
      serves: (apiVersion, kind) => this.serves(apiVersion, kind),
      waitFor: (ref, predicate, timeoutMs) => this.waitFor(ref, predicate, timeoutMs),
      rediscover: () => this.discovery.clear(),
    };
  }

  /** The applier (clients/kube/applier.ts) over this client. */
  applier(opts: { fieldManager?: string; force?: boolean; concurrency?: number; crdTimeoutMs?: number } = {}): Applier {
    const fieldManager = opts.fieldManager ?? 'mixmesh';
    return new Applier(this.applyPort({ fieldManager, force: opts.force ?? true }), { fieldManager, ...(opts.concurrency ? { concurrency: opts.concurrency } : {}), ...(opts.crdTimeoutMs ? { crdTimeoutMs: opts.crdTimeoutMs } : {}), log: this.log });
  }

  /**
   * Server-side apply in the kind table's phases (Namespaces and CRDs first, CRDs waited for);
   * an object whose live state already holds what we apply gets no request, so re-applying an
   * unchanged set makes no writes. `dryRun`: compare only.
   */
  async apply(objects: readonly KubeObject[], opts: ApplyOptions = {}): Promise<ChangeSet> {
    return (await this.applier(opts).apply(objects.map(stripServerFields), { dryRun: opts.dryRun ?? false })).changes;
  }

  /**
   * Delete the objects of `kinds` (default: the kind table's prunable kinds) that carry the
   * labels of `selector` but are not in `keep` (what mixmesh created earlier and no longer renders).
   */
  async prune(selector: string, keep: readonly ObjectRef[], opts: { kinds?: ReadonlyArray<{ apiVersion: string; kind: string }>; namespace?: string; dryRun?: boolean } = {}): Promise<ObjectRef[]> {
    return this.applier().prune(selector, keep, opts);
  }

  /**
   * Every namespaced kind the server serves with the `list` verb, in each group's preferred
   * version (discovery, like `kubectl api-resources --namespaced --verbs=list`).
   */
  async namespacedKinds(): Promise<{ apiVersion: string; kind: string }[]> {
    const groups = await this.call('GET', '/apis', 'discover API groups');
    const versions = ['v1', ...(isObj(groups.body) && Array.isArray(groups.body.groups) ? (groups.body.groups as Array<{ preferredVersion?: { groupVersion?: string } }>).map((g) => g.preferredVersion?.groupVersion).filter((v): v is string => typeof v === 'string') : [])];
    const out: { apiVersion: string; kind: string }[] = [];
    await Promise.all(versions.map(async (apiVersion) => {
      const res = await this.call('GET', apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`, `discover ${apiVersion}`, {}, 'K8S_REQUEST_FAILED', [404]);
      const resources = isObj(res.body) && Array.isArray(res.body.resources) ? (res.body.resources as Array<Record<string, unknown>>) : [];
      for (const r of resources) {
        if (typeof r.name !== 'string' || r.name.includes('/') || r.namespaced !== true || !Array.isArray(r.verbs) || !r.verbs.includes('list')) continue;
        out.push({ apiVersion, kind: String(r.kind) });
      }
    }));
    return out.sort((a, b) => `${a.apiVersion}/${a.kind}`.localeCompare(`${b.apiVersion}/${b.kind}`));
  }

  /** Does the server serve this kind (discovery)? */
  async serves(apiVersion: string, kind: string): Promise<boolean> {
    try {
      await this.resourceMeta(apiVersion, kind);
      return true;
    } catch (e) {
      if (isMixmeshError(e, 'K8S_REQUEST_FAILED') && e.details?.notServed === true) return false;
      throw e;
    }
  }

  // ---------- watch and wait ----------

  /**
   * Watch a kind (optionally one namespace / selector) from a resourceVersion. Returns a stop
   * function; `onEnd` is called once when the stream ends for any reason but stop().
   */
  async watch(apiVersion: string, kind: string, opts: { namespace?: string; labelSelector?: string; fieldSelector?: string; resourceVersion?: string; timeoutSeconds?: number }, onEvent: (e: WatchEvent) => void, onEnd: (err?: Error) => void = () => undefined): Promise<() => void> {
    const path = await this.pathOf(apiVersion, kind, opts.namespace);
    const url = new URL(path, this.server);
    url.pathname = `${this.server.pathname.replace(/\/$/, '')}${path}`;
    const query: Record<string, string | undefined> = { watch: 'true', resourceVersion: opts.resourceVersion, labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector, timeoutSeconds: opts.timeoutSeconds === undefined ? undefined : String(opts.timeoutSeconds), allowWatchBookmarks: 'true' };
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, v);
    const reqOpts = await this.requestOptions('GET', url, undefined, 'application/json', undefined);
    let stopped = false;
    let ended = false;
    const end = (err?: Error) => { if (!ended && !stopped) { ended = true; onEnd(err); } };
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, reqOpts, (res) => {
      if ((res.statusCode ?? 0) >= 400) {
        res.resume();
        end(new MixmeshError('K8S_REQUEST_FAILED', `watch ${kind}: HTTP ${res.statusCode}`));
        return;
      }
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          if (line === '') continue;
          try { onEvent(JSON.parse(line) as WatchEvent); } catch (e) { end(e instanceof Error ? e : new Error(String(e))); req.destroy(); return; }
        }
      });
      res.on('end', () => end());
      res.on('close', () => end());
      res.on('error', (e) => end(e));
    });
    req.on('error', (e) => end(e));
    req.end();
    // destroying the request frees its socket; the shared agent has no socket limit
    return () => { stopped = true; req.destroy(); };
  }

  /**
   * Resolve with the object once `predicate` holds (checked now, then on every watch event);
   * K8S_WAIT_TIMEOUT after `timeoutMs`. `predicate(undefined)` means the object is absent.
   */
  async waitFor<T extends KubeObject = KubeObject>(ref: ObjectRef, predicate: (obj: T | undefined) => boolean, timeoutMs: number): Promise<T | undefined> {
    const deadline = Date.now() + timeoutMs;
    return new Promise<T | undefined>((resolve, reject) => {
      let stop: (() => void) | undefined;
      let done = false;
      const finish = (err: Error | undefined, value?: T) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        stop?.();
        if (err) reject(err);
        else resolve(value);
      };
      const timer = setTimeout(() => finish(new MixmeshError('K8S_WAIT_TIMEOUT', `wait for ${describeRef(ref)}: not there after ${timeoutMs} ms`)), timeoutMs);
      const start = async (): Promise<void> => {
        const { items, resourceVersion } = await this.list<T>(ref.apiVersion, ref.kind, { namespace: ref.namespace, fieldSelector: `metadata.name=${ref.name}` });
        const current = items[0];
        if (predicate(current)) return finish(undefined, current);
        if (done) return;
        const remaining = Math.max(1, Math.ceil((deadline - Date.now()) / 1000));
        stop = await this.watch(ref.apiVersion, ref.kind, { namespace: ref.namespace, fieldSelector: `metadata.name=${ref.name}`, resourceVersion, timeoutSeconds: remaining }, (e) => {
          if (e.type === 'ERROR') { stop?.(); void start().catch((err: unknown) => finish(err as Error)); return; }
          if (e.type === 'BOOKMARK') return;
          const obj = e.type === 'DELETED' ? undefined : (e.object as T);
          if (predicate(obj)) finish(undefined, obj);
        }, () => { if (!done) void start().catch((err: unknown) => finish(err as Error)); });
        if (done) stop();
      };
      start().catch((err: unknown) => finish(err instanceof Error ? err : new Error(String(err))));
    });
  }

  // ---------- tokens ----------

  /** A service-account token for `audiences` (TokenRequest). */
  async createToken(namespace: string, serviceAccount: string, audiences: string[], expirationSeconds: number): Promise<{ token: string; expirationTimestamp: string }> {
    const path = `${await this.pathOf('v1', 'ServiceAccount', namespace, serviceAccount)}/token`;
    const res = await this.call('POST', path, `create token for ServiceAccount ${namespace}/${serviceAccount}`, {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences, expirationSeconds } }, contentType: 'application/json',
    });
    const status = (res.body as { status?: { token?: string; expirationTimestamp?: string } }).status;
    if (!status?.token || !status.expirationTimestamp) throw new MixmeshError('K8S_REQUEST_FAILED', `create token for ServiceAccount ${namespace}/${serviceAccount}: the answer has no token`);
    return { token: status.token, expirationTimestamp: status.expirationTimestamp };
  }
}

function stripServerFields(o: KubeObject): KubeObject {
  const meta: Record<string, unknown> = { ...o.metadata };
  for (const k of ['resourceVersion', 'uid', 'creationTimestamp', 'managedFields', 'generation', 'selfLink', 'deletionTimestamp']) delete meta[k];
  return { ...o, metadata: meta as unknown as ObjectMeta };
}
