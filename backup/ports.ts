/** The edges backup is written against: Kubernetes (clients/kube), nodes (nodes.ts), stores. */
import type { KubeClient } from '../clients/kube/index.js';
import type { VmTarget } from './select.js';
import type { NodeTarget } from './nodes.js';

/** The part of clients/kube's KubeClient backup uses. */
export type BackupKube = Pick<KubeClient, 'get' | 'list' | 'listPage' | 'create' | 'replace' | 'delete' | 'describeKind' | 'mergePatch' | 'applyStatus' | 'watch'>;

/** Turns a node name or a VM into SSH coordinates (credentials from Secrets, host keys verified). */
export interface NodeResolver {
  node(name: string): Promise<NodeTarget>;
  vm(vm: VmTarget): Promise<NodeTarget>;
}

/** The kubelet checkpoint API (backup.md): returns the archive's path on the node. */
export interface Checkpointer {
  checkpoint(node: string, namespace: string, pod: string, container: string): Promise<string>;
  /**
   * Can this node's runtime restore a container from a checkpoint archive (CRI-O: an image that is
   * the archive's path)? If not, why (a reason code and a message): the restore cold-starts.
   */
  restoreSupport(node: string): Promise<{ ok: true } | { ok: false; reason: string; message: string }>;
}

/** `pods/exec` in a container (clients/kube's PodExecClient): container hooks. */
export interface PodExec {
  exec(namespace: string, pod: string, container: string, argv: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }>;
}
