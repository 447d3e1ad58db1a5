/**
 * The emulator's tiny controller manager, so that readiness means something: Deployments get Pods
 * that become ready after a delay (or never, under a fault); every new namespace gets its
 * ServiceAccount `default` and the root-certificate ConfigMaps at once; a deleted namespace is
 * emptied and then removed; objects whose owner is deleted follow it.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { KubeApi } from './api.js';
import { nowIso } from './api.js';
import { metaOf, type StoreEvent } from './store.js';
import type { Obj } from './resources.js';

export interface ControllerOptions {
  readyDelayMs: number;
  istioRootPem: string;
  kubeCaPem: string;
}

interface DeploymentState { generation: number; timer?: NodeJS.Timeout; ready: boolean }

export class Controller {
  private readonly deployments = new Map<string, DeploymentState>();
  private unsubscribe: () => void = () => undefined;
  private readonly pending = new Set<NodeJS.Immediate>();
  private stopped = false;

  constructor(private readonly api: KubeApi, private readonly opts: ControllerOptions) {}

  start(): void {
    this.unsubscribe = this.api.store.subscribe((e) => this.onEvent(e));
    // state loaded from a file: pick up where the last run left off
    for (const ns of this.api.internalList('v1', 'Namespace')) {
      this.seedNamespace(metaOf(ns).name as string);
      if (metaOf(ns).deletionTimestamp) this.finalizeSoon(metaOf(ns).name as string);
    }
    for (const d of this.api.internalList('apps/v1', 'Deployment')) this.later(() => this.reconcileDeployment(metaOf(d).namespace as string, metaOf(d).name as string));
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    for (const s of this.deployments.values()) clearTimeout(s.timer);
    for (const p of this.pending) clearImmediate(p);
  }

  /** Faults changed: deployments held back may become ready now. */
  faultsChanged(): void {
    for (const [key, s] of this.deployments) {
      if (s.ready || s.timer) continue;
      const [ns, name] = key.split('/') as [string, string];
      this.later(() => this.makeReady(ns, name, s.generation));
    }
  }

  private later(fn: () => void): void {
    const h = setImmediate(() => { this.pending.delete(h); if (!this.stopped) this.safely(fn); });
    this.pending.add(h);
  }

  /** A controller step that fails must not take the API server down with it. */
  private safely(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      process.emitWarning(`sandbox kube controller: ${e instanceof Error ? e.message : String(e)}`, 'MixmeshSandboxWarning');
    }
  }

  private onEvent(e: StoreEvent): void {
    const meta = metaOf(e.object);
    const ns = meta.namespace as string | undefined;
    if (e.key === '/namespaces') {
      // synchronously: the ConfigMaps exist before the namespace's create call returns
      if (e.type === 'ADDED') this.seedNamespace(meta.name as string);
      if (e.type === 'MODIFIED' && meta.deletionTimestamp) this.finalizeSoon(meta.name as string);
      return;
    }
    if (e.key === 'events.k8s.io/events') this.later(() => this.mirrorEvent(e));
    if (e.key === 'apps/deployments') {
      const key = `${ns}/${String(meta.name)}`;
      if (e.type === 'DELETED') { clearTimeout(this.deployments.get(key)?.timer); this.deployments.delete(key); }
      else this.later(() => this.reconcileDeployment(ns!, meta.name as string));
    }
    if (e.type === 'DELETED') {
      const uid = meta.uid as string;
      this.later(() => this.collectGarbage(uid));
      if (ns !== undefined) {
        const namespace = this.api.internalGet('v1', 'Namespace', undefined, ns);
        if (namespace && metaOf(namespace).deletionTimestamp) this.finalizeSoon(ns);
      }
    }
  }

  /**
   * The real server stores both Event APIs in one place; here each events.k8s.io/v1 Event is
   * mirrored as a core v1 Event, so `kubectl get events` and `kubectl describe` show what
   * mixmesh reports.
   */
  private mirrorEvent(e: StoreEvent): void {
    const meta = metaOf(e.object);
    const ref = { apiVersion: 'v1', kind: 'Event', metadata: { name: meta.name as string, namespace: meta.namespace as string } };
    if (e.type === 'DELETED') { this.api.internalDelete(ref); return; }
    const current = this.api.internalGet('events.k8s.io/v1', 'Event', meta.namespace as string, meta.name as string);
    if (!current) return;
    const o = current;
    const series = o.series as Obj | undefined;
    this.api.internalPut({
      ...ref,
      metadata: { ...ref.metadata, ...(metaOf(o).labels ? { labels: metaOf(o).labels } : {}) },
      involvedObject: o.regarding ?? {}, ...(o.related ? { related: o.related } : {}),
      reason: o.reason, message: o.note, type: o.type, action: o.action,
      reportingComponent: o.reportingController ?? '', reportingInstance: o.reportingInstance ?? '',
      source: o.deprecatedSource ?? { component: o.reportingController ?? '' },
      eventTime: o.eventTime ?? null,
      firstTimestamp: o.deprecatedFirstTimestamp ?? o.eventTime ?? metaOf(o).creationTimestamp,
      lastTimestamp: (series?.lastObservedTime as string | undefined) ?? o.deprecatedLastTimestamp ?? o.eventTime ?? metaOf(o).creationTimestamp,
      count: (series?.count as number | undefined) ?? o.deprecatedCount ?? 1,
    }, 'event-mirror');
  }

  private readonly finalizing = new Set<string>();

  /** One finalization pass per namespace per turn, however many of its objects went. */
  private finalizeSoon(ns: string): void {
    if (this.finalizing.has(ns)) return;
    this.finalizing.add(ns);
    this.later(() => { this.finalizing.delete(ns); this.finalizeNamespace(ns); });
  }

  private seedNamespace(ns: string): void {
    const ensure = (obj: Obj) => {
      if (!this.api.internalGet(obj.apiVersion as string, obj.kind as string, ns, metaOf(obj).name as string)) this.api.internalCreate(obj);
    };
    ensure({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: ns } });
    ensure({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kube-root-ca.crt', namespace: ns, annotations: { 'kubernetes.io/description': 'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.' } }, data: { 'ca.crt': this.opts.kubeCaPem } });
    ensure({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio-ca-root-cert', namespace: ns, labels: { 'istio.io/config': 'true' } }, data: { 'root-cert.pem': this.opts.istioRootPem } });
  }

  private finalizeNamespace(ns: string): void {
    const namespace = this.api.internalGet('v1', 'Namespace', undefined, ns);
    if (!namespace || !metaOf(namespace).deletionTimestamp) return;
    let remaining = 0;
    for (const r of this.api.allResources()) {
      if (!r.namespaced) continue;
      for (const o of this.api.internalList(`${r.group === '' ? '' : `${r.group}/`}${r.version}`, r.kind, ns)) {
        remaining++;
        if (!metaOf(o).deletionTimestamp) this.api.internalDelete(o);
        if (this.api.internalGet(o.apiVersion as string, o.kind as string, ns, metaOf(o).name as string) === undefined) remaining--;
      }
    }
    if (remaining === 0) this.api.finalizeNamespace(namespace);
  }

  private collectGarbage(uid: string): void {
    // raw store scan: this runs once per deletion, so it must stay cheap
    const orphans: Obj[] = [];
    for (const key of this.api.store.keys()) {
      for (const o of this.api.store.list(key)) {
        const owners = (metaOf(o).ownerReferences as Obj[] | undefined) ?? [];
        if (owners.length > 0 && owners.some((ref) => ref.uid === uid) && !metaOf(o).deletionTimestamp) orphans.push(o);
      }
    }
    for (const o of orphans) this.api.internalDelete(o);
  }

  private podIps = 0;

  /** 10.244.0.0/16, one address per pod, like a node's pod CIDR */
  private nextPodIp(): string {
    const n = (this.podIps++ % 65000) + 2;
    return `10.244.${Math.floor(n / 256)}.${n % 256}`;
  }

  private podsOf(d: Obj): Obj[] {
    const uid = metaOf(d).uid;
    return this.api.internalList('v1', 'Pod', metaOf(d).namespace as string).filter((p) => ((metaOf(p).ownerReferences as Obj[] | undefined) ?? []).some((o) => o.uid === uid));
  }

  private templateHash(d: Obj): string {
    return createHash('sha256').update(JSON.stringify((d.spec as Obj).template ?? {})).digest('hex').slice(0, 10).replace(/[0-9]/g, (c) => 'bcdfghjklm'[Number(c)]!);
  }

  private reconcileDeployment(ns: string, name: string): void {
    const d = this.api.internalGet('apps/v1', 'Deployment', ns, name);
    if (!d || metaOf(d).deletionTimestamp) return;
    const key = `${ns}/${name}`;
    const generation = Number(metaOf(d).generation ?? 1);
    const state = this.deployments.get(key);
    if (state && state.generation === generation) return;
    if (state) clearTimeout(state.timer);
    const spec = d.spec as Obj;
    const replicas = Number(spec.replicas ?? 1);
    const hash = this.templateHash(d);
    const template = (spec.template ?? {}) as Obj;
    const pods = this.podsOf(d);
    for (const p of pods) if ((metaOf(p).labels as Record<string, string> | undefined)?.['pod-template-hash'] !== hash) this.api.internalDelete(p);
    const current = pods.filter((p) => (metaOf(p).labels as Record<string, string> | undefined)?.['pod-template-hash'] === hash);
    for (const p of current.slice(replicas)) this.api.internalDelete(p);
    for (let i = current.length; i < replicas; i++) {
      const tmeta = (template.metadata ?? {}) as Obj;
      this.api.internalCreate({
        apiVersion: 'v1', kind: 'Pod',
        metadata: {
          name: `${name}-${hash}-${randomBytes(3).toString('hex').slice(0, 5)}`, namespace: ns,
          labels: { ...(tmeta.labels as Obj | undefined), 'pod-template-hash': hash },
          ...(tmeta.annotations ? { annotations: tmeta.annotations } : {}),
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name, uid: metaOf(d).uid, controller: true, blockOwnerDeletion: true }],
        },
        spec: { ...(template.spec as Obj | undefined), nodeName: 'sandbox-node' },
        status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: nowIso() }] },
      });
    }
    this.api.internalUpdateStatus(d, {
      observedGeneration: generation, replicas, updatedReplicas: replicas, ...(replicas > 0 ? { unavailableReplicas: replicas } : {}),
      conditions: [{ type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', message: `ReplicaSet "${name}-${hash}" is progressing.`, lastUpdateTime: nowIso(), lastTransitionTime: nowIso() }],
    });
    const next: DeploymentState = { generation, ready: false };
    next.timer = setTimeout(() => { next.timer = undefined; this.safely(() => this.makeReady(ns, name, generation)); }, this.opts.readyDelayMs);
    this.deployments.set(key, next);
  }

  private makeReady(ns: string, name: string, generation: number): void {
    const d = this.api.internalGet('apps/v1', 'Deployment', ns, name);
    const state = this.deployments.get(`${ns}/${name}`);
    if (!d || !state || Number(metaOf(d).generation) !== generation) return;
    if (this.api.faults.neverReady.includes(`${ns}/${name}`)) return;
    const now = nowIso();
    const pods = this.podsOf(d);
    for (const p of pods) {
      const containers = (((p.spec as Obj | undefined)?.containers as Obj[] | undefined) ?? []);
      this.api.internalUpdateStatus(p, {
        phase: 'Running', podIP: ((p.status as Obj | undefined)?.podIP as string | undefined) ?? this.nextPodIp(), hostIP: '127.0.0.1', startTime: now,
        conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({ type, status: 'True', lastTransitionTime: now })),
        containerStatuses: containers.map((c) => ({ name: c.name, image: c.image, ready: true, started: true, restartCount: 0, state: { running: { startedAt: now } } })),
      }, 'kubelet');
    }
    const replicas = Number((d.spec as Obj).replicas ?? 1);
    this.api.internalUpdateStatus(d, {
      observedGeneration: generation, replicas, updatedReplicas: replicas, readyReplicas: replicas, availableReplicas: replicas,
      conditions: [
        { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.', lastUpdateTime: now, lastTransitionTime: now },
        { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${name}-${this.templateHash(d)}" has successfully progressed.`, lastUpdateTime: now, lastTransitionTime: now },
      ],
    });
    state.ready = true;
  }
}
