/**
 * `mixmesh backup|restore|schedule …` (backup.md, "Commands"): thin clients of `/v1/backups`,
 * `/v1/restores`, `/v1/schedules`. `--wait` prints progress (items, bytes, rate) on stderr and exits
 * 0 for Completed or CompletedWithWarnings (warnings printed), 1 for Failed or refused; `--plan`
 * exits 0 without problems, 1 with; 2 on usage errors.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { MixmeshError } from '../common/errors.js';
import { toJson, toYaml } from '../common/yaml.js';
import { ApiClient, ApiRejection, clientSettings, type ClientFlags } from './client/api.js';

type Flags = ClientFlags & Record<string, unknown>;
interface Io { out: NodeJS.WritableStream; err: NodeJS.WritableStream; env?: Readonly<Record<string, string | undefined>>; pollMs?: number }
const defaultIo = (): Io => ({ out: process.stdout, err: process.stderr });
const seg = (s: string) => encodeURIComponent(s);

function common(c: Command): Command {
  return c
    .option('--server <url>', 'orchestrator URL (MIXMESH_SERVER, default http://127.0.0.1:7070)')
    .option('--token <token>', 'API token (MIXMESH_TOKEN)')
    .option('-o, --output <format>', 'machine output on stdout: yaml or json');
}
const collect = (v: string, prev: string[] = []) => [...prev, v];

function pairs(list: unknown, flag: string, sep = ':'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of (list as string[] | undefined) ?? []) {
    const i = p.indexOf(sep);
    if (i <= 0 || i === p.length - 1) throw new MixmeshError('USAGE', `${flag} "${p}": use OLD${sep}NEW`);
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}

function print(io: Io, flags: Flags, value: unknown, human: () => string): void {
  if (flags.output === 'json') io.out.write(toJson(value));
  else if (flags.output === 'yaml') io.out.write(toYaml(value));
  else if (flags.output !== undefined) throw new MixmeshError('USAGE', `-o / --output: "${String(flags.output)}" is not allowed (yaml or json)`);
  else io.out.write(human());
}

function reject(io: Io, e: unknown, what: string): number {
  if (e instanceof ApiRejection) {
    io.err.write(`mixmesh: ${what}: ${e.code}: ${e.message}\n`);
    for (const p of e.errors ?? []) io.err.write(`  ${p.pointer}: ${p.message}\n`);
    return e.code === 'BAD_REQUEST' ? 2 : 1;
  }
  throw e;
}

function selection(flags: Flags): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (typeof flags.service === 'string') body.service = flags.service;
  if (typeof flags.node === 'string') body.node = flags.node;
  if (!body.service === !body.node) throw new MixmeshError('USAGE', 'give exactly one of --service NS/NAME or --node NODE');
  if (flags.includeNamespace) body.namespaces = flags.includeNamespace;
  if (flags.kind) body.kinds = flags.kind;
  if (typeof flags.selector === 'string') body.labelSelector = flags.selector;
  return body;
}

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

async function waitFor(api: ApiClient, path: string, io: Io, what: string): Promise<Record<string, unknown>> {
  let lastLine = '';
  for (;;) {
    const r = (await api.request('GET', path)).json as Record<string, unknown>;
    const phase = String(r.phase ?? 'New');
    const p = ((r.status as { progress?: Record<string, number> } | undefined)?.progress) ?? undefined;
    const line = p ? `${what}: ${phase} ${p.items}/${p.itemsTotal} items, ${mib(p.bytes ?? 0)} (${mib(p.bytesPerSecond ?? 0)}/s, ${p.itemsPerSecond} items/s)` : `${what}: ${phase}`;
    if (line !== lastLine) io.err.write(`${line}\n`);
    lastLine = line;
    if (['Completed', 'CompletedWithWarnings', 'Failed'].includes(phase)) return r;
    await new Promise((res) => setTimeout(res, io.pollMs ?? 500));
  }
}

export async function runBackupCreate(name: string, flags: Flags, io: Io = defaultIo()): Promise<number> {
  const api = new ApiClient(clientSettings(flags, io.env));
  const body = { name, ...selection(flags), ...(flags.store ? { store: flags.store } : {}), state: flags.state !== false, encrypt: flags.encrypt !== false };
  try {
    await api.request('POST', '/v1/backups', { body: JSON.stringify(body), contentType: 'application/json' });
  } catch (e) {
    return reject(io, e, `backup ${name}`);
  }
  io.err.write(`mixmesh: backup ${name} started\n`);
  if (!flags.wait) return 0;
  const r = await waitFor(api, `/v1/backups/${seg(name)}`, io, `backup ${name}`);
  const m = r.manifest as { warnings?: string[]; totals?: Record<string, number> } | undefined;
  for (const w of m?.warnings ?? []) io.err.write(`  warning: ${w}\n`);
  const err = (r.status as { error?: { code: string; message: string } } | undefined)?.error;
  if (err) io.err.write(`mixmesh: backup ${name} failed: ${err.code}: ${err.message}\n`);
  print(io, flags, r, () => `${name}\t${String(r.phase)}\t${m?.totals ? `${m.totals.items} items, ${mib(m.totals.dataBytes ?? 0)} data, ${mib(m.totals.storedBytes ?? 0)} stored` : ''}\n`);
  return r.phase === 'Failed' ? 1 : 0;
}

export async function runBackupList(flags: Flags, io: Io = defaultIo()): Promise<number> {
  const api = new ApiClient(clientSettings(flags, io.env));
  const q = flags.store ? `?store=${seg(String(flags.store))}` : '';
  try {
    const r = (await api.request('GET', `/v1/backups${q}`)).json as { store: string; items: Array<{ name: string; phase: string; inStore: { bytes: number } | null }> };
    print(io, flags, r, () => ['NAME\tPHASE\tSTORED', ...r.items.map((b) => `${b.name}\t${b.phase}\t${b.inStore ? mib(b.inStore.bytes) : '-'}`)].join('\n') + '\n');
    return 0;
  } catch (e) {
    return reject(io, e, 'backup list');
  }
}

export async function runBackupDescribe(name: string, flags: Flags, io: Io = defaultIo()): Promise<number> {
  const api = new ApiClient(clientSettings(flags, io.env));
  const q = flags.store ? `?store=${seg(String(flags.store))}` : '';
  try {
    const r = (await api.request('GET', `/v1/backups/${seg(name)}${q}`)).json as Record<string, unknown>;
    print(io, flags, r, () => {
      const m = r.manifest as { created: string; items: Array<{ kind: string; namespace?: string; name: string; result: string; reason?: string }>; data: Array<{ type: string; owner: string; path: string; files: number; bytes: number; result: string; reason?: string }>; state: Array<{ owner: string; method: string; result: string; reason?: string }>; warnings: string[]; encryption: { algorithm: string } } | undefined;
      if (!m) return toYaml(r);
      const lines = [`backup ${name}: ${String(r.phase)} (created ${m.created}, encryption ${m.encryption.algorithm})`, 'resources:'];
      for (const i of m.items) lines.push(`  ${i.kind} ${i.namespace ? `${i.namespace}/` : ''}${i.name}\t${i.result}${i.reason ? ` (${i.reason})` : ''}`);
      if (m.data.length) lines.push('data:');
      for (const d of m.data) lines.push(`  ${d.type} ${d.owner} ${d.path}\t${d.result}${d.reason ? ` (${d.reason})` : ''}\t${d.files} files, ${mib(d.bytes)}`);
      if (m.state.length) lines.push('state:');
      for (const s of m.state) lines.push(`  ${s.owner}\t${s.method} ${s.result}${s.reason ? ` (${s.reason})` : ''}`);
      for (const w of m.warnings) lines.push(`warning: ${w}`);
      return lines.join('\n') + '\n';
    });
    return 0;
  } catch (e) {
    return reject(io, e, `backup describe ${name}`);
  }
}

export async function runBackupDelete(name: string, flags: Flags, io: Io = defaultIo()): Promise<number> {
  const api = new ApiClient(clientSettings(flags, io.env));
  const q = flags.store ? `?store=${seg(String(flags.store))}` : '';
  try {
    await api.request('DELETE', `/v1/backups/${seg(name)}${q}`);
    io.err.write(`mixmesh: backup ${name} deleted from the store\n`);
    return 0;
  } catch (e) {
    return reject(io, e, `backup delete ${name}`);
  }
}

/** every object of the backup, verified and decrypted, into DIR (compressed objects written uncompressed) */
export async function runBackupDownload(name: string, dir: string, flags: Flags, io: Io = defaultIo()): Promise<number> {
  const s = clientSettings(flags, io.env);
  const api = new ApiClient(s);
  const q = flags.store ? `?store=${seg(String(flags.store))}` : '';
  try {
    const r = (await api.request('GET', `/v1/backups/${seg(name)}${q}`)).json as { manifest?: { objects: Array<{ path: string; gzip: boolean }> } };
    if (!r.manifest) throw new MixmeshError('BACKUP_INCOMPLETE', `backup ${name} is not complete`);
    const root = resolve(dir);
    writeFileSync(join(root, 'manifest.json'), JSON.stringify(r.manifest, null, 1), { flag: 'w' });
    for (const o of r.manifest.objects) {
      const res = await fetch(`${s.server}/v1/backups/${seg(name)}/objects/${o.path.split('/').map(seg).join('/')}${q}`, { headers: { authorization: `Bearer ${s.token ?? ''}` } });
      if (!res.ok) throw new ApiRejection(res.status, (await res.json().catch(() => ({}))) as Record<string, unknown>);
      const target = join(root, o.gzip ? o.path.replace(/\.gz$/, '') : o.path);
      if (!target.startsWith(root)) throw new MixmeshError('BACKUP_INTEGRITY', `object path ${o.path} leaves ${root}`);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, Buffer.from(await res.arrayBuffer()), { mode: 0o600 });
      io.err.write(`  ${target}\n`);
    }
    return 0;
  } catch (e) {
    return reject(io, e, `backup download ${name}`);
  }
}

export async function runRestoreCreate(name: string, flags: Flags, io: Io = defaultIo()): Promise<number> {
  const api = new ApiClient(clientSettings(flags, io.env));
  if (typeof flags.from !== 'string') throw new MixmeshError('USAGE', '--from BACKUP is required');
  const conflict = flags.conflict ?? 'skip';
  if (!['skip', 'update', 'recreate'].includes(String(conflict))) throw new MixmeshError('USAGE', `--conflict "${String(conflict)}": use skip, update or recreate`);
  const mappings = {
    namespaces: pairs(flags.namespaceMap, '--namespace-map'),
    storageClasses: pairs(flags.storageClassMap, '--storage-class-map'),
    images: pairs(flags.imageMap, '--image-map', '='),
    nodes: pairs(flags.nodeMap, '--node-map'),
    vmFlavours: pairs(flags.flavourMap, '--flavour-map'),
    vmPackages: pairs(flags.vnfPackageMap, '--vnf-package-map'),
  };
  const body = { name, backup: flags.from, conflict, mappings, plan: flags.plan === true, ...(flags.store ? { store: flags.store } : {}), ...(flags.data === false ? { data: false } : {}) };
  try {
    const r = await api.request('POST', '/v1/restores', { body: JSON.stringify(body), contentType: 'application/json' });
    if (flags.plan === true) {
      const plan = r.json as { problems: Array<{ pointer: string; message: string }>; items: Array<{ kind: string; namespace?: string; name: string; action: string; reason?: string }>; data: Array<{ owner: string; name: string; node: string; path: string; action: string }>; warnings: string[] };
      print(io, flags, plan, () => {
        const lines = plan.items.map((i) => `${i.action}\t${i.kind} ${i.namespace ? `${i.namespace}/` : ''}${i.name}${i.reason ? ` (${i.reason})` : ''}`);
        for (const d of plan.data) lines.push(`${d.action}\tdata ${d.owner}/${d.name} → ${d.node}:${d.path}`);
        for (const w of plan.warnings) lines.push(`warning: ${w}`);
        for (const p of plan.problems) lines.push(`problem: ${p.message}`);
        return lines.join('\n') + '\n';
      });
      return plan.problems.length ? 1 : 0;
    }
  } catch (e) {
    return reject(io, e, `restore ${name}`);
  }
  io.err.write(`mixmesh: restore ${name} from ${String(flags.from)} started\n`);
  if (!flags.wait) return 0;
  const r = await waitFor(api, `/v1/restores/${seg(name)}`, io, `restore ${name}`);
  const st = r.status as { warnings?: string[]; firstCause?: { code: string; message: string } | null; counts?: Record<string, number>; problems?: Array<{ message: string }> };
  for (const w of st.warnings ?? []) io.err.write(`  warning: ${w}\n`);
  for (const p of st.problems ?? []) io.err.write(`  problem: ${p.message}\n`);
  if (st.firstCause) io.err.write(`mixmesh: restore ${name} failed: ${st.firstCause.code}: ${st.firstCause.message}\n`);
  print(io, flags, r, () => `${name}\t${String(r.phase)}\t${Object.entries(st.counts ?? {}).map(([k, v]) => `${k} ${v}`).join(', ')}\n`);
  return r.phase === 'Failed' ? 1 : 0;
}

export async function runRestoreDescribe(name: string, flags: Flags, io: Io = defaultIo()): Promise<number> {
  const api = new ApiClient(clientSettings(flags, io.env));
  try {
    const r = (await api.request('GET', `/v1/restores/${seg(name)}`)).json as Record<string, unknown>;
    print(io, flags, r, () => {
      const st = r.status as { items?: Array<{ kind: string; namespace?: string; name: string; action: string; reason?: string; message?: string }>; data?: Array<{ owner: string; name: string; node: string; path: string; action: string; reason?: string }>; warnings?: string[]; firstCause?: { code: string; message: string } | null };
      const lines = [`restore ${name} from ${String((r.spec as { backup: string }).backup)}: ${String(r.phase)}`];
      for (const i of st.items ?? []) lines.push(`  ${i.action}\t${i.kind} ${i.namespace ? `${i.namespace}/` : ''}${i.name}${i.reason ? ` (${i.reason}${i.message && i.action === 'failed' ? `: ${i.message}` : ''})` : ''}`);
      for (const d of st.data ?? []) lines.push(`  ${d.action}\tdata ${d.owner}/${d.name} → ${d.node}:${d.path}${d.reason ? ` (${d.reason})` : ''}`);
      for (const w of st.warnings ?? []) lines.push(`warning: ${w}`);
      if (st.firstCause) lines.push(`first cause: ${st.firstCause.code}: ${st.firstCause.message}`);
      return lines.join('\n') + '\n';
    });
    return 0;
  } catch (e) {
    return reject(io, e, `restore describe ${name}`);
  }
}

export async function runCancel(kind: 'restores' | 'backups', name: string, flags: Flags, io: Io = defaultIo()): Promise<number> {
  const api = new ApiClient(clientSettings(flags, io.env));
  try {
    await api.request('POST', `/v1/${kind}/${seg(name)}/cancel`);
    io.err.write(`mixmesh: ${kind === 'restores' ? 'restore' : 'backup'} ${name}: cancel requested\n`);
    return 0;
  } catch (e) {
    return reject(io, e, `cancel ${name}`);
  }
}

export async function runSchedule(action: 'create' | 'list' | 'delete', name: string | undefined, flags: Flags, io: Io = defaultIo()): Promise<number> {
  const api = new ApiClient(clientSettings(flags, io.env));
  try {
    if (action === 'create') {
      if (typeof flags.cron !== 'string') throw new MixmeshError('USAGE', '--cron EXPR is required (CRON_TZ=Zone allowed in front)');
      const keep = flags.keep === undefined ? undefined : Number(flags.keep);
      if (keep !== undefined && (!Number.isInteger(keep) || keep < 1)) throw new MixmeshError('USAGE', `--keep "${String(flags.keep)}": a whole number ≥ 1`);
      const body = { name, cron: flags.cron, ...selection(flags), ...(keep ? { keep } : {}), ...(flags.ttl ? { ttl: flags.ttl } : {}), ...(flags.store ? { store: flags.store } : {}) };
      await api.request('POST', '/v1/schedules', { body: JSON.stringify(body), contentType: 'application/json' });
      io.err.write(`mixmesh: schedule ${String(name)} created\n`);
    } else if (action === 'delete') {
      await api.request('DELETE', `/v1/schedules/${seg(String(name))}`);
      io.err.write(`mixmesh: schedule ${String(name)} deleted\n`);
    } else {
      const r = (await api.request('GET', '/v1/schedules')).json as { items: Array<{ name: string; cron: string; keep?: number; ttl?: string; status: { lastBackup?: string; lastSuccessfulBackup?: string } }> };
      print(io, flags, r, () => ['NAME\tCRON\tKEEP\tTTL\tLAST SUCCESSFUL', ...r.items.map((s) => `${s.name}\t${s.cron}\t${s.keep ?? '-'}\t${s.ttl ?? '-'}\t${s.status.lastSuccessfulBackup ?? '-'}`)].join('\n') + '\n');
    }
    return 0;
  } catch (e) {
    return reject(io, e, `schedule ${action}`);
  }
}

export function registerBackupCommands(program: Command): void {
  const backup = program.command('backup').description('back up a service or a node to a store (backup.md)');
  const sel = (c: Command) => c
    .option('--service <ns/name>', 'a MeshService: its objects, what its pods reference, its VMs')
    .option('--node <node>', 'a node: its pods, their owners, Services and references')
    .option('--include-namespace <ns>', 'only these namespaces (repeat)', collect)
    .option('--kind <kind>', 'only these kinds (kind or resource.group; repeat)', collect)
    .option('-l, --selector <labels>', 'only objects with these labels')
    .option('--store <url|name>', 'file:///dir, s3://bucket/prefix or a BackupStore name (default: the configured store)');
  const run = (fn: () => Promise<number>) => async () => { process.exitCode = await fn(); };
  sel(common(backup.command('create').argument('<name>'))).option('--no-state', 'do not take in-memory state').option('--no-encrypt', 'store unencrypted (recorded in the manifest)').option('--wait', 'wait and print progress')
    .action(async (name: string, o: Flags) => run(() => runBackupCreate(name, o))());
  common(backup.command('list')).option('--store <url|name>', 'the store').action(async (o: Flags) => run(() => runBackupList(o))());
  common(backup.command('describe').argument('<name>')).option('--store <url|name>', 'the store').action(async (name: string, o: Flags) => run(() => runBackupDescribe(name, o))());
  common(backup.command('delete').argument('<name>')).option('--store <url|name>', 'the store').action(async (name: string, o: Flags) => run(() => runBackupDelete(name, o))());
  common(backup.command('download').argument('<name>').argument('<dir>')).option('--store <url|name>', 'the store').action(async (name: string, dir: string, o: Flags) => run(() => runBackupDownload(name, dir, o))());
  common(backup.command('cancel').argument('<name>')).action(async (name: string, o: Flags) => run(() => runCancel('backups', name, o))());

  const restore = program.command('restore').description('restore a backup (verified first; --plan changes nothing)');
  const restoreOpts = (c: Command) => common(c)
    .requiredOption('--from <backup>', 'the backup')
    .option('--store <url|name>', 'the store')
    .option('--namespace-map <old:new>', 'repeat', collect)
    .option('--storage-class-map <old:new>', 'repeat', collect)
    .option('--image-map <oldprefix=newprefix>', 'image prefix rewrite; repeat', collect)
    .option('--node-map <old:new>', 'repeat', collect)
    .option('--flavour-map <old:new>', 'VM flavour on the target cloud; repeat', collect)
    .option('--vnf-package-map <old:new>', 'VNF package (vnfdId) on the target cloud; repeat', collect)
    .option('--conflict <policy>', 'skip | update | recreate', 'skip')
    .option('--no-data', 'resources only');
  restoreOpts(restore.command('create').argument('<name>')).option('--plan', 'preflight and plan only').option('--wait', 'wait and print progress')
    .action(async (name: string, o: Flags) => run(() => runRestoreCreate(name, o))());
  restoreOpts(restore.command('plan').argument('<name>')).action(async (name: string, o: Flags) => run(() => runRestoreCreate(name, { ...o, plan: true }))());
  common(restore.command('describe').argument('<name>')).action(async (name: string, o: Flags) => run(() => runRestoreDescribe(name, o))());
  common(restore.command('cancel').argument('<name>')).action(async (name: string, o: Flags) => run(() => runCancel('restores', name, o))());

  const schedule = program.command('schedule').description('automatic backups (cron with CRON_TZ, keep, ttl)');
  sel(common(schedule.command('create').argument('<name>'))).requiredOption('--cron <expr>', 'cron expression (5 or 6 fields; CRON_TZ=Zone in front)').option('--keep <n>', 'keep the newest N').option('--ttl <duration>', 'drop backups older than this (e.g. 720h, 30d)')
    .action(async (name: string, o: Flags) => run(() => runSchedule('create', name, o))());
  common(schedule.command('list')).action(async (o: Flags) => run(() => runSchedule('list', undefined, o))());
  common(schedule.command('delete').argument('<name>')).action(async (name: string, o: Flags) => run(() => runSchedule('delete', name, o))());
}
