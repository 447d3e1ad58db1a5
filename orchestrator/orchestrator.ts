/**
 * One orchestrator: the API (every replica) and the controller (the Lease holder), wired over the
 * ports. `mixmesh serve`, the demo and the e2e tests build it with real clients; unit tests with
 * fakes. listen() stays outside: call start() once the API listens (Tacker tests our callback URL
 * when we subscribe).
 */
import { silentLogger, type Logger } from '../common/logger.js';
import { CallbackAuthority } from './callbacks.js';
import type { ApiToken } from './config.js';
import { createApp, type ApiMount } from './api/app.js';
import { TokenStore } from './tokens.js';
import { Controller } from './controller/controller.js';
import { VnfWatch } from './controller/vnf-watch.js';
import { LeaderElector } from './controller/lease.js';
import { Reconciler, type ReconcilerDeps, type ReconcilerOptions } from './controller/reconciler.js';
import { ensureSubscription } from './controller/subscription.js';
import { createMetrics, type OrchestratorMetrics } from './metrics.js';
import type { Generators, InjectorPort, KubeObject, KubePort, TackerPort } from './ports.js';
import { OperationLog, PROTECTED_NAMESPACES, ServiceManager } from './services.js';
import { MixmeshError, isMixmeshError } from '../common/errors.js';
import { LoginCodes } from '../console/index.js';

export interface OrchestratorSettings extends ReconcilerOptions {
  tokens: readonly ApiToken[];
  bodyLimitBytes: number;
  callback: { url: string; auth: 'basic' | 'oauth2' };
  systemNamespace: string;
  resyncSeconds: number;
  /** namespaces only an admin may deploy to (default: services.ts PROTECTED_NAMESPACES + systemNamespace) */
  protectedNamespaces?: readonly string[];
  /** false: run the controller without a Lease (a single in-process orchestrator, tests) */
  leaderElection?: boolean;
  /** the leader Lease's duration (default 15 s); renewed every third of it, at most every 5 s */
  leaseDurationSeconds?: number;
  /** credentials over plain HTTP from non-loopback peers (default refused) */
  allowInsecureHttp?: boolean;
  /** the tokens file to follow (re-read on change); absent: `tokens` as given */
  tokensFile?: string;
  /** a failed reconcile is tried again after base·2^(n-1) ms, at most cap, jittered (default 1 s, 5 min) */
  backoff?: { baseMs?: number; capMs?: number };
}

export interface OrchestratorDeps {
  kube: KubePort;
  tacker?: TackerPort | undefined;
  injector?: InjectorPort | undefined;
  generators: Generators;
  settings: OrchestratorSettings;
  log?: Logger;
  metrics?: OrchestratorMetrics;
  onCreateSent?: (name: string, at: number) => void;
  onWorkloadEntry?: (name: string, at: number) => void;
  /** before a fresh VM injection (backup writes restored data dirs) */
  beforeInject?: ReconcilerDeps['beforeInject'];
  /** the parts mounted on the API (backup, migrate, the gateway): their routes, CRDs (applied at start) and OpenAPI paths */
  mounts?: readonly ApiMount[];
}

export type Orchestrator = ReturnType<typeof createOrchestrator>;

export function createOrchestrator(deps: OrchestratorDeps) {
  const log = deps.log ?? silentLogger;
  const metrics = deps.metrics ?? createMetrics();
  const s = deps.settings;
  const operations = new OperationLog();
  const callbacks = new CallbackAuthority(s.callback.auth);
  const services = new ServiceManager({ kube: deps.kube, generators: deps.generators, tacker: deps.tacker, operations, protectedNamespaces: s.protectedNamespaces ?? [...PROTECTED_NAMESPACES, s.systemNamespace] });
  const reconciler = new Reconciler({
    kube: deps.kube, tacker: deps.tacker, injector: deps.injector, generators: deps.generators, callbacks, operations, metrics, log,
    options: { tackerRetries: s.tackerRetries, tackerPollMs: s.tackerPollMs, vmTimeoutMs: s.vmTimeoutMs, readyTimeoutMs: s.readyTimeoutMs, ...(s.readyPollMs ? { readyPollMs: s.readyPollMs } : {}) },
    ...(deps.onCreateSent ? { onCreateSent: deps.onCreateSent } : {}),
    ...(deps.onWorkloadEntry ? { onWorkloadEntry: deps.onWorkloadEntry } : {}),
    ...(deps.beforeInject ? { beforeInject: deps.beforeInject } : {}),
  });
  const controller = new Controller(deps.kube, reconciler, log, { resyncMs: s.resyncSeconds * 1000, ...(s.backoff ? { backoff: s.backoff } : {}) });
  let started = false;
  let subscribeRetry: NodeJS.Timeout | undefined;
  // VNFs terminated or deleted outside mixmesh: detected, reported, recreated (runs with the controller)
  const vnfWatch = deps.tacker ? new VnfWatch({ kube: deps.kube, tacker: deps.tacker, generators: deps.generators, callbacks, log: log.child({ part: 'vnf-watch' }), resyncMs: s.resyncSeconds * 1000 }) : undefined;
  const elector = s.leaderElection === false ? undefined : new LeaderElector(deps.kube, log, { namespace: s.systemNamespace, ...(s.leaseDurationSeconds ? { leaseDurationSeconds: s.leaseDurationSeconds, renewEveryMs: Math.min(5000, Math.floor((s.leaseDurationSeconds * 1000) / 3)) } : {}) }, {
    onStart: () => { vnfWatch?.start(); return controller.start(); },
    onStop: async () => { await vnfWatch?.stop(); return controller.stop(); },
  });

  // the web console's one-time login codes (`mixmesh demo` prints a link with one)
  const loginCodes = new LoginCodes();
  const tokenStore = s.tokensFile ? TokenStore.watching(s.tokensFile, s.tokens, log) : TokenStore.of(s.tokens);
  const app = createApp({
    tokens: s.tokens, bodyLimitBytes: s.bodyLimitBytes, services, callbacks, metrics, log, console: { loginCodes }, ...(deps.mounts ? { mounts: deps.mounts } : {}),
    allowInsecureHttp: s.allowInsecureHttp ?? false,
    tokenStore,
    ready: async () => started && (await deps.kube.list('v1', 'Namespace').then(() => true, () => false)),
  });

  async function ensureSystemNamespace(): Promise<void> {
    if (await deps.kube.get({ apiVersion: 'v1', kind: 'Namespace', name: s.systemNamespace })) return;
    await deps.kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: s.systemNamespace, labels: { 'app.kubernetes.io/managed-by': 'mixmesh' } } }).catch((e: unknown) => {
      if (!isMixmeshError(e, 'ALREADY_EXISTS')) throw e;
    });
  }

  return {
    app, services, controller, reconciler, callbacks, operations, metrics, vnfWatch, loginCodes,
    /** CRD, system namespace, Tacker subscription, then the controller (behind the Lease) */
    async start(overrides: { callbackUrl?: string } = {}): Promise<void> {
      const crd = deps.generators.crd?.();
      if (crd) await applyCrdAndWait(deps.kube, crd);
      for (const extra of (deps.mounts ?? []).flatMap((m) => m.crds?.() ?? [])) await applyCrdAndWait(deps.kube, extra);
      await ensureSystemNamespace();
      if (deps.tacker) {
        const tacker = deps.tacker;
        const subscribe = (): Promise<unknown> => ensureSubscription(deps.kube, tacker, callbacks, { systemNamespace: s.systemNamespace, callbackUrl: overrides.callbackUrl ?? s.callback.url, auth: s.callback.auth }, log);
        try {
          await subscribe();
        } catch (e) {
          // notifications are only hints: run on polling and keep trying to subscribe
          log.warn({ err: e, callbackUrl: overrides.callbackUrl ?? s.callback.url }, 'no Tacker subscription yet (is the callback URL reachable from Tacker?); polling meanwhile');
          subscribeRetry = setInterval(() => {
            subscribe().then(() => { clearInterval(subscribeRetry); subscribeRetry = undefined; }, (err: unknown) => log.debug({ err }, 'subscription retry failed'));
          }, 30_000);
          subscribeRetry.unref();
        }
      }
      if (elector) await elector.start();
      else {
        vnfWatch?.start();
        await controller.start();
      }
      started = true;
    },
    async stop(): Promise<void> {
      tokenStore.stop();
      started = false;
      if (subscribeRetry) clearInterval(subscribeRetry);
      if (elector) await elector.stop();
      else {
        await vnfWatch?.stop();
        await controller.stop();
      }
    },
    get isLeader(): boolean {
      return elector ? elector.isLeader : started;
    },
  };
}

/** apply the MeshService CRD and wait for Established=True (a CR write before that is refused) */
async function applyCrdAndWait(kube: KubePort, crd: KubeObject, timeoutMs = 30_000): Promise<void> {
  await kube.apply(crd);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const live = await kube.get({ apiVersion: crd.apiVersion, kind: crd.kind, name: crd.metadata.name });
    const conditions = ((live?.status ?? {}) as { conditions?: { type: string; status: string }[] }).conditions ?? [];
    if (conditions.some((c) => c.type === 'Established' && c.status === 'True')) return;
    if (Date.now() > deadline) throw new MixmeshError('K8S_WAIT_TIMEOUT', `CRD ${crd.metadata.name} not Established after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
