/**
 * A MeshService as the Kubernetes API returns it carries server fields (uid, resourceVersion,
 * managedFields, annotations, status) and the management labels mixmesh puts on every object it
 * writes, the MeshService included. The descriptor contract forbids both, so the controller turns
 * a resource back into the descriptor the user wrote before validating it.
 */
import { LABEL_MANAGED_BY, LABEL_PART_OF, LABEL_SERVICE, MANAGER } from '../common/labels.js';

export function descriptorFromResource(resource: unknown): unknown {
  if (resource === null || typeof resource !== 'object' || Array.isArray(resource)) return resource;
  const r = resource as Record<string, unknown>;
  const meta = (r.metadata !== null && typeof r.metadata === 'object' ? r.metadata : {}) as Record<string, unknown>;
  const name = meta.name;
  const metadata: Record<string, unknown> = { name, namespace: meta.namespace };
  if (meta.labels !== null && typeof meta.labels === 'object') {
    const labels = { ...(meta.labels as Record<string, unknown>) };
    // only the values mixmesh itself writes: anything else is the user's and gets validated
    if (labels[LABEL_MANAGED_BY] === MANAGER) delete labels[LABEL_MANAGED_BY];
    if (labels[LABEL_PART_OF] === name) delete labels[LABEL_PART_OF];
    if (labels[LABEL_SERVICE] === name) delete labels[LABEL_SERVICE];
    metadata.labels = labels;
  }
  const out: Record<string, unknown> = { apiVersion: r.apiVersion, kind: r.kind, metadata, spec: r.spec };
  for (const key of Object.keys(out)) if (out[key] === undefined) delete out[key];
  for (const key of Object.keys(metadata)) if (metadata[key] === undefined) delete metadata[key];
  return out;
}
