/**
 * Loading the Kubernetes connection once, failing fast: @kubernetes/client-node falls back to
 * http://localhost:8080 when there is no current cluster; mixmesh refuses with CONFIG_INVALID.
 *
 * The kubeconfig is read here, by our own small loader, not by client-node's KubeConfig: loading
 * client-node costs ~70 MiB of resident memory (its config module imports the whole generated
 * API), which every mixmesh process (the backup one above all) would pay for nothing. The loader
 * covers the static cases fully (server, CA file/data, insecure-skip-tls-verify, tls-server-name,
 * client certificate and key file/data, token, tokenFile re-read per request, basic auth, the
 * in-cluster service account with its token re-read per request). A user with anything else
 * (`exec`, `auth-provider`, `as`, a cluster `proxy-url`, any key it does not know) is handed to
 * client-node's KubeConfig, imported dynamically the first time a request needs it: behaviour for
 * those users is unchanged, and only they pay for it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Agent as HttpsAgent, type RequestOptions } from 'node:https';
import { isIPv6 } from 'node:net';
import { dirname, isAbsolute, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { KubeConfig as ClientNodeKubeConfig } from '@kubernetes/client-node';
import { MixmeshError } from '../../common/errors.js';

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface KubeConfigSource {
  /** a kubeconfig file (the `--kubeconfig` flag) */
  path?: string;
  /** the environment to read KUBECONFIG / KUBERNETES_SERVICE_HOST / _PORT from (default process.env; tests pass their own) */
  env?: Readonly<Record<string, string | undefined>>;
  /** the in-cluster service account's folder (token, ca.crt); default /var/run/secrets/kubernetes.io/serviceaccount (tests pass their own) */
  serviceAccountDir?: string;
}

/** A kubeconfig cluster, with the field names client-node uses (callers read `server`). */
export interface KubeCluster {
  name: string;
  /** without a trailing slash */
  server: string;
  caData?: string;
  caFile?: string;
  skipTLSVerify: boolean;
  tlsServerName?: string;
  /** a field this loader does not handle (proxy-url, …): requests go through client-node */
  unsupported?: string;
}

export interface KubeContext {
  name: string;
  cluster: string;
  user?: string;
  namespace?: string;
}

export interface KubeUser {
  name: string;
  token?: string;
  tokenFile?: string;
  certData?: string;
  certFile?: string;
  keyData?: string;
  keyFile?: string;
  username?: string;
  password?: string;
  /** a field this loader does not handle (exec, auth-provider, …): requests go through client-node */
  unsupported?: string;
}

const CLUSTER_KEYS = new Set(['server', 'certificate-authority', 'certificate-authority-data', 'insecure-skip-tls-verify', 'tls-server-name', 'extensions']);
const USER_KEYS = new Set(['token', 'tokenFile', 'token-file', 'client-certificate', 'client-certificate-data', 'client-key', 'client-key-data', 'username', 'password', 'extensions']);

type Origin = { kind: 'text'; text: string; dir?: string } | { kind: 'cluster'; cluster: KubeCluster; tokenFile: string };

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * The kubeconfig mixmesh uses: the subset of client-node's KubeConfig its clients call
 * (getCurrentCluster, getCurrentContext, getContexts, setCurrentContext, applyToHTTPSOptions).
 */
export class KubeConfig {
  private currentContext: string | undefined;
  private delegate: Promise<ClientNodeKubeConfig> | undefined;

  private constructor(
    private readonly clusters: KubeCluster[],
    private readonly users: KubeUser[],
    private readonly contexts: KubeContext[],
    currentContext: string | undefined,
    private readonly origin: Origin,
  ) {
    this.currentContext = currentContext;
  }

  /** Parses kubeconfig text (relative file paths resolved against `dir`, as kubectl does); throws a plain Error on malformed input. */
  static fromText(text: string, dir?: string): KubeConfig {
    const doc: unknown = parseYaml(text);
    if (!isObj(doc)) throw new Error('not a YAML mapping');
    const abs = (p: string | undefined) => (p !== undefined && dir !== undefined && !isAbsolute(p) ? join(dir, p) : p);
    const list = (key: string): Record<string, unknown>[] => {
      const v = doc[key];
      if (v === undefined || v === null) return [];
      if (!Array.isArray(v)) throw new Error(`${key} must be a list`);
      return v.map((e, i) => { if (!isObj(e)) throw new Error(`${key}[${i}] must be a mapping`); return e; });
    };
    const clusters = list('clusters').map((e, i): KubeCluster => {
      if (!str(e.name)) throw new Error(`clusters[${i}].name is missing`);
      const c = e.cluster;
      if (!isObj(c)) throw new Error(`clusters[${i}].cluster is missing`);
      if (!str(c.server)) throw new Error(`clusters[${i}].cluster.server is missing`);
      const unsupported = Object.keys(c).find((k) => !CLUSTER_KEYS.has(k));
      return {
        name: e.name as string,
        server: (c.server as string).replace(/\/$/, ''),
        caData: str(c['certificate-authority-data']),
        caFile: abs(str(c['certificate-authority'])),
        skipTLSVerify: c['insecure-skip-tls-verify'] === true,
        tlsServerName: str(c['tls-server-name']),
        ...(unsupported ? { unsupported } : {}),
      };
    });
    const users = list('users').map((e, i): KubeUser => {
      if (!str(e.name)) throw new Error(`users[${i}].name is missing`);
      const u = isObj(e.user) ? e.user : {};
      const unsupported = Object.keys(u).find((k) => !USER_KEYS.has(k));
      return {
        name: e.name as string,
        token: str(u.token),
        tokenFile: abs(str(u.tokenFile) ?? str(u['token-file'])),
        certData: str(u['client-certificate-data']),
        certFile: abs(str(u['client-certificate'])),
        keyData: str(u['client-key-data']),
        keyFile: abs(str(u['client-key'])),
        username: str(u.username),
        password: typeof u.password === 'string' ? u.password : undefined,
        ...(unsupported ? { unsupported } : {}),
      };
    });
    const contexts = list('contexts').map((e, i): KubeContext => {
      if (!str(e.name)) throw new Error(`contexts[${i}].name is missing`);
      const c = e.context;
      if (!isObj(c)) throw new Error(`contexts[${i}].context is missing`);
      if (!str(c.cluster)) throw new Error(`contexts[${i}].context.cluster is missing`);
      return { name: e.name as string, cluster: c.cluster as string, user: str(c.user), namespace: str(c.namespace) };
    });
    return new KubeConfig(clusters, users, contexts, str(doc['current-context']), { kind: 'text', text, dir });
  }

  /** The in-cluster service account (as client-node's loadFromCluster): https unless the port is 80/8080/8001; the token file is re-read per request. */
  static inCluster(host: string, port: string, serviceAccountDir: string): KubeConfig {
    const scheme = port === '80' || port === '8080' || port === '8001' ? 'http' : 'https';
    const cluster: KubeCluster = { name: 'inCluster', server: `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`, caFile: join(serviceAccountDir, 'ca.crt'), skipTLSVerify: false };
    const tokenFile = join(serviceAccountDir, 'token');
    const namespaceFile = join(serviceAccountDir, 'namespace');
    const namespace = existsSync(namespaceFile) ? readFileSync(namespaceFile, 'utf8').trim() : undefined;
    return new KubeConfig([cluster], [{ name: 'inClusterUser', tokenFile }], [{ name: 'inClusterContext', cluster: 'inCluster', user: 'inClusterUser', namespace }], 'inClusterContext', { kind: 'cluster', cluster, tokenFile });
  }

  getCurrentContext(): string {
    return this.currentContext ?? '';
  }

  setCurrentContext(name: string): void {
    this.currentContext = name;
  }

  getContexts(): KubeContext[] {
    return this.contexts;
  }

  getContextObject(name: string | undefined): KubeContext | null {
    return this.contexts.find((c) => c.name === name) ?? null;
  }

  getCurrentCluster(): KubeCluster | null {
    const ctx = this.getContextObject(this.currentContext);
    return ctx ? this.clusters.find((c) => c.name === ctx.cluster) ?? null : null;
  }

  getCurrentUser(): KubeUser | null {
    const ctx = this.getContextObject(this.currentContext);
    return ctx?.user !== undefined ? this.users.find((u) => u.name === ctx.user) ?? null : null;
  }

  /** Whether requests go through client-node's KubeConfig (a user with exec / auth-provider, a cluster with proxy-url, …). */
  needsClientNode(): boolean {
    const cluster = this.getCurrentCluster();
    return Boolean(this.getCurrentUser()?.unsupported ?? cluster?.unsupported);
  }

  /**
   * Sets the CA, client certificate, TLS options, credentials (headers.Authorization or auth) and
   * an https Agent carrying the TLS options on `opts`, as client-node's applyToHTTPSOptions does.
   */
  async applyToHTTPSOptions(opts: RequestOptions): Promise<void> {
    if (this.needsClientNode()) {
      await (await this.clientNode()).applyToHTTPSOptions(opts);
      return;
    }
    const cluster = this.getCurrentCluster();
    const user = this.getCurrentUser();
    if (cluster?.skipTLSVerify) opts.rejectUnauthorized = false;
    if (cluster?.tlsServerName) opts.servername = cluster.tlsServerName;
    const ca = await fileOrData(cluster?.caFile, cluster?.caData);
    if (ca) opts.ca = ca;
    const cert = await fileOrData(user?.certFile, user?.certData);
    if (cert) opts.cert = cert;
    const key = await fileOrData(user?.keyFile, user?.keyData);
    if (key) opts.key = key;
    opts.headers ??= {};
    const token = user?.token ?? (user?.tokenFile ? (await readFile(user.tokenFile, 'utf8')).trim() : undefined);
    if (token) (opts.headers as Record<string, string>).Authorization = `Bearer ${token}`;
    if (user?.username) opts.auth = `${user.username}:${user.password ?? ''}`;
    if (cluster?.server.startsWith('https:')) {
      opts.agent = new HttpsAgent({
        ca: opts.ca, cert: opts.cert, key: opts.key, servername: opts.servername,
        ...(opts.rejectUnauthorized !== undefined ? { rejectUnauthorized: opts.rejectUnauthorized } : {}),
      });
    }
  }

  /**
   * client-node's KubeConfig for the same source and context (for its Exec, and for users this
   * loader does not handle), imported and built on first use.
   */
  clientNode(): Promise<ClientNodeKubeConfig> {
    this.delegate ??= (async () => {
      const { KubeConfig: ClientNode } = await import('@kubernetes/client-node');
      const kc = new ClientNode();
      if (this.origin.kind === 'text') {
        kc.loadFromString(this.origin.text);
        if (this.origin.dir !== undefined) kc.makePathsAbsolute(this.origin.dir);
        // kubectl's `tokenFile` (client-node reads only `token-file`, once): client-node's tokenFile provider re-reads it
        const users = kc.users.map((u) => {
          const tokenFile = this.users.find((x) => x.name === u.name)?.tokenFile;
          return !u.token && !u.authProvider && !u.exec && tokenFile ? { ...u, authProvider: { name: 'tokenFile', config: { tokenFile } } } : u;
        });
        kc.loadFromOptions({ clusters: kc.clusters, users, contexts: kc.contexts, currentContext: kc.currentContext });
      } else {
        const { cluster, tokenFile } = this.origin;
        kc.loadFromOptions({
          clusters: [{ name: cluster.name, server: cluster.server, caFile: cluster.caFile, skipTLSVerify: false }],
          users: [{ name: 'inClusterUser', authProvider: { name: 'tokenFile', config: { tokenFile } } }],
          contexts: [{ name: 'inClusterContext', cluster: cluster.name, user: 'inClusterUser', namespace: this.contexts[0]?.namespace }],
          currentContext: 'inClusterContext',
        });
      }
      if (this.currentContext !== undefined) kc.setCurrentContext(this.currentContext);
      return kc;
    })();
    return this.delegate;
  }
}

async function fileOrData(file: string | undefined, data: string | undefined): Promise<Buffer | undefined> {
  if (file) return readFile(file);
  if (data) return Buffer.from(data, 'base64');
  return undefined;
}

/**
 * `--kubeconfig` / `KUBECONFIG` (its first path), else the in-cluster service account, else
 * CONFIG_INVALID. Accepts a path string for the common case.
 */
export function loadKubeConfig(source: string | KubeConfigSource = {}): KubeConfig {
  const { path, env = process.env, serviceAccountDir = SERVICE_ACCOUNT_DIR } = typeof source === 'string' ? { path: source } : source;
  const file = path ?? env.KUBECONFIG?.split(':').find((p) => p !== '');
  let origin: string;
  let kc: KubeConfig;
  try {
    if (file !== undefined) {
      if (!existsSync(file)) throw new Error(`no such file ${file}`);
      kc = KubeConfig.fromText(readFileSync(file, 'utf8'), dirname(file));
      origin = `kubeconfig ${file}`;
    } else if (env.KUBERNETES_SERVICE_HOST && existsSync(join(serviceAccountDir, 'token'))) {
      kc = KubeConfig.inCluster(env.KUBERNETES_SERVICE_HOST, env.KUBERNETES_SERVICE_PORT ?? '443', serviceAccountDir);
      origin = 'the in-cluster service account';
    } else {
      throw new MixmeshError('CONFIG_INVALID', 'no Kubernetes configuration: pass --kubeconfig or set KUBECONFIG (or run in a cluster)');
    }
  } catch (e) {
    if (e instanceof MixmeshError) throw e;
    throw new MixmeshError('CONFIG_INVALID', `cannot read the Kubernetes configuration: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster || !cluster.server) {
    throw new MixmeshError('CONFIG_INVALID', `${origin} has no current cluster (current-context "${kc.getCurrentContext()}"); refusing to fall back to localhost:8080`);
  }
  if (!/^https?:\/\//.test(cluster.server)) throw new MixmeshError('CONFIG_INVALID', `${origin}: cluster server "${cluster.server}" is not an http(s) URL`);
  return kc;
}

/** A kubeconfig given as text (a registered cluster's credentials), optionally at a context; CONFIG_INVALID without a current cluster. */
export function kubeConfigFromText(text: string, context?: string): KubeConfig {
  let kc: KubeConfig;
  try {
    kc = KubeConfig.fromText(text);
  } catch (e) {
    throw new MixmeshError('CONFIG_INVALID', `kubeconfig: ${(e as Error).message.split('\n')[0]}`);
  }
  if (context) {
    if (!kc.getContexts().some((c) => c.name === context)) throw new MixmeshError('CONFIG_INVALID', `kubeconfig has no context "${context}"`);
    kc.setCurrentContext(context);
  }
  if (!kc.getCurrentCluster()) throw new MixmeshError('CONFIG_INVALID', 'kubeconfig has no current cluster');
  return kc;
}
