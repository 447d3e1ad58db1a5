import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { deflateRawSync, gzipSync } from 'node:zlib';
import { isMixmeshError } from '../common/errors.js';
import { gunzipStored } from './inflate.js';

/** the stream cut into the given sizes, over and over (1-byte pieces cut the header and every block header) */
function pieces(b: Buffer, sizes: number[]): Readable {
  return Readable.from((function* () {
    for (let off = 0, i = 0; off < b.length; i++) {
      const n = sizes[i % sizes.length]!;
      yield b.subarray(off, off + n);
      off += n;
    }
  })());
}

async function gunzip(gz: Buffer, sizes = [64 * 1024], slow = false): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(pieces(gz, sizes), gunzipStored('test.tar.gz'), new Writable({
    highWaterMark: 1024,
    write(c: Buffer, _e, cb) {
      out.push(Buffer.from(c));
      if (slow) setImmediate(cb);
      else cb();
    },
  }));
  return Buffer.concat(out);
}

async function refused(gz: Buffer, re: RegExp): Promise<void> {
  await assert.rejects(gunzip(gz), (e: unknown) => isMixmeshError(e, 'BACKUP_INTEGRITY') && re.test(e.message));
}

describe('backup/inflate: gunzip with stored blocks passed through', () => {
  const random = randomBytes(3 * 1048576 + 12345);

  it('random data gzip -1 stored (GNU gzip, busybox gzip, zlib): the same bytes back, however the input is cut', async () => {
    const gz = [execFileSync('gzip', ['-1', '-c'], { input: random, maxBuffer: 1 << 26 }), gzipSync(random, { level: 1 })];
    try {
      gz.push(execFileSync('busybox', ['gzip', '-1', '-c'], { input: random, maxBuffer: 1 << 26 }));
    } catch {
      // no busybox here: GNU gzip and zlib still cover stored blocks
    }
    for (const g of gz) {
      assert.ok((await gunzip(g)).equals(random));
      assert.ok((await gunzip(g, [1, 3, 7, 65536, 5, 100000])).equals(random));
    }
  });

  it('a header with a name, an extra field and a header CRC is read past', async () => {
    const body = deflateRawSync(random.subarray(0, 100_000), { level: 0 });
    const name = Buffer.from('data.tar\0');
    const header = Buffer.from([0x1f, 0x8b, 8, 4 | 8 | 2, 0, 0, 0, 0, 0, 3, 3, 0, 1, 2, 3]);
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(100_000, 4);
    const gz = Buffer.concat([header, name, Buffer.from([0xaa, 0xbb]), body, trailer]);
    assert.ok((await gunzip(gz, [1, 2, 3, 4096])).equals(random.subarray(0, 100_000)));
  });

  it('compressed blocks after stored ones (back-references into the stored bytes): zlib takes over, the same bytes back, a slow reader', async () => {
    const text = Buffer.from('kitchen display: order 42, two americanos\n'.repeat(50_000));
    // the tail of the random part repeated: deflate refers back into what was stored
    const mixed = Buffer.concat([random.subarray(0, 1048576), random.subarray(1048576 - 20_000, 1048576), text, random.subarray(0, 300_000)]);
    for (const g of [execFileSync('gzip', ['-1', '-c'], { input: mixed, maxBuffer: 1 << 26 }), gzipSync(mixed, { level: 6 })]) {
      assert.ok((await gunzip(g, [4096, 1, 70000])).equals(mixed));
      assert.ok((await gunzip(g, [65536], true)).equals(mixed));
    }
  });

  it('refuses what is not a whole gzip member: bad magic, LEN/NLEN, a cut stream, a wrong ISIZE, bytes after it', async () => {
    const gz = gzipSync(random.subarray(0, 200_000), { level: 1 });
    await refused(Buffer.concat([Buffer.from([0x1f, 0x8c]), gz.subarray(2)]), /no gzip magic/);
    const lens = Buffer.from(gz);
    lens[10 + 3] ^= 0xff; // the first block's NLEN
    await refused(lens, /LEN and NLEN disagree/);
    await refused(gz.subarray(0, gz.length - 20), /ends before its last block/);
    const isize = Buffer.from(gz);
    isize.writeUInt32LE(7, isize.length - 4);
    await refused(isize, /trailer says 7 bytes, the stream held 200000/);
    await refused(Buffer.concat([gz, Buffer.from('more')]), /data after the gzip member/);
  });
});
