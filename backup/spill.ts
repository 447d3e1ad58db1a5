/**
 * A restore's resources without holding them in memory: one pass over resources.tar.gz (each item
 * checked against the signed manifest as it passes) writes every object as one JSON line into a
 * file per restore-order group in a private temp directory; the restore then streams the groups in
 * order. Only what the rules need across objects stays in memory: which MeshServices and PVs the
 * backup holds, and the few objects restore looks at as a whole (MeshServices; Pods with state,
 * hooks or a MeshService label).
 */
import { createReadStream, createWriteStream, mkdtempSync, rmSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import type { KubeObject } from '../clients/kube/index.js';
import { LABEL_SERVICE } from '../common/labels.js';
import type { BackupReader } from './archive.js';
import { HOOK_ANNOTATIONS } from './hooks.js';
import { STATE_ANNOTATION } from './select.js';
import { restoreRank } from './transform.js';
import type { ManifestItem } from './types.js';

export interface SpilledItem {
  item: ManifestItem;
  obj: KubeObject;
}

export class SpilledResources {
  readonly meshServices = new Set<string>();
  readonly pvs = new Set<string>();
  /** objects restore looks at as a whole (few): MeshServices, Pods with state, hooks or a MeshService */
  readonly retained: SpilledItem[] = [];
  count = 0;
  private readonly files = new Map<string, { rank: number; kind: string; objKind: string; path: string; out: WriteStream }>();

  private constructor(private readonly dir: string) {}

  static async from(reader: BackupReader, stateOwners: ReadonlySet<string>): Promise<SpilledResources> {
    const s = new SpilledResources(mkdtempSync(join(tmpdir(), 'mixmesh-restore-')));
    try {
      for await (const { item, body } of reader.resources()) {
        const obj = JSON.parse(body.toString('utf8')) as KubeObject;
        s.count++;
        if (obj.kind === 'MeshService') s.meshServices.add(`${obj.metadata.namespace}/${obj.metadata.name}`);
        if (obj.kind === 'PersistentVolume') s.pvs.add(obj.metadata.name);
        const a = obj.metadata.annotations ?? {};
        if (obj.kind === 'MeshService' || (obj.kind === 'Pod' && (stateOwners.has(`${obj.metadata.namespace}/${obj.metadata.name}`) || a[STATE_ANNOTATION] || a[HOOK_ANNOTATIONS.pre] || a[HOOK_ANNOTATIONS.post] || a[HOOK_ANNOTATIONS.restorePost] || obj.metadata.labels?.[LABEL_SERVICE]))) {
          s.retained.push({ item, obj });
        }
        const [rank, kind] = restoreRank(obj.kind);
        const key = `${rank}/${kind}`;
        let f = s.files.get(key);
        if (!f) {
          const path = join(s.dir, `${s.files.size}.jsonl`);
          f = { rank, kind, objKind: obj.kind, path, out: createWriteStream(path, { mode: 0o600 }) };
          s.files.set(key, f);
        }
        if (!f.out.write(`${JSON.stringify({ item, obj })}\n`)) await once(f.out, 'drain');
      }
      await Promise.all([...s.files.values()].map((f) => new Promise<void>((resolve, reject) => f.out.end((e?: Error | null) => (e ? reject(e) : resolve())))));
      return s;
    } catch (e) {
      s.close();
      throw e;
    }
  }

  /** The groups in the restore order, one per kind, each a stream of its objects. */
  *groups(): Iterable<{ kind: string; items: () => AsyncIterable<SpilledItem> }> {
    const sorted = [...this.files.values()].sort((a, b) => a.rank - b.rank || (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0));
    for (const f of sorted) {
      yield {
        kind: f.objKind,
        items: async function* () {
          const lines = createInterface({ input: createReadStream(f.path), crlfDelay: Infinity });
          for await (const line of lines) if (line) yield JSON.parse(line) as SpilledItem;
        },
      };
    }
  }

  async *all(): AsyncIterable<SpilledItem> {
    for (const g of this.groups()) yield* g.items();
  }

  close(): void {
    for (const f of this.files.values()) f.out.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
