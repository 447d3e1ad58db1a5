import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeClient, loadKubeConfig } from '../clients/kube/index.js';
import { DEFAULT_MESH_VALUES } from '../descriptor/index.js';
import { startKubeEmulator, type KubeEmulator } from '../sandbox/kube/index.js';
import { kubeCluster } from './cluster-kube.js';
import { Injector } from './injector.js';
import { parseConsoleHostKeys, sshConnector } from './shell.js';
import { PACKAGE_CACHE, createVmWorld, prepareArtifacts, type VmWorld } from '../test/helpers/vm-world.js';

describe('vm-sidecar-injector against the Kubernetes API emulator (real TokenRequest, seeded Istio)', function () {
  this.timeout(60_000);
  let kube: KubeEmulator;
  let client: KubeClient;
  let world: VmWorld;

  before(async () => {
    kube = await startKubeEmulator({ eastWestIp: '127.0.10.250' });
    world = await createVmWorld('mixmesh-injkube-');
    await prepareArtifacts(world.artifacts, PACKAGE_CACHE, '1.30.3', ['deb']);
    const kcPath = join(world.dir, 'kubeconfig');
    writeFileSync(kcPath, kube.kubeconfig());
    client = new KubeClient(loadKubeConfig(kcPath));
    await client.apply([
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'cafe' } },
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'order-api', namespace: 'cafe' } },
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'vm-ssh', namespace: 'cafe' }, type: 'kubernetes.io/ssh-auth', data: { 'ssh-privatekey': Buffer.from(world.clientKey).toString('base64') } },
      {
        apiVersion: 'networking.istio.io/v1', kind: 'WorkloadGroup', metadata: { name: 'order-api-v1', namespace: 'cafe' },
        spec: {
          metadata: { labels: { app: 'order-api', version: 'v1', 'mixmesh.io/service': 'iot-cafe', 'service.istio.io/canonical-name': 'order-api', 'service.istio.io/canonical-revision': 'v1' } },
          template: { serviceAccount: 'order-api', ports: { http: 8081 } },
          probe: { httpGet: { path: '/healthz', port: 8081 } },
        },
      },
    ]);
  });
  after(async () => {
    await world?.close();
    await kube?.stop();
  });

  it('reads the live facts and injects a VM with a real TokenRequest token (audience istio-ca, expiry from status)', async () => {
    const cluster = kubeCluster(client);
    const wg = await cluster.getWorkloadGroup('cafe', 'order-api-v1');
    assert.equal(wg?.spec.template.serviceAccount, 'order-api');
    assert.equal(await cluster.getSecretValue('cafe', 'vm-ssh', 'ssh-privatekey'), world.clientKey);
    // the emulator publishes the CA root into each namespace shortly after it is created
    let root: string | undefined;
    for (let i = 0; i < 50 && !root; i++) {
      root = await cluster.getConfigMapValue('cafe', 'istio-ca-root-cert', 'root-cert.pem');
      if (!root) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(root, kube.istioRootPem);
    const issued = await cluster.requestToken('cafe', 'order-api', ['istio-ca'], 3600);
    const claims = JSON.parse(Buffer.from(issued.token.split('.')[1]!, 'base64url').toString()) as { aud: string[]; exp: number };
    assert.deepEqual(claims.aud, ['istio-ca']);
    assert.equal(claims.exp, Math.floor(issued.expiresAt.getTime() / 1000));
    await assert.rejects(cluster.requestToken('cafe', 'order-api', ['istio-ca'], 100), /600|expirationSeconds/);

    const vm = await world.provider.create({ serverId: 'kube-vm', name: 'order-api-v1-0' });
    const injector = new Injector({
      cluster, nova: { getServer: async () => ({}), getConsoleOutput: async () => vm.consoleOutput() }, connect: sshConnector({ connectBudgetMs: 5000 }),
      parseConsoleHostKeys, meshValues: DEFAULT_MESH_VALUES, artifacts: { dir: world.artifacts }, readiness: { attempts: 40, intervalSeconds: 0.1 }, renewal: false,
    });
    try {
      const inj = injector.create({ vm: { address: vm.address, port: 22, user: 'root', secretRef: { namespace: 'cafe', name: 'vm-ssh' }, hostKey: 'console', serverId: 'kube-vm' }, workload: { service: 'iot-cafe', name: 'order-api', version: 'v1', namespace: 'cafe' } });
      await injector.idle();
      assert.equal(inj.state, 'Succeeded', JSON.stringify(inj.error));
      const hosts = readFileSync(join(vm.rootfs, 'etc/hosts'), 'utf8');
      assert.match(hosts, /^127\.0\.10\.250 istiod\.istio-system\.svc$/m);
      const mesh = readFileSync(join(vm.rootfs, 'var/lib/istio/config/mesh'), 'utf8');
      assert.match(mesh, /readinessProbe:\n\s+httpGet:\n\s+path: \/healthz\n\s+port: 8081/);
    } finally {
      await injector.close();
    }
  });
});
