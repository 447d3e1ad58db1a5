/**
 * The sandbox's local image cache: no registry can be reached, so every sandbox engine gets
 * `busybox:stable` made from the host's busybox (a rootfs tar with `bin/busybox` and relative
 * applet links, `docker import`ed). The catalog's `web` template runs `httpd` from it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, symlink, copyFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MixmeshError } from '../../common/errors.js';
import { findBusybox } from '../vms/rootfs.js';

const run = promisify(execFile);

export const LOCAL_IMAGES = ['busybox:stable'] as const;

let building: Promise<Buffer> | undefined;

/** the busybox rootfs tar (built once under dir, then reused) */
export function busyboxImageTar(dir: string): Promise<Buffer> {
  building ??= (async () => {
    const file = join(dir, 'busybox-rootfs.tar');
    if (existsSync(file)) return readFile(file);
    const busybox = findBusybox();
    if (!busybox) throw new MixmeshError('SANDBOX_MISSING_PACKAGES', 'busybox is not installed (apt-get install busybox-static)');
    const root = join(dir, `.busybox-rootfs-${process.pid}`);
    await rm(root, { recursive: true, force: true });
    await mkdir(join(root, 'bin'), { recursive: true });
    for (const d of ['tmp', 'etc', 'www', 'data', 'proc', 'dev', 'sys']) await mkdir(join(root, d));
    await chmod(join(root, 'tmp'), 0o1777);
    await copyFile(busybox, join(root, 'bin', 'busybox'));
    await chmod(join(root, 'bin', 'busybox'), 0o755);
    const { stdout } = await run(busybox, ['--list']);
    for (const a of stdout.split('\n')) if (/^[a-z0-9_.[-]+$/.test(a) && a !== 'busybox') await symlink('busybox', join(root, 'bin', a));
    await run('sh', ['-c', `printf 'root:x:0:0:root:/root:/bin/sh\\nnobody:x:65534:65534:nobody:/:/bin/false\\n' > etc/passwd && printf '<h1>mixmesh sandbox web</h1>\\n' > www/index.html`], { cwd: root });
    await run('tar', ['-C', root, '-cf', `${file}.tmp`, '.']);
    await rename(`${file}.tmp`, file);
    await rm(root, { recursive: true, force: true });
    return readFile(file);
  })();
  const p = building;
  p.catch(() => { if (building === p) building = undefined; });
  return p;
}
