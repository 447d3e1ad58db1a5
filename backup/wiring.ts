/**
 * The real edges behind backup's ports: SSH coordinates for VMs (their descriptor's credentials
 * Secret; host key pinned, recorded in the service status, or read from the Nova console) and for
 * nodes (the node's InternalIP; the node SSH key and known_hosts from configuration); the store
 * keys (files, or the Secret `mixmesh-backup-keys`, generated once).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MixmeshError } from '../common/errors.js';
import type { KubeObject, KubeletClient } from '../clients/kube/index.js';
import { generateStoreKeys, parseKek, parsePublicKey, parseSigningKey, type StoreKeys } from './crypto.js';
import type { NodeTarget } from './nodes.js';
import type { BackupKube, Checkpointer, NodeResolver } from './ports.js';
import type { VmTarget } from './select.js';

export interface NodeSshConfig {
  user: string;
  privateKey: string;
  /** OpenSSH known_hosts lines: `host[,host…] keytype base64` */
  knownHosts: string;
}

/** host → key lines from known_hosts text (plain host names and addresses; hashed entries are skipped) */
export function parseKnownHosts(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#') || t.startsWith('|')) continue;
    const [hosts, type, key] = t.split(/\s+/);
    if (!hosts || !type || !key) continue;
    for (const h of hosts.split(',')) {
      const host = h.replace(/^\[([^\]]+)\]:\d+$/, '$1');
      out.set(host, [...(out.get(host) ?? []), `${type} ${key}`]);
    }
  }
  return out;
}

export class KubeNodeResolver implements NodeResolver {
  constructor(
    private readonly kube: BackupKube,
    private readonly nodeSsh: NodeSshConfig | undefined,
    /** host keys from the Nova console of a server (cloud-init's block), when the descriptor says `console` */
    private readonly consoleHostKeys?: (serverId: string) => Promise<string[]>,
  ) {}

  async node(name: string): Promise<NodeTarget> {
    const node = await this.kube.get<KubeObject & { status?: { addresses?: Array<{ type: string; address: string }> } }>({ apiVersion: 'v1', kind: 'Node', name });
    if (!node) throw new MixmeshError('SSH_CONNECT_FAILED', `node ${name} does not exist`);
    const address = node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? node.status?.addresses?.[0]?.address;
    if (!address) throw new MixmeshError('SSH_CONNECT_FAILED', `node ${name} has no address in its status`);
    if (!this.nodeSsh) throw new MixmeshError('SSH_AUTH_FAILED', `no node SSH credentials are configured (MIXMESH_NODE_SSH_KEY, MIXMESH_NODE_KNOWN_HOSTS) to reach node ${name}`);
    const hostKeys = parseKnownHosts(this.nodeSsh.knownHosts).get(address) ?? parseKnownHosts(this.nodeSsh.knownHosts).get(name) ?? [];
    if (!hostKeys.length) throw new MixmeshError('SSH_HOST_KEY_UNKNOWN', `node ${name} (${address}) has no entry in the configured known_hosts`);
    return { name, host: address, user: this.nodeSsh.user, privateKey: this.nodeSsh.privateKey, hostKeys };
  }

  async vm(vm: VmTarget): Promise<NodeTarget> {
    const ssh = vm.microservice.vm?.ssh;
    if (!ssh || !vm.address) throw new MixmeshError('SSH_CONNECT_FAILED', `VM ${vm.vnfInstanceName} has no address or SSH settings`);
    const secret = await this.kube.get<KubeObject & { data?: Record<string, string> }>({ apiVersion: 'v1', kind: 'Secret', namespace: vm.namespace, name: ssh.credentialsSecret });
    const key = secret?.data?.['ssh-privatekey'];
    if (!key) throw new MixmeshError('SSH_AUTH_FAILED', `Secret ${vm.namespace}/${ssh.credentialsSecret} has no ssh-privatekey for VM ${vm.vnfInstanceName}`);
    let hostKeys: string[] = [];
    const policy = String(ssh.hostKey ?? 'console');
    if (policy !== 'console' && policy !== 'accept-new') hostKeys = [policy];
    else if (vm.hostKey) hostKeys = [vm.hostKey];
    else if (policy === 'console' && vm.serverId && this.consoleHostKeys) hostKeys = await this.consoleHostKeys(vm.serverId);
    if (!hostKeys.length) throw new MixmeshError('SSH_HOST_KEY_UNKNOWN', `VM ${vm.vnfInstanceName}: no host key is known (pinned, recorded in the status, or from the console)`);
    return { name: vm.vnfInstanceName, host: vm.address, port: ssh.port ?? 22, user: ssh.user, privateKey: Buffer.from(key, 'base64').toString('utf8'), hostKeys };
  }
}

type NodeObject = KubeObject & { status?: { addresses?: Array<{ type: string; address: string }>; daemonEndpoints?: { kubeletEndpoint?: { Port?: number } }; nodeInfo?: { containerRuntimeVersion?: string } } };

/**
 * The kubelet checkpoint API of a node (its InternalIP and kubelet port from the Node object) and
 * whether its runtime can restore from a checkpoint: CRI-O can (an image that is the archive's
 * path); containerd only behind an experimental switch, so it counts as "cannot"; a runtime that
 * states its capabilities in its version string (`…; restore yes|no`) is taken at its word.
 */
export class KubeletCheckpointer implements Checkpointer {
  constructor(private readonly kube: BackupKube, private readonly kubelet: Pick<KubeletClient, 'checkpoint'>, private readonly timeoutSeconds = 120) {}

  private async nodeOf(name: string): Promise<NodeObject> {
    const node = await this.kube.get<NodeObject>({ apiVersion: 'v1', kind: 'Node', name });
    if (!node) throw new MixmeshError('K8S_REQUEST_FAILED', `node ${name} does not exist`);
    return node;
  }

  async checkpoint(node: string, namespace: string, pod: string, container: string): Promise<string> {
    const n = await this.nodeOf(node);
    const host = n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? n.status?.addresses?.[0]?.address;
    if (!host) throw new MixmeshError('K8S_REQUEST_FAILED', `node ${node} has no address in its status`);
    const port = n.status?.daemonEndpoints?.kubeletEndpoint?.Port ?? 10250;
    const items = await this.kubelet.checkpoint({ host, port }, namespace, pod, container, this.timeoutSeconds);
    return items[0]!;
  }

  async restoreSupport(node: string): Promise<{ ok: true } | { ok: false; reason: string; message: string }> {
    const n = await this.kube.get<NodeObject>({ apiVersion: 'v1', kind: 'Node', name: node });
    if (!n) return { ok: false, reason: 'NODE_MISSING', message: `node ${node} does not exist on the target` };
    const runtime = n.status?.nodeInfo?.containerRuntimeVersion ?? '';
    if (runtime.startsWith('cri-o://')) return { ok: true };
    return { ok: false, reason: 'RESTORE_UNSUPPORTED', message: `the runtime of node ${node} (${runtime || 'unknown'}) cannot restore a checkpoint (CRI-O can; containerd only behind an experimental switch)` };
  }
}

export const KEYS_SECRET = 'mixmesh-backup-keys';

/** Keys from a directory (`kek`, `signing-key.pem`, `public-key.pem`; any may be absent). */
export function keysFromDir(dir: string): StoreKeys {
  const read = (f: string): string | undefined => {
    try {
      return readFileSync(join(dir, f), 'utf8');
    } catch {
      return undefined;
    }
  };
  const kek = read('kek');
  const sk = read('signing-key.pem');
  const pk = read('public-key.pem');
  return { ...(kek ? { kek: parseKek(kek) } : {}), ...(sk ? { signingKey: parseSigningKey(sk) } : {}), ...(pk ? { publicKey: parsePublicKey(pk) } : sk ? { publicKey: parsePublicKey(parseSigningKey(sk).export({ format: 'pem', type: 'pkcs8' }) as string) } : {}) };
}

/** Keys from the Secret in the system namespace, generated (once) when it does not exist. */
export async function keysFromSecret(kube: BackupKube, namespace: string): Promise<StoreKeys> {
  const ref = { apiVersion: 'v1', kind: 'Secret', namespace, name: KEYS_SECRET };
  let secret = await kube.get<KubeObject & { data?: Record<string, string> }>(ref);
  if (!secret) {
    const g = generateStoreKeys();
    const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
    try {
      if (!(await kube.get({ apiVersion: 'v1', kind: 'Namespace', name: namespace }))) await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
      await kube.create({ ...ref, metadata: { name: KEYS_SECRET, namespace, labels: { 'app.kubernetes.io/managed-by': 'mixmesh' } }, type: 'Opaque', data: { kek: b64(g.kek.toString('base64')), 'signing-key.pem': b64(g.signingKeyPem), 'public-key.pem': b64(g.publicKeyPem) } } as KubeObject);
    } catch (e) {
      if (!(e instanceof MixmeshError && e.details?.httpStatus === 409)) throw e;
    }
    secret = await kube.get<KubeObject & { data?: Record<string, string> }>(ref);
  }
  const d = secret?.data ?? {};
  const text = (k: string) => (d[k] ? Buffer.from(d[k]!, 'base64').toString('utf8') : undefined);
  const kek = text('kek');
  const sk = text('signing-key.pem');
  const pk = text('public-key.pem');
  return { ...(kek ? { kek: parseKek(kek) } : {}), ...(sk ? { signingKey: parseSigningKey(sk) } : {}), ...(pk ? { publicKey: parsePublicKey(pk) } : {}) };
}
