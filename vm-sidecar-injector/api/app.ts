/**
 * The injector REST API (vm-sidecar-injector/README.md), apart from listen(): bearer auth,
 * problem+json errors, health, Prometheus metrics and the stand-alone Tacker notification mode.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { MixmeshError, toProblem } from '../../common/errors.js';
import { createServiceApp } from '../../common/http.js';
import { refuseInsecureCredentials } from '../../common/tls.js';
import { injectorOpenApiDocument } from './openapi.js';
import { silentLogger, type Logger } from '../../common/logger.js';
import type { Injection, Injector } from '../injector.js';
import { parseInjectionRequest } from './request.js';

export interface NotificationMode {
  /** HTTP Basic credentials registered in the Tacker subscription */
  username: string;
  password: string;
  /** called (not awaited by the response) for each INSTANTIATE COMPLETED notification */
  onInstantiated(vnfInstanceId: string): Promise<void>;
}

export interface InjectorAppDeps {
  injector: Injector;
  /** MIXMESH_INJECTOR_TOKEN */
  token: string;
  log?: Logger;
  /** body limit (default 1 MiB) */
  bodyLimitBytes?: number;
  /** readiness beyond "the process runs" (e.g. the cluster answers) */
  ready?: () => Promise<boolean>;
  /** the stand-alone notification mode; absent: the Tacker routes answer 404 */
  notifications?: NotificationMode;
  registry?: Registry;
  /** accept credentials over plain HTTP from non-loopback peers (default: refused, INSECURE_TRANSPORT) */
  allowInsecureHttp?: boolean;
}

export interface InjectorMetrics {
  registry: Registry;
  injections: Counter<'result' | 'code'>;
  duration: Histogram<'result'>;
  steps: Histogram<'step'>;
  inProgress: Gauge;
  renewals: Counter<'result'>;
  http: Counter<'method' | 'route' | 'status'>;
}

export function createInjectorMetrics(registry = new Registry()): InjectorMetrics {
  collectDefaultMetrics({ register: registry, prefix: 'mixmesh_injector_' });
  return {
    registry,
    injections: new Counter({ name: 'mixmesh_injector_injections_total', help: 'finished injections by result and error code', labelNames: ['result', 'code'], registers: [registry] }),
    duration: new Histogram({ name: 'mixmesh_injector_injection_duration_seconds', help: 'injection wall time, first step to last', labelNames: ['result'], buckets: [0.5, 1, 2, 5, 10, 20, 40, 80, 160, 320], registers: [registry] }),
    steps: new Histogram({ name: 'mixmesh_injector_step_duration_seconds', help: 'per-step wall time', labelNames: ['step'], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30], registers: [registry] }),
    inProgress: new Gauge({ name: 'mixmesh_injector_injections_in_progress', help: 'injections not yet finished', registers: [registry] }),
    renewals: new Counter({ name: 'mixmesh_injector_token_renewals_total', help: 'token renewals by result', labelNames: ['result'], registers: [registry] }),
    http: new Counter({ name: 'mixmesh_injector_http_requests_total', help: 'HTTP requests by route pattern', labelNames: ['method', 'route', 'status'], registers: [registry] }),
  };
}

/** What GET answers for one injection: no private data (the Secret is named, never read out). */
export function injectionView(i: Injection, now = Date.now()): Record<string, unknown> {
  // past its expiry a token is expired whether or not a renewal has run yet (renewal off, injector busy)
  const expired = i.sidecar.state === 'Running' && !i.supersededBy && i.tokenExpiresAt !== undefined && Date.parse(i.tokenExpiresAt) <= now;
  return {
    id: i.id,
    state: i.state,
    createdAt: i.createdAt,
    updatedAt: i.updatedAt,
    vnfInstanceId: i.vnfInstanceId,
    vm: { address: i.vm.address, port: i.vm.port, user: i.vm.user, hostKey: i.vm.hostKey, serverId: i.vm.serverId, floating: i.vm.floating, credentials: { secretRef: i.vm.secretRef } },
    workload: i.workload,
    sidecar: expired ? { ...i.sidecar, state: 'TokenExpired' } : i.sidecar,
    hostKey: i.hostKey,
    tokenExpiresAt: i.tokenExpiresAt,
    unchanged: i.unchanged,
    code: i.error?.code,
    error: i.error,
    steps: i.steps.map((s) => ({ ...s })),
    uninstall: i.uninstall,
    renewal: i.renewal,
    supersededBy: i.supersededBy,
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function sameSecret(given: string, expected: Buffer): boolean {
  return timingSafeEqual(digest(given), expected);
}

export function createInjectorApp(deps: InjectorAppDeps): express.Express {
  if (!deps.token) throw new MixmeshError('CONFIG_INVALID', 'the injector API needs a token (MIXMESH_INJECTOR_TOKEN)');
  const { injector } = deps;
  const log = (deps.log ?? silentLogger).child({ component: 'injector-api' });
  const metrics = createInjectorMetrics(deps.registry);
  const tokenHash = digest(deps.token);
  const basicHash = deps.notifications ? digest(`${deps.notifications.username}:${deps.notifications.password}`) : undefined;

  // metrics follow the injector's events; the API owns the registry
  const previous = injector.events;
  injector.events = {
    finished(i, ms) {
      metrics.injections.inc({ result: i.state, code: i.error?.code ?? '' });
      metrics.duration.observe({ result: i.state }, ms / 1000);
      previous.finished?.(i, ms);
    },
    step(i, s) {
      if (s.endedAt) metrics.steps.observe({ step: s.name }, (Date.parse(s.endedAt) - Date.parse(s.startedAt)) / 1000);
      previous.step?.(i, s);
    },
    renewed(i, ok) {
      metrics.renewals.inc({ result: ok ? 'ok' : 'failed' });
      previous.renewed?.(i, ok);
    },
  };

  // x-powered-by and ETags off, requests counted by route, /healthz /readyz /metrics
  const app = createServiceApp({
    requests: metrics.http, registry: metrics.registry, ready: deps.ready, component: 'injector',
    beforeMetrics: () => metrics.inProgress.set(injector.inProgress()),
  });
  app.use(refuseInsecureCredentials(deps.allowInsecureHttp ?? false));

  app.get('/openapi.json', (_req, res) => { res.json(injectorOpenApiDocument()); });

  // the stand-alone notification mode (off unless configured): Tacker's Basic credentials, not the bearer token
  const tacker = express.Router();
  tacker.use((req, _res, next) => {
    if (!deps.notifications || !basicHash) throw new MixmeshError('NOT_FOUND', 'the injector notification mode is off (it is for a stand-alone injector only)');
    const header = req.headers.authorization ?? '';
    const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
    if (!m || !sameSecret(Buffer.from(m[1]!, 'base64').toString('utf8'), basicHash)) throw new MixmeshError('UNAUTHORIZED', 'bad or missing Tacker callback credentials');
    next();
  });
  tacker.get('/', (_req, res) => {
    res.status(204).end();
  });
  tacker.post('/', express.json({ limit: deps.bodyLimitBytes ?? 1 << 20, type: () => true }), (req, res) => {
    const n = req.body as { notificationType?: string; operation?: string; operationState?: string; vnfInstanceId?: string } | undefined;
    if (n?.notificationType === 'VnfLcmOperationOccurrenceNotification' && n.operation === 'INSTANTIATE' && n.operationState === 'COMPLETED' && typeof n.vnfInstanceId === 'string') {
      const vnfInstanceId = n.vnfInstanceId;
      // a hint: the handler confirms with Tacker; delivery is never retried, so answer at once
      void deps.notifications!.onInstantiated(vnfInstanceId).catch((e: unknown) => log.warn({ vnfInstanceId, code: (e as MixmeshError).code }, `notification handling failed: ${(e as Error).message}`));
    }
    res.status(204).end();
  });
  app.use('/v1/tacker/notifications', tacker);

  // everything else under /v1: the bearer token
  const v1 = express.Router();
  v1.use((req, _res, next) => {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!m || !sameSecret(m[1]!, tokenHash)) throw new MixmeshError('UNAUTHORIZED', 'missing or unknown bearer token');
    next();
  });
  v1.use((req, _res, next) => {
    if (req.method !== 'POST') return next();
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json' && !type.endsWith('+json')) throw new MixmeshError('UNSUPPORTED_MEDIA_TYPE', `Content-Type "${type || '(none)'}" is not allowed; send application/json`);
    next();
  });
  v1.use(express.json({ limit: deps.bodyLimitBytes ?? 1 << 20, type: () => true }));

  v1.post('/injections', async (req, res) => {
    const parsed = parseInjectionRequest(req.body);
    const request = parsed.form === 'plugin' ? await injector.resolvePluginRequest(parsed.request) : parsed.request;
    const injection = injector.create(request);
    log.info({ injection: injection.id, vm: `${request.vm.address}:${request.vm.port}`, form: parsed.form, vnfInstanceId: request.vnfInstanceId }, 'injection accepted');
    res.status(202).location(`/v1/injections/${injection.id}`).json({ id: injection.id, state: injection.state });
  });
  v1.get('/injections', (req, res) => {
    const vnf = req.query.vnfInstanceId;
    if (vnf !== undefined && typeof vnf !== 'string') throw new MixmeshError('BAD_REQUEST', 'vnfInstanceId must be given once', { errors: [{ pointer: '/vnfInstanceId', message: 'give one value' }] });
    res.json({ items: injector.list({ vnfInstanceId: vnf }).map((i) => injectionView(i)) });
  });
  v1.get('/injections/:id', (req, res) => {
    const i = injector.get(String(req.params.id));
    if (!i) throw new MixmeshError('NOT_FOUND', `no injection ${String(req.params.id).slice(0, 64)} (injections live in memory; after a restart, re-inject)`);
    res.json(injectionView(i));
  });
  v1.delete('/injections/:id', (req, res) => {
    const i = injector.remove(String(req.params.id));
    res.status(202).json({ id: i.id, state: i.state });
  });
  app.use('/v1', v1);

  app.use((_req, _res, next) => next(new MixmeshError('NOT_FOUND', 'no such route')));
  // one error middleware: problem+json; a 5xx says little to the client and everything to the log
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    let e = err;
    const status = (err as { status?: number; type?: string })?.status;
    if (!(err instanceof MixmeshError) && status === 413) e = new MixmeshError('PAYLOAD_TOO_LARGE', 'the body is over the limit');
    else if (!(err instanceof MixmeshError) && (err as { type?: string })?.type === 'entity.parse.failed') e = new MixmeshError('BAD_REQUEST', 'the body is not JSON', { errors: [{ pointer: '', message: 'not JSON' }] });
    const problem = toProblem(e);
    if ((problem.status as number) >= 500) log.error({ err: e instanceof Error ? { message: e.message, code: (e as MixmeshError).code } : String(e), path: req.path }, 'request failed');
    res.status(problem.status as number).type('application/problem+json').send(JSON.stringify(problem));
  });
  return app;
}
