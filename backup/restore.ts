/**
 * Restore (backup.md): verify the signature and every SHA-256 first — nothing changes before that —
 * then the preflight of the target, then objects in the restore order with the strip rules and
 * mappings, local data written back before the workloads that use it, the MeshService last (the
 * orchestrator then recreates its VMs and the mesh), VM data dirs onto the new VMs, hooks.
 * Callable as a library function (migration builds on it). Resumable: an object this restore
 * already created carries its label and counts as created, never twice.
 */
import { MixmeshError, isMixmeshError, type ProblemItem } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';
import type { KubeObject } from '../clients/kube/index.js';
import type { MeshService } from '../descriptor/types.js';
import { BackupReader, backupPrefix } from './archive.js';
import type { StoreKeys } from './crypto.js';
import type { NodeAccess, NodeTarget } from './nodes.js';
import type { BackupKube, NodeResolver } from './ports.js';
import type { VmTarget } from './select.js';
import type { ObjectStore } from './stores.js';
import { RESTORE_LABEL, compareForRestore, restoreRank, skipReason, transform, type Mappings } from './transform.js';
import type { DataEntry, ManifestItem } from './types.js';

export type ConflictPolicy = 'skip' | 'update' | 'recreate';

export interface RestoreRequest {
  name: string;
  backup: string;
  mappings?: Mappings;
  conflict?: ConflictPolicy;
  /** preflight and plan only: change nothing */
  plan?: boolean;
  /** write local data and VM data back (default true) */
  data?: boolean;
  /** how long to wait for a restored MeshService's VMs to get an address (default 10 min) */
  vmWaitMs?: number;
}

export type ItemAction = 'create' | 'update' | 'recreate' | 'skip' | 'created' | 'updated' | 'skipped' | 'failed';

export interface RestoreItemResult {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  action: ItemAction;
  reason?: string;
  message?: string;
}

export interface RestoreDataResult {
  owner: string;
  name: string;
  node: string;
  path: string;
  action: 'write' | 'written' | 'skipped' | 'failed';
  files?: number;
  reason?: string;
  message?: string;
}

export interface RestoreResult {
  name: string;
  backup: string;
  plan: boolean;
  phase: 'Completed' | 'CompletedWithWarnings' | 'Failed';
  problems: ProblemItem[];
  warnings: string[];
  firstCause?: { code: string; message: string };
  items: RestoreItemResult[];
  data: RestoreDataResult[];
  startedAt: string;
  completedAt: string;
}

export interface RestoreDeps {
  kube: BackupKube;
  store: ObjectStore;
  keys: StoreKeys;
  nodes: NodeAccess;
  resolver: NodeResolver;
  /** Tacker: is this VNF package there, ONBOARDED and ENABLED? (preflight of a MeshService's VMs) */
  vnfPackageUsable?: (vnfdId: string) => Promise<boolean>;
  log?: Logger;
}

export interface RestoreRunOptions {
  signal?: AbortSignal;
  onProgress?: (p: { phase: string; items: number; itemsTotal: number; bytes: number }) => void;
  /** data items (owner/name) already written by an earlier run of this restore */
  dataDone?: ReadonlySet<string>;
  /** called after each data item is written (to record it for a resume) */
  onDataDone?: (key: string) => void;
  /**
   * The orchestrator's before-injection hook (backup's service provides it): a VM's data dirs are
   * handed over and written onto the new VM before its sidecar starts. Without it they are written
   * once the VM has an address.
   */
  vmHandoff?: VmHandoff;
  /** change each object to restore after the mappings (migration pins pods to the new node) */
  adjust?: (target: KubeObject) => void;
  /**
   * the caller verified every object's SHA-256 in this process (a migration does it while its worker
   * VM is made): the verification pass is skipped; each object is still checked as it is read
   */
  verified?: boolean;
}

export interface VmMatch {
  namespace: string;
  service: string;
  microservice: string;
  version: string;
  index: number;
}

export interface VmHandoff {
  /** resolves once `write` ran on the new VM (before injection), rejects with its error */
  register(match: VmMatch, write: (vm: VmTarget) => Promise<void>): Promise<void>;
  cancel(match: VmMatch): void;
}

interface Loaded {
  item: ManifestItem;
  obj: KubeObject;
  target: KubeObject;
  skip?: { reason: string; message: string };
}

function refOf(o: KubeObject) {
  return { apiVersion: o.apiVersion, kind: o.kind, ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}), name: o.metadata.name };
}

function cancelled(name: string): MixmeshError {
  return new MixmeshError('BACKUP_CANCELLED', `restore ${name} was cancelled`);
}

/** Read, verify and transform everything; no change to the target. */
async function load(deps: RestoreDeps, req: RestoreRequest, onBytes: (n: number) => void, adjust?: (target: KubeObject) => void, verified = false): Promise<{ reader: BackupReader; loaded: Loaded[] }> {
  const reader = await BackupReader.open(deps.store, req.backup, deps.keys);
  if (!verified) await reader.verifyObjects(onBytes);
  const raw: Array<{ item: ManifestItem; obj: KubeObject }> = [];
  for await (const { item, body } of reader.resources()) raw.push({ item, obj: JSON.parse(body.toString('utf8')) as KubeObject });
  const meshServices = new Set(raw.filter((r) => r.obj.kind === 'MeshService').map((r) => `${r.obj.metadata.namespace}/${r.obj.metadata.name}`));
  const pvs = new Set(raw.filter((r) => r.obj.kind === 'PersistentVolume').map((r) => r.obj.metadata.name));
  const m = req.mappings ?? {};
  const loaded = raw.map(({ item, obj }) => {
    const skip = item.reason && item.result === 'captured' && item.reason !== '' ? { reason: item.reason, message: item.message ?? '' } : skipReason(obj as KubeObject & Record<string, unknown>, { hasMeshService: (ns, n) => meshServices.has(`${ns}/${n}`) });
    const target = transform(obj, m, req.name, req.backup, (n) => pvs.has(n));
    if (!skip) adjust?.(target);
    return { item, obj, target, ...(skip ? { skip } : {}) };
  });
  loaded.sort((a, b) => compareForRestore(a.target, b.target));
  return { reader, loaded };
}

/** The preflight of the target: what it lacks for this restore. */
async function preflight(deps: RestoreDeps, req: RestoreRequest, loaded: Loaded[], data: DataEntry[]): Promise<ProblemItem[]> {
  const problems: ProblemItem[] = [];
  const inBackup = new Set(loaded.filter((l) => !l.skip).map((l) => `${l.target.kind}/${l.target.metadata.name}`));
  const crdKinds = new Set(loaded.filter((l) => l.target.kind === 'CustomResourceDefinition').map((l) => String((l.target as { spec?: { names?: { kind?: string } } }).spec?.names?.kind ?? '')));
  const checkedKinds = new Map<string, boolean>();
  for (const l of loaded) {
    if (l.skip) continue;
    const key = `${l.target.apiVersion}/${l.target.kind}`;
    if (!checkedKinds.has(key)) checkedKinds.set(key, crdKinds.has(l.target.kind) || (await deps.kube.describeKind(l.target.apiVersion, l.target.kind)) !== undefined);
    if (!checkedKinds.get(key)) problems.push({ pointer: `/kinds/${key}`, message: `the target does not serve ${l.target.kind} in ${l.target.apiVersion}` });
  }
  // StorageClasses the PVCs and PVs need
  const classes = new Set<string>();
  for (const l of loaded) {
    if (l.skip) continue;
    const sc = (l.target as { spec?: { storageClassName?: string } }).spec?.storageClassName;
    if ((l.target.kind === 'PersistentVolumeClaim' || l.target.kind === 'PersistentVolume') && sc) classes.add(sc);
  }
  for (const sc of classes) {
    if (inBackup.has(`StorageClass/${sc}`)) continue;
    if (!(await deps.kube.get({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', name: sc }))) problems.push({ pointer: `/storageClasses/${sc}`, message: `StorageClass ${sc} does not exist on the target (map it with --storage-class-map ${sc}:OTHER)` });
  }
  // nodes and paths for local data
  if (req.data !== false) {
    const nodes = new Map<string, boolean>();
    for (const d of data) {
      if (d.result !== 'captured' || d.type === 'vmDataDir' || d.type === 'emptyDir') continue;
      const node = req.mappings?.nodes?.[d.node] ?? d.node;
      if (!nodes.has(node)) nodes.set(node, (await deps.kube.get({ apiVersion: 'v1', kind: 'Node', name: node })) !== undefined);
      if (!nodes.get(node)) {
        problems.push({ pointer: `/nodes/${node}`, message: `node ${node} (for ${d.owner} volume ${d.name}) does not exist on the target (map it with --node-map ${d.node}:OTHER)` });
        continue;
      }
      if (d.type === 'local') {
        try {
          const t = await deps.resolver.node(node);
          if (!(await deps.nodes.dirExists(t, d.path))) problems.push({ pointer: `/nodes/${node}/paths${d.path}`, message: `the local PV path ${d.path} does not exist on node ${node}` });
        } catch (e) {
          problems.push({ pointer: `/nodes/${node}`, message: `node ${node} cannot be reached to check ${d.path}: ${e instanceof Error ? e.message : String(e)}` });
        }
      }
    }
  }
  // the MeshService's VMs: their VNF packages on the target's Tacker
  for (const l of loaded) {
    if (l.skip || l.target.kind !== 'MeshService') continue;
    const spec = (l.target as unknown as MeshService).spec;
    for (const [i, ms] of (spec.microservices ?? []).entries()) {
      if (ms.runtime !== 'vm' || !ms.vm) continue;
      if (!deps.vnfPackageUsable) {
        problems.push({ pointer: `/meshServices/${l.target.metadata.namespace}/${l.target.metadata.name}/microservices/${i}`, message: 'the target has no OpenStack configured for this service\'s VMs' });
      } else if (!(await deps.vnfPackageUsable(ms.vm.vnfdId))) {
        problems.push({ pointer: `/meshServices/${l.target.metadata.namespace}/${l.target.metadata.name}/microservices/${i}/vm/vnfdId`, message: `VNF package ${ms.vm.vnfdId} (${ms.name}) is not ONBOARDED and ENABLED on the target's Tacker` });
      }
    }
  }
  return problems;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

/** local volumes written at once by a restore (each an SSH channel; OpenSSH allows 10 per connection) */
export const RESTORE_DATA_CONCURRENCY = 4;

export async function restoreBackup(deps: RestoreDeps, req: RestoreRequest, options: RestoreRunOptions = {}): Promise<RestoreResult> {
  const log = (deps.log ?? silentLogger).child({ restore: req.name });
  const startedAt = new Date().toISOString();
  const conflict = req.conflict ?? 'skip';
  let bytes = 0;
  const progress = (phase: string, items: number, itemsTotal: number) => options.onProgress?.({ phase, items, itemsTotal, bytes });
  progress('Verifying', 0, 0);
  // 1. verification: signature, every object's SHA-256, every item's SHA-256 (throws; nothing changed)
  const { reader, loaded } = await load(deps, req, (n) => { bytes += n; }, options.adjust, options.verified);
  const dataEntries = reader.manifest.data.filter((d) => d.result === 'captured' && d.object);
  // 2. preflight
  progress('Preflight', 0, loaded.length);
  const problems = await preflight(deps, req, loaded, dataEntries);
  const result: RestoreResult = { name: req.name, backup: req.backup, plan: req.plan === true, phase: 'Completed', problems, warnings: [], items: [], data: [], startedAt, completedAt: '' };
  for (const s of reader.manifest.state) {
    if (s.result !== 'captured') result.warnings.push(`${s.owner}${s.container ? `/${s.container}` : ''}: no state in the backup (${s.reason ?? s.method}); it cold-starts`);
  }

  if (req.plan) {
    for (const l of loaded) {
      if (l.skip) {
        result.items.push({ ...refOf(l.target), action: 'skip', reason: l.skip.reason, message: l.skip.message });
        continue;
      }
      const live = await deps.kube.get(refOf(l.target));
      if (!live) result.items.push({ ...refOf(l.target), action: 'create' });
      else if (conflict === 'skip') result.items.push({ ...refOf(l.target), action: 'skip', reason: 'ALREADY_EXISTS', message: 'exists on the target (conflict policy skip)' });
      else result.items.push({ ...refOf(l.target), action: conflict === 'update' ? 'update' : 'recreate', reason: 'ALREADY_EXISTS' });
    }
    for (const d of dataEntries) result.data.push({ owner: d.owner, name: d.name, node: d.type === 'vmDataDir' ? 'new VM' : (req.mappings?.nodes?.[d.node] ?? d.node), path: d.path, action: req.data === false ? 'skipped' : 'write', files: d.files });
    result.phase = problems.length ? 'Failed' : result.warnings.length ? 'CompletedWithWarnings' : 'Completed';
    if (problems.length) result.firstCause = { code: 'RESTORE_PREFLIGHT_FAILED', message: problems[0]!.message };
    result.completedAt = new Date().toISOString();
    return result;
  }
  if (problems.length) {
    throw new MixmeshError('RESTORE_PREFLIGHT_FAILED', `restore ${req.name}: the target lacks what backup ${req.backup} needs (${problems.length} problem${problems.length === 1 ? '' : 's'}); nothing was changed`, { errors: problems });
  }

  // 3. apply, in order; node data before the first workload
  let done = 0;
  let dataWritten = false;
  const writeNodeData = async () => {
    dataWritten = true;
    if (req.data === false) return;
    // the node's volumes are written side by side (bounded: each is one SSH channel on the node),
    // so the restore takes about as long as its largest volume; results keep the manifest's order
    const todo = dataEntries.filter((d) => d.type !== 'vmDataDir' && d.type !== 'emptyDir');
    const order = new Map(todo.map((d, i) => [`${d.owner}/${d.name}`, i]));
    todo.sort((a, b) => b.bytes - a.bytes); // the largest first: it bounds the whole write
    const from = result.data.length;
    let next = 0;
    const writer = async (): Promise<void> => {
      while (next < todo.length) {
        if (options.signal?.aborted) throw cancelled(req.name);
        const d = todo[next++]!;
        const node = req.mappings?.nodes?.[d.node] ?? d.node;
        await writeData(deps, reader, d, node, () => deps.resolver.node(node), result, options, log);
      }
    };
    await Promise.all(Array.from({ length: Math.min(RESTORE_DATA_CONCURRENCY, todo.length) }, writer));
    result.data.splice(from, result.data.length - from, ...result.data.slice(from).sort((a, b) => (order.get(`${a.owner}/${a.name}`) ?? 0) - (order.get(`${b.owner}/${b.name}`) ?? 0)));
  };
  try {
    // one kind at a time in the restore order; inside a kind up to 8 objects at once
    const groups: Loaded[][] = [];
    for (const l of loaded) {
      const g = groups[groups.length - 1];
      if (g && restoreRank(g[0]!.target.kind).join('/') === restoreRank(l.target.kind).join('/')) g.push(l);
      else groups.push([l]);
    }
    const vmEntries = req.data === false ? [] : dataEntries.filter((x) => x.type === 'vmDataDir');
    let awaitHandoff: (() => Promise<void>) | undefined;
    for (const g of groups) {
      if (options.signal?.aborted) throw cancelled(req.name);
      if (g[0]!.target.kind === 'MeshService' && options.vmHandoff && vmEntries.length && !awaitHandoff) awaitHandoff = handoffVmData(deps, req, reader, vmEntries, result, options);
      if (!dataWritten && ['Pod', 'ReplicaSet', 'Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'MeshService'].includes(g[0]!.target.kind)) await writeNodeData();
      const out: RestoreItemResult[] = new Array<RestoreItemResult>(g.length);
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < g.length) {
          if (options.signal?.aborted) return;
          const i = next++;
          out[i] = await restoreOne(deps, req, g[i]!, conflict);
          done++;
          if (done % 100 === 0) progress('Resources', done, loaded.length);
        }
      };
      await Promise.all(Array.from({ length: Math.min(8, g.length) }, worker));
      result.items.push(...out.filter((x) => x !== undefined));
      if (options.signal?.aborted) throw cancelled(req.name);
    }
    if (!dataWritten) await writeNodeData();
    // emptyDir volumes live under the new pod's uid: written once the pod exists
    if (req.data !== false) {
      for (const d of dataEntries.filter((x) => x.type === 'emptyDir')) {
        const [ns0, pod] = d.owner.split('/');
        const ns = req.mappings?.namespaces?.[ns0!] ?? ns0!;
        const live = await deps.kube.get({ apiVersion: 'v1', kind: 'Pod', namespace: ns, name: pod! });
        if (!live?.metadata.uid) {
          result.data.push({ owner: d.owner, name: d.name, node: d.node, path: d.path, action: 'skipped', reason: 'POD_NOT_RESTORED', message: 'the pod was not restored by name (a controller makes it), so its emptyDir has no known path' });
          continue;
        }
        const node = (live as { spec?: { nodeName?: string } }).spec?.nodeName ?? req.mappings?.nodes?.[d.node] ?? d.node;
        const path = `/var/lib/kubelet/pods/${live.metadata.uid}/volumes/kubernetes.io~empty-dir/${d.name}`;
        await writeData(deps, reader, { ...d, path }, node, () => deps.resolver.node(node), result, options, log);
      }
      // VM data dirs: onto the VMs the orchestrator creates for the restored MeshService
      if (awaitHandoff) await awaitHandoff();
      else await writeVmData(deps, req, reader, vmEntries, result, options, log);
    }
  } catch (e) {
    result.phase = 'Failed';
    result.firstCause = isMixmeshError(e) ? { code: e.code, message: e.message } : { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e) };
    result.completedAt = new Date().toISOString();
    return result;
  }
  const failed = result.items.filter((i) => i.action === 'failed').length + result.data.filter((d) => d.action === 'failed').length;
  for (const i of result.items) if (i.action === 'failed') result.warnings.push(`${i.kind} ${i.namespace ? `${i.namespace}/` : ''}${i.name}: ${i.reason}: ${i.message}`);
  for (const d of result.data) if (d.action === 'failed') result.warnings.push(`data ${d.owner}/${d.name} → ${d.node}:${d.path}: ${d.reason}: ${d.message}`);
  result.phase = failed || result.warnings.length ? 'CompletedWithWarnings' : 'Completed';
  result.completedAt = new Date().toISOString();
  progress(result.phase, done, loaded.length);
  log.info({ phase: result.phase, items: result.items.length, failed }, 'restore done');
  return result;
}

async function restoreOne(deps: RestoreDeps, req: RestoreRequest, l: Loaded, conflict: ConflictPolicy): Promise<RestoreItemResult> {
  const ref = refOf(l.target);
  if (l.skip) return { ...ref, action: 'skipped', reason: l.skip.reason, message: l.skip.message };
  try {
    const live = await deps.kube.get(ref);
    if (live) {
      // ours from an earlier run of this same restore (resumed after a restart): done, no duplicate
      if (live.metadata.labels?.[RESTORE_LABEL] === req.name) return { ...ref, action: 'created', reason: 'RESUMED', message: 'created by an earlier run of this restore' };
      if (conflict === 'skip') return { ...ref, action: 'skipped', reason: 'ALREADY_EXISTS', message: 'exists on the target (conflict policy skip)' };
      if (conflict === 'update') {
        const next = { ...l.target, metadata: { ...l.target.metadata, resourceVersion: live.metadata.resourceVersion } } as KubeObject;
        if (live.metadata.uid) (next.metadata as { uid?: string }).uid = live.metadata.uid;
        await deps.kube.replace(next);
        return { ...ref, action: 'updated' };
      }
      await deps.kube.delete(ref);
      for (let delay = 50; await deps.kube.get(ref); delay = Math.min(delay * 2, 1000)) await sleep(delay);
      await deps.kube.create(l.target);
      return { ...ref, action: 'created', reason: 'RECREATED', message: 'deleted and created again (conflict policy recreate)' };
    }
    await deps.kube.create(l.target);
    return { ...ref, action: 'created' };
  } catch (e) {
    const status = isMixmeshError(e) ? (e.details?.httpStatus as number | undefined) : undefined;
    const reason = status === 422 ? 'INVALID' : status === 409 ? 'CONFLICT' : status === 403 ? 'FORBIDDEN' : status === 404 ? 'NAMESPACE_OR_KIND_MISSING' : isMixmeshError(e) ? e.code : 'INTERNAL';
    return { ...ref, action: 'failed', reason, message: e instanceof Error ? e.message : String(e) };
  }
}

async function writeData(deps: RestoreDeps, reader: BackupReader, d: DataEntry, node: string, target: () => ReturnType<NodeResolver['node']>, result: RestoreResult, options: RestoreRunOptions, log: Logger): Promise<void> {
  const key = `${d.owner}/${d.name}`;
  const entry: RestoreDataResult = { owner: d.owner, name: d.name, node, path: d.path, action: 'written', files: d.files };
  if (options.dataDone?.has(key)) {
    result.data.push({ ...entry, reason: 'RESUMED', message: 'written by an earlier run of this restore' });
    return;
  }
  try {
    const t = await target();
    await deps.nodes.writeDir(t, d.path, await reader.open(d.object!));
    // verify what landed, file by file, against the signed manifest
    if (d.fileHashes) {
      const now = new Map((await deps.nodes.hashDir(t, d.path)).map((h) => [h.path, h.sha256]));
      const bad = d.fileHashes.filter((h) => now.get(h.path) !== h.sha256);
      if (bad.length) throw new MixmeshError('BACKUP_INTEGRITY', `${bad.length} file(s) differ after the write, first ${bad[0]!.path}`);
    }
    options.onDataDone?.(key);
  } catch (e) {
    if (isMixmeshError(e) && (e.code === 'BACKUP_CANCELLED' || (e.code === 'BACKUP_INTEGRITY' && !e.message.includes('after the write')))) throw e;
    const unreachable = isMixmeshError(e) && ['SSH_CONNECT_FAILED', 'SSH_AUTH_FAILED', 'SSH_HOST_KEY_MISMATCH', 'SSH_HOST_KEY_UNKNOWN'].includes(e.code);
    Object.assign(entry, { action: 'failed', reason: unreachable ? 'NODE_UNREACHABLE' : isMixmeshError(e) ? e.code : 'INTERNAL', message: e instanceof Error ? e.message : String(e) });
    log.warn({ owner: d.owner, node, reason: entry.reason }, 'data not written');
  }
  result.data.push(entry);
}

type StatusInstance = { index: number; vnfInstanceName: string; vnfInstanceId?: string; serverId?: string; address?: string; hostKey?: string; sidecar?: string };

/** Write one data dir onto a target and verify it file by file; throws on any failure. */
async function writeAndVerify(deps: RestoreDeps, reader: BackupReader, d: DataEntry, target: NodeTarget): Promise<void> {
  await deps.nodes.writeDir(target, d.path, await reader.open(d.object!));
  if (d.fileHashes) {
    const now = new Map((await deps.nodes.hashDir(target, d.path)).map((h) => [h.path, h.sha256]));
    const bad = d.fileHashes.filter((h) => now.get(h.path) !== h.sha256);
    if (bad.length) throw new MixmeshError('BACKUP_INTEGRITY', `${bad.length} file(s) differ after the write, first ${bad[0]!.path}`);
  }
}

/**
 * Hand every VM data dir to the orchestrator's before-injection hook. Called before the MeshService
 * is created, so no new VM can be injected before its data is registered; returns the wait.
 */
function handoffVmData(deps: RestoreDeps, req: RestoreRequest, reader: BackupReader, entries: DataEntry[], result: RestoreResult, options: RestoreRunOptions): () => Promise<void> {
  const handoff = options.vmHandoff!;
  const deadline = Date.now() + (req.vmWaitMs ?? 600_000);
  const pending = entries.map((d) => {
    const s = d.service!;
    const ns = req.mappings?.namespaces?.[s.namespace] ?? s.namespace;
    const key = `${d.owner}/${d.name}`;
    const match: VmMatch = { namespace: ns, service: s.name, microservice: s.microservice, version: s.version, index: s.index };
    if (options.dataDone?.has(key)) return { d, match, done: true as const };
    const written = handoff.register(match, async (vm) => {
      await writeAndVerify(deps, reader, d, await deps.resolver.vm(vm));
      options.onDataDone?.(key);
      for (const argv of vm.microservice.backup?.restoreHooks?.post ?? []) await deps.nodes.exec(await deps.resolver.vm(vm), argv, { step: 'restore post hook' }).catch((e: unknown) => result.warnings.push(`VM ${vm.vnfInstanceName}: restore post hook failed: ${e instanceof Error ? e.message : String(e)}`));
    });
    written.catch(() => undefined);
    return { d, match, written, done: false as const };
  });
  return async () => {
    for (const p of pending) {
      const { d, match } = p;
      if (p.done) {
        result.data.push({ owner: d.owner, name: d.name, node: 'new VM', path: d.path, action: 'written', files: d.files, reason: 'RESUMED', message: 'written by an earlier run of this restore' });
        continue;
      }
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new MixmeshError('K8S_WAIT_TIMEOUT', `no new VM for ${match.namespace}/${match.service} ${match.microservice}/${match.version}#${match.index} in time`)), Math.max(0, deadline - Date.now())); });
      const aborted = new Promise<never>((_, reject) => options.signal?.addEventListener('abort', () => reject(cancelled(req.name)), { once: true }));
      aborted.catch(() => undefined);
      try {
        await Promise.race([p.written, timeout, aborted]);
        result.data.push({ owner: d.owner, name: d.name, node: 'new VM', path: d.path, action: 'written', files: d.files, reason: 'BEFORE_SIDECAR', message: 'written onto the new VM before its sidecar started' });
      } catch (e) {
        handoff.cancel(match);
        if (isMixmeshError(e) && e.code === 'BACKUP_CANCELLED') throw e;
        const unreachable = isMixmeshError(e) && ['SSH_CONNECT_FAILED', 'SSH_AUTH_FAILED', 'SSH_HOST_KEY_MISMATCH', 'SSH_HOST_KEY_UNKNOWN'].includes(e.code);
        result.data.push({ owner: d.owner, name: d.name, node: 'new VM', path: d.path, action: 'failed', reason: unreachable ? 'NODE_UNREACHABLE' : isMixmeshError(e) && e.code === 'K8S_WAIT_TIMEOUT' ? 'VM_NOT_READY' : isMixmeshError(e) ? e.code : 'INTERNAL', message: e instanceof Error ? e.message : String(e) });
      } finally {
        clearTimeout(timer);
      }
    }
  };
}

async function writeVmData(deps: RestoreDeps, req: RestoreRequest, reader: BackupReader, entries: DataEntry[], result: RestoreResult, options: RestoreRunOptions, log: Logger): Promise<void> {
  const deadline = Date.now() + (req.vmWaitMs ?? 600_000);
  for (const d of entries) {
    const s = d.service!;
    const ns = req.mappings?.namespaces?.[s.namespace] ?? s.namespace;
    const key = `${d.owner}/${d.name}`;
    if (options.dataDone?.has(key)) {
      result.data.push({ owner: d.owner, name: d.name, node: 'new VM', path: d.path, action: 'written', files: d.files, reason: 'RESUMED', message: 'written by an earlier run of this restore' });
      continue;
    }
    let inst: StatusInstance | undefined;
    let svc: (MeshService & KubeObject) | undefined;
    for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
      if (options.signal?.aborted) throw cancelled(req.name);
      svc = await deps.kube.get<MeshService & KubeObject>({ apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService', namespace: ns, name: s.name });
      const st = (svc as unknown as { status?: { microservices?: Array<{ name: string; version: string; instances?: StatusInstance[] }> } } | undefined)?.status;
      inst = st?.microservices?.find((m) => m.name === s.microservice && m.version === s.version)?.instances?.find((i) => i.index === s.index && i.address);
      if (inst || Date.now() > deadline) break;
      await sleep(delay);
    }
    const ms = svc?.spec.microservices.find((m) => m.name === s.microservice && (m.version ?? 'v1') === s.version);
    if (!inst || !ms || !svc) {
      result.data.push({ owner: d.owner, name: d.name, node: 'new VM', path: d.path, action: 'failed', reason: 'VM_NOT_READY', message: `the orchestrator did not report an address for ${s.namespace}/${s.name} ${s.microservice}/${s.version}#${s.index} in time` });
      continue;
    }
    const vm: VmTarget = { namespace: ns, service: s.name, microservice: ms, index: inst.index, vnfInstanceName: inst.vnfInstanceName, address: inst.address!, ...(inst.serverId ? { serverId: inst.serverId } : {}), ...(inst.vnfInstanceId ? { vnfInstanceId: inst.vnfInstanceId } : {}), ...(inst.hostKey ? { hostKey: inst.hostKey } : {}) };
    await writeData(deps, reader, d, inst.vnfInstanceName, () => deps.resolver.vm(vm), result, options, log);
    for (const argv of ms.backup?.restoreHooks?.post ?? []) {
      try {
        await deps.nodes.exec(await deps.resolver.vm(vm), argv, { step: 'restore post hook' });
      } catch (e) {
        result.warnings.push(`VM ${inst.vnfInstanceName}: restore post hook failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
}

export { backupPrefix };
