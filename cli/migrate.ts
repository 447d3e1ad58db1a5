/**
 * `mixmesh migrate (--node N | --service NS/NAME) --to TARGET [--backup NAME] [--plan] [--wait]`,
 * `mixmesh migrate describe NAME`, `mixmesh migrate list`: thin clients of `/v1/migrations`.
 * `--wait` prints each step as it happens on stderr and exits 0 for Completed or
 * CompletedWithWarnings, 1 for Failed; `--plan` exits 0 without problems, 1 with; 2 on usage errors.
 */
import type { Command } from 'commander';
import { MixmeshError } from '../common/errors.js';
import { toJson, toYaml } from '../common/yaml.js';
import { ApiClient, ApiRejection, clientSettings, type ClientFlags } from './client/api.js';

type Flags = ClientFlags & Record<string, unknown>;
export interface MigrateIo { out: NodeJS.WritableStream; err: NodeJS.WritableStream; env?: Readonly<Record<string, string | undefined>>; pollMs?: number }
const defaultIo = (): MigrateIo => ({ out: process.stdout, err: process.stderr });

function print(io: MigrateIo, flags: Flags, value: unknown, human: () => string): void {
  if (flags.output === 'json') io.out.write(toJson(value));
  else if (flags.output === 'yaml') io.out.write(toYaml(value));
  else if (flags.output !== undefined) throw new MixmeshError('USAGE', `-o / --output: "${String(flags.output)}" is not allowed (yaml or json)`);
  else io.out.write(human());
}

function reject(io: MigrateIo, e: unknown, what: string): number {
  if (e instanceof ApiRejection) {
    io.err.write(`mixmesh: ${what}: ${e.code}: ${e.message}\n`);
    for (const p of e.errors ?? []) io.err.write(`  ${p.pointer}: ${p.message}\n`);
    return e.code === 'BAD_REQUEST' ? 2 : 1;
  }
  throw e;
}

interface Step { name: string; state: string; ms?: number; message?: string }
interface Described { name: string; phase: string; spec: Record<string, unknown>; status: { step?: string; steps?: Step[]; error?: { code: string; message: string; step?: string } | null; rolledBack?: string[]; report?: Record<string, unknown>; worker?: Record<string, unknown>; resumed?: number } }

const secs = (ms?: number) => (ms === undefined ? '' : `${(ms / 1000).toFixed(1)} s`);

/** The `describe` text: what moved, timings per step, cold starts and why, the target's status. */
export function describeText(d: Described): string {
  const lines = [`migration ${d.name}: ${d.phase} (${d.spec.node ? `node ${String(d.spec.node)}` : `service ${JSON.stringify(d.spec.service)}`} → ${String(d.spec.to)}${d.status.resumed ? `, resumed ${d.status.resumed}×` : ''})`, 'steps:'];
  for (const s of d.status.steps ?? []) lines.push(`  ${s.name.padEnd(10)} ${s.state.padEnd(8)} ${secs(s.ms).padStart(8)}  ${s.message ?? ''}`);
  if (d.status.error) lines.push(`error: ${d.status.error.code} in ${d.status.error.step ?? '?'}: ${d.status.error.message}`);
  for (const r of d.status.rolledBack ?? []) lines.push(`rolled back: ${r}`);
  const r = d.status.report as { node?: { name: string; address: string; vnfInstanceName: string; ready: boolean }; moved: { resources: Array<{ kind: string; namespace?: string; name: string }>; data: Array<{ owner: string; path: string; node: string; files?: number; action: string }> }; pinned: string[]; coldStarts: Array<{ owner: string; reason: string; node?: string }>; stateRestored?: Array<{ owner: string; node?: string }>; warnings: string[]; credentials?: string[]; services: Array<{ namespace: string; name: string; phase: string; vms?: Array<{ name: string; address?: string }>; workloadEntries?: Array<{ name: string; address: string }> }>; totalMs: number; backup: string } | undefined;
  if (r) {
    lines.push(`backup: ${r.backup}`);
    if (r.node) lines.push(`target node: ${r.node.name} (${r.node.address}, VNF ${r.node.vnfInstanceName}) ${r.node.ready ? 'Ready' : 'NOT Ready'}`);
    lines.push(`moved: ${r.moved.resources.length} object(s)`);
    for (const o of r.moved.resources) lines.push(`  ${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`);
    for (const x of r.moved.data) lines.push(`  data ${x.owner} ${x.path} → ${x.node}: ${x.action}${x.files !== undefined ? ` (${x.files} files)` : ''}`);
    for (const p of r.pinned) lines.push(`pinned to the new node: ${p}`);
    for (const c of r.stateRestored ?? []) lines.push(`state restored: ${c.owner}${c.node ? ` on ${c.node}` : ''}`);
    for (const c of r.coldStarts) lines.push(`cold start: ${c.owner}: ${c.reason}`);
    for (const c of r.credentials ?? []) lines.push(`credentials: ${c}: the target's VM key`);
    for (const s of r.services) {
      lines.push(`service ${s.namespace}/${s.name}: ${s.phase}`);
      for (const v of s.vms ?? []) lines.push(`  VM ${v.name} at ${v.address ?? '(no address)'}`);
      for (const e of s.workloadEntries ?? []) lines.push(`  WorkloadEntry ${e.name} → ${e.address}`);
    }
    for (const w of r.warnings) lines.push(`warning: ${w}`);
    lines.push(`total: ${secs(r.totalMs)}`);
  }
  return lines.join('\n') + '\n';
}

export async function runMigrate(flags: Flags, io: MigrateIo = defaultIo()): Promise<number> {
  const body: Record<string, unknown> = {};
  if (typeof flags.node === 'string') body.node = flags.node;
  if (typeof flags.service === 'string') body.service = flags.service;
  if (!body.node === !body.service) throw new MixmeshError('USAGE', 'give exactly one of --node NODE or --service NS/NAME');
  if (typeof flags.to !== 'string' || !flags.to) throw new MixmeshError('USAGE', '--to TARGET is required (a target cloud named in the orchestrator\'s MIXMESH_MIGRATE_TARGETS)');
  body.to = flags.to;
  if (typeof flags.backup === 'string') body.backup = flags.backup;
  if (typeof flags.name === 'string') body.name = flags.name;
  if (flags.plan) body.plan = true;
  const api = new ApiClient(clientSettings(flags, io.env));
  let r: Record<string, unknown>;
  try {
    r = (await api.request('POST', '/v1/migrations', { body: JSON.stringify(body), contentType: 'application/json' })).json as Record<string, unknown>;
  } catch (e) {
    return reject(io, e, 'migrate');
  }
  if (flags.plan) {
    const problems = (r.problems as Array<{ pointer: string; message: string }> | undefined) ?? [];
    print(io, flags, r, () => {
      const w = r.worker as { vnfInstanceName: string; nodeName: string; vnfdId: string; flavourId: string };
      const restore = r.restore as { items: Array<{ kind: string; namespace?: string; name: string; action: string; reason?: string }>; data: Array<{ owner: string; path: string; node: string; action: string }> } | undefined;
      const lines = [`plan ${String(r.name)}: backup ${String(r.backup ?? '(none)')} → ${String(body.to)}`, `  worker VNF ${w.vnfInstanceName} from package ${w.vnfdId} flavour ${w.flavourId}, node ${w.nodeName}`];
      for (const i of restore?.items ?? []) lines.push(`  ${i.action.padEnd(7)} ${i.kind} ${i.namespace ? `${i.namespace}/` : ''}${i.name}${i.reason ? ` (${i.reason})` : ''}`);
      for (const d of restore?.data ?? []) lines.push(`  ${d.action.padEnd(7)} data ${d.owner} ${d.path} → ${d.node}`);
      for (const p of problems) lines.push(`problem ${p.pointer}: ${p.message}`);
      return lines.join('\n') + '\n';
    });
    return problems.length ? 1 : 0;
  }
  const name = String(r.name);
  io.err.write(`mixmesh: migration ${name} started\n`);
  if (!flags.wait) return 0;
  const seen = new Set<string>();
  for (;;) {
    const d = (await api.request('GET', `/v1/migrations/${encodeURIComponent(name)}`)).json as unknown as Described;
    for (const s of d.status.steps ?? []) {
      const key = `${s.name}/${s.state}`;
      if (seen.has(key)) continue;
      seen.add(key);
      io.err.write(`migration ${name}: ${s.name} ${s.state}${s.ms !== undefined ? ` (${secs(s.ms)})` : ''}${s.message ? `: ${s.message}` : ''}\n`);
    }
    if (['Completed', 'CompletedWithWarnings', 'Failed'].includes(d.phase)) {
      print(io, flags, d, () => describeText(d));
      return d.phase === 'Failed' ? 1 : 0;
    }
    await new Promise((res) => setTimeout(res, io.pollMs ?? 500));
  }
}

export async function runMigrateDescribe(name: string, flags: Flags, io: MigrateIo = defaultIo()): Promise<number> {
  const api = new ApiClient(clientSettings(flags, io.env));
  try {
    const d = (await api.request('GET', `/v1/migrations/${encodeURIComponent(name)}`)).json as unknown as Described;
    print(io, flags, d, () => describeText(d));
    return 0;
  } catch (e) {
    return reject(io, e, `migrate describe ${name}`);
  }
}

export async function runMigrateList(flags: Flags, io: MigrateIo = defaultIo()): Promise<number> {
  const api = new ApiClient(clientSettings(flags, io.env));
  try {
    const r = (await api.request('GET', '/v1/migrations')).json as { items: Array<{ name: string; node?: string; service?: { namespace: string; name: string }; to: string; phase: string; step: string | null }> };
    print(io, flags, r, () => ['NAME\tFROM\tTO\tPHASE\tSTEP', ...r.items.map((m) => `${m.name}\t${m.node ?? `${m.service?.namespace}/${m.service?.name}`}\t${m.to}\t${m.phase}\t${m.step ?? '-'}`)].join('\n') + '\n');
    return 0;
  } catch (e) {
    return reject(io, e, 'migrate list');
  }
}

export function registerMigrateCommands(program: Command): void {
  const common = (c: Command): Command => c
    .option('--server <url>', 'orchestrator URL (MIXMESH_SERVER, default http://127.0.0.1:7070)')
    .option('--token <token>', 'API token (MIXMESH_TOKEN)')
    .option('-o, --output <format>', 'machine output on stdout: yaml or json');
  const run = (fn: () => Promise<number>) => async () => { process.exitCode = await fn(); };
  const migrate = common(program.command('migrate').description('move a lost node\'s or a service\'s workloads to another cloud: new worker VM, kubeadm join, restore (backup.md)'))
    .option('--node <node>', 'the node whose workloads move')
    .option('--service <ns/name>', 'the MeshService that moves')
    .option('--to <target>', 'a target cloud named in the orchestrator\'s configuration')
    .option('--backup <name>', 'this backup (default: the newest complete one of the node or service)')
    .option('--name <id>', 'the migration\'s name (default: from the node/service and the time)')
    .option('--plan', 'preflight and plan only: list every problem, change nothing')
    .option('--wait', 'wait and print each step')
    .addHelpText('after', '\nA lost node and the service on it: start two migrations to the same target, e.g.\n  mixmesh migrate --node worker-1 --to cloud-2 --name worker-1-move\n  mixmesh migrate --service cafe/iot-cafe --to cloud-2 --name cafe-move\nthey run side by side; `mixmesh migrate describe worker-1-move cafe-move` reports both (docs/backup.md, "Migration").')
    .action(async (o: Flags) => run(() => runMigrate(o))());
  // the parent takes --server/--token/-o wherever they are written: the subcommands read them from it
  // several names: a node and the service on it, moved as two migrations, reported one after the other
  common(migrate.command('describe').argument('<name...>').description('what moved, timings per step, state restored, cold starts and why, the target\'s status (one report per name)')).action(async (names: string[], o: Flags, cmd: Command) => run(async () => {
    let rc = 0;
    for (const name of names) rc = Math.max(rc, await runMigrateDescribe(name, { ...cmd.parent?.opts(), ...o }));
    return rc;
  })());
  common(migrate.command('list').description('the migrations')).action(async (o: Flags, cmd: Command) => run(() => runMigrateList({ ...cmd.parent?.opts(), ...o }))());
}
