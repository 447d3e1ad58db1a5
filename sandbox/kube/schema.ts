/**
 * What the API server does with a CRD's `openAPIV3Schema`: refuse non-structural schemas when the
 * CRD is written, and for every custom resource prune unknown fields (or report them under
 * `fieldValidation=Strict`) and validate the rest, with the server's field paths and messages.
 */
import { isObject, deepEqual } from './patch.js';
import type { Obj } from './resources.js';

export interface Cause {
  reason: 'FieldValueInvalid' | 'FieldValueRequired' | 'FieldValueNotSupported' | 'FieldValueTypeInvalid' | 'FieldValueForbidden' | 'FieldValueDuplicate';
  message: string;
  field: string;
}

const TYPES = new Set(['object', 'array', 'string', 'integer', 'number', 'boolean']);

/** Structural-schema problems (empty when fine), as `field: message` causes. */
export function structuralProblems(schema: unknown, field: string): Cause[] {
  const out: Cause[] = [];
  if (!isObject(schema)) return [{ reason: 'FieldValueRequired', field, message: 'Required value: schemas are required' }];
  if (schema.type !== 'object') out.push({ reason: 'FieldValueInvalid', field: `${field}.type`, message: `Invalid value: "${String(schema.type ?? '')}": must be object at the root` });
  const walk = (node: unknown, at: string): void => {
    if (!isObject(node)) return;
    const exempt = node['x-kubernetes-int-or-string'] === true || node['x-kubernetes-preserve-unknown-fields'] === true;
    if (node.type === undefined && !exempt) {
      out.push({ reason: 'FieldValueRequired', field: `${at}.type`, message: `Required value: must not be empty for specified ${node.items ? 'array items' : 'object fields'}` });
    } else if (node.type !== undefined && !TYPES.has(String(node.type))) {
      out.push({ reason: 'FieldValueNotSupported', field: `${at}.type`, message: `Unsupported value: "${String(node.type)}": supported values: "array", "boolean", "integer", "number", "object", "string"` });
    }
    if (node.properties !== undefined && node.additionalProperties !== undefined && node.additionalProperties !== true) {
      out.push({ reason: 'FieldValueForbidden', field: `${at}.additionalProperties`, message: 'Forbidden: additionalProperties and properties are mutual exclusive' });
    }
    if (node['x-kubernetes-preserve-unknown-fields'] === false) {
      out.push({ reason: 'FieldValueInvalid', field: `${at}.x-kubernetes-preserve-unknown-fields`, message: 'Invalid value: false: must be true or undefined' });
    }
    if (node.type === 'array' && node.items === undefined) out.push({ reason: 'FieldValueRequired', field: `${at}.items`, message: 'Required value: must be specified' });
    for (const key of ['allOf', 'anyOf', 'oneOf'] as const) {
      const list = node[key];
      if (!Array.isArray(list)) continue;
      list.forEach((sub, i) => {
        // the one typed value validation the server allows: int-or-string's anyOf [{type: integer}, {type: string}]
        const intOrString = node['x-kubernetes-int-or-string'] === true && isObject(sub) && (sub.type === 'integer' || sub.type === 'string') && Object.keys(sub).length === 1;
        if (!intOrString && isObject(sub) && (sub.type !== undefined || sub.default !== undefined || sub.nullable !== undefined)) {
          out.push({ reason: 'FieldValueForbidden', field: `${at}.${key}[${i}].type`, message: 'Forbidden: must be empty to be structural' });
        }
      });
    }
    if (isObject(node.properties)) for (const [k, v] of Object.entries(node.properties)) walk(v, `${at}.properties[${k}]`);
    if (isObject(node.items)) walk(node.items, `${at}.items`);
    if (isObject(node.additionalProperties)) walk(node.additionalProperties, `${at}.additionalProperties`);
  };
  if (isObject(schema.properties)) for (const [k, v] of Object.entries(schema.properties)) walk(v, `${field}.properties[${k}]`);
  return out;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : isObject(v) ? '"object"' : Array.isArray(v) ? '"array"' : String(v);
}

function fmtField(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  return base === '' ? key : `${base}.${key}`;
}

function matchesType(v: unknown, type: unknown): boolean {
  const t = typeOf(v);
  if (type === 'number') return t === 'number' || t === 'integer';
  return t === type;
}

/** True when `v` satisfies `schema` (used for the value validations allOf/anyOf/oneOf/not). */
function satisfies(v: unknown, schema: Obj): boolean {
  const errs: Cause[] = [];
  validateNode(v, schema, '', errs, [], false);
  return errs.length === 0;
}

function validateNode(v: unknown, s: Obj, at: string, errs: Cause[], unknown: string[], prune: boolean): void {
  const invalid = (message: string) => errs.push({ reason: 'FieldValueInvalid', field: at, message: `Invalid value: ${show(v)}: ${message}` });
  const where = at === '' ? 'body' : at;
  if (s['x-kubernetes-int-or-string'] === true) {
    if (typeof v !== 'string' && !Number.isInteger(v)) errs.push({ reason: 'FieldValueTypeInvalid', field: at, message: `Invalid value: ${show(v)}: ${where} in body must be of type integer-or-string: ${show(typeOf(v))}` });
  } else if (s.type !== undefined && !matchesType(v, s.type)) {
    errs.push({ reason: 'FieldValueTypeInvalid', field: at, message: `Invalid value: ${show(v)}: ${where} in body must be of type ${String(s.type)}: ${show(typeOf(v))}` });
    return;
  }
  if (Array.isArray(s.enum) && !s.enum.some((e) => deepEqual(e, v))) {
    errs.push({ reason: 'FieldValueNotSupported', field: at, message: `Unsupported value: ${show(v)}: supported values: ${s.enum.map((e) => JSON.stringify(e)).join(', ')}` });
  }
  if (typeof v === 'string') {
    if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(v)) invalid(`${where} in body should match '${s.pattern}'`);
    if (typeof s.minLength === 'number' && v.length < s.minLength) invalid(`${where} in body should be at least ${s.minLength} chars long`);
    if (typeof s.maxLength === 'number' && v.length > s.maxLength) errs.push({ reason: 'FieldValueInvalid', field: at, message: `Too long: may not be longer than ${s.maxLength}` });
  }
  if (typeof v === 'number') {
    if (typeof s.minimum === 'number' && (v < s.minimum || (s.exclusiveMinimum === true && v === s.minimum))) invalid(`${where} in body should be greater than or equal to ${s.minimum}`);
    if (typeof s.maximum === 'number' && (v > s.maximum || (s.exclusiveMaximum === true && v === s.maximum))) invalid(`${where} in body should be less than or equal to ${s.maximum}`);
    if (typeof s.multipleOf === 'number' && v % s.multipleOf !== 0) invalid(`${where} in body should be a multiple of ${s.multipleOf}`);
  }
  if (Array.isArray(v)) {
    if (typeof s.minItems === 'number' && v.length < s.minItems) invalid(`${where} in body should have at least ${s.minItems} items`);
    if (typeof s.maxItems === 'number' && v.length > s.maxItems) errs.push({ reason: 'FieldValueInvalid', field: at, message: `Too many: ${v.length}: must have at most ${s.maxItems} items` });
    if (s.uniqueItems === true || s['x-kubernetes-list-type'] === 'set') {
      v.forEach((x, i) => { if (v.findIndex((y) => deepEqual(x, y)) !== i) errs.push({ reason: 'FieldValueDuplicate', field: fmtField(at, i), message: `Duplicate value: ${show(x)}` }); });
    }
    if (isObject(s.items)) v.forEach((x, i) => validateNode(x, s.items as Obj, fmtField(at, i), errs, unknown, prune));
  }
  if (isObject(v)) {
    const props = isObject(s.properties) ? (s.properties as Record<string, Obj>) : undefined;
    const preserve = s['x-kubernetes-preserve-unknown-fields'] === true;
    if (Array.isArray(s.required)) {
      for (const r of s.required as string[]) if (v[r] === undefined) errs.push({ reason: 'FieldValueRequired', field: fmtField(at, r), message: 'Required value' });
    }
    // defaults from the schema fill absent fields, as the server does
    if (prune && props) for (const [k, p] of Object.entries(props)) if (v[k] === undefined && p.default !== undefined) v[k] = structuredClone(p.default);
    if (typeof s.minProperties === 'number' && Object.keys(v).length < s.minProperties) invalid(`${where} in body should have at least ${s.minProperties} properties`);
    if (typeof s.maxProperties === 'number' && Object.keys(v).length > s.maxProperties) invalid(`${where} in body should have at most ${s.maxProperties} properties`);
    for (const [k, x] of Object.entries(v)) {
      if (x === undefined) continue;
      const field = fmtField(at, k);
      if (x === null && !(props?.[k]?.nullable === true)) { if (prune) delete v[k]; continue; }
      if (props?.[k]) validateNode(x, props[k]!, field, errs, unknown, prune);
      else if (isObject(s.additionalProperties)) validateNode(x, s.additionalProperties, field, errs, unknown, prune);
      else if (s.additionalProperties === true || preserve || (props === undefined && s.type === undefined)) continue;
      else if (s.additionalProperties === false) errs.push({ reason: 'FieldValueForbidden', field, message: 'Forbidden: additional properties are not allowed' });
      else { unknown.push(field); if (prune) delete v[k]; }
    }
  }
  if (Array.isArray(s.allOf)) for (const sub of s.allOf as Obj[]) validateNode(v, { ...sub, type: undefined }, at, errs, [], false);
  if (Array.isArray(s.anyOf) && !(s.anyOf as Obj[]).some((sub) => satisfies(v, sub))) invalid(`${where} in body must match at least one schema in anyOf`);
  if (Array.isArray(s.oneOf) && (s.oneOf as Obj[]).filter((sub) => satisfies(v, sub)).length !== 1) invalid(`${where} in body must validate one and only one schema (oneOf)`);
  if (isObject(s.not) && satisfies(v, s.not)) invalid(`${where} in body must not validate the schema (not)`);
}

export interface SchemaCheck {
  causes: Cause[];
  /** fields not in the schema (pruned from the object) */
  unknownFields: string[];
}

/**
 * Validate a custom resource against its schema, pruning unknown fields in place (as the server
 * does). apiVersion, kind and metadata are the server's business, not the schema's.
 */
export function validateAgainstSchema(obj: Obj, schema: Obj): SchemaCheck {
  const causes: Cause[] = [];
  const unknownFields: string[] = [];
  const props = isObject(schema.properties) ? (schema.properties as Record<string, Obj>) : {};
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  for (const [k, p] of Object.entries(props)) if (obj[k] === undefined && p.default !== undefined && k !== 'metadata') obj[k] = structuredClone(p.default);
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind' || k === 'metadata' || v === undefined) continue;
    if (v === null && !(props[k]?.nullable === true)) { delete obj[k]; continue; }
    if (props[k]) validateNode(v, props[k]!, k, causes, unknownFields, true);
    else if (!preserve) { unknownFields.push(k); delete obj[k]; }
  }
  if (Array.isArray(schema.required)) for (const r of schema.required as string[]) if (obj[r] === undefined && r !== 'metadata') causes.push({ reason: 'FieldValueRequired', field: r, message: 'Required value' });
  return { causes, unknownFields };
}
