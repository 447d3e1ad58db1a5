/**
 * What a sandbox VM "is" comes from its image (the VNF package's software image / the Nova image
 * name): the node images add the stand-in `kubeadm` and `criu` (scripts.ts) to the busybox root,
 * and a control-plane image also the cluster's admin.conf and CA, as kubeadm init leaves them.
 */
import type { VmFile } from '../vms/types.js';
import { CRIU_SCRIPT, KUBEADM_SCRIPT } from './scripts.js';

export const WORKER_IMAGE = 'mixmesh-sandbox-worker';
/** a worker whose kernel "does not support" CRIU: `criu check` fails as on a vDSO mismatch */
export const WORKER_NOCRIU_IMAGE = 'mixmesh-sandbox-worker-nocriu';
export const CONTROL_PLANE_IMAGE = 'mixmesh-sandbox-control-plane';
/** a control-plane image without a cluster yet: `kubeadm init` on it starts one at <vm>:6443 */
export const CONTROL_PLANE_BARE_IMAGE = 'mixmesh-sandbox-control-plane-bare';

export interface NodeImage {
  name: string;
  role: 'worker' | 'control-plane';
  criu: boolean;
  /** control plane: comes with its cloud's cluster (admin.conf), or bare (kubeadm init makes one) */
  bare?: boolean;
}

export const NODE_IMAGES: Readonly<Record<string, NodeImage>> = {
  [WORKER_IMAGE]: { name: WORKER_IMAGE, role: 'worker', criu: true },
  [WORKER_NOCRIU_IMAGE]: { name: WORKER_NOCRIU_IMAGE, role: 'worker', criu: false },
  [CONTROL_PLANE_IMAGE]: { name: CONTROL_PLANE_IMAGE, role: 'control-plane', criu: true },
  [CONTROL_PLANE_BARE_IMAGE]: { name: CONTROL_PLANE_BARE_IMAGE, role: 'control-plane', criu: true, bare: true },
};

/** How a control-plane VM reaches its cluster (its /etc/kubernetes/admin.conf). */
export interface ClusterAccess {
  /** https://127.0.0.1:PORT */
  server: string;
  token: string;
  caPem: string;
  /** sha256:<hex>, kubeadm's --discovery-token-ca-cert-hash */
  caCertHash: string;
}

export function adminConf(cluster: ClusterAccess): string {
  // the shape kubeadm writes (the admin's credential here is the emulator's bearer token)
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- cluster:',
    `    certificate-authority-data: ${Buffer.from(cluster.caPem).toString('base64')}`,
    `    server: ${cluster.server}`,
    '  name: kubernetes',
    'contexts:',
    '- context:',
    '    cluster: kubernetes',
    '    user: kubernetes-admin',
    '  name: kubernetes-admin@kubernetes',
    'current-context: kubernetes-admin@kubernetes',
    'preferences: {}',
    'users:',
    '- name: kubernetes-admin',
    '  user:',
    `    token: ${cluster.token}`,
    '',
  ].join('\n');
}

/** The files an image adds to a new VM, or undefined for a plain VM. */
export function imageFiles(image: NodeImage, cluster: ClusterAccess | undefined): VmFile[] {
  const files: VmFile[] = [
    { path: '/usr/bin/kubeadm', content: KUBEADM_SCRIPT, mode: 0o755 },
    { path: '/usr/bin/criu', content: CRIU_SCRIPT, mode: 0o755 },
    { path: '/etc/sandbox-image', content: `${image.name}\n` },
  ];
  if (!image.criu) files.push({ path: '/etc/criu/unsupported', content: 'the kernel of this image lacks what CRIU needs (vDSO, PTRACE_O_SUSPEND_SECCOMP)\n' });
  if (image.role === 'control-plane' && !image.bare && cluster) {
    files.push(
      { path: '/etc/kubernetes/admin.conf', content: adminConf(cluster), mode: 0o600 },
      { path: '/etc/kubernetes/pki/ca.crt', content: cluster.caPem },
      // kubeadm computes the pin from ca.crt with Go's crypto; the VM has no openssl, so it is kept beside it
      { path: '/etc/kubernetes/pki/ca.crt.sha256', content: `${cluster.caCertHash}\n` },
    );
  }
  return files;
}
