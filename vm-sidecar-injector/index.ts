/** The VM Sidecar Injector's public surface. Other parts import only from here. */
export {
  bundle,
  clusterEnvEntries,
  discoveryHost,
  proxyLabels,
  BUNDLE_PATHS,
  VM_ADDRESS_PLACEHOLDER,
  EASTWEST_IP_PLACEHOLDER,
} from './bundle/bundle.js';
export type { Bundle, BundleFiles, BundleOptions, ClusterFacts, WorkloadGroupLike, WorkloadGroupProbe } from './bundle/bundle.js';
