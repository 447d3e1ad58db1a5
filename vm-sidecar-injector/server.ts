/**
 * Wiring: configuration → clients (Kubernetes, OpenStack when configured, SSH) → Injector →
 * API on its own listener. `mixmesh serve` and `cli/serve-injector.ts` both call startInjector().
 */
import { createServer, type Server } from 'node:http';
import { ReloadingTls, createReloadingHttpsServer, filesLoader } from '../common/tls.js';
import type { AddressInfo } from 'node:net';
import { KubeClient, loadKubeConfig } from '../clients/kube/index.js';
import { createOpenStackClient, loadOpenStackConfig, type OpenStackClient } from '../clients/openstack/index.js';
import { MixmeshError } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { createInjectorApp } from './api/app.js';
import { kubeCluster } from './cluster-kube.js';
import type { InjectorConfig } from './config.js';
import type { InjectorCluster } from './cluster.js';
import { Injector, type NovaLike } from './injector.js';
import { parseConsoleHostKeys, sshConnector } from './shell.js';

export interface RunningInjector {
  url: string;
  injector: Injector;
  /** stop accepting, stop renewing, wait for running work */
  close(): Promise<void>;
}

export interface StartInjectorOptions {
  /** the environment for Kubernetes and OpenStack settings (default process.env) */
  env?: Readonly<Record<string, string | undefined>>;
  log?: Logger;
  /** pass ready clients instead of building them from the environment (tests, `mixmesh serve`) */
  cluster?: InjectorCluster;
  /** serve HTTPS with this (reloading) certificate instead of the configured files */
  tls?: ReloadingTls;
  openstack?: OpenStackClient | null;
}

/**
 * The stand-alone notification mode: on an INSTANTIATE COMPLETED hint, read the instance from
 * Tacker (its mixmesh.io/* metadata and its VM) and inject it, as the plug-in form does.
 */
export function notificationHandler(injector: Injector, openstack: OpenStackClient, log: Logger): (vnfInstanceId: string) => Promise<void> {
  return async (vnfInstanceId) => {
    if (injector.list({ vnfInstanceId }).length > 0) return; // notifications may come twice
    const inst = await openstack.tacker.getVnfInstance(vnfInstanceId);
    const md = inst.metadata ?? {};
    const pick = (k: string) => (typeof md[`mixmesh.io/${k}`] === 'string' ? (md[`mixmesh.io/${k}`] as string) : undefined);
    const [namespace, service, name, version] = [pick('namespace'), pick('service'), pick('name'), pick('version')];
    if (!namespace || !service || !name || !version || inst.instantiationState !== 'INSTANTIATED') return; // not ours, or not done
    const info = inst.instantiatedVnfInfo as { vnfcResourceInfo?: { id?: string; computeResource?: { resourceId?: string } }[] } | undefined;
    const servers = (info?.vnfcResourceInfo ?? []).map((v) => ({ serverId: v.computeResource?.resourceId ?? v.id ?? '' })).filter((s) => s.serverId);
    const request = await injector.resolvePluginRequest({ vnfInstanceId, identity: { namespace, service, name, version }, servers });
    const injection = injector.create(request);
    log.info({ vnfInstanceId, injection: injection.id }, 'injection started from a Tacker notification');
  };
}

export async function startInjector(config: Readonly<InjectorConfig>, options: StartInjectorOptions = {}): Promise<RunningInjector> {
  const env = options.env ?? process.env;
  const log = (options.log ?? silentLogger).child({ part: 'vm-sidecar-injector' });
  const cluster = options.cluster ?? kubeCluster(new KubeClient(loadKubeConfig({ path: config.kubeconfig, env }), log));
  const openstack = options.openstack === undefined ? (() => {
    const osConfig = loadOpenStackConfig(env);
    return osConfig ? createOpenStackClient(osConfig, { logger: log }) : null;
  })() : options.openstack;
  const nova: NovaLike | undefined = openstack ? { getServer: (id) => openstack.nova.getServer(id), getConsoleOutput: (id) => openstack.nova.getConsoleOutput(id) } : undefined;
  if (!openstack) log.warn('no OpenStack configuration: hostKey console and the plug-in form (Nova addresses) will fail with OPENSTACK_NOT_CONFIGURED');
  const injector = new Injector({
    cluster, nova, connect: sshConnector({ connectBudgetMs: config.connectBudgetMs, log }), parseConsoleHostKeys,
    meshValues: config.meshValues, artifacts: config.artifacts, log, maxParallel: config.maxParallel,
  });
  let notifications;
  if (config.notifications) {
    if (!openstack) throw new MixmeshError('CONFIG_INVALID', 'the notification mode reads VNF instances from Tacker: configure OpenStack (OS_CLOUD or OS_*)');
    notifications = { ...config.notifications, onInstantiated: notificationHandler(injector, openstack, log) };
  }
  const app = createInjectorApp({
    injector, token: config.token, log, notifications, allowInsecureHttp: config.allowInsecureHttp,
    ready: async () => (await cluster.getConfigMapValue(config.meshValues.istioNamespace, 'istio', 'mesh').then(() => true, () => false)),
  });
  // HTTPS when given a certificate: the caller's (mixmesh serve shares the API's), else the configured files
  const tls = options.tls ?? (config.tls ? await ReloadingTls.start(filesLoader(config.tls.certFile, config.tls.keyFile), log) : undefined);
  const server: Server = tls ? createReloadingHttpsServer(tls, app) : createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new MixmeshError('CONFIG_INVALID', `cannot listen on ${config.host}:${config.port}: ${e.message}`, { cause: e })));
    server.listen(config.port, config.host, resolve);
  });
  const addr = server.address() as AddressInfo;
  const url = `${tls ? 'https' : 'http'}://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  log.info({ url, notifications: Boolean(notifications), parallel: config.maxParallel }, 'injector listening');
  return {
    url,
    injector,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      if (!options.tls) tls?.stop();
      await injector.close();
    },
  };
}
