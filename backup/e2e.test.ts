/**
 * Backup and restore end to end on the sandbox (real Kubernetes-API emulator, Tacker/Nova emulator,
 * real OpenSSH VMs, kubeadm-joined worker VMs whose pods run as real processes, a real Swift): one
 * service — a worker-node container writing into a hostPath and a local PV, containers with
 * in-memory state (kubelet checkpoint), a VM with a data dir and CRIU state — backed up to Swift and
 * to file://, deleted, restored byte-identical with its state, the VM recreated, the mesh Ready (and
 * from file:// into a mapped namespace); node selection; a node that does not answer; --plan on a
 * target that lacks things; integrity; faults (store gone mid-upload, cancel, a restore cut off and
 * run again); container state and hooks on a CRIU and a no-CRIU node.
 */
import { strict as assert } from 'node:assert';
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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
import type { Manifest } from './types.js';
import { KubeletClient, PodExecClient, kubeConfigFromText } from '../clients/kube/index.js';
import { WORKER_IMAGE, WORKER_NOCRIU_IMAGE } from '../sandbox/index.js';
import { KubeletCheckpointer, KubeNodeResolver } from './wiring.js';
import { counterScript as counter, readNumber } from '../test/helpers/counter.js';


/** the files container: writes its data once (a marker says so), then runs; a restart that finds the data leaves it as it is */
const FILES_SCRIPT = [
  'mkdir -p /var/lib/shop-files',
  'if [ -f /data/host/.written ]; then echo found >> /var/lib/shop-files/starts; else',
  '  mkdir -p /data/host/logs /data/ssd/db',
  '  i=0; while [ $i -lt 12 ]; do head -c $((1000 + i * 1537)) /dev/urandom > /data/host/logs/l$i.bin; i=$((i + 1)); done',
  '  i=0; while [ $i -lt 6 ]; do head -c $((40000 + i * 911)) /dev/urandom > /data/ssd/db/page$i.bin; i=$((i + 1)); done',
  '  echo "a name with spaces" > "/data/ssd/db/name with spaces.txt"',
  '  date > /data/host/.written; echo wrote >> /var/lib/shop-files/starts',
  'fi',
  counter('/var/lib/shop-files'),
].join('\n');

/**
 * The shop: a web container, a VM with a data dir and CRIU state, and `files`, a container on worker-c
 * that writes into a hostPath and a local PV once, then counts in memory (its state checkpointed).
 * `files` runs as the image's root user and writes its root filesystem (the counter): its own
 * securityContext replaces the hardened defaults.
 */
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
        vnfdId: 6a4b5a1e-0000-4000-8000-000000000003
        flavourId: simple
        ssh: {user: root, credentialsSecret: vm-ssh, hostKey: console}
        dataDirs: [/var/lib/db]
        checkpoint: {pidFile: /run/db.pid}
      backup: {state: checkpoint}
    - name: files
      runtime: container
      ports: [{name: http, port: 8080}]
      container:
        image: busybox:1.36
        command: [sh, -c, ${JSON.stringify(FILES_SCRIPT)}]
        env: [{name: SANDBOX_CRIU_STATE_FILE, value: /var/lib/shop-files/n}]
        securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: false}
        volumes:
          - {name: host, mountPath: /data/host, hostPath: {path: /srv/shop/files, type: DirectoryOrCreate}}
          - {name: ssd, mountPath: /data/ssd, persistentVolumeClaim: {claimName: shop-ssd}}
        nodeSelector: {kubernetes.io/hostname: worker-c}
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


const SHOP = { 'mixmesh.io/service': 'shop' };
const onWorker = { 'kubernetes.io/hostname': 'worker-c' };

/**
 * The shop's own objects beside its descriptor, labelled mixmesh.io/service=shop so that a backup of
 * the service takes them: the local PV on worker-c and its claim (the `files` microservice mounts
 * it), and `counter`, a bare Pod on worker-c whose in-memory count is checkpointed.
 */
function shopWorkloads(ns: string): KubeObject[] {
  return [
    { apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: 'shop-ssd', labels: SHOP }, spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], storageClassName: 'local-storage', local: { path: '/mnt/disks/shop-ssd' }, nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['worker-c'] }] }] } }, claimRef: { namespace: ns, name: 'shop-ssd' } } },
    { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'shop-ssd', namespace: ns, labels: SHOP }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'local-storage', volumeName: 'shop-ssd', resources: { requests: { storage: '1Gi' } } } },
    {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'counter', namespace: ns, labels: { ...SHOP, app: 'counter' }, annotations: { 'backup.mixmesh.io/state': 'checkpoint' } },
      spec: { nodeSelector: onWorker, containers: [{ name: 'counter', image: 'busybox:1.36', command: ['sh', '-c', `mkdir -p /var/lib/shop-counter; ${counter('/var/lib/shop-counter')}`], env: [{ name: 'SANDBOX_CRIU_STATE_FILE', value: '/var/lib/shop-counter/n' }] }] },
    },
  ] as unknown as KubeObject[];
}

/** a backup of the shop and the counters' values just before and just after it: the state it holds lies between */
interface ShopBackup { manifest: Manifest; pod: [number, number]; files: [number, number]; vm: [number, number] }

/** a state or data owner without the generated parts of its name */
const who = (owner: string): string => owner.startsWith('shop.shop.db.') ? 'db VM' : owner.replace(/^[a-z0-9-]+\/files-v1-[a-z0-9]+-[a-z0-9]+$/, 'files pod').replace(/^[a-z0-9-]+\/counter$/, 'counter pod');

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
  // worker VMs joined with kubeadm: worker-c (CRI-O with CRIU: checkpoints and restores), worker-n (a runtime that cannot restore)
  let workers: Record<'c' | 'n', SandboxVm>;
  // what the shop's own container wrote on worker-c (its hostPath and its local PV), by relative path
  let hostFiles: Record<string, string>;
  let ssdFiles: Record<string, string>;
  let shopBackups: Partial<Record<'swift' | 'file', ShopBackup>>;
  const onWorkerC = (...path: string[]) => join(workers.c.rootfs, ...path);

  const kube = () => w.stack.kube;
  const dbVm = () => {
    return (async () => {
      const svc = await kube().get({ apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService', namespace: 'shop', name: 'shop' });
      const addr = (svc as unknown as { status?: { microservices?: Array<{ name: string; instances?: Array<{ address?: string }> }> } }).status?.microservices?.find((m) => m.name === 'db')?.instances?.[0]?.address;
      return w.sandbox.vms.list().find((v) => v.address === addr);
    })();
  };

  const counters = async (): Promise<{ pod: number; files: number; vm: number }> => {
    const vm = await dbVm();
    return { pod: readNumber(onWorkerC('var/lib/shop-counter/n')) ?? -1, files: readNumber(onWorkerC('var/lib/shop-files/n')) ?? -1, vm: vm ? (readNumber(join(vm.rootfs, 'var/lib/counter/n')) ?? -1) : -1 };
  };

  /** a backup of the service: every kind of data captured, nothing else warned about */
  const backupShop = async (store: ObjectStore, name: string): Promise<ShopBackup> => {
    const before = await counters();
    const m = await runBackup({ ...deps(), store }, { name, selection: { service: { namespace: 'shop', name: 'shop' } } });
    const after = await counters();
    const names = new Set(m.items.map((i) => `${i.kind}/${i.namespace ?? ''}/${i.name}`));
    for (const n of ['MeshService/shop/shop', 'Namespace//shop', 'Deployment/shop/web-v1', 'Service/shop/web', 'Deployment/shop/files-v1', 'Pod/shop/counter', 'PersistentVolumeClaim/shop/shop-ssd', 'PersistentVolume//shop-ssd', 'StorageClass//local-storage', 'Secret/shop/vm-ssh']) assert.ok(names.has(n), `${n} captured: ${[...names].join(' ')}`);
    for (const k of ['ServiceAccount', 'DestinationRule', 'WorkloadEntry', 'WorkloadGroup', 'AuthorizationPolicy']) assert.ok(m.items.some((i) => i.kind === k), `a ${k} captured`);
    assert.ok(m.items.some((i) => i.kind === 'Pod' && /^files-/.test(i.name)), 'the files pod captured');
    const data = (type: string, n: string) => m.data.find((d) => d.type === type && d.name === n);
    assert.deepEqual([data('hostPath', 'host')?.result, data('hostPath', 'host')?.node, data('hostPath', 'host')?.files], ['captured', 'worker-c', 13], JSON.stringify(m.data));
    assert.deepEqual([data('local', 'ssd')?.result, data('local', 'ssd')?.node, data('local', 'ssd')?.files], ['captured', 'worker-c', 7], JSON.stringify(m.data));
    assert.deepEqual([data('vmDataDir', '0')?.result, data('vmDataDir', '0')?.files], ['captured', Object.keys(vmData).length]);
    // the VM's process by criu dump, both containers through the kubelet's checkpoint API on worker-c
    assert.deepEqual(m.state.map((x) => [who(x.owner), x.method, x.result]).sort(), [['counter pod', 'checkpoint', 'captured'], ['db VM', 'criu', 'captured'], ['files pod', 'checkpoint', 'captured']], JSON.stringify(m.state));
    // (the web pod's emptyDir is on the emulator's virtual node, which no SSH reaches: that warning only)
    assert.deepEqual(m.warnings.filter((x) => !/^volume shop\/web-/.test(x)), []);
    return { manifest: m, pod: [before.pod, after.pod], files: [before.files, after.files], vm: [before.vm, after.vm] };
  };

  /** the service deleted (its VMs terminated), its own workloads too; what they left on worker-c goes */
  const deleteShop = async (ns: string): Promise<void> => {
    const del = await w.api('DELETE', `/v1/services/${ns}/shop`);
    assert.equal(del.status, 202, del.text);
    for (const o of shopWorkloads(ns)) await kube().delete({ apiVersion: o.apiVersion, kind: o.kind, ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}), name: o.metadata.name });
    await until('the MeshService gone', async () => !(await kube().get({ apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService', namespace: ns, name: 'shop' })), 120_000);
    await until('the VM gone', async () => (await w.stack.openstack!.tacker.listVnfInstances()).length === 0, 120_000);
    await until('the pods gone', async () => (await kube().list('v1', 'Pod', { namespace: ns, labelSelector: 'mixmesh.io/service=shop' })).items.length === 0, 120_000);
    await until('the PV gone', async () => !(await kube().get({ apiVersion: 'v1', kind: 'PersistentVolume', name: 'shop-ssd' })), 120_000);
    await until('the processes gone', async () => (await w.sandbox.nodes.exec(workers.c.serverId, 'ps -o args | grep -q -e "[s]hop-counter" -e "[s]hop-files"')).code === 1, 120_000);
    rmSync(onWorkerC('srv/shop/files'), { recursive: true, force: true });
    rmSync(onWorkerC('mnt/disks/shop-ssd'), { recursive: true, force: true });
    mkdirSync(onWorkerC('mnt/disks/shop-ssd'), { recursive: true });
    rmSync(onWorkerC('var/lib/shop-counter'), { recursive: true, force: true });
    rmSync(onWorkerC('var/lib/shop-files'), { recursive: true, force: true });
  };

  /**
   * Restore the shop into `ns` and check everything came back. `mapImages`: the restore also maps
   * the images, so the files Deployment's template (and its pod-template-hash) changes and its new
   * ReplicaSet cannot adopt the pod restored from its checkpoint: a recorded cold start.
   */
  const restoreShop = async (store: ObjectStore, name: string, backup: string, ns: string, b: ShopBackup, mapImages = false): Promise<void> => {
    const mappings = { ...(ns === 'shop' ? {} : { namespaces: { shop: ns } }), ...(mapImages ? { images: { 'busybox:': 'docker.io/library/busybox:' } } : {}) };
    const res = await restoreBackup({ ...deps(), store }, { name, backup, mappings, vmWaitMs: 120_000 }, { vmHandoff: w.stack.backup.vmHandoff });
    assert.deepEqual(res.items.filter((i) => i.action === 'failed'), []);
    const filesState = mapImages ? ['files pod', 'cold-start', 'NOT_ADOPTED'] : ['files pod', 'restored', 'FROM_CHECKPOINT'];
    assert.deepEqual(res.state.map((x) => [who(x.owner), x.action, x.reason]).sort(), [['counter pod', 'restored', 'FROM_CHECKPOINT'], ['db VM', 'restored', 'CRIU_RESTORED'], filesState], JSON.stringify(res.state));
    if (mapImages) {
      // the one warning: the cold start, recorded with its reason (named as in the backup: the source namespace and pod)
      assert.equal(res.phase, 'CompletedWithWarnings', JSON.stringify(res.firstCause));
      assert.equal(res.warnings.length, 1, res.warnings.join('\n'));
      assert.match(res.warnings[0]!, /^shop\/files-v1-[a-z0-9]+-[a-z0-9]+\/files: cold start, .*\(NOT_ADOPTED\)/);
    } else {
      assert.equal(res.phase, 'Completed', JSON.stringify([res.firstCause, res.warnings]));
    }
    // node data written onto worker-c before the workloads, the VM's data onto the new VM before its sidecar
    // (the web pod's emptyDir, when it ran on a worker and was captured, has no known path: its controller makes a new pod)
    for (const x of res.data.filter((d) => d.name === 'tmp')) assert.deepEqual([x.owner.split('/')[1]!.slice(0, 7), x.action, x.reason], ['web-v1-', 'skipped', 'POD_NOT_RESTORED']);
    assert.deepEqual(res.data.filter((x) => x.name !== 'tmp').map((x) => [x.name, x.node, x.action, x.reason]).sort(), [['0', 'new VM', 'written', 'BEFORE_SIDECAR'], ['host', 'worker-c', 'written', undefined], ['ssd', 'worker-c', 'written', undefined]], JSON.stringify(res.data));
    // every item: created, or skipped with its reason (the files pod, whose state is restored, by name: its ReplicaSet adopts it)
    const skipped = res.items.filter((i) => i.action === 'skipped').map((i) => `${i.kind}/${i.name.replace(/^(web-v1)-[a-z0-9]+-[a-z0-9]+$/, '$1-*')}:${i.reason}`).sort();
    const expectSkipped = ['Pod/web-v1-*:OWNED_BY_CONTROLLER', 'StorageClass/local-storage:ALREADY_EXISTS', ...b.manifest.items.filter((i) => i.kind === 'WorkloadEntry').map((i) => `WorkloadEntry/${i.name}:MADE_BY_ORCHESTRATOR`)];
    if (ns === 'shop') expectSkipped.push('Namespace/shop:ALREADY_EXISTS', 'Secret/vm-ssh:ALREADY_EXISTS');
    assert.deepEqual(skipped.filter((x) => !/^(ServiceAccount|ConfigMap)\/(default|kube-root-ca\.crt|istio-ca-root-cert):CONTROLLER_MADE$/.test(x)), expectSkipped.sort());
    assert.equal(res.items.length, b.manifest.items.length);

    // the mesh Ready: the orchestrator recreated the VM through Tacker and registered it
    const ready = await until(`${ns}/shop Ready`, async () => {
      const s = await w.api('GET', `/v1/services/${ns}/shop`);
      return (s.json.status as { phase?: string } | undefined)?.phase === 'Ready' ? s.json : undefined;
    }, 180_000);
    // every object of the backup is there again (the web pod and the WorkloadEntry made anew by their controllers)
    for (const i of b.manifest.items) {
      if ((i.kind === 'Pod' && (i.name.startsWith('web-') || (mapImages && i.name.startsWith('files-')))) || i.kind === 'WorkloadEntry') continue;
      const ref = { apiVersion: i.apiVersion, kind: i.kind, ...(i.namespace ? { namespace: ns } : {}), name: i.kind === 'Namespace' ? ns : i.name };
      assert.ok(await kube().get(ref), `${i.kind} ${ns}/${i.name} restored`);
    }
    assert.equal((await kube().list('v1', 'Pod', { namespace: ns, labelSelector: 'app=web' })).items.length, 1, 'the web pod made again');
    assert.equal((await kube().list('networking.istio.io/v1', 'WorkloadEntry', { namespace: ns, labelSelector: 'mixmesh.io/service=shop' })).items.length, 1);
    // one files pod, its ReplicaSet's: the restored one adopted (or, not adopted, removed: never two)
    const files = (await kube().list('v1', 'Pod', { namespace: ns, labelSelector: 'app=files' })).items.filter((p) => !p.metadata.deletionTimestamp);
    assert.equal(files.length, 1, files.map((p) => p.metadata.name).join(' '));
    const filesOwner = (files[0]!.metadata as { ownerReferences?: Array<{ kind: string; controller?: boolean }> }).ownerReferences?.find((r) => r.controller)?.kind;
    assert.equal(filesOwner, 'ReplicaSet');
    const original = b.manifest.items.find((i) => i.kind === 'Pod' && i.name.startsWith('files-'))!.name;
    assert.equal(files[0]!.metadata.name === original, !mapImages, `the files pod ${files[0]!.metadata.name} (backed up as ${original})`);

    // the VM: its data byte-identical, its counter carried on from the dumped value
    const addr = (ready.status as { microservices: Array<{ name: string; instances?: Array<{ address: string }> }> }).microservices.find((x) => x.name === 'db')!.instances![0]!.address;
    const vm = w.sandbox.vms.list().find((v) => v.address === addr)!;
    assert.deepEqual(treeHashes(join(vm.rootfs, 'var/lib/db')), vmData);
    const vmFrom = await until('the restored db counter started', async () => readNumber(join(vm.rootfs, 'var/lib/counter/started-from')));
    assert.ok(vmFrom >= b.vm[0] && vmFrom <= b.vm[1], `the db counter started from ${vmFrom}, the backup took it between ${b.vm[0]} and ${b.vm[1]}`);
    // the containers restored from their checkpoints on worker-c carry on from the value the backup took (a cold start counts from 0)
    const podFrom = await until('the restored counter started', async () => readNumber(onWorkerC('var/lib/shop-counter/started-from')), 120_000);
    assert.ok(podFrom >= b.pod[0] && podFrom <= b.pod[1], `the counter started from ${podFrom}, the backup took it between ${b.pod[0]} and ${b.pod[1]}`);
    await until('the restored counter counting', async () => (readNumber(onWorkerC('var/lib/shop-counter/n')) ?? 0) > podFrom);
    // it runs from the archive; its ordinary image (mapped) stays on the pod, for the next restore of a backup of it
    const restored = await kube().get({ apiVersion: 'v1', kind: 'Pod', namespace: ns, name: 'counter' }) as unknown as { metadata: { annotations?: Record<string, string> }; spec: { containers: Array<{ image: string }> } };
    assert.match(restored.spec.containers[0]!.image, new RegExp(`^/var/lib/kubelet/checkpoints/restore-${name}-counter_shop-counter\\.tar$`));
    assert.equal(restored.metadata.annotations?.['image.backup.mixmesh.io/counter'], mapImages ? 'docker.io/library/busybox:1.36' : 'busybox:1.36');
    await until('the files pod running', async () => (await kube().list('v1', 'Pod', { namespace: ns, labelSelector: 'app=files' })).items.some((p) => (p as unknown as { status?: { phase?: string } }).status?.phase === 'Running'), 120_000);
    const starts = await until('the files container started', async () => { try { return readFileSync(onWorkerC('var/lib/shop-files/starts'), 'utf8') || undefined; } catch { return undefined; } }, 120_000);
    if (!mapImages) {
      const filesFrom = await until('the restored files counter started', async () => readNumber(onWorkerC('var/lib/shop-files/started-from')), 120_000);
      assert.ok(filesFrom >= b.files[0] && filesFrom <= b.files[1], `the files counter started from ${filesFrom}, the backup took it between ${b.files[0]} and ${b.files[1]}`);
      assert.equal(starts, 'found\n', 'one start, which found its data');
    }
    // the files container found its data when it started: the restore wrote it first; byte-identical, not written anew
    assert.match(starts, /^(found\n)+$/);
    assert.deepEqual(treeHashes(onWorkerC('srv/shop/files')), hostFiles);
    assert.deepEqual(treeHashes(onWorkerC('mnt/disks/shop-ssd')), ssdFiles);
    const pvc = await kube().get({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: ns, name: 'shop-ssd' }) as unknown as { status?: { phase?: string } };
    assert.equal(pvc.status?.phase, 'Bound');
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
      checkpointer: new KubeletCheckpointer(kube(), new KubeletClient(kubeConfigFromText(w.sandbox.kube.kubeconfig()))),
      podExec: new PodExecClient(kubeConfigFromText(w.sandbox.kube.kubeconfig())),
      vnfPackageUsable: async (id) => (await w.stack.openstack!.tacker.listPackages()).some((p) => p.vnfdId === id && p.onboardingState === 'ONBOARDED' && p.operationalState === 'ENABLED'),
    });

    await kube().create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
    await kube().create({ apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/ssh-auth', metadata: { name: 'vm-ssh', namespace: 'shop' }, data: { 'ssh-privatekey': Buffer.from(w.sandbox.sshPrivateKey).toString('base64') } } as KubeObject);
    // two worker VMs of the worker images join the cluster with kubeadm (a bootstrap token as kubeadm stores it)
    const id = 'bkstat';
    const secret = '0123456789abcdef';
    await kube().create({ apiVersion: 'v1', kind: 'Secret', type: 'bootstrap.kubernetes.io/token', metadata: { name: `bootstrap-token-${id}`, namespace: 'kube-system' }, stringData: { 'token-id': id, 'token-secret': secret, 'usage-bootstrap-authentication': 'true', expiration: new Date(Date.now() + 3_600_000).toISOString() } } as KubeObject);
    const joinWorker = async (serverId: string, name: string, image: string) => {
      const v = await w.sandbox.vms.create({ serverId, name, image, files: w.sandbox.nodes.filesFor(image) });
      w.sandbox.nodes.attach(v);
      return v;
    };
    workers = {
      c: await joinWorker('00000000-0000-4000-8000-0000000000c1', 'worker-c', WORKER_IMAGE),
      n: await joinWorker('00000000-0000-4000-8000-0000000000c2', 'worker-n', WORKER_NOCRIU_IMAGE),
    };
    for (const [k, v] of Object.entries(workers)) {
      await until(`worker-${k} up`, async () => (await w.sandbox.nodes.exec(v.serverId, 'true').catch(() => ({ code: 1 }))).code === 0);
      const joined = await w.sandbox.nodes.exec(v.serverId, `kubeadm join ${w.sandbox.kube.endpoint} --token ${id}.${secret} --discovery-token-ca-cert-hash ${w.sandbox.kube.caCertHash} --node-name worker-${k}`);
      assert.equal(joined.code, 0, joined.stderr);
    }
    // first the workers and the shop's own objects on worker-c (its local PV and claim, the counter pod): the service's
    // rollout waits for its Deployments, and files-v1 runs on worker-c with that claim
    mkdirSync(onWorkerC('mnt/disks/shop-ssd'), { recursive: true }); // a local PV's path exists on its node (a mounted disk)
    for (const o of shopWorkloads('shop')) await kube().create(o);

    const r = await w.api('PUT', '/v1/services/shop/shop', { body: SERVICE });
    assert.equal(r.status, 202, r.text);
    const op = await w.waitOperation(String(r.json.operationId), 120_000);
    assert.equal(op.state, 'Succeeded', JSON.stringify(op));
    const vm = await dbVm();
    assert.ok(vm, 'the db VM');
    vmData = fillTree(join(vm.rootfs, 'var/lib/db'), 20, 5000);
    // the db's in-memory state: a counter process, its pid where the descriptor's vm.checkpoint.pidFile says
    const started = await w.sandbox.nodes.exec(vm.serverId, `mkdir -p /var/lib/counter /run; cd /var/lib/counter; SANDBOX_CRIU_STATE_FILE=/var/lib/counter/n setsid sh -c '${counter('/var/lib/counter')}' </dev/null >/dev/null 2>&1 & echo $! > /run/db.pid`);
    assert.equal(started.code, 0, started.stderr);
    await until('the db counter past 5', async () => (readNumber(join(vm.rootfs, 'var/lib/counter/n')) ?? 0) >= 5);
    await until('the files container wrote its data', async () => existsSync(onWorkerC('srv/shop/files/.written')), 120_000).catch(async (e: unknown) => {
      const pods = await kube().list('v1', 'Pod', { namespace: 'shop', labelSelector: 'app=files' });
      const evs = await kube().list('v1', 'Event', { namespace: 'shop' });
      throw new Error(`${String(e)}: ${JSON.stringify(pods.items.map((p) => [p.metadata.name, (p as unknown as { spec: unknown }).spec, (p as unknown as { status: unknown }).status]))} ${JSON.stringify(evs.items.slice(-15).map((x) => (x as unknown as { message: string }).message))}`);
    });
    hostFiles = treeHashes(onWorkerC('srv/shop/files'));
    ssdFiles = treeHashes(onWorkerC('mnt/disks/shop-ssd'));
    assert.equal(Object.keys(hostFiles).length, 13, Object.keys(hostFiles).join(' '));
    assert.equal(Object.keys(ssdFiles).length, 7, Object.keys(ssdFiles).join(' '));
    assert.equal(readFileSync(onWorkerC('var/lib/shop-files/starts'), 'utf8'), 'wrote\n');
    for (const c of ['shop-counter', 'shop-files']) await until(`the ${c} counter past 5`, async () => (readNumber(onWorkerC('var/lib', c, 'n')) ?? 0) >= 5, 120_000);

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

  it('one service (a worker-node container writing to a hostPath and a local PV, a checkpointed container, a VM with a data dir): backed up to Swift and to file://, deleted, restored from Swift byte-identical with its state', async () => {
    shopBackups = { swift: await backupShop(stores.swift, 'shop-1') };
    assert.deepEqual((await listBackups(stores.swift)).map((b) => [b.name, b.complete]), [['shop-1', true]]);

    // the service goes: its VMs terminated, its workloads and their data gone from the node
    await deleteShop('shop');
    const plan = await restoreBackup(deps(), { name: 'r1-plan', backup: 'shop-1', plan: true });
    assert.deepEqual(plan.problems, []);
    assert.ok(plan.items.some((i) => i.kind === 'MeshService' && i.action === 'create'));
    // the Deployment's pod whose state is restored is created by name (its new ReplicaSet adopts it); the web pod is left to its controller
    assert.deepEqual(plan.items.filter((i) => i.kind === 'Pod').map((i) => [i.name.replace(/-[a-z0-9]+-[a-z0-9]+$/, '-*'), i.action, i.reason]).sort(), [['counter', 'create', undefined], ['files-v1-*', 'create', undefined], ['web-v1-*', 'skip', 'OWNED_BY_CONTROLLER']]);
    assert.deepEqual(plan.state.map((x) => [x.owner.replace(/-[a-z0-9]+-[a-z0-9]+$/, '-*'), x.action, x.node ?? x.reason]).sort(), [['shop.shop.db.v1.0', 'restore', 'new VM'], ['shop/counter', 'restore', 'worker-c'], ['shop/files-v1-*', 'restore', 'worker-c']]);
    await restoreShop(stores.swift, 'r1', 'shop-1', 'shop', shopBackups.swift!);
  });

  it('the restored service backed up to file://, deleted, restored into a mapped namespace with images mapped (the VM recreated there, the local PV bound to the mapped claim, the Deployment pod\'s state a recorded cold start)', async () => {
    // the restored service is backed up in turn (its containers run from checkpoint archives now), deleted, restored again
    shopBackups.file = await backupShop(stores.file, 'shop-file');
    await deleteShop('shop');
    await restoreShop(stores.file, 'r-file', 'shop-file', 'shop2', shopBackups.file, true);
    const pv = await kube().get({ apiVersion: 'v1', kind: 'PersistentVolume', name: 'shop-ssd' }) as unknown as { spec: { claimRef?: { namespace?: string } } };
    assert.equal(pv.spec.claimRef?.namespace, 'shop2');
    assert.equal((await w.stack.openstack!.tacker.listVnfInstances()).length, 1);
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
    const plan2 = await restoreBackup(deps(), { name: 'p2', backup: 'shop-1', plan: true, mappings: { namespaces: { shop: 'shop-q' }, vmPackages: { '6a4b5a1e-0000-4000-8000-000000000003': '6a4b5a1e-0000-4000-8000-0000000000ff' } } });
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

  it('container state: restored from its kubelet checkpoint on a CRIU node, a recorded cold start where the runtime cannot; hooks through pods/exec', async () => {
    await kube().create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'state' } });
    const pod = (node: 'c' | 'n') => ({
      apiVersion: 'v1', kind: 'Pod',
      metadata: {
        name: `counter-${node}`, namespace: 'state', labels: { app: `counter-${node}` },
        annotations: {
          'backup.mixmesh.io/state': 'checkpoint',
          // Velero-shaped hooks, run in the container through pods/exec; the one on worker-n fails
          'pre.hook.backup.mixmesh.io/command': JSON.stringify(node === 'c' ? ['sh', '-c', 'cat /var/lib/counter/n > /var/lib/counter/pre-hook'] : ['sh', '-c', 'echo frozen? >&2; exit 3']),
          'post.hook.backup.mixmesh.io/command': '["sh","-c","echo thawed > /var/lib/counter/post-hook"]',
          'post.hook.restore.mixmesh.io/command': '["sh","-c","echo restored > /var/lib/counter/restore-hook"]',
        },
      },
      spec: { nodeSelector: { 'kubernetes.io/hostname': `worker-${node}` }, containers: [{ name: 'c', image: 'busybox:1.36', command: ['sh', '-c', `mkdir -p /var/lib/counter; ${counter('/var/lib/counter')}`], env: [{ name: 'SANDBOX_CRIU_STATE_FILE', value: '/var/lib/counter/n' }] }] },
    } as KubeObject);
    const counterFile = (node: 'c' | 'n', f: string) => join(workers[node].rootfs, 'var/lib/counter', f);
    for (const n of ['c', 'n'] as const) await kube().create(pod(n));
    for (const n of ['c', 'n'] as const) await until(`counter-${n} past 5`, async () => (readNumber(counterFile(n, 'n')) ?? 0) >= 5, 120_000);
    const podGone = async (ns: string, name: string) => {
      await kube().delete({ apiVersion: 'v1', kind: 'Pod', namespace: ns, name });
      await until(`${ns}/${name} gone`, async () => !(await kube().get({ apiVersion: 'v1', kind: 'Pod', namespace: ns, name })), 120_000);
    };

    // the CRIU node: checkpointed through the kubelet API, the archive fetched over SSH (and not left on the node)
    const mc = await runBackup(deps(), { name: 'state-c', selection: { node: 'worker-c', namespaces: ['state'] } });
    assert.deepEqual(mc.state.map((x) => [x.owner, x.container, x.method, x.result]), [['state/counter-c', 'c', 'checkpoint', 'captured']], JSON.stringify(mc.state));
    assert.equal(mc.phase, 'Completed', JSON.stringify(mc.warnings));
    assert.deepEqual(readdirSync(join(workers.c.rootfs, 'var/lib/kubelet/checkpoints')).filter((f) => f.startsWith('checkpoint-')), []);
    // the hooks ran in the container (its view of the VM's files), before and after the capture
    assert.deepEqual(mc.hooks?.map((h) => [h.phase, h.result]), [['pre', 'ran'], ['post', 'ran']]);
    assert.ok((readNumber(counterFile('c', 'pre-hook')) ?? 0) >= 5);
    assert.equal(readFileSync(counterFile('c', 'post-hook'), 'utf8'), 'thawed\n');
    // the node without CRIU: the kubelet answers 500; recorded, the rest completes with warnings
    const mn = await runBackup({ ...deps(), store: stores.file }, { name: 'state-n', selection: { node: 'worker-n', namespaces: ['state'] } });
    assert.deepEqual(mn.state.map((x) => [x.owner, x.method, x.result, x.reason]), [['state/counter-n', 'checkpoint', 'failed', 'CHECKPOINT_FAILED']]);
    assert.match(mn.state[0]!.message ?? '', /CRIU is not supported on this kernel|checkpoint/);
    assert.equal(mn.phase, 'CompletedWithWarnings');
    assert.deepEqual(mn.hooks?.map((h) => [h.phase, h.result, h.reason, h.code]), [['pre', 'failed', 'HOOK_FAILED', 3], ['post', 'ran', undefined, 0]]);
    assert.ok(mn.warnings.some((x) => /state\/counter-n\/c: pre hook failed \(exit code 3: frozen\?\)/.test(x)), mn.warnings.join('\n'));

    // the pods go, and so does what their processes left on the nodes
    await podGone('state', 'counter-c');
    await podGone('state', 'counter-n');
    for (const vm of Object.values(workers)) await until('the counter processes gone', async () => (await w.sandbox.nodes.exec(vm.serverId, 'ps -o args | grep -q "[/]var/lib/counter/n"')).code === 1);
    rmSync(join(workers.c.rootfs, 'var/lib/counter'), { recursive: true, force: true });
    rmSync(join(workers.n.rootfs, 'var/lib/counter'), { recursive: true, force: true });

    const plan = await restoreBackup(deps(), { name: 'r-state-plan', backup: 'state-c', plan: true });
    assert.deepEqual(plan.state.map((x) => [x.action, x.node]), [['restore', 'worker-c']]);
    const rc = await restoreBackup(deps(), { name: 'r-state-c', backup: 'state-c' });
    assert.equal(rc.phase, 'Completed', JSON.stringify(rc, null, 1));
    assert.deepEqual(rc.state.map((x) => [x.owner, x.action, x.reason]), [['state/counter-c', 'restored', 'FROM_CHECKPOINT']]);
    const fromC = await until('the restored counter started', async () => readNumber(counterFile('c', 'started-from')), 120_000);
    assert.ok(fromC >= 5, `the restored container started from ${fromC}, not from 0`);
    assert.deepEqual(rc.hooks?.map((h) => [h.owner, h.phase, h.result]), [['state/counter-c', 'restorePost', 'ran']]);
    assert.equal(readFileSync(counterFile('c', 'restore-hook'), 'utf8'), 'restored\n');

    const rn = await restoreBackup({ ...deps(), store: stores.file }, { name: 'r-state-n', backup: 'state-n' });
    assert.equal(rn.phase, 'CompletedWithWarnings');
    assert.deepEqual(rn.state.map((x) => [x.action, x.reason]), [['cold-start', 'CHECKPOINT_FAILED']]);
    assert.ok(rn.warnings.some((x) => /state\/counter-n\/c: cold start/.test(x)), rn.warnings.join('\n'));
    // (wrapped: a cold start counts from 0, which is falsy)
    const cold = await until('the cold-started counter', async () => { const v = readNumber(counterFile('n', 'started-from')); return v === undefined ? undefined : { v }; }, 120_000);
    assert.equal(cold.v, 0);

    // the checkpoint restored onto a node whose runtime cannot: a cold start with the reason, the pod runs from its image
    const rm = await restoreBackup(deps(), { name: 'r-state-m', backup: 'state-c', mappings: { namespaces: { state: 'state-m' }, nodes: { 'worker-c': 'worker-n' } } });
    assert.equal(rm.phase, 'CompletedWithWarnings');
    assert.deepEqual(rm.state.map((x) => [x.action, x.reason]), [['cold-start', 'RESTORE_UNSUPPORTED']]);
    const moved = await kube().get({ apiVersion: 'v1', kind: 'Pod', namespace: 'state-m', name: 'counter-c' }) as unknown as { spec: { nodeName?: string; containers: Array<{ image: string }> } };
    assert.equal(moved.spec.containers[0]!.image, 'busybox:1.36');
    assert.equal(moved.spec.nodeName, 'worker-n');
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
