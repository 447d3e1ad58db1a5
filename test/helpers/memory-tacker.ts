/**
 * An in-memory Tacker + Nova for unit tests of the controller: VNF instances, LCM operations that
 * move STARTING → PROCESSING → COMPLETED on timers, FAILED_TEMP on demand, retry/rollback,
 * terminate/delete, notifications through a callback (which tests may drop, duplicate or reorder).
 * The e2e tests use the sandbox's HTTP emulator instead.
 */
import { randomUUID } from 'node:crypto';
import { MixmeshError } from '../../common/errors.js';
import type { LcmOpOcc, OperationState, ProblemDetails, SubscriptionRequest, TackerPort, VnfInstance } from '../../orchestrator/ports.js';

export class MemoryTacker implements TackerPort {
  readonly instances = new Map<string, VnfInstance & { createdAt: number }>();
  readonly ops = new Map<string, LcmOpOcc>();
  readonly subscriptions = new Map<string, SubscriptionRequest & { id: string }>();
  packages: { vnfdId: string; onboardingState: string; operationalState: string }[] = [];
  vims = new Set<string>();
  /** instance name → how many more instantiate attempts fail (Infinity: always) */
  readonly failures = new Map<string, number>();
  /** instance name → VMs per instance (default 1) */
  readonly vmsPerInstance = new Map<string, number>();
  latencyMs = 2;
  calls: { call: string; name?: string; at: number }[] = [];
  notify: ((n: Record<string, unknown>) => void) | undefined;
  private address = 10;

  private bump(op: LcmOpOcc, state: OperationState, error?: ProblemDetails): void {
    op.operationState = state;
    if (error) op.error = error;
    else delete op.error;
    this.notify?.({ notificationType: 'VnfLcmOperationOccurrenceNotification', vnfLcmOpOccId: op.id, vnfInstanceId: op.vnfInstanceId, operationState: state, operation: op.operation });
  }

  private later(fn: () => void, times = 1): void {
    setTimeout(fn, this.latencyMs * times).unref();
  }

  private inst(id: string): VnfInstance & { createdAt: number } {
    const i = this.instances.get(id);
    if (!i) throw new MixmeshError('TACKER_REQUEST_FAILED', `vnf instance ${id} not found`, { status: 404 });
    return i;
  }

  private busy(id: string): boolean {
    return [...this.ops.values()].some((o) => o.vnfInstanceId === id && ['STARTING', 'PROCESSING', 'FAILED_TEMP', 'ROLLING_BACK'].includes(o.operationState));
  }

  async listVnfInstancesByName(name: string): Promise<VnfInstance[]> {
    this.calls.push({ call: 'list', name, at: Date.now() });
    return [...this.instances.values()].filter((i) => i.vnfInstanceName === name).map((i) => structuredClone(i));
  }

  async listVnfInstancesByNames(names: readonly string[]): Promise<VnfInstance[]> {
    this.calls.push({ call: 'list', name: names.join(','), at: Date.now() });
    return [...this.instances.values()].filter((i) => names.includes(String(i.vnfInstanceName))).map((i) => structuredClone(i));
  }

  async getVnfInstance(id: string): Promise<VnfInstance | undefined> {
    const i = this.instances.get(id);
    return i ? structuredClone(i) : undefined;
  }

  async createVnfInstance(body: Record<string, unknown>): Promise<VnfInstance> {
    this.calls.push({ call: 'create', name: String(body.vnfInstanceName), at: Date.now() });
    const i = { id: randomUUID(), vnfInstanceName: String(body.vnfInstanceName), vnfdId: String(body.vnfdId), instantiationState: 'NOT_INSTANTIATED' as const, metadata: (body.metadata ?? {}) as Record<string, unknown>, createdAt: Date.now() + this.instances.size };
    this.instances.set(i.id, i);
    return structuredClone(i);
  }

  private runInstantiate(i: VnfInstance, op: LcmOpOcc): void {
    this.later(() => {
      this.bump(op, 'PROCESSING');
      this.later(() => {
        const left = this.failures.get(i.vnfInstanceName!) ?? 0;
        if (left > 0) {
          this.failures.set(i.vnfInstanceName!, left - 1);
          this.bump(op, 'FAILED_TEMP', { status: 500, title: 'Heat stack failed', detail: `injected failure for ${i.vnfInstanceName}` });
          return;
        }
        const n = this.vmsPerInstance.get(i.vnfInstanceName!) ?? 1;
        const servers = Array.from({ length: n }, () => randomUUID());
        i.instantiationState = 'INSTANTIATED';
        i.instantiatedVnfInfo = {
          vnfState: 'STARTED',
          vnfcResourceInfo: servers.map((s) => ({ id: s, vduId: 'VDU1', computeResource: { resourceId: s, vimLevelResourceType: 'OS::Nova::Server' } })),
          extCpInfo: [{ id: 'cp1', cpProtocolInfo: [{ ipOverEthernet: { ipAddresses: [{ type: 'IPV4', isDynamic: true }] } }] }],
        };
        (i as Record<string, unknown>).servers = servers.map((s) => ({ id: s, addr: `10.0.0.${this.address++}` }));
        this.bump(op, 'COMPLETED');
      });
    });
  }

  async instantiate(id: string, _body: Record<string, unknown>): Promise<string> {
    const i = this.inst(id);
    this.calls.push({ call: 'instantiate', name: i.vnfInstanceName!, at: Date.now() });
    if (i.instantiationState === 'INSTANTIATED' || this.busy(id)) throw new MixmeshError('TACKER_REQUEST_FAILED', `instance ${id} is instantiated or busy`, { status: 409 });
    const op: LcmOpOcc = { id: randomUUID(), operationState: 'STARTING', vnfInstanceId: id, operation: 'INSTANTIATE' };
    this.ops.set(op.id, op);
    this.bump(op, 'STARTING');
    this.runInstantiate(i, op);
    return op.id;
  }

  async terminate(id: string, _body: Record<string, unknown>): Promise<string> {
    const i = this.inst(id);
    this.calls.push({ call: 'terminate', name: i.vnfInstanceName!, at: Date.now() });
    if (i.instantiationState !== 'INSTANTIATED' || this.busy(id)) throw new MixmeshError('TACKER_REQUEST_FAILED', `instance ${id} is not instantiated or busy`, { status: 409 });
    const op: LcmOpOcc = { id: randomUUID(), operationState: 'STARTING', vnfInstanceId: id, operation: 'TERMINATE' };
    this.ops.set(op.id, op);
    this.later(() => {
      this.bump(op, 'PROCESSING');
      i.instantiationState = 'NOT_INSTANTIATED';
      delete i.instantiatedVnfInfo;
      this.bump(op, 'COMPLETED');
    });
    return op.id;
  }

  async deleteVnfInstance(id: string): Promise<void> {
    const i = this.inst(id);
    this.calls.push({ call: 'delete', name: i.vnfInstanceName!, at: Date.now() });
    if (i.instantiationState === 'INSTANTIATED') throw new MixmeshError('TACKER_REQUEST_FAILED', `instance ${id} is instantiated`, { status: 409 });
    this.instances.delete(id);
  }

  async getOpOcc(id: string): Promise<LcmOpOcc> {
    const op = this.ops.get(id);
    if (!op) throw new MixmeshError('TACKER_REQUEST_FAILED', `op ${id} not found`, { status: 404 });
    return structuredClone(op);
  }

  async listOpOccs(vnfInstanceId: string): Promise<LcmOpOcc[]> {
    return [...this.ops.values()].filter((o) => o.vnfInstanceId === vnfInstanceId).map((o) => structuredClone(o));
  }

  async retry(opId: string): Promise<void> {
    const op = this.ops.get(opId);
    if (!op || op.operationState !== 'FAILED_TEMP') throw new MixmeshError('TACKER_REQUEST_FAILED', `op ${opId} is not FAILED_TEMP`, { status: 409 });
    this.calls.push({ call: 'retry', at: Date.now() });
    this.bump(op, 'PROCESSING');
    this.runInstantiate(this.inst(op.vnfInstanceId), op);
  }

  async rollback(opId: string): Promise<void> {
    const op = this.ops.get(opId);
    if (!op || op.operationState !== 'FAILED_TEMP') throw new MixmeshError('TACKER_REQUEST_FAILED', `op ${opId} is not FAILED_TEMP`, { status: 409 });
    this.calls.push({ call: 'rollback', at: Date.now() });
    const error = op.error;
    this.bump(op, 'ROLLING_BACK', error);
    this.later(() => this.bump(op, 'ROLLED_BACK', error));
  }

  async listPackagesByVnfd(vnfdId: string): Promise<{ onboardingState: string; operationalState: string }[]> {
    return this.packages.filter((p) => p.vnfdId === vnfdId);
  }

  async vimExists(vimId: string): Promise<boolean> {
    return this.vims.has(vimId);
  }

  async serverAddresses(serverId: string): Promise<{ addr: string; type: 'fixed' | 'floating'; version: number }[]> {
    for (const i of this.instances.values()) {
      const s = ((i as Record<string, unknown>).servers as { id: string; addr: string }[] | undefined)?.find((x) => x.id === serverId);
      if (s) return [{ addr: s.addr, type: 'fixed', version: 4 }];
    }
    throw new MixmeshError('NOVA_REQUEST_FAILED', `server ${serverId} not found`, { status: 404 });
  }

  async listSubscriptions(): Promise<{ id: string; callbackUri: string }[]> {
    return [...this.subscriptions.values()].map((s) => ({ id: s.id, callbackUri: s.callbackUri }));
  }

  async createSubscription(body: SubscriptionRequest): Promise<{ id: string }> {
    const id = randomUUID();
    this.subscriptions.set(id, { ...structuredClone(body), id });
    return { id };
  }

  async deleteSubscription(id: string): Promise<void> {
    this.subscriptions.delete(id);
  }
}
