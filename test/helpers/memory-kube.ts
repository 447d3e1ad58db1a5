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
import type { KubeObject, KubePort, ListOptions, ObjectRef, WatchEventType } from '../../orchestrator/ports.js';

const key = (r: { apiVersion: string; kind: string; namespace?: string | undefined; name: string }): string => `${r.apiVersion}|${r.kind}|${r.namespace ?? ''}|${r.name}`;

export function matchesSelector(labels: Record<string, string> | undefined, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return v === undefined ? labels?.[k!] !== undefined : labels?.[k!] === v;
  });
}

type Tree = Record<string, unknown>;
const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const META_SKIP = new Set(['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'deletionTimestamp']);

/** the FieldsV1 tree of what an apply sets; every list atomic (a leaf), as CRD lists are by default */
function fieldsOf(value: unknown, top = true): Tree {
  const out: Tree = {};
  if (!isObj(value)) return out;
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined || (top && (k === 'apiVersion' || k === 'kind' || k === 'status'))) continue;
    if (top && k === 'metadata') {
      const meta = Object.fromEntries(Object.entries(v as Tree).filter(([mk]) => !META_SKIP.has(mk)));
      if (Object.keys(meta).length) out['f:metadata'] = fieldsOf(meta, false);
      continue;
    }
    out[`f:${k}`] = isObj(v) && Object.keys(v).length ? fieldsOf(v, false) : {};
  }
  return out;
}

/** remove from `obj` the fields of `owned` that `keep` does not have (what an applier stopped applying) */
function dropFields(obj: Tree, owned: Tree, keep: Tree): void {
  for (const [el, child] of Object.entries(owned)) {
    const name = el.slice(2);
    if (!(el in keep)) delete obj[name];
    else if (isObj(child) && Object.keys(child).length && isObj(obj[name])) dropFields(obj[name] as Tree, child, keep[el] as Tree);
  }
}

function mergeInto(target: Tree, patch: Tree): Tree {
  const out: Tree = { ...target };
  for (const [k, v] of Object.entries(patch)) out[k] = isObj(v) && isObj(out[k]) ? mergeInto(out[k] as Tree, v) : structuredClone(v);
  return out;
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
  /** kinds the "server" does not serve: listing one fails as discovery would */
  unserved = new Set<string>();
  /** kinds we may not list: 403 */
  forbidList = new Set<string>();

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

  /** a Deployment reads ready (status as its controller would write it) while its kind is in `ready` */
  private view(o: KubeObject): KubeObject {
    const out = structuredClone(o);
    if (o.kind === 'Deployment' && this.ready.has('Deployment')) {
      const replicas = Number((o.spec as { replicas?: number } | undefined)?.replicas ?? 1);
      out.status = { ...(out.status as object | undefined), observedGeneration: o.metadata.generation, replicas, readyReplicas: replicas, updatedReplicas: replicas };
    }
    return out;
  }

  async get(ref: ObjectRef): Promise<KubeObject | undefined> {
    const o = this.objects.get(key(ref));
    return o ? this.view(o) : undefined;
  }

  async list(apiVersion: string, kind: string, options: ListOptions = {}): Promise<KubeObject[]> {
    if (this.unserved.has(kind)) throw new MixmeshError('K8S_REQUEST_FAILED', `the server does not serve ${kind} in ${apiVersion}`, { details: { notServed: true } });
    if (this.forbidList.has(kind)) throw new MixmeshError('K8S_REQUEST_FAILED', `list ${kind}: forbidden`, { details: { httpStatus: 403, reason: 'Forbidden' } });
    return [...this.objects.values()]
      .filter((o) => o.apiVersion === apiVersion && o.kind === kind && (options.namespace === undefined || o.metadata.namespace === options.namespace) && matchesSelector(o.metadata.labels, options.labelSelector))
      .map((o) => this.view(o));
  }

  /** discovery: the kinds of what is stored, plus the forbidden ones; never an unserved one */
  async namespacedKinds(): Promise<{ apiVersion: string; kind: string }[]> {
    const kinds = new Map<string, { apiVersion: string; kind: string }>();
    for (const o of this.objects.values()) if (o.metadata.namespace) kinds.set(`${o.apiVersion}|${o.kind}`, { apiVersion: o.apiVersion, kind: o.kind });
    for (const kind of this.forbidList) kinds.set(`apps/v1|${kind}`, { apiVersion: 'apps/v1', kind });
    return [...kinds.values()].filter((k) => !this.unserved.has(k.kind));
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
    // server-side apply, one manager: what mixmesh applied before and no longer applies goes
    const fields = fieldsOf(obj);
    let base: Tree = {};
    if (previous) {
      base = structuredClone(previous) as unknown as Tree;
      const owned = (previous.metadata.managedFields ?? []).find((m) => m.manager === 'mixmesh' && m.operation === 'Apply')?.fieldsV1 as Tree | undefined;
      if (owned) dropFields(base, owned, fields);
    }
    const merged = mergeInto(base, obj as unknown as Tree) as unknown as KubeObject;
    merged.metadata.managedFields = [{ manager: 'mixmesh', operation: 'Apply', apiVersion: obj.apiVersion, fieldsType: 'FieldsV1', fieldsV1: fields }];
    const stored = this.stamp(merged, previous);
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

}
