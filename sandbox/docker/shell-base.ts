/**
 * A local base image for Dockerfiles that RUN shell steps, as a public `node:20-…-slim` image
 * would allow: `importNodeBaseImage`'s contents (node, the libraries it links) plus busybox as
 * `/bin/sh` and the usual tools, `/etc/passwd` with `nonroot` (65532), the CA certificates, and
 * the mount points a `--read-only` root needs (`/proc`, `/sys`, `/dev`, and `/etc/hosts`,
 * `/etc/resolv.conf`, `/etc/hostname`, which docker bind-mounts for `--network host` and cannot
 * create on a read-only root). Used by test/image.test.ts for the repository's Dockerfile.
 */
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { sharedLibraries, type Dockerd } from './index.js';

const TOOLS = ['sh', 'ls', 'cat', 'mv', 'cp', 'rm', 'mkdir', 'chmod', 'chown', 'ln', 'env', 'id', 'wget', 'sleep', 'true', 'false', 'test', '[', 'echo', 'find', 'tar', 'mktemp', 'dirname'];

export async function importNodeShellBaseImage(d: Dockerd, tag: string): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'mixmesh-base-'));
  // mkdtemp makes 0700: as the image's / it would lock out every non-root user
  chmodSync(root, 0o755);
  try {
    const put = (src: string, dest: string) => {
      mkdirSync(join(root, dirname(dest)), { recursive: true });
      copyFileSync(src, join(root, dest));
    };
    put(process.execPath, '/usr/local/bin/node');
    chmodSync(join(root, 'usr/local/bin/node'), 0o755);
    mkdirSync(join(root, 'usr/bin'), { recursive: true });
    symlinkSync('../local/bin/node', join(root, 'usr/bin/node'));
    for (const lib of await sharedLibraries(process.execPath)) put(lib, lib);
    put('/bin/busybox', '/bin/busybox');
    chmodSync(join(root, 'bin/busybox'), 0o755);
    for (const tool of TOOLS) symlinkSync('busybox', join(root, 'bin', tool));
    mkdirSync(join(root, 'etc'), { recursive: true });
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnonroot:x:65532:65532:nonroot:/home/nonroot:/bin/false\n');
    writeFileSync(join(root, 'etc/group'), 'root:x:0:\nnonroot:x:65532:\n');
    if (existsSync('/etc/ssl/certs/ca-certificates.crt')) put('/etc/ssl/certs/ca-certificates.crt', '/etc/ssl/certs/ca-certificates.crt');
    for (const dir of ['proc', 'sys', 'dev', 'run', 'home/nonroot']) mkdirSync(join(root, dir), { recursive: true });
    for (const f of ['etc/hosts', 'etc/resolv.conf', 'etc/hostname']) writeFileSync(join(root, f), '');
    mkdirSync(join(root, 'tmp'), { recursive: true });
    chmodSync(join(root, 'tmp'), 0o1777);
    const tarball = `${root}.tar`;
    await new Promise<void>((resolve, reject) => execFile('tar', ['-C', root, '--numeric-owner', '-cf', tarball, '.'], (err) => (err ? reject(err) : resolve())));
    try {
      await d.docker(['import', '--change', 'ENV PATH=/usr/local/bin:/usr/bin:/bin', '-', tag], { input: readFileSync(tarball) });
    } finally {
      rmSync(tarball, { force: true });
    }
    return tag;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
