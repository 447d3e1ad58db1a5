/**
 * LCM subscriptions and notification delivery, as Tacker does it (docs/tacker.md,
 * "Notifications (callback mode)"): a test GET before saving (204 within 20 s, else 422), Basic or OAuth2 client
 * credentials, one independent POST per notification and subscriber, never retried. Faults can
 * drop, duplicate or reorder deliveries.
 */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { HttpProblem } from './http-util.js';
import { matchesFilter, type FilterExpr } from './sol013.js';

export interface SubscriptionAuth {
  authType: string[];
  paramsBasic?: { userName: string; password: string };
  paramsOauth2ClientCredentials?: { clientId: string; clientPassword: string; tokenEndpoint: string };
}

export interface SubscriptionFilter {
  vnfInstanceSubscriptionFilter?: { vnfdIds?: string[]; vnfInstanceIds?: string[]; vnfInstanceNames?: string[] };
  notificationTypes?: string[];
  operationTypes?: string[];
  operationStates?: string[];
}

export interface Subscription {
  id: string;
  callbackUri: string;
  filter?: SubscriptionFilter;
  verbosity: 'FULL' | 'SHORT';
  authentication?: SubscriptionAuth;
}

/** What a subscriber may be told about the instance a notification is about. */
export interface NotificationSubject {
  vnfInstanceId: string;
  vnfdId: string;
  vnfInstanceName?: string;
}

export interface DeliveryRecord {
  subscriptionId: string;
  notificationId: string;
  notificationType: string;
  operationState?: string;
  vnfLcmOpOccId?: string;
  status: number | 'pending' | 'error' | 'dropped';
  at: string;
}

export interface NotificationFaults {
  drop: number;
  duplicate: number;
  reorder: number;
}

const NOTIFICATION_TYPES = ['VnfLcmOperationOccurrenceNotification', 'VnfIdentifierCreationNotification', 'VnfIdentifierDeletionNotification'];
const OPERATIONS = ['INSTANTIATE', 'SCALE', 'SCALE_TO_LEVEL', 'CHANGE_FLAVOUR', 'TERMINATE', 'HEAL', 'OPERATE', 'CHANGE_EXT_CONN', 'MODIFY_INFO', 'CHANGE_VNFPKG'];
const STATES = ['STARTING', 'PROCESSING', 'COMPLETED', 'FAILED_TEMP', 'FAILED', 'ROLLING_BACK', 'ROLLED_BACK'];

function stringArray(v: unknown, where: string, allowed?: readonly string[]): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new HttpProblem(400, `${where} must be an array of strings`);
  if (allowed) for (const x of v as string[]) if (!allowed.includes(x)) throw new HttpProblem(400, `${where}: "${x}" is not one of ${allowed.join(', ')}`);
  return v as string[];
}

/** Validate a LccnSubscriptionRequest body (400 naming the field). */
export function parseSubscriptionRequest(body: Record<string, unknown>): Omit<Subscription, 'id'> {
  const cb = body.callbackUri;
  if (typeof cb !== 'string') throw new HttpProblem(400, 'callbackUri is required (a string URI)');
  let url: URL;
  try {
    url = new URL(cb);
  } catch {
    throw new HttpProblem(400, `callbackUri "${cb}" is not a URI`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new HttpProblem(400, `callbackUri "${cb}" must be http or https`);
  const verbosity = body.verbosity ?? 'FULL';
  if (verbosity !== 'FULL' && verbosity !== 'SHORT') throw new HttpProblem(400, `verbosity must be FULL or SHORT, got ${JSON.stringify(verbosity)}`);
  let filter: SubscriptionFilter | undefined;
  if (body.filter !== undefined) {
    const f = body.filter as Record<string, unknown>;
    if (!f || typeof f !== 'object' || Array.isArray(f)) throw new HttpProblem(400, 'filter must be an object');
    const vf = f.vnfInstanceSubscriptionFilter as Record<string, unknown> | undefined;
    if (vf !== undefined && (typeof vf !== 'object' || vf === null)) throw new HttpProblem(400, 'filter.vnfInstanceSubscriptionFilter must be an object');
    filter = {
      vnfInstanceSubscriptionFilter: vf
        ? {
            vnfdIds: stringArray(vf.vnfdIds, 'filter.vnfInstanceSubscriptionFilter.vnfdIds'),
            vnfInstanceIds: stringArray(vf.vnfInstanceIds, 'filter.vnfInstanceSubscriptionFilter.vnfInstanceIds'),
            vnfInstanceNames: stringArray(vf.vnfInstanceNames, 'filter.vnfInstanceSubscriptionFilter.vnfInstanceNames'),
          }
        : undefined,
      notificationTypes: stringArray(f.notificationTypes, 'filter.notificationTypes', NOTIFICATION_TYPES),
      operationTypes: stringArray(f.operationTypes, 'filter.operationTypes', OPERATIONS),
      operationStates: stringArray(f.operationStates, 'filter.operationStates', STATES),
    };
  }
  let authentication: SubscriptionAuth | undefined;
  if (body.authentication !== undefined) {
    const a = body.authentication as Record<string, unknown>;
    const types = stringArray(a?.authType, 'authentication.authType', ['BASIC', 'OAUTH2_CLIENT_CREDENTIALS', 'TLS_CERT']);
    if (!types || types.length === 0) throw new HttpProblem(400, 'authentication.authType is required: ["BASIC"] or ["OAUTH2_CLIENT_CREDENTIALS"]');
    authentication = { authType: types };
    if (types.includes('BASIC')) {
      const p = a.paramsBasic as Record<string, unknown> | undefined;
      if (!p || typeof p.userName !== 'string' || typeof p.password !== 'string') throw new HttpProblem(400, 'authentication.paramsBasic {userName, password} is required for BASIC');
      authentication.paramsBasic = { userName: p.userName, password: p.password };
    }
    if (types.includes('OAUTH2_CLIENT_CREDENTIALS')) {
      const p = a.paramsOauth2ClientCredentials as Record<string, unknown> | undefined;
      if (!p || typeof p.clientId !== 'string' || typeof p.clientPassword !== 'string' || typeof p.tokenEndpoint !== 'string') {
        throw new HttpProblem(400, 'authentication.paramsOauth2ClientCredentials {clientId, clientPassword, tokenEndpoint} is required for OAUTH2_CLIENT_CREDENTIALS');
      }
      authentication.paramsOauth2ClientCredentials = { clientId: p.clientId, clientPassword: p.clientPassword, tokenEndpoint: p.tokenEndpoint };
    }
  }
  return { callbackUri: cb, filter, verbosity, authentication };
}

/** The subscription as Tacker shows it: never the authentication. */
export function subscriptionView(s: Subscription, base: string): Record<string, unknown> {
  const out: Record<string, unknown> = { id: s.id };
  if (s.filter) out.filter = JSON.parse(JSON.stringify(s.filter)) as unknown;
  out.callbackUri = s.callbackUri;
  out.verbosity = s.verbosity;
  out._links = { self: { href: `${base}/vnflcm/v2/subscriptions/${s.id}` } };
  return out;
}

/** The Authorization header for a subscriber (OAuth2: a fresh client-credentials token). */
async function authorization(auth: SubscriptionAuth | undefined, timeoutMs: number, doFetch: typeof fetch = fetch): Promise<string | undefined> {
  if (!auth) return undefined;
  if (auth.authType.includes('BASIC') && auth.paramsBasic) {
    return 'Basic ' + Buffer.from(`${auth.paramsBasic.userName}:${auth.paramsBasic.password}`).toString('base64');
  }
  const o = auth.paramsOauth2ClientCredentials;
  if (auth.authType.includes('OAUTH2_CLIENT_CREDENTIALS') && o) {
    const res = await doFetch(o.tokenEndpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: 'Basic ' + Buffer.from(`${o.clientId}:${o.clientPassword}`).toString('base64') },
      body: 'grant_type=client_credentials',
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await res.json().catch(() => ({}))) as { access_token?: unknown };
    if (res.status !== 200 || typeof body.access_token !== 'string') throw new Error(`the OAuth2 token endpoint answered ${res.status}`);
    return `Bearer ${body.access_token}`;
  }
  return undefined;
}

export class Notifier {
  readonly subscriptions = new Map<string, Subscription>();
  readonly deliveries: DeliveryRecord[] = [];
  faults: NotificationFaults = { drop: 0, duplicate: 0, reorder: 0 };
  private held: (() => void)[] = [];
  private readonly testTimeoutMs: number;
  private readonly deliveryTimeoutMs: number;
  private readonly pending = new Set<Promise<void>>();
  /** aborted on stop: deliveries in flight end at once */
  private readonly aborter = new AbortController();

  /** how callbacks are called: an https callback's certificate is checked (against a given CA when the sandbox has one) */
  private readonly fetch: typeof fetch;

  constructor(opts: { testTimeoutMs: number; deliveryTimeoutMs: number; fetch?: typeof fetch }) {
    this.fetch = opts.fetch ?? fetch;
    // every operation and delivery in flight listens on this one signal: dozens at once is normal
    setMaxListeners(0, this.aborter.signal);
    this.testTimeoutMs = opts.testTimeoutMs;
    this.deliveryTimeoutMs = opts.deliveryTimeoutMs;
  }

  /** Test the callback (GET, same auth, Version: 2.0.0) and save; 422 unless it answers 204 in time. */
  async subscribe(req: Omit<Subscription, 'id'>): Promise<Subscription> {
    let status: number;
    try {
      const auth = await authorization(req.authentication, this.testTimeoutMs, this.fetch);
      const res = await this.fetch(req.callbackUri, {
        method: 'GET',
        headers: { Version: '2.0.0', Accept: 'application/json', ...(auth ? { Authorization: auth } : {}) },
        signal: AbortSignal.timeout(this.testTimeoutMs),
      });
      await res.arrayBuffer();
      status = res.status;
    } catch (e) {
      throw new HttpProblem(422, `Notification endpoint test failed: ${req.callbackUri} did not answer: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (status !== 204) throw new HttpProblem(422, `Notification endpoint test failed: ${req.callbackUri} answered ${status}, expected 204`);
    const sub: Subscription = { id: randomUUID(), ...req };
    this.subscriptions.set(sub.id, sub);
    return sub;
  }

  private wants(s: Subscription, n: Record<string, unknown>, subject: NotificationSubject): boolean {
    const f = s.filter;
    if (!f) return true;
    const vf = f.vnfInstanceSubscriptionFilter;
    if (vf?.vnfdIds?.length && !vf.vnfdIds.includes(subject.vnfdId)) return false;
    if (vf?.vnfInstanceIds?.length && !vf.vnfInstanceIds.includes(subject.vnfInstanceId)) return false;
    if (vf?.vnfInstanceNames?.length && !vf.vnfInstanceNames.includes(subject.vnfInstanceName ?? '')) return false;
    if (f.notificationTypes?.length && !f.notificationTypes.includes(n.notificationType as string)) return false;
    if (n.notificationType === 'VnfLcmOperationOccurrenceNotification') {
      if (f.operationTypes?.length && !f.operationTypes.includes(n.operation as string)) return false;
      if (f.operationStates?.length && !f.operationStates.includes(n.operationState as string)) return false;
    }
    return true;
  }

  /**
   * Send a notification to every matching subscriber. `build` makes the body for one subscription
   * (subscriptionId, links, verbosity). Each POST runs on its own: this returns at once.
   */
  publish(subject: NotificationSubject, probe: Record<string, unknown>, build: (s: Subscription) => Record<string, unknown>): void {
    for (const s of this.subscriptions.values()) {
      if (!this.wants(s, probe, subject)) continue;
      const body = build(s);
      // recorded when dispatched (so the log shows send order), status filled in on completion
      const record = (status: DeliveryRecord['status']): DeliveryRecord => {
        const rec: DeliveryRecord = {
          subscriptionId: s.id, notificationId: body.id as string, notificationType: body.notificationType as string,
          operationState: body.operationState as string | undefined, vnfLcmOpOccId: body.vnfLcmOpOccId as string | undefined, status, at: new Date().toISOString(),
        };
        this.deliveries.push(rec);
        return rec;
      };
      if (this.faults.drop > 0) {
        this.faults.drop--;
        record('dropped');
        continue;
      }
      let copies = 1;
      if (this.faults.duplicate > 0) {
        this.faults.duplicate--;
        copies = 2;
      }
      const send = (): void => {
        for (let i = 0; i < copies; i++) {
          const rec = record('pending');
          this.track(this.deliver(s, body).then((status) => {
            rec.status = status;
          }));
        }
      };
      if (this.faults.reorder > 0) {
        // hold this one; when the last held one arrives, release them newest first
        this.faults.reorder--;
        this.held.push(send);
        if (this.faults.reorder === 0) {
          const held = this.held.reverse();
          this.held = [];
          for (const h of held) h();
        }
        continue;
      }
      send();
    }
  }

  private track(p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  private async deliver(s: Subscription, body: Record<string, unknown>): Promise<number | 'error'> {
    try {
      const auth = await authorization(s.authentication, this.deliveryTimeoutMs, this.fetch);
      const res = await this.fetch(s.callbackUri, {
        method: 'POST',
        headers: { Version: '2.0.0', 'Content-Type': 'application/json', Accept: 'application/json', ...(auth ? { Authorization: auth } : {}) },
        body: JSON.stringify(body),
        signal: AbortSignal.any([AbortSignal.timeout(this.deliveryTimeoutMs), this.aborter.signal]),
      });
      await res.arrayBuffer();
      return res.status;
    } catch {
      // Tacker does not retry on connection errors either: the receiver misses this event
      return 'error';
    }
  }

  /** Stop: nothing more is sent, deliveries in flight are cut. */
  stop(): void {
    this.held = [];
    this.subscriptions.clear();
    this.aborter.abort();
  }

  /** Release held (reordered) notifications and wait for every delivery in flight. */
  async drain(): Promise<void> {
    const held = this.held.reverse();
    this.held = [];
    for (const h of held) h();
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }
}

/** Filter list items by a parsed SOL013 filter (re-exported for the list routes). */
export function filterList<T>(items: readonly T[], exprs: readonly FilterExpr[]): T[] {
  return items.filter((i) => matchesFilter(i, exprs));
}
