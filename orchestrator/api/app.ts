/**
 * The orchestrator REST API (docs/api.md), apart from listen():
 * bearer auth with roles, body limits, YAML or JSON bodies, problem+json errors, the Tacker
 * callback routes, health, metrics and the OpenAPI document.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { MixmeshError, toProblem } from '../../common/errors.js';
import { createServiceApp } from '../../common/http.js';
import { refuseInsecureCredentials } from '../../common/tls.js';
import { parseDescriptorText } from '../../descriptor/index.js';
import type { Logger } from '../../common/logger.js';
import type { CallbackAuthority } from '../callbacks.js';
import type { ApiToken, Role } from '../config.js';
import { refreshServiceMetrics, type OrchestratorMetrics } from '../metrics.js';
import { checkNamespaceAccess, type Access, type ServiceManager } from '../services.js';
import { openApiDocument } from './openapi.js';
import { mountConsole, type ConsoleOptions } from '../../console/index.js';
import type { TokenStore } from '../tokens.js';
import type { KubeObject } from '../ports.js';

export interface ApiDeps {
  tokens: readonly ApiToken[];
  /** who a bearer is (hashed tokens, expiry, reloads); default: a fixed store of `tokens` */
  tokenStore?: TokenStore;
  bodyLimitBytes: number;
  services: ServiceManager;
  callbacks: CallbackAuthority;
  metrics: OrchestratorMetrics;
  log: Logger;
  /** readiness: the cluster answers (and, for the leader, the controller runs) */
  ready: () => Promise<boolean>;
  /** the web console at /ui (console/); absent: no /ui */
  console?: ConsoleOptions;
  /** the parts mounted on this API (backup, migrate, the gateway): routes under the same auth, roles, body limit and problem+json */
  mounts?: readonly ApiMount[];
  /** accept credentials over plain HTTP from non-loopback peers (default: refused, INSECURE_TRANSPORT) */
  allowInsecureHttp?: boolean;
}

/** what a mounted part gets: the role check, the raw body parser and the JSON-object body of this API */
export interface ApiMountHelpers {
  need: (role: Role) => (req: Request, res: Response, next: NextFunction) => void;
  rawBody: express.RequestHandler;
  /** the parsed body (JSON or YAML), which must be an object: else 400 BAD_REQUEST */
  jsonBody: (req: Request) => Record<string, unknown>;
}

/** One part mounted on the orchestrator's API: the one mechanism for backup, migrate and the gateway. */
export interface ApiMount {
  routes: (app: express.Express, helpers: ApiMountHelpers) => void;
  /** its CRDs, applied (and waited for) when the orchestrator starts */
  crds?: () => KubeObject[];
  /** OpenAPI paths merged into /openapi.json */
  openApiPaths?: () => Record<string, unknown>;
}

const ROLE_RANK: Record<Role, number> = { viewer: 0, deployer: 1, admin: 2 };

interface Caller {
  name: string;
  role: Role;
  namespaces?: readonly string[] | undefined;
}

/** what the service manager needs to know of the caller */
const accessOf = (res: Response): Access => {
  const c = res.locals.caller as Caller;
  return { name: c.name, admin: c.role === 'admin', namespaces: c.namespaces };
};

type Handler = (req: Request, res: Response) => Promise<void> | void;

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

/**
 * a request body, YAML or JSON by Content-Type (415 otherwise). Every body goes through the
 * descriptor reader, the same one `mixmesh validate` uses: the bytes must be UTF-8 (never
 * repaired into U+FFFD), and depth and node count are limited while reading. Unreadable →
 * DESCRIPTOR_UNREADABLE for a descriptor, BAD_REQUEST otherwise.
 */
export function parseBody(req: Request, asDescriptor: boolean, parseDescriptor?: (bytes: Uint8Array) => unknown): unknown {
  const raw = req.body as Buffer | undefined;
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const bytes = Buffer.isBuffer(raw) ? raw : Buffer.alloc(0);
  const isJson = type === 'application/json' || type.endsWith('+json');
  const isYaml = YAML_TYPES.includes(type);
  if (!isJson && !isYaml) {
    throw new MixmeshError('UNSUPPORTED_MEDIA_TYPE', `Content-Type "${type || '(none)'}" is not allowed; send application/json or application/yaml`);
  }
  const code = asDescriptor ? 'DESCRIPTOR_UNREADABLE' : 'BAD_REQUEST';
  if (bytes.toString('latin1').trim() === '') throw new MixmeshError(code, 'the request body is empty', { errors: [{ pointer: '', message: 'empty body: expected a YAML or JSON document' }] });
  if (asDescriptor && parseDescriptor) return parseDescriptor(bytes);
  // JSON is YAML: one reader for both, with its limits (a body's size was checked by express)
  const parsed = parseDescriptorText(bytes, { maxBytes: Number.MAX_SAFE_INTEGER });
  if (!parsed.ok) throw new MixmeshError(code, parsed.problems[0]!.message, { errors: parsed.problems });
  return parsed.value;
}

/** a Kubernetes object name or namespace (DNS-1123 label), as every route's path segment must be */
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const OPERATION_ID = /^[0-9a-f-]{36}-(\d{1,18}|delete)$/;

function checkName(what: 'namespace' | 'name', value: string): void {
  if (DNS1123_LABEL.test(value)) return;
  const shown = JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value);
  throw new MixmeshError('BAD_REQUEST', `${what} ${shown} in the path is not a Kubernetes name (a DNS-1123 label: lower-case letters, digits and "-", at most 63, starting and ending with a letter or digit)`, { errors: [{ pointer: `/${what}`, message: `${shown} is not a DNS-1123 label` }] });
}

interface RouteLayer {
  route?: { _methods?: () => string[] };
  match?: (path: string) => boolean;
}

/** the methods the app's routes answer on `path` (upper case, sorted) */
function allowedMethods(app: express.Express, path: string): string[] {
  const stack = ((app as unknown as { router?: { stack?: RouteLayer[] } }).router?.stack ?? []);
  const methods = new Set<string>();
  for (const layer of stack) {
    if (!layer.route?._methods || !layer.match?.(path)) continue;
    for (const m of layer.route._methods()) methods.add(m.toUpperCase());
  }
  return [...methods].sort();
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

export function createApp(deps: ApiDeps): express.Express {
  const { services, callbacks, metrics, log } = deps;
  const tokenHashes = deps.tokens.map((t) => ({ ...t, hash: Buffer.from(t.sha256, 'hex') }));
  // x-powered-by and ETags off, requests counted by route, /healthz /readyz /metrics
  const app = createServiceApp({
    requests: metrics.httpRequests, registry: metrics.registry, ready: deps.ready, component: 'orchestrator',
    // per-service gauges (phase, VMs and sidecars ready, token expiry) from the MeshService statuses
    beforeMetrics: async () => refreshServiceMetrics(metrics.services, (await services.list()) as unknown as Parameters<typeof refreshServiceMetrics>[1]),
  });
  app.use(refuseInsecureCredentials(deps.allowInsecureHttp ?? false));

  const rawBody = express.raw({ type: () => true, limit: deps.bodyLimitBytes });
  const formBody = express.urlencoded({ extended: false, limit: '16kb', type: () => true });

  function authenticate(req: Request): Caller | undefined {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m) return undefined;
    if (deps.tokenStore) return deps.tokenStore.lookup(m[1]!);
    const given = sha256(m[1]!);
    let found: Caller | undefined;
    for (const t of tokenHashes) if (timingSafeEqual(given, t.hash)) found = { name: t.name, role: t.role, namespaces: t.namespaces };
    return found;
  }

  const need = (role: Role) => (req: Request, res: Response, next: NextFunction): void => {
    const caller = authenticate(req);
    if (!caller) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="mixmesh"');
      throw new MixmeshError('UNAUTHORIZED', 'a valid bearer token is required (Authorization: Bearer <token>)');
    }
    if (ROLE_RANK[caller.role] < ROLE_RANK[role]) {
      throw new MixmeshError('FORBIDDEN', `role ${caller.role} may not do this; it needs ${role}`);
    }
    res.locals.caller = caller;
    next();
  };

  // path segments are Kubernetes names before they reach any URL: `%2e%2e` (..) or `a%2Fb` never get further
  const names = (req: Request, res: Response, next: NextFunction): void => {
    checkName('namespace', String(req.params.namespace));
    checkName('name', String(req.params.name));
    checkNamespaceAccess(accessOf(res), String(req.params.namespace));
    next();
  };

  const route = (fn: Handler): Handler => fn;
  const p = (req: Request, key: string): string => String(req.params[key]);

  // ---------------------------------------------------------------- health, metrics, openapi
  app.get('/openapi.json', (_req, res) => {
    const doc = openApiDocument();
    for (const m of deps.mounts ?? []) Object.assign(doc.paths as Record<string, unknown>, m.openApiPaths?.() ?? {});
    res.json(doc);
  });

  // ---------------------------------------------------------------- Tacker callbacks
  app.get('/v1/tacker/notifications', (req, res) => {
    if (!callbacks.verify(req.headers.authorization)) throw new MixmeshError('UNAUTHORIZED', 'bad notification credentials');
    res.setHeader('Version', '2.0.0');
    res.status(204).end();
  });
  app.post('/v1/tacker/notifications', rawBody, (req, res) => {
    if (!callbacks.verify(req.headers.authorization)) throw new MixmeshError('UNAUTHORIZED', 'bad notification credentials');
    callbacks.accept(parseBody(req, false));
    res.status(204).end();
  });
  app.post('/v1/tacker/oauth2/token', formBody, (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const token = callbacks.issueToken(req.headers.authorization, body.grant_type);
    res.setHeader('Cache-Control', 'no-store');
    if (!token) {
      res.setHeader('WWW-Authenticate', 'Basic realm="mixmesh"');
      res.status(401).json({ error: 'invalid_client' });
      return;
    }
    res.json(token);
  });

  // ---------------------------------------------------------------- services
  app.post('/v1/services', need('deployer'), rawBody, route(async (req, res) => {
    res.status(202).json(await services.create(parseBody(req, true, (t) => services.parseText(t)), accessOf(res)));
  }));
  app.get('/v1/services', need('viewer'), route(async (req, res) => {
    const ns = typeof req.query.namespace === 'string' && req.query.namespace !== '' ? req.query.namespace : undefined;
    if (req.query.namespace !== undefined && typeof req.query.namespace !== 'string') throw new MixmeshError('BAD_REQUEST', 'give ?namespace= once');
    if (ns !== undefined) checkName('namespace', ns);
    res.json({ items: await services.list(ns, accessOf(res)) });
  }));
  app.post('/v1/plan', need('viewer'), rawBody, route(async (req, res) => {
    res.json(await services.plan(parseBody(req, true, (t) => services.parseText(t)), undefined, accessOf(res)));
  }));
  app.put('/v1/services/:namespace/:name', need('deployer'), names, rawBody, route(async (req, res) => {
    res.status(202).json(await services.put(p(req, 'namespace'), p(req, 'name'), parseBody(req, true, (t) => services.parseText(t)), accessOf(res)));
  }));
  app.put('/v1/services/:namespace/:name/connections', need('deployer'), names, rawBody, route(async (req, res) => {
    res.status(202).json(await services.putConnections(p(req, 'namespace'), p(req, 'name'), parseBody(req, false), accessOf(res)));
  }));
  app.post('/v1/services/:namespace/:name/plan', need('viewer'), names, rawBody, route(async (req, res) => {
    res.json(await services.plan(parseBody(req, true, (t) => services.parseText(t)), { namespace: p(req, 'namespace'), name: p(req, 'name') }, accessOf(res)));
  }));
  app.get('/v1/services/:namespace/:name', need('viewer'), names, route(async (req, res) => {
    res.json(await services.get(p(req, 'namespace'), p(req, 'name')));
  }));
  app.delete('/v1/services/:namespace/:name', need('deployer'), names, route(async (req, res) => {
    res.status(202).json(await services.delete(p(req, 'namespace'), p(req, 'name')));
  }));
  app.get('/v1/services/:namespace/:name/mesh-config', need('viewer'), names, route(async (req, res) => {
    const text = await services.meshConfig(p(req, 'namespace'), p(req, 'name'));
    res.setHeader('Content-Type', 'application/yaml; charset=utf-8');
    res.send(text);
  }));
  app.get('/v1/services/:namespace/:name/events', need('viewer'), names, route(async (req, res) => {
    const namespace = p(req, 'namespace');
    const name = p(req, 'name');
    const history = await services.events(namespace, name);
    if (req.query.watch !== 'true') {
      res.json({ items: history });
      return;
    }
    await streamEvents(req, res, history, (cb) => services.watchEvents(namespace, name, cb));
  }));

  app.get('/v1/operations/:id', need('viewer'), route(async (req, res) => {
    if (!OPERATION_ID.test(p(req, 'id'))) throw new MixmeshError('BAD_REQUEST', `${JSON.stringify(p(req, 'id').slice(0, 100))} is not an operation id (<uid>-<generation> or <uid>-delete)`, { errors: [{ pointer: '/id', message: 'expected <uid>-<generation> or <uid>-delete' }] });
    res.json(await services.operation(p(req, 'id'), accessOf(res)));
  }));

  const jsonBody = (req: Request): Record<string, unknown> => {
    const body = parseBody(req, false);
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new MixmeshError('BAD_REQUEST', 'the body must be an object', { errors: [{ pointer: '', message: 'expected an object' }] });
    return body as Record<string, unknown>;
  };
  for (const m of deps.mounts ?? []) m.routes(app, { need, rawBody, jsonBody });

  // ---------------------------------------------------------------- the web console (console/): read-only helpers, /ui
  app.get('/v1/whoami', need('viewer'), (_req, res) => {
    const c = res.locals.caller as Caller;
    res.json({ name: c.name, role: c.role, ...(c.namespaces ? { namespaces: c.namespaces } : {}) });
  });
  app.get('/v1/services/:namespace/:name/objects', need('viewer'), names, route(async (req, res) => {
    res.json({ items: await services.objects(p(req, 'namespace'), p(req, 'name')) });
  }));
  if (deps.console) mountConsole(app, deps.console);

  // ---------------------------------------------------------------- errors
  app.use((req: Request, res: Response) => {
    // a path that exists with other methods: 405 with Allow (RFC 9110 §15.5.6), not 404
    const allowed = allowedMethods(app, req.path);
    if (allowed.length) {
      res.setHeader('Allow', allowed.join(', '));
      throw new MixmeshError('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${req.path}; allowed: ${allowed.join(', ')}`);
    }
    throw new MixmeshError('NOT_FOUND', `no route ${req.method} ${req.path}`);
  });
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = err as { type?: string; status?: number; limit?: number };
    let problemSource: unknown = err;
    // each body parser names its own limit (the token route's is 16 kB, not the descriptor's 4 MiB)
    if (e && e.type === 'entity.too.large') problemSource = new MixmeshError('PAYLOAD_TOO_LARGE', `the body is over the limit of ${e.limit ?? deps.bodyLimitBytes} bytes`);
    else if (e && typeof e.type === 'string' && e.status && e.status < 500) problemSource = new MixmeshError('BAD_REQUEST', `the body cannot be read (${e.type})`);
    const body = toProblem(problemSource);
    const status = Number(body.status) || 500;
    if (status >= 500) log.error({ err, method: req.method, path: req.path }, 'request failed');
    else log.debug({ code: body.code, method: req.method, path: req.path, status }, 'request rejected');
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(status).type('application/problem+json').send(JSON.stringify(body));
  });
  return app;
}

import type { ServiceEvent } from '../events.js';

/** Server-sent events: history after Last-Event-ID, then new ones, until the client leaves */
async function streamEvents(req: Request, res: Response, history: ServiceEvent[], watch: (cb: (e: ServiceEvent) => void) => Promise<() => void>): Promise<void> {
  const lastId = (req.headers['last-event-id'] as string | undefined) ?? (typeof req.query.lastEventId === 'string' ? req.query.lastEventId : undefined);
  const sent = new Set<string>();
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache');
  res.setHeader('Connection', 'keep-alive');
  res.flushHeaders();
  const send = (e: ServiceEvent): void => {
    if (sent.has(e.id) || (lastId !== undefined && e.id <= lastId)) return;
    sent.add(e.id);
    res.write(`id: ${e.id}\nevent: ${e.reason || 'event'}\ndata: ${JSON.stringify(e)}\n\n`);
  };
  // watch first, then replay: nothing recorded in between is lost (the set drops duplicates)
  const buffered: ServiceEvent[] = [];
  let live = false;
  const stop = await watch((e) => (live ? send(e) : buffered.push(e)));
  for (const e of history) send(e);
  for (const e of buffered) send(e);
  live = true;
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  keepAlive.unref();
  await new Promise<void>((resolve) => res.on('close', () => resolve()));
  clearInterval(keepAlive);
  stop();
}
