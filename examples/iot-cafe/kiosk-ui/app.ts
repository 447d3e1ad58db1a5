/**
 * kiosk-ui: the table's page at `/`. Static: the page talks to order-api through the same
 * entrance (`/order/...`), so it has no backend calls of its own.
 */
import type express from 'express';
import { join } from 'node:path';
import type { Logger } from '../lib/log.js';
import { createCafeApp, finishApp, staticPages } from '../lib/service.js';

export function createKioskApp(deps: { log: Logger; webDir: string }): express.Express {
  const app = createCafeApp({ ready: async () => true });
  app.get('/', (_req, res) => { res.sendFile(join(deps.webDir, 'kiosk.html')); });
  app.use('/assets', staticPages(deps.webDir));
  finishApp(app, deps.log);
  return app;
}
