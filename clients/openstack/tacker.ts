/**
 * Tacker client: VNF LCM v2 (instances, operations, subscriptions), VNF packages, VIMs
 * (docs/tacker.md). Every /vnflcm/v2 call carries `Version: 2.0.0`; /vnfpkgm/v1 and /v1.0 carry none.
 */
import { isMixmeshError, MixmeshError, silentLogger, type Logger } from '../../common/index.js';
import { callService, type HttpDeps, type ServiceCall, type ServiceReply } from './http.js';
import type { KeystoneSession } from './keystone.js';
import type {
  CreateVnfRequest, InstantiateVnfRequest, LccnSubscription, LccnSubscriptionRequest, OperationState, TerminateVnfRequest,
  VnfInstance, VnfLcmOpOcc, VnfPackage,
} from './types.js';

export const TACKER_SERVICE_TYPE = 'nfv-orchestration';
const LCM = '/vnflcm/v2';
const V2 = { Version: '2.0.0' };

/** States where waiting stops: the operation finished, or needs a decision (retry/rollback/fail). */
export const WAIT_STOP_STATES: readonly OperationState[] = ['COMPLETED', 'FAILED_TEMP', 'FAILED', 'ROLLED_BACK'];

/** One SOL013 attribute filter `(eq,attr,value)`, the value quoted when it holds , ) ' or ;. */
export function eqFilter(attr: string, value: string): string {
  const v = /[,)(';]/.test(value) ? `'${value.replace(/'/g, "''")}'` : value;
  return `(eq,${attr},${v})`;
}

/** A SOL013 `(in,attr,v1,v2,…)` filter: any of the values (quoted like eqFilter where needed). */
export function inFilter(attr: string, values: readonly string[]): string {
  return `(in,${attr},${values.map((value) => (/[,)(';]/.test(value) ? `'${value.replace(/'/g, "''")}'` : value)).join(',')})`;
}

export interface WaitOptions {
  /** give up after this long (default 15 min) with TACKER_OPERATION_TIMEOUT */
  timeoutMs?: number;
  /** first poll interval (default 250 ms), doubled up to maxIntervalMs (default 5 s) */
  minIntervalMs?: number;
  maxIntervalMs?: number;
  /** stop at these states (default WAIT_STOP_STATES) */
  until?: readonly OperationState[];
  /**
   * Called once with a function that wakes the waiter: wire it to the notification receiver so a
   * notification for this operation makes the waiter confirm by GET at once. Notifications are
   * hints only (Tacker may drop or reorder them); the state always comes from GET.
   */
  onNotificationHint?: (wake: () => void) => void;
  /** called with each newly observed state */
  onState?: (op: VnfLcmOpOcc) => void;
  signal?: AbortSignal;
}

/** A failure worth polling through: no answer, or a 5xx (not a 4xx, not a refused token). */
function transient(e: unknown): boolean {
  if (!isMixmeshError(e, 'TACKER_REQUEST_FAILED')) return false;
  const status = e.details?.httpStatus;
  return typeof status !== 'number' || status >= 500;
}

export class TackerClient {
  private readonly deps: HttpDeps;
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(session: KeystoneSession, options: { logger?: Logger; timeoutMs?: number } = {}) {
    this.deps = { session, logger: (options.logger ?? silentLogger).child({ component: 'tacker' }), timeoutMs: options.timeoutMs ?? 30_000 };
  }

  private call(c: Omit<ServiceCall, 'service' | 'errorCode'>): Promise<ServiceReply> {
    return callService(this.deps, { ...c, service: TACKER_SERVICE_TYPE, errorCode: 'TACKER_REQUEST_FAILED' });
  }

  private lcm(c: Omit<ServiceCall, 'service' | 'errorCode'>): Promise<ServiceReply> {
    return this.call({ ...c, path: c.path.startsWith('http') ? c.path : LCM + c.path, headers: { ...V2, ...c.headers } });
  }

  /** GET a list, following `Link: <…>; rel="next"` pages. */
  private async listAll<T>(first: Omit<ServiceCall, 'service' | 'errorCode'>, v2: boolean): Promise<T[]> {
    const out: T[] = [];
    let next: Omit<ServiceCall, 'service' | 'errorCode'> | undefined = first;
    for (let page = 0; next && page < 10_000; page++) {
      const reply: ServiceReply = v2 ? await this.lcm(next) : await this.call(next);
      if (!Array.isArray(reply.json)) throw new MixmeshError('TACKER_REQUEST_FAILED', `${first.what}: the answer is not a JSON array`);
      out.push(...(reply.json as T[]));
      const link = /<([^>]+)>\s*;\s*rel="?next"?/.exec(reply.headers.get('link') ?? '');
      next = link ? { method: 'GET', path: link[1] as string, what: first.what } : undefined;
    }
    return out;
  }

  // ---- VNF instances ----

  async createVnfInstance(req: CreateVnfRequest): Promise<VnfInstance> {
    const r = await this.lcm({ method: 'POST', path: '/vnf_instances', body: req, what: `create VNF instance ${req.vnfInstanceName ?? ''} of VNFD ${req.vnfdId}` });
    return r.json as VnfInstance;
  }

  async getVnfInstance(id: string): Promise<VnfInstance> {
    return (await this.lcm({ method: 'GET', path: `/vnf_instances/${encodeURIComponent(id)}`, what: `get VNF instance ${id}` })).json as VnfInstance;
  }

  /** Instances, optionally by name (Tacker does not enforce unique names) or any SOL013 filter. */
  listVnfInstances(options: { name?: string; filter?: string; allFields?: boolean } = {}): Promise<VnfInstance[]> {
    const filters = [options.name !== undefined ? eqFilter('vnfInstanceName', options.name) : undefined, options.filter].filter(Boolean);
    return this.listAll<VnfInstance>(
      { method: 'GET', path: '/vnf_instances', query: { filter: filters.length ? filters.join(';') : undefined, all_fields: options.allFields ? '' : undefined }, what: 'list VNF instances' },
      true,
    );
  }

  private opIdFrom(reply: ServiceReply, what: string): string {
    const loc = reply.headers.get('location') ?? '';
    const m = /\/vnf_lcm_op_occs\/([^/?#]+)$/.exec(loc);
    if (!m) throw new MixmeshError('TACKER_REQUEST_FAILED', `${what}: answered ${reply.status} without a vnf_lcm_op_occs Location`);
    return decodeURIComponent(m[1] as string);
  }

  /** Starts instantiation; returns the operation id (from Location). */
  async instantiate(id: string, req: InstantiateVnfRequest): Promise<string> {
    const what = `instantiate VNF instance ${id}`;
    const r = await this.lcm({ method: 'POST', path: `/vnf_instances/${encodeURIComponent(id)}/instantiate`, body: req, okStatuses: [202], what });
    return this.opIdFrom(r, what);
  }

  async terminate(id: string, req: TerminateVnfRequest = { terminationType: 'FORCEFUL' }): Promise<string> {
    const what = `terminate VNF instance ${id}`;
    const r = await this.lcm({ method: 'POST', path: `/vnf_instances/${encodeURIComponent(id)}/terminate`, body: req, okStatuses: [202], what });
    return this.opIdFrom(r, what);
  }

  async deleteVnfInstance(id: string): Promise<void> {
    await this.lcm({ method: 'DELETE', path: `/vnf_instances/${encodeURIComponent(id)}`, okStatuses: [204], what: `delete VNF instance ${id}` });
  }

  // ---- operation occurrences ----

  async getOpOcc(opId: string): Promise<VnfLcmOpOcc> {
    return (await this.lcm({ method: 'GET', path: `/vnf_lcm_op_occs/${encodeURIComponent(opId)}`, what: `get LCM operation ${opId}` })).json as VnfLcmOpOcc;
  }

  listOpOccs(filter?: string): Promise<VnfLcmOpOcc[]> {
    return this.listAll<VnfLcmOpOcc>({ method: 'GET', path: '/vnf_lcm_op_occs', query: { filter }, what: 'list LCM operations' }, true);
  }

  async retry(opId: string): Promise<void> {
    await this.lcm({ method: 'POST', path: `/vnf_lcm_op_occs/${encodeURIComponent(opId)}/retry`, okStatuses: [202], what: `retry LCM operation ${opId}` });
  }

  async rollback(opId: string): Promise<void> {
    await this.lcm({ method: 'POST', path: `/vnf_lcm_op_occs/${encodeURIComponent(opId)}/rollback`, okStatuses: [202], what: `roll back LCM operation ${opId}` });
  }

  async fail(opId: string): Promise<VnfLcmOpOcc> {
    return (await this.lcm({ method: 'POST', path: `/vnf_lcm_op_occs/${encodeURIComponent(opId)}/fail`, okStatuses: [200], what: `fail LCM operation ${opId}` })).json as VnfLcmOpOcc;
  }

  /** Wake every waitForOperation(opId) now (a notification arrived for it). */
  hint(opId: string): void {
    for (const wake of this.waiters.get(opId) ?? []) wake();
  }

  /**
   * Wait until the operation reaches a stop state. Polls GET with backoff; a hint (hint(opId) or the
   * function handed to onNotificationHint) makes it GET at once. Returns the operation as Tacker
   * reports it; a FAILED_TEMP is returned, not thrown, so the caller can retry, roll back or fail it.
   */
  async waitForOperation(opId: string, options: WaitOptions = {}): Promise<VnfLcmOpOcc> {
    const until = options.until ?? WAIT_STOP_STATES;
    const timeoutMs = options.timeoutMs ?? 15 * 60_000;
    const minMs = options.minIntervalMs ?? 250;
    const maxMs = options.maxIntervalMs ?? 5_000;
    const deadline = Date.now() + timeoutMs;
    let wake: (() => void) | undefined;
    let hinted = false;
    const poke = (): void => {
      hinted = true;
      wake?.();
    };
    const set = this.waiters.get(opId) ?? new Set<() => void>();
    set.add(poke);
    this.waiters.set(opId, set);
    options.onNotificationHint?.(poke);
    let interval = minMs;
    let lastState: string | undefined;
    const sleepUnlessHinted = async (ms: number): Promise<void> => {
      if (hinted) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        const onAbort = (): void => resolve();
        options.signal?.addEventListener('abort', onAbort, { once: true });
        wake = () => {
          clearTimeout(timer);
          options.signal?.removeEventListener('abort', onAbort);
          resolve();
        };
      });
      wake = undefined;
    };
    try {
      for (;;) {
        if (options.signal?.aborted) throw new MixmeshError('TACKER_OPERATION_TIMEOUT', `waiting for LCM operation ${opId} was cancelled`);
        hinted = false;
        let op: VnfLcmOpOcc;
        try {
          op = await this.getOpOcc(opId);
        } catch (e) {
          // a Tacker restart or a 5xx must not lose the operation: keep polling until the deadline
          if (!transient(e) || Date.now() >= deadline) throw e;
          await sleepUnlessHinted(Math.min(interval, Math.max(0, deadline - Date.now())));
          interval = Math.min(maxMs, interval * 2);
          continue;
        }
        if (op.operationState !== lastState) {
          lastState = op.operationState;
          options.onState?.(op);
        }
        if (until.includes(op.operationState)) return op;
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new MixmeshError('TACKER_OPERATION_TIMEOUT', `LCM operation ${opId} (${op.operation}) still ${op.operationState} after ${Math.round(timeoutMs / 1000)} s`, {
            details: { opId, operationState: op.operationState },
          });
        }
        await sleepUnlessHinted(Math.min(interval, left));
        interval = hinted ? minMs : Math.min(maxMs, interval * 2);
      }
    } finally {
      set.delete(poke);
      if (set.size === 0) this.waiters.delete(opId);
    }
  }

  // ---- subscriptions ----

  /** Creates a subscription; Tacker first tests the callback (GET, expects 204) and answers 422 otherwise. */
  async createSubscription(req: LccnSubscriptionRequest): Promise<LccnSubscription> {
    return (await this.lcm({ method: 'POST', path: '/subscriptions', body: req, okStatuses: [201], what: `subscribe ${req.callbackUri}` })).json as LccnSubscription;
  }

  listSubscriptions(filter?: string): Promise<LccnSubscription[]> {
    return this.listAll<LccnSubscription>({ method: 'GET', path: '/subscriptions', query: { filter }, what: 'list subscriptions' }, true);
  }

  async deleteSubscription(id: string): Promise<void> {
    await this.lcm({ method: 'DELETE', path: `/subscriptions/${encodeURIComponent(id)}`, okStatuses: [204], what: `delete subscription ${id}` });
  }

  // ---- packages and VIMs ----

  listPackages(filter?: string): Promise<VnfPackage[]> {
    return this.listAll<VnfPackage>({ method: 'GET', path: '/vnfpkgm/v1/vnf_packages', query: { filter }, what: 'list VNF packages' }, false);
  }

  /** The packages holding a VNFD (pre-flight: one should be ONBOARDED and ENABLED). */
  listPackagesByVnfdId(vnfdId: string): Promise<VnfPackage[]> {
    return this.listPackages(eqFilter('vnfdId', vnfdId));
  }

  /** Whether a VIM is registered in Tacker (`GET /v1.0/vims/{id}`). */
  async vimExists(vimId: string): Promise<boolean> {
    const r = await this.call({ method: 'GET', path: `/v1.0/vims/${encodeURIComponent(vimId)}`, okStatuses: [200, 404], what: `check VIM ${vimId}` });
    return r.status === 200;
  }
}
