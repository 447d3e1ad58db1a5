/**
 * The CustomResourceDefinition `meshservices.mixmesh.io` (docs/kubernetes.md, "The CRD
 * mixmesh owns"), derived from the descriptor schema so the two cannot drift. Kubernetes wants a
 * structural schema: every node typed, no $ref, no if/then, no additionalProperties beside
 * properties, no `false` schemas. The API server prunes unknown fields, so
 * `additionalProperties: false` is dropped; the controller runs the full validation anyway.
 */
import { meshServiceSchema, type JsonSchema } from './schema.js';

export const CRD_GROUP = 'mixmesh.io';
export const CRD_VERSION = 'v1alpha1';
export const CRD_NAME = 'meshservices.mixmesh.io';

/** Keywords Kubernetes does not support (or that only make sense in the descriptor schema). */
const DROPPED = new Set(['$schema', '$id', 'title', 'definitions', 'propertyNames', 'default', 'if', 'then', 'else']);

function resolveRef(root: JsonSchema, ref: string): JsonSchema {
  const m = /^#\/definitions\/(.+)$/.exec(ref);
  const target = m ? (root.definitions as Record<string, JsonSchema> | undefined)?.[m[1]!] : undefined;
  if (target === undefined) throw new Error(`descriptor schema: unresolvable $ref ${ref}`);
  return target;
}

const PRESERVE = { 'x-kubernetes-preserve-unknown-fields': true } as const;

/** Convert one descriptor-schema node into its structural CRD form. */
function toStructural(node: JsonSchema, root: JsonSchema, path: string): JsonSchema {
  if (typeof node.$ref === 'string') {
    return toStructural(resolveRef(root, node.$ref), root, path);
  }
  // name-or-number ports
  if (Array.isArray(node.type) && node.type.includes('string') && node.type.includes('integer')) {
    return { 'x-kubernetes-int-or-string': true };
  }
  // a string or an object: Kubernetes cannot type it; the controller validates it in full
  if (path.endsWith('/loadBalancer')) return { ...PRESERVE };
  // passed through to Tacker untouched
  if (path.endsWith('/extVirtualLinks/items') || path.endsWith('/additionalParams')) return { type: 'object', ...PRESERVE };

  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (DROPPED.has(key)) continue;
    switch (key) {
      case 'additionalProperties':
        if (value === false) break; // the server prunes instead
        out.additionalProperties = toStructural(value as JsonSchema, root, `${path}/additionalProperties`);
        break;
      case 'properties': {
        const props: Record<string, JsonSchema> = {};
        for (const [name, sub] of Object.entries(value as Record<string, JsonSchema | boolean>)) {
          if (typeof sub === 'boolean') continue;
          props[name] = toStructural(sub, root, `${path}/${name}`);
        }
        out.properties = props;
        break;
      }
      case 'items':
        out.items = toStructural(value as JsonSchema, root, `${path}/items`);
        break;
      case 'const':
        out.enum = [value];
        break;
      case 'format':
        // Kubernetes knows no "ip" format; the controller checks fixedIp
        if (value !== 'ip') out.format = value;
        break;
      case 'allOf':
        // only the runtime if/then rules live in allOf: JSON Schema only
        break;
      case 'oneOf':
        // env: exactly one of value / valueFrom, as a CEL rule Kubernetes can run
        if (path.endsWith('/env/items')) {
          out['x-kubernetes-validations'] = [{ rule: 'has(self.value) != has(self.valueFrom)', message: 'exactly one of value and valueFrom' }];
        }
        break;
      default:
        out[key] = structuredClone(value);
    }
  }
  return out;
}

const STATUS_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    phase: { type: 'string', enum: ['Pending', 'Deploying', 'Ready', 'Degraded', 'Failed', 'Deleting'] },
    observedGeneration: { type: 'integer', format: 'int64' },
    conditions: {
      type: 'array',
      items: {
        type: 'object',
        required: ['type', 'status'],
        properties: {
          type: { type: 'string' },
          status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
          reason: { type: 'string' },
          message: { type: 'string' },
          lastTransitionTime: { type: 'string', format: 'date-time' },
          observedGeneration: { type: 'integer', format: 'int64' },
        },
      },
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    },
    // written by the orchestrator; kept whole (their inner shape is the orchestrator's to grow)
    microservices: {
      type: 'array',
      items: {
        type: 'object',
        ...PRESERVE,
        properties: {
          name: { type: 'string' },
          version: { type: 'string' },
          runtime: { type: 'string' },
          instances: { type: 'array', items: { type: 'object', ...PRESERVE } },
        },
      },
    },
    operations: {
      type: 'array',
      maxItems: 20,
      items: {
        type: 'object',
        ...PRESERVE,
        properties: {
          id: { type: 'string' },
          state: { type: 'string' },
          steps: { type: 'array', items: { type: 'object', ...PRESERVE } },
        },
      },
    },
  },
  ...PRESERVE,
};

/** The openAPIV3Schema of the MeshService resource. */
export function meshServiceOpenApiSchema(): JsonSchema {
  const root = meshServiceSchema();
  const properties = root.properties as Record<string, JsonSchema>;
  return {
    type: 'object',
    description: 'A service of microservices on VMs and containers in one Istio mesh (docs/descriptor.md).',
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      // Kubernetes validates metadata itself; a CRD may only narrow name/generateName
      metadata: { type: 'object' },
      spec: toStructural(properties.spec!, root, '/spec'),
      status: structuredClone(STATUS_SCHEMA),
    },
  };
}

/** The CustomResourceDefinition `meshservices.mixmesh.io`, ready for server-side apply. */
export function meshServiceCrd(): JsonSchema {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: CRD_NAME,
      labels: { 'app.kubernetes.io/managed-by': 'mixmesh', 'app.kubernetes.io/part-of': 'mixmesh' },
    },
    spec: {
      group: CRD_GROUP,
      names: { kind: 'MeshService', listKind: 'MeshServiceList', plural: 'meshservices', singular: 'meshservice', shortNames: ['msvc'], categories: ['mixmesh'] },
      scope: 'Namespaced',
      versions: [
        {
          name: CRD_VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: meshServiceOpenApiSchema() },
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
        },
      ],
    },
  };
}
