/**
 * Where backups go: a directory (`file://DIR`, the embedded default) or an S3-compatible bucket
 * (`s3://BUCKET/PREFIX`: OpenStack Swift's S3 API, AWS S3, Ceph RGW, MinIO). Objects are streamed
 * both ways; nothing is held whole in memory. The store is the source of truth: listing a store
 * lists its backups.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { MixmeshError } from '../common/errors.js';

export interface StoredObject {
  key: string;
  size: number;
}

export interface ObjectStore {
  /** the store's URL without credentials, for messages and the manifest */
  readonly url: string;
  /** stream body into key; resolves once it is durably stored (file renamed / upload completed) */
  put(key: string, body: Readable): Promise<{ bytes: number }>;
  /** a stream of the object; BACKUP_NOT_FOUND when absent */
  get(key: string): Promise<Readable>;
  head(key: string): Promise<StoredObject | undefined>;
  /** every object whose key starts with prefix */
  list(prefix: string): AsyncIterable<StoredObject>;
  delete(keys: readonly string[]): Promise<void>;
  close(): void;
  /**
   * how to open this store again elsewhere in the process (a restore's data-writing threads do):
   * set by `openStore`; a store without it is read on the main thread only. Holds credentials:
   * never logged, never sent outside the process.
   */
  readonly config?: StoreConfig;
}

export interface S3StoreOptions {
  endpoint?: string;
  region?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** path-style addressing (Swift, MinIO, Ceph need it; default true when an endpoint is given) */
  forcePathStyle?: boolean;
  /** `when-required` (default: Swift and other S3-compatible stores) or `when-supported` (AWS) */
  checksums?: 'when-required' | 'when-supported';
  /** create the bucket when it does not exist (default true) */
  createBucket?: boolean;
  /** multipart part size (default and least 5 MiB) and parts in flight (default 2): memory is (queueSize + 1) × partSize */
  partSize?: number;
  queueSize?: number;
}

export interface StoreConfig {
  url: string;
  s3?: S3StoreOptions;
}

/** Read the S3 settings a CLI/serve process takes from the environment (called once, by config). */
export function s3OptionsFromEnv(env: NodeJS.ProcessEnv): S3StoreOptions {
  const o: S3StoreOptions = {};
  if (env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL) o.endpoint = env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  if (env.AWS_REGION ?? env.AWS_DEFAULT_REGION) o.region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (env.AWS_ACCESS_KEY_ID) o.accessKeyId = env.AWS_ACCESS_KEY_ID;
  if (env.AWS_SECRET_ACCESS_KEY) o.secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  return o;
}

export function openStore(config: StoreConfig): ObjectStore {
  const url = config.url;
  const store = url.startsWith('file://') ? new FileStore(url) : url.startsWith('s3://') ? new S3Store(url, config.s3 ?? {}) : undefined;
  if (store) {
    Object.defineProperty(store, 'config', { value: { url, ...(config.s3 ? { s3: { ...config.s3 } } : {}) }, enumerable: false });
    return store;
  }
  throw new MixmeshError('BAD_REQUEST', `store ${JSON.stringify(url)}: use file:///absolute/dir or s3://bucket[/prefix]`);
}

class CountingPassThrough extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void) {
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

// ---------------------------------------------------------------- file://

export class FileStore implements ObjectStore {
  readonly root: string;
  constructor(readonly url: string) {
    const path = decodeURIComponent(new URL(url).pathname);
    if (!path.startsWith('/')) throw new MixmeshError('BAD_REQUEST', `store ${url}: the directory must be absolute`);
    this.root = resolve(path);
  }

  private pathOf(key: string): string {
    const p = resolve(this.root, key);
    if (p !== this.root && !p.startsWith(this.root + sep)) throw new MixmeshError('BAD_REQUEST', `store key ${JSON.stringify(key)} leaves the store`);
    return p;
  }

  async put(key: string, body: Readable): Promise<{ bytes: number }> {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.partial-${randomBytes(4).toString('hex')}`;
    const counter = new CountingPassThrough();
    // whichever fails first is the cause: the body (the source of the data) or the file
    let first: 'body' | 'file' | undefined;
    body.once('error', () => (first ??= 'body'));
    const file = createWriteStream(tmp, { mode: 0o600 });
    file.once('error', () => (first ??= 'file'));
    try {
      await pipeline(body, counter, file);
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true });
      if (first === 'body') throw e;
      throw storeError('write', this.url, key, e);
    }
    return { bytes: counter.bytes };
  }

  async get(key: string): Promise<Readable> {
    const path = this.pathOf(key);
    try {
      await stat(path);
    } catch {
      throw new MixmeshError('BACKUP_NOT_FOUND', `${this.url}: no object ${key}`);
    }
    return createReadStream(path, { highWaterMark: 256 * 1024 });
  }

  async head(key: string): Promise<StoredObject | undefined> {
    try {
      const s = await stat(this.pathOf(key));
      return s.isFile() ? { key, size: s.size } : undefined;
    } catch {
      return undefined;
    }
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    const walk = async function* (dir: string, root: string): AsyncIterable<StoredObject> {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      entries.sort((a, b) => (a.name < b.name ? -1 : 1));
      for (const e of entries) {
        const p = join(dir, e.name);
        if (e.isDirectory()) yield* walk(p, root);
        else if (e.isFile() && !e.name.includes('.partial-')) yield { key: relative(root, p).split(sep).join('/'), size: (await stat(p)).size };
      }
    };
    // start at the deepest directory the prefix names
    const dirPart = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    for await (const o of walk(this.pathOf(dirPart || '.'), this.root)) if (o.key.startsWith(prefix)) yield o;
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      const path = this.pathOf(key);
      await unlink(path).catch(() => undefined);
      // tidy now-empty directories up to the root
      for (let d = dirname(path); d.startsWith(this.root + sep); d = dirname(d)) {
        try {
          await rmdir(d);
        } catch {
          break;
        }
      }
    }
  }

  close(): void {}
}

// ---------------------------------------------------------------- s3://

/**
 * The S3 SDK, loaded on the first s3:// store used: hundreds of modules that a process (or a data
 * thread: threads.ts) writing to a file:// store, or only reading its config, would load for nothing.
 */
type S3Sdk = typeof import('@aws-sdk/client-s3');
let s3Sdk: Promise<S3Sdk> | undefined;
const loadS3 = (): Promise<S3Sdk> => (s3Sdk ??= import('@aws-sdk/client-s3'));

export class S3Store implements ObjectStore {
  readonly url: string;
  private readonly clientConfig: S3ClientConfig;
  private connection: Promise<{ sdk: S3Sdk; client: S3Client }> | undefined;
  private closed = false;
  private readonly bucket: string;
  private readonly prefix: string;
  private bucketChecked: Promise<void> | undefined;

  constructor(url: string, private readonly options: S3StoreOptions) {
    const u = new URL(url);
    this.bucket = u.hostname;
    if (this.bucket.length < 3) throw new MixmeshError('BAD_REQUEST', `store ${url}: a bucket name needs at least 3 characters`);
    this.prefix = u.pathname.replace(/^\/+/, '').replace(/\/+$/, '');
    this.url = `s3://${this.bucket}${this.prefix ? `/${this.prefix}` : ''}${options.endpoint ? ` (${options.endpoint})` : ''}`;
    const config: S3ClientConfig = {
      region: options.region ?? 'us-east-1',
      forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
      requestChecksumCalculation: options.checksums === 'when-supported' ? 'WHEN_SUPPORTED' : 'WHEN_REQUIRED',
      responseChecksumValidation: options.checksums === 'when-supported' ? 'WHEN_SUPPORTED' : 'WHEN_REQUIRED',
      maxAttempts: 4,
    };
    if (options.endpoint) config.endpoint = options.endpoint;
    if (options.accessKeyId && options.secretAccessKey) config.credentials = { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey };
    this.clientConfig = config;
  }

  /** the SDK and this store's client, made on first use */
  private s3(): Promise<{ sdk: S3Sdk; client: S3Client }> {
    if (this.closed) return Promise.reject(new MixmeshError('INTERNAL', `store ${this.url} is closed`));
    this.connection ??= loadS3().then((sdk) => {
      const client = new sdk.S3Client(this.clientConfig);
      // Swift's S3 layer (and the S3 spec) wants Content-MD5 on DeleteObjects; the SDK sends a CRC32
      // checksum instead. Replace it before the request is signed.
      client.middlewareStack.addRelativeTo(
        ((next: (a: unknown) => Promise<unknown>) => async (args: { request: unknown }) => {
          const req = args.request as { query?: Record<string, unknown>; headers: Record<string, string>; body?: unknown };
          if (req.query && 'delete' in req.query && (typeof req.body === 'string' || Buffer.isBuffer(req.body))) {
            for (const h of Object.keys(req.headers)) if (/^x-amz-(sdk-)?checksum-/i.test(h)) delete req.headers[h];
            req.headers['content-md5'] = createHash('md5').update(req.body).digest('base64');
          }
          return next(args);
        }) as unknown as Parameters<S3Client['middlewareStack']['addRelativeTo']>[0],
        { relation: 'before', toMiddleware: 'httpSigningMiddleware', name: 'mixmeshContentMd5', override: true },
      );
      return { sdk, client };
    });
    return this.connection;
  }

  private key(k: string): string {
    return this.prefix ? `${this.prefix}/${k}` : k;
  }

  private async ensureBucket(): Promise<void> {
    this.bucketChecked ??= (async () => {
      const { sdk, client } = await this.s3();
      try {
        await client.send(new sdk.HeadBucketCommand({ Bucket: this.bucket }));
      } catch (e) {
        const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status !== 404 || this.options.createBucket === false) throw storeError('open', this.url, '', e);
        await client.send(new sdk.CreateBucketCommand({ Bucket: this.bucket })).catch((err: unknown) => {
          throw storeError('create bucket', this.url, '', err);
        });
      }
    })().catch((e: unknown) => {
      this.bucketChecked = undefined;
      throw e;
    });
    return this.bucketChecked;
  }

  async put(key: string, body: Readable): Promise<{ bytes: number }> {
    await this.ensureBucket();
    try {
      return { bytes: await uploadStream(await this.s3(), this.bucket, this.key(key), body, Math.max(MIN_PART, this.options.partSize ?? MIN_PART), Math.max(1, this.options.queueSize ?? 2)) };
    } catch (e) {
      // the body's own failure (the source of the data) is not the store's
      if (e instanceof BodyFailure) throw e.cause;
      throw storeError('upload', this.url, key, e);
    }
  }

  async get(key: string): Promise<Readable> {
    await this.ensureBucket();
    const { sdk, client } = await this.s3();
    try {
      const r = await client.send(new sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      const b = r.Body as Readable | undefined;
      if (!b) return Readable.from([]);
      const out = new PassThrough({ highWaterMark: 256 * 1024 });
      b.on('error', (e) => out.destroy(storeError('read', this.url, key, e)));
      return b.pipe(out);
    } catch (e) {
      const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404) throw new MixmeshError('BACKUP_NOT_FOUND', `${this.url}: no object ${key}`);
      throw storeError('read', this.url, key, e);
    }
  }

  async head(key: string): Promise<StoredObject | undefined> {
    await this.ensureBucket();
    const { sdk, client } = await this.s3();
    try {
      const r = await client.send(new sdk.HeadObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return { key, size: r.ContentLength ?? 0 };
    } catch (e) {
      const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404) return undefined;
      throw storeError('read', this.url, key, e);
    }
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    await this.ensureBucket();
    const { sdk, client } = await this.s3();
    let token: string | undefined;
    const strip = this.prefix ? this.prefix.length + 1 : 0;
    do {
      let r;
      try {
        r = await client.send(new sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.key(prefix), ContinuationToken: token, MaxKeys: 1000 }));
      } catch (e) {
        throw storeError('list', this.url, prefix, e);
      }
      for (const o of r.Contents ?? []) if (o.Key) yield { key: o.Key.slice(strip), size: o.Size ?? 0 };
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(keys: readonly string[]): Promise<void> {
    await this.ensureBucket();
    const { sdk, client } = await this.s3();
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      try {
        const r = await client.send(new sdk.DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((k) => ({ Key: this.key(k) })), Quiet: true } }));
        const failed = (r.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
        if (failed.length) throw new Error(`${failed.length} objects not deleted, first: ${failed[0]?.Key} ${failed[0]?.Code}`);
      } catch (e) {
        throw storeError('delete', this.url, batch[0] ?? '', e);
      }
    }
  }

  close(): void {
    this.closed = true;
    void this.connection?.then(({ client }) => client.destroy(), () => undefined);
  }
}

const MIN_PART = 5 * 1024 * 1024;

/** the body given to put failed (not the store): put rejects with the body's own error */
class BodyFailure extends Error {
  constructor(override readonly cause: unknown) {
    super('the body failed');
  }
}

/**
 * Stream `body` into one object with a fixed memory budget: the body is copied into part buffers
 * from a pool of queueSize + 1 (allocated once, reused: no garbage per part), up to queueSize parts
 * upload at once while the next one is read (the source, an SSH channel whose window stops the
 * node's tar | gzip when nobody reads, keeps flowing), and reading waits only when every buffer is
 * full or in flight. A body that fits in one part is one PutObject. Any failure (the body's or a
 * part's) aborts the multipart upload: no half object is ever visible under its key, no part stays.
 */
async function uploadStream({ sdk, client }: { sdk: S3Sdk; client: S3Client }, bucket: string, key: string, body: Readable, partSize: number, queueSize: number): Promise<number> {
  const free: Buffer[] = [];
  let pooled = 0;
  const takeBuffer = () => free.pop() ?? (pooled++, Buffer.allocUnsafe(partSize));
  let uploadId: string | undefined;
  const parts: Array<{ PartNumber: number; ETag: string }> = [];
  const inFlight = new Set<Promise<void>>();
  const state: { failed?: { error: unknown } } = {};
  const check = () => {
    if (state.failed) throw state.failed.error;
  };
  let bytes = 0;
  let partNumber = 0;

  /** send one part once a slot is free (the multipart upload is created before the first) */
  const send = async (buf: Buffer, length: number) => {
    while (inFlight.size >= queueSize && !state.failed) await Promise.race(inFlight);
    check();
    uploadId ??= (await client.send(new sdk.CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))).UploadId;
    const n = ++partNumber;
    const upload = async () => {
      try {
        const r = await client.send(new sdk.UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: n, Body: buf.subarray(0, length), ContentLength: length }));
        if (!r.ETag) throw new Error(`part ${n} was stored without an ETag`);
        parts.push({ PartNumber: n, ETag: r.ETag });
      } catch (e) {
        state.failed ??= { error: e };
      } finally {
        free.push(buf);
      }
    };
    const p: Promise<void> = upload().finally(() => inFlight.delete(p));
    inFlight.add(p);
  };

  let buf = takeBuffer();
  let off = 0;
  const chunks = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const next = async () => {
    try {
      return await chunks.next();
    } catch (e) {
      throw new BodyFailure(e);
    }
  };
  try {
    for (let r = await next(); !r.done; r = await next()) {
      const chunk = r.value;
      bytes += chunk.length;
      for (let at = 0; at < chunk.length; ) {
        if (off === partSize) {
          await send(buf, off);
          // the next buffer: a free one, or a new one while the pool is below queueSize + 1
          while (!free.length && pooled > queueSize && !state.failed) await Promise.race(inFlight);
          check();
          buf = takeBuffer();
          off = 0;
        }
        const k = Math.min(chunk.length - at, partSize - off);
        chunk.copy(buf, off, at, at + k);
        off += k;
        at += k;
      }
    }
    if (uploadId === undefined) {
      await client.send(new sdk.PutObjectCommand({ Bucket: bucket, Key: key, Body: buf.subarray(0, off), ContentLength: off }));
      return bytes;
    }
    if (off > 0) await send(buf, off);
    while (inFlight.size) await Promise.race(inFlight);
    check();
    parts.sort((a, b) => a.PartNumber - b.PartNumber);
    await client.send(new sdk.CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
    return bytes;
  } catch (e) {
    state.failed ??= { error: e };
    body.destroy();
    while (inFlight.size) await Promise.race(inFlight);
    if (uploadId) await client.send(new sdk.AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
    throw state.failed.error;
  }
}

function storeError(op: string, url: string, key: string, e: unknown): MixmeshError {
  if (e instanceof MixmeshError) return e;
  const why = e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(e);
  return new MixmeshError('BACKUP_STORE_FAILED', `${url}: ${op}${key ? ` ${key}` : ''} failed: ${why}`, { cause: e });
}
