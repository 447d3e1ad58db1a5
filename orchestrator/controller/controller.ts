/**
 * The controller loop: level-triggered. A watch on MeshServices and a periodic re-list both put a
 * service's key in the queue; one reconcile per key at a time (an event during a run makes one more
 * run after it), every key in parallel. Only the holder of the Lease runs it.
 */
import type { Logger } from '../../common/logger.js';
import { MESH_API_VERSION, MESH_KIND, type KubePort, type MeshServiceResource } from '../ports.js';
import type { Reconciler } from './reconciler.js';

export interface ControllerOptions {
  resyncMs: number;
  /** how many services reconcile at once */
  concurrency?: number;
}

export class Controller {
  private readonly running = new Map<string, Promise<void>>();
  private readonly dirty = new Set<string>();
  private readonly waiting: string[] = [];
  private stopWatch: (() => void) | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private stopped = true;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly kube: KubePort, private readonly reconciler: Reconciler, private readonly log: Logger, private readonly options: ControllerOptions) {}

  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    this.stopWatch = await this.kube.watch(MESH_API_VERSION, MESH_KIND, {}, (type, obj) => {
      if (type !== 'DELETED') this.enqueue(`${obj.metadata.namespace}/${obj.metadata.name}`, 'event');
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
    await Promise.allSettled([...this.running.values()]);
  }

  async resync(): Promise<void> {
    const all = await this.kube.list(MESH_API_VERSION, MESH_KIND);
    for (const o of all) this.enqueue(`${o.metadata.namespace}/${o.metadata.name}`, 'resync');
  }

  /** resolves when no reconcile runs or waits (tests) */
  idle(): Promise<void> {
    if (this.running.size === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  enqueue(key: string, reason: 'event' | 'resync'): void {
    if (this.stopped) return;
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
    try {
      const resource = (await this.kube.get({ apiVersion: MESH_API_VERSION, kind: MESH_KIND, namespace, name })) as MeshServiceResource | undefined;
      if (!resource) return;
      await this.reconciler.reconcile(resource, reason);
    } catch (e) {
      this.log.error({ err: e, service: key }, 'reconcile failed; the next resync tries again');
    }
  }
}
