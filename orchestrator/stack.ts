/**
 * A running orchestrator with real clients: the Kubernetes client from the kubeconfig, the
 * OpenStack client (when configured), the injector in-process on its own listener (or a remote
 * one), the API listening, then the controller. `mixmesh serve`, `mixmesh demo`, the e2e tests
 * and the deploy benchmark all start it the same way.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { kubeCluster, readInjectorConfig, startInjector } from '../vm-sidecar-injector/index.js';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';
import type { Logger } from '../common/logger.js';
import { KubeClient, KubeletClient, PodExecClient, loadKubeConfig } from '../clients/kube/index.js';
import { createOpenStackClient, type OpenStackClient } from '../clients/openstack/index.js';
import { meshServiceCrd } from '../descriptor/index.js';
import type { MeshValues } from '../descriptor/index.js';
import type { OrchestratorConfig } from './config.js';
import { createGenerators } from './generators.js';
import { createMetrics } from './metrics.js';
import { PROTECTED_NAMESPACES } from './services.js';
import { createOrchestrator, type Orchestrator, type OrchestratorSettings } from './orchestrator.js';
import type { InjectorPort, KubeObject } from './ports.js';
import type { ApiMount } from './api/app.js';
import { httpInjector, kubePort, tackerPort } from './wiring.js';
import { readFileSync } from 'node:fs';
import { createMigrationService, openTarget } from '../migrate/index.js';
import { KubeNodeResolver, KubeletCheckpointer, SshNodeAccess, createBackupService, keysFromDir, keysFromSecret, type BackupService, type StoreKeys } from '../backup/index.js';
import { parseConsoleHostKeys } from '../clients/ssh/index.js';
import { startWebhook } from './webhook/server.js';
import { MixmeshError } from '../common/errors.js';
import { ReloadingTls, createReloadingHttpsServer, fetchTrusting, filesLoader, secretPair, type TlsLoader } from '../common/tls.js';

export interface StackOptions {
  config: OrchestratorConfig;
  log: Logger;
  /** tests and benchmarks: shorter polls, no Lease */
  settings?: Partial<OrchestratorSettings> & { backupPollMs?: number };
  onCreateSent?: (name: string, at: number) => void;
  onWorkloadEntry?: (name: string, at: number) => void;
  /** parts served by the same API (the gateway): started after the clients, stopped before them */
  extensions?: readonly StackExtension[];
}

/** a part mounted on the orchestrator's API, started with the stack's clients */
export type StackExtension = (ctx: { kube: KubeClient; openstack: OpenStackClient | undefined; log: Logger }) => Promise<{ mount: ApiMount; start?: () => Promise<void>; stop: () => Promise<void> }>;

export interface Stack {
  orchestrator: Orchestrator;
  url: string;
  injectorUrl: string | undefined;
  injectorToken: string | undefined;
  /** the admission webhook's https URL, when served */
  webhookUrl?: string | undefined;
  kube: KubeClient;
  openstack: OpenStackClient | undefined;
  /** backup's service (routes, runner, the before-injection handoff of restored VM data) */
  backup: BackupService;
  stop(): Promise<void>;
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** trustDomain from ConfigMap istio-system/istio `mesh` (docs/configuration.md), unless configured */
async function liveMeshValues(kube: KubeClient, config: OrchestratorConfig): Promise<MeshValues> {
  const values = structuredClone(config.mesh) as MeshValues;
  if (config.trustDomainExplicit) return values;
  const cm = await kube.get<KubeObject & { data?: Record<string, string> }>({ apiVersion: 'v1', kind: 'ConfigMap', namespace: values.istioNamespace, name: 'istio' });
  const text = cm?.data?.mesh;
  if (!text) return values;
  const mesh = parseYaml(text) as { trustDomain?: unknown; defaultConfig?: { meshId?: unknown } } | null;
  if (typeof mesh?.trustDomain === 'string' && mesh.trustDomain) {
    values.trustDomain = mesh.trustDomain;
    values.meshId = typeof mesh.defaultConfig?.meshId === 'string' ? mesh.defaultConfig.meshId : mesh.trustDomain;
  }
  return values;
}

/** the injector in-process, on its own listener (docs/configuration.md: "its own listener") */
async function startInProcessInjector(o: { kube: KubeClient; openstack: OpenStackClient | undefined; values: MeshValues; config: OrchestratorConfig; log: Logger; token: string; tls: ReloadingTls | undefined }): Promise<{ url: string; stop: () => Promise<void> }> {
  const { host, port } = o.config.injector.listen;
  // the injector's own configuration rules (token length, artifacts), fed from ours
  const injectorConfig = readInjectorConfig({
    MIXMESH_INJECTOR_LISTEN: `${host.includes(':') ? `[${host}]` : host}:${port}`,
    MIXMESH_INJECTOR_TOKEN: o.token,
    MIXMESH_SIDECAR_ARTIFACTS: o.config.sidecarArtifacts,
  }, { meshValues: o.values, ...(o.config.kube.kind === 'kubeconfig' ? { kubeconfig: o.config.kube.path } : {}) });
  const running = await startInjector(injectorConfig, { cluster: kubeCluster(o.kube), openstack: o.openstack ?? null, log: o.log, ...(o.tls ? { tls: o.tls } : {}) });
  return { url: running.url, stop: () => running.close() };
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const { config, log } = options;
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const s of stops.splice(0).reverse()) await s().catch((e: unknown) => log.warn({ err: e }, 'stop step failed'));
  };
  try {
    const kc = loadKubeConfig(config.kube.kind === 'kubeconfig' ? { path: config.kube.path } : { env: { KUBERNETES_SERVICE_HOST: config.kube.host } });
    const kube = new KubeClient(kc, log.child({ part: 'kube' }));
    stops.push(async () => kube.close());
    const metrics = createMetrics({ defaultMetrics: true });
    const openstack = config.openstack ? createOpenStackClient(config.openstack, { logger: log.child({ part: 'openstack' }) }) : undefined;
    const values = await liveMeshValues(kube, config);

    // TLS for the API (and the Tacker callback on it) and the in-process injector: files or a kubernetes.io/tls Secret
    let tls: ReloadingTls | undefined;
    if (config.tls) {
      const source = config.tls;
      const load: TlsLoader = source.kind === 'files' ? filesLoader(source.certFile, source.keyFile) : async () => {
        const secret = await kube.get<KubeObject & { data?: Record<string, string> }>({ apiVersion: 'v1', kind: 'Secret', namespace: source.namespace, name: source.name });
        if (!secret) throw new MixmeshError('CONFIG_INVALID', `TLS Secret ${source.namespace}/${source.name} does not exist`);
        const pair = secretPair(secret.data, `Secret ${source.namespace}/${source.name}`);
        const ca = secret.data?.['ca.crt'];
        return ca ? { ...pair, ca: Buffer.from(ca, 'base64').toString('utf8') } : pair;
      };
      tls = await ReloadingTls.start(load, log.child({ part: 'tls' }));
      const running = tls;
      stops.push(async () => running.stop());
    }
    let injector: InjectorPort | undefined;
    let injectorUrl: string | undefined;
    const injectorToken = config.injector.token ?? randomBytes(24).toString('base64url');
    if (config.injector.enabled) {
      const started = await startInProcessInjector({ kube, openstack, values, config, log, token: injectorToken, tls });
      stops.push(started.stop);
      injectorUrl = started.url;
    } else {
      injectorUrl = config.injector.url;
    }
    // our own calls to an https injector trust caFile, else the CA certificates of our own chain, else the system roots
    const trust = config.caFile ? readFileSync(config.caFile, 'utf8') : tls ? tls.current().ca ?? tls.current().cert : undefined;
    if (injectorUrl) injector = httpInjector(injectorUrl, injectorToken, trust && injectorUrl.startsWith('https:') ? { fetch: fetchTrusting(trust) } : {});

    // backup.md: routes and CRDs beside the orchestrator's; its runner acts on the leader only
    let keys: Promise<StoreKeys> | undefined;
    const backupKeys = (): Promise<StoreKeys> => {
      keys ??= (config.backup.keysDir ? Promise.resolve(keysFromDir(config.backup.keysDir)) : keysFromSecret(kube, config.systemNamespace)).catch((e: unknown) => {
        keys = undefined;
        throw e;
      });
      return keys;
    };
    const nodeSsh = config.backup.nodeSsh ? { user: config.backup.nodeSsh.user, privateKey: readFileSync(config.backup.nodeSsh.keyFile, 'utf8'), knownHosts: readFileSync(config.backup.nodeSsh.knownHostsFile, 'utf8') } : undefined;
    const backup = createBackupService({
      kube,
      config: { store: config.backup.store, s3: config.backup.s3, systemNamespace: config.systemNamespace, ...(options.settings?.backupPollMs ? { pollMs: options.settings.backupPollMs } : {}) },
      keys: backupKeys,
      nodes: new SshNodeAccess(log.child({ part: 'backup-ssh' })),
      resolver: new KubeNodeResolver(kube, nodeSsh, openstack ? async (serverId) => parseConsoleHostKeys(await openstack.nova.getConsoleOutput(serverId)) : undefined),
      checkpointer: new KubeletCheckpointer(kube, new KubeletClient(kc)), podExec: new PodExecClient(kc),
      ...(openstack ? { vnfPackageUsable: async (id: string) => (await openstack.tacker.listPackages()).some((p) => p.vnfdId === id && p.onboardingState === 'ONBOARDED' && p.operationalState === 'ENABLED') } : {}),
      registry: metrics.registry,
      log,
      source: { cluster: { server: kc.getCurrentCluster()?.server ?? '' }, ...(config.openstack ? { cloud: { authUrl: (config.openstack as { authUrl?: string }).authUrl ?? '', region: (config.openstack as { regionName?: string }).regionName ?? '' } } : {}) },
    });

    // migrate (backup.md, "Migration"): routes, CRD, a leader-only runner that resumes
    const migration = createMigrationService({
      kube, systemNamespace: config.systemNamespace, keys: backupKeys, nodes: new SshNodeAccess(log.child({ part: 'migrate-ssh' })), log,
      targets: { names: () => config.migrate.targets.map((t) => t.name), open: (name) => openTarget(config.migrate.targets.find((t) => t.name === name)!, { store: config.backup.store, s3: config.backup.s3 }, log) },
      ...(options.settings?.backupPollMs ? { pollMs: options.settings.backupPollMs } : {}),
      tackerRetries: config.tackerRetries,
    });

    const mounts: ApiMount[] = [
      { routes: (app, h) => backup.routes(app, h), crds: () => backup.crds() },
      { routes: (app, h) => migration.routes(app, h), crds: () => migration.crds() },
    ];
    const extensionStarts: (() => Promise<void>)[] = [];
    for (const ext of options.extensions ?? []) {
      const started = await ext({ kube, openstack, log });
      stops.push(started.stop);
      mounts.push(started.mount);
      if (started.start) extensionStarts.push(started.start);
    }
    const generators = createGenerators(values, { bodyLimitBytes: config.bodyLimitBytes, crd: () => meshServiceCrd() as unknown as KubeObject });
    const orchestrator = createOrchestrator({
      kube: kubePort(kube, metrics, log), tacker: openstack ? tackerPort(openstack, metrics) : undefined, injector, generators, log, metrics,
      settings: {
        tokens: config.tokens, bodyLimitBytes: config.bodyLimitBytes, callback: config.callback, systemNamespace: config.systemNamespace,
        resyncSeconds: config.resyncSeconds, tackerRetries: config.tackerRetries, tackerPollMs: config.tackerPollMs, vmTimeoutMs: config.vmTimeoutMs,
        readyTimeoutMs: config.readyTimeoutMs, leaseDurationSeconds: config.leaseDurationSeconds, allowInsecureHttp: config.allowInsecureHttp, ...(config.tokensFile ? { tokensFile: config.tokensFile } : {}),
        protectedNamespaces: [...new Set([...PROTECTED_NAMESPACES, config.systemNamespace, values.istioNamespace, values.ingressGateway.namespace, values.eastWestGateway.namespace])],
        ...options.settings,
      },
      ...(options.onCreateSent ? { onCreateSent: options.onCreateSent } : {}),
      ...(options.onWorkloadEntry ? { onWorkloadEntry: options.onWorkloadEntry } : {}),
      // restored VM data onto a new VM before its sidecar: a restore in this process, or a migration into this cluster
      beforeInject: async (vm) => { await backup.beforeInject(vm); await migration.beforeInject(vm); },
      mounts,
    });
    const server = tls ? createReloadingHttpsServer(tls, orchestrator.app) : createServer(orchestrator.app);
    const port = await listen(server, config.listen.host, config.listen.port);
    stops.push(() => closeServer(server));
    const url = `${tls ? 'https' : 'http'}://${config.listen.host}:${port}`;
    // a configured port 0 (tests) becomes the real one in the callback URL Tacker is given
    const callbackUrl = config.callback.url.replace(/:0\//, `:${port}/`);
    stops.push(() => orchestrator.stop());
    for (const start of extensionStarts) await start();
    await orchestrator.start({ callbackUrl });
    backup.start(() => orchestrator.isLeader);
    stops.push(() => backup.stop());
    migration.start(() => orchestrator.isLeader);
    stops.push(() => migration.stop());
    // the admission webhook, once the CRD and the system namespace exist
    let webhookUrl: string | undefined;
    if (config.webhook) {
      const webhook = await startWebhook({ config: config.webhook, systemNamespace: config.systemNamespace, istioVersion: values.istioVersion, kube, log });
      stops.push(webhook.stop);
      webhookUrl = webhook.url;
    }
    log.info({ url, injector: injectorUrl, openstack: openstack !== undefined, webhook: webhookUrl }, 'orchestrator started');
    return { orchestrator, url, injectorUrl, webhookUrl, injectorToken: injectorUrl ? injectorToken : undefined, kube, openstack, backup, stop: stopAll };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
