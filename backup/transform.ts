/**
 * Restore rules as pure functions (backup.md, "Restore rules"; Velero's, which users know): what is
 * skipped, what is stripped, the order, and the mappings (namespace, StorageClass, image prefix,
 * node, VM flavour/package).
 */
import type { KubeObject } from '../clients/kube/index.js';

export const RESTORE_LABEL = 'backup.mixmesh.io/restore';
export const FROM_ANNOTATION = 'backup.mixmesh.io/from';
/**
 * `image.backup.mixmesh.io/<container>`: a container restored from its checkpoint has the archive's
 * path on the node as its image (CRI-O's restore); this annotation keeps its ordinary image, which a
 * later restore of that pod (a backup of a restored service) starts from, maps and falls back to.
 */
export const CHECKPOINT_IMAGE_ANNOTATION = 'image.backup.mixmesh.io/';

export interface Mappings {
  namespaces?: Record<string, string>;
  storageClasses?: Record<string, string>;
  /** image prefix rewrite: `registry.old/` → `registry.new/` */
  images?: Record<string, string>;
  nodes?: Record<string, string>;
  /** for the MeshService's VMs on the target cloud */
  vmFlavours?: Record<string, string>;
  vmPackages?: Record<string, string>;
}

type Obj = KubeObject & Record<string, unknown>;

const META_STRIP = ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'ownerReferences', 'managedFields', 'selfLink', 'generateName'];
const CONTROLLER_CONFIGMAPS = new Set(['kube-root-ca.crt', 'istio-ca-root-cert']);
const CONTROLLERS = new Set(['ReplicaSet', 'Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob']);

/** Why an object is not restored, or undefined when it is. */
export function skipReason(o: Obj, inBackup: { hasMeshService: (ns: string, name: string) => boolean }): { reason: string; message: string } | undefined {
  const kind = o.kind;
  if (kind === 'Node' || kind === 'Event' || kind === 'Lease') return { reason: 'KIND_NOT_RESTORED', message: `${kind}s are not restored` };
  if (kind === 'EndpointSlice' || kind === 'Endpoints') return { reason: 'CONTROLLER_MADE', message: 'made by the endpoints controller' };
  if (kind === 'Secret' && (o as { type?: string }).type === 'kubernetes.io/service-account-token') return { reason: 'SERVICE_ACCOUNT_TOKEN', message: 'service-account tokens are made by the target cluster' };
  if (kind === 'ConfigMap' && CONTROLLER_CONFIGMAPS.has(o.metadata.name)) return { reason: 'CONTROLLER_MADE', message: 'made in every namespace by a controller' };
  if (kind === 'ServiceAccount' && o.metadata.name === 'default') return { reason: 'CONTROLLER_MADE', message: 'every namespace has its default ServiceAccount' };
  const owners = (o.metadata as { ownerReferences?: Array<{ kind: string; controller?: boolean }> }).ownerReferences ?? [];
  if ((kind === 'Pod' || kind === 'ReplicaSet') && owners.some((r) => CONTROLLERS.has(r.kind))) return { reason: 'OWNED_BY_CONTROLLER', message: `its ${owners.find((r) => CONTROLLERS.has(r.kind))!.kind} makes it` };
  const phase = (o as { status?: { phase?: string; succeeded?: number; completionTime?: string } }).status;
  if (kind === 'Pod' && (phase?.phase === 'Succeeded' || phase?.phase === 'Failed')) return { reason: 'FINISHED', message: `the pod had ${phase.phase}` };
  if (kind === 'Job' && phase?.completionTime) return { reason: 'FINISHED', message: 'the job had finished' };
  const svc = o.metadata.labels?.['mixmesh.io/service'];
  if (svc && o.metadata.namespace && kind !== 'MeshService' && inBackup.hasMeshService(o.metadata.namespace, svc)) {
    // the orchestrator re-creates every object it generates (WorkloadEntries with the new VM addresses)
    if (kind === 'WorkloadEntry') return { reason: 'MADE_BY_ORCHESTRATOR', message: 'the orchestrator registers the new VMs' };
  }
  return undefined;
}

function mapNs(m: Mappings, ns: string | undefined): string | undefined {
  return ns === undefined ? undefined : (m.namespaces?.[ns] ?? ns);
}

function mapImage(m: Mappings, image: string): string {
  for (const [from, to] of Object.entries(m.images ?? {}).sort((a, b) => b[0].length - a[0].length)) if (image.startsWith(from)) return to + image.slice(from.length);
  return image;
}

type PodSpecLike = { nodeName?: string; priority?: number; nodeSelector?: Record<string, string>; containers?: Array<{ image?: string }>; initContainers?: Array<{ image?: string }> };

function mapPodSpec(m: Mappings, spec: PodSpecLike | undefined, isPod: boolean): void {
  if (!spec) return;
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) if (c.image) c.image = mapImage(m, c.image);
  if (isPod) {
    const mapped = spec.nodeName ? m.nodes?.[spec.nodeName] : undefined;
    if (mapped) spec.nodeName = mapped;
    else delete spec.nodeName;
    delete spec.priority;
  }
  const host = spec.nodeSelector?.['kubernetes.io/hostname'];
  if (host && m.nodes?.[host]) spec.nodeSelector!['kubernetes.io/hostname'] = m.nodes[host];
}

/**
 * The object as it will be created on the target: stripped, mapped, labelled with the restore.
 * `hasPv(name)` says whether a PV is restored too (else a PVC's volumeName is cleared: re-provisioned).
 */
export function transform(input: KubeObject, m: Mappings, restoreName: string, backupName: string, hasPv: (name: string) => boolean): KubeObject {
  const o = structuredClone(input) as Obj;
  const meta = o.metadata as Record<string, unknown> & KubeObject['metadata'];
  for (const k of META_STRIP) delete meta[k];
  delete o.status;
  if (meta.namespace !== undefined) meta.namespace = mapNs(m, meta.namespace);
  if (o.kind === 'Namespace') meta.name = mapNs(m, meta.name) ?? meta.name;
  meta.labels = { ...(meta.labels ?? {}), [RESTORE_LABEL]: restoreName };
  const ann: Record<string, string> = { ...(meta.annotations ?? {}), [FROM_ANNOTATION]: backupName };
  meta.annotations = ann;
  const spec = o.spec as Record<string, unknown> | undefined;
  switch (o.kind) {
    case 'Service': {
      const s = spec as { clusterIP?: string; clusterIPs?: string[]; ports?: Array<{ nodePort?: number }> } | undefined;
      if (s && s.clusterIP !== 'None') {
        delete s.clusterIP;
        delete s.clusterIPs;
      }
      const lastApplied = ann['kubectl.kubernetes.io/last-applied-configuration'] ?? '';
      if (!lastApplied.includes('"nodePort"')) for (const p of s?.ports ?? []) delete p.nodePort;
      break;
    }
    case 'Pod':
      for (const c of (spec as { containers?: Array<{ name?: string; image?: string }> } | undefined)?.containers ?? []) {
        const ordinary = ann[`${CHECKPOINT_IMAGE_ANNOTATION}${c.name ?? ''}`];
        if (ordinary && c.image?.startsWith('/')) c.image = ordinary;
      }
      mapPodSpec(m, spec as PodSpecLike, true);
      break;
    case 'Deployment':
    case 'ReplicaSet':
    case 'StatefulSet':
    case 'DaemonSet':
    case 'Job': {
      const tpl = (spec as { template?: { spec?: PodSpecLike } } | undefined)?.template;
      mapPodSpec(m, tpl?.spec, false);
      for (const vct of (spec as { volumeClaimTemplates?: Array<{ spec?: { storageClassName?: string } }> } | undefined)?.volumeClaimTemplates ?? []) {
        if (vct.spec?.storageClassName && m.storageClasses?.[vct.spec.storageClassName]) vct.spec.storageClassName = m.storageClasses[vct.spec.storageClassName];
      }
      break;
    }
    case 'PersistentVolumeClaim': {
      for (const a of ['volume.kubernetes.io/selected-node', 'pv.kubernetes.io/bind-completed', 'pv.kubernetes.io/bound-by-controller', 'volume.beta.kubernetes.io/storage-provisioner', 'volume.kubernetes.io/storage-provisioner']) delete ann[a];
      const s = spec as { storageClassName?: string; volumeName?: string } | undefined;
      if (s?.storageClassName && m.storageClasses?.[s.storageClassName]) s.storageClassName = m.storageClasses[s.storageClassName];
      if (s?.volumeName && !hasPv(s.volumeName)) delete s.volumeName;
      break;
    }
    case 'PersistentVolume': {
      const s = spec as { storageClassName?: string; claimRef?: Record<string, unknown>; nodeAffinity?: { required?: { nodeSelectorTerms?: Array<{ matchExpressions?: Array<{ key: string; values?: string[] }> }> } } } | undefined;
      if (s?.storageClassName && m.storageClasses?.[s.storageClassName]) s.storageClassName = m.storageClasses[s.storageClassName];
      if (s?.claimRef) {
        delete s.claimRef.uid;
        delete s.claimRef.resourceVersion;
        if (typeof s.claimRef.namespace === 'string') s.claimRef.namespace = mapNs(m, s.claimRef.namespace);
      }
      for (const t of s?.nodeAffinity?.required?.nodeSelectorTerms ?? []) {
        for (const e of t.matchExpressions ?? []) if (e.key === 'kubernetes.io/hostname' && e.values) e.values = e.values.map((v) => m.nodes?.[v] ?? v);
      }
      break;
    }
    case 'MeshService': {
      const ms = (spec as { microservices?: Array<{ container?: { image?: string }; vm?: { flavourId?: string; vnfdId?: string } }> } | undefined)?.microservices ?? [];
      for (const x of ms) {
        if (x.container?.image) x.container.image = mapImage(m, x.container.image);
        if (x.vm?.flavourId && m.vmFlavours?.[x.vm.flavourId]) x.vm.flavourId = m.vmFlavours[x.vm.flavourId];
        if (x.vm?.vnfdId && m.vmPackages?.[x.vm.vnfdId]) x.vm.vnfdId = m.vmPackages[x.vm.vnfdId];
      }
      // the finalizer is the orchestrator's to add; a restored one would hold a resource it never saw
      delete meta.finalizers;
      break;
    }
    default:
      break;
  }
  return o;
}

const ORDER = ['CustomResourceDefinition', 'Namespace', 'StorageClass', 'PersistentVolume', 'PersistentVolumeClaim', 'ServiceAccount', 'Secret', 'ConfigMap', 'Pod', 'ReplicaSet', 'Deployment', 'StatefulSet', 'Service'];

/** Restore rank: the fixed order first, then the rest alphabetically by kind, the MeshService last. */
export function restoreRank(kind: string): [number, string] {
  if (kind === 'MeshService') return [ORDER.length + 2, ''];
  const i = ORDER.indexOf(kind);
  return i >= 0 ? [i, ''] : [ORDER.length + 1, kind];
}

export function compareForRestore(a: KubeObject, b: KubeObject): number {
  const [ra, ka] = restoreRank(a.kind);
  const [rb, kb] = restoreRank(b.kind);
  if (ra !== rb) return ra - rb;
  if (ka !== kb) return ka < kb ? -1 : 1;
  const na = `${a.metadata.namespace ?? ''}/${a.metadata.name}`;
  const nb = `${b.metadata.namespace ?? ''}/${b.metadata.name}`;
  return na < nb ? -1 : na > nb ? 1 : 0;
}

/** `old:new` pairs from the command line into a map, with a clear error per bad pair. */
export function parsePairs(list: readonly string[] | undefined, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of list ?? []) {
    const i = p.indexOf(':');
    if (i <= 0 || i === p.length - 1) throw new Error(`${what} ${JSON.stringify(p)}: use OLD:NEW`);
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}
