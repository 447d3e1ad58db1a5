/**
 * The Kubernetes driver: a registered cluster (kubeconfig) driven through clients/kube — a catalog
 * service becomes a Deployment + Service in namespace `mixmesh-gateway`, its containers are the
 * Deployment's pods. Creating a cluster (kubeadm over SSH) is not wired yet: the capability matrix
 * says so and the API refuses it with 422.
 */
import { MixmeshError } from '../../common/errors.js';
import { KubeClient, kubeConfigFromText, type KubeObject } from '../../clients/kube/index.js';
import { SERVICE_LABEL, toKubernetes } from '../translate.js';
import type { ContainerInfo, EngineClient, EngineDriver, EngineInfo, RegisterRequest, ServiceInfo } from '../types.js';

export const TARGET_NAMESPACE = 'mixmesh-gateway';

const notYet = (): never => {
  throw new MixmeshError('GATEWAY_PROVIDER_NOT_CONFIGURED', 'creating a kubernetes cluster (kubeadm over SSH) is not supported yet: register an existing one');
};

export function kubernetesDriver(): EngineDriver {
  return {
    kind: 'kubernetes',
    installEngine: async () => notYet(),
    initManager: async () => notYet(),
    joinWorker: async () => notYet(),
    uninstall: async () => undefined,
    connect(_endpoint, credentials) {
      return kubernetesClient(credentials ?? {});
    },
  };
}

interface Pod extends KubeObject {
  spec?: { nodeName?: string; containers?: { image?: string }[] };
  status?: { phase?: string; hostIP?: string; startTime?: string; containerStatuses?: { restartCount?: number; ready?: boolean }[] };
}

export function kubernetesClient(c: RegisterRequest): EngineClient {
  if (!c.kubeconfig) throw new MixmeshError('CONFIG_INVALID', 'a kubernetes cluster needs a kubeconfig');
  const kube = new KubeClient(kubeConfigFromText(c.kubeconfig, c.context));
  const dep = (name: string) => ({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: TARGET_NAMESPACE, name });
  const wrap = (what: string) => (e: unknown): never => {
    throw new MixmeshError('GATEWAY_ENGINE_FAILED', `Kubernetes: ${what}: ${(e as Error).message}`, { cause: e });
  };
  return {
    async info(): Promise<EngineInfo> {
      const version = await kube.version().catch(wrap('version'));
      const nodes = (await kube.list('v1', 'Node').catch(wrap('list nodes'))).items as (KubeObject & { status?: { conditions?: { type: string; status: string }[]; addresses?: { type: string; address: string }[]; nodeInfo?: { kubeletVersion?: string }; capacity?: Record<string, string> } })[];
      const list = nodes.map((n) => {
        const ready = n.status?.conditions?.find((x) => x.type === 'Ready')?.status === 'True';
        const cpu = n.status?.capacity?.cpu;
        return {
          id: n.metadata.name, hostname: n.metadata.name,
          ...(n.status?.addresses?.find((a) => a.type === 'InternalIP') ? { address: n.status.addresses.find((a) => a.type === 'InternalIP')!.address } : {}),
          role: (n.metadata.labels?.['node-role.kubernetes.io/control-plane'] !== undefined ? 'manager' : 'worker') as 'manager' | 'worker',
          state: ready ? 'Ready' : 'NotReady',
          ...(n.status?.nodeInfo?.kubeletVersion ? { engineVersion: n.status.nodeInfo.kubeletVersion } : {}),
          ...(cpu ? { resources: { cpus: Number(cpu) || 0 } } : {}),
        };
      });
      return { kind: 'kubernetes', version, healthy: list.every((n) => n.state === 'Ready'), nodes: list };
    },
    async createService(def) {
      const objs = toKubernetes(def, TARGET_NAMESPACE) as KubeObject[];
      await kube.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: TARGET_NAMESPACE } }, ...objs], { fieldManager: 'mixmesh-gateway' }).catch(wrap(`apply ${def.name}`));
      const live = await kube.get(dep(def.name));
      return live?.metadata.uid ?? def.name;
    },
    async scaleService(name, replicas) {
      if (!(await kube.get(dep(name)))) throw new MixmeshError('NOT_FOUND', `no Deployment ${TARGET_NAMESPACE}/${name}`);
      await kube.mergePatch(dep(name), { spec: { replicas } }).catch(wrap(`scale ${name}`));
    },
    async deleteService(name) {
      const had = await kube.delete(dep(name)).catch(wrap(`delete Deployment ${name}`));
      await kube.delete({ apiVersion: 'v1', kind: 'Service', namespace: TARGET_NAMESPACE, name }).catch(wrap(`delete Service ${name}`));
      return had;
    },
    async service(name): Promise<ServiceInfo> {
      const d = (await kube.get(dep(name)).catch(wrap(`get ${name}`))) as (KubeObject & { spec?: { replicas?: number; template?: { spec?: { containers?: { image?: string }[] } } }; status?: { readyReplicas?: number } }) | undefined;
      if (!d) return { name, desired: 0, running: 0, state: 'Absent' };
      const desired = d.spec?.replicas ?? 1;
      const running = d.status?.readyReplicas ?? 0;
      const image = d.spec?.template?.spec?.containers?.[0]?.image;
      return { name, desired, running, state: running === desired ? 'Running' : running === 0 ? 'Pending' : 'Degraded', engineId: d.metadata.uid ?? name, ...(image ? { image } : {}) };
    },
    async containers(name): Promise<ContainerInfo[]> {
      const pods = (await kube.list('v1', 'Pod', { namespace: TARGET_NAMESPACE, labelSelector: `${SERVICE_LABEL}=${name}` }).catch(wrap(`list pods of ${name}`))).items as Pod[];
      return pods.map((p) => ({
        id: p.metadata.name, service: name,
        ...(p.status?.hostIP ? { host: p.status.hostIP } : {}),
        ...(p.spec?.nodeName ? { node: p.spec.nodeName } : {}),
        state: p.status?.phase ?? 'Pending',
        image: p.spec?.containers?.[0]?.image ?? '',
        ...(p.status?.startTime ? { startedAt: p.status.startTime } : {}),
        restarts: (p.status?.containerStatuses ?? []).reduce((n, s) => n + (s.restartCount ?? 0), 0),
      })).sort((a, b) => (a.id < b.id ? -1 : 1));
    },
    async close() {
      kube.close();
    },
  };
}
