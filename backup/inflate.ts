/**
 * gunzip for a restore's write-back (writeback.ts), without copying what gzip did not compress.
 *
 * A volume goes gunzipped onto the wire only where gzip did not pay at capture: random or already
 * compressed data, which `gzip -1` stores as it is, in "stored" deflate blocks (a 5-byte header,
 * then the bytes). zlib still copies every byte of those blocks through its window and computes the
 * CRC-32 over them: ~1.6 s of CPU per GiB here. This transform reads the gzip framing itself and
 * passes a stored block's bytes on as views of the input (no copy). At the first block that is not
 * stored, the rest of the member goes through zlib's raw inflate, primed with the last 32 KiB of
 * output as its dictionary (back-references reach that far), and its output follows.
 *
 * What it checks: the gzip header and every stored block's LEN/NLEN, the uncompressed length in the
 * trailer (ISIZE) and that nothing follows the member; not the trailer's CRC-32 (where this runs,
 * the bytes were authenticated before, by AES-GCM or the object's SHA-256, and every file of the tar
 * is checked against its SHA-256 after). A member that went through zlib is ended by zlib; bytes
 * after it are not read.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { createInflateRaw, type InflateRaw } from 'node:zlib';
import { MixmeshError } from '../common/errors.js';

const WINDOW = 32 * 1024;
const RESERVED_FLAGS = 0xe0; // FLG bits 5–7: must be zero

type State = 'header' | 'block' | 'stored' | 'trailer' | 'done' | 'zlib';

export function gunzipStored(what: string): Transform {
  const parts: Buffer[] = [];
  let avail = 0;
  let state: State = 'header';
  let storedLeft = 0;
  let last = false;
  let outBytes = 0;
  /** the last WINDOW bytes of output, for zlib's dictionary (views of the input while it is kept) */
  let tail: Buffer[] = [];
  let tailBytes = 0;
  let inflater: InflateRaw | undefined;
  /** zlib saw the end of the deflate stream (it ends its output there: the trailer is not read) */
  let inflaterEnded = false;
  const bad = (why: string) => new MixmeshError('BACKUP_INTEGRITY', `${what}: not a valid gzip stream (${why})`);

  const take = (n: number): Buffer => {
    const first = parts[0]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) parts.shift();
      else parts[0] = first.subarray(n);
      avail -= n;
      return out;
    }
    // across input chunks (a header or a block's length split by them): those few bytes copied
    const out = Buffer.allocUnsafe(n);
    for (let off = 0; off < n; ) {
      const p = parts[0]!;
      const k = Math.min(p.length, n - off);
      p.copy(out, off, 0, k);
      off += k;
      if (k === p.length) parts.shift();
      else parts[0] = p.subarray(k);
    }
    avail -= n;
    return out;
  };
  const peek = (i: number): number => {
    for (const p of parts) {
      if (i < p.length) return p[i]!;
      i -= p.length;
    }
    return -1;
  };
  const remember = (b: Buffer): void => {
    outBytes += b.length;
    tail.push(b);
    tailBytes += b.length;
    while (tailBytes - tail[0]!.length >= WINDOW) tailBytes -= tail.shift()!.length;
  };

  /** the gzip header's length, or 0 if not all of it is here yet */
  const headerLength = (): number => {
    if (avail < 10) return 0;
    if (peek(0) !== 0x1f || peek(1) !== 0x8b) throw bad('no gzip magic');
    if (peek(2) !== 8) throw bad('not deflate');
    const flags = peek(3);
    if (flags & RESERVED_FLAGS) throw bad('reserved header flags set');
    let i = 10;
    if (flags & 4) {
      if (avail < i + 2) return 0;
      i += 2 + (peek(i) | (peek(i + 1) << 8));
    }
    for (const f of [8, 16]) {
      if (!(flags & f)) continue;
      for (;;) {
        if (i >= avail) return 0;
        if (peek(i++) === 0) break;
      }
    }
    if (flags & 2) i += 2;
    return i <= avail ? i : 0;
  };

  const t: Transform = new Transform({
    readableHighWaterMark: 256 * 1024,
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      if (state === 'zlib') {
        if (inflaterEnded) return cb();
        inflater!.write(chunk, () => cb());
        return;
      }
      if (chunk.length) {
        parts.push(chunk);
        avail += chunk.length;
      }
      try {
        for (;;) {
          if (state === 'header') {
            const n = headerLength();
            if (!n) break;
            take(n);
            state = 'block';
          } else if (state === 'block') {
            if (avail < 1) break;
            const h = peek(0);
            const type = (h >> 1) & 3;
            if (type !== 0) {
              // compressed from here: zlib takes the rest, primed with the window it may refer to
              const dictionary = tail.length ? Buffer.concat(tail, tailBytes).subarray(Math.max(0, tailBytes - WINDOW)) : undefined;
              tail = [];
              state = 'zlib';
              inflater = createInflateRaw({ chunkSize: 256 * 1024, ...(dictionary?.length ? { dictionary } : {}) });
              // zlib's output waits while the reader of this stream does (see _read below)
              inflater.on('data', (b: Buffer) => {
                if (!t.push(b)) inflater!.pause();
              });
              inflater.on('error', (e) => t.destroy(bad(e.message)));
              inflater.on('end', () => {
                inflaterEnded = true;
              });
              const rest = parts.splice(0);
              avail = 0;
              if (!rest.length) return cb();
              inflater.write(Buffer.concat(rest), () => cb());
              return;
            }
            if (avail < 5) break;
            last = (h & 1) === 1;
            take(1);
            const lens = take(4);
            const len = lens.readUInt16LE(0);
            if ((len ^ lens.readUInt16LE(2)) !== 0xffff) throw bad('a stored block\'s LEN and NLEN disagree');
            storedLeft = len;
            state = 'stored';
          } else if (state === 'stored') {
            while (storedLeft > 0 && avail > 0) {
              const b = take(Math.min(storedLeft, parts[0]!.length));
              storedLeft -= b.length;
              remember(b);
              t.push(b);
            }
            if (storedLeft > 0) break;
            state = last ? 'trailer' : 'block';
          } else if (state === 'trailer') {
            if (avail < 8) break;
            const isize = take(8).readUInt32LE(4);
            if (isize !== outBytes % 0x100000000) throw bad(`its trailer says ${isize} bytes, the stream held ${outBytes}`);
            state = 'done';
          } else {
            if (avail) throw bad('data after the gzip member');
            break;
          }
        }
      } catch (e) {
        return cb(e as Error);
      }
      cb();
    },
    flush(cb: TransformCallback) {
      if (state === 'zlib') {
        if (inflaterEnded) return cb();
        inflater!.once('end', () => cb());
        inflater!.end();
        return;
      }
      if (state !== 'done') return cb(bad('it ends before its last block and trailer'));
      cb();
    },
  });
  const read = t._read.bind(t);
  t._read = (n: number) => {
    inflater?.resume();
    read(n);
  };
  return t;
}
