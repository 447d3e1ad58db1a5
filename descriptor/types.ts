/**
 * The `mixmesh.io/v1alpha1` MeshService contract (docs/descriptor.md), as TypeScript.
 * `MeshServiceInput` is what a user writes; `MeshService` is what validate() returns: every default
 * applied, so generators never guess.
 */

export type Runtime = 'container' | 'vm';
export type Protocol = 'HTTP' | 'HTTP2' | 'GRPC' | 'TCP' | 'TLS';
export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';
export type AuthorizationMode = 'connections' | 'open';
export type HostKeyPolicy = 'console' | 'accept-new' | string; // or a pinned "ssh-ed25519 AAAA…" key
export type SidecarPackage = 'deb' | 'rpm' | 'tar';
export type InjectionMode = 'orchestrator' | 'plugin';
export type SimpleLoadBalancer = 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'PASSTHROUGH';

export const HTTP_FAMILY: ReadonlySet<Protocol> = new Set(['HTTP', 'HTTP2', 'GRPC']);
export function isHttpFamily(p: Protocol): boolean {
  return HTTP_FAMILY.has(p);
}

export interface Port {
  name: string;
  port: number;
  targetPort: number;
  protocol: Protocol;
}

export type ProbePort = string | number;
export type ReadinessProbe =
  | { httpGet: { path: string; port: ProbePort } }
  | { tcpSocket: { port: ProbePort } };

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef: { name: string; key: string } };
}

export interface ContainerSpec {
  image: string;
  replicas: number;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
  /** the pod's volumes, each mounted into the container (exactly one source each) */
  volumes?: Volume[];
  /** node labels the pods must match */
  nodeSelector?: Record<string, string>;
}

export type HostPathType = 'DirectoryOrCreate' | 'Directory' | 'FileOrCreate' | 'File' | 'Socket' | 'CharDevice' | 'BlockDevice';

export interface Volume {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  hostPath?: { path: string; type?: HostPathType };
  persistentVolumeClaim?: { claimName: string };
  emptyDir?: Record<string, never>;
}

export interface VmSsh {
  user: string;
  port: number;
  credentialsSecret: string;
  hostKey: HostKeyPolicy;
}

export interface VmSidecar {
  package: SidecarPackage;
  istioVersion: string;
  injection: InjectionMode;
}

export interface VmSpec {
  vnfdId: string;
  flavourId: string;
  instantiationLevelId?: string;
  instances: number;
  vimId?: string;
  extVirtualLinks?: Record<string, unknown>[];
  additionalParams?: Record<string, unknown>;
  fixedIp?: string;
  /** a VNF terminated or deleted outside mixmesh is recreated (true: the schema's default) or only reported; absent means true */
  recreate?: boolean;
  ssh: VmSsh;
  sidecar: VmSidecar;
  /** absolute paths of the VM's persistent data (backup.md) */
  dataDirs?: string[];
  /** the process CRIU checkpoints when backup.state is checkpoint */
  checkpoint?: { unit?: string; pidFile?: string };
}

/** Per-microservice backup behaviour (backup.md): state method and app-consistent hooks. */
export interface BackupSpec {
  state: 'checkpoint' | 'hooks' | 'none';
  hooks?: { pre?: string[][]; post?: string[][] };
  restoreHooks?: { post?: string[][] };
}

/** One version of one microservice (the descriptor lists versions as separate entries). */
export interface Microservice {
  name: string;
  version: string;
  runtime: Runtime;
  serviceAccount: string;
  ports: Port[];
  readinessProbe?: ReadinessProbe;
  container?: ContainerSpec;
  vm?: VmSpec;
  backup?: BackupSpec;
}

export interface Retries {
  attempts: number;
  perTryTimeout?: string;
  retryOn?: string;
}

export interface Fault {
  delay?: { percent: number; fixed: string };
  abort?: { percent: number; httpStatus: number };
}

export interface RouteMatch {
  pathPrefix?: string;
  headers?: Record<string, string>;
}

export interface SplitEntry {
  version: string;
  weight: number;
}

export interface Route {
  match?: RouteMatch;
  split: SplitEntry[];
}

export type LoadBalancer =
  | SimpleLoadBalancer
  | { consistentHash: { header: string } }
  | { consistentHash: { cookie: { name: string; ttl?: string; path?: string } } }
  | { consistentHash: { sourceIp: true } };

export interface ConnectionPool {
  maxConnections?: number;
  maxPendingRequests?: number;
  maxRequestsPerConnection?: number;
}

export interface CircuitBreaker {
  consecutiveErrors?: number;
  interval?: string;
  baseEjectionTime?: string;
  maxEjectionPercent?: number;
}

export interface Connection {
  from: string; // a microservice name or "ingress"
  to: string;
  /** always set after validation: the given port name, or `to`'s only port */
  port: string;
  timeout?: string;
  retries?: Retries;
  fault?: Fault;
  routes?: Route[];
  loadBalancer?: LoadBalancer;
  connectionPool?: ConnectionPool;
  circuitBreaker?: CircuitBreaker;
}

export interface IngressRoute {
  pathPrefix: string;
  to: string;
  /** always set after validation */
  port: string;
}

export interface Ingress {
  host: string;
  tls?: { credentialName: string };
  routes: IngressRoute[];
}

export interface MeshSettings {
  mtls: MtlsMode;
  authorization: AuthorizationMode;
  network: string;
}

export interface MeshServiceMetadata {
  name: string;
  namespace: string;
  labels: Record<string, string>;
}

export interface MeshServiceSpec {
  mesh: MeshSettings;
  microservices: Microservice[];
  connections: Connection[];
  ingress?: Ingress;
}

/** A validated descriptor with every default applied. */
export interface MeshService {
  apiVersion: 'mixmesh.io/v1alpha1';
  kind: 'MeshService';
  metadata: MeshServiceMetadata;
  spec: MeshServiceSpec;
}

/** One problem: a JSON pointer into the input and a sentence naming the value and what is allowed. */
export interface Problem {
  pointer: string;
  message: string;
  /** where in the text a document-level syntax problem is (1-based); its message ends with `positionSuffix(line, column)` */
  line?: number;
  column?: number;
}

export type ValidationResult =
  | { ok: true; value: MeshService; problems: [] }
  | { ok: false; problems: Problem[] };
