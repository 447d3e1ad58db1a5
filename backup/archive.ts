/**
 * The archive in the store, under `<prefix>/backups/<name>/`:
 *   manifest.json  the integrity root and the preview: every object with its SHA-256 (of the bytes
 *                  as stored), every item with its own SHA-256, results, the wrapped data key
 *   manifest.sig   Ed25519 over manifest.json — written last: a backup without it is incomplete
 *   resources.tar.gz, volumes/…, vms/…, state/…, results.json, log.jsonl.gz   (encrypted by default)
 * Everything streams: a data object goes source → gzip → AES-256-GCM chunks → SHA-256 → store.
 */
import { createHash, randomBytes } from 'node:crypto';
import { PassThrough, Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { MixmeshError, isMixmeshError } from '../common/errors.js';
import { decryptStream, encryptStream, signManifest, unwrapDataKey, verifyManifest, wrapDataKey, keyId, type StoreKeys, type WrappedKey } from './crypto.js';
import type { ObjectStore } from './stores.js';
import { verifyOnThread } from './threads.js';
import type { Manifest, ManifestItem, StoredEntry } from './types.js';

export const FORMAT = 'mixmesh.io/backup/v1';
export const BACKUPS = 'backups';

export function backupPrefix(name: string): string {
  return `${BACKUPS}/${name}/`;
}

const NAME_RE = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
export function checkBackupName(name: string, what = 'backup'): void {
  if (!NAME_RE.test(name)) throw new MixmeshError('BAD_REQUEST', `${what} name ${JSON.stringify(name)}: use lower-case letters, digits, '-' and '.' (a DNS subdomain, at most 253 characters)`);
}

class Sha256Tap extends Transform {
  private readonly h = createHash('sha256');
  bytes = 0;
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void) {
    this.h.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
  digest(): string {
    return this.h.digest('hex');
  }
}

export interface WriteOptions {
  /** gzip level 1 before encryption (default: true) */
  gzip?: boolean;
  /** progress: bytes of the source read so far */
  onBytes?: (n: number) => void;
}

/** Writes one backup's objects into a store; `finish` writes the signed manifest (last). */
export class BackupWriter {
  readonly dataKey: Buffer | undefined;
  readonly wrapped: WrappedKey | undefined;
  readonly objects: StoredEntry[] = [];

  constructor(readonly store: ObjectStore, readonly name: string, readonly keys: StoreKeys, readonly encrypt: boolean) {
    checkBackupName(name);
    if (!keys.signingKey) throw new MixmeshError('BACKUP_KEY_MISSING', `store ${store.url}: no signing key is configured, so backups cannot be written (restores need only the public key)`);
    if (encrypt) {
      if (!keys.kek) throw new MixmeshError('BACKUP_KEY_MISSING', `store ${store.url}: encryption is on (the default) and no key-encryption key is configured; configure one or pass --no-encrypt`);
      this.dataKey = randomBytes(32);
      this.wrapped = wrapDataKey(this.dataKey, keys.kek, name);
    }
  }

  /** Stream `source` into `<backup>/<path>`; returns what the manifest records. */
  async writeObject(path: string, source: Readable, options: WriteOptions = {}): Promise<StoredEntry> {
    const plain = new Sha256Tap();
    const stored = new Sha256Tap();
    const stages: Array<Readable | Transform> = [source, plain];
    if (options.onBytes) {
      const cb = options.onBytes;
      plain.on('data', (c: Buffer) => cb(c.length));
    }
    if (options.gzip !== false) stages.push(createGzip({ level: 1 }));
    if (this.dataKey) stages.push(encryptStream(this.dataKey, path));
    stages.push(stored);
    const out = new PassThrough({ highWaterMark: 256 * 1024 });
    const pumping = (pipeline as unknown as (...s: Array<Readable | Transform | PassThrough>) => Promise<void>)(...stages, out);
    // both settle (a failed store destroys its body, a failed source ends the put); the store's
    // failure is the backup's (BACKUP_STORE_FAILED), else the source's error is the cause
    const [pumped, putting] = await Promise.allSettled([pumping, this.store.put(`${backupPrefix(this.name)}${path}`, out)]);
    if (putting.status === 'rejected' && isMixmeshError(putting.reason) && putting.reason.code === 'BACKUP_STORE_FAILED') throw putting.reason;
    if (pumped.status === 'rejected') throw pumped.reason;
    if (putting.status === 'rejected') throw putting.reason;
    const put = putting.value;
    const entry: StoredEntry = { path, bytes: put.bytes, sha256: stored.digest(), plainBytes: plain.bytes, plainSha256: plain.digest(), gzip: options.gzip !== false, encrypted: this.dataKey !== undefined };
    this.objects.push(entry);
    return entry;
  }

  /** Write manifest.json, then manifest.sig: only now does the backup count as complete. */
  async finish(manifest: Omit<Manifest, 'format' | 'objects' | 'encryption' | 'signature'>): Promise<Manifest> {
    const full: Manifest = {
      format: FORMAT,
      ...manifest,
      encryption: this.wrapped ?? { algorithm: 'none' },
      signature: { algorithm: 'Ed25519', keyId: keyId(this.keys.signingKey as NonNullable<StoreKeys['signingKey']>) },
      objects: [...this.objects].sort((a, b) => (a.path < b.path ? -1 : 1)),
    };
    const bytes = Buffer.from(JSON.stringify(full, null, 1));
    await this.store.put(`${backupPrefix(this.name)}manifest.json`, Readable.from([bytes]));
    const sig = signManifest(bytes, this.keys.signingKey as NonNullable<StoreKeys['signingKey']>);
    await this.store.put(`${backupPrefix(this.name)}manifest.sig`, Readable.from([Buffer.from(sig.toString('base64'))]));
    return full;
  }
}

/** A streaming tar of resources: add() waits while the consumer is behind (bounded memory). */
export class ResourceTar {
  readonly pack = tar.pack();
  readonly items: ManifestItem[] = [];

  async add(path: string, body: Buffer, item: Omit<ManifestItem, 'path' | 'size' | 'sha256'>): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.pack.entry({ name: path, size: body.length, mode: 0o600, mtime: new Date(0) }, body, (err?: Error | null) => (err ? reject(err) : resolve()));
    });
    this.items.push({ path, size: body.length, sha256: createHash('sha256').update(body).digest('hex'), ...item });
  }

  finalize(): void {
    this.pack.finalize();
  }
}

async function readAll(stream: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    n += (c as Buffer).length;
    if (n > limit) throw new MixmeshError('BACKUP_INTEGRITY', `${what} is larger than ${limit} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Every object's SHA-256 and size against its (signed) manifest entry, read one after another from the store. */
export async function verifyStoredObjects(store: ObjectStore, name: string, objects: readonly StoredEntry[], onBytes?: (n: number) => void): Promise<void> {
  for (const o of objects) {
    const tap = new Sha256Tap();
    if (onBytes) tap.on('data', (c: Buffer) => onBytes(c.length));
    await pipeline(await store.get(`${backupPrefix(name)}${o.path}`), tap, new Writable({ write: (_c, _e, cb) => cb() }));
    if (tap.bytes !== o.bytes || tap.digest() !== o.sha256) {
      throw new MixmeshError('BACKUP_INTEGRITY', `backup ${name}: ${o.path} does not match its SHA-256 in the signed manifest (changed in the store); nothing was changed`);
    }
  }
}

/** One object of a verified backup, handed to another thread (`BackupReader.objectAccess`). */
export interface ObjectAccess {
  name: string;
  entry: StoredEntry;
  dataKey?: Uint8Array;
}

/** One stored backup, opened for reading: the manifest is verified before anything else. */
export class BackupReader {
  private constructor(readonly store: ObjectStore, readonly name: string, readonly manifest: Manifest, private readonly dataKey: Buffer | undefined) {}

  /**
   * Read and verify manifest.json against manifest.sig with the store's public key, and unwrap the
   * data key. Fails with BACKUP_NOT_FOUND, BACKUP_INCOMPLETE, BACKUP_SIGNATURE_INVALID,
   * BACKUP_KEY_MISSING or BACKUP_KEY_INVALID.
   */
  static async open(store: ObjectStore, name: string, keys: StoreKeys, options: { needData?: boolean } = {}): Promise<BackupReader> {
    checkBackupName(name);
    const prefix = backupPrefix(name);
    const [m, s] = await Promise.all([store.head(`${prefix}manifest.json`), store.head(`${prefix}manifest.sig`)]);
    if (!m && !s) {
      let any = false;
      for await (const _ of store.list(prefix)) {
        any = true;
        break;
      }
      if (!any) throw new MixmeshError('BACKUP_NOT_FOUND', `${store.url}: no backup ${name}`);
    }
    if (!m || !s) throw new MixmeshError('BACKUP_INCOMPLETE', `${store.url}: backup ${name} is incomplete (no signed manifest): it was interrupted and cannot be restored`);
    if (!keys.publicKey) throw new MixmeshError('BACKUP_KEY_MISSING', `store ${store.url}: no verification (public) key is configured; a restore verifies every backup's signature first`);
    const manifestBytes = await readAll(await store.get(`${prefix}manifest.json`), 256 * 1024 * 1024, 'manifest.json');
    const sigText = await readAll(await store.get(`${prefix}manifest.sig`), 4096, 'manifest.sig');
    if (!verifyManifest(manifestBytes, Buffer.from(sigText.toString('utf8').trim(), 'base64'), keys.publicKey)) {
      throw new MixmeshError('BACKUP_SIGNATURE_INVALID', `backup ${name}: manifest.json does not match its Ed25519 signature under the configured public key ${keyId(keys.publicKey)} (altered, or signed by another key); nothing was changed`);
    }
    let manifest: Manifest;
    try {
      manifest = JSON.parse(manifestBytes.toString('utf8')) as Manifest;
    } catch {
      throw new MixmeshError('BACKUP_INTEGRITY', `backup ${name}: manifest.json is not JSON`);
    }
    if (manifest.format !== FORMAT || manifest.name !== name) throw new MixmeshError('BACKUP_INTEGRITY', `backup ${name}: the manifest is for ${JSON.stringify(manifest.name)} in format ${JSON.stringify(manifest.format)}`);
    let dataKey: Buffer | undefined;
    if (manifest.encryption.algorithm !== 'none' && options.needData !== false) dataKey = unwrapDataKey(manifest.encryption, keys.kek, name);
    return new BackupReader(store, name, manifest, dataKey);
  }

  /**
   * What another thread of this process needs to read one object as this reader does: its signed
   * manifest entry and the unwrapped data key (`BackupReader.forObject` on the other side). The key
   * stays in the process (a worker thread's message, never logged or stored).
   */
  objectAccess(path: string): ObjectAccess {
    return { name: this.name, entry: this.entry(path), ...(this.dataKey ? { dataKey: new Uint8Array(this.dataKey) } : {}) };
  }

  /** A reader of the one object `access` names, in a thread whose parent verified the manifest (`objectAccess`). */
  static forObject(store: ObjectStore, access: ObjectAccess): BackupReader {
    const manifest = { format: FORMAT, name: access.name, objects: [access.entry] } as unknown as Manifest;
    return new BackupReader(store, access.name, manifest, access.dataKey ? Buffer.from(access.dataKey) : undefined);
  }

  entry(path: string): StoredEntry {
    const e = this.manifest.objects.find((o) => o.path === path);
    if (!e) throw new MixmeshError('BACKUP_INTEGRITY', `backup ${this.name}: ${path} is not in the manifest`);
    return e;
  }

  /**
   * Check every stored object's SHA-256 and size against the manifest (a full read of the store):
   * on a data thread where the store can be opened there (threads.ts), else here.
   */
  async verifyObjects(onBytes?: (n: number) => void, only?: (o: StoredEntry) => boolean): Promise<void> {
    const objects = only ? this.manifest.objects.filter(only) : this.manifest.objects;
    await (verifyOnThread(this.store, this.name, objects, onBytes) ?? verifyStoredObjects(this.store, this.name, objects, onBytes));
  }

  /**
   * The object's plain bytes as a stream: checked as it is read, decrypted chunk by chunk,
   * gunzipped. An encrypted object is checked by its AES-256-GCM chunks (each authenticated under
   * the data key of the signed manifest, with the object's path, the chunk's index and the final
   * flag in it: a changed, cut, reordered or spliced object fails there); a plain one by its stored
   * SHA-256. (A restore checks every object's SHA-256 before it changes anything; a second SHA-256
   * pass over an encrypted object here was a GiB of hashing per GiB restored for nothing more.)
   * `sha256: true` checks an encrypted object's SHA-256 too: where this read is that check (a
   * migration's staged write, instead of a pass of its own over the object).
   */
  async open(path: string, options: { sha256?: boolean } = {}): Promise<Readable> {
    const e = this.entry(path);
    const stages: Transform[] = [];
    const tap = e.encrypted && !options.sha256 ? undefined : new Sha256Tap();
    if (tap) stages.push(tap);
    if (e.encrypted) {
      if (!this.dataKey) throw new MixmeshError('BACKUP_KEY_MISSING', `backup ${this.name} is encrypted and no key is configured`);
      stages.push(decryptStream(this.dataKey, path));
    }
    if (e.gzip) stages.push(createGunzip());
    const source = await this.store.get(`${backupPrefix(this.name)}${path}`);
    const out = new PassThrough({ highWaterMark: 256 * 1024 });
    let piped: Readable = source;
    for (const s of stages) piped = piped.pipe(s);
    const fail = (err: Error) => out.destroy(err instanceof MixmeshError ? err : new MixmeshError('BACKUP_INTEGRITY', `backup ${this.name}: ${path}: ${err.message}`));
    for (const s of [source, ...stages]) s.on('error', fail);
    tap?.on('end', () => {
      if (tap.bytes !== e.bytes || tap.digest() !== e.sha256) fail(new MixmeshError('BACKUP_INTEGRITY', `backup ${this.name}: ${path} does not match its SHA-256 in the signed manifest`));
    });
    return piped.pipe(out);
  }

  /** Every resource in resources.tar.gz, each checked against its item SHA-256. */
  async *resources(): AsyncIterable<{ item: ManifestItem; body: Buffer }> {
    const byPath = new Map(this.manifest.items.map((i) => [i.path, i]));
    if (!this.manifest.objects.some((o) => o.path === 'resources.tar.gz')) return;
    const extract = tar.extract();
    const source = await this.open('resources.tar.gz');
    source.on('error', (e) => extract.destroy(e));
    source.pipe(extract);
    for await (const entry of extract) {
      const body = await readAll(entry as unknown as Readable, 64 * 1024 * 1024, entry.header.name);
      const item = byPath.get(entry.header.name);
      if (!item || item.sha256 !== createHash('sha256').update(body).digest('hex')) {
        throw new MixmeshError('BACKUP_INTEGRITY', `backup ${this.name}: resource ${entry.header.name} does not match the signed manifest`);
      }
      yield { item, body };
    }
  }
}

/** The backups in a store: complete ones have a signed manifest; others are listed as incomplete. */
export async function listBackups(store: ObjectStore): Promise<Array<{ name: string; complete: boolean; bytes: number }>> {
  const seen = new Map<string, { complete: boolean; bytes: number; manifest: boolean; sig: boolean }>();
  for await (const o of store.list(`${BACKUPS}/`)) {
    const rest = o.key.slice(BACKUPS.length + 1);
    const slash = rest.indexOf('/');
    if (slash <= 0) continue;
    const name = rest.slice(0, slash);
    const file = rest.slice(slash + 1);
    const s = seen.get(name) ?? { complete: false, bytes: 0, manifest: false, sig: false };
    s.bytes += o.size;
    if (file === 'manifest.json') s.manifest = true;
    if (file === 'manifest.sig') s.sig = true;
    seen.set(name, s);
  }
  return [...seen.entries()].map(([name, s]) => ({ name, complete: s.manifest && s.sig, bytes: s.bytes })).sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** Delete every object of a backup (signature first, so a half-deleted backup is never "complete"). */
export async function deleteBackup(store: ObjectStore, name: string): Promise<number> {
  checkBackupName(name);
  const prefix = backupPrefix(name);
  await store.delete([`${prefix}manifest.sig`]);
  const keys: string[] = [];
  for await (const o of store.list(prefix)) keys.push(o.key);
  if (keys.length) await store.delete(keys);
  return keys.length + 1;
}
