/**
 * The gateway on every provider: Swarm and Marathon clusters of 1 manager + 2 workers on EC2
 * (the emulator, driven by the real @aws-sdk/client-ec2), on OpenStack (Tacker VNFs, Nova) and on
 * bare metal; the faults (EC2 InsufficientInstanceCapacity, an instance that never becomes
 * reachable, the gateway restarted mid-create); registering an existing Kubernetes cluster and an
 * existing Docker Engine. After each: no instance, no VM, no engine left.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { KubeClient, kubeConfigFromText } from '../clients/kube/index.js';
import { createOpenStackClient, loadOpenStackConfig } from '../clients/openstack/index.js';
import { startEngineWorld, type EngineWorld } from '../sandbox/engines/world.js';
import { startDockerd, type RunningEngine } from '../sandbox/swarm/index.js';
import type { SandboxVm } from '../sandbox/vms/index.js';
import { MESOS_IMAGE, SWARM_IMAGE } from '../sandbox/engines/image.js';
import { MESOS_VNFD_ID } from '../sandbox/engines/world.js';
import { hostImages, metalHosts, runClusterScenario, runUpdateAndLogs, startGatewayHarness, swarmProbe, marathonProbe, until, worldGatewayConfig, type GatewayHarness } from '../test/helpers/gateway-harness.js';

describe('gateway: every orchestrator on every provider', function () {
  this.timeout(900_000);
  let dir: string;
  let world: EngineWorld;
  let metal: SandboxVm[];
  let h: GatewayHarness;
  const config = () => worldGatewayConfig(world, { inventory: metal });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mixmesh-gw-prov-'));
    world = await startEngineWorld({ dir, openstack: true, ec2: true });
    metal = await metalHosts(world, 'metal', { marathon: 3 });
    h = await startGatewayHarness(world, config());
  });

  after(async () => {
    await h?.stop();
    await world?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const vnfs = async (): Promise<number> => {
    const client = createOpenStackClient(loadOpenStackConfig({ OS_CLOUD: 'sandbox', OS_CLIENT_CONFIG_FILE: world.cloudsYaml! })!);
    return (await client.tacker.listVnfInstances({})).length;
  };
  const nothingLeft = async (): Promise<void> => {
    assert.deepEqual(world.ec2!.liveInstances(), []);
    assert.equal(await vnfs(), 0);
    assert.deepEqual(world.base.list().map((v) => v.serverId).sort(), metal.map((v) => v.serverId).sort());
    assert.deepEqual(world.engines(), { docker: 0, marathon: 0 });
    assert.equal(world.marathonTaskProcesses(), 0);
    // no container left either: no containerd shim or dockerd of this world runs
    const ours = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map((p) => { try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' '); } catch { return ''; } })
      .filter((cmd) => cmd.includes(join(dir, 'engines')) && /containerd-shim|dockerd|containerd /.test(cmd));
    assert.deepEqual(ours, []);
  };

  for (const provider of ['ec2', 'openstack', 'baremetal'] as const) {
    for (const orchestrator of ['swarm', 'marathon'] as const) {
      if (provider === 'baremetal' && orchestrator === 'swarm') continue; // swarm.e2e.test.ts
      it(`${orchestrator} on ${provider}: 1 manager + 2 workers, 3 replicas, scale, delete, nothing left`, async () => {
        await runClusterScenario(h, {
          name: `${orchestrator.slice(0, 2)}-${provider}`, orchestrator, provider, probe: orchestrator === 'swarm' ? swarmProbe : marathonProbe,
          // update (Marathon restarts the app's tasks; logs: 422, Marathon has no logs API) and logs (Swarm: the service's logs)
          beforeDelete: async (cluster: string) => {
            // every host booted its orchestrator's image (the VNF package's sw_image_data, the AMI, the inventory mark)
            const image = orchestrator === 'swarm' ? SWARM_IMAGE : MESOS_IMAGE;
            assert.deepEqual(await hostImages(h, world, cluster), { manager: [image], worker: [image, image] });
            if (provider === 'baremetal' || (provider === 'ec2' && orchestrator === 'swarm')) await runUpdateAndLogs(h, cluster, { logs: orchestrator === 'swarm' });
          },
        });
        await nothingLeft();
      });
    }
  }

  it('OpenStack boots the VNF package the configuration names: Swarm on the Mesos image fails its install, naming the host and step', async () => {
    await h.stop();
    const wrong = config();
    (wrong.openstack as { images: Record<string, unknown> }).images = { swarm: MESOS_VNFD_ID };
    h = await startGatewayHarness(world, wrong);
    try {
      const r = await h.req('POST', '/v1/gateway/clusters', { body: { name: 'wrong-image', orchestrator: 'swarm', infrastructure: { provider: 'openstack' }, size: { managers: 1, workers: 1 } } });
      const op = await h.waitOperation(r.body.operationId as string);
      assert.equal(op.state, 'RolledBack', JSON.stringify(op));
      assert.match(String(op.error), /install swarm on host wrong-image-(manager|worker)-0 .*engine: .*dockerd is not installed/);
      const del = await h.req('DELETE', '/v1/gateway/clusters/wrong-image');
      assert.equal((await h.waitOperation(del.body.operationId as string)).state, 'Succeeded');
    } finally {
      await h.stop();
      h = await startGatewayHarness(world, config());
    }
    await nothingLeft();
  });

  it('EC2 InsufficientInstanceCapacity fails the create and releases what it made', async () => {
    world.ec2!.setCapacity('t3.small', 2);
    try {
      const r = await h.req('POST', '/v1/gateway/clusters', { body: { name: 'nocap', orchestrator: 'marathon', infrastructure: { provider: 'ec2' }, size: { managers: 1, workers: 2 } } });
      const op = await h.waitOperation(r.body.operationId as string);
      assert.equal(op.state, 'RolledBack', JSON.stringify(op));
      assert.match(String(op.error), /InsufficientInstanceCapacity/);
      await until('instances terminated', async () => world.ec2!.liveInstances().length === 0, 60_000);
    } finally {
      world.ec2!.setCapacity('t3.small', undefined);
    }
    const del = await h.req('DELETE', '/v1/gateway/clusters/nocap');
    assert.equal((await h.waitOperation(del.body.operationId as string)).state, 'Succeeded');
    await nothingLeft();
  });

  it('an instance that never becomes reachable fails after its timeout and releases every host', async () => {
    world.base.setSshdDelay(3_600_000);
    try {
      const r = await h.req('POST', '/v1/gateway/clusters', { body: { name: 'unreach', orchestrator: 'marathon', infrastructure: { provider: 'ec2', hostTimeoutSeconds: 4 }, size: { managers: 1, workers: 1 } } });
      const op = await h.waitOperation(r.body.operationId as string);
      assert.equal(op.state, 'RolledBack', JSON.stringify(op));
      assert.match(String(op.error), /did not answer SSH within/);
      await until('instances terminated', async () => world.ec2!.liveInstances().length === 0, 60_000);
    } finally {
      world.base.setSshdDelay(0);
    }
    const del = await h.req('DELETE', '/v1/gateway/clusters/unreach');
    assert.equal((await h.waitOperation(del.body.operationId as string)).state, 'Succeeded');
    await nothingLeft();
  });

  it('the gateway restarted mid-create resumes and makes no duplicate instance', async () => {
    const r = await h.req('POST', '/v1/gateway/clusters', { body: { name: 'resume', orchestrator: 'marathon', infrastructure: { provider: 'ec2' }, size: { managers: 1, workers: 2 } } });
    assert.equal(r.status, 202);
    await until('an instance provisioned', async () => {
      const hosts = (await h.req('GET', '/v1/gateway/clusters/resume/hosts')).body.items as { state: string }[] | undefined;
      return hosts?.some((x) => x.state !== 'Requested');
    });
    await h.stop();
    const before = world.ec2!.liveInstances().length;
    assert.ok(before >= 1 && before <= 3, `${before} instances when stopped`);
    h = await startGatewayHarness(world, config());
    const op = await h.waitOperation(r.body.operationId as string);
    assert.equal(op.state, 'Succeeded', JSON.stringify(op));
    const names = world.ec2!.liveInstances().map((i) => i.name).sort();
    assert.deepEqual(names, ['resume-manager-0', 'resume-worker-0', 'resume-worker-1']);
    const events = (await h.req('GET', '/v1/gateway/clusters/resume/events')).body.items as { reason: string }[];
    assert.ok(events.some((e) => e.reason === 'Resumed'));
    const del = await h.req('DELETE', '/v1/gateway/clusters/resume');
    assert.equal((await h.waitOperation(del.body.operationId as string)).state, 'Succeeded');
    await nothingLeft();
  });

  it('registers the sandbox Kubernetes and a Docker Engine, uses them, and forgets them without touching them', async () => {
    // Kubernetes: the management cluster itself
    const k = await h.req('POST', '/v1/gateway/clusters', { body: { name: 'kube', orchestrator: 'kubernetes', register: { kubeconfig: world.kube.kubeconfig() } } });
    assert.equal(k.status, 202, k.text);
    assert.equal((await h.waitOperation(k.body.operationId as string)).state, 'Succeeded');
    const kinfo = await h.req('GET', '/v1/gateway/clusters/kube');
    assert.equal(kinfo.body.phase, 'Ready');
    assert.match(String(kinfo.body.version), /^v1\./);
    const ks = await h.req('POST', '/v1/gateway/clusters/kube/services', { body: { name: 'web', template: 'web', parameters: { replicas: 3 } } });
    assert.equal(ks.status, 201, ks.text);
    await until('3 ready pods', async () => ((await h.req('GET', '/v1/gateway/clusters/kube/services/web')).body.running as number) === 3);
    const pods = (await h.req('GET', '/v1/gateway/clusters/kube/services/web/containers')).body.items as { id: string }[];
    assert.equal(pods.length, 3);
    // the containers are the pods the cluster itself lists
    const mgmt = new KubeClient(kubeConfigFromText(world.kube.kubeconfig()));
    const livePods = async (): Promise<string[]> => ((await mgmt.list('v1', 'Pod', { namespace: 'mixmesh-gateway', labelSelector: 'mixmesh.io/gateway-service=web' })).items as { metadata: { name: string; deletionTimestamp?: string } }[])
      .filter((p) => !p.metadata.deletionTimestamp).map((p) => p.metadata.name).sort();
    try {
      assert.deepEqual(pods.map((p) => p.id).sort(), await livePods());
      const klist = (await h.req('GET', '/v1/gateway/clusters/kube/services')).body.items as { name: string; desired: number; running: number }[];
      assert.deepEqual(klist.map((x) => [x.name, x.desired, x.running]), [['web', 3, 3]]);
      assert.equal((await h.req('PATCH', '/v1/gateway/clusters/kube/services/web', { body: { replicas: 2 } })).status, 200);
      await until('2 pods', async () => ((await h.req('GET', '/v1/gateway/clusters/kube/services/web')).body.desired as number) === 2 && (await livePods()).length === 2);
      // update: the Deployment rolls to new pods with the new env; logs: one entry per pod (empty on the emulator's virtual node)
      const beforeUpdate = await livePods();
      assert.equal((await h.req('PATCH', '/v1/gateway/clusters/kube/services/web', { body: { env: { MESSAGE: 'v2' } } })).status, 200);
      await until('2 new pods', async () => { const now = await livePods(); return now.length === 2 && now.every((n) => !beforeUpdate.includes(n)); });
      const dep = await mgmt.get({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'mixmesh-gateway', name: 'web' }) as unknown as { spec: { template: { spec: { containers: { env?: { name: string; value: string }[] }[] } } } };
      assert.deepEqual(dep.spec.template.spec.containers[0]!.env, [{ name: 'MESSAGE', value: 'v2' }]);
      await until('logs of the 2 new pods', async () => {
        const logs = await h.req('GET', '/v1/gateway/clusters/kube/services/web/logs');
        return logs.status === 200 && JSON.stringify((logs.body.items as { container: string }[]).map((x) => x.container).sort()) === JSON.stringify(await livePods());
      });
    } finally {
      mgmt.close();
    }
    const kdel = await h.req('DELETE', '/v1/gateway/clusters/kube');
    assert.equal((await h.waitOperation(kdel.body.operationId as string)).state, 'Succeeded');
    const afterKube = await fetch(`${world.kube.url}/apis/apps/v1/namespaces/mixmesh-gateway/deployments/web`, { headers: { authorization: `Bearer ${world.kube.token}` } }).catch(() => undefined);
    assert.notEqual(afterKube?.status, 200);

    // a Docker Engine on a unix socket, not made by the gateway: a single-node swarm
    let engine: RunningEngine | undefined;
    const vm = await world.base.create({ serverId: 'reg-engine', name: 'reg-engine' });
    try {
      engine = await startDockerd({ dir: join(dir, 'reg'), address: vm.address, hostname: 'reg-engine' });
      const docker = new Docker({ socketPath: engine.socket.slice('unix://'.length) });
      await docker.swarmInit({ AdvertiseAddr: vm.address, ListenAddr: `${vm.address}:2377` });
      const d = await h.req('POST', '/v1/gateway/clusters', { body: { name: 'dock', orchestrator: 'swarm', register: { endpoint: engine.socket } } });
      assert.equal((await h.waitOperation(d.body.operationId as string)).state, 'Succeeded');
      assert.equal((await h.req('POST', '/v1/gateway/clusters/dock/services', { body: { name: 'web', template: 'web', parameters: { replicas: 3 } } })).status, 201);
      await until('3 tasks', async () => (await swarmProbe(vm.address, 'web')).length === 3);
      const del = await h.req('DELETE', '/v1/gateway/clusters/dock');
      assert.equal((await h.waitOperation(del.body.operationId as string)).state, 'Succeeded');
      // forgotten: its services are gone, the engine and its swarm are not
      assert.equal((await docker.listServices()).length, 0);
      assert.equal(((await docker.info()) as { Swarm: { LocalNodeState: string } }).Swarm.LocalNodeState, 'active');
    } finally {
      await engine?.stop();
      await world.base.remove(vm.serverId);
    }
  });
});
