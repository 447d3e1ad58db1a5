/**
 * An in-memory KubePort for unit tests of the API and the controller (the istio "fake kube client"
 * habit). It keeps the API server behaviours the orchestrator relies on: uid, resourceVersion,
 * generation bumped on spec change only, the status subresource, finalizers + deletionTimestamp,
 * label selectors, watches, 409 on create of an existing object. It counts writes like the
 * sandbox's `/_sandbox/requests`, so tests can assert "wrote nothing".
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { isDeepStrictEqual } from 'node:util';
import { MixmeshError } from '../../common/errors.js';
import type { KubeObject, KubePort, ListOptions, ObjectRef, WatchEventType } from '../ports.js';

const key = (r: { apiVersion: string; kind: string; namespace?: string | undefined; name: string }): string => `${r.apiVersion}|${r.kind}|${r.namespace ?? ''}|${r.name}`;

export function matchesSelector(labels: Record<string, string> | undefined, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return v === undefined ? labels?.[k!] !== undefined : labels?.[k!] === v;
  });
}

export class MemoryKube implements KubePort {
  private readonly objects = new Map<string, KubeObject>();
  private readonly bus = new EventEmitter();
  private rv = 1;
  writes: { verb: string; kind: string; name: string }[] = [];
  /** kinds whose objects are reported ready by isReady (Deployments start unready until markReady) */
  readonly ready = new Set<string>();
  /** make every write of a kind fail, for error-path tests */
  failKinds = new Set<string>();

  constructor() {
    this.bus.setMaxListeners(0);
  }

  private emit(type: WatchEventType, obj: KubeObject): void {
    this.bus.emit('event', type, structuredClone(obj));
  }

  private record(verb: string, obj: { kind: string; metadata?: { name?: string }; name?: string }): void {
    const name = obj.metadata?.name ?? obj.name ?? '';
    if (this.failKinds.has(obj.kind)) throw new MixmeshError('K8S_REQUEST_FAILED', `${verb} ${obj.kind}/${name}: injected failure`);
    this.writes.push({ verb, kind: obj.kind, name });
  }

  async get(ref: ObjectRef): Promise<KubeObject | undefined> {
    const o = this.objects.get(key(ref));
    return o ? structuredClone(o) : undefined;
  }

  async list(apiVersion: string, kind: string, options: ListOptions = {}): Promise<KubeObject[]> {
    return [...this.objects.values()]
      .filter((o) => o.apiVersion === apiVersion && o.kind === kind && (options.namespace === undefined || o.metadata.namespace === options.namespace) && matchesSelector(o.metadata.labels, options.labelSelector))
      .map((o) => structuredClone(o));
  }

  /** everything, for assertions */
  all(): KubeObject[] {
    return [...this.objects.values()].map((o) => structuredClone(o));
  }

  private stamp(obj: KubeObject, previous?: KubeObject): KubeObject {
    const out = structuredClone(obj);
    out.metadata.uid = previous?.metadata.uid ?? randomUUID();
    out.metadata.creationTimestamp = previous?.metadata.creationTimestamp ?? new Date().toISOString();
    out.metadata.resourceVersion = String(++this.rv);
    const specChanged = !previous || !isDeepStrictEqual(previous.spec, obj.spec);
    out.metadata.generation = (previous?.metadata.generation ?? 0) + (specChanged ? 1 : 0);
    if (previous?.status !== undefined) out.status = previous.status;
    if (previous?.metadata.deletionTimestamp) out.metadata.deletionTimestamp = previous.metadata.deletionTimestamp;
    return out;
  }

  async create(obj: KubeObject): Promise<KubeObject> {
    this.record('POST', obj);
    const k = key({ ...obj.metadata, apiVersion: obj.apiVersion, kind: obj.kind });
    if (this.objects.has(k)) throw new MixmeshError('ALREADY_EXISTS', `${obj.kind} ${obj.metadata.namespace ?? ''}/${obj.metadata.name} already exists`);
    const { status: _status, ...rest } = obj;
    const stored = this.stamp(rest as KubeObject);
    this.objects.set(k, stored);
    this.emit('ADDED', stored);
    return structuredClone(stored);
  }

  async apply(obj: KubeObject): Promise<KubeObject> {
    this.record('PATCH', obj);
    const k = key({ ...obj.metadata, apiVersion: obj.apiVersion, kind: obj.kind });
    const previous = this.objects.get(k);
    const merged = previous
      ? { ...previous, ...obj, metadata: { ...previous.metadata, ...obj.metadata, labels: { ...previous.metadata.labels, ...obj.metadata.labels }, annotations: { ...previous.metadata.annotations, ...obj.metadata.annotations } } }
      : obj;
    const stored = this.stamp(merged as KubeObject, previous);
    this.objects.set(k, stored);
    this.emit(previous ? 'MODIFIED' : 'ADDED', stored);
    return structuredClone(stored);
  }

  async replace(obj: KubeObject): Promise<KubeObject> {
    this.record('PUT', obj);
    const k = key({ ...obj.metadata, apiVersion: obj.apiVersion, kind: obj.kind });
    const previous = this.objects.get(k);
    if (!previous) throw new MixmeshError('NOT_FOUND', `${obj.kind} ${obj.metadata.name} not found`);
    if (obj.metadata.resourceVersion && obj.metadata.resourceVersion !== previous.metadata.resourceVersion) {
      throw new MixmeshError('K8S_REQUEST_FAILED', `${obj.kind} ${obj.metadata.name}: the object has been modified`, { status: 409 });
    }
    const stored = this.stamp(obj, previous);
    if (stored.metadata.deletionTimestamp && (stored.metadata.finalizers ?? []).length === 0) {
      this.objects.delete(k);
      this.emit('DELETED', stored);
      return structuredClone(stored);
    }
    this.objects.set(k, stored);
    this.emit('MODIFIED', stored);
    return structuredClone(stored);
  }

  async setFinalizers(obj: KubeObject, finalizers: string[]): Promise<KubeObject> {
    const k = key({ ...obj.metadata, apiVersion: obj.apiVersion, kind: obj.kind });
    const previous = this.objects.get(k);
    if (!previous) throw new MixmeshError('NOT_FOUND', `${obj.kind} ${obj.metadata.name} not found`);
    return this.replace({ ...previous, metadata: { ...previous.metadata, ...(obj.metadata.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {}), finalizers } });
  }

  async replaceStatus(obj: KubeObject): Promise<KubeObject> {
    this.record('PUT', { kind: obj.kind, name: `${obj.metadata.name}/status` });
    const k = key({ ...obj.metadata, apiVersion: obj.apiVersion, kind: obj.kind });
    const previous = this.objects.get(k);
    if (!previous) throw new MixmeshError('NOT_FOUND', `${obj.kind} ${obj.metadata.name} not found`);
    const stored = { ...previous, status: structuredClone(obj.status), metadata: { ...previous.metadata, resourceVersion: String(++this.rv) } };
    this.objects.set(k, stored);
    this.emit('MODIFIED', stored);
    return structuredClone(stored);
  }

  async delete(ref: ObjectRef): Promise<boolean> {
    this.record('DELETE', { kind: ref.kind, name: ref.name });
    const k = key(ref);
    const previous = this.objects.get(k);
    if (!previous) return false;
    if ((previous.metadata.finalizers ?? []).length > 0) {
      if (!previous.metadata.deletionTimestamp) {
        const marked = { ...previous, metadata: { ...previous.metadata, deletionTimestamp: new Date().toISOString(), resourceVersion: String(++this.rv) } };
        this.objects.set(k, marked);
        this.emit('MODIFIED', marked);
      }
      return true;
    }
    this.objects.delete(k);
    if (ref.kind === 'Namespace') {
      for (const [ok, o] of this.objects) if (o.metadata.namespace === ref.name) this.objects.delete(ok);
    }
    this.emit('DELETED', previous);
    return true;
  }

  async watch(apiVersion: string, kind: string, options: ListOptions, onEvent: (type: WatchEventType, obj: KubeObject) => void): Promise<() => void> {
    const listener = (type: WatchEventType, obj: KubeObject): void => {
      if (obj.apiVersion !== apiVersion || obj.kind !== kind) return;
      if (options.namespace !== undefined && obj.metadata.namespace !== options.namespace) return;
      if (!matchesSelector(obj.metadata.labels, options.labelSelector)) return;
      onEvent(type, obj);
    };
    this.bus.on('event', listener);
    return () => this.bus.off('event', listener);
  }

  isReady(obj: KubeObject): boolean {
    return this.ready.has(obj.kind) || obj.kind !== 'Deployment';
  }
}
