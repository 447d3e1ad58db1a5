/**
 * `npm run bench -- deploy [--vms N] [--runs R]` (test-world.md, "Benchmark rules", deploy):
 * on the sandbox with its default latencies and the stand-in sidecar at its natural size, deploy
 * (1) the IoT café and (2) a service of N one-VM microservices, through the orchestrator API.
 * Prints per deploy: deploy start → last VM create request (must be ≤ 1 s), each VM chain (its
 * Tacker create request sent → its WorkloadEntry created, queue waits included), the critical
 * path (the slowest chain), the total (PUT → operation Succeeded), total / slowest chain (the
 * target is ≤ 1.5), and the Kubernetes writes counted by `/_sandbox/requests`.
 */
import { readFileSync } from 'node:fs';
import { startWorld, type World } from '../test/e2e/world.js';

function arg(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const n = Number(args[i + 1]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: a positive whole number, got ${args[i + 1]}`);
  return n;
}

function manyVms(n: number, namespace: string): string {
  const ms = Array.from({ length: n }, (_, i) => `    - name: vm-${i}
      runtime: vm
      ports: [{name: http, port: 8080}]
      vm:
        vnfdId: 6a4b5a1e-0000-4000-8000-000000000001
        flavourId: simple
        ssh: {user: root, credentialsSecret: vm-ssh, hostKey: console}`).join('\n');
  return `apiVersion: mixmesh.io/v1alpha1
kind: MeshService
metadata: {name: fleet, namespace: ${namespace}}
spec:
  microservices:
    - name: front
      runtime: container
      ports: [{name: http, port: 8080}]
      container: {image: ghcr.io/example/front:1.0.0}
${ms}
  connections:
${Array.from({ length: n }, (_, i) => `    - {from: front, to: vm-${i}, timeout: 2s, retries: {attempts: 2}}`).join('\n')}
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
  const op = await w.waitOperation(String(r.json.operationId), 600_000);
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
  const f = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
  process.stdout.write(`${label}\n`);
  process.stdout.write(`  VMs                                   ${chains.length}\n`);
  process.stdout.write(`  deploy start → last VM create request ${f(lastCreate)}  (limit 1 s: ${lastCreate <= 1000 ? 'ok' : 'OVER'})\n`);
  process.stdout.write(`  VM chains (create sent → WorkloadEntry) min ${f(Math.min(...chains.map((c) => c.ms)))}, median ${f(chains.map((c) => c.ms).sort((a, b) => a - b)[Math.floor(chains.length / 2)]!)}, slowest ${f(slowest)}\n`);
  process.stdout.write(`  critical path (slowest chain)         ${f(slowest)}\n`);
  process.stdout.write(`  total (PUT → Succeeded)               ${f(total)}\n`);
  process.stdout.write(`  total / slowest chain                 ${(total / slowest).toFixed(2)}  (target ≤ 1.5: ${total / slowest <= 1.5 ? 'ok' : 'OVER'})\n`);
  process.stdout.write(`  Kubernetes writes                     ${counts.writes}\n`);
  const steps = (op.steps as { name: string; startedAt: string; endedAt?: string }[]).map((st) => `${st.name} ${f(Date.parse(st.startedAt) - t0)}→${st.endedAt ? f(Date.parse(st.endedAt) - t0) : '…'}`);
  process.stdout.write(`  PUT answered 202 after                 ${f(accepted)}\n`);
  process.stdout.write(`  steps (from PUT)                      ${steps.join(', ')}\n`);
}

export async function main(args: string[]): Promise<void> {
  const vms = arg(args, '--vms', 10);
  const runs = arg(args, '--runs', 1);
  const marks: Marks = { creates: new Map(), entries: new Map() };
  // the sandbox's default latencies (test-world.md): instantiate 0.2 + 1.0 s, sshd 0.3 s, pods 1.0 s
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
      await deployOnce(w, marks, `deploy: the IoT café (run ${run + 1})`, cafeNs, 'iot-cafe', cafe.replace('namespace: cafe', `namespace: ${cafeNs}`));
      await deployOnce(w, marks, `deploy: ${vms} one-VM microservices + 1 container (run ${run + 1})`, fleetNs, 'fleet', manyVms(vms, fleetNs));
    }
  } finally {
    await w.stop();
  }
}
