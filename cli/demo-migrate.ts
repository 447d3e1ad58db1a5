/**
 * `mixmesh demo migrate [--keep]`: the seed's story on two sandbox clouds in one command. An
 * orchestrator runs on each cloud. On the first, the IoT café (examples/iot-cafe/descriptor.yaml: its
 * VMs through cloud-1's Tacker, its containers on worker-1, the only node of a full cluster) takes
 * orders: they land in inventory-db's data dir on its VM, and the café's order log in a hostPath on
 * worker-1. Both are backed up; worker-1 stops; at the decision two migrations start: the node's (a
 * new worker VM through cloud-2's Tacker, kubeadm join, the order log restored onto it) and the
 * café's (its VMs recreated by cloud-2's orchestrator, inventory-db's data written before its sidecar,
 * the VM key replaced by cloud-2's); the café is Ready in cloud-2 with its orders, checked byte for
 * byte. Progress on stderr.
 *
 * What is shown of the application: the sandbox's VMs are busybox systems and its kubelet a
 * stand-in, so MariaDB and order-api do not run as processes there; the orders are the rows' files
 * in inventory-db's data dir (as MariaDB keeps them) and lines of the order log.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { KubeObject } from '../clients/kube/index.js';
import { connectSsh } from '../clients/ssh/index.js';
import { CONTROL_PLANE_VNFD_ID } from '../sandbox/index.js';
import { runMigration, type MigrationStatus } from '../migrate/index.js';
import { backupService, instantiate, joinWorker, sidecarArtifacts, startOrchestrator, startTwoClouds, until, type CloudOrchestrator } from './two-clouds.js';
import { describeText } from './migrate.js';

const DESCRIPTOR = fileURLToPath(new URL('../examples/iot-cafe/descriptor.yaml', import.meta.url));
const DB_DIR = '/var/lib/mysql';

type Svc = KubeObject & { status?: { phase?: string; microservices?: Array<{ name: string; version?: string; instances?: Array<{ vnfInstanceName: string; address?: string }> }> } };

function hashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir).sort()) out[f] = createHash('sha256').update(readFileSync(join(dir, f))).digest('hex');
  return out;
}

/** The café's descriptor with inventory-db's data dir declared (what its backup carries). */
export function cafeDescriptor(): { yaml: string; namespace: string; name: string } {
  const doc = parse(readFileSync(DESCRIPTOR, 'utf8')) as { metadata: { name: string; namespace: string }; spec: { microservices: Array<{ name: string; runtime: string; vm?: { dataDirs?: string[] } }> } };
  const db = doc.spec.microservices.find((m) => m.name === 'inventory-db' && m.runtime === 'vm');
  if (!db?.vm) throw new Error(`${DESCRIPTOR}: no inventory-db VM`);
  db.vm.dataDirs = [...new Set([...(db.vm.dataDirs ?? []), DB_DIR])];
  return { yaml: JSON.stringify(doc), namespace: doc.metadata.namespace, name: doc.metadata.name };
}

export async function runDemoMigrate(opts: { dir?: string; keep?: boolean }, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  if (process.getuid?.() !== 0) {
    err.write('mixmesh: demo migrate: the sandbox VMs need root (sudo)\n');
    return 2;
  }
  const dir = resolve(opts.dir ?? '.mixmesh/demo-migrate');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const say = (s: string) => err.write(`${s}\n`);
  const cafe = cafeDescriptor();
  const svcRef = { apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService', namespace: cafe.namespace, name: cafe.name };
  say(`starting two sandbox clouds in ${dir} …`);
  const w = await startTwoClouds(dir);
  const orchestrators: CloudOrchestrator[] = [];
  try {
    say(`cloud-1 (source): cluster ${w.source.sandbox.kube.url}; cloud-2 (target): cluster ${w.target.sandbox.kube.url}, control plane VM ${w.targetCp.address}`);
    const artifacts = await sidecarArtifacts(join(dir, 'artifacts'), join(tmpdir(), 'mixmesh-e2e-package-cache'));
    const cp = await instantiate(w.source, CONTROL_PLANE_VNFD_ID, 'source-cp');
    const addr = await joinWorker(w.source, cp.address, 'worker-1');
    say(`cloud-1: worker-1 (${addr}) joined, the only node of a full cluster`);
    orchestrators.push(...await Promise.all([startOrchestrator(w.source, join(dir, 'orchestrator-1'), { artifacts }), startOrchestrator(w.target, join(dir, 'orchestrator-2'), { artifacts })]));
    const [src, dst] = orchestrators as [CloudOrchestrator, CloudOrchestrator];
    say(`orchestrators: cloud-1 ${src.url}, cloud-2 ${dst.url}`);

    // what a user prepares on cloud-1: the namespace, the VMs' SSH key, the café's secrets
    await w.source.kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: cafe.namespace, labels: { 'istio-injection': 'enabled' } } });
    const secret = (name: string, type: string, data: Record<string, string>) => w.source.kube.create({ apiVersion: 'v1', kind: 'Secret', type, metadata: { name, namespace: cafe.namespace }, data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) } as KubeObject);
    await secret('vm-ssh', 'kubernetes.io/ssh-auth', { 'ssh-privatekey': w.source.sandbox.sshPrivateKey });
    await secret('inventory-db', 'Opaque', { username: 'cafe', password: randomBytes(18).toString('base64url'), 'root-password': randomBytes(18).toString('base64url') });
    await secret('cafe-staff', 'Opaque', { token: randomBytes(18).toString('base64url') });
    say(`cloud-1: deploying the IoT café (${DESCRIPTOR}) …`);
    const put = await src.api('PUT', `/v1/services/${cafe.namespace}/${cafe.name}`, cafe.yaml);
    if (put.status !== 202) throw new Error(`PUT the café: ${put.status} ${put.text}`);
    const svc = await until('the café Ready on cloud-1', async () => {
      const s = await w.source.kube.get<Svc>(svcRef);
      return s?.status?.phase === 'Ready' ? s : undefined;
    }, 600_000);
    const vmsOf = (s: Svc) => (s.status?.microservices ?? []).flatMap((m) => (m.instances ?? []).map((i) => `${m.name}${m.version ? `/${m.version}` : ''} ${i.vnfInstanceName} at ${i.address}`));
    say(`cloud-1: the café is Ready; VMs: ${vmsOf(svc).join('; ')}`);

    // orders: the rows' files in inventory-db's data dir, and the order log on worker-1
    const dbAddr = svc.status?.microservices?.find((m) => m.name === 'inventory-db')?.instances?.[0]?.address;
    const dbVm = w.source.sandbox.vms.list().find((v) => v.address === dbAddr)!;
    const dbDir = join(dbVm.rootfs, DB_DIR.slice(1), 'cafe');
    mkdirSync(dbDir, { recursive: true });
    const drinks = ['아메리카노', 'flat white', '카페라떼', 'chai', '녹차라떼'];
    const log: string[] = [];
    for (let i = 1; i <= 12; i++) {
      const order = { id: i, table: (i % 6) + 1, items: [{ name: drinks[i % drinks.length], quantity: 1 + (i % 3) }], status: i < 4 ? 'served' : i < 9 ? 'preparing' : 'new', note: randomBytes(6).toString('hex') };
      writeFileSync(join(dbDir, `order-${String(i).padStart(3, '0')}.json`), `${JSON.stringify(order)}\n`);
      log.push(`${new Date().toISOString()} order ${i} table ${order.table} ${order.items[0]!.quantity}× ${order.items[0]!.name}`);
    }
    const dbBefore = hashes(dbDir);
    await w.source.kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'cafe-log' } });
    await w.source.kube.create({
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'order-log', namespace: 'cafe-log' },
      spec: { replicas: 1, selector: { matchLabels: { app: 'order-log' } }, template: { metadata: { labels: { app: 'order-log' } }, spec: { containers: [{ name: 'log', image: 'busybox', command: ['sh', '-c', 'while true; do wc -l < /log/orders.log > /tmp/orders-count 2>/dev/null; sleep 1; done'], volumeMounts: [{ name: 'log', mountPath: '/log' }] }], volumes: [{ name: 'log', hostPath: { path: '/var/lib/cafe/log', type: 'DirectoryOrCreate' } }] } } },
    } as unknown as KubeObject);
    await until('order-log Running', async () => (await w.source.kube.list<KubeObject & { status?: { phase?: string } }>('v1', 'Pod', { namespace: 'cafe-log' })).items.some((p) => p.status?.phase === 'Running'));
    const worker = w.source.sandbox.vms.list().find((v) => v.address === addr)!;
    mkdirSync(join(worker.rootfs, 'var/lib/cafe/log'), { recursive: true });
    writeFileSync(join(worker.rootfs, 'var/lib/cafe/log/orders.log'), `${log.join('\n')}\n`);
    const logBefore = hashes(join(worker.rootfs, 'var/lib/cafe/log'));
    say(`cloud-1: ${Object.keys(dbBefore).length} orders placed (inventory-db's data dir on its VM) and the order log on worker-1`);

    const mNode = await w.backupNode('worker-1-demo', 'worker-1', ['cafe-log']);
    const mCafe = await backupService(w, 'iot-cafe-demo', cafe.namespace, cafe.name);
    say(`backups: worker-1-demo (${mNode.items.length} objects, ${mNode.data.filter((d) => d.result === 'captured').length} data dir), iot-cafe-demo (${mCafe.items.length} objects, ${mCafe.data.filter((d) => d.result === 'captured' && d.type === 'vmDataDir').length} VM data dir), signed and encrypted`);
    await w.source.sandbox.nodes.stopNode('worker-1');
    say('fault: worker-1 powered off; its pods have nowhere to go in cloud-1');

    // the decision: the node and the café move to cloud-2
    const deps = (tag: string) => {
      let status: MigrationStatus = {};
      return {
        keys: w.keys, nodes: w.nodes, connect: connectSsh, waitMs: 600_000,
        save: async (p: Partial<MigrationStatus>) => { status = { ...status, ...p }; },
        event: async (type: 'Normal' | 'Warning', reason: string, note: string) => { say(`  [${tag}] ${type === 'Warning' ? '!' : '·'} ${reason}: ${note}`); },
      };
    };
    const t0 = Date.now();
    const [node, moved] = await Promise.all([
      runMigration(w.targetOf(), deps('node'), 'demo', { node: 'worker-1', to: 'cloud-2' }, {}),
      runMigration(w.targetOf(), deps('café'), 'demo-cafe', { service: { namespace: cafe.namespace, name: cafe.name }, to: 'cloud-2' }, {}),
    ]);
    say(`both migrations done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    err.write(describeText({ name: 'demo', phase: node.phase ?? '', spec: { node: 'worker-1', to: 'cloud-2' }, status: node as never }));
    err.write(describeText({ name: 'demo-cafe', phase: moved.phase ?? '', spec: { service: { namespace: cafe.namespace, name: cafe.name }, to: 'cloud-2' }, status: moved as never }));

    // the café in cloud-2, with its orders
    const there = await w.target.kube.get<Svc>(svcRef);
    const newDb = there?.status?.microservices?.find((m) => m.name === 'inventory-db')?.instances?.[0]?.address;
    const newDbVm = w.target.sandbox.vms.list().find((v) => v.address === newDb);
    const dbAfter = newDbVm ? hashes(join(newDbVm.rootfs, DB_DIR.slice(1), 'cafe')) : {};
    const newWorker = w.target.sandbox.vms.list().find((v) => v.address === node.worker?.address);
    const logAfter = newWorker ? hashes(join(newWorker.rootfs, 'var/lib/cafe/log')) : {};
    const sameDb = JSON.stringify(dbAfter) === JSON.stringify(dbBefore);
    const sameLog = JSON.stringify(logAfter) === JSON.stringify(logBefore);
    say(`cloud-2: the café is ${there?.status?.phase ?? 'missing'}; VMs: ${there ? vmsOf(there).join('; ') : '-'}`);
    say(sameDb ? `cloud-2: all ${Object.keys(dbAfter).length} orders byte-identical in inventory-db's data dir (${newDb})` : 'cloud-2: the orders differ!');
    say(sameLog ? `cloud-2: the order log byte-identical on ${node.worker?.nodeName}` : 'cloud-2: the order log differs!');
    const ok = Boolean(node.phase?.startsWith('Completed') && moved.phase?.startsWith('Completed') && there?.status?.phase === 'Ready' && sameDb && sameLog);
    say(ok ? 'the café runs in cloud-2 with its orders.' : 'the café did NOT arrive whole in cloud-2.');
    if (opts.keep) {
      say(`kept running: KUBECONFIG=${w.target.sandbox.paths.kubeconfig} kubectl get nodes,pods -A   (Ctrl-C ends it)`);
      await new Promise<void>((r) => { process.once('SIGINT', () => r()); process.once('SIGTERM', () => r()); });
    }
    return ok ? 0 : 1;
  } finally {
    await Promise.allSettled(orchestrators.map((o) => o.stop()));
    await w.stop();
  }
}
