/**
 * `pods/exec` of the Kubernetes emulator, as the API server serves it to WebSocket clients
 * (kubectl ≥ 1.30, @kubernetes/client-node's Exec): `GET /api/v1/namespaces/{ns}/pods/{pod}/exec
 * ?command=…&command=…&container=C&stdin=&stdout=&stderr=&tty=` upgraded to a WebSocket (RFC 6455)
 * with a channel sub-protocol — `v5.channel.k8s.io` (adds the close-stream message 255) or
 * `v4.channel.k8s.io`. Each binary message starts with its channel byte: 0 stdin, 1 stdout,
 * 2 stderr, 3 error (the final Status as JSON: Success, or Failure with reason NonZeroExitCode and
 * the exit code in details.causes), 4 resize. As the API server does, an empty message opens each
 * channel first. The API server hands the stream to the pod's node: the sandbox's kubelets register
 * themselves here (`registerExecBackend`) and run the command in the container's namespaces and
 * root. A pod on a node without a kubelet here (the emulator's virtual node) answers as a runtime
 * that cannot reach its container.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { PassThrough } from 'node:stream';
import type { Obj } from './resources.js';

/** What a node's kubelet offers the API server for exec. */
export interface ExecBackend {
  /** run argv in the container; resolves with the exit code; throws (with a message) if the container is not there / not running */
  exec(namespace: string, pod: string, container: string, argv: string[], io: { stdin?: NodeJS.ReadableStream; stdout(b: Buffer): void; stderr(b: Buffer): void }): Promise<number>;
}

/** kubelets in this process by API server address (host:port) and node name */
const backends = new Map<string, ExecBackend>();
const keyOf = (server: string, node: string) => `${server.replace(/^https?:\/\//, '').replace(/\/.*$/, '')} ${node}`;

export function registerExecBackend(server: string, nodeName: string, backend: ExecBackend): () => void {
  const k = keyOf(server, nodeName);
  backends.set(k, backend);
  return () => {
    if (backends.get(k) === backend) backends.delete(k);
  };
}

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
const EXEC_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec$/;

export interface ExecDeps {
  token: string;
  /** this API server's address (host:port) */
  address(): string;
  getPod(namespace: string, name: string): Obj | undefined;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** An HTTP answer before (instead of) the upgrade: a Status, as the API server answers errors. */
function refuse(socket: Duplex, code: number, reason: string, message: string): void {
  const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
  const text = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 500: 'Internal Server Error' }[code] ?? 'Error';
  socket.end(`HTTP/1.1 ${code} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** One server-side WebSocket: unmasked frames out, masked frames in (RFC 6455 §5). */
class ServerSocket {
  private buf = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  private closed = false;
  onMessage: (data: Buffer) => void = () => undefined;
  onClose: () => void = () => undefined;

  constructor(private readonly socket: Duplex) {
    socket.on('data', (d: Buffer) => this.read(d));
    socket.on('close', () => this.finish());
    socket.on('error', () => this.finish());
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
  }

  private read(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      if (this.buf.length < 2) return;
      const b0 = this.buf[0]!;
      const b1 = this.buf[1]!;
      const fin = (b0 & 0x80) !== 0;
      const opcode = b0 & 0x0f;
      const masked = (b1 & 0x80) !== 0;
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      if (!masked) return this.close(1002, 'client frames must be masked');
      if (this.buf.length < off + 4 + len) return;
      const mask = this.buf.subarray(off, off + 4);
      const payload = Buffer.from(this.buf.subarray(off + 4, off + 4 + len));
      for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
      this.buf = this.buf.subarray(off + 4 + len);
      if (opcode === 0x8) return this.close(1000, '');
      if (opcode === 0x9) {
        this.frame(0xa, payload);
        continue;
      }
      if (opcode === 0xa) continue;
      this.fragments.push(payload);
      if (fin) {
        const msg = Buffer.concat(this.fragments);
        this.fragments = [];
        this.onMessage(msg);
      }
    }
  }

  private frame(opcode: number, payload: Buffer): void {
    if (this.closed || this.socket.destroyed) return;
    const n = payload.length;
    const head = n < 126 ? Buffer.from([0x80 | opcode, n]) : n < 65536 ? Buffer.from([0x80 | opcode, 126, n >> 8, n & 0xff]) : Buffer.concat([Buffer.from([0x80 | opcode, 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; })()]);
    this.socket.write(Buffer.concat([head, payload]));
  }

  send(channel: number, data: Buffer | string): void {
    this.frame(0x2, Buffer.concat([Buffer.from([channel]), Buffer.isBuffer(data) ? data : Buffer.from(data)]));
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    const b = Buffer.alloc(2 + Buffer.byteLength(reason));
    b.writeUInt16BE(code, 0);
    b.write(reason, 2);
    this.frame(0x8, b);
    this.socket.end();
    this.finish();
  }
}

/** The `upgrade` handler of the emulator's HTTPS server: pods/exec, anything else refused. */
export function handleUpgrade(deps: ExecDeps, req: IncomingMessage, socket: Duplex): void {
  const url = new URL(req.url ?? '/', 'https://emulator');
  const m = EXEC_PATH.exec(url.pathname);
  if (!m) return refuse(socket, 404, 'NotFound', `the server could not find the requested resource (upgrade of ${url.pathname})`);
  if (!sameSecret(req.headers.authorization ?? '', `Bearer ${deps.token}`)) return refuse(socket, 401, 'Unauthorized', 'Unauthorized');
  const key = req.headers['sec-websocket-key'];
  if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket' || typeof key !== 'string') return refuse(socket, 400, 'BadRequest', 'a WebSocket upgrade is expected');
  const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  const protocol = PROTOCOLS.find((p) => offered.includes(p));
  if (!protocol) return refuse(socket, 400, 'BadRequest', `none of the offered sub-protocols (${offered.join(', ')}) is supported: ${PROTOCOLS.join(', ')}`);
  const [ns, name] = [decodeURIComponent(m[1]!), decodeURIComponent(m[2]!)];
  const command = url.searchParams.getAll('command');
  if (!command.length) return refuse(socket, 400, 'BadRequest', 'you must specify at least 1 command');
  const flag = (f: string) => ['true', '1'].includes(url.searchParams.get(f) ?? '');
  if (flag('tty')) return refuse(socket, 400, 'BadRequest', 'tty is not supported by the sandbox');
  const pod = deps.getPod(ns, name);
  if (!pod) return refuse(socket, 404, 'NotFound', `pods "${name}" not found`);
  const spec = (pod.spec ?? {}) as { nodeName?: string; containers?: Array<{ name: string }> };
  const containers = (spec.containers ?? []).map((c) => c.name);
  const container = url.searchParams.get('container') ?? (containers.length === 1 ? containers[0]! : '');
  if (!container) return refuse(socket, 400, 'BadRequest', `a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]`);
  if (!containers.includes(container)) return refuse(socket, 400, 'BadRequest', `container ${container} is not valid for pod ${name}`);
  if (((pod.status ?? {}) as { phase?: string }).phase !== 'Running' || !spec.nodeName) return refuse(socket, 400, 'BadRequest', `unable to upgrade connection: container not found ("${container}")`);

  const accept = createHash('sha1').update(key + GUID).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: ${protocol}\r\n\r\n`);
  const ws = new ServerSocket(socket);
  const wantStdin = flag('stdin');
  const wantOut = flag('stdout');
  const wantErr = flag('stderr');
  // the API server opens each channel with an empty message
  if (wantStdin) ws.send(0, Buffer.alloc(0));
  if (wantOut) ws.send(1, Buffer.alloc(0));
  if (wantErr) ws.send(2, Buffer.alloc(0));
  ws.send(3, Buffer.alloc(0));
  const stdin = wantStdin ? new PassThrough() : undefined;
  ws.onMessage = (msg) => {
    if (!msg.length) return;
    const ch = msg[0]!;
    if (ch === 0) stdin?.write(msg.subarray(1));
    else if (ch === 255 && protocol === 'v5.channel.k8s.io' && msg[1] === 0) stdin?.end();
  };
  const abort = new AbortController();
  ws.onClose = () => {
    stdin?.end();
    abort.abort();
  };
  const status = (s: Obj) => {
    ws.send(3, JSON.stringify({ metadata: {}, ...s }));
    ws.close(1000, '');
  };
  const backend = backends.get(keyOf(deps.address(), spec.nodeName));
  if (!backend) return status({ status: 'Failure', message: `error dialing backend: node ${spec.nodeName} runs no processes in the sandbox (the emulator's virtual node)`, reason: 'InternalError', code: 500 });
  backend.exec(ns, name, container, command, {
    ...(stdin ? { stdin } : {}),
    stdout: (b) => { if (wantOut) ws.send(1, b); },
    stderr: (b) => { if (wantErr) ws.send(2, b); },
  }).then(
    (code) => status(code === 0
      ? { status: 'Success' }
      : { status: 'Failure', message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${code}`, reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: String(code) }] } }),
    (e: unknown) => status({ status: 'Failure', message: e instanceof Error ? e.message : String(e), reason: 'InternalError', code: 500 }),
  );
}
