/**
 * Test helpers for the OpenStack emulator's own tests: an in-memory VmProvider (no sshd; the real
 * one is sandbox/vms/, wired by the sandbox composition), a local HTTP receiver for notifications,
 * and a small authenticated fetch.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { CreateVmOptions, SandboxVm, VmProvider } from '../vms/types.js';

/** VMs that exist only as records: addresses 127.0.10.100+, a real ed25519 public key each. */
export class MemoryVmProvider implements VmProvider {
  readonly vms = new Map<string, SandboxVm>();
  readonly created: CreateVmOptions[] = [];
  private next = 100;

  async create(o: CreateVmOptions): Promise<SandboxVm> {
    this.created.push(o);
    let address = o.fixedAddress;
    if (address === undefined) {
      while ([...this.vms.values()].some((v) => v.address === `127.0.10.${this.next}`)) this.next++;
      address = `127.0.10.${this.next++}`;
    }
    if ([...this.vms.values()].some((v) => v.address === address)) throw new Error(`address ${address} in use`);
    const der = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' });
    const raw = der.subarray(der.length - 32);
    const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), raw]);
    const hostPublicKey = `ssh-ed25519 ${blob.toString('base64')}`;
    const vm: SandboxVm = {
      serverId: o.serverId,
      address,
      hostPublicKey,
      rootfs: `/nonexistent/${o.serverId}`,
      consoleOutput: () => `[    0.000000] Linux version 6.1.0 (sandbox)\ncloud-init: ${o.name} up\n-----BEGIN SSH HOST KEY KEYS-----\n${hostPublicKey} root@${o.name}\n-----END SSH HOST KEY KEYS-----\ncloud-init finished\n`,
    };
    this.vms.set(o.serverId, vm);
    return vm;
  }

  async remove(serverId: string): Promise<void> {
    this.vms.delete(serverId);
  }

  list(): SandboxVm[] {
    return [...this.vms.values()];
  }

  async removeAll(): Promise<void> {
    this.vms.clear();
  }
}

export interface ReceivedRequest {
  method: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

/**
 * A notification receiver: answers GET 204 and POST 204 when the Authorization header is the
 * expected one (else 401), with an OAuth2 token endpoint at /token. Resolves waiters on each POST.
 */
export class Receiver {
  readonly requests: ReceivedRequest[] = [];
  readonly tokenRequests: ReceivedRequest[] = [];
  url = '';
  getStatus = 204;
  private server: Server | undefined;
  private waiters: { n: number; resolve: () => void }[] = [];
  readonly accessToken = randomBytes(16).toString('hex');

  constructor(readonly expectAuth: { basic?: { user: string; password: string }; oauth?: { clientId: string; clientPassword: string } } = {}) {}

  private authorized(h: string | undefined): boolean {
    const { basic, oauth } = this.expectAuth;
    if (basic) return h === 'Basic ' + Buffer.from(`${basic.user}:${basic.password}`).toString('base64');
    if (oauth) return h === `Bearer ${this.accessToken}`;
    return true;
  }

  get posts(): ReceivedRequest[] {
    return this.requests.filter((r) => r.method === 'POST');
  }

  /** Resolves when at least n POSTs arrived. */
  waitForPosts(n: number): Promise<void> {
    if (this.posts.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  async start(): Promise<void> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const rec: ReceivedRequest = { method: req.method ?? '', headers: req.headers, body: text ? (req.headers['content-type']?.includes('json') ? JSON.parse(text) : text) : undefined };
        if (req.url === '/token') {
          this.tokenRequests.push(rec);
          const o = this.expectAuth.oauth;
          const ok = o && req.headers.authorization === 'Basic ' + Buffer.from(`${o.clientId}:${o.clientPassword}`).toString('base64') && text === 'grant_type=client_credentials';
          res.writeHead(ok ? 200 : 401, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify(ok ? { access_token: this.accessToken, token_type: 'Bearer', expires_in: 3600 } : { error: 'invalid_client' }));
          return;
        }
        this.requests.push(rec);
        if (!this.authorized(req.headers.authorization)) {
          res.writeHead(401).end();
          return;
        }
        res.writeHead(req.method === 'GET' ? this.getStatus : 204).end();
        if (req.method === 'POST') {
          const n = this.posts.length;
          this.waiters = this.waiters.filter((w) => (n >= w.n ? (w.resolve(), false) : true));
        }
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const a = this.server.address();
    this.url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server?.close(() => resolve());
      this.server?.closeAllConnections();
    });
  }
}
