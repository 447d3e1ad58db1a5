export { kubeConfigFromText, loadKubeConfig, type KubeConfigSource } from './config.js';
export {
  DEFAULT_PRUNE_KINDS, KubeClient, KubeRequestError, conditionTrue, deploymentReady, describeRef, refOf,
  type ApplyOptions, type ChangeSet, type KubeObject, type ObjectMeta, type ObjectRef, type WatchEvent,
} from './client.js';
