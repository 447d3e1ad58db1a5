/**
 * Mesh values (interfaces.md, "Configuration"): what the generators need to know about the mesh
 * they render for. `validate` and `render` read them from `--config`, else these defaults.
 */
export interface MeshValues {
  trustDomain: string;
  clusterDomain: string;
  clusterId: string;
  meshId: string;
  istioNamespace: string;
  revision: string;
  ingressGateway: { namespace: string; serviceAccount: string; selector: Record<string, string> };
  eastWestGateway: { namespace: string; name: string };
  istioVersion: string;
  tokenExpirationSeconds: number;
}

export const DEFAULT_MESH_VALUES: Readonly<MeshValues> = Object.freeze({
  trustDomain: 'cluster.local',
  clusterDomain: 'cluster.local',
  clusterId: 'Kubernetes',
  meshId: 'cluster.local',
  istioNamespace: 'istio-system',
  revision: '',
  ingressGateway: Object.freeze({
    namespace: 'istio-system',
    serviceAccount: 'istio-ingressgateway-service-account',
    selector: Object.freeze({ istio: 'ingressgateway' }),
  }),
  eastWestGateway: Object.freeze({ namespace: 'istio-system', name: 'istio-eastwestgateway' }),
  istioVersion: '1.30.3',
  tokenExpirationSeconds: 3600,
}) as Readonly<MeshValues>;

/** The principal of the ingress gateway, the caller named `ingress` in connections. */
export function ingressPrincipal(v: MeshValues): string {
  return `${v.trustDomain}/ns/${v.ingressGateway.namespace}/sa/${v.ingressGateway.serviceAccount}`;
}
