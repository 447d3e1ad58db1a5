/**
 * The one applier: server-side apply of a set of objects in the kind table's phases (mesh-config
 * `KINDS`: cluster → identity → workload → routing → route; inside a phase a bounded number at
 * once), change detection without a request for an unchanged object (`diffApply` against the live
 * object read by one list per kind and namespace, or given by the caller), prune of what carries
 * the service's labels but is no longer generated, and readiness waits by the table's rule.
 * It works over `ApplyPort`, which both `KubeClient` and the orchestrator's Kubernetes port give.
 */
import { MixmeshError, isMixmeshError } from '../../common/errors.js';
import { silentLogger, type Logger } from '../../common/logger.js';
import { APPLY_PHASES, PRUNABLE_KINDS, kindInfo, kindRank, phaseOf, type KindInfo } from '../../mesh-config/index.js';
import type { ChangeSet, KubeObject, ObjectRef } from './client.js';
import { diffApply, type FieldChange } from './diff.js';

export interface ApplyPort {
  get(ref: ObjectRef): Promise<KubeObject | undefined>;
  list(apiVersion: string, kind: string, opts: { namespace?: string; labelSelector?: string }): Promise<KubeObject[]>;
  /** server-side apply, our field manager, force */
  apply(obj: KubeObject): Promise<KubeObject>;
  /** false when it was already gone */
  delete(ref: ObjectRef): Promise<boolean>;
  /** false when the server does not serve the kind (discovery); absent: every kind is served */
  serves?(apiVersion: string, kind: string): Promise<boolean>;
  /** wait until `predicate` holds for the object (CRDs: Established); absent: no wait */
  waitFor?(ref: ObjectRef, predicate: (o: KubeObject | undefined) => boolean, timeoutMs: number): Promise<unknown>;
  /** forget cached discovery (after CRDs were applied) */
  rediscover?(): void;
}

export type Outcome = 'created' | 'configured' | 'unchanged' | 'kept';

export interface ApplyRun {
  /** the live objects as the caller already read them (absent from the map: read here) */
  live?: ReadonlyMap<string, KubeObject | undefined>;
  /** compare only, send nothing */
  dryRun?: boolean;
  /** true: leave this existing object as it is (e.g. a ServiceAccount that is not ours) */
  keep?: (desired: KubeObject, live: KubeObject) => boolean;
}

export interface Applied {
  changes: ChangeSet;
  /** per object, in the order given */
  outcomes: Outcome[];
  /** what changed per configured object */
  diffs: Map<string, FieldChange[]>;
}

export const objectKey = (o: KubeObject | ObjectRef): string => {
  const ns = 'metadata' in o ? o.metadata.namespace : o.namespace;
  const name = 'metadata' in o ? o.metadata.name : o.name;
  return `${o.apiVersion}|${o.kind}|${ns ?? ''}|${name}`;
};

export const refOfObject = (o: KubeObject): ObjectRef => ({ apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}) });

export function conditionTrue(obj: KubeObject | undefined, type: string): boolean {
  const conditions = ((obj?.status as { conditions?: Array<{ type?: string; status?: string }> } | undefined)?.conditions) ?? [];
  return conditions.some((c) => c.type === type && c.status === 'True');
}

/** A Deployment is ready when the controller saw its generation and all replicas are ready and updated. */
export function deploymentReady(obj: KubeObject | undefined): boolean {
  if (!obj) return false;
  const status = (obj.status ?? {}) as { observedGeneration?: number; readyReplicas?: number; updatedReplicas?: number };
  const replicas = Number((obj.spec as { replicas?: number } | undefined)?.replicas ?? 1);
  return Number(status.observedGeneration ?? 0) >= Number(obj.metadata.generation ?? 0) && Number(status.readyReplicas ?? 0) >= replicas && Number(status.updatedReplicas ?? 0) >= replicas;
}

/** ready by the kind table's rule (unknown kinds: exists) */
export function isReady(obj: KubeObject | undefined): boolean {
  if (!obj) return false;
  switch (kindInfo(obj.kind)?.readiness ?? 'exists') {
    case 'deployment': return deploymentReady(obj);
    case 'established': return conditionTrue(obj, 'Established');
    default: return true;
  }
}

/** run `fn` over `items`, at most `limit` at once; the first failure stops new starts and is thrown */
export async function boundedAll<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  let failure: { e: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failure) {
      const i = next++;
      try { out[i] = await fn(items[i]!, i); } catch (e) { failure ??= { e }; }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  if (failure) throw failure.e;
  return out;
}

export interface ApplierOptions {
  fieldManager?: string;
  /** requests at once inside one phase (default 16) */
  concurrency?: number;
  /** how long applied CRDs may take to be Established (default 30 s) */
  crdTimeoutMs?: number;
  log?: Logger;
}

export class Applier {
  private readonly manager: string;
  private readonly limit: number;
  private readonly log: Logger;

  constructor(private readonly port: ApplyPort, private readonly options: ApplierOptions = {}) {
    this.manager = options.fieldManager ?? 'mixmesh';
    this.limit = options.concurrency ?? 16;
    this.log = options.log ?? silentLogger;
  }

  /** the live objects of `objects`, by one list per kind and namespace */
  async readLive(objects: readonly KubeObject[]): Promise<Map<string, KubeObject | undefined>> {
    const groups = new Map<string, { apiVersion: string; kind: string; namespace: string | undefined }>();
    for (const o of objects) groups.set(`${o.apiVersion}|${o.kind}|${o.metadata.namespace ?? ''}`, { apiVersion: o.apiVersion, kind: o.kind, namespace: o.metadata.namespace });
    const live = new Map<string, KubeObject | undefined>();
    const unserved = new Set<string>();
    await boundedAll([...groups], this.limit, async ([key, g]) => {
      // a kind whose CRD this run applies is not served yet: its objects are read one by one later
      if (this.port.serves && !(await this.port.serves(g.apiVersion, g.kind))) { unserved.add(key); return; }
      for (const item of await this.port.list(g.apiVersion, g.kind, g.namespace ? { namespace: g.namespace } : {})) live.set(objectKey(item), item);
    });
    for (const o of objects) if (!live.has(objectKey(o)) && !unserved.has(`${o.apiVersion}|${o.kind}|${o.metadata.namespace ?? ''}`)) live.set(objectKey(o), undefined);
    return live;
  }

  /** what an apply would do to one object: create, update (with the fields), or nothing */
  diff(desired: KubeObject, live: KubeObject | undefined): FieldChange[] {
    return diffApply(live, desired, this.manager);
  }

  /**
   * Apply `objects` phase by phase (kind table), each phase's objects `concurrency` at a time; an
   * object whose live state already holds what we apply (and nothing we stopped applying) gets
   * no request. CRDs are waited for (Established) before the next phase.
   */
  async apply(objects: readonly KubeObject[], run: ApplyRun = {}): Promise<Applied> {
    const outcomes: Outcome[] = new Array<Outcome>(objects.length);
    const diffs = new Map<string, FieldChange[]>();
    const indexed = objects.map((o, i) => ({ o, i }));
    const order: number[] = [];
    for (const phase of APPLY_PHASES) {
      const group = indexed.filter((x) => phaseOf(x.o.kind) === phase).sort((a, b) => kindRank(a.o.kind) - kindRank(b.o.kind) || a.i - b.i);
      if (group.length === 0) continue;
      order.push(...group.map((x) => x.i));
      const missing = group.filter((x) => !run.live?.has(objectKey(x.o))).map((x) => x.o);
      // several unknown objects: one list per kind and namespace; a single one: its GET below
      const read = missing.length > 1 ? await this.readLive(missing) : new Map<string, KubeObject | undefined>();
      await boundedAll(group, this.limit, async ({ o, i }) => {
        const key = objectKey(o);
        const started = Date.now();
        const live = run.live?.has(key) ? run.live.get(key) : read.has(key) ? read.get(key) : await this.port.get(refOfObject(o));
        let outcome: Outcome;
        if (live && run.keep?.(o, live)) outcome = 'kept';
        else {
          const changes = this.diff(o, live);
          if (changes.length === 0) outcome = 'unchanged';
          else {
            if (!run.dryRun) await this.port.apply(o).catch((e: unknown) => { throw rewrap(e, `apply ${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`); });
            outcome = live ? 'configured' : 'created';
            if (live) diffs.set(key, changes);
          }
        }
        outcomes[i] = outcome;
        this.log.debug({ op: 'apply', kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name, outcome, ms: Date.now() - started }, 'applied');
      });
      if (phase === 'cluster' && !run.dryRun) {
        const crds = group.filter((x) => kindInfo(x.o.kind)?.readiness === 'established' && outcomes[x.i] !== 'unchanged');
        if (this.port.waitFor) for (const { o } of crds) await this.port.waitFor(refOfObject(o), isReady, this.options.crdTimeoutMs ?? 30_000);
        if (crds.length) this.port.rediscover?.();
      }
    }
    const changes: ChangeSet = { created: [], configured: [], unchanged: [], pruned: [] };
    for (const i of order) changes[outcomes[i] === 'kept' ? 'unchanged' : outcomes[i]!].push(refOfObject(objects[i]!));
    return { changes, outcomes, diffs };
  }

  /**
   * The objects of `kinds` (default: the table's prunable kinds) that carry the labels of
   * `selector` but are not in `keep`. Kinds the server does not serve hold nothing.
   */
  async stale(selector: string, keep: readonly (KubeObject | ObjectRef)[], opts: { namespace?: string; kinds?: readonly Pick<KindInfo, 'apiVersion' | 'kind'>[] } = {}): Promise<KubeObject[]> {
    const keepKeys = new Set(keep.map(objectKey));
    const kinds = opts.kinds ?? PRUNABLE_KINDS;
    const found = await boundedAll(kinds, this.limit, async ({ apiVersion, kind }) => {
      if (this.port.serves && !(await this.port.serves(apiVersion, kind))) return [];
      const items = await this.port.list(apiVersion, kind, { ...(opts.namespace ? { namespace: opts.namespace } : {}), labelSelector: selector });
      return items.filter((o) => !keepKeys.has(objectKey(o)) && !o.metadata.deletionTimestamp);
    });
    return found.flat();
  }

  /** delete what `stale` finds; returns what was deleted */
  async prune(selector: string, keep: readonly (KubeObject | ObjectRef)[], opts: { namespace?: string; kinds?: readonly Pick<KindInfo, 'apiVersion' | 'kind'>[]; dryRun?: boolean } = {}): Promise<ObjectRef[]> {
    const stale = await this.stale(selector, keep, opts);
    const gone = await boundedAll(stale, this.limit, async (o) => (opts.dryRun ? true : this.port.delete(refOfObject(o))));
    return stale.filter((_, i) => gone[i]).map(refOfObject);
  }

  /**
   * Wait until every object is ready by its kind's rule: one list per kind and namespace a round
   * (not a GET per object), rounds from 50 ms up to `pollMs`. K8S_WAIT_TIMEOUT names what is not.
   */
  async waitReady(objects: readonly KubeObject[], opts: { timeoutMs: number; pollMs?: number }): Promise<KubeObject[]> {
    const deadline = Date.now() + opts.timeoutMs;
    const ready = new Map<string, KubeObject>();
    for (let delay = Math.min(50, opts.pollMs ?? 250); ; delay = Math.min(delay * 2, opts.pollMs ?? 250)) {
      const waiting = objects.filter((o) => !ready.has(objectKey(o)));
      if (waiting.length === 0) return objects.map((o) => ready.get(objectKey(o))!);
      const live = await this.readLive(waiting);
      for (const o of waiting) {
        const l = live.get(objectKey(o));
        if (l && isReady(l)) ready.set(objectKey(o), l);
      }
      if (ready.size === objects.length) continue;
      if (Date.now() > deadline) {
        const first = objects.find((o) => !ready.has(objectKey(o)))!;
        throw new MixmeshError('K8S_WAIT_TIMEOUT', `${first.kind} ${first.metadata.namespace ? `${first.metadata.namespace}/` : ''}${first.metadata.name} not ready after ${opts.timeoutMs} ms`);
      }
      await new Promise((res) => setTimeout(res, delay).unref());
    }
  }
}

function rewrap(e: unknown, context: string): MixmeshError {
  if (isMixmeshError(e)) {
    if (e.message.startsWith(context)) return e;
    return new MixmeshError(e.code === 'K8S_REQUEST_FAILED' ? 'K8S_APPLY_FAILED' : e.code, `${context}: ${e.message}`, { cause: e.cause ?? e, ...(e.details ? { details: e.details } : {}) });
  }
  return new MixmeshError('K8S_APPLY_FAILED', `${context}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}
