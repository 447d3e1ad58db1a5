/**
 * The VM data hand-off across clusters (backup.md, Migration step 6: a VM's data dirs are written
 * onto the new VM before its sidecar starts). Inside one orchestrator, backup's in-process hand-off
 * does it; a migration runs in the source's orchestrator while the **target's** orchestrator makes
 * the VMs, so the two meet on the target cluster, through one ConfigMap per VM in the target's
 * system namespace:
 *
 *   the migration   creates `vm-handoff-<hash>` {state: Waiting, what VM, deadline} BEFORE the
 *                   MeshService is restored (so no new VM can pass its hook unseen)
 *   the target's    before-injection hook: finds it, writes the new VM's coordinates
 *   orchestrator    {state: VmReady, address, serverId, …} and waits (backing off) for Written or
 *                   Failed (or the deadline), then injects the sidecar
 *   the migration   sees VmReady, writes and verifies the data over SSH, sets Written (or Failed
 *                   with the error), deletes the ConfigMap once the restore is over
 *
 * The ConfigMaps carry the restore's label, so a rollback deletes them with the rest. Nothing secret
 * is in them (addresses, names, an error message).
 */
import { createHash } from 'node:crypto';
import { MixmeshError, isMixmeshError } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';
import type { KubeObject } from '../clients/kube/index.js';
import type { BackupKube, VmHandoff, VmMatch } from '../backup/index.js';
import type { MeshService } from '../descriptor/index.js';

export const HANDOFF_LABEL = 'backup.mixmesh.io/vm-handoff';
const RESTORE_LABEL = 'backup.mixmesh.io/restore';

type HandoffState = 'Waiting' | 'VmReady' | 'Written' | 'Failed';
interface HandoffData {
  namespace: string; service: string; microservice: string; version: string; index: string;
  state: HandoffState; restore: string; deadline: string;
  vnfInstanceName?: string; vnfInstanceId?: string; serverId?: string; address?: string; message?: string;
}
type HandoffMap = KubeObject & { data?: Partial<HandoffData> };

/** The VM a hand-off is for, as the orchestrator's before-injection hook sees it. */
export interface HandoffVm {
  service: { metadata: { name: string; namespace?: string } };
  microservice: { name: string; version?: string };
  index: number;
  vnfInstanceName: string;
  vnfInstanceId: string;
  serverId: string;
  address: string;
}

export function handoffName(m: VmMatch): string {
  return `vm-handoff-${createHash('sha256').update(`${m.namespace}/${m.service}/${m.microservice}/${m.version}/${m.index}`).digest('hex').slice(0, 20)}`;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    // the abort listener goes with the timer (long waits would pile them up on the signal)
    const onAbort = () => { clearTimeout(t); resolve(); };
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The migration's side: announce every VM whose data it carries (before the MeshService is restored). */
export async function announceHandoffs(kube: BackupKube, namespace: string, restore: string, matches: VmMatch[], deadline: Date): Promise<void> {
  for (const m of matches) {
    const ref = { apiVersion: 'v1', kind: 'ConfigMap', namespace, name: handoffName(m) };
    const live = await kube.get<HandoffMap>(ref);
    // a resumed migration: its own ConfigMap stays as it is (the target may already wait on it)
    if (live?.data?.restore === restore) continue;
    if (live) await kube.delete(ref);
    const data: HandoffData = { namespace: m.namespace, service: m.service, microservice: m.microservice, version: m.version, index: String(m.index), state: 'Waiting', restore, deadline: deadline.toISOString() };
    await kube.create({ ...ref, metadata: { name: ref.name, namespace, labels: { [HANDOFF_LABEL]: 'true', [RESTORE_LABEL]: restore, 'app.kubernetes.io/managed-by': 'mixmesh' } }, data } as unknown as KubeObject);
  }
}

/** Delete the hand-off ConfigMaps of a restore (after it, whatever the outcome). */
export async function clearHandoffs(kube: BackupKube, restore: string): Promise<void> {
  const items = (await kube.list('v1', 'ConfigMap', { labelSelector: `${HANDOFF_LABEL}=true,${RESTORE_LABEL}=${restore}` })).items;
  for (const o of items) await kube.delete({ apiVersion: 'v1', kind: 'ConfigMap', namespace: o.metadata.namespace!, name: o.metadata.name }).catch(() => false);
}

/**
 * The migration's VmHandoff for restoreBackup: waits for the target's orchestrator to report the new
 * VM (VmReady), runs the restore's write, answers Written or Failed.
 */
export function remoteVmHandoff(kube: BackupKube, namespace: string, options: { signal?: AbortSignal; log?: Logger } = {}): VmHandoff {
  const cancelled = new Set<string>();
  const patch = (name: string, data: Partial<HandoffData>) => kube.mergePatch({ apiVersion: 'v1', kind: 'ConfigMap', namespace, name }, { data });
  return {
    async register(match, write) {
      const name = handoffName(match);
      cancelled.delete(name);
      let vm: HandoffData | undefined;
      for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
        if (options.signal?.aborted || cancelled.has(name)) throw new MixmeshError('BACKUP_CANCELLED', `the hand-off of ${match.namespace}/${match.service} ${match.microservice}#${match.index} was cancelled`);
        const live = await kube.get<HandoffMap>({ apiVersion: 'v1', kind: 'ConfigMap', namespace, name }).catch(() => undefined);
        if (live?.data?.state === 'Written') return;
        if (live?.data?.state === 'VmReady' && live.data.address) {
          vm = live.data as HandoffData;
          break;
        }
        await sleep(delay, options.signal);
      }
      const svc = await kube.get<KubeObject & MeshService>({ apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService', namespace: match.namespace, name: match.service });
      const ms = svc?.spec.microservices.find((m) => m.name === match.microservice && (m.version ?? 'v1') === match.version);
      try {
        if (!ms) throw new MixmeshError('K8S_WAIT_TIMEOUT', `MeshService ${match.namespace}/${match.service} has no microservice ${match.microservice}/${match.version} on the target`);
        await write({ namespace: match.namespace, service: match.service, microservice: ms, index: match.index, vnfInstanceName: vm.vnfInstanceName ?? '', address: vm.address!, ...(vm.serverId ? { serverId: vm.serverId } : {}), ...(vm.vnfInstanceId ? { vnfInstanceId: vm.vnfInstanceId } : {}) });
        await patch(name, { state: 'Written' });
      } catch (e) {
        await patch(name, { state: 'Failed', message: (e instanceof Error ? e.message : String(e)).slice(0, 500) }).catch(() => undefined);
        throw e;
      }
    },
    cancel(match) {
      cancelled.add(handoffName(match));
    },
  };
}

/**
 * The target orchestrator's side (its before-injection hook): a VM a migration announced waits here
 * until the migration wrote its data (or failed, or the announced deadline passed).
 */
export async function receiveHandoff(kube: BackupKube, namespace: string, vm: HandoffVm, log: Logger = silentLogger, signal?: AbortSignal): Promise<void> {
  const match: VmMatch = { namespace: vm.service.metadata.namespace ?? 'default', service: vm.service.metadata.name, microservice: vm.microservice.name, version: vm.microservice.version ?? 'v1', index: vm.index };
  const ref = { apiVersion: 'v1', kind: 'ConfigMap', namespace, name: handoffName(match) };
  const live = await kube.get<HandoffMap>(ref).catch((e: unknown) => {
    log.warn({ err: e instanceof Error ? e.message : String(e) }, 'migration hand-off not readable');
    return undefined;
  });
  if (!live?.data || live.data.state === 'Written' || live.data.state === 'Failed') return;
  await kube.mergePatch(ref, { data: { state: 'VmReady', vnfInstanceName: vm.vnfInstanceName, vnfInstanceId: vm.vnfInstanceId, serverId: vm.serverId, address: vm.address } satisfies Partial<HandoffData> });
  log.info({ vm: vm.vnfInstanceName, restore: live.data.restore }, 'waiting for the migration to write this VM\'s data before its sidecar');
  const deadline = Date.parse(live.data.deadline ?? '') || Date.now() + 600_000;
  for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
    if (signal?.aborted) return;
    const now = await kube.get<HandoffMap>(ref).catch(() => live);
    if (!now || now.data?.state === 'Written') return;
    if (now.data?.state === 'Failed') {
      log.warn({ vm: vm.vnfInstanceName, message: now.data.message }, 'the migration could not write this VM\'s data; the sidecar starts without it');
      return;
    }
    if (Date.now() > deadline) {
      log.warn({ vm: vm.vnfInstanceName }, 'the migration did not write this VM\'s data in time; the sidecar starts without it');
      return;
    }
    await sleep(delay, signal);
  }
}

export function isHandoffCancel(e: unknown): boolean {
  return isMixmeshError(e) && e.code === 'BACKUP_CANCELLED' && e.message.includes('hand-off');
}
