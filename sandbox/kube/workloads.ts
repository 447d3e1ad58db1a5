/**
 * The emulator's workload controllers, scheduler and node lifecycle, as kube-controller-manager
 * and kube-scheduler do them (simplified, same objects and fields):
 * - Deployment → ReplicaSet `<name>-<pod-template-hash>` → Pods `<rs>-<5 chars>`, each owned by the
 *   one above (ownerReferences, controller: true); a new template makes a new ReplicaSet and the old
 *   ones go (their Pods with them);
 * - StatefulSet → Pods `<name>-0…` in order (OrderedReady: the next one when the previous is Ready)
 *   and PVCs `<template>-<name>-<i>` from volumeClaimTemplates (kept when the StatefulSet goes);
 * - a scheduler binding Pods to Ready, schedulable Nodes with room (allocatable pods, cpu, memory),
 *   honouring nodeSelector, required node affinity, taints/tolerations and local PV node affinity;
 *   else PodScheduled=False/Unschedulable and a FailedScheduling Event, as the real one says it;
 * - PVC/PV binding (Immediate at once; WaitForFirstConsumer when the scheduler picks the node);
 * - node lifecycle: a Node whose Lease in kube-node-lease is not renewed for the grace period goes
 *   Ready=Unknown with the unreachable taints, its Pods Ready=False; after the eviction timeout its
 *   Pods are marked for deletion (Terminating until a kubelet confirms, as in a real cluster);
 * - the virtual node `sandbox-node` (a kubelet inside the emulator): what runs there becomes Ready
 *   `readyDelayMs` after it is bound, never for a Deployment under the neverReady fault.
 */
import { randomBytes, createHash } from 'node:crypto';
import type { KubeApi } from './api.js';
import { nowIso } from './api.js';
import { metaOf, type StoreEvent } from './store.js';
import type { Obj } from './resources.js';

export interface VirtualNodeOptions {
  name: string;
  /** allocatable pods (the "room" of the cluster); default 5000, it stands for a whole cluster */
  maxPods: number;
  cpu: string;
  memory: string;
}

export interface ClusterOptions {
  readyDelayMs: number;
  /** the in-emulator node; false: none (only joined nodes run pods) */
  virtualNode: VirtualNodeOptions | false;
  /** a Node goes NotReady (Unknown) when its Lease is older than this (real default 40 s) */
  nodeMonitorGracePeriodMs: number;
  /** Pods on a NotReady node are evicted after this (real default 300 s: DefaultTolerationSeconds) */
  podEvictionTimeoutMs: number;
}

export const DEFAULT_CLUSTER_OPTIONS: Omit<ClusterOptions, 'readyDelayMs'> = {
  virtualNode: { name: 'sandbox-node', maxPods: 5000, cpu: '64', memory: '256Gi' },
  nodeMonitorGracePeriodMs: 40_000,
  podEvictionTimeoutMs: 300_000,
};

type Labels = Record<string, string>;
const POD_NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const LEASE_NS = 'kube-node-lease';
export const TAINT_UNREACHABLE = 'node.kubernetes.io/unreachable';
export const TAINT_NOT_READY = 'node.kubernetes.io/not-ready';

const owners = (o: Obj): Obj[] => (metaOf(o).ownerReferences as Obj[] | undefined) ?? [];
const controllerOf = (o: Obj): Obj | undefined => owners(o).find((r) => r.controller === true);
const labelsOf = (o: Obj): Labels => (metaOf(o).labels as Labels | undefined) ?? {};
const nameOf = (o: Obj): string => metaOf(o).name as string;
const nsOf = (o: Obj): string => metaOf(o).namespace as string;
const specOf = (o: Obj): Obj => (o.spec ?? {}) as Obj;
const statusOf = (o: Obj): Obj => (o.status ?? {}) as Obj;
const conditionsOf = (o: Obj): Obj[] => (statusOf(o).conditions as Obj[] | undefined) ?? [];
const condition = (o: Obj, type: string): Obj | undefined => conditionsOf(o).find((c) => c.type === type);
const terminating = (o: Obj): boolean => metaOf(o).deletionTimestamp !== undefined;
const finished = (p: Obj): boolean => ['Succeeded', 'Failed'].includes(statusOf(p).phase as string);

export function podReady(p: Obj): boolean {
  return condition(p, 'Ready')?.status === 'True';
}

export function nodeReady(n: Obj): boolean {
  return condition(n, 'Ready')?.status === 'True';
}

function randomSuffix(n = 5): string {
  return [...randomBytes(n)].map((b) => POD_NAME_ALPHABET[b % POD_NAME_ALPHABET.length]).join('');
}

/** Kubernetes' pod-template-hash look: 10 characters of the safe alphabet. */
function templateHash(template: unknown): string {
  const h = createHash('sha256').update(JSON.stringify(template ?? {})).digest();
  return [...h.subarray(0, 10)].map((b) => POD_NAME_ALPHABET[b % POD_NAME_ALPHABET.length]).join('');
}

/** A Kubernetes quantity in base units (cpu in cores, memory in bytes). */
export function parseQuantity(q: unknown): number {
  if (typeof q === 'number') return q;
  if (typeof q !== 'string') return 0;
  const m = /^([0-9.]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(q.trim());
  if (!m) return 0;
  const n = Number(m[1]);
  const mult: Record<string, number> = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
  return n * (m[2] ? mult[m[2]]! : 1);
}

function podRequests(p: Obj): { cpu: number; memory: number } {
  let cpu = 0;
  let memory = 0;
  for (const c of (specOf(p).containers as Obj[] | undefined) ?? []) {
    const req = (((c.resources as Obj | undefined)?.requests ?? (c.resources as Obj | undefined)?.limits) ?? {}) as Obj;
    cpu += parseQuantity(req.cpu);
    memory += parseQuantity(req.memory);
  }
  return { cpu, memory };
}

function matchExpression(labels: Labels, e: Obj): boolean {
  const key = e.key as string;
  const values = (e.values as string[] | undefined) ?? [];
  switch (e.operator) {
    case 'In': return key in labels && values.includes(labels[key]!);
    case 'NotIn': return !(key in labels) || !values.includes(labels[key]!);
    case 'Exists': return key in labels;
    case 'DoesNotExist': return !(key in labels);
    case 'Gt': return key in labels && Number(labels[key]) > Number(values[0]);
    case 'Lt': return key in labels && Number(labels[key]) < Number(values[0]);
    default: return false;
  }
}

/** A NodeSelector (required node affinity, PV nodeAffinity): any term matches, all of its expressions. */
export function nodeSelectorMatches(selector: Obj | undefined, node: Obj): boolean {
  const terms = (selector?.nodeSelectorTerms as Obj[] | undefined) ?? [];
  if (terms.length === 0) return true;
  const labels = labelsOf(node);
  const fields = { 'metadata.name': nameOf(node) };
  return terms.some((t) =>
    ((t.matchExpressions as Obj[] | undefined) ?? []).every((e) => matchExpression(labels, e)) &&
    ((t.matchFields as Obj[] | undefined) ?? []).every((e) => matchExpression(fields, e)));
}

function tolerates(p: Obj, taint: Obj): boolean {
  return ((specOf(p).tolerations as Obj[] | undefined) ?? []).some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (t.operator === 'Exists') return t.key === undefined || t.key === taint.key;
    return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
  });
}

/** Write status only when it changed (ignoring timestamps), so reconciling stays quiet. */
function sameIgnoringTimes(a: unknown, b: unknown): boolean {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).filter(([k]) => !/Time(stamp)?$/.test(k)).map(([k, x]) => [k, strip(x)]));
    return v;
  };
  return JSON.stringify(strip(a)) === JSON.stringify(strip(b));
}

/** Keep lastTransitionTime of conditions whose status did not change. */
function carryTransitions(old: Obj[] | undefined, next: Obj[]): Obj[] {
  return next.map((c) => {
    const prev = old?.find((o) => o.type === c.type);
    return prev && prev.status === c.status && prev.lastTransitionTime ? { ...c, lastTransitionTime: prev.lastTransitionTime } : c;
  });
}

export class Workloads {
  private readonly dirty = { deployments: new Set<string>(), replicasets: new Set<string>(), statefulsets: new Set<string>() };
  private scheduleWanted = false;
  private flushing: NodeJS.Immediate | undefined;
  private readonly readyTimers = new Map<string, NodeJS.Timeout>();
  /** pods on the virtual node held back by the neverReady fault */
  private readonly heldBack = new Set<string>();
  private monitor: NodeJS.Timeout | undefined;
  private virtualLease: NodeJS.Timeout | undefined;
  private readonly lastSchedulingMessage = new Map<string, string>();
  private stopped = false;
  private podIps = 0;

  constructor(private readonly api: KubeApi, private readonly opts: ClusterOptions, private readonly safely: (fn: () => void) => void) {}

  start(): void {
    const vn = this.opts.virtualNode;
    if (vn) {
      this.registerVirtualNode(vn);
      this.virtualLease = setInterval(() => this.safely(() => this.renewLease(vn.name)), Math.max(50, Math.min(10_000, this.opts.nodeMonitorGracePeriodMs / 4)));
    }
    const period = Math.max(20, Math.min(5_000, this.opts.nodeMonitorGracePeriodMs / 4));
    this.monitor = setInterval(() => this.safely(() => this.monitorNodes()), period);
    for (const d of this.api.internalList('apps/v1', 'Deployment')) this.dirty.deployments.add(`${nsOf(d)}/${nameOf(d)}`);
    for (const d of this.api.internalList('apps/v1', 'ReplicaSet')) this.dirty.replicasets.add(`${nsOf(d)}/${nameOf(d)}`);
    for (const d of this.api.internalList('apps/v1', 'StatefulSet')) this.dirty.statefulsets.add(`${nsOf(d)}/${nameOf(d)}`);
    for (const p of this.api.internalList('v1', 'Pod')) if (vn && specOf(p).nodeName === vn.name && !podReady(p)) this.armReadyTimer(p);
    this.scheduleWanted = true;
    this.kick();
  }

  stop(): void {
    this.stopped = true;
    if (this.flushing) clearImmediate(this.flushing);
    clearInterval(this.monitor);
    clearInterval(this.virtualLease);
    for (const t of this.readyTimers.values()) clearTimeout(t);
  }

  faultsChanged(): void {
    for (const key of [...this.heldBack]) {
      this.heldBack.delete(key);
      const [ns, name] = key.split('/') as [string, string];
      this.safely(() => this.makeVirtualPodReady(ns, name));
    }
  }

  onEvent(e: StoreEvent): void {
    const o = e.object;
    const key = `${nsOf(o)}/${nameOf(o)}`;
    switch (e.key) {
      case 'apps/deployments':
        this.dirty.deployments.add(key);
        break;
      case 'apps/replicasets':
        this.dirty.replicasets.add(key);
        this.markOwner(o);
        break;
      case 'apps/statefulsets':
        this.dirty.statefulsets.add(key);
        break;
      case '/pods': {
        this.markOwner(o);
        if (e.type === 'DELETED') {
          clearTimeout(this.readyTimers.get(key));
          this.readyTimers.delete(key);
          this.heldBack.delete(key);
          this.lastSchedulingMessage.delete(key);
          this.scheduleWanted = true;
        } else if (!specOf(o).nodeName) this.scheduleWanted = true;
        else if (this.opts.virtualNode && specOf(o).nodeName === this.opts.virtualNode.name && !podReady(o) && !this.readyTimers.has(key) && !this.heldBack.has(key) && !terminating(o)) this.armReadyTimer(o);
        else if (this.opts.virtualNode && specOf(o).nodeName === this.opts.virtualNode.name && terminating(o)) this.api.internalDelete(o); // its kubelet confirms at once
        break;
      }
      case '/nodes':
      case '/persistentvolumes':
      case '/persistentvolumeclaims':
      case 'storage.k8s.io/storageclasses':
        if (e.key === '/persistentvolumeclaims' && e.type === 'DELETED') this.releaseVolumeOf(o);
        this.scheduleWanted = true;
        break;
      default:
        return;
    }
    this.kick();
  }

  private markOwner(o: Obj): void {
    const c = controllerOf(o);
    if (!c) return;
    const key = `${nsOf(o)}/${String(c.name)}`;
    if (c.kind === 'ReplicaSet') this.dirty.replicasets.add(key);
    if (c.kind === 'Deployment') this.dirty.deployments.add(key);
    if (c.kind === 'StatefulSet') this.dirty.statefulsets.add(key);
  }

  /** One pass over what changed, after the current turn (a burst of events is one pass). */
  private kick(): void {
    if (this.flushing || this.stopped) return;
    this.flushing = setImmediate(() => {
      this.flushing = undefined;
      if (this.stopped) return;
      for (let round = 0; round < 10; round++) {
        const d = [...this.dirty.deployments]; this.dirty.deployments.clear();
        for (const k of d) this.safely(() => this.reconcileDeployment(k));
        const rs = [...this.dirty.replicasets]; this.dirty.replicasets.clear();
        for (const k of rs) this.safely(() => this.reconcileReplicaSet(k));
        const ss = [...this.dirty.statefulsets]; this.dirty.statefulsets.clear();
        for (const k of ss) this.safely(() => this.reconcileStatefulSet(k));
        if (this.scheduleWanted) { this.scheduleWanted = false; this.safely(() => this.bindImmediateClaims()); this.safely(() => this.schedule()); }
        if (!this.dirty.deployments.size && !this.dirty.replicasets.size && !this.dirty.statefulsets.size && !this.scheduleWanted) return;
      }
      this.kick();
    });
  }

  // ---------- Deployment → ReplicaSet ----------

  private ownedBy(apiVersion: string, kind: string, ns: string, uid: unknown): Obj[] {
    return this.api.internalList(apiVersion, kind, ns).filter((o) => controllerOf(o)?.uid === uid);
  }

  private reconcileDeployment(key: string): void {
    const [ns, name] = key.split('/') as [string, string];
    const d = this.api.internalGet('apps/v1', 'Deployment', ns, name);
    if (!d || terminating(d)) return;
    const spec = specOf(d);
    const replicas = Number(spec.replicas ?? 1);
    const template = (spec.template ?? {}) as Obj;
    const hash = templateHash(template);
    const rsName = `${name}-${hash}`;
    const uid = metaOf(d).uid;
    const owned = this.ownedBy('apps/v1', 'ReplicaSet', ns, uid);
    for (const rs of owned) if (nameOf(rs) !== rsName && !terminating(rs)) this.api.internalDelete(rs);
    const tmeta = (template.metadata ?? {}) as Obj;
    const podLabels = { ...(tmeta.labels as Labels | undefined), 'pod-template-hash': hash };
    const selector = (spec.selector ?? { matchLabels: tmeta.labels ?? {} }) as Obj;
    const revision = String(Number((metaOf(d).annotations as Labels | undefined)?.['deployment.kubernetes.io/revision'] ?? 0) + (owned.some((r) => nameOf(r) === rsName) ? 0 : 1));
    let rs = owned.find((r) => nameOf(r) === rsName);
    const rsSpec = {
      replicas,
      selector: { ...selector, matchLabels: { ...(selector.matchLabels as Labels | undefined), 'pod-template-hash': hash } },
      template: { ...template, metadata: { ...tmeta, labels: podLabels } },
      ...(spec.minReadySeconds !== undefined ? { minReadySeconds: spec.minReadySeconds } : {}),
    };
    if (!rs) {
      rs = this.api.internalCreate({
        apiVersion: 'apps/v1', kind: 'ReplicaSet',
        metadata: {
          name: rsName, namespace: ns, labels: podLabels,
          annotations: { 'deployment.kubernetes.io/desired-replicas': String(replicas), 'deployment.kubernetes.io/max-replicas': String(replicas + 1), 'deployment.kubernetes.io/revision': revision },
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name, uid, controller: true, blockOwnerDeletion: true }],
        },
        spec: rsSpec,
      }, 'kube-controller-manager');
      const ann = { ...(metaOf(d).annotations as Labels | undefined), 'deployment.kubernetes.io/revision': revision };
      this.api.internalPut({ ...d, metadata: { ...metaOf(d), annotations: ann } });
    } else if (Number(specOf(rs).replicas) !== replicas) {
      this.api.internalPut({ ...rs, metadata: { ...metaOf(rs), annotations: { ...(metaOf(rs).annotations as Labels | undefined), 'deployment.kubernetes.io/desired-replicas': String(replicas) } }, spec: { ...specOf(rs), replicas } });
    }
    const fresh = this.api.internalGet('apps/v1', 'Deployment', ns, name)!;
    const pods = this.ownedBy('v1', 'Pod', ns, metaOf(rs).uid).filter((p) => !terminating(p) && !finished(p));
    const oldPods = owned.filter((r) => nameOf(r) !== rsName).flatMap((r) => this.ownedBy('v1', 'Pod', ns, metaOf(r).uid)).filter((p) => !terminating(p));
    const ready = pods.filter(podReady).length;
    const total = pods.length + oldPods.length;
    const now = nowIso();
    const available = ready >= replicas;
    const old = statusOf(fresh);
    const conditions = carryTransitions(old.conditions as Obj[] | undefined, [
      available
        ? { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.', lastUpdateTime: now, lastTransitionTime: now }
        : { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.', lastUpdateTime: now, lastTransitionTime: now },
      available
        ? { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${rsName}" has successfully progressed.`, lastUpdateTime: now, lastTransitionTime: now }
        : { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', message: `ReplicaSet "${rsName}" is progressing.`, lastUpdateTime: now, lastTransitionTime: now },
    ]);
    const status: Obj = {
      observedGeneration: Number(metaOf(fresh).generation ?? 1),
      ...(total > 0 ? { replicas: total } : {}),
      ...(pods.length > 0 ? { updatedReplicas: pods.length } : {}),
      ...(ready > 0 ? { readyReplicas: ready, availableReplicas: ready } : {}),
      ...(replicas - ready > 0 ? { unavailableReplicas: replicas - ready } : {}),
      conditions,
    };
    if (!sameIgnoringTimes(old, status)) this.api.internalUpdateStatus(fresh, status);
  }

  // ---------- ReplicaSet → Pods ----------

  private newPod(owner: Obj, name: string, template: Obj, extra: { labels?: Labels; spec?: Obj } = {}): Obj {
    const tmeta = (template.metadata ?? {}) as Obj;
    return this.api.internalCreate({
      apiVersion: 'v1', kind: 'Pod',
      metadata: {
        name, namespace: nsOf(owner),
        labels: { ...(tmeta.labels as Labels | undefined), ...extra.labels },
        ...(tmeta.annotations ? { annotations: tmeta.annotations } : {}),
        ownerReferences: [{ apiVersion: owner.apiVersion, kind: owner.kind, name: nameOf(owner), uid: metaOf(owner).uid, controller: true, blockOwnerDeletion: true }],
      },
      spec: { restartPolicy: 'Always', terminationGracePeriodSeconds: 30, dnsPolicy: 'ClusterFirst', schedulerName: 'default-scheduler', ...(template.spec as Obj | undefined), ...extra.spec },
      status: { phase: 'Pending', qosClass: 'BestEffort' },
    }, 'kube-controller-manager');
  }

  private reconcileReplicaSet(key: string): void {
    const [ns, name] = key.split('/') as [string, string];
    const rs = this.api.internalGet('apps/v1', 'ReplicaSet', ns, name);
    if (!rs || terminating(rs)) return;
    const spec = specOf(rs);
    const replicas = Number(spec.replicas ?? 1);
    const template = (spec.template ?? {}) as Obj;
    // like the real one (ControllerRefManager): orphan pods its selector matches are adopted (a restored pod, for one)
    const match = ((spec.selector as Obj | undefined)?.matchLabels as Labels | undefined) ?? {};
    const expressions = ((spec.selector as Obj | undefined)?.matchExpressions as Obj[] | undefined) ?? [];
    for (const orphan of this.api.internalList('v1', 'Pod', ns)) {
      if (controllerOf(orphan) || terminating(orphan) || finished(orphan) || Object.keys(match).length + expressions.length === 0) continue;
      if (!Object.entries(match).every(([k, v]) => labelsOf(orphan)[k] === v) || !expressions.every((e) => matchExpression(labelsOf(orphan), e))) continue;
      const ref = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name, uid: metaOf(rs).uid, controller: true, blockOwnerDeletion: true };
      this.api.internalPut({ ...orphan, metadata: { ...metaOf(orphan), ownerReferences: [...owners(orphan), ref] } }, 'kube-controller-manager');
    }
    const pods = this.ownedBy('v1', 'Pod', ns, metaOf(rs).uid).filter((p) => !terminating(p) && !finished(p));
    for (let i = pods.length; i < replicas; i++) this.newPod(rs, `${name}-${randomSuffix()}`, template);
    if (pods.length > replicas) {
      // like the real one: unscheduled first, then not ready, then the newest
      const order = [...pods].sort((a, b) => Number(!!specOf(a).nodeName) - Number(!!specOf(b).nodeName) || Number(podReady(a)) - Number(podReady(b)) || String(metaOf(b).creationTimestamp).localeCompare(String(metaOf(a).creationTimestamp)));
      for (const p of order.slice(0, pods.length - replicas)) this.api.internalDelete(p);
    }
    const now = this.ownedBy('v1', 'Pod', ns, metaOf(rs).uid).filter((p) => !terminating(p) && !finished(p));
    const ready = now.filter(podReady).length;
    const status: Obj = {
      replicas: now.length,
      ...(now.length ? { fullyLabeledReplicas: now.length } : {}),
      ...(ready ? { readyReplicas: ready, availableReplicas: ready } : {}),
      observedGeneration: Number(metaOf(rs).generation ?? 1),
    };
    if (!sameIgnoringTimes(statusOf(rs), status)) this.api.internalUpdateStatus(rs, status);
    const owner = controllerOf(rs);
    if (owner?.kind === 'Deployment') this.dirty.deployments.add(`${ns}/${String(owner.name)}`);
  }

  // ---------- StatefulSet → Pods + PVCs ----------

  private reconcileStatefulSet(key: string): void {
    const [ns, name] = key.split('/') as [string, string];
    const ss = this.api.internalGet('apps/v1', 'StatefulSet', ns, name);
    if (!ss || terminating(ss)) return;
    const spec = specOf(ss);
    const replicas = Number(spec.replicas ?? 1);
    const template = (spec.template ?? {}) as Obj;
    const revision = `${name}-${templateHash(template)}`;
    const ordered = (spec.podManagementPolicy ?? 'OrderedReady') === 'OrderedReady';
    const claims = (spec.volumeClaimTemplates as Obj[] | undefined) ?? [];
    const selectorLabels = ((spec.selector as Obj | undefined)?.matchLabels as Labels | undefined) ?? {};
    const pods = new Map(this.ownedBy('v1', 'Pod', ns, metaOf(ss).uid).map((p) => [nameOf(p), p]));
    for (let i = 0; i < replicas; i++) {
      const podName = `${name}-${i}`;
      for (const ct of claims) {
        const claimName = `${nameOf(ct)}-${podName}`;
        if (!this.api.internalGet('v1', 'PersistentVolumeClaim', ns, claimName)) {
          this.api.internalCreate({
            apiVersion: 'v1', kind: 'PersistentVolumeClaim',
            metadata: { name: claimName, namespace: ns, labels: { ...selectorLabels, ...(metaOf(ct).labels as Labels | undefined) }, ...(metaOf(ct).annotations ? { annotations: metaOf(ct).annotations } : {}) },
            spec: { volumeMode: 'Filesystem', ...specOf(ct) },
            status: { phase: 'Pending' },
          }, 'kube-controller-manager');
        }
      }
      const existing = pods.get(podName);
      if (!existing) {
        const tspec = (template.spec ?? {}) as Obj;
        const claimVolumes = claims.map((ct) => ({ name: nameOf(ct), persistentVolumeClaim: { claimName: `${nameOf(ct)}-${podName}` } }));
        const volumes = [...((tspec.volumes as Obj[] | undefined) ?? []).filter((v) => !claims.some((ct) => nameOf(ct) === v.name)), ...claimVolumes];
        this.newPod(ss, podName, template, {
          labels: { 'statefulset.kubernetes.io/pod-name': podName, 'apps.kubernetes.io/pod-index': String(i), 'controller-revision-hash': revision },
          spec: { hostname: podName, ...(spec.serviceName ? { subdomain: spec.serviceName } : {}), ...(volumes.length ? { volumes } : {}) },
        });
        if (ordered) break;
        continue;
      }
      if (ordered && (terminating(existing) || !podReady(existing))) break;
    }
    for (const [podName, p] of pods) {
      const idx = Number(podName.slice(name.length + 1));
      if (idx >= replicas && !terminating(p)) this.api.internalDelete(p);
    }
    const now = this.ownedBy('v1', 'Pod', ns, metaOf(ss).uid).filter((p) => !terminating(p));
    const ready = now.filter(podReady).length;
    const status: Obj = {
      observedGeneration: Number(metaOf(ss).generation ?? 1),
      replicas: now.length,
      ...(ready ? { readyReplicas: ready, availableReplicas: ready } : { availableReplicas: 0 }),
      currentReplicas: now.length, updatedReplicas: now.length,
      currentRevision: revision, updateRevision: revision, collisionCount: 0,
    };
    if (!sameIgnoringTimes(statusOf(ss), status)) this.api.internalUpdateStatus(ss, status);
  }

  // ---------- volumes ----------

  private storageClass(name: string | undefined): Obj | undefined {
    const classes = this.api.internalList('storage.k8s.io/v1', 'StorageClass');
    if (name !== undefined) return classes.find((c) => nameOf(c) === name);
    return classes.find((c) => (metaOf(c).annotations as Labels | undefined)?.['storageclass.kubernetes.io/is-default-class'] === 'true');
  }

  private claimClass(pvc: Obj): string | undefined {
    const s = specOf(pvc).storageClassName as string | undefined;
    return s ?? (this.storageClass(undefined) ? nameOf(this.storageClass(undefined)!) : undefined);
  }

  /** Does PV fit the claim (class, access modes, size), ignoring node affinity? */
  private pvFits(pv: Obj, pvc: Obj): boolean {
    const ps = specOf(pv);
    const cs = specOf(pvc);
    if ((statusOf(pv).phase ?? 'Available') !== 'Available' || ps.claimRef) return false;
    if ((ps.storageClassName ?? '') !== (this.claimClass(pvc) ?? '')) return false;
    const modes = (ps.accessModes as string[] | undefined) ?? [];
    if (!((cs.accessModes as string[] | undefined) ?? []).every((m) => modes.includes(m))) return false;
    const want = parseQuantity(((cs.resources as Obj | undefined)?.requests as Obj | undefined)?.storage);
    return parseQuantity((ps.capacity as Obj | undefined)?.storage) >= want;
  }

  private bind(pvc: Obj, pv: Obj, node?: string): void {
    const cs = specOf(pvc);
    this.api.internalPut({ ...pv, spec: { ...specOf(pv), claimRef: { kind: 'PersistentVolumeClaim', namespace: nsOf(pvc), name: nameOf(pvc), uid: metaOf(pvc).uid, apiVersion: 'v1', resourceVersion: metaOf(pvc).resourceVersion } } }, 'persistentvolume-controller');
    const pvNow = this.api.internalGet('v1', 'PersistentVolume', undefined, nameOf(pv))!;
    this.api.internalUpdateStatus(pvNow, { phase: 'Bound' }, 'persistentvolume-controller');
    const ann = { ...(metaOf(pvc).annotations as Labels | undefined), 'pv.kubernetes.io/bind-completed': 'yes', 'pv.kubernetes.io/bound-by-controller': 'yes', ...(node ? { 'volume.kubernetes.io/selected-node': node } : {}) };
    this.api.internalPut({ ...pvc, metadata: { ...metaOf(pvc), annotations: ann }, spec: { ...cs, volumeName: nameOf(pv), ...(cs.storageClassName === undefined && this.claimClass(pvc) ? { storageClassName: this.claimClass(pvc) } : {}) } }, 'persistentvolume-controller');
    const pvcNow = this.api.internalGet('v1', 'PersistentVolumeClaim', nsOf(pvc), nameOf(pvc))!;
    this.api.internalUpdateStatus(pvcNow, { phase: 'Bound', accessModes: specOf(pv).accessModes, capacity: specOf(pv).capacity }, 'persistentvolume-controller');
  }

  /** Claims whose class binds Immediately (or a claim naming its volume) are bound without waiting for a pod. */
  private bindImmediateClaims(): void {
    const pvs = this.api.internalList('v1', 'PersistentVolume');
    for (const pvc of this.api.internalList('v1', 'PersistentVolumeClaim')) {
      if (statusOf(pvc).phase === 'Bound' || terminating(pvc)) continue;
      const named = specOf(pvc).volumeName as string | undefined;
      if (named) {
        const pv = pvs.find((v) => nameOf(v) === named);
        // a PV pre-bound to this claim (claimRef by namespace and name, no uid yet: made so, or restored) binds as well, as the PV controller does
        const ref = specOf(pv ?? {}).claimRef as Obj | undefined;
        if (pv && (!ref || (ref.namespace === nsOf(pvc) && ref.name === nameOf(pvc) && (!ref.uid || ref.uid === metaOf(pvc).uid)))) this.bind(pvc, pv);
        continue;
      }
      const cls = this.storageClass(this.claimClass(pvc));
      if (cls?.volumeBindingMode === 'WaitForFirstConsumer') continue;
      const pv = pvs.find((v) => this.pvFits(v, pvc));
      if (pv) this.bind(pvc, pv);
    }
  }

  private releaseVolumeOf(pvc: Obj): void {
    for (const pv of this.api.internalList('v1', 'PersistentVolume')) {
      const ref = specOf(pv).claimRef as Obj | undefined;
      if (ref && ref.uid === metaOf(pvc).uid && statusOf(pv).phase === 'Bound') this.api.internalUpdateStatus(pv, { phase: 'Released' }, 'persistentvolume-controller');
    }
  }

  // ---------- scheduler ----------

  private schedule(): void {
    const pending = this.api.internalList('v1', 'Pod').filter((p) => !specOf(p).nodeName && !terminating(p) && !finished(p) && (specOf(p).schedulerName ?? 'default-scheduler') === 'default-scheduler');
    if (pending.length === 0) return;
    const nodes = this.api.internalList('v1', 'Node');
    const used = new Map<string, { pods: number; cpu: number; memory: number }>();
    for (const n of nodes) used.set(nameOf(n), { pods: 0, cpu: 0, memory: 0 });
    for (const p of this.api.internalList('v1', 'Pod')) {
      const u = used.get(specOf(p).nodeName as string);
      if (!u || finished(p)) continue;
      const r = podRequests(p);
      u.pods++; u.cpu += r.cpu; u.memory += r.memory;
    }
    const pvs = this.api.internalList('v1', 'PersistentVolume');
    const takenPvs = new Set<string>();
    for (const pod of pending) {
      const reasons = new Map<string, number>();
      const note = (r: string) => reasons.set(r, (reasons.get(r) ?? 0) + 1);
      // volume facts that do not depend on the node
      let podError: string | undefined;
      const claims: Obj[] = [];
      for (const v of (specOf(pod).volumes as Obj[] | undefined) ?? []) {
        const claimName = (v.persistentVolumeClaim as Obj | undefined)?.claimName as string | undefined;
        if (!claimName) continue;
        const pvc = this.api.internalGet('v1', 'PersistentVolumeClaim', nsOf(pod), claimName);
        if (!pvc) { podError = `persistentvolumeclaim "${claimName}" not found`; break; }
        if (terminating(pvc)) { podError = `persistentvolumeclaim "${claimName}" is being deleted`; break; }
        if (statusOf(pvc).phase !== 'Bound') {
          const cls = this.storageClass(this.claimClass(pvc));
          if (cls?.volumeBindingMode !== 'WaitForFirstConsumer') { podError = 'pod has unbound immediate PersistentVolumeClaims'; break; }
        }
        claims.push(pvc);
      }
      let chosen: { node: Obj; volumes: Array<[Obj, Obj]> } | undefined;
      if (!podError) {
        const req = podRequests(pod);
        const candidates = [...nodes].sort((a, b) => (used.get(nameOf(a))!.pods - used.get(nameOf(b))!.pods) || nameOf(a).localeCompare(nameOf(b)));
        for (const node of candidates) {
          const taint = ((specOf(node).taints as Obj[] | undefined) ?? []).find((t) => (t.effect === 'NoSchedule' || t.effect === 'NoExecute') && !tolerates(pod, t));
          if (taint) { note(`node(s) had untolerated taint {${String(taint.key)}: ${String(taint.value ?? '')}}`); continue; }
          if (specOf(node).unschedulable) { note('node(s) were unschedulable'); continue; }
          if (!nodeReady(node)) { note('node(s) were not ready'); continue; }
          const sel = (specOf(pod).nodeSelector as Labels | undefined) ?? {};
          const affinity = ((specOf(pod).affinity as Obj | undefined)?.nodeAffinity as Obj | undefined)?.requiredDuringSchedulingIgnoredDuringExecution as Obj | undefined;
          if (!Object.entries(sel).every(([k, v]) => labelsOf(node)[k] === v) || !nodeSelectorMatches(affinity, node)) { note("node(s) didn't match Pod's node affinity/selector"); continue; }
          const alloc = (statusOf(node).allocatable ?? statusOf(node).capacity ?? {}) as Obj;
          const u = used.get(nameOf(node))!;
          if (u.pods + 1 > parseQuantity(alloc.pods ?? '110')) { note('Too many pods'); continue; }
          if (alloc.cpu !== undefined && u.cpu + req.cpu > parseQuantity(alloc.cpu) + 1e-9) { note('Insufficient cpu'); continue; }
          if (alloc.memory !== undefined && u.memory + req.memory > parseQuantity(alloc.memory)) { note('Insufficient memory'); continue; }
          let volumeProblem: string | undefined;
          const picks: Array<[Obj, Obj]> = [];
          for (const pvc of claims) {
            if (statusOf(pvc).phase === 'Bound') {
              const pv = pvs.find((v) => nameOf(v) === specOf(pvc).volumeName);
              if (pv && !nodeSelectorMatches(((specOf(pv).nodeAffinity as Obj | undefined)?.required) as Obj | undefined, node)) { volumeProblem = 'node(s) had volume node affinity conflict'; break; }
              continue;
            }
            const pv = pvs.find((v) => !takenPvs.has(nameOf(v)) && !picks.some(([, x]) => nameOf(x) === nameOf(v)) && this.pvFits(v, pvc) && nodeSelectorMatches(((specOf(v).nodeAffinity as Obj | undefined)?.required) as Obj | undefined, node));
            if (!pv) { volumeProblem = "node(s) didn't find available persistent volumes to bind"; break; }
            picks.push([pvc, pv]);
          }
          if (volumeProblem) { note(volumeProblem); continue; }
          chosen = { node, volumes: picks };
          break;
        }
      }
      const key = `${nsOf(pod)}/${nameOf(pod)}`;
      if (chosen) {
        const nodeName = nameOf(chosen.node);
        for (const [pvc, pv] of chosen.volumes) { takenPvs.add(nameOf(pv)); this.bind(pvc, pv, nodeName); }
        const u = used.get(nodeName)!;
        const r = podRequests(pod);
        u.pods++; u.cpu += r.cpu; u.memory += r.memory;
        this.lastSchedulingMessage.delete(key);
        const bound = this.api.internalPut({ ...pod, spec: { ...specOf(pod), nodeName } }, 'kube-scheduler');
        const now = nowIso();
        this.api.internalUpdateStatus(bound, { ...statusOf(bound), phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now }] }, 'kube-scheduler');
        this.recordEvent(pod, 'Normal', 'Scheduled', `Successfully assigned ${key} to ${nodeName}`);
        continue;
      }
      const n = nodes.length;
      const detail = podError ?? [...reasons].sort(([a], [b]) => a.localeCompare(b)).map(([r, c]) => `${c} ${r}`).join(', ');
      const message = n === 0 ? 'no nodes available to schedule pods'
        : podError ? `0/${n} nodes are available: ${podError}. preemption: 0/${n} nodes are available: ${n} Preemption is not helpful for scheduling.`
        : `0/${n} nodes are available${n ? `: ${detail}` : ''}. preemption: 0/${n} nodes are available: ${n} Preemption is not helpful for scheduling.`;
      if (this.lastSchedulingMessage.get(key) === message) continue;
      this.lastSchedulingMessage.set(key, message);
      const now = nowIso();
      this.api.internalUpdateStatus(pod, { ...statusOf(pod), phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastProbeTime: null, lastTransitionTime: now }] }, 'kube-scheduler');
      this.recordEvent(pod, 'Warning', 'FailedScheduling', message);
    }
  }

  private recordEvent(pod: Obj, type: string, reason: string, message: string): void {
    const now = nowIso();
    this.api.internalCreate({
      apiVersion: 'v1', kind: 'Event',
      metadata: { name: `${nameOf(pod)}.${randomBytes(8).toString('hex')}`, namespace: nsOf(pod) },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', name: nameOf(pod), namespace: nsOf(pod), uid: metaOf(pod).uid },
      reason, message, type, source: { component: 'default-scheduler' }, reportingComponent: 'default-scheduler', reportingInstance: 'default-scheduler',
      firstTimestamp: now, lastTimestamp: now, count: 1, eventTime: null,
    }, 'kube-scheduler');
  }

  // ---------- node lifecycle ----------

  private readonly notReadySince = new Map<string, number>();

  private monitorNodes(): void {
    const now = Date.now();
    for (const node of this.api.internalList('v1', 'Node')) {
      const name = nameOf(node);
      const lease = this.api.internalGet('coordination.k8s.io/v1', 'Lease', LEASE_NS, name);
      const renew = Date.parse(String(specOf(lease ?? {}).renewTime ?? '')) || Date.parse(String(metaOf(node).creationTimestamp));
      const stale = now - renew > this.opts.nodeMonitorGracePeriodMs;
      const ready = condition(node, 'Ready');
      if (stale && ready?.status !== 'Unknown') {
        const at = nowIso();
        const conditions = conditionsOf(node).map((c) => ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure'].includes(c.type as string)
          ? { ...c, status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastTransitionTime: at, lastHeartbeatTime: c.lastHeartbeatTime ?? at }
          : c);
        this.api.internalUpdateStatus(node, { ...statusOf(node), conditions }, 'node-controller');
        this.setUnreachableTaints(name, true);
        this.notReadySince.set(name, now);
        for (const p of this.podsOn(name)) {
          const pc = conditionsOf(p).map((c) => (c.type === 'Ready' || c.type === 'ContainersReady') ? { ...c, status: 'False', reason: c.type === 'Ready' ? 'NodeNotReady' : c.reason, lastTransitionTime: at } : c);
          this.api.internalUpdateStatus(p, { ...statusOf(p), conditions: pc, containerStatuses: ((statusOf(p).containerStatuses as Obj[] | undefined) ?? []).map((c) => ({ ...c, ready: false })) }, 'node-controller');
        }
      } else if (!stale && ready?.status === 'True' && ((specOf(node).taints as Obj[] | undefined) ?? []).some((t) => t.key === TAINT_UNREACHABLE)) {
        this.setUnreachableTaints(name, false);
        this.notReadySince.delete(name);
      }
      if (stale) {
        const since = this.notReadySince.get(name) ?? now;
        this.notReadySince.set(name, since);
        if (now - since >= this.opts.podEvictionTimeoutMs) {
          for (const p of this.podsOn(name)) if (!terminating(p) && !tolerates(p, { key: TAINT_UNREACHABLE, effect: 'NoExecute' })) this.api.internalMarkTerminating(p);
        }
      }
    }
  }

  private podsOn(node: string): Obj[] {
    return this.api.internalList('v1', 'Pod').filter((p) => specOf(p).nodeName === node && !finished(p));
  }

  private setUnreachableTaints(node: string, on: boolean): void {
    const n = this.api.internalGet('v1', 'Node', undefined, node);
    if (!n) return;
    const others = ((specOf(n).taints as Obj[] | undefined) ?? []).filter((t) => t.key !== TAINT_UNREACHABLE);
    const taints = on ? [...others, { key: TAINT_UNREACHABLE, effect: 'NoSchedule' }, { key: TAINT_UNREACHABLE, effect: 'NoExecute', timeAdded: nowIso() }] : others;
    const spec = { ...specOf(n) };
    if (taints.length) spec.taints = taints;
    else delete spec.taints;
    this.api.internalPut({ ...n, spec }, 'node-controller');
  }

  // ---------- the virtual node ----------

  private registerVirtualNode(vn: VirtualNodeOptions): void {
    const existing = this.api.internalGet('v1', 'Node', undefined, vn.name);
    if (!existing) {
      this.api.internalCreate({
        apiVersion: 'v1', kind: 'Node',
        metadata: { name: vn.name, labels: { 'kubernetes.io/hostname': vn.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', 'node.kubernetes.io/instance-type': 'sandbox-virtual' }, annotations: { 'sandbox.mixmesh.io/virtual': 'true' } },
        spec: {},
      }, 'kubelet');
    }
    this.renewLease(vn.name);
    const node = this.api.internalGet('v1', 'Node', undefined, vn.name)!;
    const now = nowIso();
    const cap = { cpu: vn.cpu, memory: vn.memory, pods: String(vn.maxPods), 'ephemeral-storage': '100Gi' };
    this.api.internalUpdateStatus(node, {
      capacity: cap, allocatable: cap,
      conditions: nodeConditions(now),
      addresses: [{ type: 'InternalIP', address: '127.0.0.1' }, { type: 'Hostname', address: vn.name }],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: nodeInfo('virtual (pods are records only)'),
    }, 'kubelet');
  }

  renewLease(node: string, holder = node): void {
    const now = new Date().toISOString().replace('Z', '000Z');
    const lease = this.api.internalGet('coordination.k8s.io/v1', 'Lease', LEASE_NS, node);
    const n = this.api.internalGet('v1', 'Node', undefined, node);
    const owner = n ? [{ apiVersion: 'v1', kind: 'Node', name: node, uid: metaOf(n).uid }] : undefined;
    this.api.internalPut({
      apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
      metadata: { ...(lease ? metaOf(lease) : {}), name: node, namespace: LEASE_NS, ...(owner ? { ownerReferences: owner } : {}) },
      spec: { holderIdentity: holder, leaseDurationSeconds: 40, renewTime: now },
    }, 'kubelet');
  }

  private armReadyTimer(p: Obj): void {
    const key = `${nsOf(p)}/${nameOf(p)}`;
    const t = setTimeout(() => { this.readyTimers.delete(key); this.safely(() => this.makeVirtualPodReady(nsOf(p), nameOf(p))); }, this.opts.readyDelayMs);
    this.readyTimers.set(key, t);
  }

  private deploymentOf(p: Obj): string | undefined {
    const c = controllerOf(p);
    if (c?.kind !== 'ReplicaSet') return c?.kind === 'Deployment' ? `${nsOf(p)}/${String(c.name)}` : undefined;
    const rs = this.api.internalGet('apps/v1', 'ReplicaSet', nsOf(p), c.name as string);
    const d = rs ? controllerOf(rs) : undefined;
    return d?.kind === 'Deployment' ? `${nsOf(p)}/${String(d.name)}` : undefined;
  }

  private makeVirtualPodReady(ns: string, name: string): void {
    const p = this.api.internalGet('v1', 'Pod', ns, name);
    if (!p || terminating(p) || !this.opts.virtualNode || specOf(p).nodeName !== this.opts.virtualNode.name) return;
    const d = this.deploymentOf(p);
    if (d && this.api.faults.neverReady.includes(d)) { this.heldBack.add(`${ns}/${name}`); return; }
    const now = nowIso();
    const containers = ((specOf(p).containers as Obj[] | undefined) ?? []);
    this.api.internalUpdateStatus(p, {
      ...statusOf(p),
      phase: 'Running', podIP: (statusOf(p).podIP as string | undefined) ?? this.nextPodIp(), hostIP: '127.0.0.1', startTime: now,
      conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: now })),
      containerStatuses: containers.map((c) => ({ name: c.name, image: c.image, imageID: '', ready: true, started: true, restartCount: 0, state: { running: { startedAt: now } } })),
    }, 'kubelet');
  }

  /** 10.244.0.0/16, one address per pod, like a node's pod CIDR */
  private nextPodIp(): string {
    const n = (this.podIps++ % 65000) + 2;
    return `10.244.${Math.floor(n / 256)}.${n % 256}`;
  }
}

export function nodeConditions(now: string): Obj[] {
  return [
    { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', message: 'kubelet has sufficient memory available', lastHeartbeatTime: now, lastTransitionTime: now },
    { type: 'DiskPressure', status: 'False', reason: 'KubeletHasNoDiskPressure', message: 'kubelet has no disk pressure', lastHeartbeatTime: now, lastTransitionTime: now },
    { type: 'PIDPressure', status: 'False', reason: 'KubeletHasSufficientPID', message: 'kubelet has sufficient PID available', lastHeartbeatTime: now, lastTransitionTime: now },
    { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: now, lastTransitionTime: now },
  ];
}

export function nodeInfo(runtime: string): Obj {
  return {
    architecture: 'amd64', operatingSystem: 'linux', osImage: 'mixmesh sandbox VM (busybox)', kernelVersion: '6.1.0-sandbox',
    kubeletVersion: 'v1.32.0', kubeProxyVersion: 'v1.32.0', containerRuntimeVersion: `sandbox://${runtime}`,
    machineID: '', systemUUID: '', bootID: '',
  };
}
