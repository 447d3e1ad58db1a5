/**
 * `npm run bench -- migrate [--scale S] [--pods N] [--mib M] [--vms V]` (issue 13): a worker node of
 * the first sandbox cloud with N pods (one hostPath volume each, half the data in the largest; default
 * 20 pods, 1 GiB) and a service with V VMs (default 5, each with a data dir), both backed up; the node
 * stops; at the decision both migrations start (the node's and the service's) and the time until both
 * are Ready in the second cloud is printed beside the critical path measured in the same run on the
 * same target: worker VNF create → instantiate → SSH → kubeadm join → Node Ready → the largest volume
 * restored (written and verified file by file, as every restore does). Both start with no data
 * thread running (each starts the threads it needs, as a long-idle orchestrator does); the floor's
 * write is timed again on warm threads for the reader, not for the ratio. It runs the built tree
 * (dist/), as users do. `--scale 0.1` runs it small (2 pods, 102 MiB, 1 VM). An orchestrator runs on
 * each cloud (the target's recreates the VMs). Root.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { KubeObject } from '../clients/kube/index.js';
import type { MigrationStatus } from '../migrate/index.js';
import type { CloudOrchestrator } from '../cli/two-clouds.js';

/**
 * The product as users run it: the built tree (`npm run bench` builds first), not the sources under
 * tsx, whose on-the-fly compiling a data thread would pay again as it starts. All of it from one tree
 * (a class from the sources is not the built tree's: `instanceof` would fail between them).
 */
async function built<T>(rel: string): Promise<T> {
  const file = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', rel);
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first (\`npm run bench\` does)`);
  return (await import(pathToFileURL(file).href)) as T;
}

function arg(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(args[i + 1]) : dflt;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name}: a positive number`);
  return v;
}

/** CPU time the whole machine spent busy so far (ms, every core and process: /proc/stat) */
function machineCpu(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system (idle iowait) irq softirq steal, in USER_HZ (100 per second)
  return (f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + (f[7] ?? 0)) * 10;
}

/** CPU time (ms) of every process now, by pid, with its command name (MIXMESH_BENCH_PROCESSES=1 prints where the migration's went) */
function processCpu(): Map<string, { comm: string; ms: number }> {
  const out = new Map<string, { comm: string; ms: number }>();
  // this process by thread (main, data threads, zlib's and crypto's pool), the others whole
  const own = readdirSync(`/proc/${process.pid}/task`).map((t) => `${process.pid}/task/${t}`);
  for (const pid of [...readdirSync('/proc').filter((p) => /^\d+$/.test(p) && p !== String(process.pid)), ...own]) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // a kernel worker's name changes with its work: named by its pool only
      out.set(pid, { comm: pid.includes('/task/') ? `bench:${pid.endsWith(`/${process.pid}`) ? 'main' : comm}` : comm.replace(/^(kworker\/[^-]+)-.*$/, '$1'), ms: (Number(f[11]) + Number(f[12])) * 10 });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** MIXMESH_BENCH_CPUPROFILE=FILE: this process's main thread profiled from the decision to both Ready (open it in Chrome's DevTools) */
async function startProfile(suffix = ''): Promise<{ stop: () => Promise<void> } | undefined> {
  const file = process.env.MIXMESH_BENCH_CPUPROFILE && `${process.env.MIXMESH_BENCH_CPUPROFILE}${suffix}`;
  if (!file) return undefined;
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  return {
    stop: async () => {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

function service(vms: number): string {
  return `apiVersion: mixmesh.io/v1alpha1
kind: MeshService
metadata: {name: shop, namespace: shop}
spec:
  microservices:
    - name: db
      runtime: vm
      ports: [{name: sql, port: 5432, protocol: TCP}]
      vm:
        vnfdId: 6a4b5a1e-0000-4000-8000-000000000001
        flavourId: simple
        instances: ${vms}
        ssh: {user: root, credentialsSecret: vm-ssh, hostKey: console}
        sidecar: {injection: orchestrator}
        dataDirs: [/var/lib/db]
`;
}

type Svc = KubeObject & { status?: { phase?: string; microservices?: Array<{ instances?: Array<{ address?: string }> }> } };

export async function main(args: string[]): Promise<void> {
  const { connectSsh } = await built<typeof import('../clients/ssh/index.js')>('clients/ssh/index.js');
  const { BackupReader, RESTORE_DATA_CONCURRENCY, writeDataDir } = await built<typeof import('../backup/index.js')>('backup/index.js');
  const { boundedAll } = await built<typeof import('../clients/kube/applier.js')>('clients/kube/applier.js');
  const { stopDataThreads } = await built<typeof import('../backup/threads.js')>('backup/threads.js');
  const { CONTROL_PLANE_VNFD_ID, WORKER_VNFD_ID } = await built<typeof import('../sandbox/index.js')>('sandbox/index.js');
  const { runMigration } = await built<typeof import('../migrate/index.js')>('migrate/index.js');
  const { backupService, instantiate, joinWorker, knownKeys, sidecarArtifacts, ssh, startOrchestrator, startTwoClouds, until } = await built<typeof import('../cli/two-clouds.js')>('cli/two-clouds.js');
  const scale = arg(args, 'scale', 1);
  const pods = Math.max(1, Math.round(arg(args, 'pods', 20 * scale)));
  const mib = Math.max(1, Math.round(arg(args, 'mib', 1024 * scale)));
  const vmCount = Math.max(1, Math.round(arg(args, 'vms', 5 * scale)));
  const dir = mkdtempSync(join(tmpdir(), 'mixmesh-bench-migrate-'));
  const w = await startTwoClouds(dir);
  let orchestrators: CloudOrchestrator[] = [];
  try {
    const artifacts = await sidecarArtifacts(join(dir, 'artifacts'), join(tmpdir(), 'mixmesh-e2e-package-cache'));
    const cp = await instantiate(w.source, CONTROL_PLANE_VNFD_ID, 'source-cp');
    const addr = await joinWorker(w.source, cp.address, 'worker-1');
    orchestrators = await Promise.all([startOrchestrator(w.source, join(dir, 'orchestrator-1'), { artifacts }), startOrchestrator(w.target, join(dir, 'orchestrator-2'), { artifacts })]);
    const [src] = orchestrators as [CloudOrchestrator, CloudOrchestrator];

    // the node: N pods, each with a hostPath volume on worker-1
    const vm = w.source.sandbox.vms.list().find((v) => v.address === addr)!;
    await w.source.kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } });
    const largest = Math.round((mib * 1048576) / (pods > 1 ? 2 : 1));
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
    // the service: V VMs made by cloud-1's Tacker, 4 MiB of data each
    await w.source.kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
    await w.source.kube.create({ apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/ssh-auth', metadata: { name: 'vm-ssh', namespace: 'shop' }, data: { 'ssh-privatekey': Buffer.from(w.source.sandbox.sshPrivateKey).toString('base64') } } as KubeObject);
    const put = await src.api('PUT', '/v1/services/shop/shop', service(vmCount));
    if (put.status !== 202) throw new Error(`PUT the service: ${put.status} ${put.text}`);
    const svc = await until('the service Ready on cloud-1', async () => {
      const s = await w.source.kube.get<Svc>({ apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService', namespace: 'shop', name: 'shop' });
      return s?.status?.phase === 'Ready' ? s : undefined;
    }, 600_000);
    for (const inst of svc.status?.microservices?.[0]?.instances ?? []) {
      const d = join(w.source.sandbox.vms.list().find((v) => v.address === inst.address)!.rootfs, 'var/lib/db');
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'data.bin'), randomBytes(4 * 1048576));
    }
    await until('every pod Running', async () => (await w.source.kube.list<KubeObject & { status?: { phase?: string } }>('v1', 'Pod', { namespace: 'bench' })).items.filter((p) => p.status?.phase === 'Running').length === pods, 600_000);
    const manifest = await w.backupNode('bench-node', 'worker-1');
    await backupService(w, 'bench-svc', 'shop', 'shop');
    await w.source.sandbox.nodes.stopNode('worker-1');

    // the decision: both migrations at once, until both are Ready in cloud-2
    const deps = () => {
      let status: MigrationStatus = {};
      return { keys: w.keys, nodes: w.nodes, connect: connectSsh, save: async (p: Partial<MigrationStatus>) => { status = { ...status, ...p }; }, event: async () => undefined, waitMs: 900_000 };
    };
    // the setup's 2 GiB of fresh writes (the node's data, the backup) flushed first: its writeback
    // would otherwise run during the migration only, not during the critical path measured after it
    execFileSync('sync');
    // both measured from the same start: no data thread running (each starts its own as it needs them)
    await stopDataThreads();
    const profile = await startProfile();
    const m0 = machineCpu();
    const p0 = process.env.MIXMESH_BENCH_PROCESSES ? processCpu() : undefined;
    const t0 = Date.now();
    const timed = async (p: Promise<MigrationStatus>) => {
      const st = await p;
      return { st, ms: Date.now() - t0 };
    };
    const [node, shop] = await Promise.all([
      timed(runMigration(w.targetOf(), deps(), 'bench', { node: 'worker-1', to: 'cloud-2' }, {})),
      timed(runMigration(w.targetOf(), deps(), 'bench-svc', { service: { namespace: 'shop', name: 'shop' }, to: 'cloud-2' }, {})),
    ]);
    const total = Date.now() - t0;
    const mBusy = machineCpu() - m0;
    if (p0) {
      const p1 = processCpu();
      const by = new Map<string, number>();
      for (const [pid, { comm, ms }] of p1) by.set(comm, (by.get(comm) ?? 0) + ms - (p0.get(pid)?.ms ?? 0));
      const rows = [...by].filter(([, v]) => v > 50).sort((a, b) => b[1] - a[1]);
      process.stdout.write(`  CPU by process during the migration (processes that ended meanwhile not counted): ${rows.map(([k, v]) => `${k} ${(v / 1000).toFixed(2)} s`).join(', ')}\n`);
    }
    await profile?.stop();

    // the critical path on the same target, by hand: VNF → instantiate → SSH → join → Ready → largest volume written and verified
    // from no data thread running, as the migration started: the volume's write starts its thread
    await stopDataThreads();
    const c0 = Date.now();
    const f0 = machineCpu();
    const worker = await instantiate(w.target, WORKER_VNFD_ID, 'floor.worker');
    const ph1 = Date.now() - c0;
    await until('sshd', async () => (await ssh(w.target, worker.address, 'true').catch(() => undefined))?.code === 0);
    const ph2 = Date.now() - c0;
    const tok = await ssh(w.target, w.targetCp.address, 'kubeadm token create --print-join-command --ttl 1h');
    await ssh(w.target, worker.address, `${tok.stdout.trim()} --node-name floor-worker`);
    const ph3 = Date.now() - c0;
    await until('floor-worker Ready', async () => (await w.target.kube.get<KubeObject & { status?: { conditions?: Array<{ type: string; status: string }> } }>({ apiVersion: 'v1', kind: 'Node', name: 'floor-worker' }))?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'), 600_000);
    const ph4 = Date.now() - c0;
    const big = manifest.data.filter((d) => d.result === 'captured').sort((a, b) => b.bytes - a.bytes)[0]!;
    const reader = await BackupReader.open(w.store, 'bench-node', w.keys);
    const floorNode = { name: 'floor-worker', host: worker.address, user: 'root', privateKey: w.target.sandbox.sshPrivateKey, hostKeys: knownKeys(w.target, worker.address) };
    // the product's own write-back (restore.ts → writeback.ts): the same transport, the same verification
    const floorProfile = await startProfile('.floor');
    const d0 = Date.now();
    await writeDataDir(w.nodes, reader, big, floorNode);
    const dataMs = Date.now() - d0;
    await floorProfile?.stop();
    const floor = Date.now() - c0;
    const fBusy = machineCpu() - f0;
    // not in the ratio, for the reader: the same write again, its thread started and warm
    const a0 = Date.now();
    await writeDataDir(w.nodes, reader, big, floorNode, `${big.path}.again`);
    const againMs = Date.now() - a0;
    // not in the ratio, for the reader: every volume of the node written onto the same worker as the
    // migration stages them (the largest first, RESTORE_DATA_CONCURRENCY at a time, each checked by its
    // object's SHA-256), threads started cold, no service migrating beside it: the data work alone
    const vols = manifest.data.filter((d) => d.result === 'captured').sort((a, b) => b.bytes - a.bytes);
    execFileSync('sync');
    await stopDataThreads();
    const v0 = Date.now();
    const vBusy0 = machineCpu();
    await boundedAll(vols, RESTORE_DATA_CONCURRENCY, (d) => writeDataDir(w.nodes, reader, d, floorNode, `${d.path}.all`, { sha256: true }));
    const allMs = Date.now() - v0;
    const allBusy = machineCpu() - vBusy0;

    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    const out = (t: string) => process.stdout.write(`${t}\n`);
    out(`migrate: a node with ${pods} pods, ${mib} MiB local data (largest volume ${(big.bytes / 1048576).toFixed(0)} MiB), and a service with ${vmCount} VM(s); load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    out(`  decision → both Ready in cloud-2: ${s(total)} (node ${node.st.phase} at ${s(node.ms)}, service ${shop.st.phase} at ${s(shop.ms)})`);
    out(`    node steps:    ${(node.st.steps ?? []).map((x) => `${x.name} ${s(x.ms ?? 0)}`).join(' · ')}`);
    out(`    node Restore:  ${(node.st.steps ?? []).find((x) => x.name === 'Restore')?.message ?? ''}`);
    out(`    service steps: ${(shop.st.steps ?? []).map((x) => `${x.name} ${x.state === 'Skipped' ? '—' : s(x.ms ?? 0)}`).join(' · ')}`);
    // a failed run says why (its figures are not the migration's)
    for (const [what, m] of [['node', node], ['service', shop]] as const) {
      if (m.st.error) out(`  the ${what}'s migration ${m.st.phase}: ${m.st.error.step ? `step ${m.st.error.step}: ` : ''}${m.st.error.code}: ${m.st.error.message}${m.st.restore?.warnings?.length ? `; restore warnings: ${m.st.restore.warnings.slice(0, 3).join(' | ')}` : ''}`);
    }
    out(`  critical path (VNF → instantiate → SSH → join → Ready → largest volume written and verified): ${s(floor)} (instantiated at ${s(ph1)}, sshd ${s(ph2)}, joined ${s(ph3)}, Ready ${s(ph4)}; the volume's write ${s(dataMs)}; the same write again, its thread warm: ${s(againMs)})`);
    out(`  the node's ${vols.length} volumes (${mib} MiB) written by hand onto the same worker as the migration stages them, nothing beside: ${s(allMs)}, machine CPU ${s(allBusy)}`);
    out(`  machine CPU busy (all processes, ${availableParallelism()} cores): migration ${s(mBusy)} in ${s(total)}, critical path ${s(fBusy)} in ${s(floor)}`);
    out(`  ratio: ${(total / floor).toFixed(2)}× (target ≤ 1.5×)`);
  } finally {
    await Promise.allSettled(orchestrators.map((o) => o.stop()));
    await w.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
