export { buildSidecarPackage, incompressible, packageFileName, type BuildSidecarOptions, type SidecarPackage, type SidecarPackageFormat } from './build.js';
export { DEFAULT_ISTIO_VERSION, PACKAGE_NAME, PROXY_UID, sidecarEntries, pilotAgentScript, istioStartScript, type PackageEntry } from './files.js';
export { buildRpm, cpioNewc } from './rpm.js';
