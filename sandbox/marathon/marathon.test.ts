/**
 * The mesos image's engines through their stand-ins over SSH (the real command lines), then
 * Marathon's v2 API: an app's tasks are real processes in the agents' VMs; scale and delete end
 * them; Marathon's validation and not-found answers.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectSsh, type RemoteShell } from '../../clients/ssh/index.js';
import { startEngineWorld, type EngineWorld } from '../engines/world.js';
import { MESOS_IMAGE } from '../engines/image.js';
import type { SandboxVm } from '../vms/index.js';

describe('sandbox/marathon: Mesos master/agent and Marathon v2 behind the stand-ins', function () {
  this.timeout(120_000);
  let dir: string;
  let world: EngineWorld;
  let m: SandboxVm;
  let a: SandboxVm;
  const shells: RemoteShell[] = [];
  const ssh = async (vm: SandboxVm): Promise<RemoteShell> => {
    const s = await connectSsh({ host: vm.address, username: 'root', privateKey: world.sshPrivateKey, hostKey: { expected: [vm.hostPublicKey] } });
    shells.push(s);
    return s;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mixmesh-marathon-'));
    world = await startEngineWorld({ dir });
    [m, a] = await Promise.all([world.vms.create({ serverId: 'm', name: 'master', image: MESOS_IMAGE }), world.vms.create({ serverId: 'a', name: 'agent', image: MESOS_IMAGE })]);
  });

  after(async () => {
    for (const s of shells) await s.close().catch(() => undefined);
    await world?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('starts from the real command lines and runs tasks as processes in the VMs', async () => {
    const ms = await ssh(m);
    const as = await ssh(a);
    await ms.exec(`(mesos-master --ip=${m.address} --port=5050 --work_dir=/var/lib/mesos </dev/null >/var/log/mm.log 2>&1 &); (marathon --master ${m.address}:5050 --http_address ${m.address} --http_port 8080 </dev/null >/var/log/mt.log 2>&1 &); sleep 1`);
    // an agent pointed at no master fails the way mesos-agent does: it exits
    const bad = await as.exec('mesos-agent --master=127.0.10.254:5050 --ip=' + a.address, { allowFailure: true });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /no Mesos master answers/);
    await as.exec(`(mesos-agent --master=${m.address}:5050 --ip=${a.address} --work_dir=/var/lib/mesos </dev/null >/var/log/ma.log 2>&1 &)`);
    const base = `http://${m.address}:8080`;
    let state: { slaves: unknown[] } = { slaves: [] };
    for (let i = 0; i < 100 && state.slaves.length === 0; i++) {
      state = await fetch(`http://${m.address}:5050/state`).then((r) => r.json() as Promise<{ slaves: unknown[] }>).catch(() => ({ slaves: [] }));
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(state.slaves.length, 1);
    assert.equal(((await (await fetch(`${base}/v2/info`)).json()) as { name: string }).name, 'marathon');

    const invalid = await fetch(`${base}/v2/apps`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: '/Bad_Id', instances: -1 }) });
    assert.equal(invalid.status, 422);
    assert.equal((await fetch(`${base}/v2/apps/nope`)).status, 404);
    const created = await fetch(`${base}/v2/apps`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: '/sleeper', cmd: 'exec sleep 3601', instances: 2, cpus: 0.1, mem: 16 }) });
    assert.equal(created.status, 201);
    assert.equal((await fetch(`${base}/v2/apps`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: '/sleeper', cmd: 'true' }) })).status, 409);
    const running = async (): Promise<number> => ((await (await fetch(`${base}/v2/apps/sleeper/tasks`)).json()) as { tasks: { state: string }[] }).tasks.filter((t) => t.state === 'TASK_RUNNING').length;
    for (let i = 0; i < 100 && (await running()) < 2; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await running(), 2);
    const countInVm = async (): Promise<number> => Number((await as.exec("ps | grep -c '[s]leep 3601'", { allowFailure: true })).stdout.trim());
    assert.equal(await countInVm(), 2, (await as.exec('ps')).stdout);
    await fetch(`${base}/v2/apps/sleeper`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances: 1 }) });
    for (let i = 0; i < 100 && (await countInVm()) !== 1; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await countInVm(), 1);
    assert.equal((await fetch(`${base}/v2/apps/sleeper`, { method: 'DELETE' })).status, 200);
    for (let i = 0; i < 100 && (await countInVm()) !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await countInVm(), 0);
    await world.vms.remove('a');
    await world.vms.remove('m');
    assert.deepEqual(world.engines(), { docker: 0, marathon: 0 });
  });
});
