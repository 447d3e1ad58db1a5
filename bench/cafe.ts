/**
 * The café's order path under load: `npm run bench -- cafe [--duration S] [--connections N] [--replicas N]`.
 *
 * Starts the local café (real MariaDB, order-api ×2, the other services, nginx as the Ingress),
 * then measures, in the same run and against the same database:
 *  - app:   autocannon POSTing "아메리카노 두 잔" to /order/api/orders through nginx, 50 connections
 *           (parse, the order's INSERTs in a group-committed transaction, the kitchen told) — orders/s, p50, p99;
 *  - floor: the same INSERTs (order-api's statements for an order), one transaction per order,
 *           straight into MariaDB with mysql2, 50 at once, one round trip each;
 *  - beside it, not the floor: order-api's own writer (group commit) with no HTTP in front.
 * Target: the app ≥ 50% of the floor's rate, p99 < 50 ms. Measures; asserts nothing.
 */
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import mysql from 'mysql2/promise';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { OrderWriter, orderStatements, type NewOrder } from '../examples/iot-cafe/order-api/store.js';
import { loadConfig } from '../examples/iot-cafe/lib/config.js';

type DbAccount = { port: number; user: string; password: string; database: string };

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  duration: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;
// autocannon ships no types; required through createRequire to keep it typed here only
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

function arg(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(args[i + 1]);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} ${args[i + 1] ?? ''}: a positive number is required`);
  return n;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const ORDER: NewOrder = { table: '7', sentence: '아메리카노 두 잔', lang: 'ko', takenBy: 'floor', items: [{ menuId: 'americano', ko: '아메리카노', en: 'Americano', qty: 2, temperature: 'hot', size: 'regular', options: [], unitPriceWon: 4500 }] };

/**
 * The floor: `connections` clients straight into MariaDB, each writing one order per transaction
 * with the app's own statements for an order (`orderStatements`, what order-api sends), in one
 * round trip (`START TRANSACTION; …; COMMIT`), mysql2 without stack capture; each timed.
 */
async function floor(db: DbAccount, connections: number, seconds: number) {
  const pool = mysql.createPool({ host: '127.0.0.1', port: db.port, user: db.user, password: db.password, database: db.database, connectionLimit: connections, charset: 'utf8mb4_unicode_ci', multipleStatements: true, trace: false });
  const sql = `START TRANSACTION; ${orderStatements(ORDER)}; COMMIT`;
  const latencies: number[] = [];
  const end = Date.now() + seconds * 1000;
  const worker = async () => {
    while (Date.now() < end) {
      const t0 = performance.now();
      await pool.query(sql);
      latencies.push(performance.now() - t0);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: connections }, worker));
  const elapsed = (performance.now() - t0) / 1000;
  await pool.end();
  return summary(latencies, elapsed);
}

/**
 * Not the floor, shown beside it: order-api's own writer (group commit) fed by `connections`
 * callers with no HTTP in front — how much of the app's time is the database's.
 */
async function store(db: DbAccount, connections: number, seconds: number, writers: number) {
  const pool = mysql.createPool({ host: '127.0.0.1', port: db.port, user: db.user, password: db.password, database: db.database, connectionLimit: writers, charset: 'utf8mb4_unicode_ci', multipleStatements: true, trace: false });
  const writer = new OrderWriter(pool, { maxInFlight: writers, maxBatch: 64 });
  const latencies: number[] = [];
  const end = Date.now() + seconds * 1000;
  const worker = async () => {
    while (Date.now() < end) {
      const t0 = performance.now();
      await writer.write(ORDER);
      latencies.push(performance.now() - t0);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: connections }, worker));
  const elapsed = (performance.now() - t0) / 1000;
  await pool.end();
  return summary(latencies, elapsed);
}

function summary(latencies: number[], elapsed: number) {
  latencies.sort((a, b) => a - b);
  return { rate: latencies.length / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99), total: latencies.length };
}

export async function main(args: string[]): Promise<void> {
  const seconds = arg(args, 'duration', 10);
  const connections = arg(args, 'connections', 50);
  const replicas = arg(args, 'replicas', 2);
  // order-api's transactions in flight per replica (DB_WRITERS, its default here as in the stack)
  const writers = loadConfig('order-api', {}).db.writers;
  process.stderr.write(`bench cafe: starting the café (MariaDB, order-api ×${replicas}, nginx)… cpus ${cpus().length}, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);
  // the services run compiled, as in their images: the stack from dist/ (`npm run bench` builds
  // first) starts dist/examples/iot-cafe/*/server.js with plain node, no TypeScript loader
  const compiled = new URL('../dist/examples/iot-cafe/local/stack.js', import.meta.url);
  if (!existsSync(fileURLToPath(compiled))) throw new Error(`${fileURLToPath(compiled)} is missing: run \`npm run build\` (npm run bench does)`);
  const { startCafe } = (await import(compiled.href)) as typeof import('../examples/iot-cafe/local/stack.js');
  // logging as in production (LOG_LEVEL's default, info): order-api writes a line per order
  const cafe = await startCafe({ orderApiReplicas: replicas, logLevel: 'info' });
  try {
    const request = { url: `${cafe.url}/order/api/orders`, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sentence: '아메리카노 두 잔', table: '7' }) };
    // warm both replicas, their pools and JIT, and the database's pages
    await autocannon({ ...request, connections, duration: 3 });
    // interleaved, best of two each: the machine's load moves between runs
    const fl1 = await floor(cafe.db, connections, seconds);
    const app1 = await autocannon({ ...request, connections, duration: seconds });
    const fl2 = await floor(cafe.db, connections, seconds);
    const app2 = await autocannon({ ...request, connections, duration: seconds });
    const st = await store(cafe.db, connections, seconds, writers * replicas);
    const fl = fl1.rate >= fl2.rate ? fl1 : fl2;
    const app = app1.requests.average >= app2.requests.average ? app1 : app2;
    const load = loadavg().map((l) => l.toFixed(1)).join(' ');
    const lines = [
      '',
      `IoT café orders, ${connections} connections, ${seconds} s each, load ${load}`,
      '| path | orders/s | p50 ms | p99 ms | errors |',
      '|---|---|---|---|---|',
      `| app: autocannon → nginx → order-api ×${replicas} → MariaDB (best of 2: ${app1.requests.average.toFixed(0)}, ${app2.requests.average.toFixed(0)}) | ${app.requests.average.toFixed(0)} | ${app.latency.p50.toFixed(1)} | ${app.latency.p99.toFixed(1)} | ${app.non2xx + app.errors + app.timeouts} |`,
      `| floor: the same INSERTs, mysql2 straight to MariaDB, one transaction per order (best of 2: ${fl1.rate.toFixed(0)}, ${fl2.rate.toFixed(0)}) | ${fl.rate.toFixed(0)} | ${fl.p50.toFixed(1)} | ${fl.p99.toFixed(1)} | 0 |`,
      `| (not the floor) order-api's writer without HTTP: group commit, ${writers * replicas} transactions in flight | ${st.rate.toFixed(0)} | ${st.p50.toFixed(1)} | ${st.p99.toFixed(1)} | 0 |`,
      '',
      `app / floor: ${((app.requests.average / fl.rate) * 100).toFixed(0)}% of the floor's rate (target ≥ 50%); app p99 ${app.latency.p99.toFixed(1)} ms (target < 50 ms)`,
      '',
    ];
    process.stdout.write(lines.join('\n'));
  } finally {
    await cafe.stop();
  }
}
