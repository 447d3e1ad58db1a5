/**
 * Tacker VNF LCM v2 operations (the lower layer of TackerLcm, moved here unchanged from lcm.ts):
 * instances and their asynchronous operations with the full state machine (STARTING → PROCESSING →
 * COMPLETED | FAILED_TEMP → retry / rollback / fail), one VM per VDU instance through the
 * VmProvider seam, the mgmt driver, notifications. The routes are lcm.ts.
 */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { join } from 'node:path';
import { isAbsolute } from 'node:path';
import type { SandboxVm, VmProvider } from '../vms/types.js';
import type { Flavour } from './csar.js';
import { takeFailure, type Faults } from './faults.js';
import { HttpProblem, isoNow, problem, sleep, type ProblemDetails } from './http-util.js';
import { runMgmtDriver } from './mgmt-driver.js';
import type { Notifier, Subscription } from './notifier.js';
import type { PackageRecord, PackageStore } from './packages.js';

export const API_VERSION = '2.0.0';
export const VIM_TYPE = 'ETSINFV.OPENSTACK_KEYSTONE.V_3';
export const SANDBOX_NET = 'sandbox-net';

export interface Latencies {
  /** STARTING → PROCESSING of an instantiate (default 200 ms) */
  startingMs: number;
  /** PROCESSING → COMPLETED of an instantiate (default 1000 ms) */
  processingMs: number;
  /** a terminate, start to end (default 500 ms) */
  terminateMs: number;
  /** a new VM's sshd accepts after this (default 300 ms) */
  sshdMs: number;
}

export const DEFAULT_LATENCIES: Readonly<Latencies> = Object.freeze({ startingMs: 200, processingMs: 1000, terminateMs: 500, sshdMs: 300 });

export interface Vim {
  id: string;
  name: string;
  authUrl: string;
  region: string;
  projectName: string;
}

export interface MgmtDriverConfig {
  env: NodeJS.ProcessEnv;
  python: string;
  timeoutMs: number;
}

export type OpState = 'STARTING' | 'PROCESSING' | 'COMPLETED' | 'FAILED_TEMP' | 'FAILED' | 'ROLLING_BACK' | 'ROLLED_BACK';
export const ACTIVE: readonly OpState[] = ['STARTING', 'PROCESSING', 'FAILED_TEMP', 'ROLLING_BACK'];
export const INSTANCE_LIST_EXCLUDED = ['vnfConfigurableProperties', 'vimConnectionInfo', 'instantiatedVnfInfo', 'metadata', 'extensions'];
export const OP_LIST_EXCLUDED = ['operationParams', 'error', 'resourceChanges', 'changedInfo', 'changedExtConnectivity'];

export interface InstanceRec {
  view: Record<string, unknown> & { id: string; vnfdId: string; instantiationState: string; vnfInstanceName?: string };
  pkg: PackageRecord;
  vms: SandboxVm[];
  opId: string | undefined;
}

export interface OpRec {
  view: Record<string, unknown> & { id: string; operationState: OpState; operation: 'INSTANTIATE' | 'TERMINATE'; vnfInstanceId: string };
  /** VMs this operation created (rollback removes them) */
  created: SandboxVm[];
  /** instantiatedVnfInfo built in PROCESSING, applied at COMPLETED */
  pendingInfo?: Record<string, unknown>;
  vimConnectionInfo?: Record<string, unknown>;
  /** what the mgmt driver scripts of this operation left for a retry (Tacker keeps it on the op occ) */
  userScriptErrHandlingData: Record<string, unknown>;
  /** how the last script's stdout read as a pickle (tests look at it: Tacker itself stays silent) */
  mgmtStdoutKind?: string;
}

export interface CpConfig {
  cpConfigId: string;
  cpdId: string;
  extVirtualLinkId: string;
  fixedAddresses: string[];
  dynamic: boolean;
}

export interface LcmDeps {
  baseUrl: () => string;
  vmProvider: VmProvider;
  packages: PackageStore;
  notifier: Notifier;
  faults: Faults;
  latencies: Latencies;
  mgmt: MgmtDriverConfig;
  vims: Vim[];
  pageSize: number;
  /** serverId → server name, for Nova */
  serverNames: Map<string, string>;
}

export function isIpv4InSandbox(addr: string): boolean {
  const m = /^127\.0\.10\.(\d{1,3})$/.exec(addr);
  return m !== null && Number(m[1]) >= 1 && Number(m[1]) <= 254;
}

/** The requested external CP configurations, in request order. */
export function requestedCpConfigs(extVirtualLinks: unknown): CpConfig[] {
  const out: CpConfig[] = [];
  if (!Array.isArray(extVirtualLinks)) return out;
  for (const vl of extVirtualLinks as Record<string, unknown>[]) {
    for (const cp of Array.isArray(vl?.extCps) ? (vl.extCps as Record<string, unknown>[]) : []) {
      const cfgs = cp?.cpConfig && typeof cp.cpConfig === 'object' ? (cp.cpConfig as Record<string, Record<string, unknown>>) : {};
      for (const [key, cfg] of Object.entries(cfgs)) {
        const fixed: string[] = [];
        let dynamic = false;
        for (const pd of Array.isArray(cfg?.cpProtocolData) ? (cfg.cpProtocolData as Record<string, unknown>[]) : []) {
          const ipo = pd?.ipOverEthernet as { ipAddresses?: { fixedAddresses?: unknown; numDynamicAddresses?: unknown }[] } | undefined;
          for (const ip of ipo?.ipAddresses ?? []) {
            if (Array.isArray(ip.fixedAddresses)) fixed.push(...ip.fixedAddresses.filter((a): a is string => typeof a === 'string'));
            if (ip.numDynamicAddresses !== undefined) dynamic = true;
          }
        }
        out.push({ cpConfigId: key, cpdId: String(cp.cpdId ?? 'VDU1_CP1'), extVirtualLinkId: String(vl.id ?? ''), fixedAddresses: fixed, dynamic: dynamic || fixed.length === 0 });
      }
    }
  }
  return out;
}

export class TackerLcmOperations {
  readonly instances = new Map<string, InstanceRec>();
  readonly ops = new Map<string, OpRec>();
  protected readonly d: LcmDeps;
  protected stopped = false;
  protected readonly running = new Set<Promise<void>>();
  /** aborted on stop: latencies, fault delays and mgmt drivers end at once */
  protected readonly aborter = new AbortController();

  constructor(deps: LcmDeps) {
    // every operation and delivery in flight listens on this one signal: dozens at once is normal
    setMaxListeners(0, this.aborter.signal);
    this.d = deps;
  }

  /** Stop driving operations (sandbox stop) and wait for the ones in flight to notice. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.aborter.abort();
    await Promise.allSettled([...this.running]);
  }

  /** A latency that ends early when the emulator stops. */
  protected wait(ms: number): Promise<void> {
    return sleep(ms, this.aborter.signal);
  }

  protected url(path: string): string {
    return `${this.d.baseUrl()}/vnflcm/v2${path}`;
  }

  // ---------- views and notifications ----------

  protected instanceLinks(id: string, instantiated: boolean): Record<string, { href: string }> {
    const self = this.url(`/vnf_instances/${id}`);
    const links: Record<string, { href: string }> = { self: { href: self } };
    if (instantiated) {
      links.terminate = { href: `${self}/terminate` };
      links.scale = { href: `${self}/scale` };
      links.heal = { href: `${self}/heal` };
      links.changeExtConn = { href: `${self}/change_ext_conn` };
    } else {
      links.instantiate = { href: `${self}/instantiate` };
    }
    return links;
  }

  protected setOpState(op: OpRec, state: OpState, error?: ProblemDetails): void {
    op.view.operationState = state;
    op.view.stateEnteredTime = isoNow();
    if (error) op.view.error = error;
    const inst = this.instances.get(op.view.vnfInstanceId);
    if (inst && !ACTIVE.includes(state) && inst.opId === op.view.id) inst.opId = undefined;
    this.notifyOp(op, inst);
  }

  protected notifyOp(op: OpRec, inst: InstanceRec | undefined): void {
    const v = op.view;
    const subject = { vnfInstanceId: v.vnfInstanceId, vnfdId: inst?.view.vnfdId ?? '', vnfInstanceName: inst?.view.vnfInstanceName };
    const probe = { notificationType: 'VnfLcmOperationOccurrenceNotification', operation: v.operation, operationState: v.operationState };
    const snapshot = structuredClone(v);
    this.d.notifier.publish(subject, probe, (s: Subscription) => {
      const n: Record<string, unknown> = {
        id: randomUUID(),
        notificationType: 'VnfLcmOperationOccurrenceNotification',
        subscriptionId: s.id,
        timeStamp: isoNow(),
        notificationStatus: snapshot.operationState === 'STARTING' ? 'START' : 'RESULT',
        operationState: snapshot.operationState,
        vnfInstanceId: snapshot.vnfInstanceId,
        operation: snapshot.operation,
        isAutomaticInvocation: false,
        verbosity: s.verbosity,
        vnfLcmOpOccId: snapshot.id,
      };
      if (['FAILED_TEMP', 'FAILED', 'ROLLED_BACK'].includes(snapshot.operationState) && snapshot.error) n.error = snapshot.error;
      const rc = snapshot.resourceChanges as { affectedVnfcs?: unknown[] } | undefined;
      if (s.verbosity === 'FULL' && rc?.affectedVnfcs?.length && ['COMPLETED', 'FAILED_TEMP', 'FAILED', 'ROLLED_BACK'].includes(snapshot.operationState)) n.affectedVnfcs = rc.affectedVnfcs;
      n._links = {
        vnfInstance: { href: this.url(`/vnf_instances/${snapshot.vnfInstanceId}`) },
        subscription: { href: this.url(`/subscriptions/${s.id}`) },
        vnfLcmOpOcc: { href: this.url(`/vnf_lcm_op_occs/${snapshot.id}`) },
      };
      return n;
    });
  }

  protected notifyIdentifier(type: 'VnfIdentifierCreationNotification' | 'VnfIdentifierDeletionNotification', inst: InstanceRec): void {
    const subject = { vnfInstanceId: inst.view.id, vnfdId: inst.view.vnfdId, vnfInstanceName: inst.view.vnfInstanceName };
    this.d.notifier.publish(subject, { notificationType: type }, (s) => ({
      id: randomUUID(),
      notificationType: type,
      subscriptionId: s.id,
      timeStamp: isoNow(),
      vnfInstanceId: inst.view.id,
      _links: { vnfInstance: { href: this.url(`/vnf_instances/${inst.view.id}`) }, subscription: { href: this.url(`/subscriptions/${s.id}`) } },
    }));
  }

  // ---------- lookups ----------

  protected inst(id: string): InstanceRec {
    const i = this.instances.get(id);
    if (!i) throw new HttpProblem(404, `VnfInstance ${id} not found.`);
    return i;
  }

  protected op(id: string): OpRec {
    const o = this.ops.get(id);
    if (!o) throw new HttpProblem(404, `VnfLcmOpOcc ${id} not found.`);
    return o;
  }

  protected busy(inst: InstanceRec): void {
    if (!inst.opId) return;
    const o = this.ops.get(inst.opId);
    if (o && ACTIVE.includes(o.view.operationState)) {
      throw new HttpProblem(409, `Other LCM operation of vnfInstance ${inst.view.id} is in progress (${o.view.operation} ${o.view.id} is ${o.view.operationState}).`);
    }
  }

  protected flavour(inst: InstanceRec, flavourId: string): Flavour {
    const fl = inst.pkg.vnfd?.flavours.find((f) => f.flavourId === flavourId);
    if (!fl) throw new HttpProblem(400, `flavourId "${flavourId}" is not a flavour of VNFD ${inst.view.vnfdId} (flavours: ${inst.pkg.vnfd?.flavours.map((f) => f.flavourId).join(', ')})`);
    return fl;
  }

  protected newOp(inst: InstanceRec, operation: 'INSTANTIATE' | 'TERMINATE', params: Record<string, unknown>): OpRec {
    const id = randomUUID();
    const now = isoNow();
    const op: OpRec = {
      view: {
        id, operationState: 'STARTING', stateEnteredTime: now, startTime: now, vnfInstanceId: inst.view.id, grantId: randomUUID(), operation, isAutomaticInvocation: false,
        operationParams: params, isCancelPending: false,
        _links: {
          self: { href: this.url(`/vnf_lcm_op_occs/${id}`) }, vnfInstance: { href: this.url(`/vnf_instances/${inst.view.id}`) },
          retry: { href: this.url(`/vnf_lcm_op_occs/${id}/retry`) }, rollback: { href: this.url(`/vnf_lcm_op_occs/${id}/rollback`) }, fail: { href: this.url(`/vnf_lcm_op_occs/${id}/fail`) },
        },
      },
      created: [],
      userScriptErrHandlingData: {},
    };
    this.ops.set(id, op);
    inst.opId = id;
    return op;
  }

  protected drive(fn: () => Promise<void>): void {
    const p = fn().catch(() => undefined);
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }

  // ---------- instantiate ----------

  protected checkInstantiateRequest(inst: InstanceRec, body: Record<string, unknown>): { flavour: Flavour; level: string; vimConnectionInfo: Record<string, unknown> } {
    if (typeof body.flavourId !== 'string') throw new HttpProblem(400, 'flavourId is required (a string)');
    const flavour = this.flavour(inst, body.flavourId);
    const level = body.instantiationLevelId ?? flavour.defaultLevel;
    if (typeof level !== 'string' || !(level in flavour.levels)) throw new HttpProblem(400, `instantiationLevelId ${JSON.stringify(body.instantiationLevelId)} is not a level of flavour ${flavour.flavourId} (levels: ${Object.keys(flavour.levels).join(', ')})`);
    if (body.extVirtualLinks !== undefined && !Array.isArray(body.extVirtualLinks)) throw new HttpProblem(400, 'extVirtualLinks must be an array');
    if (body.additionalParams !== undefined && (typeof body.additionalParams !== 'object' || body.additionalParams === null || Array.isArray(body.additionalParams))) throw new HttpProblem(400, 'additionalParams must be an object');
    let vci: Record<string, unknown>;
    if (body.vimConnectionInfo !== undefined) {
      if (typeof body.vimConnectionInfo !== 'object' || body.vimConnectionInfo === null || Array.isArray(body.vimConnectionInfo)) {
        throw new HttpProblem(400, 'vimConnectionInfo must be a map keyed by a name of your choice: {"<name>": {"vimId", "vimType"}}');
      }
      vci = {};
      for (const [k, v] of Object.entries(body.vimConnectionInfo as Record<string, Record<string, unknown>>)) {
        if (!v || typeof v !== 'object' || typeof v.vimType !== 'string') throw new HttpProblem(400, `vimConnectionInfo.${k}.vimType is required ("${VIM_TYPE}")`);
        if (v.vimId !== undefined && !this.d.vims.some((x) => x.id === v.vimId)) throw new HttpProblem(422, `VIM ${String(v.vimId)} (vimConnectionInfo.${k}.vimId) is not registered`);
        // like Tacker, never echo credentials from accessInfo
        const access = v.accessInfo && typeof v.accessInfo === 'object' ? Object.fromEntries(Object.entries(v.accessInfo as Record<string, unknown>).filter(([ak]) => !/password|secret|token/i.test(ak))) : undefined;
        vci[k] = { ...v, ...(access ? { accessInfo: access } : {}) };
      }
    } else {
      const vim = this.d.vims[0] as Vim;
      vci = { default: { vimId: vim.id, vimType: VIM_TYPE, interfaceInfo: { endpoint: vim.authUrl }, accessInfo: { region: vim.region, project: vim.projectName, projectDomain: 'Default', userDomain: 'Default' } } };
    }
    return { flavour, level, vimConnectionInfo: vci };
  }

  protected async instantiateProcessing(op: OpRec, inst: InstanceRec): Promise<void> {
    const params = op.view.operationParams as Record<string, unknown>;
    const flavour = this.flavour(inst, params.flavourId as string);
    const level = (params.instantiationLevelId as string | undefined) ?? flavour.defaultLevel;
    const count = flavour.levels[level] ?? 1;
    const vimKey = Object.keys(op.vimConnectionInfo ?? { default: 1 })[0] as string;
    const cps = requestedCpConfigs(params.extVirtualLinks);
    const delay = this.d.faults.delayMs.INSTANTIATE ?? 0;
    const vdu = flavour.vdus[0] as string;

    // the VMs: reuse what an earlier attempt created (retry), create the rest
    const wanted = Array.from({ length: count }, (_, i) => i);
    const create = async (): Promise<void> => {
      for (const i of wanted) {
        if (op.created[i]) continue;
        // the i-th requested external CP configuration belongs to the i-th VM
        const cp = cps[i];
        const fixed = cp?.fixedAddresses[0];
        if (fixed !== undefined) {
          if (!isIpv4InSandbox(fixed)) throw new HttpProblem(422, `fixedAddresses ${fixed} (cpConfig ${cp?.cpConfigId}) is outside the sandbox network 127.0.10.0/24`, 'Fixed address not available');
          if (this.d.vmProvider.list().some((v) => v.address === fixed)) throw new HttpProblem(422, `fixedAddresses ${fixed} (cpConfig ${cp?.cpConfigId}) is already in use`, 'Fixed address not available');
        }
        const serverId = randomUUID();
        const name = `${vdu}-${inst.view.id.slice(0, 8)}-${i}`;
        this.d.serverNames.set(serverId, name);
        const image = flavour.vduImages?.[vdu];
        const vm = await this.d.vmProvider.create({ serverId, name, fixedAddress: fixed, sshdDelayMs: this.d.faults.slowSshdMs ?? this.d.latencies.sshdMs, ...(image ? { image } : {}) });
        op.created[i] = vm;
      }
    };
    const [made] = await Promise.allSettled([create(), this.wait(this.d.latencies.processingMs + delay)]);
    if (this.stopped) return;
    if (made.status === 'rejected') {
      const e = made.reason as unknown;
      this.setOpState(op, 'FAILED_TEMP', e instanceof HttpProblem ? e.problem : problem(500, `server creation failed: ${e instanceof Error ? e.message : String(e)}`, 'Stack create failed'));
      return;
    }
    const injected = takeFailure(this.d.faults, 'INSTANTIATE', 'processing');
    if (injected) {
      this.setOpState(op, 'FAILED_TEMP', injected);
      return;
    }

    // instantiatedVnfInfo as Tacker reports it
    const vms = op.created.slice(0, count);
    const extCpInfo: Record<string, unknown>[] = [];
    const vnfcResourceInfo = vms.map((vm, i) => {
      const cpId = `${vdu}_CP1-${vm.serverId}`;
      const cp = cps[i];
      const vnfcCp: Record<string, unknown> = { id: cpId, cpdId: `${vdu}_CP1` };
      if (cp) {
        const extId = `${cp.cpConfigId}-${vm.serverId}`;
        vnfcCp.vnfExtCpId = extId;
        extCpInfo.push({
          id: extId,
          cpdId: cp.cpdId,
          cpConfigId: cp.cpConfigId,
          cpProtocolInfo: [{ layerProtocol: 'IP_OVER_ETHERNET', ipOverEthernet: { ipAddresses: [cp.fixedAddresses.length ? { type: 'IPV4', addresses: cp.fixedAddresses.slice(0, 1) } : { type: 'IPV4', isDynamic: true }] } }],
          extLinkPortId: randomUUID(),
          associatedVnfcCpId: cpId,
        });
      }
      return {
        id: vm.serverId,
        vduId: vdu,
        computeResource: { vimConnectionId: vimKey, resourceId: vm.serverId, vimLevelResourceType: 'OS::Nova::Server' },
        vnfcCpInfo: [vnfcCp],
        metadata: { creation_time: isoNow(), stack_id: `vnf-${inst.view.id}/${randomUUID()}`, vdu_idx: i, flavor: 'sandbox.small', image: vm.image ?? 'sandbox-busybox' },
      };
    });
    const info: Record<string, unknown> = {
      flavourId: flavour.flavourId,
      vnfState: 'STARTED',
      instantiationLevelId: level,
      ...(extCpInfo.length ? { extCpInfo } : {}),
      vnfcResourceInfo,
      vnfcInfo: vms.map((vm) => ({ id: `${vdu}-${vm.serverId}`, vduId: vdu, vnfcResourceInfoId: vm.serverId, vnfcState: 'STARTED' })),
      metadata: { stack_id: `vnf-${inst.view.id}` },
    };
    op.pendingInfo = info;
    op.view.resourceChanges = {
      affectedVnfcs: vms.map((vm) => ({ id: vm.serverId, vduId: vdu, changeType: 'ADDED', computeResource: { vimConnectionId: vimKey, resourceId: vm.serverId, vimLevelResourceType: 'OS::Nova::Server' } })),
    };

    // the mgmt driver, after the VMs exist and before COMPLETED
    const script = inst.pkg.instantiateEndOverride ?? (flavour.instantiateEnd && inst.pkg.csarDir ? (isAbsolute(flavour.instantiateEnd) ? flavour.instantiateEnd : join(inst.pkg.csarDir, 'Definitions', flavour.instantiateEnd)) : undefined);
    if (script) {
      const instanceForDriver = { ...structuredClone(inst.view), instantiationState: 'INSTANTIATED', instantiatedVnfInfo: info, vimConnectionInfo: op.vimConnectionInfo };
      const grantRequest = {
        vnfInstanceId: inst.view.id, vnfLcmOpOccId: op.view.id, vnfdId: inst.view.vnfdId, flavourId: flavour.flavourId, operation: 'INSTANTIATE', isAutomaticInvocation: false,
        instantiationLevelId: level, addResources: vms.map((vm) => ({ id: vm.serverId, type: 'COMPUTE', resourceTemplateId: vdu })),
        _links: { vnfLcmOpOcc: { href: this.url(`/vnf_lcm_op_occs/${op.view.id}`) }, vnfInstance: { href: this.url(`/vnf_instances/${inst.view.id}`) } },
      };
      const grantResponse = { id: op.view.grantId, vnfInstanceId: inst.view.id, vnfLcmOpOccId: op.view.id, vimConnectionInfo: op.vimConnectionInfo, addResources: grantRequest.addResources.map((r) => ({ resourceDefinitionId: r.id })) };
      let fail: ProblemDetails | undefined;
      try {
        const r = await runMgmtDriver(script, {
          operation: 'instantiate_end', request: params, vnf_instance: instanceForDriver, grant_request: grantRequest, grant_response: grantResponse, tmp_csar_dir: inst.pkg.csarDir ?? '',
          user_script_err_handling_data: op.userScriptErrHandlingData,
        }, { env: this.d.mgmt.env, python: this.d.mgmt.python, timeoutMs: this.d.mgmt.timeoutMs, signal: this.aborter.signal });
        // as the conductor: a pickled dict's user_script_err_handling_data is merged and kept
        if (r.userScriptErrHandlingData) Object.assign(op.userScriptErrHandlingData, r.userScriptErrHandlingData);
        op.mgmtStdoutKind = r.stdoutKind;
        if (r.exitCode !== 0) fail = problem(422, `instantiate_end failed: ${r.timedOut ? 'timed out' : r.stderr}`, 'Mgmt driver execution failed');
      } catch (e) {
        fail = problem(422, `instantiate_end failed: ${e instanceof Error ? e.message : String(e)}`, 'Mgmt driver execution failed');
      }
      if (this.stopped) return;
      if (fail) {
        this.setOpState(op, 'FAILED_TEMP', fail);
        return;
      }
    }

    inst.vms = vms;
    inst.view.instantiationState = 'INSTANTIATED';
    inst.view.instantiatedVnfInfo = info;
    inst.view.vimConnectionInfo = op.vimConnectionInfo;
    inst.view._links = this.instanceLinks(inst.view.id, true);
    delete op.view.error;
    this.setOpState(op, 'COMPLETED');
  }

  protected async runInstantiate(op: OpRec, inst: InstanceRec): Promise<void> {
    await this.wait(this.d.latencies.startingMs);
    if (this.stopped) return;
    const grant = takeFailure(this.d.faults, 'INSTANTIATE', 'grant');
    if (grant) {
      // a refused grant: Tacker goes straight to ROLLED_BACK
      this.setOpState(op, 'ROLLED_BACK', grant);
      return;
    }
    this.setOpState(op, 'PROCESSING');
    await this.instantiateProcessing(op, inst);
  }

  // ---------- terminate ----------

  protected async terminateProcessing(op: OpRec, inst: InstanceRec): Promise<void> {
    await this.wait(this.d.latencies.terminateMs + (this.d.faults.delayMs.TERMINATE ?? 0));
    if (this.stopped) return;
    const injected = takeFailure(this.d.faults, 'TERMINATE', 'processing');
    if (injected) {
      this.setOpState(op, 'FAILED_TEMP', injected);
      return;
    }
    const vimKey = Object.keys((inst.view.vimConnectionInfo as Record<string, unknown> | undefined) ?? { default: 1 })[0] as string;
    const info = inst.view.instantiatedVnfInfo as { vnfcResourceInfo?: { id: string; vduId: string }[] } | undefined;
    op.view.resourceChanges = {
      affectedVnfcs: (info?.vnfcResourceInfo ?? []).map((r) => ({ id: r.id, vduId: r.vduId, changeType: 'REMOVED', computeResource: { vimConnectionId: vimKey, resourceId: r.id, vimLevelResourceType: 'OS::Nova::Server' } })),
    };
    for (const vm of inst.vms) {
      await this.d.vmProvider.remove(vm.serverId).catch(() => undefined);
      this.d.serverNames.delete(vm.serverId);
    }
    inst.vms = [];
    inst.view.instantiationState = 'NOT_INSTANTIATED';
    delete inst.view.instantiatedVnfInfo;
    inst.view._links = this.instanceLinks(inst.view.id, false);
    delete op.view.error;
    this.setOpState(op, 'COMPLETED');
  }

  protected async runTerminate(op: OpRec, inst: InstanceRec): Promise<void> {
    await this.wait(0);
    if (this.stopped) return;
    this.setOpState(op, 'PROCESSING');
    await this.terminateProcessing(op, inst);
  }

  protected async removeVms(vms: readonly SandboxVm[]): Promise<void> {
    for (const vm of vms) {
      if (!vm) continue;
      await this.d.vmProvider.remove(vm.serverId).catch(() => undefined);
      this.d.serverNames.delete(vm.serverId);
    }
  }
}
