/**
 * The `x-kubernetes-validations` (CEL) rules of a CRD's schema, checked on every write of a custom
 * resource as the API server does: each rule runs with `self` bound to the value at its node (for
 * every array item and map value below it), and a rule that does not yield true is a
 * `FieldValueInvalid` cause `<field>: Invalid value: "object": <message>`. Transition rules
 * (`oldSelf`) are skipped on create, like the real server.
 */
import { parse } from '@marcbachmann/cel-js';
import { isObject } from './patch.js';
import type { Cause } from './schema.js';
import type { Obj } from './resources.js';

type Compiled = (context: Record<string, unknown>) => unknown;
const compiled = new Map<string, Compiled | Error>();

function compile(rule: string): Compiled | Error {
  let c = compiled.get(rule);
  if (c === undefined) {
    try {
      c = parse(rule) as unknown as Compiled;
    } catch (e) {
      c = e instanceof Error ? e : new Error(String(e));
    }
    compiled.set(rule, c);
  }
  return c;
}

function typeWord(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (isObject(v)) return 'object';
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

function field(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  return base === '' ? key : `${base}.${key}`;
}

/** Every CEL violation of `value` under `schema` (a CRD version's openAPIV3Schema). */
export function celCauses(schema: unknown, value: unknown, old: unknown, at = ''): Cause[] {
  const out: Cause[] = [];
  if (!isObject(schema) || value === undefined || value === null) return out;
  const rules = schema['x-kubernetes-validations'];
  if (Array.isArray(rules)) {
    for (const r of rules as Obj[]) {
      const rule = String(r.rule ?? '');
      if (/\boldSelf\b/.test(rule) && old === undefined) continue;
      const run = compile(rule);
      let ok: unknown;
      if (run instanceof Error) ok = false;
      else {
        try {
          ok = run({ self: value, ...(old !== undefined ? { oldSelf: old } : {}) });
        } catch {
          ok = false;
        }
      }
      if (ok !== true) {
        const message = typeof r.message === 'string' && r.message ? r.message : `failed rule: ${rule}`;
        out.push({ reason: 'FieldValueInvalid', field: (typeof r.fieldPath === 'string' && r.fieldPath ? `${at}${r.fieldPath}` : at) || '<root>', message: `Invalid value: "${typeWord(value)}": ${message}` });
      }
    }
  }
  if (Array.isArray(value) && isObject(schema.items)) {
    value.forEach((v, i) => out.push(...celCauses(schema.items, v, undefined, field(at, i))));
  } else if (isObject(value)) {
    const props = isObject(schema.properties) ? schema.properties : {};
    for (const [k, v] of Object.entries(value)) {
      const sub = props[k] ?? (isObject(schema.additionalProperties) ? schema.additionalProperties : undefined);
      if (sub !== undefined) out.push(...celCauses(sub, v, isObject(old) ? old[k] : undefined, field(at, k)));
    }
  }
  return out;
}
