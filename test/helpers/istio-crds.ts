/**
 * Istio's own CRDs (../shared/reference/istio-crds.gen.yaml, Istio 1.30.3) as a checker, read at test
 * time and never copied into the project: the structural OpenAPI schema through ajv, and every
 * `x-kubernetes-validations` CEL rule evaluated on the node it is attached to.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { Ajv, type ValidateFunction } from 'ajv';
import { evaluate } from '@marcbachmann/cel-js';

export const ISTIO_CRDS_PATH = fileURLToPath(new URL('../../../shared/reference/istio-crds.gen.yaml', import.meta.url));

type Schema = Record<string, unknown>;

export interface CrdRule {
  kind: string;
  /** segments: property names, `[]` for array items, `{}` for map values */
  path: string[];
  rule: string;
  message: string;
}

export interface IstioCrds {
  /** `group/version/Kind` → schema validator */
  check(obj: Record<string, unknown>): string[];
  /** every CEL rule of one served version of a kind */
  rules(apiVersion: string, kind: string): CrdRule[];
  kinds(): string[];
}

/**
 * A Kubernetes structural schema as plain JSON Schema: x-kubernetes-* keywords dropped,
 * int-or-string made an anyOf, and objects with `properties` closed unless they preserve unknown
 * fields (what the API server's strict field validation does).
 */
export function toJsonSchema(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(toJsonSchema);
  if (s === null || typeof s !== 'object') return s;
  const src = s as Schema;
  const out: Schema = {};
  for (const [k, v] of Object.entries(src)) {
    if (k.startsWith('x-kubernetes-')) continue;
    if (k === 'properties' || k === 'patternProperties' || k === 'definitions') {
      const props: Schema = {};
      for (const [pk, pv] of Object.entries(v as Schema)) props[pk] = toJsonSchema(pv);
      out[k] = props;
    } else if (k === 'format') {
      // formats (int32, date-time, byte…) are not checked by the API server for CRDs beyond type
      continue;
    } else if (k === 'description') {
      continue;
    } else {
      out[k] = toJsonSchema(v);
    }
  }
  if (src['x-kubernetes-int-or-string'] === true) {
    delete out.type;
    return { ...out, anyOf: [{ type: 'integer' }, { type: 'string' }] };
  }
  if (src.type === 'object' && src.properties && src.additionalProperties === undefined && src['x-kubernetes-preserve-unknown-fields'] !== true) {
    out.additionalProperties = false;
  }
  return out;
}

function collectRules(kind: string, s: unknown, path: string[], out: CrdRule[]): void {
  if (s === null || typeof s !== 'object' || Array.isArray(s)) return;
  const src = s as Schema;
  for (const r of (src['x-kubernetes-validations'] as Array<{ rule: string; message?: string }> | undefined) ?? []) {
    out.push({ kind, path, rule: r.rule, message: r.message ?? r.rule });
  }
  for (const [pk, pv] of Object.entries((src.properties as Schema | undefined) ?? {})) collectRules(kind, pv, [...path, pk], out);
  if (src.items) collectRules(kind, src.items, [...path, '[]'], out);
  if (src.additionalProperties && typeof src.additionalProperties === 'object') collectRules(kind, src.additionalProperties, [...path, '{}'], out);
}

function reach(node: unknown, path: readonly string[], pointer: string, out: Array<[unknown, string]>): void {
  if (node === undefined || node === null) return;
  if (path.length === 0) return void out.push([node, pointer]);
  const [head, ...rest] = path;
  if (head === '[]') {
    if (Array.isArray(node)) node.forEach((item, i) => reach(item, rest, `${pointer}/${i}`, out));
  } else if (head === '{}') {
    if (typeof node === 'object' && !Array.isArray(node)) for (const [k, v] of Object.entries(node as Schema)) reach(v, rest, `${pointer}/${k}`, out);
  } else if (typeof node === 'object' && !Array.isArray(node)) {
    reach((node as Schema)[head!], rest, `${pointer}/${head}`, out);
  }
}

export function loadIstioCrds(path = ISTIO_CRDS_PATH): IstioCrds {
  if (!existsSync(path)) throw new Error(`Istio CRDs not found at ${path} (../shared/reference/istio-crds.gen.yaml)`);
  const ajv = new Ajv({ strict: false, allErrors: true });
  const validators = new Map<string, ValidateFunction>();
  const rulesByKey = new Map<string, CrdRule[]>();
  for (const doc of parseAllDocuments(readFileSync(path, 'utf8'))) {
    const crd = doc.toJS() as { kind?: string; spec?: { group: string; names: { kind: string }; versions: Array<{ name: string; served: boolean; schema?: { openAPIV3Schema: Schema } }> } } | null;
    if (!crd || crd.kind !== 'CustomResourceDefinition' || !crd.spec) continue;
    for (const v of crd.spec.versions) {
      if (!v.served || !v.schema) continue;
      const key = `${crd.spec.group}/${v.name}/${crd.spec.names.kind}`;
      const schema = toJsonSchema(v.schema.openAPIV3Schema) as Schema;
      // metadata is checked by the API server, not the CRD schema
      const props = (schema.properties ?? {}) as Schema;
      props.metadata = { type: 'object' };
      props.apiVersion = { type: 'string' };
      props.kind = { type: 'string' };
      validators.set(key, ajv.compile(schema));
      const rules: CrdRule[] = [];
      collectRules(crd.spec.names.kind, v.schema.openAPIV3Schema, [], rules);
      rulesByKey.set(key, rules);
    }
  }
  return {
    kinds: () => [...validators.keys()].sort(),
    rules(apiVersion, kind) {
      return rulesByKey.get(`${apiVersion}/${kind}`) ?? [];
    },
    check(obj) {
      const key = `${String(obj.apiVersion)}/${String(obj.kind)}`;
      const validate = validators.get(key);
      if (!validate) return [`no CRD for ${key}`];
      const problems: string[] = [];
      if (!validate(obj)) for (const e of validate.errors ?? []) problems.push(`${e.instancePath}: ${e.message} ${JSON.stringify(e.params)}`);
      for (const r of rulesByKey.get(key) ?? []) {
        const nodes: Array<[unknown, string]> = [];
        reach(obj, r.path, '', nodes);
        for (const [self, pointer] of nodes) {
          let ok: unknown;
          try {
            ok = evaluate(r.rule, { self });
          } catch (e) {
            ok = `error: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`;
          }
          if (ok !== true) problems.push(`${pointer}: CEL ${JSON.stringify(r.rule)}: ${r.message} (${String(ok)})`);
        }
      }
      return problems;
    },
  };
}
