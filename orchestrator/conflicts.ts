/**
 * NAME_CONFLICT (descriptor.md, "Generated names"): before any write, an existing object of a
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
  const live = await Promise.all(objects.map((o) => kube.get(refOf(o))));
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
