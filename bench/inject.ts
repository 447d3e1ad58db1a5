/**
 * `npm run bench -- inject [--sizes 1,10,20] [--runs 3] [--mib 50] [--parallel N]` (docs/sandbox.md, "Benchmark rules"):
 * the injector against fresh sandbox VMs, the stand-in sidecar padded to 50 MiB (tar.gz).
 * Before the clock: the VMs exist and sshd answers; cluster reads (root cert, mesh config, east-west
 * IP) and the package (bytes and checksum) are cached by a warm-up injection. The window is the first
 * `POST /v1/injections` → the last Succeeded. The floor, in the same run, is a plain node-ssh
 * script on as many fresh VMs with the same package and transport: upload + extract only. Median of `runs` at each
 * size; the per-step breakdown is from the median run; Ansible figures are the recorded anchor.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import { NodeSSH } from 'node-ssh';
import { connectSsh, parseConsoleHostKeys } from '../clients/ssh/index.js';
import { KubeClient, loadKubeConfig } from '../clients/kube/index.js';
import { silentLogger } from '../common/logger.js';
import { DEFAULT_MESH_VALUES } from '../descriptor/index.js';
import { startKubeEmulator } from '../sandbox/kube/index.js';
import type { SandboxVm } from '../sandbox/vms/index.js';
import { createInjectorApp, Injector, kubeCluster, sshConnector } from '../vm-sidecar-injector/index.js';
import { PACKAGE_CACHE, createVmWorld, prepareArtifacts, type VmWorld } from '../test/helpers/vm-world.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const VERSION = '1.30.3';
const TOKEN = 'bench-injector-token-0123456789';
/** docs/sandbox.md, "Benchmark rules" (seconds) */
const ANCHOR: Record<number, { plain: number; ansible: number; pipelining: number }> = {
  1: { plain: 0.98, ansible: 7.29, pipelining: 6.96 },
  10: { plain: 4.35, ansible: 33.6, pipelining: 31.0 },
  20: { plain: 7.81, ansible: 68.2, pipelining: 59.0 },
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function arg(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
}

/** Fresh VMs whose sshd already answers (the clock starts after this). */
async function freshVms(world: VmWorld, prefix: string, n: number): Promise<SandboxVm[]> {
  const vms = await Promise.all(Array.from({ length: n }, (_, i) => world.provider.create({ serverId: `${prefix}-${i}`, name: `${prefix}-${i}` })));
  await Promise.all(vms.map(async (vm) => {
    const s = await connectSsh({ host: vm.address, username: 'root', privateKey: world.clientKey, hostKey: { expected: [vm.hostPublicKey] }, connectBudgetMs: 30_000 });
    await s.close();
  }));
  return vms;
}

async function removeVms(world: VmWorld, vms: SandboxVm[]): Promise<void> {
  await Promise.all(vms.map((vm) => world.provider.remove(vm.serverId)));
}

/**
 * The floor: what a bare node-ssh script does, upload + extract only, as many VMs at once as the
 * injector, with its transport (ssh2's default cipher, aes128-gcm@openssh.com here, and TCP_NODELAY
 * on both; the package read once before the clock and streamed on the stdin of one exec, which is faster than
 * node-ssh's SFTP putFile, so the floor is the lowest a plain script gets, not a slow straw man).
 */
async function floorRun(world: VmWorld, vms: SandboxVm[], bytes: Buffer, parallel: number): Promise<number> {
  const started = performance.now();
  // at most `parallel` VMs at once, like the injector's maxParallel
  const queue = [...vms];
  await Promise.all(Array.from({ length: Math.min(parallel, vms.length) }, async () => {
    for (let vm = queue.shift(); vm; vm = queue.shift()) await floorOne(world, vm, bytes);
  }));
  return (performance.now() - started) / 1000;
}

async function floorOne(world: VmWorld, vm: SandboxVm, bytes: Buffer): Promise<void> {
  const ssh = new NodeSSH();
  const connecting = ssh.connect({ host: vm.address, username: 'root', privateKey: world.clientKey, hostVerifier: (key: Buffer) => key.equals(Buffer.from(vm.hostPublicKey.split(' ')[1]!, 'base64')) });
  ssh.connection?.setNoDelay(true); // as clients/ssh does: the same transport settings
  await connecting;
  // node-ssh keeps no 'error' listener after connect: a reset when the VM goes would crash the process
  ssh.connection?.on('error', () => undefined);
  const r = await ssh.execCommand('cat > /tmp/istio-sidecar.tar.gz && tar -xzf /tmp/istio-sidecar.tar.gz -C /', { stdin: Readable.from([bytes]) });
  if (r.code !== 0) throw new Error(`floor upload + extract on ${vm.address}: ${r.stderr}`);
  await new Promise<void>((resolve) => {
    ssh.connection?.once('close', () => resolve());
    ssh.dispose();
  });
}

export async function main(args: string[]): Promise<void> {
  const sizes = arg(args, 'sizes', '1,10,20').split(',').map(Number);
  const runs = Number(arg(args, 'runs', '3'));
  const mib = Number(arg(args, 'mib', '50'));
  const world = await createVmWorld('mixmesh-bench-inject-');
  const kube = await startKubeEmulator({ eastWestIp: '127.0.10.250' });
  try {
    process.stderr.write(`building the stand-in sidecar padded to ${mib} MiB…\n`);
    await prepareArtifacts(world.artifacts, PACKAGE_CACHE, VERSION, ['tar'], mib * 1024 * 1024);
    const pkgBytes = readFileSync(join(world.artifacts, `istio-sidecar-${VERSION}.tar.gz`));
    const kcPath = join(world.dir, 'kubeconfig');
    writeFileSync(kcPath, kube.kubeconfig());
    const client = new KubeClient(loadKubeConfig(kcPath));
    await client.apply([
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'cafe' } },
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'order-api', namespace: 'cafe' } },
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'vm-ssh', namespace: 'cafe' }, type: 'kubernetes.io/ssh-auth', data: { 'ssh-privatekey': Buffer.from(world.clientKey).toString('base64') } },
      {
        apiVersion: 'networking.istio.io/v1', kind: 'WorkloadGroup', metadata: { name: 'order-api-v1', namespace: 'cafe' },
        spec: { metadata: { labels: { app: 'order-api', version: 'v1', 'mixmesh.io/service': 'iot-cafe' } }, template: { serviceAccount: 'order-api', ports: { http: 8081 } } },
      },
    ]);
    // VMs at once, for the injector (maxParallel) and the floor alike
    const maxParallel = Number(arg(args, 'parallel', String(Math.max(...sizes))));
    const injector = new Injector({
      cluster: kubeCluster(client), connect: sshConnector({ connectBudgetMs: 30_000 }), parseConsoleHostKeys, meshValues: DEFAULT_MESH_VALUES,
      artifacts: { dir: world.artifacts }, log: silentLogger, maxParallel, readiness: { attempts: 100, intervalSeconds: 0.1 }, renewal: false,
    });
    const server = createServer(createInjectorApp({ injector, token: TOKEN }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const post = async (vm: SandboxVm) => {
      const r = await fetch(`${base}/v1/injections`, {
        method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ vm: { address: vm.address, user: 'root', credentials: { secretRef: { namespace: 'cafe', name: 'vm-ssh' } }, hostKey: vm.hostPublicKey }, workload: { service: 'iot-cafe', name: 'order-api', version: 'v1', namespace: 'cafe' }, sidecar: { package: 'tar', istioVersion: VERSION } }),
      });
      if (r.status !== 202) throw new Error(`POST answered ${r.status}: ${await r.text()}`);
      return ((await r.json()) as { id: string }).id;
    };
    const state = async (id: string) => ((await (await fetch(`${base}/v1/injections/${id}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { state: string; code?: string; steps: { name: string; startedAt: string; endedAt?: string }[] });

    // warm-up (not measured): fills the cluster-facts cache and the package checksum cache
    const warm = await freshVms(world, 'warm', 1);
    const wid = await post(warm[0]!);
    await injector.idle();
    const w = await state(wid);
    if (w.state !== 'Succeeded') throw new Error(`warm-up injection ${w.state} ${w.code ?? ''}`);
    await removeVms(world, warm);

    const rows: string[] = [];
    const breakdowns: string[] = [];
    for (const n of sizes) {
      const times: number[] = [];
      const floors: number[] = [];
      const stepRuns: Map<string, number[]>[] = [];
      for (let run = 0; run < runs; run++) {
        const vms = await freshVms(world, `inj-${n}-${run}`, n);
        const started = performance.now();
        const ids = [];
        for (const vm of vms) ids.push(await post(vm));
        await injector.idle();
        const elapsed = (performance.now() - started) / 1000;
        const finals = await Promise.all(ids.map(state));
        const failed = finals.filter((f) => f.state !== 'Succeeded');
        if (failed.length) throw new Error(`${failed.length} of ${n} injections failed: ${failed.map((f) => f.code).join(', ')}`);
        times.push(elapsed);
        const perStep = new Map<string, number[]>();
        for (const f of finals) for (const s of f.steps) if (s.endedAt) perStep.set(s.name, [...(perStep.get(s.name) ?? []), (Date.parse(s.endedAt) - Date.parse(s.startedAt)) / 1000]);
        stepRuns.push(perStep);
        await removeVms(world, vms);

        const floorVms = await freshVms(world, `floor-${n}-${run}`, n);
        floors.push(await floorRun(world, floorVms, pkgBytes, maxParallel));
        await removeVms(world, floorVms);
        process.stderr.write(`  ${n} VM(s) run ${run + 1}/${runs}: injector ${elapsed.toFixed(2)} s, floor ${floors.at(-1)!.toFixed(2)} s\n`);
      }
      const t = median(times);
      const f = median(floors);
      const a = ANCHOR[n];
      rows.push(`| ${n} | ${t.toFixed(2)} s | ${f.toFixed(2)} s | ${(t / f).toFixed(2)}× | ${a ? `${a.ansible} s` : '–'} | ${a ? `${(t / a.ansible).toFixed(2)}×` : '–'} | ${a ? `${a.pipelining} s` : '–'} |`);
      const medianRun = stepRuns[times.indexOf(t)]!;
      breakdowns.push(`${n} VM(s) (median run, per step: median over VMs / max):`);
      for (const [name, xs] of medianRun) breakdowns.push(`  ${name.padEnd(16)} ${median(xs).toFixed(3)} s / ${Math.max(...xs).toFixed(3)} s`);
    }
    await injector.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));

    const out = [
      `inject: stand-in tar.gz padded to ${mib} MiB, median of ${runs}, at most ${maxParallel} VMs at once (injector and floor); window = first POST → last Succeeded; floor = node-ssh upload (exec stdin, as the injector) + extract, same run`,
      '',
      '| VMs | injector | floor | ÷ floor | Ansible (forks 20, recorded) | ÷ Ansible | Ansible + pipelining |',
      '|---|---|---|---|---|---|---|',
      ...rows,
      '',
      ...breakdowns,
    ].join('\n');
    process.stdout.write(`${out}\n`);
  } finally {
    await world.close();
    await kube.stop();
  }
}
