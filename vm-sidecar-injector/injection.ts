/**
 * What the injector works with (moved unchanged from injector.ts): an injection, the request that
 * starts one, its states, the connection and Nova seams, the injector's dependencies and events.
 */
import type { ErrorCode } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { MeshValues } from '../descriptor/index.js';
import type { InjectorCluster } from './cluster.js';
import type { PackageKind } from './scripts.js';
import type { ArtifactSource, InjectorShell, StepRecord } from './steps.js';

export type InjectionState = 'Pending' | 'Connecting' | 'Installing' | 'Starting' | 'Verifying' | 'Succeeded' | 'Failed' | 'Removing' | 'Removed';
/** The sidecar's state after a successful injection (docs/vm-bootstrap.md: renewal). */
export type SidecarState = 'Running' | 'Renewing' | 'TokenExpired' | 'Removed';

/** Host-key expectation handed to the SSH edge (clients/ssh HostKeyPolicy). */
export type HostKeyExpectation = { expected: readonly string[] } | { acceptNew: (keyLine: string) => void };

export interface ConnectTarget {
  host: string;
  port: number;
  username: string;
  privateKey: string;
  hostKey: HostKeyExpectation;
}

export interface ConnectedShell extends InjectorShell {
  close(): Promise<void>;
}

export interface NovaLike {
  getServer(serverId: string): Promise<{ addresses?: Record<string, { addr: string; version?: number; 'OS-EXT-IPS:type'?: string }[]> }>;
  getConsoleOutput(serverId: string): Promise<string>;
}

export interface InjectorDeps {
  cluster: InjectorCluster;
  /** Nova, for `hostKey: console` and for the addresses of the plug-in form; absent: those fail */
  nova?: NovaLike;
  connect: (target: ConnectTarget) => Promise<ConnectedShell>;
  /** parses cloud-init's host key block (clients/ssh parseConsoleHostKeys) */
  parseConsoleHostKeys: (consoleOutput: string) => string[];
  meshValues: MeshValues;
  artifacts: ArtifactSource;
  log?: Logger;
  /** VMs injected at once (default 8) */
  maxParallel?: number;
  readiness?: { attempts: number; intervalSeconds: number };
  /** renew tokens in the background (default true) */
  renewal?: boolean;
  /** cluster facts cache lifetime (default 60 s) */
  factsTtlMs?: number;
  now?: () => number;
}

export interface VmRequest {
  address: string;
  port: number;
  user: string;
  secretRef: { namespace: string; name: string };
  /** console | accept-new | a pinned "type base64" key */
  hostKey: string;
  serverId?: string;
  /** the address is floating (cluster.env gets REWRITE_PROBE_LEGACY_LOCALHOST_DESTINATION) */
  floating?: boolean;
  /** for hostKey console without Nova: the VM's console text with cloud-init's host key block */
  consoleOutput?: string;
}

export interface WorkloadRef {
  service: string;
  name: string;
  version: string;
  namespace: string;
}

export interface InjectionRequest {
  vm: VmRequest;
  workload: WorkloadRef;
  vnfInstanceId?: string;
  sidecar?: { package?: PackageKind; istioVersion?: string };
}

export interface Injection {
  id: string;
  state: InjectionState;
  createdAt: string;
  updatedAt: string;
  vnfInstanceId?: string;
  vm: Omit<VmRequest, 'secretRef'> & { secretRef: { namespace: string; name: string } };
  workload: WorkloadRef;
  sidecar: { package: PackageKind; istioVersion: string; state?: SidecarState };
  /** the host key the VM offered (recorded for accept-new, to pin it later) */
  hostKey?: string;
  tokenExpiresAt?: string;
  /** true when a re-run found everything in place */
  unchanged?: boolean;
  steps: StepRecord[];
  error?: { code: ErrorCode; message: string };
  uninstall?: { steps: StepRecord[]; error?: { code: ErrorCode; message: string } };
  renewal?: { renewedAt?: string; nextAt?: string; attempts: number; lastError?: { code: ErrorCode; message: string } };
  /** DELETE was asked; the uninstall starts once a running install or renewal ends */
  removeRequested?: boolean;
  /** a newer injection of the same VM, which renews its token from now on */
  supersededBy?: string;
}

export interface InjectorEvents {
  /** an injection reached Succeeded or Failed */
  finished?(injection: Injection, ms: number): void;
  step?(injection: Injection, step: StepRecord): void;
  renewed?(injection: Injection, ok: boolean): void;
}
