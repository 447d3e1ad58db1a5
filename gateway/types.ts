/**
 * The gateway's shapes: what a request asks for, what the Cluster and ClusterService resources
 * record, and the driver seams (an infrastructure driver per cloud, an engine driver per
 * orchestrator). Pure types; no I/O.
 */
import type { RemoteShell } from '../clients/ssh/index.js';

export const ORCHESTRATORS = ['kubernetes', 'swarm', 'marathon'] as const;
export const PROVIDERS = ['openstack', 'ec2', 'baremetal'] as const;
export type OrchestratorKind = (typeof ORCHESTRATORS)[number];
export type ProviderKind = (typeof PROVIDERS)[number];

export interface RegisterRequest {
  /** kubernetes */
  kubeconfig?: string;
  context?: string;
  /** swarm: unix:///path | tcp://host:2375 | https://host:2376; marathon: http(s)://host:8080 */
  endpoint?: string;
  ca?: string;
  cert?: string;
  key?: string;
  username?: string;
  password?: string;
}

export interface ClusterRequest {
  name: string;
  orchestrator: OrchestratorKind;
  version?: string;
  infrastructure?: { provider: ProviderKind; instanceType?: string; image?: string; hostTimeoutSeconds?: number };
  size?: { managers: number; workers: number };
  register?: RegisterRequest;
}

export type HostState = 'Requested' | 'Provisioned' | 'Reachable' | 'EngineInstalled' | 'Joined' | 'Failed' | 'Released';

export interface HostRecord {
  /** the host's name, also its id in the API: `<cluster>-<role>-<i>` */
  name: string;
  role: 'manager' | 'worker';
  provider: ProviderKind | 'registered';
  instanceId?: string;
  address?: string;
  /** the host key the install connected with, `<type> <base64>` */
  hostKey?: string;
  state: HostState;
  engineVersion?: string;
  /** the engine's node id (Swarm node ID, Mesos agent id, Kubernetes node name) */
  nodeId?: string;
  error?: string;
  /** stage times for the benchmark: provision requested → reachable → installed → joined (ms since epoch) */
  times?: Partial<Record<'requested' | 'provisioned' | 'reachable' | 'installed' | 'joined', number>>;
}

export type ClusterPhase = 'Pending' | 'Provisioning' | 'Installing' | 'Verifying' | 'Ready' | 'Degraded' | 'Failed' | 'Deleting';
export type OperationState = 'Queued' | 'Running' | 'Succeeded' | 'Failed' | 'RolledBack';

export interface OperationStep {
  name: string;
  startedAt: string;
  endedAt?: string;
  error?: string;
}

export interface GatewayOperation {
  id: string;
  kind: 'create' | 'register' | 'delete';
  cluster: string;
  state: OperationState;
  steps: OperationStep[];
  error?: string;
}

export interface ClusterStatus {
  phase: ClusterPhase;
  endpoint?: string;
  engineVersion?: string;
  hosts: HostRecord[];
  operations: GatewayOperation[];
  message?: string;
}

/** the Cluster resource's spec: the request without secrets (register credentials live in a Secret) */
export interface ClusterSpec {
  orchestrator: OrchestratorKind;
  version?: string;
  infrastructure?: ClusterRequest['infrastructure'];
  size?: { managers: number; workers: number };
  /** registered clusters: where the credentials are, and the endpoint */
  registered?: { endpoint?: string; secretName: string };
}

export interface ServiceRequest {
  name: string;
  template: string;
  parameters?: { replicas?: number; image?: string; env?: Record<string, string>; ports?: number[] };
}

/** a catalog template rendered with parameters: what every engine driver translates */
export interface ServiceDefinition {
  /** the engine-side name: `<service>` (Swarm service, Kubernetes Deployment, Marathon app id `/<service>`) */
  name: string;
  cluster: string;
  template: string;
  image: string;
  command?: string[];
  env: Record<string, string>;
  ports: number[];
  replicas: number;
  resources: { cpus: number; memoryMiB: number };
  healthCheck?: { type: 'http' | 'tcp'; port: number; path?: string };
  volumes: { name: string; path: string }[];
}

export interface ContainerInfo {
  id: string;
  service: string;
  host?: string;
  node?: string;
  state: string;
  desiredState?: string;
  image: string;
  startedAt?: string;
  restarts: number;
  message?: string;
}

export interface ContainerLogs {
  /** the container's id as getContainerInfo lists it (task id, pod name) */
  container: string;
  lines: string[];
}

export interface ServiceInfo {
  name: string;
  desired: number;
  running: number;
  state: 'Running' | 'Pending' | 'Degraded' | 'Absent';
  image?: string;
  engineId?: string;
}

export interface NodeInfo {
  id: string;
  hostname?: string;
  address?: string;
  role: 'manager' | 'worker';
  state: string;
  engineVersion?: string;
  resources?: { cpus?: number; memoryBytes?: number };
}

export interface EngineInfo {
  kind: OrchestratorKind;
  version: string;
  healthy: boolean;
  nodes: NodeInfo[];
}

/** talks to one live orchestrator (its API) */
export interface EngineClient {
  info(): Promise<EngineInfo>;
  createService(def: ServiceDefinition): Promise<string>;
  scaleService(name: string, replicas: number): Promise<void>;
  /** change a running service to this definition (image, env, replicas): a rolling update on the engine */
  updateService(def: ServiceDefinition): Promise<void>;
  /** the last `tail` lines of each container's output, when the engine can tell (absent: it cannot) */
  logs?(name: string, o: { tail: number }): Promise<ContainerLogs[]>;
  deleteService(name: string): Promise<boolean>;
  service(name: string): Promise<ServiceInfo>;
  containers(name: string): Promise<ContainerInfo[]>;
  close(): Promise<void>;
}

export interface InstallContext {
  cluster: string;
  version?: string | undefined;
  manager: HostRecord;
  log: import('../common/logger.js').Logger;
}

/** installs and drives one orchestrator kind */
export interface EngineDriver {
  kind: OrchestratorKind;
  /** install and start the engine on a host (idempotent); returns its version */
  installEngine(shell: RemoteShell, host: HostRecord, ctx: InstallContext): Promise<string>;
  /** make the manager a cluster (idempotent); returns the API endpoint */
  initManager(shell: RemoteShell, host: HostRecord, ctx: InstallContext): Promise<string>;
  /** join a worker to the manager's cluster (idempotent) */
  joinWorker(shell: RemoteShell, host: HostRecord, managerShell: RemoteShell, ctx: InstallContext): Promise<void>;
  /** the engine's id of this host's node, read on the host (Swarm NodeID), when the engine has one */
  nodeId?(shell: RemoteShell, host: HostRecord): Promise<string | undefined>;
  /** after initManager: the credentials a client of this cluster needs (Kubernetes: the admin kubeconfig read on the manager); kept in the cluster's Secret */
  credentials?(managerShell: RemoteShell, host: HostRecord): Promise<RegisterRequest>;
  /** the hosts that must be ready nodes before the cluster is Ready (default: every host) */
  nodeHosts?(hosts: HostRecord[]): HostRecord[];
  /** stop and remove what install did (created clusters only) */
  uninstall(shell: RemoteShell, host: HostRecord): Promise<void>;
  /** a client for a created cluster's endpoint, or a registered one's credentials */
  connect(endpoint: string, credentials?: RegisterRequest): EngineClient;
}

export interface ProvisionedHost {
  instanceId: string;
  address: string;
  username: string;
  /** host keys the instance may offer (console output, inventory) */
  hostKeys: string[];
}

/** provisions hosts on one cloud */
export interface InfraDriver {
  provider: ProviderKind;
  /** the private key the install connects with */
  privateKey(): Promise<string>;
  /** create-or-find the host by name, wait until it runs and has an address; idempotent */
  provision(cluster: string, host: HostRecord, o: { timeoutMs: number; signal: AbortSignal; orchestrator: OrchestratorKind }): Promise<ProvisionedHost>;
  /** give the host back (terminate, or return it to the inventory); idempotent */
  release(cluster: string, host: HostRecord): Promise<void>;
  /** instances this driver holds for a cluster (to check that nothing is left) */
  list(cluster?: string): Promise<{ instanceId: string; name: string }[]>;
}
