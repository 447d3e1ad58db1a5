/**
 * Tacker's list paging: with a page size configured, a page ends with
 * `Link: <…?nextpage_opaque_marker=…>; rel="next"`; the marker is opaque (here: the last id sent).
 */
import type { Request, Response } from 'express';
import { HttpProblem } from './http-util.js';

export function sendPage(req: Request, res: Response, items: readonly Record<string, unknown>[], listUrl: string, pageSize: number): void {
  const q = req.query as Record<string, string | undefined>;
  let start = 0;
  const marker = q.nextpage_opaque_marker;
  if (marker !== undefined) {
    const at = items.findIndex((i) => i.id === marker);
    if (at < 0) throw new HttpProblem(400, `nextpage_opaque_marker "${marker}" is not valid for this list`);
    start = at + 1;
  }
  if (pageSize <= 0) {
    res.json(items.slice(start));
    return;
  }
  const page = items.slice(start, start + pageSize);
  if (start + pageSize < items.length) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) if (k !== 'nextpage_opaque_marker' && typeof v === 'string') params.set(k, v);
    params.set('nextpage_opaque_marker', String(page[page.length - 1]?.id));
    res.set('Link', `<${listUrl}?${params.toString()}>; rel="next"`);
  }
  res.json(page);
}
