/**
 * Backup as a service beside the orchestrator: state in Kubernetes resources of group
 * `backup.mixmesh.io` (Backup, Restore, BackupSchedule, BackupStore, in the system namespace), the
 * REST routes `/v1/backups`, `/v1/restores`, `/v1/schedules` (same auth, roles, problem+json as the
 * rest of the API), a leader-only runner that carries out new Backups and Restores (resuming a
 * Restore left InProgress by a killed orchestrator), runs schedules and garbage-collects the store,
 * and metrics.
 */
import { Cron } from 'croner';
import type { Express, NextFunction, Request, Response } from 'express';
import express from 'express';
import { Counter, Histogram, type Registry } from 'prom-client';
import { createLeaderLoop, unlimitedCallers } from '../common/leader-loop.js';
import { MixmeshError, isMixmeshError } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';
import type { KubeObject } from '../clients/kube/index.js';
import { BackupReader, checkBackupName, deleteBackup, listBackups } from './archive.js';
import { runBackup, type Progress } from './capture.js';
import type { StoreKeys } from './crypto.js';
import type { NodeAccess } from './nodes.js';
import type { BackupKube, Checkpointer, NodeResolver, PodExec } from './ports.js';
import { restoreBackup, type ConflictPolicy, type RestoreResult, type VmHandoff, type VmMatch } from './restore.js';
import { listAll, type VmTarget } from './select.js';
import type { BeforeInjectContext } from '../descriptor/index.js';
import { openStore, type ObjectStore, type S3StoreOptions } from './stores.js';
import type { Manifest, Selection } from './types.js';

export const GROUP = 'backup.mixmesh.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

type Role = 'viewer' | 'deployer' | 'admin';
export interface RouteHelpers {
  need: (role: Role) => (req: Request, res: Response, next: NextFunction) => void;
  jsonBody: (req: Request) => Record<string, unknown>;
  rawBody: express.RequestHandler;
}

export interface BackupServiceConfig {
  /** the default store URL (`file:///…` or `s3://bucket/prefix`) */
  store: string;
  s3: S3StoreOptions;
  systemNamespace: string;
  /** how often the runner looks for work (default 1 s) */
  pollMs?: number;
}

export interface BackupServiceDeps {
  kube: BackupKube;
  config: BackupServiceConfig;
  keys: () => Promise<StoreKeys>;
  nodes: NodeAccess;
  resolver: NodeResolver;
  checkpointer?: Checkpointer;
  podExec?: PodExec;
  vnfPackageUsable?: (vnfdId: string) => Promise<boolean>;
  registry?: Registry;
  log?: Logger;
  source?: Manifest['source'];
  now?: () => Date;
}

function crd(kind: string, plural: string, shortNames: string[]): KubeObject {
  const open = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${GROUP}`, labels: { 'app.kubernetes.io/managed-by': 'mixmesh' } },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List`, shortNames },
      versions: [{
        name: VERSION, served: true, storage: true,
        schema: { openAPIV3Schema: { type: 'object', properties: { spec: open, status: open } } },
        subresources: { status: {} },
        additionalPrinterColumns: [{ name: 'Phase', type: 'string', jsonPath: '.status.phase' }, { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }],
      }],
    },
  } as unknown as KubeObject;
}

/** The CRDs of backup.mixmesh.io (applied at start, like the MeshService CRD). */
export function backupCrds(): KubeObject[] {
  return [crd('Backup', 'backups', ['mbk']), crd('Restore', 'restores', ['mrs']), crd('BackupSchedule', 'backupschedules', ['mbs']), crd('BackupStore', 'backupstores', ['mbst'])];
}

interface Resource extends KubeObject {
  spec: Record<string, unknown>;
  status?: Record<string, unknown>;
}

/** `CRON_TZ=Zone expr` or a plain expression plus an optional zone. */
export function parseCron(expr: string, timezone?: string): Cron {
  const m = /^CRON_TZ=(\S+)\s+(.*)$/.exec(expr.trim());
  try {
    return new Cron(m ? m[2]! : expr, { timezone: m ? m[1] : timezone, paused: true });
  } catch (e) {
    throw new MixmeshError('BAD_REQUEST', `cron ${JSON.stringify(expr)}: ${e instanceof Error ? e.message : String(e)}`, { errors: [{ pointer: '/cron', message: e instanceof Error ? e.message : String(e) }] });
  }
}

/** `30s`, `90m`, `24h`, `7d` → ms */
export function parseDuration(text: string, pointer: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(text);
  if (!m) throw new MixmeshError('BAD_REQUEST', `${pointer}: "${text}" is not a duration (a whole number then s, m, h or d, e.g. 720h)`, { errors: [{ pointer, message: 'not a duration' }] });
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

function selectionOf(body: Record<string, unknown>): Selection {
  const sel: Selection = {};
  if (typeof body.service === 'string') {
    const [ns, name] = body.service.split('/');
    if (!ns || !name) throw new MixmeshError('BAD_REQUEST', `service "${body.service}": use NAMESPACE/NAME`, { errors: [{ pointer: '/service', message: 'use NAMESPACE/NAME' }] });
    sel.service = { namespace: ns, name };
  } else if (body.service && typeof body.service === 'object') sel.service = body.service as Selection['service'];
  if (typeof body.node === 'string') sel.node = body.node;
  if (!sel.service === !sel.node) throw new MixmeshError('BAD_REQUEST', 'select exactly one of service (NAMESPACE/NAME) or node', { errors: [{ pointer: '/service', message: 'exactly one of service or node' }] });
  if (Array.isArray(body.namespaces)) sel.namespaces = body.namespaces.map(String);
  if (Array.isArray(body.kinds)) sel.kinds = body.kinds.map(String);
  if (typeof body.labelSelector === 'string') sel.labelSelector = body.labelSelector;
  return sel;
}

/** What the orchestrator's before-injection hook passes (a fresh VM, sidecar not started): its own type. */
export type NewVm = BeforeInjectContext;

export interface BackupService {
  routes(app: Express, h: RouteHelpers): void;
  /** restored VM data dirs go onto a new VM here, before its sidecar starts */
  beforeInject(vm: NewVm): Promise<void>;
  /** the handoff restores use (also for restoreBackup called as a library in this process) */
  vmHandoff: VmHandoff;
  crds(): KubeObject[];
  /** start the runner; it acts only while isLeader() */
  start(isLeader: () => boolean): void;
  /** one pass of the runner (tests) */
  tick(): Promise<void>;
  stop(): Promise<void>;
}

export function createBackupService(deps: BackupServiceDeps): BackupService {
  const log = (deps.log ?? silentLogger).child({ part: 'backup' });
  const ns = deps.config.systemNamespace;
  const now = deps.now ?? (() => new Date());
  const reg = deps.registry ? [deps.registry] : [];
  const metrics = {
    bytes: new Counter({ name: 'mixmesh_backup_bytes_total', help: 'Bytes read from sources by backups and from the store by restores', labelNames: ['kind'], registers: reg }),
    duration: new Histogram({ name: 'mixmesh_backup_duration_seconds', help: 'Duration of backups and restores', labelNames: ['kind', 'phase'], buckets: [1, 5, 15, 60, 300, 900, 3600], registers: reg }),
    results: new Counter({ name: 'mixmesh_backup_results_total', help: 'Finished backups and restores by phase', labelNames: ['kind', 'phase'], registers: reg }),
    items: new Counter({ name: 'mixmesh_backup_items_total', help: 'Items backed up or restored by result', labelNames: ['kind', 'result'], registers: reg }),
  };
  const running = new Map<string, AbortController>();
  const handoffs = new Map<string, { write: (vm: VmTarget) => Promise<void>; resolve: () => void; reject: (e: unknown) => void }>();
  const matchKey = (m: VmMatch) => `${m.namespace}/${m.service}/${m.microservice}/${m.version}/${m.index}`;
  const vmHandoff: VmHandoff = {
    register(match, write) {
      return new Promise<void>((resolve, reject) => handoffs.set(matchKey(match), { write, resolve, reject }));
    },
    cancel(match) {
      handoffs.delete(matchKey(match));
    },
  };
  async function beforeInject(vm: NewVm): Promise<void> {
    const key = matchKey({ namespace: vm.service.metadata.namespace ?? 'default', service: vm.service.metadata.name, microservice: vm.microservice.name, version: vm.microservice.version ?? 'v1', index: vm.index });
    const h = handoffs.get(key);
    if (!h) return;
    handoffs.delete(key);
    const target: VmTarget = { namespace: vm.service.metadata.namespace ?? 'default', service: vm.service.metadata.name, microservice: vm.microservice, index: vm.index, vnfInstanceName: vm.vnfInstanceName, vnfInstanceId: vm.vnfInstanceId, serverId: vm.serverId, address: vm.address };
    try {
      await h.write(target);
      h.resolve();
      log.info({ vm: vm.vnfInstanceName }, 'restored data written before the sidecar');
    } catch (e) {
      h.reject(e);
    }
  }
  const stores = new Map<string, ObjectStore>();
  // a graceful stop leaves runs InProgress: the next leader resumes them (common/leader-loop.ts)
  const loop = createLeaderLoop(() => pass(), { pollMs: deps.config.pollMs ?? 1000, what: 'backup', log });

  const ref = (kind: string, name: string) => ({ apiVersion: API_VERSION, kind, namespace: ns, name });
  const get = (kind: string, name: string) => deps.kube.get<Resource>(ref(kind, name));
  // paged (limit/continue), as every list in backup/
  const list = async (kind: string) => (await listAll(deps.kube, API_VERSION, kind, { namespace: ns })) as Resource[];
  const setStatus = async (kind: string, name: string, status: Record<string, unknown>) => {
    await deps.kube.mergePatch(ref(kind, name), { status }, { subresource: 'status' }).catch((e: unknown) => log.warn({ kind, name, err: String(e) }, 'status not written'));
  };

  /** a store by URL or by the name of a BackupStore resource (its spec: url, endpoint, region, checksums) */
  async function storeOf(nameOrUrl: unknown): Promise<ObjectStore> {
    let url = typeof nameOrUrl === 'string' && nameOrUrl ? nameOrUrl : deps.config.store;
    let s3 = deps.config.s3;
    if (!/^(file|s3):\/\//.test(url)) {
      const bs = await get('BackupStore', url);
      if (!bs) throw new MixmeshError('BAD_REQUEST', `store "${url}": neither a file:// or s3:// URL nor a BackupStore in ${ns}`, { errors: [{ pointer: '/store', message: 'unknown store' }] });
      const spec = bs.spec as { url: string; endpoint?: string; region?: string; forcePathStyle?: boolean; checksums?: 'when-required' | 'when-supported' };
      url = spec.url;
      s3 = { ...s3, ...(spec.endpoint ? { endpoint: spec.endpoint } : {}), ...(spec.region ? { region: spec.region } : {}), ...(spec.forcePathStyle !== undefined ? { forcePathStyle: spec.forcePathStyle } : {}), ...(spec.checksums ? { checksums: spec.checksums } : {}) };
    }
    let s = stores.get(url);
    if (!s) {
      s = openStore({ url, s3 });
      stores.set(url, s);
    }
    return s;
  }

  function progressStatus(p: Progress): Record<string, unknown> {
    const secs = Math.max(0.001, (Date.now() - p.startedAt) / 1000);
    return { phase: 'InProgress', step: p.phase, progress: { items: p.items, itemsTotal: p.itemsTotal, bytes: p.bytes, itemsPerSecond: Math.round((p.items / secs) * 10) / 10, bytesPerSecond: Math.round(p.bytes / secs) } };
  }

  async function doBackup(b: Resource): Promise<void> {
    const name = b.metadata.name;
    const ac = new AbortController();
    running.set(`Backup/${name}`, ac);
    const started = Date.now();
    await setStatus('Backup', name, { phase: 'InProgress', startedAt: new Date().toISOString() });
    let last = 0;
    try {
      const spec = b.spec as { selection: Selection; store?: string; encrypt?: boolean; state?: boolean; labels?: Record<string, string> };
      const store = await storeOf(spec.store);
      const manifest = await runBackup({ kube: deps.kube, store, keys: await deps.keys(), nodes: deps.nodes, resolver: deps.resolver, ...(deps.checkpointer ? { checkpointer: deps.checkpointer } : {}), ...(deps.podExec ? { podExec: deps.podExec } : {}), log, ...(deps.source ? { source: deps.source } : {}) },
        { name, selection: spec.selection, encrypt: spec.encrypt !== false, state: spec.state !== false, ...(spec.labels ? { labels: spec.labels } : {}) },
        { signal: ac.signal, onProgress: (p) => { if (Date.now() - last > 1000) { last = Date.now(); void setStatus('Backup', name, progressStatus(p)); } } });
      metrics.bytes.inc({ kind: 'backup' }, manifest.totals.dataBytes);
      for (const i of manifest.items) metrics.items.inc({ kind: 'backup', result: i.result });
      for (const d of manifest.data) metrics.items.inc({ kind: 'backup', result: d.result });
      await setStatus('Backup', name, { phase: manifest.phase, completedAt: manifest.completed, warnings: manifest.warnings, totals: manifest.totals, store: store.url, progress: null, step: null });
      metrics.results.inc({ kind: 'backup', phase: manifest.phase });
      metrics.duration.observe({ kind: 'backup', phase: manifest.phase }, (Date.now() - started) / 1000);
    } catch (e) {
      if (loop.stopping) return;
      const code = isMixmeshError(e) ? e.code : 'INTERNAL';
      await setStatus('Backup', name, { phase: 'Failed', completedAt: new Date().toISOString(), error: { code, message: e instanceof Error ? e.message : String(e) }, progress: null });
      metrics.results.inc({ kind: 'backup', phase: 'Failed' });
      log.warn({ backup: name, code }, 'backup failed');
    } finally {
      running.delete(`Backup/${name}`);
    }
  }

  async function doRestore(r: Resource): Promise<void> {
    const name = r.metadata.name;
    const ac = new AbortController();
    running.set(`Restore/${name}`, ac);
    const started = Date.now();
    const spec = r.spec as { backup: string; store?: string; mappings?: Record<string, Record<string, string>>; conflict?: ConflictPolicy; data?: boolean };
    const dataDone = new Set(((r.status?.dataDone as string[] | undefined) ?? []));
    await setStatus('Restore', name, { phase: 'InProgress', startedAt: r.status?.startedAt ?? new Date().toISOString(), ...(r.status?.phase === 'InProgress' ? { resumed: ((r.status.resumed as number | undefined) ?? 0) + 1 } : {}) });
    let result: RestoreResult;
    try {
      const store = await storeOf(spec.store);
      result = await restoreBackup({ kube: deps.kube, store, keys: await deps.keys(), nodes: deps.nodes, resolver: deps.resolver, ...(deps.vnfPackageUsable ? { vnfPackageUsable: deps.vnfPackageUsable } : {}), ...(deps.checkpointer ? { checkpointer: deps.checkpointer } : {}), ...(deps.podExec ? { podExec: deps.podExec } : {}), log },
        { name, backup: spec.backup, ...(spec.mappings ? { mappings: spec.mappings } : {}), conflict: spec.conflict ?? 'skip', ...(spec.data === false ? { data: false } : {}) },
        { signal: ac.signal, dataDone, vmHandoff, onDataDone: (k) => { dataDone.add(k); void setStatus('Restore', name, { dataDone: [...dataDone] }); } });
    } catch (e) {
      const code = isMixmeshError(e) ? e.code : 'INTERNAL';
      result = { name, backup: spec.backup, plan: false, phase: 'Failed', problems: isMixmeshError(e) ? (e.errors ?? []) : [], warnings: [], firstCause: { code, message: e instanceof Error ? e.message : String(e) }, items: [], data: [], state: [], startedAt: new Date(started).toISOString(), completedAt: new Date().toISOString() };
    } finally {
      running.delete(`Restore/${name}`);
    }
    if (loop.stopping) return;
    await setStatus('Restore', name, { phase: result.phase, completedAt: result.completedAt, warnings: result.warnings, problems: result.problems, firstCause: result.firstCause ?? null, items: result.items, data: result.data, state: result.state, hooks: result.hooks ?? [], counts: countActions(result) });
    for (const i of result.items) metrics.items.inc({ kind: 'restore', result: i.action });
    metrics.results.inc({ kind: 'restore', phase: result.phase });
    metrics.duration.observe({ kind: 'restore', phase: result.phase }, (Date.now() - started) / 1000);
  }

  async function runSchedules(): Promise<void> {
    for (const s of await list('BackupSchedule')) {
      const spec = s.spec as { cron: string; timezone?: string; selection: Selection; store?: string; keep?: number; ttl?: string; paused?: boolean };
      if (spec.paused) continue;
      const cron = parseCron(spec.cron, spec.timezone);
      const lastRun = typeof s.status?.lastScheduleTime === 'string' ? new Date(s.status.lastScheduleTime) : new Date(s.metadata.creationTimestamp ?? now().toISOString());
      const due = cron.nextRun(lastRun);
      const t = now();
      if (due && due <= t) {
        const name = `${s.metadata.name}-${stamp(due)}`;
        if (!(await get('Backup', name))) {
          await deps.kube.create({ apiVersion: API_VERSION, kind: 'Backup', metadata: { name, namespace: ns, labels: { [`${GROUP}/schedule`]: s.metadata.name } }, spec: { selection: spec.selection, ...(spec.store ? { store: spec.store } : {}), labels: { schedule: s.metadata.name } } } as KubeObject);
        }
        await setStatus('BackupSchedule', s.metadata.name, { lastScheduleTime: due.toISOString(), lastBackup: name, nextScheduleTime: cron.nextRun(due)?.toISOString() ?? null });
      }
      await gc(s.metadata.name, spec).catch((e: unknown) => log.warn({ schedule: s.metadata.name, err: String(e) }, 'garbage collection failed'));
      // the last successful backup of this schedule
      const mine = (await list('Backup')).filter((b) => b.metadata.labels?.[`${GROUP}/schedule`] === s.metadata.name && (b.status?.phase === 'Completed' || b.status?.phase === 'CompletedWithWarnings'));
      const lastOk = mine.map((b) => b.metadata.name).sort().pop();
      if (lastOk && s.status?.lastSuccessfulBackup !== lastOk) await setStatus('BackupSchedule', s.metadata.name, { lastSuccessfulBackup: lastOk });
    }
  }

  /** keep the newest `keep` complete backups of a schedule and drop those older than `ttl`, in the store (the truth) */
  async function gc(schedule: string, spec: { store?: string; keep?: number; ttl?: string }): Promise<void> {
    if (spec.keep === undefined && spec.ttl === undefined) return;
    const store = await storeOf(spec.store);
    const re = new RegExp(`^${schedule.replace(/[.]/g, '\\.')}-(\\d{14})$`);
    const ours = (await listBackups(store)).filter((b) => b.complete && re.test(b.name)).sort((a, b) => (a.name < b.name ? 1 : -1));
    const ttlMs = spec.ttl ? parseDuration(spec.ttl, '/ttl') : undefined;
    for (const [i, b] of ours.entries()) {
      const m = re.exec(b.name)!;
      const ts = m[1]!;
      const created = Date.UTC(+ts.slice(0, 4), +ts.slice(4, 6) - 1, +ts.slice(6, 8), +ts.slice(8, 10), +ts.slice(10, 12), +ts.slice(12, 14));
      const expired = (spec.keep !== undefined && i >= spec.keep) || (ttlMs !== undefined && now().getTime() - created > ttlMs);
      if (!expired) continue;
      if (running.has(`Backup/${b.name}`)) continue;
      await deleteBackup(store, b.name);
      await deps.kube.delete(ref('Backup', b.name)).catch(() => false);
      log.info({ schedule, backup: b.name }, 'expired backup deleted from the store');
    }
  }

  const tick = () => loop.tick();
  async function pass(): Promise<void> {
    for (const b of await list('Backup')) {
      if (running.has(`Backup/${b.metadata.name}`)) {
        if (b.spec.cancel === true) running.get(`Backup/${b.metadata.name}`)!.abort();
        continue;
      }
      const phase = b.status?.phase;
      if (b.spec.cancel === true && (!phase || phase === 'New' || phase === 'InProgress')) await setStatus('Backup', b.metadata.name, { phase: 'Failed', error: { code: 'BACKUP_CANCELLED', message: 'cancelled' } });
      // a backup left InProgress by a killed orchestrator is started again (its partial objects are replaced)
      else if (!phase || phase === 'New' || phase === 'InProgress') void doBackup(b);
    }
    for (const r of await list('Restore')) {
      if (running.has(`Restore/${r.metadata.name}`)) {
        if (r.spec.cancel === true) running.get(`Restore/${r.metadata.name}`)!.abort();
        continue;
      }
      const phase = r.status?.phase;
      if (r.spec.cancel === true && (!phase || phase === 'New' || phase === 'InProgress')) await setStatus('Restore', r.metadata.name, { phase: 'Failed', firstCause: { code: 'BACKUP_CANCELLED', message: 'cancelled' } });
      // InProgress with no run here: the orchestrator that ran it was killed; resume
      else if (!phase || phase === 'New' || phase === 'InProgress') void doRestore(r);
    }
    await runSchedules();
  }

  function routes(app: Express, h: RouteHelpers): void {
    const p = (req: Request, key: string) => {
      const v = String(req.params[key]);
      checkBackupName(v, key);
      return v;
    };
    // backups and restores span namespaces, nodes and cluster-scoped objects: a token limited to
    // some namespaces may not use them (and writing needs admin: a restore creates any kind)
    const unlimited = unlimitedCallers('backups and restores');
    // a store given as a URL other than the configured one reaches files or buckets with the
    // orchestrator's own rights: admins only (others use the default or a BackupStore by name)
    const storeFor = async (res: Response, given: unknown): Promise<ObjectStore> => {
      if (typeof given === 'string' && given && /^(file|s3):\/\//.test(given) && given !== deps.config.store && (res.locals.caller as { role?: string } | undefined)?.role !== 'admin') {
        throw new MixmeshError('FORBIDDEN', 'a store URL other than the configured one needs the admin role; use a BackupStore name');
      }
      return storeOf(given);
    };
    const created = async (kind: string, name: string, spec: Record<string, unknown>, res: Response) => {
      checkBackupName(name, kind.toLowerCase());
      if (await get(kind, name)) throw new MixmeshError('ALREADY_EXISTS', `${kind} ${name} exists`);
      await deps.kube.create({ apiVersion: API_VERSION, kind, metadata: { name, namespace: ns }, spec } as KubeObject);
      res.status(202).json({ name, operationId: `${kind.toLowerCase()}/${name}` });
      void tick();
    };

    app.post('/v1/backups', h.need('admin'), unlimited, h.rawBody, async (req, res) => {
      const body = h.jsonBody(req);
      const name = String(body.name ?? '');
      const selection = selectionOf(body);
      await storeFor(res, body.store);
      await created('Backup', name, { selection, ...(body.store ? { store: String(body.store) } : {}), encrypt: body.encrypt !== false, state: body.state !== false }, res);
    });
    app.get('/v1/backups', h.need('viewer'), unlimited, async (req, res) => {
      const store = await storeFor(res, req.query.store);
      const inStore = await listBackups(store);
      const resources = new Map((await list('Backup')).map((b) => [b.metadata.name, b]));
      const names = new Set([...inStore.map((b) => b.name), ...resources.keys()]);
      res.json({ store: store.url, items: [...names].sort().map((n) => {
        const s = inStore.find((b) => b.name === n);
        const r = resources.get(n);
        return { name: n, inStore: s ? { complete: s.complete, bytes: s.bytes } : null, phase: r?.status?.phase ?? (s?.complete ? 'Completed' : 'Incomplete'), ...(r?.status?.progress ? { progress: r.status.progress } : {}) };
      }) });
    });
    app.get('/v1/backups/:name', h.need('viewer'), unlimited, async (req, res) => {
      const name = p(req, 'name');
      const r = await get('Backup', name);
      if (r && r.status?.phase !== 'Completed' && r.status?.phase !== 'CompletedWithWarnings') {
        res.json({ name, phase: r.status?.phase ?? 'New', status: r.status ?? {}, spec: r.spec });
        return;
      }
      const reader = await BackupReader.open(await (req.query.store ? storeFor(res, req.query.store) : storeOf(r?.spec.store)), name, await deps.keys(), { needData: false });
      res.json({ name, phase: reader.manifest.phase, manifest: reader.manifest });
    });
    app.delete('/v1/backups/:name', h.need('admin'), unlimited, async (req, res) => {
      const name = p(req, 'name');
      const r = await get('Backup', name);
      running.get(`Backup/${name}`)?.abort();
      const store = await (req.query.store ? storeFor(res, req.query.store) : storeOf(r?.spec.store));
      const removed = await deleteBackup(store, name);
      if (r) await deps.kube.delete(ref('Backup', name));
      res.status(200).json({ name, deleted: true, objects: removed });
    });
    app.get('/v1/backups/:name/objects/*path', h.need('admin'), unlimited, async (req, res) => {
      // download: the verified, decrypted content of one object of the archive
      const name = p(req, 'name');
      const path = ([] as string[]).concat(req.params.path as unknown as string[]).join('/');
      const reader = await BackupReader.open(await storeFor(res, req.query.store), name, await deps.keys());
      const stream = await reader.open(path);
      res.type('application/octet-stream');
      stream.on('error', (e) => res.destroy(e));
      stream.pipe(res);
    });

    app.post('/v1/restores', h.need('admin'), unlimited, h.rawBody, async (req, res) => {
      const body = h.jsonBody(req);
      const name = String(body.name ?? '');
      checkBackupName(name, 'restore');
      const backup = String(body.backup ?? body.from ?? '');
      checkBackupName(backup);
      const conflict = (body.conflict ?? 'skip') as ConflictPolicy;
      if (!['skip', 'update', 'recreate'].includes(conflict)) throw new MixmeshError('BAD_REQUEST', `conflict "${String(conflict)}": use skip, update or recreate`, { errors: [{ pointer: '/conflict', message: 'skip, update or recreate' }] });
      const mappings = (body.mappings ?? {}) as Record<string, Record<string, string>>;
      if (body.plan === true) {
        const store = await storeFor(res, body.store);
        const result = await restoreBackup({ kube: deps.kube, store, keys: await deps.keys(), nodes: deps.nodes, resolver: deps.resolver, ...(deps.vnfPackageUsable ? { vnfPackageUsable: deps.vnfPackageUsable } : {}), ...(deps.checkpointer ? { checkpointer: deps.checkpointer } : {}), ...(deps.podExec ? { podExec: deps.podExec } : {}), log }, { name, backup, mappings, conflict, plan: true });
        res.status(200).json(result);
        return;
      }
      await storeFor(res, body.store);
      await created('Restore', name, { backup, ...(body.store ? { store: String(body.store) } : {}), mappings, conflict, ...(body.data === false ? { data: false } : {}) }, res);
    });
    app.get('/v1/restores', h.need('viewer'), unlimited, async (_req, res) => {
      res.json({ items: (await list('Restore')).map((r) => ({ name: r.metadata.name, backup: r.spec.backup, phase: r.status?.phase ?? 'New', counts: r.status?.counts ?? null })) });
    });
    app.get('/v1/restores/:name', h.need('viewer'), unlimited, async (req, res) => {
      const r = await get('Restore', p(req, 'name'));
      if (!r) throw new MixmeshError('NOT_FOUND', `no restore ${p(req, 'name')}`);
      res.json({ name: r.metadata.name, spec: r.spec, phase: r.status?.phase ?? 'New', status: r.status ?? {} });
    });
    const cancel = (kind: string) => async (req: Request, res: Response) => {
      const name = p(req, 'name');
      const r = await get(kind, name);
      if (!r) throw new MixmeshError('NOT_FOUND', `no ${kind.toLowerCase()} ${name}`);
      await deps.kube.mergePatch(ref(kind, name), { spec: { cancel: true } });
      running.get(`${kind}/${name}`)?.abort();
      res.status(202).json({ name, cancel: true });
    };
    app.post('/v1/restores/:name/cancel', h.need('admin'), unlimited, cancel('Restore'));
    app.post('/v1/backups/:name/cancel', h.need('admin'), unlimited, cancel('Backup'));

    app.post('/v1/schedules', h.need('admin'), unlimited, h.rawBody, async (req, res) => {
      const body = h.jsonBody(req);
      const name = String(body.name ?? '');
      checkBackupName(name, 'schedule');
      const cronText = String(body.cron ?? '');
      parseCron(cronText, typeof body.timezone === 'string' ? body.timezone : undefined);
      if (body.ttl !== undefined) parseDuration(String(body.ttl), '/ttl');
      if (body.keep !== undefined && (!Number.isInteger(body.keep) || Number(body.keep) < 1)) throw new MixmeshError('BAD_REQUEST', 'keep: a whole number ≥ 1', { errors: [{ pointer: '/keep', message: 'a whole number ≥ 1' }] });
      await storeFor(res, body.store);
      if (await get('BackupSchedule', name)) throw new MixmeshError('ALREADY_EXISTS', `schedule ${name} exists`);
      await deps.kube.create({ apiVersion: API_VERSION, kind: 'BackupSchedule', metadata: { name, namespace: ns }, spec: { cron: cronText, ...(body.timezone ? { timezone: String(body.timezone) } : {}), selection: selectionOf(body), ...(body.store ? { store: String(body.store) } : {}), ...(body.keep !== undefined ? { keep: Number(body.keep) } : {}), ...(body.ttl !== undefined ? { ttl: String(body.ttl) } : {}) } } as KubeObject);
      res.status(201).json({ name });
    });
    app.get('/v1/schedules', h.need('viewer'), unlimited, async (_req, res) => {
      res.json({ items: (await list('BackupSchedule')).map((s) => ({ name: s.metadata.name, ...s.spec, status: s.status ?? {} })) });
    });
    app.delete('/v1/schedules/:name', h.need('admin'), unlimited, async (req, res) => {
      const gone = await deps.kube.delete(ref('BackupSchedule', p(req, 'name')));
      if (!gone) throw new MixmeshError('NOT_FOUND', `no schedule ${p(req, 'name')}`);
      res.status(200).json({ name: p(req, 'name'), deleted: true });
    });
  }

  return {
    routes,
    beforeInject,
    vmHandoff,
    crds: backupCrds,
    start: (isLeader) => loop.start(isLeader),
    tick,
    async stop() {
      const passDone = loop.stop();
      for (const ac of running.values()) ac.abort();
      await passDone;
      for (const s of stores.values()) s.close();
      stores.clear();
      await deps.nodes.close();
    },
  };
}

function countActions(r: RestoreResult): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of r.items) out[i.action] = (out[i.action] ?? 0) + 1;
  return out;
}
