/**
 * The injector: injections in memory (an id answers 404 after a restart; every step is
 * idempotent, so callers simply re-inject), bounded parallelism across VMs, one SSH connection per
 * VM and operation, token renewal at 80% of the lifetime, uninstall.
 */
import { randomUUID } from 'node:crypto';
import { MixmeshError, isMixmeshError, type ErrorCode } from '../common/errors.js';
import { redactText, silentLogger, type Logger } from '../common/logger.js';
import { bundle, discoveryHost, type BundleFiles, type WorkloadGroupLike } from './bundle/bundle.js';
import { ClusterFactsCache, type MeshServiceLike } from './cluster.js';
import type { PackageKind } from './scripts.js';
import {
  runInstall, type InstallResult, runReplaceToken, runUninstall, StepRunner, type InjectionPhase, type StepRecord,
} from './steps.js';
import { verifyScript } from './scripts.js';

export type { InjectionState, SidecarState, HostKeyExpectation, ConnectTarget, ConnectedShell, NovaLike, InjectorDeps, VmRequest, WorkloadRef, InjectionRequest, Injection, InjectorEvents } from './injection.js';
import type { InjectionState, HostKeyExpectation, ConnectedShell, InjectorDeps, InjectionRequest, Injection, InjectorEvents } from './injection.js';

/** finished injections kept for GET (the oldest Failed/Removed go first) */
const MAX_KEPT = 5000;

const FINAL: ReadonlySet<InjectionState> = new Set(['Succeeded', 'Failed', 'Removed']);

/** A counting semaphore: at most `n` VMs at once. */
class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly n: number) {}
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.n) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await work();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

function errorOf(e: unknown, secrets: readonly string[]): { code: ErrorCode; message: string } {
  if (isMixmeshError(e)) return { code: e.code, message: redactText(e.message, secrets) };
  return { code: 'INJECTION_FAILED', message: redactText(e instanceof Error ? e.message : String(e), secrets) };
}

export class Injector {
  private readonly injections = new Map<string, Injection>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly work = new Set<Promise<unknown>>();
  /** the install or renewal now running per injection */
  private readonly runs = new Map<string, Promise<unknown>>();
  /** tokens issued per VM and service account (never logged, never answered) */
  private readonly tokens = new Map<string, { token: string; expiresAt: Date; issuedAt: number }>();
  private readonly sidecarFromMeshService = new WeakSet<Injection>();
  private readonly floatingFromNova = new WeakSet<Injection>();
  private readonly limiter: Limiter;
  private readonly facts: ClusterFactsCache;
  private readonly log: Logger;
  private readonly now: () => number;
  private closed = false;
  events: InjectorEvents = {};

  constructor(private readonly deps: InjectorDeps) {
    this.limiter = new Limiter(Math.max(1, deps.maxParallel ?? 8));
    this.now = deps.now ?? Date.now;
    this.facts = new ClusterFactsCache(deps.cluster, deps.meshValues, deps.factsTtlMs ?? 60_000, this.now);
    this.log = (deps.log ?? silentLogger).child({ component: 'injector' });
  }

  get(id: string): Injection | undefined {
    return this.injections.get(id);
  }

  list(filter: { vnfInstanceId?: string } = {}): Injection[] {
    return [...this.injections.values()].filter((i) => filter.vnfInstanceId === undefined || i.vnfInstanceId === filter.vnfInstanceId);
  }

  /** Injections not yet Succeeded/Failed/Removed. */
  inProgress(): number {
    return [...this.injections.values()].filter((i) => !FINAL.has(i.state)).length;
  }

  /** Resolves once every running injection, renewal and uninstall has ended (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.work.size > 0) await Promise.allSettled([...this.work]);
  }

  /** Stop renewing and wait for running work. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await this.idle();
  }

  private runTracked(id: string, p: Promise<unknown>): void {
    this.runs.set(id, p);
    void this.track(p.finally(() => { if (this.runs.get(id) === p) this.runs.delete(id); }));
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.work.add(p);
    void p.finally(() => this.work.delete(p)).catch(() => undefined);
    return p;
  }

  /** Injections live in memory: past MAX_KEPT, forget the oldest Failed/Removed ones (never a running or renewing one). */
  private prune(): void {
    if (this.injections.size <= MAX_KEPT) return;
    for (const [id, i] of this.injections) {
      if (this.injections.size <= MAX_KEPT) return;
      if ((i.state === 'Failed' || i.state === 'Removed') && !this.runs.has(id)) this.injections.delete(id);
    }
  }

  /** Start an injection; a VM with an injection already under way gets that one's id. */
  create(request: InjectionRequest): Injection {
    const running = [...this.injections.values()].find(
      (i) => !FINAL.has(i.state) && i.state !== 'Removing' && i.vm.address === request.vm.address && i.vm.port === request.vm.port,
    );
    if (running) return running;
    const at = new Date(this.now()).toISOString();
    const injection: Injection = {
      id: randomUUID(),
      state: 'Pending',
      createdAt: at,
      updatedAt: at,
      vnfInstanceId: request.vnfInstanceId,
      vm: { ...request.vm, secretRef: { ...request.vm.secretRef } },
      workload: { ...request.workload },
      sidecar: { package: request.sidecar?.package ?? 'deb', istioVersion: request.sidecar?.istioVersion ?? this.deps.meshValues.istioVersion },
      steps: [],
    };
    // the orchestrator's form names no package and no address kind: the MeshService and Nova know
    if (request.sidecar?.package === undefined || request.sidecar?.istioVersion === undefined) this.sidecarFromMeshService.add(injection);
    if (request.vm.floating === undefined && request.vm.serverId !== undefined) this.floatingFromNova.add(injection);
    this.injections.set(injection.id, injection);
    this.prune();
    this.runTracked(injection.id, this.limiter.run(() => this.inject(injection, request.sidecar)));
    return injection;
  }

  /**
   * The plug-in form (docs/tacker.md): identity + Nova servers; ssh user/port/credentials/host key and
   * the sidecar come from the MeshService, a dynamic address from Nova.
   */
  async resolvePluginRequest(body: {
    vnfInstanceId: string;
    identity: { namespace: string; service: string; name: string; version: string; index?: number };
    servers: { serverId: string; fixedAddresses?: string[] }[];
  }): Promise<InjectionRequest> {
    const { identity } = body;
    if (body.servers.length !== 1) {
      throw new MixmeshError('VNF_SHAPE_UNSUPPORTED', `VNF instance ${body.vnfInstanceId} has ${body.servers.length} servers; only one-VM VNFs are supported`);
    }
    const server = body.servers[0]!;
    const ms = await this.deps.cluster.getMeshService(identity.namespace, identity.service);
    if (!ms) throw new MixmeshError('NOT_FOUND', `MeshService ${identity.namespace}/${identity.service} not found`);
    const micro = findVmMicroservice(ms, identity.name, identity.version);
    if (!micro) throw new MixmeshError('NOT_FOUND', `MeshService ${identity.namespace}/${identity.service} has no VM microservice ${identity.name} version ${identity.version}`);
    const ssh = micro.vm?.ssh ?? {};
    if (!ssh.user || !ssh.credentialsSecret) throw new MixmeshError('BAD_REQUEST', `MeshService ${identity.namespace}/${identity.service}: ${identity.name} ${identity.version} has no vm.ssh.user / credentialsSecret`);
    // the address mixmesh SSHes to: floating if the server has one, else fixed (docs/vm-bootstrap.md)
    let address = server.fixedAddresses?.[0];
    let floating = false;
    if (this.deps.nova) {
      const s = await this.deps.nova.getServer(server.serverId);
      const all = Object.keys(s.addresses ?? {}).sort().flatMap((net) => s.addresses?.[net] ?? []).filter((a) => a.version === undefined || a.version === 4);
      const float = all.find((a) => a['OS-EXT-IPS:type'] === 'floating');
      if (float) [address, floating] = [float.addr, true];
      else address ??= all[0]?.addr;
    } else if (!address) {
      throw new MixmeshError('OPENSTACK_NOT_CONFIGURED', `server ${server.serverId} has no fixed address and the injector has no OpenStack configuration to ask Nova`);
    }
    if (!address) throw new MixmeshError('NOVA_REQUEST_FAILED', `server ${server.serverId} has no IPv4 address yet`);
    const pkg = micro.vm?.sidecar?.package;
    return {
      vnfInstanceId: body.vnfInstanceId,
      vm: {
        address,
        port: ssh.port ?? 22,
        user: ssh.user,
        secretRef: { namespace: identity.namespace, name: ssh.credentialsSecret },
        hostKey: ssh.hostKey ?? 'console',
        serverId: server.serverId,
        floating,
      },
      workload: { service: identity.service, name: identity.name, version: identity.version, namespace: identity.namespace },
      sidecar: { package: pkg === 'rpm' || pkg === 'tar' ? pkg : 'deb', istioVersion: micro.vm?.sidecar?.istioVersion ?? this.deps.meshValues.istioVersion },
    };
  }

  private set(injection: Injection, state: InjectionState): void {
    injection.state = state;
    injection.updatedAt = new Date(this.now()).toISOString();
  }

  /** The host-key expectation for a VM: console (Nova), pinned, or accept-new (recorded). */
  private async hostKeyFor(injection: Injection): Promise<HostKeyExpectation> {
    const policy = injection.vm.hostKey;
    if (injection.hostKey) return { expected: [injection.hostKey] }; // known from an earlier connection
    if (policy === 'accept-new') return { acceptNew: (key) => { injection.hostKey = key; } };
    if (policy === 'console') {
      if (injection.vm.consoleOutput !== undefined) {
        const given = this.deps.parseConsoleHostKeys(injection.vm.consoleOutput);
        if (given.length === 0) throw new MixmeshError('SSH_HOST_KEY_UNKNOWN', 'the console text given for the VM has no cloud-init host key block');
        return { expected: given };
      }
      if (!injection.vm.serverId) throw new MixmeshError('BAD_REQUEST', 'hostKey console needs vm.serverId');
      if (!this.deps.nova) throw new MixmeshError('OPENSTACK_NOT_CONFIGURED', 'hostKey console needs Nova, and the injector has no OpenStack configuration');
      const keys = this.deps.parseConsoleHostKeys(await this.deps.nova.getConsoleOutput(injection.vm.serverId));
      if (keys.length === 0) throw new MixmeshError('SSH_HOST_KEY_UNKNOWN', `the console of server ${injection.vm.serverId} has no cloud-init host key block`);
      return { expected: keys };
    }
    return { expected: [policy] };
  }

  private async connect(injection: Injection): Promise<ConnectedShell> {
    const ref = injection.vm.secretRef;
    const privateKey = await this.deps.cluster.getSecretValue(ref.namespace, ref.name, 'ssh-privatekey');
    if (!privateKey) throw new MixmeshError('SSH_AUTH_FAILED', `Secret ${ref.namespace}/${ref.name} has no key ssh-privatekey`);
    const hostKey = await this.hostKeyFor(injection);
    return this.deps.connect({ host: injection.vm.address, port: injection.vm.port, username: injection.vm.user, privateKey, hostKey });
  }

  /** Everything the bundle needs from the live cluster, plus a fresh token. */
  private async resolve(injection: Injection, fresh = false): Promise<{ files: Required<Pick<BundleFiles, 'clusterEnv' | 'meshYaml' | 'hosts' | 'rootCert' | 'token'>>; expiresAt: Date; serviceAccount: string }> {
    const w = injection.workload;
    const wgName = `${w.name}-${w.version}`;
    const [wg, facts, rootCert] = await Promise.all([
      this.deps.cluster.getWorkloadGroup(w.namespace, wgName),
      this.facts.meshFacts(),
      this.facts.rootCert(w.namespace),
    ]);
    if (!wg) throw new MixmeshError('INJECTION_FAILED', `WorkloadGroup ${w.namespace}/${wgName} not found (the VM's identity comes from it)`);
    const workloadGroup: WorkloadGroupLike = { ...wg, metadata: { ...wg.metadata, namespace: wg.metadata.namespace ?? w.namespace } };
    const serviceAccount = workloadGroup.spec?.template?.serviceAccount;
    if (!serviceAccount) throw new MixmeshError('INJECTION_FAILED', `WorkloadGroup ${w.namespace}/${wgName} has no spec.template.serviceAccount`);
    const issued = await this.token(injection, w.namespace, serviceAccount, facts.meshValues.tokenExpirationSeconds, fresh);
    if (issued.expiresAt.getTime() <= this.now()) {
      throw new MixmeshError('TOKEN_EXPIRED', `the token issued for ${w.namespace}/${serviceAccount} expired at ${issued.expiresAt.toISOString()}`);
    }
    const { files } = bundle(workloadGroup, facts.meshValues, injection.vm.address, { rootCert, token: issued.token, eastWestIP: facts.eastWestIP }, {
      sshPort: injection.vm.port,
      floating: injection.vm.floating === true,
    });
    return { files: files as Required<BundleFiles>, expiresAt: issued.expiresAt, serviceAccount };
  }

  /**
   * A token for the VM: the one issued to this VM and service account earlier while it is in the
   * first half of its life (so a re-run changes nothing on the VM), else a new TokenRequest.
   * Renewal always asks for a new one.
   */
  private async token(injection: Injection, namespace: string, serviceAccount: string, expirationSeconds: number, fresh: boolean): Promise<{ token: string; expiresAt: Date }> {
    const key = `${namespace}/${serviceAccount}@${injection.vm.address}:${injection.vm.port}`;
    const hit = this.tokens.get(key);
    const now = this.now();
    if (!fresh && hit && now < hit.issuedAt + (hit.expiresAt.getTime() - hit.issuedAt) / 2) return hit;
    const issued = await this.deps.cluster.requestToken(namespace, serviceAccount, ['istio-ca'], expirationSeconds);
    this.tokens.set(key, { ...issued, issuedAt: now });
    return issued;
  }

  /** Fill what the request left out: the package and Istio version (MeshService), floating or not (Nova). */
  private async complete(injection: Injection, given: { package?: PackageKind; istioVersion?: string } | undefined): Promise<void> {
    if (this.sidecarFromMeshService.has(injection)) {
      this.sidecarFromMeshService.delete(injection);
      const w = injection.workload;
      const ms = await this.deps.cluster.getMeshService(w.namespace, w.service).catch(() => undefined);
      const sidecar = ms ? findVmMicroservice(ms, w.name, w.version)?.vm?.sidecar : undefined;
      const pkg = sidecar?.package;
      if (given?.package === undefined && (pkg === 'deb' || pkg === 'rpm' || pkg === 'tar')) injection.sidecar.package = pkg;
      if (given?.istioVersion === undefined && sidecar?.istioVersion) injection.sidecar.istioVersion = sidecar.istioVersion;
    }
    if (this.floatingFromNova.has(injection)) {
      this.floatingFromNova.delete(injection);
      if (this.deps.nova && injection.vm.serverId) {
        const s = await this.deps.nova.getServer(injection.vm.serverId);
        const all = Object.values(s.addresses ?? {}).flat();
        injection.vm.floating = all.some((a) => a.addr === injection.vm.address && a['OS-EXT-IPS:type'] === 'floating');
      }
    }
  }

  /**
   * One injection, as named steps: fill in what the request left out (complete), connect to the VM
   * while reading the cluster (open), run the install plan (install: INSTALL_STEPS in steps.ts),
   * then record the success, take over renewal from older injections of the VM and schedule it (succeed).
   */
  private async inject(injection: Injection, given?: { package?: PackageKind; istioVersion?: string }): Promise<void> {
    const started = this.now();
    const log = this.log.child({ injection: injection.id, vm: `${injection.vm.address}:${injection.vm.port}`, workload: `${injection.workload.namespace}/${injection.workload.name}-${injection.workload.version}` });
    let secrets: string[] = [];
    let shell: ConnectedShell | undefined;
    try {
      await this.complete(injection, given);
      this.set(injection, 'Connecting');
      const opened = await this.open(injection);
      ({ shell, secrets } = opened);
      const result = await this.install(injection, opened.shell, opened.resolved.files, secrets, log);
      this.succeed(injection, result, opened.resolved.expiresAt, started, log);
    } catch (e) {
      injection.error = errorOf(e, secrets);
      // the verify script exits with its own code when the agent refuses its token as expired
      if (injection.error.code === 'TOKEN_EXPIRED') {
        injection.error = { code: 'TOKEN_EXPIRED', message: `the sidecar on ${injection.vm.address} refuses its token as expired: ${injection.error.message}` };
      }
      this.set(injection, 'Failed');
      log.warn({ code: injection.error.code, ms: this.now() - started }, `injection failed: ${injection.error.message}`);
    } finally {
      await shell?.close().catch(() => undefined);
      if (FINAL.has(injection.state)) this.events.finished?.(injection, this.now() - started);
    }
  }

  /** the `connect` step: the cluster reads and the SSH handshake overlap; both must succeed */
  private async open(injection: Injection): Promise<{ shell: ConnectedShell; resolved: Awaited<ReturnType<Injector['resolve']>>; secrets: string[] }> {
    const connectRecord: StepRecord = { name: 'connect', startedAt: new Date(this.now()).toISOString() };
    injection.steps.push(connectRecord);
    const connecting = this.connect(injection);
    try {
      const [resolved, shell] = await Promise.all([
        this.resolve(injection).catch((e: unknown) => {
          // never leave a session open behind a failed resolve (and never wait for it)
          void connecting.then((s) => s.close(), () => undefined).catch(() => undefined);
          throw e;
        }),
        connecting,
      ]);
      connectRecord.changed = false;
      return { shell, resolved, secrets: [resolved.files.token, resolved.files.rootCert.trim()] };
    } catch (e) {
      connectRecord.error = errorOf(e, []);
      throw e;
    } finally {
      connectRecord.endedAt = new Date(this.now()).toISOString();
    }
  }

  /** the install plan over the open shell, each step recorded in the injection as it runs */
  private async install(injection: Injection, shell: ConnectedShell, files: Awaited<ReturnType<Injector['resolve']>>['files'], secrets: string[], log: Logger): Promise<InstallResult> {
    const observer = {
      phase: (p: InjectionPhase) => this.set(injection, p),
      step: (r: StepRecord) => {
        if (r.endedAt) {
          log.info({ step: r.name, exitCode: r.exitCode, changed: r.changed, code: r.error?.code, ms: Date.parse(r.endedAt) - Date.parse(r.startedAt) }, 'step ended');
          this.events.step?.(injection, r);
        }
      },
    };
    const runner = new StepRunner(shell, injection.vm.user, secrets, observer, injection.steps);
    return runInstall(shell, {
      address: injection.vm.address,
      user: injection.vm.user,
      sidecar: { kind: injection.sidecar.package, istioVersion: injection.sidecar.istioVersion, source: this.deps.artifacts },
      files,
      readiness: this.deps.readiness,
    }, observer, runner);
  }

  /** Succeeded; one renewal per VM: the newest injection of a VM takes over from older ones */
  private succeed(injection: Injection, result: InstallResult, expiresAt: Date, started: number, log: Logger): void {
    injection.unchanged = result.unchanged;
    injection.tokenExpiresAt = expiresAt.toISOString();
    injection.sidecar.state = 'Running';
    this.set(injection, 'Succeeded');
    log.info({ ms: this.now() - started, unchanged: result.unchanged }, 'injection succeeded');
    for (const [id, other] of this.injections) {
      if (id !== injection.id && other.vm.address === injection.vm.address && other.vm.port === injection.vm.port && other.state === 'Succeeded' && !other.supersededBy) {
        other.supersededBy = injection.id;
        const t = this.timers.get(id);
        if (t) clearTimeout(t);
        this.timers.delete(id);
      }
    }
    this.scheduleRenewal(injection, started, expiresAt.getTime());
  }

  // ---- token renewal (docs/vm-bootstrap.md: renew at 80% of the lifetime, retry until expiry) ----

  private scheduleRenewal(injection: Injection, issuedAt: number, expiresAt: number, attempts = 0): void {
    if (this.deps.renewal === false || this.closed) return;
    const lifetime = Math.max(0, expiresAt - issuedAt);
    let at = issuedAt + Math.floor(lifetime * 0.8);
    if (attempts > 0) at = this.now() + Math.min(60_000, 1000 * 2 ** Math.min(attempts, 6));
    if (at >= expiresAt) at = Math.max(this.now(), expiresAt - 1000);
    injection.renewal = { ...(injection.renewal ?? { attempts: 0 }), nextAt: new Date(at).toISOString(), attempts };
    const timer = setTimeout(() => {
      this.timers.delete(injection.id);
      if (!this.injections.get(injection.id)?.removeRequested) this.runTracked(injection.id, this.limiter.run(() => this.renew(injection.id)));
    }, Math.max(0, at - this.now()));
    timer.unref();
    const old = this.timers.get(injection.id);
    if (old) clearTimeout(old);
    this.timers.set(injection.id, timer);
  }

  /**
   * Renew one injection's token now: TokenRequest, atomic replace of both copies, a readiness check;
   * a VM that fails readiness is re-bootstrapped. On failure retry with backoff until expiry; past
   * it the sidecar is TokenExpired.
   */
  async renew(id: string): Promise<Injection> {
    const injection = this.injections.get(id);
    if (!injection) throw new MixmeshError('NOT_FOUND', `no injection ${id}`);
    if (injection.state !== 'Succeeded' || injection.removeRequested || injection.supersededBy) return injection;
    const started = this.now();
    const log = this.log.child({ injection: id, vm: `${injection.vm.address}:${injection.vm.port}` });
    const previousExpiry = injection.tokenExpiresAt ? Date.parse(injection.tokenExpiresAt) : started;
    let secrets: string[] = [];
    let shell: ConnectedShell | undefined;
    injection.sidecar.state = 'Renewing';
    try {
      const resolved = await this.resolve(injection, true);
      secrets = [resolved.files.token, resolved.files.rootCert.trim()];
      shell = await this.connect(injection);
      await runReplaceToken(shell, injection.vm.user, resolved.files.token);
      const quick = new StepRunner(shell, injection.vm.user, secrets);
      const ready = await quick.script('verify', verifyScript(injection.vm.address, 8, 0.25)).then(() => true, () => false);
      if (!ready) {
        log.warn('sidecar not ready after token renewal; re-bootstrapping');
        await runInstall(shell, {
          address: injection.vm.address, user: injection.vm.user, files: resolved.files, readiness: this.deps.readiness,
          sidecar: { kind: injection.sidecar.package, istioVersion: injection.sidecar.istioVersion, source: this.deps.artifacts },
        });
      }
      injection.tokenExpiresAt = resolved.expiresAt.toISOString();
      injection.sidecar.state = 'Running';
      injection.renewal = { renewedAt: new Date(this.now()).toISOString(), attempts: 0 };
      log.info({ ms: this.now() - started, rebootstrapped: !ready }, 'token renewed');
      this.events.renewed?.(injection, true);
      this.scheduleRenewal(injection, started, resolved.expiresAt.getTime());
    } catch (e) {
      const err = errorOf(e, secrets);
      const attempts = (injection.renewal?.attempts ?? 0) + 1;
      injection.renewal = { ...(injection.renewal ?? { attempts: 0 }), attempts, lastError: err };
      const expired = this.now() >= previousExpiry;
      injection.sidecar.state = expired ? 'TokenExpired' : 'Running';
      if (expired) injection.error = { code: 'TOKEN_EXPIRED', message: `the istio token of ${injection.vm.address} expired at ${new Date(previousExpiry).toISOString()} and could not be renewed: ${err.message}` };
      log.warn({ code: err.code, attempts, expired }, `token renewal failed: ${err.message}`);
      this.events.renewed?.(injection, false);
      // keep trying with backoff, also past expiry: a renewed token brings the VM back
      this.scheduleRenewal(injection, started, Math.max(previousExpiry, this.now() + 2000), attempts);
    } finally {
      await shell?.close().catch(() => undefined);
    }
    return injection;
  }

  // ---- uninstall ----

  /** Uninstall the sidecar from the VM of an injection (DELETE /v1/injections/{id}). */
  remove(id: string): Injection {
    const injection = this.injections.get(id);
    if (!injection) throw new MixmeshError('NOT_FOUND', `no injection ${id}`);
    if (injection.state === 'Removing' || injection.state === 'Removed' || injection.removeRequested) return injection;
    injection.removeRequested = true;
    const timer = this.timers.get(id);
    if (timer) clearTimeout(timer);
    this.timers.delete(id);
    const prior = this.runs.get(id) ?? Promise.resolve();
    void this.track((async () => {
      await prior.catch(() => undefined); // never race a running install or renewal
      await this.limiter.run(() => this.uninstall(injection));
    })());
    return injection;
  }

  private async uninstall(injection: Injection): Promise<void> {
    const log = this.log.child({ injection: injection.id, vm: `${injection.vm.address}:${injection.vm.port}` });
    this.set(injection, 'Removing');
    injection.uninstall = { steps: [] };
    let shell: ConnectedShell | undefined;
    try {
      const facts = await this.facts.meshFacts();
      shell = await this.connect(injection);
      await runUninstall(shell, {
        user: injection.vm.user, kind: injection.sidecar.package, istioVersion: injection.sidecar.istioVersion, istiodHost: discoveryHost(facts.meshValues),
      }, {}, injection.uninstall.steps);
      injection.sidecar.state = 'Removed';
      this.set(injection, 'Removed');
      log.info('sidecar uninstalled');
    } catch (e) {
      injection.uninstall.error = errorOf(e, []);
      this.set(injection, 'Failed');
      log.warn({ code: injection.uninstall.error.code }, `uninstall failed: ${injection.uninstall.error.message}`);
    } finally {
      await shell?.close().catch(() => undefined);
    }
  }
}

function findVmMicroservice(ms: MeshServiceLike, name: string, version: string) {
  return ms.spec?.microservices?.find((m) => m.name === name && (m.version ?? 'v1') === version && (m.runtime === undefined || m.runtime === 'vm'));
}

