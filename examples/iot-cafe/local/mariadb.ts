/**
 * A real MariaDB (Debian's mariadb-server) in a temporary datadir on its own port, for
 * `npm run cafe`, the café's tests and its benchmark. Stopped by its pid, also when the parent
 * exits (the server runs under `setpriv --pdeathsig KILL` when it is available).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { stopChild } from './process.js';

export interface MariaDB {
  port: number;
  socket: string;
  /** the café's own account (not root), for the services' env */
  database: string;
  user: string;
  password: string;
  stop: () => Promise<void>;
  errorLog: string;
}

const MARIADBD = ['/usr/sbin/mariadbd', '/usr/sbin/mysqld'].find((p) => existsSync(p));

export async function startMariaDB(options: { dir: string; port: number; database?: string; user?: string }): Promise<MariaDB> {
  if (!MARIADBD) throw new Error('mariadbd not found: install Debian\'s mariadb-server (scripts/setup-host.sh does)');
  const dir = options.dir;
  const data = join(dir, 'data');
  mkdirSync(dir, { recursive: true });
  const asRoot = process.getuid?.() === 0;
  const user = asRoot ? 'root' : (process.env.USER ?? 'nobody');
  if (!existsSync(join(data, 'mysql'))) {
    const init = spawnSync('mariadb-install-db', [`--datadir=${data}`, '--auth-root-authentication-method=normal', `--user=${user}`, '--skip-test-db', '--skip-name-resolve'], { encoding: 'utf8' });
    if (init.status !== 0) throw new Error(`mariadb-install-db failed (${init.status}): ${(init.stderr || init.stdout).slice(-2000)}`);
  }
  const socket = join(dir, 'sock');
  const errorLog = join(dir, 'err.log');
  const args = [
    `--datadir=${data}`, `--socket=${socket}`, `--port=${options.port}`, '--bind-address=127.0.0.1', `--pid-file=${join(dir, 'pid')}`,
    `--log-error=${errorLog}`, '--skip-name-resolve', '--skip-log-bin', '--max-connections=600', '--innodb-buffer-pool-size=128M',
    '--character-set-server=utf8mb4', '--collation-server=utf8mb4_unicode_ci', ...(asRoot ? ['--user=root'] : []),
  ];
  const setpriv = existsSync('/usr/bin/setpriv');
  const child: ChildProcess = setpriv
    ? spawn('/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', MARIADBD, ...args], { stdio: 'ignore' })
    : spawn(MARIADBD, args, { stdio: 'ignore' });
  let exited = false;
  child.on('exit', () => { exited = true; });

  // wait for the socket to answer, with backoff and a generous deadline
  const until = Date.now() + 60_000;
  let delay = 50;
  let root: mysql.Connection | undefined;
  while (!root) {
    if (exited) throw new Error(`mariadbd exited during start-up: ${tail(errorLog)}`);
    try {
      root = await mysql.createConnection({ socketPath: socket, user: 'root' });
    } catch (err) {
      if (Date.now() > until) { child.kill('SIGKILL'); throw new Error(`mariadbd did not answer within 60 s: ${(err as Error).message} ${tail(errorLog)}`); }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 1000);
    }
  }
  const database = options.database ?? 'cafe';
  const account = options.user ?? 'cafe';
  const password = randomBytes(18).toString('base64url');
  await root.query(`CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await root.query('CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?', [account, '127.0.0.1', password]);
  await root.query('ALTER USER ?@? IDENTIFIED BY ?', [account, '127.0.0.1', password]);
  await root.query(`GRANT ALL PRIVILEGES ON \`${database}\`.* TO ?@?`, [account, '127.0.0.1']);
  await root.end();

  const stop = () => stopChild(child, 'SIGTERM', 15_000);
  process.once('exit', () => { if (!exited) child.kill('SIGKILL'); });
  return { port: options.port, socket, database, user: account, password, stop, errorLog };
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-1500);
  } catch {
    return '';
  }
}
