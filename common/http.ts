/**
 * The base every mixmesh HTTP service shares (orchestrator API, injector API): an express app with
 * no `x-powered-by` and no ETags, requests counted by route pattern (never by raw path, so label
 * values stay bounded), and `/healthz`, `/readyz`, `/metrics`.
 */
import express from 'express';
import type { Counter, Registry } from 'prom-client';

export interface ServiceAppOptions {
  /** counter with labels method, route, status */
  requests: Counter<'method' | 'route' | 'status'>;
  registry: Registry;
  /** readiness; absent means always ready */
  ready?: () => Promise<boolean>;
  /** called before /metrics renders, to refresh gauges */
  beforeMetrics?: () => void;
}

export function createServiceApp(options: ServiceAppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((req, res, next) => {
    res.on('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      options.requests.inc({ method: req.method, route: String(route), status: String(res.statusCode) });
    });
    next();
  });
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const ok = options.ready ? await options.ready().catch(() => false) : true;
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'not ready' });
  });
  app.get('/metrics', async (_req, res) => {
    options.beforeMetrics?.();
    res.type(options.registry.contentType).send(await options.registry.metrics());
  });
  return app;
}
