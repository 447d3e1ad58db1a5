/**
 * NAME_CONFLICT (docs/descriptor.md, "What a descriptor becomes"): before any write, an existing object of a
 * generated kind and name whose `mixmesh.io/service` label is absent or names another service is a
 * conflict, and nothing changes. ServiceAccounts are the exception: an existing one without our
 * labels is used as is (never changed or deleted); Namespaces are never modified either.
 *
 * Reading live objects alone races: two services declaring the same microservice, sent at the same
 * moment, both find nothing and both go on. So names are also claimed atomically: ConfigMap
 * `mixmesh-names` in each namespace maps `<Kind>.<name>` to the service that owns it, and a claim
 * is written with the ConfigMap's resourceVersion as a precondition (or created if absent), so of
 * two concurrent claims exactly one wins; the loser re-reads, sees the other's claim and gets
 * NAME_CONFLICT. A claim whose service no longer exists (and is older than a grace period, so a
 * claim made just before its MeshService is created is never taken) is free again.
 */
import { MixmeshError, type ProblemItem } from '../common/errors.js';
import { LABEL_MANAGED_BY, LABEL_SERVICE } from '../common/labels.js';
import { KINDS } from '../mesh-config/index.js';
import { MESH_API_VERSION, MESH_KIND, type KubeObject, type KubePort } from './ports.js';

/** kinds an existing foreign object may share a name with (the kind table's `shared`) */
export const SHARED_KINDS = new Set(KINDS.filter((k) => k.shared).map((k) => k.kind));

export function refOf(o: KubeObject): { apiVersion: string; kind: string; namespace?: string; name: string } {
  return { apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}) };
}

/**
 * the live objects, by index of `objects`; throws NAME_CONFLICT listing every foreign one. Then,
 * unless `dryRun`, claims the names (claimNames) in each namespace that exists already (in a new
 * namespace nothing can be taken yet; the API creates the namespace before it claims).
 */
export async function checkNameConflicts(kube: KubePort, service: string, objects: readonly KubeObject[], options: { dryRun?: boolean } = {}): Promise<(KubeObject | undefined)[]> {
  // one list per kind and namespace instead of one GET per object: the check costs the same for 10 or 1000 objects
  const groups = new Map<string, { apiVersion: string; kind: string; namespace: string | undefined }>();
  for (const o of objects) groups.set(`${o.apiVersion}|${o.kind}|${o.metadata.namespace ?? ''}`, { apiVersion: o.apiVersion, kind: o.kind, namespace: o.metadata.namespace });
  const byGroup = new Map<string, Map<string, KubeObject>>();
  await Promise.all([...groups].map(async ([key, g]) => {
    const items = await kube.list(g.apiVersion, g.kind, g.namespace ? { namespace: g.namespace } : {});
    byGroup.set(key, new Map(items.map((i) => [i.metadata.name, i])));
  }));
  const live = objects.map((o) => byGroup.get(`${o.apiVersion}|${o.kind}|${o.metadata.namespace ?? ''}`)?.get(o.metadata.name));
  const problems: ProblemItem[] = [];
  live.forEach((l, i) => {
    const o = objects[i]!;
    if (!l || SHARED_KINDS.has(o.kind)) return;
    const owner = l.metadata.labels?.[LABEL_SERVICE];
    if (owner !== service) {
      problems.push({
        pointer: '',
        message: `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name} already exists and ${owner ? `belongs to service "${owner}"` : 'is not managed by mixmesh'}`,
      });
    }
  });
  if (problems.length) {
    throw new MixmeshError('NAME_CONFLICT', problems.map((p) => p.message).join('; '), { errors: problems });
  }
  if (!options.dryRun) {
    const namespaces = [...new Set(objects.filter((o) => o.kind !== 'Namespace' && o.metadata.namespace).map((o) => o.metadata.namespace!))];
    for (const ns of namespaces) {
      if (await kube.get({ apiVersion: 'v1', kind: 'Namespace', name: ns })) await claimNames(kube, service, ns, objects);
    }
  }
  return live;
}

/** the ConfigMap holding the name claims of one namespace */
export const CLAIMS_CONFIGMAP = 'mixmesh-names';
/** a claim younger than this is never taken over, even if its MeshService is not there (yet) */
export const CLAIM_GRACE_MS = 120_000;
const CLAIM_ATTEMPTS = 8;

interface Claim {
  service: string;
  at: string;
}

const claimKey = (o: KubeObject): string => `${o.kind}.${o.metadata.name}`;

function readClaim(value: string | undefined): Claim | undefined {
  if (!value) return undefined;
  const [service, at] = value.split(' ');
  return service ? { service, at: at ?? '' } : undefined;
}

const status409 = (e: unknown): boolean => (e as { status?: number }).status === 409 || (e instanceof MixmeshError && e.code === 'ALREADY_EXISTS');

/**
 * Claim every generated name of `service` (all but Namespaces) in its namespace, atomically; the
 * service's earlier claims that it no longer generates are released in the same write. Throws
 * NAME_CONFLICT listing the names another live service holds. Writes only when a claim changes.
 */
export async function claimNames(kube: KubePort, service: string, namespace: string, objects: readonly KubeObject[], now: () => number = Date.now): Promise<void> {
  const wanted = objects.filter((o) => o.kind !== 'Namespace' && (o.metadata.namespace ?? namespace) === namespace).map(claimKey);
  for (let attempt = 0; ; attempt++) {
    const cm = await kube.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace, name: CLAIMS_CONFIGMAP });
    const data: Record<string, string> = { ...((cm?.data as Record<string, string> | undefined) ?? {}) };
    const others = new Map<string, Promise<boolean>>();
    const alive = (owner: Claim): Promise<boolean> => {
      if (now() - Date.parse(owner.at) < CLAIM_GRACE_MS || Number.isNaN(Date.parse(owner.at))) return Promise.resolve(true);
      if (!others.has(owner.service)) others.set(owner.service, kube.get({ apiVersion: MESH_API_VERSION, kind: MESH_KIND, namespace, name: owner.service }).then((r) => r !== undefined));
      return others.get(owner.service)!;
    };
    const problems: ProblemItem[] = [];
    let changed = false;
    const stamp = `${service} ${new Date(now()).toISOString()}`;
    for (const key of wanted) {
      const owner = readClaim(data[key]);
      if (owner?.service === service) continue;
      if (owner && (await alive(owner))) {
        const [kind, ...name] = key.split('.');
        problems.push({ pointer: '', message: `${kind} ${namespace}/${name.join('.')} is claimed by service "${owner.service}"` });
        continue;
      }
      data[key] = stamp;
      changed = true;
    }
    if (problems.length) throw new MixmeshError('NAME_CONFLICT', problems.map((p) => p.message).join('; '), { errors: problems });
    const keep = new Set(wanted);
    for (const [key, value] of Object.entries(data)) {
      if (readClaim(value)?.service === service && !keep.has(key)) {
        delete data[key];
        changed = true;
      }
    }
    if (!changed) return;
    try {
      if (cm) await kube.replace({ ...cm, data });
      else await kube.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: CLAIMS_CONFIGMAP, namespace, labels: { [LABEL_MANAGED_BY]: 'mixmesh' } }, data });
      return;
    } catch (e) {
      // someone else claimed meanwhile: read again and decide again
      if (!status409(e) || attempt + 1 >= CLAIM_ATTEMPTS) throw e;
      await new Promise((r) => setTimeout(r, Math.min(1000, 20 * 2 ** attempt) * (0.5 + Math.random() / 2)));
    }
  }
}

/** teardown: drop the service's claims in `namespace`, and the ConfigMap once no claim is left */
export async function releaseNames(kube: KubePort, service: string, namespace: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const cm = await kube.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace, name: CLAIMS_CONFIGMAP });
    if (!cm) return;
    const data = (cm.data as Record<string, string> | undefined) ?? {};
    const kept = Object.fromEntries(Object.entries(data).filter(([, v]) => readClaim(v)?.service !== service));
    if (Object.keys(kept).length === Object.keys(data).length) return;
    try {
      // (a claim added between the read and the delete is written again by its service's next reconcile)
      if (Object.keys(kept).length === 0) await kube.delete({ apiVersion: 'v1', kind: 'ConfigMap', namespace, name: CLAIMS_CONFIGMAP });
      else await kube.replace({ ...cm, data: kept });
      return;
    } catch (e) {
      if (!status409(e) || attempt + 1 >= CLAIM_ATTEMPTS) throw e;
      await new Promise((r) => setTimeout(r, Math.min(1000, 20 * 2 ** attempt) * (0.5 + Math.random() / 2)));
    }
  }
}
