/**
 * The InjectorCluster over clients/kube: the live WorkloadGroup, the SSH Secret, ConfigMaps,
 * the east-west Service, TokenRequest and the MeshService resource.
 */
import type { KubeClient, KubeObject } from '../clients/kube/index.js';
import { MixmeshError } from '../common/errors.js';
import type { WorkloadGroupLike } from './bundle/bundle.js';
import type { InjectorCluster, MeshServiceLike, ServiceLike } from './cluster.js';

export function kubeCluster(client: KubeClient): InjectorCluster {
  return {
    async getWorkloadGroup(namespace, name) {
      return (await client.get({ apiVersion: 'networking.istio.io/v1', kind: 'WorkloadGroup', namespace, name })) as unknown as WorkloadGroupLike | undefined;
    },
    async getSecretValue(namespace, name, key) {
      const secret = await client.get<KubeObject & { data?: Record<string, string>; stringData?: Record<string, string> }>({ apiVersion: 'v1', kind: 'Secret', namespace, name });
      const b64 = secret?.data?.[key];
      return b64 === undefined ? secret?.stringData?.[key] : Buffer.from(b64, 'base64').toString('utf8');
    },
    async getConfigMapValue(namespace, name, key) {
      const cm = await client.get<KubeObject & { data?: Record<string, string> }>({ apiVersion: 'v1', kind: 'ConfigMap', namespace, name });
      return cm?.data?.[key];
    },
    async getService(namespace, name) {
      return (await client.get({ apiVersion: 'v1', kind: 'Service', namespace, name })) as ServiceLike | undefined;
    },
    async requestToken(namespace, serviceAccount, audiences, expirationSeconds) {
      const { token, expirationTimestamp } = await client.createToken(namespace, serviceAccount, audiences, expirationSeconds);
      const expiresAt = new Date(expirationTimestamp);
      if (Number.isNaN(expiresAt.getTime())) throw new MixmeshError('K8S_REQUEST_FAILED', `TokenRequest for ${namespace}/${serviceAccount}: expirationTimestamp ${JSON.stringify(expirationTimestamp)} is not a time`);
      return { token, expiresAt };
    },
    async getMeshService(namespace, name) {
      return (await client.get({ apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService', namespace, name })) as MeshServiceLike | undefined;
    },
  };
}
