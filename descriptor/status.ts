/**
 * The status of a MeshService resource (what the orchestrator writes, docs/kubernetes.md): one
 * shape for the orchestrator that writes it and for the console, backup and the CLI that read it.
 * Pure.
 */

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
}

export interface VmInstanceStatus {
  index: number;
  vnfInstanceName: string;
  vnfInstanceId?: string;
  serverId?: string;
  address?: string;
  hostKey?: string;
  sidecar?: string;
  tokenExpiresAt?: string;
  lastError?: string;
}

export interface MicroserviceStatus {
  name: string;
  version: string;
  runtime: 'container' | 'vm';
  ready: number;
  desired: number;
  instances?: VmInstanceStatus[];
}

export interface OperationStep {
  name: string;
  startedAt: string;
  endedAt?: string;
  error?: string;
}

export type OperationStateName = 'Queued' | 'Running' | 'Succeeded' | 'Failed' | 'RolledBack';

export interface OperationStatus {
  id: string;
  state: OperationStateName;
  steps: OperationStep[];
  error?: string;
  code?: string;
}

export type Phase = 'Pending' | 'Deploying' | 'Ready' | 'Degraded' | 'Failed' | 'Deleting';

export interface MeshServiceStatus {
  phase?: Phase;
  observedGeneration?: number;
  conditions?: Condition[];
  microservices?: MicroserviceStatus[];
  operations?: OperationStatus[];
  /** printer columns: ready microservice versions / all, ready VMs / all ("3/4") */
  readyMicroservices?: string;
  vms?: string;
}

/** The status of one microservice version, if the status has it (the version defaults to v1 as in the descriptor). */
export function versionStatus(status: MeshServiceStatus | undefined, name: string, version: string | undefined): MicroserviceStatus | undefined {
  return status?.microservices?.find((m) => m.name === name && (m.version ?? 'v1') === (version ?? 'v1'));
}

/** The VM instances the status records for one microservice version (none: an empty list). */
export function vmInstances(status: MeshServiceStatus | undefined, name: string, version: string | undefined): VmInstanceStatus[] {
  return versionStatus(status, name, version)?.instances ?? [];
}
