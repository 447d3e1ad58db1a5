/**
 * A real Docker Engine (Debian docker.io's /usr/sbin/dockerd) for one sandbox VM: its own
 * --data-root, --exec-root, pid file and unix socket under DIR, listening on `<vm>:2375`, with
 * `--storage-driver vfs --iptables=false --bridge=none` so several run side by side on one host
 * without touching its network. The engine gets the sandbox's local image cache (`busybox:stable`,
 * imported from the host's busybox: no registry can be reached).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { MixmeshError } from '../../common/errors.js';
import { silentLogger, type Logger } from '../../common/logger.js';
import { busyboxImageTar, LOCAL_IMAGES } from './image.js';

export const DOCKERD = '/usr/sbin/dockerd';
export const ENGINE_PORT = 2375;

export interface RunningEngine {
  address: string;
  /** unix:///…/docker.sock */
  socket: string;
  /** tcp://<vm>:2375 */
  tcp: string;
  pid: number;
  stop(): Promise<void>;
}

/** GET path on the engine's unix socket; resolves with the status (0 when it does not answer) */
function ping(socketPath: string, path = '/_ping'): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path, method: 'GET', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => { req.destroy(); resolve(0); });
    req.end();
  });
}

function post(socketPath: string, path: string, body: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'POST', headers: { 'Content-Type': 'application/x-tar', 'Content-Length': body.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Start dockerd for `address` under `dir`; resolves once it answers and the local images are in. */
export async function startDockerd(o: { dir: string; address: string; hostname: string; log?: Logger; startBudgetMs?: number }): Promise<RunningEngine> {
  if (!existsSync(DOCKERD)) throw new MixmeshError('SANDBOX_MISSING_PACKAGES', `${DOCKERD} is missing (apt-get install docker.io)`);
  const log = (o.log ?? silentLogger).child({ part: 'sandbox/swarm', address: o.address });
  // short paths: a unix socket path must stay under 108 bytes
  await mkdir(o.dir, { recursive: true, mode: 0o700 });
  const socketPath = join(o.dir, 'd.sock');
  const args = [
    '--data-root', join(o.dir, 'data'), '--exec-root', join(o.dir, 'x'), '--pidfile', join(o.dir, 'dockerd.pid'),
    '-H', `unix://${socketPath}`, '-H', `tcp://${o.address}:${ENGINE_PORT}`,
    '--storage-driver', 'vfs', '--shutdown-timeout', '3', '--iptables=false', '--ip-masq=false', '--bridge=none',
    '--label', `mixmesh.sandbox.vm=${o.hostname}`, '--label', `mixmesh.sandbox.address=${o.address}`,
  ];
  const child: ChildProcess = spawn('setpriv', ['--pdeathsig', 'TERM', DOCKERD, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  const tail: string[] = [];
  child.stderr?.on('data', (c: Buffer) => {
    for (const line of c.toString('utf8').split('\n')) if (line) tail.push(line);
    if (tail.length > 40) tail.splice(0, tail.length - 40);
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.unref();
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      // the machine goes away: leave the swarm first (a manager's raft shutdown otherwise takes
      // ~20 s), then a normal shutdown, which stops the containers
      const t0 = Date.now();
      await post(socketPath, '/v1.41/swarm/leave?force=true', Buffer.alloc(0)).catch(() => undefined);
      log.debug({ ms: Date.now() - t0 }, 'swarm left');
      child.kill('SIGTERM');
      const killed = await Promise.race([exited.then(() => true), sleep(20_000).then(() => false)]);
      if (!killed) {
        child.kill('SIGKILL');
        await exited;
      }
    }
    // containerd (started by dockerd) leaves with it; make sure, by its pid file
    const cpid = Number((await readFile(join(o.dir, 'x', 'containerd', 'containerd.pid'), 'utf8').catch(() => '')).trim());
    if (cpid > 1) {
      try { process.kill(cpid, 'SIGKILL'); } catch { /* gone */ }
    }
    log.info('dockerd stopped');
  };
  const deadline = Date.now() + (o.startBudgetMs ?? 60_000);
  let delay = 50;
  while ((await ping(socketPath)) !== 200) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new MixmeshError('INTERNAL', `dockerd for ${o.address} did not answer: ${tail.slice(-5).join(' | ')}`);
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 500);
  }
  try {
    const tar = await busyboxImageTar(join(o.dir, '..'));
    for (const image of LOCAL_IMAGES) {
      const [repo, tag] = image.split(':') as [string, string];
      const changes = encodeURIComponent('CMD ["sh"]');
      const r = await post(socketPath, `/v1.41/images/create?fromSrc=-&repo=${encodeURIComponent(repo)}&tag=${encodeURIComponent(tag)}&changes=${changes}`, tar);
      if (r.status !== 200 || /"error"/.test(r.text)) throw new MixmeshError('INTERNAL', `docker import ${image} into ${o.address}: ${r.status} ${r.text.slice(0, 200)}`);
    }
  } catch (e) {
    await stop();
    throw e;
  }
  log.info({ pid: child.pid }, 'dockerd started');
  return { address: o.address, socket: `unix://${socketPath}`, tcp: `tcp://${o.address}:${ENGINE_PORT}`, pid: child.pid!, stop };
}

/**
 * Remove an engine's directory (after stop): vfs layers are plain directories, but dockerd leaves
 * network namespace mounts (nsfs, e.g. the swarm ingress sandbox) under its exec root: those are
 * unmounted first (lazily), or the removal fails with EBUSY.
 */
export async function removeEngineDir(dir: string): Promise<void> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const prefix = `${dir}/`;
  const mounts = mountinfo.split('\n').map((l) => l.split(' ')[4] ?? '').map((p) => p.replace(/\\040/g, ' ')).filter((p) => p.startsWith(prefix));
  for (const m of mounts.sort((a, b) => b.length - a.length)) {
    await new Promise<void>((resolve) => execFile('umount', ['-l', m], () => resolve()));
  }
  await rm(dir, { recursive: true, force: true });
}
