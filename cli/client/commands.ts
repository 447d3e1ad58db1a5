/**
 * `mixmesh apply -f FILE`, `plan -f FILE`, `get [NAME] [-A]`, `status NAME`, `events NAME
 * [--follow]`, `delete NAME`: a thin client of the orchestrator API (docs/cli.md).
 * Exit codes: 0 ok, 1 rejected/failed/rolled back, 2 usage. Progress and messages go to stderr,
 * machine output (-o yaml|json) to stdout.
 */
import { readFileSync, statSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { MixmeshError } from '../../common/errors.js';
import { buildInfo } from '../../common/version.js';
import { toJson, toYaml } from '../../common/yaml.js';
import { ApiClient, ApiRejection, clientSettings, servicePath, type ClientFlags } from './api.js';

export interface Io {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  env?: Readonly<Record<string, string | undefined>>;
  /** how often to look at a running operation (default 500 ms) */
  pollMs?: number;
  readStdin?: () => string;
}

const defaultIo = (): Io => ({ out: process.stdout, err: process.stderr });

type Flags = ClientFlags & Record<string, unknown>;

function outputFormat(flags: Flags): 'yaml' | 'json' | undefined {
  const o = flags.output;
  if (o === undefined) return undefined;
  if (o !== 'yaml' && o !== 'json') throw new MixmeshError('USAGE', `-o / --output: "${String(o)}" is not allowed (yaml or json)`);
  return o;
}

function printMachine(io: Io, format: 'yaml' | 'json', value: unknown): void {
  io.out.write(format === 'json' ? toJson(value) : toYaml(value));
}

/** "10m", "30s", "1h", "1500ms" → milliseconds */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new MixmeshError('USAGE', `${flag}: "${text}" is not a duration (e.g. 30s, 10m, 1h)`);
  const n = Number(m[1]);
  return Math.round(n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h']);
}

function readDescriptor(file: unknown, io: Io): { text: string; name: string; namespace: string | undefined } {
  if (typeof file !== 'string' || file === '') throw new MixmeshError('USAGE', '-f FILE is required (a descriptor; - for stdin)');
  let text: string;
  try {
    if (file === '-') text = (io.readStdin ?? (() => readFileSync(0, 'utf8')))();
    else {
      if (statSync(file).size > 4 * 1024 * 1024) throw new MixmeshError('USAGE', `${file}: larger than 4 MiB`);
      text = readFileSync(file, 'utf8');
    }
  } catch (e) {
    if (e instanceof MixmeshError) throw e;
    throw new MixmeshError('USAGE', `${file}: cannot be read: ${(e as Error).message}`);
  }
  // just enough parsing to find the path; the server validates everything
  let doc: unknown;
  try { doc = parseYaml(text, { maxAliasCount: 100 }); } catch { doc = undefined; }
  const meta = (doc && typeof doc === 'object' ? (doc as { metadata?: { name?: unknown; namespace?: unknown } }).metadata : undefined) ?? {};
  if (typeof meta.name !== 'string' || meta.name === '') throw new MixmeshError('USAGE', `${file}: no metadata.name (is it a MeshService descriptor? \`mixmesh validate ${file}\` says more)`);
  return { text, name: meta.name, namespace: typeof meta.namespace === 'string' ? meta.namespace : undefined };
}

/**
 * print a rejection the way `mixmesh validate` prints problems: with a list (errors[]), the
 * headline is the problem's title and each item is printed once; without one, the detail.
 */
function reportRejection(io: Io, e: unknown, what: string, exitCode = 1): number {
  if (e instanceof ApiRejection) {
    const items = e.errors ?? [];
    const title = typeof e.problem.title === 'string' && e.problem.title !== e.code ? e.problem.title : undefined;
    const headline = items.length ? `${title ?? `${items.length} problem(s)`}` : e.message;
    io.err.write(`mixmesh: ${what} rejected: ${e.httpStatus} ${e.code}: ${headline}\n`);
    for (const p of items) io.err.write(`  ${p.pointer || '(document)'}: ${p.message}\n`);
    return exitCode;
  }
  throw e;
}

/** a list for -o yaml|json, as kubectl prints one */
function asList(items: unknown[]): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'List', items, metadata: {} };
}

const TERMINAL = new Set(['Succeeded', 'Failed', 'RolledBack']);

interface EventItem { id: string; time: string; type: string; reason: string; note: string }

/** follow one operation to its end, printing new events as progress */
async function waitForOperation(api: ApiClient, io: Io, ns: string, name: string, opId: string, timeoutMs: number, since: number): Promise<{ state: string; error?: string }> {
  const deadline = Date.now() + timeoutMs;
  const seen = new Set<string>();
  for (;;) {
    try {
      const events = (await api.request('GET', servicePath(ns, name, '/events'))).json as { items: EventItem[] };
      for (const e of events.items) {
        if (seen.has(e.id)) continue;
        seen.add(e.id);
        // this operation's story, not the service's whole history (1 s of clock skew allowed)
        if (Date.parse(e.time) >= since - 1000) io.err.write(`  ${e.time.slice(11, 19)} ${e.type === 'Warning' ? '!' : ' '} ${e.reason}: ${e.note}\n`);
      }
    } catch (e) {
      if (!(e instanceof ApiRejection && e.httpStatus === 404)) throw e;
    }
    let op: { state: string; error?: string } | undefined;
    try {
      op = (await api.request('GET', `/v1/operations/${encodeURIComponent(opId)}`)).json as { state: string; error?: string };
    } catch (e) {
      if (!(e instanceof ApiRejection && e.httpStatus === 404)) throw e;
    }
    if (op && TERMINAL.has(op.state)) return op;
    if (Date.now() > deadline) return { state: 'Timeout', error: `still ${op?.state ?? 'unknown'} after ${Math.round(timeoutMs / 1000)} s` };
    await new Promise((r) => setTimeout(r, io.pollMs ?? 500));
  }
}

export async function runApply(flags: Flags, io: Io = defaultIo()): Promise<number> {
  const s = clientSettings(flags, io.env);
  const format = outputFormat(flags);
  const d = readDescriptor(flags.file ?? flags.filename, io);
  const namespace = d.namespace ?? s.namespace;
  const wait = flags.wait === undefined || flags.wait === true || flags.wait === 'true';
  if (flags.wait !== undefined && typeof flags.wait === 'string' && !['true', 'false'].includes(flags.wait)) throw new MixmeshError('USAGE', `--wait: "${flags.wait}" is not true or false`);
  const timeoutMs = parseDuration(typeof flags.timeout === 'string' ? flags.timeout : '10m', '--timeout');
  const api = new ApiClient(s);
  const since = Date.now();
  let accepted: { namespace: string; name: string; generation: number; operationId: string; unchanged?: boolean };
  try {
    accepted = (await api.request('PUT', servicePath(namespace, d.name), { body: d.text, contentType: 'application/yaml' })).json as typeof accepted;
  } catch (e) {
    return reportRejection(io, e, `apply ${namespace}/${d.name}`);
  }
  if (accepted.unchanged) {
    // nothing was written: say so, and do not replay the last operation's story
    const svc = (await api.request('GET', servicePath(namespace, d.name))).json as { status?: { phase?: string } };
    let phase = svc.status?.phase ?? 'Pending';
    if (wait && !['Ready', 'Failed', 'Degraded'].includes(phase)) {
      const result = await waitForOperation(api, io, namespace, d.name, accepted.operationId, timeoutMs, Number.POSITIVE_INFINITY);
      if (result.state !== 'Succeeded') phase = result.state;
      else phase = (((await api.request('GET', servicePath(namespace, d.name))).json as { status?: { phase?: string } }).status?.phase) ?? 'Ready';
    }
    io.err.write(`mixmesh: ${namespace}/${d.name} unchanged (generation ${accepted.generation}, ${phase})\n`);
    if (format) printMachine(io, format, wait ? (await api.request('GET', servicePath(namespace, d.name))).json : accepted);
    return phase === 'Failed' || phase === 'RolledBack' || phase === 'Timeout' ? 1 : 0;
  }
  io.err.write(`mixmesh: ${namespace}/${d.name} generation ${accepted.generation} accepted (operation ${accepted.operationId})\n`);
  if (!wait) {
    if (format) printMachine(io, format, accepted);
    return 0;
  }
  const result = await waitForOperation(api, io, namespace, d.name, accepted.operationId, timeoutMs, since);
  const svc = (await api.request('GET', servicePath(namespace, d.name))).json as { status?: { phase?: string } };
  if (format) printMachine(io, format, svc);
  if (result.state === 'Succeeded') {
    io.err.write(`mixmesh: ${namespace}/${d.name} is ${svc.status?.phase ?? 'Ready'}\n`);
    return 0;
  }
  io.err.write(`mixmesh: ${namespace}/${d.name}: operation ${result.state}${result.error ? `: ${result.error}` : ''}\n`);
  return 1;
}

interface PlanChange { action: string; kind: string; namespace?: string; name: string; diff?: { path: string; from?: unknown; to?: unknown }[] }

/**
 * `mixmesh plan -f FILE`: the server's dry run, after the same preflight as apply. Exit codes as
 * `kubectl diff`: 0 nothing would change, 1 something would, 2 (>1) an error (rejected,
 * preflight failed, server unreachable, usage).
 */
export async function runPlan(flags: Flags, io: Io = defaultIo()): Promise<number> {
  const s = clientSettings(flags, io.env);
  const format = outputFormat(flags);
  const d = readDescriptor(flags.file ?? flags.filename, io);
  const namespace = d.namespace ?? s.namespace;
  const api = new ApiClient(s);
  let plan: { changes: PlanChange[]; tacker: { action: string; vnfInstanceName: string }[]; vms: unknown[] };
  try {
    plan = (await api.request('POST', servicePath(namespace, d.name, '/plan'), { body: d.text, contentType: 'application/yaml' })).json as typeof plan;
  } catch (e) {
    return reportRejection(io, e, `plan ${namespace}/${d.name}`, PLAN_ERROR);
  }
  const vnfCreates = plan.tacker.filter((t) => t.action === 'create').length;
  const changed = plan.changes.some((c) => c.action !== 'unchanged') || vnfCreates > 0;
  if (format) {
    printMachine(io, format, plan);
    return changed ? 1 : 0;
  }
  const sign: Record<string, string> = { create: '+', update: '~', delete: '-', unchanged: '=' };
  const counts: Record<string, number> = {};
  for (const c of plan.changes) {
    counts[c.action] = (counts[c.action] ?? 0) + 1;
    if (c.action === 'unchanged') continue;
    io.out.write(`${sign[c.action] ?? '?'} ${c.action} ${c.kind} ${c.namespace ? `${c.namespace}/` : ''}${c.name}\n`);
    for (const f of c.diff ?? []) io.out.write(`    ${f.path}: ${f.from === undefined ? '(unset)' : JSON.stringify(f.from)} -> ${f.to === undefined ? '(removed)' : JSON.stringify(f.to)}\n`);
  }
  for (const t of plan.tacker) if (t.action !== 'unchanged') io.out.write(`+ create VNF instance ${t.vnfInstanceName}\n`);
  io.err.write(`mixmesh: plan: ${['create', 'update', 'delete', 'unchanged'].map((a) => `${counts[a] ?? 0} ${a}`).join(', ')}; ${vnfCreates} VNF instance(s) to create${changed ? '' : ' (no changes)'}\n`);
  return changed ? 1 : 0;
}

/** plan's exit code for errors (kubectl diff: >1) */
export const PLAN_ERROR = 2;

function age(created: string | undefined): string {
  if (!created) return '-';
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(created)) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.floor(s / 60)}m` : s < 172800 ? `${Math.floor(s / 3600)}h` : `${Math.floor(s / 86400)}d`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('')).join('\n') + '\n';
}

type ServiceView = { metadata: { name: string; namespace: string; generation?: number; creationTimestamp?: string }; status?: { phase?: string; observedGeneration?: number; conditions?: { type: string; status: string; reason: string; message: string }[]; microservices?: { name: string; version: string; runtime: string; ready: number; desired: number; instances?: Record<string, unknown>[] }[]; operations?: { id: string; state: string; steps: { name: string; startedAt: string; endedAt?: string; error?: string }[]; error?: string }[] } };

function requireName(name: unknown, command: string): string {
  if (typeof name !== 'string' || name === '') throw new MixmeshError('USAGE', `mixmesh ${command} NAME: the service name is required`);
  return name;
}

export async function runGet(name: string | undefined, flags: Flags, io: Io = defaultIo()): Promise<number> {
  const s = clientSettings(flags, io.env);
  const format = outputFormat(flags);
  const api = new ApiClient(s);
  try {
    if (name) {
      const svc = (await api.request('GET', servicePath(s.namespace, name))).json as ServiceView;
      if (format) printMachine(io, format, svc);
      else io.out.write(table([['NAMESPACE', 'NAME', 'PHASE', 'GENERATION', 'AGE'], [svc.metadata.namespace, svc.metadata.name, svc.status?.phase ?? 'Pending', String(svc.metadata.generation ?? ''), age(svc.metadata.creationTimestamp)]]));
      return 0;
    }
    const all = flags.allNamespaces === true;
    const list = ((await api.request('GET', `/v1/services${all ? '' : `?namespace=${encodeURIComponent(s.namespace)}`}`)).json as { items: ServiceView[] }).items;
    if (format) {
      printMachine(io, format, asList(list));
      return 0;
    }
    if (list.length === 0) {
      io.err.write(`mixmesh: no services${all ? '' : ` in namespace ${s.namespace}`}\n`);
      return 0;
    }
    io.out.write(table([['NAMESPACE', 'NAME', 'PHASE', 'GENERATION', 'AGE'], ...list.map((v) => [v.metadata.namespace, v.metadata.name, v.status?.phase ?? 'Pending', String(v.metadata.generation ?? ''), age(v.metadata.creationTimestamp)])]));
    return 0;
  } catch (e) {
    return reportRejection(io, e, 'get');
  }
}

export async function runStatus(name: unknown, flags: Flags, io: Io = defaultIo()): Promise<number> {
  const n = requireName(name, 'status');
  const s = clientSettings(flags, io.env);
  const format = outputFormat(flags);
  const api = new ApiClient(s);
  let svc: ServiceView;
  try {
    svc = (await api.request('GET', servicePath(s.namespace, n))).json as ServiceView;
  } catch (e) {
    return reportRejection(io, e, `status ${s.namespace}/${n}`);
  }
  if (format) {
    printMachine(io, format, svc.status ?? {});
    return 0;
  }
  const st = svc.status ?? {};
  const lines = [`${s.namespace}/${n}: ${st.phase ?? 'Pending'} (generation ${svc.metadata.generation ?? '?'}, observed ${st.observedGeneration ?? '-'})`];
  for (const c of st.conditions ?? []) lines.push(`  ${c.type}=${c.status} ${c.reason}${c.status === 'True' ? '' : `: ${c.message.split('\n').join('; ')}`}`);
  if (st.microservices?.length) {
    lines.push('');
    lines.push(table([['MICROSERVICE', 'VERSION', 'RUNTIME', 'READY'], ...st.microservices.map((m) => [m.name, m.version, m.runtime, `${m.ready}/${m.desired}`])]).trimEnd());
    for (const m of st.microservices) for (const i of m.instances ?? []) {
      lines.push(`  ${m.name}-${m.version}[${String(i.index)}]: VNF ${String(i.vnfInstanceId ?? '-')} server ${String(i.serverId ?? '-')} address ${String(i.address ?? '-')} sidecar ${String(i.sidecar ?? '-')}${i.lastError ? ` error: ${String(i.lastError)}` : ''}`);
    }
  }
  const op = st.operations?.at(-1);
  if (op) {
    lines.push('', `last operation ${op.id}: ${op.state}${op.error ? `: ${op.error}` : ''}`);
    for (const step of op.steps) lines.push(`  ${step.name} ${step.startedAt.slice(11, 19)}${step.endedAt ? `–${step.endedAt.slice(11, 19)}` : ' …'}${step.error ? ` error: ${step.error}` : ''}`);
  }
  io.out.write(lines.join('\n') + '\n');
  return st.phase === 'Failed' ? 1 : 0;
}

export async function runEvents(name: unknown, flags: Flags, io: Io = defaultIo(), signal?: AbortSignal): Promise<number> {
  const n = requireName(name, 'events');
  const s = clientSettings(flags, io.env);
  const format = outputFormat(flags);
  const api = new ApiClient(s);
  const print = (e: EventItem): void => {
    if (format === 'json') io.out.write(JSON.stringify(e) + '\n');
    else if (format === 'yaml') io.out.write(`---\n${toYaml(e)}`);
    else io.out.write(`${e.time}  ${e.type.padEnd(7)}  ${e.reason}: ${e.note}\n`);
  };
  try {
    if (flags.follow !== true) {
      const events = (await api.request('GET', servicePath(s.namespace, n, '/events'))).json as { items: EventItem[] };
      if (format) printMachine(io, format, asList(events.items));
      else for (const e of events.items) print(e);
      return 0;
    }
    const ac = new AbortController();
    signal?.addEventListener('abort', () => ac.abort());
    const stop = (): void => ac.abort();
    process.once('SIGINT', stop);
    try {
      const body = await api.stream(servicePath(s.namespace, n, '/events?watch=true'), ac.signal);
      const reader = body.getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += Buffer.from(value).toString('utf8');
        let i: number;
        while ((i = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, i);
          buffer = buffer.slice(i + 2);
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (data) print(JSON.parse(data.slice(6)) as EventItem);
        }
      }
    } catch (e) {
      if ((e as Error).name !== 'AbortError') throw e;
    } finally {
      process.off('SIGINT', stop);
    }
    return 0;
  } catch (e) {
    return reportRejection(io, e, `events ${s.namespace}/${n}`);
  }
}

export async function runDelete(name: unknown, flags: Flags, io: Io = defaultIo()): Promise<number> {
  const n = requireName(name, 'delete');
  const s = clientSettings(flags, io.env);
  const wait = flags.wait === undefined || flags.wait === true || flags.wait === 'true';
  const timeoutMs = parseDuration(typeof flags.timeout === 'string' ? flags.timeout : '10m', '--timeout');
  const api = new ApiClient(s);
  try {
    await api.request('DELETE', servicePath(s.namespace, n));
  } catch (e) {
    return reportRejection(io, e, `delete ${s.namespace}/${n}`);
  }
  io.err.write(`mixmesh: ${s.namespace}/${n} is being torn down\n`);
  if (!wait) return 0;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await api.request('GET', servicePath(s.namespace, n), { okStatuses: [404] });
    if (r.status === 404) {
      io.err.write(`mixmesh: ${s.namespace}/${n} deleted\n`);
      return 0;
    }
    const st = (r.json as ServiceView).status;
    const failed = st?.conditions?.find((c) => c.reason === 'TeardownFailed');
    if (Date.now() > deadline) {
      io.err.write(`mixmesh: ${s.namespace}/${n} still there after ${Math.round(timeoutMs / 1000)} s${failed ? `: ${failed.message}` : ''}\n`);
      return 1;
    }
    await new Promise((res) => setTimeout(res, io.pollMs ?? 500));
  }
}

/** `mixmesh version`: the client's version and the server's (`GET /version`, no token needed) */
export async function runVersion(flags: Flags, io: Io = defaultIo()): Promise<number> {
  const format = outputFormat(flags);
  const info = buildInfo();
  const clientVersion = { version: info.version, nodeVersion: info.nodeVersion, platform: info.platform };
  let serverVersion: Record<string, unknown> | undefined;
  let failure: string | undefined;
  if (flags.client !== true) {
    const s = clientSettings({ ...flags, token: 'unused' }, io.env);
    try {
      serverVersion = (await new ApiClient(s).request('GET', '/version', { anonymous: true })).json as Record<string, unknown>;
    } catch (e) {
      failure = e instanceof ApiRejection ? `${e.httpStatus} ${e.code}: ${e.message}` : (e as Error).message;
    }
  }
  if (format) printMachine(io, format, { clientVersion, ...(serverVersion ? { serverVersion } : {}) });
  else {
    io.out.write(`Client Version: ${info.version}\n`);
    if (serverVersion) io.out.write(`Server Version: ${String(serverVersion.version)}\n`);
  }
  if (failure) {
    io.err.write(`mixmesh: server version: ${failure}\n`);
    return 1;
  }
  return 0;
}
