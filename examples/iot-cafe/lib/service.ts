/**
 * What the four café services share: an express app with `/healthz` and `/readyz`, JSON bodies
 * with a limit, problem+json errors (a 5xx says little to the client and everything to the log),
 * the staff bearer check, server-sent events, static pages, and a listen that drains on SIGTERM.
 */
import express, { type Request, type Response, type NextFunction } from 'express';
import { createServer, type Server } from 'node:http';
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

export function createCafeApp(options: { ready: () => Promise<boolean> }): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.get('/healthz', (_req, res) => { res.json({ status: 'ok' }); });
  app.get('/readyz', async (_req, res) => {
    const ok = await options.ready().catch(() => false);
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'not ready' });
  });
  app.use(express.json({ limit: '16kb' }));
  return app;
}

/** the last middleware: unknown routes and thrown errors as problem+json */
export function finishApp(app: express.Express, log: Logger): void {
  app.use((req, _res, next) => { next(new HttpError(404, 'NOT_FOUND', `no route ${req.method} ${req.path}`)); });
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = err as { status?: number; type?: string; message?: string };
    let http: HttpError;
    if (err instanceof HttpError) http = err;
    else if (e.type === 'entity.parse.failed') http = new HttpError(400, 'BAD_REQUEST', 'the body is not valid JSON');
    else if (e.type === 'entity.too.large') http = new HttpError(413, 'PAYLOAD_TOO_LARGE', 'the body is larger than 16 KiB');
    else {
      log.error({ err, method: req.method, path: req.path }, 'request failed');
      http = new HttpError(500, 'INTERNAL', 'internal error');
    }
    if (res.headersSent) { res.end(); return; }
    res.status(http.status).type('application/problem+json').json({ status: http.status, code: http.code, message: http.message, ...http.details });
  });
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

/** listen; on SIGTERM/SIGINT stop accepting, end event streams, run `onClose`, exit */
export async function serve(app: express.Express, options: { host: string; port: number; log: Logger; onClose: () => Promise<void>; hubs?: EventHub[] }): Promise<Server> {
  const server = createServer(app);
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
