/**
 * What every generator needs to know about a validated descriptor, computed once: microservices
 * grouped by name, versions sorted, the connections into each (name, port). Pure.
 */
import type { Connection, MeshService, Microservice, Port } from '../descriptor/types.js';
import { managedLabels } from '../common/labels.js';
import type { MeshValues } from '../descriptor/index.js';

/** One object mixmesh generates: plain data, serialised by common/yaml.ts. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RenderedObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/** All versions of one microservice name. */
export interface MicroserviceGroup {
  name: string;
  /** sorted by version */
  versions: Microservice[];
  /** the ports every version declares (rule 1), sorted by port number */
  ports: Port[];
}

export interface RenderContext {
  service: MeshService;
  values: MeshValues;
  serviceName: string;
  namespace: string;
  /** management labels plus the descriptor's own: on every object's metadata */
  labels: Record<string, string>;
  /** sorted by name */
  groups: MicroserviceGroup[];
  byName: Map<string, MicroserviceGroup>;
  /** connections into `<to>/<port name>`, in input order */
  into: Map<string, Connection[]>;
  /** connections into each microservice name, in input order */
  intoName: Map<string, Connection[]>;
}

export function byString<T>(key: (t: T) => string): (a: T, b: T) => number {
  return (a, b) => {
    const ka = key(a);
    const kb = key(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  };
}

export function sortPorts(ports: readonly Port[]): Port[] {
  return [...ports].sort((a, b) => a.port - b.port || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function intoKey(to: string, port: string): string {
  return `${to}/${port}`;
}

export function buildContext(service: MeshService, values: MeshValues): RenderContext {
  const byName = new Map<string, MicroserviceGroup>();
  for (const ms of service.spec.microservices) {
    let group = byName.get(ms.name);
    if (!group) {
      group = { name: ms.name, versions: [], ports: sortPorts(ms.ports) };
      byName.set(ms.name, group);
    }
    group.versions.push(ms);
  }
  for (const group of byName.values()) group.versions.sort(byString((m) => m.version));
  const groups = [...byName.values()].sort(byString((g) => g.name));
  const into = new Map<string, Connection[]>();
  const intoName = new Map<string, Connection[]>();
  for (const c of service.spec.connections) {
    const key = intoKey(c.to, c.port);
    const list = into.get(key);
    if (list) list.push(c);
    else into.set(key, [c]);
    const byTo = intoName.get(c.to);
    if (byTo) byTo.push(c);
    else intoName.set(c.to, [c]);
  }
  return {
    service,
    values,
    serviceName: service.metadata.name,
    namespace: service.metadata.namespace,
    labels: managedLabels(service.metadata.name, service.metadata.labels),
    groups,
    byName,
    into,
    intoName,
  };
}

/** Metadata of a namespaced object: name, namespace, the management labels. */
export function meta(ctx: RenderContext, name: string): ObjectMeta {
  return { name, namespace: ctx.namespace, labels: { ...ctx.labels } };
}

/** The mesh host of a microservice: `<name>.<ns>.svc.<clusterDomain>`. */
export function hostOf(ctx: RenderContext, name: string): string {
  return `${name}.${ctx.namespace}.svc.${ctx.values.clusterDomain}`;
}

/** The sorted, de-duplicated targetPorts of all versions for one port name. */
export function targetPortsOf(group: MicroserviceGroup, portName: string): number[] {
  const set = new Set<number>();
  for (const v of group.versions) for (const p of v.ports) if (p.name === portName) set.add(p.targetPort);
  return [...set].sort((a, b) => a - b);
}

export function portOf(ms: Microservice, portName: string): Port | undefined {
  return ms.ports.find((p) => p.name === portName);
}
