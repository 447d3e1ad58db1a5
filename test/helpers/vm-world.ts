/**
 * Test world for the injector: real OpenSSH sandbox VMs (sandbox/vms), a client key they
 * authorize, an artifacts directory, and a file-tree snapshot to prove "changed nothing" / "clean".
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectSsh } from '../../clients/ssh/index.js';
import { createLocalVmProvider, type LocalVmProvider } from '../../sandbox/vms/index.js';
import { buildSidecarPackage, type SidecarPackageFormat } from '../../sandbox/sidecar-package/index.js';

export interface VmWorld {
  dir: string;
  provider: LocalVmProvider;
  clientKey: string;
  clientPub: string;
  artifacts: string;
  close(): Promise<void>;
}

export async function createVmWorld(prefix = 'mixmesh-inj-'): Promise<VmWorld> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'injector-test', '-f', join(dir, 'id')]);
  const clientKey = readFileSync(join(dir, 'id'), 'utf8');
  const clientPub = readFileSync(join(dir, 'id.pub'), 'utf8');
  const provider = await createLocalVmProvider({ dir, authorizedKeys: [clientPub], sshdDelayMs: 50 });
  const artifacts = join(dir, 'artifacts');
  return {
    dir, provider, clientKey, clientPub, artifacts,
    async close() {
      await provider.removeAll();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Build the stand-in sidecar (sandbox/sidecar-package) and lay it out the way
 * MIXMESH_SIDECAR_ARTIFACTS names packages: `<dir>/istio-sidecar-<version>.{deb,rpm,tar.gz}`.
 */
export const PACKAGE_CACHE = join(tmpdir(), 'mixmesh-sidecar-cache');

export async function prepareArtifacts(dir: string, cacheDir: string, version: string, formats: readonly SidecarPackageFormat[], padToBytes?: number): Promise<void> {
  mkdirSync(dir, { recursive: true });
  for (const format of formats) {
    const pkg = await buildSidecarPackage({ format, version, outDir: cacheDir, ...(padToBytes ? { padToBytes } : {}) });
    const target = join(dir, `istio-sidecar-${version}.${format === 'tar' ? 'tar.gz' : format}`);
    rmSync(target, { force: true });
    linkSync(pkg.path, target);
  }
}

/** Wait until a VM's sshd answers (its rootfs view is complete only from then on). */
export async function sshdUp(world: VmWorld, vm: { address: string; hostPublicKey: string }): Promise<void> {
  const shell = await connectSsh({ host: vm.address, username: 'root', privateKey: world.clientKey, hostKey: { expected: [vm.hostPublicKey] }, connectBudgetMs: 30_000 });
  await shell.close();
}

export interface Entry {
  type: 'f' | 'd' | 'l' | 'o';
  mode: string;
  uid: number;
  /** sha256 of a file, target of a link */
  content?: string;
  mtimeMs?: number;
}

/** Every path under a VM's rootfs with type, mode, owner, content hash and mtime. */
export function snapshot(rootfs: string, skip: RegExp = /^\/(proc|dev|run\/sshd|tmp)(\/|$)/): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(rootfs, rel))) {
      const path = `${rel}/${name}`;
      if (skip.test(path)) continue;
      const st = lstatSync(join(rootfs, path));
      const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
      if (st.isSymbolicLink()) out.set(path, { type: 'l', mode, uid: st.uid, content: readlinkSync(join(rootfs, path)) });
      else if (st.isDirectory()) {
        out.set(path, { type: 'd', mode, uid: st.uid });
        walk(path);
      } else if (st.isFile()) {
        out.set(path, { type: 'f', mode, uid: st.uid, mtimeMs: st.mtimeMs, content: createHash('sha256').update(readFileSync(join(rootfs, path))).digest('hex') });
      } else out.set(path, { type: 'o', mode, uid: st.uid });
    }
  };
  walk('');
  return out;
}

/** Paths added, removed or changed between two snapshots (mtimes of files included). */
export function diffSnapshots(a: Map<string, Entry>, b: Map<string, Entry>, opts: { mtimes?: boolean } = {}): string[] {
  const out: string[] = [];
  for (const [p, e] of a) {
    const f = b.get(p);
    if (!f) out.push(`- ${p}`);
    else if (e.type !== f.type || e.mode !== f.mode || e.uid !== f.uid || e.content !== f.content || (opts.mtimes && e.mtimeMs !== f.mtimeMs)) out.push(`~ ${p}`);
  }
  for (const p of b.keys()) if (!a.has(p)) out.push(`+ ${p}`);
  return out.sort();
}
