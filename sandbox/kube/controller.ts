/**
 * The emulator's controller manager: workloads, scheduling, volumes and node lifecycle live in
 * workloads.ts (Deployment → ReplicaSet → Pods, ready after a delay on the virtual node, or never
 * under a fault); every new namespace gets its
 * ServiceAccount `default` and the root-certificate ConfigMaps at once; a deleted namespace is
 * emptied and then removed; objects whose owner is deleted follow it.
 */
import type { KubeApi } from './api.js';
import { metaOf, type StoreEvent } from './store.js';
import type { Obj } from './resources.js';
import { Workloads, type ClusterOptions } from './workloads.js';

export interface ControllerOptions {
  cluster: ClusterOptions;
  istioRootPem: string;
  kubeCaPem: string;
}

export class Controller {
  /** Deployments, ReplicaSets, StatefulSets, the scheduler, volumes, node lifecycle (workloads.ts) */
  readonly workloads: Workloads;
  private unsubscribe: () => void = () => undefined;
  private readonly pending = new Set<NodeJS.Immediate>();
  private stopped = false;

  constructor(private readonly api: KubeApi, private readonly opts: ControllerOptions) {
    this.workloads = new Workloads(api, opts.cluster, (fn) => this.safely(fn));
  }

  start(): void {
    this.unsubscribe = this.api.store.subscribe((e) => this.onEvent(e));
    // state loaded from a file: pick up where the last run left off
    for (const ns of this.api.internalList('v1', 'Namespace')) {
      this.seedNamespace(metaOf(ns).name as string);
      if (metaOf(ns).deletionTimestamp) this.finalizeSoon(metaOf(ns).name as string);
    }
    this.workloads.start();
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    this.workloads.stop();
    for (const p of this.pending) clearImmediate(p);
  }

  /** Faults changed: deployments held back may become ready now. */
  faultsChanged(): void {
    this.workloads.faultsChanged();
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
    this.workloads.onEvent(e);
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

}
