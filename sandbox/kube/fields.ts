/**
 * Field ownership for server-side apply: field sets in the `FieldsV1` format of
 * `metadata.managedFields`, the apply merge (a manager's fields set, its dropped fields removed
 * unless someone else owns them), conflicts between managers, and the bookkeeping of ordinary
 * writes (`operation: Update`). Pure functions.
 */
import { clone, deepEqual, isObject, type ListTypeOf } from './patch.js';
import type { Obj } from './resources.js';

/** A field path: `f:<name>`, `k:<json key>` (associative list item), `v:<json>` (set item). */
type Path = string[];
export type FieldSet = Set<string>;

const META_SKIP = new Set(['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink']);

export type Part = 'main' | 'status';

const enc = (p: Path): string => JSON.stringify(p);
const dec = (s: string): Path => JSON.parse(s) as Path;

function itemKey(item: Obj, keys: string[]): string {
  const k: Obj = {};
  for (const key of [...keys].sort()) if (item[key] !== undefined) k[key] = item[key];
  return `k:${JSON.stringify(k)}`;
}

/** The fields an object sets. `part` main skips status; status keeps only status. */
export function fieldSetOf(obj: Obj, listTypeOf: ListTypeOf, part: Part | 'all' = 'all', statusSubresource = true): FieldSet {
  const out: FieldSet = new Set();
  const walk = (value: unknown, path: Path, names: string[]): void => {
    if (isObject(value) && Object.keys(value).length > 0) {
      for (const [k, v] of Object.entries(value)) if (v !== undefined) walk(v, [...path, `f:${k}`], [...names, k]);
      return;
    }
    if (Array.isArray(value) && value.length > 0) {
      const lt = listTypeOf(names);
      if (lt.type === 'map' && lt.keys.length > 0 && value.every(isObject)) {
        for (const item of value as Obj[]) {
          const el = itemKey(item, lt.keys);
          out.add(enc([...path, el]));
          for (const [k, v] of Object.entries(item)) if (v !== undefined) walk(v, [...path, el, `f:${k}`], [...names, k]);
        }
        return;
      }
      if (lt.type === 'set') {
        for (const item of value) out.add(enc([...path, `v:${JSON.stringify(item)}`]));
        return;
      }
    }
    out.add(enc(path));
  };
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind' || v === undefined) continue;
    if (k === 'status' && statusSubresource && part === 'main') continue;
    if (k !== 'status' && part === 'status') continue;
    if (k === 'metadata' && isObject(v)) {
      for (const [mk, mv] of Object.entries(v)) if (!META_SKIP.has(mk) && mv !== undefined) walk(mv, ['f:metadata', `f:${mk}`], ['metadata', mk]);
      continue;
    }
    walk(v, [`f:${k}`], [k]);
  }
  return out;
}

/** Set → FieldsV1 JSON (a tree of path elements; `.` marks a node that is itself a member). */
export function toFieldsV1(set: FieldSet): Obj {
  const root: Obj = {};
  const nodes: Array<[Obj, Path]> = [];
  for (const s of [...set].sort()) {
    const p = dec(s);
    let node = root;
    for (const el of p) node = (node[el] ??= {}) as Obj;
    nodes.push([node, p]);
  }
  for (const [node] of nodes) if (Object.keys(node).some((k) => k !== '.')) node['.'] = {};
  return root;
}

export function fromFieldsV1(tree: unknown): FieldSet {
  const out: FieldSet = new Set();
  const walk = (node: Obj, path: Path): void => {
    for (const [el, child] of Object.entries(node)) {
      if (el === '.') continue;
      const p = [...path, el];
      if (!isObject(child) || Object.keys(child).length === 0 || '.' in child) out.add(enc(p));
      if (isObject(child)) walk(child, p);
    }
  };
  if (isObject(tree)) walk(tree, []);
  return out;
}

function matchItem(list: unknown[], el: string): number {
  if (el.startsWith('k:')) {
    const key = JSON.parse(el.slice(2)) as Obj;
    return list.findIndex((x) => isObject(x) && Object.entries(key).every(([k, v]) => deepEqual(x[k], v)));
  }
  if (el.startsWith('v:')) {
    const v = JSON.parse(el.slice(2)) as unknown;
    return list.findIndex((x) => deepEqual(x, v));
  }
  return -1;
}

export function valueAt(obj: unknown, path: Path): unknown {
  let cur = obj;
  for (const el of path) {
    if (el.startsWith('f:')) cur = isObject(cur) ? cur[el.slice(2)] : undefined;
    else if (Array.isArray(cur)) cur = cur[matchItem(cur, el)];
    else return undefined;
    if (cur === undefined) return undefined;
  }
  return cur;
}

function removeAt(obj: Obj, path: Path): void {
  let cur: unknown = obj;
  for (const el of path.slice(0, -1)) {
    if (el.startsWith('f:')) cur = isObject(cur) ? cur[el.slice(2)] : undefined;
    else cur = Array.isArray(cur) ? cur[matchItem(cur, el)] : undefined;
    if (cur === undefined) return;
  }
  const last = path[path.length - 1]!;
  if (last.startsWith('f:')) { if (isObject(cur)) delete cur[last.slice(2)]; return; }
  if (Array.isArray(cur)) { const i = matchItem(cur, last); if (i >= 0) cur.splice(i, 1); }
}

/** Human path of a field, as the API server prints it in conflicts: `.spec.containers[name="app"].image`. */
export function describePath(s: string): string {
  return dec(s).map((el) => {
    if (el.startsWith('f:')) return `.${el.slice(2)}`;
    if (el.startsWith('k:')) return `[${Object.entries(JSON.parse(el.slice(2)) as Obj).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}]`;
    return `[${el.slice(2)}]`;
  }).join('');
}

/** Apply `applied` onto `live`: maps merge, associative lists merge by key, the rest is replaced. */
function mergeApplied(live: unknown, applied: unknown, names: string[], listTypeOf: ListTypeOf): unknown {
  if (isObject(applied)) {
    const out: Obj = isObject(live) ? clone(live) : {};
    for (const [k, v] of Object.entries(applied)) {
      if (v === undefined) continue;
      out[k] = v === null ? null : mergeApplied(out[k], v, [...names, k], listTypeOf);
    }
    return out;
  }
  if (Array.isArray(applied)) {
    const lt = listTypeOf(names);
    if (lt.type === 'map' && lt.keys.length > 0 && Array.isArray(live) && applied.every(isObject)) {
      const out = clone(live);
      for (const item of applied as Obj[]) {
        const i = matchItem(out, itemKey(item, lt.keys));
        if (i >= 0) out[i] = mergeApplied(out[i], item, names, listTypeOf);
        else out.push(clone(item));
      }
      return out;
    }
    if (lt.type === 'set' && Array.isArray(live)) {
      const out = clone(live);
      for (const x of applied) if (!out.some((y) => deepEqual(x, y))) out.push(x);
      return out;
    }
  }
  return clone(applied);
}

export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: Obj;
  subresource?: string;
}

interface Entry { e: ManagedFieldsEntry; set: FieldSet }

function entriesOf(obj: Obj | undefined): Entry[] {
  const mf = ((obj?.metadata as Obj | undefined)?.managedFields as ManagedFieldsEntry[] | undefined) ?? [];
  return mf.map((e) => ({ e: clone(e), set: fromFieldsV1(e.fieldsV1) }));
}

function finishEntries(entries: Entry[]): ManagedFieldsEntry[] {
  return entries.filter((x) => x.set.size > 0).map((x) => ({ ...x.e, fieldsV1: toFieldsV1(x.set) }));
}

export interface Conflict { manager: string; apiVersion: string; field: string }

export interface ApplyResult {
  object: Obj;
  conflicts: Conflict[];
}

function ownedByOther(entries: Entry[], self: Entry | undefined, p: string): boolean {
  const prefix = p.slice(0, -1);
  return entries.some((x) => x !== self && [...x.set].some((q) => q === p || q.startsWith(`${prefix},`)));
}

/**
 * Server-side apply of `applied` (already stripped of server fields) by `manager` onto `live`
 * (undefined when creating). Returns the new object with its managedFields, or the conflicts.
 */
export function serverSideApply(live: Obj | undefined, applied: Obj, opts: { manager: string; apiVersion: string; force: boolean; listTypeOf: ListTypeOf; part: Part; statusSubresource: boolean; now: string }): ApplyResult {
  const entries = entriesOf(live);
  const subresource = opts.part === 'status' ? 'status' : undefined;
  const mine = entries.find((x) => x.e.manager === opts.manager && x.e.operation === 'Apply' && x.e.subresource === subresource);
  const newSet = fieldSetOf(applied, opts.listTypeOf, opts.part, opts.statusSubresource);
  const conflicts: Conflict[] = [];
  for (const p of newSet) {
    for (const other of entries) {
      if (other === mine || !other.set.has(p)) continue;
      const path = dec(p);
      if (path[path.length - 1]!.startsWith('k:') || path[path.length - 1]!.startsWith('v:')) continue;
      if (deepEqual(valueAt(live, path), valueAt(applied, path))) continue;
      if (opts.force) other.set.delete(p);
      else conflicts.push({ manager: other.e.manager, apiVersion: other.e.apiVersion, field: describePath(p) });
    }
  }
  if (conflicts.length > 0) return { object: live ?? applied, conflicts };
  let result = clone(live ?? {}) as Obj;
  if (mine) {
    const dropped = [...mine.set].filter((p) => !newSet.has(p) && !ownedByOther(entries, mine, p)).sort((a, b) => dec(b).length - dec(a).length);
    for (const p of dropped) {
      const path = dec(p);
      removeAt(result, path);
      // a map left empty by the removal goes too (labels: {} after the last label)
      for (let n = path.length - 1; n > 0; n--) {
        const parent = valueAt(result, path.slice(0, n));
        if (!isObject(parent) || Object.keys(parent).length > 0 || !path[n - 1]!.startsWith('f:')) break;
        removeAt(result, path.slice(0, n));
      }
    }
  }
  const body = clone(applied);
  if (isObject(body.metadata)) for (const k of META_SKIP) delete (body.metadata as Obj)[k];
  if (opts.part === 'main' && opts.statusSubresource) delete body.status;
  if (opts.part === 'status') for (const k of Object.keys(body)) if (!['status', 'metadata', 'apiVersion', 'kind'].includes(k)) delete body[k];
  if (opts.part === 'status') delete body.metadata;
  result = mergeApplied(result, body, [], opts.listTypeOf) as Obj;
  const kept = entries.filter((x) => x !== mine);
  const updated: Entry = { e: { manager: opts.manager, operation: 'Apply', apiVersion: opts.apiVersion, time: opts.now, fieldsType: 'FieldsV1', fieldsV1: {}, ...(subresource ? { subresource } : {}) }, set: newSet };
  if (mine && sameSet(mine.set, newSet)) updated.e.time = mine.e.time;
  const all = mine ? entries.map((x) => (x === mine ? updated : x)) : [...kept, updated];
  (result.metadata as Obj | undefined ?? (result.metadata = {}) as Obj).managedFields = finishEntries(all);
  return { object: result, conflicts };
}

function sameSet(a: FieldSet, b: FieldSet): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}

/** Ownership after an ordinary write: changed fields go to `manager` (operation Update). */
export function trackUpdate(old: Obj | undefined, next: Obj, opts: { manager: string; apiVersion: string; listTypeOf: ListTypeOf; part: Part | 'all'; statusSubresource: boolean; now: string }): ManagedFieldsEntry[] {
  const entries = entriesOf(old);
  const subresource = opts.part === 'status' ? 'status' : undefined;
  const newSet = fieldSetOf(next, opts.listTypeOf, opts.part, opts.statusSubresource);
  const oldSet = old ? fieldSetOf(old, opts.listTypeOf, opts.part, opts.statusSubresource) : new Set<string>();
  const changed = [...newSet].filter((p) => !oldSet.has(p) || !deepEqual(valueAt(old, dec(p)), valueAt(next, dec(p))));
  const removed = [...oldSet].filter((p) => !newSet.has(p));
  let mine = entries.find((x) => x.e.manager === opts.manager && x.e.operation === 'Update' && x.e.subresource === subresource);
  for (const x of entries) {
    for (const p of removed) x.set.delete(p);
    if (x !== mine) for (const p of changed) x.set.delete(p);
  }
  if (changed.length > 0) {
    if (!mine) {
      mine = { e: { manager: opts.manager, operation: 'Update', apiVersion: opts.apiVersion, time: opts.now, fieldsType: 'FieldsV1', fieldsV1: {}, ...(subresource ? { subresource } : {}) }, set: new Set() };
      entries.push(mine);
    }
    mine.e.time = opts.now;
    for (const p of changed) mine.set.add(p);
  }
  return finishEntries(entries);
}
