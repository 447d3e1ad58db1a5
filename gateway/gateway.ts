/**
 * The gateway: the ten operations over the store, the event-handler pipeline per cluster request
 * (parse → plan the infrastructure request → provision → install → analyse → register, each stage
 * an event and an operation step), resumed after a restart from the Cluster's status, and the
 * rollback of a failed create (every host it provisioned is released).
 */
import { randomUUID } from 'node:crypto';
import { MixmeshError, isMixmeshError, wrapError } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { connectSsh, type RemoteShell } from '../clients/ssh/index.js';
import type { KubeClient } from '../clients/kube/index.js';
import { capabilityRow, CAPABILITY_MATRIX } from './capabilities.js';
import { CATALOG, catalogTemplate, renderService } from './catalog.js';
import { GatewayStore, type ClusterObject, type GatewayEvent } from './store.js';
import type {
  ClusterRequest, ClusterSpec, ClusterStatus, ContainerInfo, EngineClient, EngineDriver, GatewayOperation, HostRecord, InfraDriver,
  OrchestratorKind, ProviderKind, RegisterRequest, ServiceInfo, ServiceRequest,
} from './types.js';
import { validateClusterRequest, validateScale, validateServiceRequest, checkName } from './validate.js';

export interface GatewaySettings {
  /** a host must run and answer SSH within this (default 300 s; a request may lower it) */
  hostTimeoutMs: number;
  /** the cluster's nodes must all be ready within this after the install (default 120 s) */
  verifyTimeoutMs: number;
  /** SSH connect budget per host once it runs (default 60 s) */
  sshBudgetMs: number;
}

export interface GatewayDeps {
  kube: KubeClient;
  namespace: string;
  infra: Partial<Record<ProviderKind, InfraDriver>>;
  engines: Partial<Record<OrchestratorKind, EngineDriver>>;
  log?: Logger;
  settings?: Partial<GatewaySettings>;
  /** benchmarks: a host's chain times as they happen */
  onHostDone?: (cluster: string, host: HostRecord) => void;
}

const TERMINAL_PHASES = new Set(['Ready', 'Degraded', 'Failed']);
const now = (): string => new Date().toISOString();

class Aborted extends Error {
  constructor() {
    super('the gateway is stopping');
  }
}

export class Gateway {
  readonly store: GatewayStore;
  private readonly log: Logger;
  private readonly settings: GatewaySettings;
  private readonly running = new Map<string, Promise<void>>();
  private readonly operations = new Map<string, GatewayOperation>();
  private readonly clients = new Map<string, EngineClient>();
  private abort = new AbortController();

  constructor(private readonly deps: GatewayDeps) {
    this.store = new GatewayStore(deps.kube, deps.namespace);
    this.log = (deps.log ?? silentLogger).child({ part: 'gateway' });
    this.settings = { hostTimeoutMs: 300_000, verifyTimeoutMs: 120_000, sshBudgetMs: 60_000, ...deps.settings };
  }

  /** CRDs, then resume every cluster whose create or delete did not finish */
  async start(): Promise<void> {
    this.abort = new AbortController();
    await this.store.init();
    for (const c of await this.store.listClusters()) {
      const phase = c.status?.phase ?? 'Pending';
      if (TERMINAL_PHASES.has(phase)) continue;
      this.log.info({ cluster: c.metadata.name, phase }, 'resuming');
      await this.store.recordEvent(c.metadata.name, 'Normal', 'Resumed', `the gateway restarted during ${phase}; resuming`).catch(() => undefined);
      this.launch(c.metadata.name, phase === 'Deleting' ? 'delete' : 'create');
    }
  }

  /** stop the pipelines where they are (the next start resumes them) */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled([...this.running.values()]);
    for (const c of this.clients.values()) await c.close().catch(() => undefined);
    this.clients.clear();
  }

  capabilities() {
    return { items: CAPABILITY_MATRIX, orchestrators: Object.keys(this.deps.engines), providers: Object.keys(this.deps.infra) };
  }

  catalog() {
    return { items: CATALOG };
  }

  catalogTemplate(name: string) {
    return catalogTemplate(name);
  }

  // ---------------------------------------------------------------- clusters
  async createCluster(body: unknown): Promise<{ id: string; operationId: string }> {
    const req: ClusterRequest = validateClusterRequest(body);
    if (!this.deps.engines[req.orchestrator]) throw new MixmeshError('GATEWAY_PROVIDER_NOT_CONFIGURED', `orchestrator ${req.orchestrator} has no driver here`, { errors: [{ pointer: '/orchestrator', message: `no driver for ${req.orchestrator}` }] });
    if (req.infrastructure && !this.deps.infra[req.infrastructure.provider]) {
      throw new MixmeshError('GATEWAY_PROVIDER_NOT_CONFIGURED', `infrastructure provider ${req.infrastructure.provider} is not configured on this gateway (configured: ${Object.keys(this.deps.infra).join(', ') || 'none'})`, { errors: [{ pointer: '/infrastructure/provider', message: 'not configured' }] });
    }
    if (await this.store.getCluster(req.name)) throw new MixmeshError('ALREADY_EXISTS', `cluster ${req.name} exists`, { errors: [{ pointer: '/name', message: 'a cluster with this name exists' }] });
    const spec: ClusterSpec = {
      orchestrator: req.orchestrator,
      ...(req.version ? { version: req.version } : {}),
      ...(req.infrastructure ? { infrastructure: req.infrastructure, size: req.size! } : {}),
    };
    if (req.register) {
      const secretName = await this.store.writeCredentials(req.name, req.register);
      spec.registered = { secretName, ...(req.register.endpoint ? { endpoint: req.register.endpoint } : {}) };
    }
    const op: GatewayOperation = { id: randomUUID(), kind: req.register ? 'register' : 'create', cluster: req.name, state: 'Queued', steps: [] };
    const status: ClusterStatus = { phase: 'Pending', hosts: [], operations: [op] };
    try {
      await this.store.createCluster(req.name, spec, status);
    } catch (e) {
      if (req.register) await this.store.deleteCredentials(req.name).catch(() => undefined);
      if (isMixmeshError(e) && e.details?.httpStatus === 409) throw new MixmeshError('ALREADY_EXISTS', `cluster ${req.name} exists`, { errors: [{ pointer: '/name', message: 'a cluster with this name exists' }] });
      throw e;
    }
    this.operations.set(op.id, op);
    this.launch(req.name, 'create');
    return { id: req.name, operationId: op.id };
  }

  async deleteCluster(id: string): Promise<{ id: string; operationId: string }> {
    checkName(id, '/id');
    const c = await this.mustGet(id);
    const status = c.status ?? { phase: 'Pending', hosts: [], operations: [] };
    const pending = status.operations.find((o) => o.kind === 'delete' && (o.state === 'Queued' || o.state === 'Running'));
    if (pending) return { id, operationId: pending.id };
    const op: GatewayOperation = { id: randomUUID(), kind: 'delete', cluster: id, state: 'Queued', steps: [] };
    this.operations.set(op.id, op);
    const running = this.running.get(id);
    // a create in progress stops at its next stage boundary; the delete then releases what it made
    if (running) {
      this.cancelled.add(id);
      await running.catch(() => undefined);
      this.cancelled.delete(id);
    }
    const fresh = (await this.store.getCluster(id))?.status ?? status;
    fresh.operations = [...fresh.operations, op].slice(-20);
    fresh.phase = 'Deleting';
    await this.store.writeStatus(id, fresh);
    this.launch(id, 'delete');
    return { id, operationId: op.id };
  }

  private readonly cancelled = new Set<string>();

  async listClusters() {
    const items = await this.store.listClusters();
    return { items: items.map((c) => this.summary(c)) };
  }

  private summary(c: ClusterObject) {
    const s = c.status;
    return {
      id: c.metadata.name, name: c.metadata.name, orchestrator: c.spec.orchestrator, provider: c.spec.infrastructure?.provider ?? 'registered',
      phase: s?.phase ?? 'Pending', endpoint: s?.endpoint, hosts: s?.hosts.length ?? 0, message: s?.message, createdAt: c.metadata.creationTimestamp,
    };
  }

  /** getOrchestratorInfo: the record plus what the engine says now */
  async getCluster(id: string) {
    checkName(id, '/id');
    const c = await this.mustGet(id);
    const s = c.status ?? { phase: 'Pending', hosts: [], operations: [] };
    let live: { healthy: boolean; version?: string; nodes?: unknown[]; error?: string } = { healthy: false };
    let capacity = { cpus: 0, memoryBytes: 0 };
    let services = 0;
    if (s.phase === 'Ready' || s.phase === 'Degraded') {
      try {
        const info = await (await this.client(c)).info();
        live = { healthy: info.healthy, version: info.version, nodes: info.nodes };
        for (const n of info.nodes) {
          capacity = { cpus: capacity.cpus + (n.resources?.cpus ?? 0), memoryBytes: capacity.memoryBytes + (n.resources?.memoryBytes ?? 0) };
        }
      } catch (e) {
        live = { healthy: false, error: (e as Error).message };
      }
      services = (await this.store.listServices(id)).length;
    }
    return {
      id, name: id, kind: c.spec.orchestrator, orchestrator: c.spec.orchestrator, provider: c.spec.infrastructure?.provider ?? 'registered',
      version: live.version ?? s.engineVersion ?? c.spec.version, endpoint: s.endpoint, phase: s.phase, message: s.message,
      health: live.healthy ? 'Healthy' : s.phase === 'Ready' || s.phase === 'Degraded' ? 'Unhealthy' : 'Unknown',
      ...(live.error ? { healthError: live.error } : {}),
      hosts: s.hosts.map((h) => ({ id: h.name, role: h.role, address: h.address, state: h.state, instanceId: h.instanceId })),
      nodes: live.nodes ?? [], capacity, services,
      capabilities: [capabilityRow(c.spec.orchestrator), ...(c.spec.infrastructure ? [capabilityRow(c.spec.infrastructure.provider)] : [])].filter(Boolean),
      operations: s.operations,
    };
  }

  async operation(id: string): Promise<GatewayOperation> {
    const mem = this.operations.get(id);
    if (mem) return mem;
    for (const c of await this.store.listClusters()) {
      const op = c.status?.operations.find((o) => o.id === id);
      if (op) return op;
    }
    throw new MixmeshError('NOT_FOUND', `no gateway operation ${id}`);
  }

  async events(id: string): Promise<GatewayEvent[]> {
    checkName(id, '/id');
    await this.mustGet(id);
    return this.store.events(id);
  }

  /** getHostInfoById */
  async host(id: string, hostId: string) {
    checkName(id, '/id');
    const c = await this.mustGet(id);
    const h = c.status?.hosts.find((x) => x.name === hostId);
    if (!h) throw new MixmeshError('NOT_FOUND', `cluster ${id} has no host ${hostId}`);
    let node: unknown;
    if (c.status?.phase === 'Ready' || c.status?.phase === 'Degraded') {
      const info = await (await this.client(c)).info().catch(() => undefined);
      node = info?.nodes.find((n) => (h.nodeId && n.id === h.nodeId) || (h.address && n.address === h.address));
    }
    return { id: h.name, ...h, node: node ?? null };
  }

  async hosts(id: string) {
    checkName(id, '/id');
    const c = await this.mustGet(id);
    return { items: c.status?.hosts ?? [] };
  }

  // ---------------------------------------------------------------- services
  async createService(id: string, body: unknown): Promise<ServiceInfo & { cluster: string; template: string }> {
    checkName(id, '/id');
    const req: ServiceRequest = validateServiceRequest(body);
    try {
      catalogTemplate(req.template);
    } catch (e) {
      throw new MixmeshError('BAD_REQUEST', (e as Error).message, { errors: [{ pointer: '/template', message: 'not in the catalog' }] });
    }
    const c = await this.readyCluster(id);
    const def = renderService(id, req);
    const obj = await this.store.createService(id, req).catch((e: unknown) => {
      if (isMixmeshError(e) && e.details?.httpStatus === 409) throw new MixmeshError('ALREADY_EXISTS', `cluster ${id} has a service ${req.name}`, { errors: [{ pointer: '/name', message: 'exists' }] });
      throw e;
    });
    try {
      const engineId = await (await this.client(c)).createService(def);
      await this.store.writeServiceStatus(id, req.name, { phase: 'Created', engineId });
    } catch (e) {
      await this.store.deleteService(id, req.name).catch(() => undefined);
      throw e;
    }
    await this.store.recordEvent(id, 'Normal', 'ServiceCreated', `service ${req.name} from template ${req.template}, ${def.replicas} replicas`).catch(() => undefined);
    void obj;
    return { cluster: id, template: req.template, ...(await (await this.client(c)).service(req.name)) };
  }

  async listServices(id: string) {
    checkName(id, '/id');
    const c = await this.mustGet(id);
    const objs = await this.store.listServices(id);
    const client = c.status?.phase === 'Ready' || c.status?.phase === 'Degraded' ? await this.client(c) : undefined;
    const items = await Promise.all(objs.map(async (o) => ({ template: o.spec.template, parameters: o.spec.parameters ?? {}, ...(client ? await client.service(o.spec.name) : { name: o.spec.name, desired: 0, running: 0, state: 'Absent' as const }) })));
    return { items };
  }

  /** getContainerServiceInfo: the service in detail, with its containers and the cluster's events about it */
  async getService(id: string, sid: string) {
    checkName(id, '/id');
    checkName(sid, '/sid');
    const c = await this.readyCluster(id);
    const obj = await this.store.getService(id, sid);
    if (!obj) throw new MixmeshError('NOT_FOUND', `cluster ${id} has no service ${sid}`);
    const client = await this.client(c);
    const [info, containers, events] = await Promise.all([client.service(sid), client.containers(sid), this.store.events(id)]);
    return {
      cluster: id, template: obj.spec.template, parameters: obj.spec.parameters ?? {}, definition: renderService(id, obj.spec), ...info, containers,
      events: events.filter((e) => e.note.includes(`service ${sid} `) || e.note.endsWith(`service ${sid}`)),
    };
  }

  /** PATCH a service: scale (replicas) and/or update (image, env) — the engine's rolling update */
  async scaleService(id: string, sid: string, body: unknown) {
    checkName(id, '/id');
    checkName(sid, '/sid');
    const patch = validateScale(body);
    const c = await this.readyCluster(id);
    const obj = await this.store.getService(id, sid);
    if (!obj) throw new MixmeshError('NOT_FOUND', `cluster ${id} has no service ${sid}`);
    const parameters = { ...(obj.spec.parameters ?? {}), ...patch };
    const client = await this.client(c);
    const update = patch.image !== undefined || patch.env !== undefined;
    if (update) await client.updateService(renderService(id, { ...obj.spec, parameters }));
    else await client.scaleService(sid, patch.replicas!);
    await this.store.updateService(obj, { ...obj.spec, parameters });
    const what = [patch.image !== undefined ? `image ${patch.image}` : '', patch.env !== undefined ? `env ${Object.keys(patch.env).sort().join(',') || '(none)'}` : '', patch.replicas !== undefined ? `${patch.replicas} replicas` : ''].filter(Boolean).join(', ');
    await this.store.recordEvent(id, 'Normal', update ? 'ServiceUpdated' : 'ServiceScaled', update ? `service ${sid} updated: ${what}` : `service ${sid} scaled to ${patch.replicas}`).catch(() => undefined);
    return client.service(sid);
  }

  /** the last lines of each container of a service, as the engine keeps them */
  async logs(id: string, sid: string, tailRaw: unknown) {
    checkName(id, '/id');
    checkName(sid, '/sid');
    const tail = tailRaw === undefined ? 100 : Number(tailRaw);
    if (!Number.isInteger(tail) || tail < 1 || tail > 10_000) throw new MixmeshError('BAD_REQUEST', `tail "${String(tailRaw).slice(0, 20)}": an integer from 1 to 10000 is allowed`, { errors: [{ pointer: '/tail', message: 'must be an integer from 1 to 10000' }] });
    const c = await this.readyCluster(id);
    if (!(await this.store.getService(id, sid))) throw new MixmeshError('NOT_FOUND', `cluster ${id} has no service ${sid}`);
    const client = await this.client(c);
    if (!client.logs) throw new MixmeshError('GATEWAY_NOT_SUPPORTED', `${c.spec.orchestrator} gives no container logs through its API (see GET /v1/gateway/capabilities)`);
    return { items: await client.logs(sid, { tail }) };
  }

  async deleteService(id: string, sid: string) {
    checkName(id, '/id');
    checkName(sid, '/sid');
    const c = await this.mustGet(id);
    const obj = await this.store.getService(id, sid);
    if (!obj) throw new MixmeshError('NOT_FOUND', `cluster ${id} has no service ${sid}`);
    if (c.status?.phase === 'Ready' || c.status?.phase === 'Degraded') await (await this.client(c)).deleteService(sid);
    await this.store.deleteService(id, sid);
    await this.store.recordEvent(id, 'Normal', 'ServiceDeleted', `service ${sid} deleted`).catch(() => undefined);
  }

  async containers(id: string, sid: string): Promise<{ items: ContainerInfo[] }> {
    checkName(id, '/id');
    checkName(sid, '/sid');
    const c = await this.readyCluster(id);
    if (!(await this.store.getService(id, sid))) throw new MixmeshError('NOT_FOUND', `cluster ${id} has no service ${sid}`);
    const items = await (await this.client(c)).containers(sid);
    // the host as the gateway knows it (an engine may see a node by another source address)
    for (const x of items) {
      const host = c.status?.hosts.find((hh) => hh.nodeId && hh.nodeId === x.node);
      if (host?.address) x.host = host.address;
    }
    return { items };
  }

  async container(id: string, sid: string, cid: string): Promise<ContainerInfo> {
    const { items } = await this.containers(id, sid);
    const found = items.find((x) => x.id === cid);
    if (!found) throw new MixmeshError('NOT_FOUND', `service ${sid} of cluster ${id} has no container ${cid}`);
    return found;
  }

  // ---------------------------------------------------------------- internals
  private async mustGet(id: string): Promise<ClusterObject> {
    const c = await this.store.getCluster(id);
    if (!c) throw new MixmeshError('NOT_FOUND', `no cluster ${id}`);
    return c;
  }

  private async readyCluster(id: string): Promise<ClusterObject> {
    const c = await this.mustGet(id);
    const phase = c.status?.phase ?? 'Pending';
    if (phase !== 'Ready' && phase !== 'Degraded') throw new MixmeshError('GATEWAY_CLUSTER_NOT_READY', `cluster ${id} is ${phase}; services need a Ready cluster`);
    return c;
  }

  private async client(c: ClusterObject): Promise<EngineClient> {
    const name = c.metadata.name;
    const cached = this.clients.get(name);
    if (cached) return cached;
    const driver = this.engine(c.spec.orchestrator);
    let client: EngineClient;
    if (c.spec.registered) {
      const creds: RegisterRequest = (await this.store.readCredentials(name)) ?? {};
      client = driver.connect(creds.endpoint ?? c.spec.registered.endpoint ?? '', creds);
    } else {
      if (!c.status?.endpoint) throw new MixmeshError('GATEWAY_CLUSTER_NOT_READY', `cluster ${name} has no endpoint yet`);
      // a created cluster's credentials (Kubernetes: the admin kubeconfig) were read on its manager
      const creds = driver.credentials ? await this.store.readCredentials(name) : undefined;
      client = driver.connect(c.status.endpoint, creds);
    }
    this.clients.set(name, client);
    return client;
  }

  private engine(kind: OrchestratorKind): EngineDriver {
    const d = this.deps.engines[kind];
    if (!d) throw new MixmeshError('GATEWAY_PROVIDER_NOT_CONFIGURED', `orchestrator ${kind} has no driver here`);
    return d;
  }

  private infra(kind: ProviderKind): InfraDriver {
    const d = this.deps.infra[kind];
    if (!d) throw new MixmeshError('GATEWAY_PROVIDER_NOT_CONFIGURED', `infrastructure provider ${kind} is not configured on this gateway`);
    return d;
  }

  private launch(name: string, what: 'create' | 'delete'): void {
    if (this.running.has(name)) return;
    const p = (what === 'create' ? this.runCreate(name) : this.runDelete(name))
      .catch((e: unknown) => {
        if (!(e instanceof Aborted)) this.log.error({ err: e, cluster: name }, `${what} pipeline failed`);
      })
      .finally(() => this.running.delete(name));
    this.running.set(name, p);
  }

  /** the busy Promise of a cluster's pipeline (tests and the CLI wait on operations instead) */
  settled(name: string): Promise<void> {
    return this.running.get(name) ?? Promise.resolve();
  }

  private checkpoint(name?: string): void {
    if (this.abort.signal.aborted) throw new Aborted();
    if (name && this.cancelled.has(name)) throw new Aborted();
  }

  /** one pipeline's view of its cluster: status writes are serialized, steps and events recorded */
  private async tracker(name: string, kind: GatewayOperation['kind']) {
    const c = await this.mustGet(name);
    const status: ClusterStatus = c.status ?? { phase: 'Pending', hosts: [], operations: [] };
    status.hosts ??= [];
    status.operations ??= [];
    let op = [...status.operations].reverse().find((o) => o.kind === kind || (kind === 'create' && o.kind === 'register'));
    if (!op) {
      op = { id: randomUUID(), kind, cluster: name, state: 'Queued', steps: [] };
      status.operations.push(op);
    }
    const theOp = op;
    this.operations.set(theOp.id, theOp);
    let writing: Promise<unknown> = Promise.resolve();
    const save = (): Promise<void> => {
      const snapshot = JSON.parse(JSON.stringify(status)) as ClusterStatus;
      writing = writing.then(() => this.store.writeStatus(name, snapshot)).catch((e: unknown) => this.log.warn({ err: e, cluster: name }, 'status write failed'));
      return writing.then(() => undefined);
    };
    const event = (type: 'Normal' | 'Warning', reason: string, note: string): Promise<void> => this.store.recordEvent(name, type, reason, note).catch((e: unknown) => this.log.warn({ err: e }, 'event not recorded'));
    const step = async <T>(stepName: string, fn: () => Promise<T>, done?: (r: T) => string): Promise<T> => {
      this.checkpoint(name);
      let s = theOp.steps.find((x) => x.name === stepName && !x.endedAt);
      if (!s) {
        s = { name: stepName, startedAt: now() };
        theOp.steps.push(s);
      }
      await save();
      try {
        const r = await fn();
        s.endedAt = now();
        delete s.error;
        await save();
        if (done) await event('Normal', stepName[0]!.toUpperCase() + stepName.slice(1), done(r));
        return r;
      } catch (e) {
        if (!(e instanceof Aborted)) {
          s.endedAt = now();
          s.error = (e as Error).message;
        }
        throw e;
      }
    };
    return { c, status, op: theOp, save, event, step };
  }

  private async runCreate(name: string): Promise<void> {
    const t = await this.tracker(name, 'create');
    const { c, status, op } = t;
    op.state = 'Running';
    // what a rollback releases: every host with an instance, and on clouds every planned host
    // (release finds instances by name, so one whose provision failed half-way does not stay behind)
    const provisioned = (): HostRecord[] => status.hosts.filter((h) => h.state !== 'Released' && (h.instanceId || (c.spec.infrastructure && c.spec.infrastructure.provider !== 'baremetal')));
    try {
      await t.step('parse', async () => c.spec, (s) => `${s.registered ? 'register' : 'create'} a ${s.orchestrator} cluster${s.infrastructure ? ` on ${s.infrastructure.provider}, ${s.size!.managers} manager + ${s.size!.workers} workers` : ''}`);
      if (c.spec.registered) {
        await this.runRegister(name, c, t);
        return;
      }
      const infra = this.infra(c.spec.infrastructure!.provider);
      const engine = this.engine(c.spec.orchestrator);
      await t.step('plan', async () => {
        if (status.hosts.length === 0) {
          const size = c.spec.size!;
          for (let i = 0; i < size.managers; i++) status.hosts.push({ name: `${name}-manager-${i}`, role: 'manager', provider: infra.provider, state: 'Requested' });
          for (let i = 0; i < size.workers; i++) status.hosts.push({ name: `${name}-worker-${i}`, role: 'worker', provider: infra.provider, state: 'Requested' });
        }
        status.phase = 'Provisioning';
        return status.hosts;
      }, (hosts) => `infrastructure request: ${hosts.length} hosts on ${infra.provider}: ${hosts.map((h) => h.name).join(', ')}`);

      const timeoutMs = Math.min(this.settings.hostTimeoutMs, (c.spec.infrastructure?.hostTimeoutSeconds ?? Infinity) * 1000);
      const privateKey = await infra.privateKey();
      const shells = new Map<string, RemoteShell>();
      const manager = status.hosts.find((h) => h.role === 'manager')!;
      let managerReady: (() => void) | undefined;
      let managerFailed: ((e: unknown) => void) | undefined;
      const managerInit = new Promise<void>((resolve, reject) => { managerReady = resolve; managerFailed = reject; });
      managerInit.catch(() => undefined);
      const ctx = { cluster: name, version: c.spec.version, manager, log: this.log };
      const opStart = Date.now();
      let credentials: RegisterRequest | undefined;
      const stepStarted = (n: string) => { if (!op.steps.some((s) => s.name === n)) op.steps.push({ name: n, startedAt: now() }); };
      const stepEnded = (n: string) => { const s = op.steps.find((x) => x.name === n); if (s && !s.endedAt && status.hosts.every((h) => stageDone(h, n))) s.endedAt = now(); };

      // each host runs its own chain; a worker's join waits for the manager's init only
      const chain = async (h: HostRecord): Promise<void> => {
        h.times ??= {};
        h.times.requested ??= Date.now();
        stepStarted('provision');
        this.checkpoint(name);
        const got = await infra.provision(name, h, { timeoutMs, signal: this.abort.signal, orchestrator: engine.kind }).catch((e: unknown) => {
          throw wrapError('GATEWAY_PROVISION_FAILED', `provision host ${h.name} on ${infra.provider}`, e);
        });
        this.checkpoint(name);
        if (h.state === 'Requested' || !h.instanceId) {
          Object.assign(h, { instanceId: got.instanceId, address: got.address, state: 'Provisioned' });
          h.times.provisioned = Date.now();
          await t.save();
          await t.event('Normal', 'Provisioned', `host ${h.name}: ${infra.provider} instance ${got.instanceId} at ${got.address}`);
        }
        stepEnded('provision');
        stepStarted('install');
        const remaining = Math.max(1000, timeoutMs - (Date.now() - (h.times.requested ?? opStart)));
        const shell = await connectSsh({
          host: got.address, username: got.username, privateKey,
          hostKey: h.hostKey ? { expected: [h.hostKey] } : got.hostKeys.length ? { expected: got.hostKeys } : { acceptNew: (k) => { h.hostKey = k; } },
          connectBudgetMs: Math.min(remaining, this.settings.sshBudgetMs), log: this.log,
        }).catch((e: unknown) => {
          if (isMixmeshError(e, 'SSH_CONNECT_FAILED')) throw new MixmeshError('GATEWAY_PROVISION_TIMEOUT', `host ${h.name} (${got.address}) did not answer SSH within ${Math.round(remaining / 1000)} s`, { cause: e });
          throw wrapError('GATEWAY_PROVISION_FAILED', `host ${h.name} (${got.address})`, e);
        });
        shells.set(h.name, shell);
        if (!h.hostKey && got.hostKeys.length) h.hostKey = got.hostKeys[0]!;
        if (h.state === 'Provisioned') { h.state = 'Reachable'; h.times.reachable = Date.now(); await t.save(); }
        this.checkpoint(name);
        const failInstall = (stage: string) => (e: unknown): never => {
          throw new MixmeshError('GATEWAY_INSTALL_FAILED', `install ${engine.kind} on host ${h.name} (${got.address}), ${stage}: ${(e as Error).message}`, { cause: e, details: { host: h.name, step: stage } });
        };
        h.engineVersion = await engine.installEngine(shell, h, ctx).catch(failInstall('engine'));
        if (h.state === 'Reachable') { h.state = 'EngineInstalled'; h.times.installed = Date.now(); await t.save(); }
        this.checkpoint(name);
        if (h.role === 'manager') {
          status.endpoint = await engine.initManager(shell, h, ctx).catch(failInstall('cluster init'));
          if (engine.credentials) {
            credentials = await engine.credentials(shell, h).catch(failInstall('credentials'));
            await this.store.writeCredentials(name, credentials);
          }
          managerReady!();
        } else {
          await managerInit;
          this.checkpoint(name);
          await engine.joinWorker(shell, h, shells.get(manager.name)!, ctx).catch(failInstall('join'));
        }
        if (engine.nodeId) h.nodeId = (await engine.nodeId(shell, h).catch(() => undefined)) ?? h.nodeId;
        h.state = 'Joined';
        h.times.joined = Date.now();
        await t.save();
        await t.event('Normal', 'Installed', `host ${h.name}: ${engine.kind} ${h.engineVersion ?? ''} installed, ${h.role === 'manager' ? 'cluster initialised' : 'joined'}`);
        stepEnded('install');
        this.deps.onHostDone?.(name, h);
      };
      status.phase = 'Installing';
      try {
        const results = await Promise.allSettled(status.hosts.map((h) => chain(h).catch((e: unknown) => {
          if (h.role === 'manager') managerFailed!(e);
          if (!(e instanceof Aborted)) { h.state = 'Failed'; h.error = (e as Error).message; }
          throw e;
        })));
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected' && !(r.reason instanceof Aborted) && !(status.hosts.find((h) => h.role === 'manager')?.error && r.reason === undefined));
        const aborted = results.find((r) => r.status === 'rejected' && r.reason instanceof Aborted);
        if (failed) {
          // a worker that only waited for a failed manager reports the manager's error
          const managerErr = results[status.hosts.indexOf(manager)];
          throw managerErr?.status === 'rejected' && !(managerErr.reason instanceof Aborted) ? managerErr.reason : failed.reason;
        }
        if (aborted) throw new Aborted();
      } finally {
        await Promise.all([...shells.values()].map((s) => s.close().catch(() => undefined)));
      }
      await t.event('Normal', 'Install', `${engine.kind} installed on ${status.hosts.length} hosts`);

      status.phase = 'Verifying';
      await t.step('analyse', async () => {
        const client = engine.connect(status.endpoint!, credentials);
        const required = engine.nodeHosts ? engine.nodeHosts(status.hosts) : status.hosts;
        const deadline = Date.now() + this.settings.verifyTimeoutMs;
        let delay = 200;
        for (;;) {
          this.checkpoint(name);
          const info = await client.info().catch((e: unknown) => ({ error: e as Error }));
          if (!('error' in info)) {
            const ready = info.nodes.filter((n) => n.state === 'ready' || n.state === 'Ready' || n.state === 'active');
            const ours = required.every((h) => !h.nodeId || ready.some((n) => n.id === h.nodeId));
            if (ready.length >= required.length && ours) {
              for (const h of status.hosts) h.nodeId ??= info.nodes.find((n) => n.address === h.address)?.id;
              status.engineVersion = info.version;
              await client.close();
              return info;
            }
          }
          if (Date.now() > deadline) {
            await client.close();
            throw new MixmeshError('GATEWAY_INSTALL_FAILED', `result analysis: the ${engine.kind} cluster at ${status.endpoint} did not report ${required.length} ready nodes within ${this.settings.verifyTimeoutMs / 1000} s${'error' in info ? ` (${info.error.message})` : ` (${info.nodes.length} nodes, ${info.nodes.map((n) => `${n.address ?? n.id}: ${n.state}`).join(', ')})`}`);
          }
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, 2000);
        }
      }, (info) => `${info.nodes.length} nodes ready, ${engine.kind} ${info.version}, healthy`);
      await t.step('register', async () => {
        status.phase = 'Ready';
        delete status.message;
        return status.endpoint;
      }, (endpoint) => `cluster ${name} registered at ${endpoint}`);
      op.state = 'Succeeded';
      await t.save();
    } catch (e) {
      if (e instanceof Aborted) {
        await t.save();
        throw e;
      }
      // roll back: every host this create provisioned goes back
      const message = (e as Error).message;
      this.log.warn({ cluster: name, err: e }, 'create failed; rolling back');
      await t.event('Warning', 'CreateFailed', message);
      const hosts = provisioned();
      if (hosts.length && c.spec.infrastructure) {
        const infra = this.infra(c.spec.infrastructure.provider);
        await Promise.all(hosts.map(async (h) => {
          if (infra.provider === 'baremetal') await this.uninstallHost(name, c.spec.orchestrator, infra, h).catch(() => undefined);
          await infra.release(name, h).then(() => { h.state = 'Released'; }, (err: unknown) => { h.error = `release failed: ${(err as Error).message}`; });
        }));
        await t.event('Normal', 'RolledBack', `released ${hosts.length} hosts: ${hosts.map((h) => h.name).join(', ')}`);
      }
      await this.store.deleteCredentials(name).catch(() => undefined);
      for (const h of status.hosts) if (h.state !== 'Released' && h.state !== 'Failed' && !h.instanceId) h.state = 'Released';
      status.phase = 'Failed';
      status.message = message;
      op.state = hosts.length ? 'RolledBack' : 'Failed';
      op.error = message;
      await t.save();
    }
  }

  private async runRegister(name: string, c: ClusterObject, t: Awaited<ReturnType<Gateway['tracker']>>): Promise<void> {
    const { status, op } = t;
    try {
      const info = await t.step('analyse', async () => (await this.client(c)).info(), (i) => `${c.spec.orchestrator} ${i.version}: ${i.nodes.length} nodes, ${i.healthy ? 'healthy' : 'not all nodes ready'}`);
      await t.step('register', async () => {
        status.phase = 'Ready';
        status.engineVersion = info.version;
        status.endpoint = c.spec.registered?.endpoint ?? (c.spec.orchestrator === 'kubernetes' ? 'kubeconfig' : '');
        status.hosts = info.nodes.map((n) => ({ name: n.hostname ?? n.id, role: n.role, provider: 'registered', ...(n.address ? { address: n.address } : {}), state: 'Joined', nodeId: n.id, ...(n.engineVersion ? { engineVersion: n.engineVersion } : {}) }));
        return status.endpoint;
      }, () => `registered ${c.spec.orchestrator} cluster ${name}`);
      op.state = 'Succeeded';
    } catch (e) {
      if (e instanceof Aborted) throw e;
      this.clients.delete(name);
      status.phase = 'Failed';
      status.message = (e as Error).message;
      op.state = 'Failed';
      op.error = status.message;
      await t.event('Warning', 'RegisterFailed', status.message);
    }
    await t.save();
  }

  private async uninstallHost(cluster: string, kind: OrchestratorKind, infra: InfraDriver, h: HostRecord): Promise<void> {
    if (!h.address) return;
    const shell = await connectSsh({
      host: h.address, username: (await this.usernameOf(infra, cluster, h, kind)), privateKey: await infra.privateKey(),
      hostKey: h.hostKey ? { expected: [h.hostKey] } : { expected: [] }, connectBudgetMs: 10_000, log: this.log,
    });
    try {
      await this.engine(kind).uninstall(shell, h);
    } finally {
      await shell.close();
    }
  }

  private async usernameOf(infra: InfraDriver, cluster: string, h: HostRecord, orchestrator: OrchestratorKind): Promise<string> {
    if (infra.provider !== 'baremetal') return 'root';
    return (await infra.provision(cluster, h, { timeoutMs: 1000, signal: this.abort.signal, orchestrator })).username;
  }

  private async runDelete(name: string): Promise<void> {
    const t = await this.tracker(name, 'delete');
    const { c, status, op } = t;
    op.state = 'Running';
    status.phase = 'Deleting';
    try {
      await t.step('services', async () => {
        const objs = await this.store.listServices(name);
        let client: EngineClient | undefined;
        if (status.endpoint || c.spec.registered) client = await this.client({ ...c, status }).catch(() => undefined);
        for (const o of objs) {
          if (client) await client.deleteService(o.spec.name).catch((e: unknown) => { if (c.spec.registered) throw e; });
          await this.store.deleteService(name, o.spec.name);
        }
        return objs.length;
      }, (n) => `${n} services removed`);
      if (c.spec.infrastructure) {
        const infra = this.infra(c.spec.infrastructure.provider);
        const hosts = status.hosts.filter((h) => h.state !== 'Released' && (h.instanceId || infra.provider !== 'baremetal'));
        await t.step('uninstall', async () => {
          await Promise.all(hosts.filter((h) => h.address).map((h) => this.uninstallHost(name, c.spec.orchestrator, infra, h).catch((e: unknown) => {
            // a cloud host is destroyed next anyway; an inventory host must be clean before it goes back
            if (infra.provider === 'baremetal') throw wrapError('GATEWAY_INSTALL_FAILED', `uninstall on host ${h.name} (${h.address})`, e);
          })));
          return hosts.length;
        }, (n) => `${c.spec.orchestrator} uninstalled from ${n} hosts`);
        await t.step('release', async () => {
          await Promise.all(hosts.map(async (h) => {
            await infra.release(name, h);
            h.state = 'Released';
          }));
          return hosts.length;
        }, (n) => `${n} hosts released on ${infra.provider}`);
      }
      await this.store.deleteCredentials(name);
      const client = this.clients.get(name);
      this.clients.delete(name);
      await client?.close().catch(() => undefined);
      await this.store.deleteEvents(name).catch(() => undefined);
      await this.store.deleteCluster(name);
      // Succeeded only once the Cluster is gone: a reader of the operation then sees no Cluster
      op.state = 'Succeeded';
      this.operations.set(op.id, { ...op, steps: op.steps.map((x) => ({ ...x })) });
    } catch (e) {
      if (e instanceof Aborted) {
        await t.save();
        throw e;
      }
      op.state = 'Failed';
      op.error = (e as Error).message;
      status.message = op.error;
      await t.event('Warning', 'DeleteFailed', op.error);
      await t.save();
    }
  }
}

function stageDone(h: HostRecord, stage: string): boolean {
  if (stage === 'provision') return h.state !== 'Requested';
  if (stage === 'install') return h.state === 'Joined' || h.state === 'Failed';
  return true;
}
