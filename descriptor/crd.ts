/**
 * The CustomResourceDefinition `meshservices.mixmesh.io` (docs/kubernetes.md, "The CRD
 * mixmesh owns"), derived from the descriptor schema so the two cannot drift. Kubernetes wants a
 * structural schema: every node typed, no $ref, no if/then, no additionalProperties beside
 * properties, no `false` schemas. The API server prunes unknown fields, so
 * `additionalProperties: false` is dropped; the controller runs the full validation anyway.
 */
import { FIELD_DOCS } from './field-docs.js';
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

/** `/spec/connections/items/routes` → `spec.connections.routes` (the `kubectl explain` path) */
function explainPath(path: string): string {
  return path.split('/').filter((p) => p !== '' && p !== 'items').join('.');
}

/**
 * The descriptor rules CEL can check on one object within the API server's cost budget (a rule's
 * estimated cost is multiplied by the largest size of every list around it; the budget is 10^7 per
 * rule). Rules that need other microservices, or that would cost more (a split's weights sum under
 * 10000 connections × 100 routes), are left to the admission webhook, which runs the full
 * validation (docs/kubernetes.md).
 */
const CEL_RULES: Readonly<Record<string, { rule: string; message: string; fieldPath?: string }[]>> = {
  'spec.mesh': [
    { rule: "!has(self.mtls) || self.mtls != 'DISABLE' || (has(self.authorization) && self.authorization == 'open')", message: 'mtls DISABLE needs authorization: open (principals need mTLS)', fieldPath: '.mtls' },
  ],
  'spec.microservices[]': [
    { rule: "self.runtime != 'container' || has(self.container)", message: 'is required when runtime is "container"', fieldPath: '.container' },
    { rule: "self.runtime != 'container' || !has(self.vm)", message: 'is not allowed when runtime is "container"', fieldPath: '.vm' },
    { rule: "self.runtime != 'vm' || has(self.vm)", message: 'is required when runtime is "vm"', fieldPath: '.vm' },
    { rule: "self.runtime != 'vm' || !has(self.container)", message: 'is not allowed when runtime is "vm"', fieldPath: '.container' },
  ],
  'spec.microservices[].vm': [
    { rule: '!has(self.fixedIp) || !has(self.instances) || self.instances == 1', message: 'fixedIp needs instances: 1', fieldPath: '.fixedIp' },
  ],
  'spec.connections[]': [
    { rule: 'self.from != self.to', message: 'from and to must differ', fieldPath: '.to' },
  ],
  'spec.connections[].routes': [
    { rule: 'self.filter(r, !has(r.match)).size() == 0 || (self.filter(r, !has(r.match)).size() == 1 && !self.map(r, has(r.match))[self.size() - 1])', message: 'only the last route may have no match' },
  ],
};

/** Convert one descriptor-schema node into its structural CRD form. */
function toStructural(node: JsonSchema, root: JsonSchema, path: string): JsonSchema {
  const converted = toStructuralNode(node, root, path);
  const doc = path.endsWith('/items') ? undefined : FIELD_DOCS[explainPath(path)];
  if (doc !== undefined) converted.description = doc;
  const celKey = path.replace(/^\//, '').replace(/\/items\//g, '[]/').replace(/\/items$/, '[]').replace(/\//g, '.');
  const rules = CEL_RULES[celKey];
  if (rules) converted['x-kubernetes-validations'] = [...((converted['x-kubernetes-validations'] as unknown[] | undefined) ?? []), ...rules];
  return converted;
}

function toStructuralNode(node: JsonSchema, root: JsonSchema, path: string): JsonSchema {
  if (typeof node.$ref === 'string') {
    return toStructuralNode(resolveRef(root, node.$ref), root, path);
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
        // env: exactly one of value / valueFrom; a volume: exactly one source; as CEL rules Kubernetes can run
        if (path.endsWith('/env/items')) {
          out['x-kubernetes-validations'] = [{ rule: 'has(self.value) != has(self.valueFrom)', message: 'exactly one of value and valueFrom' }];
        }
        // a volume: exactly one source
        if (path.endsWith('/volumes/items')) {
          out['x-kubernetes-validations'] = [
            { rule: '(has(self.hostPath) ? 1 : 0) + (has(self.persistentVolumeClaim) ? 1 : 0) + (has(self.emptyDir) ? 1 : 0) == 1', message: 'exactly one of hostPath, persistentVolumeClaim and emptyDir' },
          ];
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
  description: 'What the orchestrator observed and did; written only by mixmesh, through the status subresource.',
  properties: {
    phase: { type: 'string', enum: ['Pending', 'Deploying', 'Ready', 'Degraded', 'Failed', 'Deleting'], description: 'Pending, Deploying, Ready, Degraded (a workload lost readiness or a VM token expired), Failed (see conditions), Deleting.' },
    observedGeneration: { type: 'integer', format: 'int64', description: 'The metadata.generation the controller last acted on.' },
    readyMicroservices: { type: 'string', description: 'Ready microservice versions / all, e.g. 3/4.' },
    vms: { type: 'string', description: 'Ready VMs / all VMs, e.g. 2/2 (0/0 without VM versions).' },
    conditions: {
      type: 'array',
      description: 'Valid (the descriptor passed validation) and Ready (everything deployed and ready), with reason and message.',
      items: {
        type: 'object',
        required: ['type', 'status'],
        properties: {
          type: { type: 'string', description: 'Valid or Ready.' },
          status: { type: 'string', enum: ['True', 'False', 'Unknown'], description: 'True, False or Unknown.' },
          reason: { type: 'string', description: 'A CamelCase reason, e.g. DescriptorInvalid, TackerOperationFailed.' },
          message: { type: 'string', description: 'What happened, for people (for Valid=False: the problem lines).' },
          lastTransitionTime: { type: 'string', format: 'date-time', description: 'When the status last changed.' },
          observedGeneration: { type: 'integer', format: 'int64', description: 'The generation this condition is about.' },
        },
      },
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    },
    // written by the orchestrator; kept whole (their inner shape is the orchestrator's to grow)
    microservices: {
      type: 'array',
      description: 'One entry per microservice version: runtime, ready/desired and, for VMs, each instance (VNF, server, address, host key, sidecar state, token expiry, last error).',
      items: {
        type: 'object',
        ...PRESERVE,
        properties: {
          name: { type: 'string', description: 'The microservice name.' },
          version: { type: 'string', description: 'The version.' },
          runtime: { type: 'string', description: 'container or vm.' },
          instances: { type: 'array', description: 'For VMs: one entry per VM (vnfInstanceName, vnfInstanceId, serverId, address, hostKey, sidecar, tokenExpiresAt, lastError).', items: { type: 'object', ...PRESERVE } },
        },
      },
    },
    operations: {
      type: 'array',
      description: 'The last 20 operations (id <uid>-<generation>): state and steps with times and errors.',
      maxItems: 20,
      items: {
        type: 'object',
        ...PRESERVE,
        properties: {
          id: { type: 'string', description: '<uid>-<generation>.' },
          state: { type: 'string', description: 'Queued, Running, Succeeded, Failed or RolledBack.' },
          steps: { type: 'array', description: 'The steps with startedAt, endedAt and error.', items: { type: 'object', ...PRESERVE } },
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
      apiVersion: { type: 'string', description: 'mixmesh.io/v1alpha1' },
      kind: { type: 'string', description: 'MeshService' },
      // Kubernetes validates metadata itself; a CRD may only narrow name/generateName
      metadata: { type: 'object', description: 'Standard object metadata; labels are copied onto every generated object.' },
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
            { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Pending, Deploying, Ready, Degraded, Failed or Deleting' },
            { name: 'Ready', type: 'string', jsonPath: '.status.readyMicroservices', description: 'ready microservice versions / all' },
            { name: 'VMs', type: 'string', jsonPath: '.status.vms', description: 'ready VMs / all VMs' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
            { name: 'Observed', type: 'integer', jsonPath: '.status.observedGeneration', priority: 1, description: 'the generation the controller last acted on' },
            { name: 'Message', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].message', priority: 1, description: 'the Ready condition\'s message' },
          ],
        },
      ],
    },
  };
}
