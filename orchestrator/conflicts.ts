/**
 * NAME_CONFLICT (docs/descriptor.md, "What a descriptor becomes"): before any write, an existing object of a
 * generated kind and name whose `mixmesh.io/service` label is absent or names another service is a
 * conflict, and nothing changes. ServiceAccounts are the exception: an existing one without our
 * labels is used as is (never changed or deleted); Namespaces are never modified either.
 */
import { MixmeshError, type ProblemItem } from '../common/errors.js';
import { LABEL_SERVICE } from '../common/labels.js';
import type { KubeObject, KubePort } from './ports.js';

/** kinds an existing foreign object may share a name with */
export const SHARED_KINDS = new Set(['Namespace', 'ServiceAccount']);

export function refOf(o: KubeObject): { apiVersion: string; kind: string; namespace?: string; name: string } {
  return { apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}) };
}

/** the live objects, by index of `objects`; throws NAME_CONFLICT listing every foreign one */
export async function checkNameConflicts(kube: KubePort, service: string, objects: readonly KubeObject[]): Promise<(KubeObject | undefined)[]> {
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
  return live;
}
