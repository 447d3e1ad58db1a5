/**
 * Migration end to end on two sandbox clouds (real OpenSSH VMs made by each cloud's Tacker, real
 * kubeadm command lines, each cloud's own Kubernetes emulator): a worker of the source holding a pod
 * with local data and a pod with in-memory state (kubelet checkpoint) is backed up, stops, and its
 * workload moves to a new worker VM in the target (the state restored there: its runtime is CRI-O).
 * Faults: Tacker fails the worker instantiate once (retried) and always (rolled back, nothing left);
 * a wrong join token; a run cut off mid-way resumes with one worker VNF; --plan changes nothing.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject } from '../clients/kube/index.js';
import { connectSsh } from '../clients/ssh/index.js';
import { isMixmeshError } from '../common/errors.js';
import { CONTROL_PLANE_VNFD_ID } from '../sandbox/index.js';
import { planMigration, runMigration, workerNames, type MigrationDeps, type MigrationStatus } from './engine.js';
import { treeHashes } from '../test/helpers/trees.js';
import { BackupReader, KubeNodeResolver, backupPrefix, restoreBackup, type BackupKube } from '../backup/index.js';
import { faults, instantiate, joinWorker, startTwoClouds, until, type TwoClouds } from '../cli/two-clouds.js';
import { counterScript, readNumber } from '../test/helpers/counter.js';

const root = process.getuid?.() === 0;

const orders = (): KubeObject => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'orders', namespace: 'cafe' },
  spec: {
    replicas: 1, selector: { matchLabels: { app: 'orders' } },
    template: {
      metadata: { labels: { app: 'orders' } },
      spec: {
        containers: [{ name: 'orders', image: 'busybox', command: ['sh', '-c', 'while true; do ls /data > /tmp/seen; sleep 1; done'], volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
        volumes: [{ name: 'data', hostPath: { path: '/var/lib/cafe-orders', type: 'DirectoryOrCreate' } }],
      },
    },
  },
} as unknown as KubeObject);

// a process with in-memory state: counts on from where its state says (the stand-in criu keeps SANDBOX_CRIU_STATE_FILE)
const counter = (): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod',
  metadata: { name: 'counter', namespace: 'cafe', labels: { app: 'counter' }, annotations: { 'backup.mixmesh.io/state': 'checkpoint' } },
  spec: { nodeSelector: { 'kubernetes.io/hostname': 'worker-1' }, containers: [{ name: 'c', image: 'busybox:1.36', command: ['sh', '-c', `mkdir -p /var/lib/counter; ${counterScript('/var/lib/counter')}`], env: [{ name: 'SANDBOX_CRIU_STATE_FILE', value: '/var/lib/counter/n' }] }] },
} as unknown as KubeObject);

interface Recorder { deps: MigrationDeps; status: MigrationStatus; events: string[] }

function recorder(w: TwoClouds, status: MigrationStatus = {}, more: Partial<MigrationDeps> = {}): Recorder {
  const rec: Recorder = { status, events: [], deps: undefined as unknown as MigrationDeps };
  rec.deps = {
    keys: w.keys, nodes: w.nodes, connect: connectSsh,
    save: async (p) => { rec.status = { ...rec.status, ...p }; },
    event: async (type, reason, note) => { rec.events.push(`${type} ${reason}: ${note}`); },
    waitMs: 120_000,
    ...more,
  };
  return rec;
}

async function tokens(w: TwoClouds): Promise<string[]> {
  return (await w.target.kube.list('v1', 'Secret', { namespace: 'kube-system', fieldSelector: 'type=bootstrap.kubernetes.io/token' })).items.map((s) => s.metadata.name);
}

(root ? describe : describe.skip)('e2e: migrate a lost worker node to another cloud', function () {
  this.timeout(600_000);
  let w: TwoClouds;
  let dir: string;
  let data: Record<string, string>;
  let counterAt = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-migrate-'));
    w = await startTwoClouds(dir);
    const cp = await instantiate(w.source, CONTROL_PLANE_VNFD_ID, 'source-cp');
    const addr = await joinWorker(w.source, cp.address, 'worker-1');
    await w.source.kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'cafe' } });
    await w.source.kube.create(orders());
    await w.source.kube.create(counter());
    await until('orders and counter Running on worker-1', async () => (await w.source.kube.list<KubeObject & { spec?: { nodeName?: string }; status?: { phase?: string } }>('v1', 'Pod', { namespace: 'cafe' })).items.filter((p) => p.spec?.nodeName === 'worker-1' && p.status?.phase === 'Running').length === 2);
    // the orders the café took: real files in the worker VM's hostPath
    const vm = w.source.sandbox.vms.list().find((v) => v.address === addr)!;
    await until('the counter past 5', async () => (readNumber(join(vm.rootfs, 'var/lib/counter/n')) ?? 0) >= 5);
    const d = join(vm.rootfs, 'var/lib/cafe-orders');
    mkdirSync(join(d, '2026'), { recursive: true });
    for (let i = 0; i < 12; i++) writeFileSync(join(d, i % 3 ? `2026/order-${i}.json` : `order-${i}.json`), JSON.stringify({ order: i, item: 'flat white', pad: randomBytes(2000 + i).toString('base64') }));
    data = treeHashes(d);
    counterAt = readNumber(join(vm.rootfs, 'var/lib/counter/n')) ?? 0;
    const m = await w.backupNode('worker-1-20261206', 'worker-1');
    assert.ok(m.data.some((x) => x.type === 'hostPath' && x.result === 'captured'), JSON.stringify(m.data));
    // the counter's state through the kubelet checkpoint API while the node lived
    assert.deepEqual(m.state.map((x) => [x.owner, x.container, x.method, x.result]), [['cafe/counter', 'c', 'checkpoint', 'captured']], JSON.stringify(m.state));
    await w.source.sandbox.nodes.stopNode('worker-1');
  });

  after(async () => {
    await w?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('--plan on a target lacking the worker package lists the problem and changes nothing', async () => {
    const t = { ...w.targetOf(), worker: { ...w.targetOf().worker, vnfdId: '00000000-dead-4000-8000-000000000000' } };
    const plan = await planMigration(t, recorder(w).deps, 'p1', { node: 'worker-1', to: 'cloud-2' });
    assert.equal(plan.backup, 'worker-1-20261206');
    assert.ok(plan.problems.some((p) => p.pointer === '/target/worker/vnfdId' && /not on the target's Tacker/.test(p.message)), JSON.stringify(plan.problems));
    assert.equal((await w.target.os.tacker.listVnfInstances({ name: workerNames('p1').vnfInstanceName })).length, 0);
    assert.equal((await w.target.kube.list('v1', 'Namespace', {})).items.some((n) => n.metadata.name === 'cafe'), false);
    const ok = await planMigration(w.targetOf(), recorder(w).deps, 'p1', { node: 'worker-1', to: 'cloud-2' });
    assert.deepEqual(ok.problems, []);
    assert.ok(ok.restore!.items.some((i) => i.kind === 'Deployment' && i.action === 'create'));
  });

  it('--plan lists every problem of a target that cannot take the node, and changes nothing', async () => {
    const good = w.targetOf();
    const t = {
      ...good,
      worker: { ...good.worker, vnfdId: '00000000-dead-4000-8000-000000000000' },
      // no sshd answers there
      controlPlane: { ...good.controlPlane, host: '127.0.10.250' },
    };
    const vnfsBefore = (await w.target.os.tacker.listVnfInstances()).length;
    const plan = await planMigration(t, recorder(w).deps, 'p2', { node: 'worker-1', to: 'cloud-2' });
    // checked side by side, listed in one order (Tacker before the control plane) whatever order they end in
    assert.deepEqual(plan.problems.map((p) => p.pointer), ['/target/worker/vnfdId', '/target/controlPlane'], JSON.stringify(plan.problems));
    assert.match(plan.problems.find((p) => p.pointer === '/target/controlPlane')!.message, /127\.0\.10\.250 cannot be reached over SSH/);
    // and a backup that is not there
    const none = await planMigration(good, recorder(w).deps, 'p2', { node: 'worker-1', to: 'cloud-2', backup: 'no-such-backup' });
    assert.deepEqual(none.problems.map((p) => p.pointer), ['/backup'], JSON.stringify(none.problems));
    assert.equal((await w.target.os.tacker.listVnfInstances()).length, vnfsBefore, 'no VNF made');
    assert.equal((await w.target.kube.list('v1', 'Namespace', {})).items.some((n) => n.metadata.name === 'cafe'), false, 'nothing restored');
    assert.deepEqual(await tokens(w), []);
  });

  it('Tacker fails the worker instantiate every time: rolled back, Failed with Tacker\'s error, nothing left', async () => {
    await faults(w.target, { fail: { operation: 'INSTANTIATE', count: 10, stage: 'processing', error: { status: 500, title: 'Compute failure', detail: 'No valid host was found. There are not enough hosts available.' } } });
    const r = recorder(w, {}, { tackerRetries: 2 });
    await assert.rejects(runMigration(w.targetOf(), r.deps, 'f1', { node: 'worker-1', to: 'cloud-2' }, {}), (e: unknown) => isMixmeshError(e) && e.code === 'MIGRATE_WORKER_FAILED' && /No valid host was found/.test(e.message));
    await faults(w.target, null);
    assert.equal(r.status.phase, 'Failed');
    assert.equal(r.status.error?.step, 'Worker');
    assert.ok(r.events.filter((e) => e.includes('WorkerRetry')).length === 2, r.events.join('\n'));
    assert.ok(r.status.rolledBack?.some((x) => /worker VNF .* terminated and deleted/.test(x)), JSON.stringify(r.status.rolledBack));
    assert.equal((await w.target.os.tacker.listVnfInstances({ name: workerNames('f1').vnfInstanceName })).length, 0, 'no worker VNF left');
    assert.equal((await w.target.kube.get({ apiVersion: 'v1', kind: 'Node', name: workerNames('f1').nodeName })), undefined);
    assert.deepEqual(await tokens(w), []);
  });

  it('a wrong join token: Failed with kubeadm\'s message, token deleted, worker VNF gone', async () => {
    // the control plane's kubeadm prints a join line with the right token ID but a wrong secret
    const cp = w.targetOf().controlPlane.host;
    const vm = w.target.sandbox.vms.list().find((v) => v.address === cp)!;
    const real = join(vm.rootfs, 'usr/bin/kubeadm');
    const saved = readFileSync(real);
    writeFileSync(join(vm.rootfs, 'usr/bin/kubeadm.real'), saved, { mode: 0o755 });
    writeFileSync(real, '#!/bin/sh\nif [ "$1 $2" = "token create" ]; then /usr/bin/kubeadm.real "$@" | sed -E \'s/(--token [a-z0-9]{6})\\.[a-z0-9]{16}/\\1.0123456789abcdef/\'; else exec /usr/bin/kubeadm.real "$@"; fi\n', { mode: 0o755 });
    try {
      const r = recorder(w);
      await assert.rejects(runMigration(w.targetOf(), r.deps, 'j1', { node: 'worker-1', to: 'cloud-2' }, {}), (e: unknown) => isMixmeshError(e) && e.code === 'MIGRATE_JOIN_FAILED' && /could not find a JWS signature in the cluster-info ConfigMap for token ID "[a-z0-9]{6}"/.test(e.message) && !e.message.includes('0123456789abcdef'));
      assert.equal(r.status.phase, 'Failed');
      assert.equal(r.status.error?.step, 'Join');
      assert.equal((await w.target.os.tacker.listVnfInstances({ name: workerNames('j1').vnfInstanceName })).length, 0);
      assert.deepEqual(await tokens(w), [], 'the real token the control plane made is deleted');
    } finally {
      writeFileSync(real, saved, { mode: 0o755 });
    }
  });

  it('a volume changed in the store: its staged write fails the check (the pass leaves it to that write), Failed with BACKUP_INTEGRITY, rolled back, nothing left', async () => {
    const manifest = (await BackupReader.open(w.store, 'worker-1-20261206', w.keys)).manifest;
    const vol = manifest.data.find((d) => d.type === 'hostPath' && d.result === 'captured')!;
    const path = join(dir, 'store', backupPrefix('worker-1-20261206'), vol.object!);
    const saved = readFileSync(path);
    const bytes = Buffer.from(saved);
    bytes[bytes.length >> 1] ^= 1;
    writeFileSync(path, bytes);
    try {
      const r = recorder(w);
      await assert.rejects(runMigration(w.targetOf(), r.deps, 'v1', { node: 'worker-1', to: 'cloud-2' }, {}), (e: unknown) => isMixmeshError(e, 'BACKUP_INTEGRITY') && e.message.includes(vol.object!));
      assert.equal(r.status.phase, 'Failed');
      assert.ok(!r.status.restore?.dataDone?.length, 'nothing moved into place');
      assert.equal((await w.target.os.tacker.listVnfInstances({ name: workerNames('v1').vnfInstanceName })).length, 0, 'the worker VNF (and the staging dirs on it) gone');
      assert.equal(await w.target.kube.get({ apiVersion: 'v1', kind: 'Node', name: workerNames('v1').nodeName }), undefined);
      assert.deepEqual(await tokens(w), []);
      assert.equal((await w.target.kube.list('apps/v1', 'Deployment', { namespace: 'cafe' })).items.length, 0, 'nothing restored');
    } finally {
      writeFileSync(path, saved);
    }
  });

  it('cut off mid-way (after the worker VNF, Tacker failing once meanwhile), resumed: one worker VNF, the node joined, the pod Running there with its files', async () => {
    await faults(w.target, { fail: { operation: 'INSTANTIATE', count: 1, stage: 'processing', error: { status: 503, title: 'Busy', detail: 'try again' } } });
    const ac = new AbortController();
    const first = recorder(w, {}, { signal: ac.signal });
    const save = first.deps.save;
    first.deps.save = async (p) => {
      await save(p);
      // the orchestrator dies once the worker step is recorded done
      if (p.steps?.some((s) => s.name === 'Worker' && s.state === 'Done')) ac.abort();
    };
    await assert.rejects(runMigration(w.targetOf(), first.deps, 'm1', { node: 'worker-1', to: 'cloud-2' }, {}), (e: unknown) => isMixmeshError(e) && /stopped/.test(e.message));
    assert.equal(first.status.phase, 'InProgress', 'a stopped run stays InProgress for the resume');
    assert.equal(first.status.worker?.retries, 1, 'the failed instantiate was retried');
    assert.ok(first.events.some((e) => e.includes('WorkerRetry')));

    const second = recorder(w, first.status);
    const st = await runMigration(w.targetOf(), second.deps, 'm1', { node: 'worker-1', to: 'cloud-2' }, first.status);
    assert.equal(st.phase, 'Completed', JSON.stringify(st.error));
    const names = workerNames('m1');
    const vnfs = await w.target.os.tacker.listVnfInstances({ name: names.vnfInstanceName });
    assert.equal(vnfs.length, 1, 'one worker VNF, not two');
    assert.equal(vnfs[0]!.instantiationState, 'INSTANTIATED');
    const node = await w.target.kube.get<KubeObject & { status?: { conditions?: Array<{ type: string; status: string }>; addresses?: Array<{ address: string }> } }>({ apiVersion: 'v1', kind: 'Node', name: names.nodeName });
    assert.equal(node?.metadata.labels?.['mixmesh.io/migration'], 'm1');
    assert.ok(node?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    assert.deepEqual(await tokens(w), [], 'the join token is deleted');
    const pods = (await w.target.kube.list<KubeObject & { spec?: { nodeName?: string; nodeSelector?: Record<string, string> }; status?: { phase?: string } }>('v1', 'Pod', { namespace: 'cafe' })).items;
    assert.deepEqual(pods.map((p) => p.metadata.labels?.app).sort(), ['counter', 'orders']);
    for (const p of pods) {
      assert.equal(p.spec?.nodeName, names.nodeName, p.metadata.name);
      assert.equal(p.spec?.nodeSelector?.['mixmesh.io/migration'], 'm1', p.metadata.name);
      assert.equal(p.status?.phase, 'Running', p.metadata.name);
    }
    const vm = w.target.sandbox.vms.list().find((v) => v.address === st.worker!.address)!;
    assert.deepEqual(treeHashes(join(vm.rootfs, 'var/lib/cafe-orders')), data, 'files byte-identical on the new node');
    // the pod sees them (its process lists /data)
    await until('the pod reads the restored orders', async () => readFileSync(join(vm.rootfs, 'tmp/seen'), 'utf8').includes('order-0.json'));
    // the counter went on from its checkpoint on the new node (its runtime reports cri-o://), not from 0
    const from = await until('the restored counter started', async () => readNumber(join(vm.rootfs, 'var/lib/counter/started-from')));
    assert.ok(from >= counterAt, `the restored counter started from ${from}, its checkpoint was taken when it was past ${counterAt}`);
    const report = st.report!;
    assert.equal(report.node?.ready, true);
    assert.deepEqual([...report.pinned].sort(), ['Deployment cafe/orders', 'Pod cafe/counter']);
    assert.deepEqual(report.stateRestored, [{ owner: 'cafe/counter/c', node: names.nodeName, reason: 'FROM_CHECKPOINT' }]);
    assert.deepEqual(report.coldStarts, []);
    assert.equal(st.phase, 'Completed');
    assert.ok(report.moved.resources.some((r) => r.kind === 'Deployment' && r.name === 'orders'));
    assert.ok(report.moved.data.some((d) => d.path === '/var/lib/cafe-orders' && d.action === 'written'));
    for (const s of ['Backup', 'Preflight', 'Worker', 'Join', 'Restore', 'Services', 'Report']) assert.ok(st.steps!.some((x) => x.name === s && x.state === 'Done'), s);
    assert.ok(second.events.some((e) => e.includes('Join') && e.includes('(resumed)') === false) && second.events.some((e) => e.includes('Completed')));
  });
  it('an object another restore creates between its look and its create (a node and the service on it moved at once) counts as there, not as a failure', async () => {
    // the migrated objects, hidden from this restore's first look at each: its create meets them (409), as when two restores race
    const hidden = new Set<string>();
    const t = w.target.kube;
    const kube = new Proxy(t, {
      get(target, prop, receiver) {
        if (prop === 'get') {
          return async (ref: Parameters<BackupKube['get']>[0]) => {
            const o = await target.get(ref);
            const k = JSON.stringify(ref);
            if (o?.metadata.labels?.['backup.mixmesh.io/restore'] === 'migrate-m1' && !hidden.has(k)) {
              hidden.add(k);
              return undefined;
            }
            return o;
          };
        }
        const v: unknown = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }) as BackupKube;
    const uids = async () => (await t.list('v1', 'Pod', { namespace: 'cafe' })).items.map((p) => p.metadata.uid).sort();
    const before = await uids();
    const r = await restoreBackup({ kube, store: w.store, keys: w.keys, nodes: w.nodes, resolver: new KubeNodeResolver(t, undefined) },
      { name: 'race-1', backup: 'worker-1-20261206', data: false, state: false, mappings: { nodes: { 'worker-1': workerNames('m1').nodeName } } });
    assert.deepEqual(r.items.filter((i) => i.action === 'failed'), [], JSON.stringify(r.items));
    const raced = r.items.filter((i) => i.action === 'skipped' && i.reason === 'ALREADY_EXISTS' && /meanwhile/.test(i.message ?? '')).map((i) => `${i.kind} ${i.name}`).sort();
    assert.deepEqual(raced, ['Deployment orders', 'Namespace cafe', 'Pod counter']);
    assert.deepEqual(await uids(), before, 'nothing made again');
  });
});
