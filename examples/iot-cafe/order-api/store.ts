/** Orders in MariaDB: an order is its row and its item rows, written in one transaction. */
import { format, type ResultSetHeader, type RowDataPacket } from 'mysql2/promise';
import type { Pool } from '../lib/db.js';
import { MENU_BY_ID } from '../lib/menu.js';
import type { OrderLine } from './parser.js';

export const STATUSES = ['new', 'preparing', 'ready', 'served'] as const;
export type Status = (typeof STATUSES)[number];

export interface Order {
  id: number;
  table: string | null;
  sentence: string;
  lang: 'ko' | 'en';
  status: Status;
  totalWon: number;
  takenBy: string;
  createdAt: string;
  updatedAt: string;
  items: OrderLine[];
}

export interface NewOrder { table: string | null; sentence: string; lang: 'ko' | 'en'; items: OrderLine[]; takenBy: string }

const ORDER_INSERT = 'INSERT INTO orders (table_no, sentence, lang, total_won, taken_by) VALUES (?, ?, ?, ?, ?)';
const ITEM_COLUMNS = 'INSERT INTO order_items (order_id, menu_id, qty, temperature, size, options, unit_price_won) VALUES ';

function totalOf(o: NewOrder): number {
  return o.items.reduce((s, i) => s + i.qty * i.unitPriceWon, 0);
}

/**
 * One order's two INSERTs as SQL text (values escaped by mysql2's `format`): the order row, then its
 * item rows in one multi-row INSERT that takes the order's id from `LAST_INSERT_ID()` (exact for a
 * single-row INSERT, on this connection). The benchmark's floor sends exactly these statements.
 */
export function orderStatements(o: NewOrder): string {
  const items = o.items.map((i) => format('(LAST_INSERT_ID(), ?, ?, ?, ?, ?, ?)', [i.menuId, i.qty, i.temperature, i.size, i.options.join(','), i.unitPriceWon]));
  return `${format(ORDER_INSERT, [o.table, o.sentence, o.lang, totalOf(o), o.takenBy])}; ${ITEM_COLUMNS}${items.join(', ')}`;
}

/**
 * Writes orders with group commit: an order that arrives while `maxInFlight` transactions are already
 * on their way waits for the next one, which carries every order that queued meanwhile (up to
 * `maxBatch`) in ONE transaction sent in ONE round trip — `START TRANSACTION; <each order's two
 * INSERTs>; COMMIT` — and each caller gets its own order (its id from its own INSERT's result).
 * At rest every order goes alone at once; under load the database does one commit per batch instead
 * of one per order. A batch that fails is rolled back and its orders are written one by one, so a
 * bad order fails alone. The pool must allow multiple statements (`createPool(…, {multipleStatements})`).
 */
export class OrderWriter {
  private readonly queue: { order: NewOrder; ok: (o: Order) => void; fail: (err: Error) => void }[] = [];
  private inFlight = 0;

  constructor(private readonly pool: Pool, private readonly options: { maxInFlight: number; maxBatch: number } = { maxInFlight: 2, maxBatch: 64 }) {}

  write(order: NewOrder): Promise<Order> {
    return new Promise((ok, fail) => {
      this.queue.push({ order, ok, fail });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.inFlight++;
      void this.commit(batch.map((b) => b.order)).then(
        (orders) => { batch.forEach((b, i) => b.ok(orders[i]!)); },
        async (err: Error) => {
          if (batch.length === 1) { batch[0]!.fail(err); return; }
          // one bad order must not fail the others: each alone, in its own transaction
          await Promise.all(batch.map((b) => this.commit([b.order]).then((o) => b.ok(o[0]!), (e: Error) => b.fail(e))));
        },
      ).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async commit(orders: NewOrder[]): Promise<Order[]> {
    const conn = await this.pool.getConnection();
    let broken = false;
    try {
      const [results] = await conn.query<ResultSetHeader[]>(`START TRANSACTION; ${orders.map(orderStatements).join('; ')}; COMMIT`);
      // results: START TRANSACTION, then (order INSERT, items INSERT) per order, then COMMIT
      const now = new Date().toISOString();
      return orders.map((o, i) => {
        const id = results[1 + 2 * i]?.insertId;
        if (typeof id !== 'number' || id < 1) throw new Error(`order ${i + 1} of ${orders.length}: the database returned no id`);
        return { id, table: o.table, sentence: o.sentence, lang: o.lang, status: 'new', totalWon: totalOf(o), takenBy: o.takenBy, createdAt: now, updatedAt: now, items: o.items };
      });
    } catch (err) {
      // MariaDB stops a multi-statement at the first error, inside the open transaction
      await conn.query('ROLLBACK').catch(() => { broken = true; });
      throw err;
    } finally {
      if (broken) conn.destroy();
      else conn.release();
    }
  }
}

interface OrderRow extends RowDataPacket { id: number; table_no: string | null; sentence: string; lang: 'ko' | 'en'; status: Status; total_won: number; taken_by: string; created_at: Date; updated_at: Date }
interface ItemRow extends RowDataPacket { order_id: number; menu_id: string; qty: number; temperature: 'hot' | 'iced' | null; size: 'small' | 'regular' | 'large'; options: string; unit_price_won: number }

async function withItems(pool: Pool, rows: OrderRow[]): Promise<Order[]> {
  if (rows.length === 0) return [];
  const [items] = await pool.query<ItemRow[]>('SELECT order_id, menu_id, qty, temperature, size, options, unit_price_won FROM order_items WHERE order_id IN (?) ORDER BY id', [rows.map((r) => r.id)]);
  const byOrder = new Map<number, OrderLine[]>();
  for (const i of items) {
    const m = MENU_BY_ID.get(i.menu_id);
    const line: OrderLine = { menuId: i.menu_id, ko: m?.ko ?? i.menu_id, en: m?.en ?? i.menu_id, qty: i.qty, temperature: i.temperature, size: i.size, options: i.options ? i.options.split(',') : [], unitPriceWon: i.unit_price_won };
    byOrder.set(i.order_id, [...(byOrder.get(i.order_id) ?? []), line]);
  }
  return rows.map((r) => ({
    id: r.id, table: r.table_no, sentence: r.sentence, lang: r.lang, status: r.status, totalWon: r.total_won, takenBy: r.taken_by,
    createdAt: r.created_at.toISOString(), updatedAt: r.updated_at.toISOString(), items: byOrder.get(r.id) ?? [],
  }));
}

const COLUMNS = 'id, table_no, sentence, lang, status, total_won, taken_by, created_at, updated_at';

export async function getOrder(pool: Pool, id: number): Promise<Order | null> {
  const [rows] = await pool.query<OrderRow[]>(`SELECT ${COLUMNS} FROM orders WHERE id = ?`, [id]);
  return (await withItems(pool, rows))[0] ?? null;
}

/** what the kitchen still has to do, oldest first */
export async function listActive(pool: Pool, limit = 200): Promise<Order[]> {
  // one index range per active status (index (status, id)), each stopping after `limit` rows:
  // `status <> 'served' ORDER BY id` would sort every active order, and the served ones are most
  const per = (status: Status) => `(SELECT ${COLUMNS} FROM orders WHERE status = '${status}' ORDER BY id LIMIT ${limit})`;
  if (!Number.isSafeInteger(limit) || limit < 1) throw new Error(`listActive: limit ${limit} is not a positive integer`);
  const [rows] = await pool.query<OrderRow[]>(`${STATUSES.filter((s) => s !== 'served').map(per).join(' UNION ALL ')} ORDER BY id LIMIT ${limit}`);
  return withItems(pool, rows);
}

export async function getStatus(pool: Pool, id: number): Promise<{ status: Status; updatedAt: string } | null> {
  const [rows] = await pool.query<OrderRow[]>('SELECT status, updated_at FROM orders WHERE id = ?', [id]);
  const r = rows[0];
  return r ? { status: r.status, updatedAt: r.updated_at.toISOString() } : null;
}

export function nextStatus(s: Status): Status | null {
  const i = STATUSES.indexOf(s);
  return i < STATUSES.length - 1 ? STATUSES[i + 1]! : null;
}

/** move an order one step if it is still in `from`; null when it is not (someone else moved it) */
export async function advance(pool: Pool, id: number, from: Status): Promise<boolean> {
  const to = nextStatus(from);
  if (!to) return false;
  const [res] = await pool.execute<ResultSetHeader>('UPDATE orders SET status = ? WHERE id = ? AND status = ?', [to, id, from]);
  return res.affectedRows === 1;
}
