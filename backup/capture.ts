/**
 * Making one backup: select, then stream every resource into resources.tar.gz, copy node and VM
 * data over the node port (per file SHA-256), take state where asked (or record why not), write
 * results, then the signed manifest last. A failed data item is recorded with its reason and the
 * backup completes with warnings; a store failure or a cancel fails the backup and removes what it
 * wrote, so no half backup is ever listed complete.
 */
import { Readable } from 'node:stream';
import { MixmeshError, isMixmeshError } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { BackupWriter, ResourceTar, deleteBackup } from './archive.js';
import type { StoreKeys } from './crypto.js';
import { tarFileHashes, tee, type NodeAccess } from './nodes.js';
import type { BackupKube, Checkpointer, NodeResolver, PodExec } from './ports.js';
import { hookTargets, runHooks, type HookEntry } from './hooks.js';
import { select, type SelectedObject } from './select.js';
import type { ObjectStore } from './stores.js';
import type { DataEntry, Manifest, Selection, StateEntry } from './types.js';

export interface BackupDeps {
  kube: BackupKube;
  store: ObjectStore;
  keys: StoreKeys;
  nodes: NodeAccess;
  resolver: NodeResolver;
  checkpointer?: Checkpointer;
  /** pods/exec, for container hooks (none: they are recorded as not run) */
  podExec?: PodExec;
  log?: Logger;
  /** for the manifest's source section */
  source?: Manifest['source'];
}

export interface BackupRequest {
  name: string;
  selection: Selection;
  encrypt?: boolean;
  /** take in-memory state where microservices ask for it (default true) */
  state?: boolean;
  labels?: Record<string, string>;
}

export interface Progress {
  items: number;
  itemsTotal: number;
  bytes: number;
  startedAt: number;
  phase: string;
}

export interface BackupRunOptions {
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
}

/** Where an object goes in resources.tar.gz (Velero's layout). */
export async function resourcePath(kube: BackupKube, o: { apiVersion: string; kind: string; metadata: { namespace?: string; name: string } }): Promise<string> {
  const meta = await kube.describeKind(o.apiVersion, o.kind);
  const plural = meta?.plural ?? `${o.kind.toLowerCase()}s`;
  const group = o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '';
  const rg = group ? `${plural}.${group}` : plural;
  return o.metadata.namespace ? `resources/${rg}/namespaces/${o.metadata.namespace}/${o.metadata.name}.json` : `resources/${rg}/cluster/${o.metadata.name}.json`;
}

function reasonOf(e: unknown): { reason: string; message: string } {
  if (isMixmeshError(e)) {
    const reason = e.code === 'SSH_CONNECT_FAILED' || e.code === 'SSH_AUTH_FAILED' || e.code === 'SSH_HOST_KEY_MISMATCH' || e.code === 'SSH_HOST_KEY_UNKNOWN' ? 'NODE_UNREACHABLE' : e.code;
    return { reason, message: e.message };
  }
  return { reason: 'INTERNAL', message: e instanceof Error ? e.message : String(e) };
}

export async function runBackup(deps: BackupDeps, req: BackupRequest, options: BackupRunOptions = {}): Promise<Manifest> {
  const log = (deps.log ?? silentLogger).child({ backup: req.name });
  const created = new Date().toISOString();
  const writer = new BackupWriter(deps.store, req.name, deps.keys, req.encrypt ?? true);
  const progress: Progress = { items: 0, itemsTotal: 0, bytes: 0, startedAt: Date.now(), phase: 'Selecting' };
  const report = () => options.onProgress?.({ ...progress });
  const checkCancel = () => {
    if (options.signal?.aborted) throw new MixmeshError('BACKUP_CANCELLED', `backup ${req.name} was cancelled`);
  };
  try {
    const sel = await select(deps.kube, req.selection);
    const warnings = [...sel.warnings];
    progress.itemsTotal = sel.objects.length + sel.volumes.length + sel.vms.reduce((n, v) => n + (v.microservice.vm?.dataDirs?.length ?? 0), 0);
    progress.phase = 'Resources';
    report();

    // 1. resources streamed into resources.tar.gz, beside 2. the data: the two are independent, and
    // the one waits on the API server while the other waits on the node's tar | gzip. The first
    // failure stops the other at its next item; both settle before anything is cleaned up.
    let failure: { error: unknown } | undefined;
    const checkStop = () => {
      checkCancel();
      if (failure) throw failure.error;
    };
    const tarball = new ResourceTar();
    const hookList = hookTargets(sel.objects.map((o) => o.obj));
    // each object is let go once it is in the tar (the manifest keeps its item): at 5 000 Pods the
    // objects are tens of MiB of heap the data copy beside them need not keep
    const objects: Array<SelectedObject | undefined> = sel.objects.splice(0);
    const resources = (async () => {
      const writing = writer.writeObject('resources.tar.gz', Readable.from(tarball.pack as unknown as AsyncIterable<Buffer>), { onBytes: (n) => { progress.bytes += n; } });
      const adding = (async () => {
        try {
          for (let i = 0; i < objects.length; i++) {
            checkStop();
            await addResource(deps.kube, tarball, objects[i]!);
            objects[i] = undefined;
            progress.items++;
            if (progress.items % 200 === 0) report();
          }
        } finally {
          tarball.finalize();
        }
      })();
      await Promise.all([adding, writing]);
    })();
    const others = (async () => {
      // 2. container pre hooks (pods/exec), then data: pod volumes on nodes, VM data dirs
      const hooks: HookEntry[] = await runHooks(deps.podExec, hookList, 'pre', warnings);
      progress.phase = 'Data';
      const data: DataEntry[] = [];
      for (const v of sel.volumes) {
        checkStop();
        const owner = `${v.namespace}/${v.pod}`;
        const entry: DataEntry = { type: v.type, owner, name: v.volume, node: v.node, path: v.path, files: 0, bytes: 0, result: 'captured' };
        if (v.type === 'remote') {
          Object.assign(entry, { result: 'skipped', reason: 'REMOTE_NOT_COPIED', message: 'network storage (not node-local): not copied' });
        } else if (!v.node) {
          Object.assign(entry, { result: 'skipped', reason: 'NOT_SCHEDULED', message: 'the pod is not bound to a node' });
        } else {
          await copyData(deps, writer, entry, `volumes/${v.namespace}/${v.pod}/${v.volume}.tar.gz`, () => deps.resolver.node(v.node), progress, log);
        }
        if (entry.result === 'failed') warnings.push(`volume ${owner}/${v.volume}: ${entry.reason}: ${entry.message}`);
        data.push(entry);
        progress.items++;
        report();
      }
      const state: StateEntry[] = [];
      for (const vm of sel.vms) {
        const ms = vm.microservice;
        const dirs = ms.vm?.dataDirs ?? [];
        const service = { namespace: vm.namespace, name: vm.service, microservice: ms.name, version: ms.version ?? 'v1', index: vm.index };
        const hooks = ms.backup?.hooks;
        let hookTarget: Awaited<ReturnType<NodeResolver['vm']>> | undefined;
        if (hooks?.pre?.length) {
          try {
            hookTarget = await deps.resolver.vm(vm);
            for (const argv of hooks.pre) await deps.nodes.exec(hookTarget, argv, { step: 'pre hook' });
          } catch (e) {
            const r = reasonOf(e);
            warnings.push(`VM ${vm.vnfInstanceName}: pre hook failed (${r.reason}): ${r.message}`);
            state.push({ owner: vm.vnfInstanceName, method: 'hooks', result: 'failed', reason: 'HOOK_FAILED', message: r.message });
          }
        }
        for (const [i, dir] of dirs.entries()) {
          checkStop();
          const entry: DataEntry = { type: 'vmDataDir', owner: vm.vnfInstanceName, name: String(i), node: vm.address ?? '', path: dir, files: 0, bytes: 0, result: 'captured', service };
          if (!vm.address) Object.assign(entry, { result: 'failed', reason: 'VM_NO_ADDRESS', message: 'the VM has no address in the service status' });
          else await copyData(deps, writer, entry, `vms/${vm.vnfInstanceName}/${i}.tar.gz`, () => deps.resolver.vm(vm), progress, log);
          if (entry.result === 'failed') warnings.push(`VM ${vm.vnfInstanceName} ${dir}: ${entry.reason}: ${entry.message}`);
          data.push(entry);
          progress.items++;
          report();
        }
        if (ms.backup?.state === 'checkpoint' && req.state !== false) state.push({ ...(await vmCheckpoint(deps, writer, vm, warnings)), service });
        if (hooks?.post?.length && hookTarget) {
          for (const argv of hooks.post) await deps.nodes.exec(hookTarget, argv, { step: 'post hook', allowFailure: true });
        }
      }
      // container state: the kubelet checkpoint API, where the node has it
      for (const c of req.state === false ? [] : sel.checkpoints) {
        checkStop();
        state.push(await containerCheckpoint(deps, writer, c, warnings));
      }

      hooks.push(...(await runHooks(deps.podExec, hookList, 'post', warnings)));
      return { hooks, data, state };
    })();
    const first = (e: unknown) => {
      failure ??= { error: e };
    };
    await Promise.all([resources.catch(first), others.catch(first)]);
    if (failure) throw failure.error;
    const { hooks, data, state } = await others;
    report();

    // 3. results and the signed manifest (last)
    progress.phase = 'Finishing';
    const items = tarball.items;
    const results = { items: items.map(({ path, kind, namespace, name, result, reason, message }) => ({ path, kind, namespace, name, result, reason, message })), data, state, hooks, warnings };
    await writer.writeObject('results.json', Readable.from([Buffer.from(JSON.stringify(results, null, 1))]));
    const phase = warnings.length || data.some((d) => d.result === 'failed') ? 'CompletedWithWarnings' : 'Completed';
    const manifest = await writer.finish({
      name: req.name,
      created,
      completed: new Date().toISOString(),
      source: deps.source ?? {},
      selection: req.selection,
      phase,
      warnings,
      items,
      data,
      state,
      ...(hooks.length ? { hooks } : {}),
      totals: { items: items.length, dataBytes: data.reduce((n, d) => n + d.bytes, 0), storedBytes: writer.objects.reduce((n, o) => n + o.bytes, 0) },
      ...(req.labels ? { labels: req.labels } : {}),
    });
    progress.phase = phase;
    report();
    log.info({ phase, items: items.length, bytes: progress.bytes, ms: Date.now() - progress.startedAt }, 'backup done');
    return manifest;
  } catch (e) {
    // nothing half-written stays behind (the manifest was not signed, so it never listed complete)
    await deleteBackup(deps.store, req.name).catch((err: unknown) => log.warn({ err: String(err) }, 'could not remove the partial backup'));
    throw e;
  }
}

async function addResource(kube: BackupKube, t: ResourceTar, s: SelectedObject): Promise<void> {
  const o = s.obj;
  const path = await resourcePath(kube, o);
  const body = Buffer.from(JSON.stringify(o));
  await t.add(path, body, {
    apiVersion: o.apiVersion,
    kind: o.kind,
    ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
    name: o.metadata.name,
    result: 'captured',
    ...(s.skip ? { reason: s.skip.reason, message: s.skip.message } : {}),
  });
}

async function copyData(deps: BackupDeps, writer: BackupWriter, entry: DataEntry, object: string, target: () => ReturnType<NodeResolver['node']>, progress: Progress, log: Logger): Promise<void> {
  try {
    const t = await target();
    const { stream, done } = await deps.nodes.readDir(t, entry.path);
    const [toStore, toHash] = tee(stream);
    const [stored, hashes] = await Promise.all([writer.writeObject(object, toStore, { gzip: false, onBytes: (n) => { progress.bytes += n; } }), tarFileHashes(toHash), done]);
    entry.object = object;
    entry.files = hashes.length;
    entry.bytes = hashes.reduce((n, h) => n + h.size, 0);
    entry.fileHashes = hashes;
    void stored;
  } catch (e) {
    if (isMixmeshError(e) && (e.code === 'BACKUP_STORE_FAILED' || e.code === 'BACKUP_CANCELLED')) throw e;
    const r = reasonOf(e);
    const missing = isMixmeshError(e) && e.details?.exitCode === 3;
    Object.assign(entry, { result: 'failed', reason: missing ? 'PATH_MISSING' : r.reason, message: r.message });
    log.warn({ owner: entry.owner, path: entry.path, reason: entry.reason }, 'data not captured');
  }
}

async function vmCheckpoint(deps: BackupDeps, writer: BackupWriter, vm: Parameters<NodeResolver['vm']>[0], warnings: string[]): Promise<StateEntry> {
  const owner = vm.vnfInstanceName;
  const cp = vm.microservice.vm?.checkpoint;
  try {
    const t = await deps.resolver.vm(vm);
    const check = await deps.nodes.exec(t, ['sh', '-c', 'command -v criu >/dev/null 2>&1 || exit 127; criu check'], { allowFailure: true, step: 'criu check' });
    if (check.code !== 0) {
      const why = check.code === 127 ? 'criu is not installed on the VM' : `criu check failed: ${(check.stderr || check.stdout).trim().slice(-300)}`;
      warnings.push(`VM ${owner}: no state captured, a restore cold-starts it (${why})`);
      return { owner, method: 'none', result: 'skipped', reason: 'CRIU_UNAVAILABLE', message: why };
    }
    // the pid file / unit name is passed as an argument, never pasted into the script
    const pidCmd = cp?.pidFile ? 'cat "$2"' : 'systemctl show -p MainPID --value "$2"';
    const dir = `/var/lib/mixmesh/criu/${owner}`;
    await deps.nodes.exec(t, ['sh', '-c', `set -e; rm -rf "$1"; mkdir -p "$1"; pid=$(${pidCmd}); criu dump -t "$pid" -D "$1" --leave-running --shell-job --tcp-established -o dump.log`, 'sh', dir, cp?.pidFile ?? cp?.unit ?? ''], { step: 'criu dump' });
    const { stream, done } = await deps.nodes.readDir(t, dir);
    const [stored] = await Promise.all([writer.writeObject(`state/vms/${owner}.tar.gz`, stream, { gzip: false }), done]);
    // the images hold the process's memory: they do not stay on the VM once they are in the store
    await deps.nodes.exec(t, ['rm', '-rf', dir], { step: 'remove the CRIU images', allowFailure: true });
    return { owner, method: 'criu', object: stored.path, bytes: stored.plainBytes, result: 'captured' };
  } catch (e) {
    if (isMixmeshError(e) && e.code === 'BACKUP_STORE_FAILED') throw e;
    const r = reasonOf(e);
    warnings.push(`VM ${owner}: no state captured (${r.reason}): ${r.message}`);
    return { owner, method: 'criu', result: 'failed', reason: r.reason, message: r.message };
  }
}

async function containerCheckpoint(deps: BackupDeps, writer: BackupWriter, c: { namespace: string; pod: string; container: string; node: string }, warnings: string[]): Promise<StateEntry> {
  const owner = `${c.namespace}/${c.pod}`;
  if (!deps.checkpointer) {
    const message = 'no kubelet checkpoint access is configured; a restore cold-starts the container';
    warnings.push(`${owner}/${c.container}: ${message}`);
    return { owner, container: c.container, node: c.node, method: 'none', result: 'skipped', reason: 'CHECKPOINT_UNAVAILABLE', message };
  }
  let made: { t: Awaited<ReturnType<NodeResolver['node']>>; path: string } | undefined;
  try {
    const path = await deps.checkpointer.checkpoint(c.node, c.namespace, c.pod, c.container);
    const t = await deps.resolver.node(c.node);
    made = { t, path };
    const { stream, done } = await deps.nodes.readFile(t, path);
    const [stored] = await Promise.all([writer.writeObject(`state/${c.namespace}/${c.pod}/${c.container}.tar`, stream), done]);
    return { owner, container: c.container, node: c.node, method: 'checkpoint', object: stored.path, bytes: stored.plainBytes, result: 'captured' };
  } catch (e) {
    if (isMixmeshError(e) && e.code === 'BACKUP_STORE_FAILED') throw e;
    const r = reasonOf(e);
    warnings.push(`${owner}/${c.container}: no checkpoint (${r.reason}): ${r.message}`);
    return { owner, container: c.container, node: c.node, method: 'checkpoint', result: 'failed', reason: r.reason === 'INTERNAL' || r.reason === 'K8S_REQUEST_FAILED' ? 'CHECKPOINT_FAILED' : r.reason, message: r.message };
  } finally {
    // the archive holds the process's memory: it does not stay on the node, stored or not
    if (made) await deps.nodes.exec(made.t, ['rm', '-f', made.path], { step: 'remove the checkpoint archive', allowFailure: true }).catch(() => undefined);
  }
}
