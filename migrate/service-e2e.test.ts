/**
 * A service with a VM moved to another cloud, end to end (backup.md, Migration step 6): an
 * orchestrator on each sandbox cloud; on the first, a MeshService with a container and a VM holding
 * data; its backup; the migration recreates the VM through the **second** cloud's Tacker (its
 * orchestrator, from the restored MeshService), the VM's data written before its sidecar starts
 * (handed over through the target cluster), the VM credentials Secret given the target's key, the
 * WorkloadEntry at the new address, the MeshService Ready there.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject } from '../clients/kube/index.js';
import { connectSsh } from '../clients/ssh/index.js';
import { CONTROL_PLANE_VNFD_ID } from '../sandbox/index.js';
import { runMigration, type MigrationStatus } from './engine.js';
import { HANDOFF_LABEL } from './handoff.js';
import { backupService, instantiate, joinWorker, sidecarArtifacts, startOrchestrator, startTwoClouds, until, type CloudOrchestrator, type TwoClouds } from '../cli/two-clouds.js';
import { fillTree, treeHashes } from '../test/helpers/trees.js';

const root = process.getuid?.() === 0;

const SERVICE = `apiVersion: mixmesh.io/v1alpha1
kind: MeshService
metadata: {name: shop, namespace: shop}
spec:
  microservices:
    - name: web
      runtime: container
      ports: [{name: http, port: 8080}]
      container: {image: registry.example/web:1.0.0}
    - name: db
      runtime: vm
      ports: [{name: sql, port: 5432, protocol: TCP}]
      vm:
        vnfdId: 6a4b5a1e-0000-4000-8000-000000000001
        flavourId: simple
        ssh: {user: root, credentialsSecret: vm-ssh, hostKey: console}
        sidecar: {injection: orchestrator}
        dataDirs: [/var/lib/db]
  connections:
    - {from: web, to: db}
`;

type Svc = KubeObject & { status?: { phase?: string; microservices?: Array<{ name: string; instances?: Array<{ vnfInstanceName: string; address?: string; sidecar?: string }> }> } };
const svcRef = { apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService', namespace: 'shop', name: 'shop' };
const dbOf = (s: Svc | undefined) => s?.status?.microservices?.find((m) => m.name === 'db')?.instances?.[0];

(root ? describe : describe.skip)('e2e: migrate a service with a VM to another cloud', function () {
  this.timeout(600_000);
  let w: TwoClouds;
  let dir: string;
  let src: CloudOrchestrator;
  let dst: CloudOrchestrator;
  let data: Record<string, string>;
  let sourceAddress: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-migrate-svc-'));
    w = await startTwoClouds(dir);
    const artifacts = await sidecarArtifacts(join(dir, 'artifacts'), join(tmpdir(), 'mixmesh-e2e-package-cache'));
    // each cluster has a worker for the container microservice
    const cp = await instantiate(w.source, CONTROL_PLANE_VNFD_ID, 'source-cp');
    await joinWorker(w.source, cp.address, 'worker-1');
    await joinWorker(w.target, w.targetCp.address, 'worker-a');
    [src, dst] = await Promise.all([startOrchestrator(w.source, join(dir, 'orchestrator-1'), { artifacts }), startOrchestrator(w.target, join(dir, 'orchestrator-2'), { artifacts })]);
    await w.source.kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
    await w.source.kube.create({ apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/ssh-auth', metadata: { name: 'vm-ssh', namespace: 'shop' }, data: { 'ssh-privatekey': Buffer.from(w.source.sandbox.sshPrivateKey).toString('base64') } } as KubeObject);
    const r = await src.api('PUT', '/v1/services/shop/shop', SERVICE);
    assert.equal(r.status, 202, r.text);
    const ready = await until('the service Ready on cloud-1', async () => {
      const s = await w.source.kube.get<Svc>(svcRef);
      return s?.status?.phase === 'Ready' ? s : undefined;
    }, 300_000);
    sourceAddress = dbOf(ready)!.address!;
    const vm = w.source.sandbox.vms.list().find((v) => v.address === sourceAddress)!;
    data = fillTree(join(vm.rootfs, 'var/lib/db'), 16, 4000);
    const m = await backupService(w, 'shop-1', 'shop', 'shop');
    assert.equal(m.data.find((d) => d.type === 'vmDataDir')?.result, 'captured', JSON.stringify(m.data));
  });

  after(async () => {
    await Promise.allSettled([src?.stop(), dst?.stop()]);
    await w?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the VM recreated through the target\'s Tacker, its data there before its sidecar, the target\'s key, the WorkloadEntry at the new address, the MeshService Ready', async () => {
    let status: MigrationStatus = {};
    const events: string[] = [];
    const st = await runMigration(w.targetOf(), {
      keys: w.keys, nodes: w.nodes, connect: connectSsh, waitMs: 300_000,
      save: async (p) => { status = { ...status, ...p }; },
      event: async (type, reason, note) => { events.push(`${type} ${reason}: ${note}`); },
    }, 's1', { service: { namespace: 'shop', name: 'shop' }, to: 'cloud-2' }, {});
    assert.ok(st.phase?.startsWith('Completed'), JSON.stringify(st.error));
    // no node data: no worker VM, the target's existing node runs the container
    assert.equal(st.steps!.find((s) => s.name === 'Worker')?.state, 'Skipped');
    assert.match(st.steps!.find((s) => s.name === 'Restore')!.message!, /1 onto new VMs before their sidecar/);

    // the VM: made by cloud-2's Tacker, at a cloud-2 address
    const svc = (await w.target.kube.get<Svc>(svcRef))!;
    assert.equal(svc.status?.phase, 'Ready');
    const db = dbOf(svc)!;
    assert.equal(db.sidecar, 'Succeeded');
    assert.notEqual(db.address, sourceAddress);
    assert.ok((await w.target.os.tacker.listVnfInstances({ name: db.vnfInstanceName })).some((v) => v.instantiationState === 'INSTANTIATED'), 'the VNF is in the target\'s Tacker');
    const vm = w.target.sandbox.vms.list().find((v) => v.address === db.address);
    assert.ok(vm, 'a VM of cloud-2');
    // its data byte-identical, written before the sidecar package was installed (ctime: tar cannot set it)
    assert.deepEqual(treeHashes(join(vm.rootfs, 'var/lib/db')), data);
    const dataAt = statSync(join(vm.rootfs, 'var/lib/db', Object.keys(data)[0]!)).ctimeMs;
    const sidecarAt = statSync(join(vm.rootfs, 'usr/local/bin/pilot-agent')).ctimeMs;
    assert.ok(dataAt < sidecarAt, `data written (${dataAt}) before the sidecar was installed (${sidecarAt})`);

    // the credentials Secret holds the target's key (the source's cannot reach cloud-2's VMs)
    const secret = await w.target.kube.get<KubeObject & { data?: Record<string, string> }>({ apiVersion: 'v1', kind: 'Secret', namespace: 'shop', name: 'vm-ssh' });
    assert.equal(Buffer.from(secret!.data!['ssh-privatekey']!, 'base64').toString('utf8'), w.target.sandbox.sshPrivateKey);
    assert.deepEqual(st.report!.credentials, ['Secret shop/vm-ssh']);
    assert.ok(!JSON.stringify(status).includes('PRIVATE KEY') && !events.join('\n').includes('PRIVATE KEY'), 'no key in the status or the events');

    // the mesh: the WorkloadEntry carries the new address
    const wes = (await w.target.kube.list<KubeObject & { spec?: { address?: string } }>('networking.istio.io/v1', 'WorkloadEntry', { namespace: 'shop' })).items;
    assert.deepEqual(wes.map((x) => x.spec?.address), [db.address]);
    const report = st.report!.services[0]!;
    assert.equal(report.phase, 'Ready');
    assert.deepEqual(report.workloadEntries.map((x) => x.address), [db.address]);
    // the hand-off left nothing behind
    assert.deepEqual((await w.target.kube.list('v1', 'ConfigMap', { labelSelector: `${HANDOFF_LABEL}=true` })).items, []);
  });
});
