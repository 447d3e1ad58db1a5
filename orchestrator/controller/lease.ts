/**
 * Leader election with a coordination.k8s.io/v1 Lease in the system namespace: only the holder
 * runs the controller; the API answers on every replica. Optimistic concurrency (resourceVersion)
 * makes two candidates never both win.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { isMixmeshError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { KubeObject, KubePort } from '../ports.js';

export interface LeaseOptions {
  namespace: string;
  name?: string;
  identity?: string;
  leaseDurationSeconds?: number;
  renewEveryMs?: number;
}

const microTime = (d: Date): string => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export class LeaderElector {
  readonly identity: string;
  private timer: NodeJS.Timeout | undefined;
  private leading = false;
  private readonly name: string;
  private readonly duration: number;

  constructor(private readonly kube: KubePort, private readonly log: Logger, private readonly options: LeaseOptions, private readonly callbacks: { onStart: () => Promise<void>; onStop: () => Promise<void> }) {
    this.identity = options.identity ?? `${hostname()}-${randomBytes(4).toString('hex')}`;
    this.name = options.name ?? 'mixmesh-orchestrator';
    this.duration = options.leaseDurationSeconds ?? 15;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  private ref(): { apiVersion: string; kind: string; namespace: string; name: string } {
    return { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace: this.options.namespace, name: this.name };
  }

  /** one attempt to acquire or renew; true while we hold it */
  async tryAcquire(): Promise<boolean> {
    const nowDate = new Date();
    const live = await this.kube.get(this.ref());
    const spec = (live?.spec ?? {}) as { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number; leaseTransitions?: number; acquireTime?: string };
    const expired = !spec.renewTime || Date.parse(spec.renewTime) + (spec.leaseDurationSeconds ?? this.duration) * 1000 < nowDate.getTime();
    const ours = spec.holderIdentity === this.identity;
    if (live && !ours && !expired) return false;
    const next: KubeObject = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { ...(live?.metadata ?? {}), name: this.name, namespace: this.options.namespace },
      spec: {
        holderIdentity: this.identity,
        leaseDurationSeconds: this.duration,
        acquireTime: ours && spec.acquireTime ? spec.acquireTime : microTime(nowDate),
        renewTime: microTime(nowDate),
        leaseTransitions: (spec.leaseTransitions ?? 0) + (ours || !live ? 0 : 1),
      },
    };
    try {
      if (live) await this.kube.replace(next);
      else await this.kube.create(next);
      return true;
    } catch (e) {
      // someone else won the race (409): not an error
      if (isMixmeshError(e) && (e.status === 409 || e.code === 'ALREADY_EXISTS')) return false;
      throw e;
    }
  }

  async start(): Promise<void> {
    const tick = async (): Promise<void> => {
      let held = false;
      try {
        held = await this.tryAcquire();
      } catch (e) {
        this.log.warn({ err: e }, 'lease check failed');
      }
      if (held && !this.leading) {
        this.leading = true;
        this.log.info({ identity: this.identity }, 'leading');
        await this.callbacks.onStart();
      } else if (!held && this.leading) {
        this.leading = false;
        this.log.warn({ identity: this.identity }, 'lost the lease; stopping the controller');
        await this.callbacks.onStop();
      }
    };
    await tick();
    this.timer = setInterval(() => { void tick(); }, this.options.renewEveryMs ?? 5000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.leading) {
      this.leading = false;
      await this.callbacks.onStop();
      // hand over at once instead of letting the lease run out
      const live = await this.kube.get(this.ref()).catch(() => undefined);
      if (live && (live.spec as { holderIdentity?: string }).holderIdentity === this.identity) {
        await this.kube.replace({ ...live, spec: { ...(live.spec as object), renewTime: microTime(new Date(0)), holderIdentity: '' } }).catch(() => undefined);
      }
    }
  }
}
