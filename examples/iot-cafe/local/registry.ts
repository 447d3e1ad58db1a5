/**
 * A real container registry for the café's "Push the images" step: Debian's docker-registry
 * (Distribution 2.8) on 127.0.0.1:<port>, with its own storage directory and htpasswd (bcrypt)
 * basic auth, started by `docker-registry serve CONFIG.yml` under `setpriv --pdeathsig KILL` so it
 * dies with its parent. Plain HTTP: dockerd treats registries on 127.0.0.0/8 as insecure ones, and
 * Distribution accepts htpasswd without TLS.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './stack.js';
import { stopChild } from './process.js';

const run = promisify(execFile);
export const REGISTRY_BIN = '/usr/bin/docker-registry';

export interface Registry {
  /** host:port, what `docker login` and image names use */
  host: string;
  /** http://host:port */
  url: string;
  user: string;
  password: string;
  /** GET/HEAD on the registry's HTTP API with the user's basic auth */
  api: (path: string, init?: { method?: string; accept?: string }) => Promise<Response>;
  stop: () => Promise<void>;
}

export async function startRegistry(options: { dir: string; user?: string; password?: string; deadlineMs?: number }): Promise<Registry> {
  if (!existsSync(REGISTRY_BIN)) throw new Error('docker-registry is not installed; install Debian\'s docker-registry (scripts/setup-host.sh does; it does not start it)');
  const { dir } = options;
  const user = options.user ?? 'cafe-ci';
  const password = options.password ?? `pw-${Math.random().toString(36).slice(2)}`;
  mkdirSync(join(dir, 'storage'), { recursive: true, mode: 0o700 });
  // bcrypt, the only scheme Distribution's htpasswd accepts
  const { stdout } = await run('htpasswd', ['-nbB', user, password]);
  writeFileSync(join(dir, 'htpasswd'), stdout.trim() + '\n', { mode: 0o600 });
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const config = join(dir, 'config.yml');
  writeFileSync(config, [
    'version: 0.1',
    'log: {level: warn, accesslog: {disabled: true}}',
    `storage: {filesystem: {rootdirectory: ${JSON.stringify(join(dir, 'storage'))}}}`,
    `http: {addr: "${host}"}`,
    `auth: {htpasswd: {realm: cafe-test, path: ${JSON.stringify(join(dir, 'htpasswd'))}}}`,
    '',
  ].join('\n'));
  const logFile = join(dir, 'registry.log');
  const log = openSync(logFile, 'a');
  const child: ChildProcess = existsSync('/usr/bin/setpriv')
    ? spawn('/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', REGISTRY_BIN, 'serve', config], { stdio: ['ignore', log, log] })
    : spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', log, log] });
  let exited = false;
  child.on('exit', () => { exited = true; });
  const kill = () => { if (!exited) child.kill('SIGKILL'); };
  process.once('exit', kill);
  const url = `http://${host}`;
  const auth = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const api: Registry['api'] = (path, init = {}) => fetch(`${url}${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: auth, ...(init.accept ? { accept: init.accept } : {}) },
  });
  const stop = async () => {
    await stopChild(child, 'SIGTERM', 10_000);
    process.removeListener('exit', kill);
  };
  // ready when /v2/ answers the user (200), with backoff
  const until = Date.now() + (options.deadlineMs ?? 60_000);
  let delay = 50;
  for (;;) {
    if (exited) throw new Error(`docker-registry exited during start-up: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
    if (await api('/v2/').then((r) => r.status === 200, () => false)) break;
    if (Date.now() > until) {
      await stop();
      throw new Error(`docker-registry did not answer on ${url} within ${(options.deadlineMs ?? 60_000) / 1000} s: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 1000);
  }
  return { host, url, user, password, api, stop };
}
