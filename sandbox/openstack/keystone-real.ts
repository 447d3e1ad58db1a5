/**
 * Debian's Keystone 22 (Zed), run the way test-world.md measured it: sqlite + fernet under DIR,
 * `keystone-manage db_sync / fernet_setup / credential_setup / bootstrap`, served by
 * `keystone-wsgi-public` on a free loopback port. Tacker and Nova endpoints are registered through
 * its own API, as an operator would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MixmeshError } from '../../common/index.js';
import { freePort, sleep } from './http-util.js';

export const KEYSTONE_MANAGE = '/usr/bin/keystone-manage';
export const KEYSTONE_WSGI = '/usr/bin/keystone-wsgi-public';

export function realKeystoneInstalled(): boolean {
  return existsSync(KEYSTONE_MANAGE) && existsSync(KEYSTONE_WSGI);
}

export interface RealKeystone {
  authUrl: string;
  port: number;
  stop(): Promise<void>;
}

function run(cmd: string, args: string[], logFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const fd = openSync(logFile, 'a');
    const child = spawn(cmd, args, { stdio: ['ignore', fd, fd] });
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
export async function startRealKeystone(dir: string, password: string, region: string): Promise<RealKeystone> {
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
  await run(KEYSTONE_MANAGE, [...base, 'bootstrap', '--bootstrap-password', password, '--bootstrap-public-url', `${authUrl}/`, '--bootstrap-region-id', region], log);
  const out = openSync(join(dir, 'keystone-wsgi.log'), 'a');
  const child: ChildProcess = spawn(KEYSTONE_WSGI, ['--port', String(port), '--host', '127.0.0.1', '--', '--config-file', conf], { stdio: ['ignore', out, out], detached: false });
  closeSync(out);
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new MixmeshError('KEYSTONE_AUTH_FAILED', `keystone-wsgi-public exited at start; see ${join(dir, 'keystone-wsgi.log')}: ${readFileSync(join(dir, 'keystone-wsgi.log'), 'utf8').slice(-500)}`);
    try {
      const res = await fetch(authUrl, { signal: AbortSignal.timeout(2000) });
      if (res.ok) {
        await res.arrayBuffer();
        break;
      }
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new MixmeshError('KEYSTONE_AUTH_FAILED', `keystone-wsgi-public did not answer on ${authUrl} within 30 s`);
    }
    await sleep(100);
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

/** Register a service and its public/internal/admin endpoints in Keystone (admin token). */
export async function registerService(authUrl: string, adminToken: string, svc: { type: string; name: string; url: string; region: string }): Promise<void> {
  const h = { 'X-Auth-Token': adminToken, 'Content-Type': 'application/json' };
  const res = await fetch(`${authUrl}/services`, { method: 'POST', headers: h, body: JSON.stringify({ service: { type: svc.type, name: svc.name, enabled: true } }) });
  if (res.status !== 201) throw new MixmeshError('KEYSTONE_AUTH_FAILED', `register service ${svc.type} in Keystone: ${res.status} ${await res.text()}`);
  const serviceId = ((await res.json()) as { service: { id: string } }).service.id;
  for (const iface of ['public', 'internal', 'admin']) {
    const e = await fetch(`${authUrl}/endpoints`, { method: 'POST', headers: h, body: JSON.stringify({ endpoint: { service_id: serviceId, interface: iface, region_id: svc.region, url: svc.url, enabled: true } }) });
    if (e.status !== 201) throw new MixmeshError('KEYSTONE_AUTH_FAILED', `register ${iface} endpoint of ${svc.type} in Keystone: ${e.status} ${await e.text()}`);
    await e.arrayBuffer();
  }
}
