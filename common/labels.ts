/** The management labels of the render contract (docs/descriptor.md, "What a descriptor becomes"). */
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const LABEL_PART_OF = 'app.kubernetes.io/part-of';
export const LABEL_SERVICE = 'mixmesh.io/service';
export const ANNOTATION_CREATED_BY = 'mixmesh.io/created-by';
export const MANAGER = 'mixmesh';

/** Labels every object mixmesh creates carries: management labels plus the descriptor's own. */
export function managedLabels(service: string, userLabels: Readonly<Record<string, string>> = {}): Record<string, string> {
  return { ...userLabels, [LABEL_MANAGED_BY]: MANAGER, [LABEL_PART_OF]: service, [LABEL_SERVICE]: service };
}

/** A label selector string that selects everything of one service. */
export function serviceSelector(service: string): string {
  return `${LABEL_MANAGED_BY}=${MANAGER},${LABEL_SERVICE}=${service}`;
}

/** Workload labels: selectors, pod templates and WorkloadEntry spec.labels. */
export function workloadLabels(service: string, name: string, version?: string): Record<string, string> {
  return version === undefined ? { app: name, [LABEL_SERVICE]: service } : { app: name, version, [LABEL_SERVICE]: service };
}
