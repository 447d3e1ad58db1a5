/**
 * The injector's configuration (docs/configuration.md), read once, validated, frozen.
 * Nothing else in the injector reads process.env: callers pass the environment in.
 */
import { isIP } from 'node:net';
import { MixmeshError } from '../common/errors.js';
import { DEFAULT_MESH_VALUES, type MeshValues } from '../descriptor/index.js';
import type { ArtifactSource } from './steps.js';

export interface InjectorConfig {
  host: string;
  port: number;
  /** MIXMESH_INJECTOR_TOKEN (never logged) */
  token: string;
  artifacts: ArtifactSource;
  kubeconfig?: string;
  meshValues: MeshValues;
  maxParallel: number;
  /** the stand-alone Tacker notification mode (off by default and under `mixmesh serve`) */
  notifications?: { username: string; password: string };
  /** how long to wait for a new VM's sshd (backoff), ms */
  connectBudgetMs: number;
  /** HTTPS: MIXMESH_TLS_CERT_FILE + MIXMESH_TLS_KEY_FILE (re-read when they change); absent: plain HTTP */
  tls?: { certFile: string; keyFile: string };
  /** MIXMESH_ALLOW_INSECURE_HTTP=true: accept the token over plain HTTP from non-loopback peers */
  allowInsecureHttp: boolean;
}

export interface InjectorFlags {
  listen?: string;
  kubeconfig?: string;
  artifacts?: string;
  notifications?: boolean;
  maxParallel?: number;
  meshValues?: MeshValues;
}

export const DEFAULT_LISTEN = '127.0.0.1:7071';

export function parseListen(value: string, where: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || !host || !(port >= 0 && port <= 65535) || !(isIP(host) !== 0 || host === 'localhost')) {
    throw new MixmeshError('CONFIG_INVALID', `${where}: "${value}" is not HOST:PORT (e.g. 127.0.0.1:7071, [::1]:7071)`);
  }
  return { host, port };
}

function positiveInt(value: string | number | undefined, where: string, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new MixmeshError('CONFIG_INVALID', `${where}: ${JSON.stringify(value)} is not a whole number 1..1000`);
  return n;
}

/** flags > environment > defaults */
export function readInjectorConfig(env: Readonly<Record<string, string | undefined>>, flags: InjectorFlags = {}): Readonly<InjectorConfig> {
  const { host, port } = parseListen(flags.listen ?? env.MIXMESH_INJECTOR_LISTEN ?? DEFAULT_LISTEN, flags.listen ? '--listen' : 'MIXMESH_INJECTOR_LISTEN');
  const token = env.MIXMESH_INJECTOR_TOKEN ?? '';
  if (token.length < 16) throw new MixmeshError('CONFIG_INVALID', 'MIXMESH_INJECTOR_TOKEN must be set to a bearer token of at least 16 characters; the injector API refuses to run without auth');
  const artifactsValue = flags.artifacts ?? env.MIXMESH_SIDECAR_ARTIFACTS;
  if (!artifactsValue) throw new MixmeshError('CONFIG_INVALID', 'MIXMESH_SIDECAR_ARTIFACTS must name a directory or an http(s) base URL holding istio-sidecar-<version>.{deb,rpm,tar.gz}');
  let artifacts: ArtifactSource;
  if (/^https?:\/\//.test(artifactsValue)) {
    try {
      artifacts = { baseUrl: new URL(artifactsValue).toString().replace(/\/+$/, '') };
    } catch {
      throw new MixmeshError('CONFIG_INVALID', `MIXMESH_SIDECAR_ARTIFACTS: "${artifactsValue}" is not a URL`);
    }
  } else if (artifactsValue.startsWith('/')) artifacts = { dir: artifactsValue };
  else throw new MixmeshError('CONFIG_INVALID', `MIXMESH_SIDECAR_ARTIFACTS: "${artifactsValue}" must be an absolute directory or an http(s) URL`);
  const certFile = env.MIXMESH_TLS_CERT_FILE || undefined;
  const keyFile = env.MIXMESH_TLS_KEY_FILE || undefined;
  if ((certFile === undefined) !== (keyFile === undefined)) throw new MixmeshError('CONFIG_INVALID', 'MIXMESH_TLS_CERT_FILE and MIXMESH_TLS_KEY_FILE go together');
  const tls = certFile && keyFile ? Object.freeze({ certFile, keyFile }) : undefined;
  if (env.MIXMESH_ALLOW_INSECURE_HTTP !== undefined && !['true', 'false'].includes(env.MIXMESH_ALLOW_INSECURE_HTTP)) throw new MixmeshError('CONFIG_INVALID', `MIXMESH_ALLOW_INSECURE_HTTP: "${env.MIXMESH_ALLOW_INSECURE_HTTP}" is not true or false`);
  let notifications: InjectorConfig['notifications'];
  if (flags.notifications ?? env.MIXMESH_INJECTOR_NOTIFICATIONS === 'true') {
    const username = env.MIXMESH_INJECTOR_CALLBACK_USER ?? '';
    const password = env.MIXMESH_INJECTOR_CALLBACK_PASSWORD ?? '';
    if (!username || password.length < 12) throw new MixmeshError('CONFIG_INVALID', 'the notification mode needs MIXMESH_INJECTOR_CALLBACK_USER and MIXMESH_INJECTOR_CALLBACK_PASSWORD (at least 12 characters): the Basic credentials of the Tacker subscription');
    notifications = Object.freeze({ username, password });
  }
  return Object.freeze({
    host, port, token, artifacts: Object.freeze(artifacts),
    kubeconfig: flags.kubeconfig,
    meshValues: flags.meshValues ?? DEFAULT_MESH_VALUES,
    maxParallel: positiveInt(flags.maxParallel ?? env.MIXMESH_INJECTOR_PARALLEL, 'MIXMESH_INJECTOR_PARALLEL', 8),
    notifications,
    connectBudgetMs: positiveInt(env.MIXMESH_INJECTOR_CONNECT_BUDGET_S, 'MIXMESH_INJECTOR_CONNECT_BUDGET_S', 120) * 1000,
    ...(tls ? { tls } : {}),
    allowInsecureHttp: env.MIXMESH_ALLOW_INSECURE_HTTP === 'true',
  });
}
