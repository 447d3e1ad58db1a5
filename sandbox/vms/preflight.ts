/**
 * What the SSH test VMs need from the host, checked before anything starts, with errors that say
 * what to do: root, Debian's openssh-server and busybox-static, and no host sshd on *:22.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { MixmeshError } from '../../common/errors.js';
import { findBusybox } from './rootfs.js';

/** [what must exist, the Debian package that brings it] */
const NEEDS: ReadonlyArray<[() => boolean, string]> = [
  [() => existsSync('/usr/sbin/sshd') && existsSync('/usr/bin/ssh-keygen'), 'openssh-server'],
  [() => findBusybox() !== undefined, 'busybox-static'],
  [() => existsSync('/usr/bin/setpriv') && existsSync('/usr/bin/unshare'), 'util-linux'],
  [() => existsSync('/usr/bin/dpkg-deb'), 'dpkg'],
];

export function missingPackages(): string[] {
  return NEEDS.filter(([present]) => !present()).map(([, pkg]) => pkg);
}

export interface HostFacts {
  uid: number | undefined;
  missing: string[];
}

/** Throws SANDBOX_NOT_ROOT or SANDBOX_MISSING_PACKAGES (facts default to this host's). */
export function checkHostTools(facts: HostFacts = { uid: process.getuid?.(), missing: missingPackages() }): void {
  if (facts.uid !== undefined && facts.uid !== 0) {
    throw new MixmeshError('SANDBOX_NOT_ROOT', 'the sandbox needs root: its SSH test VMs run sshd in private mount and PID namespaces and listen on 127.0.10.N:22 (run it as root, e.g. sudo)');
  }
  const missing = facts.missing;
  if (missing.length) {
    throw new MixmeshError('SANDBOX_MISSING_PACKAGES', `missing Debian packages: ${missing.join(', ')}; install them with: apt-get install -y --no-install-recommends ${missing.join(' ')} (or run scripts/setup-host.sh, which keeps a host sshd from starting)`, {
      details: { missing },
    });
  }
}

/** Can we bind host:port right now? (The socket is closed again at once.) */
export function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Is something listening on port 22 of every address (a host sshd)? Read from /proc/net/tcp{,6}. */
export function wildcardListenerOn22(): boolean {
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      if (!local || cols[3] !== '0A') continue; // 0A = LISTEN
      const [addr, port] = local.split(':');
      if (port === '0016' && addr !== undefined && /^0+$/.test(addr)) return true;
    }
  }
  return false;
}

export interface Port22Probe {
  canBind(host: string, port: number): Promise<boolean>;
  wildcardListenerOn22(): boolean;
}

/** Throws SANDBOX_PORT22_BUSY when a host sshd holds *:22 (then no VM could bind 127.0.10.N:22). */
export async function checkPort22(probe: Port22Probe = { canBind, wildcardListenerOn22 }): Promise<void> {
  if (await probe.canBind('127.0.10.1', 22)) return;
  // 127.0.10.1:22 may simply be another sandbox's VM; only a wildcard listener is fatal
  if (probe.wildcardListenerOn22() || !(await anyVmAddressFree(probe))) {
    throw new MixmeshError('SANDBOX_PORT22_BUSY', 'port 22 is taken on every address (a host sshd listens on *:22?), so sandbox VMs cannot listen on 127.0.10.N:22; stop it (systemctl stop ssh) or make it listen on a specific address only');
  }
}

async function anyVmAddressFree(probe: Port22Probe): Promise<boolean> {
  for (let n = 1; n <= 254; n++) if (await probe.canBind(`127.0.10.${n}`, 22)) return true;
  return false;
}
