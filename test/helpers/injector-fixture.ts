/**
 * A running injector for tests: the API on a real HTTP listener, real SSH VMs, the stand-in
 * sidecar, an in-memory cluster seeded like the sandbox's, Nova answered from the VM provider.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { silentLogger, type Logger } from '../../common/logger.js';
import { DEFAULT_MESH_VALUES } from '../../descriptor/index.js';
import { createInjectorApp } from '../../vm-sidecar-injector/api/app.js';
import { Injector } from '../../vm-sidecar-injector/injector.js';
import { parseConsoleHostKeys, sshConnector } from '../../vm-sidecar-injector/shell.js';
import { MemoryCluster } from './memory-cluster.js';
import type { VmWorld } from './vm-world.js';

export const FIXTURE_TOKEN = 'fixture-injector-token-0123456789';
export const FIXTURE_ROOT_CERT = '-----BEGIN CERTIFICATE-----\nMIIBfixturerootcert00000\n-----END CERTIFICATE-----\n';

export interface InjectorFixture {
  url: string;
  token: string;
  injector: Injector;
  cluster: MemoryCluster;
  close(): Promise<void>;
}

/** Seed the objects the injector reads for `cafe/iot-cafe`'s VM microservice order-api v1. */
export function seedCluster(cluster: MemoryCluster, world: VmWorld, pkg: 'deb' | 'rpm' | 'tar' = 'tar', version = '1.30.3'): void {
  cluster.workloadGroups.set('cafe/order-api-v1', {
    metadata: { name: 'order-api-v1', namespace: 'cafe' },
    spec: {
      metadata: { labels: { app: 'order-api', version: 'v1', 'mixmesh.io/service': 'iot-cafe', 'service.istio.io/canonical-name': 'order-api', 'service.istio.io/canonical-revision': 'v1' } },
      template: { serviceAccount: 'order-api', network: '', ports: { http: 8081 } },
    },
  });
  cluster.secrets.set('cafe/vm-ssh', { 'ssh-privatekey': world.clientKey });
  cluster.configMaps.set('cafe/istio-ca-root-cert', { 'root-cert.pem': FIXTURE_ROOT_CERT });
  cluster.configMaps.set('istio-system/istio', { mesh: 'trustDomain: cluster.local\n' });
  cluster.services.set('istio-system/istio-eastwestgateway', { status: { loadBalancer: { ingress: [{ ip: '127.0.10.254' }] } } });
  cluster.meshServices.set('cafe/iot-cafe', {
    spec: { microservices: [{ name: 'order-api', version: 'v1', runtime: 'vm', vm: { ssh: { user: 'root', port: 22, credentialsSecret: 'vm-ssh', hostKey: 'console' }, sidecar: { package: pkg, istioVersion: version } } }] },
  });
}

/** Nova as the injector reads it (server addresses, console output), answered from the world's VMs. */
export function novaOf(world: VmWorld) {
  return {
    async getServer(serverId: string) {
      const vm = world.provider.get(serverId);
      if (!vm) throw new Error(`no server ${serverId}`);
      return { addresses: { net0: [{ addr: vm.address, version: 4, 'OS-EXT-IPS:type': 'fixed' as const }] } };
    },
    async getConsoleOutput(serverId: string) {
      const vm = world.provider.get(serverId);
      if (!vm) throw new Error(`no server ${serverId}`);
      return vm.consoleOutput();
    },
  };
}

export async function startInjectorFixture(world: VmWorld, opts: { log?: Logger; maxParallel?: number; connectBudgetMs?: number; renewal?: boolean; tokenLifetimeSeconds?: number } = {}): Promise<InjectorFixture> {
  const cluster = new MemoryCluster();
  seedCluster(cluster, world);
  cluster.tokenLifetimeSeconds = opts.tokenLifetimeSeconds;
  const log = opts.log ?? silentLogger;
  const nova = novaOf(world);
  const injector = new Injector({
    cluster, nova, connect: sshConnector({ connectBudgetMs: opts.connectBudgetMs ?? 5000, log }), parseConsoleHostKeys, meshValues: DEFAULT_MESH_VALUES,
    artifacts: { dir: world.artifacts }, log, maxParallel: opts.maxParallel ?? 8, readiness: { attempts: 40, intervalSeconds: 0.1 }, renewal: opts.renewal ?? false,
  });
  const server: Server = createServer(createInjectorApp({ injector, token: FIXTURE_TOKEN, log }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url, token: FIXTURE_TOKEN, injector, cluster,
    async close() {
      await injector.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
