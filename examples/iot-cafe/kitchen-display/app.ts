/**
 * kitchen-display: the kitchen's screen. It holds no database connection: order-api tells it about
 * every order a replica takes or moves, and it also re-reads the active orders from order-api at
 * start and every few seconds, so a missed notice or its own restart loses nothing.
 */
import express from 'express';
import { join } from 'node:path';
import type { Logger } from '../lib/log.js';
import { createCafeApp, EventHub, finishApp, HttpError, requireStaff, staticPages } from '../lib/service.js';
import { STATUSES, type Order } from '../order-api/store.js';

export interface KitchenDeps {
  log: Logger;
  orderApiUrl: string;
  staffToken: string;
  webDir: string;
  resyncMs?: number;
}

export interface Kitchen {
  app: express.Express;
  hub: EventHub;
  /** one read of order-api's active orders; resolves false when order-api did not answer */
  resync: () => Promise<boolean>;
  stop: () => void;
}

/** how many active orders the screen holds: order-api's page of the oldest active orders */
const HELD = 200;

export function createKitchen(deps: KitchenDeps): Kitchen {
  const orders = new Map<number, Order>();
  const hub = new EventHub();
  let synced = false;
  // order-api's notices come in batches of up to 60 orders
  const app = createCafeApp({ ready: async () => synced, jsonLimitKiB: 512 });
  const staff = requireStaff(deps.staffToken);

  let newest = 0;
  const upsert = (o: Order): void => {
    const known = orders.get(o.id);
    // statuses only move forward: a notice older than what the screen shows changes nothing
    if (known && STATUSES.indexOf(known.status) >= STATUSES.indexOf(o.status)) return;
    // the screen holds the oldest HELD active orders (a kitchen works oldest first; memory stays
    // bounded however many are waiting); a newer one comes in with the re-read once some are served
    if (!known && o.status !== 'served' && orders.size >= HELD && o.id > newest) return;
    if (o.id > newest) newest = o.id;
    if (o.status === 'served') orders.delete(o.id);
    else orders.set(o.id, o);
    hub.broadcast('order', o);
  };

  const resync = async (): Promise<boolean> => {
    let knownBefore = 0;
    for (const id of orders.keys()) if (id > knownBefore) knownBefore = id;
    try {
      const res = await fetch(`${deps.orderApiUrl}/order/api/orders?status=active`, { signal: AbortSignal.timeout(3000) });
      if (!res.ok) throw new Error(`order-api answered ${res.status}`);
      const body = (await res.json()) as { orders: Order[]; more?: boolean };
      const active = new Set(body.orders.map((o) => o.id));
      for (const o of body.orders) upsert(o);
      // gone from the active list: served by someone else while we were not told. Only orders the
      // list covers: known before it was asked for (a newer one may be missing from it), and not
      // past its last order when order-api said there are more
      const last = body.orders.length > 0 ? body.orders[body.orders.length - 1]!.id : 0;
      const bound = body.more ? Math.min(knownBefore, last) : knownBefore;
      for (const [id, o] of orders) if (id <= bound && !active.has(id)) { orders.delete(id); hub.broadcast('order', { ...o, status: 'served' }); }
      synced = true;
      return true;
    } catch (err) {
      deps.log.warn({ err: (err as Error).message }, 'resync with order-api failed');
      return false;
    }
  };

  // backoff while order-api is away, the normal period once it answers
  let timer: NodeJS.Timeout | undefined;
  let delay = deps.resyncMs ?? 5000;
  const loop = async () => {
    const ok = await resync();
    delay = ok ? deps.resyncMs ?? 5000 : Math.min(Math.max(delay, 250) * 2, 10_000);
    timer = setTimeout(() => { void loop(); }, ok ? deps.resyncMs ?? 5000 : delay);
    timer.unref();
  };
  void loop();

  const page = staticPages(deps.webDir);
  app.get(['/kitchen', '/kitchen/'], (_req, res) => { res.sendFile(join(deps.webDir, 'kitchen.html')); });
  app.use('/kitchen/assets', page);

  app.get('/kitchen/api/orders', (_req, res) => { res.json({ orders: [...orders.values()].sort((a, b) => a.id - b.id) }); });
  app.get('/kitchen/api/stream', (req, res) => { hub.join(req, res, { event: 'snapshot', data: { orders: [...orders.values()].sort((a, b) => a.id - b.id) } }); });

  // order-api's notices, one order or a batch
  app.post('/kitchen/api/events', staff, (req, res) => {
    const body = req.body as { type?: unknown; order?: Order; orders?: Order[] };
    const orders = body.type === 'order' && body.order ? [body.order] : body.type === 'orders' && Array.isArray(body.orders) ? body.orders : null;
    if (!orders || !orders.every((o) => typeof o?.id === 'number' && STATUSES.includes(o.status))) throw new HttpError(400, 'BAD_REQUEST', 'body: {type: "orders", orders: [...]} or {type: "order", order: {...}} expected');
    for (const o of orders) upsert(o);
    res.status(204).end();
  });

  // the screen's buttons, passed on to order-api with the staff token
  app.post('/kitchen/api/orders/:id/advance', staff, async (req, res) => {
    const upstream = await fetch(`${deps.orderApiUrl}/order/api/orders/${encodeURIComponent(String(req.params.id))}/advance`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: req.get('authorization')! },
      body: JSON.stringify(req.body ?? {}), signal: AbortSignal.timeout(5000),
    }).catch((err: Error) => { throw new HttpError(502, 'ORDER_API_UNREACHABLE', `order-api: ${err.message}`); });
    const body = (await upstream.json()) as Order;
    if (upstream.ok) upsert(body);
    res.status(upstream.status).json(body);
  });

  finishApp(app, deps.log);
  return { app, hub, resync, stop: () => { if (timer) clearTimeout(timer); hub.close(); } };
}
