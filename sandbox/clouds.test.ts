/**
 * Two sandbox clouds side by side (startClouds): each its own Kubernetes, Keystone, Tacker/Nova and
 * VM range. Through the real clients only: Tacker makes a control-plane VM and worker VMs from the
 * node image packages, SSH runs kubeadm on them; the source cloud's cluster is "full" (no virtual
 * node), so when its worker stops the evicted pod stays Pending with FailedScheduling, while the
 * target's joined worker runs the same workload.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { connectSsh } from '../clients/ssh/index.js';
import { createOpenStackClient, validateConfig, type OpenStackClient } from '../clients/openstack/index.js';
import { CONTROL_PLANE_VNFD_ID, startClouds, WORKER_VNFD_ID, type Sandbox } from './index.js';

const root = process.getuid?.() === 0;

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 90_000): Promise<T> {
  const deadline = Date.now() + ms;
  let delay = 20;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 300);
  }
}

interface Cloud { sandbox: Sandbox; os: OpenStackClient; core: CoreV1Api; objects: KubernetesObjectApi }

function cloud(sandbox: Sandbox): Cloud {
  const kc = new KubeConfig();
  kc.loadFromString(sandbox.kube.kubeconfig());
  return {
    sandbox,
    os: createOpenStackClient(validateConfig({ authUrl: sandbox.openstack.authUrl, ...sandbox.openstack.credentials }, 'test')),
    core: kc.makeApiClient(CoreV1Api),
    objects: KubernetesObjectApi.makeApiClient(kc),
  };
}

/** One VNF from a node image package through Tacker; its server's address and Nova image. */
async function instantiate(c: Cloud, vnfdId: string, name: string): Promise<{ address: string; image: unknown; serverId: string }> {
  const vnf = await c.os.tacker.createVnfInstance({ vnfdId, vnfInstanceName: name });
  const op = await c.os.tacker.instantiate(vnf.id, { flavourId: 'simple' });
  await c.os.tacker.waitForOperation(op, { timeoutMs: 60_000 });
  const inst = await c.os.tacker.getVnfInstance(vnf.id);
  const serverId = inst.instantiatedVnfInfo!.vnfcResourceInfo![0]!.computeResource.resourceId;
  const server = await c.os.nova.getServer(serverId) as unknown as { addresses: Record<string, Array<{ addr: string }>>; image?: unknown };
  return { address: Object.values(server.addresses).flat()[0]!.addr, image: server.image, serverId };
}

/** Run a command over real SSH with the cloud's key and known_hosts. */
async function ssh(c: Cloud, address: string, command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const known = readFileSync(c.sandbox.paths.knownHosts, 'utf8').split('\n').filter((l) => l.startsWith(`${address} `)).map((l) => l.slice(address.length + 1));
  const shell = await connectSsh({ host: address, username: 'root', privateKey: c.sandbox.sshPrivateKey, hostKey: { expected: known } });
  try {
    return await shell.exec(command, { allowFailure: true });
  } finally {
    await shell.close();
  }
}

async function joinWorker(c: Cloud, cpAddress: string, node: string): Promise<string> {
  const worker = await instantiate(c, WORKER_VNFD_ID, node);
  const tok = await ssh(c, cpAddress, `kubeadm token create --print-join-command --ttl 1h --description ${JSON.stringify(`join ${node}`)}`);
  assert.equal(tok.code, 0, tok.stderr);
  const joined = await ssh(c, worker.address, `${tok.stdout.trim()} --node-name ${node}`);
  assert.equal(joined.code, 0, joined.stderr);
  assert.match(joined.stdout, /This node has joined the cluster/);
  await until(`${node} Ready`, async () => {
    const n = await c.core.readNode({ name: node }).catch(() => undefined);
    return n?.status?.conditions?.find((x) => x.type === 'Ready')?.status === 'True' ? n : undefined;
  });
  return worker.address;
}

const app = (replicas: number): KubernetesObject => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'orders', namespace: 'cafe' },
  spec: { replicas, selector: { matchLabels: { app: 'orders' } }, template: { metadata: { labels: { app: 'orders' } }, spec: { containers: [{ name: 'orders', image: 'busybox', command: ['sh', '-c', 'while true; do date > /tmp/alive; sleep 1; done'] }] } } },
} as KubernetesObject);

(root ? describe : describe.skip)('sandbox: two clouds side by side (startClouds)', function () {
  this.timeout(240_000);
  let dir: string;
  let source: Cloud;
  let target: Cloud;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-clouds-'));
    const [a, b] = await startClouds({
      dir, keystone: 'emulated',
      latencies: { startingMs: 20, processingMs: 50, terminateMs: 20, sshdMs: 50, podReadyMs: 50 },
      kube: { nodeMonitorGracePeriodMs: 3000, podEvictionTimeoutMs: 1500 },
      nodes: { heartbeatMs: 300, syncMs: 150 },
      // the source cluster has no virtual node: its joined worker is all the room it has ("full")
      perCloud: [{ kube: { virtualNode: false, nodeMonitorGracePeriodMs: 3000, podEvictionTimeoutMs: 1500 } }],
    });
    source = cloud(a!);
    target = cloud(b!);
  });

  after(async () => {
    await Promise.all([source?.sandbox.stop(), target?.sandbox.stop()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('each cloud has its own cluster, Keystone, Tacker and VM range', async () => {
    assert.notEqual(source.sandbox.kube.url, target.sandbox.kube.url);
    assert.notEqual(source.sandbox.kube.caCertHash, target.sandbox.kube.caCertHash);
    assert.notEqual(source.sandbox.openstack.authUrl, target.sandbox.openstack.authUrl);
    const a = await instantiate(source, CONTROL_PLANE_VNFD_ID, 'source-cp');
    const b = await instantiate(target, CONTROL_PLANE_VNFD_ID, 'target-cp');
    assert.ok(Number(a.address.split('.')[3]) <= 127, a.address);
    assert.ok(Number(b.address.split('.')[3]) >= 128, b.address);
    assert.equal((a.image as { id: string }).id, 'mixmesh-sandbox-control-plane');
    assert.equal((await source.core.listNode()).items.length, 0, 'the source cluster has no node until a worker joins');
  });

  it('source: a worker joins, runs the app; the worker stops; the evicted pod stays Pending for lack of room', async () => {
    const cp = source.sandbox.vms.list().find((v) => v.image === 'mixmesh-sandbox-control-plane')!;
    await joinWorker(source, cp.address, 'source-worker-1');
    await source.core.createNamespace({ body: { metadata: { name: 'cafe' } } });
    await source.objects.create(app(1));
    const pod = await until('orders Running on source-worker-1', async () => {
      const p = (await source.core.listNamespacedPod({ namespace: 'cafe' })).items[0];
      return p?.spec?.nodeName === 'source-worker-1' && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
    });
    await source.sandbox.nodes.stopNode('source-worker-1');
    await until('source-worker-1 NotReady', async () => ((await source.core.readNode({ name: 'source-worker-1' })).status!.conditions!.find((c) => c.type === 'Ready')!.status === 'Unknown' ? true : undefined));
    const pending = await until('a replacement Pending with FailedScheduling', async () => {
      const ps = (await source.core.listNamespacedPod({ namespace: 'cafe' })).items;
      return ps.find((p) => p.metadata!.name !== pod.metadata!.name && p.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.reason === 'Unschedulable'));
    });
    assert.match(pending.status!.conditions![0]!.message!, /^0\/1 nodes are available: 1 node\(s\) had untolerated taint \{node\.kubernetes\.io\/unreachable: \}/);
    const old = await source.core.readNamespacedPod({ name: pod.metadata!.name!, namespace: 'cafe' });
    assert.ok(old.metadata!.deletionTimestamp, 'the pod on the dead node stays Terminating');
  });

  it('target: a worker VM made by its Tacker joins its cluster (token from its control plane over SSH) and runs the app', async () => {
    const cp = target.sandbox.vms.list().find((v) => v.image === 'mixmesh-sandbox-control-plane')!;
    const workerAddress = await joinWorker(target, cp.address, 'migrate-m1-worker-0');
    await target.objects.patch({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'migrate-m1-worker-0', labels: { 'mixmesh.io/migration': 'm1' } } } as KubernetesObject);
    await target.core.createNamespace({ body: { metadata: { name: 'cafe' } } });
    const pinned = app(1) as KubernetesObject & { spec: { template: { spec: Record<string, unknown> } } };
    pinned.spec.template.spec.nodeSelector = { 'mixmesh.io/migration': 'm1' };
    await target.objects.create(pinned);
    await until('orders Running on the new worker', async () => {
      const p = (await target.core.listNamespacedPod({ namespace: 'cafe' })).items[0];
      return p?.spec?.nodeName === 'migrate-m1-worker-0' && p.status?.phase === 'Running' && p.status.podIP === workerAddress ? p : undefined;
    });
    // the token is deleted afterwards, as a migration does
    const list = await target.core.listNamespacedSecret({ namespace: 'kube-system', fieldSelector: 'type=bootstrap.kubernetes.io/token' });
    const ids = list.items.map((s) => s.metadata!.name!.replace('bootstrap-token-', ''));
    assert.equal(ids.length, 1);
    const del = await ssh(target, cp.address, `kubeadm token delete ${ids[0]!}`);
    assert.equal(del.code, 0, del.stderr);
    assert.equal(del.stdout.trim(), `bootstrap token "${ids[0]!}" deleted`);
    assert.equal((await target.core.listNamespacedSecret({ namespace: 'kube-system', fieldSelector: 'type=bootstrap.kubernetes.io/token' })).items.length, 0);
  });

  it('`mixmesh sandbox --clouds 2`: both clouds\' usage printed, files in DIR/cloud-1 and DIR/cloud-2, SIGTERM stops both', async () => {
    const cliDir = mkdtempSync(join(tmpdir(), 'mixmesh-clouds-cli-'));
    const repo = fileURLToPath(new URL('..', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/bin.ts', 'sandbox', '--clouds', '2', '--dir', cliDir], { cwd: repo, env: { ...process.env, MIXMESH_SANDBOX_KEYSTONE: 'emulated' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          if (stderr.split('SIGTERM stops it').length === 3) resolve();
        });
        void exited.then((code) => reject(new Error(`mixmesh sandbox --clouds 2 exited ${code} early: ${stderr}`)));
      });
      for (const c of ['cloud-1', 'cloud-2']) {
        assert.match(stderr, new RegExp(`export KUBECONFIG=${join(cliDir, c)}/kubeconfig`));
        assert.ok(existsSync(join(cliDir, c, 'clouds.yaml')));
      }
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(cliDir, { recursive: true, force: true });
    }
  });
});
