/**
 * The Kubernetes adapter's read retries (issue 8, defect 9): a connection reset in the middle of a
 * list is tried again with backoff instead of becoming a 502; writes are never repeated. The real
 * client (clients/kube) talks TLS to the sandbox's Kubernetes API emulator through a TCP proxy
 * that can break the connection carrying the next request.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMixmeshError } from '../common/errors.js';
import { silentLogger } from '../common/logger.js';
import { KubeClient, loadKubeConfig } from '../clients/kube/index.js';
import { startKubeEmulator, type KubeEmulator } from '../sandbox/kube/index.js';
import { createMetrics } from './metrics.js';
import { kubePort } from './wiring.js';

/** a TCP proxy; `breakNext(n)` resets the connection that carries the next n client writes */
async function flakyProxy(target: number): Promise<{ port: number; server: Server; breakNext(n: number): void; resets: () => number }> {
  let toBreak = 0;
  let resets = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    client.on('data', (chunk: Buffer) => {
      if (toBreak > 0) {
        toBreak--;
        resets++;
        client.resetAndDestroy();
        upstream.destroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const end = (): void => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const close = server.close.bind(server);
  server.close = ((cb?: (err?: Error) => void) => { for (const s of sockets) s.destroy(); return close(cb); }) as typeof server.close;
  return { port: (server.address() as AddressInfo).port, server, breakNext: (n) => { toBreak = n; }, resets: () => resets };
}

describe('orchestrator/wiring: Kubernetes reads survive a transient ECONNRESET', function () {
  this.timeout(60_000);
  let kube: KubeEmulator;
  let dir: string;
  let proxy: Awaited<ReturnType<typeof flakyProxy>>;
  let client: KubeClient;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-wiring-'));
    kube = await startKubeEmulator({ dir: join(dir, 'kube') });
    proxy = await flakyProxy(Number(new URL(kube.url).port));
    writeFileSync(join(dir, 'kubeconfig'), kube.kubeconfig().replace(new URL(kube.url).host, `127.0.0.1:${proxy.port}`));
    client = new KubeClient(loadKubeConfig(join(dir, 'kubeconfig')));
  });
  after(async () => {
    client?.close();
    proxy?.server.close();
    await kube?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a list (and a get) whose connection is reset is retried with backoff and answers', async () => {
    const port = kubePort(client, createMetrics(), silentLogger, { attempts: 4, baseMs: 20 });
    await port.list('v1', 'Namespace'); // discovery done, the connection is up
    for (const read of [() => port.list('v1', 'Namespace'), () => port.get({ apiVersion: 'v1', kind: 'Namespace', name: 'default' })]) {
      const before = proxy.resets();
      proxy.breakNext(1);
      const r = await read();
      assert.ok(r, 'answered');
      assert.equal(proxy.resets(), before + 1, 'the first try was reset');
    }
  });

  it('gives up after its attempts, with the Kubernetes error (never hangs)', async () => {
    const port = kubePort(client, createMetrics(), silentLogger, { attempts: 2, baseMs: 20 });
    proxy.breakNext(2);
    await assert.rejects(port.list('v1', 'Namespace'), (e) => isMixmeshError(e, 'K8S_REQUEST_FAILED'));
    proxy.breakNext(0);
  });

  it('a write is not repeated: a reset create is reported, not sent twice', async () => {
    const port = kubePort(client, createMetrics(), silentLogger, { attempts: 4, baseMs: 20 });
    proxy.breakNext(1);
    await assert.rejects(port.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'once', namespace: 'default' }, data: {} }), (e) => isMixmeshError(e, 'K8S_REQUEST_FAILED'));
  });
});
