/**
 * One run of one service's reconcile (the reconciler's bookkeeping): its operation and steps, its
 * status writes at step boundaries, its Events, and the applies through the reconciler's applier.
 */
import { isDeepStrictEqual } from 'node:util';
import { isMixmeshError, type ErrorCode } from '../../common/errors.js';
import { LABEL_SERVICE } from '../../common/labels.js';
import { canonicalize } from '../../common/yaml.js';
import type { Condition, KubeObject, MeshServiceResource, MeshServiceStatus, MicroserviceStatus, OperationStatus, OperationStep } from '../ports.js';
import type { Reconciler, ReconcilerDeps } from './reconciler.js';

const now = (): string => new Date().toISOString();

/** "Deployment ×3, Service ×2" from ["Deployment/a", …] */
export function summarize(refs: string[]): string {
  const counts = new Map<string, number>();
  for (const r of refs) counts.set(r.split('/')[0]!, (counts.get(r.split('/')[0]!) ?? 0) + 1);
  return [...counts].map(([k, n]) => (n === 1 ? k : `${k} ×${n}`)).join(', ');
}

/** a promise opened or failed from outside (a deploy's gates for its VM chains) */
export function gate(): { opened: Promise<void>; open: () => void; fail: (e: Error) => void } {
  let open!: () => void;
  let fail!: (e: Error) => void;
  const opened = new Promise<void>((res, rej) => { open = res; fail = rej; });
  opened.catch(() => undefined);
  return { opened, open, fail };
}

export class StepFailure extends Error {
  constructor(readonly code: ErrorCode, message: string, readonly reason: string, readonly rolledBack = false) {
    super(message);
  }
}

export function setCondition(conditions: Condition[], type: string, status: Condition['status'], reason: string, message: string): Condition[] {
  const prev = conditions.find((c) => c.type === type);
  const next: Condition = { type, status, reason, message, lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime : now() };
  return [...conditions.filter((c) => c.type !== type), next].sort((a, b) => a.type.localeCompare(b.type));
}

/** The printer columns' counts (`kubectl get msvc`): ready microservice versions and ready VMs, each "ready/all". */
export function statusSummary(microservices: MicroserviceStatus[] | undefined): Pick<MeshServiceStatus, 'readyMicroservices' | 'vms'> {
  const all = microservices ?? [];
  const vms = all.filter((m) => m.runtime === 'vm');
  return {
    readyMicroservices: `${all.filter((m) => m.desired > 0 ? m.ready >= m.desired : true).length}/${all.length}`,
    vms: `${vms.reduce((n, m) => n + Math.min(m.ready, m.desired), 0)}/${vms.reduce((n, m) => n + m.desired, 0)}`,
  };
}

/** One run of one service's reconcile. Writes status at step boundaries only. */
export class Run {
  private status: MeshServiceStatus;
  private op: OperationStatus;
  private writes = 0;

  constructor(private readonly r: Reconciler, private resource: MeshServiceResource, opId: string) {
    this.status = structuredClone(resource.status ?? {});
    const existing = this.status.operations?.find((o) => o.id === opId);
    // resume a run cut short (restart); a Queued or finished one starts over under the same id
    this.op = existing && existing.state === 'Running' ? existing : { id: opId, state: 'Running', steps: [] };
  }

  get deps(): ReconcilerDeps {
    return this.r.deps;
  }

  get ns(): string {
    return this.resource.metadata.namespace!;
  }

  get name(): string {
    return this.resource.metadata.name;
  }

  /** an Event about the service; the same one again counts up its series */
  async event(type: 'Normal' | 'Warning', reason: string, action: string, note: string): Promise<void> {
    await this.r.events.record({ namespace: this.ns, name: this.name, uid: this.resource.metadata.uid, labels: undefined }, type, reason, action, note);
  }

  /** write the status if it changed; `withOperation: false` leaves the operations list as it is (health checks) */
  async saveStatus(patch: Partial<MeshServiceStatus> = {}, withOperation = true): Promise<void> {
    const ops = (this.status.operations ?? []).filter((o) => o.id !== this.op.id);
    const merged: MeshServiceStatus = { ...this.status, ...patch, ...(withOperation ? { operations: [...ops, this.op].slice(-20) } : {}) };
    const next: MeshServiceStatus = canonicalize({ ...merged, ...statusSummary(merged.microservices) });
    if (isDeepStrictEqual(next, this.resource.status)) return;
    this.status = next;
    const fresh = await this.deps.kube.replaceStatus({ ...this.resource, status: next });
    this.resource = { ...this.resource, metadata: { ...this.resource.metadata, resourceVersion: fresh.metadata.resourceVersion! }, status: next };
    this.writes++;
    if (withOperation) this.deps.operations.put(this.op);
  }

  async step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const s: OperationStep = { name, startedAt: now() };
    this.op = { ...this.op, steps: [...this.op.steps, s] };
    try {
      const out = await fn();
      s.endedAt = now();
      return out;
    } catch (e) {
      s.endedAt = now();
      s.error = (e as Error).message;
      throw e;
    }
  }

  finish(state: OperationStatus['state'], error?: { code: string; message: string }): void {
    this.op = { ...this.op, state, ...(error ? { error: error.message, code: error.code } : {}) };
  }

  // ------------------------------------------------------------------ apply helpers

  /** apply what differs from the live object (one applier: clients/kube); a ServiceAccount that is not ours is kept as it is */
  async applyAll(objects: KubeObject[], live?: ReadonlyMap<string, KubeObject | undefined>): Promise<{ changed: string[]; outcomes: string[] }> {
    const { outcomes } = await this.r.applier.apply(objects, {
      ...(live ? { live } : {}),
      keep: (o, l) => o.kind === 'ServiceAccount' && l.metadata.labels?.[LABEL_SERVICE] !== this.name,
    }).catch((e: unknown) => {
      throw new StepFailure(isMixmeshError(e) ? e.code : 'K8S_APPLY_FAILED', (e as Error).message, 'ApplyFailed');
    });
    return { changed: objects.filter((_, i) => outcomes[i] === 'created' || outcomes[i] === 'configured').map((o) => `${o.kind}/${o.metadata.name}`), outcomes };
  }
}
