/**
 * What a backup takes (backup.md, "Selection"): a MeshService — the resource, every object mixmesh
 * generated for it, what its pods reference, its VMs — or a node — its pods, their owners up the
 * chain, their Services, the same references — then the filters (namespaces, kinds, labels, the
 * `mixmesh.io/backup: exclude` label). Lists are paged (limit 500).
 */
import { MixmeshError } from '../common/errors.js';
import { LABEL_SERVICE } from '../common/labels.js';
import type { KubeObject } from '../clients/kube/index.js';
import type { MeshService, Microservice } from '../descriptor/types.js';
import type { BackupKube } from './ports.js';
import type { Selection } from './types.js';

export const EXCLUDE_LABEL = 'mixmesh.io/backup';
const PAGE = 500;

/** Kinds a service's generated objects come in (the renderer's kinds plus what the controller makes). */
export const SERVICE_KINDS: ReadonlyArray<{ apiVersion: string; kind: string }> = [
  { apiVersion: 'v1', kind: 'ServiceAccount' },
  { apiVersion: 'v1', kind: 'Secret' },
  { apiVersion: 'v1', kind: 'ConfigMap' },
  { apiVersion: 'v1', kind: 'PersistentVolumeClaim' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'apps/v1', kind: 'StatefulSet' },
  { apiVersion: 'v1', kind: 'Pod' },
  { apiVersion: 'networking.istio.io/v1', kind: 'Gateway' },
  { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService' },
  { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule' },
  { apiVersion: 'networking.istio.io/v1', kind: 'WorkloadGroup' },
  { apiVersion: 'networking.istio.io/v1', kind: 'WorkloadEntry' },
  { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy' },
  { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication' },
];

export interface SelectedObject {
  obj: KubeObject;
  /** why it is in the backup but will not be restored as is (a reason code), if so */
  skip?: { reason: string; message: string };
}

/** A pod volume on a node's disk */
export interface VolumeTarget {
  namespace: string;
  pod: string;
  volume: string;
  type: 'hostPath' | 'local' | 'emptyDir' | 'remote';
  node: string;
  path: string;
}

/** A VM of the service, with what backup does on it */
export interface VmTarget {
  namespace: string;
  service: string;
  microservice: Microservice;
  index: number;
  vnfInstanceName: string;
  vnfInstanceId?: string;
  serverId?: string;
  address?: string;
  hostKey?: string;
}

export interface SelectionResult {
  objects: SelectedObject[];
  volumes: VolumeTarget[];
  vms: VmTarget[];
  /** containers whose microservice asks for state (backup.state: checkpoint) */
  checkpoints: Array<{ namespace: string; pod: string; container: string; node: string }>;
  warnings: string[];
}

export async function listAll(kube: BackupKube, apiVersion: string, kind: string, opts: { namespace?: string; labelSelector?: string } = {}): Promise<KubeObject[]> {
  if (!(await kube.describeKind(apiVersion, kind))) return [];
  const out: KubeObject[] = [];
  let token = '';
  do {
    const page = await kube.listPage(apiVersion, kind, { ...opts, limit: PAGE, continue: token });
    out.push(...page.items);
    token = page.continue;
  } while (token);
  return out;
}

function keyOf(o: KubeObject): string {
  return `${o.apiVersion}/${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

/** A label selector of equality terms (`a=b`, `a!=b`, `a`, `!a`), as the filters take it. */
export function matchLabels(selector: string | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector) return true;
  const l = labels ?? {};
  return selector.split(',').map((t) => t.trim()).filter(Boolean).every((term) => {
    let m: RegExpExecArray | null;
    if ((m = /^([^!=]+)!=(.*)$/.exec(term))) return l[m[1]!.trim()] !== m[2]!.trim();
    if ((m = /^([^!=]+)==?(.*)$/.exec(term))) return l[m[1]!.trim()] === m[2]!.trim();
    if (term.startsWith('!')) return !(term.slice(1) in l);
    return term in l;
  });
}

function selectorMatches(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

type PodSpec = {
  nodeName?: string;
  serviceAccountName?: string;
  imagePullSecrets?: Array<{ name?: string }>;
  volumes?: Array<{ name: string; hostPath?: { path: string }; emptyDir?: unknown; persistentVolumeClaim?: { claimName: string }; configMap?: { name?: string }; secret?: { secretName?: string }; projected?: { sources?: Array<{ configMap?: { name?: string }; secret?: { name?: string } }> } }>;
  containers?: Array<{ name: string; env?: Array<{ valueFrom?: { configMapKeyRef?: { name?: string }; secretKeyRef?: { name?: string } } }>; envFrom?: Array<{ configMapRef?: { name?: string }; secretRef?: { name?: string } }> }>;
  initContainers?: PodSpec['containers'];
};

class Collector {
  readonly objects = new Map<string, SelectedObject>();
  readonly volumes: VolumeTarget[] = [];
  readonly checkpoints: SelectionResult['checkpoints'] = [];
  readonly warnings: string[] = [];
  constructor(private readonly kube: BackupKube) {}

  add(obj: KubeObject, skip?: SelectedObject['skip']): boolean {
    const k = keyOf(obj);
    if (this.objects.has(k)) return false;
    this.objects.set(k, skip ? { obj, skip } : { obj });
    return true;
  }

  async addRef(apiVersion: string, kind: string, namespace: string | undefined, name: string | undefined): Promise<KubeObject | undefined> {
    if (!name) return undefined;
    const k = `${apiVersion}/${kind}/${namespace ?? ''}/${name}`;
    const have = this.objects.get(k);
    if (have) return have.obj;
    const o = await this.kube.get({ apiVersion, kind, ...(namespace ? { namespace } : {}), name });
    if (!o) {
      this.warnings.push(`${kind} ${namespace ? `${namespace}/` : ''}${name} is referenced but does not exist`);
      return undefined;
    }
    this.add({ ...o, apiVersion, kind });
    return o;
  }

  /** The namespace object, ConfigMaps, Secrets, PVCs → PVs, ServiceAccount a pod uses; its node-local volumes. */
  async podReferences(pod: KubeObject): Promise<void> {
    const ns = pod.metadata.namespace!;
    const spec = (pod as unknown as { spec?: PodSpec }).spec ?? {};
    await this.addRef('v1', 'Namespace', undefined, ns);
    await this.addRef('v1', 'ServiceAccount', ns, spec.serviceAccountName ?? 'default');
    for (const s of spec.imagePullSecrets ?? []) await this.addRef('v1', 'Secret', ns, s.name);
    for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
      for (const e of c.env ?? []) {
        await this.addRef('v1', 'ConfigMap', ns, e.valueFrom?.configMapKeyRef?.name);
        await this.addRef('v1', 'Secret', ns, e.valueFrom?.secretKeyRef?.name);
      }
      for (const e of c.envFrom ?? []) {
        await this.addRef('v1', 'ConfigMap', ns, e.configMapRef?.name);
        await this.addRef('v1', 'Secret', ns, e.secretRef?.name);
      }
    }
    const node = spec.nodeName ?? '';
    for (const v of spec.volumes ?? []) {
      await this.addRef('v1', 'ConfigMap', ns, v.configMap?.name);
      await this.addRef('v1', 'Secret', ns, v.secret?.secretName);
      for (const src of v.projected?.sources ?? []) {
        await this.addRef('v1', 'ConfigMap', ns, src.configMap?.name);
        await this.addRef('v1', 'Secret', ns, src.secret?.name);
      }
      const base = { namespace: ns, pod: pod.metadata.name, volume: v.name, node };
      if (v.hostPath) this.volumes.push({ ...base, type: 'hostPath', path: v.hostPath.path });
      else if (v.emptyDir !== undefined) this.volumes.push({ ...base, type: 'emptyDir', path: `/var/lib/kubelet/pods/${pod.metadata.uid ?? ''}/volumes/kubernetes.io~empty-dir/${v.name}` });
      else if (v.persistentVolumeClaim) {
        const pvc = await this.addRef('v1', 'PersistentVolumeClaim', ns, v.persistentVolumeClaim.claimName);
        const pvName = (pvc as { spec?: { volumeName?: string } } | undefined)?.spec?.volumeName;
        const pv = await this.addRef('v1', 'PersistentVolume', undefined, pvName);
        const pvSpec = (pv as { spec?: { local?: { path: string }; hostPath?: { path: string }; storageClassName?: string } } | undefined)?.spec;
        if (pvSpec?.storageClassName) await this.addRef('storage.k8s.io/v1', 'StorageClass', undefined, pvSpec.storageClassName);
        if (pvSpec?.local) this.volumes.push({ ...base, type: 'local', path: pvSpec.local.path });
        else if (pvSpec?.hostPath) this.volumes.push({ ...base, type: 'hostPath', path: pvSpec.hostPath.path });
        else if (pv) this.volumes.push({ ...base, type: 'remote', path: '' });
      }
    }
  }
}

function ownerOf(o: KubeObject): { kind: string; name: string; controller?: boolean } | undefined {
  const refs = (o.metadata as { ownerReferences?: Array<{ kind: string; name: string; controller?: boolean }> }).ownerReferences ?? [];
  return refs.find((r) => r.controller) ?? refs[0];
}

const OWNER_API: Record<string, string> = { ReplicaSet: 'apps/v1', Deployment: 'apps/v1', StatefulSet: 'apps/v1', DaemonSet: 'apps/v1', Job: 'batch/v1', CronJob: 'batch/v1' };

export async function select(kube: BackupKube, selection: Selection): Promise<SelectionResult> {
  const c = new Collector(kube);
  const vms: VmTarget[] = [];
  if (selection.service) {
    const { namespace, name } = selection.service;
    const svc = await kube.get<MeshService & KubeObject>({ apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService', namespace, name });
    if (!svc) throw new MixmeshError('NOT_FOUND', `no MeshService ${namespace}/${name}`);
    await c.addRef('v1', 'Namespace', undefined, namespace);
    for (const { apiVersion, kind } of SERVICE_KINDS) {
      for (const o of await listAll(kube, apiVersion, kind, { namespace, labelSelector: `${LABEL_SERVICE}=${name}` })) {
        c.add(o);
        if (kind === 'Pod') await c.podReferences(o);
      }
    }
    c.add({ ...svc, apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService' });
    const status = (svc as unknown as { status?: { microservices?: Array<{ name: string; version: string; instances?: Array<{ index: number; vnfInstanceName: string; vnfInstanceId?: string; serverId?: string; address?: string; hostKey?: string }> }> } }).status;
    for (const ms of svc.spec.microservices) {
      if (ms.runtime !== 'vm' || !ms.vm) continue;
      // the VMs' SSH credentials: without them the service cannot be restored in another cluster
      await c.addRef('v1', 'Secret', namespace, ms.vm.ssh?.credentialsSecret);
      const st = status?.microservices?.find((m) => m.name === ms.name && m.version === (ms.version ?? 'v1'));
      for (const inst of st?.instances ?? []) vms.push({ namespace, service: name, microservice: ms, index: inst.index, vnfInstanceName: inst.vnfInstanceName, ...(inst.vnfInstanceId ? { vnfInstanceId: inst.vnfInstanceId } : {}), ...(inst.serverId ? { serverId: inst.serverId } : {}), ...(inst.address ? { address: inst.address } : {}), ...(inst.hostKey ? { hostKey: inst.hostKey } : {}) });
    }
    // containers whose microservice asks for its state
    const wantState = new Set(svc.spec.microservices.filter((m) => m.runtime === 'container' && m.backup?.state === 'checkpoint').map((m) => `${m.name}/${m.version ?? 'v1'}`));
    for (const s of c.objects.values()) {
      if (s.obj.kind !== 'Pod') continue;
      const l = s.obj.metadata.labels ?? {};
      if (wantState.has(`${l.app}/${l.version}`)) {
        const spec = (s.obj as unknown as { spec?: PodSpec }).spec ?? {};
        for (const ct of spec.containers ?? []) if (ct.name !== 'istio-proxy') c.checkpoints.push({ namespace, pod: s.obj.metadata.name, container: ct.name, node: spec.nodeName ?? '' });
      }
    }
  } else if (selection.node) {
    const node = selection.node;
    const pods = (await listAll(kube, 'v1', 'Pod')).filter((p) => (p as unknown as { spec?: PodSpec }).spec?.nodeName === node);
    for (const pod of pods) {
      const owner = ownerOf(pod);
      if (owner?.kind === 'DaemonSet') {
        c.add(pod, { reason: 'DAEMONSET_POD', message: `runs on every node (DaemonSet ${owner.name}); the target's DaemonSet makes its own` });
        continue;
      }
      c.add(pod);
      await c.podReferences(pod);
      // owners up the chain
      let cur: KubeObject | undefined = pod;
      for (let depth = 0; cur && depth < 4; depth++) {
        const o = ownerOf(cur);
        if (!o || !OWNER_API[o.kind]) break;
        cur = await c.addRef(OWNER_API[o.kind]!, o.kind, pod.metadata.namespace, o.name);
      }
      // Services selecting it
      for (const svc of await listAll(kube, 'v1', 'Service', { namespace: pod.metadata.namespace! })) {
        if (selectorMatches((svc as { spec?: { selector?: Record<string, string> } }).spec?.selector, pod.metadata.labels)) c.add(svc);
      }
      // a pod mixmesh deployed belongs to a MeshService: keep the descriptor too
      const svcName = pod.metadata.labels?.[LABEL_SERVICE];
      if (svcName) await c.addRef('mixmesh.io/v1alpha1', 'MeshService', pod.metadata.namespace, svcName);
    }
  } else {
    throw new MixmeshError('BAD_REQUEST', 'a backup selects a service (--service NS/NAME) or a node (--node NODE)');
  }

  // filters
  const kinds = selection.kinds?.map((k) => k.toLowerCase());
  const objects = [...c.objects.values()].filter(({ obj }) => {
    if (obj.metadata.labels?.[EXCLUDE_LABEL] === 'exclude') return false;
    if (selection.namespaces?.length && obj.metadata.namespace && !selection.namespaces.includes(obj.metadata.namespace)) return false;
    if (kinds?.length) {
      const group = obj.apiVersion.includes('/') ? obj.apiVersion.split('/')[0] : '';
      const k = obj.kind.toLowerCase();
      if (!kinds.some((want) => want === k || want === `${k}s` || want.startsWith(`${k}s.`) || (group && want.endsWith(`.${group}`) && want.split('.')[0] === `${k}s`))) return false;
    }
    return matchLabels(selection.labelSelector, obj.metadata.labels) || obj.kind === 'Namespace';
  });
  const kept = new Set(objects.filter((o) => o.obj.kind === 'Pod').map((o) => `${o.obj.metadata.namespace}/${o.obj.metadata.name}`));
  return {
    objects,
    volumes: c.volumes.filter((v) => kept.has(`${v.namespace}/${v.pod}`)),
    vms,
    checkpoints: c.checkpoints.filter((v) => kept.has(`${v.namespace}/${v.pod}`)),
    warnings: c.warnings,
  };
}
