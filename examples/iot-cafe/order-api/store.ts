/** Orders in MariaDB: one transaction per order (the order row and its item rows). */
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
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

export async function insertOrder(pool: Pool, o: { table: string | null; sentence: string; lang: 'ko' | 'en'; items: OrderLine[]; takenBy: string }): Promise<Order> {
  const total = o.items.reduce((s, i) => s + i.qty * i.unitPriceWon, 0);
  const conn = await pool.getConnection();
  try {
    await conn.beginTransaction();
    const [res] = await conn.execute<ResultSetHeader>('INSERT INTO orders (table_no, sentence, lang, total_won, taken_by) VALUES (?, ?, ?, ?, ?)', [o.table, o.sentence, o.lang, total, o.takenBy]);
    const id = res.insertId;
    const values = o.items.flatMap((i) => [id, i.menuId, i.qty, i.temperature, i.size, i.options.join(','), i.unitPriceWon]);
    await conn.execute(`INSERT INTO order_items (order_id, menu_id, qty, temperature, size, options, unit_price_won) VALUES ${o.items.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}`, values);
    await conn.commit();
    const now = new Date().toISOString();
    return { id, table: o.table, sentence: o.sentence, lang: o.lang, status: 'new', totalWon: total, takenBy: o.takenBy, createdAt: now, updatedAt: now, items: o.items };
  } catch (err) {
    await conn.rollback().catch(() => undefined);
    throw err;
  } finally {
    conn.release();
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
  const [rows] = await pool.query<OrderRow[]>(`SELECT ${COLUMNS} FROM orders WHERE status <> 'served' ORDER BY id LIMIT ?`, [limit]);
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
