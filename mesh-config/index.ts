/** mesh-config: descriptor → Kubernetes + Istio objects (pure), each validated before it leaves. */
export { renderAll, compareObjects, KIND_ORDER, KUBERNETES_KINDS, type RenderOptions } from './render.js';
export { APPLY_PHASES, KINDS, PRUNABLE_KINDS, kindInfo, kindRank, phaseOf, type ApplyPhase, type KindInfo, type Readiness } from './kinds.js';
export { renderNamespace, renderServiceAccounts, renderService, renderDeployment } from './kubernetes.js';
export {
  renderWorkloadGroup,
  renderDestinationRule,
  renderVirtualService,
  renderPeerAuthentication,
  renderAuthorizationPolicy,
  renderIngress,
  vmProxyLabels,
} from './istio.js';
export { buildContext, hostOf, type RenderContext, type RenderedObject, type ObjectMeta, type MicroserviceGroup } from './model.js';
export { validateMeshObject, meshObjectProblems, celViolations, describeObject, VALIDATED_KINDS, type MeshObjectLike } from './validate.js';
export { CEL_RULES, type CelRule } from './cel-rules.js';
export { fastYaml, fastYamlStream } from './yaml-stream.js';
export {
  planTackerRequests,
  vnfInstanceName,
  vnfMetadata,
  withFixedIp,
  VIM_TYPE_OPENSTACK,
  VIM_CONNECTION_KEY,
  type TackerPlan,
  type VnfIdentity,
  type TackerCreateRequest,
  type TackerInstantiateRequest,
} from './tacker.js';
