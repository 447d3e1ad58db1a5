/**
 * order-api: customers' sentences in, orders out. Stateless — every replica reads and writes the
 * same MariaDB — so any number of replicas serve at once; the kitchen display hears about every
 * order from whichever replica took it.
 */
import type express from 'express';
import http from 'node:http';
import type { Pool } from '../lib/db.js';
import { ping } from '../lib/db.js';
import type { Logger } from '../lib/log.js';
import { MENU } from '../lib/menu.js';
import { createCafeApp, finishApp, HttpError, requireStaff, send, type JsonAnswer } from '../lib/service.js';
import { parseOrder } from './parser.js';
import { advance, getOrder, getStatus, listActive, nextStatus, STATUSES, type NewOrder, type Order, type Status } from './store.js';

export interface OrderApiDeps {
  pool: Pool;
  /** stores a new order (an `OrderWriter`: concurrent orders share a transaction) */
  writeOrder: (o: NewOrder) => Promise<Order>;
  log: Logger;
  replica: string;
  staffToken: string;
  /** tells the kitchen display; failures are logged, the kitchen also resynchronises on its own */
  notifyKitchen: (order: Order) => Promise<void>;
  /** how often an order's event stream looks at the database */
  pollMs?: number;
}

const ACTIVE_LIMIT = 200;

function sentenceOf(body: unknown): string {
  const s = (body as { sentence?: unknown } | undefined)?.sentence;
  if (typeof s !== 'string' || s.trim() === '') throw new HttpError(400, 'BAD_REQUEST', 'body.sentence: a non-empty string is required');
  if (s.length > 500) throw new HttpError(400, 'BAD_REQUEST', 'body.sentence: at most 500 characters');
  return s;
}

function tableOf(body: unknown): string | null {
  const t = (body as { table?: unknown } | undefined)?.table;
  if (t === undefined || t === null || t === '') return null;
  if ((typeof t !== 'string' && typeof t !== 'number') || !/^[A-Za-z0-9-]{1,16}$/.test(String(t))) throw new HttpError(400, 'BAD_REQUEST', 'body.table: 1–16 letters, digits or dashes');
  return String(t);
}

function idOf(raw: string | undefined): number {
  const id = Number(raw);
  if (!Number.isSafeInteger(id) || id < 1) throw new HttpError(400, 'BAD_REQUEST', `order id ${JSON.stringify(raw)}: a positive integer is required`);
  return id;
}

/** POST /order/api/orders: the confirmed sentence parsed again (same answer every time) and stored */
export function orderTaker(deps: OrderApiDeps): (body: unknown) => Promise<JsonAnswer> {
  const notify = (o: Order) => { deps.notifyKitchen(o).catch((err: Error) => deps.log.warn({ order: o.id, err: err.message }, 'kitchen not told; it will resynchronise')); };
  return async (body) => {
    const sentence = sentenceOf(body);
    const table = tableOf(body);
    const r = parseOrder(sentence);
    if (!r.ok) return { status: 422, body: r };
    const order = await deps.writeOrder({ table, sentence, lang: r.lang, items: r.items, takenBy: deps.replica });
    deps.log.info({ order: order.id, items: order.items.length, table }, 'order taken');
    notify(order);
    return { status: 201, body: order, headers: { location: `/order/api/orders/${order.id}` } };
  };
}

export function createOrderApp(deps: OrderApiDeps): express.Express {
  const app = createCafeApp({ ready: () => ping(deps.pool) });
  const staff = requireStaff(deps.staffToken);
  const notify = (o: Order) => { deps.notifyKitchen(o).catch((err: Error) => deps.log.warn({ order: o.id, err: err.message }, 'kitchen not told; it will resynchronise')); };

  app.get('/order/api/menu', (_req, res) => {
    res.json({ items: MENU.map((m) => ({ id: m.id, ko: m.ko, en: m.en, category: m.category, priceWon: m.priceWon, temperatures: m.temperatures })) });
  });

  // what the customer will confirm; nothing is stored
  app.post('/order/api/parse', (req, res) => {
    const r = parseOrder(sentenceOf(req.body));
    res.status(r.ok ? 200 : 422).json(r.ok ? { ...r, totalWon: r.items.reduce((s, i) => s + i.qty * i.unitPriceWon, 0) } : r);
  });

  // order-api's server takes this route ahead of express (`orderTaker`, lib/service.ts jsonRoute);
  // an app used on its own answers it here, the same way
  const take = orderTaker(deps);
  app.post('/order/api/orders', async (req, res) => {
    const a = await take(req.body);
    res.status(a.status).set(a.headers ?? {}).json(a.body);
  });

  app.get('/order/api/orders', async (req, res) => {
    if (req.query.status !== undefined && req.query.status !== 'active') throw new HttpError(400, 'BAD_REQUEST', 'status: only "active" is supported');
    // the oldest 200 active orders; `more` says there are others after the last one
    const orders = await listActive(deps.pool, ACTIVE_LIMIT + 1);
    res.json({ orders: orders.slice(0, ACTIVE_LIMIT), more: orders.length > ACTIVE_LIMIT });
  });

  app.get('/order/api/orders/:id', async (req, res) => {
    const order = await getOrder(deps.pool, idOf(String(req.params.id)));
    if (!order) throw new HttpError(404, 'NOT_FOUND', `order ${req.params.id} not found`);
    res.json(order);
  });

  // the customer's progress: any replica can serve it, it reads the database
  app.get('/order/api/orders/:id/events', async (req, res) => {
    const id = idOf(String(req.params.id));
    const first = await getStatus(deps.pool, id);
    if (!first) throw new HttpError(404, 'NOT_FOUND', `order ${id} not found`);
    res.status(200).set({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform', 'X-Accel-Buffering': 'no' });
    res.flushHeaders();
    res.write('retry: 1000\n\n');
    let last = first.status;
    send(res, 'status', { id, status: last });
    if (last === 'served') { res.end(); return; }
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      getStatus(deps.pool, id).then((s) => {
        if (s && s.status !== last) {
          last = s.status;
          send(res, 'status', { id, status: last });
          if (last === 'served') { clearInterval(timer); res.end(); }
        }
      }).catch((err: Error) => deps.log.warn({ order: id, err: err.message }, 'status poll failed')).finally(() => { busy = false; });
    }, deps.pollMs ?? 500);
    req.on('close', () => clearInterval(timer));
  });

  // kitchen staff: one step forward, only from the status the screen showed
  app.post('/order/api/orders/:id/advance', staff, async (req, res) => {
    const id = idOf(String(req.params.id));
    const from = (req.body as { from?: unknown } | undefined)?.from;
    if (from !== undefined && !STATUSES.includes(from as Status)) throw new HttpError(400, 'BAD_REQUEST', `body.from: one of ${STATUSES.join(', ')}`);
    const current = await getStatus(deps.pool, id);
    if (!current) throw new HttpError(404, 'NOT_FOUND', `order ${id} not found`);
    const expected = (from as Status | undefined) ?? current.status;
    if (!nextStatus(expected)) throw new HttpError(409, 'ALREADY_SERVED', `order ${id} is already served`);
    if (!(await advance(deps.pool, id, expected))) {
      throw new HttpError(409, 'STATUS_CHANGED', `order ${id} is no longer ${expected}`, { current: (await getStatus(deps.pool, id))?.status });
    }
    const order = (await getOrder(deps.pool, id))!;
    deps.log.info({ order: id, status: order.status }, 'order advanced');
    notify(order);
    res.json(order);
  });

  finishApp(app, deps.log);
  return app;
}

/**
 * Tells the kitchen display about orders over one kept-alive connection, one request at a time and
 * at most one every `intervalMs` (20 ms): a request carries every order that arrived since the last
 * one (under load dozens; at rest one, sent at once — the screen is at most 20 ms later than the
 * order). A failed send is logged, not retried: the kitchen re-reads the active orders from
 * order-api on its own.
 */
export function kitchenNotifier(kitchenUrl: string, staffToken: string, log?: Logger, intervalMs = 20): (o: Order) => Promise<void> {
  const url = new URL('/kitchen/api/events', kitchenUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const queue: Order[] = [];
  let busy = false;
  let lastSent = 0;
  const send = (orders: Order[]) => new Promise<void>((ok, fail) => {
    const body = JSON.stringify({ type: 'orders', orders });
    const req = http.request(url, { method: 'POST', agent, timeout: 2000, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${staffToken}` } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode && res.statusCode < 300 ? ok() : fail(new Error(`kitchen-display answered ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error('kitchen-display did not answer within 2 s')));
    req.on('error', fail);
    req.end(body);
  });
  const flush = async () => {
    while (queue.length > 0) {
      lastSent = Date.now();
      // the kitchen takes bodies up to 64 KiB: 60 orders of the longest sentences
      const batch = queue.splice(0, 60);
      await send(batch).catch((err: Error) => log?.warn({ orders: batch.map((o) => o.id), err: err.message }, 'kitchen not told; it will resynchronise'));
      if (queue.length > 0) await new Promise((r) => setTimeout(r, Math.max(0, lastSent + intervalMs - Date.now())));
    }
    busy = false;
  };
  return async (order) => {
    queue.push(order);
    if (busy) return;
    busy = true;
    const wait = lastSent + intervalMs - Date.now();
    if (wait <= 0) void flush();
    else setTimeout(() => { void flush(); }, wait);
  };
}
