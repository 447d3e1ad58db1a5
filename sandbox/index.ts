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
import { silentLogger, type Logger } from '../common/logger.js';
import { startKubeEmulator, type KubeEmulator } from './kube/index.js';
import { DEFAULT_LATENCIES, startOpenStack, type Latencies, type OpenStackSandbox } from './openstack/index.js';
import { checkHostTools, checkPort22, createLocalVmProvider, type LocalVmProvider, type SandboxVm, type VmProvider } from './vms/index.js';

const run = promisify(execFile);

export type { KubeEmulator } from './kube/index.js';
export type { OpenStackSandbox, Latencies } from './openstack/index.js';
export { PLAIN_VNFD_ID, PLUGIN_VNFD_ID } from './openstack/index.js';
export type { LocalVmProvider, SandboxVm, VmProvider } from './vms/index.js';

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
    const vms = await createLocalVmProvider({ dir, authorizedKeys: [sshPublicKey], sshdDelayMs: latencies.sshdMs, log });
    stops.push(() => vms.removeAll());
    await writeKnownHosts(paths.knownHosts, []);
    // known_hosts follows the VMs, so `ssh -o UserKnownHostsFile=DIR/known_hosts root@127.0.10.N` just works
    let knownHostsWrite = Promise.resolve();
    const syncKnownHosts = () => {
      knownHostsWrite = knownHostsWrite.then(() => writeKnownHosts(paths.knownHosts, vms.list())).catch((e: unknown) => log.warn({ err: e }, 'known_hosts not written'));
      return knownHostsWrite;
    };
    const trackedVms: VmProvider = {
      create: async (o) => {
        const vm = await vms.create(o);
        await syncKnownHosts();
        return vm;
      },
      remove: async (id) => {
        await vms.remove(id);
        await syncKnownHosts();
      },
      list: () => vms.list(),
      removeAll: async () => {
        await vms.removeAll();
        await syncKnownHosts();
      },
    };

    // the two emulators start side by side (Keystone's bootstrap takes seconds); both are stopped
    // again when either fails
    const [kubeStarted, openstackStarted] = await Promise.allSettled([
      startKubeEmulator({ dir: join(dir, 'kube'), readyDelayMs: options.latencies?.podReadyMs ?? 1000 }),
      startOpenStack({
        dir,
        vmProvider: trackedVms,
        latencies,
        keystone: options.keystone ?? 'auto',
        keypairs: [{ name: 'sandbox', publicKey: sshPublicKey }], // as a Nova keypair would: `openstack keypair list`
        ...(options.mgmtDriverEnv ? { mgmtDriverEnv: options.mgmtDriverEnv } : {}),
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
