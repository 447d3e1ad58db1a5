/**
 * `npm run bench -- gateway [--sizes 3,9] [--providers ec2,openstack,baremetal] [--orchestrator swarm|marathon|kubernetes]`:
 * on the engine world (real Docker Engines for Swarm), create clusters of 1 manager + (N-1) workers
 * on each provider through the gateway's REST API, and delete them again. Prints per cluster:
 * the total (POST → operation Succeeded), every host's chain (provision requested → SSH reachable
 * → engine installed → joined, queue waits included), the critical path (the slowest chain), and
 * total / critical path (the target is ≤ 1.5), then the delete time. Measures; asserts nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEngineWorld } from '../sandbox/engines/world.js';
import { metalHosts, startGatewayHarness, worldGatewayConfig } from '../test/helpers/gateway-harness.js';
import type { HostRecord } from '../gateway/types.js';

function opt(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
}

const s = (ms: number): string => (ms / 1000).toFixed(2);

export async function main(args: string[]): Promise<void> {
  const sizes = opt(args, '--sizes', '3,9').split(',').map(Number);
  const providers = opt(args, '--providers', 'ec2,openstack,baremetal').split(',') as ('ec2' | 'openstack' | 'baremetal')[];
  const orchestrator = opt(args, '--orchestrator', 'swarm') as 'swarm' | 'marathon' | 'kubernetes';
  const dir = await mkdtemp(join(tmpdir(), 'mixmesh-bench-gw-'));
  const world = await startEngineWorld({ dir, openstack: providers.includes('openstack'), ec2: providers.includes('ec2') });
  const maxSize = Math.max(...sizes);
  const metal = providers.includes('baremetal')
    ? await metalHosts(world, 'bench-metal', orchestrator === 'kubernetes' ? { kubernetes: { managers: 1, workers: maxSize - 1 } } : { [orchestrator]: maxSize })
    : [];
  const h = await startGatewayHarness(world, worldGatewayConfig(world, { inventory: metal }));
  process.stdout.write(`gateway bench: ${orchestrator}, sizes ${sizes.join(', ')}, providers ${providers.join(', ')} (load ${(await import('node:os')).loadavg()[0]!.toFixed(1)})\n`);
  process.stdout.write('provider   hosts  total s  critical s  ratio  slowest chain (provision/ssh/install/join s)  delete s\n');
  try {
    for (const provider of providers) {
      for (const size of sizes) {
        const name = `b-${provider.slice(0, 2)}-${size}`;
        const t0 = Date.now();
        const r = await h.req('POST', '/v1/gateway/clusters', { body: { name, orchestrator, infrastructure: { provider }, size: { managers: 1, workers: size - 1 } } });
        if (r.status !== 202) throw new Error(r.text);
        const op = await h.waitOperation(r.body.operationId as string, 900_000);
        const total = Date.now() - t0;
        if (op.state !== 'Succeeded') throw new Error(`${name}: ${JSON.stringify(op)}`);
        const hosts = (await h.req('GET', `/v1/gateway/clusters/${name}/hosts`)).body.items as HostRecord[];
        const chains = hosts.map((x) => ({ x, ms: (x.times!.joined ?? 0) - (x.times!.requested ?? 0) }));
        const slow = chains.sort((a, b) => b.ms - a.ms)[0]!;
        const t = slow.x.times!;
        const d0 = Date.now();
        const del = await h.req('DELETE', `/v1/gateway/clusters/${name}`);
        const dop = await h.waitOperation(del.body.operationId as string, 900_000);
        if (dop.state !== 'Succeeded') throw new Error(`delete ${name}: ${JSON.stringify(dop)}`);
        const delMs = Date.now() - d0;
        process.stdout.write(`${provider.padEnd(10)} ${String(size).padStart(5)}  ${s(total).padStart(7)}  ${s(slow.ms).padStart(10)}  ${(total / slow.ms).toFixed(2).padStart(5)}  ${slow.x.role.padEnd(7)} ${s(t.provisioned! - t.requested!)}/${s(t.reachable! - t.provisioned!)}/${s(t.installed! - t.reachable!)}/${s(t.joined! - t.installed!)}${' '.repeat(12)}${s(delMs).padStart(8)}\n`);
      }
    }
  } finally {
    await h.stop();
    await world.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
