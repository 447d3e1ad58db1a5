/**
 * Backup and restore end to end on the sandbox (real Kubernetes-API emulator, Tacker/Nova emulator,
 * real OpenSSH VMs, a real Swift): a service with a VM data dir and a node with a hostPath and a
 * local PV, backed up to Swift and to file://, deleted, restored byte-identical; node selection;
 * a node that does not answer; --plan on a target that lacks things; faults (store gone mid-upload,
 * cancel, a restore cut off and run again).
 */
import { strict as assert } from 'node:assert';
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMixmeshError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import type { KubeObject } from '../clients/kube/index.js';
import { startSwift, type SwiftServer } from '../sandbox/swift/index.js';
import type { SandboxVm } from '../sandbox/index.js';
import { startWorld, type World } from '../test/e2e/world.js';
import { fillTree, treeHashes } from '../test/helpers/trees.js';
import { BackupReader, listBackups } from './archive.js';
import { runBackup, type BackupDeps } from './capture.js';
import { generateStoreKeys, parseKek, type StoreKeys } from './crypto.js';
import { SshNodeAccess } from './nodes.js';
import { restoreBackup, type RestoreDeps } from './restore.js';
import { openStore, type ObjectStore } from './stores.js';
import { KubeNodeResolver } from './wiring.js';

const SERVICE = `apiVersion: mixmesh.io/v1alpha1
kind: MeshService
metadata: {name: shop, namespace: shop}
spec:
  microservices:
    - name: web
      runtime: container
      ports: [{name: http, port: 8080}]
      container: {image: registry.old/web:1.0.0}
    - name: db
      runtime: vm
      ports: [{name: sql, port: 5432, protocol: TCP}]
      vm:
        vnfdId: 6a4b5a1e-0000-4000-8000-000000000001
        flavourId: simple
        ssh: {user: root, credentialsSecret: vm-ssh, hostKey: console}
        dataDirs: [/var/lib/db]
        checkpoint: {pidFile: /run/db.pid}
      backup: {state: checkpoint}
  connections:
    - {from: web, to: db}
`;

function keysOf(): StoreKeys {
  const g = generateStoreKeys();
  return { kek: parseKek(g.kek.toString('base64')), signingKey: createPrivateKey(g.signingKeyPem), publicKey: createPublicKey(g.publicKeyPem) };
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** writes to the emulator, without the orchestrator's own bookkeeping (Lease renewals, Events) running beside */
async function writes(w: World): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const e of (await w.kubeRequests()).entries) {
    if (e.dryRun || !['create', 'update', 'patch', 'delete', 'deletecollection'].includes(e.verb) || ['Lease', 'Event'].includes(e.kind)) continue;
    out[e.kind] = (out[e.kind] ?? 0) + e.count;
  }
  return out;
}

describe('e2e: backup and restore on the sandbox', function () {
  this.timeout(240_000);
  let w: World;
  let swift: SwiftServer;
  let worker: SandboxVm;
  let nodes: SshNodeAccess;
  let stores: Record<'swift' | 'file', ObjectStore>;
  const keys = keysOf();
  // every log line of backup and restore (debug level), checked for keys and tokens at the end
  const logLines: string[] = [];
  const log = createLogger({ level: 'debug', destination: { write: (line: string) => { logLines.push(line); } } });
  let vmData: Record<string, string>;
  let hostData: Record<string, string>;
  let localData: Record<string, string>;
  let deps: () => BackupDeps & RestoreDeps;

  const kube = () => w.stack.kube;
  const dbVm = () => {
    return (async () => {
      const svc = await kube().get({ apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService', namespace: 'shop', name: 'shop' });
      const addr = (svc as unknown as { status?: { microservices?: Array<{ name: string; instances?: Array<{ address?: string }> }> } }).status?.microservices?.find((m) => m.name === 'db')?.instances?.[0]?.address;
      return w.sandbox.vms.list().find((v) => v.address === addr);
    })();
  };

  before(async () => {
    [w, swift] = await Promise.all([startWorld(), startSwift()]);
    stores = {
      swift: openStore({ url: 's3://mixmesh-backups/e2e', s3: { endpoint: swift.endpoint, ...swift.s3 } }),
      file: openStore({ url: `file://${join(w.dir, 'backups')}` }),
    };
    nodes = new SshNodeAccess(log);
    // a worker node: a sandbox VM registered as a Node (until the worker image exists)
    worker = await w.sandbox.vms.create({ serverId: '00000000-0000-4000-8000-0000000000a1', name: 'worker-1' });
    const createNode = async (name: string, address: string) => {
      await kube().create({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name } } } as KubeObject);
      await kube().mergePatch({ apiVersion: 'v1', kind: 'Node', name }, { status: { addresses: [{ type: 'InternalIP', address }] } }, { subresource: 'status' });
    };
    await createNode('worker-1', worker.address);
    // a node whose SSH never answers
    await createNode('worker-dead', '127.0.10.254');
    const knownHosts = () => w.sandbox.vms.list().map((v) => `${v.address} ${v.hostPublicKey}`).join('\n');
    deps = () => ({
      kube: kube(), store: stores.swift, keys, nodes, log,
      resolver: new KubeNodeResolver(kube(), { user: 'root', privateKey: w.sandbox.sshPrivateKey, knownHosts: `${knownHosts()}\n127.0.10.254 ${worker.hostPublicKey}` }, async (serverId) => {
        const vm = w.sandbox.vms.list().find((v) => v.serverId === serverId);
        return vm ? [vm.hostPublicKey] : [];
      }),
      vnfPackageUsable: async (id) => (await w.stack.openstack!.tacker.listPackages()).some((p) => p.vnfdId === id && p.onboardingState === 'ONBOARDED' && p.operationalState === 'ENABLED'),
    });

    await kube().create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
    await kube().create({ apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/ssh-auth', metadata: { name: 'vm-ssh', namespace: 'shop' }, data: { 'ssh-privatekey': Buffer.from(w.sandbox.sshPrivateKey).toString('base64') } } as KubeObject);
    const r = await w.api('PUT', '/v1/services/shop/shop', { body: SERVICE });
    assert.equal(r.status, 202, r.text);
    const op = await w.waitOperation(String(r.json.operationId), 120_000);
    assert.equal(op.state, 'Succeeded', JSON.stringify(op));
    const vm = await dbVm();
    assert.ok(vm, 'the db VM');
    vmData = fillTree(join(vm.rootfs, 'var/lib/db'), 20, 5000);

    // node-local volumes on worker-1: a hostPath pod and a local PV + PVC
    hostData = fillTree(join(worker.rootfs, 'data/cache'), 10, 3000);
    localData = fillTree(join(worker.rootfs, 'mnt/disks/ssd1'), 5, 70_000);
    // the sandbox seeds StorageClass local-storage (kubernetes.io/no-provisioner, WaitForFirstConsumer), as kind and k3s clusters seed theirs
    assert.ok(await kube().get({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', name: 'local-storage' }), 'the seeded StorageClass');
    await kube().create({ apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: 'ssd1' }, spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], storageClassName: 'local-storage', local: { path: '/mnt/disks/ssd1' }, nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['worker-1'] }] }] } }, claimRef: { namespace: 'shop', name: 'ssd' } } } as KubeObject);
    await kube().create({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'ssd', namespace: 'shop' }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'local-storage', volumeName: 'ssd1', resources: { requests: { storage: '1Gi' } } } } as KubeObject);
    await kube().create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cache-config', namespace: 'shop' }, data: { mode: 'lru' } } as KubeObject);
    await kube().create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'cache', namespace: 'shop', labels: { app: 'cache' } }, spec: { nodeName: 'worker-1', containers: [{ name: 'cache', image: 'registry.old/cache:2', envFrom: [{ configMapRef: { name: 'cache-config' } }] }], volumes: [{ name: 'data', hostPath: { path: '/data/cache' } }, { name: 'ssd', persistentVolumeClaim: { claimName: 'ssd' } }] } } as KubeObject);
    await kube().create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'cache', namespace: 'shop' }, spec: { selector: { app: 'cache' }, clusterIP: '10.0.0.42', ports: [{ port: 6379, nodePort: 30001 }] } } as KubeObject);
    await kube().create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'elsewhere', namespace: 'shop', labels: { app: 'other' } }, spec: { nodeName: 'worker-2', containers: [{ name: 'x', image: 'x' }] } } as KubeObject);
    await kube().create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'lost', namespace: 'shop', labels: { app: 'lost' } }, spec: { nodeName: 'worker-dead', containers: [{ name: 'x', image: 'x' }], volumes: [{ name: 'd', hostPath: { path: '/data/lost' } }] } } as KubeObject);
  });
  after(async () => {
    await nodes?.close();
    stores?.swift.close();
    await swift?.stop();
    await w?.stop();
  });

  it('a MeshService with a VM data dir: backed up to Swift, deleted, restored with the VM recreated, data byte-identical', async () => {
    const m = await runBackup(deps(), { name: 'shop-1', selection: { service: { namespace: 'shop', name: 'shop' } } });
    const kinds = new Set(m.items.map((i) => i.kind));
    for (const k of ['MeshService', 'Namespace', 'Deployment', 'Service', 'ServiceAccount', 'DestinationRule', 'WorkloadEntry', 'WorkloadGroup']) assert.ok(kinds.has(k), `${k} captured: ${[...kinds].join(',')}`);
    const d = m.data.find((x) => x.type === 'vmDataDir')!;
    assert.equal(d.result, 'captured', JSON.stringify(d));
    assert.equal(d.files, Object.keys(vmData).length);
    // the busybox VM has no criu: recorded fallback, never a silent one
    assert.deepEqual(m.state.map((s) => [s.method, s.result, s.reason]), [['none', 'skipped', 'CRIU_UNAVAILABLE']]);
    assert.equal(m.phase, 'CompletedWithWarnings');
    assert.deepEqual((await listBackups(stores.swift)).map((b) => [b.name, b.complete]), [['shop-1', true]]);

    // the service goes (VMs terminated)
    const del = await w.api('DELETE', '/v1/services/shop/shop');
    assert.equal(del.status, 202, del.text);
    await until('the MeshService gone', async () => !(await kube().get({ apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService', namespace: 'shop', name: 'shop' })));
    await until('the VM gone', async () => (await w.stack.openstack!.tacker.listVnfInstances()).length === 0);

    const plan = await restoreBackup(deps(), { name: 'r1-plan', backup: 'shop-1', plan: true });
    assert.deepEqual(plan.problems, []);
    assert.ok(plan.items.some((i) => i.kind === 'MeshService' && i.action === 'create'));
    // the orchestrator's before-injection hook takes the VM data: written before the new VM's sidecar starts
    const res = await restoreBackup(deps(), { name: 'r1', backup: 'shop-1', vmWaitMs: 120_000 }, { vmHandoff: w.stack.backup.vmHandoff });
    assert.notEqual(res.phase, 'Failed', JSON.stringify(res.firstCause));
    assert.deepEqual(res.items.filter((i) => i.action === 'failed'), []);
    const we = res.items.find((i) => i.kind === 'WorkloadEntry');
    assert.equal(we?.action, 'skipped');
    assert.equal(we?.reason, 'MADE_BY_ORCHESTRATOR');
    assert.deepEqual(res.data.map((x) => [x.action, x.reason]), [['written', 'BEFORE_SIDECAR']], JSON.stringify(res.data));
    await until('the service Ready again', async () => {
      const s = await w.api('GET', '/v1/services/shop/shop');
      return (s.json.status as { phase?: string } | undefined)?.phase === 'Ready';
    }, 120_000);
    const vm = await dbVm();
    assert.ok(vm);
    assert.deepEqual(treeHashes(join(vm.rootfs, 'var/lib/db')), vmData);
  });

  it('the same with file://, restored into another namespace (the VM recreated there with its data)', async () => {
    const m = await runBackup({ ...deps(), store: stores.file }, { name: 'shop-file', selection: { service: { namespace: 'shop', name: 'shop' } } });
    assert.equal(m.data.find((x) => x.type === 'vmDataDir')?.result, 'captured');
    await kube().create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop2' } });
    await kube().create({ apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/ssh-auth', metadata: { name: 'vm-ssh', namespace: 'shop2' }, data: { 'ssh-privatekey': Buffer.from(w.sandbox.sshPrivateKey).toString('base64') } } as KubeObject);
    const res = await restoreBackup({ ...deps(), store: stores.file }, { name: 'r-file', backup: 'shop-file', mappings: { namespaces: { shop: 'shop2' } }, vmWaitMs: 120_000 }, { vmHandoff: w.stack.backup.vmHandoff });
    assert.notEqual(res.phase, 'Failed', JSON.stringify(res.firstCause));
    assert.deepEqual(res.data.map((x) => [x.action, x.reason]), [['written', 'BEFORE_SIDECAR']], JSON.stringify(res.data));
    const ready = await until('shop2/shop Ready', async () => {
      const s2 = await w.api('GET', '/v1/services/shop2/shop');
      return (s2.json.status as { phase?: string } | undefined)?.phase === 'Ready' ? s2.json : undefined;
    }, 120_000);
    const addr = (ready.status as { microservices: Array<{ name: string; instances?: Array<{ address: string }> }> }).microservices.find((x) => x.name === 'db')!.instances![0]!.address;
    const vm = w.sandbox.vms.list().find((v) => v.address === addr)!;
    assert.deepEqual(treeHashes(join(vm.rootfs, 'var/lib/db')), vmData);
    // both services run side by side: two VNFs now
    assert.equal((await w.stack.openstack!.tacker.listVnfInstances()).length, 2);
  });

  it('node selection captures exactly that node\'s pods and what they need; an unreachable node is a failed item, the rest completes with warnings', async () => {
    const m = await runBackup(deps(), { name: 'node-1', selection: { node: 'worker-1' } });
    const names = m.items.map((i) => `${i.kind}/${i.namespace ?? ''}/${i.name}`).sort();
    assert.deepEqual(names.filter((n) => n.startsWith('Pod/')), ['Pod/shop/cache']);
    for (const n of ['ConfigMap/shop/cache-config', 'PersistentVolumeClaim/shop/ssd', 'PersistentVolume//ssd1', 'StorageClass//local-storage', 'Service/shop/cache', 'Namespace//shop']) assert.ok(names.includes(n), `${n} in ${names.join(' ')}`);
    assert.deepEqual(m.data.map((d) => [d.type, d.result, d.files]), [['hostPath', 'captured', 11], ['local', 'captured', 6]], JSON.stringify(m.data.map((d) => d.message)));
    assert.equal(m.phase, 'Completed');

    const dead = await runBackup({ ...deps(), store: stores.file }, { name: 'dead-1', selection: { node: 'worker-dead' } });
    assert.equal(dead.phase, 'CompletedWithWarnings');
    assert.deepEqual(dead.data.map((d) => [d.result, d.reason]), [['failed', 'NODE_UNREACHABLE']]);
    assert.ok(dead.items.some((i) => i.kind === 'Pod' && i.name === 'lost'));
  });

  it('restores a node to another namespace (file:// too), data byte-identical, strip rules applied', async () => {
    const f = await runBackup({ ...deps(), store: stores.file }, { name: 'node-file', selection: { node: 'worker-1' } });
    assert.equal(f.phase, 'Completed');
    // the node loses its data
    rmSync(join(worker.rootfs, 'data/cache'), { recursive: true, force: true });
    rmSync(join(worker.rootfs, 'mnt/disks/ssd1'), { recursive: true, force: true });
    mkdirSync(join(worker.rootfs, 'mnt/disks/ssd1'), { recursive: true }); // a local PV's path exists on the node
    for (const [store, name] of [[stores.file, 'node-file'], [stores.swift, 'node-1']] as const) {
      const target = store === stores.file ? 'shop-f' : 'shop-s';
      const res = await restoreBackup({ ...deps(), store }, { name: `r-${target}`, backup: name, mappings: { namespaces: { shop: target }, images: { 'registry.old/': 'registry.new/' } }, conflict: 'skip' });
      assert.equal(res.phase, 'Completed', JSON.stringify(res, null, 1));
      assert.deepEqual(treeHashes(join(worker.rootfs, 'data/cache')), hostData);
      assert.deepEqual(treeHashes(join(worker.rootfs, 'mnt/disks/ssd1')), localData);
      const pod = await kube().get({ apiVersion: 'v1', kind: 'Pod', namespace: target, name: 'cache' }) as unknown as { spec: { nodeName?: string; containers: Array<{ image: string }> }; metadata: { labels: Record<string, string> } };
      assert.equal(pod.spec.containers[0]!.image, 'registry.new/cache:2');
      assert.equal(pod.spec.nodeName, undefined);
      assert.equal(pod.metadata.labels['backup.mixmesh.io/restore'], `r-${target}`);
      const svc = await kube().get({ apiVersion: 'v1', kind: 'Service', namespace: target, name: 'cache' }) as unknown as { spec: { clusterIP?: string; ports: Array<{ nodePort?: number }> } };
      assert.notEqual(svc.spec.clusterIP, '10.0.0.42');
      assert.equal(svc.spec.ports[0]!.nodePort, undefined);
      // the PV is cluster-scoped and exists: skipped with a reason, not failed
      const pv = res.items.find((i) => i.kind === 'PersistentVolume')!;
      assert.deepEqual([pv.action, pv.reason], ['skipped', 'ALREADY_EXISTS']);
    }
  });

  it('--plan on a target that lacks a StorageClass, a node and a VNF package lists each problem and changes nothing', async () => {
    await kube().delete({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', name: 'local-storage' });
    await w.resetKubeRequests();
    const plan = await restoreBackup(deps(), { name: 'p1', backup: 'node-1', plan: true, mappings: { namespaces: { shop: 'shop-p' }, nodes: { 'worker-1': 'worker-9' }, storageClasses: { 'local-storage': 'fast' } } });
    const text = plan.problems.map((p) => p.message).join('\n');
    assert.match(text, /StorageClass fast does not exist/);
    assert.match(text, /node worker-9 .* does not exist/);
    assert.equal(plan.phase, 'Failed');
    const plan2 = await restoreBackup(deps(), { name: 'p2', backup: 'shop-1', plan: true, mappings: { namespaces: { shop: 'shop-q' }, vmPackages: { '6a4b5a1e-0000-4000-8000-000000000001': '6a4b5a1e-0000-4000-8000-0000000000ff' } } });
    assert.match(plan2.problems.map((p) => p.message).join('\n'), /VNF package 6a4b5a1e-0000-4000-8000-0000000000ff .* not ONBOARDED/);
    // a real restore with problems refuses before any change
    await assert.rejects(restoreBackup(deps(), { name: 'p3', backup: 'node-1', mappings: { namespaces: { shop: 'shop-p' }, storageClasses: { 'local-storage': 'fast' } } }), (e: unknown) => isMixmeshError(e) && e.code === 'RESTORE_PREFLIGHT_FAILED');
    assert.deepEqual(await writes(w), {});
    await kube().create({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'local-storage' }, provisioner: 'kubernetes.io/no-provisioner' } as KubeObject);
  });

  it('a flipped byte in the store or a forged manifest fails the restore before any change', async () => {
    const dir = join(w.dir, 'backups/backups/node-file');
    const victim = join(dir, 'resources.tar.gz');
    const bytes = readFileSync(victim);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length >> 1] = (flipped[flipped.length >> 1] ?? 0) ^ 0x01;
    writeFileSync(victim, flipped);
    await w.resetKubeRequests();
    await assert.rejects(restoreBackup({ ...deps(), store: stores.file }, { name: 'bad', backup: 'node-file', mappings: { namespaces: { shop: 'shop-x' } } }), (e: unknown) => isMixmeshError(e) && e.code === 'BACKUP_INTEGRITY');
    writeFileSync(victim, bytes);
    const manifest = readFileSync(join(dir, 'manifest.json'), 'utf8');
    writeFileSync(join(dir, 'manifest.json'), manifest.replace('"phase": "Completed"', '"phase": "Completed" '));
    await assert.rejects(restoreBackup({ ...deps(), store: stores.file }, { name: 'bad', backup: 'node-file', mappings: { namespaces: { shop: 'shop-x' } } }), (e: unknown) => isMixmeshError(e) && e.code === 'BACKUP_SIGNATURE_INVALID');
    writeFileSync(join(dir, 'manifest.json'), manifest);
    await assert.rejects(restoreBackup({ ...deps(), store: stores.file, keys: { ...keys, kek: randomBytes(32) } }, { name: 'bad', backup: 'node-file' }), (e: unknown) => isMixmeshError(e) && e.code === 'BACKUP_KEY_INVALID');
    assert.deepEqual(await writes(w), {});
  });

  it('a restore cut off half-way (cancel) and run again finishes without duplicates', async () => {
    const ac = new AbortController();
    let created = 0;
    const cut = await restoreBackup({ ...deps(), kube: new Proxy(kube(), { get: (t, p) => (p === 'create' ? async (o: KubeObject) => { const r = await t.create(o); if (++created === 3) ac.abort(); return r; } : (t as unknown as Record<string | symbol, unknown>)[p as string]) }) as typeof deps extends () => infer D ? D extends { kube: infer K } ? K : never : never }, { name: 'r-cut', backup: 'node-1', mappings: { namespaces: { shop: 'shop-c' } } }, { signal: ac.signal });
    assert.equal(cut.phase, 'Failed');
    assert.equal(cut.firstCause?.code, 'BACKUP_CANCELLED');
    const again = await restoreBackup(deps(), { name: 'r-cut', backup: 'node-1', mappings: { namespaces: { shop: 'shop-c' } } });
    assert.equal(again.phase, 'Completed', JSON.stringify(again.items.filter((i) => i.action === 'failed')));
    assert.equal(again.items.filter((i) => i.reason === 'RESUMED').length, 3);
    const pods = await kube().list('v1', 'Pod', { namespace: 'shop-c' });
    assert.equal(pods.items.length, 1);
  });

  it('the store going away mid-upload fails the backup cleanly: nothing listed complete', async () => {
    const big = join(worker.rootfs, 'data/big');
    mkdirSync(big, { recursive: true });
    for (let i = 0; i < 8; i++) writeFileSync(join(big, `b${i}`), randomBytes(4 * 1024 * 1024));
    await kube().create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'big', namespace: 'shop', labels: { app: 'big' } }, spec: { nodeName: 'worker-1', containers: [{ name: 'x', image: 'x' }], volumes: [{ name: 'big', hostPath: { path: '/data/big' } }] } } as KubeObject);
    const dir = join(w.dir, 'swift-2');
    let s2 = await startSwift({ dir });
    const port = Number(new URL(s2.endpoint).port);
    const store = openStore({ url: 's3://mixmesh-backups/fault', s3: { endpoint: s2.endpoint, ...s2.s3, partSize: 5 * 1024 * 1024 } });
    try {
      let stopping: Promise<void> | undefined;
      await assert.rejects(
        runBackup({ ...deps(), store }, { name: 'interrupted', selection: { node: 'worker-1' } }, { onProgress: (p) => { if (p.bytes > 6 * 1024 * 1024 && !stopping) stopping = s2.stop(); } }),
        (e: unknown) => isMixmeshError(e) && e.code === 'BACKUP_STORE_FAILED',
      );
      await stopping;
      s2 = await startSwift({ dir, port });
      const again = openStore({ url: 's3://mixmesh-backups/fault', s3: { endpoint: s2.endpoint, ...s2.s3 } });
      assert.ok((await listBackups(again)).every((b) => !b.complete), 'no complete backup');
      await assert.rejects(BackupReader.open(again, 'interrupted', keys), (e: unknown) => isMixmeshError(e) && ['BACKUP_INCOMPLETE', 'BACKUP_NOT_FOUND'].includes(e.code));
      again.close();
    } finally {
      store.close();
      await s2.stop();
      await kube().delete({ apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'big' });
    }
  });

  it('a cancelled backup leaves nothing in the store', async () => {
    const ac = new AbortController();
    await assert.rejects(runBackup({ ...deps(), store: stores.file }, { name: 'cancelled', selection: { node: 'worker-1' } }, { signal: ac.signal, onProgress: (p) => { if (p.phase === 'Data') ac.abort(); } }), (e: unknown) => isMixmeshError(e) && e.code === 'BACKUP_CANCELLED');
    assert.ok(!(await listBackups(stores.file)).some((b) => b.name === 'cancelled'));
  });

  it('no key, token or Secret value appears in any log line', () => {
    assert.ok(logLines.length > 10, `${logLines.length} log lines`);
    const text = logLines.join('');
    const body = (pem: string) => pem.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
    const needles = [
      keys.kek!.toString('base64'),
      body(keys.signingKey!.export({ format: 'pem', type: 'pkcs8' }).toString()),
      body(w.sandbox.sshPrivateKey).slice(0, 40),
      'PRIVATE KEY',
      w.sandbox.kube.token,
      w.tokens.admin,
    ];
    for (const n of needles) assert.equal(text.includes(n), false, `a secret (${n.slice(0, 6)}…) is in the logs`);
  });
});
