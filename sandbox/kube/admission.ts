/**
 * Validating admission webhooks, called the way the API server calls them: for every CREATE and
 * UPDATE (dry runs too) of a resource a `ValidatingWebhookConfiguration` rule matches (apiGroups,
 * apiVersions, operations, resources, scope, namespaceSelector, objectSelector), after the
 * object passed its schema, an `admission.k8s.io/v1` AdmissionReview is POSTed over **HTTPS only**
 * to `clientConfig.url` or to the Service's endpoint, verifying the server certificate against
 * `clientConfig.caBundle` (the system roots when absent). A denial becomes the Status the API
 * server returns (`admission webhook "<name>" denied the request: <message>`, the webhook's code
 * or 400); a call that fails obeys `failurePolicy` (Fail by default); a dry run reaches only
 * webhooks whose `sideEffects` is None or NoneOnDryRun (others refuse the dry run).
 */
import { randomUUID } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { ApiError } from './errors.js';
import { isObject } from './patch.js';
import type { Obj, ResourceInfo } from './resources.js';

export interface AdmissionRequest {
  r: ResourceInfo;
  version: string;
  operation: 'CREATE' | 'UPDATE';
  namespace: string | undefined;
  name: string;
  object: Obj;
  oldObject: Obj | undefined;
  dryRun: boolean;
  fieldManager: string;
  username: string;
}

export interface AdmissionWorld {
  /** every ValidatingWebhookConfiguration */
  configurations(): Obj[];
  /** a namespace's labels (namespaceSelector) */
  namespaceLabels(name: string): Record<string, string> | undefined;
  /** a Service's endpoint `host:port` for a service clientConfig, or undefined */
  serviceEndpoint(namespace: string, name: string, port: number): { host: string; port: number } | undefined;
}

function matchesList(list: unknown, value: string): boolean {
  return Array.isArray(list) && list.some((x) => x === '*' || x === value);
}

/** metav1.LabelSelector: matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist) */
export function selectorMatches(selector: unknown, labels: Record<string, string>): boolean {
  if (!isObject(selector)) return true;
  if (isObject(selector.matchLabels)) {
    for (const [k, v] of Object.entries(selector.matchLabels)) if (labels[k] !== v) return false;
  }
  for (const e of (Array.isArray(selector.matchExpressions) ? selector.matchExpressions : []) as Obj[]) {
    const key = String(e.key);
    const values = (Array.isArray(e.values) ? e.values : []).map(String);
    const has = key in labels;
    switch (e.operator) {
      case 'In': if (!has || !values.includes(labels[key]!)) return false; break;
      case 'NotIn': if (has && values.includes(labels[key]!)) return false; break;
      case 'Exists': if (!has) return false; break;
      case 'DoesNotExist': if (has) return false; break;
      default: return false;
    }
  }
  return true;
}

function ruleMatches(rule: Obj, req: AdmissionRequest): boolean {
  if (!matchesList(rule.apiGroups, req.r.group) || !matchesList(rule.apiVersions, req.version)) return false;
  if (!matchesList(rule.operations, req.operation)) return false;
  if (!Array.isArray(rule.resources) || !rule.resources.some((x) => x === '*' || x === req.r.plural || x === `${req.r.plural}/*`)) return false;
  const scope = String(rule.scope ?? '*');
  if (scope === 'Namespaced' && !req.r.namespaced) return false;
  if (scope === 'Cluster' && req.r.namespaced) return false;
  return true;
}

function labelsOf(o: Obj | undefined): Record<string, string> {
  const l = isObject(o?.metadata) ? (o!.metadata as Obj).labels : undefined;
  return isObject(l) ? (l as Record<string, string>) : {};
}

/** the webhooks (with their configuration) that match this request */
export function matchingWebhooks(world: AdmissionWorld, req: AdmissionRequest): Obj[] {
  const out: Obj[] = [];
  for (const cfg of world.configurations()) {
    for (const hook of (Array.isArray(cfg.webhooks) ? cfg.webhooks : []) as Obj[]) {
      if (!((Array.isArray(hook.rules) ? hook.rules : []) as Obj[]).some((rule) => ruleMatches(rule, req))) continue;
      if (req.r.namespaced && req.namespace !== undefined && !selectorMatches(hook.namespaceSelector, world.namespaceLabels(req.namespace) ?? {})) continue;
      if (!selectorMatches(hook.objectSelector, labelsOf(req.object)) && !(req.oldObject && selectorMatches(hook.objectSelector, labelsOf(req.oldObject)))) continue;
      out.push(hook);
    }
  }
  return out;
}

function post(url: URL, ca: Buffer | undefined, servername: string | undefined, body: string, timeoutMs: number, connectTo?: { host: string; port: number }): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: connectTo?.host ?? url.hostname.replace(/^\[|\]$/g, ''), port: connectTo?.port ?? (url.port || 443), path: `${url.pathname}${url.search}`, method: 'POST',
      ...(ca ? { ca } : {}), ...(servername ? { servername } : {}),
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'Content-Length': Buffer.byteLength(body) },
      timeout: timeoutMs,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`context deadline exceeded (timeout ${timeoutMs / 1000}s)`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Call one webhook; undefined when it allowed the request, else the ApiError to answer. */
async function callWebhook(world: AdmissionWorld, hook: Obj, req: AdmissionRequest): Promise<ApiError | undefined> {
  const name = String(hook.name ?? '');
  const failurePolicy = hook.failurePolicy === 'Ignore' ? 'Ignore' : 'Fail';
  const fail = (why: string): ApiError | undefined => (failurePolicy === 'Ignore' ? undefined : new ApiError(500, 'InternalError', `Internal error occurred: failed calling webhook "${name}": ${why}`));
  const cc = isObject(hook.clientConfig) ? hook.clientConfig : {};
  const ca = typeof cc.caBundle === 'string' && cc.caBundle !== '' ? Buffer.from(cc.caBundle, 'base64') : undefined;
  const timeoutMs = Math.min(30, Math.max(1, Number(hook.timeoutSeconds ?? 10))) * 1000;
  let url: URL;
  let servername: string | undefined;
  let connectTo: { host: string; port: number } | undefined;
  if (typeof cc.url === 'string') {
    try { url = new URL(cc.url); } catch { return fail(`invalid webhook URL ${cc.url}`); }
    if (url.protocol !== 'https:') return fail(`webhook URL ${cc.url} is not https (the API server calls webhooks over HTTPS only)`);
  } else if (isObject(cc.service)) {
    const s = cc.service;
    const port = Number(s.port ?? 443);
    const host = `${String(s.name)}.${String(s.namespace)}.svc`;
    url = new URL(`https://${host}:${port}${typeof s.path === 'string' ? s.path : '/'}`);
    servername = host;
    connectTo = world.serviceEndpoint(String(s.namespace), String(s.name), port);
    if (!connectTo) return fail(`Post "${url.toString()}": no endpoints available for service "${String(s.namespace)}/${String(s.name)}"`);
  } else return fail('no clientConfig url or service');
  const uid = randomUUID();
  const gvk = { group: req.r.group, version: req.version, kind: req.r.kind };
  const gvr = { group: req.r.group, version: req.version, resource: req.r.plural };
  const review = {
    apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
    request: {
      uid, kind: gvk, resource: gvr, requestKind: gvk, requestResource: gvr, name: req.name, ...(req.namespace !== undefined ? { namespace: req.namespace } : {}),
      operation: req.operation, userInfo: { username: req.username, groups: ['system:masters', 'system:authenticated'] },
      object: req.object, oldObject: req.oldObject ?? null, dryRun: req.dryRun,
      options: { apiVersion: 'meta.k8s.io/v1', kind: req.operation === 'CREATE' ? 'CreateOptions' : 'UpdateOptions', fieldManager: req.fieldManager, ...(req.dryRun ? { dryRun: ['All'] } : {}) },
    },
  };
  let answer: { status: number; text: string };
  try {
    answer = await post(url, ca, servername, JSON.stringify(review), timeoutMs, connectTo);
  } catch (e) {
    return fail(`Post "${url.toString()}": ${e instanceof Error ? e.message : String(e)}`);
  }
  if (answer.status !== 200) return fail(`received invalid webhook response: HTTP ${answer.status}`);
  let body: Obj;
  try { body = JSON.parse(answer.text) as Obj; } catch { return fail('received invalid webhook response: not JSON'); }
  const response = isObject(body.response) ? body.response : undefined;
  if (body.apiVersion !== 'admission.k8s.io/v1' || body.kind !== 'AdmissionReview' || !response) return fail('expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview');
  if (response.uid !== uid) return fail(`expected response.uid="${uid}", got "${String(response.uid)}"`);
  if (response.allowed === true) return undefined;
  const status = isObject(response.status) ? response.status : {};
  const code = Number(status.code) >= 400 ? Number(status.code) : 400;
  const deniedBy = `admission webhook "${name}" denied the request`;
  const message = typeof status.message === 'string' && status.message ? `${deniedBy}: ${status.message}` : typeof status.reason === 'string' && status.reason ? `${deniedBy}: ${status.reason}` : `${deniedBy} without explanation`;
  return new ApiError(code, typeof status.reason === 'string' ? status.reason : '', message);
}

/** Run every matching webhook (in parallel, as the API server does); throws the first refusal. */
export async function admit(world: AdmissionWorld, req: AdmissionRequest): Promise<void> {
  const hooks = matchingWebhooks(world, req);
  if (hooks.length === 0) return;
  if (req.dryRun) {
    const unsafe = hooks.find((h) => !['None', 'NoneOnDryRun'].includes(String(h.sideEffects ?? 'Unknown')));
    if (unsafe) throw new ApiError(400, 'BadRequest', `admission webhook "${String(unsafe.name)}" does not support dry run`);
  }
  const results = await Promise.all(hooks.map((h) => callWebhook(world, h, req)));
  const refusal = results.find((r) => r !== undefined);
  if (refusal) throw refusal;
}
