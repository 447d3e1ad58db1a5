/** kiosk-ui's process. */
import { loadConfig } from '../lib/config.js';
import { createLog } from '../lib/log.js';
import { serve, webDir } from '../lib/service.js';
import { createKiosk } from './app.js';

const config = loadConfig('kiosk-ui', process.env);
const log = createLog(config.service, config.logLevel);
const kiosk = createKiosk({ log, webDir: webDir(import.meta.url), orderApiUrl: config.orderApiUrl });
await serve(kiosk.app, { host: config.host, port: config.port, log, onClose: async () => kiosk.stop() });
