/** kiosk-ui's process. */
import { loadConfig } from '../lib/config.js';
import { createLog } from '../lib/log.js';
import { serve, webDir } from '../lib/service.js';
import { createKioskApp } from './app.js';

const config = loadConfig('kiosk-ui', process.env);
const log = createLog(config.service, config.logLevel);
await serve(createKioskApp({ log, webDir: webDir(import.meta.url) }), { host: config.host, port: config.port, log, onClose: async () => undefined });
