/**
 * The seam between the Tacker/Nova emulator and the SSH test VMs: the emulator asks a VmProvider
 * for a VM per VDU instance and removes it on terminate. The real provider starts OpenSSH in a
 * private mount namespace (sandbox/vms/); unit tests of the emulator may pass another one.
 */
export interface SandboxVm {
  /** Nova server UUID */
  serverId: string;
  /** 127.0.10.N: the address the VM's sshd listens on */
  address: string;
  /** the VM's ed25519 host public key, "ssh-ed25519 AAAA…" */
  hostPublicKey: string;
  /** what Nova's os-getConsoleOutput returns, with cloud-init's host key block */
  consoleOutput(): string;
  /** the VM's root filesystem on the host, for tests that inspect files */
  rootfs: string;
  /** the Nova image it was made from (the VNF package's software image), when one was named */
  image?: string;
}

/** A file the image puts into the VM's root before it boots (path absolute inside the VM). */
export interface VmFile {
  path: string;
  content: string | Buffer;
  /** default 0644 */
  mode?: number;
}

export interface CreateVmOptions {
  serverId: string;
  name: string;
  /** a requested fixed address (inside 127.0.10.0/24), else the first free one */
  fixedAddress?: string;
  /** delay before sshd accepts (default latency 0.3 s; a fault can make it slow) */
  sshdDelayMs?: number;
  /** the Nova image name (the VNF package's software image): what the VM "is" (sandbox/nodes) */
  image?: string;
  /** files the image adds to the VM's root before it boots */
  files?: readonly VmFile[];
  /** extra sshd_config lines after the standard ones (a test that needs e.g. `MaxSessions 2`) */
  sshdOptions?: readonly string[];
}

export interface VmProvider {
  create(options: CreateVmOptions): Promise<SandboxVm>;
  remove(serverId: string): Promise<void>;
  list(): SandboxVm[];
  /** remove every VM; used on sandbox stop */
  removeAll(): Promise<void>;
}
