/**
 * The gateway creating Kubernetes clusters with kubeadm over SSH: 1 manager (the bare control-plane
 * image: `kubeadm init` starts its API server) + 2 workers (the worker image: `kubeadm join`, then a
 * kubelet runs pods as processes in the VM) on OpenStack (Tacker VNFs of those images), on EC2 (the
 * emulator's AMIs of those images, through @aws-sdk/client-ec2) and on bare metal (an inventory of
 * VMs booted with them); a catalog service with 3 replicas checked against the pods the cluster's
 * own API server lists, scale, delete; then nothing left: no instance, no VM, no API server, no pod.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeClient, kubeConfigFromText } from '../clients/kube/index.js';
import { createOpenStackClient, loadOpenStackConfig } from '../clients/openstack/index.js';
import { startEngineWorld, type EngineWorld } from '../sandbox/engines/world.js';
import type { SandboxVm } from '../sandbox/vms/index.js';
import { CONTROL_PLANE_BARE_IMAGE, WORKER_IMAGE } from '../sandbox/nodes/index.js';
import { hostImages, metalHosts, runClusterScenario, runUpdateAndLogs, startGatewayHarness, worldGatewayConfig, type EngineProbe, type GatewayHarness } from '../test/helpers/gateway-harness.js';

describe('gateway: Kubernetes clusters made with kubeadm on every provider', function () {
  this.timeout(900_000);
  let dir: string;
  let world: EngineWorld;
  let metal: SandboxVm[];
  let h: GatewayHarness;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mixmesh-gw-kube-'));
    world = await startEngineWorld({ dir, openstack: true, ec2: true });
    metal = await metalHosts(world, 'kmetal', { kubernetes: { managers: 1, workers: 2 }, swarm: 1 });
    h = await startGatewayHarness(world, worldGatewayConfig(world, { inventory: metal }));
  });

  after(async () => {
    await h?.stop();
    await world?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** the running pods of a service as the cluster's own API server (the one kubeadm init started on the manager) lists them */
  const kubeProbe: EngineProbe = async (manager, service) => {
    const cluster = [...world.nodes.initClusters().values()].find((k) => new URL(k.url).hostname === manager);
    if (!cluster) return [];
    const kube = new KubeClient(kubeConfigFromText(cluster.kubeconfig()));
    try {
      const pods = (await kube.list('v1', 'Pod', { namespace: 'mixmesh-gateway', labelSelector: `mixmesh.io/gateway-service=${service}` })).items as { metadata: { name: string; deletionTimestamp?: string }; status?: { phase?: string } }[];
      return pods.filter((p) => !p.metadata.deletionTimestamp && p.status?.phase === 'Running').map((p) => p.metadata.name);
    } finally {
      kube.close();
    }
  };

  const nothingLeft = async (): Promise<void> => {
    assert.deepEqual(world.ec2!.liveInstances(), []);
    const client = createOpenStackClient(loadOpenStackConfig({ OS_CLOUD: 'sandbox', OS_CLIENT_CONFIG_FILE: world.cloudsYaml! })!);
    assert.equal((await client.tacker.listVnfInstances({})).length, 0);
    assert.deepEqual(world.base.list().map((v) => v.serverId).sort(), metal.map((v) => v.serverId).sort());
    // kubeadm reset on the bare-metal manager stopped its API server; the workers' kubelets stopped their pods
    assert.equal(world.nodes.initClusters().size, 0);
    for (const vm of metal) {
      const ps = await world.nodes.exec(vm.serverId, 'ps -o args');
      assert.doesNotMatch(ps.stdout, /sleep inf|heartbeat/, `a pod process left in ${vm.serverId}: ${ps.stdout}`);
      const conf = await world.nodes.exec(vm.serverId, 'ls /etc/kubernetes 2>/dev/null');
      assert.doesNotMatch(conf.stdout, /admin\.conf|kubelet\.conf/, `${vm.serverId} still holds ${conf.stdout}`);
    }
  };

  for (const provider of ['openstack', 'ec2', 'baremetal'] as const) {
    it(`kubernetes on ${provider}: kubeadm 1 manager + 2 workers, 3 replicas (pods), scale, delete, nothing left`, async () => {
      // heartbeat, not web: the sandbox's pods share their VM's network (no pod IPs), where three
      // `web` servers on port 8080 would collide; on openstack also a rolling update and the pods' logs
      await runClusterScenario(h, {
        name: `k8-${provider}`, orchestrator: 'kubernetes', provider, probe: kubeProbe, template: 'heartbeat',
        beforeDelete: async (cluster: string) => {
          // the manager booted the bare control-plane image, the workers the worker image
          assert.deepEqual(await hostImages(h, world, cluster), { manager: [CONTROL_PLANE_BARE_IMAGE], worker: [WORKER_IMAGE, WORKER_IMAGE] });
          if (provider === 'openstack') await runUpdateAndLogs(h, cluster, { logs: true });
        },
      });
      await nothingLeft();
    });
  }

  it('the admin kubeconfig stays in a Secret: neither the Cluster nor its events show it', async () => {
    const r = await h.req('POST', '/v1/gateway/clusters', { body: { name: 'k8-secret', orchestrator: 'kubernetes', infrastructure: { provider: 'openstack' }, size: { managers: 1, workers: 1 } } });
    assert.equal(r.status, 202, r.text);
    assert.equal((await h.waitOperation(r.body.operationId as string)).state, 'Succeeded');
    const shown = [(await h.req('GET', '/v1/gateway/clusters/k8-secret')).text, (await h.req('GET', '/v1/gateway/clusters/k8-secret/events')).text, (await h.req('GET', '/v1/gateway/clusters/k8-secret/hosts')).text].join('\n');
    assert.doesNotMatch(shown, /client-key-data|token:|certificate-authority-data/);
    const del = await h.req('DELETE', '/v1/gateway/clusters/k8-secret');
    assert.equal((await h.waitOperation(del.body.operationId as string)).state, 'Succeeded');
    const kube = new KubeClient(kubeConfigFromText(world.kube.kubeconfig()));
    try {
      assert.equal(await kube.get({ apiVersion: 'v1', kind: 'Secret', namespace: 'mixmesh-gateway', name: 'gateway-cluster-k8-secret' }), undefined);
    } finally {
      kube.close();
    }
    await nothingLeft();
  });
});
