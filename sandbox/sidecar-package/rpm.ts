/**
 * A minimal RPM v3 writer (lead, signature header, header, gzip cpio "newc" payload): enough for
 * busybox's `rpm -i` / `rpm -qpl` / `rpm -qpi`, which read NAME/VERSION/RELEASE, the file list
 * (DIRNAMES/BASENAMES/DIRINDEXES), FILEUSERNAME/FILEGROUPNAME, FILEFLAGS and install a binary rpm
 * (one with SOURCERPM) under /. Written here so the sandbox needs no rpmbuild; pure apart from gzip.
 * Real rpm 4.x also wants immutable-region tags and payload digests: not a goal for a stand-in.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { PROXY_UID, type PackageEntry } from './files.js';

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

function modeOf(e: PackageEntry): number {
  return (e.type === 'dir' ? S_IFDIR : e.type === 'symlink' ? S_IFLNK : S_IFREG) | (e.mode & 0o7777);
}

function dataOf(e: PackageEntry): Buffer {
  return e.type === 'file' ? (e.content ?? Buffer.alloc(0)) : e.type === 'symlink' ? Buffer.from(e.target ?? '') : Buffer.alloc(0);
}

const pad4 = (n: number) => (4 - (n % 4)) % 4;

/** cpio "newc" archive with `./path` names, as rpm payloads have them. */
export function cpioNewc(entries: readonly PackageEntry[], mtime: number): Buffer {
  const parts: Buffer[] = [];
  const add = (name: string, mode: number, uid: number, data: Buffer, ino: number, nlink: number) => {
    const nameBytes = Buffer.from(`${name}\0`);
    const fields = [ino, mode, uid, uid, nlink, mtime, data.length, 0, 0, 0, 0, nameBytes.length, 0];
    const header = Buffer.from(`070701${fields.map((f) => f.toString(16).padStart(8, '0')).join('')}`, 'latin1');
    parts.push(header, nameBytes, Buffer.alloc(pad4(header.length + nameBytes.length)), data, Buffer.alloc(pad4(data.length)));
  };
  entries.forEach((e, i) => add(`.${e.path}`, modeOf(e), e.proxyOwned ? PROXY_UID : 0, dataOf(e), i + 1, e.type === 'dir' ? 2 : 1));
  add('TRAILER!!!', 0, 0, Buffer.alloc(0), 0, 1);
  return Buffer.concat(parts);
}

const enum T {
  INT16 = 3,
  INT32 = 4,
  STRING = 6,
  BIN = 7,
  STRING_ARRAY = 8,
  I18NSTRING = 9,
}

type TagValue = { type: T.STRING | T.I18NSTRING; value: string } | { type: T.STRING_ARRAY; value: string[] } | { type: T.INT32 | T.INT16; value: number[] } | { type: T.BIN; value: Buffer };

/** One header structure: magic, index (sorted by tag), data store with natural alignment. */
export function rpmHeader(tags: ReadonlyMap<number, TagValue>, padStoreTo8 = false): Buffer {
  const index: Buffer[] = [];
  const store: Buffer[] = [];
  let size = 0;
  const sorted = [...tags.entries()].sort((a, b) => a[0] - b[0]);
  for (const [tag, v] of sorted) {
    const align = v.type === T.INT32 ? 4 : v.type === T.INT16 ? 2 : 1;
    const gap = (align - (size % align)) % align;
    if (gap) {
      store.push(Buffer.alloc(gap));
      size += gap;
    }
    let data: Buffer;
    let count: number;
    switch (v.type) {
      case T.STRING:
      case T.I18NSTRING:
        data = Buffer.from(`${v.value}\0`);
        count = 1;
        break;
      case T.STRING_ARRAY:
        data = Buffer.from(v.value.map((s) => `${s}\0`).join(''));
        count = v.value.length;
        break;
      case T.INT32:
        data = Buffer.alloc(4 * v.value.length);
        v.value.forEach((n, i) => data.writeUInt32BE(n >>> 0, 4 * i));
        count = v.value.length;
        break;
      case T.INT16:
        data = Buffer.alloc(2 * v.value.length);
        v.value.forEach((n, i) => data.writeUInt16BE(n & 0xffff, 2 * i));
        count = v.value.length;
        break;
      case T.BIN:
        data = v.value;
        count = v.value.length;
        break;
    }
    const entry = Buffer.alloc(16);
    entry.writeUInt32BE(tag, 0);
    entry.writeUInt32BE(v.type, 4);
    entry.writeUInt32BE(size, 8);
    entry.writeUInt32BE(count, 12);
    index.push(entry);
    store.push(data);
    size += data.length;
  }
  const intro = Buffer.alloc(16);
  intro.writeUInt32BE(0x8eade801, 0);
  intro.writeUInt32BE(index.length, 8);
  intro.writeUInt32BE(size, 12);
  const out = [intro, ...index, ...store];
  if (padStoreTo8 && size % 8) out.push(Buffer.alloc(8 - (size % 8)));
  return Buffer.concat(out);
}

export interface RpmOptions {
  name: string;
  version: string;
  release: string;
  summary: string;
  description: string;
  license: string;
  postinstall?: string;
  entries: readonly PackageEntry[];
  mtime: number;
}

export function buildRpm(o: RpmOptions): Buffer {
  const payload = gzipSync(cpioNewc(o.entries, o.mtime), { level: 6 });
  const dirs: string[] = [];
  const dirIndexes: number[] = [];
  const basenames: string[] = [];
  for (const e of o.entries) {
    const slash = e.path.lastIndexOf('/');
    const dir = e.path.slice(0, slash + 1);
    let i = dirs.indexOf(dir);
    if (i === -1) i = dirs.push(dir) - 1;
    dirIndexes.push(i);
    basenames.push(e.path.slice(slash + 1));
  }
  const files = o.entries;
  const str = (value: string) => ({ type: T.STRING, value }) as const;
  const i18n = (value: string) => ({ type: T.I18NSTRING, value }) as const;
  const tags = new Map<number, TagValue>([
    [100, { type: T.STRING_ARRAY, value: ['C'] }], // HEADERI18NTABLE
    [1000, str(o.name)],
    [1001, str(o.version)],
    [1002, str(o.release)],
    [1004, i18n(o.summary)],
    [1005, i18n(o.description)],
    [1006, { type: T.INT32, value: [o.mtime] }], // BUILDTIME
    [1007, str('mixmesh-sandbox')], // BUILDHOST
    [1009, { type: T.INT32, value: [files.reduce((n, e) => n + dataOf(e).length, 0)] }], // SIZE
    [1014, str(o.license)],
    [1016, i18n('Applications/Internet')], // GROUP
    [1021, str('linux')], // OS
    [1022, str('noarch')], // ARCH
    [1028, { type: T.INT32, value: files.map((e) => (e.type === 'dir' ? 4096 : dataOf(e).length)) }], // FILESIZES
    [1030, { type: T.INT16, value: files.map(modeOf) }], // FILEMODES
    [1033, { type: T.INT16, value: files.map(() => 0) }], // FILERDEVS
    [1034, { type: T.INT32, value: files.map(() => o.mtime) }], // FILEMTIMES
    [1035, { type: T.STRING_ARRAY, value: files.map((e) => (e.type === 'file' ? createHash('md5').update(dataOf(e)).digest('hex') : '')) }], // FILEDIGESTS (md5)
    [1036, { type: T.STRING_ARRAY, value: files.map((e) => (e.type === 'symlink' ? (e.target ?? '') : '')) }], // FILELINKTOS
    [1037, { type: T.INT32, value: files.map(() => 0) }], // FILEFLAGS (no %config: nothing is backed up)
    [1039, { type: T.STRING_ARRAY, value: files.map((e) => (e.proxyOwned ? 'istio-proxy' : 'root')) }], // FILEUSERNAME
    [1040, { type: T.STRING_ARRAY, value: files.map((e) => (e.proxyOwned ? 'istio-proxy' : 'root')) }], // FILEGROUPNAME
    [1044, str(`${o.name}-${o.version}-${o.release}.src.rpm`)], // SOURCERPM: a binary rpm, installed under /
    [1116, { type: T.INT32, value: dirIndexes }], // DIRINDEXES
    [1117, { type: T.STRING_ARRAY, value: basenames }], // BASENAMES
    [1118, { type: T.STRING_ARRAY, value: dirs }], // DIRNAMES
    [1124, str('cpio')], // PAYLOADFORMAT
    [1125, str('gzip')], // PAYLOADCOMPRESSOR
    [1126, str('6')], // PAYLOADFLAGS
  ]);
  if (o.postinstall) {
    tags.set(1024, str(o.postinstall)); // POSTIN (busybox rpm runs no scripts; real rpm does)
    tags.set(1086, str('/bin/sh')); // POSTINPROG
  }
  const header = rpmHeader(tags);
  const signature = rpmHeader(
    new Map<number, TagValue>([
      [1000, { type: T.INT32, value: [header.length + payload.length] }], // SIGTAG_SIZE
      [1004, { type: T.BIN, value: createHash('md5').update(header).update(payload).digest() }], // SIGTAG_MD5
    ]),
    true,
  );
  const lead = Buffer.alloc(96);
  Buffer.from([0xed, 0xab, 0xee, 0xdb, 3, 0]).copy(lead, 0);
  lead.writeUInt16BE(0, 6); // binary
  lead.writeUInt16BE(1, 8); // archnum
  Buffer.from(`${o.name}-${o.version}-${o.release}`.slice(0, 65)).copy(lead, 10);
  lead.writeUInt16BE(1, 76); // osnum: Linux
  lead.writeUInt16BE(5, 78); // signature type: header-style
  return Buffer.concat([lead, signature, header, payload]);
}
