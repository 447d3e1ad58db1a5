/**
 * What the injector reads from Kubernetes, behind a narrow interface: the live WorkloadGroup, the
 * SSH key Secret, the CA root, the mesh config, the east-west IP, a TokenRequest, the MeshService.
 * `kubeCluster()` adapts clients/kube; tests may pass the same adapter over the sandbox emulator.
 * Cluster-wide facts are cached briefly (they change rarely; the inject benchmark caches them too).
 */
import { parse } from 'yaml';
import { MixmeshError } from '../common/errors.js';
import type { MeshValues } from '../descriptor/index.js';
import type { WorkloadGroupLike } from './bundle/bundle.js';

export interface ServiceLike {
  spec?: { externalIPs?: string[] };
  status?: { loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] } };
}

/** The parts of a MeshService the plug-in form needs (docs/descriptor.md). */
export interface MeshServiceLike {
  metadata?: { name?: string; namespace?: string };
  spec?: {
    microservices?: {
      name: string;
      version?: string;
      runtime?: string;
      vm?: {
        ssh?: { user?: string; port?: number; credentialsSecret?: string; hostKey?: string };
        sidecar?: { package?: string; istioVersion?: string };
      };
    }[];
  };
  status?: {
    microservices?: { name?: string; version?: string; instances?: { vnfInstanceId?: string; serverId?: string; hostKey?: string }[] }[];
  };
}

export interface IssuedToken {
  token: string;
  /** status.expirationTimestamp (the server may shorten or lengthen what was asked) */
  expiresAt: Date;
}

export interface InjectorCluster {
  getWorkloadGroup(namespace: string, name: string): Promise<WorkloadGroupLike | undefined>;
  /** decoded `data[key]` of a Secret */
  getSecretValue(namespace: string, name: string, key: string): Promise<string | undefined>;
  getConfigMapValue(namespace: string, name: string, key: string): Promise<string | undefined>;
  getService(namespace: string, name: string): Promise<ServiceLike | undefined>;
  requestToken(namespace: string, serviceAccount: string, audiences: string[], expirationSeconds: number): Promise<IssuedToken>;
  getMeshService(namespace: string, name: string): Promise<MeshServiceLike | undefined>;
}

/** The east-west gateway IP: `status.loadBalancer.ingress[0].ip`, else `spec.externalIPs[0]`. */
export function eastWestAddress(service: ServiceLike | undefined): string | undefined {
  return service?.status?.loadBalancer?.ingress?.[0]?.ip ?? service?.spec?.externalIPs?.[0];
}

/** Mesh values with the live mesh config applied (trustDomain, meshId from ConfigMap istio-system/istio). */
export function applyMeshConfig(values: MeshValues, meshText: string | undefined): MeshValues {
  if (!meshText) return values;
  let mesh: { trustDomain?: unknown; defaultConfig?: { meshId?: unknown } } | undefined;
  try {
    mesh = parse(meshText) as typeof mesh;
  } catch (e) {
    throw new MixmeshError('K8S_REQUEST_FAILED', `ConfigMap ${values.istioNamespace}/istio: data.mesh is not YAML: ${(e as Error).message}`);
  }
  const trustDomain = typeof mesh?.trustDomain === 'string' && mesh.trustDomain ? mesh.trustDomain : values.trustDomain;
  const meshId = typeof mesh?.defaultConfig?.meshId === 'string' && mesh.defaultConfig.meshId ? mesh.defaultConfig.meshId : values.meshId;
  return { ...values, trustDomain, meshId };
}

export interface MeshFacts {
  meshValues: MeshValues;
  eastWestIP: string;
}

/** Caches the cluster-wide and per-namespace facts for `ttlMs`. */
export class ClusterFactsCache {
  private mesh: { at: number; value: Promise<MeshFacts> } | undefined;
  private readonly roots = new Map<string, { at: number; value: Promise<string> }>();

  constructor(
    private readonly cluster: InjectorCluster,
    private readonly baseValues: MeshValues,
    private readonly ttlMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  meshFacts(): Promise<MeshFacts> {
    if (this.mesh && this.now() - this.mesh.at < this.ttlMs) return this.mesh.value;
    const v = this.baseValues;
    const value = (async () => {
      const [meshText, service] = await Promise.all([
        this.cluster.getConfigMapValue(v.istioNamespace, 'istio', 'mesh'),
        this.cluster.getService(v.eastWestGateway.namespace, v.eastWestGateway.name),
      ]);
      const eastWestIP = eastWestAddress(service);
      if (!eastWestIP) {
        throw new MixmeshError('INJECTION_FAILED', `Service ${v.eastWestGateway.namespace}/${v.eastWestGateway.name} has no load-balancer IP and no external IP (needed for the istiod hosts line)`);
      }
      return { meshValues: applyMeshConfig(v, meshText), eastWestIP };
    })();
    this.mesh = { at: this.now(), value };
    value.catch(() => { if (this.mesh?.value === value) this.mesh = undefined; });
    return value;
  }

  rootCert(namespace: string): Promise<string> {
    const hit = this.roots.get(namespace);
    if (hit && this.now() - hit.at < this.ttlMs) return hit.value;
    const value = (async () => {
      const pem = await this.cluster.getConfigMapValue(namespace, 'istio-ca-root-cert', 'root-cert.pem');
      if (!pem || !pem.includes('-----BEGIN CERTIFICATE-----')) {
        throw new MixmeshError('INJECTION_FAILED', `ConfigMap ${namespace}/istio-ca-root-cert has no PEM root-cert.pem (is Istio installed and the namespace known to istiod?)`);
      }
      return pem;
    })();
    this.roots.set(namespace, { at: this.now(), value });
    value.catch(() => { if (this.roots.get(namespace)?.value === value) this.roots.delete(namespace); });
    return value;
  }
}
