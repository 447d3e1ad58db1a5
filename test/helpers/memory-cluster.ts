/**
 * An in-memory InjectorCluster for injector tests that do not need the Kubernetes emulator: the
 * objects a real cluster holds (WorkloadGroup, Secret, ConfigMaps, Service, MeshService) and
 * TokenRequest issuing JWT-shaped tokens with audience and expiry, which the stand-in agent checks.
 */
import { randomBytes } from 'node:crypto';
import type { WorkloadGroupLike } from '../../vm-sidecar-injector/bundle/bundle.js';
import type { InjectorCluster, IssuedToken, MeshServiceLike, ServiceLike } from '../../vm-sidecar-injector/cluster.js';

function b64url(v: unknown): string {
  return Buffer.from(JSON.stringify(v)).toString('base64url');
}

export function makeJwt(claims: Record<string, unknown>): string {
  return `${b64url({ alg: 'RS256', kid: 'test' })}.${b64url(claims)}.${randomBytes(32).toString('base64url')}`;
}

export class MemoryCluster implements InjectorCluster {
  workloadGroups = new Map<string, WorkloadGroupLike>();
  secrets = new Map<string, Record<string, string>>();
  configMaps = new Map<string, Record<string, string>>();
  services = new Map<string, ServiceLike>();
  meshServices = new Map<string, MeshServiceLike>();
  /** seconds the next tokens live (negative: already expired) */
  tokenLifetimeSeconds: number | undefined;
  /** when set, TokenRequest fails with this error */
  tokenFailure: Error | undefined;
  issued: { namespace: string; serviceAccount: string; audiences: string[]; token: string; expiresAt: Date }[] = [];

  async getWorkloadGroup(namespace: string, name: string) {
    return structuredClone(this.workloadGroups.get(`${namespace}/${name}`));
  }
  async getSecretValue(namespace: string, name: string, key: string) {
    return this.secrets.get(`${namespace}/${name}`)?.[key];
  }
  async getConfigMapValue(namespace: string, name: string, key: string) {
    return this.configMaps.get(`${namespace}/${name}`)?.[key];
  }
  async getService(namespace: string, name: string) {
    return this.services.get(`${namespace}/${name}`);
  }
  async getMeshService(namespace: string, name: string) {
    return this.meshServices.get(`${namespace}/${name}`);
  }
  async requestToken(namespace: string, serviceAccount: string, audiences: string[], expirationSeconds: number): Promise<IssuedToken> {
    if (this.tokenFailure) throw this.tokenFailure;
    const lifetime = this.tokenLifetimeSeconds ?? expirationSeconds;
    const exp = Math.floor(Date.now() / 1000) + lifetime;
    const token = makeJwt({ aud: audiences, exp, sub: `system:serviceaccount:${namespace}:${serviceAccount}` });
    const expiresAt = new Date(exp * 1000);
    this.issued.push({ namespace, serviceAccount, audiences, token, expiresAt });
    return { token, expiresAt };
  }
}
