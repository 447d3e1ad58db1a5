/**
 * The VNF watch (issue 8, defect 6): a VM whose VNF instance is terminated or deleted outside
 * mixmesh (`openstack vnflcm terminate` + `delete`) must not stay "Ready" with its WorkloadEntry on
 * a dead address. Two ways in, as for everything Tacker tells us: notifications are hints (a
 * TERMINATE operation's notification names the instance), confirmed by `GET vnf_instances/{id}`;
 * and a resync looks at every registered VM of every settled service, so a lost notification (or
 * none: polling mode) costs at most one resync interval.
 *
 * A lost VM: its WorkloadEntry is deleted at once (only ours: the label must name the service),
 * its instance in the status gets `lastError` and loses its sidecar state (so drift repair never
 * brings the entry back and a new VM is injected), the service becomes Degraded with condition
 * Ready=False reason VnfLost, and a Warning Event VnfLost says which. Then, unless the
 * microservice's `vm.recreate` is false, the generation is queued again: the reconciler's deploy
 * finds no VNF of that name and creates one (same idempotent name), instantiates, injects and
 * registers it. With `recreate: false` the service stays Degraded until it is applied again.
 */
import { isMixmeshError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { canonicalize } from '../../common/yaml.js';
import type { CallbackAuthority, OpHint } from '../callbacks.js';
import { buildEvent } from '../events.js';
import {
  MESH_API_VERSION, MESH_KIND,
  type Condition, type Generators, type KubePort, type MeshServiceResource, type OperationStatus, type TackerPort, type VmInstanceStatus,
} from '../ports.js';
import { descriptorOf, operationId } from '../resources.js';

export interface VnfWatchDeps {
  kube: KubePort;
  tacker: TackerPort;
  generators: Generators;
  callbacks: CallbackAuthority;
  log: Logger;
  /** how often every registered VM is looked at without a notification */
  resyncMs: number;
}

export const VNF_LOST_REASON = 'VnfLost';

interface Lost {
  ms: string;
  version: string;
  index: number;
  vnfInstanceName: string;
  vnfInstanceId: string;
  why: 'terminated' | 'deleted';
  recreate: boolean;
}

const LABEL_SERVICE = 'mixmesh.io/service';

function setReady(conditions: Condition[], message: string): Condition[] {
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const old = conditions.find((c) => c.type === 'Ready');
  const changed = !old || old.status !== 'False';
  const next: Condition = { type: 'Ready', status: 'False', reason: VNF_LOST_REASON, message, lastTransitionTime: changed ? now : old.lastTransitionTime };
  return [...conditions.filter((c) => c.type !== 'Ready'), next];
}

export class VnfWatch {
  private timer: NodeJS.Timeout | undefined;
  private pending = new Set<string>();
  private pendingTimer: NodeJS.Timeout | undefined;
  private readonly busy = new Set<string>();
  private running: Promise<void> = Promise.resolve();
  private readonly onHint = (h: OpHint): void => {
    if (!h.vnfInstanceId) return;
    this.pending.add(h.vnfInstanceId);
    // a burst of notifications (STARTING, PROCESSING, COMPLETED) becomes one look
    this.pendingTimer ??= setTimeout(() => {
      this.pendingTimer = undefined;
      const ids = [...this.pending];
      this.pending.clear();
      this.track(this.checkInstances(ids));
    }, 100);
    this.pendingTimer.unref?.();
  };

  constructor(private readonly deps: VnfWatchDeps) {}

  start(): void {
    if (this.timer) return;
    this.deps.callbacks.hints.on('hint', this.onHint);
    this.timer = setInterval(() => this.track(this.checkAll()), this.deps.resyncMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.deps.callbacks.hints.off('hint', this.onHint);
    if (this.timer) clearInterval(this.timer);
    if (this.pendingTimer) clearTimeout(this.pendingTimer);
    this.timer = undefined;
    this.pendingTimer = undefined;
    await this.running;
  }

  private track(p: Promise<void>): void {
    const guarded = p.catch((e: unknown) => this.deps.log.warn({ err: e }, 'VNF watch: check failed; the next resync tries again'));
    this.running = this.running.then(() => guarded);
  }

  /** the resync: every registered VM of every settled service */
  async checkAll(): Promise<void> {
    const all = (await this.deps.kube.list(MESH_API_VERSION, MESH_KIND)) as MeshServiceResource[];
    for (const r of all) await this.checkService(r);
  }

  /** notifications named these instances: look at the services that hold them */
  async checkInstances(ids: readonly string[]): Promise<void> {
    const wanted = new Set(ids);
    const all = (await this.deps.kube.list(MESH_API_VERSION, MESH_KIND)) as MeshServiceResource[];
    for (const r of all) {
      const held = (r.status?.microservices ?? []).some((m) => (m.instances ?? []).some((i) => i.vnfInstanceId && wanted.has(i.vnfInstanceId)));
      if (held) await this.checkService(r, wanted);
    }
  }

  /** a service settled at its generation (Ready or Degraded), not being deleted */
  private static settled(r: MeshServiceResource): boolean {
    const st = r.status;
    return !r.metadata.deletionTimestamp && (st?.phase === 'Ready' || st?.phase === 'Degraded') && st.observedGeneration === (r.metadata.generation ?? 1);
  }

  async checkService(resource: MeshServiceResource, only?: ReadonlySet<string>): Promise<void> {
    const key = `${resource.metadata.namespace}/${resource.metadata.name}`;
    if (!VnfWatch.settled(resource) || this.busy.has(key)) return;
    const result = this.deps.generators.validate(descriptorOf(resource));
    if (!result.ok) return;
    const service = result.value;
    // only instances the desired state still holds: a scale-down or removed version is prune's business
    const desired = new Set(this.deps.generators.planTacker(service).map((p) => p.vnfInstanceName));
    const candidates: (Omit<Lost, 'why'>)[] = [];
    for (const m of resource.status?.microservices ?? []) {
      const spec = service.spec.microservices.find((x) => x.name === m.name && x.version === m.version);
      for (const i of m.instances ?? []) {
        if (!i.vnfInstanceId || i.sidecar !== 'Succeeded' || i.lastError || !desired.has(i.vnfInstanceName)) continue;
        if (only && !only.has(i.vnfInstanceId)) continue;
        candidates.push({ ms: m.name, version: m.version, index: i.index, vnfInstanceName: i.vnfInstanceName, vnfInstanceId: i.vnfInstanceId, recreate: spec?.vm?.recreate !== false });
      }
    }
    if (candidates.length === 0) return;
    this.busy.add(key);
    try {
      const lost: Lost[] = [];
      for (const c of candidates) {
        const live = await this.deps.tacker.getVnfInstance(c.vnfInstanceId);
        if (!live) lost.push({ ...c, why: 'deleted' });
        else if (live.instantiationState !== 'INSTANTIATED') lost.push({ ...c, why: 'terminated' });
      }
      if (lost.length) await this.handle(resource, lost);
    } finally {
      this.busy.delete(key);
    }
  }

  private async handle(resource: MeshServiceResource, lost: Lost[]): Promise<void> {
    const ns = resource.metadata.namespace!;
    const name = resource.metadata.name;
    const log = this.deps.log.child({ service: `${ns}/${name}` });
    // 1. the mesh stops routing to the dead address at once (never an entry that is not ours)
    for (const l of lost) {
      const ref = { apiVersion: 'networking.istio.io/v1', kind: 'WorkloadEntry', namespace: ns, name: `${l.ms}-${l.version}-${l.index}` };
      const entry = await this.deps.kube.get(ref);
      if (entry && entry.metadata.labels?.[LABEL_SERVICE] === name) await this.deps.kube.delete(ref);
    }
    // 2. the status says so (read again: only a service still settled at the same generation)
    const fresh = (await this.deps.kube.get({ apiVersion: MESH_API_VERSION, kind: MESH_KIND, namespace: ns, name })) as MeshServiceResource | undefined;
    if (!fresh || !VnfWatch.settled(fresh) || fresh.metadata.generation !== resource.metadata.generation) return;
    const text = lost.map((l) => `VNF ${l.vnfInstanceName} (${l.vnfInstanceId}) was ${l.why} outside mixmesh`).join('; ');
    const recreate = lost.every((l) => l.recreate);
    const isLost = (m: { name: string; version: string }, i: VmInstanceStatus): boolean => lost.some((l) => l.ms === m.name && l.version === m.version && l.index === i.index);
    const microservices = (fresh.status?.microservices ?? []).map((m) => ({
      ...m,
      ...(m.instances ? {
        instances: m.instances.map((i) => {
          if (!isLost(m, i)) return i;
          const { sidecar: _s, ...rest } = i;
          return { ...rest, lastError: `${VNF_LOST_REASON}: the VNF was ${lost.find((l) => l.index === i.index && l.ms === m.name && l.version === m.version)!.why} outside mixmesh` };
        }),
        ready: Math.max(0, m.ready - m.instances.filter((i) => isLost(m, i)).length),
      } : {}),
    }));
    const message = `${text}; ${recreate ? 'recreating it' : 'vm.recreate is false: apply the service again to recreate it'}`;
    const status = canonicalize({ ...fresh.status!, phase: 'Degraded' as const, conditions: setReady(fresh.status?.conditions ?? [], message), microservices });
    await this.deps.kube.replaceStatus({ ...fresh, status });
    log.warn({ lost: lost.map((l) => l.vnfInstanceName), recreate }, 'VNF lost outside mixmesh');
    await this.event(fresh, 'Warning', VNF_LOST_REASON, message);
    if (!recreate) return;
    // 3. recreate: the same generation queued again; the deploy's find-or-create makes the VNF anew
    const id = operationId(fresh);
    const queued: OperationStatus = { id, state: 'Queued', steps: [] };
    const after = (await this.deps.kube.get({ apiVersion: MESH_API_VERSION, kind: MESH_KIND, namespace: ns, name })) as MeshServiceResource | undefined;
    if (!after || after.metadata.generation !== fresh.metadata.generation) return;
    await this.deps.kube.replaceStatus({ ...after, status: { ...after.status!, phase: 'Pending', operations: [...(after.status?.operations ?? []).filter((o) => o.id !== id), queued] } });
  }

  private async event(r: MeshServiceResource, type: 'Normal' | 'Warning', reason: string, note: string): Promise<void> {
    try {
      await this.deps.kube.create(buildEvent({ namespace: r.metadata.namespace!, name: r.metadata.name, uid: r.metadata.uid }, type, reason, 'Watch', note));
    } catch (e) {
      if (!isMixmeshError(e)) throw e;
      this.deps.log.warn({ err: e, reason }, 'event not recorded');
    }
  }
}
