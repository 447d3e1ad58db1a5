/**
 * The topology of one service as plain data, from its descriptor and status: a group per
 * microservice, a node per version (VM or container, with readiness), an edge per declared
 * connection with the labels of its policies, and the ingress with its routes. Pure: no DOM,
 * tested in Node (model.test.ts).
 */
// the browser bundle takes the type from the file itself: the descriptor's index loads Node code
import type { VmInstanceStatus } from '../../descriptor/status.js';

/** one VM instance as the MeshService status records it (descriptor/status.ts) */
export type VmInstance = VmInstanceStatus;

export interface VersionNode {
  id: string;
  name: string;
  version: string;
  runtime: 'vm' | 'container';
  ready: number;
  desired: number;
  /** status known (absent in a preview of an edited descriptor) */
  live: boolean;
  ports: string[];
  image?: string;
  instances: VmInstance[];
}

export interface Group {
  id: string;
  name: string;
  versions: VersionNode[];
}

export interface Edge {
  id: string;
  from: string;
  to: string;
  /** one short line per policy */
  labels: string[];
  /** the connection as declared */
  connection: Record<string, unknown>;
}

export interface Topology {
  namespace: string;
  name: string;
  groups: Group[];
  edges: Edge[];
  ingress?: { host: string; tls: boolean; routes: { pathPrefix: string; to: string; port?: string }[] };
  mtls: string;
  authorization: string;
}

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Rec) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown, d = ''): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : d);

export const INGRESS_ID = 'ingress';

/** the policy labels of one connection, in a fixed order */
export function connectionLabels(c: Rec, mtls: string): string[] {
  const labels: string[] = [];
  const port = str(c.port);
  if (port) labels.push(`port ${port}`);
  if (c.timeout !== undefined) labels.push(`timeout ${str(c.timeout)}`);
  const retries = rec(c.retries);
  if (retries.attempts !== undefined) labels.push(`retries ${str(retries.attempts)}×${str(retries.perTryTimeout, '…')}${retries.retryOn ? ` on ${str(retries.retryOn)}` : ''}`);
  for (const r of arr(c.routes)) {
    const route = rec(r);
    const match = rec(route.match);
    const split = arr(route.split).map((s) => `${str(rec(s).version)} ${str(rec(s).weight)}%`).join(' · ');
    const when = match.pathPrefix ? `${str(match.pathPrefix)}: ` : Object.keys(rec(match.headers)).length ? 'header: ' : '';
    if (split) labels.push(`split ${when}${split}`);
  }
  const fault = rec(c.fault);
  if (fault.delay) labels.push(`fault delay ${str(rec(fault.delay).fixed)} ${str(rec(fault.delay).percent)}%`);
  if (fault.abort) labels.push(`fault abort ${str(rec(fault.abort).httpStatus)} ${str(rec(fault.abort).percent)}%`);
  const pool = rec(c.connectionPool);
  const poolParts = [pool.maxConnections !== undefined ? `${str(pool.maxConnections)} conn` : '', pool.maxPendingRequests !== undefined ? `${str(pool.maxPendingRequests)} pending` : '', pool.maxRequestsPerConnection !== undefined ? `${str(pool.maxRequestsPerConnection)} req/conn` : ''].filter(Boolean);
  if (poolParts.length) labels.push(`pool ${poolParts.join(', ')}`);
  const cb = rec(c.circuitBreaker);
  if (Object.keys(cb).length) labels.push(`circuit breaker ${str(cb.consecutiveErrors, '5')} errors${cb.baseEjectionTime ? `, eject ${str(cb.baseEjectionTime)}` : ''}`);
  const lb = c.loadBalancer;
  if (typeof lb === 'string') labels.push(`lb ${lb}`);
  else if (lb && typeof lb === 'object') labels.push(`lb ${Object.keys(rec(rec(lb).consistentHash)).map((k) => `hash ${k}`).join('') || 'custom'}`);
  labels.push(mtls === 'DISABLE' ? 'plaintext' : `mTLS ${mtls}`);
  return labels;
}

/** a descriptor (as the API returns it, with or without status) → its topology */
export function topologyOf(service: Rec): Topology {
  const metadata = rec(service.metadata);
  const spec = rec(service.spec);
  const status = rec(service.status);
  const mesh = rec(spec.mesh);
  const mtls = str(mesh.mtls, 'STRICT');
  const statuses = arr(status.microservices).map(rec);
  const groups = new Map<string, Group>();
  for (const m of arr(spec.microservices).map(rec)) {
    const name = str(m.name);
    const version = str(m.version, 'v1');
    const runtime = m.runtime === 'vm' ? 'vm' : 'container';
    const st = statuses.find((s) => s.name === name && str(s.version, 'v1') === version);
    const desired = runtime === 'vm' ? Number(rec(m.vm).instances ?? 1) : Number(rec(m.container).replicas ?? 1);
    const node: VersionNode = {
      id: `${name}@${version}`, name, version, runtime,
      ready: st ? Number(st.ready ?? 0) : 0,
      desired: st ? Number(st.desired ?? desired) : desired,
      live: st !== undefined,
      ports: arr(m.ports).map((p) => `${str(rec(p).name)} ${str(rec(p).port)}`),
      ...(runtime === 'container' && rec(m.container).image ? { image: str(rec(m.container).image) } : {}),
      instances: arr(st?.instances).map((i) => rec(i) as unknown as VmInstance),
    };
    const g = groups.get(name) ?? { id: `ms:${name}`, name, versions: [] };
    g.versions.push(node);
    groups.set(name, g);
  }
  const edges: Edge[] = arr(spec.connections).map(rec).map((c, i) => {
    const from = str(c.from);
    const to = str(c.to);
    return { id: `c${i}:${from}->${to}`, from: from === INGRESS_ID ? INGRESS_ID : `ms:${from}`, to: `ms:${to}`, labels: connectionLabels(c, mtls), connection: c };
  });
  const ing = rec(spec.ingress);
  const ingress = ing.host !== undefined || edges.some((e) => e.from === INGRESS_ID)
    ? { host: str(ing.host, '(no host)'), tls: ing.tls !== undefined, routes: arr(ing.routes).map(rec).map((r) => ({ pathPrefix: str(r.pathPrefix, '/'), to: str(r.to), ...(r.port !== undefined ? { port: str(r.port) } : {}) })) }
    : undefined;
  return {
    namespace: str(metadata.namespace, 'default'), name: str(metadata.name),
    groups: [...groups.values()], edges, ...(ingress ? { ingress } : {}), mtls, authorization: str(mesh.authorization, 'connections'),
  };
}

/** one step of a VM's chain, for the deploy animation */
export type ChainStep = 'create' | 'instantiate' | 'ssh' | 'inject' | 'register';
export const CHAIN_STEPS: readonly ChainStep[] = ['create', 'instantiate', 'ssh', 'inject', 'register'];
export type StepState = 'done' | 'active' | 'waiting' | 'failed';

export interface ServiceEventLite {
  id: string;
  reason: string;
  note: string;
  type?: string;
}

/**
 * where one VM instance is in its chain, from the instance status (vnfInstanceId, address,
 * sidecar state) and the milestone events of the running deploy (VmInstantiated, VmRegistered
 * name the VNF instance in their note)
 */
export function chainState(instance: VmInstance | undefined, vnfInstanceName: string, events: readonly ServiceEventLite[], running: boolean): Record<ChainStep, StepState> {
  const mentions = (reason: string): boolean => events.some((e) => e.reason === reason && e.note.startsWith(`${vnfInstanceName}:`));
  let reached = 0; // steps done
  if (instance?.vnfInstanceId) reached = 1;
  if (mentions('VmInstantiated') || instance?.address) reached = Math.max(reached, 2);
  const sidecar = instance?.sidecar ?? '';
  if (['Installing', 'Starting', 'Verifying', 'Succeeded'].includes(sidecar)) reached = Math.max(reached, 3);
  if (sidecar === 'Succeeded') reached = Math.max(reached, 4);
  if (mentions('VmRegistered') || (!running && sidecar === 'Succeeded' && !instance?.lastError)) reached = 5;
  const failed = Boolean(instance?.lastError) || sidecar === 'Failed';
  const out = {} as Record<ChainStep, StepState>;
  CHAIN_STEPS.forEach((s, i) => {
    out[s] = i < reached ? 'done' : i === reached ? (failed ? 'failed' : running ? 'active' : 'waiting') : 'waiting';
  });
  return out;
}

/** "in 52 min", "3 min ago" */
export function relativeTime(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const d = Math.round((t - now) / 1000);
  const abs = Math.abs(d);
  const text = abs < 60 ? `${abs} s` : abs < 3600 ? `${Math.round(abs / 60)} min` : abs < 86400 ? `${(abs / 3600).toFixed(1)} h` : `${Math.round(abs / 86400)} d`;
  return d >= 0 ? `in ${text}` : `${text} ago`;
}
