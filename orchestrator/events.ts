/**
 * events.k8s.io/v1 Events whose `regarding` is the MeshService (docs/kubernetes.md). Names sort in the
 * order they were recorded, so "ordered events" is a sort by name.
 */
import { hostname } from 'node:os';
import { managedLabels } from '../common/labels.js';
import type { KubeObject, KubePort } from './ports.js';
import { MESH_API_VERSION, MESH_KIND } from './ports.js';

export const EVENT_API_VERSION = 'events.k8s.io/v1';

export interface ServiceEvent {
  id: string;
  time: string;
  type: 'Normal' | 'Warning';
  reason: string;
  action: string;
  note: string;
  /** how many times it happened (an event series: the same event again updates one Event) */
  count?: number;
}

let sequence = 0;

/** Kubernetes MicroTime: RFC 3339 with microseconds */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export interface Regarding {
  namespace: string;
  name: string;
  uid?: string | undefined;
  labels?: Record<string, string> | undefined;
}

export function buildEvent(svc: Regarding, type: 'Normal' | 'Warning', reason: string, action: string, note: string, now = new Date()): KubeObject {
  sequence = (sequence + 1) % 0x10000;
  // time first, then a sequence: names sort in recording order within this process
  const suffix = `${now.getTime().toString(16).padStart(12, '0')}${sequence.toString(16).padStart(4, '0')}`;
  return {
    apiVersion: EVENT_API_VERSION,
    kind: 'Event',
    metadata: { name: `${svc.name}.${suffix}`, namespace: svc.namespace, labels: managedLabels(svc.name, svc.labels ?? {}) },
    eventTime: microTime(now),
    reportingController: 'mixmesh.io/orchestrator',
    reportingInstance: hostname().slice(0, 128),
    action,
    reason,
    note: note.slice(0, 1024),
    type,
    regarding: { apiVersion: MESH_API_VERSION, kind: MESH_KIND, namespace: svc.namespace, name: svc.name, ...(svc.uid ? { uid: svc.uid } : {}) },
  };
}

export function toServiceEvent(o: KubeObject): ServiceEvent {
  return {
    id: o.metadata.name,
    time: String(o.eventTime ?? o.metadata.creationTimestamp ?? ''),
    type: o.type === 'Warning' ? 'Warning' : 'Normal',
    reason: String(o.reason ?? ''),
    action: String(o.action ?? ''),
    note: String(o.note ?? ''),
    ...((o.series as { count?: number } | undefined)?.count ? { count: (o.series as { count: number }).count } : {}),
  };
}

function isAbout(o: KubeObject, namespace: string, name: string): boolean {
  const r = o.regarding as { kind?: string; name?: string; namespace?: string } | undefined;
  return r?.kind === MESH_KIND && r.name === name && r.namespace === namespace;
}

/** the service's events, oldest first */
export async function listServiceEvents(kube: KubePort, namespace: string, name: string): Promise<ServiceEvent[]> {
  const items = await kube.list(EVENT_API_VERSION, 'Event', { namespace, labelSelector: `mixmesh.io/service=${name}` });
  return items.filter((o) => isAbout(o, namespace, name)).map(toServiceEvent).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** new events of one service as they are recorded; returns the stop function */
export function watchServiceEvents(kube: KubePort, namespace: string, name: string, onEvent: (e: ServiceEvent) => void): Promise<() => void> {
  return kube.watch(EVENT_API_VERSION, 'Event', { namespace, labelSelector: `mixmesh.io/service=${name}` }, (type, o) => {
    if (type === 'ADDED' && isAbout(o, namespace, name)) onEvent(toServiceEvent(o));
  });
}
