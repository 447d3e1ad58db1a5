/**
 * Every generated object is checked before it leaves: the OpenAPI schema of its kind
 * (`kubernetes-models`, `@kubernetes-models/istio`), the Istio CEL rules that package drops
 * (cel-rules.ts, evaluated by a CEL interpreter), and the metadata rules the API server applies.
 * A failure is a mixmesh bug: `MESH_CONFIG_INVALID`.
 */
import { parse } from '@marcbachmann/cel-js';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { DestinationRule } from '@kubernetes-models/istio/networking.istio.io/v1/DestinationRule';
import { Gateway } from '@kubernetes-models/istio/networking.istio.io/v1/Gateway';
import { ServiceEntry } from '@kubernetes-models/istio/networking.istio.io/v1/ServiceEntry';
import { Sidecar } from '@kubernetes-models/istio/networking.istio.io/v1/Sidecar';
import { VirtualService } from '@kubernetes-models/istio/networking.istio.io/v1/VirtualService';
import { WorkloadEntry } from '@kubernetes-models/istio/networking.istio.io/v1/WorkloadEntry';
import { WorkloadGroup } from '@kubernetes-models/istio/networking.istio.io/v1/WorkloadGroup';
import { AuthorizationPolicy } from '@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy';
import { PeerAuthentication } from '@kubernetes-models/istio/security.istio.io/v1/PeerAuthentication';
// older served versions, for the sandbox API emulator (kubectl users still write them)
import { DestinationRule as DestinationRule_v1beta1 } from '@kubernetes-models/istio/networking.istio.io/v1beta1/DestinationRule';
import { Gateway as Gateway_v1beta1 } from '@kubernetes-models/istio/networking.istio.io/v1beta1/Gateway';
import { ServiceEntry as ServiceEntry_v1beta1 } from '@kubernetes-models/istio/networking.istio.io/v1beta1/ServiceEntry';
import { Sidecar as Sidecar_v1beta1 } from '@kubernetes-models/istio/networking.istio.io/v1beta1/Sidecar';
import { VirtualService as VirtualService_v1beta1 } from '@kubernetes-models/istio/networking.istio.io/v1beta1/VirtualService';
import { WorkloadEntry as WorkloadEntry_v1beta1 } from '@kubernetes-models/istio/networking.istio.io/v1beta1/WorkloadEntry';
import { WorkloadGroup as WorkloadGroup_v1beta1 } from '@kubernetes-models/istio/networking.istio.io/v1beta1/WorkloadGroup';
import { DestinationRule as DestinationRule_v1alpha3 } from '@kubernetes-models/istio/networking.istio.io/v1alpha3/DestinationRule';
import { Gateway as Gateway_v1alpha3 } from '@kubernetes-models/istio/networking.istio.io/v1alpha3/Gateway';
import { ServiceEntry as ServiceEntry_v1alpha3 } from '@kubernetes-models/istio/networking.istio.io/v1alpha3/ServiceEntry';
import { Sidecar as Sidecar_v1alpha3 } from '@kubernetes-models/istio/networking.istio.io/v1alpha3/Sidecar';
import { VirtualService as VirtualService_v1alpha3 } from '@kubernetes-models/istio/networking.istio.io/v1alpha3/VirtualService';
import { WorkloadEntry as WorkloadEntry_v1alpha3 } from '@kubernetes-models/istio/networking.istio.io/v1alpha3/WorkloadEntry';
import { WorkloadGroup as WorkloadGroup_v1alpha3 } from '@kubernetes-models/istio/networking.istio.io/v1alpha3/WorkloadGroup';
import { AuthorizationPolicy as AuthorizationPolicy_v1beta1 } from '@kubernetes-models/istio/security.istio.io/v1beta1/AuthorizationPolicy';
import { PeerAuthentication as PeerAuthentication_v1beta1 } from '@kubernetes-models/istio/security.istio.io/v1beta1/PeerAuthentication';
import { MixmeshError } from '../common/errors.js';
import { CEL_RULES, type CelRule } from './cel-rules.js';

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: never) => Validatable;

const MODELS: Record<string, ModelClass> = {
  'v1/Namespace': Namespace as unknown as ModelClass,
  'v1/Service': Service as unknown as ModelClass,
  'v1/ServiceAccount': ServiceAccount as unknown as ModelClass,
  'apps/v1/Deployment': Deployment as unknown as ModelClass,
  'networking.istio.io/v1/DestinationRule': DestinationRule as unknown as ModelClass,
  'networking.istio.io/v1/Gateway': Gateway as unknown as ModelClass,
  'networking.istio.io/v1/ServiceEntry': ServiceEntry as unknown as ModelClass,
  'networking.istio.io/v1/Sidecar': Sidecar as unknown as ModelClass,
  'networking.istio.io/v1/VirtualService': VirtualService as unknown as ModelClass,
  'networking.istio.io/v1/WorkloadEntry': WorkloadEntry as unknown as ModelClass,
  'networking.istio.io/v1/WorkloadGroup': WorkloadGroup as unknown as ModelClass,
  'security.istio.io/v1/AuthorizationPolicy': AuthorizationPolicy as unknown as ModelClass,
  'security.istio.io/v1/PeerAuthentication': PeerAuthentication as unknown as ModelClass,
  'networking.istio.io/v1beta1/DestinationRule': DestinationRule_v1beta1 as unknown as ModelClass,
  'networking.istio.io/v1beta1/Gateway': Gateway_v1beta1 as unknown as ModelClass,
  'networking.istio.io/v1beta1/ServiceEntry': ServiceEntry_v1beta1 as unknown as ModelClass,
  'networking.istio.io/v1beta1/Sidecar': Sidecar_v1beta1 as unknown as ModelClass,
  'networking.istio.io/v1beta1/VirtualService': VirtualService_v1beta1 as unknown as ModelClass,
  'networking.istio.io/v1beta1/WorkloadEntry': WorkloadEntry_v1beta1 as unknown as ModelClass,
  'networking.istio.io/v1beta1/WorkloadGroup': WorkloadGroup_v1beta1 as unknown as ModelClass,
  'networking.istio.io/v1alpha3/DestinationRule': DestinationRule_v1alpha3 as unknown as ModelClass,
  'networking.istio.io/v1alpha3/Gateway': Gateway_v1alpha3 as unknown as ModelClass,
  'networking.istio.io/v1alpha3/ServiceEntry': ServiceEntry_v1alpha3 as unknown as ModelClass,
  'networking.istio.io/v1alpha3/Sidecar': Sidecar_v1alpha3 as unknown as ModelClass,
  'networking.istio.io/v1alpha3/VirtualService': VirtualService_v1alpha3 as unknown as ModelClass,
  'networking.istio.io/v1alpha3/WorkloadEntry': WorkloadEntry_v1alpha3 as unknown as ModelClass,
  'networking.istio.io/v1alpha3/WorkloadGroup': WorkloadGroup_v1alpha3 as unknown as ModelClass,
  'security.istio.io/v1beta1/AuthorizationPolicy': AuthorizationPolicy_v1beta1 as unknown as ModelClass,
  'security.istio.io/v1beta1/PeerAuthentication': PeerAuthentication_v1beta1 as unknown as ModelClass,
};

/** The apiVersion/kind pairs validateMeshObject knows. */
export const VALIDATED_KINDS: readonly string[] = Object.freeze(Object.keys(MODELS));

type Compiled = (context: Record<string, unknown>) => unknown;
interface CompiledRule extends CelRule {
  run: Compiled;
  /** verdicts by `self` value: durations, ports and selectors repeat a lot across objects */
  memo: Map<unknown, unknown>;
  /** memo lookups of object values, and hits: JSON keys are only worth building when they hit */
  objectLookups: number;
  objectHits: number;
}
const rulesByKind = new Map<string, CompiledRule[]>();
for (const r of CEL_RULES) {
  const list = rulesByKind.get(r.kind) ?? [];
  // parse once: evaluation then costs microseconds per node
  list.push({ ...r, run: parse(r.rule) as unknown as Compiled, memo: new Map(), objectLookups: 0, objectHits: 0 });
  rulesByKind.set(r.kind, list);
}

export interface MeshObjectLike {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: { name?: unknown; namespace?: unknown; labels?: unknown };
  [field: string]: unknown;
}

/**
 * Every node a rule path reaches from `path[at]` on, with its JSON pointer. Index-based, and a
 * pointer is only built for a child that exists: ~90 000 calls for a 1000-microservice render.
 */
function reach(node: unknown, path: readonly string[], at: number, pointer: string, out: Array<[unknown, string]>): void {
  if (node === undefined || node === null) return;
  if (at === path.length) {
    out.push([node, pointer]);
    return;
  }
  const head = path[at]!;
  if (head === '[]') {
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        if (i in node) reach(node[i], path, at + 1, `${pointer}/${i}`, out);
      }
    }
  } else if (head === '{}') {
    if (typeof node === 'object' && !Array.isArray(node)) {
      for (const [k, v] of Object.entries(node as Record<string, unknown>)) reach(v, path, at + 1, `${pointer}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, out);
    }
  } else if (typeof node === 'object' && !Array.isArray(node)) {
    const child = (node as Record<string, unknown>)[head];
    if (child !== undefined && child !== null) reach(child, path, at + 1, `${pointer}/${head}`, out);
  }
}

/** The CEL rule violations of one object, as `pointer: message` lines (empty: none). */
export function celViolations(obj: MeshObjectLike): string[] {
  const problems: string[] = [];
  for (const r of rulesByKind.get(String(obj.kind)) ?? []) {
    const nodes: Array<[unknown, string]> = [];
    reach(obj, r.path, 0, '', nodes);
    for (const [self, pointer] of nodes) {
      // memo key: the value itself, or for a small object its JSON (equal JSON, equal verdict)
      // for objects, only while it pays: after 200 lookups, under 1 hit in 8 ends it for that rule
      // (e.g. a whole AuthorizationPolicy spec, unique per object); the verdict is the same either way
      const isObject = self !== null && typeof self === 'object';
      const tryMemo = !isObject || r.objectLookups < 200 || r.objectHits * 8 >= r.objectLookups;
      const memoKey = !tryMemo ? undefined : isObject ? JSON.stringify(self) : self;
      const memoable = tryMemo && (typeof memoKey !== 'string' || memoKey.length < 512);
      let ok: unknown = memoable ? r.memo.get(memoKey) : undefined;
      if (memoable && isObject) {
        r.objectLookups++;
        if (ok !== undefined) r.objectHits++;
      }
      if (ok !== undefined) {
        if (ok !== true) problems.push(`${pointer}: ${String(ok)}`);
        continue;
      }
      try {
        ok = r.run({ self });
        if (memoable && r.memo.size < 10_000) r.memo.set(memoKey, ok === true ? true : r.message);
      } catch (e) {
        // the API server rejects what a rule cannot evaluate, e.g. duration("3 seconds")
        problems.push(`${pointer}: ${r.message} (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
        continue;
      }
      if (ok !== true) problems.push(`${pointer}: ${r.message}`);
    }
  }
  return problems;
}

const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The metadata checks the API server makes before any schema: names and label syntax. */
function metadataProblems(obj: MeshObjectLike): string[] {
  const problems: string[] = [];
  const name = obj.metadata?.name;
  if (typeof name !== 'string' || name.length > 253 || !DNS_SUBDOMAIN.test(name)) problems.push(`/metadata/name: ${JSON.stringify(name)} is not a DNS-1123 subdomain`);
  const labels = obj.metadata?.labels;
  if (labels !== undefined) {
    for (const [k, v] of Object.entries(labels as Record<string, unknown>)) {
      const slash = k.lastIndexOf('/');
      const prefix = slash === -1 ? undefined : k.slice(0, slash);
      const local = slash === -1 ? k : k.slice(slash + 1);
      if (!LABEL_NAME.test(local) || (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)))) problems.push(`/metadata/labels: key ${JSON.stringify(k)} is not a valid label key`);
      if (typeof v !== 'string' || (v !== '' && !LABEL_NAME.test(v))) problems.push(`/metadata/labels/${k.replace(/~/g, '~0').replace(/\//g, '~1')}: ${JSON.stringify(v)} is not a valid label value`);
    }
  }
  return problems;
}

/** Human name of an object for messages: `Kind ns/name`. */
export function describeObject(obj: MeshObjectLike): string {
  const ns = typeof obj.metadata?.namespace === 'string' ? `${obj.metadata.namespace}/` : '';
  return `${String(obj.kind)} ${ns}${String(obj.metadata?.name)}`;
}

/**
 * All problems of one object: schema, CEL and metadata, each as `pointer: message`.
 * An unknown apiVersion/kind is a problem too.
 */
export function meshObjectProblems(obj: MeshObjectLike): string[] {
  const key = `${String(obj.apiVersion)}/${String(obj.kind)}`;
  const Model = MODELS[key];
  if (!Model) return [`: no schema for ${key} (known: ${VALIDATED_KINDS.join(', ')})`];
  const problems = metadataProblems(obj);
  try {
    // the prototype's validate on our object itself: `new Model(obj)` would deep-copy it first,
    // which costs more than the validation for thousands of objects
    (Model.prototype as Validatable).validate.call(obj);
  } catch (e) {
    const errors = (e as { errors?: Array<{ instancePath?: string; message?: string; params?: unknown }> }).errors;
    if (Array.isArray(errors) && errors.length > 0) {
      for (const err of errors) problems.push(`${err.instancePath ?? ''}: ${err.message ?? 'invalid'}${err.params ? ` ${JSON.stringify(err.params)}` : ''}`);
    } else {
      problems.push(`: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  problems.push(...celViolations(obj));
  return problems;
}

/** Throws `MESH_CONFIG_INVALID` naming the object and every problem; returns the object otherwise. */
export function validateMeshObject<T extends MeshObjectLike>(obj: T): T {
  const problems = meshObjectProblems(obj);
  if (problems.length > 0) {
    throw new MixmeshError('MESH_CONFIG_INVALID', `${describeObject(obj)} is invalid: ${problems.join('; ')}`, {
      errors: problems.map((p) => {
        const i = p.indexOf(': ');
        return { pointer: p.slice(0, i), message: p.slice(i + 2) };
      }),
      details: { kind: obj.kind, name: obj.metadata?.name, namespace: obj.metadata?.namespace },
    });
  }
  return obj;
}
