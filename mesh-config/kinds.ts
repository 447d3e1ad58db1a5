/**
 * The one kind table: every kind mixmesh renders or manages, in render order, with what the
 * applier, the reconciler, `mixmesh render` and the name check need to know about it. No other
 * place lists kinds; each reads this table.
 *
 * - `phase`: apply order. The phases go one after the other; inside one phase objects go in
 *   parallel. `cluster` (Namespaces, CRDs: CRDs waited for until Established) → `identity`
 *   (ServiceAccounts and the mTLS/authorization policies: a workload never runs unprotected;
 *   the VM chains need the ServiceAccount for their token) → `workload` (Services, Deployments,
 *   WorkloadGroups: a VM's injection waits for its WorkloadGroup) → `routing` (DestinationRules)
 *   → `route` (VirtualServices, Gateways: only once what they route to is ready).
 * - `prunable`: deleted when it carries the service's labels but is no longer generated.
 *   Never Namespaces (they may hold what others made).
 * - `readiness`: what "ready" means for a live object of the kind.
 * - `file`: where `mixmesh render -o DIR` writes it (kubernetes.yaml or mesh.yaml).
 * - `shared`: an existing object of that name that is not the service's is used as is, never a
 *   name conflict (Namespaces, ServiceAccounts).
 * - `rendered`: `renderAll` makes it (WorkloadEntries are made per VM by the controller; the
 *   others only ever sit in a namespace the teardown must find empty).
 */

export type ApplyPhase = 'cluster' | 'identity' | 'workload' | 'routing' | 'route';
export type Readiness = 'exists' | 'deployment' | 'established';

export interface KindInfo {
  readonly apiVersion: string;
  readonly kind: string;
  readonly phase: ApplyPhase;
  readonly prunable: boolean;
  readonly readiness: Readiness;
  readonly file: 'kubernetes' | 'mesh';
  readonly shared: boolean;
  readonly rendered: boolean;
}

export const APPLY_PHASES: readonly ApplyPhase[] = Object.freeze(['cluster', 'identity', 'workload', 'routing', 'route']);

const k = (apiVersion: string, kind: string, phase: ApplyPhase, o: Partial<Omit<KindInfo, 'apiVersion' | 'kind' | 'phase'>> = {}): KindInfo => Object.freeze({
  apiVersion, kind, phase, prunable: true, readiness: 'exists', file: 'mesh', shared: false, rendered: true, ...o,
});

/** In render order (docs/cli.md: Namespace, ServiceAccount, Service, Deployment, WorkloadGroup, …). */
export const KINDS: readonly KindInfo[] = Object.freeze([
  k('v1', 'Namespace', 'cluster', { prunable: false, file: 'kubernetes', shared: true }),
  k('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'cluster', { prunable: false, readiness: 'established', file: 'kubernetes', rendered: false }),
  k('v1', 'ServiceAccount', 'identity', { file: 'kubernetes', shared: true }),
  k('v1', 'Secret', 'identity', { prunable: false, file: 'kubernetes', rendered: false }),
  k('v1', 'ConfigMap', 'identity', { prunable: false, file: 'kubernetes', rendered: false }),
  k('v1', 'Service', 'workload', { file: 'kubernetes' }),
  k('apps/v1', 'Deployment', 'workload', { readiness: 'deployment', file: 'kubernetes' }),
  k('networking.istio.io/v1', 'WorkloadGroup', 'workload'),
  k('networking.istio.io/v1', 'WorkloadEntry', 'workload', { rendered: false }),
  k('networking.istio.io/v1', 'DestinationRule', 'routing'),
  k('networking.istio.io/v1', 'VirtualService', 'route'),
  k('security.istio.io/v1', 'PeerAuthentication', 'identity'),
  k('security.istio.io/v1', 'AuthorizationPolicy', 'identity'),
  k('networking.istio.io/v1', 'Gateway', 'route'),
]);

const BY_KIND = new Map(KINDS.map((x) => [x.kind, x]));

/** The table's row of a kind; undefined for a kind mixmesh does not know (applied last, never pruned). */
export function kindInfo(kind: string): KindInfo | undefined {
  return BY_KIND.get(kind);
}

/** The phase a kind is applied in; unknown kinds go with the last phase. */
export function phaseOf(kind: string): ApplyPhase {
  return kindInfo(kind)?.phase ?? 'route';
}

/** Render order of a kind (its row); unknown kinds after every known one. */
export function kindRank(kind: string): number {
  const i = KINDS.findIndex((x) => x.kind === kind);
  return i === -1 ? KINDS.length : i;
}

/** The kinds prune and teardown look at (the service's labelled objects), in teardown order: last applied first. */
export const PRUNABLE_KINDS: readonly KindInfo[] = Object.freeze(
  KINDS.filter((x) => x.prunable).sort((a, b) => APPLY_PHASES.indexOf(b.phase) - APPLY_PHASES.indexOf(a.phase) || kindRank(a.kind) - kindRank(b.kind)),
);
