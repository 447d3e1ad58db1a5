/**
 * What is known of a VM instance the moment its VNF is up and before its sidecar is installed: the
 * orchestrator's `beforeInject` hook passes it to whoever must act then (backup writes a restored
 * VM's data directories and state here). Data only, so both the orchestrator and backup name it
 * without importing each other.
 */
import type { MeshService, Microservice } from './types.js';

export interface BeforeInjectContext {
  service: MeshService;
  microservice: Microservice;
  index: number;
  vnfInstanceName: string;
  vnfInstanceId: string;
  serverId: string;
  address: string;
}
