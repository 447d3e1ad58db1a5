/** kitchen-display's process. */
import { loadConfig } from '../lib/config.js';
import { createLog } from '../lib/log.js';
import { serve, webDir } from '../lib/service.js';
import { createKitchen } from './app.js';

const config = loadConfig('kitchen-display', process.env, { staffToken: true });
const log = createLog(config.service, config.logLevel);
const kitchen = createKitchen({ log, orderApiUrl: config.orderApiUrl, staffToken: config.staffToken, webDir: webDir(import.meta.url), resyncMs: config.kitchenResyncMs });
await serve(kitchen.app, { host: config.host, port: config.port, log, hubs: [kitchen.hub], onClose: async () => kitchen.stop() });
