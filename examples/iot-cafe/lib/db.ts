/**
 * The café's MariaDB pool and its schema migrations. Every service that owns tables runs
 * `migrate()` at start-up; a named lock makes concurrent replicas take turns, and each migration
 * is recorded in `schema_migrations`, so running them again changes nothing.
 */
import mysql from 'mysql2/promise';
import type { CafeConfig } from './config.js';
import type { Logger } from './log.js';
import { MIGRATIONS } from '../inventory-db/migrations.js';

export type Pool = mysql.Pool;

/**
 * `trace: false`: mysql2 would otherwise capture a stack trace for every query (5% of order-api's
 * CPU under load); errors still carry the SQL error. `multipleStatements` only for the order
 * writer's own pool (its batches are one round trip; every value in them is escaped by mysql2).
 */
export function createPool(db: CafeConfig['db'], options: { connectionLimit?: number; multipleStatements?: boolean } = {}): Pool {
  return mysql.createPool({
    host: db.host, port: db.port, user: db.user, password: db.password, database: db.database,
    connectionLimit: options.connectionLimit ?? db.connectionLimit, waitForConnections: true, queueLimit: 0,
    trace: false, multipleStatements: options.multipleStatements ?? false,
    enableKeepAlive: true, charset: 'utf8mb4_unicode_ci', timezone: 'Z', dateStrings: false, supportBigNumbers: true, bigNumberStrings: false,
  });
}

export async function ping(pool: Pool): Promise<boolean> {
  const [rows] = await pool.query('SELECT 1 AS ok');
  return (rows as { ok: number }[])[0]?.ok === 1;
}

/** wait for the database with backoff (it may start after us), then migrate; throws past the deadline */
export async function connectAndMigrate(pool: Pool, log: Logger, deadlineMs = 120_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  let delay = 100;
  for (;;) {
    try {
      await ping(pool);
      break;
    } catch (err) {
      if (Date.now() + delay > until) throw err;
      log.warn({ err: (err as Error).message, retryInMs: delay }, 'database not reachable yet');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5000);
    }
  }
  await migrate(pool, log);
}

export async function migrate(pool: Pool, log: Logger): Promise<number> {
  const conn = await pool.getConnection();
  try {
    const [lock] = await conn.query("SELECT GET_LOCK('cafe-migrations', 60) AS got");
    if ((lock as { got: number }[])[0]?.got !== 1) throw new Error('could not take the cafe-migrations lock within 60 s');
    try {
      await conn.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version INT PRIMARY KEY, name VARCHAR(100) NOT NULL, applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
      const [rows] = await conn.query('SELECT version FROM schema_migrations');
      const done = new Set((rows as { version: number }[]).map((r) => r.version));
      let applied = 0;
      for (const m of MIGRATIONS) {
        if (done.has(m.version)) continue;
        // DDL commits implicitly in MariaDB: each statement is idempotent (IF NOT EXISTS, INSERT IGNORE)
        // so a migration cut half-way is finished by the next start
        for (const sql of m.statements) await conn.query(sql);
        await conn.query('INSERT INTO schema_migrations (version, name) VALUES (?, ?)', [m.version, m.name]);
        log.info({ version: m.version, name: m.name }, 'migration applied');
        applied++;
      }
      return applied;
    } finally {
      await conn.query("SELECT RELEASE_LOCK('cafe-migrations')");
    }
  } finally {
    conn.release();
  }
}
