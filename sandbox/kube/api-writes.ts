/**
 * The Kubernetes API emulator's writes (the lowest layer of KubeApi): the resource registry,
 * create / update / patch (merge, JSON, strategic, server-side apply) / delete with the API's
 * defaulting, validation (schemas, CEL, names), managed fields, generation, finalizers, and the
 * internal writes the seed and the controllers use (never counted, never refused for status).
 * Moved here unchanged from api.ts; the request handling is api.ts, admission api-admission.ts,
 * TokenReview and TokenRequest api-tokens.ts.
 */
import { randomUUID, randomBytes } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { ApiError, qualified, alreadyExists, badRequest, conflict, invalid, notFound } from './errors.js';
import { BUILTIN_RESOURCES, groupVersion, listTypeFor, resourceFromCrd, storeKey, type Obj, type ResourceInfo } from './resources.js';
import { Store, metaOf } from './store.js';
import { clone, deepEqual, isObject, jsonPatch, mergePatch, strategicMerge, type ListTypeOf } from './patch.js';
import { serverSideApply, trackUpdate, type ManagedFieldsEntry, type Part } from './fields.js';
import { structuralProblems, validateAgainstSchema, type Cause } from './schema.js';
import { celCauses } from './crd-cel.js';
import type { Pki } from './pki.js';

export type ExtraValidator = (obj: Obj) => string[];

export interface ApiOptions {
  pki: Pki;
  extraValidators: Map<string, ExtraValidator>;
  serverAddress: () => string;
}

export const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

export function nowIso(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface WriteContext {
  dryRun: boolean;
  manager: string;
  fieldValidation: string;
  warnings: string[];
  /** fieldManager was given in the query (apply requires it) */
  managerGiven: boolean;
}

export interface Target {
  r: ResourceInfo;
  version: string;
  namespace?: string;
  name?: string;
  sub?: string;
}

export class KubeWrites {
  readonly store = new Store();
  protected readonly resources = new Map<string, ResourceInfo>();
  /** called after every stored change (persistence) */
  onChange: () => void = () => undefined;

  constructor(protected readonly opts: ApiOptions) {
    for (const r of BUILTIN_RESOURCES) this.resources.set(storeKey(r), r);
  }

  // ---------- registry ----------

  allResources(): ResourceInfo[] {
    return [...this.resources.values()];
  }

  resource(group: string, plural: string): ResourceInfo | undefined {
    return this.resources.get(`${group}/${plural}`);
  }

  resourceByKind(apiVersion: string, kind: string): ResourceInfo | undefined {
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') as [string, string] : ['', apiVersion];
    return this.allResources().find((r) => r.group === group && r.kind === kind && r.versions.includes(version));
  }

  /** (Re-)register the resource a CRD defines; called for every stored CRD. */
  registerCrd(crd: Obj): void {
    const r = resourceFromCrd(crd);
    if (r) this.resources.set(storeKey(r), r);
  }

  // ---------- reads the writes share ----------

  protected present(r: ResourceInfo, version: string, obj: Obj): Obj {
    return { ...obj, apiVersion: groupVersion(r.group, version), kind: r.kind };
  }

  protected selected(t: Target, q: URLSearchParams): (o: Obj) => boolean {
    const labels = parseLabelSelector(q.get('labelSelector') ?? '');
    const fields = parseFieldSelector(q.get('fieldSelector') ?? '');
    return (o) => (t.namespace === undefined || metaOf(o).namespace === t.namespace) && labels(((metaOf(o).labels ?? {}) as Record<string, string>)) && fields(o);
  }

  // ---------- writes ----------

  protected listTypeOf(r: ResourceInfo, version: string): ListTypeOf {
    return (names) => listTypeFor(r, version, names);
  }

  protected checkNamespace(r: ResourceInfo, namespace: string | undefined, name: string): void {
    if (!r.namespaced) return;
    const ns = this.store.get('/namespaces', undefined, namespace!);
    if (!ns) throw new ApiError(404, 'NotFound', `namespaces "${namespace}" not found`, { name: namespace, kind: 'namespaces' });
    if (metaOf(ns).deletionTimestamp) throw new ApiError(403, 'Forbidden', `${qualified(r)} "${name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`, { name: namespace, kind: 'namespaces', causes: [{ reason: 'NamespaceTerminating', message: `namespace ${namespace} is being terminated`, field: 'metadata.namespace' }] });
  }

  /** Kind-specific defaults and checks shared by create and update. */
  protected normalize(r: ResourceInfo, version: string, obj: Obj, old: Obj | undefined, ctx: WriteContext): void {
    const name = String(metaOf(obj).name);
    const causes: Cause[] = [];
    const meta = metaOf(obj);
    for (const field of ['labels', 'annotations'] as const) {
      const m = meta[field];
      if (m !== undefined && (!isObject(m) || Object.values(m).some((v) => typeof v !== 'string'))) causes.push({ reason: 'FieldValueInvalid', field: `metadata.${field}`, message: 'Invalid value: must be a map of strings' });
    }
    if (r.builtin) {
      switch (r.kind) {
        case 'Secret': {
          if (isObject(obj.stringData)) {
            const data = isObject(obj.data) ? obj.data : {};
            for (const [k, v] of Object.entries(obj.stringData)) data[k] = Buffer.from(String(v)).toString('base64');
            obj.data = data;
            delete obj.stringData;
          }
          obj.type ??= 'Opaque';
          break;
        }
        case 'Service': {
          const spec = (obj.spec ??= {}) as Obj;
          spec.type ??= 'ClusterIP';
          if (old && isObject(old.spec) && old.spec.clusterIP) spec.clusterIP = old.spec.clusterIP;
          if (spec.clusterIP === undefined) spec.clusterIP = `10.96.${Math.floor(Math.random() * 250) + 1}.${Math.floor(Math.random() * 250) + 1}`;
          spec.clusterIPs ??= spec.clusterIP === 'None' ? ['None'] : [spec.clusterIP];
          const ports = Array.isArray(spec.ports) ? spec.ports as Obj[] : [];
          const oldPorts = ((old?.spec as Obj | undefined)?.ports as Obj[] | undefined) ?? [];
          ports.forEach((p, i) => {
            if (typeof p.port !== 'number') causes.push({ reason: 'FieldValueRequired', field: `spec.ports[${i}].port`, message: 'Required value' });
            p.protocol ??= 'TCP';
            p.targetPort ??= p.port;
            if ((spec.type === 'NodePort' || spec.type === 'LoadBalancer') && p.nodePort === undefined) {
              p.nodePort = oldPorts.find((o) => o.port === p.port)?.nodePort ?? 30000 + Math.floor(Math.random() * 2768);
            }
          });
          if (!obj.status) obj.status = { loadBalancer: {} };
          break;
        }
        case 'Deployment': {
          const spec = (obj.spec ??= {}) as Obj;
          spec.replicas ??= 1;
          const selector = (spec.selector as Obj | undefined)?.matchLabels as Record<string, string> | undefined;
          const tmplLabels = ((spec.template as Obj | undefined)?.metadata as Obj | undefined)?.labels as Record<string, string> | undefined;
          if (!selector) causes.push({ reason: 'FieldValueRequired', field: 'spec.selector', message: 'Required value' });
          else if (!Object.entries(selector).every(([k, v]) => tmplLabels?.[k] === v)) causes.push({ reason: 'FieldValueInvalid', field: 'spec.template.metadata.labels', message: `Invalid value: ${JSON.stringify(tmplLabels ?? {})}: \`selector\` does not match template \`labels\`` });
          const containers = ((spec.template as Obj | undefined)?.spec as Obj | undefined)?.containers;
          if (!Array.isArray(containers) || containers.length === 0) causes.push({ reason: 'FieldValueRequired', field: 'spec.template.spec.containers', message: 'Required value' });
          else (containers as Obj[]).forEach((c, i) => {
            if (typeof c.name !== 'string') causes.push({ reason: 'FieldValueRequired', field: `spec.template.spec.containers[${i}].name`, message: 'Required value' });
            if (typeof c.image !== 'string') causes.push({ reason: 'FieldValueRequired', field: `spec.template.spec.containers[${i}].image`, message: 'Required value' });
          });
          if (old && !deepEqual((old.spec as Obj | undefined)?.selector, spec.selector)) causes.push({ reason: 'FieldValueInvalid', field: 'spec.selector', message: `Invalid value: ${JSON.stringify(spec.selector)}: field is immutable` });
          obj.status ??= {};
          break;
        }
        case 'Namespace': {
          meta.labels = { ...(meta.labels as Obj | undefined), 'kubernetes.io/metadata.name': name };
          if (!old) { obj.spec = { finalizers: ['kubernetes'] }; obj.status = { phase: 'Active' }; }
          break;
        }
        case 'ConfigMap': {
          if (obj.data !== undefined && (!isObject(obj.data) || Object.values(obj.data).some((v) => typeof v !== 'string'))) causes.push({ reason: 'FieldValueInvalid', field: 'data', message: 'Invalid value: must be a map of strings' });
          break;
        }
        case 'Pod': {
          if (!old) obj.status = { phase: 'Pending', ...(isObject(obj.status) ? obj.status : {}) };
          break;
        }
        case 'CustomResourceDefinition': this.checkCrd(obj, name, causes); break;
        default: break;
      }
    } else {
      const schema = r.schemas?.[version];
      if (schema) {
        const check = validateAgainstSchema(obj, schema);
        causes.push(...check.causes);
        // the CRD's CEL rules, once the object has the right shape
        if (check.causes.length === 0) causes.push(...celCauses(schema, obj, old));
        if (check.unknownFields.length) {
          if (ctx.fieldValidation === 'Strict') throw badRequest(`${r.kind} in version "${version}" cannot be handled as a ${r.kind}: strict decoding error: ${check.unknownFields.map((f) => `unknown field "${f}"`).join(', ')}`);
          if (ctx.fieldValidation !== 'Ignore') ctx.warnings.push(...check.unknownFields.map((f) => `unknown field "${f}"`));
        }
      }
    }
    const extra = this.opts.extraValidators.get(`${groupVersion(r.group, version)}/${r.kind}`);
    if (extra && causes.length === 0) {
      for (const line of extra(obj)) {
        const i = line.indexOf(': ');
        const pointer = i >= 0 ? line.slice(0, i) : '';
        causes.push({ reason: 'FieldValueInvalid', field: pointerToField(pointer), message: i >= 0 ? line.slice(i + 2) : line });
      }
    }
    if (causes.length) throw invalid(r, name, causes);
  }

  protected checkCrd(obj: Obj, name: string, causes: Cause[]): void {
    const spec = obj.spec as Obj | undefined;
    const names = spec?.names as Obj | undefined;
    if (!spec || typeof spec.group !== 'string' || spec.group === '') causes.push({ reason: 'FieldValueRequired', field: 'spec.group', message: 'Required value' });
    if (!names || typeof names.plural !== 'string') causes.push({ reason: 'FieldValueRequired', field: 'spec.names.plural', message: 'Required value' });
    if (!names || typeof names.kind !== 'string') causes.push({ reason: 'FieldValueRequired', field: 'spec.names.kind', message: 'Required value' });
    if (spec && !['Namespaced', 'Cluster'].includes(String(spec.scope))) causes.push({ reason: 'FieldValueNotSupported', field: 'spec.scope', message: `Unsupported value: "${String(spec.scope ?? '')}": supported values: "Cluster", "Namespaced"` });
    if (spec && names && name !== `${String(names.plural)}.${String(spec.group)}`) causes.push({ reason: 'FieldValueInvalid', field: 'metadata.name', message: `Invalid value: "${name}": must be spec.names.plural+"."+spec.group` });
    const versions = (spec?.versions as Obj[] | undefined) ?? [];
    if (versions.length === 0) causes.push({ reason: 'FieldValueInvalid', field: 'spec.versions', message: 'Invalid value: null: must have exactly one version marked as storage version' });
    else if (versions.filter((v) => v.storage === true).length !== 1) causes.push({ reason: 'FieldValueInvalid', field: 'spec.versions', message: `Invalid value: ${JSON.stringify(versions.map((v) => v.name))}: must have exactly one version marked as storage version` });
    versions.forEach((v, i) => {
      const schema = (v.schema as Obj | undefined)?.openAPIV3Schema;
      causes.push(...structuralProblems(schema, `spec.versions[${i}].schema.openAPIV3Schema`));
    });
    if (causes.length === 0 && spec && names) {
      const other = this.resource(String(spec.group), String(names.plural));
      if (other && other.builtin) causes.push({ reason: 'FieldValueInvalid', field: 'spec.names.plural', message: 'Invalid value: is a built-in resource' });
      // an unchanged condition keeps its transition time, so a no-op re-apply stays a no-op
      const before = ((isObject(obj.status) ? obj.status.conditions : undefined) as Obj[] | undefined) ?? [];
      const since = (type: string) => (before.find((c) => c.type === type && c.status === 'True')?.lastTransitionTime as string | undefined) ?? nowIso();
      obj.status = {
        acceptedNames: { ...names, singular: names.singular ?? String(names.kind).toLowerCase(), listKind: names.listKind ?? `${String(names.kind)}List` },
        conditions: [
          { type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found', lastTransitionTime: since('NamesAccepted') },
          { type: 'Established', status: 'True', reason: 'InitialNamesAccepted', message: 'the initial names have been accepted', lastTransitionTime: since('Established') },
        ],
        storedVersions: versions.filter((v) => v.storage === true).map((v) => v.name),
      };
    }
  }

  protected stored(r: ResourceInfo, obj: Obj, type: 'ADDED' | 'MODIFIED'): Obj {
    metaOf(obj).resourceVersion = String(this.store.nextRv());
    this.store.put(storeKey(r), obj, type);
    if (r.kind === 'CustomResourceDefinition' && r.builtin) this.registerCrd(obj);
    this.onChange();
    return obj;
  }

  create(t: Target, body: Obj, ctx: WriteContext, internal = false): Obj {
    const { r, version } = t;
    if (!isObject(body)) throw badRequest('the body of the request was in an unknown format');
    const obj = clone(body);
    if (obj.kind !== undefined && obj.kind !== r.kind) throw badRequest(`the kind in the data (${String(obj.kind)}) does not match the kind on the URL (${r.kind})`);
    obj.apiVersion = groupVersion(r.group, version);
    obj.kind = r.kind;
    const meta = metaOf(obj);
    if (meta.name === undefined && typeof meta.generateName === 'string') meta.name = `${meta.generateName}${randomBytes(4).toString('hex').slice(0, 5)}`;
    if (typeof meta.name !== 'string' || meta.name === '') throw invalid(r, '', [{ reason: 'FieldValueRequired', field: 'metadata.name', message: 'Required value: name or generateName is required' }]);
    const name = meta.name;
    const nameRule = r.kind === 'Namespace' ? DNS1123_LABEL : r.kind === 'Service' ? DNS1035_LABEL : DNS1123_SUBDOMAIN;
    if (!nameRule.test(name) || name.length > (nameRule === DNS1123_SUBDOMAIN ? 253 : 63)) {
      throw invalid(r, name, [{ reason: 'FieldValueInvalid', field: 'metadata.name', message: `Invalid value: "${name}": a lowercase RFC 1123 ${nameRule === DNS1123_SUBDOMAIN ? 'subdomain' : 'label'} must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character` }]);
    }
    if (r.namespaced) {
      if (meta.namespace !== undefined && meta.namespace !== t.namespace) throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      meta.namespace = t.namespace;
      this.checkNamespace(r, t.namespace, name);
    } else delete meta.namespace;
    if (this.store.get(storeKey(r), t.namespace, name)) throw alreadyExists(r, name);
    if (r.status && !internal && r.kind !== 'Pod') delete obj.status;
    for (const k of ['uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'generation', 'managedFields', 'selfLink']) delete meta[k];
    this.normalize(r, version, obj, undefined, ctx);
    const now = nowIso();
    meta.uid = randomUUID();
    meta.creationTimestamp = now;
    if (tracksGeneration(r)) meta.generation = 1;
    meta.managedFields = trackUpdate(undefined, obj, { manager: ctx.manager, apiVersion: obj.apiVersion as string, listTypeOf: this.listTypeOf(r, version), part: 'all', statusSubresource: r.status, now });
    if (ctx.dryRun) return this.present(r, version, obj);
    return this.present(r, version, this.stored(r, obj, 'ADDED'));
  }

  /** Shared tail of PUT and PATCH: keep what the server owns, validate, bump generation, store. */
  protected commitUpdate(t: Target, old: Obj, next: Obj, ctx: WriteContext, managedFields: ManagedFieldsEntry[] | undefined): Obj {
    const { r, version } = t;
    const part: Part = t.sub === 'status' ? 'status' : 'main';
    const meta = metaOf(next);
    const oldMeta = metaOf(old);
    if (meta.name !== oldMeta.name) throw badRequest(`the name of the object (${String(meta.name)}) does not match the name on the URL (${String(oldMeta.name)})`);
    if (r.namespaced && meta.namespace !== undefined && meta.namespace !== oldMeta.namespace) throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    if (meta.resourceVersion !== undefined && meta.resourceVersion !== '' && meta.resourceVersion !== oldMeta.resourceVersion) throw conflict(r, String(oldMeta.name));
    let obj: Obj;
    if (part === 'status') {
      obj = { ...clone(old), status: clone(next.status) };
      if (r.kind === 'Namespace' && t.sub === 'finalize') obj.spec = clone(next.spec);
    } else {
      obj = clone(next);
      if (r.status) { if (old.status === undefined) delete obj.status; else obj.status = clone(old.status); }
      if (r.kind === 'Namespace' && t.sub !== 'finalize') obj.spec = clone(old.spec);
    }
    if (t.sub === 'finalize') obj = { ...clone(old), spec: clone(next.spec) };
    obj.apiVersion = groupVersion(r.group, version);
    obj.kind = r.kind;
    const m = metaOf(obj);
    for (const k of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'namespace', 'name']) {
      if (oldMeta[k] === undefined) delete m[k];
      else m[k] = oldMeta[k];
    }
    m.resourceVersion = oldMeta.resourceVersion;
    if (oldMeta.deletionTimestamp && Array.isArray(m.finalizers)) {
      // finalizers may only be removed once deletion started
      m.finalizers = (m.finalizers as string[]).filter((f) => ((oldMeta.finalizers as string[] | undefined) ?? []).includes(f));
    }
    this.normalize(r, version, obj, old, ctx);
    const specOf = (o: Obj) => Object.fromEntries(Object.entries(o).filter(([k]) => !['metadata', 'status', 'apiVersion', 'kind'].includes(k)));
    if (tracksGeneration(r)) m.generation = part === 'main' && !deepEqual(specOf(old), specOf(obj)) ? Number(oldMeta.generation ?? 1) + 1 : oldMeta.generation;
    else delete m.generation;
    m.managedFields = managedFields ?? trackUpdate(old, obj, { manager: ctx.manager, apiVersion: obj.apiVersion as string, listTypeOf: this.listTypeOf(r, version), part: t.sub === 'status' ? 'status' : 'main', statusSubresource: r.status, now: nowIso() });
    // a write that changes nothing is a no-op: same resourceVersion, no event
    if (deepEqual(obj, { ...old, apiVersion: obj.apiVersion, kind: obj.kind })) return this.present(r, version, old);
    if (ctx.dryRun) return this.present(r, version, obj);
    if (m.deletionTimestamp && (((m.finalizers as string[] | undefined) ?? []).length === 0) && !(r.kind === 'Namespace')) {
      return this.present(r, version, this.store.remove(storeKey(r), obj));
    }
    return this.present(r, version, this.stored(r, obj, 'MODIFIED'));
  }

  update(t: Target, body: Obj, ctx: WriteContext): { code: number; object: Obj } {
    if (t.name === undefined) throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    if (!isObject(body)) throw badRequest('the body of the request was in an unknown format');
    const old = this.store.get(storeKey(t.r), t.namespace, t.name);
    if (!old) throw notFound(t.r, t.name);
    if (body.kind !== undefined && body.kind !== t.r.kind) throw badRequest(`the kind in the data (${String(body.kind)}) does not match the kind on the URL (${t.r.kind})`);
    return { code: 200, object: this.commitUpdate(t, old, clone(body), ctx, undefined) };
  }

  patch(t: Target, raw: Buffer, contentType: string, ctx: WriteContext, force: boolean): { code: number; object: Obj } {
    const { r, version } = t;
    if (t.name === undefined) throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    const type = contentType.split(';')[0]!.trim();
    const old = this.store.get(storeKey(r), t.namespace, t.name);
    const listTypeOf = this.listTypeOf(r, version);
    if (type === 'application/apply-patch+yaml' || type === 'application/apply-patch+cbor') {
      let applied: unknown;
      try { applied = parseYaml(raw.toString('utf8')); } catch (e) { throw badRequest(`error decoding YAML: ${e instanceof Error ? e.message : String(e)}`); }
      if (!isObject(applied)) throw badRequest('the body of the request was in an unknown format');
      if (!ctx.managerGiven) throw invalid(r, t.name, [{ reason: 'FieldValueRequired', field: 'fieldManager', message: 'Required value: is required for apply patch' }]);
      if (applied.kind !== r.kind || applied.apiVersion !== groupVersion(r.group, version)) {
        throw badRequest(`the apiVersion/kind in the body (${String(applied.apiVersion)}/${String(applied.kind)}) does not match the URL (${groupVersion(r.group, version)}/${r.kind})`);
      }
      const am = metaOf(applied);
      if (am.name !== undefined && am.name !== t.name) throw badRequest(`the name of the object (${String(am.name)}) does not match the name on the URL (${t.name})`);
      const part: Part = t.sub === 'status' ? 'status' : 'main';
      const result = serverSideApply(old ? this.present(r, version, old) : undefined, applied, { manager: ctx.manager, apiVersion: groupVersion(r.group, version), force, listTypeOf, part, statusSubresource: r.status, now: nowIso() });
      if (result.conflicts.length > 0) {
        const byManager = new Map<string, string[]>();
        for (const c of result.conflicts) byManager.set(`"${c.manager}" using ${c.apiVersion}`, [...(byManager.get(`"${c.manager}" using ${c.apiVersion}`) ?? []), c.field]);
        const n = result.conflicts.length;
        const text = [...byManager].map(([who, fields]) => (n === 1 ? `conflict with ${who}: ${fields[0]}` : `conflicts with ${who}:\n${fields.map((f) => `- ${f}`).join('\n')}`)).join('\n');
        throw new ApiError(409, 'Conflict', `Apply failed with ${n} conflict${n === 1 ? '' : 's'}: ${text}`, {
          name: t.name, group: r.group, kind: r.plural,
          causes: result.conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with "${c.manager}" using ${c.apiVersion}`, field: c.field })),
        });
      }
      if (!old) {
        const created = this.create(t, { ...result.object, metadata: { ...metaOf(result.object), name: t.name, namespace: t.namespace, managedFields: undefined } }, ctx);
        // the creating apply owns every field it set
        const mf = metaOf(result.object).managedFields;
        const stored = ctx.dryRun ? created : this.store.get(storeKey(r), t.namespace, t.name)!;
        metaOf(stored).managedFields = mf;
        metaOf(created).managedFields = mf;
        return { code: 201, object: created };
      }
      const next = result.object;
      metaOf(next).resourceVersion = metaOf(applied).resourceVersion ?? metaOf(old).resourceVersion;
      return { code: 200, object: this.commitUpdate(t, old, next, ctx, metaOf(next).managedFields as ManagedFieldsEntry[]) };
    }
    if (!old) throw notFound(r, t.name);
    const body = parseJson(raw, true);
    let next: unknown;
    const current = this.present(r, version, old);
    switch (type) {
      case 'application/merge-patch+json': next = mergePatch(current, body); break;
      case 'application/json-patch+json': next = jsonPatch(current, body); break;
      case 'application/strategic-merge-patch+json':
        // custom resources have no patch strategies: the patch merges like a merge patch
        next = strategicMerge(current, body, [], r.builtin ? listTypeOf : () => ({ type: 'atomic' }));
        break;
      default: throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`);
    }
    if (!isObject(next)) throw badRequest('the patch did not produce an object');
    if (!isObject(body) || metaOf(body as Obj).resourceVersion === undefined) metaOf(next).resourceVersion = metaOf(old).resourceVersion;
    return { code: 200, object: this.commitUpdate(t, old, next, ctx, undefined) };
  }

  remove(t: Target, body: Obj, q: URLSearchParams, ctx: WriteContext): { code: number; object: Obj } {
    const { r, version } = t;
    if (t.name === undefined) {
      const match = this.selected(t, q);
      const items = this.store.list(storeKey(r), t.namespace).filter(match).map((o) => this.deleteObject(r, version, o, ctx));
      return { code: 200, object: { apiVersion: groupVersion(r.group, version), kind: r.listKind, metadata: { resourceVersion: String(this.store.rv) }, items } };
    }
    const obj = this.store.get(storeKey(r), t.namespace, t.name);
    if (!obj) throw notFound(r, t.name);
    const pre = isObject(body.preconditions) ? body.preconditions : {};
    if ((pre.uid !== undefined && pre.uid !== metaOf(obj).uid) || (pre.resourceVersion !== undefined && pre.resourceVersion !== metaOf(obj).resourceVersion)) {
      throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${r.plural} "${t.name}": Precondition failed`, { name: t.name, group: r.group, kind: r.plural });
    }
    return { code: 200, object: this.deleteObject(r, version, obj, ctx) };
  }

  /** Delete now, or mark for deletion while finalizers remain (namespaces: Terminating). */
  deleteObject(r: ResourceInfo, version: string, obj: Obj, ctx: Pick<WriteContext, 'dryRun'>): Obj {
    const meta = metaOf(obj);
    const finalizers = [...((meta.finalizers as string[] | undefined) ?? []), ...(r.kind === 'Namespace' ? ((obj.spec as Obj | undefined)?.finalizers as string[] | undefined) ?? [] : [])];
    if (finalizers.length > 0) {
      if (meta.deletionTimestamp) return this.present(r, version, obj);
      const next = clone(obj);
      metaOf(next).deletionTimestamp = nowIso();
      metaOf(next).deletionGracePeriodSeconds = 0;
      if (r.kind === 'Namespace') next.status = { ...(next.status as Obj), phase: 'Terminating' };
      if (ctx.dryRun) return this.present(r, version, next);
      return this.present(r, version, this.stored(r, next, 'MODIFIED'));
    }
    if (ctx.dryRun) return this.present(r, version, obj);
    const gone = this.store.remove(storeKey(r), obj);
    if (r.kind === 'CustomResourceDefinition' && r.builtin) this.unregisterCrd(obj);
    this.onChange();
    return this.present(r, version, gone);
  }

  protected unregisterCrd(crd: Obj): void {
    const res = resourceFromCrd(crd);
    if (!res) return;
    this.store.dropAll(storeKey(res));
    this.resources.delete(storeKey(res));
  }

  // ---------- internal writes (seed, controller): not counted, never refused for status ----------

  protected target(apiVersion: string, kind: string, namespace?: string, name?: string, sub?: string): Target {
    const r = this.resourceByKind(apiVersion, kind);
    if (!r) throw new Error(`no resource for ${apiVersion} ${kind}`);
    return { r, version: apiVersion.includes('/') ? apiVersion.split('/')[1]! : apiVersion, namespace, name, sub };
  }

  protected internalCtx(manager: string): WriteContext {
    return { dryRun: false, manager, fieldValidation: 'Ignore', warnings: [], managerGiven: true };
  }

  internalCreate(obj: Obj, manager = 'kube-controller-manager'): Obj {
    const m = metaOf(obj);
    return this.create(this.target(obj.apiVersion as string, obj.kind as string, m.namespace as string | undefined), obj, this.internalCtx(manager), true);
  }

  internalGet(apiVersion: string, kind: string, namespace: string | undefined, name: string): Obj | undefined {
    const t = this.target(apiVersion, kind, namespace, name);
    const o = this.store.get(storeKey(t.r), namespace, name);
    return o ? this.present(t.r, t.version, o) : undefined;
  }

  internalList(apiVersion: string, kind: string, namespace?: string): Obj[] {
    const t = this.target(apiVersion, kind, namespace);
    return this.store.list(storeKey(t.r), namespace).map((o) => this.present(t.r, t.version, o));
  }

  /** Replace an object's status (the status subresource), as a controller does. */
  internalUpdateStatus(obj: Obj, status: Obj, manager = 'kube-controller-manager'): Obj | undefined {
    const m = metaOf(obj);
    const t = this.target(obj.apiVersion as string, obj.kind as string, m.namespace as string | undefined, m.name as string, 'status');
    const old = this.store.get(storeKey(t.r), t.namespace, t.name!);
    if (!old) return undefined;
    return this.commitUpdate(t.r.status ? t : { ...t, sub: undefined }, old, { ...clone(old), status, metadata: { ...metaOf(old), resourceVersion: undefined } }, this.internalCtx(manager), undefined);
  }

  /** Create or replace a whole object (spec and metadata; status kept), as a controller does. */
  internalPut(obj: Obj, manager = 'kube-controller-manager'): Obj {
    const m = metaOf(obj);
    const t = this.target(obj.apiVersion as string, obj.kind as string, m.namespace as string | undefined, m.name as string);
    const old = this.store.get(storeKey(t.r), t.namespace, t.name!);
    if (!old) return this.internalCreate(obj, manager);
    return this.commitUpdate(t, old, { ...clone(obj), metadata: { ...clone(m), resourceVersion: undefined } }, this.internalCtx(manager), undefined);
  }

  internalDelete(obj: Obj): void {
    const m = metaOf(obj);
    const t = this.target(obj.apiVersion as string, obj.kind as string, m.namespace as string | undefined, m.name as string);
    const cur = this.store.get(storeKey(t.r), t.namespace, t.name!);
    if (cur) this.deleteObject(t.r, t.version, cur, { dryRun: false });
  }

  /** Graceful deletion as the API server starts it: deletionTimestamp set, the object stays (Terminating) until its kubelet confirms. */
  internalMarkTerminating(obj: Obj, graceSeconds = 30): void {
    const m = metaOf(obj);
    const t = this.target(obj.apiVersion as string, obj.kind as string, m.namespace as string | undefined, m.name as string);
    const cur = this.store.get(storeKey(t.r), t.namespace, t.name!);
    if (!cur || metaOf(cur).deletionTimestamp) return;
    const next = clone(cur);
    metaOf(next).deletionTimestamp = nowIso();
    metaOf(next).deletionGracePeriodSeconds = graceSeconds;
    this.stored(t.r, next, 'MODIFIED');
  }

  /** Remove a finalizer-free namespace for good (the namespace controller's last step). */
  finalizeNamespace(ns: Obj): void {
    const cur = this.store.get('/namespaces', undefined, metaOf(ns).name as string);
    if (cur) { this.store.remove('/namespaces', cur); this.onChange(); }
  }
}

export function pointerToField(pointer: string): string {
  return pointer.split('/').filter(Boolean).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~')).reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc === '' ? p : `${acc}.${p}`), '');
}

/** Like the real server: generation on workloads, CRDs and custom resources, not on ConfigMaps and such. */
export function tracksGeneration(r: ResourceInfo): boolean {
  return !r.builtin || ['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'Ingress', 'PodDisruptionBudget', 'CustomResourceDefinition'].includes(r.kind);
}

export function parseJson(raw: Buffer, allowArray = false): Obj {
  if (raw.length === 0) return {};
  let v: unknown;
  try { v = JSON.parse(raw.toString('utf8')); } catch {
    try { v = parseYaml(raw.toString('utf8')); } catch (e) { throw badRequest(`the body of the request was in an unknown format: ${e instanceof Error ? e.message : String(e)}`); }
  }
  if (!isObject(v) && !(allowArray && Array.isArray(v))) throw badRequest('the body of the request was in an unknown format');
  return v as Obj;
}

/** Equality-based and set-based label selectors: `a=b,c!=d,e in (x,y),f notin (z),g,!h`. */
export function parseLabelSelector(sel: string): (labels: Record<string, string>) => boolean {
  if (sel.trim() === '') return () => true;
  const terms: Array<(l: Record<string, string>) => boolean> = [];
  const parts = sel.match(/([^,(]+(\([^)]*\))?)/g) ?? [];
  for (const raw of parts) {
    const p = raw.trim();
    if (p === '') continue;
    let m: RegExpMatchArray | null;
    if ((m = p.match(/^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/))) {
      const [, k, op, vs] = m;
      const values = vs!.split(',').map((v) => v.trim());
      terms.push(op === 'in' ? (l) => l[k!] !== undefined && values.includes(l[k!]!) : (l) => l[k!] === undefined || !values.includes(l[k!]!));
    } else if ((m = p.match(/^([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)$/))) {
      const [, k, op, v] = m;
      terms.push(op === '!=' ? (l) => l[k!] !== v : (l) => l[k!] === v);
    } else if ((m = p.match(/^!([\w./-]+)$/))) { const k = m[1]!; terms.push((l) => l[k] === undefined); }
    else if ((m = p.match(/^([\w./-]+)$/))) { const k = m[1]!; terms.push((l) => l[k] !== undefined); }
    else throw badRequest(`unable to parse requirement: invalid label selector "${sel}"`);
  }
  return (l) => terms.every((t) => t(l));
}

/** Field selectors: `metadata.name=x,metadata.namespace!=y` and other dotted paths. */
export function parseFieldSelector(sel: string): (obj: Obj) => boolean {
  if (sel.trim() === '') return () => true;
  const terms = sel.split(',').map((p) => {
    const m = p.trim().match(/^([\w.]+)\s*(==|=|!=)\s*(.*)$/);
    if (!m) throw badRequest(`invalid field selector "${sel}"`);
    const [, path, op, value] = m;
    return (o: Obj) => {
      let cur: unknown = o;
      for (const k of path!.split('.')) cur = isObject(cur) ? cur[k] : undefined;
      const s = cur === undefined || cur === null ? '' : String(cur);
      return op === '!=' ? s !== value : s === value;
    };
  });
  return (o) => terms.every((t) => t(o));
}
