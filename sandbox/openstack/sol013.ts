/**
 * ETSI GS NFV-SOL 013 attribute filters and attribute selectors, as Tacker applies them to lists
 * (pure). `filter=(eq,vnfInstanceName,a);(in,vnfdId,x,y)`; `all_fields`, `fields`, `exclude_fields`,
 * `exclude_default`.
 */
export type FilterOp = 'eq' | 'neq' | 'in' | 'nin' | 'gt' | 'gte' | 'lt' | 'lte' | 'cont' | 'ncont';
const OPS: readonly FilterOp[] = ['eq', 'neq', 'in', 'nin', 'gt', 'gte', 'lt', 'lte', 'cont', 'ncont'];

export interface FilterExpr {
  op: FilterOp;
  path: string[];
  values: string[];
}

export class Sol013Error extends Error {}

/** Split "a,'b,c',d" into values, honouring single quotes ('' is a quote inside quotes). */
function splitValues(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let wasQuoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === "'" && text[i + 1] === "'") {
        cur += "'";
        i++;
      } else if (ch === "'") quoted = false;
      else cur += ch;
    } else if (ch === "'" && cur === '') {
      quoted = true;
      wasQuoted = true;
    } else if (ch === ',') {
      out.push(cur);
      cur = '';
      wasQuoted = false;
    } else cur += ch;
  }
  if (quoted) throw new Sol013Error(`unterminated quote in "${text}"`);
  if (cur !== '' || wasQuoted || text.endsWith(',')) out.push(cur);
  return out;
}

/** Parse a SOL013 filter; throws Sol013Error naming what is wrong. */
export function parseFilter(filter: string): FilterExpr[] {
  const exprs: FilterExpr[] = [];
  let i = 0;
  while (i < filter.length) {
    if (filter[i] !== '(') throw new Sol013Error(`filter "${filter}": expected "(" at position ${i}; use (op,attribute,value)`);
    // find the closing parenthesis outside quotes
    let j = i + 1;
    let quoted = false;
    for (; j < filter.length; j++) {
      const ch = filter[j];
      if (ch === "'") {
        if (quoted && filter[j + 1] === "'") j++;
        else quoted = !quoted;
      } else if (ch === ')' && !quoted) break;
    }
    if (j >= filter.length) throw new Sol013Error(`filter "${filter}": missing ")"`);
    const parts = splitValues(filter.slice(i + 1, j));
    const [op, attr, ...values] = parts;
    if (!op || !OPS.includes(op as FilterOp)) throw new Sol013Error(`filter "${filter}": operator "${op ?? ''}" is not one of ${OPS.join(', ')}`);
    if (!attr) throw new Sol013Error(`filter "${filter}": an attribute name is required`);
    if (values.length === 0) throw new Sol013Error(`filter "${filter}": (${op},${attr}) needs a value`);
    if (!['in', 'nin', 'cont', 'ncont'].includes(op) && values.length > 1 && op !== 'eq' && op !== 'neq') {
      throw new Sol013Error(`filter "${filter}": ${op} takes one value`);
    }
    exprs.push({ op: op as FilterOp, path: attr.split('/'), values });
    i = j + 1;
    if (filter[i] === ';') i++;
  }
  return exprs;
}

/** Every leaf value at a path (arrays are walked: a filter on a list attribute matches any element). */
function valuesAt(obj: unknown, path: readonly string[]): unknown[] {
  if (path.length === 0) return Array.isArray(obj) ? obj : [obj];
  if (Array.isArray(obj)) return obj.flatMap((o) => valuesAt(o, path));
  if (obj === null || typeof obj !== 'object') return [];
  const [head, ...rest] = path;
  const next = (obj as Record<string, unknown>)[head as string];
  return next === undefined ? [] : valuesAt(next, rest);
}

function compare(actual: unknown, wanted: string): number {
  if (typeof actual === 'number') return actual - Number(wanted);
  const a = String(actual);
  return a < wanted ? -1 : a > wanted ? 1 : 0;
}

function exprMatches(obj: unknown, e: FilterExpr): boolean {
  const actual = valuesAt(obj, e.path).map((v) => (typeof v === 'boolean' ? String(v) : v));
  const eqAny = (v: string): boolean => actual.some((a) => String(a) === v);
  switch (e.op) {
    case 'eq':
    case 'in':
      return e.values.some(eqAny);
    case 'neq':
    case 'nin':
      return !e.values.some(eqAny);
    case 'cont':
      return e.values.some((v) => actual.some((a) => String(a).includes(v)));
    case 'ncont':
      return !e.values.some((v) => actual.some((a) => String(a).includes(v)));
    case 'gt':
      return actual.some((a) => compare(a, e.values[0] as string) > 0);
    case 'gte':
      return actual.some((a) => compare(a, e.values[0] as string) >= 0);
    case 'lt':
      return actual.some((a) => compare(a, e.values[0] as string) < 0);
    case 'lte':
      return actual.some((a) => compare(a, e.values[0] as string) <= 0);
  }
}

export function matchesFilter(obj: unknown, exprs: readonly FilterExpr[]): boolean {
  return exprs.every((e) => exprMatches(obj, e));
}

export interface SelectorQuery {
  all_fields?: string;
  fields?: string;
  exclude_fields?: string;
  exclude_default?: string;
}

function deletePath(obj: Record<string, unknown>, path: string[]): void {
  const [head, ...rest] = path;
  if (head === undefined) return;
  if (rest.length === 0) {
    delete obj[head];
    return;
  }
  const next = obj[head];
  if (Array.isArray(next)) for (const n of next) if (n && typeof n === 'object') deletePath(n as Record<string, unknown>, rest);
  if (next && typeof next === 'object' && !Array.isArray(next)) deletePath(next as Record<string, unknown>, rest);
}

/** Validate the selector parameters (400 on a bad combination, as SOL013 says). */
export function checkSelector(q: SelectorQuery): void {
  const given = (['all_fields', 'fields', 'exclude_fields', 'exclude_default'] as const).filter((k) => q[k] !== undefined);
  if (q.all_fields !== undefined && given.length > 1) throw new Sol013Error(`all_fields cannot be combined with ${given.filter((g) => g !== 'all_fields').join(', ')}`);
  if (q.fields !== undefined && q.exclude_fields !== undefined) throw new Sol013Error('fields and exclude_fields cannot be combined');
}

/**
 * Apply the selector to one list item. `defaultExcluded` are the complex attributes a list leaves
 * out unless asked (all_fields, or named in fields).
 */
export function selectFields<T extends object>(item: T, q: SelectorQuery, defaultExcluded: readonly string[]): T {
  if (q.all_fields !== undefined) return item;
  const copy = structuredClone(item) as Record<string, unknown>;
  const asked = new Set((q.fields ?? '').split(',').filter(Boolean).map((f) => f.split('/')[0] as string));
  for (const f of defaultExcluded) if (!asked.has(f)) delete copy[f];
  for (const f of (q.exclude_fields ?? '').split(',').filter(Boolean)) deletePath(copy, f.split('/'));
  return copy as T;
}

/**
 * The filter expressions of a list request (`filter`, and the field selectors checked), for the
 * list routes of every API the emulator serves. Throws Sol013Error on a malformed query.
 */
export function listQueryFilter(q: SelectorQuery & { filter?: string }): FilterExpr[] {
  checkSelector(q);
  return q.filter ? parseFilter(q.filter) : [];
}
