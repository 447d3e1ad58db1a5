/**
 * `npm run bench -- sandbox [--sizes 1,10,50] [--keystone auto|emulated|real]`
 * Prints: sandbox start time; VNFs instantiated through the Tacker emulator until their VMs answer
 * SSH (1, 10, 50 at once, default latencies); the bare VM provider (create, and until SSH answers);
 * the stand-in sidecar's start → first 200; Kubernetes emulator requests/s for GET and server-side
 * apply (bounded loops on loopback). Measures, never asserts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectSsh, parseConsoleHostKeys } from '../clients/ssh/index.js';
import { createOpenStackClient, serverAddress, validateConfig, type OpenStackClient } from '../clients/openstack/index.js';
import { PLAIN_VNFD_ID, startSandbox, type Sandbox } from '../sandbox/index.js';
import { buildSidecarPackage } from '../sandbox/sidecar-package/index.js';

const ms = (t0: number) => Date.now() - t0;
const s = (n: number) => `${(n / 1000).toFixed(2)} s`;

function arg(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
}

async function sshAnswers(sandbox: Sandbox, address: string, hostKeys: string[]): Promise<void> {
  const shell = await connectSsh({ host: address, username: 'root', privateKey: sandbox.sshPrivateKey, hostKey: { expected: hostKeys }, connectBudgetMs: 120_000 });
  await shell.exec('true');
  await shell.close();
}

/** create + instantiate n VNFs at once; returns ms until the last VM answered SSH, and the ids */
async function instantiateUntilSsh(sandbox: Sandbox, os: OpenStackClient, n: number): Promise<{ completedMs: number; sshMs: number; ids: string[] }> {
  const t0 = Date.now();
  let completedMs = 0;
  const ids = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const vnf = await os.tacker.createVnfInstance({ vnfdId: PLAIN_VNFD_ID, vnfInstanceName: `bench-${n}-${i}` });
      const op = await os.tacker.instantiate(vnf.id, { flavourId: 'simple' });
      const done = await os.tacker.waitForOperation(op, { timeoutMs: 300_000, minIntervalMs: 250, maxIntervalMs: 250 });
      if (done.operationState !== 'COMPLETED') throw new Error(`instantiate ${vnf.id}: ${done.operationState}`);
      completedMs = Math.max(completedMs, ms(t0));
      const inst = await os.tacker.getVnfInstance(vnf.id);
      const serverId = inst.instantiatedVnfInfo?.vnfcResourceInfo?.[0]?.computeResource.resourceId;
      if (!serverId) throw new Error(`instance ${vnf.id} has no server`);
      const address = serverAddress(await os.nova.getServer(serverId));
      if (!address) throw new Error(`server ${serverId} has no address`);
      await sshAnswers(sandbox, address, parseConsoleHostKeys(await os.nova.getConsoleOutput(serverId)));
      return vnf.id;
    }),
  );
  return { completedMs, sshMs: ms(t0), ids };
}

async function terminateAll(os: OpenStackClient, ids: string[]): Promise<void> {
  await Promise.all(
    ids.map(async (id) => {
      const op = await os.tacker.terminate(id, { terminationType: 'FORCEFUL' });
      await os.tacker.waitForOperation(op, { timeoutMs: 300_000, minIntervalMs: 50, maxIntervalMs: 200 });
      await os.tacker.deleteVnfInstance(id);
    }),
  );
}

function httpsCall(agent: Agent, url: string, token: string, method: string, path: string, body?: string, contentType?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method, agent, headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body ? { 'content-type': contentType ?? 'application/json', 'content-length': Buffer.byteLength(body) } : {}) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** requests/s of `count` calls with `concurrency` in flight */
async function rate(count: number, concurrency: number, call: (i: number) => Promise<number>): Promise<{ perSecond: number; failures: number }> {
  let next = 0;
  let failures = 0;
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const status = await call(i);
        if (status >= 300) failures++;
      }
    }),
  );
  return { perSecond: Math.round((count * 1000) / Math.max(1, ms(t0))), failures };
}

function probe(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get({ host: address, port: 15021, path: '/healthz/ready', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

export async function main(args: string[]): Promise<void> {
  const sizes = arg(args, '--sizes', '1,10,50').split(',').map(Number).filter((n) => n > 0);
  const keystone = arg(args, '--keystone', 'auto') as 'auto' | 'emulated' | 'real';
  const dir = mkdtempSync(join(tmpdir(), 'mixmesh-bench-sandbox-'));
  process.stdout.write(`bench sandbox: ${new Date().toISOString()}, ${execFileSync('nproc').toString().trim()} cores, load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n`);
  let t0 = Date.now();
  const sandbox = await startSandbox({ dir, keystone });
  process.stdout.write(`sandbox start (Keystone ${sandbox.openstack.keystoneKind}): ${s(ms(t0))}\n`);
  try {
    const os = createOpenStackClient(validateConfig({ authUrl: sandbox.openstack.authUrl, ...sandbox.openstack.credentials }, 'bench'));
    await os.keystone.token();
    process.stdout.write('VNFs through the Tacker emulator (default latencies: 0.2 s + 1.0 s, sshd after 0.3 s), all at once:\n');
    for (const n of sizes) {
      const r = await instantiateUntilSsh(sandbox, os, n);
      process.stdout.write(`  ${String(n).padStart(3)} VNFs: last COMPLETED ${s(r.completedMs)}, last VM answering SSH ${s(r.sshMs)}\n`);
      t0 = Date.now();
      await terminateAll(os, r.ids);
      process.stdout.write(`        terminate + delete all: ${s(ms(t0))}\n`);
    }

    process.stdout.write('VM provider alone (no Tacker):\n');
    for (const n of [1, 20, 50]) {
      sandbox.vms.setSshdDelay(0);
      t0 = Date.now();
      const vms = await Promise.all(Array.from({ length: n }, (_, i) => sandbox.vms.create({ serverId: `bench-bare-${n}-${i}`, name: `bare-${i}` })));
      const created = ms(t0);
      await Promise.all(vms.map((vm) => sshAnswers(sandbox, vm.address, [vm.hostPublicKey])));
      process.stdout.write(`  ${String(n).padStart(3)} VMs: created ${s(created)}, answering SSH ${s(ms(t0))} (test-world anchor: 0.07 s for 1, 0.5 s for 20 created)\n`);
      t0 = Date.now();
      await Promise.all(vms.map((vm) => sandbox.vms.remove(vm.serverId)));
      process.stdout.write(`        removed: ${s(ms(t0))}\n`);
    }
    sandbox.vms.setSshdDelay(undefined);

    // the stand-in sidecar: start -> first 200 (test-world: within 100 ms)
    const pkg = await buildSidecarPackage({ format: 'tar', outDir: join(dir, 'packages') });
    const vm = await sandbox.vms.create({ serverId: 'bench-sidecar', name: 'sidecar' });
    const shell = await connectSsh({ host: vm.address, username: 'root', privateKey: sandbox.sshPrivateKey, hostKey: { expected: [vm.hostPublicKey] } });
    await shell.put(pkg.path, '/tmp/pkg.tar.gz');
    await shell.exec('tar -xzf /tmp/pkg.tar.gz -C / && mkdir -p /etc/certs /var/run/secrets/tokens');
    await shell.put(Buffer.from(`ISTIO_SVC_IP='${vm.address}'\n`), '/var/lib/istio/envoy/cluster.env');
    await shell.put(Buffer.from(sandbox.kube.istioRootPem), '/etc/certs/root-cert.pem', 0o640);
    const claims = Buffer.from(JSON.stringify({ aud: ['istio-ca'], exp: Math.floor(Date.now() / 1000) + 3600 })).toString('base64url');
    await shell.put(Buffer.from(`eyJhbGciOiJSUzI1NiJ9.${claims}.c2ln`), '/var/run/secrets/tokens/istio-token', 0o600);
    await shell.exec('chown -R istio-proxy /var/lib/istio /etc/certs /var/run/secrets');
    const readyTimes: number[] = [];
    let probeMs = 0;
    for (let i = 0; i < 3; i++) {
      t0 = Date.now();
      const pgid = (await shell.exec('setsid /usr/local/bin/istio-start.sh </dev/null >/dev/null 2>&1 & echo $!')).stdout.trim();
      for (;;) {
        const status = await probe(vm.address).catch(() => 0);
        if (status === 200) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      readyTimes.push(ms(t0));
      if (i === 2) {
        // a probe alone, agent running: the per-request cost of the checks
        t0 = Date.now();
        for (let j = 0; j < 20; j++) await probe(vm.address);
        probeMs = ms(t0) / 20;
      }
      // stop it the way the injector does: TERM to its process group, then wait until the port is free
      await shell.exec(`kill -TERM -${pgid}; while kill -0 -${pgid} 2>/dev/null; do sleep 0.05; done`);
    }
    process.stdout.write(`stand-in sidecar: start (over SSH) -> first 200: ${readyTimes.map((t) => `${t} ms`).join(', ')}; one probe ${probeMs.toFixed(1)} ms\n`);
    await shell.close();
    await sandbox.vms.remove('bench-sidecar');

    // Kubernetes emulator throughput
    const agent = new Agent({ ca: sandbox.kube.caPem, keepAlive: true, maxSockets: 8 });
    const url = sandbox.kube.url;
    const token = sandbox.kube.token;
    const getRate = await rate(2000, 8, () => httpsCall(agent, url, token, 'GET', '/api/v1/namespaces/istio-system/configmaps/istio'));
    const ssaRate = await rate(500, 8, (i) =>
      httpsCall(agent, url, token, 'PATCH', `/api/v1/namespaces/default/configmaps/bench-${i % 50}?fieldManager=bench&force=true`, JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `bench-${i % 50}`, namespace: 'default' }, data: { round: String(Math.floor(i / 50)) } }), 'application/apply-patch+yaml'),
    );
    process.stdout.write(`Kubernetes emulator: GET ${getRate.perSecond} req/s (2000 requests, 8 in flight, ${getRate.failures} failed); server-side apply ${ssaRate.perSecond} req/s (500 requests on 50 ConfigMaps, ${ssaRate.failures} failed)\n`);
    agent.destroy();
  } finally {
    t0 = Date.now();
    await sandbox.stop();
    process.stdout.write(`sandbox stop: ${s(ms(t0))}\n`);
    rmSync(dir, { recursive: true, force: true });
  }
}
