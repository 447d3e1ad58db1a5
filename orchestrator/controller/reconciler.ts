/**
 * Reconcile one MeshService (docs/descriptor.md "What a descriptor becomes", apply order; docs/kubernetes.md
 * status): validate → name check → namespace → SAs/PeerAuthentications/AuthorizationPolicies →
 * workloads (+ readiness) while the VM chains run in parallel from the very start → DestinationRules
 * → VirtualServices once their versions are ready → prune. Every write is skipped when the live
 * object already holds what we generate, so an unchanged service writes nothing.
 */
import { MixmeshError, isMixmeshError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { ANNOTATION_CREATED_BY, serviceSelector } from '../../common/labels.js';
import type { MeshService, Microservice } from '../../descriptor/types.js';
import type { CallbackAuthority } from '../callbacks.js';
import { Applier, boundedAll, isReady, objectKey, type ApplyPort } from '../../clients/kube/index.js';
import { KINDS, PRUNABLE_KINDS, phaseOf, type KindInfo } from '../../mesh-config/index.js';
import { checkNameConflicts, refOf, releaseNames } from '../conflicts.js';
import { EVENT_API_VERSION } from '../events.js';
import { EventRecorder } from './event-series.js';
import type { OrchestratorMetrics } from '../metrics.js';
import {
  FINALIZER, MESH_KIND,
  type Condition, type Generators, type InjectorPort, type KubeObject, type KubePort, type MeshServiceResource,
  type MicroserviceStatus, type Phase, type TackerPlan, type TackerPort, type VmInstanceStatus,
} from '../ports.js';
import type { OperationLog } from '../services.js';
import { descriptorOf, operationId } from '../resources.js';
import { Run, StepFailure, gate, setCondition, summarize } from './run.js';
import { ChainFailure, VmChain, workloadEntryFor, type VmChainDeps } from './vm-chain.js';

export interface ReconcilerOptions {
  tackerRetries: number;
  tackerPollMs: number;
  vmTimeoutMs: number;
  readyTimeoutMs: number;
  /** how often to look at a Deployment while waiting for it */
  readyPollMs?: number;
}

export interface ReconcilerDeps {
  kube: KubePort;
  tacker?: TackerPort | undefined;
  injector?: InjectorPort | undefined;
  generators: Generators;
  callbacks: CallbackAuthority;
  operations: OperationLog;
  metrics: OrchestratorMetrics;
  log: Logger;
  options: ReconcilerOptions;
  /** bench hook: every VNF create request sent */
  onCreateSent?: (name: string, at: number) => void;
  /** bench hook: every WorkloadEntry written */
  onWorkloadEntry?: (name: string, at: number) => void;
  /** before a fresh VM injection (backup: restored data dirs go in before the sidecar starts) */
  beforeInject?: VmChainDeps['beforeInject'];
}

/** teardown: the mesh objects and WorkloadEntries before the VNFs, the Kubernetes workloads after (kind table) */
const TEARDOWN_MESH = PRUNABLE_KINDS.filter((k) => k.file === 'mesh');
const TEARDOWN_WORKLOADS = PRUNABLE_KINDS.filter((k) => k.file === 'kubernetes');
/** what may remain in a namespace we created for it still to count as empty */
const NAMESPACE_LEFTOVERS = new Set(['ServiceAccount/default', 'ConfigMap/kube-root-ca.crt', 'ConfigMap/istio-ca-root-cert']);

const vmKey = (name: string, version: string): string => `${name}/${version}`;
const instanceKey = (name: string, version: string, index: number): string => `${name}/${version}/${index}`;

/** how long a deploy's Kubernetes writes wait for the VM create requests to be sent at most */
const VM_HEAD_START_MS = 3000;

/** what one rollout of a generation works with */
interface Rollout {
  run: Run;
  resource: MeshServiceResource;
  service: MeshService;
  objects: KubeObject[];
  plans: TackerPlan[];
  planned: ReadonlySet<string>;
  conditions: Condition[];
  generation: number;
  started: number;
  log: Logger;
}

export class Reconciler {
  readonly applier: Applier;
  readonly events: EventRecorder;

  constructor(readonly deps: ReconcilerDeps) {
    this.applier = new Applier(deps.kube as ApplyPort, { log: deps.log });
    this.events = new EventRecorder(deps.kube, deps.log);
  }

  /** decide what one look at a MeshService needs; returns true when it did some work */
  async reconcile(resource: MeshServiceResource, reason: 'event' | 'resync'): Promise<void> {
    if (resource.metadata.deletionTimestamp) {
      await this.teardown(resource);
      return;
    }
    const generation = resource.metadata.generation ?? 1;
    const st = resource.status;
    const seen = st?.observedGeneration === generation;
    // a Failed generation waits for a new one; a Ready one is only checked for drift
    if (seen && st?.phase === 'Failed') return;
    if (!(resource.metadata.finalizers ?? []).includes(FINALIZER)) {
      // written with kubectl: add our finalizer first, so a delete always tears down
      await this.deps.kube.setFinalizers(resource, [...(resource.metadata.finalizers ?? []), FINALIZER]);
      return; // the update comes back as an event
    }
    await this.deploy(resource, seen && (st?.phase === 'Ready' || st?.phase === 'Degraded') ? 'check' : 'deploy', reason);
  }

  /**
   * One look at a service, as named steps: validate (an invalid descriptor fails and changes
   * nothing), then either check a deployed generation for drift, or roll a new one out.
   */
  private async deploy(resource: MeshServiceResource, mode: 'deploy' | 'check', _reason: string): Promise<void> {
    const started = Date.now();
    const run = new Run(this, resource, operationId(resource));
    const log = this.deps.log.child({ service: `${resource.metadata.namespace}/${resource.metadata.name}`, generation: resource.metadata.generation, mode });
    const generation = resource.metadata.generation ?? 1;
    let conditions = resource.status?.conditions ?? [];

    // 1. validate: invalid → Failed, Valid=False, nothing changes
    const result = this.deps.generators.validate(descriptorOf(resource));
    if (!result.ok) return this.refuseInvalid(run, result.problems, conditions, generation);
    const service = result.value;
    conditions = setCondition(conditions, 'Valid', 'True', 'DescriptorValid', 'the descriptor is valid');
    const objects = this.deps.generators.render(service);
    const plans = this.deps.tacker || service.spec.microservices.some((m) => m.runtime === 'vm') ? this.deps.generators.planTacker(service) : [];
    const planned = new Set(plans.map((p) => instanceKey(p.identity.name, p.identity.version, p.identity.index)));
    if (mode === 'check') return this.checkDrift(run, resource, service, objects, planned, conditions);
    await this.rollout({ run, resource, service, objects, plans, planned, conditions, generation, started, log });
  }

  /** an invalid descriptor: Failed, Valid=False, one Warning; nothing else changes */
  private async refuseInvalid(run: Run, problems: readonly { pointer: string; message: string }[], conditions: Condition[], generation: number): Promise<void> {
    const lines = problems.map((p) => `${p.pointer}: ${p.message}`).join('\n');
    const failed = setCondition(setCondition(conditions, 'Valid', 'False', 'DescriptorInvalid', lines), 'Ready', 'False', 'DescriptorInvalid', 'the descriptor is invalid');
    run.finish('Failed', { code: 'DESCRIPTOR_INVALID', message: lines });
    await run.saveStatus({ phase: 'Failed', observedGeneration: generation, conditions: failed });
    await run.event('Warning', 'DescriptorInvalid', 'Validate', lines);
    this.deps.metrics.operations.inc({ result: 'Failed' });
  }

  /** a deployed generation: level-triggered repair of drift; writes only what differs, records nothing when nothing does */
  private async checkDrift(run: Run, resource: MeshServiceResource, service: MeshService, objects: KubeObject[], planned: ReadonlySet<string>, conditions: Condition[]): Promise<void> {
    // the WorkloadEntries of registered VMs the descriptor still has (never one of an instance scaled away)
    const entries = service.spec.microservices.flatMap((m) => (resource.status?.microservices ?? [])
      .filter((st) => st.name === m.name && st.version === m.version)
      .flatMap((st) => (st.instances ?? []).filter((i) => planned.has(instanceKey(m.name, m.version, i.index)) && i.address && i.sidecar === 'Succeeded' && !i.lastError).map((i) => workloadEntryFor(service, m, i.index, i.address!))));
    const { changed } = await run.applyAll([...objects.filter((o) => o.kind !== 'Namespace'), ...entries]);
    if (changed.length) await run.event('Normal', 'DriftRepaired', 'Reconcile', `re-applied ${changed.join(', ')}`);
    // Ready ⇄ Degraded follows the workloads; the status is written only when the phase changes
    const deployments = objects.filter((o) => o.kind === 'Deployment');
    const live = await this.applier.readLive(deployments);
    // a VM lost outside mixmesh (vnf-watch.ts marks it with lastError) keeps the service Degraded
    const lostVms = (resource.status?.microservices ?? []).flatMap((m) => (m.instances ?? []).filter((i) => i.lastError).map((i) => i.vnfInstanceName));
    const unready = [...deployments.filter((d) => !isReady(live.get(objectKey(d)))).map((d) => d.metadata.name), ...lostVms];
    const phase: Phase = unready.length ? 'Degraded' : 'Ready';
    if (phase !== resource.status?.phase) {
      const message = unready.length ? `not ready: ${unready.join(', ')}` : 'every microservice is ready and routed';
      await run.saveStatus({ phase, conditions: setCondition(conditions, 'Ready', unready.length ? 'False' : 'True', unready.length ? 'WorkloadNotReady' : 'Ready', message) }, false);
      await run.event(unready.length ? 'Warning' : 'Normal', unready.length ? 'Degraded' : 'Recovered', 'Reconcile', message);
    }
  }

  /**
   * A new generation: 2. names → (VM chains start) → 3. namespace → 4. VM identities → 5. the
   * other identities and every policy → 6. workloads and DestinationRules, waiting for them and the
   * VM chains → 7. routes of ready versions → 8. prune; then Ready, or Failed with what failed.
   */
  private async rollout(d: Rollout): Promise<void> {
    const { run, resource, service, objects, plans, generation, conditions, log } = d;
    const vmStatus = this.previousVmStatus(resource, d.planned);
    let chainsResult: PromiseSettledResult<VmInstanceStatus>[] = [];
    let chains: Promise<VmInstanceStatus>[] = [];
    // the VM chains' gates: injection waits for the VM identities, registration for every policy
    const vmIdentities = gate();
    const policies = gate();
    const fresh = run['op'].steps.length === 0;
    const readyDeployments = new Map<string, KubeObject>();
    try {
      // 2. names: checked before any write. The VM chains start at once (their Tacker reads need
      // no check) and send their create requests as soon as the names are clear: the VMs are the
      // slowest part of a deploy, nothing else may delay them.
      const namesChecked = run.step('check-names', () => checkNameConflicts(this.deps.kube, service.metadata.name, objects.filter((o) => o.kind !== 'Namespace')).catch((e: unknown) => {
        if (isMixmeshError(e, 'NAME_CONFLICT')) throw new StepFailure('NAME_CONFLICT', e.message, 'NameConflict');
        throw e;
      }));
      const namesClear = namesChecked.then(() => undefined);
      namesClear.catch(() => undefined);
      const decided: Promise<void>[] = [];
      chains = this.startChains(run, service, plans, vmStatus, vmIdentities.opened, policies.opened, namesClear, decided);
      // the VM step starts with the chains: the operation's steps show it running beside the applies
      const vmsDone = run.step('vms', () => Promise.allSettled(chains));
      if (fresh) {
        await run.event('Normal', 'Deploying', 'Deploy', `generation ${generation}: ${objects.length} objects, ${plans.length} VMs`);
        await run.saveStatus({ phase: 'Deploying', observedGeneration: generation, conditions: setCondition(conditions, 'Ready', 'False', 'Deploying', 'deploy in progress') });
      }
      log.info({ objects: objects.length, vms: plans.length }, 'deploying');
      const named = objects.filter((o) => o.kind !== 'Namespace');
      const seen = new Map((await namesChecked).map((l, i) => [objectKey(named[i]!), l] as const));
      const ofPhase = (phase: string): KubeObject[] => named.filter((o) => phaseOf(o.kind) === phase);
      // 3. the namespace as mesh-config renders it (created, never applied: an existing one is not ours to change)
      await run.step('namespace', () => this.ensureNamespace(objects.find((o) => o.kind === 'Namespace')!));
      // the VMs are the slowest part: their create requests go out before the bulk of the Kubernetes
      // writes competes with them (bounded: a slow Tacker does not hold the containers back)
      await Promise.race([Promise.all(decided), new Promise<void>((res) => setTimeout(res, VM_HEAD_START_MS).unref())]);

      // 4. first what the VM chains need to inject: their ServiceAccounts and WorkloadGroups
      const vmAccounts = new Set(service.spec.microservices.filter((m) => m.runtime === 'vm').map((m) => m.serviceAccount));
      const vmFirst = new Set(named.filter((o) => o.kind === 'WorkloadGroup' || (o.kind === 'ServiceAccount' && vmAccounts.has(o.metadata.name))));
      const early = await run.step('apply-vm-identities', async () => (await run.applyAll([...vmFirst], seen)).changed);
      vmIdentities.open();
      const rest = (phase: string): KubeObject[] => ofPhase(phase).filter((o) => !vmFirst.has(o));
      // 5. every other identity and every policy before any workload runs or any VM is registered
      const policy = await run.step('apply-identity-and-policy', async () => (await run.applyAll(rest('identity'), seen)).changed);
      policies.open();
      if (early.length + policy.length) await run.event('Normal', 'Applied', 'Deploy', `identities and policies: ${summarize([...early, ...policy])}`);
      // 6. workloads, then DestinationRules (a subset exists before a route names it), while the VMs go on
      const workloads = await run.step('apply-workloads', async () => (await run.applyAll(rest('workload'), seen)).changed);
      const rules = await run.step('apply-destination-rules', async () => (await run.applyAll(ofPhase('routing'), seen)).changed);
      if (workloads.length + rules.length) await run.event('Normal', 'Applied', 'Deploy', `workloads: ${summarize([...workloads, ...rules])}`);
      await run.saveStatus({ microservices: this.microserviceStatus(service, new Map(), vmStatus) });
      const deployments = objects.filter((o) => o.kind === 'Deployment');
      const [containerResult, vmResults] = await Promise.all([
        run.step('wait-workloads-ready', async () => {
          const ready = await this.applier.waitReady(deployments, { timeoutMs: this.deps.options.readyTimeoutMs, pollMs: this.deps.options.readyPollMs ?? 250 }).catch((e: unknown) => {
            throw isMixmeshError(e, 'K8S_WAIT_TIMEOUT') ? new StepFailure('K8S_WAIT_TIMEOUT', e.message, 'WorkloadNotReady') : e;
          });
          for (const d of ready) readyDeployments.set(d.metadata.name, d);
        }).then(() => undefined, (e: unknown) => e),
        vmsDone,
      ]);
      chainsResult = vmResults;
      this.mergeChainResults(chainsResult, plans, vmStatus);
      if (containerResult) throw containerResult;

      // 7. VirtualServices and Gateways of microservices whose versions are all ready
      const failedVersions = new Set(chainsResult.flatMap((r, i) => (r.status === 'rejected' ? [plans[i]!.identity.name] : [])));
      const routable = ofPhase('route').filter((o) => !this.routesTo(o, service).some((n) => failedVersions.has(n)));
      const routes = await run.step('apply-routes', async () => (await run.applyAll(routable, seen)).changed);
      if (routes.length) await run.event('Normal', 'Applied', 'Deploy', `mesh routing: ${summarize(routes)}`);

      // 8. prune what we made before but no longer generate (never Namespaces; VNFs of removed versions)
      await run.step('prune', () => this.prune(run, service, objects, plans, resource.status?.microservices ?? []));

      await this.succeeded(run, d, chainsResult, readyDeployments, vmStatus);
    } catch (e) {
      // no VM chain outlives its deploy: stop them at the WorkloadGroup gate and let them settle
      vmIdentities.fail(e as Error);
      policies.fail(e as Error);
      await Promise.allSettled(chains);
      await this.failed(d, e, readyDeployments, vmStatus);
    }
  }

  /** the VM instances of the last status the descriptor still has (a scaled-away one leaves the status now; its VNF and WorkloadEntry are pruned) */
  private previousVmStatus(resource: MeshServiceResource, planned: ReadonlySet<string>): Map<string, VmInstanceStatus[]> {
    const vmStatus = new Map<string, VmInstanceStatus[]>();
    for (const m of resource.status?.microservices ?? []) {
      const kept = (m.instances ?? []).filter((i) => planned.has(instanceKey(m.name, m.version, i.index)));
      if (kept.length) vmStatus.set(vmKey(m.name, m.version), kept);
    }
    return vmStatus;
  }

  /** each VM chain's outcome into the status of its version */
  private mergeChainResults(chainsResult: PromiseSettledResult<VmInstanceStatus>[], plans: TackerPlan[], vmStatus: Map<string, VmInstanceStatus[]>): void {
    for (const [i, r] of chainsResult.entries()) {
      const p = plans[i]!;
      const list = vmStatus.get(vmKey(p.identity.name, p.identity.version)) ?? [];
      const s = r.status === 'fulfilled' ? r.value : (r.reason as ChainFailure).partial ?? { index: p.identity.index, vnfInstanceName: p.vnfInstanceName, lastError: String((r.reason as Error).message) };
      vmStatus.set(vmKey(p.identity.name, p.identity.version), [...list.filter((x) => x.index !== s.index), s].sort((a, b) => a.index - b.index));
    }
  }

  /** every step done: Ready, unless a VM chain failed (then the failure goes to `failed`) */
  private async succeeded(run: Run, d: Rollout, chainsResult: PromiseSettledResult<VmInstanceStatus>[], readyDeployments: Map<string, KubeObject>, vmStatus: Map<string, VmInstanceStatus[]>): Promise<void> {
    const { service, generation, started, log } = d;
    const failures = chainsResult.flatMap((r) => (r.status === 'rejected' ? [r.reason as ChainFailure] : []));
    const microservices = this.microserviceStatus(service, readyDeployments, vmStatus);
    if (failures.length) {
      const first = failures[0]!;
      const rolledBack = failures.some((f) => f.rolledBack);
      throw new StepFailure(first.code, failures.map((f) => f.message).join('; '), first.code.startsWith('TACKER') ? 'TackerOperationFailed' : first.code.startsWith('INJECT') || first.code.startsWith('SSH') || first.code.startsWith('SIDECAR') ? 'InjectionFailed' : 'VmFailed', rolledBack);
    }
    const conditions = setCondition(d.conditions, 'Ready', 'True', 'Ready', 'every microservice is ready and routed');
    run.finish('Succeeded');
    await run.saveStatus({ phase: 'Ready', observedGeneration: generation, conditions, microservices });
    await run.event('Normal', 'Ready', 'Deploy', `generation ${generation} ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    this.deps.metrics.operations.inc({ result: 'Succeeded' });
    this.deps.metrics.deployDuration.observe({ result: 'Succeeded' }, (Date.now() - started) / 1000);
    log.info({ ms: Date.now() - started }, 'ready');
  }

  /** a step failed: Failed (or RolledBack), the Ready condition says why, one Warning */
  private async failed(d: Rollout, e: unknown, readyDeployments: Map<string, KubeObject>, vmStatus: Map<string, VmInstanceStatus[]>): Promise<void> {
    const { run, service, generation, started, log } = d;
    const failure = e instanceof StepFailure ? e : new StepFailure(isMixmeshError(e) ? e.code : 'INTERNAL', (e as Error).message, 'DeployFailed');
    if (!(e instanceof StepFailure)) log.error({ err: e }, 'deploy failed');
    const state = failure.rolledBack ? 'RolledBack' : 'Failed';
    run.finish(state, { code: failure.code, message: failure.message });
    const conditions = setCondition(d.conditions, 'Ready', 'False', failure.reason, failure.message);
    const microservices = this.microserviceStatus(service, readyDeployments, vmStatus);
    const phase: Phase = 'Failed';
    await run.saveStatus({ phase, observedGeneration: generation, conditions, microservices });
    await run.event('Warning', failure.reason, 'Deploy', failure.message);
    this.deps.metrics.operations.inc({ result: state });
    this.deps.metrics.deployDuration.observe({ result: state }, (Date.now() - started) / 1000);
    log.warn({ code: failure.code, message: failure.message }, 'deploy failed');
  }

  /** names of the microservices a VirtualService routes to */
  private routesTo(o: KubeObject, service: MeshService): string[] {
    const text = JSON.stringify(o.spec ?? {});
    return [...new Set(service.spec.microservices.map((m) => m.name))].filter((n) => text.includes(`"${n}.${service.metadata.namespace}.svc`) || text.includes(`"host":"${n}"`));
  }

  private startChains(run: Run, service: MeshService, plans: TackerPlan[], vmStatus: Map<string, VmInstanceStatus[]>, workloadGroupsApplied: Promise<void>, policiesApplied: Promise<void>, namesClear: Promise<void>, decided: Promise<void>[]): Promise<VmInstanceStatus>[] {
    if (plans.length === 0) return [];
    const tacker = this.deps.tacker;
    if (!tacker) {
      return plans.map(() => Promise.reject(new ChainFailure('OPENSTACK_NOT_CONFIGURED', 'OpenStack is not configured', false, { index: 0, vnfInstanceName: '' })));
    }
    const byKey = new Map<string, Microservice>(service.spec.microservices.map((m) => [vmKey(m.name, m.version), m]));
    // one lookup for every VM of the deploy (restarts reuse what exists) instead of one per chain
    const existing = tacker.listVnfInstancesByNames?.(plans.map((p) => p.vnfInstanceName));
    existing?.catch(() => undefined);
    return plans.map((plan) => {
      const ms = byKey.get(vmKey(plan.identity.name, plan.identity.version))!;
      const previous = vmStatus.get(vmKey(ms.name, ms.version))?.find((s) => s.index === plan.identity.index);
      let markDecided!: () => void;
      decided.push(new Promise<void>((res) => { markDecided = res; }));
      const chain = new VmChain({
        tacker,
        injector: this.deps.injector,
        callbacks: this.deps.callbacks,
        metrics: this.deps.metrics,
        log: this.deps.log.child({ vnf: plan.vnfInstanceName }),
        retries: this.deps.options.tackerRetries,
        pollMs: this.deps.options.tackerPollMs,
        timeoutMs: this.deps.options.vmTimeoutMs,
        existing,
        applyObject: async (o) => {
          await policiesApplied; // registered (traffic routed to it) only once its policies hold
          const { outcomes } = await this.applier.apply([o]);
          this.deps.onWorkloadEntry?.(o.metadata.name, Date.now());
          return outcomes[0]!;
        },
        onCreateSent: (name) => this.deps.onCreateSent?.(name, Date.now()),
        onInstanceDecided: () => { markDecided(); },
        onMilestone: (reason, note) => { void run.event('Normal', reason, 'Deploy', note); },
        ...(this.deps.beforeInject ? { beforeInject: this.deps.beforeInject } : {}),
      }, service, ms, plan, previous);
      return chain.run(workloadGroupsApplied, namesClear);
    });
  }

  /** create the rendered Namespace if it is absent; an existing one (ours or not) is left as it is */
  private async ensureNamespace(namespace: KubeObject): Promise<void> {
    if (await this.deps.kube.get(refOf(namespace))) return;
    await this.deps.kube.create(namespace).catch((e: unknown) => {
      if (!isMixmeshError(e, 'ALREADY_EXISTS')) throw e;
    });
  }

  private microserviceStatus(service: MeshService, deployments: Map<string, KubeObject>, vmStatus: Map<string, VmInstanceStatus[]>): MicroserviceStatus[] {
    return service.spec.microservices.map((m): MicroserviceStatus => {
      if (m.runtime === 'container') {
        const d = deployments.get(`${m.name}-${m.version}`);
        const ready = Number(((d?.status ?? {}) as { readyReplicas?: number }).readyReplicas ?? (d ? m.container!.replicas : 0));
        return { name: m.name, version: m.version, runtime: 'container', ready, desired: m.container!.replicas };
      }
      const instances = vmStatus.get(vmKey(m.name, m.version)) ?? [];
      return { name: m.name, version: m.version, runtime: 'vm', ready: instances.filter((i) => i.sidecar === 'Succeeded' && !i.lastError).length, desired: m.vm!.instances, instances };
    }).sort((a, b) => `${a.name}/${a.version}`.localeCompare(`${b.name}/${b.version}`));
  }

  private async prune(run: Run, service: MeshService, objects: KubeObject[], plans: TackerPlan[], previous: MicroserviceStatus[]): Promise<void> {
    const keep: KubeObject[] = [...objects];
    for (const p of plans) {
      const ms = service.spec.microservices.find((m) => m.name === p.identity.name && m.version === p.identity.version)!;
      keep.push(workloadEntryFor(service, ms, p.identity.index, '0.0.0.0'));
    }
    const pruned = await this.applier.prune(serviceSelector(service.metadata.name), keep, { namespace: service.metadata.namespace });
    for (const r of pruned) await run.event('Normal', 'Pruned', 'Prune', `${r.kind}/${r.name} is no longer generated`);
    // VNFs of versions or instances no longer wanted
    const wantedVnfs = new Set(plans.map((p) => p.vnfInstanceName));
    const gone = previous.flatMap((m) => m.instances ?? []).filter((i) => !wantedVnfs.has(i.vnfInstanceName));
    for (const g of gone) await this.removeVnf(g.vnfInstanceName);
  }

  /** terminate (wait) then delete every instance of that name */
  async removeVnf(name: string): Promise<void> {
    const tacker = this.deps.tacker;
    if (!tacker) return;
    for (const i of await tacker.listVnfInstancesByName(name)) {
      if (i.instantiationState === 'INSTANTIATED') {
        const opId = await tacker.terminate(i.id, { terminationType: 'FORCEFUL' });
        const deadline = Date.now() + this.deps.options.vmTimeoutMs;
        for (;;) {
          const op = await tacker.getOpOcc(opId);
          if (op.operationState === 'COMPLETED') break;
          if (['FAILED_TEMP', 'FAILED', 'ROLLED_BACK'].includes(op.operationState)) throw new MixmeshError('TACKER_OPERATION_FAILED', `terminate ${name}: ${op.operationState}: ${op.error?.detail ?? ''}`);
          if (Date.now() > deadline) throw new MixmeshError('TACKER_OPERATION_TIMEOUT', `terminate ${name} did not finish`);
          await new Promise<void>((res) => {
            const t = setTimeout(() => { this.deps.callbacks.hints.off('hint', h); res(); }, this.deps.options.tackerPollMs);
            t.unref();
            const h = (hint: { vnfLcmOpOccId: string }): void => {
              if (hint.vnfLcmOpOccId === opId) { clearTimeout(t); this.deps.callbacks.hints.off('hint', h); res(); }
            };
            this.deps.callbacks.hints.on('hint', h);
          });
        }
      }
      await tacker.deleteVnfInstance(i.id);
    }
  }

  /** reverse order: mesh objects, WorkloadEntries, VNFs, workloads, our namespace if empty; then the finalizer */
  async teardown(resource: MeshServiceResource): Promise<void> {
    if (!(resource.metadata.finalizers ?? []).includes(FINALIZER)) return;
    const ns = resource.metadata.namespace!;
    const name = resource.metadata.name;
    const run = new Run(this, resource, `${resource.metadata.uid}-delete`);
    const started = Date.now();
    const log = this.deps.log.child({ service: `${ns}/${name}`, op: 'teardown' });
    try {
      if (resource.status?.phase !== 'Deleting') {
        await run.saveStatus({ phase: 'Deleting' });
        await run.event('Normal', 'Deleting', 'Delete', 'tearing down');
      }
      const selector = serviceSelector(name);
      const deleteKinds = async (kinds: readonly KindInfo[]): Promise<void> => {
        await this.applier.prune(selector, [], { namespace: ns, kinds });
      };
      await run.step('delete-mesh-objects', () => deleteKinds(TEARDOWN_MESH));
      await run.step('delete-vnfs', async () => {
        const names = new Set<string>((resource.status?.microservices ?? []).flatMap((m) => (m.instances ?? []).map((i) => i.vnfInstanceName)));
        const valid = this.deps.generators.validate(descriptorOf(resource));
        if (valid.ok && this.deps.tacker) for (const p of this.deps.generators.planTacker(valid.value)) names.add(p.vnfInstanceName);
        await Promise.all([...names].filter((n) => n !== '').map((n) => this.removeVnf(n)));
      });
      await run.step('delete-workloads', () => deleteKinds(TEARDOWN_WORKLOADS));
      await releaseNames(this.deps.kube, name, ns); // issue 8: the name claims go with the service
      const kept = await run.step('delete-namespace', () => this.deleteNamespaceIfOurs(ns, name));
      run.finish('Succeeded');
      this.deps.operations.put(run['op']);
      // our events go too: "delete leaves nothing"
      for (const e of await this.deps.kube.list(EVENT_API_VERSION, 'Event', { namespace: ns, labelSelector: selector })) await this.deps.kube.delete(refOf(e)).catch(() => undefined);
      this.events.forget(ns, name);
      // a namespace we made but could not prove empty stays, and says why (this Event outlives the service)
      if (kept) await run.event('Warning', 'NamespaceKept', 'Delete', kept);
      const fresh = (await this.deps.kube.get(refOf(resource))) as MeshServiceResource | undefined;
      if (fresh) await this.deps.kube.setFinalizers(fresh, (fresh.metadata.finalizers ?? []).filter((f) => f !== FINALIZER));
      this.deps.metrics.operations.inc({ result: 'Succeeded' });
      log.info({ ms: Date.now() - started }, 'torn down');
    } catch (e) {
      const code = isMixmeshError(e) ? e.code : 'INTERNAL';
      run.finish('Failed', { code, message: (e as Error).message });
      await run.saveStatus({ phase: 'Deleting', conditions: setCondition(resource.status?.conditions ?? [], 'Ready', 'False', 'TeardownFailed', (e as Error).message) }).catch(() => undefined);
      await run.event('Warning', 'TeardownFailed', 'Delete', (e as Error).message);
      this.deps.metrics.operations.inc({ result: 'Failed' });
      log.warn({ err: e }, 'teardown failed; tried again after a backoff');
      throw e;
    }
  }

  /**
   * Delete the namespace if this service created it and nothing else is in it. "Nothing else" is
   * checked over every namespaced kind the server serves (discovery): a kind it does not serve
   * holds nothing. A kind we may not list leaves the namespace in place (it might hold something):
   * returns why, for a Warning, instead of failing the teardown over and over.
   */
  private async deleteNamespaceIfOurs(ns: string, service: string): Promise<string | undefined> {
    const namespace = await this.deps.kube.get({ apiVersion: 'v1', kind: 'Namespace', name: ns });
    if (!namespace || namespace.metadata.annotations?.[ANNOTATION_CREATED_BY] !== service) return undefined;
    const kinds = this.deps.kube.namespacedKinds ? await this.deps.kube.namespacedKinds() : KINDS;
    const leftovers: string[] = [];
    const forbidden: string[] = [];
    await boundedAll(kinds, 16, async ({ apiVersion, kind }) => {
      if (kind === 'Event') return; // events are records, not content (ours are gone already)
      try {
        for (const o of await this.deps.kube.list(apiVersion, kind, { namespace: ns })) {
          if (kind === MESH_KIND && o.metadata.name === service) continue;
          if (!NAMESPACE_LEFTOVERS.has(`${kind}/${o.metadata.name}`)) leftovers.push(`${kind}/${o.metadata.name}`);
        }
      } catch (e) {
        const status = isMixmeshError(e) ? e.details?.httpStatus : undefined;
        if (status === 404 || (isMixmeshError(e) && e.details?.notServed === true)) return; // not served: nothing of it
        if (status === 403 || status === 401) { forbidden.push(`${kind} (${apiVersion})`); return; }
        throw e;
      }
    });
    if (leftovers.length) {
      this.deps.log.info({ namespace: ns, leftovers }, 'namespace kept: it holds other things');
      return undefined;
    }
    if (forbidden.length) {
      const why = `namespace ${ns} kept: it may not be empty, listing ${forbidden.sort().join(', ')} is forbidden; delete it yourself once it is`;
      this.deps.log.warn({ namespace: ns, forbidden }, why);
      return why;
    }
    await this.deps.kube.delete({ apiVersion: 'v1', kind: 'Namespace', name: ns });
    return undefined;
  }
}
