/**
 * Events as Kubernetes' event series record them: the same event about the same service again
 * (same type, reason, action and note, within the window) does not make a new Event; the first
 * one's `series` gets the count and the last time (events.k8s.io/v1 `series: {count,
 * lastObservedTime}`). A failure retried all night is one Event with a count, not thousands.
 */
import type { Logger } from '../../common/logger.js';
import { buildEvent, microTime, type Regarding } from '../events.js';
import type { KubeObject, KubePort } from '../ports.js';

interface Series {
  event: KubeObject;
  count: number;
  last: number;
}

export class EventRecorder {
  private readonly series = new Map<string, Series>();
  /** one record per key at a time, so a series never forks */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(private readonly kube: KubePort, private readonly log: Logger, private readonly windowMs = 10 * 60_000, private readonly max = 10_000) {}

  record(svc: Regarding, type: 'Normal' | 'Warning', reason: string, action: string, note: string): Promise<void> {
    const key = `${svc.namespace}/${svc.name}\n${type}\n${reason}\n${action}\n${note}`;
    const next = (this.chains.get(key) ?? Promise.resolve()).then(() => this.recordNow(key, svc, type, reason, action, note));
    const settled = next.catch((e: unknown) => { this.log.warn({ err: e, service: `${svc.namespace}/${svc.name}`, reason }, 'event not recorded'); });
    this.chains.set(key, settled);
    void settled.then(() => { if (this.chains.get(key) === settled) this.chains.delete(key); });
    return settled;
  }

  private async recordNow(key: string, svc: Regarding, type: 'Normal' | 'Warning', reason: string, action: string, note: string): Promise<void> {
    const now = new Date();
    const prev = this.series.get(key);
    if (prev && now.getTime() - prev.last < this.windowMs) {
      const count = prev.count + 1;
      try {
        const updated = await this.kube.replace({ ...prev.event, series: { count, lastObservedTime: microTime(now) } });
        this.series.set(key, { event: updated, count, last: now.getTime() });
        return;
      } catch {
        // deleted or changed meanwhile: start a new series
      }
    }
    const created = await this.kube.create(buildEvent(svc, type, reason, action, note, now));
    this.series.delete(key);
    this.series.set(key, { event: created, count: 1, last: now.getTime() });
    while (this.series.size > this.max) this.series.delete(this.series.keys().next().value!);
  }

  /** the service is gone: its series end */
  forget(namespace: string, name: string): void {
    for (const key of this.series.keys()) if (key.startsWith(`${namespace}/${name}\n`)) this.series.delete(key);
  }
}
