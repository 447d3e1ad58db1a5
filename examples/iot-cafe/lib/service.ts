/**
 * What the four café services share: an express app with `/healthz` and `/readyz`, JSON bodies
 * with a limit, problem+json errors (a 5xx says little to the client and everything to the log),
 * the staff bearer check, server-sent events, static pages, and a listen that drains on SIGTERM.
 */
import express, { type Request, type Response, type NextFunction } from 'express';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync } from 'node:fs';
import { timingSafeEqual } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from './log.js';

export class HttpError extends Error {
  constructor(public readonly status: number, public readonly code: string, message: string, public readonly details?: Record<string, unknown>) {
    super(message);
  }
}

/** `jsonLimitKiB`: the largest JSON body taken (16 KiB; the kitchen takes order-api's batches, 512 KiB) */
export function createCafeApp(options: { ready: () => Promise<boolean>; jsonLimitKiB?: number }): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.get('/healthz', (_req, res) => { res.json({ status: 'ok' }); });
  app.get('/readyz', async (_req, res) => {
    const ok = await options.ready().catch(() => false);
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'not ready' });
  });
  const limit = options.jsonLimitKiB ?? 16;
  app.set('cafe json limit', limit);
  app.use(express.json({ limit: `${limit}kb` }));
  return app;
}

/** what a thrown error answers: an HttpError as it is, a body parser's error as 400/413, else 500 (logged) */
function httpErrorOf(err: unknown, log: Logger, method: string | undefined, path: string, limitKiB: number): HttpError {
  const e = err as { type?: string };
  if (err instanceof HttpError) return err;
  if (e.type === 'entity.parse.failed') return new HttpError(400, 'BAD_REQUEST', 'the body is not valid JSON');
  if (e.type === 'entity.too.large') return new HttpError(413, 'PAYLOAD_TOO_LARGE', `the body is larger than ${limitKiB} KiB`);
  log.error({ err, method, path }, 'request failed');
  return new HttpError(500, 'INTERNAL', 'internal error');
}

function problemBody(http: HttpError): Record<string, unknown> {
  return { status: http.status, code: http.code, message: http.message, ...http.details };
}

/** the last middleware: unknown routes and thrown errors as problem+json */
export function finishApp(app: express.Express, log: Logger): void {
  app.use((req, _res, next) => { next(new HttpError(404, 'NOT_FOUND', `no route ${req.method} ${req.path}`)); });
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const http = httpErrorOf(err, log, req.method, req.path, Number(app.get('cafe json limit') ?? 16));
    if (res.headersSent) { res.end(); return; }
    res.status(http.status).type('application/problem+json').json(problemBody(http));
  });
}

/** a JSON route's answer */
export interface JsonAnswer { status: number; body: unknown; headers?: Record<string, string> }

/** a request handled before express sees it; false: not this route's request */
export type FastRoute = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * One JSON route served by node:http itself, ahead of express — for a service's hot path only:
 * express's routing and request/response decoration cost about 100 µs a request here, two thirds of
 * an order's CPU in order-api (measured; bench/README.md). The same contract as the express routes:
 * a JSON body (other content types: no body) up to `limitKiB`, problem+json errors, 5xx logged.
 */
export function jsonRoute(method: string, path: string, handler: (body: unknown) => Promise<JsonAnswer>, log: Logger, limitKiB = 16): FastRoute {
  return (req, res) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    if (req.method !== method || (q < 0 ? url : url.slice(0, q)) !== path) return false;
    const json = /^application\/(?:[\w.+-]+\+)?json\b/i.test(req.headers['content-type'] ?? '');
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= limitKiB * 1024) chunks.push(c);
    });
    req.on('end', () => {
      const answer = async (): Promise<JsonAnswer> => {
        if (size > limitKiB * 1024) throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `the body is larger than ${limitKiB} KiB`);
        let body: unknown = {};
        if (json && size > 0) {
          try { body = JSON.parse(Buffer.concat(chunks, size).toString('utf8')); } catch { throw new HttpError(400, 'BAD_REQUEST', 'the body is not valid JSON'); }
        }
        return handler(body);
      };
      answer().then(
        (a) => { writeJson(res, a.status, a.body, a.headers); },
        (err: unknown) => {
          const http = httpErrorOf(err, log, req.method, path, limitKiB);
          if (res.headersSent) { res.end(); return; }
          writeJson(res, http.status, problemBody(http), undefined, 'application/problem+json; charset=utf-8');
        },
      );
    });
    return true;
  };
}

function writeJson(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>, type = 'application/json; charset=utf-8'): void {
  const out = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': type, 'content-length': Buffer.byteLength(out) });
  res.end(out);
}

/** staff routes: `Authorization: Bearer <CAFE_STAFF_TOKEN>`, compared in constant time */
export function requireStaff(token: string) {
  const expected = Buffer.from(token);
  return (req: Request, _res: Response, next: NextFunction) => {
    const got = Buffer.from(/^Bearer (.+)$/.exec(req.get('authorization') ?? '')?.[1] ?? '');
    if (!token || got.length !== expected.length || !timingSafeEqual(got, expected)) {
      next(new HttpError(401, 'UNAUTHORIZED', 'staff token required (Authorization: Bearer …)'));
      return;
    }
    next();
  };
}

/** a server-sent events hub: clients join, every broadcast goes to all of them */
export class EventHub {
  private readonly clients = new Set<Response>();
  private readonly heartbeat: NodeJS.Timeout;

  constructor() {
    this.heartbeat = setInterval(() => { for (const c of this.clients) c.write(': keep-alive\n\n'); }, 15_000);
    this.heartbeat.unref();
  }

  join(req: Request, res: Response, first?: { event: string; data: unknown }): void {
    res.status(200).set({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.flushHeaders();
    res.write('retry: 1000\n\n');
    if (first) send(res, first.event, first.data);
    this.clients.add(res);
    req.on('close', () => { this.clients.delete(res); });
  }

  broadcast(event: string, data: unknown): void {
    for (const c of this.clients) send(c, event, data);
  }

  get size(): number {
    return this.clients.size;
  }

  close(): void {
    clearInterval(this.heartbeat);
    for (const c of this.clients) c.end();
    this.clients.clear();
  }
}

export function send(res: Response, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/**
 * The pages and styles under `web/`: beside the source (tsx), beside the bundle (container image),
 * or, from `dist/`, in the source tree the build came from.
 */
export function webDir(moduleUrl: string): string {
  const here = dirname(fileURLToPath(moduleUrl));
  const candidates = [process.env.CAFE_WEB_DIR, join(here, 'web'), join(here, '..', 'web'), resolve(here.replace(/[\\/]dist[\\/]examples[\\/]/, '/examples/'), '..', 'web')];
  const found = candidates.find((c): c is string => Boolean(c) && existsSync(join(c!, 'cafe.css')));
  if (!found) throw new Error(`the café's web/ folder was not found (looked in ${candidates.filter(Boolean).join(', ')})`);
  return found;
}

export function staticPages(dir: string): express.RequestHandler {
  return express.static(dir, { index: false, etag: false, maxAge: 0, fallthrough: true });
}

/** listen (`fast` routes first, then express); on SIGTERM/SIGINT stop accepting, end event streams, run `onClose`, exit */
export async function serve(app: express.Express, options: { host: string; port: number; log: Logger; onClose: () => Promise<void>; hubs?: EventHub[]; fast?: FastRoute[] }): Promise<Server> {
  const fast = options.fast ?? [];
  const server = createServer(fast.length === 0 ? app : (req, res) => { if (!fast.some((f) => f(req, res))) void app(req, res); });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((ok, fail) => { server.once('error', fail); server.listen(options.port, options.host, () => ok()); });
  options.log.info({ host: options.host, port: options.port }, 'listening');
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    options.log.info({ signal }, 'shutting down');
    for (const h of options.hubs ?? []) h.close();
    // requests already in flight finish (their answers say Connection: close) before the pools
    // close under them; an order's own event stream holds this for at most 3 s
    const drained = new Promise<void>((ok) => { server.close(() => ok()); });
    server.closeIdleConnections();
    void Promise.race([drained, new Promise((ok) => setTimeout(ok, 3000).unref())])
      .then(() => options.onClose())
      .finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 6000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  return server;
}
