/**
 * The Kubernetes driver. Create: kubeadm over SSH — `kubeadm init` on the manager (its API server
 * on <manager>:6443), the admin kubeconfig read from the manager's /etc/kubernetes/admin.conf (kept
 * in the cluster's Secret, never in the Cluster or a log), a bootstrap token from `kubeadm token
 * create --print-join-command` on the manager, `kubeadm join` on each worker; delete: `kubeadm reset
 * -f` on every host. The image must carry kubeadm, a kubelet and a container runtime (nothing is
 * installed) and a pod network add-on is not installed. Use: clients/kube with that kubeconfig (or
 * a registered cluster's) — a catalog service is a Deployment + Service in namespace
 * `mixmesh-gateway`, its containers are the Deployment's pods.
 */
import { MixmeshError } from '../../common/errors.js';
import { shellQuote } from '../../common/names.js';
import { KubeClient, kubeConfigFromText, type KubeObject } from '../../clients/kube/index.js';
import { SERVICE_LABEL, toKubernetes } from '../translate.js';
import type { ContainerInfo, EngineClient, EngineDriver, EngineInfo, HostRecord, RegisterRequest, ServiceInfo } from '../types.js';

export const TARGET_NAMESPACE = 'mixmesh-gateway';
export const KUBE_API_PORT = 6443;

/** `kubeadm join ENDPOINT --token T --discovery-token-ca-cert-hash sha256:H` as --print-join-command prints it */
export function parseJoinCommand(out: string): { endpoint: string; token: string; caCertHash: string } {
  const line = out.split('\n').map((l) => l.trim()).find((l) => l.startsWith('kubeadm join '));
  const m = line ? /^kubeadm join (\S+) --token (\S+) --discovery-token-ca-cert-hash (sha256:[0-9a-f]{64})/.exec(line) : null;
  if (!m) throw new MixmeshError('GATEWAY_ENGINE_FAILED', 'kubeadm token create --print-join-command printed no join command');
  return { endpoint: m[1]!, token: m[2]!, caCertHash: m[3]! };
}

/** a node name kubeadm accepts (lowercase RFC 1123): the gateway's host name */
const nodeName = (h: HostRecord): string => h.name.toLowerCase();

export function kubernetesDriver(): EngineDriver {
  return {
    kind: 'kubernetes',
    async installEngine(shell) {
      const r = await shell.exec(`set -e
if ! command -v kubeadm >/dev/null 2>&1; then echo "kubeadm is not installed: the image must carry kubeadm, a kubelet and a container runtime" >&2; exit 1; fi
kubeadm version -o short`, { step: 'kubeadm version' });
      return r.stdout.trim().split('\n').pop() ?? '';
    },
    async initManager(shell, host, ctx) {
      const a = shellQuote(host.address!);
      await shell.exec(`set -e
if [ ! -s /etc/kubernetes/admin.conf ]; then
  kubeadm init --node-name ${shellQuote(nodeName(host))} --apiserver-advertise-address ${a}${ctx.version ? ` --kubernetes-version ${shellQuote(ctx.version)}` : ''} >/dev/null
fi`, { step: 'kubeadm init' });
      return `https://${host.address}:${KUBE_API_PORT}`;
    },
    async credentials(shell) {
      const r = await shell.exec('cat /etc/kubernetes/admin.conf', { step: 'read /etc/kubernetes/admin.conf' });
      if (!/^\s*clusters:/m.test(r.stdout)) throw new MixmeshError('GATEWAY_ENGINE_FAILED', '/etc/kubernetes/admin.conf on the manager is not a kubeconfig');
      return { kubeconfig: r.stdout };
    },
    async joinWorker(shell, host, managerShell, ctx) {
      const out = (await managerShell.exec(`kubeadm token create --print-join-command --ttl 1h --description ${shellQuote(`mixmesh gateway: join ${ctx.cluster}`)}`, { step: 'kubeadm token create' })).stdout;
      const j = parseJoinCommand(out);
      await shell.exec(`set -e
read -r T
if [ ! -s /etc/kubernetes/kubelet.conf ]; then
  kubeadm join ${shellQuote(j.endpoint)} --token "$T" --discovery-token-ca-cert-hash ${shellQuote(j.caCertHash)} --node-name ${shellQuote(nodeName(host))} >/dev/null
fi`, { step: 'kubeadm join', stdin: `${j.token}\n`, secrets: [j.token] });
    },
    async nodeId(_shell, host) {
      return nodeName(host);
    },
    // kubeadm taints the control-plane node NoSchedule: the workers are the nodes that must be ready
    nodeHosts: (hosts) => hosts.filter((h) => h.role === 'worker'),
    async uninstall(shell) {
      await shell.exec('kubeadm reset -f >/dev/null 2>&1 || true', { step: 'kubeadm reset', allowFailure: true });
    },
    connect(_endpoint, credentials) {
      return kubernetesClient(credentials ?? {});
    },
  };
}

interface Pod extends KubeObject {
  spec?: { nodeName?: string; containers?: { image?: string }[] };
  status?: { phase?: string; hostIP?: string; startTime?: string; containerStatuses?: { restartCount?: number; ready?: boolean }[] };
}

const splitLines = (text: string): string[] => text.split('\n').filter((l, i, all) => l !== '' || i < all.length - 1);

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
    async updateService(def) {
      if (!(await kube.get(dep(def.name)))) throw new MixmeshError('NOT_FOUND', `no Deployment ${TARGET_NAMESPACE}/${def.name}`);
      // server-side apply of the changed Deployment: the Deployment controller rolls the pods
      await kube.apply(toKubernetes(def, TARGET_NAMESPACE) as KubeObject[], { fieldManager: 'mixmesh-gateway' }).catch(wrap(`update ${def.name}`));
    },
    async logs(name, { tail }) {
      const pods = (await kube.list('v1', 'Pod', { namespace: TARGET_NAMESPACE, labelSelector: `${SERVICE_LABEL}=${name}` }).catch(wrap(`list pods of ${name}`))).items as Pod[];
      const out = await Promise.all(pods.filter((p) => p.spec?.nodeName).map(async (p) => ({
        container: p.metadata.name,
        lines: splitLines(await kube.podLog(TARGET_NAMESPACE, p.metadata.name, { tailLines: tail }).catch(wrap(`log of pod ${p.metadata.name}`))),
      })));
      return out.sort((a, b) => (a.container < b.container ? -1 : 1));
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
