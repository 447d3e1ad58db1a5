/**
 * Comparing what we generate with what is live. The API server adds fields (defaults, status,
 * managed fields), so "unchanged" means: every field we set has the same value live. That lets an
 * unchanged re-apply write nothing at all.
 */
import { isDeepStrictEqual } from 'node:util';

/** true when `live` holds every field of `desired` with the same value (arrays: same length, each item contained) */
export function contains(live: unknown, desired: unknown): boolean {
  if (desired === undefined) return true;
  if (Array.isArray(desired)) {
    return Array.isArray(live) && live.length === desired.length && desired.every((d, i) => contains(live[i], d));
  }
  if (desired !== null && typeof desired === 'object') {
    if (live === null || typeof live !== 'object' || Array.isArray(live)) return false;
    return Object.entries(desired as Record<string, unknown>).every(([k, v]) => contains((live as Record<string, unknown>)[k], v));
  }
  return isDeepStrictEqual(live, desired);
}

export interface FieldChange {
  path: string;
  from?: unknown;
  to?: unknown;
}

const escapePointer = (k: string): string => k.replace(/~/g, '~0').replace(/\//g, '~1');

/** the JSON pointers where `desired` differs from `live` (only fields we set), for plan output */
export function changedFields(live: unknown, desired: unknown, path = ''): FieldChange[] {
  if (contains(live, desired)) return [];
  if (Array.isArray(desired) && Array.isArray(live) && live.length === desired.length) {
    return desired.flatMap((d, i) => changedFields(live[i], d, `${path}/${i}`));
  }
  if (desired !== null && typeof desired === 'object' && !Array.isArray(desired) && live !== null && typeof live === 'object' && !Array.isArray(live)) {
    return Object.entries(desired as Record<string, unknown>).flatMap(([k, v]) => changedFields((live as Record<string, unknown>)[k], v, `${path}/${escapePointer(k)}`));
  }
  return [{ path: path || '/', ...(live === undefined ? {} : { from: live }), to: desired }];
}
