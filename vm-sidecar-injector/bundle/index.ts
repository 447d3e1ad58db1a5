/**
 * The pure bundle entry of vm-sidecar-injector: `bundle()` and its types without the service
 * (express, SSH, Kubernetes clients). `mixmesh render` imports this one: loading the whole
 * injector costs ~1.6 s of start-up, the bundle ~0.1 s. vm-sidecar-injector/index.ts re-exports it.
 */
export {
  bundle,
  clusterEnvEntries,
  discoveryHost,
  proxyLabels,
  BUNDLE_PATHS,
  VM_ADDRESS_PLACEHOLDER,
  EASTWEST_IP_PLACEHOLDER,
} from './bundle.js';
export type { Bundle, BundleFiles, BundleOptions, ClusterFacts, WorkloadGroupLike, WorkloadGroupProbe } from './bundle.js';
