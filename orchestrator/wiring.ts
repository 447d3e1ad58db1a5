/**
 * The real edges behind the orchestrator's ports: clients/kube (KubeClient), clients/openstack
 * (Tacker + Nova), and the injector's REST API. Each adapter is thin: no Kubernetes, OpenStack or
 * SSH logic lives here, only the mapping of shapes, errors and metrics.
 */
import { MixmeshError, isMixmeshError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { KubeClient, KubeObject as ClientObject } from '../clients/kube/index.js';
import { eqFilter, inFilter, type OpenStackClient } from '../clients/openstack/index.js';
import type { OrchestratorMetrics } from './metrics.js';
import { timed } from './metrics.js';
import type { Injection, InjectionRequest, InjectorPort, KubeObject, KubePort, LcmOpOcc, ListOptions, ObjectRef, TackerPort, VnfInstance, WatchEventType } from './ports.js';

const asClient = (o: KubeObject): ClientObject => o as unknown as ClientObject;

function httpStatusOf(e: unknown): number | undefined {
  return isMixmeshError(e) ? (e.details?.httpStatus as number | undefined) : undefined;
}

const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
const TRANSIENT_STATUSES = new Set([429, 500, 502, 503, 504]);

/** a failure worth another try of an idempotent read: the connection broke, or the server was busy */
export function transientKubeError(e: unknown): boolean {
  const status = httpStatusOf(e);
  if (status !== undefined) return TRANSIENT_STATUSES.has(status);
  for (let c: unknown = e, depth = 0; c && depth < 5; c = (c as { cause?: unknown }).cause, depth++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
  }
  return false;
}

export interface ReadRetry {
  /** tries in all (default 4) */
  attempts: number;
  /** first backoff; doubled each time, with jitter, capped at 2 s (default 100 ms) */
  baseMs: number;
}

/** run an idempotent read again after a transient failure, backing off exponentially with jitter */
export async function retryRead<T>(what: string, fn: () => Promise<T>, log: Logger, retry: ReadRetry = { attempts: 4, baseMs: 100 }): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (attempt >= retry.attempts || !transientKubeError(e)) throw e;
      const ms = Math.min(2000, retry.baseMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
      log.debug({ err: e, what, attempt, ms: Math.round(ms) }, 'transient Kubernetes read failure; retrying');
      await new Promise((r) => setTimeout(r, ms));
    }
  }
}

/**
 * KubePort over clients/kube. A 409 on create is ALREADY_EXISTS; a 409 on update keeps status 409.
 * Reads (get, list) are idempotent: a broken connection (ECONNRESET…) or a busy server (429, 5xx)
 * is tried again with backoff before it becomes an error. Writes are never repeated here.
 */
export function kubePort(client: KubeClient, metrics: OrchestratorMetrics, log: Logger, readRetry?: ReadRetry): KubePort {
  const t = <T>(verb: string, fn: () => Promise<T>): Promise<T> => timed(metrics.kubeLatency, { verb }, fn);
  const read = <T>(verb: string, what: string, fn: () => Promise<T>): Promise<T> => retryRead(what, () => t(verb, fn), log, readRetry);
  const conflict = (e: unknown): never => {
    if (httpStatusOf(e) === 409) throw new MixmeshError('K8S_REQUEST_FAILED', (e as Error).message, { status: 409, cause: e, details: { httpStatus: 409 } });
    throw e;
  };
  return {
    get: (ref) => read('get', `get ${ref.kind} ${ref.namespace ?? ''}/${ref.name}`, () => client.get(ref)) as Promise<KubeObject | undefined>,
    list: async (apiVersion, kind, options = {}) => (await read('list', `list ${kind}`, () => client.list(apiVersion, kind, { ...(options.namespace ? { namespace: options.namespace } : {}), ...(options.labelSelector ? { labelSelector: options.labelSelector } : {}) }))).items as KubeObject[],
    create: (obj) => t('create', () => client.create(asClient(obj))).catch((e: unknown) => {
      if (httpStatusOf(e) === 409) throw new MixmeshError('ALREADY_EXISTS', `${obj.kind} ${obj.metadata.namespace ?? ''}/${obj.metadata.name} already exists`, { cause: e });
      throw e;
    }) as Promise<KubeObject>,
    apply: (obj) => t('apply', () => client.serverSideApply(asClient(obj))) as Promise<KubeObject>,
    replace: (obj) => t('update', () => client.replace(asClient(obj))).catch(conflict) as Promise<KubeObject>,
    // merge-patch the status: no resourceVersion race with the API's spec updates
    replaceStatus: (obj) => t('update_status', () => client.mergePatch({ apiVersion: obj.apiVersion, kind: obj.kind, namespace: obj.metadata.namespace!, name: obj.metadata.name }, { status: obj.status ?? {} }, { subresource: 'status' })) as Promise<KubeObject>,
    setFinalizers: (obj, finalizers) => t('patch', () => client.mergePatch({ apiVersion: obj.apiVersion, kind: obj.kind, namespace: obj.metadata.namespace!, name: obj.metadata.name }, { metadata: { finalizers, ...(obj.metadata.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {}) } })).catch(conflict) as Promise<KubeObject>,
    delete: (ref: ObjectRef) => t('delete', () => client.delete(ref)),
    watch: async (apiVersion: string, kind: string, options: ListOptions, onEvent: (type: WatchEventType, obj: KubeObject) => void) => {
      let stopped = false;
      let stopCurrent: (() => void) | undefined;
      // a watch stream ends (timeouts, restarts): start again from a fresh list, forever, until stopped
      const begin = async (): Promise<void> => {
        if (stopped) return;
        const { resourceVersion } = await client.list(apiVersion, kind, { ...(options.namespace ? { namespace: options.namespace } : {}), ...(options.labelSelector ? { labelSelector: options.labelSelector } : {}) });
        stopCurrent = await client.watch(apiVersion, kind, { ...(options.namespace ? { namespace: options.namespace } : {}), ...(options.labelSelector ? { labelSelector: options.labelSelector } : {}), resourceVersion, timeoutSeconds: 300 }, (e) => {
          if (e.type === 'ADDED' || e.type === 'MODIFIED' || e.type === 'DELETED') onEvent(e.type, e.object as KubeObject);
        }, (err) => {
          if (stopped) return;
          if (err) log.debug({ err, kind }, 'watch ended; restarting');
          setTimeout(() => { begin().catch((e: unknown) => log.warn({ err: e, kind }, 'watch restart failed')); }, 500).unref();
        });
      };
      await begin();
      return () => {
        stopped = true;
        stopCurrent?.();
      };
    },
    serves: (apiVersion, kind) => client.serves(apiVersion, kind),
    namespacedKinds: () => client.namespacedKinds(),
  };
}

/** TackerPort over clients/openstack (Tacker LCM v2, VNF packages, VIMs, Nova). */
export function tackerPort(os: OpenStackClient, metrics: OrchestratorMetrics): TackerPort {
  const t = <T>(call: string, fn: () => Promise<T>): Promise<T> => timed(metrics.tackerLatency, { call }, fn);
  const tk = os.tacker;
  return {
    listVnfInstancesByName: (name) => t('list_vnf_instances', () => tk.listVnfInstances({ name })) as unknown as Promise<VnfInstance[]>,
    listVnfInstancesByNames: async (names) => {
      // one SOL013 `in` filter per 40 names keeps the URL short
      const chunks = Array.from({ length: Math.ceil(names.length / 40) }, (_, i) => names.slice(i * 40, i * 40 + 40));
      const lists = await Promise.all(chunks.map((chunk) => t('list_vnf_instances', () => tk.listVnfInstances({ filter: inFilter('vnfInstanceName', chunk) }))));
      return lists.flat() as unknown as VnfInstance[];
    },
    getVnfInstance: async (id) => {
      try {
        return (await t('get_vnf_instance', () => tk.getVnfInstance(id))) as unknown as VnfInstance;
      } catch (e) {
        if (httpStatusOf(e) === 404) return undefined;
        throw e;
      }
    },
    createVnfInstance: (body) => t('create_vnf_instance', () => tk.createVnfInstance(body as never)) as unknown as Promise<VnfInstance>,
    instantiate: (id, body) => t('instantiate', () => tk.instantiate(id, body as never)),
    terminate: (id, body) => t('terminate', () => tk.terminate(id, body as never)),
    deleteVnfInstance: (id) => t('delete_vnf_instance', () => tk.deleteVnfInstance(id)),
    getOpOcc: (id) => t('get_op_occ', () => tk.getOpOcc(id)) as unknown as Promise<LcmOpOcc>,
    listOpOccs: (vnfInstanceId) => t('list_op_occs', () => tk.listOpOccs(eqFilter('vnfInstanceId', vnfInstanceId))) as unknown as Promise<LcmOpOcc[]>,
    retry: (id) => t('retry', () => tk.retry(id)),
    rollback: (id) => t('rollback', () => tk.rollback(id)),
    listPackagesByVnfd: async (vnfdId) => (await t('list_packages', () => tk.listPackagesByVnfdId(vnfdId))).map((p) => ({ onboardingState: String(p.onboardingState), operationalState: String(p.operationalState) })),
    vimExists: (vimId) => t('vim_exists', () => tk.vimExists(vimId)),
    serverAddresses: async (serverId) => {
      const server = await t('nova_get_server', () => os.nova.getServer(serverId));
      return Object.keys(server.addresses ?? {}).sort().flatMap((net) => (server.addresses[net] ?? []).map((a) => ({
        addr: a.addr, type: a['OS-EXT-IPS:type'] === 'floating' ? 'floating' as const : 'fixed' as const, version: Number(a.version ?? 4),
      })));
    },
    listSubscriptions: async () => (await t('list_subscriptions', () => tk.listSubscriptions())).map((s) => ({ id: s.id, callbackUri: s.callbackUri })),
    createSubscription: async (body) => ({ id: (await t('create_subscription', () => tk.createSubscription(body as never))).id }),
    deleteSubscription: (id) => t('delete_subscription', () => tk.deleteSubscription(id)),
  };
}

/** InjectorPort over the injector's REST API (vm-sidecar-injector/README.md). */
export function httpInjector(baseUrl: string, token: string, options: { timeoutMs?: number; fetch?: typeof fetch } = {}): InjectorPort {
  const doFetch = options.fetch ?? fetch;
  const base = baseUrl.replace(/\/$/, '');
  async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    let res: Response;
    try {
      res = await doFetch(base + path, {
        method,
        headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
      });
    } catch (e) {
      throw new MixmeshError('INJECTION_FAILED', `${method} ${path} on the injector: ${(e as Error).message}`, { cause: e });
    }
    const text = await res.text();
    let json: unknown;
    try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
    if (res.status >= 400 && res.status !== 404) {
      const p = (json ?? {}) as { code?: string; detail?: string };
      throw new MixmeshError('INJECTION_FAILED', `${method} ${path} on the injector: HTTP ${res.status} ${p.code ?? ''} ${p.detail ?? ''}`.trim(), { details: { httpStatus: res.status } });
    }
    return { status: res.status, json };
  }
  return {
    async create(request: InjectionRequest) {
      const r = await call('POST', '/v1/injections', request);
      const id = (r.json as { id?: string } | undefined)?.id;
      if (r.status === 404 || !id) throw new MixmeshError('INJECTION_FAILED', `POST /v1/injections answered ${r.status} without an id`);
      return { id };
    },
    async get(id: string) {
      const r = await call('GET', `/v1/injections/${encodeURIComponent(id)}`);
      return r.status === 404 ? undefined : (r.json as Injection);
    },
    async listByVnfInstance(vnfInstanceId: string) {
      const r = await call('GET', `/v1/injections?vnfInstanceId=${encodeURIComponent(vnfInstanceId)}`);
      if (r.status === 404) return [];
      const j = r.json as { items?: Injection[] } | Injection[];
      return Array.isArray(j) ? j : j.items ?? [];
    },
    async remove(id: string) {
      await call('DELETE', `/v1/injections/${encodeURIComponent(id)}`);
    },
  };
}
