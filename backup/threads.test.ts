/**
 * The data threads (threads.ts, data-thread.ts) against a real sshd: a data dir written back on a
 * thread lands byte-identical; the thread's failures come back as the same MixmeshError (code,
 * details) the main-thread path throws; a backup's objects verified on a thread; a thread that ends
 * mid-write fails that write (INTERNAL), and the next write starts a new thread.
 */
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { isMixmeshError } from '../common/errors.js';
import { createLocalVmProvider, type LocalVmProvider, type SandboxVm } from '../sandbox/vms/index.js';
import { testKeys, until } from '../cli/two-clouds.js';
import { BackupReader, BackupWriter, backupPrefix } from './archive.js';
import { SshNodeAccess, tarFileHashes, tee, type NodeTarget } from './nodes.js';
import { openStore, type ObjectStore } from './stores.js';
import { dataThreadCount, stopDataThreads } from './threads.js';
import type { DataEntry } from './types.js';
import { writeDataDir } from './writeback.js';

/** a data dir's tar (files of the given sizes) stored as a backup object, with its manifest entry */
async function storeDir(w: BackupWriter, object: string, sizes: number[]): Promise<{ entry: DataEntry; files: Map<string, Buffer> }> {
  const files = new Map(sizes.map((n, i) => [`f${i}.bin`, randomBytes(n)]));
  const pack = tar.pack();
  for (const [name, body] of files) pack.entry({ name, size: body.length }, body);
  pack.finalize();
  const [a, b] = tee(Readable.from(pack as unknown as AsyncIterable<Buffer>));
  const [stored, fileHashes] = await Promise.all([w.writeObject(object, a), tarFileHashes(b, { gzip: false })]);
  const bytes = sizes.reduce((x, y) => x + y, 0);
  return { entry: { owner: 'ns/pod', name: object, node: 'n1', path: '/srv/data', type: 'hostPath', result: 'captured', files: files.size, bytes, object: stored.path, fileHashes } as unknown as DataEntry, files };
}

describe('backup/threads: data written back and verified on threads of their own', function () {
  this.timeout(120_000);
  let dir: string;
  let provider: LocalVmProvider;
  let vm: SandboxVm;
  let target: NodeTarget;
  let store: ObjectStore;
  let reader: BackupReader;
  let small: { entry: DataEntry; files: Map<string, Buffer> };
  let big: { entry: DataEntry; files: Map<string, Buffer> };
  const keys = testKeys();
  const nodes = new SshNodeAccess();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-threads-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id')]);
    provider = await createLocalVmProvider({ dir, authorizedKeys: [readFileSync(join(dir, 'id.pub'), 'utf8')], sshdDelayMs: 0 });
    vm = await provider.create({ serverId: 'threads', name: 'threads' });
    target = { name: 'node-a', host: vm.address, user: 'root', privateKey: readFileSync(join(dir, 'id'), 'utf8'), hostKeys: [vm.hostPublicKey] };
    store = openStore({ url: `file://${join(dir, 'store')}` });
    const w = new BackupWriter(store, 'b1', keys, true);
    small = await storeDir(w, 'volumes/small.tar.gz', [1, 70_000, 300_000]);
    big = await storeDir(w, 'volumes/big.tar.gz', Array.from({ length: 8 }, () => 8 << 20));
    await w.finish({ name: 'b1', created: new Date().toISOString(), selection: {}, items: [], data: [small.entry, big.entry], state: [] } as never);
    reader = await BackupReader.open(store, 'b1', keys);
  });
  after(async () => {
    await nodes.close();
    await stopDataThreads();
    await provider?.removeAll();
    rmSync(dir, { recursive: true, force: true });
  });

  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  const landed = (path: string, name: string) => sha(readFileSync(join(vm.rootfs, path, name)));

  it('writes a data dir on a thread, byte-identical, and verifies a backup there', async () => {
    const r = await writeDataDir(nodes, reader, small.entry, target, '/srv/one');
    assert.equal(r.files, 3);
    assert.ok(dataThreadCount() >= 1, 'a data thread ran the write');
    for (const [name, body] of small.files) assert.equal(landed('srv/one', name), sha(body), name);
    let bytes = 0;
    await reader.verifyObjects((n) => { bytes += n; });
    assert.equal(bytes, reader.manifest.objects.reduce((n, o) => n + o.bytes, 0), 'progress counts every stored byte');
  });

  it("a thread's failure is the same MixmeshError: a file that differs from the manifest is BACKUP_INTEGRITY after the write; a changed object fails its verification", async () => {
    const forged = { ...small.entry, fileHashes: small.entry.fileHashes!.map((h, i) => (i === 1 ? { ...h, sha256: '0'.repeat(64) } : h)) };
    await assert.rejects(writeDataDir(nodes, reader, forged, target, '/srv/two'), (e: unknown) => isMixmeshError(e, 'BACKUP_INTEGRITY') && e.details?.['afterWrite'] === true && /differ from the signed manifest, first f1\.bin/.test(e.message));
    const path = join(dir, 'store', backupPrefix('b1'), small.entry.object!);
    const bytes = readFileSync(path);
    bytes[bytes.length >> 1] ^= 1;
    writeFileSync(path, bytes);
    try {
      await assert.rejects(reader.verifyObjects(), (e: unknown) => isMixmeshError(e, 'BACKUP_INTEGRITY') && /small\.tar\.gz does not match its SHA-256/.test(e.message));
    } finally {
      bytes[bytes.length >> 1] ^= 1;
      writeFileSync(path, bytes);
    }
  });

  it('a write that is its object\'s verification (sha256): the stored SHA-256 checked as it reads (on a thread and here), the files not hashed again, what landed still listed', async () => {
    const access = reader.objectAccess(small.entry.object!);
    const wrongSha = BackupReader.forObject(store, { ...access, entry: { ...access.entry, sha256: '0'.repeat(64) } });
    // a file hash the manifest got wrong is not looked at (the object's SHA-256 covers its bytes); a size is
    const otherHash = { ...small.entry, fileHashes: small.entry.fileHashes!.map((h, i) => (i === 1 ? { ...h, sha256: '0'.repeat(64) } : h)) };
    const otherSize = { ...small.entry, fileHashes: small.entry.fileHashes!.map((h, i) => (i === 2 ? { ...h, size: h.size + 1 } : h)) };
    for (const threads of ['', '0']) {
      const saved = process.env.MIXMESH_DATA_THREADS;
      process.env.MIXMESH_DATA_THREADS = threads;
      try {
        await assert.rejects(writeDataDir(nodes, wrongSha, small.entry, target, `/srv/sha${threads}`, { sha256: true }), (e: unknown) => isMixmeshError(e, 'BACKUP_INTEGRITY') && e.details?.['afterWrite'] === true && /does not match its SHA-256 in the signed manifest/.test(e.message));
        // AES-GCM alone (no sha256) accepts the same bytes: the check above is the SHA-256's
        await writeDataDir(nodes, wrongSha, small.entry, target, `/srv/gcm${threads}`);
        const r = await writeDataDir(nodes, reader, otherHash, target, `/srv/ok${threads}`, { sha256: true });
        assert.equal(r.files, 3);
        for (const [name, body] of small.files) assert.equal(landed(`srv/ok${threads}`, name), sha(body), name);
        await assert.rejects(writeDataDir(nodes, reader, otherSize, target, `/srv/size${threads}`, { sha256: true }), (e: unknown) => isMixmeshError(e, 'BACKUP_INTEGRITY') && /differ after the write \(missing or of another size\), first f2\.bin/.test(e.message));
      } finally {
        if (saved === undefined) delete process.env.MIXMESH_DATA_THREADS;
        else process.env.MIXMESH_DATA_THREADS = saved;
      }
    }
  });

  it('a thread that ends mid-write fails that write (INTERNAL); the next write starts a new thread', async () => {
    // the stored object becomes a named pipe that a shell feeds with its first 16 MiB and then holds
    // open: the write gets those and waits for more, so the threads are ended while it is surely
    // under way (no race with its end; nothing of this process blocks on the pipe)
    const path = join(dir, 'store', backupPrefix('b1'), big.entry.object!);
    const copy = join(dir, 'big.orig');
    renameSync(path, copy);
    execFileSync('mkfifo', [path]);
    const feeder = spawn('sh', ['-c', 'exec > "$1"; head -c 16777216 "$0"; exec sleep 600', copy, path], { stdio: 'ignore' });
    try {
      const writing = writeDataDir(nodes, reader, big.entry, target, '/srv/three');
      const failed = assert.rejects(writing, (e: unknown) => isMixmeshError(e, 'INTERNAL') && /a data-writing thread ended/.test(e.message));
      // the first file on the node: the tar there has been receiving
      await until('the first file on the node', async () => existsSync(join(vm.rootfs, 'srv/three/f0.bin')), 60_000);
      await stopDataThreads();
      await failed;
    } finally {
      feeder.kill('SIGKILL');
      rmSync(path);
      renameSync(copy, path);
    }
    const r = await writeDataDir(nodes, reader, big.entry, target, '/srv/four');
    assert.equal(r.bytes, 64 << 20);
    for (const [name, body] of big.files) assert.equal(landed('srv/four', name), sha(body), name);
  });
});
