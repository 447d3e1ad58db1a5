export { KubeConfig, kubeConfigFromText, loadKubeConfig, type KubeCluster, type KubeConfigSource, type KubeContext, type KubeUser } from './config.js';
export {
  KubeClient, KubeRequestError, describeRef, refOf,
  type ApplyOptions, type ChangeSet, type KubeObject, type ObjectMeta, type ObjectRef, type WatchEvent,
} from './client.js';
export {
  Applier, boundedAll, conditionTrue, deploymentReady, isReady, objectKey,
  type Applied, type ApplierOptions, type ApplyPort, type ApplyRun, type Outcome,
} from './applier.js';
export { diffApply, ownedFields, type FieldChange } from './diff.js';
export { KubeletClient, type KubeletEndpoint } from './kubelet.js';
export { PodExecClient, type PodExecResult } from './exec.js';
