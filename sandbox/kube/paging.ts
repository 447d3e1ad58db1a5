/**
 * List paging as the API server does it (`limit` / `continue`, API concepts "Retrieving large
 * results sets in chunks"): at most `limit` items, `metadata.continue` set while more remain,
 * `metadata.remainingItemCount` when no selector narrowed the list, and a continue token shaped
 * like the real one (base64 of `{"v":"meta.k8s.io/v1","rv":N,"start":"<key>\u0000"}`). A token
 * that does not parse is a 400, as there. Difference: etcd serves every page from the snapshot of
 * the first one; here a later page is the store as it is then, after the last key seen (objects
 * are listed in key order, so nothing is listed twice and nothing present throughout is missed).
 */
import { badRequest } from './errors.js';
import type { Obj } from './resources.js';

const metaOf = (o: Obj): Obj => (o.metadata ?? {}) as Obj;
const keyOf = (o: Obj): string => `${String(metaOf(o).namespace ?? '')}/${String(metaOf(o).name ?? '')}`;

export interface Page {
  items: Obj[];
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
}

/** One page of a list already sorted by namespace/name (the store's order). */
export function pageOf(items: Obj[], q: URLSearchParams, rv: string): Page {
  const limit = Number(q.get('limit') ?? '0');
  const token = q.get('continue') ?? '';
  let start = '';
  let pageRv = rv;
  if (token) {
    try {
      const t = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { v?: string; rv?: number; start?: string };
      if (t.v !== 'meta.k8s.io/v1' || typeof t.start !== 'string' || typeof t.rv !== 'number') throw new Error('shape');
      start = t.start.endsWith('\u0000') ? t.start.slice(0, -1) : t.start;
      pageRv = String(t.rv);
    } catch {
      throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
    }
  }
  const rest = start ? items.filter((o) => keyOf(o) > start) : items;
  if (!Number.isInteger(limit) || limit <= 0 || rest.length <= limit) return { items: rest, metadata: { resourceVersion: pageRv } };
  const page = rest.slice(0, limit);
  const next = Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: Number(pageRv), start: `${keyOf(page[page.length - 1]!)}\u0000` })).toString('base64');
  const selected = (q.get('labelSelector') ?? '') !== '' || (q.get('fieldSelector') ?? '') !== '';
  return { items: page, metadata: { resourceVersion: pageRv, continue: next, ...(selected ? {} : { remainingItemCount: rest.length - limit }) } };
}
