/**
 * Claims on VM addresses shared by every sandbox on this host. A test-bind alone is not enough:
 * between the test-bind and the moment the VM's sshd binds (its start delay), another sandbox
 * process could test-bind the same address; its VM would then answer for ours (a host-key
 * mismatch at best). A claim is a file created with O_EXCL naming the owning pid; a claim whose
 * pid is gone is taken over under a second O_EXCL lock, so two takers cannot both win.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CLAIM_DIR = join(existsSync('/run') ? '/run' : tmpdir(), 'mixmesh', 'vm-addresses');

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

async function createExclusive(path: string, text: string): Promise<boolean> {
  try {
    await writeFile(path, text, { flag: 'wx', mode: 0o644 });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

/** Claim address for this process; false when a live process holds it. */
export async function claimAddress(address: string, owner: string, dir = CLAIM_DIR): Promise<boolean> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const file = join(dir, address);
  const text = `${process.pid} ${owner}\n`;
  if (await createExclusive(file, text)) return true;
  const holder = Number((await readFile(file, 'utf8').catch(() => '')).split(' ')[0]);
  if (pidAlive(holder)) return false;
  // stale: take it over under a lock (a lock left by a crash is broken after 10 s)
  const lock = `${file}.takeover`;
  if (!(await createExclusive(lock, text))) {
    const age = await stat(lock).then((s) => Date.now() - s.mtimeMs).catch(() => 0);
    if (age < 10_000) return false;
    await unlink(lock).catch(() => undefined);
    if (!(await createExclusive(lock, text))) return false;
  }
  try {
    const again = Number((await readFile(file, 'utf8').catch(() => '')).split(' ')[0]);
    if (pidAlive(again)) return false; // someone took it over just before us
    await unlink(file).catch(() => undefined);
    return await createExclusive(file, text);
  } finally {
    await unlink(lock).catch(() => undefined);
  }
}

/** Release a claim this process holds (another holder's claim is left alone). */
export async function releaseAddress(address: string, dir = CLAIM_DIR): Promise<void> {
  const file = join(dir, address);
  const holder = Number((await readFile(file, 'utf8').catch(() => '')).split(' ')[0]);
  if (holder === process.pid) await unlink(file).catch(() => undefined);
}
