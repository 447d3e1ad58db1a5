/**
 * device-api: the manager's page and API under /control. Sentences become device actions
 * (parser.ts), the simulator applies them in MariaDB with an audit row per change, and every
 * manager page open sees the new state at once (server-sent events).
 */
import type express from 'express';
import { join } from 'node:path';
import { ping, type Pool } from '../lib/db.js';
import type { Logger } from '../lib/log.js';
import { createCafeApp, EventHub, finishApp, HttpError, requireStaff, staticPages } from '../lib/service.js';
import { parseCommand } from './parser.js';
import { DeviceSimulator } from './simulator.js';

export interface DeviceApiDeps {
  pool: Pool;
  log: Logger;
  staffToken: string;
  webDir: string;
  replica: string;
}

export function createDeviceApp(deps: DeviceApiDeps): { app: express.Express; hub: EventHub } {
  const sim = new DeviceSimulator(deps.pool);
  const hub = new EventHub();
  const app = createCafeApp({ ready: () => ping(deps.pool) });
  const staff = requireStaff(deps.staffToken);

  app.get(['/control', '/control/'], (_req, res) => { res.sendFile(join(deps.webDir, 'control.html')); });
  app.use('/control/assets', staticPages(deps.webDir));

  app.get('/control/api/devices', async (_req, res) => { res.json({ devices: await sim.list() }); });
  app.get('/control/api/stream', async (req, res) => { hub.join(req, res, { event: 'snapshot', data: { devices: await sim.list(), events: await sim.audit(12) } }); });
  app.get('/control/api/events', staff, async (req, res) => {
    const limit = Math.min(200, Math.max(1, Number(req.query.limit ?? 20) || 20));
    res.json({ events: await sim.audit(limit) });
  });

  app.post('/control/api/parse', staff, (req, res) => {
    const r = parseCommand(sentenceOf(req.body));
    res.status(r.ok ? 200 : 422).json(r);
  });

  app.post('/control/api/commands', staff, async (req, res) => {
    const sentence = sentenceOf(req.body);
    const r = parseCommand(sentence);
    if (!r.ok) { res.status(422).json(r); return; }
    const changed = await sim.apply(r.actions, sentence, `manager@${deps.replica}`);
    deps.log.info({ actions: r.actions.length, changed: changed.map((d) => d.id) }, 'devices changed');
    if (changed.length > 0) hub.broadcast('devices', { devices: changed, events: await sim.audit(12) });
    res.json({ ...r, changed });
  });

  finishApp(app, deps.log);
  return { app, hub };
}

function sentenceOf(body: unknown): string {
  const s = (body as { sentence?: unknown } | undefined)?.sentence;
  if (typeof s !== 'string' || s.trim() === '') throw new HttpError(400, 'BAD_REQUEST', 'body.sentence: a non-empty string is required');
  if (s.length > 500) throw new HttpError(400, 'BAD_REQUEST', 'body.sentence: at most 500 characters');
  return s;
}
