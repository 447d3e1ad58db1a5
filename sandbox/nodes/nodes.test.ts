/**
 * Node images on real sandbox VMs (root): kubeadm token create on a control-plane VM, kubeadm join
 * on a worker VM (wrong token and wrong CA pin refused as kubeadm words it), the Node Ready with its
 * Lease, a pod running as a process in the VM with hostPath / emptyDir / local PV directories, the
 * kubelet API (/pods, /checkpoint), the stand-in criu (dump, restore, a kernel without support), the
 * node-stop fault (NotReady, then back).
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, readFileSync, existsSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { CoreV1Api, Exec, KubeConfig, KubernetesObjectApi, type KubernetesObject, type V1Status } from '@kubernetes/client-node';
import { startKubeEmulator, type KubeEmulator } from '../kube/index.js';
import { createLocalVmProvider, type LocalVmProvider, type SandboxVm } from '../vms/index.js';
import { CONTROL_PLANE_BARE_IMAGE, CONTROL_PLANE_IMAGE, createNodeRuntime, WORKER_IMAGE, WORKER_NOCRIU_IMAGE, type NodeRuntime } from './index.js';

const root = process.getuid?.() === 0;

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  let delay = 20;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 250);
  }
}

function kubelet(vm: SandboxVm, kube: KubeEmulator, method: string, path: string, token = kube.token): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: vm.address, port: 10250, path, method, ca: kube.caPem, servername: '', headers: { Authorization: `Bearer ${token}` }, checkServerIdentity: () => undefined }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

(root ? describe : describe.skip)('sandbox/nodes: worker and control-plane images on real VMs', function () {
  this.timeout(180_000);
  let dir: string;
  let kube: KubeEmulator;
  let vms: LocalVmProvider;
  let nodes: NodeRuntime;
  let core: CoreV1Api;
  let objects: KubernetesObjectApi;
  let cp: SandboxVm;
  let worker: SandboxVm;
  let joinCommand = '';
  let joinToken = '';
  let joinHash = '';
  let archive = '';
  let checkpointed = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-nodes-'));
    kube = await startKubeEmulator({ readyDelayMs: 50, nodeMonitorGracePeriodMs: 3000, podEvictionTimeoutMs: 600_000 });
    const kc = new KubeConfig();
    kc.loadFromString(kube.kubeconfig());
    core = kc.makeApiClient(CoreV1Api);
    objects = KubernetesObjectApi.makeApiClient(kc);
    vms = await createLocalVmProvider({ dir, authorizedKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdTmJzKq7l2rZpXq5cQ0kJk7VvJ0P3o3x2cA1b2c3d4 test'], sshdDelayMs: 0 });
    nodes = createNodeRuntime({ vms, cluster: { server: kube.url, token: kube.token, caPem: kube.caPem, caCertHash: kube.caCertHash, issueServingCert: kube.issueServingCert }, heartbeatMs: 300, syncMs: 150 });
    cp = await vms.create({ serverId: 'cp-1', name: 'cp-1', image: CONTROL_PLANE_IMAGE, files: nodes.filesFor(CONTROL_PLANE_IMAGE) });
    worker = await vms.create({ serverId: 'worker-vm-1', name: 'worker-vm-1', image: WORKER_IMAGE, files: nodes.filesFor(WORKER_IMAGE) });
    nodes.attach(worker);
    await until('VMs up', () => (vms.initPid(cp.serverId) && vms.initPid(worker.serverId) ? true : undefined));
  });

  after(async () => {
    await nodes?.stop();
    await vms?.removeAll();
    await kube?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('kubeadm token create --print-join-command on the control-plane VM stores a bootstrap token', async () => {
    const r = await nodes.exec(cp.serverId, 'kubeadm token create --print-join-command --ttl 1h --description "mixmesh migrate m1"');
    assert.equal(r.code, 0, r.stderr);
    const m = /^kubeadm join (\S+) --token ([a-z0-9]{6})\.([a-z0-9]{16}) --discovery-token-ca-cert-hash (sha256:[0-9a-f]{64}) $/m.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.equal(m[1], kube.endpoint);
    assert.equal(m[4], kube.caCertHash);
    joinCommand = m[0].trim();
    joinToken = `${m[2]!}.${m[3]!}`;
    joinHash = m[4]!;
    const secret = await core.readNamespacedSecret({ name: `bootstrap-token-${m[2]!}`, namespace: 'kube-system' });
    assert.equal(secret.type, 'bootstrap.kubernetes.io/token');
    assert.equal(Buffer.from(secret.data!.description!, 'base64').toString(), 'mixmesh migrate m1');
    const exp = Date.parse(Buffer.from(secret.data!.expiration!, 'base64').toString());
    assert.ok(exp > Date.now() + 50 * 60_000 && exp < Date.now() + 70 * 60_000);
    // a worker image has no admin.conf: token create fails as kubeadm does there
    const w = await nodes.exec(worker.serverId, 'kubeadm token create');
    assert.equal(w.code, 1);
    assert.match(w.stderr, /failed to load admin kubeconfig: open \/etc\/kubernetes\/admin\.conf: no such file or directory/);
  });

  it('kubeadm join refuses a wrong token and a wrong CA pin, then joins: Node Ready with its Lease', async () => {
    const token = joinToken;
    const hash = joinHash;
    const badToken = await nodes.exec(worker.serverId, `kubeadm join ${kube.endpoint} --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash ${hash} --node-name worker-1`);
    assert.equal(badToken.code, 1);
    assert.match(badToken.stderr, /error execution phase preflight: couldn't validate the identity of the API Server: could not find a JWS signature in the cluster-info ConfigMap for token ID "abcdef"/);
    const badHash = await nodes.exec(worker.serverId, `kubeadm join ${kube.endpoint} --token ${token} --discovery-token-ca-cert-hash sha256:${'0'.repeat(64)} --node-name worker-1`);
    assert.equal(badHash.code, 1);
    assert.match(badHash.stderr, /cluster CA found in cluster-info ConfigMap is not trusted: none of the public keys "sha256:[0-9a-f]{64}" are pinned/);
    const malformed = await nodes.exec(worker.serverId, `kubeadm join ${kube.endpoint} --token nope --discovery-token-ca-cert-hash ${hash}`);
    assert.equal(malformed.code, 1);
    assert.match(malformed.stderr, /the bootstrap token "nope" was not of the form/);
    const ok = await nodes.exec(worker.serverId, `${joinCommand} --node-name worker-1`);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /This node has joined the cluster/);
    const node = await until('worker-1 Ready', async () => {
      const n = await core.readNode({ name: 'worker-1' }).catch(() => undefined);
      return n?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? n : undefined;
    });
    assert.equal(node.status!.addresses!.find((a) => a.type === 'InternalIP')!.address, worker.address);
    assert.equal(node.status!.daemonEndpoints!.kubeletEndpoint!.Port, 10250);
    await objects.read({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'worker-1', namespace: 'kube-node-lease' } });
    const again = await nodes.exec(worker.serverId, `${joinCommand} --node-name worker-1`);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /\/etc\/kubernetes\/kubelet\.conf already exists/);
  });

  it('a pod bound to the node runs as a process in the VM; its volumes are directories there', async () => {
    await core.createNamespace({ body: { metadata: { name: 'app' } } });
    await nodes.exec(worker.serverId, 'mkdir -p /mnt/disks/pv1');
    await objects.create({ apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: 'pv1' }, spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], storageClassName: 'local-storage', local: { path: '/mnt/disks/pv1' }, nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['worker-1'] }] }] } } } } as KubernetesObject);
    await objects.create({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data', namespace: 'app' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '100Mi' } } } } as KubernetesObject);
    const script = 'echo hello > /data/hello; echo host > /host/hello; echo "$POD" > /scratch/name; i=$(cat /scratch/counter 2>/dev/null || echo 0); echo $i > /scratch/started-from; while true; do i=$((i+1)); echo $i > /scratch/counter.tmp; mv /scratch/counter.tmp /scratch/counter; sleep 0.2; done';
    await objects.create({
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'counter', namespace: 'app' },
      spec: {
        nodeSelector: { 'kubernetes.io/hostname': 'worker-1' },
        containers: [{ name: 'c', image: 'busybox:1.36', command: ['sh', '-c', script], env: [{ name: 'SANDBOX_CRIU_STATE_FILE', value: '/scratch/counter' }, { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
          volumeMounts: [{ name: 'data', mountPath: '/data' }, { name: 'host', mountPath: '/host' }, { name: 'scratch', mountPath: '/scratch' }] }],
        volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }, { name: 'host', hostPath: { path: '/var/lib/app', type: 'DirectoryOrCreate' } }, { name: 'scratch', emptyDir: {} }],
      },
    } as KubernetesObject);
    const pod = await until('counter Running and Ready', async () => {
      const p = await core.readNamespacedPod({ name: 'counter', namespace: 'app' });
      return p.status?.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
    });
    assert.equal(pod.spec!.nodeName, 'worker-1');
    assert.equal(pod.status!.podIP, worker.address);
    const rootfs = vms.get(worker.serverId)!.rootfs;
    await until('files written by the pod', () => (existsSync(join(rootfs, 'mnt/disks/pv1/hello')) && existsSync(join(rootfs, 'var/lib/app/hello')) ? true : undefined));
    assert.equal(readFileSync(join(rootfs, 'mnt/disks/pv1/hello'), 'utf8'), 'hello\n');
    const empty = join(rootfs, 'var/lib/kubelet/pods', pod.metadata!.uid!, 'volumes/kubernetes.io~empty-dir/scratch');
    // written by the pod's process right after the other two: wait for its content, not only the file
    await until('the pod name in the emptyDir', () => { try { return readFileSync(join(empty, 'name'), 'utf8') === 'counter\n' ? true : undefined; } catch { return undefined; } });
    const ps = await nodes.exec(worker.serverId, 'ps -o pid,args | grep "[w]hile true"');
    assert.equal(ps.code, 0, 'the container is a process in the VM');
  });

  it('kubelet API: /healthz, /pods, /checkpoint writes the archive on the node (0600, CRIU images inside)', async () => {
    assert.equal((await kubelet(worker, kube, 'GET', '/healthz')).text, 'ok');
    assert.equal((await kubelet(worker, kube, 'GET', '/pods', 'wrong')).status, 401);
    const pods = JSON.parse((await kubelet(worker, kube, 'GET', '/pods')).text) as { items: KubernetesObject[] };
    assert.deepEqual(pods.items.map((p) => p.metadata!.name), ['counter']);
    const r = await kubelet(worker, kube, 'POST', '/checkpoint/app/counter/c');
    assert.equal(r.status, 200, r.text);
    const items = (JSON.parse(r.text) as { items: string[] }).items;
    assert.match(items[0]!, /^\/var\/lib\/kubelet\/checkpoints\/checkpoint-counter_app-c-\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\.tar$/);
    const onHost = join(vms.get(worker.serverId)!.rootfs, items[0]!);
    assert.equal(statSync(onHost).mode & 0o777, 0o600);
    const listing = execFileSync('tar', ['-tf', onHost], { encoding: 'utf8' });
    for (const f of ['checkpoint/inventory.img', 'checkpoint/state.img', 'checkpoint/cmdline.img', 'config.dump', 'spec.dump', 'rootfs-diff.tar']) assert.match(listing, new RegExp(`(^|\\./)${f.replace('.', '\\.')}$`, 'm'));
    const state = Number(execFileSync('tar', ['-xOf', onHost, 'checkpoint/state.img'], { encoding: 'utf8' }).trim());
    assert.ok(state >= 1, 'the counter the process declared');
    archive = items[0]!;
    checkpointed = state;
    const pod = await core.readNamespacedPod({ name: 'counter', namespace: 'app' });
    assert.equal(pod.status!.phase, 'Running', 'a checkpoint leaves the container running');
    assert.equal((await kubelet(worker, kube, 'POST', '/checkpoint/app/nope/c')).status, 404);
  });

  it('pods/exec: @kubernetes/client-node\'s Exec (WebSocket, v5 channel protocol) runs in the container: its mounts, output, stdin, exit code', async () => {
    const kc = new KubeConfig();
    kc.loadFromString(kube.kubeconfig());
    const run = async (command: string[], stdin?: string): Promise<{ out: string; err: string; status: V1Status }> => {
      let out = '';
      let err = '';
      const sink = (f: (s: string) => void) => new Writable({ write(c: Buffer, _e, cb) { f(c.toString()); cb(); } });
      const input = stdin === undefined ? null : Readable.from([Buffer.from(stdin)]);
      const status = await new Promise<V1Status>((resolve, reject) => {
        new Exec(kc).exec('app', 'counter', 'c', command, sink((s) => { out += s; }), sink((s) => { err += s; }), input, false, resolve).catch(reject);
      });
      return { out, err, status };
    };
    // the container's own view: its emptyDir at /scratch, its environment
    const ok = await run(['sh', '-c', 'cat /scratch/name; echo "$POD" >&2']);
    assert.deepEqual([ok.status.status, ok.out, ok.err], ['Success', 'counter\n', 'counter\n']);
    const failed = await run(['sh', '-c', 'exit 3']);
    assert.equal(failed.status.status, 'Failure');
    assert.equal(failed.status.reason, 'NonZeroExitCode');
    assert.equal(failed.status.details?.causes?.[0]?.message, '3');
    const echoed = await run(['cat'], 'through stdin\n');
    assert.equal(echoed.out, 'through stdin\n');
    // an unknown pod is refused before the upgrade, as the API server does
    await assert.rejects(new Promise((resolve, reject) => { new Exec(kc).exec('app', 'nope', 'c', ['true'], null, null, null, false, resolve).catch(reject); }));
  });

  it('a container whose image is a checkpoint archive on the node is restored from it (CRI-O style): its state carries on', async () => {
    await objects.create({
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'counter-restored', namespace: 'app' },
      spec: {
        nodeSelector: { 'kubernetes.io/hostname': 'worker-1' },
        containers: [{ name: 'c', image: archive, volumeMounts: [{ name: 'data', mountPath: '/data' }, { name: 'host', mountPath: '/host' }, { name: 'scratch', mountPath: '/scratch' }] }],
        volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }, { name: 'host', hostPath: { path: '/var/lib/app' } }, { name: 'scratch', emptyDir: {} }],
      },
    } as KubernetesObject);
    const pod = await until('restored pod Running', async () => {
      const p = await core.readNamespacedPod({ name: 'counter-restored', namespace: 'app' });
      return p.status?.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
    });
    // the process notes the value it started from: the checkpoint's state, not a cold 0
    const startedFrom = join(vms.get(worker.serverId)!.rootfs, 'var/lib/kubelet/pods', pod.metadata!.uid!, 'volumes/kubernetes.io~empty-dir/scratch/started-from');
    const from = await until('the restored process started', () => { try { return readFileSync(startedFrom, 'utf8').trim() || undefined; } catch { return undefined; } });
    assert.equal(Number(from), checkpointed);
    await objects.delete({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'counter-restored', namespace: 'app' } });
  });

  it('criu on a VM: dump stops the process and keeps its state; restore -d starts it again from it; no CRIU on the other image', async () => {
    const start = 'mkdir -p /var/lib/counter; cd /var/lib/counter; SANDBOX_CRIU_STATE_FILE=/var/lib/counter/n setsid sh -c \'n=$(cat /var/lib/counter/n 2>/dev/null || echo 0); while true; do n=$((n+1)); echo $n > /var/lib/counter/n.tmp; mv /var/lib/counter/n.tmp /var/lib/counter/n; sleep 0.1; done\' </dev/null >/dev/null 2>&1 & echo $!';
    const pid = (await nodes.exec(cp.serverId, start)).stdout.trim();
    assert.match(pid, /^\d+$/);
    assert.equal((await nodes.exec(cp.serverId, 'criu check')).stdout.trim(), 'Looks good.');
    await until('counting', async () => (Number((await nodes.exec(cp.serverId, 'cat /var/lib/counter/n')).stdout) >= 3 ? true : undefined));
    const dump = await nodes.exec(cp.serverId, `mkdir -p /tmp/d && criu dump -t ${pid} -D /tmp/d --shell-job --tcp-established -o dump.log && cat /tmp/d/dump.log`);
    assert.equal(dump.code, 0, dump.stderr);
    assert.match(dump.stdout, /Dumping finished successfully/);
    // gone, or a zombie not yet reaped by the VM's pid 1
    assert.notEqual((await nodes.exec(cp.serverId, `grep -q '^State:.*[RSD]' /proc/${pid}/status`)).code, 0, 'dump kills the tree by default');
    // what the dump kept of the declared state file
    const saved = Number((await nodes.exec(cp.serverId, 'cat /tmp/d/state.img')).stdout);
    assert.ok(saved >= 3, `state.img holds the counter (${saved})`);
    await nodes.exec(cp.serverId, 'rm /var/lib/counter/n');
    const restore = await nodes.exec(cp.serverId, 'criu restore -D /tmp/d -d --shell-job --tcp-established --pidfile /tmp/restored.pid && cat /tmp/restored.pid');
    assert.equal(restore.code, 0, restore.stderr);
    const newPid = restore.stdout.trim();
    const first = Number((await nodes.exec(cp.serverId, 'cat /var/lib/counter/n')).stdout);
    assert.ok(first >= saved, `restore put the state back before the process started (${first} ≥ ${saved})`);
    await until('counting on from the saved state', async () => (Number((await nodes.exec(cp.serverId, 'cat /var/lib/counter/n 2>/dev/null')).stdout) > saved ? true : undefined));
    assert.equal((await nodes.exec(cp.serverId, `kill -0 ${newPid} && kill ${newPid}`)).code, 0);
    const missing = await nodes.exec(cp.serverId, 'criu restore -D /nonexistent -d');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Unable to open inventory\.img/);

    const other = await vms.create({ serverId: 'nocriu-1', name: 'nocriu-1', image: WORKER_NOCRIU_IMAGE, files: nodes.filesFor(WORKER_NOCRIU_IMAGE) });
    await until('nocriu up', () => vms.initPid(other.serverId));
    const check = await nodes.exec(other.serverId, 'criu check');
    assert.equal(check.code, 1);
    assert.match(check.stderr, /Looks like CRIU is not supported on this kernel/);
    await vms.remove(other.serverId);
  });

  it('node-stop fault: the VM powers off, the Node goes NotReady and its pod not ready; powered on, both come back', async () => {
    await nodes.stopNode('worker-1');
    await until('worker-1 NotReady', async () => ((await core.readNode({ name: 'worker-1' })).status!.conditions!.find((c) => c.type === 'Ready')!.status === 'Unknown' ? true : undefined));
    const pod = await core.readNamespacedPod({ name: 'counter', namespace: 'app' });
    assert.equal(pod.status!.conditions!.find((c) => c.type === 'Ready')!.status, 'False');
    await assert.rejects(kubelet(worker, kube, 'GET', '/healthz'));
    await nodes.startNode('worker-1');
    await until('worker-1 Ready again', async () => ((await core.readNode({ name: 'worker-1' })).status!.conditions!.find((c) => c.type === 'Ready')!.status === 'True' ? true : undefined));
    await until('counter Ready again', async () => {
      const p = await core.readNamespacedPod({ name: 'counter', namespace: 'app' });
      return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? true : undefined;
    });
  });

  it('kubeadm init on a bare control-plane VM starts a cluster at <vm>:6443; a worker joins it; it survives a power cycle', async () => {
    const bare = await vms.create({ serverId: 'bare-cp-1', name: 'bare-cp-1', image: CONTROL_PLANE_BARE_IMAGE, files: nodes.filesFor(CONTROL_PLANE_BARE_IMAGE) });
    await until('bare up', () => vms.initPid(bare.serverId));
    const refused = await nodes.exec(cp.serverId, 'kubeadm init');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /\/etc\/kubernetes\/admin\.conf already exists/);
    const init = await nodes.exec(bare.serverId, 'kubeadm init --node-name bare-cp-1 --pod-network-cidr=10.244.0.0/16');
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, /Your Kubernetes control-plane has initialized successfully!/);
    const m = new RegExp(`^kubeadm join ${bare.address.replace(/\./g, '\\.')}:6443 --token \\S+ --discovery-token-ca-cert-hash sha256:[0-9a-f]{64} $`, 'm').exec(init.stdout);
    assert.ok(m, init.stdout);
    const cluster = nodes.initClusters().get(bare.serverId)!;
    assert.equal(cluster.url, `https://${bare.address}:6443`);
    const kc = new KubeConfig();
    kc.loadFromString(cluster.kubeconfig());
    const core2 = kc.makeApiClient(CoreV1Api);
    const w2 = await vms.create({ serverId: 'worker-vm-2', name: 'worker-vm-2', image: WORKER_IMAGE, files: nodes.filesFor(WORKER_IMAGE) });
    nodes.attach(w2);
    await until('w2 up', () => vms.initPid(w2.serverId));
    const joined = await nodes.exec(w2.serverId, `${m[0].trim()} --node-name worker-2`);
    assert.equal(joined.code, 0, joined.stderr);
    await until('worker-2 Ready in the new cluster', async () => ((await core2.readNode({ name: 'worker-2' }).catch(() => undefined))?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? true : undefined));
    await vms.stop(bare.serverId);
    await until('API server down with its VM', () => (nodes.initClusters().has(bare.serverId) ? undefined : true));
    await vms.start(bare.serverId);
    const back = await until('API server back', () => nodes.initClusters().get(bare.serverId));
    const kc3 = new KubeConfig();
    kc3.loadFromString(back.kubeconfig());
    await until('worker-2 still known', async () => ((await kc3.makeApiClient(CoreV1Api).readNode({ name: 'worker-2' }).catch(() => undefined)) ? true : undefined));
    await nodes.detach(w2.serverId);
    await vms.remove(w2.serverId);
    await nodes.detach(bare.serverId);
    await vms.remove(bare.serverId);
  });
});
