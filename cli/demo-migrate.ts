/**
 * `mixmesh demo migrate [--keep]`: the migration story on two sandbox clouds in one command. The
 * café's orders service runs on a worker of the first cloud (its orders are files on the node), the
 * node is backed up, stops, and its workload moves to a new worker VM made by the second cloud's
 * Tacker, joined with kubeadm; the orders are checked byte for byte there. Progress on stderr.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { KubeObject } from '../clients/kube/index.js';
import { connectSsh } from '../clients/ssh/index.js';
import { CONTROL_PLANE_VNFD_ID } from '../sandbox/index.js';
import { runMigration, type MigrationStatus } from '../migrate/index.js';
import { instantiate, joinWorker, startTwoClouds, until } from './two-clouds.js';
import { describeText } from './migrate.js';

function hashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir).sort()) out[f] = createHash('sha256').update(readFileSync(join(dir, f))).digest('hex');
  return out;
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
  say(`starting two sandbox clouds in ${dir} …`);
  const w = await startTwoClouds(dir);
  try {
    say(`cloud-1 (source): cluster ${w.source.sandbox.kube.url}; cloud-2 (target): cluster ${w.target.sandbox.kube.url}, control plane VM ${w.targetCp.address}`);
    const cp = await instantiate(w.source, CONTROL_PLANE_VNFD_ID, 'source-cp');
    const addr = await joinWorker(w.source, cp.address, 'worker-1');
    say(`cloud-1: worker-1 (${addr}) joined, the only node of a full cluster`);
    await w.source.kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'cafe' } });
    await w.source.kube.create({
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'orders', namespace: 'cafe' },
      spec: { replicas: 1, selector: { matchLabels: { app: 'orders' } }, template: { metadata: { labels: { app: 'orders' } }, spec: { containers: [{ name: 'orders', image: 'busybox', command: ['sh', '-c', 'while true; do ls /orders | wc -l > /tmp/orders-count; sleep 1; done'], volumeMounts: [{ name: 'orders', mountPath: '/orders' }] }], volumes: [{ name: 'orders', hostPath: { path: '/var/lib/cafe/orders', type: 'DirectoryOrCreate' } }] } } },
    } as unknown as KubeObject);
    await until('orders Running', async () => (await w.source.kube.list<KubeObject & { status?: { phase?: string } }>('v1', 'Pod', { namespace: 'cafe' })).items.some((p) => p.status?.phase === 'Running'));
    const vm = w.source.sandbox.vms.list().find((v) => v.address === addr)!;
    const src = join(vm.rootfs, 'var/lib/cafe/orders');
    mkdirSync(src, { recursive: true });
    const drinks = ['flat white', 'espresso', 'oat latte', 'chai', 'cortado'];
    for (let i = 1; i <= 12; i++) writeFileSync(join(src, `order-${String(i).padStart(3, '0')}.json`), JSON.stringify({ id: i, table: (i % 6) + 1, item: drinks[i % drinks.length], note: randomBytes(8).toString('hex') }) + '\n');
    const before = hashes(src);
    say(`cloud-1: the café's orders service runs on worker-1 with ${Object.keys(before).length} orders on the node`);
    const m = await w.backupNode('worker-1-demo', 'worker-1');
    say(`backup worker-1-demo: ${m.items.length} objects, ${m.data.filter((d) => d.result === 'captured').length} data dir(s), signed and encrypted`);
    await w.source.sandbox.nodes.stopNode('worker-1');
    say('fault: worker-1 powered off; its pod has nowhere to go in cloud-1');
    let status: MigrationStatus = {};
    const st = await runMigration(w.targetOf(), {
      keys: w.keys, nodes: w.nodes, connect: connectSsh,
      save: async (p) => { status = { ...status, ...p }; },
      event: async (type, reason, note) => { say(`  ${type === 'Warning' ? '!' : '·'} ${reason}: ${note}`); },
    }, 'demo', { node: 'worker-1', to: 'cloud-2' }, {});
    err.write(describeText({ name: 'demo', phase: st.phase ?? '', spec: { node: 'worker-1', to: 'cloud-2' }, status: st as never }));
    const target = w.target.sandbox.vms.list().find((v) => v.address === st.worker?.address)!;
    const after = hashes(join(target.rootfs, 'var/lib/cafe/orders'));
    const same = JSON.stringify(after) === JSON.stringify(before);
    say(same ? `cloud-2: all ${Object.keys(after).length} orders byte-identical on ${st.worker?.nodeName}` : 'cloud-2: the orders differ!');
    if (opts.keep) {
      say(`kept running: KUBECONFIG=${w.target.sandbox.paths.kubeconfig} kubectl get nodes,pods -A   (Ctrl-C ends it)`);
      await new Promise<void>((r) => { process.once('SIGINT', () => r()); process.once('SIGTERM', () => r()); });
    }
    return st.phase?.startsWith('Completed') && same ? 0 : 1;
  } finally {
    await w.stop();
  }
}
