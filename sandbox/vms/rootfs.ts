/**
 * The busybox root filesystem of an SSH test VM. A template is built once per sandbox directory
 * and is the read-only lower layer of every VM's overlayfs; a VM's own files (its hosts, hostname,
 * authorized_keys, and whatever it writes) live in its upper directory. Creating ~300 inodes per VM
 * (a `cp -a` of the template) measured 1 ms per inode on this disk; the overlay needs ~10.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MixmeshError } from '../../common/errors.js';

const run = promisify(execFile);

export const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];

export function findBusybox(): string | undefined {
  return BUSYBOX_CANDIDATES.find((p) => existsSync(p));
}

/** Applets the injector and the stand-in sidecar rely on; checked when the template is built. */
export const REQUIRED_APPLETS = ['sh', 'mkdir', 'chown', 'chmod', 'cat', 'cp', 'mv', 'rm', 'ln', 'grep', 'sed', 'tar', 'gzip', 'dpkg', 'dpkg-deb', 'rpm', 'wget', 'sha256sum', 'su', 'nc', 'base64', 'date', 'id', 'kill', 'ps', 'sleep', 'tr', 'cut', 'head', 'tail', 'env', 'printf', 'test'];

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nistio-proxy:x:1337:1337:istio-proxy:/var/lib/istio:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n';
const GROUP = 'root:x:0:\nistio-proxy:x:1337:\nnogroup:x:65534:\n';
const SHADOW = 'root:*:19000:0:99999:7:::\nistio-proxy:!:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n';

/** Bump when the template's content changes: an older template on disk is rebuilt. */
const TEMPLATE_VERSION = 'overlay-2';

/**
 * Build `<templateDir>/rootfs`, busybox and its applet links included.
 * Idempotent: an existing complete template of this version is reused.
 */
export async function buildTemplate(templateDir: string): Promise<{ rootfs: string }> {
  const rootfs = join(templateDir, 'rootfs');
  const done = join(templateDir, '.complete');
  if ((await readFile(done, 'utf8').catch(() => '')).startsWith(`${TEMPLATE_VERSION}\n`)) return { rootfs };
  const hostBusybox = findBusybox();
  if (!hostBusybox) throw new MixmeshError('SANDBOX_MISSING_PACKAGES', 'busybox is not installed (apt-get install busybox-static)');

  const tmp = `${templateDir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  const r = (p: string) => join(tmp, 'rootfs', p);
  await mkdir(r(''), { recursive: true, mode: 0o755 });
  for (const d of ['usr/bin', 'usr/local/bin', 'dev', 'etc', 'proc', 'run', 'var/lib/dpkg/info', 'var/lib/dpkg/updates', 'var/log', 'var/tmp', 'lib', 'home', 'opt']) {
    await mkdir(r(d), { recursive: true, mode: 0o755 });
  }
  // modes must not depend on the caller's umask: sshd's StrictModes and ChrootDirectory check them
  for (const d of ['', 'usr', 'usr/bin', 'usr/local', 'usr/local/bin', 'dev', 'etc', 'proc', 'run', 'var', 'var/lib', 'var/lib/dpkg', 'var/lib/dpkg/info', 'var/lib/dpkg/updates', 'var/log', 'lib', 'home', 'opt']) {
    await chmod(r(d), 0o755);
  }
  // merged /usr, as on current Debian: every applet lives in /usr/bin once
  await symlink('usr/bin', r('bin'));
  await symlink('usr/bin', r('sbin'));
  await symlink('bin', r('usr/sbin'));
  await symlink('../run', r('var/run'));
  await mkdir(r('root/.ssh'), { recursive: true, mode: 0o700 });
  await chmod(r('root'), 0o700);
  await chmod(r('root/.ssh'), 0o700);
  await mkdir(r('tmp'), { mode: 0o755 });
  await chmod(r('tmp'), 0o1777);
  await chmod(r('var/tmp'), 0o1777);

  await copyFile(hostBusybox, r('usr/bin/busybox'));
  await chmod(r('usr/bin/busybox'), 0o755);
  const { stdout } = await run(hostBusybox, ['--list']);
  const applets = stdout.split('\n').filter((a) => /^[a-z0-9_.[-]+$/.test(a));
  const missing = REQUIRED_APPLETS.filter((a) => !applets.includes(a));
  if (missing.length) throw new MixmeshError('SANDBOX_MISSING_PACKAGES', `${hostBusybox} lacks applets ${missing.join(', ')} (apt-get install busybox-static)`);
  for (const a of applets) {
    if (a === 'bash' || a === 'busybox') continue;
    await symlink('busybox', r(`usr/bin/${a}`));
  }
  // sshd runs root's *host* login shell (/bin/bash) inside the chroot: a shim that execs sh
  await writeFile(r('usr/bin/bash'), '#!/bin/sh\nexec /bin/sh "$@"\n', { mode: 0o755 });

  // device nodes, or `>/dev/null` would create a file
  for (const [name, major, minor] of [['null', 1, 3], ['zero', 1, 5], ['random', 1, 8], ['urandom', 1, 9], ['tty', 5, 0]] as const) {
    await run('mknod', ['-m', '666', r(`dev/${name}`), 'c', String(major), String(minor)]);
  }

  await writeFile(r('etc/passwd'), PASSWD, { mode: 0o644 });
  await writeFile(r('etc/group'), GROUP, { mode: 0o644 });
  await writeFile(r('etc/shadow'), SHADOW, { mode: 0o640 });
  await writeFile(r('etc/shells'), '/bin/sh\n/bin/bash\n', { mode: 0o644 });
  await writeFile(r('etc/os-release'), 'PRETTY_NAME="mixmesh sandbox VM (busybox)"\nNAME="busybox"\nID=busybox\n', { mode: 0o644 });
  await writeFile(r('etc/profile'), 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n', { mode: 0o644 });
  await writeFile(r('var/lib/dpkg/status'), '', { mode: 0o644 });

  await rm(templateDir, { recursive: true, force: true });
  await rename(tmp, templateDir);
  await writeFile(done, `${TEMPLATE_VERSION}\n${applets.length} applets\n`);
  return { rootfs };
}

/**
 * The upper layer of a new VM: only what differs from the template. Directories that exist in
 * both show the upper one's owner and mode, so they are created with the template's.
 */
export async function createUpperLayer(vmDir: string, files: { hosts: string; hostname: string; authorizedKeys: string }): Promise<{ upper: string; work: string }> {
  const upper = join(vmDir, 'upper');
  const work = join(vmDir, 'work');
  await Promise.all([mkdir(upper, { mode: 0o755 }), mkdir(work, { mode: 0o700 })]);
  await chmod(upper, 0o755);
  await Promise.all([mkdir(join(upper, 'etc'), { mode: 0o755 }), mkdir(join(upper, 'root/.ssh'), { recursive: true, mode: 0o700 })]);
  await Promise.all([chmod(join(upper, 'etc'), 0o755), chmod(join(upper, 'root'), 0o700), chmod(join(upper, 'root/.ssh'), 0o700)]);
  await Promise.all([
    writeFile(join(upper, 'etc/hosts'), files.hosts, { mode: 0o644 }),
    writeFile(join(upper, 'etc/hostname'), files.hostname, { mode: 0o644 }),
    writeFile(join(upper, 'root/.ssh/authorized_keys'), files.authorizedKeys, { mode: 0o600 }).then(() => chmod(join(upper, 'root/.ssh/authorized_keys'), 0o600)),
  ]);
  return { upper, work };
}

/** Does the kernel offer overlayfs? (Without it each VM gets a full, slower copy of the template.) */
export function overlaySupported(): boolean {
  try {
    return /\toverlay\n/.test(readFileSync('/proc/filesystems', 'utf8'));
  } catch {
    return false;
  }
}

/** The fallback without overlayfs: a full copy of the template, then the VM's own files. */
export async function copyRootfs(templateRootfs: string, target: string, files: { hosts: string; hostname: string; authorizedKeys: string }): Promise<string> {
  await run('cp', ['-a', '--', templateRootfs, target]);
  await writeFile(join(target, 'etc/hosts'), files.hosts, { mode: 0o644 });
  await writeFile(join(target, 'etc/hostname'), files.hostname, { mode: 0o644 });
  await writeFile(join(target, 'root/.ssh/authorized_keys'), files.authorizedKeys, { mode: 0o600 });
  await chmod(join(target, 'root/.ssh/authorized_keys'), 0o600);
  return target;
}
