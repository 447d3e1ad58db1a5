/**
 * A real Docker Engine (Debian's docker.io) for tests and benchmarks that build or run images, and
 * base images made locally, since no registry can be reached here.
 *
 * `startDockerd` runs one dockerd with its own data root, exec root, unix socket and config file,
 * `--storage-driver vfs --iptables=false --bridge=none` (nothing touches the host's network or
 * storage), under `setpriv --pdeathsig KILL` so it dies with its parent. Containers use
 * `--network host` (there is no bridge). `importNodeBaseImage` makes an image holding only the
 * node binary (stripped) and the shared libraries it links (from `ldd`) — what `FROM node:20-…` provides
 * for a bundled app — by `docker import` of a rootfs tar built in memory.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { pack } from 'tar-stream';
import { MixmeshError } from '../../common/errors.js';

const run = promisify(execFile);

export interface Dockerd {
  /** `unix:///…/docker.sock`, for DOCKER_HOST or `docker -H` */
  host: string;
  socket: string;
  dir: string;
  /** run the docker CLI against this daemon; resolves with stdout, rejects with stderr in the message */
  docker: (args: readonly string[], options?: { input?: Buffer | NodeJS.ReadableStream; timeoutMs?: number; env?: NodeJS.ProcessEnv }) => Promise<string>;
  stop: () => Promise<void>;
}

export const DOCKERD = '/usr/sbin/dockerd';
export const DOCKER_CLI = ['/usr/bin/docker', '/usr/local/bin/docker'].find((p) => existsSync(p)) ?? 'docker';

export async function startDockerd(options: { dir: string; deadlineMs?: number }): Promise<Dockerd> {
  if (process.getuid?.() !== 0) throw new MixmeshError('SANDBOX_NOT_ROOT', 'the sandbox Docker Engine needs root (dockerd mounts and creates namespaces)');
  if (!existsSync(DOCKERD)) throw new MixmeshError('SANDBOX_MISSING_PACKAGES', 'dockerd is not installed; install Debian\'s docker.io (scripts/setup-host.sh does; it does not start it)');
  const dir = options.dir;
  mkdirSync(join(dir, 'data'), { recursive: true, mode: 0o700 });
  mkdirSync(join(dir, 'exec'), { recursive: true, mode: 0o700 });
  const socket = join(dir, 'docker.sock');
  const config = join(dir, 'daemon.json');
  writeFileSync(config, '{}\n');
  const args = [
    `--data-root=${join(dir, 'data')}`, `--exec-root=${join(dir, 'exec')}`, `--pidfile=${join(dir, 'dockerd.pid')}`, `--config-file=${config}`,
    `--host=unix://${socket}`, '--storage-driver=vfs', '--iptables=false', '--ip6tables=false', '--bridge=none', '--ip-masq=false',
    '--userland-proxy=false', '--log-level=warn',
  ];
  const logFile = join(dir, 'dockerd.log');
  const log = openSync(logFile, 'a');
  const child: ChildProcess = existsSync('/usr/bin/setpriv')
    ? spawn('/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', DOCKERD, ...args], { stdio: ['ignore', log, log] })
    : spawn(DOCKERD, args, { stdio: ['ignore', log, log] });
  let exited = false;
  child.on('exit', () => { exited = true; });
  const host = `unix://${socket}`;

  const docker: Dockerd['docker'] = (cliArgs, o = {}) => new Promise((ok, fail) => {
    const p = spawn(DOCKER_CLI, ['-H', host, ...cliArgs], { env: { ...process.env, DOCKER_BUILDKIT: '0', DOCKER_CLI_HINTS: 'false', ...o.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const timer = setTimeout(() => p.kill('SIGKILL'), o.timeoutMs ?? 300_000);
    p.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) ok(out);
      else fail(new MixmeshError('SANDBOX_DOCKER_FAILED', `docker ${cliArgs.slice(0, 2).join(' ')} failed (exit ${code}): ${err.trim().slice(-2000)}`));
    });
    if (o.input && Buffer.isBuffer(o.input)) p.stdin.end(o.input);
    else if (o.input) (o.input as NodeJS.ReadableStream).pipe(p.stdin);
    else p.stdin.end();
  });

  const stop = async () => {
    if (exited) return;
    // containers first, so their shims do not outlive the daemon
    await docker(['ps', '-aq']).then((ids) => (ids.trim() ? docker(['rm', '-f', ...ids.trim().split(/\s+/)]) : '')).catch(() => undefined);
    const done = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await done;
    clearTimeout(t);
    await unmountUnder(dir);
  };
  process.once('exit', () => { if (!exited) child.kill('SIGKILL'); });

  // ready when `docker version` answers, with backoff
  const until = Date.now() + (options.deadlineMs ?? 60_000);
  let delay = 100;
  for (;;) {
    if (exited) throw new MixmeshError('SANDBOX_DOCKER_FAILED', `dockerd exited during start-up: ${tail(logFile)}`);
    if (existsSync(socket) && (await docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 10_000 }).then(() => true, () => false))) break;
    if (Date.now() > until) {
      await stop();
      throw new MixmeshError('SANDBOX_DOCKER_FAILED', `dockerd did not answer within ${(options.deadlineMs ?? 60_000) / 1000} s: ${tail(logFile)}`);
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 1000);
  }
  return { host, socket, dir, docker, stop };
}

/** the shared libraries a binary loads, resolved by ldd (absolute paths, including the loader) */
export async function sharedLibraries(binary: string): Promise<string[]> {
  const { stdout } = await run('ldd', [binary]);
  const libs = new Set<string>();
  for (const line of stdout.split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.add(m[1]!);
  }
  return [...libs].sort();
}

/**
 * A rootfs tar with the node binary at /usr/local/bin/node (and /usr/bin/node), its libraries at
 * the paths ldd printed (symlinks resolved to their files), /etc/passwd and /etc/group with root,
 * nobody and an unprivileged `app` user (10001), and a sticky /tmp.
 */
export async function nodeRootfsTar(nodeBinary = process.execPath): Promise<Buffer> {
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on('data', (c: unknown) => { chunks.push(c as Buffer); });
  const ended = new Promise<void>((r) => tar.on('end', () => r()));
  const dirs = new Set<string>();
  const addDir = (d: string, mode = 0o755) => {
    const parts = d.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      if (dirs.has(p)) continue;
      dirs.add(p);
      tar.entry({ name: `${p}/`, type: 'directory', mode: p === 'tmp' ? 0o1777 : mode });
    }
  };
  const addFile = (path: string, content: Buffer, mode: number) => {
    addDir(dirname(path));
    tar.entry({ name: path.replace(/^\//, ''), mode, size: content.length }, content);
  };
  addDir('/tmp');
  addDir('/app');
  const node = await strippedCopy(realpathSync(nodeBinary));
  addFile('/usr/local/bin/node', node, 0o755);
  tar.entry({ name: 'usr/bin/', type: 'directory', mode: 0o755 });
  dirs.add('usr/bin');
  tar.entry({ name: 'usr/bin/node', type: 'symlink', linkname: '/usr/local/bin/node' });
  for (const lib of await sharedLibraries(nodeBinary)) {
    const real = realpathSync(lib);
    addFile(lib, readFileSync(real), statSync(real).mode & 0o777);
    // the same library under its merged-/usr name, so either path works
    if (lib.startsWith('/lib/') || lib.startsWith('/lib64/')) addFile(`/usr${lib}`, readFileSync(real), statSync(real).mode & 0o777);
  }
  addFile('/etc/passwd', Buffer.from('root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\napp:x:10001:10001:app:/app:/sbin/nologin\n'), 0o644);
  addFile('/etc/group', Buffer.from('root:x:0:\nnogroup:x:65534:\napp:x:10001:\n'), 0o644);
  addFile('/etc/nsswitch.conf', Buffer.from('passwd: files\ngroup: files\nhosts: files dns\n'), 0o644);
  tar.finalize();
  await ended;
  return Buffer.concat(chunks);
}

/**
 * `docker import` the node rootfs as `tag` (default `mixmesh.local/node:<major>`), PATH set, no
 * entrypoint; skipped when the daemon already has the tag. Pass the tag as
 * `--build-arg BASE_IMAGE=…` to a Dockerfile whose default is a public node image.
 */
export async function importNodeBaseImage(d: Dockerd, tag = `mixmesh.local/node:${process.versions.node.split('.')[0]}`): Promise<string> {
  const have = await d.docker(['image', 'inspect', '--format', '{{.Id}}', tag]).then(() => true, () => false);
  if (have) return tag;
  const rootfs = await nodeRootfsTar();
  await d.docker(['import', '--change', 'ENV PATH=/usr/local/bin:/usr/bin:/bin', '--change', 'ENV NODE_VERSION=' + process.versions.node, '-', tag], { input: rootfs });
  return tag;
}

/** the binary without its debug symbols when binutils' strip is there (Debian's node: 99 → 86 MB) */
async function strippedCopy(binary: string): Promise<Buffer> {
  if (!existsSync('/usr/bin/strip')) return readFileSync(binary);
  const dir = mkdtempSync(join(tmpdir(), 'mixmesh-strip-'));
  try {
    await run('/usr/bin/strip', ['--strip-all', '-o', join(dir, 'bin'), binary]);
    return readFileSync(join(dir, 'bin'));
  } catch {
    return readFileSync(binary);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** dockerd leaves mounts under its roots (the netns file, overlay/vfs leftovers): undo them, deepest first */
export async function unmountUnder(dir: string): Promise<void> {
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '')
    .map((p) => p.replace(/\\040/g, ' ')).filter((p) => p === dir || p.startsWith(`${dir}/`)).sort((a, b) => b.length - a.length);
  for (const m of mounts) await run('umount', ['-l', m]).catch(() => undefined);
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-1500);
  } catch {
    return '';
  }
}
