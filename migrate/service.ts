/**
 * Migrations beside the orchestrator: `Migration` resources of `backup.mixmesh.io` in the system
 * namespace hold the spec and the status (the engine's recorded facts, so a restarted leader
 * resumes), the REST routes `/v1/migrations` (same tokens, roles and problem+json as the API),
 * Kubernetes Events per step, and the automatic mode: a `migrationPolicy` on a node's
 * BackupSchedule migrates that node once it has been NotReady longer than `after` while pods it ran
 * stay Pending for lack of room — one migration per node, none while the node comes back.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { Express } from 'express';
import { MixmeshError, isMixmeshError } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';
import type { KubeObject } from '../clients/kube/index.js';
import { connectSsh, type ConnectOptions, type RemoteShell } from '../clients/ssh/index.js';
import { BACKUP_API_VERSION, parseDuration, type RouteHelpers, type BackupKube, type NodeAccess, type StoreKeys } from '../backup/index.js';
import { createLeaderLoop, unlimitedCallers } from '../common/leader-loop.js';
import { receiveHandoff, type HandoffVm } from './handoff.js';
import { isStop, planMigration, runMigration, type MigrationSpec, type MigrationStatus, type Target } from './engine.js';

export const MIGRATION_KIND = 'Migration';
/** the same helpers backup's routes get from the API (one shape, defined in backup/service.ts) */
export type MigrationRouteHelpers = RouteHelpers;

export interface MigrationServiceDeps {
  kube: BackupKube;
  systemNamespace: string;
  /** the configured target names and how to open one */
  targets: { names(): string[]; open(name: string): Target & { close?(): void } };
  keys: () => Promise<StoreKeys>;
  nodes: NodeAccess;
  connect?: (o: ConnectOptions) => Promise<RemoteShell>;
  log?: Logger;
  pollMs?: number;
  waitMs?: number;
  tackerRetries?: number;
  now?: () => Date;
}

export interface MigrationService {
  routes(app: Express, h: MigrationRouteHelpers): void;
  /** the orchestrator's before-injection hook: a VM a migration into this cluster carries data for waits for it (handoff.ts) */
  beforeInject(vm: HandoffVm): Promise<void>;
  crds(): KubeObject[];
  start(isLeader: () => boolean): void;
  tick(): Promise<void>;
  stop(): Promise<void>;
}

export function migrationCrd(): KubeObject {
  const open = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'migrations.backup.mixmesh.io', labels: { 'app.kubernetes.io/managed-by': 'mixmesh' } },
    spec: {
      group: 'backup.mixmesh.io', scope: 'Namespaced',
      names: { kind: MIGRATION_KIND, plural: 'migrations', singular: 'migration', listKind: 'MigrationList', shortNames: ['mmig'] },
      versions: [{
        name: 'v1alpha1', served: true, storage: true,
        schema: { openAPIV3Schema: { type: 'object', properties: { spec: open, status: open } } },
        subresources: { status: {} },
        additionalPrinterColumns: [{ name: 'Target', type: 'string', jsonPath: '.spec.to' }, { name: 'Phase', type: 'string', jsonPath: '.status.phase' }, { name: 'Step', type: 'string', jsonPath: '.status.step' }, { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }],
      }],
    },
  } as unknown as KubeObject;
}

/** A migration id becomes part of a node name (`migrate-<id>-worker-0`): a short DNS label. */
export function checkMigrationName(name: string): void {
  if (!/^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$/.test(name)) throw new MixmeshError('BAD_REQUEST', `migration name ${JSON.stringify(name)}: lower-case letters, digits and '-', at most 40 characters (it becomes part of the new node's name)`, { errors: [{ pointer: '/name', message: 'a DNS label of at most 40 characters' }] });
}

interface Resource extends KubeObject {
  spec: MigrationSpec & { auto?: boolean };
  status?: MigrationStatus;
}

export interface AutoPolicy { schedule: string; node: string; to: string; afterMs: number }
export interface AutoInput {
  policies: AutoPolicy[];
  nodes: Array<{ name: string; ready: string; since: number }>;
  /** nodes whose pods (by controller) have replacements Pending as Unschedulable */
  starved: Set<string>;
  /** nodes that already have a migration (any phase) */
  migrated: Set<string>;
  now: number;
}

/** The automatic mode's decision, pure: which nodes to migrate now. */
export function decideAuto(input: AutoInput): AutoPolicy[] {
  const out: AutoPolicy[] = [];
  for (const p of input.policies) {
    const n = input.nodes.find((x) => x.name === p.node);
    if (!n || n.ready === 'True') continue; // gone from the cluster, or back
    if (input.now - n.since < p.afterMs) continue; // not long enough (a flapping node resets `since`)
    if (!input.starved.has(p.node)) continue; // its pods found room elsewhere
    if (input.migrated.has(p.node)) continue; // one migration per node
    if (out.some((x) => x.node === p.node)) continue;
    out.push(p);
  }
  return out;
}

export function autoName(node: string): string {
  return `auto-${createHash('sha256').update(node).digest('hex').slice(0, 10)}`;
}

export function createMigrationService(deps: MigrationServiceDeps): MigrationService {
  const log = (deps.log ?? silentLogger).child({ part: 'migrate' });
  const ns = deps.systemNamespace;
  const now = deps.now ?? (() => new Date());
  const connect = deps.connect ?? connectSsh;
  const running = new Map<string, AbortController>();
  const runs = new Set<Promise<void>>();
  let seq = 0;

  const ref = (name: string) => ({ apiVersion: BACKUP_API_VERSION, kind: MIGRATION_KIND, namespace: ns, name });
  const get = (name: string) => deps.kube.get<Resource>(ref(name));
  const list = async () => (await deps.kube.list<Resource>(BACKUP_API_VERSION, MIGRATION_KIND, { namespace: ns })).items;
  const setStatus = async (name: string, status: Partial<MigrationStatus>) => {
    await deps.kube.mergePatch(ref(name), { status }, { subresource: 'status' });
  };
  const event = async (m: Resource, type: 'Normal' | 'Warning', reason: string, note: string) => {
    seq = (seq + 1) % 0x10000;
    const t = now();
    await deps.kube.create({
      apiVersion: 'events.k8s.io/v1', kind: 'Event',
      metadata: { name: `${m.metadata.name}.${t.getTime().toString(16).padStart(12, '0')}${seq.toString(16).padStart(4, '0')}`, namespace: ns, labels: { 'mixmesh.io/migration': m.metadata.name } },
      eventTime: t.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z'), reportingController: 'mixmesh.io/migrate', reportingInstance: hostname().slice(0, 128),
      action: reason.replace(/(Started|Done|Failed)$/, '') || 'Migrate', reason, note: note.slice(0, 1024), type,
      regarding: { apiVersion: BACKUP_API_VERSION, kind: MIGRATION_KIND, namespace: ns, name: m.metadata.name, ...(m.metadata.uid ? { uid: m.metadata.uid } : {}) },
    } as KubeObject).catch((e: unknown) => log.debug({ err: String(e) }, 'event not recorded'));
  };

  function target(name: string): Target & { close?(): void } {
    if (!deps.targets.names().includes(name)) throw new MixmeshError('MIGRATE_TARGET_UNKNOWN', `no target cloud "${name}" is configured (known: ${deps.targets.names().join(', ') || 'none; set MIXMESH_MIGRATE_TARGETS'})`, { errors: [{ pointer: '/to', message: 'unknown target' }] });
    return deps.targets.open(name);
  }

  async function run(m: Resource): Promise<void> {
    const name = m.metadata.name;
    const ac = new AbortController();
    running.set(name, ac);
    let t: (Target & { close?(): void }) | undefined;
    try {
      const resumed = m.status?.phase === 'InProgress';
      if (resumed) await setStatus(name, { resumed: (m.status?.resumed ?? 0) + 1 });
      t = target(m.spec.to);
      await runMigration(t, {
        keys: await deps.keys(), nodes: deps.nodes, connect, log, signal: ac.signal,
        save: (p) => setStatus(name, p),
        event: (type, reason, note) => event(m, type, reason, note),
        ...(deps.waitMs ? { waitMs: deps.waitMs } : {}),
        ...(deps.tackerRetries !== undefined ? { tackerRetries: deps.tackerRetries } : {}),
      }, name, m.spec, m.status ?? {});
    } catch (e) {
      if (loop.stopping || isStop(e)) return;
      // runMigration records Failed itself; a failure before it started (target, keys) is recorded here
      const cur = await get(name);
      if (cur?.status?.phase !== 'Failed') {
        await setStatus(name, { phase: 'Failed', error: { code: isMixmeshError(e) ? e.code : 'INTERNAL', message: e instanceof Error ? e.message : String(e) }, completedAt: now().toISOString() }).catch(() => undefined);
      }
      log.warn({ migration: name, code: isMixmeshError(e) ? e.code : 'INTERNAL' }, 'migration failed');
    } finally {
      running.delete(name);
      t?.close?.();
    }
  }

  async function auto(): Promise<void> {
    const schedules = (await deps.kube.list<KubeObject & { spec?: { selection?: { node?: string }; migrationPolicy?: { to?: string; after?: string; enabled?: boolean } } }>(BACKUP_API_VERSION, 'BackupSchedule', { namespace: ns })).items;
    const policies: AutoPolicy[] = [];
    for (const s of schedules) {
      const p = s.spec?.migrationPolicy;
      const node = s.spec?.selection?.node;
      if (!p || p.enabled === false || !node || !p.to) continue;
      policies.push({ schedule: s.metadata.name, node, to: p.to, afterMs: parseDuration(p.after ?? '5m', '/migrationPolicy/after') });
    }
    if (!policies.length) return;
    type NodeObj = KubeObject & { status?: { conditions?: Array<{ type: string; status: string; lastTransitionTime?: string }> } };
    type PodObj = KubeObject & { spec?: { nodeName?: string }; status?: { phase?: string; conditions?: Array<{ type: string; status: string; reason?: string }> } };
    const nodes = (await deps.kube.list<NodeObj>('v1', 'Node', {})).items.map((n) => {
      const c = n.status?.conditions?.find((x) => x.type === 'Ready');
      return { name: n.metadata.name, ready: c?.status ?? 'Unknown', since: c?.lastTransitionTime ? Date.parse(c.lastTransitionTime) : now().getTime() };
    });
    const pods = (await deps.kube.list<PodObj>('v1', 'Pod', {})).items;
    const owner = (p: PodObj) => { const o = p.metadata.ownerReferences?.find((r) => r.controller); return o ? `${p.metadata.namespace}/${o.kind}/${o.name}` : undefined; };
    const starved = new Set<string>();
    for (const p of policies) {
      const owners = new Set(pods.filter((x) => x.spec?.nodeName === p.node).map(owner).filter((x): x is string => x !== undefined));
      if (pods.some((x) => !x.spec?.nodeName && x.status?.phase === 'Pending' && x.status.conditions?.some((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable') && owners.has(owner(x) ?? ''))) starved.add(p.node);
    }
    const migrated = new Set((await list()).map((m) => m.spec.node).filter((x): x is string => x !== undefined));
    for (const p of decideAuto({ policies, nodes, starved, migrated, now: now().getTime() })) {
      const name = autoName(p.node);
      if (await get(name)) continue;
      await deps.kube.create({ apiVersion: BACKUP_API_VERSION, kind: MIGRATION_KIND, metadata: { name, namespace: ns, labels: { 'backup.mixmesh.io/schedule': p.schedule } }, spec: { node: p.node, to: p.to, auto: true } } as KubeObject);
      log.warn({ node: p.node, to: p.to, migration: name }, 'node lost and its pods have no room: migrating');
    }
  }

  // one runner pass: the automatic mode, then every migration not yet finished (a graceful stop leaves them InProgress)
  const loop = createLeaderLoop(async () => {
    await auto().catch((e: unknown) => log.warn({ err: String(e) }, 'automatic migration check failed'));
    for (const m of await list()) {
      if (running.has(m.metadata.name)) continue;
      const phase = m.status?.phase;
      if (!phase || phase === 'Pending' || phase === 'InProgress') {
        const p = run(m);
        runs.add(p);
        void p.finally(() => runs.delete(p));
      }
    }
  }, { pollMs: deps.pollMs ?? 1000, what: 'migration', log });
  const tick = loop.tick;

  function specOf(body: Record<string, unknown>): MigrationSpec {
    const to = typeof body.to === 'string' ? body.to : '';
    if (!to) throw new MixmeshError('BAD_REQUEST', 'to: the name of a configured target cloud is required', { errors: [{ pointer: '/to', message: 'required' }] });
    const spec: MigrationSpec = { to };
    if (typeof body.node === 'string' && body.node) spec.node = body.node;
    if (typeof body.service === 'string') {
      const [n, s, extra] = body.service.split('/');
      if (!n || !s || extra !== undefined) throw new MixmeshError('BAD_REQUEST', `service "${body.service}": use NAMESPACE/NAME`, { errors: [{ pointer: '/service', message: 'use NAMESPACE/NAME' }] });
      spec.service = { namespace: n, name: s };
    }
    if (!spec.node === !spec.service) throw new MixmeshError('BAD_REQUEST', 'give exactly one of node or service (NAMESPACE/NAME)', { errors: [{ pointer: '/node', message: 'exactly one of node or service' }] });
    if (typeof body.backup === 'string' && body.backup) spec.backup = body.backup;
    return spec;
  }

  function routes(app: Express, h: MigrationRouteHelpers): void {
    // migrations span namespaces and nodes: a token limited to namespaces may not use them
    const unlimited = unlimitedCallers('migrations');
    app.post('/v1/migrations', h.need('viewer'), unlimited, h.rawBody, async (req, res) => {
      const body = h.jsonBody(req);
      const spec = specOf(body);
      const name = typeof body.name === 'string' && body.name ? body.name : `${(spec.node ?? spec.service!.name).replace(/[^a-z0-9-]/g, '-').slice(0, 20).replace(/-+$/, '')}-${now().toISOString().replace(/[-:T]/g, '').slice(4, 12)}`;
      checkMigrationName(name);
      if (body.plan === true) {
        const t = target(spec.to);
        try {
          const plan = await planMigration(t, { keys: await deps.keys(), nodes: deps.nodes, connect, log }, name, spec);
          res.status(200).json({ name, plan: true, ...plan });
        } finally {
          t.close?.();
        }
        return;
      }
      if ((res.locals.caller as { role?: string } | undefined)?.role !== 'admin') throw new MixmeshError('FORBIDDEN', 'starting a migration needs the admin role (it creates VMs and any kind of object in the target)');
      target(spec.to).close?.();
      if (await get(name)) throw new MixmeshError('ALREADY_EXISTS', `migration ${name} exists`);
      await deps.kube.create({ apiVersion: BACKUP_API_VERSION, kind: MIGRATION_KIND, metadata: { name, namespace: ns }, spec } as KubeObject);
      res.status(202).json({ name, operationId: `migration/${name}` });
      void tick();
    });
    app.get('/v1/migrations', h.need('viewer'), unlimited, async (_req, res) => {
      res.json({ items: (await list()).map((m) => ({ name: m.metadata.name, ...m.spec, phase: m.status?.phase ?? 'Pending', step: m.status?.step ?? null, error: m.status?.error ?? null })) });
    });
    app.get('/v1/migrations/:name', h.need('viewer'), unlimited, async (req, res) => {
      const name = String(req.params.name);
      checkMigrationName(name);
      const m = await get(name);
      if (!m) throw new MixmeshError('NOT_FOUND', `no migration ${name}`);
      res.json({ name, spec: m.spec, phase: m.status?.phase ?? 'Pending', status: m.status ?? {} });
    });
    app.get('/v1/migrations/:name/events', h.need('viewer'), unlimited, async (req, res) => {
      const name = String(req.params.name);
      checkMigrationName(name);
      const items = (await deps.kube.list('events.k8s.io/v1', 'Event', { namespace: ns, labelSelector: `mixmesh.io/migration=${name}` })).items;
      res.json({ items: items.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1)).map((e) => ({ id: e.metadata.name, time: e.eventTime, type: e.type, reason: e.reason, note: e.note })) });
    });
  }

  const receiving = new AbortController();
  return {
    routes,
    beforeInject: (vm) => receiveHandoff(deps.kube, ns, vm, log, receiving.signal),
    crds: () => [migrationCrd()],
    start: (isLeader) => loop.start(isLeader),
    tick,
    async stop() {
      const passDone = loop.stop(); // stopping from here on: aborted runs stay InProgress
      receiving.abort();
      for (const ac of running.values()) ac.abort();
      await passDone;
      // a run stops at its next checkpoint (an SSH command under way finishes first): never two runs of one migration
      await Promise.allSettled([...runs]);
      await deps.nodes.close();
    },
  };
}
