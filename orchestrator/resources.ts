/**
 * The MeshService resource (the state the API writes and the controller reads): its reference,
 * the resource a validated descriptor becomes, the descriptor and the view it shows, the user's
 * labels on it, and the id of its current operation. Pure: no I/O.
 */
import { managedLabels, LABEL_MANAGED_BY, LABEL_PART_OF } from '../common/labels.js';
import { descriptorFromResource, type MeshService } from '../descriptor/index.js';
import { FINALIZER, MESH_API_VERSION, MESH_KIND, type MeshServiceResource } from './ports.js';

const RESERVED_LABEL = (k: string): boolean => k === LABEL_MANAGED_BY || k === LABEL_PART_OF || k.startsWith('mixmesh.io/');

/** the user's own labels of a stored MeshService */
export function userLabels(labels: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(labels ?? {}).filter(([k]) => !RESERVED_LABEL(k)));
}

/** the descriptor a stored MeshService holds (descriptor/'s rule: only mixmesh's own label values go) */
export function descriptorOf(r: MeshServiceResource): Record<string, unknown> {
  const d = descriptorFromResource(r) as Record<string, unknown> & { metadata: Record<string, unknown> };
  if (d.metadata.labels && Object.keys(d.metadata.labels as object).length === 0) delete d.metadata.labels;
  return d;
}

export const operationId = (r: { metadata: { uid?: string | undefined; generation?: number | undefined } }): string => `${r.metadata.uid}-${r.metadata.generation ?? 1}`;

/** a plain object, or undefined */
export function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** the reference of the MeshService resource NS/NAME */
export function meshServiceRef(namespace: string, name: string): { apiVersion: string; kind: string; namespace: string; name: string } {
  return { apiVersion: MESH_API_VERSION, kind: MESH_KIND, namespace, name };
}

/** the resource a validated descriptor becomes: the spec as written, mixmesh's labels, the finalizer */
export function meshServiceResource(input: Record<string, unknown>, service: MeshService): MeshServiceResource {
  return {
    apiVersion: MESH_API_VERSION,
    kind: MESH_KIND,
    metadata: {
      name: service.metadata.name,
      namespace: service.metadata.namespace,
      labels: managedLabels(service.metadata.name, service.metadata.labels),
      finalizers: [FINALIZER],
    },
    // the spec as the user wrote it (kubectl shows their words); the controller re-validates it
    spec: structuredClone(asRecord(input.spec) ?? {}),
  };
}

/** what the API shows of a stored MeshService: the descriptor, server fields, the status */
export function serviceView(r: MeshServiceResource): Record<string, unknown> {
  return {
    ...descriptorOf(r),
    metadata: { ...(descriptorOf(r).metadata as object), uid: r.metadata.uid, generation: r.metadata.generation, creationTimestamp: r.metadata.creationTimestamp, ...(r.metadata.deletionTimestamp ? { deletionTimestamp: r.metadata.deletionTimestamp } : {}) },
    status: r.status ?? { phase: 'Pending' },
  };
}
