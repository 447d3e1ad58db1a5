/**
 * One authenticated call to an OpenStack service found in the Keystone catalog: X-Auth-Token,
 * JSON bodies, one renewal on 401, errors as MixmeshError with the service's own `detail`.
 */
import { MixmeshError, redactText, type ErrorCode, type Logger } from '../../common/index.js';
import type { KeystoneSession } from './keystone.js';

export interface ServiceCall {
  /** catalog service type: nfv-orchestration, compute */
  service: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** path below the catalog endpoint, starting with "/" (or an absolute URL from a Link header) */
  path: string;
  query?: Record<string, string | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  /** statuses that are not errors (default: any 2xx) */
  okStatuses?: number[];
  errorCode: ErrorCode;
  /** what the call does, for messages: "create VNF instance cafe.order-api.order-api.v1.0" */
  what: string;
}

export interface ServiceReply {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

export interface HttpDeps {
  session: KeystoneSession;
  logger: Logger;
  timeoutMs: number;
}

function buildUrl(base: string, path: string, query: Record<string, string | undefined> | undefined): string {
  const url = /^https?:\/\//.test(path) ? new URL(path) : new URL(base + path);
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
  return url.toString();
}

/** The `detail` (else title, else Keystone's error.message, else the text) of an error body. */
export function problemDetail(text: string): string {
  try {
    const body = JSON.parse(text) as { detail?: unknown; title?: unknown; error?: { message?: unknown }; message?: unknown; itemNotFound?: { message?: unknown }; badRequest?: { message?: unknown } };
    for (const v of [body.detail, body.title, body.error?.message, body.itemNotFound?.message, body.badRequest?.message, body.message]) {
      if (typeof v === 'string' && v) return v;
    }
  } catch {
    /* not JSON */
  }
  return text.slice(0, 300);
}

export async function callService(deps: HttpDeps, call: ServiceCall): Promise<ServiceReply> {
  for (let attempt = 0; ; attempt++) {
    const token = await deps.session.token();
    const base = await deps.session.endpoint(call.service);
    const url = buildUrl(base, call.path, call.query);
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': 'mixmesh', ...call.headers, 'X-Auth-Token': token.value };
    let body: string | undefined;
    if (call.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(call.body);
    }
    const started = Date.now();
    let res: Response;
    try {
      res = await fetch(url, { method: call.method, headers, body, signal: AbortSignal.timeout(deps.timeoutMs) });
    } catch (e) {
      throw new MixmeshError(call.errorCode, `${call.what}: ${call.method} ${url} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e, details: { method: call.method, url } });
    }
    const text = await res.text();
    deps.logger.debug({ method: call.method, url, status: res.status, ms: Date.now() - started }, 'openstack call');
    if (res.status === 401 && attempt === 0) {
      // the token expired or was revoked early: renew once, then give up
      deps.session.invalidate(token.value);
      continue;
    }
    const ok = call.okStatuses ? call.okStatuses.includes(res.status) : res.status >= 200 && res.status < 300;
    if (!ok) {
      const detail = redactText(problemDetail(text), [token.value]);
      const code: ErrorCode = res.status === 401 ? 'KEYSTONE_AUTH_FAILED' : call.errorCode;
      throw new MixmeshError(code, `${call.what}: ${call.method} ${url} answered ${res.status}: ${detail}`, {
        details: { httpStatus: res.status, method: call.method, url, detail },
      });
    }
    let json: unknown;
    if (text !== '') {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    return { status: res.status, headers: res.headers, text, json };
  }
}
