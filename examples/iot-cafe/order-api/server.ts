/** order-api's process: config from env, migrations, listen. */
import { loadConfig } from '../lib/config.js';
import { connectAndMigrate, createPool } from '../lib/db.js';
import { createLog } from '../lib/log.js';
import { jsonRoute, serve } from '../lib/service.js';
import { createOrderApp, kitchenNotifier, orderTaker } from './app.js';
import { OrderWriter, type NewOrder } from './store.js';

const config = loadConfig('order-api', process.env, { db: true, staffToken: true });
const log = createLog(config.service, config.logLevel);
const pool = createPool(config.db);
await connectAndMigrate(pool, log);
// new orders: group commit over a few connections of their own
const writes = createPool(config.db, { connectionLimit: config.db.writers, multipleStatements: true });
const writer = new OrderWriter(writes, { maxInFlight: config.db.writers, maxBatch: 64 });
const deps = { pool, writeOrder: (o: NewOrder) => writer.write(o), log, replica: config.replica, staffToken: config.staffToken, notifyKitchen: kitchenNotifier(config.kitchenUrl, config.staffToken, log) };
const app = createOrderApp(deps);
// the hot path, taking orders, on node:http ahead of express (lib/service.ts jsonRoute says why)
const fast = [jsonRoute('POST', '/order/api/orders', orderTaker(deps), log)];
await serve(app, { host: config.host, port: config.port, log, fast, onClose: async () => { await Promise.all([writes.end(), pool.end()]); } });
