/**
 * Turning ajv's errors into the spec's sentences: a JSON pointer and a message naming the
 * offending value and what is allowed. Raw ajv text never reaches a user.
 */
import type { ErrorObject } from 'ajv';
import type { Problem } from './types.js';
import { PATTERN_WORDS } from './schema.js';

/** Escape one JSON pointer segment (RFC 6901). */
export function pointerSegment(key: string | number): string {
  if (typeof key === 'number') return String(key);
  // most segments need no escape: skip the two replacements (thousands of pointers per large file)
  if (!key.includes('~') && !key.includes('/')) return key;
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

export function joinPointer(base: string, ...keys: (string | number)[]): string {
  let pointer = base;
  for (const k of keys) pointer += `/${pointerSegment(k)}`;
  return pointer;
}

/** A short, readable rendering of an offending value. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') {
    const s = value.length > 60 ? `${value.slice(0, 57)}...` : value;
    return JSON.stringify(s);
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'a list';
  return 'a mapping';
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  null: 'null',
};

function typeWords(type: unknown): string {
  const types = Array.isArray(type) ? type : [type];
  if (types.length === 2 && types.includes('string') && types.includes('integer')) return 'a port name or number';
  return types.map((t) => TYPE_WORDS[String(t)] ?? String(t)).join(' or ');
}

function range(min: unknown, max: unknown): string {
  if (min !== undefined && max !== undefined) return `${String(min)}..${String(max)}`;
  if (min !== undefined) return `at least ${String(min)}`;
  return `at most ${String(max)}`;
}

/** The value at a JSON pointer, or undefined. */
export function atPointer(root: unknown, pointer: string): unknown {
  if (pointer === '') return root;
  let cur: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function oneOfMessage(e: ErrorObject, data: unknown): string {
  const path = e.instancePath;
  if (/\/env\/\d+$/.test(path)) {
    const passing = (e.params as { passingSchemas?: unknown }).passingSchemas;
    return passing ? 'sets both value and valueFrom (exactly one is allowed)' : 'needs value or valueFrom.secretKeyRef (exactly one)';
  }
  if (/\/volumes\/\d+$/.test(path)) {
    const sources = ['hostPath', 'persistentVolumeClaim', 'emptyDir'];
    const set = data !== null && typeof data === 'object' ? sources.filter((k) => k in data) : [];
    return set.length > 1
      ? `sets ${set.join(' and ')} (exactly one of ${sources.join(', ')} is allowed)`
      : `sets none of ${sources.join(', ')} (exactly one is required)`;
  }
  if (path.endsWith('/loadBalancer')) {
    return `${show(data)} is not a load balancer (allowed: ROUND_ROBIN, LEAST_REQUEST, RANDOM, PASSTHROUGH, or {consistentHash: {header}}, {consistentHash: {cookie: {name, ttl}}}, {consistentHash: {sourceIp: true}})`;
  }
  return `${show(data)} matches none of the allowed forms`;
}

function oneMessage(e: ErrorObject, root: unknown): Problem | undefined {
  const data = e.data;
  const parent = (e.parentSchema ?? {}) as Record<string, unknown>;
  const params = e.params as Record<string, unknown>;
  const at = e.instancePath;
  // errors from propertyNames are about a key, not a value
  const propertyName = (e as { propertyName?: string }).propertyName;
  switch (e.keyword) {
    case 'required': {
      const missing = String(params.missingProperty);
      const m = /allOf\/\d+\/then\//.exec(e.schemaPath);
      if (m) {
        const runtime = show(atPointer(root, joinPointer(at, 'runtime')));
        return { pointer: joinPointer(at, missing), message: `is required when runtime is ${runtime}` };
      }
      return { pointer: joinPointer(at, missing), message: 'is required' };
    }
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const props = parent.properties && typeof parent.properties === 'object' ? Object.keys(parent.properties) : [];
      return { pointer: joinPointer(at, key), message: `unknown field ${JSON.stringify(key)} (${props.length > 0 ? `allowed: ${props.join(', ')}` : 'no fields are allowed: {}'})` };
    }
    case 'false schema': {
      const parentPointer = at.slice(0, at.lastIndexOf('/'));
      const runtime = atPointer(root, joinPointer(parentPointer, 'runtime'));
      const field = at.slice(at.lastIndexOf('/') + 1);
      return { pointer: at, message: `is not allowed when runtime is ${show(runtime)} (only runtime ${field} has a ${field} block)` };
    }
    case 'type':
      return { pointer: at, message: `${show(data)} is not ${typeWords(params.type)}` };
    case 'enum':
      return { pointer: at, message: `${show(data)} is not allowed (allowed: ${(params.allowedValues as unknown[]).map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ')})` };
    case 'const':
      return { pointer: at, message: `${show(data)} is not allowed (allowed: ${typeof params.allowedValue === 'string' ? params.allowedValue : JSON.stringify(params.allowedValue)})` };
    case 'pattern': {
      if (data === '' && typeof parent.minLength === 'number' && parent.minLength > 0) return undefined; // "must not be empty" says it
      const words = PATTERN_WORDS[String(params.pattern)] ?? `matching ${String(params.pattern)}`;
      if (propertyName !== undefined) return { pointer: joinPointer(at, propertyName), message: `key ${show(propertyName)} is not ${words}` };
      return { pointer: at, message: `${show(data)} is not ${words}` };
    }
    case 'format':
      return { pointer: at, message: `${show(data)} is not ${params.format === 'ip' ? 'an IPv4 or IPv6 address' : `a valid ${String(params.format)}`}` };
    case 'minLength':
      if (propertyName !== undefined) return { pointer: joinPointer(at, propertyName), message: 'key must not be empty' };
      return { pointer: at, message: params.limit === 1 ? 'must not be empty' : `${show(data)} is too short (at least ${String(params.limit)} characters)` };
    case 'maxLength': {
      const value = propertyName ?? (typeof data === 'string' ? data : '');
      const pointer = propertyName !== undefined ? joinPointer(at, propertyName) : at;
      return { pointer, message: `${show(value)} is ${value.length} characters long (at most ${String(params.limit)} allowed)` };
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { pointer: at, message: `${show(data)} is out of range (allowed: ${range(parent.minimum, parent.maximum)})` };
    case 'minItems':
    case 'maxItems': {
      const n = Array.isArray(data) ? data.length : 0;
      return { pointer: at, message: `has ${n} ${n === 1 ? 'entry' : 'entries'} (allowed: ${range(parent.minItems, parent.maxItems)})` };
    }
    case 'minProperties':
    case 'maxProperties': {
      const props = parent.properties && typeof parent.properties === 'object' ? Object.keys(parent.properties) : [];
      const n = data && typeof data === 'object' ? Object.keys(data).length : 0;
      if (parent.maxProperties === 1) {
        if (n === 0) return { pointer: at, message: `sets none of ${props.join(', ')} (exactly one is required)` };
        return { pointer: at, message: `sets ${Object.keys(data as object).join(' and ')} (exactly one of ${props.join(', ')} is allowed)` };
      }
      return { pointer: at, message: props.length > 0 ? `must not be empty (set at least one of: ${props.join(', ')})` : 'must not be empty' };
    }
    case 'oneOf':
      return { pointer: at, message: oneOfMessage(e, data) };
    case 'if':
    case 'propertyNames':
      return undefined; // the errors inside say it better
    default:
      return { pointer: at, message: `${show(data)} is not allowed here` };
  }
}

/**
 * For a failed oneOf, keep the errors of the one branch whose type fits the value (so
 * `loadBalancer: {consistentHash: {}}` says what is wrong with the object), else one sentence.
 */
function resolveOneOf(errors: ErrorObject[]): ErrorObject[] {
  const drop = new Set<ErrorObject>();
  for (const e of errors) {
    if (e.keyword !== 'oneOf') continue;
    const prefix = e.schemaPath.slice(0, -'/oneOf'.length) + '/oneOf/';
    const inner = errors.filter((x) => x !== e && x.schemaPath.startsWith(prefix) && x.instancePath.startsWith(e.instancePath));
    const byBranch = new Map<string, ErrorObject[]>();
    for (const x of inner) {
      const branch = x.schemaPath.slice(prefix.length).split('/')[0]!;
      byBranch.set(branch, [...(byBranch.get(branch) ?? []), x]);
    }
    const typeFits = [...byBranch.entries()].filter(([, xs]) => !xs.some((x) => x.keyword === 'type' && x.instancePath === e.instancePath));
    const branches = (e.schema as unknown[] | undefined)?.length ?? 0;
    inner.forEach((x) => drop.add(x));
    if (typeFits.length === 1 && byBranch.size === branches && !/\/env\/\d+$/.test(e.instancePath)) {
      // exactly one branch of the right type: its own errors are the useful ones
      typeFits[0]![1].forEach((x) => drop.delete(x));
      drop.add(e);
    }
  }
  return errors.filter((e) => !drop.has(e));
}

/** Compare pointers segment by segment, numbers numerically: document order for lists. */
export function comparePointers(a: string, b: string): number {
  const sa = a.split('/');
  const sb = b.split('/');
  for (let i = 0; i < Math.min(sa.length, sb.length); i += 1) {
    const x = sa[i]!;
    const y = sb[i]!;
    if (x === y) continue;
    const nx = /^\d+$/.test(x) ? Number(x) : NaN;
    const ny = /^\d+$/.test(y) ? Number(y) : NaN;
    if (!Number.isNaN(nx) && !Number.isNaN(ny)) return nx - ny;
    return x < y ? -1 : 1;
  }
  return sa.length - sb.length;
}

/** Stable sort by pointer, duplicates removed: the same input always gives the same list. */
export function orderProblems(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  const unique = problems.filter((p) => {
    const k = `${p.pointer}\u0000${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  return unique
    .map((p, i) => ({ p, i }))
    .sort((x, y) => comparePointers(x.p.pointer, y.p.pointer) || x.i - y.i)
    .map(({ p }) => p);
}

export function schemaProblems(errors: ErrorObject[], root: unknown): Problem[] {
  const out: Problem[] = [];
  for (const e of resolveOneOf(errors)) {
    const p = oneMessage(e, root);
    if (p) out.push(p);
  }
  return out;
}
