/**
 * Node access: the one port through which backup reads and writes data on nodes and VMs, and runs
 * hooks and CRIU there. The implementation here goes over SSH (clients/ssh), as the injector reaches
 * VMs; a node-agent DaemonSet can implement the same interface for clusters whose nodes are not
 * reachable over SSH.
 */
import { createHash } from 'node:crypto';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { MixmeshError } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { shellQuote } from '../common/names.js';
import { connectSsh, type ExecResult, type RemoteShell } from '../clients/ssh/index.js';
import type { FileHash } from './types.js';

/** How to reach one node or VM. Credentials never leave the process (never logged, never stored). */
export interface NodeTarget {
  /** node name or VNF instance name, for messages */
  name: string;
  host: string;
  port?: number;
  user: string;
  privateKey: string;
  /** the host keys the node must offer one of */
  hostKeys: readonly string[];
}

export interface NodeAccess {
  /** the contents of a directory as a gzip'd tar stream; `done` rejects if the remote side failed */
  readDir(target: NodeTarget, path: string): Promise<{ stream: Readable; done: Promise<void> }>;
  /**
   * create the directory and extract a tar into it (existing files are overwritten); the tar is
   * gzip'd unless `gzip: false` (a restore sends data that did not compress as a plain tar: the
   * node does not spend a gunzip on it)
   */
  writeDir(target: NodeTarget, path: string, tar: Readable, options?: { gzip?: boolean }): Promise<void>;
  /** SHA-256 of every regular file under the directory, relative paths (for verification) */
  hashDir(target: NodeTarget, path: string): Promise<FileHash[]>;
  /** every regular file under the directory with its size, relative paths (no content read) */
  listDir(target: NodeTarget, path: string): Promise<Array<{ path: string; size: number }>>;
  /** does the path exist (a directory) on the node? */
  dirExists(target: NodeTarget, path: string): Promise<boolean>;
  /** run a command given as an argument array (quoted here: no shell injection) */
  exec(target: NodeTarget, argv: readonly string[], options?: { allowFailure?: boolean; step?: string }): Promise<ExecResult>;
  /** a file on the node as a stream (a checkpoint archive the kubelet wrote) */
  readFile(target: NodeTarget, path: string): Promise<{ stream: Readable; done: Promise<void> }>;
  /** write a file on the node, root-only (0600), complete or not at all (a checkpoint archive to restore from) */
  writeFile(target: NodeTarget, path: string, content: Readable): Promise<void>;
  close(): Promise<void>;
}

export const q = (argv: readonly string[]): string => argv.map((a) => shellQuote(a)).join(' ');

/** NodeAccess over SSH: one connection per target, reused; host keys always checked. */
export class SshNodeAccess implements NodeAccess {
  private readonly shells = new Map<string, Promise<RemoteShell>>();

  constructor(readonly log: Logger = silentLogger, readonly connectBudgetMs = 15_000) {}

  private keyOf(t: NodeTarget): string {
    return `${t.user}@${t.host}:${t.port ?? 22} ${[...t.hostKeys].sort().join(',')}`;
  }

  /**
   * A cached connection, checked: a VM replaced at the same address leaves a closed one behind. A
   * failed check retires the connection (no new commands; closed once the ones in flight have
   * ended) and connects anew: other operations may still be streaming on it (a checkpoint read, a
   * restore's writes), and closing it would cut them off mid-stream.
   */
  private async shell(t: NodeTarget): Promise<RemoteShell> {
    const s = await this.connect(t);
    try {
      if (s.lost) throw new MixmeshError('SSH_CONNECT_FAILED', `${s.target}: the connection is closed (${s.lost})`);
      await s.exec('true', { step: 'connection check' });
      return s;
    } catch (e) {
      this.log.warn({ node: t.name, err: e instanceof Error ? e.message : String(e) }, 'ssh connection check failed; retiring the connection');
      const key = this.keyOf(t);
      const cached = this.shells.get(key);
      if (cached && (await cached.catch(() => undefined)) === s) this.shells.delete(key);
      void (s.closeWhenIdle ? s.closeWhenIdle() : s.close()).catch(() => undefined);
      return this.connect(t);
    }
  }

  private connect(t: NodeTarget): Promise<RemoteShell> {
    const key = this.keyOf(t);
    let s = this.shells.get(key);
    if (!s) {
      s = connectSsh({ host: t.host, port: t.port ?? 22, username: t.user, privateKey: t.privateKey, hostKey: { expected: t.hostKeys }, connectBudgetMs: this.connectBudgetMs, log: this.log });
      s.catch(() => this.shells.delete(key));
      this.shells.set(key, s);
    }
    return s;
  }

  private async stream(t: NodeTarget, cmd: string, step: string, stdin?: Readable) {
    const shell = await this.shell(t);
    if (!shell.execStream) throw new MixmeshError('INTERNAL', `${t.name}: this SSH client cannot stream`);
    return shell.execStream(cmd, { step, ...(stdin ? { stdin } : {}), sudo: true });
  }

  async readDir(t: NodeTarget, path: string): Promise<{ stream: Readable; done: Promise<void> }> {
    const p = shellQuote(path);
    // exit 3: not a directory; the tar's own status survives the pipe (no pipefail in every sh)
    const cmd = `[ -d ${p} ] || { echo "no such directory: "${p} >&2; exit 3; }; { tar -C ${p} -cf - . || echo $? > /tmp/.mixmesh-tar-rc.$$; } | gzip -1; rc=$(cat /tmp/.mixmesh-tar-rc.$$ 2>/dev/null); rm -f /tmp/.mixmesh-tar-rc.$$; exit \${rc:-0}`;
    const { stdout, done } = await this.stream(t, cmd, `read ${path}`);
    return { stream: stdout as Readable, done: done.then(() => undefined) };
  }

  async readFile(t: NodeTarget, path: string): Promise<{ stream: Readable; done: Promise<void> }> {
    const { stdout, done } = await this.stream(t, `cat ${shellQuote(path)}`, `read ${path}`);
    return { stream: stdout as Readable, done: done.then(() => undefined) };
  }

  async writeFile(t: NodeTarget, path: string, content: Readable): Promise<void> {
    const p = shellQuote(path);
    const tmp = shellQuote(`${path}.mixmesh-tmp`);
    const dir = shellQuote(path.replace(/\/[^/]*$/, '') || '/');
    const { stdout, done } = await this.stream(t, `umask 077 && mkdir -p ${dir} && cat > ${tmp} && mv -f ${tmp} ${p}`, `write ${path}`, content);
    (stdout as Readable).resume();
    await done;
  }

  async writeDir(t: NodeTarget, path: string, tar: Readable, options: { gzip?: boolean } = {}): Promise<void> {
    const p = shellQuote(path);
    const { stdout, done } = await this.stream(t, `mkdir -p ${p} && ${options.gzip === false ? '' : 'gzip -dc | '}tar -C ${p} -xf -`, `write ${path}`, tar);
    (stdout as Readable).resume();
    await done;
  }

  async hashDir(t: NodeTarget, path: string): Promise<FileHash[]> {
    const shell = await this.shell(t);
    const p = shellQuote(path);
    const r = await shell.exec(`cd ${p} && find . -type f -exec sha256sum {} + ; echo; find . -type f -exec wc -c {} +`, { step: `hash ${path}`, sudo: true });
    const [sums = '', sizes = ''] = r.stdout.split('\n\n');
    const size = new Map<string, number>();
    for (const line of sizes.split('\n')) {
      const m = /^\s*(\d+)\s+\.\/(.*)$/.exec(line);
      if (m) size.set(m[2]!, Number(m[1]));
    }
    return sums
      .split('\n')
      .map((line) => /^([0-9a-f]{64})\s+\.\/(.*)$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ path: m[2]!, sha256: m[1]!, size: size.get(m[2]!) ?? 0 }))
      .sort((a, b) => (a.path < b.path ? -1 : 1));
  }

  async listDir(t: NodeTarget, path: string): Promise<Array<{ path: string; size: number }>> {
    const shell = await this.shell(t);
    // stat reads the inode only (wc -c may read the whole file)
    const r = await shell.exec(`cd ${shellQuote(path)} && find . -type f -exec stat -c '%s %n' {} +`, { step: `list ${path}`, sudo: true });
    return r.stdout
      .split('\n')
      .map((line) => /^(\d+) \.\/(.*)$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ path: m[2]!, size: Number(m[1]) }))
      .sort((a, b) => (a.path < b.path ? -1 : 1));
  }

  async dirExists(t: NodeTarget, path: string): Promise<boolean> {
    const shell = await this.shell(t);
    return (await shell.exec(`[ -d ${shellQuote(path)} ]`, { allowFailure: true, step: `check ${path}` })).code === 0;
  }

  async exec(t: NodeTarget, argv: readonly string[], options: { allowFailure?: boolean; step?: string } = {}): Promise<ExecResult> {
    const shell = await this.shell(t);
    return shell.exec(q(argv), { sudo: true, step: options.step ?? argv[0] ?? 'command', ...(options.allowFailure ? { allowFailure: true } : {}) });
  }

  async close(): Promise<void> {
    const all = [...this.shells.values()];
    this.shells.clear();
    await Promise.all(all.map(async (s) => (await s.catch(() => undefined))?.close()));
  }
}

/**
 * Hash every file of a tar stream (gzip'd unless `gzip: false`) as it passes (no copy kept): the per-file SHA-256 the
 * manifest records and a restore verifies against.
 */
export function tarFileHashes(tarGz: Readable, options: { gzip?: boolean } = {}): Promise<FileHash[]> {
  const extract = tar.extract();
  const hashes: FileHash[] = [];
  extract.on('entry', (header, stream, next) => {
    if (header.type !== 'file') {
      stream.on('end', next);
      stream.resume();
      return;
    }
    const h = createHash('sha256');
    let size = 0;
    stream.on('data', (c: unknown) => {
      h.update(c as Buffer);
      size += (c as Buffer).length;
    });
    stream.on('end', () => {
      hashes.push({ path: header.name.replace(/^\.\//, ''), size, sha256: h.digest('hex') });
      next();
    });
  });
  const done = options.gzip === false ? pipeline(tarGz, extract as unknown as Writable) : pipeline(tarGz, createGunzip({ chunkSize: 256 * 1024 }), extract as unknown as Writable);
  return done.then(() => hashes.sort((a, b) => (a.path < b.path ? -1 : 1)));
}

/** Split one stream into two consumers (backpressure: the slower one sets the pace). */
export function tee(source: Readable): [Readable, Readable] {
  // 1 MiB each: a consumer that lags a moment (a store write, the gunzip for the hashes) does not stall the SSH channel at once
  const a = new PassThrough({ highWaterMark: 1024 * 1024 });
  const b = new PassThrough({ highWaterMark: 1024 * 1024 });
  source.on('error', (e) => {
    a.destroy(e);
    b.destroy(e);
  });
  source.pipe(a);
  source.pipe(b);
  return [a, b];
}
