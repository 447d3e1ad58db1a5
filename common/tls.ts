/**
 * TLS both HTTP services share (orchestrator API with the Tacker callback, injector): a certificate
 * and key from PEM files or from a `kubernetes.io/tls` Secret (read through a function the caller
 * gives, so nothing here talks to Kubernetes), re-read every `checkMs` and swapped in without a
 * restart (new connections get the new pair); an HTTPS server over it; a `fetch` that trusts a
 * given CA (node's global fetch only trusts the system roots); and the rule that credentials never
 * travel over plain HTTP except on loopback.
 */
import { readFile } from 'node:fs/promises';
import { createServer as createHttpsServer, request as httpsRequest, type Server } from 'node:https';
import type { RequestListener } from 'node:http';
import { isIP } from 'node:net';
import { Readable } from 'node:stream';
import { createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import type { NextFunction, Request, Response } from 'express';
import { MixmeshError } from './errors.js';
import type { Logger } from './logger.js';

export interface TlsPair {
  cert: string;
  key: string;
  /** the issuing CA, when the source has it (a Secret's ca.crt) */
  ca?: string;
}

/** where a pair comes from: PEM files, or whatever the caller reads (a Secret) */
export type TlsLoader = () => Promise<TlsPair>;

export function filesLoader(certFile: string, keyFile: string): TlsLoader {
  return async () => ({ cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8') });
}

/** `tls.crt` / `tls.key` of a kubernetes.io/tls Secret's base64 `data` */
export function secretPair(data: Record<string, string> | undefined, where: string): TlsPair {
  const cert = data?.['tls.crt'];
  const key = data?.['tls.key'];
  if (!cert || !key) throw new MixmeshError('CONFIG_INVALID', `${where} has no tls.crt and tls.key (a kubernetes.io/tls Secret)`);
  return { cert: Buffer.from(cert, 'base64').toString('utf8'), key: Buffer.from(key, 'base64').toString('utf8') };
}

/** A certificate that follows its source: `current()` is always the last good pair. */
export class ReloadingTls {
  private pair!: TlsPair;
  private ctx!: SecureContext;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners: ((pair: TlsPair) => void)[] = [];

  private constructor(private readonly load: TlsLoader, private readonly log: Logger) {}

  static async start(load: TlsLoader, log: Logger, checkMs = 10_000): Promise<ReloadingTls> {
    const t = new ReloadingTls(load, log);
    t.use(await load().catch((e: unknown) => {
      throw new MixmeshError('CONFIG_INVALID', `the TLS certificate cannot be read: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }));
    t.timer = setInterval(() => { void t.check(); }, checkMs);
    t.timer.unref();
    return t;
  }

  private use(pair: TlsPair): void {
    this.ctx = createSecureContext({ cert: pair.cert, key: pair.key }); // throws on a bad pair: the old one stays
    this.pair = pair;
  }

  /** re-read now; a changed, good pair replaces the current one */
  async check(): Promise<boolean> {
    try {
      const next = await this.load();
      if (next.cert === this.pair.cert && next.key === this.pair.key) return false;
      this.use(next);
      for (const l of this.listeners) l(next);
      this.log.info('TLS certificate reloaded');
      return true;
    } catch (e) {
      this.log.warn({ err: e }, 'TLS certificate could not be reloaded; keeping the current one');
      return false;
    }
  }

  /** called with every new pair (servers swap their default context: clients without SNI get it too) */
  onChange(listener: (pair: TlsPair) => void): void {
    this.listeners.push(listener);
  }

  current(): TlsPair {
    return this.pair;
  }

  context(): SecureContext {
    return this.ctx;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

/** An HTTPS server whose certificate follows `tls` */
export function createReloadingHttpsServer(tls: ReloadingTls, handler: RequestListener): Server {
  const first = tls.current();
  const server = createHttpsServer({ cert: first.cert, key: first.key, SNICallback: (_name, cb) => cb(null, tls.context()) }, handler);
  tls.onChange((pair) => server.setSecureContext({ cert: pair.cert, key: pair.key }));
  return server;
}

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(a) === 4) return a.startsWith('127.');
  return a === '::1';
}

/**
 * Express middleware: a request carrying credentials (Authorization) over plain HTTP from a peer
 * that is not on loopback gets 400 INSECURE_TRANSPORT before anything reads the credentials,
 * unless `allow` (`allowInsecureHttp`). Loopback stays open: a local client, or a sidecar proxy
 * that terminated TLS.
 */
export function refuseInsecureCredentials(allow: boolean) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const encrypted = Boolean((req.socket as TLSSocket).encrypted);
    if (!allow && !encrypted && req.headers.authorization !== undefined && !isLoopback(req.socket.remoteAddress)) {
      throw new MixmeshError('INSECURE_TRANSPORT', 'credentials are refused over plain HTTP: use https (or set allowInsecureHttp)');
    }
    next();
  };
}

/**
 * `fetch` that verifies the server against `caPem` (a PEM bundle) instead of the system roots,
 * over node:https; bodies are strings or Buffers, responses stream (server-sent events work).
 */
export function fetchTrusting(caPem: string): typeof fetch {
  return ((input: string | URL | globalThis.Request, init: RequestInit = {}): Promise<globalThis.Response> => new Promise((resolve, reject) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    if (url.protocol !== 'https:') {
      fetch(url, init).then(resolve, reject);
      return;
    }
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => { headers[k] = v; });
    const req = httpsRequest(url, { method: init.method ?? 'GET', headers, ca: caPem, ...(init.signal ? { signal: init.signal } : {}) }, (res) => {
      const h = new Headers();
      for (const [k, v] of Object.entries(res.headers)) {
        if (Array.isArray(v)) for (const x of v) h.append(k, x);
        else if (v !== undefined) h.set(k, v);
      }
      const status = res.statusCode ?? 502;
      const noBody = status === 204 || status === 304 || (init.method ?? 'GET') === 'HEAD';
      if (noBody) res.resume();
      resolve(new Response(noBody ? null : (Readable.toWeb(res) as ReadableStream), { status, statusText: res.statusMessage ?? '', headers: h }));
    });
    req.on('error', reject);
    const body = init.body;
    if (body === undefined || body === null) req.end();
    else if (typeof body === 'string' || Buffer.isBuffer(body) || body instanceof Uint8Array) req.end(body);
    else reject(new MixmeshError('INTERNAL', 'fetchTrusting: only string or Buffer bodies'));
  })) as typeof fetch;
}
