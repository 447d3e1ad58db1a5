/**
 * `npm run bench -- deploy [--microservices N] [--runs R]` (docs/sandbox.md, "Benchmark rules", deploy):
 * on the sandbox with its default latencies and the stand-in sidecar at its natural size, deploy
 * (1) the IoT café and (2) a service of N microservices (default 100: 70 containers, 30 VMs), through
 * the orchestrator API, each followed by a no-change re-apply whose writes are counted.
 * Prints per deploy, every time from the deploy's start (the PUT): the last VM create request
 * (target ≤ 1.0 s), the critical path (start → the slowest VM registered: namespace, its identities,
 * its Tacker create → instantiate → SSH → inject → WorkloadEntry), the total (start → operation
 * Succeeded) and total / critical path (target ≤ 1.2), the Kubernetes writes counted by
 * `/_sandbox/requests`. Then the anchor, in the same run on the same emulator: `kubectl apply
 * --server-side -f` of the N-microservice descriptor's rendered objects into a fresh namespace,
 * against mixmesh's applier (`KubeClient.apply`) of the same objects into another fresh namespace,
 * alternating, best of three each (target ≤ 0.5× kubectl). No-change re-apply: writes to the
 * service's namespace (target 0).
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { toYamlStream } from '../common/yaml.js';
import { validateDescriptor } from '../descriptor/index.js';
import { renderAll } from '../mesh-config/index.js';
import { DEFAULT_MESH_VALUES } from '../descriptor/index.js';
import type { KubeObject } from '../clients/kube/index.js';
import { readFileSync } from 'node:fs';
import { startWorld, type World } from '../test/e2e/world.js';

function arg(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const n = Number(args[i + 1]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: a positive whole number, got ${args[i + 1]}`);
  return n;
}

/**
 * The issue's shape: N microservices, 70 % containers and 30 % VMs (one VM each), two ports each,
 * and every microservice calling the next five with a timeout and retries.
 */
export function fleet(n: number, vmShare: number, namespace: string): string {
  const vmCount = Math.round(n * vmShare);
  const names = Array.from({ length: n }, (_, i) => `ms-${String(i).padStart(3, '0')}`);
  const ms = names.map((name, i) => {
    const head = `    - name: ${name}
      ports: [{name: http, port: 8080}, {name: grpc, port: 9090, protocol: GRPC}]`;
    return i < n - vmCount
      ? `${head}
      runtime: container
      container: {image: ghcr.io/example/${name}:1.0.0}`
      : `${head}
      runtime: vm
      vm:
        vnfdId: 6a4b5a1e-0000-4000-8000-000000000001
        flavourId: simple
        ssh: {user: root, credentialsSecret: vm-ssh, hostKey: console}`;
  }).join('\n');
  const conns = names.flatMap((from, i) => Array.from({ length: Math.min(5, n - 1) }, (_, k) => names[(i + k + 1) % n]!)
    .map((to) => `    - {from: ${from}, to: ${to}, port: http, timeout: 2s, retries: {attempts: 2, perTryTimeout: 1s}}`)).join('\n');
  return `apiVersion: mixmesh.io/v1alpha1
kind: MeshService
metadata: {name: fleet, namespace: ${namespace}}
spec:
  microservices:
${ms}
  connections:
${conns}
`;
}

interface Marks {
  creates: Map<string, number>;
  entries: Map<string, number>;
}

async function deployOnce(w: World, marks: Marks, label: string, namespace: string, name: string, body: string): Promise<void> {
  marks.creates.clear();
  marks.entries.clear();
  await w.resetKubeRequests();
  const t0 = Date.now();
  const r = await w.api('PUT', `/v1/services/${namespace}/${name}`, { body });
  if (r.status !== 202) throw new Error(`${label}: ${r.status} ${r.text}`);
  const accepted = Date.now() - t0;
  const op = await finished(w, String(r.json.operationId));
  const total = Date.now() - t0;
  if (op.state !== 'Succeeded') throw new Error(`${label}: ${String(op.state)} ${String(op.error ?? '')}`);
  const counts = await w.kubeRequests();
  // WorkloadEntry <name>-<version>-<i> ↔ VNF <ns>.<service>.<name>.<version>.<i>
  const chains = [...marks.creates].map(([vnf, at]) => {
    const [, , ms, version, index] = vnf.split('.');
    const done = marks.entries.get(`${ms}-${version}-${index}`);
    return { vnf, ms: done === undefined ? NaN : done - at };
  });
  const slowest = Math.max(...chains.map((c) => c.ms));
  const lastCreate = Math.max(...marks.creates.values()) - t0;
  // the critical path from the start: the last VM registered (its chain cannot start before the PUT)
  const critical = Math.max(...marks.entries.values()) - t0;
  const f = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
  process.stdout.write(`${label}\n`);
  process.stdout.write(`  VMs                                   ${chains.length}\n`);
  process.stdout.write(`  start → last VM create request        ${f(lastCreate)}  (target ≤ 1.0 s: ${lastCreate <= 1000 ? 'ok' : 'OVER'})\n`);
  process.stdout.write(`  VM chains (create sent → WorkloadEntry) min ${f(Math.min(...chains.map((c) => c.ms)))}, median ${f(chains.map((c) => c.ms).sort((a, b) => a - b)[Math.floor(chains.length / 2)]!)}, slowest ${f(slowest)}\n`);
  process.stdout.write(`  critical path (start → last VM registered) ${f(critical)}\n`);
  process.stdout.write(`  total (start → Succeeded)             ${f(total)}\n`);
  process.stdout.write(`  total / critical path                 ${(total / critical).toFixed(2)}  (target ≤ 1.2: ${total / critical <= 1.2 ? 'ok' : 'OVER'})\n`);
  process.stdout.write(`  Kubernetes writes                     ${counts.writes}\n`);
  process.stdout.write(`  writes by kind                        ${writesByKind(counts.entries)}\n`);
  const steps = (op.steps as { name: string; startedAt: string; endedAt?: string }[]).map((st) => `${st.name} ${f(Date.parse(st.startedAt) - t0)}→${st.endedAt ? f(Date.parse(st.endedAt) - t0) : '…'}`);
  process.stdout.write(`  PUT answered 202 after                 ${f(accepted)}\n`);
  process.stdout.write(`  steps (from start)                    ${steps.join(', ')}\n`);
}

/** the operation's end, looked at every 20 ms (the e2e helper's 100 ms would blur the total) */
async function finished(w: World, id: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 600_000;
  for (;;) {
    const r = await w.api('GET', `/v1/operations/${id}`);
    if (r.status === 200 && ['Succeeded', 'Failed', 'RolledBack'].includes(String(r.json.state))) return r.json;
    if (Date.now() > deadline) throw new Error(`operation ${id} did not finish`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

function writesByKind(entries: { verb: string; kind: string; dryRun: boolean; count: number }[]): string {
  const byKind = new Map<string, number>();
  for (const e of entries) {
    if (e.dryRun || !['create', 'update', 'patch', 'delete', 'deletecollection'].includes(e.verb)) continue;
    byKind.set(e.kind, (byKind.get(e.kind) ?? 0) + e.count);
  }
  return [...byKind].sort(([a], [b]) => a.localeCompare(b)).map(([k, c]) => `${k} ${c}`).join(', ') || '(none)';
}

/** The same descriptor again: the writes it causes to the service's objects (target: zero), over the PUT and a settle window. */
async function reapplyUnchanged(w: World, namespace: string, name: string, body: string): Promise<void> {
  await w.resetKubeRequests();
  const r = await w.api('PUT', `/v1/services/${namespace}/${name}`, { body });
  if (r.status !== 202) throw new Error(`re-apply: ${r.status} ${r.text}`);
  const op = await w.waitOperation(String(r.json.operationId), 600_000);
  await w.stack.orchestrator.controller.resync();
  await w.stack.orchestrator.controller.idle();
  const counts = await w.kubeRequests();
  // only writes to the service's namespace count: the leader's Lease renewal (mixmesh-system) is a heartbeat on its own clock
  const mine = counts.entries.filter((e) => e.namespace === namespace);
  const caused = mine.filter((e) => !e.dryRun && ['create', 'update', 'patch', 'delete', 'deletecollection'].includes(e.verb)).reduce((n, e) => n + e.count, 0);
  process.stdout.write(`  no-change re-apply + resync: operation ${String(op.state)}, writes to the service's objects ${caused} (target 0); all writes in the window ${counts.writes}${counts.writes ? ` (${writesByKind(counts.entries)})` : ''}\n`);
}

/** the descriptor's rendered objects, moved into `namespace` */
function renderedInto(body: string, namespace: string): KubeObject[] {
  const v = validateDescriptor(parse(body));
  if (!v.ok) throw new Error(`the bench descriptor is invalid: ${JSON.stringify(v.problems)}`);
  return renderAll(v.value, DEFAULT_MESH_VALUES).map((o) => {
    const c = structuredClone(o) as unknown as KubeObject;
    if (c.kind === 'Namespace') c.metadata.name = namespace;
    else c.metadata.namespace = namespace;
    return JSON.parse(JSON.stringify(c)) as KubeObject;
  });
}

function kubectl(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('kubectl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    child.on('close', (code) => resolve({ code: code ?? -1, stderr }));
  });
}

/**
 * The anchor: kubectl's server-side apply of the same objects vs mixmesh's applier, each into a
 * fresh namespace of the same emulator, alternating, best of `rounds` each (the load of a shared
 * machine moves between two back-to-back measurements; alternating and the best of three keep
 * that out of the ratio).
 */
async function anchor(w: World, body: string, run: number, rounds = 3): Promise<void> {
  const f = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
  const kubectlTimes: number[] = [];
  const mixmeshTimes: number[] = [];
  let objects = 0;
  let writes = 0;
  let last: KubeObject[] = [];
  for (let round = 0; round < rounds; round++) {
    const forKubectl = renderedInto(body, `anchor-kubectl-${run}-${round}`);
    objects = forKubectl.length;
    const file = join(w.dir, `anchor-${run}-${round}.yaml`);
    writeFileSync(file, toYamlStream(forKubectl));
    let t = Date.now();
    const k = await kubectl(['--kubeconfig', w.sandbox.paths.kubeconfig, 'apply', '--server-side', '--field-manager', 'kubectl-anchor', '-f', file]);
    kubectlTimes.push(Date.now() - t);
    if (k.code !== 0) throw new Error(`kubectl apply: exit ${k.code}: ${k.stderr.slice(0, 2000)}`);
    last = renderedInto(body, `anchor-mixmesh-${run}-${round}`);
    await w.resetKubeRequests();
    t = Date.now();
    await w.stack.kube.apply(last);
    mixmeshTimes.push(Date.now() - t);
    writes = (await w.kubeRequests()).writes;
  }
  await w.resetKubeRequests();
  const t = Date.now();
  const again = await w.stack.kube.apply(last);
  const againMs = Date.now() - t;
  const againWrites = (await w.kubeRequests()).writes;
  const kubectlBest = Math.min(...kubectlTimes);
  const mixmeshBest = Math.min(...mixmeshTimes);
  process.stdout.write(`anchor: the same ${objects} rendered objects into fresh namespaces of the same emulator, alternating, best of ${rounds} (run ${run + 1})\n`);
  process.stdout.write(`  kubectl apply --server-side -f         ${f(kubectlBest)}  (all: ${kubectlTimes.map(f).join(', ')})\n`);
  process.stdout.write(`  mixmesh applier (KubeClient.apply)     ${f(mixmeshBest)}  (all: ${mixmeshTimes.map(f).join(', ')}; ${writes} writes)  ratio ${(mixmeshBest / kubectlBest).toFixed(2)} (target ≤ 0.5: ${mixmeshBest / kubectlBest <= 0.5 ? 'ok' : 'OVER'})\n`);
  process.stdout.write(`  mixmesh applier again, unchanged       ${f(againMs)}  (${again.unchanged.length} unchanged, ${againWrites} writes)\n`);
}

export async function main(args: string[]): Promise<void> {
  const size = arg(args, '--microservices', 100);
  const runs = arg(args, '--runs', 1);
  const marks: Marks = { creates: new Map(), entries: new Map() };
  // the sandbox's default latencies (docs/sandbox.md): instantiate 0.2 + 1.0 s, sshd 0.3 s, pods 1.0 s
  const w = await startWorld({
    latencies: { startingMs: 200, processingMs: 1000, terminateMs: 500, sshdMs: 300, podReadyMs: 1000 },
    stack: {
      settings: { tackerPollMs: 2000 },
      onCreateSent: (vnf, at) => { marks.creates.set(vnf, at); },
      onWorkloadEntry: (name, at) => { if (!marks.entries.has(name)) marks.entries.set(name, at); },
    },
  });
  try {
    const cafe = readFileSync(new URL('../examples/iot-cafe/descriptor.yaml', import.meta.url), 'utf8');
    for (let run = 0; run < runs; run++) {
      const cafeNs = `cafe-${run}`;
      const fleetNs = `fleet-${run}`;
      for (const ns of [cafeNs, fleetNs]) {
        await w.stack.kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
        await w.stack.kube.create({ apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/ssh-auth', metadata: { name: 'vm-ssh', namespace: ns }, data: { 'ssh-privatekey': Buffer.from(w.sandbox.sshPrivateKey).toString('base64') } });
      }
      const cafeBody = cafe.replace('namespace: cafe', `namespace: ${cafeNs}`);
      await deployOnce(w, marks, `deploy: the IoT café (run ${run + 1})`, cafeNs, 'iot-cafe', cafeBody);
      await reapplyUnchanged(w, cafeNs, 'iot-cafe', cafeBody);
      const fleetBody = fleet(size, 0.3, fleetNs);
      await deployOnce(w, marks, `deploy: ${size} microservices, ${size - Math.round(size * 0.3)} containers + ${Math.round(size * 0.3)} VMs (run ${run + 1})`, fleetNs, 'fleet', fleetBody);
      await reapplyUnchanged(w, fleetNs, 'fleet', fleetBody);
      await anchor(w, fleetBody, run);
    }
  } finally {
    await w.stop();
  }
}
