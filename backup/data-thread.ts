/**
 * The body of a data thread (`threads.ts` starts it): a restore's write-back of one data dir
 * (`writeback.ts`: the object read from the store, decrypted, its files hashed, sent over SSH to
 * the node's tar, what landed listed) and the SHA-256 pass over a share of a backup's objects run
 * here, off the orchestrator's main thread, so that several volumes written side by side use
 * several cores and the API, the watches and the other steps of a migration keep theirs. One SSH
 * connection per node per thread, reused across tasks; host keys checked as everywhere. The parent
 * passes the store's settings and the backup's data key inside the process only.
 */
import { parentPort } from 'node:worker_threads';
import { isMixmeshError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import { BackupReader, verifyStoredObjects } from './archive.js';
import { SshNodeAccess } from './nodes.js';
import { openStore, type ObjectStore } from './stores.js';
import type { CloseTask, ThreadReply, VerifyTask, WriteTask } from './threads.js';
import { writeDataDirHere } from './writeback.js';

const port = parentPort;
if (port) {
  const post = (m: ThreadReply) => port.postMessage(m);
  const stores = new Map<string, ObjectStore>();
  let nodes: SshNodeAccess | undefined;
  const nodesFor = (t: WriteTask) => {
    if (!nodes) {
      // log lines go to the parent's logger (redacted here by pino's paths, as everywhere)
      const log = createLogger({ level: t.logLevel, destination: { write: (line: string) => post({ type: 'log', line }) } });
      nodes = new SshNodeAccess(log, t.connectBudgetMs);
    }
    return nodes;
  };
  port.on('message', (m: WriteTask | VerifyTask | CloseTask) => {
    if (m.type === 'close') {
      void (async () => {
        await nodes?.close().catch(() => undefined);
        for (const s of stores.values()) s.close();
        post({ type: 'closed' });
      })();
      return;
    }
    void (async () => {
      try {
        let store = stores.get(m.store.url);
        if (!store) stores.set(m.store.url, (store = openStore(m.store)));
        if (m.type === 'verify') {
          // progress in steps of at least 8 MiB (a message per chunk would cost more than the hash)
          let pending = 0;
          await verifyStoredObjects(store, m.name, m.objects, m.progress ? (n) => {
            pending += n;
            if (pending >= 8 * 1048576) {
              post({ type: 'progress', id: m.id, bytes: pending });
              pending = 0;
            }
          } : undefined);
          if (pending) post({ type: 'progress', id: m.id, bytes: pending });
          post({ type: 'done', id: m.id, result: null });
          return;
        }
        const reader = BackupReader.forObject(store, m.object);
        const result = await writeDataDirHere(nodesFor(m), reader, m.entry, m.target, m.path, { sha256: m.sha256 });
        post({ type: 'done', id: m.id, result });
      } catch (e) {
        const error = isMixmeshError(e)
          ? { code: e.code, message: e.message, status: e.status, ...(e.details ? { details: e.details } : {}) }
          : { message: e instanceof Error ? e.message : String(e) };
        post({ type: 'failed', id: m.id, error });
      }
    })();
  });
}
