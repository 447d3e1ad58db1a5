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
import { boundedAll, type KubeObject } from '../clients/kube/index.js';
import type { MeshService } from '../descriptor/types.js';
import { BackupReader, backupPrefix } from './archive.js';
import type { StoreKeys } from './crypto.js';
import type { NodeAccess } from './nodes.js';
import type { BackupKube, Checkpointer, NodeResolver, PodExec } from './ports.js';
import { hookTargets, runRestoreHooks, type HookEntry } from './hooks.js';
import type { VmTarget } from './select.js';
import type { ObjectStore } from './stores.js';
import { RESTORE_LABEL, skipReason, transform, type Mappings } from './transform.js';
import { SpilledResources } from './spill.js';
import { writeDataDir } from './writeback.js';
import type { DataEntry, ManifestItem, StateEntry } from './types.js';
import { confirmContainerState, planState, prepareContainerState, restoreVmState, stateWarning, type RestoreStateResult } from './state.js';

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
  /** restore in-memory state where the backup has it and the target can (default true; false: cold starts) */
  state?: boolean;
  /** how long to wait for a container restored from its checkpoint to run (default 2 min) */
  stateWaitMs?: number;
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
  /** in-memory state: restored, or a cold start with its reason */
  state: RestoreStateResult[];
  /** containers' restore post hooks (pods/exec) */
  hooks?: HookEntry[];
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
  /** the target's kubelets: can a node's runtime restore a container checkpoint? (none: containers cold-start) */
  checkpointer?: Checkpointer;
  /** pods/exec, for the containers' restore post hooks */
  podExec?: PodExec;
  log?: Logger;
}

export interface RestoreRunOptions {
  signal?: AbortSignal;
  onProgress?: (p: { phase: string; items: number; itemsTotal: number; bytes: number }) => void;
  /** data items (owner/name) already written by an earlier run of this restore (or by its caller: dataDoneNote) */
  dataDone?: ReadonlySet<string>;
  /** what the result says of a dataDone item (default RESUMED, "written by an earlier run of this restore") */
  dataDoneNote?: { reason: string; message: string };
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

/** The backup's resources, verified and spilled to disk by group, transformed as they are read. */
interface Loaded$ {
  spill: SpilledResources;
  /** every object in the restore order, transformed (`adjust: false`: without the caller's adjust, which is called once per object, in the pass that restores or plans it) */
  all(options?: { adjust?: boolean }): AsyncIterable<Loaded>;
  /** the groups in the restore order (one per kind) */
  groups(): Iterable<{ kind: string; items: () => AsyncIterable<Loaded> }>;
  /** the few objects looked at as a whole (MeshServices, Pods with state or hooks), by namespace/kind/name */
  retained: Map<string, Loaded>;
}

const loadedKey = (o: KubeObject) => `${o.metadata.namespace ?? ''}/${o.kind}/${o.metadata.name}`;

/** Read and verify everything (each item against the signed manifest), spilled by group; no change to the target. */
async function load(deps: RestoreDeps, req: RestoreRequest, onBytes: (n: number) => void, adjust?: (target: KubeObject) => void, verified = false): Promise<{ reader: BackupReader; loaded: Loaded$ }> {
  const reader = await BackupReader.open(deps.store, req.backup, deps.keys);
  if (!verified) await reader.verifyObjects(onBytes);
  const spill = await SpilledResources.from(reader, new Set(reader.manifest.state.map((x) => x.owner)));
  const m = req.mappings ?? {};
  const view = ({ item, obj }: { item: ManifestItem; obj: KubeObject }, withAdjust = true): Loaded => {
    const skip = item.reason && item.result === 'captured' && item.reason !== '' ? { reason: item.reason, message: item.message ?? '' } : skipReason(obj as KubeObject & Record<string, unknown>, { hasMeshService: (ns, n) => spill.meshServices.has(`${ns}/${n}`) });
    const target = transform(obj, m, req.name, req.backup, (n) => spill.pvs.has(n));
    if (!skip && withAdjust) adjust?.(target);
    return { item, obj, target, ...(skip ? { skip } : {}) };
  };
  const retained = new Map(spill.retained.map((r) => [loadedKey(r.obj), view(r)] as const));
  // a retained object is the same one everywhere (a pod's target may be changed for its state)
  const pick = (r: { item: ManifestItem; obj: KubeObject }, withAdjust = true) => retained.get(loadedKey(r.obj)) ?? view(r, withAdjust);
  return {
    reader,
    loaded: {
      spill,
      retained,
      async *all(o = {}) {
        for await (const r of spill.all()) yield pick(r, o.adjust !== false);
      },
      *groups() {
        for (const g of spill.groups()) yield { kind: g.kind, items: async function* () { for await (const r of g.items()) yield pick(r); } };
      },
    },
  };
}

/** The preflight of the target: what it lacks for this restore. */
async function preflight(deps: RestoreDeps, req: RestoreRequest, loaded: Loaded$, data: DataEntry[]): Promise<ProblemItem[]> {
  const problems: ProblemItem[] = [];
  // one pass over the spilled objects: the kinds, StorageClasses and CRDs they need or bring
  const inBackup = new Set<string>();
  const crdKinds = new Set<string>();
  const kinds = new Map<string, { apiVersion: string; kind: string }>();
  const classes = new Set<string>();
  for await (const l of loaded.all({ adjust: false })) {
    if (l.target.kind === 'CustomResourceDefinition') crdKinds.add(String((l.target as { spec?: { names?: { kind?: string } } }).spec?.names?.kind ?? ''));
    if (l.skip) continue;
    if (l.target.kind === 'StorageClass') inBackup.add(`StorageClass/${l.target.metadata.name}`);
    kinds.set(`${l.target.apiVersion}/${l.target.kind}`, { apiVersion: l.target.apiVersion, kind: l.target.kind });
    // StorageClasses the PVCs and PVs need
    const sc = (l.target as { spec?: { storageClassName?: string } }).spec?.storageClassName;
    if ((l.target.kind === 'PersistentVolumeClaim' || l.target.kind === 'PersistentVolume') && sc) classes.add(sc);
  }
  for (const [key, k] of kinds) {
    if (!crdKinds.has(k.kind) && (await deps.kube.describeKind(k.apiVersion, k.kind)) === undefined) problems.push({ pointer: `/kinds/${key}`, message: `the target does not serve ${k.kind} in ${k.apiVersion}` });
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
  for (const l of loaded.retained.values()) {
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
  try {
    return await restoreLoaded(deps, req, options, reader, loaded, startedAt, conflict, log, () => bytes);
  } finally {
    loaded.spill.close();
  }
}

async function restoreLoaded(deps: RestoreDeps, req: RestoreRequest, options: RestoreRunOptions, reader: BackupReader, loaded: Loaded$, startedAt: string, conflict: ConflictPolicy, log: Logger, bytesNow: () => number): Promise<RestoreResult> {
  const total = loaded.spill.count;
  const progress = (phase: string, items: number, itemsTotal: number) => options.onProgress?.({ phase, items, itemsTotal, bytes: bytesNow() });
  const dataEntries = reader.manifest.data.filter((d) => d.result === 'captured' && d.object);
  // 2. preflight
  progress('Preflight', 0, total);
  const problems = await preflight(deps, req, loaded, dataEntries);
  const result: RestoreResult = { name: req.name, backup: req.backup, plan: req.plan === true, phase: 'Completed', problems, warnings: [], items: [], data: [], state: [], startedAt, completedAt: '' };
  const states = req.state === false ? [] : reader.manifest.state;
  if (req.state === false) for (const s of reader.manifest.state) result.state.push({ owner: s.owner, ...(s.container ? { container: s.container } : {}), action: 'cold-start', reason: 'NOT_REQUESTED', message: 'the restore was asked not to restore state' });

  if (req.plan) {
    // state first: a controller's pod whose state is restored is created by name (planned as such)
    const statePlan = await planState(deps, states, [...loaded.retained.values()], req.mappings ?? {});
    for await (const l of loaded.all()) {
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
    result.state.push(...statePlan);
    for (const st of result.state) if (st.action === 'cold-start') result.warnings.push(stateWarning(st));
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
    // one lookup per node (not per volume): 20 volumes on a node were 20 GETs of the same Node
    const targets = new Map<string, ReturnType<NodeResolver['node']>>();
    const targetOf = (node: string) => {
      let t = targets.get(node);
      if (!t) {
        t = deps.resolver.node(node);
        targets.set(node, t);
        t.catch(() => targets.delete(node));
      }
      return t;
    };
    await boundedAll(todo, RESTORE_DATA_CONCURRENCY, async (d) => {
      if (options.signal?.aborted) throw cancelled(req.name);
      const node = req.mappings?.nodes?.[d.node] ?? d.node;
      await writeData(deps, reader, d, node, () => targetOf(node), result, options, log);
    });
    result.data.splice(from, result.data.length - from, ...result.data.slice(from).sort((a, b) => (order.get(`${a.owner}/${a.name}`) ?? 0) - (order.get(`${b.owner}/${b.name}`) ?? 0)));
  };
  try {
    // container state: archives onto their nodes, pods pointed at them, before any pod is created
    const containers = await prepareContainerState(deps, reader, req.name, states, [...loaded.retained.values()], req.mappings ?? {});
    result.state.push(...containers.results);
    // one kind at a time in the restore order; inside a kind up to 8 objects at once
    const vmEntries = req.data === false ? [] : dataEntries.filter((x) => x.type === 'vmDataDir');
    const vmStates = states.filter((x) => x.method === 'criu' && x.service);
    let awaitHandoff: (() => Promise<void>) | undefined;
    for (const group of loaded.groups()) {
      if (options.signal?.aborted) throw cancelled(req.name);
      if (group.kind === 'MeshService' && options.vmHandoff && (vmEntries.length || vmStates.length) && !awaitHandoff) awaitHandoff = handoffVmData(deps, req, reader, vmEntries, vmStates, result, options);
      if (!dataWritten && ['Pod', 'ReplicaSet', 'Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'MeshService'].includes(group.kind)) await writeNodeData();
      // streamed from the spill file, up to 8 objects at once
      const source = group.items()[Symbol.asyncIterator]();
      let ended = false;
      let pulling = Promise.resolve();
      const nextItem = async (): Promise<Loaded | undefined> => {
        const turn = pulling.then(async () => (ended ? undefined : source.next()));
        pulling = turn.then(() => undefined);
        const r = await turn;
        if (!r || r.done) {
          ended = true;
          return undefined;
        }
        return r.value;
      };
      const worker = async (): Promise<void> => {
        for (let l = await nextItem(); l && !options.signal?.aborted; l = await nextItem()) {
          result.items.push(await restoreOne(deps, req, l, conflict));
          done++;
          if (done % 100 === 0) progress('Resources', done, total);
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
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
    }
    if (awaitHandoff) await awaitHandoff();
    else if (vmEntries.length || vmStates.length) await writeVmData(deps, req, reader, vmEntries, vmStates, result, options, log);
    result.state.push(...(await confirmContainerState(deps, containers.pending, req.stateWaitMs ?? 120_000, options.signal)));
    // restore post hooks in the containers, once they run
    const retained = [...loaded.retained.values()];
    const hookList = hookTargets(retained.map((l) => l.obj));
    if (hookList.some((h) => h.restorePost.length)) {
      const byName = new Set(retained.filter((l) => l.obj.kind === 'Pod' && !l.skip).map((l) => `${l.obj.metadata.namespace}/${l.obj.metadata.name}`));
      result.hooks = await runRestoreHooks(deps.kube, deps.podExec, hookList, req.mappings?.namespaces ?? {}, byName, req.stateWaitMs ?? 120_000, result.warnings);
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
  for (const st of result.state) if (st.action === 'cold-start') result.warnings.push(stateWarning(st));
  result.phase = failed || result.warnings.length ? 'CompletedWithWarnings' : 'Completed';
  result.completedAt = new Date().toISOString();
  progress(result.phase, done, total);
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
    try {
      await deps.kube.create(l.target);
    } catch (e) {
      // made meanwhile by another writer (a second restore of an overlapping backup at the same moment:
      // a node and the service on it migrated together): as if it had been there, under the skip policy
      const again = conflict === 'skip' && isMixmeshError(e) && e.details?.httpStatus === 409 ? await deps.kube.get(ref) : undefined;
      if (!again) throw e;
      return again.metadata.labels?.[RESTORE_LABEL] === req.name ? { ...ref, action: 'created', reason: 'RESUMED', message: 'created by an earlier run of this restore' } : { ...ref, action: 'skipped', reason: 'ALREADY_EXISTS', message: 'made on the target meanwhile (conflict policy skip)' };
    }
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
    result.data.push({ ...entry, ...(options.dataDoneNote ?? { reason: 'RESUMED', message: 'written by an earlier run of this restore' }) });
    return;
  }
  try {
    // written and verified file by file against the signed manifest in the same pass (writeback.ts)
    await writeDataDir(deps.nodes, reader, d, await target());
    options.onDataDone?.(key);
  } catch (e) {
    if (isMixmeshError(e) && (e.code === 'BACKUP_CANCELLED' || (e.code === 'BACKUP_INTEGRITY' && e.details?.['afterWrite'] !== true))) throw e;
    const unreachable = isMixmeshError(e) && ['SSH_CONNECT_FAILED', 'SSH_AUTH_FAILED', 'SSH_HOST_KEY_MISMATCH', 'SSH_HOST_KEY_UNKNOWN'].includes(e.code);
    Object.assign(entry, { action: 'failed', reason: unreachable ? 'NODE_UNREACHABLE' : isMixmeshError(e) ? e.code : 'INTERNAL', message: e instanceof Error ? e.message : String(e) });
    log.warn({ owner: d.owner, node, reason: entry.reason }, 'data not written');
  }
  result.data.push(entry);
}

type StatusInstance = { index: number; vnfInstanceName: string; vnfInstanceId?: string; serverId?: string; address?: string; hostKey?: string; sidecar?: string };

/** Everything one recreated VM gets: its data dirs, then its CRIU state, then its restore hooks. */
interface VmWork {
  match: VmMatch;
  /** where the VM was in the backup (for messages and the status lookup) */
  source: { namespace: string; name: string; microservice: string; version: string; index: number };
  dirs: DataEntry[];
  state?: StateEntry;
  /** the data dirs an earlier run of this restore wrote (taken when the work is planned: this run adds to dataDone) */
  doneBefore: Set<string>;
}

function vmWork(req: RestoreRequest, entries: DataEntry[], states: StateEntry[], dataDone: ReadonlySet<string> | undefined): VmWork[] {
  const byKey = new Map<string, VmWork>();
  const add = (s: NonNullable<DataEntry['service']>): VmWork => {
    const ns = req.mappings?.namespaces?.[s.namespace] ?? s.namespace;
    const match: VmMatch = { namespace: ns, service: s.name, microservice: s.microservice, version: s.version, index: s.index };
    const key = `${ns}/${s.name}/${s.microservice}/${s.version}/${s.index}`;
    let w = byKey.get(key);
    if (!w) byKey.set(key, (w = { match, source: s, dirs: [], doneBefore: new Set() }));
    return w;
  };
  for (const d of entries) {
    const w = add(d.service!);
    w.dirs.push(d);
    if (dataDone?.has(`${d.owner}/${d.name}`)) w.doneBefore.add(`${d.owner}/${d.name}`);
  }
  for (const st of states) add(st.service!).state = st;
  return [...byKey.values()];
}

const stateKey = (st: StateEntry) => `${st.owner}/state`;

/** Data dirs (verified file by file), then state, then hooks, onto one new VM; throws on a data failure. */
async function restoreOntoVm(deps: RestoreDeps, reader: BackupReader, w: VmWork, vm: VmTarget, result: RestoreResult, options: RestoreRunOptions): Promise<void> {
  const target = await deps.resolver.vm(vm);
  for (const d of w.dirs) {
    const key = `${d.owner}/${d.name}`;
    if (options.dataDone?.has(key)) continue;
    await writeDataDir(deps.nodes, reader, d, target);
    options.onDataDone?.(key);
  }
  if (w.state && !options.dataDone?.has(stateKey(w.state))) {
    result.state.push(await restoreVmState(deps, reader, w.state, target, vm.microservice.vm?.checkpoint?.pidFile));
    options.onDataDone?.(stateKey(w.state));
  }
  for (const argv of vm.microservice.backup?.restoreHooks?.post ?? []) {
    await deps.nodes.exec(target, argv, { step: 'restore post hook' }).catch((e: unknown) => result.warnings.push(`VM ${vm.vnfInstanceName}: restore post hook failed: ${e instanceof Error ? e.message : String(e)}`));
  }
}

function recordVm(w: VmWork, result: RestoreResult, outcome: { action: 'written' | 'failed'; reason: string; message: string }): void {
  for (const d of w.dirs) {
    const resumed = w.doneBefore.has(`${d.owner}/${d.name}`) && outcome.action === 'written';
    result.data.push({ owner: d.owner, name: d.name, node: 'new VM', path: d.path, action: outcome.action, files: d.files, ...(resumed ? { reason: 'RESUMED', message: 'written by an earlier run of this restore' } : { reason: outcome.reason, message: outcome.message }) });
  }
  if (w.state && outcome.action === 'failed' && !result.state.some((x) => x.owner === w.state!.owner)) {
    result.state.push({ owner: w.state.owner, action: 'cold-start', reason: outcome.reason, message: outcome.message });
  }
}

function failureOf(e: unknown): { action: 'failed'; reason: string; message: string } {
  const unreachable = isMixmeshError(e) && ['SSH_CONNECT_FAILED', 'SSH_AUTH_FAILED', 'SSH_HOST_KEY_MISMATCH', 'SSH_HOST_KEY_UNKNOWN'].includes(e.code);
  return { action: 'failed', reason: unreachable ? 'NODE_UNREACHABLE' : isMixmeshError(e) && e.code === 'K8S_WAIT_TIMEOUT' ? 'VM_NOT_READY' : isMixmeshError(e) ? e.code : 'INTERNAL', message: e instanceof Error ? e.message : String(e) };
}

/**
 * Hand every VM's data dirs and state to the orchestrator's before-injection hook (one
 * registration per VM). Called before the MeshService is created, so no new VM can be injected
 * before its data is registered; returns the wait.
 */
function handoffVmData(deps: RestoreDeps, req: RestoreRequest, reader: BackupReader, entries: DataEntry[], states: StateEntry[], result: RestoreResult, options: RestoreRunOptions): () => Promise<void> {
  const handoff = options.vmHandoff!;
  const deadline = Date.now() + (req.vmWaitMs ?? 600_000);
  const pending = vmWork(req, entries, states, options.dataDone).map((w) => {
    const allDone = w.dirs.every((d) => options.dataDone?.has(`${d.owner}/${d.name}`)) && (!w.state || options.dataDone?.has(stateKey(w.state)));
    if (allDone) return { w, done: true as const };
    const written = handoff.register(w.match, (vm) => restoreOntoVm(deps, reader, w, vm, result, options));
    written.catch(() => undefined);
    return { w, written, done: false as const };
  });
  return async () => {
    for (const p of pending) {
      const { w } = p;
      if (p.done) {
        recordVm(w, result, { action: 'written', reason: 'RESUMED', message: 'written by an earlier run of this restore' });
        if (w.state) result.state.push({ owner: w.state.owner, action: 'restored', reason: 'RESUMED', message: 'restored by an earlier run of this restore' });
        continue;
      }
      const m = w.match;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new MixmeshError('K8S_WAIT_TIMEOUT', `no new VM for ${m.namespace}/${m.service} ${m.microservice}/${m.version}#${m.index} in time`)), Math.max(0, deadline - Date.now())); });
      const aborted = new Promise<never>((_, reject) => options.signal?.addEventListener('abort', () => reject(cancelled(req.name)), { once: true }));
      aborted.catch(() => undefined);
      try {
        await Promise.race([p.written, timeout, aborted]);
        recordVm(w, result, { action: 'written', reason: 'BEFORE_SIDECAR', message: 'written onto the new VM before its sidecar started' });
      } catch (e) {
        handoff.cancel(m);
        if (isMixmeshError(e) && e.code === 'BACKUP_CANCELLED') throw e;
        recordVm(w, result, failureOf(e));
      } finally {
        clearTimeout(timer);
      }
    }
  };
}

/** Without the orchestrator's hook: wait for each VM's address in the service status, then write. */
async function writeVmData(deps: RestoreDeps, req: RestoreRequest, reader: BackupReader, entries: DataEntry[], states: StateEntry[], result: RestoreResult, options: RestoreRunOptions, log: Logger): Promise<void> {
  const deadline = Date.now() + (req.vmWaitMs ?? 600_000);
  for (const w of vmWork(req, entries, states, options.dataDone)) {
    const s = w.source;
    const ns = w.match.namespace;
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
      recordVm(w, result, { action: 'failed', reason: 'VM_NOT_READY', message: `the orchestrator did not report an address for ${s.namespace}/${s.name} ${s.microservice}/${s.version}#${s.index} in time` });
      continue;
    }
    const vm: VmTarget = { namespace: ns, service: s.name, microservice: ms, index: inst.index, vnfInstanceName: inst.vnfInstanceName, address: inst.address!, ...(inst.serverId ? { serverId: inst.serverId } : {}), ...(inst.vnfInstanceId ? { vnfInstanceId: inst.vnfInstanceId } : {}), ...(inst.hostKey ? { hostKey: inst.hostKey } : {}) };
    try {
      await restoreOntoVm(deps, reader, w, vm, result, options);
      recordVm(w, result, { action: 'written', reason: 'AFTER_START', message: `written onto ${inst.vnfInstanceName}` });
    } catch (e) {
      if (isMixmeshError(e) && (e.code === 'BACKUP_CANCELLED' || (e.code === 'BACKUP_INTEGRITY' && e.details?.['afterWrite'] !== true))) throw e;
      recordVm(w, result, failureOf(e));
      log.warn({ vm: inst.vnfInstanceName, reason: failureOf(e).reason }, 'VM data not written');
    }
  }
}

export { backupPrefix };
