/**
 * One VM's chain (docs/tacker.md, "What mixmesh does with Tacker" and "Injection: orchestrator mode and plug-in mode"):
 * find-or-create the VNF instance by name (a restart never makes a second one), instantiate, wait
 * for the operation (notifications are hints, confirmed by GET; polling otherwise), FAILED_TEMP →
 * retry policy → rollback, address from extCpInfo or Nova, injection exactly once, WorkloadEntry.
 * Chains of one deploy run in parallel.
 */
import { MixmeshError, isMixmeshError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { managedLabels, workloadLabels } from '../../common/labels.js';
import type { MeshService, Microservice } from '../../descriptor/types.js';
import type { BeforeInjectContext } from '../../descriptor/vm-context.js';
import type { CallbackAuthority, OpHint } from '../callbacks.js';
import type { OrchestratorMetrics } from '../metrics.js';
import type { InjectorPort, KubeObject, LcmOpOcc, TackerPlan, TackerPort, VmInstanceStatus, VnfInstance } from '../ports.js';

export interface VmChainDeps {
  tacker: TackerPort;
  injector: InjectorPort | undefined;
  callbacks: CallbackAuthority;
  metrics: OrchestratorMetrics;
  log: Logger;
  retries: number;
  pollMs: number;
  timeoutMs: number;
  /** the deploy's one lookup of every VM's instances by name (absent: this chain lists its own) */
  existing?: Promise<VnfInstance[]> | undefined;
  /** apply a WorkloadEntry if it differs from the live one */
  applyObject: (o: KubeObject) => Promise<string>;
  /** called once the instance create request was sent (bench: deploy start → last create) */
  onCreateSent?: (name: string) => void;
  /** called once the chain has its VNF instance (found or create sent) or failed before: the deploy lets its bulk Kubernetes writes go then */
  onInstanceDecided?: () => void;
  /** called with partial status as the chain moves */
  onProgress?: (s: VmInstanceStatus) => void;
  /** a milestone worth an Event (progress for `mixmesh apply` and `events --follow`) */
  onMilestone?: (reason: string, note: string) => void;
  /** before a fresh injection (the sidecar is not started yet): backup writes restored VM data dirs here */
  beforeInject?: (vm: BeforeInjectContext) => Promise<void>;
}

export type { BeforeInjectContext };

const TERMINAL = new Set(['COMPLETED', 'FAILED_TEMP', 'FAILED', 'ROLLED_BACK']);

export class ChainFailure extends MixmeshError {
  constructor(code: ConstructorParameters<typeof MixmeshError>[0], message: string, readonly rolledBack: boolean, readonly partial: VmInstanceStatus, cause?: unknown) {
    super(code, message, cause === undefined ? {} : { cause });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

/**
 * Hints about one operation, listened to from before the first GET: a notification that lands
 * between a GET and the wait is not lost (it just wakes the next wait at once).
 */
class OpHints {
  private seen = false;
  private wake: (() => void) | undefined;
  private readonly listener = (h: OpHint): void => {
    if (h.vnfLcmOpOccId !== this.opId) return;
    this.seen = true;
    this.wake?.();
  };

  constructor(private readonly callbacks: CallbackAuthority, private readonly opId: string) {
    callbacks.hints.on('hint', this.listener);
  }

  /** a hint since the last call, or the poll interval, whichever comes first */
  next(ms: number): Promise<void> {
    if (this.seen) {
      this.seen = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(), ms);
      timer.unref();
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        this.seen = false;
        resolve();
      };
      this.wake = done;
    });
  }

  close(): void {
    this.callbacks.hints.off('hint', this.listener);
  }
}

/** The WorkloadEntry of one VM (docs/descriptor.md): labels exactly {app, version, mixmesh.io/service}; ports by name → targetPort. */
export function workloadEntryFor(service: MeshService, ms: Microservice, index: number, address: string): KubeObject {
  const ports: Record<string, number> = {};
  for (const p of ms.ports) ports[p.name] = p.targetPort;
  const network = service.spec.mesh.network;
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'WorkloadEntry',
    metadata: {
      name: `${ms.name}-${ms.version}-${index}`,
      namespace: service.metadata.namespace,
      labels: managedLabels(service.metadata.name, service.metadata.labels),
    },
    spec: {
      address,
      labels: workloadLabels(service.metadata.name, ms.name, ms.version),
      serviceAccount: ms.serviceAccount,
      ports,
      ...(network ? { network } : {}),
    },
  };
}

export class VmChain {
  private status: VmInstanceStatus;
  private readonly deadline: number;

  constructor(
    private readonly deps: VmChainDeps,
    private readonly service: MeshService,
    private readonly ms: Microservice,
    private readonly plan: TackerPlan,
    private readonly previous: VmInstanceStatus | undefined,
  ) {
    this.status = { index: plan.identity.index, vnfInstanceName: plan.vnfInstanceName };
    this.deadline = Date.now() + deps.timeoutMs;
  }

  private progress(patch: Partial<VmInstanceStatus>): void {
    this.status = { ...this.status, ...patch };
    this.deps.onProgress?.({ ...this.status });
  }

  /** one Tacker/Nova call; the adapter (orchestrator/wiring.ts) times it into the metrics */
  private call<T>(_call: string, fn: () => Promise<T>): Promise<T> {
    return fn();
  }

  private fail(code: ConstructorParameters<typeof MixmeshError>[0], message: string, rolledBack = false, cause?: unknown): never {
    this.progress({ lastError: message });
    throw new ChainFailure(code, message, rolledBack, { ...this.status }, cause);
  }

  /** confirm an operation by GET, waking on hints, until it is in a state we act on */
  private async waitOp(opId: string): Promise<LcmOpOcc> {
    const hints = new OpHints(this.deps.callbacks, opId);
    try {
      for (;;) {
        const op = await this.call('get_op_occ', () => this.deps.tacker.getOpOcc(opId));
        if (TERMINAL.has(op.operationState)) return op;
        if (Date.now() > this.deadline) this.fail('TACKER_OPERATION_TIMEOUT', `${this.plan.vnfInstanceName}: operation ${opId} still ${op.operationState} after ${this.deps.timeoutMs} ms`);
        await hints.next(this.deps.pollMs);
      }
    } finally {
      hints.close();
    }
  }

  /** drive an instantiate operation to COMPLETED: retry FAILED_TEMP, then roll back */
  private async settle(opId: string): Promise<void> {
    let retries = 0;
    for (;;) {
      const op = await this.waitOp(opId);
      if (op.operationState === 'COMPLETED') return;
      const detail = op.error?.detail ?? op.error?.title ?? 'no error detail';
      if (op.operationState === 'FAILED_TEMP' && retries < this.deps.retries) {
        retries++;
        this.deps.log.warn({ vnf: this.plan.vnfInstanceName, opId, retries, detail }, 'instantiate FAILED_TEMP; retrying');
        // a retry is news for `events --follow`, not only for the log (issue 8, defect 9)
        this.deps.onMilestone?.('InstantiateRetried', `${this.plan.vnfInstanceName}: instantiate ${opId} FAILED_TEMP (${detail}); retry ${retries} of ${this.deps.retries}`);
        await this.call('retry', () => this.deps.tacker.retry(opId));
        continue;
      }
      if (op.operationState === 'FAILED_TEMP') {
        this.deps.log.warn({ vnf: this.plan.vnfInstanceName, opId, detail }, 'instantiate still failing; rolling back');
        await this.call('rollback', () => this.deps.tacker.rollback(opId));
        const after = await this.waitOp(opId);
        this.fail('TACKER_OPERATION_FAILED', `${this.plan.vnfInstanceName}: instantiate failed after ${retries} ${retries === 1 ? 'retry' : 'retries'} and was ${after.operationState === 'ROLLED_BACK' ? 'rolled back' : after.operationState}: ${detail}`, after.operationState === 'ROLLED_BACK');
      }
      this.fail('TACKER_OPERATION_FAILED', `${this.plan.vnfInstanceName}: instantiate ${op.operationState}: ${detail}`, op.operationState === 'ROLLED_BACK');
    }
  }

  /** one instance per VM: reuse by name; with several, keep the INSTANTIATED (else oldest) one */
  private async findOrCreate(writesAllowed: Promise<void>): Promise<VnfInstance> {
    const found = this.deps.existing
      ? (await this.deps.existing).filter((i) => i.vnfInstanceName === this.plan.vnfInstanceName)
      : await this.call('list_vnf_instances', () => this.deps.tacker.listVnfInstancesByName(this.plan.vnfInstanceName));
    await writesAllowed;
    if (found.length === 0) {
      const created = this.call('create_vnf_instance', () => this.deps.tacker.createVnfInstance(this.plan.create as unknown as Record<string, unknown>));
      this.deps.onCreateSent?.(this.plan.vnfInstanceName);
      this.deps.onInstanceDecided?.(); // the request is out: no need to wait for its answer
      return created;
    }
    const keep = found.find((i) => i.instantiationState === 'INSTANTIATED') ?? [...found].sort((a, b) => String(a.createdAt ?? a.id).localeCompare(String(b.createdAt ?? b.id)))[0]!;
    for (const extra of found.filter((i) => i.id !== keep.id)) {
      this.deps.log.warn({ vnf: this.plan.vnfInstanceName, id: extra.id }, 'deleting a duplicate VNF instance');
      await this.removeInstance(extra).catch((e: unknown) => this.deps.log.warn({ err: e, id: extra.id }, 'duplicate VNF instance not removed'));
    }
    return keep;
  }

  private async removeInstance(i: VnfInstance): Promise<void> {
    if (i.instantiationState === 'INSTANTIATED') {
      const opId = await this.call('terminate', () => this.deps.tacker.terminate(i.id, { terminationType: 'FORCEFUL' }));
      await this.waitOp(opId);
    }
    await this.call('delete_vnf_instance', () => this.deps.tacker.deleteVnfInstance(i.id));
  }

  private async instantiateIfNeeded(instance: VnfInstance): Promise<void> {
    if (instance.instantiationState === 'INSTANTIATED') return;
    // after a restart an operation may already be under way: wait on it instead of starting another
    const ops = this.deps.tacker.listOpOccs ? await this.call('list_op_occs', () => this.deps.tacker.listOpOccs!(instance.id)) : [];
    const inFlight = ops.find((o) => o.operation === 'INSTANTIATE' && ['STARTING', 'PROCESSING', 'FAILED_TEMP', 'ROLLING_BACK'].includes(o.operationState));
    const opId = inFlight?.id ?? (await this.call('instantiate', () => this.deps.tacker.instantiate(instance.id, this.plan.instantiate as unknown as Record<string, unknown>)));
    await this.settle(opId);
  }

  private async addressOf(instance: VnfInstance, serverId: string): Promise<string> {
    if (this.ms.vm?.fixedIp) return this.ms.vm.fixedIp;
    const fixed = (instance.instantiatedVnfInfo?.extCpInfo ?? [])
      .flatMap((cp) => cp.cpProtocolInfo ?? [])
      .flatMap((p) => p.ipOverEthernet?.ipAddresses ?? [])
      .flatMap((a) => a.addresses ?? []);
    if (fixed.length) return fixed[0]!;
    const addresses = await this.call('nova_get_server', () => this.deps.tacker.serverAddresses(serverId));
    const pick = addresses.find((a) => a.type === 'floating') ?? addresses.find((a) => a.type === 'fixed' && a.version === 4) ?? addresses[0];
    if (!pick) this.fail('NOVA_REQUEST_FAILED', `${this.plan.vnfInstanceName}: server ${serverId} has no address`);
    return pick.addr;
  }

  private async inject(vnfInstanceId: string, serverId: string, address: string): Promise<{ hostKey?: string; tokenExpiresAt?: string }> {
    const vm = this.ms.vm!;
    const injector = this.deps.injector;
    if (!injector) this.fail('INJECTION_FAILED', 'no injector is configured');
    if (vm.sidecar.injection === 'plugin') {
      // the plug-in injected before Tacker said COMPLETED: confirm it
      const list = await injector.listByVnfInstance(vnfInstanceId);
      const ok = list.find((i) => i.state === 'Succeeded');
      if (!ok) this.fail('INJECTION_FAILED', `${this.plan.vnfInstanceName}: Tacker reported COMPLETED but the injector has no successful injection for ${vnfInstanceId}`);
      return { ...(ok.hostKey ? { hostKey: ok.hostKey } : {}), ...(ok.tokenExpiresAt ? { tokenExpiresAt: ok.tokenExpiresAt } : {}) };
    }
    const prev = this.previous;
    if (prev?.sidecar === 'Succeeded' && prev.vnfInstanceId === vnfInstanceId && prev.address === address) {
      return { ...(prev.hostKey ? { hostKey: prev.hostKey } : {}), ...(prev.tokenExpiresAt ? { tokenExpiresAt: prev.tokenExpiresAt } : {}) };
    }
    const request = {
      vm: { address, port: vm.ssh.port, user: vm.ssh.user, credentials: { secretRef: { namespace: this.service.metadata.namespace, name: vm.ssh.credentialsSecret } }, hostKey: vm.ssh.hostKey, serverId },
      workload: { service: this.service.metadata.name, name: this.ms.name, version: this.ms.version, namespace: this.service.metadata.namespace },
      vnfInstanceId,
    };
    let { id } = await injector.create(request);
    this.progress({ sidecar: 'Pending' });
    for (;;) {
      const inj = await injector.get(id);
      if (!inj) {
        // the injector restarted and forgot it: every step is idempotent, so inject again
        ({ id } = await injector.create(request));
        continue;
      }
      if (inj.state !== this.status.sidecar) this.progress({ sidecar: inj.state });
      if (inj.state === 'Succeeded') return { ...(inj.hostKey ? { hostKey: inj.hostKey } : {}), ...(inj.tokenExpiresAt ? { tokenExpiresAt: inj.tokenExpiresAt } : {}) };
      if (inj.state === 'Failed') {
        // the injector's error is {code, message} (or a string from an older one)
        const e = inj.error as unknown;
        const text = typeof e === 'string' ? e : (e as { message?: string } | undefined)?.message;
        this.fail((inj.code as ConstructorParameters<typeof MixmeshError>[0] | undefined) ?? 'INJECTION_FAILED', `${this.plan.vnfInstanceName}: injection failed: ${inj.code ? `${inj.code}: ` : ''}${text ?? 'see the injector'}`);
      }
      if (Date.now() > this.deadline) this.fail('INJECTION_TIMEOUT', `${this.plan.vnfInstanceName}: injection still ${inj.state}`);
      await sleep(Math.min(250, this.deps.pollMs));
    }
  }

  workloadEntry(address: string): KubeObject {
    return workloadEntryFor(this.service, this.ms, this.plan.identity.index, address);
  }

  /**
   * Run the chain to a registered VM. `writesAllowed` resolves once the deploy's name check passed
   * (no Tacker write before it); `workloadGroupReady` once the VM's WorkloadGroup is applied.
   */
  async run(workloadGroupReady: Promise<void>, writesAllowed: Promise<void> = Promise.resolve()): Promise<VmInstanceStatus> {
    try {
      const instance = await this.findOrCreate(writesAllowed).finally(() => this.deps.onInstanceDecided?.());
      this.progress({ vnfInstanceId: instance.id });
      const fresh = instance.instantiationState !== 'INSTANTIATED';
      await this.instantiateIfNeeded(instance);
      const live = await this.call('get_vnf_instance', () => this.deps.tacker.getVnfInstance(instance.id));
      const vnfcs = live?.instantiatedVnfInfo?.vnfcResourceInfo ?? [];
      if (vnfcs.length !== 1) {
        await this.removeInstance(live ?? instance).catch(() => undefined);
        this.fail('VNF_SHAPE_UNSUPPORTED', `${this.plan.vnfInstanceName}: the VNF has ${vnfcs.length} VMs; mixmesh supports exactly one per VNF instance`);
      }
      const serverId = vnfcs[0]!.computeResource?.resourceId ?? vnfcs[0]!.id;
      const address = await this.addressOf(live!, serverId);
      this.progress({ serverId, address });
      if (fresh) this.deps.onMilestone?.('VmInstantiated', `${this.plan.vnfInstanceName}: VNF ${instance.id}, server ${serverId}, address ${address}`);
      await workloadGroupReady;
      const already = this.previous?.sidecar === 'Succeeded' && this.previous.vnfInstanceId === instance.id && this.previous.address === address;
      if (!already && this.deps.beforeInject) {
        await this.deps.beforeInject({ service: this.service, microservice: this.ms, index: this.plan.identity.index, vnfInstanceName: this.plan.vnfInstanceName, vnfInstanceId: instance.id, serverId, address })
          .catch((e: unknown) => this.deps.log.warn({ err: e instanceof Error ? e.message : String(e) }, 'before-inject hook failed'));
      }
      const injected = await this.inject(instance.id, serverId, address);
      this.progress({ sidecar: 'Succeeded', ...injected, lastError: undefined });
      const applied = await this.deps.applyObject(this.workloadEntry(address));
      if (!already || applied !== 'unchanged') this.deps.onMilestone?.('VmRegistered', `${this.plan.vnfInstanceName}: sidecar ready, WorkloadEntry ${this.ms.name}-${this.ms.version}-${this.plan.identity.index} → ${address}`);
      return { ...this.status };
    } catch (e) {
      if (e instanceof ChainFailure) throw e;
      const code = isMixmeshError(e) ? e.code : 'TACKER_REQUEST_FAILED';
      return this.fail(code, `${this.plan.vnfInstanceName}: ${(e as Error).message}`, false, e);
    }
  }
}
