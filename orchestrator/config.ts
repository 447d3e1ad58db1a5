/**
 * Orchestrator configuration, read once at start-up (docs/configuration.md):
 * flags > environment > `--config FILE` (YAML) > defaults. The result is validated and frozen;
 * nothing else in the orchestrator reads `process.env` or these files.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { MixmeshError, type ProblemItem } from '../common/errors.js';
import { DEFAULT_MESH_VALUES, type MeshValues } from '../descriptor/index.js';
import { loadOpenStackConfig, type OpenStackConfig } from '../clients/openstack/index.js';
import { s3OptionsFromEnv, type S3StoreOptions } from '../backup/index.js';
import { loadTargetsFile, type TargetConfig } from '../migrate/index.js';

export type Role = 'viewer' | 'deployer' | 'admin';
export const ROLES: readonly Role[] = ['viewer', 'deployer', 'admin'];

export interface ApiToken {
  name: string;
  role: Role;
  /** hex SHA-256 of the bearer token; the token itself is never kept */
  sha256: string;
  /** ISO times (`mixmesh token create`); past expiresAt the token is refused */
  createdAt?: string;
  expiresAt?: string;
  /** the namespaces the token may see and change; absent: all */
  namespaces?: readonly string[];
}

export type KubeSource = { kind: 'kubeconfig'; path: string } | { kind: 'in-cluster'; host: string; port: string; tokenFile: string; caFile: string };

export type { OpenStackConfig };

export interface OrchestratorConfig {
  kube: KubeSource;
  /** absent: serve runs, and a descriptor with a VM gets 422 OPENSTACK_NOT_CONFIGURED */
  openstack?: OpenStackConfig;
  listen: { host: string; port: number };
  tokens: readonly ApiToken[];
  /** where the tokens came from: re-read when it changes (mixmesh token create/revoke, a refreshed Secret) */
  tokensFile?: string;
  bodyLimitBytes: number;
  injector: { enabled: boolean; listen: { host: string; port: number }; token?: string; url?: string };
  callback: { url: string; auth: 'basic' | 'oauth2' };
  systemNamespace: string;
  /** the mesh values; `trustDomainExplicit` false means: read it from ConfigMap istio-system/istio */
  mesh: MeshValues;
  trustDomainExplicit: boolean;
  sidecarArtifacts?: string;
  /** how often the controller re-lists every MeshService even without watch events */
  resyncSeconds: number;
  /** Tacker FAILED_TEMP: how many `retry` calls before `rollback` */
  tackerRetries: number;
  /** polling interval for Tacker operations when no notification arrives */
  tackerPollMs: number;
  /** how long one VM chain (create → WorkloadEntry) may take */
  vmTimeoutMs: number;
  /** how long workloads may take to become ready */
  readyTimeoutMs: number;
  /** the leader Lease's duration: a replica that stops renewing (killed) is replaced after this long */
  leaseDurationSeconds: number;
  /** backup.md: the default store, its S3 settings, the keys, how nodes are reached */
  backup: {
    store: string;
    s3: S3StoreOptions;
    /** a directory with kek, signing-key.pem, public-key.pem; absent: the Secret mixmesh-backup-keys */
    keysDir?: string;
    nodeSsh?: { user: string; keyFile: string; knownHostsFile: string };
  };
  /** migrate: the target clouds (MIXMESH_MIGRATE_TARGETS, a YAML file; see migrate/README.md) */
  migrate: { targets: TargetConfig[] };
  /** HTTPS for the API (and so the Tacker callback) and the in-process injector; absent: plain HTTP */
  tls?: TlsSource;
  /** bearer tokens and Basic credentials over plain HTTP from a non-loopback peer: refused unless true */
  allowInsecureHttp: boolean;
  /** PEM CA bundle mixmesh trusts for its own calls to the injector (else: the certificates in tlsCertFile, then the system roots) */
  caFile?: string;
  /** the validating admission webhook for MeshServices (always TLS); absent: not served */
  webhook?: WebhookConfig;
}

/** a certificate and key: PEM files, or a `kubernetes.io/tls` Secret; both are re-read when they change */
export type TlsSource = { kind: 'files'; certFile: string; keyFile: string } | { kind: 'secret'; namespace: string; name: string };

export interface WebhookConfig {
  listen: { host: string; port: number };
  /** how the API server reaches the webhook: a URL, or a Service in the system namespace */
  clientConfig: { url: string } | { service: { namespace: string; name: string; port: number; path: string } };
  /** given certificate files (the CA goes into caBundle); absent: mixmesh makes and rotates its own */
  certFiles?: { certFile: string; keyFile: string; caFile: string };
}

/** What a command line may set (cli/serve.ts maps commander options onto this). */
export interface ConfigFlags {
  config?: string;
  kubeconfig?: string;
  listen?: string;
  tokensFile?: string;
  injector?: boolean; // --no-injector sets false
  injectorListen?: string;
  injectorUrl?: string;
  callbackUrl?: string;
  callbackAuth?: string;
  systemNamespace?: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  tlsSecret?: string;
  webhookListen?: string;
  webhookUrl?: string;
}

export interface ConfigSources {
  flags?: ConfigFlags;
  env?: Readonly<Record<string, string | undefined>>;
  cwd?: string;
  home?: string;
  /** where an in-cluster service account would be; tests point it elsewhere */
  serviceAccountDir?: string;
}

const MESH_KEYS = new Set(Object.keys(DEFAULT_MESH_VALUES));
export const FILE_KEYS: ReadonlySet<string> = new Set([
  'kubeconfig', 'listen', 'tokensFile', 'bodyLimitBytes', 'injectorListen', 'injectorUrl', 'injectorToken', 'callbackUrl',
  'callbackAuth', 'systemNamespace', 'sidecarArtifacts', 'resyncSeconds', 'tackerRetries', 'tackerPollMs', 'vmTimeoutMs',
  'readyTimeoutMs', 'leaseDurationSeconds', 'mesh', 'tlsCertFile', 'tlsKeyFile', 'tlsSecret', 'allowInsecureHttp', 'webhookListen', 'webhookUrl',
  'webhookCertFile', 'webhookKeyFile', 'webhookCaFile', 'caFile',
]);

function parseListen(value: string, where: string, problems: ProblemItem[]): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    problems.push({ pointer: where, message: `"${value}" is not HOST:PORT (e.g. 127.0.0.1:7070)` });
    return { host: '127.0.0.1', port: 0 };
  }
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

function readYamlFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new MixmeshError('CONFIG_INVALID', `${what} ${path} cannot be read: ${(e as Error).message}`);
  }
  try {
    return parseYaml(text, { uniqueKeys: true, maxAliasCount: 100 });
  } catch (e) {
    throw new MixmeshError('CONFIG_INVALID', `${what} ${path} is not YAML: ${(e as Error).message}`);
  }
}

/** Parse and check a tokens file: YAML `[{name, role, sha256, namespaces?}]`. */
export function parseTokens(value: unknown, where: string): ApiToken[] {
  const problems: ProblemItem[] = [];
  if (!Array.isArray(value)) throw new MixmeshError('CONFIG_INVALID', `${where}: must be a YAML list of {name, role, sha256}`);
  const out: ApiToken[] = [];
  value.forEach((t: unknown, i) => {
    const o = (t ?? {}) as Record<string, unknown>;
    if (typeof o.name !== 'string' || o.name === '') problems.push({ pointer: `/${i}/name`, message: 'must be a non-empty string' });
    if (!ROLES.includes(o.role as Role)) problems.push({ pointer: `/${i}/role`, message: `"${String(o.role)}" is not a role (allowed: ${ROLES.join(', ')})` });
    if (typeof o.sha256 !== 'string' || !/^[0-9a-f]{64}$/i.test(o.sha256)) problems.push({ pointer: `/${i}/sha256`, message: 'must be the 64 hex digits of the token\'s SHA-256' });
    for (const k of ['createdAt', 'expiresAt'] as const) {
      if (o[k] !== undefined && (typeof o[k] !== 'string' || Number.isNaN(Date.parse(o[k] as string)))) problems.push({ pointer: `/${i}/${k}`, message: 'must be an ISO 8601 time' });
    }
    if (o.namespaces !== undefined && (!Array.isArray(o.namespaces) || o.namespaces.length === 0 || !o.namespaces.every((n) => typeof n === 'string' && /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(n)))) {
      problems.push({ pointer: `/${i}/namespaces`, message: 'must be a non-empty list of namespace names (DNS-1123 labels); leave it out for all namespaces' });
    }
    const extra = Object.keys(o).filter((k) => !['name', 'role', 'sha256', 'namespaces', 'createdAt', 'expiresAt'].includes(k));
    if (extra.length) problems.push({ pointer: `/${i}`, message: `unknown fields ${extra.join(', ')} (allowed: name, role, sha256, namespaces, createdAt, expiresAt)` });
    if (problems.length === 0) out.push({ name: o.name as string, role: o.role as Role, sha256: (o.sha256 as string).toLowerCase(), ...(o.namespaces ? { namespaces: [...(o.namespaces as string[])] } : {}), ...(typeof o.createdAt === 'string' ? { createdAt: o.createdAt } : {}), ...(typeof o.expiresAt === 'string' ? { expiresAt: o.expiresAt } : {}) });
  });
  if (problems.length) throw new MixmeshError('CONFIG_INVALID', `${where}: ${problems.map((p) => `${p.pointer}: ${p.message}`).join('; ')}`, { errors: problems });
  return out;
}

/** MIXMESH_BACKUP_STORE (default file://<cwd>/.mixmesh/backups), MIXMESH_BACKUP_KEYS, the AWS_* variables, MIXMESH_NODE_SSH_KEY, MIXMESH_NODE_SSH_USER, MIXMESH_NODE_KNOWN_HOSTS */
function backupConfig(env: Readonly<Record<string, string | undefined>>, cwd: string, problems: ProblemItem[]): OrchestratorConfig['backup'] {
  const store = env.MIXMESH_BACKUP_STORE || `file://${resolve(cwd, '.mixmesh/backups')}`;
  if (!/^file:\/\/\//.test(store) && !/^s3:\/\/[^/]{3,}/.test(store)) problems.push({ pointer: '/backup/store', message: `MIXMESH_BACKUP_STORE "${store}": use file:///absolute/dir or s3://bucket[/prefix]` });
  const s3 = s3OptionsFromEnv(env as NodeJS.ProcessEnv);
  if (env.MIXMESH_BACKUP_S3_ENDPOINT) s3.endpoint = env.MIXMESH_BACKUP_S3_ENDPOINT;
  const keysDir = env.MIXMESH_BACKUP_KEYS ? resolve(cwd, env.MIXMESH_BACKUP_KEYS) : undefined;
  if (keysDir && !existsSync(keysDir)) problems.push({ pointer: '/backup/keys', message: `MIXMESH_BACKUP_KEYS ${keysDir} does not exist` });
  const keyFile = env.MIXMESH_NODE_SSH_KEY ? resolve(cwd, env.MIXMESH_NODE_SSH_KEY) : undefined;
  const knownHostsFile = env.MIXMESH_NODE_KNOWN_HOSTS ? resolve(cwd, env.MIXMESH_NODE_KNOWN_HOSTS) : undefined;
  if ((keyFile === undefined) !== (knownHostsFile === undefined)) problems.push({ pointer: '/backup/nodeSsh', message: 'MIXMESH_NODE_SSH_KEY and MIXMESH_NODE_KNOWN_HOSTS go together (host keys are always checked)' });
  return {
    store,
    s3,
    ...(keysDir ? { keysDir } : {}),
    ...(keyFile && knownHostsFile ? { nodeSsh: { user: env.MIXMESH_NODE_SSH_USER || 'root', keyFile, knownHostsFile } } : {}),
  };
}

/** MIXMESH_MIGRATE_TARGETS: the target clouds of migrations (none when unset) */
function migrateTargets(env: Readonly<Record<string, string | undefined>>, cwd: string, problems: ProblemItem[]): TargetConfig[] {
  if (!env.MIXMESH_MIGRATE_TARGETS) return [];
  try {
    return loadTargetsFile(resolve(cwd, env.MIXMESH_MIGRATE_TARGETS));
  } catch (e) {
    problems.push({ pointer: '/migrate/targets', message: e instanceof Error ? e.message : String(e) });
    return [];
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

function positiveInt(value: unknown, where: string, problems: ProblemItem[], fallback: number): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
    problems.push({ pointer: where, message: `${JSON.stringify(value)} is not a non-negative integer` });
    return fallback;
  }
  return n;
}

/**
 * Build the configuration. Throws CONFIG_INVALID (exit 2) naming every problem: no Kubernetes,
 * no tokens, a bad listen address, an unreadable file.
 */
export function loadConfig(sources: ConfigSources = {}): OrchestratorConfig {
  const flags = sources.flags ?? {};
  const env = sources.env ?? {};
  const cwd = sources.cwd ?? '.';
  const home = sources.home ?? env.HOME ?? '/root';
  const problems: ProblemItem[] = [];

  const configPath = flags.config;
  let file: Record<string, unknown> = {};
  if (configPath !== undefined) {
    const doc = readYamlFile(resolve(cwd, configPath), 'config file');
    if (doc !== null && doc !== undefined) {
      if (typeof doc !== 'object' || Array.isArray(doc)) throw new MixmeshError('CONFIG_INVALID', `config file ${configPath}: must be a YAML mapping`);
      file = doc as Record<string, unknown>;
    }
    for (const key of Object.keys(file)) {
      if (!FILE_KEYS.has(key) && !MESH_KEYS.has(key)) problems.push({ pointer: `/${key}`, message: `unknown setting "${key}" in ${configPath} (allowed: ${[...FILE_KEYS, ...MESH_KEYS].sort().join(', ')})` });
    }
  }
  const fileStr = (key: string): string | undefined => {
    const v = file[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') {
      problems.push({ pointer: `/${key}`, message: `must be a string in ${configPath}` });
      return undefined;
    }
    return v;
  };
  const pick = (flag: string | undefined, envName: string, fileKey: string): string | undefined => flag ?? (env[envName] || undefined) ?? fileStr(fileKey);

  // Kubernetes: never fall back to localhost:8080 (client-node would, silently)
  const saDir = sources.serviceAccountDir ?? '/var/run/secrets/kubernetes.io/serviceaccount';
  const kubeconfigPath = pick(flags.kubeconfig, 'KUBECONFIG', 'kubeconfig');
  let kube: KubeSource | undefined;
  if (kubeconfigPath) {
    const path = resolve(cwd, kubeconfigPath.split(':')[0]!);
    if (!existsSync(path)) problems.push({ pointer: '/kubeconfig', message: `kubeconfig ${path} does not exist` });
    else kube = { kind: 'kubeconfig', path };
  } else if (env.KUBERNETES_SERVICE_HOST && existsSync(join(saDir, 'token'))) {
    kube = { kind: 'in-cluster', host: env.KUBERNETES_SERVICE_HOST, port: env.KUBERNETES_SERVICE_PORT ?? '443', tokenFile: join(saDir, 'token'), caFile: join(saDir, 'ca.crt') };
  } else {
    problems.push({ pointer: '/kubeconfig', message: 'no Kubernetes cluster: set --kubeconfig or KUBECONFIG, or run in a cluster with a service account' });
  }

  const listenText = pick(flags.listen, 'MIXMESH_LISTEN', 'listen') ?? '127.0.0.1:7070';
  const listen = parseListen(listenText, '/listen', problems);

  const tokensFile = pick(flags.tokensFile, 'MIXMESH_TOKENS_FILE', 'tokensFile');
  let tokens: ApiToken[] = [];
  if (!tokensFile) {
    problems.push({ pointer: '/tokensFile', message: 'no API tokens: set MIXMESH_TOKENS_FILE to a YAML list of {name, role, sha256}; the API refuses to start without one' });
  } else {
    tokens = parseTokens(readYamlFile(resolve(cwd, tokensFile), 'tokens file'), `tokens file ${tokensFile}`);
    if (tokens.length === 0) problems.push({ pointer: '/tokensFile', message: `${tokensFile} holds no tokens; the API refuses to start without one` });
  }

  const injectorEnabled = flags.injector !== false;
  const injectorListen = parseListen(pick(flags.injectorListen, 'MIXMESH_INJECTOR_LISTEN', 'injectorListen') ?? '127.0.0.1:7071', '/injectorListen', problems);
  const injectorUrl = pick(flags.injectorUrl, 'MIXMESH_INJECTOR_URL', 'injectorUrl');
  const injectorToken = (env.MIXMESH_INJECTOR_TOKEN || undefined) ?? fileStr('injectorToken');
  if (!injectorEnabled && !injectorUrl) problems.push({ pointer: '/injectorUrl', message: 'with --no-injector, MIXMESH_INJECTOR_URL must name the remote injector' });
  if (injectorUrl && !/^https?:\/\//.test(injectorUrl)) problems.push({ pointer: '/injectorUrl', message: `"${injectorUrl}" is not an http(s) URL` });

  const callbackAuth = pick(flags.callbackAuth, 'MIXMESH_CALLBACK_AUTH', 'callbackAuth') ?? 'basic';
  if (callbackAuth !== 'basic' && callbackAuth !== 'oauth2') problems.push({ pointer: '/callbackAuth', message: `"${callbackAuth}" is not allowed (basic or oauth2)` });
  // TLS for the API, the callback and the in-process injector: files or a kubernetes.io/tls Secret
  const tlsCertFile = pick(flags.tlsCertFile, 'MIXMESH_TLS_CERT_FILE', 'tlsCertFile');
  const tlsKeyFile = pick(flags.tlsKeyFile, 'MIXMESH_TLS_KEY_FILE', 'tlsKeyFile');
  const tlsSecret = pick(flags.tlsSecret, 'MIXMESH_TLS_SECRET', 'tlsSecret');
  let tls: TlsSource | undefined;
  if ((tlsCertFile === undefined) !== (tlsKeyFile === undefined)) problems.push({ pointer: tlsCertFile ? '/tlsKeyFile' : '/tlsCertFile', message: 'tlsCertFile and tlsKeyFile go together (MIXMESH_TLS_CERT_FILE, MIXMESH_TLS_KEY_FILE)' });
  else if (tlsCertFile && tlsKeyFile) {
    if (tlsSecret) problems.push({ pointer: '/tlsSecret', message: 'give either tlsCertFile/tlsKeyFile or tlsSecret, not both' });
    for (const [key, f] of [['tlsCertFile', tlsCertFile], ['tlsKeyFile', tlsKeyFile]] as const) if (!existsSync(resolve(cwd, f))) problems.push({ pointer: `/${key}`, message: `${resolve(cwd, f)} does not exist` });
    tls = { kind: 'files', certFile: resolve(cwd, tlsCertFile), keyFile: resolve(cwd, tlsKeyFile) };
  } else if (tlsSecret) {
    const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(tlsSecret);
    if (!m) problems.push({ pointer: '/tlsSecret', message: `"${tlsSecret}" is not NAMESPACE/NAME of a kubernetes.io/tls Secret` });
    else tls = { kind: 'secret', namespace: m[1]!, name: m[3]! };
  }
  const caFile = pick(undefined, 'MIXMESH_CA_FILE', 'caFile');
  if (caFile !== undefined && !existsSync(resolve(cwd, caFile))) problems.push({ pointer: '/caFile', message: `${resolve(cwd, caFile)} does not exist` });
  const insecureText = (env.MIXMESH_ALLOW_INSECURE_HTTP || undefined) ?? (file.allowInsecureHttp === undefined ? undefined : String(file.allowInsecureHttp));
  if (insecureText !== undefined && insecureText !== 'true' && insecureText !== 'false') problems.push({ pointer: '/allowInsecureHttp', message: `${JSON.stringify(insecureText)} is not true or false` });

  const callbackUrl = pick(flags.callbackUrl, 'MIXMESH_CALLBACK_URL', 'callbackUrl') ?? `${tls ? 'https' : 'http'}://${listenText}/v1/tacker/notifications`;

  const systemNamespace = pick(flags.systemNamespace, 'MIXMESH_SYSTEM_NAMESPACE', 'systemNamespace') ?? 'mixmesh-system';
  // the leader Lease: renewed every third of it (at most every 5 s), so at least 3 s
  const leaseText = (env.MIXMESH_LEASE_DURATION_SECONDS || undefined) ?? file.leaseDurationSeconds;
  const leaseDurationSeconds = leaseText === undefined ? 15 : Number(leaseText);
  if (leaseText !== undefined && (!Number.isInteger(leaseDurationSeconds) || leaseDurationSeconds < 3 || leaseDurationSeconds > 3600)) {
    problems.push({ pointer: '/leaseDurationSeconds', message: `${JSON.stringify(leaseText)} is not a whole number of seconds from 3 to 3600` });
  }
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(systemNamespace)) problems.push({ pointer: '/systemNamespace', message: `"${systemNamespace}" is not a DNS-1123 label` });

  // mesh values: the file's `mesh:` block or top-level mesh keys (the same file `render --config` reads)
  const meshFile = { ...Object.fromEntries(Object.entries(file).filter(([k]) => MESH_KEYS.has(k))), ...((file.mesh as Record<string, unknown> | undefined) ?? {}) };
  const mesh = { ...structuredClone(DEFAULT_MESH_VALUES), ...meshFile } as MeshValues;
  if (meshFile.trustDomain !== undefined && meshFile.meshId === undefined) mesh.meshId = mesh.trustDomain;
  for (const key of ['trustDomain', 'clusterDomain', 'clusterId', 'meshId', 'istioNamespace', 'istioVersion'] as const) {
    if (typeof mesh[key] !== 'string' || mesh[key] === '') problems.push({ pointer: `/mesh/${key}`, message: 'must be a non-empty string' });
  }
  mesh.tokenExpirationSeconds = positiveInt(mesh.tokenExpirationSeconds, '/mesh/tokenExpirationSeconds', problems, 3600);

  let openstack: OpenStackConfig | undefined;
  try {
    openstack = loadOpenStackConfig(env, { cwd, home });
  } catch (e) {
    problems.push({ pointer: '/openstack', message: (e as Error).message });
  }

  const artifacts = (env.MIXMESH_SIDECAR_ARTIFACTS || undefined) ?? fileStr('sidecarArtifacts');

  // the admission webhook: served when given a listen address, and by default inside a cluster
  const webhookListenText = pick(flags.webhookListen, 'MIXMESH_WEBHOOK_LISTEN', 'webhookListen') ?? (kube?.kind === 'in-cluster' ? '0.0.0.0:9443' : undefined);
  let webhook: WebhookConfig | undefined;
  if (webhookListenText !== undefined) {
    const wl = parseListen(webhookListenText, '/webhookListen', problems);
    const webhookUrl = pick(flags.webhookUrl, 'MIXMESH_WEBHOOK_URL', 'webhookUrl');
    if (webhookUrl !== undefined && !/^https:\/\/[^/]+/.test(webhookUrl)) problems.push({ pointer: '/webhookUrl', message: `"${webhookUrl}" is not an https:// URL (the API server calls webhooks over HTTPS only)` });
    const files = { certFile: pick(undefined, 'MIXMESH_WEBHOOK_CERT_FILE', 'webhookCertFile'), keyFile: pick(undefined, 'MIXMESH_WEBHOOK_KEY_FILE', 'webhookKeyFile'), caFile: pick(undefined, 'MIXMESH_WEBHOOK_CA_FILE', 'webhookCaFile') };
    const given = Object.values(files).filter((f) => f !== undefined).length;
    if (given !== 0 && given !== 3) problems.push({ pointer: '/webhookCertFile', message: 'webhookCertFile, webhookKeyFile and webhookCaFile go together (or none: mixmesh makes its own)' });
    const host = wl.host === '0.0.0.0' || wl.host === '::' ? '127.0.0.1' : wl.host;
    webhook = {
      listen: wl,
      clientConfig: webhookUrl !== undefined ? { url: webhookUrl }
        : kube?.kind === 'in-cluster' ? { service: { namespace: systemNamespace, name: 'mixmesh-webhook', port: 443, path: '/validate/meshservices' } }
          : { url: `https://${host.includes(':') ? `[${host}]` : host}:${wl.port}/validate/meshservices` },
      ...(given === 3 ? { certFiles: { certFile: resolve(cwd, files.certFile!), keyFile: resolve(cwd, files.keyFile!), caFile: resolve(cwd, files.caFile!) } } : {}),
    };
  }
  if (problems.length) {
    throw new MixmeshError('CONFIG_INVALID', problems.map((p) => `${p.pointer}: ${p.message}`).join('; '), { errors: problems });
  }
  const config: OrchestratorConfig = {
    kube: kube!,
    ...(openstack ? { openstack } : {}),
    listen,
    tokens,
    ...(tokensFile ? { tokensFile: resolve(cwd, tokensFile) } : {}),
    bodyLimitBytes: positiveInt(file.bodyLimitBytes, '/bodyLimitBytes', problems, 4 * 1024 * 1024),
    injector: { enabled: injectorEnabled, listen: injectorListen, ...(injectorToken ? { token: injectorToken } : {}), ...(injectorUrl ? { url: injectorUrl } : {}) },
    callback: { url: callbackUrl, auth: callbackAuth as 'basic' | 'oauth2' },
    systemNamespace,
    mesh,
    trustDomainExplicit: meshFile.trustDomain !== undefined,
    ...(artifacts ? { sidecarArtifacts: /^https?:\/\//.test(artifacts) ? artifacts : resolve(cwd, artifacts) } : {}),
    resyncSeconds: positiveInt(file.resyncSeconds, '/resyncSeconds', problems, 30),
    tackerRetries: positiveInt(file.tackerRetries, '/tackerRetries', problems, 2),
    tackerPollMs: positiveInt(file.tackerPollMs, '/tackerPollMs', problems, 2000),
    vmTimeoutMs: positiveInt(file.vmTimeoutMs, '/vmTimeoutMs', problems, 15 * 60_000),
    readyTimeoutMs: positiveInt(file.readyTimeoutMs, '/readyTimeoutMs', problems, 10 * 60_000),
    leaseDurationSeconds,
    backup: backupConfig(env, cwd, problems),
    migrate: { targets: migrateTargets(env, cwd, problems) },
    ...(tls ? { tls } : {}),
    allowInsecureHttp: insecureText === 'true',
    ...(caFile ? { caFile: resolve(cwd, caFile) } : {}),
    ...(webhook ? { webhook } : {}),
  };
  if (problems.length) throw new MixmeshError('CONFIG_INVALID', problems.map((p) => `${p.pointer}: ${p.message}`).join('; '), { errors: problems });
  return deepFreeze(config);
}
