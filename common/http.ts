/**
 * The base every mixmesh HTTP service shares (orchestrator API, injector API): an express app with
 * no `x-powered-by` and no ETags, requests counted by route pattern (never by raw path, so label
 * values stay bounded), and `/healthz`, `/livez` (the process answers: what a liveness probe asks),
 * `/readyz`, `/version` (as Kubernetes' `/version`, without auth: `mixmesh version` reads it),
 * `/metrics` (with `mixmesh_build_info{version,node}` 1).
 */
import express from 'express';
import { Gauge, type Counter, type Registry } from 'prom-client';
import { buildInfo } from './version.js';

export interface ServiceAppOptions {
  /** counter with labels method, route, status */
  requests: Counter<'method' | 'route' | 'status'>;
  registry: Registry;
  /** readiness; absent means always ready */
  ready?: () => Promise<boolean>;
  /** called before /metrics renders, to refresh gauges (awaited; a failure leaves the gauges as they were) */
  beforeMetrics?: () => void | Promise<void>;
  /** names this service in /version (e.g. "orchestrator", "injector") */
  component?: string;
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
  const info = buildInfo();
  if (!options.registry.getSingleMetric('mixmesh_build_info')) {
    new Gauge({ name: 'mixmesh_build_info', help: 'Always 1; the labels say which mixmesh build runs', labelNames: ['version', 'node'], registers: [options.registry] })
      .set({ version: info.version, node: info.nodeVersion }, 1);
  }
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/livez', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/version', (_req, res) => {
    res.json({ version: info.version, ...(options.component ? { component: options.component } : {}), nodeVersion: info.nodeVersion, platform: info.platform });
  });
  app.get('/readyz', async (_req, res) => {
    const ok = options.ready ? await options.ready().catch(() => false) : true;
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'not ready' });
  });
  app.get('/metrics', async (_req, res) => {
    try {
      await options.beforeMetrics?.();
    } catch {
      // stale gauges are better than no metrics at all
    }
    res.type(options.registry.contentType).send(await options.registry.metrics());
  });
  return app;
}
