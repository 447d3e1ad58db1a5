/** device-api's process: config from env, migrations, listen. */
import { loadConfig } from '../lib/config.js';
import { connectAndMigrate, createPool } from '../lib/db.js';
import { createLog } from '../lib/log.js';
import { serve, webDir } from '../lib/service.js';
import { createDeviceApp } from './app.js';

const config = loadConfig('device-api', process.env, { db: true, staffToken: true });
const log = createLog(config.service, config.logLevel);
const pool = createPool(config.db);
await connectAndMigrate(pool, log);
const { app, hub } = createDeviceApp({ pool, log, staffToken: config.staffToken, webDir: webDir(import.meta.url), replica: config.replica });
await serve(app, { host: config.host, port: config.port, log, hubs: [hub], onClose: () => pool.end() });
