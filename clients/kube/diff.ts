/**
 * What a server-side apply of `desired` by one field manager would change on `live`, decided
 * without asking the server: every field `desired` sets must hold the same value live, and every
 * field the manager owns live (its `managedFields` entry) must still be set by `desired` — a field
 * mixmesh applied before and no longer applies is a removal, which the apply performs (the server
 * drops fields their only owner stops applying). Status and other managers' fields are not ours
 * and not compared; fields the server adds (defaults) are not compared either.
 */
import { isDeepStrictEqual } from 'node:util';
import type { KubeObject } from './client.js';

export interface FieldChange {
  /** JSON pointer into the object */
  path: string;
  from?: unknown;
  to?: unknown;
}

type Tree = Record<string, unknown>;

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const escape = (k: string): string => k.replace(/~/g, '~0').replace(/\//g, '~1');

/** the manager's Apply entry of the main resource (FieldsV1), if it has one */
export function ownedFields(live: KubeObject | undefined, manager: string): Tree | undefined {
  const entry = (live?.metadata.managedFields ?? []).find((m) => m.manager === manager && m.operation === 'Apply' && (m.subresource === undefined || m.subresource === ''));
  return entry && isObj(entry.fieldsV1) ? entry.fieldsV1 : undefined;
}

const isLeaf = (node: unknown): boolean => !isObj(node) || Object.keys(node).every((k) => k === '.');

/** does `live` hold every field of `desired` (lists: same length, item by item)? */
function holds(live: unknown, desired: unknown): boolean {
  if (desired === undefined) return true;
  if (Array.isArray(desired)) return Array.isArray(live) && live.length === desired.length && desired.every((d, i) => holds(live[i], d));
  if (isObj(desired)) return isObj(live) && Object.entries(desired).every(([k, v]) => holds(live[k], v));
  return isDeepStrictEqual(live, desired);
}

/** fields `desired` sets with another value live; a list owned as a whole (atomic) must be equal as a whole */
function setFields(live: unknown, desired: unknown, owned: unknown, path: string, out: FieldChange[]): void {
  if (desired === undefined) return;
  if (isObj(desired) && Object.keys(desired).length > 0) {
    if (!isObj(live)) { out.push({ path: path || '/', ...(live === undefined ? {} : { from: live }), to: desired }); return; }
    for (const [k, v] of Object.entries(desired)) setFields(live[k], v, isObj(owned) ? owned[`f:${k}`] : undefined, `${path}/${escape(k)}`, out);
    return;
  }
  if (Array.isArray(desired) && owned !== undefined && isLeaf(owned)) exactly(live, desired, path, out);
  else if (!holds(live, desired)) out.push({ path: path || '/', ...(live === undefined ? {} : { from: live }), to: desired });
}

/** a value owned as a whole (an atomic list): equal or not, reported at the deepest differing fields */
function exactly(live: unknown, desired: unknown, path: string, out: FieldChange[]): void {
  if (isDeepStrictEqual(live, desired)) return;
  if (Array.isArray(live) && Array.isArray(desired) && live.length === desired.length) {
    desired.forEach((d, i) => exactly(live[i], d, `${path}/${i}`, out));
    return;
  }
  if (isObj(live) && isObj(desired)) {
    for (const k of new Set([...Object.keys(live), ...Object.keys(desired)])) exactly(live[k], desired[k], `${path}/${escape(k)}`, out);
    return;
  }
  out.push({ path: path || '/', ...(live === undefined ? {} : { from: live }), ...(desired === undefined ? {} : { to: desired }) });
}

/** an associative-list item matches its key; a key field the desired item leaves out matches any value (server defaults, e.g. protocol TCP) */
function findItem(list: unknown[], el: string): unknown {
  if (el.startsWith('k:')) {
    const key = JSON.parse(el.slice(2)) as Record<string, unknown>;
    return list.find((x) => isObj(x) && Object.entries(key).every(([k, v]) => x[k] === undefined || isDeepStrictEqual(x[k], v)));
  }
  if (el.startsWith('v:')) {
    const v = JSON.parse(el.slice(2)) as unknown;
    return list.find((x) => isDeepStrictEqual(x, v));
  }
  if (el.startsWith('i:')) return list[Number(el.slice(2))];
  return undefined;
}

/** fields the manager owns live that `desired` no longer sets */
function removedFields(owned: Tree, live: unknown, desired: unknown, path: string, out: FieldChange[]): void {
  for (const [el, child] of Object.entries(owned)) {
    if (el === '.') continue;
    let d: unknown;
    let l: unknown;
    let at: string;
    if (el.startsWith('f:')) {
      const name = el.slice(2);
      d = isObj(desired) ? desired[name] : undefined;
      l = isObj(live) ? live[name] : undefined;
      at = `${path}/${escape(name)}`;
    } else {
      d = Array.isArray(desired) ? findItem(desired, el) : undefined;
      l = Array.isArray(live) ? findItem(live, el) : undefined;
      at = `${path}/${el}`;
    }
    if (d === undefined) {
      if (l !== undefined) out.push({ path: at, from: l });
      continue;
    }
    if (isObj(child) && !isLeaf(child)) removedFields(child, l, d, at, out);
  }
}

/** the body an apply sends: everything but the status and the server's own metadata */
function applied(o: KubeObject): Record<string, unknown> {
  const { status: _status, apiVersion: _a, kind: _k, metadata, ...rest } = o;
  const meta: Record<string, unknown> = { ...metadata };
  for (const k of ['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'managedFields', 'selfLink']) delete meta[k];
  return { ...rest, metadata: meta };
}

/**
 * The changes an apply of `desired` by `manager` makes to `live` (empty: unchanged, no request
 * needed). Without a live object everything is new.
 */
export function diffApply(live: KubeObject | undefined, desired: KubeObject, manager = 'mixmesh'): FieldChange[] {
  const want = applied(desired);
  if (!live) return [{ path: '/', to: want }];
  const have = applied(live);
  const owned = ownedFields(live, manager);
  const out: FieldChange[] = [];
  setFields(have, want, owned, '', out);
  if (owned) removedFields(owned, have, want, '', out);
  return out;
}
