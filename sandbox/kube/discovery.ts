/**
 * Discovery documents (plain APIVersions / APIGroupList / APIResourceList: kubectl then fetches
 * every group-version list), the OpenAPI v3 documents kubectl's `apply --validate=strict` needs,
 * and `meta.k8s.io/v1 Table` rendering with printer columns.
 */
import { groupVersion, VERBS, type Obj, type PrinterColumn, type ResourceInfo } from './resources.js';
import { isObject } from './patch.js';

export function apiVersions(serverAddress: string): Obj {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

/** group → versions in serving order */
export function groupsOf(resources: ResourceInfo[]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const r of resources) {
    if (r.group === '') continue;
    const vs = groups.get(r.group) ?? [];
    for (const v of r.versions) if (!vs.includes(v)) vs.push(v);
    groups.set(r.group, vs);
  }
  return groups;
}

function apiGroup(name: string, versions: string[]): Obj {
  const list = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: list, preferredVersion: list[0] };
}

export function apiGroupList(resources: ResourceInfo[]): Obj {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: [...groupsOf(resources)].map(([n, vs]) => apiGroup(n, vs)) };
}

export function apiGroupDoc(resources: ResourceInfo[], group: string): Obj | undefined {
  const vs = groupsOf(resources).get(group);
  return vs ? { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(group, vs) } : undefined;
}

export function apiResourceList(resources: ResourceInfo[], group: string, version: string): Obj | undefined {
  const here = resources.filter((r) => r.group === group && r.versions.includes(version));
  if (here.length === 0 && !(group === '' && version === 'v1')) return undefined;
  const list: Obj[] = [];
  for (const r of here) {
    const base = { namespaced: r.namespaced, kind: r.kind };
    list.push({ name: r.plural, singularName: r.singular, ...base, verbs: r.review ? ['create'] : VERBS, ...(r.shortNames.length ? { shortNames: r.shortNames } : {}), ...(r.categories.length ? { categories: r.categories } : {}) });
    if (r.status) list.push({ name: `${r.plural}/status`, singularName: '', ...base, verbs: ['get', 'patch', 'update'] });
    if (r.subresources.includes('scale')) list.push({ name: `${r.plural}/scale`, singularName: '', namespaced: r.namespaced, group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] });
    if (r.subresources.includes('token')) list.push({ name: `${r.plural}/token`, singularName: '', namespaced: true, group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest', verbs: ['create'] });
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: groupVersion(group, version), resources: list };
}

export const AGGREGATED_DISCOVERY = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

/** Does the Accept header ask for aggregated discovery v2 (kubectl 1.30+ does)? */
export function wantsAggregated(accept: string): boolean {
  return accept.split(',').some((t) => {
    const params = t.split(';').map((x) => x.trim());
    return params.includes('g=apidiscovery.k8s.io') && params.includes('v=v2') && params.includes('as=APIGroupDiscoveryList');
  });
}

/**
 * Aggregated discovery (apidiscovery.k8s.io/v2): every group, version and resource in one answer,
 * for `/api` (core) or `/apis` (the rest). Served under its own content type, or kubectl reads it
 * as empty.
 */
export function aggregatedDiscovery(resources: ResourceInfo[], core: boolean): Obj {
  const groups = core ? new Map([['', ['v1']]]) : groupsOf(resources);
  const items = [...groups].map(([group, versions]) => ({
    metadata: core ? { creationTimestamp: null } : { name: group, creationTimestamp: null },
    versions: versions.map((version) => ({
      version,
      freshness: 'Current',
      resources: resources.filter((r) => r.group === group && r.versions.includes(version)).map((r) => {
        const responseKind = { group, version, kind: r.kind };
        const subresources: Obj[] = [];
        if (r.status) subresources.push({ subresource: 'status', responseKind, verbs: ['get', 'patch', 'update'] });
        if (r.subresources.includes('scale')) subresources.push({ subresource: 'scale', responseKind: { group: 'autoscaling', version: 'v1', kind: 'Scale' }, verbs: ['get', 'patch', 'update'] });
        if (r.subresources.includes('token')) subresources.push({ subresource: 'token', responseKind: { group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest' }, verbs: ['create'] });
        return {
          resource: r.plural, responseKind, scope: r.namespaced ? 'Namespaced' : 'Cluster', singularResource: r.singular,
          verbs: r.review ? ['create'] : VERBS,
          ...(r.shortNames.length ? { shortNames: r.shortNames } : {}), ...(r.categories.length ? { categories: r.categories } : {}),
          ...(subresources.length ? { subresources } : {}),
        };
      }),
    })),
  }));
  return { apiVersion: 'apidiscovery.k8s.io/v2', kind: 'APIGroupDiscoveryList', metadata: {}, items };
}

function gvPath(group: string, version: string): string {
  return group === '' ? `api/${version}` : `apis/${group}/${version}`;
}

/** `/openapi/v3`: one entry per group-version. */
export function openApiIndex(resources: ResourceInfo[], hash: string): Obj {
  const paths: Obj = {};
  for (const r of resources) for (const v of r.versions) paths[gvPath(r.group, v)] = { serverRelativeURL: `/openapi/v3/${gvPath(r.group, v)}?hash=${hash}` };
  return { paths };
}

function schemaName(r: ResourceInfo, version: string): string {
  const g = r.group === '' ? 'core' : r.group.split('.').reverse().join('.');
  return `${g}.${version}.${r.kind}`;
}

const QUERY = (name: string, description: string) => ({ name, in: 'query', description, schema: { type: 'string', uniqueItems: true } });
const WRITE_PARAMS = [
  QUERY('dryRun', 'When present, indicates that modifications should not be persisted.'),
  QUERY('fieldManager', 'fieldManager is a name associated with the actor or entity that is making these changes.'),
  QUERY('fieldValidation', 'fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields: Ignore, Warn or Strict.'),
];

/**
 * One group-version's OpenAPI v3 document. Patch operations carry x-kubernetes-group-version-kind
 * and the fieldValidation parameter (kubectl checks both before trusting server-side validation);
 * their request bodies name no strategic-merge content type, so kubectl computes built-in patches
 * from its compiled-in types and custom-resource patches as merge patches.
 */
export function openApiDocument(resources: ResourceInfo[], group: string, version: string): Obj | undefined {
  const here = resources.filter((r) => r.group === group && r.versions.includes(version));
  if (here.length === 0) return undefined;
  const paths: Obj = {};
  const schemas: Obj = {};
  for (const r of here) {
    const gvk = [{ group, version, kind: r.kind }];
    const name = schemaName(r, version);
    const ref = { $ref: `#/components/schemas/${name}` };
    const body = { content: { 'application/json': { schema: ref } } };
    const ok = { 200: { description: 'OK', content: { 'application/json': { schema: ref } } } };
    const op = (action: string, params: Obj[], withBody: boolean) => ({
      // operations carry one object, schemas a list (as the real server does)
      operationId: `${action}${r.kind}`, parameters: params, responses: ok, 'x-kubernetes-action': action, 'x-kubernetes-group-version-kind': gvk[0],
      ...(withBody ? { requestBody: body } : {}),
    });
    const item = {
      get: op('get', [], false),
      put: op('put', WRITE_PARAMS, true),
      patch: { ...op('patch', [...WRITE_PARAMS, QUERY('force', 'Force is going to "force" Apply requests.')], false), requestBody: { content: { 'application/json-patch+json': { schema: { type: 'object' } }, 'application/merge-patch+json': { schema: { type: 'object' } }, 'application/apply-patch+yaml': { schema: { type: 'object' } } } } },
      delete: op('delete', [QUERY('dryRun', 'dry run')], false),
    };
    const collection = { get: op('list', [], false), post: op('post', WRITE_PARAMS, true) };
    const base = `/${gvPath(group, version)}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.plural}`;
    paths[base] = collection;
    paths[`${base}/{name}`] = item;
    if (r.status) paths[`${base}/{name}/status`] = { get: op('get', [], false), put: op('put', WRITE_PARAMS, true), patch: { ...item.patch } };
    const crSchema = r.schemas?.[version];
    schemas[name] = {
      ...(isObject(crSchema) ? crSchema : { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }),
      'x-kubernetes-group-version-kind': gvk,
    };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'v1.32.0' },
    paths,
    components: { schemas },
  };
}

/** Kubernetes' HumanDuration, as the server prints ages in tables. */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (h < 24 * 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (d < 365 * 2) return `${d}d`;
  return `${Math.floor(d / 365)}y`;
}

function age(obj: Obj, now: number): string {
  const ts = (obj.metadata as Obj | undefined)?.creationTimestamp;
  return typeof ts === 'string' ? humanDuration(now - Date.parse(ts)) : '<unknown>';
}

/** A small JSONPath: `.a.b`, `[0]`, `[*]` (first), `[?(@.type=="Ready")]`. */
export function jsonPathFirst(obj: unknown, path: string): unknown {
  const re = /\.([A-Za-z0-9_-]+)|\[(\d+)\]|\[\*\]|\[\?\(@\.([A-Za-z0-9_.-]+)\s*==\s*["']([^"']*)["']\)\]/g;
  let cur: unknown = obj;
  let m: RegExpExecArray | null;
  const p = path.startsWith('{') ? path.slice(1, -1) : path;
  while ((m = re.exec(p)) !== null) {
    if (cur === undefined || cur === null) return undefined;
    if (m[1] !== undefined) cur = isObject(cur) ? cur[m[1]] : undefined;
    else if (m[2] !== undefined) cur = Array.isArray(cur) ? cur[Number(m[2])] : undefined;
    else if (m[3] !== undefined) cur = Array.isArray(cur) ? cur.find((x) => isObject(x) && String(jsonPathFirst(x, `.${m![3]}`)) === m![4]) : undefined;
    else cur = Array.isArray(cur) ? cur[0] : undefined;
  }
  return cur;
}

interface Column { def: Obj; cell: (o: Obj, now: number) => unknown }

const col = (name: string, type: string, cell: (o: Obj, now: number) => unknown, format = '', description = '', priority = 0): Column => ({
  def: { name, type, format, description: description || name, priority }, cell,
});
/** a column only `-o wide` shows */
const wide = (name: string, cell: (o: Obj) => unknown): Column => col(name, 'string', cell, '', '', 1);
const selectorText = (m: unknown) => (isObject(m) && Object.keys(m).length ? Object.entries(m).map(([k, v]) => `${k}=${String(v)}`).join(',') : '<none>');

const nameCol = col('Name', 'string', (o) => (o.metadata as Obj).name, 'name', 'Name must be unique within a namespace.');
const ageCol = col('Age', 'string', (o, now) => age(o, now), '', 'CreationTimestamp is a timestamp representing the server time when this object was created.');
const at = (o: Obj, p: string) => jsonPathFirst(o, p);
const count = (v: unknown) => (isObject(v) ? Object.keys(v).length : 0);

function portsOf(o: Obj): string {
  const ports = (at(o, '.spec.ports') as Obj[] | undefined) ?? [];
  return ports.length ? ports.map((p) => `${String(p.port)}${p.nodePort ? `:${String(p.nodePort)}` : ''}/${String(p.protocol ?? 'TCP')}`).join(',') : '<none>';
}

function builtinColumns(r: ResourceInfo): Column[] {
  switch (r.kind) {
    case 'Namespace': return [nameCol, col('Status', 'string', (o) => at(o, '.status.phase') ?? ''), ageCol];
    case 'ConfigMap': return [nameCol, col('Data', 'integer', (o) => count(o.data) + count(o.binaryData)), ageCol];
    case 'Secret': return [nameCol, col('Type', 'string', (o) => o.type ?? 'Opaque'), col('Data', 'integer', (o) => count(o.data)), ageCol];
    case 'ServiceAccount': return [nameCol, col('Secrets', 'integer', (o) => (Array.isArray(o.secrets) ? o.secrets.length : 0)), ageCol];
    case 'Service': return [nameCol, col('Type', 'string', (o) => at(o, '.spec.type') ?? 'ClusterIP'), col('Cluster-IP', 'string', (o) => at(o, '.spec.clusterIP') ?? '<none>'),
      col('External-IP', 'string', (o) => (at(o, '.status.loadBalancer.ingress[0].ip') as string | undefined) ?? ((at(o, '.spec.type') === 'LoadBalancer') ? '<pending>' : '<none>')), col('Port(s)', 'string', portsOf), ageCol,
      wide('Selector', (o) => selectorText(at(o, '.spec.selector')))];
    case 'Pod': return [nameCol,
      col('Ready', 'string', (o) => { const cs = (at(o, '.status.containerStatuses') as Obj[] | undefined) ?? []; const n = ((at(o, '.spec.containers') as unknown[] | undefined) ?? []).length; return `${cs.filter((c) => c.ready).length}/${n}`; }),
      col('Status', 'string', (o) => (o.metadata as Obj).deletionTimestamp ? 'Terminating' : at(o, '.status.phase') ?? 'Pending'), col('Restarts', 'string', () => '0'), ageCol,
      wide('IP', (o) => at(o, '.status.podIP') ?? '<none>'), wide('Node', (o) => at(o, '.spec.nodeName') ?? '<none>'),
      wide('Nominated Node', () => '<none>'), wide('Readiness Gates', () => '<none>')];
    case 'Deployment': return [nameCol, col('Ready', 'string', (o) => `${Number(at(o, '.status.readyReplicas') ?? 0)}/${Number(at(o, '.spec.replicas') ?? 1)}`),
      col('Up-to-date', 'integer', (o) => at(o, '.status.updatedReplicas') ?? 0), col('Available', 'integer', (o) => at(o, '.status.availableReplicas') ?? 0), ageCol,
      wide('Containers', (o) => ((at(o, '.spec.template.spec.containers') as Obj[] | undefined) ?? []).map((c) => c.name).join(',')),
      wide('Images', (o) => ((at(o, '.spec.template.spec.containers') as Obj[] | undefined) ?? []).map((c) => c.image).join(',')),
      wide('Selector', (o) => selectorText(at(o, '.spec.selector.matchLabels')))];
    case 'Lease': return [nameCol, col('Holder', 'string', (o) => at(o, '.spec.holderIdentity') ?? ''), ageCol];
    case 'Node': return [nameCol,
      col('Status', 'string', (o) => {
        const ready = ((at(o, '.status.conditions') as Obj[] | undefined) ?? []).find((c) => c.type === 'Ready')?.status === 'True' ? 'Ready' : 'NotReady';
        return at(o, '.spec.unschedulable') === true ? `${ready},SchedulingDisabled` : ready;
      }),
      col('Roles', 'string', (o) => Object.keys(((o.metadata as Obj).labels as Obj | undefined) ?? {}).filter((k) => k.startsWith('node-role.kubernetes.io/')).map((k) => k.slice(24)).join(',') || '<none>'),
      ageCol, col('Version', 'string', (o) => at(o, '.status.nodeInfo.kubeletVersion') ?? ''),
      wide('Internal-IP', (o) => ((at(o, '.status.addresses') as Obj[] | undefined) ?? []).find((a) => a.type === 'InternalIP')?.address ?? '<none>'),
      wide('OS-Image', (o) => at(o, '.status.nodeInfo.osImage') ?? ''), wide('Container-Runtime', (o) => at(o, '.status.nodeInfo.containerRuntimeVersion') ?? '')];
    case 'ReplicaSet': return [nameCol, col('Desired', 'integer', (o) => at(o, '.spec.replicas') ?? 1), col('Current', 'integer', (o) => at(o, '.status.replicas') ?? 0),
      col('Ready', 'integer', (o) => at(o, '.status.readyReplicas') ?? 0), ageCol];
    case 'PersistentVolumeClaim': return [nameCol, col('Status', 'string', (o) => at(o, '.status.phase') ?? 'Pending'), col('Volume', 'string', (o) => at(o, '.spec.volumeName') ?? ''),
      col('Capacity', 'string', (o) => at(o, '.status.capacity.storage') ?? ''), col('Storage Class', 'string', (o) => at(o, '.spec.storageClassName') ?? ''), ageCol];
    case 'PersistentVolume': return [nameCol, col('Capacity', 'string', (o) => at(o, '.spec.capacity.storage') ?? ''), col('Status', 'string', (o) => at(o, '.status.phase') ?? 'Available'),
      col('Claim', 'string', (o) => { const c = at(o, '.spec.claimRef') as Obj | undefined; return c ? `${String(c.namespace)}/${String(c.name)}` : ''; }), col('Storage Class', 'string', (o) => at(o, '.spec.storageClassName') ?? ''), ageCol];
    case 'CustomResourceDefinition': return [nameCol, col('Created At', 'date', (o) => (o.metadata as Obj).creationTimestamp)];
    case 'Event': return [col('Last Seen', 'string', (o, now) => { const t = (o.lastTimestamp ?? o.eventTime ?? (o.metadata as Obj).creationTimestamp) as string | undefined; return t ? humanDuration(now - Date.parse(t)) : ''; }),
      col('Type', 'string', (o) => o.type ?? ''), col('Reason', 'string', (o) => o.reason ?? ''),
      col('Object', 'string', (o) => { const ref = (o.involvedObject ?? o.regarding) as Obj | undefined; return ref ? `${String(ref.kind ?? '').toLowerCase()}/${String(ref.name ?? '')}` : ''; }),
      col('Message', 'string', (o) => o.message ?? o.note ?? '')];
    default: return [nameCol, ageCol];
  }
}

function customColumns(r: ResourceInfo, version: string): Column[] {
  const cols = r.printerColumns?.[version] ?? [];
  if (cols.length === 0) return [nameCol, ageCol];
  return [nameCol, ...cols.map((c: PrinterColumn): Column => ({
    def: { name: c.name, type: c.type, format: c.format ?? '', description: c.description ?? '', priority: c.priority ?? 0 },
    cell: (o, now) => {
      const v = jsonPathFirst(o, c.jsonPath);
      if (v === undefined || v === null) return null;
      // like the apiextensions server: dates are shown as ages
      if (c.type === 'date' && typeof v === 'string') return humanDuration(now - Date.parse(v));
      if (c.type === 'string' && typeof v !== 'string') return JSON.stringify(v);
      return v;
    },
  }))];
}

/** A meta.k8s.io/v1 Table of objects, rows carrying PartialObjectMetadata (kubectl -A needs it). */
export function toTable(r: ResourceInfo, version: string, objects: Obj[], resourceVersion: string, now = Date.now()): Obj {
  const columns = r.builtin ? builtinColumns(r) : customColumns(r, version);
  return {
    kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: { resourceVersion },
    columnDefinitions: columns.map((c) => c.def),
    rows: objects.map((o) => ({
      cells: columns.map((c) => c.cell(o, now)),
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}
