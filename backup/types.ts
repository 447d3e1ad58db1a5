/** The archive's and the resources' shapes (the manifest is the contract a restore reads). */
import type { WrappedKey } from './crypto.js';
import type { HookEntry } from './hooks.js';

export type ItemResult = 'captured' | 'skipped' | 'failed';
export type Phase = 'New' | 'InProgress' | 'Completed' | 'CompletedWithWarnings' | 'Failed' | 'Cancelled';

/** One stored object of the backup, as it sits in the store */
export interface StoredEntry {
  path: string;
  /** bytes and SHA-256 of the stored (compressed, encrypted) object */
  bytes: number;
  sha256: string;
  /** bytes and SHA-256 of the content before compression and encryption */
  plainBytes: number;
  plainSha256: string;
  gzip: boolean;
  encrypted: boolean;
}

/** One Kubernetes resource of the backup */
export interface ManifestItem {
  /** path inside resources.tar.gz: resources/<resource.group>/namespaces/<ns>/<name>.json */
  path: string;
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  size: number;
  sha256: string;
  result: ItemResult;
  reason?: string;
  message?: string;
}

export interface FileHash {
  path: string;
  size: number;
  sha256: string;
}

/** A pod volume or a VM data dir copied from a node */
export interface DataEntry {
  type: 'hostPath' | 'local' | 'emptyDir' | 'vmDataDir' | 'remote';
  /** the pod (ns/pod) or the VM (VNF instance name) */
  owner: string;
  /** the volume name or the dir index */
  name: string;
  node: string;
  /** the path on the node / VM */
  path: string;
  object?: string;
  files: number;
  bytes: number;
  /** SHA-256 per file, for verification after the write-back */
  fileHashes?: FileHash[];
  result: ItemResult;
  reason?: string;
  message?: string;
  /** for VM data dirs: where the VM belongs */
  service?: { namespace: string; name: string; microservice: string; version: string; index: number };
}

export interface StateEntry {
  owner: string;
  container?: string;
  method: 'checkpoint' | 'criu' | 'hooks' | 'none';
  /** containers: the node the pod ran on */
  node?: string;
  /** VMs: where the VM belongs (a restore matches the recreated VM by it) */
  service?: { namespace: string; name: string; microservice: string; version: string; index: number };
  object?: string;
  bytes?: number;
  result: ItemResult;
  reason?: string;
  message?: string;
}

export interface Selection {
  service?: { namespace: string; name: string };
  node?: string;
  namespaces?: string[];
  /** `resource.group` or kind names */
  kinds?: string[];
  labelSelector?: string;
}

export interface Manifest {
  format: 'mixmesh.io/backup/v1';
  name: string;
  created: string;
  completed: string;
  source: { cluster?: { server: string; version?: string }; cloud?: { authUrl?: string; region?: string } };
  selection: Selection;
  encryption: WrappedKey | { algorithm: 'none' };
  signature: { algorithm: 'Ed25519'; keyId: string };
  phase: 'Completed' | 'CompletedWithWarnings' | 'Failed';
  warnings: string[];
  objects: StoredEntry[];
  items: ManifestItem[];
  data: DataEntry[];
  state: StateEntry[];
  /** container hooks run through pods/exec (and their results) */
  hooks?: HookEntry[];
  totals: { items: number; dataBytes: number; storedBytes: number };
  labels?: Record<string, string>;
}
