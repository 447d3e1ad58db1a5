/**
 * The three classic PATCH formats: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and
 * Kubernetes strategic merge patch with its directives. Pure functions over plain JSON values.
 */
import type { ListType, Obj } from './resources.js';

export class PatchError extends Error {}

export function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

export function isObject(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const out: Obj = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function unescapePointer(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new PatchError(`invalid JSON pointer "${pointer}"`);
  return pointer.slice(1).split('/').map(unescapePointer);
}

function getAt(doc: unknown, tokens: string[]): unknown {
  let cur = doc;
  for (const t of tokens) {
    if (Array.isArray(cur)) cur = cur[Number(t)];
    else if (isObject(cur)) cur = cur[t];
    else return undefined;
  }
  return cur;
}

/** RFC 6902 JSON patch: add, remove, replace, move, copy, test. */
export function jsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new PatchError('a JSON patch must be an array of operations');
  let root = clone(doc);
  for (const [i, raw] of ops.entries()) {
    if (!isObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') throw new PatchError(`operation ${i}: needs "op" and "path"`);
    const tokens = parsePointer(raw.path);
    const remove = (t: string[]): unknown => {
      const parent = getAt(root, t.slice(0, -1));
      const last = t[t.length - 1]!;
      if (Array.isArray(parent)) {
        const idx = Number(last);
        if (!(idx >= 0 && idx < parent.length)) throw new PatchError(`operation ${i}: no element at "${raw.path}"`);
        return parent.splice(idx, 1)[0];
      }
      if (isObject(parent) && last in parent) { const v = parent[last]; delete parent[last]; return v; }
      throw new PatchError(`operation ${i}: path "${raw.path}" does not exist`);
    };
    const add = (t: string[], value: unknown): void => {
      if (t.length === 0) { root = value; return; }
      const parent = getAt(root, t.slice(0, -1));
      const last = t[t.length - 1]!;
      if (Array.isArray(parent)) {
        const idx = last === '-' ? parent.length : Number(last);
        if (!(idx >= 0 && idx <= parent.length)) throw new PatchError(`operation ${i}: index out of range at "${raw.path}"`);
        parent.splice(idx, 0, value);
      } else if (isObject(parent)) parent[last] = value;
      else throw new PatchError(`operation ${i}: parent of "${raw.path}" does not exist`);
    };
    switch (raw.op) {
      case 'add': add(tokens, clone(raw.value)); break;
      case 'remove': remove(tokens); break;
      case 'replace': remove(tokens); add(tokens, clone(raw.value)); break;
      case 'move': { const from = parsePointer(String(raw.from)); const v = remove(from); add(tokens, v); break; }
      case 'copy': add(tokens, clone(getAt(root, parsePointer(String(raw.from))))); break;
      case 'test': if (!deepEqual(getAt(root, tokens), raw.value)) throw new PatchError(`operation ${i}: test failed at "${raw.path}"`); break;
      default: throw new PatchError(`operation ${i}: unknown op "${raw.op}"`);
    }
  }
  return root;
}

/** Tells the strategic merge which list fields merge by key (field-name path, no indices). */
export type ListTypeOf = (fieldNames: readonly string[]) => ListType;

const SET_ORDER = '$setElementOrder/';
const DELETE_FROM = '$deleteFromPrimitiveList/';

/** Remove every directive from a value, so none is ever stored. */
export function stripDirectives(v: unknown): unknown {
  if (Array.isArray(v)) return v.filter((x) => !(isObject(x) && x.$patch !== undefined && Object.keys(x).length === 1)).map(stripDirectives);
  if (isObject(v)) {
    const out: Obj = {};
    for (const [k, x] of Object.entries(v)) if (!k.startsWith('$')) out[k] = stripDirectives(x);
    return out;
  }
  return v;
}

function keyOf(item: unknown, keys: string[]): string | undefined {
  if (!isObject(item)) return undefined;
  return JSON.stringify(keys.map((k) => item[k]));
}

function orderList(list: unknown[], order: unknown[], keys: string[] | undefined): unknown[] {
  const id = (x: unknown) => (keys ? keyOf(x, keys) : JSON.stringify(x));
  const orderIds = order.map((o) => id(o));
  const inOrder = list.filter((x) => orderIds.includes(id(x))).sort((a, b) => orderIds.indexOf(id(a)) - orderIds.indexOf(id(b)));
  const rest = list.filter((x) => !orderIds.includes(id(x)));
  return [...inOrder, ...rest];
}

function mergeList(original: unknown, patch: unknown[], path: string[], listTypeOf: ListTypeOf): unknown[] {
  const lt = listTypeOf(path);
  if (patch.some((x) => isObject(x) && x.$patch === 'replace')) return stripDirectives(patch) as unknown[];
  const orig = Array.isArray(original) ? clone(original) : [];
  if (lt.type === 'set') {
    const out = [...orig];
    for (const x of patch) if (!out.some((y) => deepEqual(x, y))) out.push(x);
    return out;
  }
  if (lt.type !== 'map' || lt.keys.length === 0) return stripDirectives(patch) as unknown[];
  const out = orig;
  for (const item of patch) {
    if (!isObject(item)) continue;
    const k = keyOf(item, lt.keys);
    const idx = out.findIndex((x) => keyOf(x, lt.keys) === k);
    if (item.$patch === 'delete') { if (idx >= 0) out.splice(idx, 1); continue; }
    if (idx >= 0) out[idx] = strategicMerge(out[idx], item, path, listTypeOf);
    else out.push(strategicMerge(undefined, item, path, listTypeOf));
  }
  return out;
}

/**
 * Strategic merge patch: maps merge, lists with a merge key merge by that key, other lists are
 * replaced; `null` deletes; the directives `$patch` (replace/delete/merge), `$retainKeys`,
 * `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>` are honoured and never stored.
 * `path` is the field-name path of `original` (no indices). With a listTypeOf that knows nothing
 * (custom resources) it behaves as a merge patch.
 */
export function strategicMerge(original: unknown, patch: unknown, path: string[], listTypeOf: ListTypeOf): unknown {
  if (!isObject(patch)) return stripDirectives(patch);
  if (patch.$patch === 'replace') return stripDirectives(patch);
  if (patch.$patch === 'delete') return undefined;
  const out: Obj = isObject(original) ? clone(original) : {};
  const orders = new Map<string, unknown[]>();
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys') continue;
    if (k.startsWith(SET_ORDER)) { if (Array.isArray(v)) orders.set(k.slice(SET_ORDER.length), v); continue; }
    if (k.startsWith(DELETE_FROM)) {
      const field = k.slice(DELETE_FROM.length);
      if (Array.isArray(out[field]) && Array.isArray(v)) out[field] = (out[field] as unknown[]).filter((x) => !v.some((d) => deepEqual(d, x)));
      continue;
    }
    if (v === null) { delete out[k]; continue; }
    if (Array.isArray(v)) out[k] = mergeList(out[k], v, [...path, k], listTypeOf);
    else if (isObject(v)) {
      const merged = strategicMerge(out[k], v, [...path, k], listTypeOf);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    } else out[k] = v;
  }
  for (const [field, order] of orders) {
    if (!Array.isArray(out[field])) continue;
    const lt = listTypeOf([...path, field]);
    out[field] = orderList(out[field] as unknown[], order, lt.type === 'map' ? lt.keys : undefined);
  }
  if (Array.isArray(patch.$retainKeys)) {
    const keep = new Set(patch.$retainKeys as string[]);
    for (const k of Object.keys(out)) if (!keep.has(k)) delete out[k];
  }
  return out;
}
