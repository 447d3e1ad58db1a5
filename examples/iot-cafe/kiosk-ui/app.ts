/**
 * kiosk-ui: the table's page at `/`. It reads the menu from order-api (its one mesh call,
 * `kiosk-ui → order-api`), keeps it, and serves it with the page; the page then talks to order-api
 * through the same entrance (`/order/...`). Ready once it holds a menu.
 */
import type express from 'express';
import { join } from 'node:path';
import type { Logger } from '../lib/log.js';
import { createCafeApp, finishApp, HttpError, staticPages } from '../lib/service.js';

export interface Kiosk { app: express.Express; stop: () => void }

export function createKiosk(deps: { log: Logger; webDir: string; orderApiUrl: string; refreshMs?: number }): Kiosk {
  let menu: unknown = null;
  const app = createCafeApp({ ready: async () => menu !== null });
  let timer: NodeJS.Timeout | undefined;
  let delay = 250;
  const load = async () => {
    try {
      const res = await fetch(`${deps.orderApiUrl}/order/api/menu`, { signal: AbortSignal.timeout(3000) });
      if (!res.ok) throw new Error(`order-api answered ${res.status}`);
      menu = await res.json();
      delay = deps.refreshMs ?? 60_000;
    } catch (err) {
      deps.log.warn({ err: (err as Error).message, retryInMs: delay }, 'menu not loaded from order-api');
      delay = Math.min(delay * 2, 10_000);
    }
    timer = setTimeout(() => { void load(); }, delay);
    timer.unref();
  };
  void load();

  app.get('/', (_req, res) => { res.sendFile(join(deps.webDir, 'kiosk.html')); });
  app.get('/menu', (_req, res) => {
    if (menu === null) throw new HttpError(503, 'MENU_NOT_LOADED', 'the menu is not loaded from order-api yet');
    res.set('Cache-Control', 'max-age=60').json(menu);
  });
  app.use('/assets', staticPages(deps.webDir));
  finishApp(app, deps.log);
  return { app, stop: () => { if (timer) clearTimeout(timer); } };
}
