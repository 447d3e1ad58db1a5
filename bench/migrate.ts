/**
 * `npm run bench -- migrate [--pods 20] [--mib 1024]`: a node with N pods (one hostPath volume each,
 * half the data in the largest) is backed up, stops, and is migrated to the second sandbox cloud;
 * the time from the decision to Completed is printed beside its critical path measured in the same
 * run on the same target: worker VNF create → instantiate → SSH → kubeadm join → Node Ready → the
 * largest volume written. Needs root. (The service-with-VMs part of the benchmark is not here.)
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject } from '../clients/kube/index.js';
import { connectSsh } from '../clients/ssh/index.js';
import { BackupReader } from '../backup/index.js';
import { CONTROL_PLANE_VNFD_ID, WORKER_VNFD_ID } from '../sandbox/index.js';
import { runMigration, type MigrationStatus } from '../migrate/index.js';
import { instantiate, joinWorker, knownKeys, ssh, startTwoClouds, until } from '../cli/two-clouds.js';

function arg(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
}

export async function main(args: string[]): Promise<void> {
  const pods = arg(args, 'pods', 20);
  const mib = arg(args, 'mib', 1024);
  const dir = mkdtempSync(join(tmpdir(), 'mixmesh-bench-migrate-'));
  const w = await startTwoClouds(dir);
  try {
    const cp = await instantiate(w.source, CONTROL_PLANE_VNFD_ID, 'source-cp');
    const addr = await joinWorker(w.source, cp.address, 'worker-1');
    const vm = w.source.sandbox.vms.list().find((v) => v.address === addr)!;
    await w.source.kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } });
    const largest = Math.round((mib * 1048576) / 2);
    const rest = pods > 1 ? Math.round((mib * 1048576 - largest) / (pods - 1)) : 0;
    for (let i = 0; i < pods; i++) {
      const d = join(vm.rootfs, `srv/d${i}`);
      mkdirSync(d, { recursive: true });
      const bytes = i === 0 ? largest : rest;
      for (let off = 0, f = 0; off < bytes; off += 8 * 1048576, f++) writeFileSync(join(d, `f${f}.bin`), randomBytes(Math.min(8 * 1048576, bytes - off)));
      await w.source.kube.create({
        apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: `app-${i}`, namespace: 'bench' },
        spec: { replicas: 1, selector: { matchLabels: { app: `app-${i}` } }, template: { metadata: { labels: { app: `app-${i}` } }, spec: { containers: [{ name: 'c', image: 'busybox', command: ['sh', '-c', 'sleep 100000'], volumeMounts: [{ name: 'd', mountPath: '/d' }] }], volumes: [{ name: 'd', hostPath: { path: `/srv/d${i}` } }] } } },
      } as unknown as KubeObject);
    }
    await until('every pod Running', async () => (await w.source.kube.list<KubeObject & { status?: { phase?: string } }>('v1', 'Pod', { namespace: 'bench' })).items.filter((p) => p.status?.phase === 'Running').length === pods, 600_000);
    const manifest = await w.backupNode('bench-node', 'worker-1');
    await w.source.sandbox.nodes.stopNode('worker-1');

    // the migration, from the decision to Completed
    let status: MigrationStatus = {};
    const t0 = Date.now();
    const st = await runMigration(w.targetOf(), { keys: w.keys, nodes: w.nodes, connect: connectSsh, save: async (p) => { status = { ...status, ...p }; }, event: async () => undefined, waitMs: 600_000 }, 'bench', { node: 'worker-1', to: 'cloud-2' }, {});
    const total = Date.now() - t0;

    // the critical path on the same target, by hand: VNF → instantiate → SSH → join → Ready → largest volume
    const c0 = Date.now();
    const worker = await instantiate(w.target, WORKER_VNFD_ID, 'floor.worker');
    await until('sshd', async () => (await ssh(w.target, worker.address, 'true').catch(() => undefined))?.code === 0);
    const tok = await ssh(w.target, w.targetCp.address, 'kubeadm token create --print-join-command --ttl 1h');
    await ssh(w.target, worker.address, `${tok.stdout.trim()} --node-name floor-worker`);
    await until('floor-worker Ready', async () => (await w.target.kube.get<KubeObject & { status?: { conditions?: Array<{ type: string; status: string }> } }>({ apiVersion: 'v1', kind: 'Node', name: 'floor-worker' }))?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'), 600_000);
    const big = manifest.data.filter((d) => d.result === 'captured').sort((a, b) => b.bytes - a.bytes)[0]!;
    const reader = await BackupReader.open(w.store, 'bench-node', w.keys);
    await w.nodes.writeDir({ name: 'floor-worker', host: worker.address, user: 'root', privateKey: w.target.sandbox.sshPrivateKey, hostKeys: knownKeys(w.target, worker.address) }, big.path, await reader.open(big.object!));
    const floor = Date.now() - c0;

    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    process.stdout.write(`migrate: ${pods} pods, ${mib} MiB local data (largest volume ${(big.bytes / 1048576).toFixed(0)} MiB)\n`);
    process.stdout.write(`  decision → Completed: ${s(total)} (${st.phase})\n`);
    for (const x of st.steps ?? []) process.stdout.write(`    ${x.name.padEnd(10)} ${s(x.ms ?? 0)}\n`);
    process.stdout.write(`  critical path (VNF → instantiate → SSH → join → Ready → largest volume): ${s(floor)}\n`);
    process.stdout.write(`  ratio: ${(total / floor).toFixed(2)}× (target ≤ 1.5×)\n`);
  } finally {
    await w.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
