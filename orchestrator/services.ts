/**
 * What the REST API does, apart from HTTP: validate, check names and pre-flight, then write the
 * MeshService resource (state lives in Kubernetes; the controller acts on it). Every rejection
 * happens before the first write, so a rejected request changes nothing.
 */
import { isDeepStrictEqual } from 'node:util';
import { MixmeshError } from '../common/errors.js';
import { LABEL_SERVICE, serviceSelector } from '../common/labels.js';
import { canonicalize, toYamlStream } from '../common/yaml.js';
import type { MeshService } from '../descriptor/index.js';
import { checkNameConflicts, claimNames, refOf } from './conflicts.js';
import { Applier, diffApply, type ApplyPort } from '../clients/kube/index.js';
import { KINDS, PRUNABLE_KINDS, kindRank } from '../mesh-config/index.js';
import { listServiceEvents, watchServiceEvents, type ServiceEvent } from './events.js';
import { preflight } from './preflight.js';
import { asRecord, descriptorOf, meshServiceRef, meshServiceResource, operationId, serviceView, userLabels } from './resources.js';
import {
  FINALIZER, MESH_API_VERSION, MESH_KIND,
  type Generators, type KubeObject, type KubePort, type MeshServiceResource, type OperationStatus, type TackerPort,
} from './ports.js';

export interface Accepted {
  namespace: string;
  name: string;
  generation: number;
  operationId: string;
  /** a PUT of what is already stored: nothing was written (the operation is the last one) */
  unchanged?: boolean;
}

export interface PlanChange {
  action: 'create' | 'update' | 'delete' | 'unchanged';
  kind: string;
  namespace?: string;
  name: string;
  diff?: { path: string; from?: unknown; to?: unknown }[];
}

export interface Plan {
  changes: PlanChange[];
  tacker: { action: 'create' | 'unchanged'; vnfInstanceName: string; vnfInstanceId?: string; create: Record<string, unknown>; instantiate: Record<string, unknown> }[];
  vms: { name: string; version: string; index: number; vnfInstanceName: string }[];
}

/** kinds mixmesh renders and prunes (the kind table), for plan; Namespaces are never pruned */
const GENERATED_KINDS = PRUNABLE_KINDS.filter((k) => k.rendered);

/** what `GET …/mesh-config` shows: the kinds of mesh.yaml, WorkloadEntries included */
const MESH_KINDS = KINDS.filter((k) => k.file === 'mesh');

/** finished operations kept in memory, so an operation stays readable after its service is gone */
export class OperationLog {
  private readonly ops = new Map<string, OperationStatus>();
  constructor(private readonly max = 1000) {}
  put(op: OperationStatus): void {
    this.ops.delete(op.id);
    this.ops.set(op.id, structuredClone(op));
    while (this.ops.size > this.max) this.ops.delete(this.ops.keys().next().value!);
  }
  get(id: string): OperationStatus | undefined {
    return this.ops.get(id);
  }
}

export interface ServiceManagerDeps {
  kube: KubePort;
  generators: Generators;
  tacker?: TackerPort | undefined;
  operations: OperationLog;
  /** namespaces only an admin may deploy to (the mesh's and the cluster's own); default PROTECTED_NAMESPACES */
  protectedNamespaces?: readonly string[];
}

/** who asks: the API passes its caller; in-process callers (tests, the demo) pass nothing and may do all */
export interface Access {
  /** the caller's name, for messages */
  name: string;
  /** an admin may deploy into protected namespaces and run as ServiceAccounts that are not the service's */
  admin: boolean;
  /** the namespaces the caller may see and change; absent: all */
  namespaces?: readonly string[] | undefined;
}

export const PROTECTED_NAMESPACES: readonly string[] = ['istio-system', 'kube-system', 'kube-public', 'kube-node-lease', 'mixmesh-system'];

/** the annotation with which whoever owns a ServiceAccount lets services use it: names, comma-separated, or `*` */
export const ALLOWED_SERVICES_ANNOTATION = 'mixmesh.io/allowed-services';

export function mayUseNamespace(access: Access | undefined, namespace: string): boolean {
  return !access?.namespaces || access.namespaces.includes(namespace);
}

/** 403 unless the caller may use the namespace */
export function checkNamespaceAccess(access: Access | undefined, namespace: string): void {
  if (mayUseNamespace(access, namespace)) return;
  throw new MixmeshError('FORBIDDEN', `token "${access!.name}" may not use namespace ${namespace} (it may use: ${access!.namespaces!.join(', ')})`, { errors: [{ pointer: '/metadata/namespace', message: `namespace ${namespace} is outside the token's namespaces` }] });
}

export class ServiceManager {
  /** the one applier's reading of what a prune would delete (plan) */
  private readonly applier: Applier;

  constructor(private readonly deps: ServiceManagerDeps) {
    this.applier = new Applier(deps.kube as ApplyPort);
  }

  /** the path decides namespace and name: a different one in the body is a 400 at that pointer */
  private fitToPath(input: unknown, namespace: string, name: string): unknown {
    const doc = asRecord(input);
    if (!doc) return input; // validation reports it
    const metadata = asRecord(doc.metadata) ?? {};
    if (metadata.name !== undefined && metadata.name !== name) {
      throw new MixmeshError('DESCRIPTOR_INVALID', `metadata.name "${String(metadata.name)}" does not match the path (${name})`, { errors: [{ pointer: '/metadata/name', message: `"${String(metadata.name)}" must equal the name in the path, "${name}"` }] });
    }
    if (metadata.namespace !== undefined && metadata.namespace !== namespace) {
      throw new MixmeshError('DESCRIPTOR_INVALID', `metadata.namespace "${String(metadata.namespace)}" does not match the path (${namespace})`, { errors: [{ pointer: '/metadata/namespace', message: `"${String(metadata.namespace)}" must equal the namespace in the path, "${namespace}"` }] });
    }
    return { ...doc, metadata: { ...metadata, name, namespace } };
  }

  private validate(input: unknown): MeshService {
    const result = this.deps.generators.validate(input);
    if (!result.ok) {
      throw new MixmeshError(result.unreadable ? 'DESCRIPTOR_UNREADABLE' : 'DESCRIPTOR_INVALID', result.problems.map((p) => `${p.pointer}: ${p.message}`).join('; '), { errors: result.problems });
    }
    return result.value;
  }

  /**
   * every check a write must pass; returns the validated service. The names are claimed last
   * (conflicts.ts: atomic, so of two services racing for one name exactly one gets NAME_CONFLICT),
   * after the namespace exists.
   */
  private async admit(input: unknown, access?: Access): Promise<MeshService> {
    const service = this.validate(input);
    checkNamespaceAccess(access, service.metadata.namespace);
    const objects = this.deps.generators.render(service).filter((o) => o.kind !== 'Namespace');
    await this.checkIdentity(service, objects, access);
    await checkNameConflicts(this.deps.kube, service.metadata.name, objects, { dryRun: true });
    await preflight(service, this.deps.kube, this.deps.tacker);
    await this.ensureNamespace(service);
    await claimNames(this.deps.kube, service.metadata.name, service.metadata.namespace, objects);
    return service;
  }

  /**
   * Safety by design (issue 8, defect 10): a workload in a mesh system namespace, or running as a
   * ServiceAccount that is not this service's (e.g. istio-ingressgateway-service-account, the
   * gateway's identity), takes an identity the mesh trusts. Only an admin may do that, or the
   * ServiceAccount's owner by annotating it with `mixmesh.io/allowed-services`.
   */
  private async checkIdentity(service: MeshService, objects: readonly KubeObject[], access: Access | undefined): Promise<void> {
    if (!access || access.admin) return;
    const ns = service.metadata.namespace;
    if ((this.deps.protectedNamespaces ?? PROTECTED_NAMESPACES).includes(ns)) {
      throw new MixmeshError('NAMESPACE_PROTECTED', `namespace ${ns} belongs to the mesh or the cluster; only an admin token may deploy there`, { errors: [{ pointer: '/metadata/namespace', message: `${ns} is a protected namespace (admin only)` }] });
    }
    const problems: { pointer: string; message: string }[] = [];
    const accounts = objects.filter((o) => o.kind === 'ServiceAccount');
    const live = await Promise.all(accounts.map((o) => this.deps.kube.get({ apiVersion: 'v1', kind: 'ServiceAccount', namespace: ns, name: o.metadata.name })));
    live.forEach((sa, i) => {
      if (!sa || sa.metadata.labels?.[LABEL_SERVICE] === service.metadata.name) return;
      const allowed = (sa.metadata.annotations?.[ALLOWED_SERVICES_ANNOTATION] ?? '').split(',').map((x) => x.trim());
      if (allowed.includes('*') || allowed.includes(service.metadata.name)) return;
      const name = accounts[i]!.metadata.name;
      const index = service.spec.microservices.findIndex((m) => (m.serviceAccount ?? m.name) === name);
      const owner = sa.metadata.labels?.[LABEL_SERVICE];
      problems.push({ pointer: index >= 0 ? `/spec/microservices/${index}/serviceAccount` : '', message: `ServiceAccount ${ns}/${name} exists and ${owner ? `belongs to service "${owner}"` : 'was not created by mixmesh for this service'}; an admin token, or the annotation ${ALLOWED_SERVICES_ANNOTATION}: ${service.metadata.name} on it, allows it` });
    });
    if (problems.length) throw new MixmeshError('SERVICE_ACCOUNT_FOREIGN', problems.map((p) => p.message).join('; '), { errors: problems });
  }

  /** the MeshService lives in the service's namespace, so the namespace must exist first */
  private async ensureNamespace(service: MeshService): Promise<void> {
    const ns = service.metadata.namespace;
    if (await this.deps.kube.get({ apiVersion: 'v1', kind: 'Namespace', name: ns })) return;
    try {
      // exactly the Namespace `mixmesh render` prints (labels, istio.io/rev with a revision, created-by)
      const g = this.deps.generators;
      await this.deps.kube.create(g.namespace ? g.namespace(service) : g.render(service).find((o) => o.kind === 'Namespace')!);
    } catch (e) {
      // someone else created it meanwhile: then it is not ours, and that is fine
      if (!(e instanceof MixmeshError && e.code === 'ALREADY_EXISTS')) throw e;
    }
  }

  private accepted(r: KubeObject): Accepted {
    return { namespace: r.metadata.namespace!, name: r.metadata.name, generation: r.metadata.generation ?? 1, operationId: operationId(r) };
  }

  /** a descriptor's bytes (or text) → the parsed document; unreadable input is a 400 DESCRIPTOR_UNREADABLE */
  parseText(text: string | Uint8Array): unknown {
    const parsed = this.deps.generators.parse(text);
    if (!parsed.ok) throw new MixmeshError('DESCRIPTOR_UNREADABLE', parsed.problems.map((p) => `${p.pointer}: ${p.message}`).join('; '), { errors: parsed.problems });
    return parsed.value;
  }

  /** POST /v1/services */
  async create(input: unknown, access?: Access): Promise<Accepted> {
    const doc = asRecord(input);
    const meta = asRecord(doc?.metadata);
    const name = typeof meta?.name === 'string' ? meta.name : undefined;
    const namespace = typeof meta?.namespace === 'string' ? meta.namespace : 'default';
    const fitted = doc && meta ? { ...doc, metadata: { ...meta, namespace } } : input;
    const service = await this.admit(fitted, access);
    if (name && (await this.deps.kube.get(meshServiceRef(namespace, name)))) {
      throw new MixmeshError('ALREADY_EXISTS', `service ${namespace}/${name} already exists; use PUT /v1/services/${namespace}/${name} to update it`);
    }
    const created = await this.deps.kube.create(meshServiceResource(doc!, service));
    return this.accepted(created);
  }

  /** PUT /v1/services/{ns}/{name}: create or update; an unchanged descriptor writes nothing */
  async put(namespace: string, name: string, input: unknown, access?: Access): Promise<Accepted> {
    checkNamespaceAccess(access, namespace);
    const fitted = this.fitToPath(input, namespace, name) as Record<string, unknown>;
    const service = await this.admit(fitted, access);
    const desired = meshServiceResource(fitted, service);
    const live = (await this.deps.kube.get(meshServiceRef(namespace, name))) as MeshServiceResource | undefined;
    if (!live) {
      return this.accepted(await this.deps.kube.create(desired));
    }
    if (live.metadata.deletionTimestamp) throw new MixmeshError('ALREADY_EXISTS', `service ${namespace}/${name} is being deleted; apply it again when it is gone`);
    if (isDeepStrictEqual(live.spec, desired.spec) && isDeepStrictEqual(userLabels(live.metadata.labels), service.metadata.labels)) {
      // nothing to write, unless the last try of this generation failed, or a VM of it was lost
      // outside mixmesh and not recreated (vm.recreate: false): then try it again
      const vmLost = live.status?.phase === 'Degraded' && live.status.conditions?.some((c) => c.type === 'Ready' && c.reason === 'VnfLost');
      if ((live.status?.phase === 'Failed' || vmLost) && live.status?.observedGeneration === live.metadata.generation) {
        await this.requeue(live);
        return this.accepted(live);
      }
      return { ...this.accepted(live), unchanged: true };
    }
    const updated = await this.deps.kube.replace({ ...live, metadata: { ...live.metadata, labels: desired.metadata.labels!, finalizers: [...new Set([...(live.metadata.finalizers ?? []), FINALIZER])] }, spec: desired.spec });
    return this.accepted(updated);
  }

  private async mustGet(namespace: string, name: string): Promise<MeshServiceResource> {
    const live = (await this.deps.kube.get(meshServiceRef(namespace, name))) as MeshServiceResource | undefined;
    if (!live) throw new MixmeshError('NOT_FOUND', `service ${namespace}/${name} does not exist`);
    return live;
  }

  /** PUT …/connections: replaces only spec.connections, validated against the stored microservices */
  async putConnections(namespace: string, name: string, body: unknown, access?: Access): Promise<Accepted> {
    checkNamespaceAccess(access, namespace);
    const live = await this.mustGet(namespace, name);
    const b = asRecord(body);
    if (!b || !Array.isArray(b.connections)) {
      throw new MixmeshError('BAD_REQUEST', 'the body must be {"connections": [...]}', { errors: [{ pointer: '/connections', message: 'must be a list of connections' }] });
    }
    const extra = Object.keys(b).filter((k) => k !== 'connections');
    if (extra.length) throw new MixmeshError('BAD_REQUEST', `unknown fields ${extra.join(', ')}`, { errors: extra.map((k) => ({ pointer: `/${k}`, message: 'unknown field (allowed: connections)' })) });
    const descriptor = descriptorOf(live);
    const spec = { ...(descriptor.spec as Record<string, unknown>), connections: b.connections };
    return this.put(namespace, name, { ...descriptor, spec }, access);
  }

  /** POST …/plan and /v1/plan: a dry run; nothing is written */
  async plan(input: unknown, path?: { namespace: string; name: string }, access?: Access): Promise<Plan> {
    if (path) checkNamespaceAccess(access, path.namespace);
    const fitted = path ? this.fitToPath(input, path.namespace, path.name) : input;
    const service = this.validate(fitted);
    checkNamespaceAccess(access, service.metadata.namespace);
    const objects = this.deps.generators.render(service).filter((o) => o.kind !== 'Namespace');
    const live = await checkNameConflicts(this.deps.kube, service.metadata.name, objects, { dryRun: true });
    // the same pre-flight as apply: a plan that apply would refuse is refused (422) too
    await preflight(service, this.deps.kube, this.deps.tacker);
    const changes: PlanChange[] = objects.map((o, i) => {
      const l = live[i];
      const base = { kind: o.kind, name: o.metadata.name, ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}) };
      if (!l) return { action: 'create', ...base };
      if (o.kind === 'ServiceAccount' && l.metadata.labels?.['mixmesh.io/service'] !== service.metadata.name) return { action: 'unchanged', ...base };
      // what an apply would change, removals of fields mixmesh applied before included
      const diff = diffApply(l, o);
      return diff.length === 0 ? { action: 'unchanged', ...base } : { action: 'update', ...base, diff };
    });
    // what the prune after an apply would delete: the applier's own reading (clients/kube `stale`)
    const stale = await this.applier.stale(serviceSelector(service.metadata.name), objects, { namespace: service.metadata.namespace, kinds: GENERATED_KINDS });
    for (const l of stale) changes.push({ action: 'delete', kind: l.kind, namespace: l.metadata.namespace!, name: l.metadata.name });
    const plans = this.deps.generators.planTacker(service);
    const tacker: Plan['tacker'] = [];
    for (const p of plans) {
      const existing = this.deps.tacker ? await this.deps.tacker.listVnfInstancesByName(p.vnfInstanceName) : [];
      tacker.push({ action: existing.length ? 'unchanged' : 'create', vnfInstanceName: p.vnfInstanceName, ...(existing[0] ? { vnfInstanceId: existing[0].id } : {}), create: canonicalize(p.create) as unknown as Record<string, unknown>, instantiate: canonicalize(p.instantiate) as unknown as Record<string, unknown> });
    }
    return { changes, tacker, vms: plans.map((p) => ({ name: p.identity.name, version: p.identity.version, index: p.identity.index, vnfInstanceName: p.vnfInstanceName })) };
  }

  async list(namespace?: string, access?: Access): Promise<Record<string, unknown>[]> {
    if (namespace) checkNamespaceAccess(access, namespace);
    const items = ((await this.deps.kube.list(MESH_API_VERSION, MESH_KIND, namespace ? { namespace } : {})) as MeshServiceResource[]).filter((r) => mayUseNamespace(access, r.metadata.namespace!));
    items.sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
    return items.map((r) => serviceView(r));
  }

  async get(namespace: string, name: string): Promise<Record<string, unknown>> {
    return serviceView(await this.mustGet(namespace, name));
  }

  /** DELETE: the finalizer holds the resource while the controller tears everything down */
  async delete(namespace: string, name: string): Promise<Accepted> {
    const live = await this.mustGet(namespace, name);
    await this.deps.kube.delete(meshServiceRef(namespace, name));
    return { namespace, name, generation: live.metadata.generation ?? 1, operationId: `${live.metadata.uid}-delete` };
  }

  /** the live status first (any replica may have run it); the in-memory log once the service is gone */
  async operation(id: string, access?: Access): Promise<OperationStatus> {
    const m = /^([0-9a-f-]{36})-(\d+|delete)$/.exec(id);
    if (m) {
      const all = (await this.deps.kube.list(MESH_API_VERSION, MESH_KIND)) as MeshServiceResource[];
      const owner = all.find((r) => r.metadata.uid === m[1]);
      // a token limited to namespaces sees only their operations (one of a deleted service's is not known to be theirs)
      if (access?.namespaces && !(owner && mayUseNamespace(access, owner.metadata.namespace!))) throw new MixmeshError('NOT_FOUND', `operation ${id} does not exist`);
      if (owner) {
        const op = owner.status?.operations?.find((o) => o.id === id);
        if (op) return op;
        // accepted, but the controller has not picked it up yet
        if (m[2] === 'delete' ? owner.metadata.deletionTimestamp : Number(m[2]) === owner.metadata.generation) return { id, state: 'Queued', steps: [] };
      }
    }
    const logged = this.deps.operations.get(id);
    if (logged) return logged;
    throw new MixmeshError('NOT_FOUND', `operation ${id} does not exist`);
  }

  /** an unchanged PUT of a Failed service asks for another try of the same generation */
  private async requeue(live: MeshServiceResource): Promise<void> {
    const id = operationId(live);
    const ops = (live.status?.operations ?? []).filter((o) => o.id !== id);
    const queued: OperationStatus = { id, state: 'Queued', steps: [] };
    await this.deps.kube.replaceStatus({ ...live, status: { ...live.status, phase: 'Pending', operations: [...ops, queued] } });
    this.deps.operations.put(queued);
  }

  async events(namespace: string, name: string): Promise<ServiceEvent[]> {
    await this.mustGet(namespace, name);
    return listServiceEvents(this.deps.kube, namespace, name);
  }

  watchEvents(namespace: string, name: string, onEvent: (e: ServiceEvent) => void): Promise<() => void> {
    return watchServiceEvents(this.deps.kube, namespace, name, onEvent);
  }

  /** the live mesh objects as one YAML stream (for `istioctl analyze -f -`) */
  async meshConfig(namespace: string, name: string): Promise<string> {
    await this.mustGet(namespace, name);
    const selector = serviceSelector(name);
    const objects: KubeObject[] = [];
    for (const { apiVersion, kind } of MESH_KINDS) {
      for (const o of await this.deps.kube.list(apiVersion, kind, { namespace, labelSelector: selector })) {
        objects.push({ apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata.name, namespace: o.metadata.namespace!, labels: o.metadata.labels ?? {} }, spec: o.spec });
      }
    }
    objects.sort((a, b) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`));
    return objects.length ? toYamlStream(objects) : '';
  }

  /**
   * the live objects mixmesh generated for the service (and its WorkloadEntries), each with its
   * YAML, for the console's node and edge details, in the kind table's order, then by name;
   * status kept, managedFields dropped
   */
  async objects(namespace: string, name: string): Promise<{ apiVersion: string; kind: string; name: string; namespace?: string; labels: Record<string, string>; status?: unknown; yaml: string }[]> {
    await this.mustGet(namespace, name);
    const selector = serviceSelector(name);
    const out: { apiVersion: string; kind: string; name: string; namespace?: string; labels: Record<string, string>; status?: unknown; yaml: string }[] = [];
    // every kind mixmesh makes for a service (the kind table's prunable rows: WorkloadEntries included), in its order
    for (const { apiVersion, kind } of PRUNABLE_KINDS) {
      for (const o of await this.deps.kube.list(apiVersion, kind, { namespace, labelSelector: selector })) {
        const shown: KubeObject = { apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata.name, namespace: o.metadata.namespace!, labels: o.metadata.labels ?? {} }, spec: o.spec, ...(o.status ? { status: o.status } : {}) };
        out.push({ apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, namespace: o.metadata.namespace!, labels: o.metadata.labels ?? {}, ...(o.status ? { status: o.status } : {}), yaml: toYamlStream([shown]) });
      }
    }
    out.sort((a, b) => kindRank(a.kind) - kindRank(b.kind) || a.name.localeCompare(b.name));
    return out;
  }
}

export { refOf };
