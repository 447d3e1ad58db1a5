/**
 * The SSH edge: one connection per VM reused for every step, a host-key policy that is always
 * enforced (ssh2 accepts ANY key unless given a hostVerifier), bounded backoff while sshd does not
 * answer yet (never after an auth failure or a host-key mismatch), exec with quoting and SFTP.
 */
import { readFile } from 'node:fs/promises';
import { NodeSSH } from 'node-ssh';
import type { ClientChannel, SFTPWrapper } from 'ssh2';
import { MixmeshError } from '../../common/errors.js';
import { redactText, silentLogger, type Logger } from '../../common/logger.js';
import { shellQuote } from '../../common/names.js';
import { blobToKeyLine, keyBlob } from './hostkeys.js';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** bytes written to the command's stdin, then EOF */
  stdin?: string | Buffer;
  /** run through `sudo -n sh -c '…'` when the user is not root (ignored for root) */
  sudo?: boolean;
  /** return a non-zero exit as a result instead of throwing SSH_COMMAND_FAILED */
  allowFailure?: boolean;
  /** what the step is, for the error message (the command itself may hold secrets and is never shown) */
  step?: string;
  /** literal secrets to scrub from a failure's stderr tail, besides what redactText finds itself */
  secrets?: readonly string[];
}

export interface RemoteShell {
  /** `user@host:port`, for messages */
  readonly target: string;
  exec(cmd: string, options?: ExecOptions): Promise<ExecResult>;
  /** upload a local file (by path) or bytes to remotePath over SFTP; mode like 0o600 */
  put(localPathOrBytes: string | Buffer, remotePath: string, mode?: number): Promise<void>;
  get(remotePath: string): Promise<Buffer>;
  /**
   * Run a command with streamed stdin/stdout (bounded memory: a tar of a data dir one way or the
   * other). `done` resolves with the exit code and the stderr tail once the channel closes; a
   * non-zero exit rejects it with SSH_COMMAND_FAILED unless allowFailure.
   */
  execStream?(cmd: string, options?: { stdin?: NodeJS.ReadableStream; step?: string; sudo?: boolean; allowFailure?: boolean }): Promise<{ stdout: NodeJS.ReadableStream; done: Promise<ExecResult> }>;
  /** why the connection is gone (undefined while it is up) */
  readonly lost?: string | undefined;
  /**
   * Stop taking new commands and close once the commands in flight have ended (a caller that
   * stops trusting a connection others still use must not cut their streams off).
   */
  closeWhenIdle?(): Promise<void>;
  close(): Promise<void>;
}

/** Which host keys are acceptable. There is deliberately no "accept anything". */
export type HostKeyPolicy =
  /** the keys the host must offer one of (e.g. from the console output or known_hosts) */
  | { expected: readonly string[] }
  /** trust on first use: accept the offered key and hand it to `record` (to pin it for later) */
  | { acceptNew: (keyLine: string) => void };

export interface ConnectOptions {
  host: string;
  port?: number;
  username: string;
  /** OpenSSH/PEM private key text */
  privateKey: string | Buffer;
  passphrase?: string;
  hostKey: HostKeyPolicy;
  /** total time to keep retrying while sshd does not answer (default 30 s) */
  connectBudgetMs?: number;
  /** per-attempt handshake timeout (default 10 s) */
  readyTimeoutMs?: number;
  /**
   * channels (commands) in flight on the connection at most; more wait their turn (default 9:
   * OpenSSH refuses a channel beyond MaxSessions, 10 by default, and SFTP holds one more)
   */
  maxChannels?: number;
  log?: Logger;
}

/** Errors that mean "sshd is not up yet": retried with backoff. */
const RETRYABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

function errCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' ? code : undefined;
}
function errLevel(e: unknown): string | undefined {
  const level = (e as { level?: unknown })?.level;
  return typeof level === 'string' ? level : undefined;
}

/** Connect with the host-key policy and bounded backoff. */
export async function connectSsh(options: ConnectOptions): Promise<RemoteShell> {
  const port = options.port ?? 22;
  const target = `${options.username}@${options.host}:${port}`;
  const log = (options.log ?? silentLogger).child({ ssh: target });
  const expected = 'expected' in options.hostKey ? options.hostKey.expected.map((k) => keyBlob(k)) : undefined;
  if (expected && expected.length === 0) {
    throw new MixmeshError('SSH_HOST_KEY_UNKNOWN', `connect ${target}: no expected host key was given`);
  }
  if (options.maxChannels !== undefined && !(Number.isInteger(options.maxChannels) && options.maxChannels >= 1)) {
    throw new MixmeshError('BAD_REQUEST', `connect ${target}: maxChannels ${options.maxChannels}: allowed is a whole number ≥ 1`);
  }
  const budget = options.connectBudgetMs ?? 30_000;
  const deadline = Date.now() + budget;
  const privateKey = typeof options.privateKey === 'string' ? options.privateKey : options.privateKey.toString('utf8');
  let delay = 50;
  for (let attempt = 1; ; attempt++) {
    let offered: Buffer | undefined;
    let mismatch = false;
    const ssh = new NodeSSH();
    try {
      const connecting = ssh.connect({
        host: options.host,
        port,
        username: options.username,
        privateKey,
        ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
        readyTimeout: Math.max(1000, Math.min(options.readyTimeoutMs ?? 10_000, deadline - Date.now())),
        tryKeyboard: false,
        hostVerifier: (key: Buffer) => {
          offered = Buffer.from(key);
          if (expected) {
            mismatch = !expected.some((k) => k.equals(key));
            return !mismatch;
          }
          return true;
        },
      });
      // TCP_NODELAY before the handshake: ssh2 writes each SSH packet on its own, and with Nagle a
      // small packet that follows another unacknowledged one (exec after channel open, the KEX and
      // auth messages) waits for the server's delayed ACK, ~40 ms each time on Linux: ~45 ms per
      // exec instead of ~4 ms. ssh2 makes its socket synchronously inside connect(); Node applies
      // the flag once it connects.
      ssh.connection?.setNoDelay(true);
      await connecting;
      if (!expected && offered && 'acceptNew' in options.hostKey) options.hostKey.acceptNew(blobToKeyLine(offered));
      // node-ssh drops its own 'error' listener after the handshake: without ours, a socket reset
      // later would be an unhandled 'error' event and end the whole process (orchestrator included).
      // The next exec on the dead connection then fails with SSH_CONNECT_FAILED / SSH_COMMAND_FAILED.
      ssh.connection?.on('error', (err: Error) => log.warn({ err: redactText(err.message) }, 'ssh connection error'));
      log.debug({ attempt }, 'ssh connected');
      return new NodeSshShell(ssh, target, options.username, log, options.maxChannels ?? 9);
    } catch (e) {
      ssh.dispose();
      if (mismatch) {
        throw new MixmeshError('SSH_HOST_KEY_MISMATCH', `connect ${target}: the host offered ${offered ? blobToKeyLine(offered).slice(0, 60) : 'a key'}…, which is not the expected host key`, { cause: e });
      }
      if (errLevel(e) === 'client-authentication') {
        throw new MixmeshError('SSH_AUTH_FAILED', `connect ${target}: the host refused the key for ${options.username}`, { cause: e });
      }
      const retryable = RETRYABLE_CODES.has(errCode(e) ?? '') || errLevel(e) === 'client-timeout' || (errLevel(e) === 'client-socket' && !offered);
      if (!retryable || Date.now() + delay > deadline) {
        const why = e instanceof Error ? e.message : String(e);
        throw new MixmeshError('SSH_CONNECT_FAILED', `connect ${target}: ${redactText(why)} (after ${attempt} attempt${attempt === 1 ? '' : 's'} in ${budget} ms budget)`, { cause: e });
      }
      log.debug({ attempt, code: errCode(e), delay }, 'sshd not answering yet; retrying');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 1000);
    }
  }
}

const TAIL = 2000;
/** tries to open a channel the server refused (MaxSessions reached by another client of the same connection, a moment's shortage) */
const CHANNEL_OPEN_TRIES = 5;

class NodeSshShell implements RemoteShell {
  private sftp: Promise<SFTPWrapper> | undefined;
  /** channels in flight, and the commands waiting for one */
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private retiring: Promise<void> | undefined;
  private onIdle: (() => void) | undefined;
  lost: string | undefined;

  constructor(
    private readonly ssh: NodeSSH,
    readonly target: string,
    private readonly username: string,
    private readonly log: Logger,
    private readonly maxChannels: number,
  ) {
    const c = ssh.connection;
    const gone = (why: string) => {
      if (this.lost) return;
      this.lost = why;
      log.debug({ why }, 'ssh connection lost');
    };
    c?.on('error', (err: Error) => gone(`connection error: ${redactText(err.message)}`));
    c?.on('end', () => gone('the server ended the connection'));
    c?.on('close', () => gone('the connection closed'));
  }

  private connection() {
    const c = this.ssh.connection;
    if (!c || this.lost) throw new MixmeshError('SSH_CONNECT_FAILED', `${this.target}: the connection is closed${this.lost ? ` (${this.lost})` : ''}`);
    return c;
  }

  /** a channel slot (FIFO), released once the channel has closed */
  private async slot(): Promise<() => void> {
    if (this.active >= this.maxChannels) await new Promise<void>((r) => this.waiting.push(r));
    else this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next(); // the slot passes on as it is
      else if (--this.active === 0) this.onIdle?.();
    };
  }

  /**
   * Open an exec channel, waiting for a slot; a refused channel on a live connection is retried with
   * backoff. `attach` runs inside ssh2's callback, before anything else: on a busy process one socket
   * read can hold the exec's reply, the output, the exit status and the close, and ssh2 emits them
   * all in that same turn; a listener added a turn later (after an await) misses the exit status,
   * and the command looks as if it had ended without one (255).
   */
  private async open(command: string, step: string, attach: (channel: ClientChannel) => void): Promise<{ channel: ClientChannel; release: () => void }> {
    if (this.retiring) throw new MixmeshError('SSH_CONNECT_FAILED', `${this.target}: ${step} could not start: the connection is being closed`);
    const release = await this.slot();
    let delay = 50;
    for (let attempt = 1; ; attempt++) {
      try {
        const c = this.connection();
        const channel = await new Promise<ClientChannel>((resolve, reject) => {
          c.exec(command, (err: Error | undefined, ch: ClientChannel) => {
            if (err) {
              reject(err);
              return;
            }
            ch.on('close', release);
            attach(ch);
            resolve(ch);
          });
        });
        return { channel, release };
      } catch (e) {
        const refused = !this.lost && e instanceof Error && /Channel open failure/.test(e.message);
        if (!refused || attempt >= CHANNEL_OPEN_TRIES) {
          release();
          if (e instanceof MixmeshError) throw e;
          const why = this.lost ? `the connection is lost (${this.lost})` : redactText(e instanceof Error ? e.message : String(e));
          throw new MixmeshError('SSH_COMMAND_FAILED', `${this.target}: ${step} could not start: ${why}${refused ? ` (after ${attempt} tries)` : ''}`, { cause: e });
        }
        this.log.debug({ step, attempt, delay, err: e.message }, 'ssh channel refused; retrying');
        await new Promise((r) => setTimeout(r, delay));
        delay *= 2;
      }
    }
  }

  /**
   * What a channel that closed with neither an exit status nor an exit signal means: OpenSSH always
   * sends one when the command ends, so the connection went away under it (or the server broke off).
   * Decided a turn later: ssh2 closes the channels before it reports the connection's end.
   */
  private async noStatus(): Promise<string> {
    await new Promise((r) => setImmediate(r));
    return this.lost
      ? `the connection closed before the command reported its exit (${this.lost})`
      : 'the channel closed without the command reporting its exit (connection still up)';
  }

  async exec(cmd: string, options: ExecOptions = {}): Promise<ExecResult> {
    const command = options.sudo && this.username !== 'root' ? `sudo -n sh -c ${shellQuote(cmd)}` : cmd;
    const step = options.step ?? 'command';
    const started = Date.now();
    const out: Buffer[] = [];
    const errOut: Buffer[] = [];
    let code: number | null = null;
    let signal: string | undefined;
    let closed: () => void = () => undefined;
    const closedP = new Promise<void>((r) => (closed = r));
    let failed: ((e: Error) => void) | undefined;
    let failure: Error | undefined;
    const { channel } = await this.open(command, step, (ch) => {
      ch.on('data', (d: Buffer) => out.push(d));
      ch.stderr.on('data', (d: Buffer) => errOut.push(d));
      ch.on('exit', (c: number | null, sig?: string) => {
        code = c;
        signal = sig;
      });
      ch.on('close', () => closed());
      ch.on('error', (e: Error) => {
        failure = e;
        failed?.(e);
      });
    });
    if (options.stdin !== undefined) channel.end(options.stdin);
    else channel.end();
    await new Promise<void>((resolve, reject) => {
      failed = reject;
      if (failure) reject(failure);
      void closedP.then(resolve);
    }).catch((e: Error) => {
      throw new MixmeshError('SSH_COMMAND_FAILED', `${this.target}: ${step}: ${redactText(e.message)}`, { cause: e });
    });
    const noStatus = code === null && !signal ? await this.noStatus() : undefined;
    const result: ExecResult = { code: code ?? (signal ? 128 : 255), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(errOut).toString('utf8') };
    this.log.debug({ step: options.step, code: result.code, ms: Date.now() - started }, 'ssh exec');
    if (noStatus) {
      // no exit status is never a result a caller can act on, allowFailure or not
      throw new MixmeshError('SSH_COMMAND_FAILED', `${this.target}: ${step} exited ${result.code}: ${noStatus}`, { details: { exitCode: result.code, step } });
    }
    if (result.code !== 0 && !options.allowFailure) {
      const tail = redactText(result.stderr.slice(-TAIL).trim() || result.stdout.slice(-TAIL).trim(), options.secrets ?? []);
      throw new MixmeshError('SSH_COMMAND_FAILED', `${this.target}: ${step} exited ${result.code}${tail ? `: ${tail}` : ''}`, {
        details: { exitCode: result.code, step: options.step },
      });
    }
    return result;
  }

  async execStream(cmd: string, options: { stdin?: NodeJS.ReadableStream; step?: string; sudo?: boolean; allowFailure?: boolean } = {}): Promise<{ stdout: NodeJS.ReadableStream; done: Promise<ExecResult> }> {
    const command = options.sudo && this.username !== 'root' ? `sudo -n sh -c ${shellQuote(cmd)}` : cmd;
    const step = options.step ?? 'command';
    let stderr = '';
    let code: number | null = null;
    let signal: string | undefined;
    let closed = false;
    let error: Error | undefined;
    const { channel } = await this.open(command, step, (ch) => {
      ch.stderr.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString('utf8')).slice(-TAIL);
      });
      ch.on('exit', (c: number | null, sig?: string) => {
        code = c;
        signal = sig;
      });
      ch.on('close', () => (closed = true));
      ch.on('error', (e: Error) => (error ??= e));
    });
    const done = new Promise<ExecResult>((resolve, reject) => {
      const onClose = () => {
        const exit = code ?? (signal ? 128 : 255);
        if (code === null && !signal) {
          // a stream cut short ends like a complete one: only `done` tells them apart
          void this.noStatus().then((why) =>
            reject(new MixmeshError('SSH_COMMAND_FAILED', `${this.target}: ${step} exited ${exit}: ${why}${stderr.trim() ? `; stderr: ${redactText(stderr.trim())}` : ''}`, { details: { exitCode: exit, step } })),
          );
        } else if (exit !== 0 && !options.allowFailure) {
          reject(new MixmeshError('SSH_COMMAND_FAILED', `${this.target}: ${step} exited ${exit}${stderr.trim() ? `: ${redactText(stderr.trim())}` : ''}`, { details: { exitCode: exit, step } }));
        } else resolve({ code: exit, stdout: '', stderr });
      };
      const onError = (e: Error) => reject(new MixmeshError('SSH_COMMAND_FAILED', `${this.target}: ${step}: ${redactText(e.message)}`, { cause: e }));
      if (error) onError(error);
      else channel.on('error', onError);
      if (closed) onClose();
      else channel.on('close', onClose);
    });
    if (options.stdin) {
      options.stdin.on('error', () => channel.destroy());
      options.stdin.pipe(channel);
    } else channel.end();
    return { stdout: channel, done };
  }

  closeWhenIdle(): Promise<void> {
    this.retiring ??= new Promise<void>((resolve) => {
      if (this.active === 0) resolve();
      else this.onIdle = resolve;
    }).then(() => this.close());
    return this.retiring;
  }

  private getSftp(): Promise<SFTPWrapper> {
    this.sftp ??= this.ssh.requestSFTP().catch((e: unknown) => {
      this.sftp = undefined;
      throw new MixmeshError('SSH_COMMAND_FAILED', `${this.target}: SFTP unavailable: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    });
    return this.sftp;
  }

  async put(localPathOrBytes: string | Buffer, remotePath: string, mode = 0o644): Promise<void> {
    const sftp = await this.getSftp();
    const fail = (e: unknown) => new MixmeshError('SSH_COMMAND_FAILED', `${this.target}: upload to ${remotePath} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    if (typeof localPathOrBytes === 'string') {
      // fastPut pipelines reads and writes: a 50 MiB package goes at link speed
      await new Promise<void>((resolve, reject) => sftp.fastPut(localPathOrBytes, remotePath, { mode, concurrency: 16, chunkSize: 64 * 1024 }, (e) => (e ? reject(fail(e)) : resolve())));
      // fastPut's mode applies at open only; an existing file keeps its old mode without this
      await new Promise<void>((resolve, reject) => sftp.chmod(remotePath, mode, (e) => (e ? reject(fail(e)) : resolve())));
      return;
    }
    await new Promise<void>((resolve, reject) => sftp.writeFile(remotePath, localPathOrBytes, { mode }, (e) => (e ? reject(fail(e)) : resolve())));
    await new Promise<void>((resolve, reject) => sftp.chmod(remotePath, mode, (e) => (e ? reject(fail(e)) : resolve())));
  }

  async get(remotePath: string): Promise<Buffer> {
    const sftp = await this.getSftp();
    return new Promise<Buffer>((resolve, reject) =>
      sftp.readFile(remotePath, (e: Error | undefined, data: Buffer) =>
        e ? reject(new MixmeshError('SSH_COMMAND_FAILED', `${this.target}: download of ${remotePath} failed: ${e.message}`, { cause: e })) : resolve(data),
      ),
    );
  }

  async close(): Promise<void> {
    this.lost ??= 'closed by this client';
    const c = this.ssh.connection;
    if (!c || !this.ssh.isConnected()) {
      this.ssh.dispose();
      return;
    }
    await new Promise<void>((resolve) => {
      c.once('close', () => resolve());
      this.ssh.dispose();
    });
  }
}

/** Read a private key file (for callers holding a path). */
export async function readPrivateKey(path: string): Promise<string> {
  return readFile(path, 'utf8');
}

