/**
 * Debian's Keystone 22 (Zed), run the way docs/sandbox.md measured it: sqlite + fernet under DIR,
 * `keystone-manage db_sync / fernet_setup / credential_setup / bootstrap`, served by
 * `keystone-wsgi-public` on a free loopback port. Tacker and Nova endpoints are registered through
 * its own API, as an operator would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, openSync, closeSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MixmeshError } from '../../common/index.js';
import { freePort, sleep } from './http-util.js';

export const KEYSTONE_MANAGE = '/usr/bin/keystone-manage';
export const KEYSTONE_WSGI = '/usr/bin/keystone-wsgi-public';

const SETPRIV = '/usr/bin/setpriv';

/** Kill a keystone an earlier sandbox on the same DIR left running (its pid file, if it still names DIR). */
function killLeftover(dir: string): void {
  const pidFile = join(dir, 'pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 1) return;
  try {
    if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(join(dir, 'keystone.conf'))) process.kill(pid, 'SIGKILL');
  } catch {
    /* gone already */
  }
}

export function realKeystoneInstalled(): boolean {
  return existsSync(KEYSTONE_MANAGE) && existsSync(KEYSTONE_WSGI);
}

export interface RealKeystone {
  authUrl: string;
  port: number;
  stop(): Promise<void>;
}

function run(cmd: string, args: string[], logFile: string, env?: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const fd = openSync(logFile, 'a');
    const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], env: env ?? process.env });
    child.once('error', (e) => {
      closeSync(fd);
      reject(e);
    });
    child.once('exit', (code, signal) => {
      closeSync(fd);
      if (code === 0) resolve();
      else reject(new MixmeshError('KEYSTONE_AUTH_FAILED', `${cmd} ${args[2] ?? ''} exited ${code ?? signal}; see ${logFile}`));
    });
  });
}

/**
 * Set up and start Keystone under `dir`. The bootstrap password is the admin's; the caller owns it.
 * Resolves when `GET /v3` answers.
 */
export async function startRealKeystone(dir: string, password: string, region: string, services: readonly CatalogServiceSpec[]): Promise<RealKeystone> {
  killLeftover(dir);
  // a fresh database and key repositories every start: the sandbox is ephemeral
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const conf = join(dir, 'keystone.conf');
  const log = join(dir, 'keystone-manage.log');
  writeFileSync(
    conf,
    [
      '[DEFAULT]',
      `log_dir = ${dir}`,
      '[database]',
      `connection = sqlite:///${join(dir, 'keystone.db')}`,
      '[token]',
      'provider = fernet',
      '[fernet_tokens]',
      `key_repository = ${join(dir, 'fernet-keys')}`,
      '[credential]',
      `key_repository = ${join(dir, 'credential-keys')}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const port = await freePort();
  const authUrl = `http://127.0.0.1:${port}/v3`;
  const base = ['--config-file', conf];
  // db_sync and the two key repositories are independent: run them side by side (~3 s saved)
  await Promise.all([
    run(KEYSTONE_MANAGE, [...base, 'db_sync'], log),
    run(KEYSTONE_MANAGE, [...base, 'fernet_setup', '--keystone-user', 'root', '--keystone-group', 'root'], log),
    run(KEYSTONE_MANAGE, [...base, 'credential_setup', '--keystone-user', 'root', '--keystone-group', 'root'], log),
  ]);
  // the password goes by environment (keystone-manage reads OS_BOOTSTRAP_PASSWORD), never argv
  await run(KEYSTONE_MANAGE, [...base, 'bootstrap', '--bootstrap-public-url', `${authUrl}/`, '--bootstrap-region-id', region], log, { ...process.env, OS_BOOTSTRAP_PASSWORD: password });
  await registerServicesInDb(join(dir, 'keystone.db'), region, services, log);
  const out = openSync(join(dir, 'keystone-wsgi.log'), 'a');
  // under setpriv --pdeathsig KILL it dies with us, even when we are killed (like the sandbox VMs)
  const args = [KEYSTONE_WSGI, '--port', String(port), '--host', '127.0.0.1', '--', '--config-file', conf];
  const child: ChildProcess = existsSync(SETPRIV) ? spawn(SETPRIV, ['--pdeathsig', 'KILL', '--', ...args], { stdio: ['ignore', out, out] }) : spawn(args[0] as string, args.slice(1), { stdio: ['ignore', out, out] });
  closeSync(out);
  if (child.pid) writeFileSync(join(dir, 'pid'), String(child.pid));
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  // generous: on a loaded 2-core machine the WSGI server's first start (Python imports) takes long
  const budgetS = 120;
  const deadline = Date.now() + budgetS * 1000;
  for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
    if (exited) throw new MixmeshError('KEYSTONE_AUTH_FAILED', `keystone-wsgi-public exited at start; see ${join(dir, 'keystone-wsgi.log')}: ${readFileSync(join(dir, 'keystone-wsgi.log'), 'utf8').slice(-500)}`);
    try {
      const res = await fetch(authUrl, { signal: AbortSignal.timeout(10_000) });
      if (res.ok) {
        await res.arrayBuffer();
        break;
      }
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new MixmeshError('KEYSTONE_AUTH_FAILED', `keystone-wsgi-public did not answer on ${authUrl} within ${budgetS} s`);
    }
    await sleep(delay);
  }
  return {
    authUrl,
    port,
    stop: async () => {
      if (exited) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 2000);
      await gone;
      clearTimeout(t);
    },
  };
}

export interface CatalogServiceSpec {
  type: string;
  name: string;
  url: string;
}

/**
 * Register services and their public/internal/admin endpoints in Keystone's catalog tables before
 * the server starts. Why not `POST /v3/endpoints`: measured here, keystone-wsgi-public on sqlite
 * keeps a write lock after the first endpoint create, so the next one fails with "database is
 * locked" (500) — the tables are what the API would write.
 */
async function registerServicesInDb(db: string, region: string, services: readonly CatalogServiceSpec[], logFile: string): Promise<void> {
  const rows = services.map((s) => ({ id: randomUUID().replace(/-/g, ''), type: s.type, name: s.name, url: s.url, endpoints: ['public', 'internal', 'admin'].map((i) => ({ id: randomUUID().replace(/-/g, ''), iface: i })) }));
  const script = [
    'import json, sqlite3, sys',
    'rows = json.loads(sys.argv[1]); c = sqlite3.connect(sys.argv[2])',
    'for s in rows:',
    '    c.execute("insert into service (id, type, enabled, extra) values (?, ?, 1, ?)", (s["id"], s["type"], json.dumps({"name": s["name"]})))',
    '    for e in s["endpoints"]:',
    '        c.execute("insert into endpoint (id, legacy_endpoint_id, interface, service_id, url, extra, enabled, region_id) values (?, NULL, ?, ?, ?, \'{}\', 1, ?)", (e["id"], e["iface"], s["id"], s["url"], sys.argv[3]))',
    'c.commit()',
  ].join('\n');
  await run('/usr/bin/python3', ['-c', script, JSON.stringify(rows), db, region], logFile);
}
