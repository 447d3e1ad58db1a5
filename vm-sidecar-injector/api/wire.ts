/**
 * The injector API's wire types, defined once: what `POST /v1/injections` takes (the orchestrator's
 * direct form) and what `GET /v1/injections/{id}` (and the list) answers. The orchestrator's
 * injector port (orchestrator/ports.ts) uses these, so the two sides cannot drift apart.
 */
import type { ErrorCode } from '../../common/errors.js';
import type { InjectionState, SidecarState, WorkloadRef } from '../injector.js';
import type { PackageKind } from '../scripts.js';
import type { StepRecord } from '../steps.js';

export type { InjectionState, PackageKind, SidecarState, WorkloadRef };

/** A `{code, message}` the injector records for a failed install, uninstall or renewal. */
export interface InjectionError {
  code: ErrorCode;
  message: string;
}

/** `POST /v1/injections`, the orchestrator's form (the Tacker plug-in's form is `PluginRequest`). */
export interface InjectionRequestBody {
  vm: {
    address: string;
    /** default 22 */
    port?: number;
    user: string;
    /** the Secret holding the private key (key `ssh-privatekey`); inline keys are refused */
    credentials: { secretRef: { namespace: string; name: string } };
    /** console (default) | accept-new | a pinned "type base64" key */
    hostKey?: string;
    /** the Nova server UUID; required when hostKey is console and no consoleOutput is given */
    serverId?: string;
    /** the address is floating */
    floating?: boolean;
    /** the VM's console text with cloud-init's host key block, for hostKey console without Nova */
    consoleOutput?: string;
  };
  workload: WorkloadRef;
  vnfInstanceId?: string;
  sidecar?: { package?: PackageKind; istioVersion?: string };
}

/** What `GET /v1/injections/{id}` answers: no private data (the Secret is named, never read out). */
export interface InjectionView {
  id: string;
  state: InjectionState;
  createdAt: string;
  updatedAt: string;
  vnfInstanceId?: string;
  vm: { address: string; port: number; user: string; hostKey: string; serverId?: string; floating?: boolean; credentials: { secretRef: { namespace: string; name: string } } };
  workload: WorkloadRef;
  sidecar: { package: PackageKind; istioVersion: string; state?: SidecarState };
  /** the host key the VM offered (recorded for accept-new, to pin it later) */
  hostKey?: string;
  tokenExpiresAt?: string;
  /** true when a re-run found everything in place */
  unchanged?: boolean;
  /** the error's code, beside the error itself (so a poller need not look inside) */
  code?: ErrorCode;
  error?: InjectionError;
  steps: StepRecord[];
  uninstall?: { steps: StepRecord[]; error?: InjectionError };
  renewal?: { renewedAt?: string; nextAt?: string; attempts: number; lastError?: InjectionError };
  /** a newer injection of the same VM, which renews its token from now on */
  supersededBy?: string;
}
