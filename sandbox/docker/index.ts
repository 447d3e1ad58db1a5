/**
 * A real Docker Engine for tests and the sandbox (docs/sandbox.md): `dockerd` started with its own
 * data root, exec root, pid file and unix socket, `--storage-driver vfs --iptables=false
 * --bridge=none` (no host networking changes; containers run with `--network host`), and stopped
 * with everything it ran. No registry can be reached, so base images are made locally:
 * `makeNodeBaseImage` imports a root filesystem holding this machine's `node`, the libraries it
 * links, busybox (a shell for RUN steps) and a non-root user — what a Dockerfile gets as
 * `--build-arg BASE_IMAGE=…` instead of the public `node` image it names by default.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { MixmeshError } from '../../common/errors.js';

export interface Dockerd {
  /** `unix:///…/docker.sock`, for DOCKER_HOST or `docker -H` */
  host: string;
  dir: string;
  /** run the docker CLI against this daemon */
  docker(args: string[], options?: { input?: string; timeoutMs?: number }): Promise<{ code: number; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

const DOCKERD = '/usr/sbin/dockerd';
const DOCKER_CANDIDATES = ['/usr/bin/docker', '/usr/local/bin/docker'];

function dockerCli(): string {
  const found = DOCKER_CANDIDATES.find((p) => existsSync(p));
  if (!found) throw new MixmeshError('SANDBOX_MISSING_PACKAGES', 'the docker CLI is not installed (Debian package docker.io)');
  return found;
}

/** Start dockerd in a directory of its own; resolves once it answers `docker version`. */
export async function startDockerd(options: { dir?: string; timeoutMs?: number } = {}): Promise<Dockerd> {
  if (!existsSync(DOCKERD)) throw new MixmeshError('SANDBOX_MISSING_PACKAGES', `${DOCKERD} is not installed (Debian package docker.io)`);
  if (process.getuid?.() !== 0) throw new MixmeshError('SANDBOX_NOT_ROOT', 'dockerd needs root');
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'mixmesh-dockerd-'));
  for (const d of ['data', 'exec', 'run']) mkdirSync(join(dir, d), { recursive: true });
  const sock = join(dir, 'run', 'docker.sock');
  const host = `unix://${sock}`;
  const log = join(dir, 'dockerd.log');
  const child: ChildProcess = spawn(DOCKERD, [
    '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'), '--pidfile', join(dir, 'run', 'docker.pid'), '-H', host,
    '--storage-driver', 'vfs', '--iptables=false', '--ip6tables=false', '--bridge=none', '--ip-masq=false', '--userland-proxy=false', '--log-level', 'warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'], detached: false });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-20_000); });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const cli = dockerCli();
  const docker: Dockerd['docker'] = (args, o = {}) => new Promise((resolve) => {
    const p = execFile(cli, ['-H', host, ...args], { timeout: o.timeoutMs ?? 600_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, DOCKER_BUILDKIT: '0', DOCKER_CONFIG: join(dir, 'cli') } }, (err, stdout, stderrText) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr: stderrText });
    });
    if (o.input !== undefined) p.stdin!.end(o.input);
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) {
      // the containers it runs go with it (SIGTERM: dockerd stops them), then the daemon itself
      const ids = (await docker(['ps', '-aq'], { timeoutMs: 30_000 })).stdout.split('\n').filter(Boolean);
      if (ids.length) await docker(['rm', '-f', ...ids], { timeoutMs: 60_000 });
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(killer);
    }
    writeFileSync(log, stderr);
    // dockerd leaves its network namespace mount behind (exec/netns/default): unmount what is under dir
    const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(`${dir}/`)).sort().reverse();
    for (const m of mounts) await new Promise<void>((resolve) => execFile('umount', ['-l', m], () => resolve()));
    if (!options.dir) rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (let wait = 50; ; wait = Math.min(wait * 2, 1000)) {
    if (child.exitCode !== null) throw new MixmeshError('INTERNAL', `dockerd exited: ${stderr.slice(-2000)}`);
    if ((await docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 10_000 })).code === 0) break;
    if (Date.now() > deadline) {
      await stop();
      throw new MixmeshError('INTERNAL', `dockerd did not answer within ${options.timeoutMs ?? 60_000} ms: ${stderr.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, wait));
  }
  return { host, dir, docker, stop };
}

/** the shared libraries `binary` links (ldd), as absolute paths */
function librariesOf(binary: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile('ldd', [binary], (err, stdout) => {
      if (err) return reject(err);
      resolve([...stdout.matchAll(/(\/[^\s]+) \(0x/g)].map((m) => m[1]!).filter((p) => existsSync(p)));
    });
  });
}

/**
 * Import a base image `tag` with this machine's node at /usr/local/bin/node (and /usr/bin/node),
 * its libraries, busybox as /bin/sh and the usual tools, /etc/passwd with root and nonroot (65532),
 * a writable /tmp, and the system CA certificates.
 */
export async function makeNodeBaseImage(d: Dockerd, tag: string): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'mixmesh-base-'));
  try {
    const put = (src: string, dest: string) => {
      mkdirSync(join(root, dirname(dest)), { recursive: true });
      copyFileSync(src, join(root, dest));
    };
    put(process.execPath, '/usr/local/bin/node');
    chmodSync(join(root, 'usr/local/bin/node'), 0o755);
    mkdirSync(join(root, 'usr/bin'), { recursive: true });
    symlinkSync('../local/bin/node', join(root, 'usr/bin/node'));
    for (const lib of await librariesOf(process.execPath)) put(lib, lib);
    put('/bin/busybox', '/bin/busybox');
    chmodSync(join(root, 'bin/busybox'), 0o755);
    for (const tool of ['sh', 'ls', 'cat', 'mv', 'cp', 'rm', 'mkdir', 'chmod', 'chown', 'ln', 'env', 'id', 'wget', 'sleep', 'true', 'false', 'test', '[', 'echo', 'find', 'tar', 'mktemp', 'dirname']) {
      symlinkSync('busybox', join(root, 'bin', tool));
    }
    mkdirSync(join(root, 'etc'), { recursive: true });
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnonroot:x:65532:65532:nonroot:/home/nonroot:/bin/false\n');
    writeFileSync(join(root, 'etc/group'), 'root:x:0:\nnonroot:x:65532:\n');
    if (existsSync('/etc/ssl/certs/ca-certificates.crt')) put('/etc/ssl/certs/ca-certificates.crt', '/etc/ssl/certs/ca-certificates.crt');
    // what runc mounts over, and what docker bind-mounts for --network host: on a --read-only root it cannot create them
    for (const d of ['proc', 'sys', 'dev', 'run']) mkdirSync(join(root, d), { recursive: true });
    for (const f of ['etc/hosts', 'etc/resolv.conf', 'etc/hostname']) writeFileSync(join(root, f), '');
    mkdirSync(join(root, 'tmp'), { recursive: true, mode: 0o1777 });
    chmodSync(join(root, 'tmp'), 0o1777);
    mkdirSync(join(root, 'home/nonroot'), { recursive: true });
    const tarball = join(dirname(root), `${basename(root)}.tar`);
    await new Promise<void>((resolve, reject) => execFile('tar', ['-C', root, '--numeric-owner', '-cf', tarball, '.'], (err) => (err ? reject(err) : resolve())));
    const r = await d.docker(['import', '--change', 'ENV PATH=/usr/local/bin:/usr/bin:/bin', tarball, tag]);
    rmSync(tarball, { force: true });
    if (r.code !== 0) throw new MixmeshError('INTERNAL', `docker import ${tag}: ${r.stderr}`);
    if (!readFileSync(join(root, 'etc/passwd'), 'utf8').includes('nonroot')) throw new MixmeshError('INTERNAL', 'base image without a non-root user');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
