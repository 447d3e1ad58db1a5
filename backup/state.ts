/**
 * Restoring in-memory state (backup.md, "State"): containers from their kubelet checkpoint
 * archive where the target node's runtime can (CRI-O style: the archive is copied onto the node
 * and the container's image names it), VMs with `criu restore -D DIR -d` over SSH on the recreated
 * VM. Wherever that is impossible the workload cold-starts and the restore says so with a reason
 * code — never silently.
 */
import { MixmeshError, isMixmeshError } from '../common/errors.js';
import type { KubeObject } from '../clients/kube/index.js';
import type { BackupReader } from './archive.js';
import type { NodeAccess, NodeTarget } from './nodes.js';
import type { BackupKube, Checkpointer, NodeResolver } from './ports.js';
import { CHECKPOINT_IMAGE_ANNOTATION, type Mappings } from './transform.js';
import type { StateEntry } from './types.js';

export interface RestoreStateResult {
  owner: string;
  container?: string;
  /** the node (containers) or the new VM's instance name */
  node?: string;
  /** plan: restore | cold-start; done: restored | cold-start */
  action: 'restore' | 'restored' | 'cold-start';
  reason?: string;
  message?: string;
}

export interface StateDeps {
  kube: BackupKube;
  nodes: NodeAccess;
  resolver: NodeResolver;
  checkpointer?: Checkpointer;
}

/** what restore.ts knows of one object to restore */
export interface StateItem {
  obj: KubeObject;
  target: KubeObject;
  skip?: { reason: string; message: string };
}

interface PodSpecLike { nodeName?: string; containers?: Array<{ name: string; image?: string }> }

const label = (s: StateEntry) => `${s.owner}${s.container ? `/${s.container}` : ''}`;

export function coldStart(s: StateEntry, reason: string, message: string): RestoreStateResult {
  return { owner: s.owner, ...(s.container ? { container: s.container } : {}), action: 'cold-start', reason, message };
}

export function stateWarning(r: RestoreStateResult): string {
  return `${r.owner}${r.container ? `/${r.container}` : ''}: cold start, its in-memory state is not restored (${r.reason}): ${r.message}`;
}

/** The archive's path on the target node (the kubelet's checkpoint directory, root only). */
export function archivePathOnNode(restore: string, s: StateEntry): string {
  const [ns, pod] = s.owner.split('/');
  return `/var/lib/kubelet/checkpoints/restore-${restore}-${pod}_${ns}-${s.container}.tar`;
}

/**
 * The ReplicaSet that owned a pod the restore would skip (OWNED_BY_CONTROLLER), when the pod can be
 * restored by name instead: created as an orphan (owner references stripped) before the workloads,
 * it is adopted by the ReplicaSet its Deployment makes again, as a ReplicaSet adopts every orphan its
 * selector matches (the pod keeps its pod-template-hash label, and the same template gives the same hash).
 */
function adoptingReplicaSet(item: StateItem): string | undefined {
  if (item.skip?.reason !== 'OWNED_BY_CONTROLLER') return undefined;
  const refs = (item.obj.metadata as { ownerReferences?: Array<{ kind: string; name: string; controller?: boolean }> }).ownerReferences ?? [];
  const owner = refs.find((r) => r.controller) ?? refs[0];
  return owner?.kind === 'ReplicaSet' && item.obj.metadata.labels?.['pod-template-hash'] ? owner.name : undefined;
}

type Decision = { ok: true; item: StateItem; node: string; adoptBy?: string } | { ok: false; result: RestoreStateResult };

/** A container's state: can it be restored on the target, and where? (no change) */
async function containerDecision(deps: StateDeps, s: StateEntry, items: readonly StateItem[], mappings: Mappings): Promise<Decision> {
  if (s.result !== 'captured' || !s.object) return { ok: false, result: coldStart(s, s.reason ?? 'NO_STATE', s.message ?? 'no state in the backup') };
  const [ns, name] = s.owner.split('/');
  const item = items.find((i) => i.obj.kind === 'Pod' && i.obj.metadata.namespace === ns && i.obj.metadata.name === name);
  if (!item) return { ok: false, result: coldStart(s, 'POD_NOT_RESTORED', 'the pod is not in this restore') };
  const adoptBy = adoptingReplicaSet(item);
  if (item.skip && !adoptBy) {
    // a StatefulSet's, DaemonSet's or Job's pod is made again by its controller from its template: its image cannot name this one archive
    return { ok: false, result: coldStart(s, item.skip.reason, `the pod is not restored by name (${item.skip.message})`) };
  }
  if (!deps.checkpointer) return { ok: false, result: coldStart(s, 'CHECKPOINT_UNAVAILABLE', 'no kubelet access is configured on the target') };
  const node = mappings.nodes?.[s.node ?? ''] ?? s.node ?? '';
  if (!node) return { ok: false, result: coldStart(s, 'NOT_SCHEDULED', 'the backup does not say which node the pod ran on') };
  const support = await deps.checkpointer.restoreSupport(node);
  if (!support.ok) return { ok: false, result: coldStart(s, support.reason, support.message) };
  return { ok: true, item, node, ...(adoptBy ? { adoptBy } : {}) };
}

/** the pod is restored by name after all (its ReplicaSet adopts it): no longer skipped */
function restoreByName(item: StateItem): void {
  delete (item as { skip?: StateItem['skip'] }).skip;
}

/** Plan: what would happen to every state entry. */
export async function planState(deps: StateDeps, manifestState: readonly StateEntry[], items: readonly StateItem[], mappings: Mappings): Promise<RestoreStateResult[]> {
  const out: RestoreStateResult[] = [];
  for (const s of manifestState) {
    if (s.method === 'criu') {
      out.push(s.result === 'captured' && s.object ? { owner: s.owner, action: 'restore', node: 'new VM', message: 'criu restore on the recreated VM, after its data dirs' } : coldStart(s, s.reason ?? 'NO_STATE', s.message ?? 'no state in the backup'));
      continue;
    }
    if (s.method !== 'checkpoint' && s.method !== 'none') continue;
    const d = await containerDecision(deps, s, items, mappings);
    if (d.ok && d.adoptBy) restoreByName(d.item);
    out.push(d.ok ? { owner: s.owner, ...(s.container ? { container: s.container } : {}), node: d.node, action: 'restore', message: `from its checkpoint archive, copied onto the node${d.adoptBy ? `; the pod is created by name and its ReplicaSet adopts it (was ${d.adoptBy})` : ''}` } : d.result);
  }
  return out;
}

export interface PendingContainer {
  state: StateEntry;
  namespace: string;
  pod: string;
  node: string;
  /** the image before it was pointed at the archive (the cold start falls back to it) */
  image: string;
  /** a controller's pod restored by name: the ReplicaSet it belonged to (its Deployment's new one must adopt it) */
  adoptBy?: string;
}

/**
 * Before the pods are created: copy each restorable archive onto its node and point the
 * container's image at it (and pin the pod to that node). Containers that cannot be restored are
 * returned as cold starts.
 */
export async function prepareContainerState(deps: StateDeps, reader: BackupReader, restore: string, manifestState: readonly StateEntry[], items: readonly StateItem[], mappings: Mappings): Promise<{ results: RestoreStateResult[]; pending: PendingContainer[] }> {
  const results: RestoreStateResult[] = [];
  const pending: PendingContainer[] = [];
  for (const s of manifestState) {
    if (s.method !== 'checkpoint' && s.method !== 'none') continue;
    const d = await containerDecision(deps, s, items, mappings);
    if (!d.ok) {
      results.push(d.result);
      continue;
    }
    const spec = (d.item.target as { spec?: PodSpecLike }).spec ?? {};
    const container = spec.containers?.find((c) => c.name === s.container);
    if (!container) {
      results.push(coldStart(s, 'CONTAINER_MISSING', `the pod has no container ${s.container ?? ''}`));
      continue;
    }
    const path = archivePathOnNode(restore, s);
    try {
      const t = await deps.resolver.node(d.node);
      await deps.nodes.writeFile(t, path, await reader.open(s.object!));
    } catch (e) {
      if (isMixmeshError(e) && e.code === 'BACKUP_INTEGRITY') throw e;
      results.push(coldStart(s, isMixmeshError(e) && e.code.startsWith('SSH_') ? 'NODE_UNREACHABLE' : isMixmeshError(e) ? e.code : 'INTERNAL', `the checkpoint archive could not be copied onto node ${d.node}: ${e instanceof Error ? e.message : String(e)}`));
      continue;
    }
    pending.push({ state: s, namespace: d.item.target.metadata.namespace ?? '', pod: d.item.target.metadata.name, node: d.node, image: container.image ?? '', ...(d.adoptBy ? { adoptBy: d.adoptBy } : {}) });
    // the ordinary image stays on the pod: a backup of it restores from there again
    const meta = d.item.target.metadata as { annotations?: Record<string, string> };
    meta.annotations = { ...meta.annotations, [`${CHECKPOINT_IMAGE_ANNOTATION}${container.name}`]: container.image ?? '' };
    container.image = path;
    spec.nodeName = d.node;
    if (d.adoptBy) restoreByName(d.item);
  }
  return { results, pending };
}

type PodStatusLike = { status?: { phase?: string; containerStatuses?: Array<{ name: string; state?: { running?: unknown; waiting?: { reason?: string; message?: string } } }> } };

const ownersOf = (o: KubeObject | undefined): Array<{ kind: string; name: string; controller?: boolean }> => (o?.metadata as { ownerReferences?: Array<{ kind: string; name: string; controller?: boolean }> } | undefined)?.ownerReferences ?? [];

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/**
 * After the pods exist: wait until each restored container runs. One the runtime refuses
 * (CreateContainerError) or that does not start in time is created again from its ordinary image:
 * a cold start with the runtime's message.
 */
export async function confirmContainerState(deps: StateDeps, pending: readonly PendingContainer[], waitMs: number, signal?: AbortSignal): Promise<RestoreStateResult[]> {
  const out: RestoreStateResult[] = [];
  for (const p of pending) {
    const ref = { apiVersion: 'v1', kind: 'Pod', namespace: p.namespace, name: p.pod };
    const deadline = Date.now() + waitMs;
    let why = '';
    let running = false;
    for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
      if (signal?.aborted) throw new MixmeshError('BACKUP_CANCELLED', 'the restore was cancelled');
      const pod = await deps.kube.get<KubeObject & PodStatusLike>(ref);
      if (!pod) {
        why = 'the pod is gone';
        break;
      }
      const cs = pod.status?.containerStatuses?.find((c) => c.name === p.state.container);
      if (cs?.state?.running) {
        running = true;
        break;
      }
      const w = cs?.state?.waiting;
      if (w?.reason === 'CreateContainerError' || w?.reason === 'CreateContainerConfigError' || w?.reason === 'ErrImagePull' || w?.reason === 'InvalidImageName') {
        why = `${w.reason}: ${w.message ?? ''}`;
        break;
      }
      if (Date.now() > deadline) {
        why = `not running after ${Math.round(waitMs / 1000)} s (${w?.reason ?? pod.status?.phase ?? 'no status'})`;
        break;
      }
      await sleep(delay);
    }
    if (running && p.adoptBy) {
      // a controller's pod: its ReplicaSet must take it, or the pod would run beside the one the controller makes
      let owner: string | undefined;
      const hash = `-${(await deps.kube.get(ref))?.metadata.labels?.['pod-template-hash'] ?? ''}`;
      const deployment = p.adoptBy.endsWith(hash) ? p.adoptBy.slice(0, -hash.length) : '';
      for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
        if (signal?.aborted) throw new MixmeshError('BACKUP_CANCELLED', 'the restore was cancelled');
        const pod = await deps.kube.get(ref);
        owner = ownersOf(pod).find((r) => r.controller)?.name;
        if (owner || !pod || Date.now() > deadline) break;
        // the Deployment made its ReplicaSet under another name (its template changed): no adoption will come
        const sets = (await deps.kube.list('apps/v1', 'ReplicaSet', { namespace: p.namespace })).items.filter((r) => ownersOf(r).some((o) => o.controller && o.kind === 'Deployment' && o.name === deployment));
        if (sets.length && !sets.some((r) => r.metadata.name === p.adoptBy)) break;
        await sleep(delay);
      }
      if (!owner) {
        await deps.kube.delete(ref);
        out.push({ owner: p.state.owner, container: p.state.container!, node: p.node, action: 'cold-start', reason: 'NOT_ADOPTED', message: `no ReplicaSet adopted the pod restored from its checkpoint (its Deployment's template changed, or the Deployment is not restored): the pod was removed, its controller starts it from its image` });
        continue;
      }
      out.push({ owner: p.state.owner, container: p.state.container!, node: p.node, action: 'restored', reason: 'FROM_CHECKPOINT', message: `restored from its checkpoint on node ${p.node}, adopted by ReplicaSet ${owner}` });
      continue;
    }
    if (running) {
      out.push({ owner: p.state.owner, container: p.state.container!, node: p.node, action: 'restored', reason: 'FROM_CHECKPOINT', message: `restored from its checkpoint on node ${p.node}` });
      continue;
    }
    // the runtime could not: the same pod again, from its ordinary image
    const live = await deps.kube.get<KubeObject & { spec?: PodSpecLike }>(ref);
    if (live) {
      const again = JSON.parse(JSON.stringify(live)) as KubeObject & { spec?: PodSpecLike; status?: unknown };
      for (const c of again.spec?.containers ?? []) if (c.name === p.state.container) c.image = p.image;
      delete again.status;
      for (const f of ['uid', 'resourceVersion', 'creationTimestamp', 'managedFields', 'generation'] as const) delete (again.metadata as unknown as Record<string, unknown>)[f];
      await deps.kube.delete(ref);
      for (let delay = 50; await deps.kube.get(ref); delay = Math.min(delay * 2, 1000)) await sleep(delay);
      await deps.kube.create(again);
    }
    out.push({ owner: p.state.owner, container: p.state.container!, node: p.node, action: 'cold-start', reason: 'RESTORE_FAILED', message: `the runtime did not restore the checkpoint (${why}); started again from its image` });
  }
  return out;
}

/** A VM's CRIU images written onto the new VM and `criu restore -d` run there. */
export async function restoreVmState(deps: StateDeps, reader: BackupReader, s: StateEntry, target: NodeTarget, pidFile?: string): Promise<RestoreStateResult> {
  if (s.result !== 'captured' || !s.object) return coldStart(s, s.reason ?? 'NO_STATE', s.message ?? 'no state in the backup');
  const dir = `/var/lib/mixmesh/criu-restore/${s.owner}`;
  try {
    const check = await deps.nodes.exec(target, ['sh', '-c', 'command -v criu >/dev/null 2>&1 || exit 127; criu check'], { allowFailure: true, step: 'criu check' });
    if (check.code !== 0) return coldStart(s, 'CRIU_UNAVAILABLE', check.code === 127 ? `criu is not installed on the new VM ${target.name}` : `criu check failed on the new VM ${target.name}: ${(check.stderr || check.stdout).trim().slice(-300)}`);
    await deps.nodes.exec(target, ['rm', '-rf', dir], { step: 'criu images dir' });
    await deps.nodes.writeDir(target, dir, await reader.open(s.object));
    // --pidfile: the descriptor's pid file names the restored process again (the next backup dumps it)
    const r = await deps.nodes.exec(target, ['criu', 'restore', '-D', dir, '-d', '--shell-job', '--tcp-established', '-o', 'restore.log', ...(pidFile ? ['--pidfile', pidFile] : [])], { allowFailure: true, step: 'criu restore' });
    if (r.code !== 0) {
      const log = await deps.nodes.exec(target, ['cat', `${dir}/restore.log`], { allowFailure: true, step: 'criu restore log' });
      return coldStart(s, 'RESTORE_FAILED', `criu restore failed on ${target.name}: ${(r.stderr || log.stdout).trim().slice(-300)}`);
    }
    // the images hold the process's memory: they do not stay on the VM
    await deps.nodes.exec(target, ['rm', '-rf', dir], { allowFailure: true, step: 'criu images dir' });
    return { owner: s.owner, node: target.name, action: 'restored', reason: 'CRIU_RESTORED', message: `criu restore on ${target.name}` };
  } catch (e) {
    if (isMixmeshError(e) && (e.code === 'BACKUP_INTEGRITY' || e.code === 'BACKUP_CANCELLED')) throw e;
    return coldStart(s, isMixmeshError(e) && e.code.startsWith('SSH_') ? 'NODE_UNREACHABLE' : isMixmeshError(e) ? e.code : 'INTERNAL', `${label(s)}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
