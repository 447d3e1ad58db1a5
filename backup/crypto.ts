/**
 * The archive's cryptography, all node:crypto: Ed25519 signatures over manifest.json, and envelope
 * encryption — a random 32-byte data key per backup, wrapped (AES-256-GCM) by the store's
 * key-encryption key (KEK) — of every data object as a chunked AES-256-GCM stream. Each 64 KiB
 * chunk carries its own tag, its index in the nonce and a final flag in the associated data, so a
 * reader never releases a chunk it has not authenticated, and truncation, reordering or splicing
 * objects are all detected.
 */
import { createCipheriv, createDecipheriv, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { MixmeshError } from '../common/errors.js';

export const CHUNK = 64 * 1024;
const MAGIC = Buffer.from('MMXBK1\n\0'); // 8 bytes
export const ENCRYPTION_ALGORITHM = 'AES-256-GCM-STREAM-64K';

/** The keys of a store: the KEK encrypts, the Ed25519 pair signs and verifies. */
export interface StoreKeys {
  /** 32-byte key-encryption key; absent: encrypted backups cannot be read or written */
  kek?: Buffer;
  /** Ed25519 private key (writers); absent: read-only (restore) */
  signingKey?: KeyObject;
  /** Ed25519 public key (every restore verifies with it) */
  publicKey?: KeyObject;
}

export function generateStoreKeys(): { kek: Buffer; signingKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    kek: randomBytes(32),
    signingKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}

export function parseKek(text: string | Buffer): Buffer {
  const raw = Buffer.isBuffer(text) && text.length === 32 ? text : Buffer.from(text.toString().trim(), 'base64');
  if (raw.length !== 32) throw new MixmeshError('BACKUP_KEY_INVALID', `the key-encryption key must be 32 bytes (base64 in a file or Secret); got ${raw.length}`);
  return raw;
}

export function parseSigningKey(pem: string | Buffer): KeyObject {
  try {
    const k = createPrivateKey(pem);
    if (k.asymmetricKeyType !== 'ed25519') throw new Error(`a ${k.asymmetricKeyType ?? 'non-asymmetric'} key`);
    return k;
  } catch (e) {
    throw new MixmeshError('BACKUP_KEY_INVALID', `the signing key is not an Ed25519 private key (PEM): ${e instanceof Error ? e.message : String(e)}`);
  }
}

export function parsePublicKey(pem: string | Buffer): KeyObject {
  try {
    const k = createPublicKey(pem);
    if (k.asymmetricKeyType !== 'ed25519') throw new Error(`a ${k.asymmetricKeyType ?? 'non-asymmetric'} key`);
    return k;
  } catch (e) {
    throw new MixmeshError('BACKUP_KEY_INVALID', `the verification key is not an Ed25519 public key (PEM): ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** A short, non-secret fingerprint of a key (to say which key a backup needs). */
export function keyId(key: Buffer | KeyObject): string {
  const bytes = Buffer.isBuffer(key) ? key : (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'der', type: 'spki' });
  return createHash('sha256').update('mixmesh-key-id\0').update(bytes).digest('hex').slice(0, 16);
}

export function signManifest(manifest: Buffer, key: KeyObject): Buffer {
  return sign(null, manifest, key);
}

export function verifyManifest(manifest: Buffer, signature: Buffer, key: KeyObject): boolean {
  try {
    return verify(null, manifest, key, signature);
  } catch {
    return false;
  }
}

export interface WrappedKey {
  algorithm: typeof ENCRYPTION_ALGORITHM;
  kekId: string;
  /** base64 of nonce(12) | ciphertext(32) | tag(16) */
  wrappedDataKey: string;
}

export function wrapDataKey(dataKey: Buffer, kek: Buffer, backupName: string): WrappedKey {
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', kek, nonce);
  c.setAAD(Buffer.from(`mixmesh-dek\0${backupName}`));
  const ct = Buffer.concat([c.update(dataKey), c.final()]);
  return { algorithm: ENCRYPTION_ALGORITHM, kekId: keyId(kek), wrappedDataKey: Buffer.concat([nonce, ct, c.getAuthTag()]).toString('base64') };
}

export function unwrapDataKey(w: WrappedKey, kek: Buffer | undefined, backupName: string): Buffer {
  if (!kek) throw new MixmeshError('BACKUP_KEY_MISSING', `backup ${backupName} is encrypted (key ${w.kekId}) and no key-encryption key is configured for this store`);
  if (keyId(kek) !== w.kekId) throw new MixmeshError('BACKUP_KEY_INVALID', `backup ${backupName} was encrypted with key ${w.kekId}; the configured key is ${keyId(kek)}`);
  const raw = Buffer.from(w.wrappedDataKey, 'base64');
  try {
    const d = createDecipheriv('aes-256-gcm', kek, raw.subarray(0, 12));
    d.setAAD(Buffer.from(`mixmesh-dek\0${backupName}`));
    d.setAuthTag(raw.subarray(raw.length - 16));
    return Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]);
  } catch {
    throw new MixmeshError('BACKUP_KEY_INVALID', `backup ${backupName}: the data key does not unwrap with the configured key`);
  }
}

function nonceOf(prefix: Buffer, index: number): Buffer {
  const n = Buffer.alloc(12);
  prefix.copy(n, 0, 0, 8);
  n.writeUInt32BE(index, 8);
  return n;
}

function aadOf(objectPath: string, final: boolean): Buffer {
  return Buffer.from(`${objectPath}\0${final ? 'F' : 'C'}`);
}

/** Encrypt a stream: MAGIC | prefix(8) | per chunk: len(4) | ciphertext | tag(16). */
export function encryptStream(dataKey: Buffer, objectPath: string): Transform {
  const prefix = randomBytes(8);
  let index = 0;
  // the plain bytes not sealed yet, as the pieces they came in: a chunk is encrypted piece by piece,
  // so the only new buffers are the ciphertext's (a backup streams gigabytes through here)
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let headerSent = false;
  const seal = (t: Transform, n: number, final: boolean) => {
    const c = createCipheriv('aes-256-gcm', dataKey, nonceOf(prefix, index++));
    c.setAAD(aadOf(objectPath, final));
    const len = Buffer.allocUnsafe(4);
    // GCM's ciphertext is as long as the plain text
    len.writeUInt32BE((n | (final ? 0x80000000 : 0)) >>> 0, 0);
    t.push(len);
    for (let left = n; left > 0; ) {
      const b = pending[0]!;
      const k = Math.min(b.length, left);
      t.push(c.update(k === b.length ? b : b.subarray(0, k)));
      if (k === b.length) pending.shift();
      else pending[0] = b.subarray(k);
      left -= k;
    }
    pendingBytes -= n;
    c.final();
    t.push(c.getAuthTag());
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      if (!headerSent) {
        this.push(Buffer.concat([MAGIC, prefix]));
        headerSent = true;
      }
      if (chunk.length) {
        pending.push(chunk);
        pendingBytes += chunk.length;
      }
      // keep at least one byte back so the last chunk is always the final one
      while (pendingBytes > CHUNK) seal(this, CHUNK, false);
      cb();
    },
    flush(cb: TransformCallback) {
      if (!headerSent) this.push(Buffer.concat([MAGIC, prefix]));
      seal(this, pendingBytes, true);
      pending = [];
      cb();
    },
  });
}

/**
 * Decrypt what encryptStream wrote; every chunk authenticated before it is passed on. The input's
 * chunks are kept as they come and a record is cut from them without a copy unless it spans two
 * (a restore reads GiBs through here: a copy per byte was GC work on the restore's main thread).
 */
export function decryptStream(dataKey: Buffer, objectPath: string): Transform {
  const parts: Buffer[] = [];
  let avail = 0;
  let prefix: Buffer | undefined;
  let index = 0;
  let finished = false;
  const corrupt = (why: string) => new MixmeshError('BACKUP_INTEGRITY', `${objectPath}: ${why}`);
  // the next n bytes (n <= avail), consumed or not: a view of one input chunk, or a copy across two
  const cut = (n: number, consume: boolean): Buffer => {
    const first = parts[0]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (consume) {
        if (first.length === n) parts.shift();
        else parts[0] = first.subarray(n);
        avail -= n;
      }
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    for (let i = 0; off < n; i++) off += parts[i]!.copy(out, off, 0, Math.min(parts[i]!.length, n - off));
    if (consume) {
      for (let left = n; left > 0; ) {
        const p = parts[0]!;
        if (p.length <= left) {
          left -= p.length;
          parts.shift();
        } else {
          parts[0] = p.subarray(left);
          left = 0;
        }
      }
      avail -= n;
    }
    return out;
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      if (chunk.length) {
        parts.push(chunk);
        avail += chunk.length;
      }
      try {
        if (!prefix) {
          if (avail < 16) return cb();
          const head = cut(16, true);
          if (!head.subarray(0, 8).equals(MAGIC)) throw corrupt('not a mixmesh encrypted object (bad header)');
          prefix = Buffer.from(head.subarray(8, 16));
        }
        while (avail >= 4) {
          if (finished) throw corrupt('data after the final chunk');
          const word = cut(4, false).readUInt32BE(0);
          const final = (word & 0x80000000) !== 0;
          const len = word & 0x7fffffff;
          if (len > CHUNK) throw corrupt('chunk too large');
          if (avail < 4 + len + 16) break;
          const record = cut(4 + len + 16, true);
          const d = createDecipheriv('aes-256-gcm', dataKey, nonceOf(prefix, index++));
          d.setAAD(aadOf(objectPath, final));
          d.setAuthTag(record.subarray(4 + len));
          let plain: Buffer;
          try {
            plain = d.update(record.subarray(4, 4 + len));
            // GCM's final() adds no bytes: it checks the tag (no concat, no copy)
            d.final();
          } catch {
            throw corrupt(`chunk ${index - 1} fails authentication (altered, or another key)`);
          }
          if (final) finished = true;
          if (plain.length) this.push(plain);
        }
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
    flush(cb: TransformCallback) {
      if (!finished || avail) cb(corrupt('truncated (no final chunk)'));
      else cb();
    },
  });
}
