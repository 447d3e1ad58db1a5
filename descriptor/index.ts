/** The descriptor part's public API: the MeshService contract (schema, types, validation, CRD). */
export * from './types.js';
export { MESH_SERVICE_SCHEMA, meshServiceSchema, LIMITS, PATTERNS, type JsonSchema } from './schema.js';
export { parseDescriptorText, oversizeProblem, positionSuffix, type ParseOptions, type ParseResult } from './parse.js';
export {
  validateDescriptor,
  parseAndValidate,
  formatResult,
  fixedIpTarget,
  labelKeyProblem,
  durationMs,
  type ValidateOptions,
} from './validate.js';
export { comparePointers, joinPointer } from './problems.js';
export { meshServiceCrd, meshServiceOpenApiSchema, CRD_GROUP, CRD_VERSION, CRD_NAME } from './crd.js';
export { descriptorFromResource } from './resource.js';
export { DEFAULT_ISTIO_VERSION } from './defaults.js';
export { DEFAULT_MESH_VALUES, ingressPrincipal, parseMeshValues, type MeshValues, type MeshValuesProblem } from './values.js';
export {
  versionStatus,
  vmInstances,
  type Condition,
  type VmInstanceStatus,
  type MicroserviceStatus,
  type OperationStep,
  type OperationStateName,
  type OperationStatus,
  type Phase,
  type MeshServiceStatus,
} from './status.js';
export type { BeforeInjectContext } from './vm-context.js';
