/**
 * inventory-db: the café's schema and seed data, as ordered migrations. Statements are idempotent
 * (IF NOT EXISTS, INSERT IGNORE) because MariaDB commits DDL implicitly: a start cut half-way
 * through a migration finishes it next time. Add a migration; never edit one that has shipped.
 */
import { MENU } from '../lib/menu.js';

export interface Migration {
  version: number;
  name: string;
  statements: readonly string[];
}

const TABLE = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci';

/** the devices the simulator drives, with their state after installation */
export const INITIAL_DEVICES: readonly { id: string; kind: string; zone: number | null; state: Record<string, unknown> }[] = [
  { id: 'light-1', kind: 'light', zone: 1, state: { on: true, brightness: 80 } },
  { id: 'light-2', kind: 'light', zone: 2, state: { on: true, brightness: 80 } },
  { id: 'light-3', kind: 'light', zone: 3, state: { on: true, brightness: 60 } },
  { id: 'light-4', kind: 'light', zone: 4, state: { on: true, brightness: 100 } },
  { id: 'aircon', kind: 'aircon', zone: null, state: { on: false, mode: 'cool', temperature: 24 } },
  { id: 'music', kind: 'music', zone: null, state: { playing: false, volume: 40, genre: 'jazz', track: 1 } },
  { id: 'blinds', kind: 'blinds', zone: null, state: { position: 100 } },
  { id: 'coffee', kind: 'coffee', zone: null, state: { state: 'ready' } },
];

function quote(v: string | number | null): string {
  if (v === null) return 'NULL';
  if (typeof v === 'number') return String(v);
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'menu, orders, order items, devices, device events',
    statements: [
      `CREATE TABLE IF NOT EXISTS menu_items (
        id VARCHAR(40) PRIMARY KEY,
        name_ko VARCHAR(100) NOT NULL,
        name_en VARCHAR(100) NOT NULL,
        category ENUM('coffee','tea','drink','food') NOT NULL,
        price_won INT UNSIGNED NOT NULL,
        temperatures SET('hot','iced') NOT NULL DEFAULT '',
        available BOOLEAN NOT NULL DEFAULT TRUE
      ) ${TABLE}`,
      `CREATE TABLE IF NOT EXISTS orders (
        id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
        table_no VARCHAR(16) NULL,
        sentence VARCHAR(500) NOT NULL,
        lang CHAR(2) NOT NULL,
        status ENUM('new','preparing','ready','served') NOT NULL DEFAULT 'new',
        total_won INT UNSIGNED NOT NULL,
        taken_by VARCHAR(100) NOT NULL,
        created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
        KEY orders_status (status, id)
      ) ${TABLE}`,
      `CREATE TABLE IF NOT EXISTS order_items (
        id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
        order_id BIGINT UNSIGNED NOT NULL,
        menu_id VARCHAR(40) NOT NULL,
        qty SMALLINT UNSIGNED NOT NULL,
        temperature ENUM('hot','iced') NULL,
        size ENUM('small','regular','large') NOT NULL DEFAULT 'regular',
        options VARCHAR(200) NOT NULL DEFAULT '',
        unit_price_won INT UNSIGNED NOT NULL,
        CONSTRAINT order_items_order FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE CASCADE,
        CONSTRAINT order_items_menu FOREIGN KEY (menu_id) REFERENCES menu_items (id)
      ) ${TABLE}`,
      `CREATE TABLE IF NOT EXISTS devices (
        id VARCHAR(32) PRIMARY KEY,
        kind VARCHAR(16) NOT NULL,
        zone TINYINT UNSIGNED NULL,
        state JSON NOT NULL CHECK (JSON_VALID(state)),
        version INT UNSIGNED NOT NULL DEFAULT 1,
        updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3)
      ) ${TABLE}`,
      `CREATE TABLE IF NOT EXISTS device_events (
        id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
        device_id VARCHAR(32) NOT NULL,
        command VARCHAR(500) NOT NULL,
        actor VARCHAR(100) NOT NULL,
        before_state JSON NOT NULL CHECK (JSON_VALID(before_state)),
        after_state JSON NOT NULL CHECK (JSON_VALID(after_state)),
        created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        KEY device_events_device (device_id, id),
        CONSTRAINT device_events_device FOREIGN KEY (device_id) REFERENCES devices (id)
      ) ${TABLE}`,
    ],
  },
  {
    version: 2,
    name: 'seed: the menu and the shop devices',
    statements: [
      `INSERT IGNORE INTO menu_items (id, name_ko, name_en, category, price_won, temperatures) VALUES ${MENU.map((m) => `(${[m.id, m.ko, m.en, m.category, m.priceWon, m.temperatures.join(',')].map(quote).join(', ')})`).join(', ')}`,
      `INSERT IGNORE INTO devices (id, kind, zone, state) VALUES ${INITIAL_DEVICES.map((d) => `(${[d.id, d.kind, d.zone, JSON.stringify(d.state)].map(quote).join(', ')})`).join(', ')}`,
    ],
  },
];
