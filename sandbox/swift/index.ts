/**
 * A real OpenStack Swift (Debian's swift 2.30 packages) with its S3 API, all in one process, in a
 * directory of its own: the object store the backup tests and benchmarks write to. The Python side
 * (swift_aio.py) builds the rings, writes swift.conf under DIR (never /etc/swift), and serves the
 * proxy (tempauth + s3api), account, container and object servers with `workers = 0`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MixmeshError } from '../../common/errors.js';

export interface SwiftServer {
  /** S3 and Swift endpoint, e.g. http://127.0.0.1:PORT */
  endpoint: string;
  /** S3 credentials of the tempauth user test:tester (path style, region us-east-1) */
  s3: { accessKeyId: string; secretAccessKey: string; region: string };
  /** a second account (test2:tester2), for a second world sharing the store */
  s3Second: { accessKeyId: string; secretAccessKey: string; region: string };
  /** Swift's v1 auth URL (X-Auth-User test:tester, X-Auth-Key testing) */
  authUrl: string;
  pid: number;
  dir: string;
  stop(): Promise<void>;
}

export interface StartSwiftOptions {
  /** working directory (default: a new temp dir, removed on stop) */
  dir?: string;
  /** proxy port (default: a free one) */
  port?: number;
  /** how long to wait for the proxy to answer (default 60 s: the machine may be loaded) */
  readyTimeoutMs?: number;
}

const PYTHON = '/usr/bin/python3';

function scriptPath(): string {
  const here = fileURLToPath(new URL('./swift_aio.py', import.meta.url));
  if (existsSync(here)) return here;
  // running from dist/: the script stays in the source tree
  return fileURLToPath(new URL('../../../sandbox/swift/swift_aio.py', import.meta.url));
}

/** Is Debian's Swift installed (python3-swift + the servers)? */
export function swiftInstalled(): boolean {
  return existsSync(PYTHON) && existsSync('/usr/lib/python3/dist-packages/swift/proxy/server.py') && existsSync('/usr/lib/python3/dist-packages/swift/account/server.py');
}

export async function startSwift(options: StartSwiftOptions = {}): Promise<SwiftServer> {
  if (!swiftInstalled()) {
    throw new MixmeshError('SANDBOX_MISSING_PACKAGES', 'OpenStack Swift is not installed: apt-get install --no-install-recommends swift swift-proxy swift-object swift-container swift-account');
  }
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'mixmesh-swift-')));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const script = scriptPath();
  const child: ChildProcess = spawn('setpriv', ['--pdeathsig', 'KILL', PYTHON, script, dir, String(options.port ?? 0)], {
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', EVENTLET_NO_GREENDNS: 'yes', PYTHONPATH: join(script, '..'), HOME: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString('utf8')).slice(-4000);
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`no READY line within ${options.readyTimeoutMs ?? 60_000} ms`)), options.readyTimeoutMs ?? 60_000);
    const fail = (e: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new MixmeshError('INTERNAL', `start Swift: ${e.message}; stderr: ${stderr.slice(-1000)}`));
    };
    child.on('exit', (code) => fail(new Error(`exited ${code}`)));
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      const m = /READY (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve(Number(m[1]));
      }
    });
  });
  const endpoint = `http://127.0.0.1:${port}`;
  // healthy = the proxy answers and tempauth hands out a token (the rings and servers are loaded)
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
    try {
      const r = await fetch(`${endpoint}/auth/v1.0`, { headers: { 'X-Auth-User': 'test:tester', 'X-Auth-Key': 'testing' } });
      if (r.ok) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new MixmeshError('INTERNAL', `start Swift: the proxy at ${endpoint} did not hand out a token in time`);
    }
    await new Promise((r) => setTimeout(r, delay));
  }
  let stopped = false;
  return {
    endpoint,
    s3: { accessKeyId: 'test:tester', secretAccessKey: 'testing', region: 'us-east-1' },
    s3Second: { accessKeyId: 'test2:tester2', secretAccessKey: 'testing2', region: 'us-east-1' },
    authUrl: `${endpoint}/auth/v1.0`,
    pid: child.pid ?? -1,
    dir,
    async stop() {
      if (stopped) return;
      stopped = true;
      process.removeListener('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await gone;
        clearTimeout(t);
      }
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
  };
}
