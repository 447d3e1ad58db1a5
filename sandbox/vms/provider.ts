/**
 * The real VmProvider: every VM is a busybox rootfs served by its own OpenSSH on 127.0.10.N:22,
 * inside `setpriv --pdeathsig KILL unshare --mount --pid --fork --kill-child`, so one SIGKILL of
 * the unshare pid ends the whole VM and the VMs die with the process that started them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { MixmeshError } from '../../common/errors.js';
import { silentLogger, type Logger } from '../../common/logger.js';
import { shellQuote } from '../../common/names.js';
import { claimAddress, releaseAddress } from './addresses.js';
import { generateEd25519HostKey } from './hostkey.js';
import { canBind, checkHostTools } from './preflight.js';
import { buildTemplate, copyRootfs, createUpperLayer, overlaySupported } from './rootfs.js';
import type { CreateVmOptions, SandboxVm, VmFile, VmProvider } from './types.js';


export const VM_NETWORK_PREFIX = '127.0.10.';
export const DEFAULT_SSHD_DELAY_MS = 300;

export interface LocalVmProviderOptions {
  /** the sandbox directory; VMs live in DIR/vms/<serverId>/ */
  dir: string;
  /** public key lines every VM authorizes for root (as a Nova keypair would) */
  authorizedKeys: readonly string[];
  /** delay before a new VM's sshd accepts (default 0.3 s) */
  sshdDelayMs?: number;
  /** the host numbers N of 127.0.10.N this provider takes from (default 1–254): two clouds side by side get separate ranges */
  addressRange?: { first: number; last: number };
  log?: Logger;
}

interface VmRecord extends Omit<SandboxVm, 'rootfs'> {
  name: string;
  /** the shell lines that mount the VM's root on /mnt (overlay or bind), for a boot */
  mountRoot: string;
  configPath: string;
  hostname: string;
  /** false while stopped (the node-stop fault): processes gone, disk and address kept */
  running: boolean;
  /** on the host: the overlay's upper directory (what the VM changed), or the full copy without overlayfs */
  upper: string;
  dir: string;
  pid: number;
  child: ChildProcess | undefined;
  exited: Promise<void>;
}

export interface LocalVmProvider extends VmProvider {
  readonly dir: string;
  get(serverId: string): SandboxVm | undefined;
  /** the VM's pid 1 (its sshd) as the host sees it, for nsenter; undefined while stopped */
  initPid(serverId: string): number | undefined;
  /** fault: power the VM off — every process in it ends, its disk (upper layer) and address stay */
  stop(serverId: string): Promise<void>;
  /** power a stopped VM on again (sshd without delay; what ran before does not come back by itself) */
  start(serverId: string): Promise<void>;
  isRunning(serverId: string): boolean;
  /** fault: make the sshd of VMs created from now on start this late (undefined: back to the default) */
  setSshdDelay(ms: number | undefined): void;
}

const SERVER_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Start a provider on DIR: kills VMs a previous run on the same DIR left behind, builds the template. */
export async function createLocalVmProvider(options: LocalVmProviderOptions): Promise<LocalVmProvider> {
  checkHostTools();
  const dir = resolve(options.dir);
  const vmsDir = join(dir, 'vms');
  if (/[,:\s]/.test(vmsDir)) {
    // they would break the overlayfs mount options (lowerdir=…,upperdir=…)
    throw new MixmeshError('BAD_REQUEST', `sandbox dir ${dir}: must not contain ",", ":" or white space`);
  }
  await mkdir(vmsDir, { recursive: true, mode: 0o755 });
  await killStaleVms(vmsDir);
  const template = await buildTemplate(join(vmsDir, '.template'));
  const overlay = overlaySupported();
  const log = (options.log ?? silentLogger).child({ part: 'sandbox/vms' });
  const vms = new Map<string, VmRecord>();
  const reserved = new Set<number>();
  let sshdDelayMs = options.sshdDelayMs ?? DEFAULT_SSHD_DELAY_MS;
  const range = options.addressRange ?? { first: 1, last: 254 };
  if (!(Number.isInteger(range.first) && Number.isInteger(range.last) && range.first >= 1 && range.last <= 254 && range.first <= range.last)) {
    throw new MixmeshError('BAD_REQUEST', `addressRange ${range.first}–${range.last}: allowed are host numbers 1–254, first ≤ last`);
  }
  const authorizedKeys = `${options.authorizedKeys.map((k) => k.trim()).join('\n')}\n`;

  /** Reserve n in this process, claim it host-wide, and test-bind it; false (all undone) if any fails. */
  async function take(n: number): Promise<boolean> {
    if (reserved.has(n)) return false;
    reserved.add(n); // before any await: a parallel create must not try the same address
    const address = `${VM_NETWORK_PREFIX}${n}`;
    if (!(await claimAddress(address, vmsDir))) {
      reserved.delete(n);
      return false;
    }
    if (!(await canBind(address, 22))) {
      await releaseAddress(address);
      reserved.delete(n);
      return false;
    }
    return true;
  }

  async function release(n: number): Promise<void> {
    await releaseAddress(`${VM_NETWORK_PREFIX}${n}`);
    reserved.delete(n);
  }

  async function allocateAddress(fixed?: string): Promise<number> {
    if (fixed !== undefined) {
      const m = /^127\.0\.10\.(\d{1,3})$/.exec(fixed);
      const n = m ? Number(m[1]) : NaN;
      if (!(n >= 1 && n <= 254)) {
        throw new MixmeshError('BAD_REQUEST', `fixed address ${fixed} is outside the sandbox VM network 127.0.10.0/24 (allowed: 127.0.10.1 … 127.0.10.254)`);
      }
      if (!(await take(n))) throw new MixmeshError('ALREADY_EXISTS', `fixed address ${fixed} is in use (by a sandbox VM, or something listens on ${fixed}:22)`);
      return n;
    }
    for (let n = range.first; n <= range.last; n++) if (await take(n)) return n;
    throw new MixmeshError('BAD_REQUEST', `no free address left in 127.0.10.${range.first}–${range.last} for a sandbox VM`);
  }

  /** Start the VM's process tree: namespaces, its root on /mnt, /proc, then sshd as pid 1. */
  async function boot(vm: VmRecord, delayMs: number): Promise<void> {
    const script = [
      'set -e',
      `hostname ${shellQuote(vm.hostname)}`,
      'mount -t tmpfs -o mode=755 tmpfs /run',
      'mkdir -m 755 /run/sshd',
      // the VM's root: the shared template under its own upper layer (or a full copy); gone with the namespace
      vm.mountRoot,
      // the VM's own /proc: ps and kill -0 inside see only the VM's processes
      'mount -t proc proc /mnt/proc',
      ...(delayMs > 0 ? [`sleep ${(delayMs / 1000).toFixed(3)}`] : []),
      `exec /usr/sbin/sshd -D -f ${shellQuote(vm.configPath)} -E ${shellQuote(join(vm.dir, 'sshd.log'))}`,
    ].join('\n');
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', 'unshare', '--mount', '--propagation', 'private', '--uts', '--pid', '--fork', '--kill-child', 'sh', '-c', script], {
      stdio: 'ignore',
    });
    const exited = new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) done();
      else child.once('exit', () => done());
    });
    child.once('error', (e) => log.error({ err: e, serverId: vm.serverId }, 'sandbox VM process failed to start'));
    child.unref(); // the VM must not keep a test process alive; pdeathsig ends it with us
    const pid = child.pid;
    if (pid === undefined) throw new MixmeshError('INTERNAL', `sandbox VM ${vm.serverId}: could not start setpriv/unshare`);
    await writeFile(join(vm.dir, 'pid'), `${pid}\n`);
    Object.assign(vm, { pid, child, exited, running: true });
    child.once('exit', (code, signal) => {
      // a VM that ends on its own (sshd could not bind, a mount failed) says so, and where to look
      if (vms.get(vm.serverId) === vm && vm.pid === pid && vm.running) log.warn({ serverId: vm.serverId, address: vm.address, code, signal, sshdLog: join(vm.dir, 'sshd.log') }, 'sandbox VM ended by itself');
    });
  }

  async function create(opts: CreateVmOptions): Promise<SandboxVm> {
    if (!SERVER_ID.test(opts.serverId)) {
      throw new MixmeshError('BAD_REQUEST', `serverId ${JSON.stringify(opts.serverId)}: allowed are 1–128 letters, digits, ".", "_", "-", starting with a letter or digit`);
    }
    if (vms.has(opts.serverId)) throw new MixmeshError('ALREADY_EXISTS', `a sandbox VM with serverId ${opts.serverId} exists`);
    const hostname = hostnameFor(opts.name);
    const n = await allocateAddress(opts.fixedAddress);
    const address = `${VM_NETWORK_PREFIX}${n}`;
    const vmDir = join(vmsDir, opts.serverId);
    const hostKeyPath = join(vmDir, 'ssh_host_ed25519_key');
    const hostKey = generateEd25519HostKey(`root@${hostname}`);
    try {
      await mkdir(vmDir, { mode: 0o755 });
      const files = { hosts: `127.0.0.1\tlocalhost\n${address}\t${hostname}\n`, hostname: `${hostname}\n`, authorizedKeys };
      const [[mountRoot, rootOnHost]] = await Promise.all([
        overlay
          ? createUpperLayer(vmDir, files).then((l) => [`mount -t overlay overlay -o ${shellQuote(`lowerdir=${template.rootfs},upperdir=${l.upper},workdir=${l.work}`)} /mnt`, l.upper] as const)
          : copyRootfs(template.rootfs, join(vmDir, 'rootfs'), files).then((r) => [`mount --bind ${shellQuote(r)} /mnt`, r] as const),
        writeFile(hostKeyPath, hostKey.privateKey, { mode: 0o600 }).then(() => writeFile(`${hostKeyPath}.pub`, `${hostKey.publicKey}\n`, { mode: 0o644 })),
      ]);
      const hostPublicKey = hostKey.publicKey.split(' ').slice(0, 2).join(' ');
      const config = sshdConfig(address, hostKeyPath, opts.sshdOptions);
      const configPath = join(vmDir, 'sshd_config');
      await writeFile(configPath, config, { mode: 0o600 });
      const consoleText = consoleOutput(hostname, hostPublicKey);
      await writeFile(join(vmDir, 'console.log'), consoleText);
      const delayMs = opts.sshdDelayMs ?? sshdDelayMs;
      if (opts.files?.length) await writeImageFiles(rootOnHost, opts.files);
      const vm: VmRecord = {
        serverId: opts.serverId, name: opts.name, address, hostPublicKey, upper: rootOnHost, dir: vmDir, pid: 0, child: undefined, exited: Promise.resolve(),
        consoleOutput: () => consoleText, mountRoot, configPath, hostname, running: false, ...(opts.image ? { image: opts.image } : {}),
      };
      await boot(vm, delayMs);
      vms.set(opts.serverId, vm);
      log.info({ serverId: opts.serverId, address, delayMs }, 'sandbox VM created');
      return publicView(vm);
    } catch (e) {
      await release(n);
      await rm(vmDir, { recursive: true, force: true });
      throw e;
    }
  }

  async function remove(serverId: string): Promise<void> {
    const vm = vms.get(serverId);
    if (!vm) return;
    vms.delete(serverId);
    if (vm.running) await killVm(vm.pid, vm.exited);
    await rm(vm.dir, { recursive: true, force: true });
    await release(Number(vm.address.slice(VM_NETWORK_PREFIX.length)));
    log.info({ serverId, address: vm.address }, 'sandbox VM removed');
  }

  return {
    dir,
    create,
    remove,
    list: () => [...vms.values()].map(publicView),
    get: (serverId) => {
      const vm = vms.get(serverId);
      return vm ? publicView(vm) : undefined;
    },
    removeAll: async () => {
      await Promise.all([...vms.keys()].map((id) => remove(id)));
    },
    initPid: (serverId) => {
      const vm = vms.get(serverId);
      return vm?.running ? childrenOfSync(vm.pid)[0] : undefined;
    },
    isRunning: (serverId) => vms.get(serverId)?.running === true,
    stop: async (serverId) => {
      const vm = vms.get(serverId);
      if (!vm) throw new MixmeshError('NOT_FOUND', `no sandbox VM ${serverId}`);
      if (!vm.running) return;
      vm.running = false;
      await killVm(vm.pid, vm.exited);
      log.info({ serverId, address: vm.address }, 'sandbox VM stopped (fault)');
    },
    start: async (serverId) => {
      const vm = vms.get(serverId);
      if (!vm) throw new MixmeshError('NOT_FOUND', `no sandbox VM ${serverId}`);
      if (vm.running) return;
      await boot(vm, 0);
      log.info({ serverId, address: vm.address }, 'sandbox VM started again');
    },
    setSshdDelay: (ms) => {
      sshdDelayMs = ms ?? options.sshdDelayMs ?? DEFAULT_SSHD_DELAY_MS;
    },
  };
}

function publicView(vm: VmRecord): SandboxVm {
  return {
    ...(vm.image ? { image: vm.image } : {}),
    serverId: vm.serverId,
    address: vm.address,
    hostPublicKey: vm.hostPublicKey,
    consoleOutput: vm.consoleOutput,
    // the merged root exists only in the VM's mount namespace; /proc/<its init>/root/mnt shows it
    // from the host while the VM runs (after that, only what it changed is left)
    get rootfs() {
      const inner = vm.running ? childrenOfSync(vm.pid)[0] : undefined;
      return inner !== undefined && existsSync(`/proc/${inner}/root/mnt/etc/hostname`) ? `/proc/${inner}/root/mnt` : vm.upper;
    },
  };
}

/** Put an image's files into the VM's root (the overlay's upper layer or the full copy), before boot. */
async function writeImageFiles(root: string, files: readonly VmFile[]): Promise<void> {
  for (const f of files) {
    if (!f.path.startsWith('/') || f.path.split('/').includes('..')) throw new MixmeshError('BAD_REQUEST', `image file ${f.path}: must be an absolute path inside the VM`);
    const target = join(root, f.path);
    await mkdir(dirname(target), { recursive: true, mode: 0o755 });
    await writeFile(target, f.content, { mode: f.mode ?? 0o644 });
    await chmod(target, f.mode ?? 0o644);
  }
}

function childrenOfSync(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A hostname from the VM name: lower-case DNS label, at most 63 characters. */
export function hostnameFor(name: string): string {
  const label = name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '');
  return label || 'vm';
}

/** The sshd_config of docs/sandbox.md, exactly (plus the extra lines a test asked for). */
export function sshdConfig(address: string, hostKeyPath: string, extra: readonly string[] = []): string {
  if (extra.some((l) => /[\r\n]/.test(l))) throw new MixmeshError('BAD_REQUEST', 'sshdOptions: one sshd_config line per entry, without newlines');
  return [
    `ListenAddress ${address}:22`,
    `HostKey ${hostKeyPath}`,
    'PidFile none',
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    // resolved before the chroot, so through the /mnt bind mount
    'AuthorizedKeysFile /mnt/root/.ssh/authorized_keys',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes yes',
    'ChrootDirectory /mnt',
    'Subsystem sftp internal-sftp',
    'AllowTcpForwarding no',
    'UseDNS no',
    ...extra,
    '',
  ].join('\n');
}

/** What Nova's os-getConsoleOutput shows for a cloud-init VM: boot lines and the host key blocks. */
export function consoleOutput(hostname: string, hostPublicKey: string): string {
  const blob = Buffer.from(hostPublicKey.split(/\s+/)[1] ?? '', 'base64');
  const fingerprint = createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
  return [
    '[    0.000000] Linux version 6.1.0-sandbox (mixmesh sandbox VM: busybox + OpenSSH)',
    `[    0.410000] cloud-init[101]: Cloud-init v. 22.4.2 running 'init-local'`,
    `[    0.520000] cloud-init[105]: Cloud-init v. 22.4.2 running 'init'`,
    'ci-info: no authorized SSH keys fingerprints found for user istio-proxy.',
    '<14>cloud-init: #############################################################',
    '<14>cloud-init: -----BEGIN SSH HOST KEY FINGERPRINTS-----',
    `<14>cloud-init: 256 SHA256:${fingerprint} root@${hostname} (ED25519)`,
    '<14>cloud-init: -----END SSH HOST KEY FINGERPRINTS-----',
    '<14>cloud-init: #############################################################',
    '-----BEGIN SSH HOST KEY KEYS-----',
    `${hostPublicKey} root@${hostname}`,
    '-----END SSH HOST KEY KEYS-----',
    `[    0.930000] cloud-init[120]: Cloud-init v. 22.4.2 finished. Datasource DataSourceOpenStack. Up 0.93 seconds`,
    '',
  ].join('\n');
}

function readProc(pid: number, file: string): Promise<string | undefined> {
  return readFile(`/proc/${pid}/${file}`, 'utf8').catch(() => undefined);
}

/** Is pid a live process (not gone, not a zombie)? */
async function alive(pid: number): Promise<boolean> {
  const stat = await readProc(pid, 'stat');
  if (stat === undefined) return false;
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

/** The processes whose parent is pid (the PID namespace's init, for an unshare pid). */
async function childrenOf(pid: number): Promise<number[]> {
  const text = await readProc(pid, `task/${pid}/children`);
  return (text ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
}

/**
 * SIGKILL the unshare pid and wait until it and the namespace's init are gone (the kernel then
 * has killed everything else in the namespace). There is no exit event for a process we did not
 * spawn, so the namespace init is polled, with a bound.
 */
async function killVm(pid: number, exited?: Promise<void>): Promise<void> {
  const inner = await childrenOf(pid);
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
  if (exited) await exited;
  for (const p of [pid, ...inner]) {
    for (let i = 0; i < 200 && (await alive(p)); i++) await new Promise((r) => setTimeout(r, 10));
  }
}

/** Kill VMs recorded under vmsDir by an earlier run (their cmdline still names vmsDir), remove their dirs. */
export async function killStaleVms(vmsDir: string): Promise<number> {
  let killed = 0;
  let entries: string[];
  try {
    entries = await readdir(vmsDir);
  } catch {
    return 0;
  }
  await Promise.all(
    entries
      .filter((e) => !e.startsWith('.'))
      .map(async (entry) => {
        const vmDir = join(vmsDir, entry);
        const pidText = await readFile(join(vmDir, 'pid'), 'utf8').catch(() => undefined);
        const pid = Number(pidText?.trim());
        if (Number.isInteger(pid) && pid > 1) {
          const cmdline = (await readProc(pid, 'cmdline'))?.replace(/\0/g, ' ');
          // a recycled pid belongs to someone else: only kill what still names our directory
          if (cmdline?.includes(vmDir)) {
            await killVm(pid);
            killed++;
          }
        }
        if (existsSync(vmDir)) await rm(vmDir, { recursive: true, force: true });
      }),
  );
  return killed;
}
