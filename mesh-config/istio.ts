/**
 * Istio kinds of the render contract (docs/descriptor.md): WorkloadGroup, DestinationRule, the mesh
 * VirtualService, PeerAuthentication, AuthorizationPolicy, and the ingress Gateway + VirtualService.
 * `networking.istio.io/v1`, `security.istio.io/v1`. Pure.
 */
import { workloadLabels } from '../common/labels.js';
import type { CircuitBreaker, Connection, ConnectionPool, Fault, LoadBalancer, Microservice, Port, ReadinessProbe, Retries, Route } from '../descriptor/types.js';
import { isHttpFamily } from '../descriptor/types.js';
import { ingressPrincipal } from '../descriptor/index.js';
import { hostOf, intoKey, meta, portOf, targetPortsOf, type MicroserviceGroup, type RenderContext, type RenderedObject } from './model.js';

const NETWORKING = 'networking.istio.io/v1';
const SECURITY = 'security.istio.io/v1';

/** The labels a VM's proxy announces (ISTIO_METAJSON_LABELS, docs/vm-bootstrap.md): WorkloadEntry labels + canonical ones. */
export function vmProxyLabels(serviceName: string, ms: Microservice): Record<string, string> {
  return {
    ...workloadLabels(serviceName, ms.name, ms.version),
    'service.istio.io/canonical-name': ms.name,
    'service.istio.io/canonical-revision': ms.version,
  };
}

function targetPortOf(ms: Microservice, port: string | number): number {
  if (typeof port === 'number') return port;
  const p = portOf(ms, port);
  if (!p) throw new TypeError(`readinessProbe of ${ms.name} ${ms.version} names no port "${port}"`);
  return p.targetPort;
}

/** WorkloadGroup probe ports are numbers: a port name becomes that version's targetPort. */
export function workloadGroupProbe(ms: Microservice, probe: ReadinessProbe): Record<string, unknown> {
  if ('httpGet' in probe) return { httpGet: { path: probe.httpGet.path, port: targetPortOf(ms, probe.httpGet.port) } };
  return { tcpSocket: { port: targetPortOf(ms, probe.tcpSocket.port) } };
}

/** `WorkloadGroup <name>-<version>` for a VM version: the identity the injector and WorkloadEntries use. */
export function renderWorkloadGroup(ctx: RenderContext, ms: Microservice): RenderedObject {
  const ports: Record<string, number> = {};
  for (const p of ms.ports) ports[p.name] = p.targetPort;
  const network = ctx.service.spec.mesh.network;
  return {
    apiVersion: NETWORKING,
    kind: 'WorkloadGroup',
    metadata: meta(ctx, `${ms.name}-${ms.version}`),
    spec: {
      metadata: { labels: vmProxyLabels(ctx.serviceName, ms) },
      template: {
        serviceAccount: ms.serviceAccount,
        network: network === '' ? undefined : network,
        ports,
      },
      probe: ms.readinessProbe ? workloadGroupProbe(ms, ms.readinessProbe) : undefined,
    },
  };
}

// ---- destination-wide settings (DestinationRule portLevelSettings) ----

export function loadBalancerPolicy(lb: LoadBalancer): Record<string, unknown> {
  if (typeof lb === 'string') return { simple: lb };
  const h = lb.consistentHash;
  if ('header' in h) return { consistentHash: { httpHeaderName: h.header } };
  if ('cookie' in h) return { consistentHash: { httpCookie: { name: h.cookie.name, ttl: h.cookie.ttl, path: h.cookie.path } } };
  return { consistentHash: { useSourceIp: true } };
}

export function connectionPoolPolicy(cp: ConnectionPool): Record<string, unknown> {
  const http = cp.maxPendingRequests === undefined && cp.maxRequestsPerConnection === undefined
    ? undefined
    : { http1MaxPendingRequests: cp.maxPendingRequests, maxRequestsPerConnection: cp.maxRequestsPerConnection };
  return { tcp: cp.maxConnections === undefined ? undefined : { maxConnections: cp.maxConnections }, http };
}

export function outlierDetectionPolicy(cb: CircuitBreaker): Record<string, unknown> {
  return {
    consecutive5xxErrors: cb.consecutiveErrors,
    interval: cb.interval,
    baseEjectionTime: cb.baseEjectionTime,
    maxEjectionPercent: cb.maxEjectionPercent,
  };
}

/** Rule 7 makes present settings agree, so the first present one of each kind is the setting. */
function portLevelSetting(ctx: RenderContext, group: MicroserviceGroup, port: Port): Record<string, unknown> | undefined {
  const conns = ctx.into.get(intoKey(group.name, port.name)) ?? [];
  const lb = conns.find((c) => c.loadBalancer !== undefined)?.loadBalancer;
  const cp = conns.find((c) => c.connectionPool !== undefined)?.connectionPool;
  const cb = conns.find((c) => c.circuitBreaker !== undefined)?.circuitBreaker;
  if (lb === undefined && cp === undefined && cb === undefined) return undefined;
  return {
    port: { number: port.port },
    loadBalancer: lb === undefined ? undefined : loadBalancerPolicy(lb),
    connectionPool: cp === undefined ? undefined : connectionPoolPolicy(cp),
    outlierDetection: cb === undefined ? undefined : outlierDetectionPolicy(cb),
  };
}

/** `DestinationRule <name>`: a subset per version, mTLS per mesh setting, per-port settings. */
export function renderDestinationRule(ctx: RenderContext, group: MicroserviceGroup): RenderedObject {
  const mtls = ctx.service.spec.mesh.mtls;
  // PERMISSIVE leaves tls out so Istio's auto-mTLS decides per endpoint
  const tls = mtls === 'STRICT' ? { mode: 'ISTIO_MUTUAL' } : mtls === 'DISABLE' ? { mode: 'DISABLE' } : undefined;
  const portLevelSettings = group.ports.map((p) => portLevelSetting(ctx, group, p)).filter((s) => s !== undefined);
  const trafficPolicy = tls === undefined && portLevelSettings.length === 0
    ? undefined
    : { tls, portLevelSettings: portLevelSettings.length === 0 ? undefined : portLevelSettings };
  return {
    apiVersion: NETWORKING,
    kind: 'DestinationRule',
    metadata: meta(ctx, group.name),
    spec: {
      host: hostOf(ctx, group.name),
      subsets: group.versions.map((v) => ({ name: v.version, labels: { version: v.version } })),
      trafficPolicy,
    },
  };
}

// ---- HTTP route pieces shared by the mesh and the ingress VirtualService ----

export function retriesPolicy(r: Retries): Record<string, unknown> {
  return { attempts: r.attempts, perTryTimeout: r.perTryTimeout, retryOn: r.retryOn };
}

export function faultPolicy(f: Fault): Record<string, unknown> {
  return {
    delay: f.delay ? { percentage: { value: f.delay.percent }, fixedDelay: f.delay.fixed } : undefined,
    abort: f.abort ? { percentage: { value: f.abort.percent }, httpStatus: f.abort.httpStatus } : undefined,
  };
}

function routeMatchFields(route: Route | undefined): Record<string, unknown> {
  const m = route?.match;
  if (!m) return {};
  const headers: Record<string, { exact: string }> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) headers[k] = { exact: v };
  return {
    uri: m.pathPrefix === undefined ? undefined : { prefix: m.pathPrefix },
    headers: m.headers === undefined ? undefined : headers,
  };
}

function destinations(host: string, portNumber: number, route: Route | undefined): Record<string, unknown>[] {
  if (!route) return [{ destination: { host, port: { number: portNumber } } }];
  return route.split.map((s) => ({ destination: { host, port: { number: portNumber }, subset: s.version }, weight: s.weight }));
}

function connectionPolicy(c: Connection | undefined): Record<string, unknown> {
  if (!c) return {};
  return {
    timeout: c.timeout,
    retries: c.retries ? retriesPolicy(c.retries) : undefined,
    fault: c.fault ? faultPolicy(c.fault) : undefined,
  };
}

/** A connection that needs the mesh VirtualService: not from ingress, and sets routing policy. */
export function needsMeshRouting(c: Connection): boolean {
  return c.from !== 'ingress' && (c.timeout !== undefined || c.retries !== undefined || c.fault !== undefined || c.routes !== undefined);
}

function servicePort(group: MicroserviceGroup, portName: string): Port {
  const p = group.ports.find((x) => x.name === portName);
  if (!p) throw new TypeError(`${group.name} has no port "${portName}"`);
  return p;
}

/** The mesh `VirtualService <name>`, or undefined when no connection into it needs one. */
export function renderVirtualService(ctx: RenderContext, group: MicroserviceGroup): RenderedObject | undefined {
  const qualifying = (ctx.intoName.get(group.name) ?? [])
    .filter(needsMeshRouting)
    .sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : a.port < b.port ? -1 : a.port > b.port ? 1 : 0));
  if (qualifying.length === 0) return undefined;
  const host = hostOf(ctx, group.name);
  const http: Record<string, unknown>[] = [];
  for (const c of qualifying) {
    const port = servicePort(group, c.port).port;
    const source = { sourceLabels: workloadLabels(ctx.serviceName, c.from), sourceNamespace: ctx.namespace, port };
    for (const route of c.routes ?? [undefined]) {
      http.push({ match: [{ ...source, ...routeMatchFields(route) }], route: destinations(host, port, route), ...connectionPolicy(c) });
    }
  }
  const httpPorts = group.ports.filter((p) => isHttpFamily(p.protocol));
  const single = group.ports.length === 1;
  for (const p of httpPorts) {
    http.push({ match: single ? undefined : [{ port: p.port }], route: destinations(host, p.port, undefined) });
  }
  const tcp = group.ports
    .filter((p) => !isHttpFamily(p.protocol))
    .map((p) => ({ match: [{ port: p.port }], route: destinations(host, p.port, undefined) }));
  return {
    apiVersion: NETWORKING,
    kind: 'VirtualService',
    metadata: meta(ctx, group.name),
    spec: { hosts: [host], http, tcp: tcp.length === 0 ? undefined : tcp },
  };
}

/** `PeerAuthentication <name>`: per workload, never namespace-wide, no portLevelMtls. */
export function renderPeerAuthentication(ctx: RenderContext, group: MicroserviceGroup): RenderedObject {
  return {
    apiVersion: SECURITY,
    kind: 'PeerAuthentication',
    metadata: meta(ctx, group.name),
    spec: {
      selector: { matchLabels: workloadLabels(ctx.serviceName, group.name) },
      mtls: { mode: ctx.service.spec.mesh.mtls },
    },
  };
}

function principal(ctx: RenderContext, serviceAccount: string): string {
  return `${ctx.values.trustDomain}/ns/${ctx.namespace}/sa/${serviceAccount}`;
}

/** `AuthorizationPolicy <name>` (authorization: connections): only declared callers get in; none: deny all. */
export function renderAuthorizationPolicy(ctx: RenderContext, group: MicroserviceGroup): RenderedObject {
  const rules: Record<string, unknown>[] = [];
  for (const p of group.ports) {
    const callers = ctx.into.get(intoKey(group.name, p.name)) ?? [];
    // an ingress route is a way in as well: without the gateway principal it could never be used
    const routed = (ctx.service.spec.ingress?.routes ?? []).some((r) => r.to === group.name && r.port === p.name);
    if (callers.length === 0 && !routed) continue;
    const principals = new Set<string>();
    if (routed) principals.add(ingressPrincipal(ctx.values));
    for (const c of callers) {
      if (c.from === 'ingress') {
        principals.add(ingressPrincipal(ctx.values));
        continue;
      }
      for (const v of ctx.byName.get(c.from)?.versions ?? []) principals.add(principal(ctx, v.serviceAccount));
    }
    rules.push({
      from: [{ source: { principals: [...principals].sort() } }],
      to: [{ operation: { ports: targetPortsOf(group, p.name).map(String) } }],
    });
  }
  const selector = { matchLabels: workloadLabels(ctx.serviceName, group.name) };
  return {
    apiVersion: SECURITY,
    kind: 'AuthorizationPolicy',
    metadata: meta(ctx, group.name),
    // an ALLOW policy with no rules would allow nothing too, but `{selector}` alone is the documented deny-all
    spec: rules.length === 0 ? { selector } : { selector, action: 'ALLOW', rules },
  };
}

/** `Gateway <service>-ingress` and `VirtualService <service>-ingress` bound only to it. */
export function renderIngress(ctx: RenderContext): RenderedObject[] {
  const ingress = ctx.service.spec.ingress;
  if (!ingress) return [];
  const name = `${ctx.serviceName}-ingress`;
  const hosts = [ingress.host];
  const servers: Record<string, unknown>[] = [
    { port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts, tls: ingress.tls ? { httpsRedirect: true } : undefined },
  ];
  if (ingress.tls) {
    servers.push({ port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts, tls: { mode: 'SIMPLE', credentialName: ingress.tls.credentialName } });
  }
  const gateway: RenderedObject = {
    apiVersion: NETWORKING,
    kind: 'Gateway',
    metadata: meta(ctx, name),
    spec: { selector: { ...ctx.values.ingressGateway.selector }, servers },
  };
  const http: Record<string, unknown>[] = [];
  for (const r of ingress.routes) {
    const group = ctx.byName.get(r.to);
    if (!group) throw new TypeError(`ingress route to unknown microservice "${r.to}"`);
    const host = hostOf(ctx, r.to);
    const port = servicePort(group, r.port).port;
    const conn = ctx.service.spec.connections.find((c) => c.from === 'ingress' && c.to === r.to && c.port === r.port);
    for (const route of conn?.routes ?? [undefined]) {
      // rule 8: a from-ingress route never sets pathPrefix, so the ingress prefix is the uri match
      const own = routeMatchFields(route);
      http.push({ match: [{ ...own, uri: { prefix: r.pathPrefix } }], route: destinations(host, port, route), ...connectionPolicy(conn) });
    }
  }
  const virtualService: RenderedObject = {
    apiVersion: NETWORKING,
    kind: 'VirtualService',
    metadata: meta(ctx, name),
    spec: { hosts, gateways: [name], http },
  };
  return [gateway, virtualService];
}
