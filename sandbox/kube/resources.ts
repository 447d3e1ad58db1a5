/**
 * The resource types the emulator serves: the built-in kinds mixmesh and kubectl need, plus one
 * entry per CustomResourceDefinition installed at run time.
 */
export type Obj = Record<string, unknown>;

export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  priority?: number;
  format?: string;
}

export interface ResourceInfo {
  group: string;
  /** the version served first (preferred) */
  version: string;
  versions: string[];
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  /** has a `status` subresource: main writes ignore status, status writes ignore the rest */
  status: boolean;
  /** extra subresources besides status (e.g. `token` on serviceaccounts) */
  subresources: string[];
  builtin: boolean;
  /** a review: create-only, answered, never stored (TokenReview, SelfSubjectAccessReview…) */
  review?: boolean;
  /** custom resources: openAPIV3Schema per version */
  schemas?: Record<string, Obj | undefined>;
  /** custom resources: additionalPrinterColumns per version */
  printerColumns?: Record<string, PrinterColumn[]>;
}

export const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export function storeKey(r: Pick<ResourceInfo, 'group' | 'plural'>): string {
  return `${r.group}/${r.plural}`;
}

export function groupVersion(group: string, version: string): string {
  return group === '' ? version : `${group}/${version}`;
}

function builtin(group: string, version: string, plural: string, kind: string, namespaced: boolean, shortNames: string[] = [], status = false, subresources: string[] = []): ResourceInfo {
  return {
    group, version, versions: [version], plural, singular: kind.toLowerCase(), kind, listKind: `${kind}List`,
    namespaced, shortNames, categories: ['Deployment', 'Pod', 'Service', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob'].includes(kind) ? ['all'] : [], status, subresources, builtin: true,
  };
}

export const BUILTIN_RESOURCES: ResourceInfo[] = [
  builtin('', 'v1', 'namespaces', 'Namespace', false, ['ns'], true, ['finalize']),
  builtin('', 'v1', 'configmaps', 'ConfigMap', true, ['cm']),
  builtin('', 'v1', 'secrets', 'Secret', true),
  builtin('', 'v1', 'services', 'Service', true, ['svc'], true),
  builtin('', 'v1', 'serviceaccounts', 'ServiceAccount', true, ['sa'], false, ['token']),
  builtin('', 'v1', 'pods', 'Pod', true, ['po'], true, ['log']),
  builtin('', 'v1', 'events', 'Event', true, ['ev']),
  builtin('apps', 'v1', 'deployments', 'Deployment', true, ['deploy'], true, ['scale']),
  // second round: nodes and storage (backup, migration), the other workload kinds, Ingress (the café),
  // what install manifests carry (RBAC, PodDisruptionBudget, admission webhooks)
  builtin('', 'v1', 'nodes', 'Node', false, ['no'], true),
  builtin('', 'v1', 'persistentvolumes', 'PersistentVolume', false, ['pv'], true),
  builtin('', 'v1', 'persistentvolumeclaims', 'PersistentVolumeClaim', true, ['pvc'], true),
  builtin('', 'v1', 'endpoints', 'Endpoints', true, ['ep']),
  builtin('storage.k8s.io', 'v1', 'storageclasses', 'StorageClass', false, ['sc']),
  builtin('apps', 'v1', 'replicasets', 'ReplicaSet', true, ['rs'], true, ['scale']),
  builtin('apps', 'v1', 'statefulsets', 'StatefulSet', true, ['sts'], true, ['scale']),
  builtin('apps', 'v1', 'daemonsets', 'DaemonSet', true, ['ds'], true),
  builtin('batch', 'v1', 'jobs', 'Job', true, [], true),
  builtin('batch', 'v1', 'cronjobs', 'CronJob', true, ['cj'], true),
  builtin('networking.k8s.io', 'v1', 'ingresses', 'Ingress', true, ['ing'], true),
  builtin('networking.k8s.io', 'v1', 'ingressclasses', 'IngressClass', false),
  builtin('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice', true),
  builtin('policy', 'v1', 'poddisruptionbudgets', 'PodDisruptionBudget', true, ['pdb'], true),
  builtin('rbac.authorization.k8s.io', 'v1', 'roles', 'Role', true),
  builtin('rbac.authorization.k8s.io', 'v1', 'rolebindings', 'RoleBinding', true),
  builtin('rbac.authorization.k8s.io', 'v1', 'clusterroles', 'ClusterRole', false),
  builtin('rbac.authorization.k8s.io', 'v1', 'clusterrolebindings', 'ClusterRoleBinding', false),
  builtin('admissionregistration.k8s.io', 'v1', 'validatingwebhookconfigurations', 'ValidatingWebhookConfiguration', false),
  builtin('admissionregistration.k8s.io', 'v1', 'mutatingwebhookconfigurations', 'MutatingWebhookConfiguration', false),
  builtin('events.k8s.io', 'v1', 'events', 'Event', true, ['ev']),
  builtin('coordination.k8s.io', 'v1', 'leases', 'Lease', true),
  builtin('apiextensions.k8s.io', 'v1', 'customresourcedefinitions', 'CustomResourceDefinition', false, ['crd', 'crds'], true),
  { ...builtin('authentication.k8s.io', 'v1', 'tokenreviews', 'TokenReview', false), review: true },
  { ...builtin('authentication.k8s.io', 'v1', 'selfsubjectreviews', 'SelfSubjectReview', false), review: true },
  { ...builtin('authorization.k8s.io', 'v1', 'selfsubjectaccessreviews', 'SelfSubjectAccessReview', false), review: true },
];

/** How a list field merges (strategic merge patch) and is owned (server-side apply). */
export type ListType = { type: 'map'; keys: string[] } | { type: 'set' } | { type: 'atomic' };

/**
 * Merge keys of the built-in kinds, by the list field's name and its parent field's name
 * (the Kubernetes Go types' patchMergeKey tags). Container ports merge by containerPort, as the
 * real server and kubectl's struct-based patches do; Service ports by port.
 */
export function builtinListType(fieldNames: readonly string[]): ListType {
  const field = fieldNames[fieldNames.length - 1];
  const parent = fieldNames[fieldNames.length - 2];
  switch (field) {
    case 'containers': case 'initContainers': case 'ephemeralContainers': case 'volumes': case 'env': case 'imagePullSecrets':
      return { type: 'map', keys: ['name'] };
    case 'volumeMounts': return { type: 'map', keys: ['mountPath'] };
    case 'volumeDevices': return { type: 'map', keys: ['devicePath'] };
    case 'hostAliases': return { type: 'map', keys: ['ip'] };
    case 'ownerReferences': return { type: 'map', keys: ['uid'] };
    case 'conditions': return { type: 'map', keys: ['type'] };
    case 'finalizers': return parent === 'metadata' ? { type: 'set' } : { type: 'atomic' };
    case 'ports':
      if (parent === 'containers' || parent === 'initContainers' || parent === 'ephemeralContainers') return { type: 'map', keys: ['containerPort'] };
      if (parent === 'spec') return { type: 'map', keys: ['port'] };
      return { type: 'atomic' };
    default: return { type: 'atomic' };
  }
}

/** The schema node at a field-name path (array levels step through `items`). */
export function schemaAt(schema: Obj | undefined, fieldNames: readonly string[]): Obj | undefined {
  let node = schema;
  for (const name of fieldNames) {
    if (!node) return undefined;
    if (node.type === 'array' || node.items) node = node.items as Obj | undefined;
    if (!node) return undefined;
    const props = node.properties as Record<string, Obj> | undefined;
    node = props?.[name] ?? (typeof node.additionalProperties === 'object' ? (node.additionalProperties as Obj) : undefined);
  }
  return node;
}

/** List type of a custom resource field from its schema's x-kubernetes-list-type. */
export function schemaListType(schema: Obj | undefined, fieldNames: readonly string[]): ListType {
  if (fieldNames.length === 2 && fieldNames[0] === 'metadata' && fieldNames[1] === 'finalizers') return { type: 'set' };
  const node = schemaAt(schema, fieldNames);
  if (!node) return { type: 'atomic' };
  if (node['x-kubernetes-list-type'] === 'map') return { type: 'map', keys: (node['x-kubernetes-list-map-keys'] as string[] | undefined) ?? [] };
  if (node['x-kubernetes-list-type'] === 'set') return { type: 'set' };
  return { type: 'atomic' };
}

export function listTypeFor(resource: ResourceInfo, version: string, fieldNames: readonly string[]): ListType {
  if (resource.builtin) return builtinListType(fieldNames);
  return schemaListType(resource.schemas?.[version], fieldNames);
}

/** A ResourceInfo for a CRD object; undefined when the CRD is not usable. */
export function resourceFromCrd(crd: Obj): ResourceInfo | undefined {
  const spec = crd.spec as Obj | undefined;
  const names = spec?.names as Obj | undefined;
  const versions = (spec?.versions as Obj[] | undefined) ?? [];
  if (!spec || !names) return undefined;
  const served = versions.filter((v) => v.served !== false);
  if (served.length === 0) return undefined;
  const schemas: Record<string, Obj | undefined> = {};
  const printerColumns: Record<string, PrinterColumn[]> = {};
  let status = false;
  for (const v of served) {
    const name = v.name as string;
    schemas[name] = (v.schema as Obj | undefined)?.openAPIV3Schema as Obj | undefined;
    printerColumns[name] = (v.additionalPrinterColumns as PrinterColumn[] | undefined) ?? [];
    if ((v.subresources as Obj | undefined)?.status) status = true;
  }
  const kind = names.kind as string;
  return {
    group: spec.group as string,
    version: served[0]!.name as string,
    versions: served.map((v) => v.name as string),
    plural: names.plural as string,
    singular: (names.singular as string | undefined) ?? kind.toLowerCase(),
    kind,
    listKind: (names.listKind as string | undefined) ?? `${kind}List`,
    namespaced: spec.scope !== 'Cluster',
    shortNames: (names.shortNames as string[] | undefined) ?? [],
    categories: (names.categories as string[] | undefined) ?? [],
    status,
    subresources: [],
    builtin: false,
    schemas,
    printerColumns,
  };
}
