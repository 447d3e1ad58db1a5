/**
 * The `istioctl analyze` checks of docs/vm-bootstrap.md, over a list of objects (istioctl cannot be
 * installed here): IST0101 (referenced host/subset/gateway not found), IST0106 (schema: our
 * validateMeshObject), IST0109 (two mesh VirtualServices for one host), IST0112 (destination without
 * port when the service has several), IST0118 (port name/appProtocol does not give the protocol),
 * IST0130 (unreachable route). IST0173 (VM-only subsets) is a known false alarm and not checked.
 */
import { meshObjectProblems } from '../../mesh-config/index.js';

export interface AnalyzerMessage {
  code: 'IST0101' | 'IST0106' | 'IST0109' | 'IST0112' | 'IST0118' | 'IST0130';
  /** `Kind ns/name` */
  resource: string;
  message: string;
}

interface Obj {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  spec?: Record<string, unknown>;
}

type Dest = { host?: string; subset?: string; port?: { number?: number } };
type HttpRoute = { match?: Array<Record<string, unknown>>; route?: Array<{ destination?: Dest }> };
type TcpRoute = { match?: Array<Record<string, unknown>>; route?: Array<{ destination?: Dest }> };

/** Protocol prefixes Istio derives from a Service port name (`<proto>` or `<proto>-<suffix>`). */
const NAME_PROTOCOLS = ['http', 'http2', 'https', 'grpc', 'grpc-web', 'tcp', 'tls', 'udp', 'mongo', 'mysql', 'redis'];
const APP_PROTOCOLS = ['http', 'http2', 'https', 'grpc', 'grpc-web', 'tcp', 'tls', 'udp', 'mongo', 'mysql', 'redis', 'h2c', 'kubernetes.io/h2c', 'kubernetes.io/ws', 'kubernetes.io/wss'];

function resource(o: Obj): string {
  return `${o.kind} ${o.metadata?.namespace ?? 'default'}/${o.metadata?.name}`;
}

/** `name`, `name.ns`, `name.ns.svc`, `name.ns.svc.<domain>` all name the Service name/ns. */
function serviceKey(host: string, ns: string): string {
  const parts = host.split('.');
  return `${parts[0]}.${parts[1] ?? ns}`;
}

export function analyze(objects: readonly unknown[]): AnalyzerMessage[] {
  const out: AnalyzerMessage[] = [];
  const all = objects as Obj[];
  const services = new Map<string, Obj>();
  const subsets = new Map<string, Set<string>>();
  const gateways = new Set<string>();
  for (const o of all) {
    const ns = o.metadata?.namespace ?? 'default';
    if (o.kind === 'Service') services.set(`${o.metadata?.name}.${ns}`, o);
    if (o.kind === 'Gateway') gateways.add(`${ns}/${o.metadata?.name}`);
    if (o.kind === 'DestinationRule') {
      const key = serviceKey(String(o.spec?.host ?? ''), ns);
      const set = subsets.get(key) ?? new Set<string>();
      for (const s of (o.spec?.subsets as Array<{ name: string }> | undefined) ?? []) set.add(s.name);
      subsets.set(key, set);
    }
  }

  for (const o of all) {
    // IST0106: schema (and the CEL rules) of the kinds we know
    if (typeof o.apiVersion === 'string' && o.apiVersion.includes('istio.io')) {
      for (const p of meshObjectProblems(o as Parameters<typeof meshObjectProblems>[0])) out.push({ code: 'IST0106', resource: resource(o), message: `schema validation error: ${p}` });
    }
    // IST0118: the protocol must follow from the port name or appProtocol
    if (o.kind === 'Service') {
      for (const p of (o.spec?.ports as Array<{ name?: string; appProtocol?: string; port: number }> | undefined) ?? []) {
        const byName = p.name !== undefined && NAME_PROTOCOLS.some((proto) => p.name === proto || p.name!.startsWith(`${proto}-`));
        const byApp = p.appProtocol !== undefined && APP_PROTOCOLS.includes(p.appProtocol);
        if (!byName && !byApp) out.push({ code: 'IST0118', resource: resource(o), message: `port ${p.name ?? p.port} does not follow the Istio naming convention and has no known appProtocol` });
      }
    }
  }

  const meshHosts = new Map<string, string[]>();
  for (const vs of all.filter((o) => o.kind === 'VirtualService')) {
    const ns = vs.metadata?.namespace ?? 'default';
    const gws = (vs.spec?.gateways as string[] | undefined) ?? [];
    for (const g of gws) {
      if (g === 'mesh') continue;
      const key = g.includes('/') ? g : `${ns}/${g}`;
      if (!gateways.has(key)) out.push({ code: 'IST0101', resource: resource(vs), message: `Referenced gateway not found: "${g}"` });
    }
    // IST0109: several VirtualServices bound to the mesh for one host
    if (gws.length === 0 || gws.includes('mesh')) {
      for (const h of (vs.spec?.hosts as string[] | undefined) ?? []) {
        const list = meshHosts.get(h) ?? [];
        list.push(resource(vs));
        meshHosts.set(h, list);
      }
    }
    const routes: Array<{ where: string; list: HttpRoute[] | TcpRoute[] }> = [
      { where: 'http', list: (vs.spec?.http as HttpRoute[] | undefined) ?? [] },
      { where: 'tcp', list: (vs.spec?.tcp as TcpRoute[] | undefined) ?? [] },
    ];
    for (const { where, list } of routes) {
      const seen: string[] = [];
      list.forEach((rule, i) => {
        // IST0130: a rule after a catch-all, or one whose every match an earlier rule already had
        const matches = rule.match ?? [];
        const catchAllBefore = seen.includes('*');
        const keys = matches.length === 0 ? ['*'] : matches.map((m) => JSON.stringify(m));
        if (catchAllBefore || keys.every((k) => seen.includes(k))) {
          out.push({ code: 'IST0130', resource: resource(vs), message: `VirtualService rule #${i} (${where}) is not used (an earlier rule matches all its requests)` });
        }
        seen.push(...keys);
        for (const r of rule.route ?? []) {
          const d = r.destination ?? {};
          const key = serviceKey(String(d.host ?? ''), ns);
          const svc = services.get(key);
          if (!svc) {
            out.push({ code: 'IST0101', resource: resource(vs), message: `Referenced host not found: "${d.host}"` });
            continue;
          }
          if (d.subset !== undefined && !(subsets.get(key)?.has(d.subset) ?? false)) {
            out.push({ code: 'IST0101', resource: resource(vs), message: `Referenced host+subset in destinationrule not found: "${d.host}+${d.subset}"` });
          }
          const ports = (svc.spec?.ports as unknown[] | undefined) ?? [];
          if (ports.length > 1 && d.port?.number === undefined) {
            out.push({ code: 'IST0112', resource: resource(vs), message: `This VirtualService has no port for destination "${d.host}", which has ${ports.length} ports` });
          }
        }
      });
    }
  }
  for (const [host, list] of meshHosts) {
    if (list.length > 1) for (const r of list) out.push({ code: 'IST0109', resource: r, message: `The VirtualServices ${list.join(', ')} associated with mesh define the same host or subset ${host}` });
  }
  return out;
}
