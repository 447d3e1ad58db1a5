/**
 * The controller loop: level-triggered. A watch on MeshServices and a periodic re-list both put a
 * service's key in the queue; one reconcile per key at a time (an event during a run makes one more
 * run after it), every key in parallel. Only the holder of the Lease runs it.
 */
import type { Logger } from '../../common/logger.js';
import { MESH_API_VERSION, MESH_KIND, type KubeObject, type KubePort, type MeshServiceResource } from '../ports.js';
import type { Reconciler } from './reconciler.js';

export interface ControllerOptions {
  resyncMs: number;
  /** how many services reconcile at once */
  concurrency?: number;
  /** a failed reconcile waits base·2^(n-1) ms (n = failures in a row), at most cap, with jitter (default 1 s, 5 min) */
  backoff?: { baseMs?: number; capMs?: number };
}

interface Backoff {
  failures: number;
  notBefore: number;
  timer: NodeJS.Timeout | undefined;
  /** what failed: a new generation or a delete is new work and does not wait */
  generation: number | undefined;
  deleting: boolean;
}

/** exponential backoff with "equal jitter": half the delay fixed, half random */
export function backoffDelay(failures: number, baseMs: number, capMs: number, random = Math.random): number {
  const full = Math.min(capMs, baseMs * 2 ** Math.min(failures - 1, 30));
  return Math.round(full / 2 + random() * (full / 2));
}

export class Controller {
  private readonly running = new Map<string, Promise<void>>();
  private readonly dirty = new Set<string>();
  private readonly waiting: string[] = [];
  private stopWatch: (() => void) | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private stopped = true;
  private idleWaiters: (() => void)[] = [];
  private readonly backoffs = new Map<string, Backoff>();
  /** reconciles run, per key (tests and benchmarks count attempts) */
  readonly attempts = new Map<string, number>();

  constructor(private readonly kube: KubePort, private readonly reconciler: Reconciler, private readonly log: Logger, private readonly options: ControllerOptions) {}

  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    this.stopWatch = await this.kube.watch(MESH_API_VERSION, MESH_KIND, {}, (type, obj) => {
      if (type !== 'DELETED') this.enqueue(`${obj.metadata.namespace}/${obj.metadata.name}`, 'event', obj);
    });
    await this.resync();
    this.resyncTimer = setInterval(() => {
      this.resync().catch((e: unknown) => this.log.warn({ err: e }, 'resync failed'));
    }, this.options.resyncMs);
    this.resyncTimer.unref();
  }

  /** stop taking work; runs under way finish */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopWatch?.();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    for (const b of this.backoffs.values()) clearTimeout(b.timer);
    this.backoffs.clear();
    await Promise.allSettled([...this.running.values()]);
  }

  async resync(): Promise<void> {
    const all = await this.kube.list(MESH_API_VERSION, MESH_KIND);
    for (const o of all) this.enqueue(`${o.metadata.namespace}/${o.metadata.name}`, 'resync', o);
  }

  /** resolves when no reconcile runs or waits (tests) */
  idle(): Promise<void> {
    if (this.running.size === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  enqueue(key: string, reason: 'event' | 'resync', obj?: KubeObject): void {
    if (this.stopped) return;
    const b = this.backoffs.get(key);
    if (b && Date.now() < b.notBefore) {
      // our own status and Event writes come back as watch events: they wait for the backoff; new work does not
      const newWork = obj !== undefined && (obj.metadata.generation !== b.generation || Boolean(obj.metadata.deletionTimestamp) !== b.deleting);
      if (!newWork) return;
      clearTimeout(b.timer);
      this.backoffs.delete(key);
    }
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.waiting.includes(key)) return;
    this.waiting.push(key);
    this.pump(reason);
  }

  private pump(reason: 'event' | 'resync'): void {
    const limit = this.options.concurrency ?? 50;
    while (this.waiting.length && this.running.size < limit) {
      const key = this.waiting.shift()!;
      const p = this.runOne(key, reason).finally(() => {
        this.running.delete(key);
        if (this.dirty.delete(key)) this.enqueue(key, 'event');
        else this.pump('event');
        if (this.running.size === 0 && this.waiting.length === 0) {
          const w = this.idleWaiters;
          this.idleWaiters = [];
          for (const r of w) r();
        }
      });
      this.running.set(key, p);
    }
  }

  private async runOne(key: string, reason: 'event' | 'resync'): Promise<void> {
    const [namespace, name] = key.split('/') as [string, string];
    let resource: MeshServiceResource | undefined;
    try {
      resource = (await this.kube.get({ apiVersion: MESH_API_VERSION, kind: MESH_KIND, namespace, name })) as MeshServiceResource | undefined;
      if (!resource) { this.forget(key); return; }
      this.attempts.set(key, (this.attempts.get(key) ?? 0) + 1);
      await this.reconciler.reconcile(resource, reason);
      this.forget(key);
    } catch (e) {
      const failures = (this.backoffs.get(key)?.failures ?? 0) + 1;
      const delay = backoffDelay(failures, this.options.backoff?.baseMs ?? 1000, this.options.backoff?.capMs ?? 300_000);
      clearTimeout(this.backoffs.get(key)?.timer);
      const timer = setTimeout(() => {
        const b = this.backoffs.get(key);
        if (b) b.notBefore = 0;
        this.enqueue(key, 'resync');
      }, delay);
      timer.unref();
      this.backoffs.set(key, { failures, notBefore: Date.now() + delay, timer, generation: resource?.metadata.generation, deleting: Boolean(resource?.metadata.deletionTimestamp) });
      this.log.error({ err: e, service: key, failures, retryInMs: delay }, 'reconcile failed; trying again after a backoff');
    }
  }

  private forget(key: string): void {
    const b = this.backoffs.get(key);
    if (!b) return;
    clearTimeout(b.timer);
    this.backoffs.delete(key);
  }
}
