/**
 * Builds the stand-in istio-sidecar package as .deb (dpkg-deb --build), .rpm (our writer) or
 * .tar.gz (GNU tar), cached by its inputs under outDir so the tests and benchmarks build once.
 */
import { execFile, spawn } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { chmod, chown, lchown, mkdir, mkdtemp, rename, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGzip } from 'node:zlib';
import { MixmeshError } from '../../common/errors.js';
import { checkVersion, DEFAULT_ISTIO_VERSION, PACKAGE_NAME, POSTINST, PROXY_UID, sidecarEntries, ownedEntries, type PackageEntry } from './files.js';
import { buildRpm } from './rpm.js';

const run = promisify(execFile);

export type SidecarPackageFormat = 'deb' | 'rpm' | 'tar';

export interface BuildSidecarOptions {
  format: SidecarPackageFormat;
  /** Istio version the stand-in reports (default 1.30.3) */
  version?: string;
  /** cache directory */
  outDir: string;
  /** make the package about this many bytes with incompressible padding (the inject benchmark: 50 MiB) */
  padToBytes?: number;
}

export interface SidecarPackage {
  format: SidecarPackageFormat;
  version: string;
  path: string;
  size: number;
  sha256: string;
}

/** Fixed mtime: the same inputs give the same bytes. */
const MTIME = 1_700_000_000;
/** bytes of a package without padding, so padding lands the package near the requested size */
const OVERHEAD = 16 * 1024;

/** Deterministic incompressible bytes (AES-CTR keystream of a fixed key). */
export function incompressible(bytes: number): Buffer {
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16, 0));
  return cipher.update(Buffer.alloc(bytes));
}

export function packageFileName(format: SidecarPackageFormat): string {
  return `${PACKAGE_NAME}.${format === 'tar' ? 'tar.gz' : format}`;
}

export async function buildSidecarPackage(options: BuildSidecarOptions): Promise<SidecarPackage> {
  const version = checkVersion(options.version ?? DEFAULT_ISTIO_VERSION);
  if (!['deb', 'rpm', 'tar'].includes(options.format)) {
    throw new MixmeshError('BAD_REQUEST', `sidecar package format ${JSON.stringify(options.format)}: allowed are deb, rpm, tar`);
  }
  const pad = options.padToBytes ?? 0;
  if (!Number.isInteger(pad) || pad < 0 || pad > 2 ** 31) throw new MixmeshError('BAD_REQUEST', `padToBytes ${pad}: a whole number of bytes up to 2 GiB`);
  const padBytes = Math.max(0, pad - OVERHEAD);
  const entries = sidecarEntries(version, padBytes ? incompressible(padBytes) : undefined);
  // cache key: every byte that goes in
  const key = createHash('sha256');
  key.update(`${options.format}\0${version}\0${padBytes}\0`);
  for (const e of entries) key.update(`${e.path}\0${e.type}\0${e.mode}\0${e.target ?? ''}\0${e.proxyOwned ? 1 : 0}\0`).update(e.content ?? Buffer.alloc(0));
  const cacheDir = join(options.outDir, `${version}-${key.digest('hex').slice(0, 12)}`);
  const path = join(cacheDir, packageFileName(options.format));
  if (!existsSync(path)) {
    await mkdir(cacheDir, { recursive: true });
    const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    try {
      if (options.format === 'rpm') {
        await writeFile(tmp, buildRpm({ name: PACKAGE_NAME, version, release: '1', summary: 'The Istio sidecar (mixmesh sandbox stand-in)', description: 'Stand-in for istio-sidecar: pilot-agent serves /healthz/ready; no Envoy, no iptables.', license: 'Apache-2.0', postinstall: POSTINST.replace(/^#!\/bin\/sh\n/, ''), entries: ownedEntries(entries), mtime: MTIME }));
      } else {
        await buildFromTree(options.format, entries, version, tmp);
      }
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e instanceof MixmeshError ? e : new MixmeshError('SIDECAR_PACKAGE_FAILED', `build the stand-in ${packageFileName(options.format)}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return { format: options.format, version, path, size: (await stat(path)).size, sha256: hash.digest('hex') };
}

/** Lay the entries out in a staging tree (owners and modes as on the VM), then pack it. */
async function buildFromTree(format: 'deb' | 'tar', entries: readonly PackageEntry[], version: string, out: string): Promise<void> {
  const stage = await mkdtemp(`${out}.stage-`);
  try {
    const root = join(stage, 'root');
    await mkdir(root, { mode: 0o755 });
    await chmod(root, 0o755);
    const asRoot = process.getuid?.() === 0;
    for (const e of entries) {
      const p = join(root, e.path);
      if (e.type === 'dir') await mkdir(p, { mode: e.mode });
      else if (e.type === 'symlink') await symlink(e.target ?? '', p);
      else await writeFile(p, e.content ?? Buffer.alloc(0));
      if (e.type !== 'symlink') await chmod(p, e.mode);
      if (asRoot) await (e.type === 'symlink' ? lchown : chown)(p, e.proxyOwned ? PROXY_UID : 0, e.proxyOwned ? PROXY_UID : 0);
    }
    for (const e of [...entries].reverse()) if (e.type !== 'symlink') await utimes(join(root, e.path), MTIME, MTIME);
    if (format === 'deb') {
      const debian = join(root, 'DEBIAN');
      await mkdir(debian, { mode: 0o755 });
      const installedKiB = Math.ceil(entries.reduce((n, e) => n + (e.content?.length ?? 0), 0) / 1024);
      await writeFile(
        join(debian, 'control'),
        `Package: ${PACKAGE_NAME}\nVersion: ${version}\nArchitecture: all\nMaintainer: mixmesh sandbox <sandbox@mixmesh.invalid>\nInstalled-Size: ${installedKiB}\nSection: net\nPriority: optional\nDescription: The Istio sidecar (mixmesh sandbox stand-in)\n pilot-agent serves /healthz/ready on ISTIO_SVC_IP:15021; no Envoy, no iptables.\n`,
      );
      await writeFile(join(debian, 'postinst'), POSTINST, { mode: 0o755 });
      await chmod(join(debian, 'postinst'), 0o755);
      // gzip: busybox dpkg reads data.tar.gz; level 1 keeps a padded (incompressible) build quick
      await run('dpkg-deb', ['--build', '-Zgzip', '-z1', '--uniform-compression', root, out], { env: { ...process.env, SOURCE_DATE_EPOCH: String(MTIME) } });
    } else {
      const tar = spawn('tar', ['--sort=name', '--numeric-owner', `--mtime=@${MTIME}`, '-C', root, '-cf', '-', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
      const done = new Promise<void>((resolve, reject) => tar.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`tar exited ${code}`)))));
      await pipeline(tar.stdout, createGzip({ level: 1 }), createWriteStream(out));
      await done;
    }
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}
