/**
 * The data threads of a process (`data-thread.ts` is their body): a restore's volumes, written side
 * by side, and the SHA-256 pass over a backup's objects run on threads of their own instead of all
 * sharing the main thread (and its garbage collector) with the API, the watches and every other
 * step. Up to one thread per core (at most `MAX_THREADS`), started on first use, each taking several
 * tasks at once; an idle thread closes its SSH connections and ends after `IDLE_MS`. A thread that
 * dies fails the tasks it had (the restore records a failed write as any other) and the next task
 * starts a new one.
 *
 * Used only where the write can be done the same way there: the stock SSH node access and a store
 * opened by `openStore` (its settings travel with it); anything else is written on the main
 * thread. `MIXMESH_DATA_THREADS=0` turns the threads off.
 */
import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { MixmeshError, type ErrorCode } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';
import type { BackupReader, ObjectAccess } from './archive.js';
import { SshNodeAccess, type NodeAccess, type NodeTarget } from './nodes.js';
import type { ObjectStore, StoreConfig } from './stores.js';
import type { DataEntry, StoredEntry } from './types.js';
import type { WriteOptions } from './writeback.js';

export interface WriteTask {
  type: 'write';
  id: number;
  store: StoreConfig;
  object: ObjectAccess;
  entry: DataEntry;
  target: NodeTarget;
  path: string;
  sha256: boolean;
  connectBudgetMs: number;
  logLevel: string;
}

export interface VerifyTask {
  type: 'verify';
  id: number;
  store: StoreConfig;
  name: string;
  objects: StoredEntry[];
  /** post progress (bytes read) */
  progress: boolean;
}

export interface CloseTask {
  type: 'close';
}

export type ThreadReply =
  | { type: 'done'; id: number; result: unknown }
  | { type: 'failed'; id: number; error: { code?: string; message: string; status?: number; details?: Record<string, unknown> } }
  | { type: 'progress'; id: number; bytes: number }
  | { type: 'log'; line: string }
  | { type: 'closed' };

/** the initial old generation of a data-writing thread's heap (MiB): a limit for V8's GC pacing, not memory taken */
export const THREAD_INITIAL_OLD_SPACE_MB = 256;
let flagged = false;

/** an idle thread ends after this long (its SSH connections closed first) */
export const IDLE_MS = 10_000;
const MAX_THREADS = 4;

interface Slot {
  worker: Worker;
  tasks: Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; log: Logger; onBytes?: ((n: number) => void) | undefined }>;
  idle?: NodeJS.Timeout;
  closing: boolean;
}

function threadError(e: Extract<ThreadReply, { type: 'failed' }>['error']): Error {
  if (e.code) return new MixmeshError(e.code as ErrorCode, e.message, { ...(e.status ? { status: e.status } : {}), ...(e.details ? { details: e.details } : {}) });
  return new Error(e.message);
}

const LEVELS: Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

class DataThreads {
  private readonly slots: Slot[] = [];
  private nextId = 1;

  constructor(readonly size: number) {}

  private start(): Slot {
    // A thread's heap starts with room in its old generation: a stream of GiBs allocates a buffer
    // per chunk outside the heap, and V8 answers every ~64 MiB of that with a GC; with the default
    // small start each of those also began a full mark-compact (a data write spent 2–4× its CPU in
    // GC, measured in bench/migrate.ts). V8 reads this flag when an isolate is made: it shapes the
    // threads made from here on, not the main thread's heap, already made.
    if (!flagged) {
      setFlagsFromString(`--initial-old-space-size=${THREAD_INITIAL_OLD_SPACE_MB}`);
      flagged = true;
    }
    // the built tree, or the source tree under tsx (tests, `npm run bench`): a thread does not
    // inherit the parent's `--import tsx` hooks on Node 20, so it registers them first
    const worker = import.meta.url.endsWith('.ts')
      ? new Worker(`import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(new URL('./data-thread.ts', import.meta.url).href)}); });`, { eval: true })
      : new Worker(new URL('./data-thread.js', import.meta.url));
    const slot: Slot = { worker, tasks: new Map(), closing: false };
    worker.on('message', (m: ThreadReply) => {
      if (m.type === 'log') {
        const first = slot.tasks.values().next().value;
        if (!first) return;
        try {
          const { level, msg, time: _t, pid: _p, hostname: _h, name: _n, ...rest } = JSON.parse(m.line) as Record<string, unknown> & { level: number; msg?: string };
          first.log[LEVELS[level] ?? 'info']({ ...rest, thread: worker.threadId }, msg ?? '');
        } catch {
          // not a log line: nothing to forward
        }
        return;
      }
      if (m.type === 'closed') {
        void worker.terminate();
        return;
      }
      const t = slot.tasks.get(m.id);
      if (!t) return;
      if (m.type === 'progress') {
        t.onBytes?.(m.bytes);
        return;
      }
      slot.tasks.delete(m.id);
      if (m.type === 'done') t.resolve(m.result);
      else t.reject(threadError(m.error));
      this.settle(slot);
    });
    const died = (e: Error) => {
      this.drop(slot);
      for (const t of slot.tasks.values()) t.reject(new MixmeshError('INTERNAL', `a data-writing thread ended: ${e.message}`));
      slot.tasks.clear();
    };
    worker.on('error', died);
    worker.on('exit', (code) => died(new Error(`exit ${code}`)));
    this.slots.push(slot);
    return slot;
  }

  private drop(slot: Slot): void {
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
  }

  /** no task left: the thread stops holding the process up, and ends after IDLE_MS */
  private settle(slot: Slot): void {
    if (slot.tasks.size) return;
    slot.worker.unref();
    slot.idle = setTimeout(() => {
      if (slot.tasks.size) return;
      slot.closing = true;
      this.drop(slot);
      slot.worker.postMessage({ type: 'close' } satisfies CloseTask);
    }, IDLE_MS);
    slot.idle.unref();
  }

  /** the threads running now */
  get count(): number {
    return this.slots.length;
  }

  /** end every thread now: their tasks fail (INTERNAL), the next task starts a new thread */
  async stop(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  run(task: Omit<WriteTask, 'id'> | Omit<VerifyTask, 'id'>, log: Logger, onBytes?: (n: number) => void): Promise<unknown> {
    // the least busy thread; a new one while there are fewer than `size` and every one is busy
    let slot = this.slots.filter((s) => !s.closing).sort((a, b) => a.tasks.size - b.tasks.size)[0];
    if (!slot || (slot.tasks.size > 0 && this.slots.length < this.size)) slot = this.start();
    if (slot.idle) clearTimeout(slot.idle);
    slot.worker.ref();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      slot.tasks.set(id, { resolve, reject, log, onBytes });
      slot.worker.postMessage({ ...task, id });
    });
  }
}

let pool: DataThreads | undefined;
const threadsOff = () => process.env.MIXMESH_DATA_THREADS === '0';
const threads = () => (pool ??= new DataThreads(Math.max(1, Math.min(MAX_THREADS, availableParallelism()))));

/**
 * Write the data dir on a thread of its own when it can be done the same way there (the stock SSH
 * access, a store from `openStore`); undefined when the caller writes it on this thread.
 */
export function writeOnThread(nodes: NodeAccess, reader: BackupReader, d: DataEntry, target: NodeTarget, path: string, options: WriteOptions = {}): Promise<unknown> | undefined {
  if (threadsOff() || !(nodes instanceof SshNodeAccess) || !reader.store.config || !d.object) return undefined;
  return threads().run({ type: 'write', store: reader.store.config, object: reader.objectAccess(d.object), entry: d, target, path, sha256: options.sha256 === true, connectBudgetMs: nodes.connectBudgetMs, logLevel: nodes.log.level }, nodes.log);
}

/** How many data threads run now (0 before the first use and once idle ones ended). */
export function dataThreadCount(): number {
  return pool?.count ?? 0;
}

/** End the data threads now (a process shutting down; tests): what they were doing fails as INTERNAL. */
export async function stopDataThreads(): Promise<void> {
  await pool?.stop();
}

/**
 * Check a backup's objects against their manifest entries on the data threads, the objects shared
 * out by size over as many threads as there are (the largest first, each to the lightest share);
 * the first failure rejects. Undefined when the store cannot be opened there.
 */
export function verifyOnThread(store: ObjectStore, name: string, objects: readonly StoredEntry[], onBytes?: (n: number) => void): Promise<void> | undefined {
  if (threadsOff() || !store.config) return undefined;
  const pool = threads();
  const shares = Array.from({ length: Math.max(1, Math.min(pool.size, objects.length)) }, () => ({ bytes: 0, objects: [] as StoredEntry[] }));
  for (const o of [...objects].sort((a, b) => b.bytes - a.bytes)) {
    const lightest = shares.reduce((a, b) => (b.bytes < a.bytes ? b : a));
    lightest.objects.push(o);
    lightest.bytes += o.bytes;
  }
  const config = store.config;
  return Promise.all(shares.map((s) => pool.run({ type: 'verify', store: config, name, objects: s.objects, progress: onBytes !== undefined }, silentLogger, onBytes))).then(() => undefined);
}
