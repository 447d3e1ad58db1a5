/**
 * The whole café on one machine: a real MariaDB, the four services as separate processes (order-api
 * twice, to show it is stateless) and nginx in front with the Ingress's path rules. Used by
 * `npm run cafe`, the café's integration and browser tests and `npm run bench -- cafe`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { startMariaDB, type MariaDB } from './mariadb.js';
import { startNginx, type Nginx } from './nginx.js';

export type ServiceName = 'kiosk-ui' | 'order-api' | 'kitchen-display' | 'device-api';

export interface CafeStackOptions {
  /** the entrance's port; 0 picks a free one */
  port?: number;
  host?: string;
  orderApiReplicas?: number;
  /** kept after stop when given; a fresh temp dir (removed on stop) otherwise */
  dir?: string;
  logLevel?: string;
  /** how often the kitchen display re-reads order-api (ms) */
  kitchenResyncMs?: number;
}

interface Running { name: ServiceName; replica: string; port: number; child: ChildProcess; exited: Promise<void> }

export interface CafeStack {
  url: string;
  staffToken: string;
  db: MariaDB;
  dir: string;
  logs: string;
  /** the ports each service's replicas listen on (direct, not through nginx) */
  ports: Record<ServiceName, number[]>;
  /** stop a service's processes and start them again on the same ports; resolves when ready */
  restart: (name: ServiceName) => Promise<void>;
  stop: () => Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));
const fromSource = import.meta.url.endsWith('.ts');

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

/** poll a URL until it answers 200, backing off, within a deadline */
export async function waitFor200(url: string, what: string, deadlineMs = 90_000, alive?: () => boolean): Promise<void> {
  const until = Date.now() + deadlineMs;
  let delay = 50;
  for (;;) {
    if (alive && !alive()) throw new Error(`${what} exited before it was ready`);
    const status = await fetch(url, { signal: AbortSignal.timeout(5000) }).then((r) => { void r.arrayBuffer(); return r.status; }, () => 0);
    if (status === 200) return;
    if (Date.now() > until) throw new Error(`${what} not ready within ${deadlineMs / 1000} s (${url} answered ${status || 'nothing'})`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 1000);
  }
}

export async function startCafe(options: CafeStackOptions = {}): Promise<CafeStack> {
  const host = options.host ?? '127.0.0.1';
  const ownDir = !options.dir;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'mixmesh-cafe-'));
  const logs = join(dir, 'logs');
  mkdirSync(logs, { recursive: true });
  const running: Running[] = [];
  let db: MariaDB | undefined;
  let nginx: Nginx | undefined;

  const stop = async () => {
    await nginx?.stop().catch(() => undefined);
    await Promise.all(running.map((r) => stopProcess(r)));
    await db?.stop().catch(() => undefined);
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  };

  try {
    const dbPort = await freePort();
    db = await startMariaDB({ dir: join(dir, 'mariadb'), port: dbPort });
    const port = options.port || (await freePort(host));
    const url = `http://${host}:${port}`;
    const staffToken = randomBytes(18).toString('base64url');
    const ports: Record<ServiceName, number[]> = {
      'kiosk-ui': [await freePort()],
      'order-api': await Promise.all(Array.from({ length: options.orderApiReplicas ?? 2 }, () => freePort())),
      'kitchen-display': [await freePort()],
      'device-api': [await freePort()],
    };
    const envFor = (name: ServiceName, replica: string, p: number): NodeJS.ProcessEnv => ({
      PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production',
      HOST: '127.0.0.1', PORT: String(p), REPLICA: replica, LOG_LEVEL: options.logLevel ?? 'info',
      DB_HOST: '127.0.0.1', DB_PORT: String(db!.port), DB_NAME: db!.database, DB_USER: db!.user, DB_PASSWORD: db!.password, DB_POOL_SIZE: '25',
      CAFE_STAFF_TOKEN: staffToken,
      // in Kubernetes these are Service DNS names; here the kitchen reaches order-api through the entrance
      KITCHEN_URL: `http://127.0.0.1:${ports['kitchen-display'][0]}`,
      ORDER_API_URL: url,
      ...(name === 'kitchen-display' && options.kitchenResyncMs ? { KITCHEN_RESYNC_MS: String(options.kitchenResyncMs) } : {}),
    });
    const launch = (name: ServiceName, replica: string, p: number): Running => {
      const entry = join(here, '..', name, `server.${fromSource ? 'ts' : 'js'}`);
      const args = [...(fromSource ? ['--import', 'tsx'] : []), entry];
      const out = createWriteStream(join(logs, `${replica}.log`), { flags: 'a' });
      const child = existsSync('/usr/bin/setpriv')
        ? spawn('/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', process.execPath, ...args], { env: envFor(name, replica, p), stdio: ['ignore', 'pipe', 'pipe'], cwd: join(here, '..', '..', '..') })
        : spawn(process.execPath, args, { env: envFor(name, replica, p), stdio: ['ignore', 'pipe', 'pipe'], cwd: join(here, '..', '..', '..') });
      child.stdout?.pipe(out, { end: false });
      child.stderr?.pipe(out, { end: false });
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      const r: Running = { name, replica, port: p, child, exited };
      running.push(r);
      return r;
    };
    const launchAll = (name: ServiceName) => ports[name].map((p, i) => launch(name, ports[name].length > 1 ? `${name}-${i + 1}` : name, p));
    const ready = (rs: Running[]) => Promise.all(rs.map((r) => waitFor200(`http://127.0.0.1:${r.port}/readyz`, `${r.replica} (log: ${join(logs, `${r.replica}.log`)})`, 120_000, () => r.child.exitCode === null && r.child.signalCode === null)));

    // the database owners first (they run the migrations), then the rest
    const first = [...launchAll('order-api'), ...launchAll('device-api')];
    const rest = [...launchAll('kiosk-ui'), ...launchAll('kitchen-display')];
    await ready(first);
    nginx = await startNginx({ dir: join(dir, 'nginx'), host, port, upstreams: { kioskUi: ports['kiosk-ui'], orderApi: ports['order-api'], kitchenDisplay: ports['kitchen-display'], deviceApi: ports['device-api'] } });
    await ready(rest);

    const restart = async (name: ServiceName) => {
      const old = running.filter((r) => r.name === name);
      await Promise.all(old.map((r) => stopProcess(r)));
      for (const r of old) running.splice(running.indexOf(r), 1);
      await ready(old.map((r) => launch(name, r.replica, r.port)));
    };
    return { url, staffToken, db, dir, logs, ports, restart, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function stopProcess(r: Running): Promise<void> {
  if (r.child.exitCode !== null || r.child.signalCode !== null) return;
  r.child.kill('SIGTERM');
  const t = setTimeout(() => r.child.kill('SIGKILL'), 8000);
  await r.exited;
  clearTimeout(t);
}
