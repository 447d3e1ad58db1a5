/**
 * The emulator's storage: objects by resource and namespace/name, one global resourceVersion
 * counter, and a bounded history of change events so a watch can resume from a resourceVersion.
 */
import { readFileSync, writeFileSync, renameSync, existsSync } from 'node:fs';
import type { Obj } from './resources.js';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  type: EventType;
  key: string;
  object: Obj;
  rv: number;
}

const HISTORY = 10_000;

export function metaOf(obj: Obj): Obj {
  return (obj.metadata ??= {}) as Obj;
}

export function objectId(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

export class Store {
  rv = 0;
  private readonly objects = new Map<string, Map<string, Obj>>();
  private readonly history: StoreEvent[] = [];
  private readonly listeners = new Set<(e: StoreEvent) => void>();
  /** the oldest resourceVersion a watch can resume from */
  oldestRv = 0;

  get(key: string, namespace: string | undefined, name: string): Obj | undefined {
    return this.objects.get(key)?.get(objectId(namespace, name));
  }

  list(key: string, namespace?: string): Obj[] {
    const all = [...(this.objects.get(key)?.values() ?? [])];
    const filtered = namespace === undefined ? all : all.filter((o) => metaOf(o).namespace === namespace);
    return filtered.sort((a, b) => objectId(metaOf(a).namespace as string, metaOf(a).name as string).localeCompare(objectId(metaOf(b).namespace as string, metaOf(b).name as string)));
  }

  keys(): string[] {
    return [...this.objects.keys()];
  }

  nextRv(): number {
    return ++this.rv;
  }

  /** Store an object (its metadata.resourceVersion already set) and tell the watchers. */
  put(key: string, obj: Obj, type: 'ADDED' | 'MODIFIED'): void {
    const meta = metaOf(obj);
    let bucket = this.objects.get(key);
    if (!bucket) this.objects.set(key, (bucket = new Map()));
    bucket.set(objectId(meta.namespace as string | undefined, meta.name as string), obj);
    this.emit({ type, key, object: obj, rv: Number(meta.resourceVersion) });
  }

  remove(key: string, obj: Obj): Obj {
    const meta = metaOf(obj);
    this.objects.get(key)?.delete(objectId(meta.namespace as string | undefined, meta.name as string));
    const gone = { ...obj, metadata: { ...meta, resourceVersion: String(this.nextRv()) } };
    this.emit({ type: 'DELETED', key, object: gone, rv: this.rv });
    return gone;
  }

  /** Drop every object of a resource (a deleted CRD's custom resources). */
  dropAll(key: string): void {
    for (const obj of this.list(key)) this.remove(key, obj);
    this.objects.delete(key);
  }

  private emit(e: StoreEvent): void {
    this.history.push(e);
    if (this.history.length > HISTORY) this.oldestRv = this.history.splice(0, this.history.length - HISTORY)[0]!.rv;
    for (const l of this.listeners) l(e);
  }

  /** Events after `rv`, or undefined when that is older than the history (410 Gone). */
  since(rv: number): StoreEvent[] | undefined {
    if (rv < this.oldestRv) return undefined;
    return this.history.filter((e) => e.rv > rv);
  }

  subscribe(fn: (e: StoreEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  save(file: string): void {
    const data = { rv: this.rv, objects: Object.fromEntries([...this.objects].map(([k, m]) => [k, [...m.values()]])) };
    writeFileSync(`${file}.tmp`, JSON.stringify(data));
    renameSync(`${file}.tmp`, file);
  }

  /** Load a saved state; false when there is none. */
  load(file: string): boolean {
    if (!existsSync(file)) return false;
    const data = JSON.parse(readFileSync(file, 'utf8')) as { rv: number; objects: Record<string, Obj[]> };
    this.rv = data.rv;
    this.oldestRv = data.rv;
    for (const [k, list] of Object.entries(data.objects)) {
      const bucket = new Map<string, Obj>();
      for (const o of list) bucket.set(objectId(metaOf(o).namespace as string | undefined, metaOf(o).name as string), o);
      this.objects.set(k, bucket);
    }
    return true;
  }
}
