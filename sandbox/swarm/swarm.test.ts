/**
 * The swarm image: `dockerd` and `docker` in two VMs (the stand-ins, real command lines) start real
 * Docker Engines on the VMs' addresses, `docker swarm init|join` make one real Swarm, a service's
 * tasks spread over both; removing the VMs stops the engines and leaves no mount behind.
 */
import assert from 'node:assert/strict';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectSsh, type RemoteShell } from '../../clients/ssh/index.js';
import { startEngineWorld, type EngineWorld } from '../engines/world.js';
import { SWARM_IMAGE } from '../engines/image.js';

describe('sandbox/swarm: a real Docker Engine per VM', function () {
  this.timeout(180_000);
  let dir: string;
  let world: EngineWorld;
  const shells: RemoteShell[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mixmesh-swarm-'));
    world = await startEngineWorld({ dir });
  });

  after(async () => {
    for (const s of shells) await s.close().catch(() => undefined);
    await world?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('forms a two-node swarm from the real command lines and spreads a service over it', async () => {
    const [a, b] = await Promise.all([world.vms.create({ serverId: 'sa', name: 'swarm-a', image: SWARM_IMAGE }), world.vms.create({ serverId: 'sb', name: 'swarm-b', image: SWARM_IMAGE })]);
    const sh = await Promise.all([a, b].map((vm) => connectSsh({ host: vm.address, username: 'root', privateKey: world.sshPrivateKey, hostKey: { expected: [vm.hostPublicKey] } })));
    shells.push(...sh);
    const up = 'i=0; until docker info >/dev/null 2>&1; do i=$((i+1)); [ $i -lt 90 ] || exit 1; sleep 1; done';
    await Promise.all(sh.map((s) => s.exec(`(dockerd </dev/null >/var/log/dockerd.log 2>&1 &); ${up}`)));
    assert.match((await sh[0]!.exec("docker version --format '{{.Server.Version}}'")).stdout, /^20\.10\./);
    await sh[0]!.exec(`docker swarm init --advertise-addr ${a.address} --listen-addr ${a.address}:2377`);
    const token = (await sh[0]!.exec('docker swarm join-token -q worker')).stdout.trim();
    await sh[1]!.exec(`docker swarm join --token ${token} --advertise-addr ${b.address} --listen-addr ${b.address}:2377 ${a.address}:2377`);
    await sh[0]!.exec('docker service create --detach --name spread --replicas 4 busybox:stable sleep 3600');
    let perNode = new Map<string, number>();
    for (let i = 0; i < 120; i++) {
      const out = (await sh[0]!.exec("docker service ps spread --filter desired-state=running --format '{{.Node}} {{.CurrentState}}'")).stdout;
      const nodeIds = (await sh[0]!.exec("docker node ls --format '{{.ID}}'")).stdout.trim().split('\n');
      void nodeIds;
      const running = out.split('\n').filter((l) => l.includes('Running'));
      if (running.length === 4) {
        const tasks = (await sh[0]!.exec("docker service ps spread --filter desired-state=running --format '{{.ID}}'")).stdout.trim().split('\n');
        perNode = new Map();
        for (const t of tasks) {
          const node = (await sh[0]!.exec(`docker inspect --format '{{.NodeID}}' ${t}`)).stdout.trim();
          perNode.set(node, (perNode.get(node) ?? 0) + 1);
        }
        break;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(perNode.size, 2, 'tasks on both nodes');
    assert.equal([...perNode.values()].reduce((x, y) => x + y, 0), 4);
    // a command the engine refuses comes back with its exit code and message
    const bad = await sh[0]!.exec('docker service rm no-such-service', { allowFailure: true });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /no-such-service/);
    await world.vms.remove('sb');
    await world.vms.remove('sa');
    assert.deepEqual(world.engines(), { docker: 0, marathon: 0 });
    const mounts = await readFile('/proc/self/mountinfo', 'utf8');
    assert.ok(!mounts.includes(join(dir, 'engines')), 'no engine mount left');
  });
});
