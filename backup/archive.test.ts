import { strict as assert } from 'node:assert';
import { createHash, randomBytes, createPrivateKey, createPublicKey } from 'node:crypto';
import { createServer, connect, type Socket } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { isMixmeshError } from '../common/errors.js';
import { startSwift, type SwiftServer } from '../sandbox/swift/index.js';
import { BackupReader, BackupWriter, ResourceTar, deleteBackup, listBackups } from './archive.js';
import { decryptStream, encryptStream, generateStoreKeys, parseKek, type StoreKeys } from './crypto.js';
import { openStore, type ObjectStore } from './stores.js';

function keysOf(): StoreKeys {
  const g = generateStoreKeys();
  return { kek: parseKek(g.kek.toString('base64')), signingKey: createPrivateKey(g.signingKeyPem), publicKey: createPublicKey(g.publicKeyPem) };
}

async function collect(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isMixmeshError(e), `not a MixmeshError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

describe('backup/crypto: chunked AES-256-GCM streams', () => {
  const key = randomBytes(32);
  it('round-trips empty, small and multi-chunk data', async () => {
    for (const size of [0, 1, 65536, 65537, 300_000]) {
      const plain = randomBytes(size);
      const enc = await collect(Readable.from([plain]).pipe(encryptStream(key, 'x')));
      const dec = await collect(Readable.from([enc]).pipe(decryptStream(key, 'x')));
      assert.ok(dec.equals(plain), `size ${size}`);
    }
  });
  it('decrypts whatever sizes the reads come in (records cut across chunks, 1 byte to 300 kB)', async () => {
    const plain = randomBytes(700_000);
    const enc = await collect(Readable.from([plain]).pipe(encryptStream(key, 'x')));
    for (const sizes of [[1, 2, 3, 65_000], [3, 5, 70_001], [65_555], [65_556, 17], [262_144], [300_000, 1]]) {
      const pieces: Buffer[] = [];
      for (let off = 0, i = 0; off < enc.length; i++) {
        const n = sizes[i % sizes.length]!;
        pieces.push(enc.subarray(off, off + n));
        off += n;
      }
      const dec = await collect(Readable.from(pieces).pipe(decryptStream(key, 'x')));
      assert.ok(dec.equals(plain), `reads of ${sizes.join(',')}`);
    }
    // a truncation and trailing bytes are refused however the reads are cut
    await rejectsWith(collect(Readable.from([enc.subarray(0, 20), enc.subarray(20, enc.length - 3)]).pipe(decryptStream(key, 'x'))), 'BACKUP_INTEGRITY');
    await rejectsWith(collect(Readable.from([enc, Buffer.from([1, 2])]).pipe(decryptStream(key, 'x'))), 'BACKUP_INTEGRITY');
  });
  it('refuses a flipped byte, a truncation, another object path and another key', async () => {
    const enc = await collect(Readable.from([randomBytes(200_000)]).pipe(encryptStream(key, 'a')));
    const flipped = Buffer.from(enc);
    flipped[100_000] = (flipped[100_000] ?? 0) ^ 1;
    const cases: Array<[Buffer, Buffer, string]> = [
      [flipped, key, 'a'],
      [enc.subarray(0, enc.length - 70_000), key, 'a'],
      [enc, key, 'b'],
      [enc, randomBytes(32), 'a'],
    ];
    for (const [bytes, k, path] of cases) {
      await rejectsWith(collect(Readable.from([bytes]).pipe(decryptStream(k, path))), 'BACKUP_INTEGRITY');
    }
  });
});

for (const kind of ['file', 'swift'] as const) {
  describe(`backup/archive on ${kind === 'file' ? 'file://' : 'a real Swift (S3 API)'}`, function () {
    this.timeout(120_000);
    let dir: string;
    let swift: SwiftServer | undefined;
    let store: ObjectStore;
    const keys = keysOf();
    const SECRET = 'top-secret-password-4711';

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'mixmesh-archive-'));
      if (kind === 'file') store = openStore({ url: `file://${dir}/store` });
      else {
        swift = await startSwift({ dir: join(dir, 'swift') });
        store = openStore({ url: 's3://mixmesh-test/pfx', s3: { endpoint: swift.endpoint, ...swift.s3, forcePathStyle: true } });
      }
    });
    after(async () => {
      store?.close();
      await swift?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    async function writeBackup(name: string, data: Buffer, opts: { encrypt?: boolean; finish?: boolean } = {}) {
      const w = new BackupWriter(store, name, keys, opts.encrypt ?? true);
      const t = new ResourceTar();
      const writing = w.writeObject('resources.tar.gz', Readable.from(t.pack as unknown as AsyncIterable<Buffer>));
      const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'ns' }, data: { password: Buffer.from(SECRET).toString('base64') }, stringData: { plain: SECRET } };
      await t.add('resources/secrets/namespaces/ns/s.json', Buffer.from(JSON.stringify(secret)), { apiVersion: 'v1', kind: 'Secret', namespace: 'ns', name: 's', result: 'captured' });
      t.finalize();
      await writing;
      await w.writeObject('volumes/ns/pod/data.tar.gz', Readable.from([data]), { gzip: false });
      if (opts.finish === false) return;
      await w.finish({ name, created: new Date().toISOString(), completed: new Date().toISOString(), source: {}, selection: {}, phase: 'Completed', warnings: [], items: t.items, data: [], state: [], totals: { items: 1, dataBytes: data.length, storedBytes: 0 } });
    }

    it('writes a signed, encrypted backup (multipart-sized object too) and reads it back verified', async () => {
      const data = randomBytes(kind === 'swift' ? 9 * 1024 * 1024 : 300_000);
      await writeBackup('b1', data);
      const r = await BackupReader.open(store, 'b1', keys);
      await r.verifyObjects();
      const got = await collect(await r.open('volumes/ns/pod/data.tar.gz'));
      assert.ok(got.equals(data));
      const res = [];
      for await (const x of r.resources()) res.push(JSON.parse(x.body.toString()) as { kind: string });
      assert.deepEqual(res.map((x) => x.kind), ['Secret']);
      assert.deepEqual((await listBackups(store)).map((b) => [b.name, b.complete]), [['b1', true]]);
    });

    it('never stores a Secret readable without the key', async () => {
      const needle = Buffer.from(SECRET);
      const needle64 = Buffer.from(Buffer.from(SECRET).toString('base64'));
      for await (const o of store.list('backups/b1/')) {
        const bytes = await collect(await store.get(o.key));
        assert.equal(bytes.indexOf(needle), -1, o.key);
        assert.equal(bytes.indexOf(needle64), -1, o.key);
      }
    });

    it('refuses a wrong or missing key, a forged manifest and a flipped byte, before reading data', async () => {
      await rejectsWith(BackupReader.open(store, 'b1', { ...keys, kek: randomBytes(32) }), 'BACKUP_KEY_INVALID');
      await rejectsWith(BackupReader.open(store, 'b1', { ...keys, kek: undefined }), 'BACKUP_KEY_MISSING');
      await rejectsWith(BackupReader.open(store, 'b1', { ...keys, publicKey: keysOf().publicKey }), 'BACKUP_SIGNATURE_INVALID');
      await rejectsWith(BackupReader.open(store, 'b1', { ...keys, publicKey: undefined }), 'BACKUP_KEY_MISSING');
      // forged manifest: a changed checksum, re-uploaded without a valid signature
      const manifest = JSON.parse((await collect(await store.get('backups/b1/manifest.json'))).toString()) as { objects: Array<{ sha256: string }> };
      const original = JSON.stringify(manifest, null, 1);
      manifest.objects[0]!.sha256 = '0'.repeat(64);
      await store.put('backups/b1/manifest.json', Readable.from([Buffer.from(JSON.stringify(manifest, null, 1))]));
      await rejectsWith(BackupReader.open(store, 'b1', keys), 'BACKUP_SIGNATURE_INVALID');
      await store.put('backups/b1/manifest.json', Readable.from([Buffer.from(original)]));
      await BackupReader.open(store, 'b1', keys);
      // a flipped byte in a data object
      const obj = await collect(await store.get('backups/b1/volumes/ns/pod/data.tar.gz'));
      obj[obj.length >> 1] = (obj[obj.length >> 1] ?? 0) ^ 0x10;
      await store.put('backups/b1/volumes/ns/pod/data.tar.gz', Readable.from([obj]));
      const r = await BackupReader.open(store, 'b1', keys);
      await rejectsWith(r.verifyObjects(), 'BACKUP_INTEGRITY');
      await rejectsWith(pipeline(await r.open('volumes/ns/pod/data.tar.gz'), new Writable({ write: (_c, _e, cb) => cb() })), 'BACKUP_INTEGRITY');
    });

    it('lists an interrupted backup as incomplete and refuses to restore it; delete removes everything', async () => {
      await writeBackup('b2', randomBytes(1000), { finish: false });
      const list = await listBackups(store);
      assert.deepEqual(list.map((b) => [b.name, b.complete]), [['b1', true], ['b2', false]]);
      await rejectsWith(BackupReader.open(store, 'b2', keys), 'BACKUP_INCOMPLETE');
      await rejectsWith(BackupReader.open(store, 'nope', keys), 'BACKUP_NOT_FOUND');
      await deleteBackup(store, 'b1');
      await deleteBackup(store, 'b2');
      assert.deepEqual(await listBackups(store), []);
      if (kind === 'file') assert.deepEqual(readdirSync(join(dir, 'store')), []);
    });

    it('an unencrypted backup (--no-encrypt) is recorded as such and still verified', async () => {
      await writeBackup('plain', randomBytes(1000), { encrypt: false });
      const r = await BackupReader.open(store, 'plain', { publicKey: keys.publicKey });
      assert.equal(r.manifest.encryption.algorithm, 'none');
      await r.verifyObjects();
      await deleteBackup(store, 'plain');
    });
  });
}

describe('backup/stores: file:// refuses keys that leave its directory', () => {
  it('BAD_REQUEST on ..', async () => {
    const d = mkdtempSync(join(tmpdir(), 'mixmesh-fs-'));
    writeFileSync(join(d, 'x'), 'x');
    const s = openStore({ url: `file://${d}/store` });
    await rejectsWith(s.put('../x', Readable.from([Buffer.from('y')])), 'BAD_REQUEST');
    assert.equal(readFileSync(join(d, 'x'), 'utf8'), 'x');
    assert.ok(statSync(d));
    rmSync(d, { recursive: true, force: true });
  });
});

describe('backup/stores: S3 multipart upload from a stream (a real Swift)', function () {
  this.timeout(120_000);
  const MiB = 1024 * 1024;
  let dir: string;
  let swift: SwiftServer;
  let store: ObjectStore;
  let s3: S3Client;
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  /** a body in uneven pieces (1 byte to 3 MiB), optionally failing after `failAfter` bytes */
  function body(data: Buffer, failAfter?: number): Readable {
    return Readable.from((function* () {
      let seed = 7;
      for (let at = 0; at < data.length; ) {
        if (failAfter !== undefined && at >= failAfter) throw new Error('the source broke');
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        const n = Math.min(data.length - at, 1 + (seed % (3 * MiB)));
        yield data.subarray(at, at + n);
        at += n;
      }
    })());
  }
  async function inProgress(): Promise<number> {
    return ((await s3.send(new ListMultipartUploadsCommand({ Bucket: 'mixmesh-up' }))).Uploads ?? []).length;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-upload-'));
    swift = await startSwift({ dir: join(dir, 'swift') });
    store = openStore({ url: 's3://mixmesh-up/p', s3: { endpoint: swift.endpoint, ...swift.s3, partSize: 5 * MiB, queueSize: 2 } });
    s3 = new S3Client({ endpoint: swift.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: swift.s3, requestChecksumCalculation: 'WHEN_REQUIRED' });
  });
  after(async () => {
    store?.close();
    s3?.destroy();
    await swift?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores bodies of any size and chunking byte for byte (one PUT up to a part, parts beyond); nothing left in progress', async () => {
    for (const size of [0, 1000, 5 * MiB, 10 * MiB, 23 * MiB + 17]) {
      const data = randomBytes(size);
      const put = await store.put(`obj-${size}`, body(data));
      assert.equal(put.bytes, size);
      const back = await collect(await store.get(`obj-${size}`));
      assert.equal(back.length, size);
      assert.equal(sha(back), sha(data), `object of ${size} bytes`);
    }
    assert.equal(await inProgress(), 0);
  });

  it('a body failing mid-way: put rejects with the body\'s own error, nothing under the key, the multipart upload aborted', async () => {
    await assert.rejects(store.put('broken', body(randomBytes(20 * MiB), 12 * MiB)), (e: unknown) => {
      assert.ok(!isMixmeshError(e), 'the source\'s failure is not the store\'s');
      assert.match((e as Error).message, /the source broke/);
      return true;
    });
    assert.equal(await store.head('broken'), undefined);
    assert.equal(await inProgress(), 0);
  });

  it('the store going away mid-way: BACKUP_STORE_FAILED, and the body is destroyed (its producer is not left waiting)', async () => {
    // a TCP relay to Swift that drops every connection and stops listening once 7 MiB went through
    const sockets = new Set<Socket>();
    let relayed = 0;
    const relay = createServer((client) => {
      const up = connect(Number(new URL(swift.endpoint).port), '127.0.0.1');
      for (const s of [client, up]) {
        sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => sockets.delete(s));
      }
      client.on('data', (d: Buffer) => {
        relayed += d.length;
        if (relayed > 7 * MiB && relay.listening) {
          relay.close();
          for (const s of sockets) s.destroy();
        }
      });
      client.pipe(up);
      up.pipe(client);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const port = (relay.address() as { port: number }).port;
    const cut = openStore({ url: 's3://mixmesh-up/p', s3: { endpoint: `http://127.0.0.1:${port}`, ...swift.s3, partSize: 5 * MiB, queueSize: 2 } });
    const source = body(randomBytes(40 * MiB));
    try {
      await rejectsWith(cut.put('cut', source), 'BACKUP_STORE_FAILED');
      assert.ok(source.destroyed, 'the body was destroyed');
      assert.equal(await store.head('cut'), undefined, 'nothing visible under the key');
    } finally {
      cut.close();
      if (relay.listening) relay.close();
      for (const s of sockets) s.destroy();
    }
  });
});
