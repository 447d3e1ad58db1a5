/**
 * A migration (backup.md, "Migration"): the workloads of a lost worker node, or a service, moved
 * into another cloud. Steps, each an event with progress, each idempotent so a restarted
 * orchestrator resumes from the recorded status (the Migration resource):
 *   Backup     choose (latest complete for the node/service, or the named one) and verify it
 *   Preflight  the target as `restore --plan` would see it, plus the worker package, control plane, store
 *   Worker     a VNF through the target's Tacker from the worker image package, `migrate.<id>.worker.0`
 *   Join       `kubeadm token create` on the target's control plane (SSH), `kubeadm join` on the VM,
 *              Node Ready, labelled `mixmesh.io/migration=<id>`, the token deleted
 *   Restore    local data onto the new node first, then resources (pods with local data or state
 *              pinned to the new node), the MeshService last
 *   Services   the target's orchestrator recreates the service's VMs: wait for the MeshService Ready
 *   Report     what moved, cold starts and why, timings, the target's status
 * A step that fails for good rolls back what the migration made: restored objects deleted, the
 * token deleted, the Node removed, the worker VNF terminated and deleted.
 */
import { posix } from 'node:path';
import { MixmeshError, isMixmeshError, type ProblemItem } from '../common/errors.js';
import { shellQuote } from '../common/names.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { boundedAll, type KubeObject } from '../clients/kube/index.js';
import type { NovaServer, VnfInstance, VnfLcmOpOcc, VnfPackage, InstantiateVnfRequest, CreateVnfRequest, TerminateVnfRequest } from '../clients/openstack/index.js';
import { serverAddress } from '../clients/openstack/index.js';
import { parseConsoleHostKeys, type ConnectOptions, type RemoteShell } from '../clients/ssh/index.js';
import type { MeshService } from '../descriptor/index.js';
import { announceHandoffs, clearHandoffs, remoteVmHandoff } from './handoff.js';
import { BackupReader, KubeNodeResolver, RESTORE_DATA_CONCURRENCY, listBackups, restoreBackup, writeDataDir, type BackupKube, type Checkpointer, type Manifest, type NodeAccess, type ObjectStore, type PodExec, type RestoreResult, type RestoreStateResult, type StoreKeys } from '../backup/index.js';

export const MIGRATION_LABEL = 'mixmesh.io/migration';
export const STEPS = ['Backup', 'Preflight', 'Worker', 'Join', 'Restore', 'Services', 'Report'] as const;
export type StepName = (typeof STEPS)[number];

/** The part of clients/openstack's Tacker client a migration uses. */
export interface TargetTacker {
  createVnfInstance(req: CreateVnfRequest): Promise<VnfInstance>;
  getVnfInstance(id: string): Promise<VnfInstance>;
  listVnfInstances(options?: { name?: string }): Promise<VnfInstance[]>;
  instantiate(id: string, req: InstantiateVnfRequest): Promise<string>;
  terminate(id: string, req?: TerminateVnfRequest): Promise<string>;
  deleteVnfInstance(id: string): Promise<void>;
  waitForOperation(opId: string, options?: { timeoutMs?: number }): Promise<VnfLcmOpOcc>;
  retry(opId: string): Promise<void>;
  rollback(opId: string): Promise<void>;
  listPackages(filter?: string): Promise<VnfPackage[]>;
}

/** A target cloud, resolved from the configuration (targets.ts). */
export interface Target {
  name: string;
  kube: BackupKube;
  tacker: TargetTacker;
  nova: { getServer(id: string): Promise<NovaServer>; getConsoleOutput(id: string): Promise<string> };
  /** the worker image VNF package and how to log in to its VMs */
  worker: { vnfdId: string; flavourId: string; instantiationLevelId?: string; user: string; privateKey: string };
  /** a control-plane node of the target cluster, reached over SSH with a known host key */
  controlPlane: { host: string; port?: number; user: string; privateKey: string; hostKeys: string[] };
  /** the backup store as the target reaches it (its own credentials) */
  store: ObjectStore;
  /**
   * the private key the target's VM images authorize: a restored MeshService's VM credentials
   * Secret gets it in place of the source cloud's key (default: the worker's key)
   */
  vmPrivateKey?: string;
  /** the target orchestrator's system namespace (the VM data hand-off meets there), default mixmesh-system */
  systemNamespace?: string;
  /**
   * the target's kubelets (its kubeconfig's credentials): whether the new node's runtime restores a
   * container checkpoint; without it every container whose state was captured cold-starts
   */
  checkpointer?: Checkpointer;
  /** pods/exec on the target: the containers' restore post hooks */
  podExec?: PodExec;
}

export interface StepRecord {
  name: StepName;
  state: 'Running' | 'Done' | 'Failed' | 'Skipped';
  startedAt?: string;
  completedAt?: string;
  ms?: number;
  message?: string;
}

export interface MigrationSpec {
  node?: string;
  service?: { namespace: string; name: string };
  to: string;
  backup?: string;
}

export interface MigrationStatus {
  phase?: 'Pending' | 'InProgress' | 'Completed' | 'CompletedWithWarnings' | 'Failed';
  step?: StepName | null;
  steps?: StepRecord[];
  backup?: string;
  worker?: { vnfInstanceName: string; nodeName: string; vnfInstanceId?: string; opId?: string; serverId?: string; address?: string; hostKey?: string; retries?: number; instantiated?: boolean };
  tokenId?: string | null;
  joined?: boolean;
  labelled?: boolean;
  restore?: { name: string; dataDone: string[]; phase?: string; counts?: Record<string, number>; warnings?: string[]; pinned?: string[]; credentials?: string[]; state?: RestoreStateResult[] };
  report?: MigrationReport;
  error?: { code: string; message: string; step?: string } | null;
  rolledBack?: string[];
  resumed?: number;
  startedAt?: string;
  completedAt?: string;
}

export interface MigrationReport {
  target: string;
  backup: string;
  node?: { name: string; address: string; vnfInstanceName: string; vnfInstanceId: string; ready: boolean };
  moved: { resources: Array<{ kind: string; namespace?: string; name: string; action: string }>; data: Array<{ owner: string; name: string; node: string; path: string; files?: number; action: string }> };
  pinned: string[];
  /** VM credentials Secrets given the target's key (names only) */
  credentials: string[];
  /** in-memory state that could not be restored: the workload started from its image, with the reason code */
  coldStarts: Array<{ owner: string; reason: string; code?: string; node?: string }>;
  /** in-memory state restored on the target (container checkpoints, criu on new VMs) */
  stateRestored?: Array<{ owner: string; node?: string; reason?: string }>;
  warnings: string[];
  services: Array<{ namespace: string; name: string; phase: string; vms: Array<{ name: string; address?: string; sidecar?: string }>; workloadEntries: Array<{ name: string; address: string }> }>;
  timings: Record<string, number>;
  totalMs: number;
}

export interface MigrationDeps {
  keys: StoreKeys;
  nodes: NodeAccess;
  connect: (o: ConnectOptions) => Promise<RemoteShell>;
  /** persist a status change (merged into the Migration's status) */
  save: (patch: Partial<MigrationStatus>) => Promise<void>;
  /** one event per step change (Kubernetes Event of the Migration) */
  event: (type: 'Normal' | 'Warning', reason: string, note: string) => Promise<void>;
  log?: Logger;
  signal?: AbortSignal;
  /** Tacker FAILED_TEMP: how many retries before the rollback (default 2) */
  tackerRetries?: number;
  /** waits (Node Ready, the MeshService Ready), default 5 min */
  waitMs?: number;
}

export function workerNames(id: string): { vnfInstanceName: string; nodeName: string } {
  return { vnfInstanceName: `migrate.${id}.worker.0`, nodeName: `migrate-${id}-worker-0`.slice(0, 63).replace(/-+$/, '') };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    // the abort listener goes with the timer (long waits would pile them up on the signal)
    const onAbort = () => { clearTimeout(t); resolve(); };
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function stopped(): MixmeshError {
  return new MixmeshError('BACKUP_CANCELLED', 'the migration run was stopped (it resumes on the next start)', { details: { stopped: true } });
}

/** A run that was stopped (orchestrator stopping): leave the status InProgress for a resume. */
export function isStop(e: unknown): boolean {
  return isMixmeshError(e, 'BACKUP_CANCELLED') && e.details?.['stopped'] === true;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms: number, signal?: AbortSignal, code: 'MIGRATE_JOIN_FAILED' | 'K8S_WAIT_TIMEOUT' = 'K8S_WAIT_TIMEOUT'): Promise<T> {
  const deadline = Date.now() + ms;
  // short polls of cheap reads: a step's end is seen within half a second
  for (let delay = 100; ; delay = Math.min(delay * 2, 500)) {
    if (signal?.aborted) throw stopped();
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new MixmeshError(code, `timed out after ${Math.round(ms / 1000)} s waiting for ${what}`);
    await sleep(delay, signal);
  }
}

/** Whether the target's Tacker has the VNF package onboarded and enabled, from one listing of its packages. */
function packageUsable(packages: () => Promise<VnfPackage[]>): (vnfdId: string) => Promise<boolean> {
  return async (vnfdId) => (await packages()).some((p) => p.vnfdId === vnfdId && p.onboardingState === 'ONBOARDED' && p.operationalState === 'ENABLED');
}

type NodeLike = KubeObject & { status?: { conditions?: Array<{ type: string; status: string }>; addresses?: Array<{ type: string; address: string }> } };
const ready = (n: NodeLike | undefined) => n?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';

/** Which backup: the named one (checked to select this node/service) or the newest complete one that does. */
export async function chooseBackup(store: ObjectStore, keys: StoreKeys, spec: MigrationSpec): Promise<{ name: string; manifest: Manifest }> {
  const matches = (m: Manifest) => (spec.node ? m.selection.node === spec.node : m.selection.service?.namespace === spec.service?.namespace && m.selection.service?.name === spec.service?.name);
  const what = spec.node ? `node ${spec.node}` : `service ${spec.service?.namespace}/${spec.service?.name}`;
  if (spec.backup) {
    const r = await BackupReader.open(store, spec.backup, keys, { needData: false });
    if (!matches(r.manifest)) throw new MixmeshError('MIGRATE_NO_BACKUP', `backup ${spec.backup} does not select ${what}`);
    return { name: spec.backup, manifest: r.manifest };
  }
  const found: Array<{ name: string; manifest: Manifest }> = [];
  for (const b of await listBackups(store)) {
    if (!b.complete) continue;
    try {
      const r = await BackupReader.open(store, b.name, keys, { needData: false });
      if (matches(r.manifest) && r.manifest.phase !== 'Failed') found.push({ name: b.name, manifest: r.manifest });
    } catch {
      // an unreadable or foreign backup is not a candidate
    }
  }
  found.sort((a, b) => (a.manifest.completed < b.manifest.completed ? 1 : -1));
  if (!found[0]) throw new MixmeshError('MIGRATE_NO_BACKUP', `no complete backup of ${what} in ${store.url}`);
  return found[0];
}

/** Pods with local data (hostPath, PVC) or captured state go to the new node: a nodeSelector on the label. */
export function pinAdjuster(id: string, manifest: Manifest, pinned: string[]): (o: KubeObject) => void {
  const stateful = new Set(manifest.state.map((s) => s.owner.split('/').slice(0, 2).join('/')));
  return (o) => {
    const kind = o.kind;
    const spec = (o as { spec?: Record<string, unknown> }).spec;
    const pod = kind === 'Pod' ? spec : ['Deployment', 'StatefulSet', 'ReplicaSet', 'DaemonSet', 'Job'].includes(kind) ? (spec?.template as { spec?: Record<string, unknown> } | undefined)?.spec : undefined;
    if (!pod) return;
    const vols = (pod.volumes as Array<Record<string, unknown>> | undefined) ?? [];
    const ns = o.metadata.namespace ?? '';
    const hasState = [...stateful].some((s) => s.startsWith(`${ns}/${o.metadata.name}`));
    if (!vols.some((v) => v.hostPath || v.persistentVolumeClaim) && !hasState) return;
    delete pod.nodeName;
    pod.nodeSelector = { ...(pod.nodeSelector as Record<string, string> | undefined), [MIGRATION_LABEL]: id };
    pinned.push(`${kind} ${ns}/${o.metadata.name}`);
  };
}

/** The VM credentials Secrets of the backup's MeshServices (`namespace/name`), read from its resources. */
export async function vmCredentialSecrets(reader: BackupReader): Promise<Set<string>> {
  const out = new Set<string>();
  if (!reader.manifest.items.some((i) => i.kind === 'MeshService' && i.result === 'captured')) return out;
  for await (const { body } of reader.resources()) {
    const o = JSON.parse(body.toString('utf8')) as KubeObject & Partial<MeshService>;
    if (o.kind !== 'MeshService') continue;
    for (const ms of o.spec?.microservices ?? []) if (ms.runtime === 'vm' && ms.vm?.ssh?.credentialsSecret) out.add(`${o.metadata.namespace ?? 'default'}/${ms.vm.ssh.credentialsSecret}`);
  }
  return out;
}

/**
 * The source cloud's VM key is useless in the target (its images authorize the target's key): a
 * restored VM credentials Secret gets the target's key. The key itself is never logged or recorded.
 */
export function credentialsAdjuster(secrets: Set<string>, privateKey: string, replaced: string[]): (o: KubeObject) => void {
  return (o) => {
    if (o.kind !== 'Secret' || !secrets.has(`${o.metadata.namespace ?? 'default'}/${o.metadata.name}`)) return;
    const sec = o as KubeObject & { data?: Record<string, string>; stringData?: Record<string, string> };
    delete sec.stringData?.['ssh-privatekey'];
    sec.data = { ...sec.data, 'ssh-privatekey': Buffer.from(privateKey).toString('base64') };
    delete sec.data['ssh-publickey'];
    replaced.push(`Secret ${o.metadata.namespace}/${o.metadata.name}`);
  };
}

export interface PlanResult {
  backup?: string;
  problems: ProblemItem[];
  restore?: RestoreResult;
  worker: { vnfInstanceName: string; nodeName: string; vnfdId: string; flavourId: string };
}

/** Steps 1–2: what a migration would do and every problem the target has; changes nothing. */
export async function planMigration(target: Target, deps: Pick<MigrationDeps, 'keys' | 'nodes' | 'connect' | 'log'>, id: string, spec: MigrationSpec, options: { verified?: boolean } = {}): Promise<PlanResult> {
  const names = workerNames(id);
  const out: PlanResult = { problems: [], worker: { ...names, vnfdId: target.worker.vnfdId, flavourId: target.worker.flavourId } };
  // the checks are independent and mostly wait on the target: run side by side, their problems
  // listed in one order whatever order they end in (the backup, Tacker, the control plane, the
  // target's orchestrator, the restore's plan)
  // Tacker's packages listed once for the plan (the worker's package and the VMs' in the restore's plan)
  let listing: Promise<VnfPackage[]> | undefined;
  const packages = () => (listing ??= target.tacker.listPackages());

  // the backup, then what depends on it: the target's orchestrator for VM data, the restore's plan
  const backupSide = async (): Promise<{ backup: ProblemItem[]; handoff: ProblemItem[]; restore: ProblemItem[] }> => {
    const problems = { backup: [] as ProblemItem[], handoff: [] as ProblemItem[], restore: [] as ProblemItem[] };
    let manifest: Manifest | undefined;
    try {
      const c = await chooseBackup(target.store, deps.keys, spec);
      out.backup = c.name;
      manifest = c.manifest;
    } catch (e) {
      problems.backup.push({ pointer: '/backup', message: e instanceof Error ? e.message : String(e) });
    }
    // VM data dirs are handed to the target's orchestrator (handoff.ts): one must run there
    if (manifest?.data.some((d) => d.result === 'captured' && d.type === 'vmDataDir')) {
      const sysNs = target.systemNamespace ?? 'mixmesh-system';
      const there = await target.kube.get({ apiVersion: 'v1', kind: 'Namespace', name: sysNs }).catch(() => undefined);
      if (!there) problems.handoff.push({ pointer: '/target/systemNamespace', message: `the backup has VM data dirs, handed to the target's orchestrator before each new VM's sidecar starts, but the target has no namespace ${sysNs} (no mixmesh orchestrator runs there)` });
    }
    if (manifest && out.backup) {
      try {
        const oldNode = manifest.selection.node;
        // the new node's runtime is known once it joins: planned as a restore there, decided in the Restore step
        const cp = target.checkpointer;
        const checkpointer: Checkpointer | undefined = cp && { checkpoint: (...a) => cp.checkpoint(...a), restoreSupport: async (n) => (n === names.nodeName ? { ok: true } : cp.restoreSupport(n)) };
        const restore = await restoreBackup({ kube: target.kube, store: target.store, keys: deps.keys, nodes: deps.nodes, resolver: new KubeNodeResolver(target.kube, undefined), vnfPackageUsable: packageUsable(packages), ...(checkpointer ? { checkpointer } : {}), ...(deps.log ? { log: deps.log } : {}) },
          { name: `migrate-${id}`, backup: out.backup, plan: true, ...(oldNode ? { mappings: { nodes: { [oldNode]: names.nodeName } } } : {}) }, options.verified ? { verified: true } : {});
        out.restore = restore;
        // the new node does not exist yet: the migration makes it (and its local PV paths)
        for (const p of restore.problems) if (!p.pointer.startsWith(`/nodes/${names.nodeName}`)) problems.restore.push({ pointer: `/restore${p.pointer}`, message: p.message });
      } catch (e) {
        problems.restore.push({ pointer: '/backup', message: `backup ${out.backup} cannot be restored: ${e instanceof Error ? e.message : String(e)}` });
      }
    }
    return problems;
  };
  // the worker image package on the target's Tacker
  const tackerSide = async (): Promise<ProblemItem[]> => {
    const problems: ProblemItem[] = [];
    try {
      const pkgs = await packages();
      const p = pkgs.find((x) => x.vnfdId === target.worker.vnfdId);
      if (!p) problems.push({ pointer: '/target/worker/vnfdId', message: `the worker image VNF package ${target.worker.vnfdId} is not on the target's Tacker` });
      else if (p.onboardingState !== 'ONBOARDED' || p.operationalState !== 'ENABLED') problems.push({ pointer: '/target/worker/vnfdId', message: `the worker image VNF package ${target.worker.vnfdId} is ${p.onboardingState}/${p.operationalState}, not ONBOARDED/ENABLED` });
    } catch (e) {
      problems.push({ pointer: '/target/openstack', message: `the target's Tacker cannot be reached: ${e instanceof Error ? e.message : String(e)}` });
    }
    return problems;
  };
  // the control plane: reachable, kubeadm there, an admin kubeconfig
  const controlPlaneSide = async (): Promise<ProblemItem[]> => {
    const problems: ProblemItem[] = [];
    try {
      const sh = await deps.connect({ host: target.controlPlane.host, port: target.controlPlane.port ?? 22, username: target.controlPlane.user, privateKey: target.controlPlane.privateKey, hostKey: { expected: target.controlPlane.hostKeys }, connectBudgetMs: 10_000 });
      try {
        const r = await sh.exec('kubeadm version -o short && test -r /etc/kubernetes/admin.conf', { allowFailure: true, step: 'kubeadm on the control plane' });
        if (r.code !== 0) problems.push({ pointer: '/target/controlPlane', message: `the control plane ${target.controlPlane.host} cannot make join tokens (kubeadm and /etc/kubernetes/admin.conf needed): ${(r.stderr || r.stdout).trim().slice(0, 300)}` });
      } finally {
        await sh.close();
      }
    } catch (e) {
      problems.push({ pointer: '/target/controlPlane', message: `the control plane ${target.controlPlane.host} cannot be reached over SSH: ${e instanceof Error ? e.message : String(e)}` });
    }
    return problems;
  };
  const [backup, tacker, controlPlane] = await Promise.all([backupSide(), tackerSide(), controlPlaneSide()]);
  out.problems.push(...backup.backup, ...tacker, ...controlPlane, ...backup.handoff, ...backup.restore);
  return out;
}

/**
 * Run (or resume) one migration. `status` is what the Migration resource holds; every change goes
 * through deps.save before the next action, so a restart continues from the last recorded fact.
 */
export async function runMigration(target: Target, deps: MigrationDeps, id: string, spec: MigrationSpec, status: MigrationStatus): Promise<MigrationStatus> {
  const log = (deps.log ?? silentLogger).child({ migration: id });
  const st: MigrationStatus = { ...status, steps: [...(status.steps ?? [])] };
  const waitMs = deps.waitMs ?? 300_000;
  const names = workerNames(id);
  st.worker ??= { ...names };
  const save = async (patch: Partial<MigrationStatus>) => {
    Object.assign(st, patch);
    await deps.save(patch);
  };
  const done = (n: StepName) => st.steps!.some((s) => s.name === n && (s.state === 'Done' || s.state === 'Skipped'));
  let current: StepName | undefined;
  const step = async (n: StepName, fn: () => Promise<string>): Promise<void> => {
    if (done(n)) return;
    if (deps.signal?.aborted) throw stopped();
    current = n;
    const started = Date.now();
    const prior = st.steps!.find((s) => s.name === n);
    const rec: StepRecord = { name: n, state: 'Running', startedAt: prior?.startedAt ?? new Date(started).toISOString() };
    st.steps = [...st.steps!.filter((s) => s.name !== n), rec];
    await save({ step: n, steps: st.steps });
    await deps.event('Normal', `${n}Started`, `step ${STEPS.indexOf(n) + 1}/${STEPS.length} ${n}${prior ? ' (resumed)' : ''}`);
    const message = await fn();
    const fin: StepRecord = { ...rec, state: 'Done', completedAt: new Date().toISOString(), ms: Date.now() - Date.parse(rec.startedAt!), message };
    st.steps = [...st.steps!.filter((s) => s.name !== n), fin];
    await save({ steps: st.steps });
    await deps.event('Normal', `${n}Done`, `step ${STEPS.indexOf(n) + 1}/${STEPS.length} ${n}: ${message}`);
    log.info({ step: n, ms: fin.ms }, message);
  };

  if (!st.startedAt) await save({ phase: 'InProgress', startedAt: new Date().toISOString() });
  else await save({ phase: 'InProgress' });
  let manifest: Manifest | undefined;
  let nodeData: Promise<{ written: number; inPlaceMs: number; failure?: MixmeshError }> | undefined;
  try {
    // 1. the backup
    // every object's SHA-256 is checked in the background while the worker VM is made (off the
    // critical path), awaited before anything is restored; a resumed run checks again as it starts.
    // The lost node's volumes are checked by their own staged writes instead (writeNodeDataEarly).
    let verifying: Promise<void> | undefined;
    let verified = false;
    await step('Backup', async () => {
      const c = await chooseBackup(target.store, deps.keys, spec);
      await save({ backup: c.name });
      return `backup ${c.name} (${c.manifest.completed}): signature verified; every object's SHA-256 checked while the worker is made`;
    });
    manifest ??= (await BackupReader.open(target.store, st.backup!, deps.keys, { needData: false })).manifest;
    // a new worker for a lost node, or for node-local volumes (an emptyDir goes with its pod wherever it runs)
    const needsWorker = manifest.selection.node !== undefined || manifest.data.some((d) => d.result === 'captured' && d.type !== 'vmDataDir' && d.type !== 'emptyDir');
    const oldNode = manifest.selection.node;
    const staged = oldNode && needsWorker && !done('Restore') ? stagedData(manifest, oldNode, st.restore?.dataDone ?? [], id) : [];
    const stagedObjects = new Set(staged.map((x) => x.d.object));
    if (!done('Restore')) {
      verifying = BackupReader.open(target.store, st.backup!, deps.keys).then((r) => r.verifyObjects(() => undefined, (o) => !stagedObjects.has(o.path)));
      verifying.catch(() => undefined);
    }
    // 2. preflight (nothing made yet: a failure here leaves nothing to roll back)
    await step('Preflight', async () => {
      const plan = await planMigration(target, deps, id, { ...spec, backup: st.backup! }, { verified: true });
      if (plan.problems.length) {
        throw new MixmeshError('MIGRATE_PREFLIGHT_FAILED', `target ${target.name} cannot take ${spec.node ? `node ${spec.node}` : `service ${spec.service!.namespace}/${spec.service!.name}`}: ${plan.problems.length} problem(s), first: ${plan.problems[0]!.message}`, { errors: plan.problems });
      }
      return `target ${target.name} can take it: ${plan.restore?.items.filter((i) => i.action === 'create').length ?? 0} object(s) to create, ${plan.restore?.data.length ?? 0} data dir(s)`;
    });
    // 3. the worker VM
    if (!needsWorker) {
      st.steps = [...st.steps!.filter((s) => s.name !== 'Worker' && s.name !== 'Join'), { name: 'Worker', state: 'Skipped', message: 'no node data: the target\'s existing nodes run the pods' }, { name: 'Join', state: 'Skipped' }];
      await save({ steps: st.steps });
    }
    await step('Worker', () => makeWorker(target, deps, st, save, log));
    // the lost node's data goes onto the new worker while it joins (the Restore step writes what is left)
    if (staged.length) {
      nodeData = writeNodeDataEarly(target, deps, id, st, save, staged, verifying, log);
      nodeData.catch(() => undefined);
    }
    // 4. join
    await step('Join', () => join(target, deps, id, st, save, waitMs));
    // 5. restore
    await step('Restore', async () => {
      const t0 = Date.now();
      if (verifying) {
        await verifying;
        verified = true;
      }
      const joinedData = await nodeData;
      // a staged volume that failed its check is the backup's failure, as the pass's would be
      if (joinedData?.failure) throw joinedData.failure;
      const tVerified = Date.now();
      const r = st.restore ?? { name: `migrate-${id}`, dataDone: [] };
      // local PV paths exist on the new node before the restore's preflight looks for them
      const localPaths = manifest!.data.filter((d) => d.result === 'captured' && d.type === 'local').map((d) => d.path);
      if (localPaths.length && needsWorker) {
        const sh = await workerShell(target, deps, st);
        try {
          await sh.exec(`mkdir -p ${localPaths.map(shellQuote).join(' ')}`, { step: 'create the local PV paths' });
        } finally {
          await sh.close();
        }
      }
      const pinned: string[] = [];
      const credentials: string[] = [];
      const dataDone = new Set(r.dataDone);
      const reader = await BackupReader.open(target.store, st.backup!, deps.keys);
      const adjusters = [credentialsAdjuster(await vmCredentialSecrets(reader), target.vmPrivateKey ?? target.worker.privateKey, credentials), ...(needsWorker ? [pinAdjuster(id, manifest!, pinned)] : [])];
      // VM data dirs: announced to the target's orchestrator before the MeshService exists (handoff.ts)
      const sysNs = target.systemNamespace ?? 'mixmesh-system';
      const vmData = manifest!.data.filter((d) => d.result === 'captured' && d.type === 'vmDataDir' && d.service && !dataDone.has(`${d.owner}/${d.name}`));
      if (vmData.length) await announceHandoffs(target.kube, sysNs, r.name, vmData.map((d) => ({ namespace: d.service!.namespace, service: d.service!.name, microservice: d.service!.microservice, version: d.service!.version, index: d.service!.index })), new Date(Date.now() + waitMs));
      const resolver = new KubeNodeResolver(target.kube, { user: target.worker.user, privateKey: target.worker.privateKey, knownHosts: st.worker?.address && st.worker.hostKey ? `${st.worker.address} ${st.worker.hostKey}\n` : '' }, async (serverId) => parseConsoleHostKeys(await target.nova.getConsoleOutput(serverId)));
      const result = await restoreBackup({ kube: target.kube, store: target.store, keys: deps.keys, nodes: deps.nodes, resolver, vnfPackageUsable: packageUsable(() => target.tacker.listPackages()), ...(target.checkpointer ? { checkpointer: target.checkpointer } : {}), ...(target.podExec ? { podExec: target.podExec } : {}), log },
        { name: r.name, backup: st.backup!, conflict: 'skip', vmWaitMs: waitMs, ...(oldNode && needsWorker ? { mappings: { nodes: { [oldNode]: names.nodeName } } } : {}) },
        {
          ...(deps.signal ? { signal: deps.signal } : {}), dataDone, dataDoneNote: { reason: 'WRITTEN_EARLY', message: 'written onto the new node while it joined the cluster, or by an earlier run of this migration' }, onDataDone: (k) => { dataDone.add(k); void save({ restore: { ...r, dataDone: [...dataDone] } }); },
          adjust: (o) => { for (const a of adjusters) a(o); },
          ...(verified ? { verified: true } : {}),
          ...(vmData.length ? { vmHandoff: remoteVmHandoff(target.kube, sysNs, { ...(deps.signal ? { signal: deps.signal } : {}), log }) } : {}),
        }).finally(() => (vmData.length ? clearHandoffs(target.kube, r.name).catch(() => undefined) : undefined));
      const counts: Record<string, number> = {};
      for (const i of result.items) counts[i.action] = (counts[i.action] ?? 0) + 1;
      await save({ restore: { ...r, dataDone: [...dataDone], phase: result.phase, counts, warnings: result.warnings, pinned, credentials, state: result.state } });
      if (result.phase === 'Failed') {
        if (result.firstCause?.code === 'BACKUP_CANCELLED' && deps.signal?.aborted) throw stopped();
        throw new MixmeshError('MIGRATE_RESTORE_FAILED', `restore onto ${target.name}: ${result.firstCause?.code}: ${result.firstCause?.message}`);
      }
      const failed = result.items.filter((i) => i.action === 'failed').length + result.data.filter((d) => d.action === 'failed').length;
      if (failed) throw new MixmeshError('MIGRATE_RESTORE_FAILED', `restore onto ${target.name}: ${failed} item(s) failed, first: ${result.warnings[0] ?? ''}`);
      const tRestored = Date.now();
      await waitPodsRunning(target, r.name, waitMs, deps.signal);
      const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
      const phases = `verification ${sec(tVerified - t0)}${joinedData?.written ? ` (${joinedData.written} data dir(s) staged from the Worker step on, checked and moved into place ${sec(joinedData.inPlaceMs)} after it)` : ''}, restore ${sec(tRestored - tVerified)}, pods Running ${sec(Date.now() - tRestored)}`;
      const early = result.data.filter((d) => d.reason === 'BEFORE_SIDECAR').length;
      return `${counts.created ?? 0} object(s) created, ${result.data.filter((d) => d.action === 'written').length} data dir(s) written${early ? ` (${early} onto new VMs before their sidecar)` : ''}, ${pinned.length} workload(s) pinned to ${names.nodeName}${credentials.length ? `, ${credentials.length} VM credentials Secret(s) given ${target.name}'s key` : ''}; every restored pod Running (${phases})`;
    });
    // 6. the service's VMs (the target's orchestrator recreates them from the restored MeshService)
    await step('Services', async () => {
      const svcs = manifest!.items.filter((i) => i.kind === 'MeshService' && i.result === 'captured');
      if (!svcs.length) return 'no MeshService in the backup';
      for (const s of svcs) {
        await until(`MeshService ${s.namespace}/${s.name} Ready on ${target.name}`, async () => {
          const o = await target.kube.get<KubeObject & { status?: { phase?: string; conditions?: Array<{ type: string; status: string }> } }>({ apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService', namespace: s.namespace!, name: s.name });
          return o?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') || o?.status?.phase === 'Ready' ? true : undefined;
        }, waitMs, deps.signal);
      }
      return `${svcs.length} MeshService(s) Ready on ${target.name} (VMs recreated by its orchestrator)`;
    });
    // 7. the report
    await step('Report', async () => {
      const report = await buildReport(target, st, manifest!);
      await save({ report });
      return `moved ${report.moved.resources.length} object(s) and ${report.moved.data.length} data dir(s) to ${target.name}; state restored for ${report.stateRestored?.length ?? 0}, ${report.coldStarts.length} cold start(s)${report.coldStarts.length ? ` (${report.coldStarts.map((c) => `${c.owner}: ${c.code}`).join(', ')})` : ''}`;
    });
    const phase = st.report?.warnings.length || st.report?.coldStarts.length ? 'CompletedWithWarnings' : 'Completed';
    await save({ phase, step: null, completedAt: new Date().toISOString(), error: null });
    await deps.event('Normal', 'Completed', `migration ${id} to ${target.name}: ${phase}`);
    return st;
  } catch (e) {
    // the early data writes end first (they stop at their own failure): nothing writes onto a worker being rolled back
    await nodeData?.catch(() => undefined);
    if (isStop(e) || deps.signal?.aborted) throw stopped();
    const code = isMixmeshError(e) ? e.code : 'INTERNAL';
    const message = e instanceof Error ? e.message : String(e);
    log.warn({ step: current, code }, 'migration step failed for good; rolling back');
    const steps = st.steps!.map((s) => (s.name === current && s.state === 'Running' ? { ...s, state: 'Failed' as const, completedAt: new Date().toISOString(), message } : s));
    await save({ steps, error: { code, message, step: current ?? '' } });
    await deps.event('Warning', `${current ?? 'Migration'}Failed`, `${code}: ${message}`.slice(0, 1000));
    const rolledBack = await rollback(target, deps, id, st, log);
    await save({ phase: 'Failed', step: null, rolledBack, completedAt: new Date().toISOString() });
    await deps.event('Warning', 'RolledBack', rolledBack.length ? rolledBack.join('; ') : 'nothing had been made');
    throw isMixmeshError(e) ? e : new MixmeshError('INTERNAL', message, { cause: e });
  }
}

/** A volume of the lost node, written first to a staging directory beside its path on the new worker. */
interface StagedVolume {
  d: Manifest['data'][number];
  /** `.<name>.mixmesh-<migration>` in the same parent directory (the same filesystem: moved into place by a rename) */
  staging: string;
}

/** The lost node's volumes the migration stages while the worker joins: those not written yet, largest first (a path of `/` cannot be staged: left to the Restore step). */
function stagedData(manifest: Manifest, oldNode: string, dataDone: readonly string[], id: string): StagedVolume[] {
  const done = new Set(dataDone);
  return manifest.data
    .filter((d) => d.result === 'captured' && d.node === oldNode && d.object && d.type !== 'vmDataDir' && d.type !== 'emptyDir' && !done.has(`${d.owner}/${d.name}`) && posix.basename(d.path) !== '')
    .sort((a, b) => b.bytes - a.bytes)
    .map((d) => ({ d, staging: posix.join(posix.dirname(d.path), `.${posix.basename(d.path)}.mixmesh-${id}`) }));
}

/**
 * The lost node's volumes written onto the new worker VM while it joins the cluster, as soon as it
 * answers over SSH: each into a staging directory beside its path (the volume's own path is not
 * touched yet), through the restore's own write-back, which checks the object's SHA-256 as it reads
 * it (that is this object's verification: the pass over the backup leaves it out; it covers every
 * file), decrypts it and lists what landed; largest first, as many at once as the restore writes.
 * Once every object of the backup is verified (the pass, and these writes), the staged directories
 * are moved into place (a rename) and recorded in the migration's restore.dataDone, so the Restore
 * step (and a resumed run) skips them. A volume not staged (its write failed otherwise, SSH; or
 * none was tried) is verified here and left to the Restore step; one that fails its check makes
 * the migration fail (`failure`) as the pass would. Staging directories die with the worker on a
 * rollback; a resumed run writes them again.
 */
async function writeNodeDataEarly(target: Target, deps: MigrationDeps, id: string, st: MigrationStatus, save: (p: Partial<MigrationStatus>) => Promise<void>, todo: StagedVolume[], verifying: Promise<void> | undefined, log: Logger): Promise<{ written: number; inPlaceMs: number; failure?: MixmeshError }> {
  const t0 = Date.now();
  const name = `migrate-${id}`;
  const reader = await BackupReader.open(target.store, st.backup!, deps.keys);
  const w = st.worker;
  const node = w?.address && w.hostKey ? { name: w.nodeName, host: w.address, user: target.worker.user, privateKey: target.worker.privateKey, hostKeys: [w.hostKey] } : undefined;
  const ok: StagedVolume[] = [];
  let failure: MixmeshError | undefined;
  await boundedAll(todo, RESTORE_DATA_CONCURRENCY, async (v) => {
    if (!node || deps.signal?.aborted || failure) return;
    try {
      await writeDataDir(deps.nodes, reader, v.d, node, v.staging, { sha256: true });
      ok.push(v);
    } catch (e) {
      if (isMixmeshError(e, 'BACKUP_INTEGRITY')) {
        failure ??= e;
        return;
      }
      log.warn({ owner: v.d.owner, code: isMixmeshError(e) ? e.code : 'INTERNAL' }, 'data not staged while the node joined; the Restore step writes it');
    }
  });
  if (failure) return { written: 0, inPlaceMs: 0, failure };
  const left = todo.filter((v) => !ok.includes(v));
  try {
    // what was not staged is written by the Restore step: checked before it, as the rest of the backup
    if (left.length) await reader.verifyObjects(undefined, (o) => left.some((v) => v.d.object === o.path));
    await verifying;
  } catch (e) {
    return { written: 0, inPlaceMs: 0, failure: isMixmeshError(e) ? e : new MixmeshError('BACKUP_INTEGRITY', e instanceof Error ? e.message : String(e)) };
  }
  if (!ok.length || deps.signal?.aborted) return { written: 0, inPlaceMs: 0 };
  // the whole backup verified: the staged directories take their volumes' paths
  const sh = await workerShell(target, deps, st);
  try {
    const script = ok.map(({ d, staging }) => {
      const [p, s] = [shellQuote(d.path), shellQuote(staging)];
      return `if [ -d ${s} ]; then if [ ! -e ${p} ]; then mv ${s} ${p}; elif [ -d ${p} ] && [ -z "$(ls -A ${p})" ]; then rmdir ${p} && mv ${s} ${p}; else cp -a ${s}/. ${p}/ && rm -rf ${s}; fi; fi; [ -d ${p} ]`;
    }).join(' && ');
    await sh.exec(script, { step: 'move the staged volumes into place' });
  } finally {
    await sh.close();
  }
  const done = new Set(st.restore?.dataDone ?? []);
  for (const { d } of ok) done.add(`${d.owner}/${d.name}`);
  await save({ restore: { ...(st.restore ?? { name }), dataDone: [...done] } });
  log.info({ staged: ok.length, ms: Date.now() - t0 }, 'the lost node\'s volumes staged, verified and moved into place');
  return { written: ok.length, inPlaceMs: Date.now() - t0 };
}

async function workerShell(target: Target, deps: MigrationDeps, st: MigrationStatus): Promise<RemoteShell> {
  return deps.connect({ host: st.worker!.address!, username: target.worker.user, privateKey: target.worker.privateKey, hostKey: { expected: [st.worker!.hostKey!] }, connectBudgetMs: 60_000 });
}

function tackerError(op: VnfLcmOpOcc): string {
  const e = op.error as { title?: string; detail?: string; status?: number } | undefined;
  return e ? `${e.status ?? ''} ${e.title ?? ''}: ${e.detail ?? ''}`.trim() : op.operationState;
}

async function makeWorker(target: Target, deps: MigrationDeps, st: MigrationStatus, save: (p: Partial<MigrationStatus>) => Promise<void>, log: Logger): Promise<string> {
  const w = { ...st.worker! };
  // idempotent: a VNF of this name made by an earlier run is this migration's
  if (!w.vnfInstanceId) {
    const existing = await target.tacker.listVnfInstances({ name: w.vnfInstanceName });
    const vnf = existing[0] ?? await target.tacker.createVnfInstance({ vnfdId: target.worker.vnfdId, vnfInstanceName: w.vnfInstanceName, vnfInstanceDescription: 'mixmesh migrate worker', metadata: { [MIGRATION_LABEL]: w.vnfInstanceName } });
    w.vnfInstanceId = vnf.id;
    await save({ worker: w });
  }
  let inst = await target.tacker.getVnfInstance(w.vnfInstanceId);
  const retries = deps.tackerRetries ?? 2;
  if (inst.instantiationState !== 'INSTANTIATED') {
    if (!w.opId) {
      w.opId = await target.tacker.instantiate(w.vnfInstanceId, { flavourId: target.worker.flavourId, ...(target.worker.instantiationLevelId ? { instantiationLevelId: target.worker.instantiationLevelId } : {}) });
      await save({ worker: w });
    }
    for (;;) {
      const op = await target.tacker.waitForOperation(w.opId, { timeoutMs: 15 * 60_000 });
      if (op.operationState === 'COMPLETED') break;
      if (op.operationState === 'FAILED_TEMP' && (w.retries ?? 0) < retries) {
        w.retries = (w.retries ?? 0) + 1;
        await save({ worker: w });
        await deps.event('Warning', 'WorkerRetry', `Tacker instantiate of ${w.vnfInstanceName} FAILED_TEMP (${tackerError(op)}); retry ${w.retries}/${retries}`);
        log.warn({ op: w.opId, retry: w.retries }, 'instantiate FAILED_TEMP; retrying');
        await sleep(200 * 2 ** (w.retries - 1), deps.signal);
        await target.tacker.retry(w.opId);
        continue;
      }
      if (op.operationState === 'FAILED_TEMP') {
        await target.tacker.rollback(w.opId).catch((e: unknown) => log.warn({ err: String(e) }, 'rollback request failed'));
        await target.tacker.waitForOperation(w.opId, { timeoutMs: 5 * 60_000 }).catch(() => undefined);
      }
      throw new MixmeshError('MIGRATE_WORKER_FAILED', `Tacker could not instantiate worker ${w.vnfInstanceName} (${w.retries ?? 0} retr${w.retries === 1 ? 'y' : 'ies'}): ${tackerError(op)}`);
    }
    inst = await target.tacker.getVnfInstance(w.vnfInstanceId);
  }
  const serverId = inst.instantiatedVnfInfo?.vnfcResourceInfo?.[0]?.computeResource.resourceId;
  if (!serverId) throw new MixmeshError('MIGRATE_WORKER_FAILED', `worker ${w.vnfInstanceName} is INSTANTIATED but has no server`);
  const server = await target.nova.getServer(serverId);
  const address = serverAddress(server);
  if (!address) throw new MixmeshError('MIGRATE_WORKER_FAILED', `worker ${w.vnfInstanceName}: server ${serverId} has no address`);
  // the host key from the console (cloud-init prints it), as the injector does; waits until printed
  const keys = await until(`the host key of ${w.vnfInstanceName} on its console`, async () => {
    const k = parseConsoleHostKeys(await target.nova.getConsoleOutput(serverId));
    return k.length ? k : undefined;
  }, 120_000, deps.signal);
  Object.assign(w, { serverId, address, hostKey: keys[0], instantiated: true });
  await save({ worker: w });
  return `VNF ${w.vnfInstanceName} (${w.vnfInstanceId}) INSTANTIATED, server ${serverId} at ${address}, host key from the console`;
}

async function cpExec(target: Target, deps: MigrationDeps, cmd: string, step: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const sh = await deps.connect({ host: target.controlPlane.host, port: target.controlPlane.port ?? 22, username: target.controlPlane.user, privateKey: target.controlPlane.privateKey, hostKey: { expected: target.controlPlane.hostKeys } });
  try {
    return await sh.exec(cmd, { allowFailure: true, step });
  } finally {
    await sh.close();
  }
}

async function join(target: Target, deps: MigrationDeps, id: string, st: MigrationStatus, save: (p: Partial<MigrationStatus>) => Promise<void>, waitMs: number): Promise<string> {
  const w = st.worker!;
  let node = await target.kube.get<NodeLike>({ apiVersion: 'v1', kind: 'Node', name: w.nodeName });
  if (!node) {
    // a run stopped during `kubeadm join` may have joined already (the kubelet registers a moment later)
    const sh = await workerShell(target, deps, st);
    try {
      if ((await sh.exec('test -e /etc/kubernetes/kubelet.conf', { allowFailure: true })).code === 0) node = { apiVersion: 'v1', kind: 'Node', metadata: { name: w.nodeName } };
    } finally {
      await sh.close();
    }
  }
  if (!node) {
    // a token left by a run that stopped before the join is replaced
    if (st.tokenId) {
      await cpExec(target, deps, `kubeadm token delete ${shellQuote(st.tokenId)}`, 'delete the earlier join token');
      await save({ tokenId: null });
    }
    const tok = await cpExec(target, deps, `kubeadm token create --print-join-command --ttl 1h --description ${shellQuote(`mixmesh migrate ${id}`)}`, 'kubeadm token create');
    if (tok.code !== 0) throw new MixmeshError('MIGRATE_JOIN_FAILED', `kubeadm token create on ${target.controlPlane.host} failed: ${(tok.stderr || tok.stdout).trim().slice(0, 500)}`);
    const line = tok.stdout.trim().split('\n').pop() ?? '';
    const m = /^kubeadm join (\S+) --token ([a-z0-9]{6})\.([a-z0-9]{16}) --discovery-token-ca-cert-hash (sha256:[0-9a-f]{64})\s*$/.exec(line);
    if (!m) throw new MixmeshError('MIGRATE_JOIN_FAILED', `kubeadm token create on ${target.controlPlane.host} printed no join command`);
    const [, endpoint, tid, secret, hash] = m as unknown as [string, string, string, string, string];
    await save({ tokenId: tid });
    const sh = await workerShell(target, deps, st);
    try {
      const r = await sh.exec(`kubeadm join ${shellQuote(endpoint)} --token ${shellQuote(`${tid}.${secret}`)} --discovery-token-ca-cert-hash ${shellQuote(hash)} --node-name ${shellQuote(w.nodeName)}`, { allowFailure: true, step: 'kubeadm join', secrets: [secret] });
      // our earlier run's join still finishing in the VM (killed orchestrator): the VM is joined, only we use it
      const already = r.code !== 0 && (await sh.exec('test -e /etc/kubernetes/kubelet.conf', { allowFailure: true })).code === 0 && /kubelet\.conf already exists/.test(r.stderr + r.stdout);
      if (r.code !== 0 && !already) {
        const text = (r.stderr || r.stdout).replaceAll(secret, '<redacted>').trim().split('\n').filter((l) => /error|fatal|\[ERROR/i.test(l)).join(' ').slice(0, 600) || `exit ${r.code}`;
        throw new MixmeshError('MIGRATE_JOIN_FAILED', `kubeadm join of ${w.nodeName} to ${endpoint} failed: ${text}`);
      }
    } finally {
      await sh.close();
    }
    await save({ joined: true });
  }
  // the token served its purpose once `kubeadm join` returned: deleted while the Node gets Ready
  const deleteToken = async () => {
    if (!st.tokenId) return;
    const del = await cpExec(target, deps, `kubeadm token delete ${shellQuote(st.tokenId)}`, 'kubeadm token delete');
    if (del.code !== 0) throw new MixmeshError('MIGRATE_JOIN_FAILED', `kubeadm token delete ${st.tokenId} failed: ${(del.stderr || del.stdout).trim().slice(0, 300)}`);
    await save({ tokenId: null });
  };
  const readyNode = async () => {
    await until(`Node ${w.nodeName} Ready on ${target.name}`, async () => (ready(await target.kube.get<NodeLike>({ apiVersion: 'v1', kind: 'Node', name: w.nodeName })) ? true : undefined), waitMs, deps.signal, 'MIGRATE_JOIN_FAILED');
    await target.kube.mergePatch({ apiVersion: 'v1', kind: 'Node', name: w.nodeName }, { metadata: { labels: { [MIGRATION_LABEL]: id } } });
    await save({ labelled: true });
  };
  const both = await Promise.allSettled([readyNode(), deleteToken()]);
  for (const r of both) if (r.status === 'rejected') throw r.reason;
  return `Node ${w.nodeName} joined ${target.name}, Ready, labelled ${MIGRATION_LABEL}=${id}; join token deleted`;
}

type PodLike = KubeObject & { spec?: { nodeName?: string }; status?: { phase?: string } };

/** Every pod made for the restored workloads Running (controller-made pods carry no restore label: match by namespace). */
async function waitPodsRunning(target: Target, restore: string, waitMs: number, signal?: AbortSignal): Promise<void> {
  const workloads: KubeObject[] = [];
  for (const kind of ['Deployment', 'StatefulSet', 'Pod']) workloads.push(...(await target.kube.list(kind === 'Pod' ? 'v1' : 'apps/v1', kind, { labelSelector: `backup.mixmesh.io/restore=${restore}` })).items);
  await until('the restored pods Running', async () => {
    for (const w of workloads) {
      if (w.kind === 'Pod') {
        const p = await target.kube.get<PodLike>({ apiVersion: 'v1', kind: 'Pod', namespace: w.metadata.namespace!, name: w.metadata.name });
        if (p?.status?.phase !== 'Running') return undefined;
        continue;
      }
      const live = await target.kube.get<KubeObject & { spec?: { replicas?: number }; status?: { readyReplicas?: number } }>({ apiVersion: 'apps/v1', kind: w.kind, namespace: w.metadata.namespace!, name: w.metadata.name });
      if ((live?.status?.readyReplicas ?? 0) < (live?.spec?.replicas ?? 1)) return undefined;
    }
    return true;
  }, waitMs, signal);
}

async function buildReport(target: Target, st: MigrationStatus, manifest: Manifest): Promise<MigrationReport> {
  const w = st.worker!;
  const node = w.instantiated ? await target.kube.get<NodeLike>({ apiVersion: 'v1', kind: 'Node', name: w.nodeName }) : undefined;
  const timings: Record<string, number> = {};
  for (const s of st.steps ?? []) if (s.ms !== undefined) timings[s.name] = s.ms;
  const restoreName = st.restore?.name ?? '';
  const resources: MigrationReport['moved']['resources'] = [];
  for (const i of manifest.items) {
    if (i.result !== 'captured' || !i.apiVersion) continue;
    const live = await target.kube.get({ apiVersion: i.apiVersion, kind: i.kind, ...(i.namespace ? { namespace: i.namespace } : {}), name: i.name }).catch(() => undefined);
    if (live?.metadata.labels?.['backup.mixmesh.io/restore'] === restoreName) resources.push({ kind: i.kind, ...(i.namespace ? { namespace: i.namespace } : {}), name: i.name, action: 'created' });
  }
  const data = manifest.data.filter((d) => d.result === 'captured').map((d) => ({ owner: d.owner, name: d.name, node: d.type === 'vmDataDir' ? 'new VM' : d.type === 'emptyDir' ? 'its pod\'s node' : w.nodeName, path: d.path, ...(d.files !== undefined ? { files: d.files } : {}), action: st.restore?.dataDone.includes(`${d.owner}/${d.name}`) ? 'written' : d.type === 'emptyDir' ? 'skipped' : 'written' }));
  // what the restore did with each captured (or not captured) state: restored, or a cold start and why
  const label = (x: { owner: string; container?: string }) => `${x.owner}${x.container ? `/${x.container}` : ''}`;
  const stateResults: RestoreStateResult[] = st.restore?.state ?? manifest.state.map((s) => ({ owner: s.owner, ...(s.container ? { container: s.container } : {}), action: 'cold-start' as const, reason: s.reason ?? 'NO_STATE', message: s.result === 'captured' ? 'not restored' : `no state in the backup (${s.message ?? s.method})` }));
  const coldStarts = stateResults.filter((s) => s.action === 'cold-start').map((s) => ({ owner: label(s), code: s.reason ?? 'COLD_START', reason: `${s.reason ?? 'COLD_START'}: ${s.message ?? 'cold start'}`, ...(s.node ? { node: s.node } : {}) }));
  const stateRestored = stateResults.filter((s) => s.action === 'restored').map((s) => ({ owner: label(s), ...(s.node ? { node: s.node } : {}), ...(s.reason ? { reason: s.reason } : {}) }));
  const services: MigrationReport['services'] = [];
  for (const i of manifest.items.filter((x) => x.kind === 'MeshService' && x.result === 'captured')) {
    const o = await target.kube.get<KubeObject & { status?: { phase?: string; microservices?: Array<{ instances?: Array<{ vnfInstanceName: string; address?: string; sidecar?: string }> }> } }>({ apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService', namespace: i.namespace!, name: i.name });
    const vms = (o?.status?.microservices ?? []).flatMap((m) => m.instances ?? []).map((x) => ({ name: x.vnfInstanceName, ...(x.address ? { address: x.address } : {}), ...(x.sidecar ? { sidecar: x.sidecar } : {}) }));
    const wes = (await target.kube.list<KubeObject & { spec?: { address?: string } }>('networking.istio.io/v1', 'WorkloadEntry', { namespace: i.namespace! }).catch(() => ({ items: [] }))).items;
    services.push({ namespace: i.namespace!, name: i.name, phase: o?.status?.phase ?? 'Unknown', vms, workloadEntries: wes.map((x) => ({ name: x.metadata.name, address: x.spec?.address ?? '' })) });
  }
  return {
    target: target.name,
    backup: st.backup!,
    ...(w.instantiated ? { node: { name: w.nodeName, address: w.address!, vnfInstanceName: w.vnfInstanceName, vnfInstanceId: w.vnfInstanceId!, ready: ready(node) } } : {}),
    moved: { resources, data },
    pinned: st.restore?.pinned ?? [],
    credentials: st.restore?.credentials ?? [],
    coldStarts,
    stateRestored,
    warnings: st.restore?.warnings ?? [],
    services,
    timings,
    totalMs: Date.now() - Date.parse(st.startedAt ?? new Date().toISOString()),
  };
}

/** Undo what this migration made on the target, each part on its own so one failure does not stop the rest. */
export async function rollback(target: Target, deps: MigrationDeps, id: string, st: MigrationStatus, log: Logger): Promise<string[]> {
  const out: string[] = [];
  const attempt = async (what: string, fn: () => Promise<boolean>) => {
    try {
      if (await fn()) out.push(what);
    } catch (e) {
      out.push(`${what} FAILED: ${e instanceof Error ? e.message : String(e)}`);
      log.warn({ what, err: String(e) }, 'rollback step failed');
    }
  };
  // restored objects first, so nothing half-restored stays Ready
  const restore = st.restore?.name ?? `migrate-${id}`;
  await attempt('restored objects deleted', async () => {
    let n = 0;
    for (const [apiVersion, kind] of [['mixmesh.io/v1alpha1', 'MeshService'], ['apps/v1', 'Deployment'], ['apps/v1', 'StatefulSet'], ['apps/v1', 'DaemonSet'], ['v1', 'Pod'], ['v1', 'Service'], ['v1', 'ConfigMap'], ['v1', 'Secret'], ['v1', 'PersistentVolumeClaim'], ['v1', 'PersistentVolume']] as const) {
      const items = (await target.kube.list(apiVersion, kind, { labelSelector: `backup.mixmesh.io/restore=${restore}` }).catch(() => ({ items: [] as KubeObject[] }))).items;
      for (const o of items) {
        await target.kube.delete({ apiVersion, kind, ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}), name: o.metadata.name });
        n++;
      }
    }
    return n > 0;
  });
  if (st.tokenId) {
    await attempt(`join token ${st.tokenId} deleted`, async () => {
      const r = await cpExec(target, deps, `kubeadm token delete ${shellQuote(st.tokenId!)}`, 'kubeadm token delete');
      if (r.code !== 0) throw new Error((r.stderr || r.stdout).trim());
      await deps.save({ tokenId: null });
      return true;
    });
  }
  const w = st.worker;
  if (w) {
    await attempt(`Node ${w.nodeName} deleted`, () => target.kube.delete({ apiVersion: 'v1', kind: 'Node', name: w.nodeName }));
    await attempt(`worker VNF ${w.vnfInstanceName} terminated and deleted`, async () => {
      const found = w.vnfInstanceId ? [await target.tacker.getVnfInstance(w.vnfInstanceId).catch(() => undefined)].filter((x): x is VnfInstance => x !== undefined) : await target.tacker.listVnfInstances({ name: w.vnfInstanceName });
      if (!found.length) return false;
      for (const vnf of found) {
        if (vnf.instantiationState === 'INSTANTIATED') {
          const op = await target.tacker.terminate(vnf.id, { terminationType: 'FORCEFUL' });
          const r = await target.tacker.waitForOperation(op, { timeoutMs: 5 * 60_000 });
          if (r.operationState !== 'COMPLETED') throw new Error(`terminate ${r.operationState}: ${tackerError(r)}`);
        }
        await target.tacker.deleteVnfInstance(vnf.id);
      }
      return true;
    });
  }
  return out;
}
