/**
 * The sandbox: mixmesh's embedded cloud for the demo and the tests. Composes the Kubernetes API
 * emulator (sandbox/kube), Keystone + Tacker + Nova (sandbox/openstack) and the real-OpenSSH test
 * VMs (sandbox/vms), and writes what clients need: kubeconfig, clouds.yaml, openrc, the SSH key
 * every VM authorizes, known_hosts.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { MixmeshError } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { startKubeEmulator, type KubeEmulator } from './kube/index.js';
import { DEFAULT_LATENCIES, startOpenStack, type Latencies, type OpenStackSandbox } from './openstack/index.js';
import { checkHostTools, checkPort22, createLocalVmProvider, type LocalVmProvider, type SandboxVm, type VmProvider } from './vms/index.js';
import { createNodeRuntime, imageOf, type NodeRuntime } from './nodes/index.js';
import type { VirtualNodeOptions } from './kube/index.js';

const run = promisify(execFile);

export type { KubeEmulator } from './kube/index.js';
export type { OpenStackSandbox, Latencies } from './openstack/index.js';
export { PLAIN_VNFD_ID, PLUGIN_VNFD_ID } from './openstack/index.js';
export type { LocalVmProvider, SandboxVm, VmProvider } from './vms/index.js';
export { CONTROL_PLANE_BARE_IMAGE, CONTROL_PLANE_IMAGE, WORKER_IMAGE, WORKER_NOCRIU_IMAGE, type NodeRuntime, type NodeInfo } from './nodes/index.js';
export { CONTROL_PLANE_BARE_VNFD_ID, CONTROL_PLANE_VNFD_ID, WORKER_VNFD_ID, WORKER_NOCRIU_VNFD_ID } from './openstack/index.js';

export interface SandboxLatencies extends Partial<Latencies> {
  /** a Deployment's pods become ready this long after creation (default 1000 ms) */
  podReadyMs?: number;
}

export interface StartSandboxOptions {
  /** where everything is written (created 0700): kubeconfig, clouds.yaml, openrc, ssh/, known_hosts, vms/ */
  dir: string;
  latencies?: SandboxLatencies;
  /** real: Debian's keystone; emulated; auto (default): real when installed */
  keystone?: 'real' | 'emulated' | 'auto';
  /** environment for the Tacker plug-in (mgmt driver) scripts the emulator runs */
  mgmtDriverEnv?: Record<string, string>;
  /** the cluster: the virtual node (false: none, only joined worker VMs run pods; `{maxPods}` small: a "full" cluster), node lifecycle timings */
  kube?: { virtualNode?: Partial<VirtualNodeOptions> | false; nodeMonitorGracePeriodMs?: number; podEvictionTimeoutMs?: number };
  /** worker-image VMs' kubelets: heartbeat (default 10 s), pod sync (default 500 ms), pods per node (110) */
  nodes?: { heartbeatMs?: number; syncMs?: number; maxPods?: number };
  /** host numbers N of 127.0.10.N this cloud's VMs take (default 1–254; two clouds: separate ranges) */
  addressRange?: { first: number; last: number };
  /** the CA (PEM) Tacker checks https callback certificates against */
  callbackCaPem?: string;
  log?: Logger;
}

export interface SandboxPaths {
  kubeconfig: string;
  cloudsYaml: string;
  openrc: string;
  sshKey: string;
  sshPublicKey: string;
  knownHosts: string;
  /** the OpenStack emulator's fault-injection route and its bearer token (0600), for hooks from other processes */
  adminUrl: string;
  adminToken: string;
}

export interface Sandbox {
  dir: string;
  paths: SandboxPaths;
  kube: KubeEmulator;
  openstack: OpenStackSandbox;
  vms: LocalVmProvider;
  /** node images: worker VMs' kubelets, the node-stop fault (sandbox/nodes) */
  nodes: NodeRuntime;
  /** the private key every VM authorizes for root (OpenSSH format) */
  sshPrivateKey: string;
  sshPublicKey: string;
  /** stop everything it started: every VM (no sshd/unshare left), the emulators, Keystone */
  stop(): Promise<void>;
}

export async function startSandbox(options: StartSandboxOptions): Promise<Sandbox> {
  checkHostTools();
  await checkPort22();
  const log = (options.log ?? silentLogger).child({ part: 'sandbox' });
  const dir = resolve(options.dir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700); // it holds private keys and passwords
  const paths: SandboxPaths = {
    kubeconfig: join(dir, 'kubeconfig'),
    cloudsYaml: join(dir, 'clouds.yaml'),
    openrc: join(dir, 'openrc'),
    sshKey: join(dir, 'ssh', 'id_ed25519'),
    sshPublicKey: join(dir, 'ssh', 'id_ed25519.pub'),
    knownHosts: join(dir, 'known_hosts'),
    adminUrl: join(dir, 'admin-url'),
    adminToken: join(dir, 'admin-token'),
  };
  await mkdir(join(dir, 'ssh'), { recursive: true, mode: 0o700 });
  if (!existsSync(paths.sshKey)) {
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'mixmesh-sandbox', '-f', paths.sshKey]);
  }
  const sshPrivateKey = await readFile(paths.sshKey, 'utf8');
  const sshPublicKey = (await readFile(paths.sshPublicKey, 'utf8')).trim();
  const latencies = { ...DEFAULT_LATENCIES, ...options.latencies };

  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) {
      try {
        await stop();
      } catch (e) {
        log.error({ err: e }, 'sandbox stop step failed');
      }
    }
  };
  try {
    const vms = await createLocalVmProvider({ dir, authorizedKeys: [sshPublicKey], sshdDelayMs: latencies.sshdMs, log, ...(options.addressRange ? { addressRange: options.addressRange } : {}) });
    stops.push(() => vms.removeAll());
    await writeKnownHosts(paths.knownHosts, []);
    // known_hosts follows the VMs, so `ssh -o UserKnownHostsFile=DIR/known_hosts root@127.0.10.N` just works
    let knownHostsWrite = Promise.resolve();
    const syncKnownHosts = () => {
      knownHostsWrite = knownHostsWrite.then(() => writeKnownHosts(paths.knownHosts, vms.list())).catch((e: unknown) => log.warn({ err: e }, 'known_hosts not written'));
      return knownHostsWrite;
    };
    // the node images need the cluster, which starts beside OpenStack: set once it is up
    const late: { nodes?: NodeRuntime } = {};
    const trackedVms: VmProvider = {
      create: async (o) => {
        if (imageOf(o.image) && !late.nodes) throw new Error(`image ${o.image ?? ''}: the cluster of this sandbox is not up yet`);
        const files = late.nodes?.filesFor(o.image);
        const vm = await vms.create({ ...o, ...(files ? { files } : {}) });
        late.nodes?.attach(vm);
        await syncKnownHosts();
        return vm;
      },
      remove: async (id) => {
        await late.nodes?.detach(id);
        await vms.remove(id);
        await syncKnownHosts();
      },
      list: () => vms.list(),
      removeAll: async () => {
        for (const vm of vms.list()) await late.nodes?.detach(vm.serverId);
        await vms.removeAll();
        await syncKnownHosts();
      },
    };

    // the two emulators start side by side (Keystone's bootstrap takes seconds); both are stopped
    // again when either fails
    const [kubeStarted, openstackStarted] = await Promise.allSettled([
      startKubeEmulator({ dir: join(dir, 'kube'), readyDelayMs: options.latencies?.podReadyMs ?? 1000, ...options.kube }),
      startOpenStack({
        dir,
        vmProvider: trackedVms,
        latencies,
        keystone: options.keystone ?? 'auto',
        keypairs: [{ name: 'sandbox', publicKey: sshPublicKey }], // as a Nova keypair would: `openstack keypair list`
        ...(options.mgmtDriverEnv ? { mgmtDriverEnv: options.mgmtDriverEnv } : {}),
        seedNodeImages: true,
        ...(options.callbackCaPem ? { callbackCaPem: options.callbackCaPem } : {}),
        logger: log,
      }),
    ]);
    if (kubeStarted.status === 'fulfilled') stops.push(() => kubeStarted.value.stop());
    if (openstackStarted.status === 'fulfilled') stops.push(() => openstackStarted.value.stop());
    if (kubeStarted.status === 'rejected') throw kubeStarted.reason;
    if (openstackStarted.status === 'rejected') throw openstackStarted.reason;
    const kube = kubeStarted.value;
    const openstack = openstackStarted.value;
    const nodeRuntime = createNodeRuntime({
      vms, log, ...options.nodes,
      cluster: { server: kube.url, token: kube.token, caPem: kube.caPem, caCertHash: kube.caCertHash, issueServingCert: (n, ips) => kube.issueServingCert(n, ips) },
    });
    late.nodes = nodeRuntime;
    // first the kubelets, then the VMs (stops run in reverse)
    stops.push(() => nodeRuntime.stop());

    await writeFile(paths.kubeconfig, kube.kubeconfig(), { mode: 0o600 });
    await writeFile(paths.cloudsYaml, openstack.cloudsYaml(), { mode: 0o600 });
    await writeFile(paths.openrc, openstack.openrc(), { mode: 0o600 });
    await writeFile(paths.adminUrl, `${openstack.adminUrl}\n`, { mode: 0o600 });
    await writeFile(paths.adminToken, `${openstack.adminToken}\n`, { mode: 0o600 });
    log.info({ dir, kube: kube.url, keystone: openstack.keystoneKind, authUrl: openstack.authUrl }, 'sandbox started');

    let stopping: Promise<void> | undefined;
    return {
      dir,
      paths,
      kube,
      openstack,
      vms,
      nodes: nodeRuntime,
      sshPrivateKey,
      sshPublicKey,
      stop: () => {
        stopping ??= stopAll().then(() => writeKnownHosts(paths.knownHosts, []));
        return stopping;
      },
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

async function writeKnownHosts(path: string, vms: readonly SandboxVm[]): Promise<void> {
  const text = vms
    .map((vm) => `${vm.address} ${vm.hostPublicKey}\n`)
    .sort()
    .join('');
  const tmp = `${path}.tmp`;
  await writeFile(tmp, text, { mode: 0o644 });
  await rename(tmp, path);
}

export interface StartCloudsOptions extends Omit<StartSandboxOptions, 'dir' | 'addressRange'> {
  /** each cloud gets DIR/cloud-1, DIR/cloud-2, … */
  dir: string;
  /** how many clouds (default 2: the source and the target of a migration) */
  count?: number;
  /** options for one cloud only, by index (e.g. `[{kube: {virtualNode: false}}]`: cloud 1's cluster has room only on joined nodes) */
  perCloud?: ReadonlyArray<Partial<Omit<StartSandboxOptions, 'dir' | 'addressRange'>>>;
}

/**
 * Two (or more) sandbox clouds side by side in this process, each with its own Kubernetes
 * emulator, Keystone, Tacker/Nova, SSH key and VM range (127.0.10.1–127 and 128–254 for two):
 * the source and the target of a migration. A worker VM of one cloud can join the other's
 * cluster (the kubelet finds that cluster's CA in this process). All stop when one fails to start.
 */
export async function startClouds(options: StartCloudsOptions): Promise<Sandbox[]> {
  const count = options.count ?? 2;
  if (!Number.isInteger(count) || count < 1 || count > 8) throw new MixmeshError('BAD_REQUEST', `clouds: ${count}: allowed are 1–8`);
  const size = Math.floor(254 / count);
  const started = await Promise.allSettled(Array.from({ length: count }, (_, i) => startSandbox({
    ...options, ...options.perCloud?.[i],
    dir: join(resolve(options.dir), `cloud-${i + 1}`),
    addressRange: { first: 1 + i * size, last: i === count - 1 ? 254 : (i + 1) * size },
  })));
  const ok = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(ok.map((s) => s.stop()));
    throw failed.reason;
  }
  return ok;
}
