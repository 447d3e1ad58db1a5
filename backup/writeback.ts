/**
 * A data dir written back onto a node or VM, verified in the same pass: the one path every restore
 * (a node's volumes, a VM's data dirs) and the migrate benchmark's critical path take.
 *
 * The object's bytes (stored SHA-256 checked, decrypted chunk by chunk: `BackupReader.open`) go to
 * the node's `tar -x` over SSH and, through a tee, to a local per-file SHA-256 of the same tar
 * stream: every file is checked against the signed manifest (path, size, SHA-256) as it is written,
 * not by reading it back from the node (a busybox `sha256sum` on a VM spent 5 s of CPU per GiB,
 * more than the write itself; the SSH channel's own MAC covers the bytes between here and the
 * node's tar). After the write the node lists what landed (each manifest file present, of its
 * size: `stat`, no content read). A difference is BACKUP_INTEGRITY with `afterWrite: true`. A write
 * that is its object's verification (`sha256`: the stored SHA-256 checked in this read, a
 * migration's staged write) does not hash the files again: that SHA-256 covers every byte of them.
 *
 * Bytes on the wire: a gzip'd tar goes as it is where gzip paid at capture (stored under 90 % of
 * the files' bytes: compressible data, the link carries less); otherwise it is gunzipped here and
 * goes as a plain tar: random or already compressed data costs the node a gunzip per byte for
 * nothing (busybox gzip -dc: ~9 s of CPU per GiB). That gunzip passes gzip's stored blocks through
 * without a copy (inflate.ts): what did not compress is most of such a stream.
 */
import { Readable } from 'node:stream';
import { MixmeshError } from '../common/errors.js';
import type { BackupReader } from './archive.js';
import { gunzipStored } from './inflate.js';
import { tarFileHashes, tee, type NodeAccess, type NodeTarget } from './nodes.js';
import { writeOnThread } from './threads.js';
import type { DataEntry } from './types.js';

/** a gzip'd tar goes gzip'd on the wire only if its size is under this share of the files' bytes */
export const WIRE_GZIP_RATIO = 0.9;

export interface WriteOptions {
  /**
   * check the stored object's SHA-256 as it is read, even where AES-GCM authenticates it already: the
   * write is then that object's verification too (a migration's staged write; a failure is
   * BACKUP_INTEGRITY with `afterWrite`). That check covers every file of the tar: the files are not
   * hashed again (what landed is still listed: each file present, of its size)
   */
  sha256?: boolean;
}

export interface WriteBack {
  files: number;
  bytes: number;
  /** what went on the wire: the gzip'd tar, or a plain tar */
  wire: 'gzip' | 'tar';
}

/** The stream with its first chunk looked at: does it start with gzip's magic? */
async function sniffGzip(source: Readable): Promise<{ gzip: boolean; stream: Readable }> {
  const it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = await it.next();
  const head = first.done ? Buffer.alloc(0) : first.value;
  const stream = Readable.from(
    (async function* () {
      if (!first.done) yield first.value;
      for (let n = await it.next(); !n.done; n = await it.next()) yield n.value;
    })(),
    { objectMode: false, highWaterMark: 256 * 1024 },
  );
  return { gzip: head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b, stream };
}

function differ(what: string, n: number, first: string): MixmeshError {
  return new MixmeshError('BACKUP_INTEGRITY', `${n} file(s) ${what}, first ${first}`, { details: { afterWrite: true } });
}

/** the archive's own failure (its SHA-256, its authentication, its gzip), once the write may have begun */
function archiveFailure(reader: BackupReader, object: string, e: unknown): MixmeshError {
  return e instanceof MixmeshError
    ? new MixmeshError(e.code, e.message, { details: { ...e.details, afterWrite: true }, cause: e })
    : new MixmeshError('BACKUP_INTEGRITY', `backup ${reader.name}: ${object}: ${e instanceof Error ? e.message : String(e)}`, { details: { afterWrite: true } });
}

/** every manifest file landed on the node, of its size (`stat`, no content read) */
async function checkLanded(nodes: NodeAccess, target: NodeTarget, path: string, files: NonNullable<DataEntry['fileHashes']>): Promise<void> {
  const landed = new Map((await nodes.listDir(target, path)).map((f) => [f.path, f.size]));
  const missing = files.filter((h) => landed.get(h.path) !== h.size);
  if (missing.length) throw differ('differ after the write (missing or of another size)', missing.length, missing[0]!.path);
}

/**
 * Write the data dir `d` (its object in `reader`) onto `target` at `path` (default `d.path`) and
 * verify it file by file against the manifest. Throws BACKUP_INTEGRITY (the object does not match
 * the signed manifest; `afterWrite: true` once anything may have been written), SSH_* errors.
 * Runs on a data thread where it can (threads.ts), else on this one.
 */
export async function writeDataDir(nodes: NodeAccess, reader: BackupReader, d: DataEntry, target: NodeTarget, path = d.path, options: WriteOptions = {}): Promise<WriteBack> {
  const threaded = writeOnThread(nodes, reader, d, target, path, options);
  if (threaded) return (await threaded) as WriteBack;
  return writeDataDirHere(nodes, reader, d, target, path, options);
}

/** `writeDataDir` on this thread (what a data-writing thread runs: threads.ts). */
export async function writeDataDirHere(nodes: NodeAccess, reader: BackupReader, d: DataEntry, target: NodeTarget, path = d.path, options: WriteOptions = {}): Promise<WriteBack> {
  if (!d.object) throw new MixmeshError('BACKUP_INTEGRITY', `backup ${reader.name}: ${d.owner}/${d.name} has no data object`);
  const stored = reader.entry(d.object);
  const { gzip, stream } = await sniffGzip(await reader.open(d.object, options.sha256 ? { sha256: true } : {}));
  const fileBytes = d.fileHashes ? d.fileHashes.reduce((n, h) => n + h.size, 0) : d.bytes;
  const gzipOnWire = gzip && stored.plainBytes < WIRE_GZIP_RATIO * fileBytes;
  let wire = stream;
  if (gzip && !gzipOnWire) {
    const gunzip = gunzipStored(`backup ${reader.name}: ${d.object}`);
    stream.on('error', (e) => gunzip.destroy(e));
    gunzip.on('error', () => stream.destroy());
    wire = stream.pipe(gunzip);
  }
  const onWire = { gzip: gzipOnWire };
  if (!d.fileHashes || options.sha256) {
    // the object's own check is all there is (an archive without per-file hashes), or all it takes: a
    // read that checks the object's SHA-256 covers every byte of its tar, so every file's hash in the
    // same signed manifest (they were taken from that very stream at capture); what landed is listed
    let sourceError: unknown;
    wire.on('error', (e) => (sourceError ??= e));
    try {
      await nodes.writeDir(target, path, wire, onWire);
    } catch (e) {
      // the archive's own failure explains a broken write: it comes first
      throw sourceError ? archiveFailure(reader, d.object, sourceError) : e;
    }
    if (sourceError) throw archiveFailure(reader, d.object, sourceError);
    if (!d.fileHashes) return { files: d.files, bytes: d.bytes, wire: onWire.gzip ? 'gzip' : 'tar' };
    await checkLanded(nodes, target, path, d.fileHashes);
    return { files: d.fileHashes.length, bytes: fileBytes, wire: onWire.gzip ? 'gzip' : 'tar' };
  }
  const [toNode, toHash] = tee(wire);
  // a failed write stops the read (else the tee waits on a consumer that is gone)
  let writeError: unknown;
  const writing = nodes.writeDir(target, path, toNode, onWire).catch((e: unknown) => {
    writeError = e;
    wire.destroy(e instanceof Error ? e : new Error(String(e)));
    throw e;
  });
  const [written, hashed] = await Promise.allSettled([writing, tarFileHashes(toHash, onWire)]);
  // the archive's own failure (its SHA-256, its authentication) explains a broken write: it comes first
  const archiveFailed = hashed.status === 'rejected' && hashed.reason !== writeError && (!(hashed.reason instanceof MixmeshError) || hashed.reason.code.startsWith('BACKUP_'));
  if (hashed.status === 'rejected' && (archiveFailed || written.status === 'fulfilled')) throw archiveFailure(reader, d.object, hashed.reason);
  if (written.status === 'rejected') throw written.reason;
  if (hashed.status === 'rejected') throw hashed.reason;
  const sent = new Map(hashed.value.map((h) => [h.path, h]));
  const bad = d.fileHashes.filter((h) => sent.get(h.path)?.sha256 !== h.sha256 || sent.get(h.path)?.size !== h.size);
  if (bad.length) throw differ('of the archive differ from the signed manifest', bad.length, bad[0]!.path);
  await checkLanded(nodes, target, path, d.fileHashes);
  return { files: d.fileHashes.length, bytes: fileBytes, wire: onWire.gzip ? 'gzip' : 'tar' };
}
