/**
 * `mixmesh gateway clusters|services|hosts|catalog|capabilities …`: a client of the gateway's REST
 * API (/v1/gateway on `mixmesh serve`). Same --server/--token as the other client commands; human
 * tables on stdout (or -o yaml|json), progress and problems on stderr. Exit 0 ok, 1 rejected or
 * failed, 2 usage.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { stringify as toYaml } from 'yaml';
import { MixmeshError, isMixmeshError } from '../common/errors.js';
import { ApiClient, ApiRejection, clientSettings } from './client/api.js';

type Flags = Record<string, unknown>;

function api(flags: Flags): ApiClient {
  return new ApiClient(clientSettings(flags));
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('   ')).join('\n') + '\n';
}

function print(flags: Flags, value: unknown, human: () => string): void {
  const o = flags.output;
  if (o === 'json') process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  else if (o === 'yaml') process.stdout.write(toYaml(value));
  else if (o !== undefined) throw new MixmeshError('USAGE', `-o ${String(o)}: allowed are yaml, json`);
  else process.stdout.write(human());
}

async function run(fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ApiRejection) {
      process.stderr.write(`mixmesh: ${e.code}: ${e.message}\n`);
      for (const p of e.errors ?? []) process.stderr.write(`  ${p.pointer || '/'}: ${p.message}\n`);
      return e.code === 'USAGE' ? 2 : 1;
    }
    if (isMixmeshError(e, 'USAGE')) {
      process.stderr.write(`mixmesh: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

const enc = encodeURIComponent;

/** follow an operation until it ends, printing each finished step once */
async function waitOperation(client: ApiClient, id: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const shown = new Set<string>();
  for (let delay = 250; ; delay = Math.min(delay * 2, 2000)) {
    const op = (await client.request('GET', `/v1/gateway/operations/${enc(id)}`)).json as { state: string; steps: { name: string; endedAt?: string; error?: string }[]; error?: string };
    for (const s of op.steps) {
      if (s.endedAt && !shown.has(s.name)) {
        shown.add(s.name);
        process.stderr.write(`  ${s.name}${s.error ? `: ${s.error}` : ' done'}\n`);
      }
    }
    if (op.state === 'Succeeded') return 0;
    if (op.state === 'Failed' || op.state === 'RolledBack') {
      process.stderr.write(`mixmesh: ${op.state}: ${op.error ?? ''}\n`);
      return 1;
    }
    if (Date.now() > deadline) {
      process.stderr.write(`mixmesh: operation ${id} still ${op.state} after ${timeoutMs / 1000} s\n`);
      return 1;
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

function common(c: Command): Command {
  return c
    .option('--server <url>', 'orchestrator URL (MIXMESH_SERVER, default http://127.0.0.1:7070)')
    .option('--token <token>', 'API token (MIXMESH_TOKEN)')
    .option('-o, --output <format>', 'machine output on stdout: yaml or json');
}

function bodyFrom(flags: Flags, build: () => Record<string, unknown>): string {
  if (typeof flags.file === 'string') {
    try {
      return flags.file === '-' ? readFileSync(0, 'utf8') : readFileSync(flags.file, 'utf8');
    } catch (e) {
      throw new MixmeshError('USAGE', `cannot read ${flags.file}: ${(e as Error).message}`);
    }
  }
  return JSON.stringify(build());
}

const intFlag = (v: unknown, name: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new MixmeshError('USAGE', `--${name} must be an integer, not "${String(v)}"`);
  return n;
};

export function registerGatewayCommands(program: Command): void {
  const gw = program.command('gateway').description('the common gateway: clusters of Kubernetes, Swarm or Marathon on OpenStack, EC2 or bare metal');

  const clusters = gw.command('clusters').description('create, list, show and delete orchestrator clusters');
  common(clusters.command('list').description('every cluster')).action((flags: Flags) => run(async () => {
    const r = (await api(flags).request('GET', '/v1/gateway/clusters')).json as { items: Record<string, unknown>[] };
    print(flags, r, () => table([['NAME', 'ORCHESTRATOR', 'PROVIDER', 'PHASE', 'HOSTS', 'ENDPOINT'], ...r.items.map((c) => [String(c.name), String(c.orchestrator), String(c.provider), String(c.phase), String(c.hosts), String(c.endpoint ?? '')])]));
    return 0;
  }).then((code) => { process.exitCode = code; }));
  common(clusters.command('get').description('getOrchestratorInfo').argument('<id>')).action((id: string, flags: Flags) => run(async () => {
    const c = (await api(flags).request('GET', `/v1/gateway/clusters/${enc(id)}`)).json as Record<string, unknown>;
    print(flags, c, () => table([['NAME', 'ORCHESTRATOR', 'VERSION', 'PHASE', 'HEALTH', 'HOSTS', 'SERVICES', 'ENDPOINT'], [id, String(c.orchestrator), String(c.version ?? ''), String(c.phase), String(c.health), String((c.hosts as unknown[]).length), String(c.services), String(c.endpoint ?? '')]]));
    return 0;
  }).then((code) => { process.exitCode = code; }));
  common(clusters.command('create').description('createOrchestrator: new hosts (--provider) or an existing cluster (-f with register)').argument('[name]'))
    .option('-f, --file <file>', 'the request as JSON or YAML (- for stdin)')
    .option('--orchestrator <kind>', 'kubernetes, swarm or marathon')
    .option('--provider <provider>', 'openstack, ec2 or baremetal')
    .option('--workers <n>', 'worker hosts', '2')
    .option('--wait <bool>', 'wait for the operation', 'true')
    .option('--timeout <seconds>', 'how long to wait', '1800')
    .action((name: string | undefined, flags: Flags) => run(async () => {
      const body = bodyFrom(flags, () => {
        if (!name || !flags.orchestrator || !flags.provider) throw new MixmeshError('USAGE', 'give NAME --orchestrator --provider, or -f FILE');
        return { name, orchestrator: flags.orchestrator, infrastructure: { provider: flags.provider }, size: { managers: 1, workers: intFlag(flags.workers, 'workers') ?? 2 } };
      });
      const client = api(flags);
      const yaml = typeof flags.file === 'string' && !body.trimStart().startsWith('{');
      const r = (await client.request('POST', '/v1/gateway/clusters', { body, contentType: yaml ? 'application/yaml' : 'application/json' })).json as { id: string; operationId: string };
      process.stderr.write(`cluster ${r.id}: operation ${r.operationId}\n`);
      if (flags.wait === 'false') return 0;
      return waitOperation(client, r.operationId, (intFlag(flags.timeout, 'timeout') ?? 1800) * 1000);
    }).then((code) => { process.exitCode = code; }));
  common(clusters.command('delete').description('deleteOrchestrator').argument('<id>'))
    .option('--wait <bool>', 'wait for the operation', 'true')
    .option('--timeout <seconds>', 'how long to wait', '1800')
    .action((id: string, flags: Flags) => run(async () => {
      const client = api(flags);
      const r = (await client.request('DELETE', `/v1/gateway/clusters/${enc(id)}`)).json as { operationId: string };
      if (flags.wait === 'false') return 0;
      return waitOperation(client, r.operationId, (intFlag(flags.timeout, 'timeout') ?? 1800) * 1000);
    }).then((code) => { process.exitCode = code; }));
  common(clusters.command('events').description('the pipeline\'s events').argument('<id>')).action((id: string, flags: Flags) => run(async () => {
    const r = (await api(flags).request('GET', `/v1/gateway/clusters/${enc(id)}/events`)).json as { items: { time: string; type: string; reason: string; note: string }[] };
    print(flags, r, () => table([['TIME', 'TYPE', 'REASON', 'MESSAGE'], ...r.items.map((e) => [e.time, e.type, e.reason, e.note])]));
    return 0;
  }).then((code) => { process.exitCode = code; }));

  const hosts = gw.command('hosts').description('a cluster\'s hosts');
  common(hosts.command('list').argument('<cluster>')).action((cluster: string, flags: Flags) => run(async () => {
    const r = (await api(flags).request('GET', `/v1/gateway/clusters/${enc(cluster)}/hosts`)).json as { items: Record<string, unknown>[] };
    print(flags, r, () => table([['NAME', 'ROLE', 'ADDRESS', 'STATE', 'INSTANCE', 'ENGINE'], ...r.items.map((x) => [String(x.name), String(x.role), String(x.address ?? ''), String(x.state), String(x.instanceId ?? ''), String(x.engineVersion ?? '')])]));
    return 0;
  }).then((code) => { process.exitCode = code; }));
  common(hosts.command('get').description('getHostInfoById').argument('<cluster>').argument('<host>')).action((cluster: string, host: string, flags: Flags) => run(async () => {
    const r = (await api(flags).request('GET', `/v1/gateway/clusters/${enc(cluster)}/hosts/${enc(host)}`)).json as Record<string, unknown>;
    print({ output: flags.output ?? 'yaml' }, r, () => '');
    return 0;
  }).then((code) => { process.exitCode = code; }));

  const services = gw.command('services').description('catalog services on a cluster');
  common(services.command('list').description('getOrchestratorsServiceInfo').argument('<cluster>')).action((cluster: string, flags: Flags) => run(async () => {
    const r = (await api(flags).request('GET', `/v1/gateway/clusters/${enc(cluster)}/services`)).json as { items: Record<string, unknown>[] };
    print(flags, r, () => table([['NAME', 'TEMPLATE', 'DESIRED', 'RUNNING', 'STATE'], ...r.items.map((x) => [String(x.name), String(x.template), String(x.desired), String(x.running), String(x.state)])]));
    return 0;
  }).then((code) => { process.exitCode = code; }));
  common(services.command('get').description('getContainerServiceInfo').argument('<cluster>').argument('<service>')).action((cluster: string, service: string, flags: Flags) => run(async () => {
    const r = (await api(flags).request('GET', `/v1/gateway/clusters/${enc(cluster)}/services/${enc(service)}`)).json as Record<string, unknown>;
    print({ output: flags.output ?? 'yaml' }, r, () => '');
    return 0;
  }).then((code) => { process.exitCode = code; }));
  common(services.command('create').description('createOrchestratorService from a catalog template').argument('<cluster>').argument('<service>'))
    .requiredOption('--template <name>', 'catalog template (mixmesh gateway catalog)')
    .option('--replicas <n>', 'replicas')
    .option('--image <image>', 'another image than the template\'s')
    .action((cluster: string, service: string, flags: Flags) => run(async () => {
      const replicas = intFlag(flags.replicas, 'replicas');
      const body = { name: service, template: flags.template, parameters: { ...(replicas !== undefined ? { replicas } : {}), ...(typeof flags.image === 'string' ? { image: flags.image } : {}) } };
      const r = (await api(flags).request('POST', `/v1/gateway/clusters/${enc(cluster)}/services`, { body: JSON.stringify(body), contentType: 'application/json' })).json as Record<string, unknown>;
      print(flags, r, () => `service ${service} on ${cluster}: ${String(r.running)}/${String(r.desired)} running\n`);
      return 0;
    }).then((code) => { process.exitCode = code; }));
  common(services.command('scale').argument('<cluster>').argument('<service>')).requiredOption('--replicas <n>', 'replicas').action((cluster: string, service: string, flags: Flags) => run(async () => {
    const r = (await api(flags).request('PATCH', `/v1/gateway/clusters/${enc(cluster)}/services/${enc(service)}`, { body: JSON.stringify({ replicas: intFlag(flags.replicas, 'replicas') }), contentType: 'application/json' })).json as Record<string, unknown>;
    print(flags, r, () => `service ${service} on ${cluster}: desired ${String(r.desired)}, running ${String(r.running)}\n`);
    return 0;
  }).then((code) => { process.exitCode = code; }));
  common(services.command('update').description('a rolling update: another image and/or environment (--env replaces the request\'s env)').argument('<cluster>').argument('<service>'))
    .option('--image <image>', 'the new image')
    .option('--env <KEY=VALUE...>', 'the new environment')
    .action((cluster: string, service: string, flags: Flags) => run(async () => {
      const env = Array.isArray(flags.env) ? Object.fromEntries((flags.env as string[]).map((kv) => { const i = kv.indexOf('='); return i > 0 ? [kv.slice(0, i), kv.slice(i + 1)] : [kv, '']; })) : undefined;
      const body = { ...(typeof flags.image === 'string' ? { image: flags.image } : {}), ...(env ? { env } : {}) };
      const r = (await api(flags).request('PATCH', `/v1/gateway/clusters/${enc(cluster)}/services/${enc(service)}`, { body: JSON.stringify(body), contentType: 'application/json' })).json as Record<string, unknown>;
      print(flags, r, () => `service ${service} on ${cluster}: updating, ${String(r.running)}/${String(r.desired)} running\n`);
      return 0;
    }).then((code) => { process.exitCode = code; }));
  common(services.command('logs').description('the last lines of each container (Swarm, Kubernetes)').argument('<cluster>').argument('<service>')).option('--tail <n>', 'lines per container', '100').action((cluster: string, service: string, flags: Flags) => run(async () => {
    const r = (await api(flags).request('GET', `/v1/gateway/clusters/${enc(cluster)}/services/${enc(service)}/logs?tail=${encodeURIComponent(String(flags.tail))}`)).json as { items: { container: string; lines: string[] }[] };
    print(flags, r, () => r.items.map((x) => x.lines.map((l) => `${x.container}  ${l}\n`).join('')).join(''));
    return 0;
  }).then((code) => { process.exitCode = code; }));
  common(services.command('delete').description('deleteOrchestratorService').argument('<cluster>').argument('<service>')).action((cluster: string, service: string, flags: Flags) => run(async () => {
    await api(flags).request('DELETE', `/v1/gateway/clusters/${enc(cluster)}/services/${enc(service)}`);
    process.stderr.write(`service ${service} deleted from ${cluster}\n`);
    return 0;
  }).then((code) => { process.exitCode = code; }));
  common(services.command('containers').description('getContainerInfo: tasks, pods or Marathon tasks').argument('<cluster>').argument('<service>')).action((cluster: string, service: string, flags: Flags) => run(async () => {
    const r = (await api(flags).request('GET', `/v1/gateway/clusters/${enc(cluster)}/services/${enc(service)}/containers`)).json as { items: Record<string, unknown>[] };
    print(flags, r, () => table([['ID', 'HOST', 'STATE', 'IMAGE', 'STARTED', 'RESTARTS'], ...r.items.map((x) => [String(x.id), String(x.host ?? ''), String(x.state), String(x.image), String(x.startedAt ?? ''), String(x.restarts)])]));
    return 0;
  }).then((code) => { process.exitCode = code; }));

  common(gw.command('catalog').description('getCatalogTemplateData: every template, or one').argument('[name]')).action((name: string | undefined, flags: Flags) => run(async () => {
    const r = (await api(flags).request('GET', name ? `/v1/gateway/catalog/${enc(name)}` : '/v1/gateway/catalog')).json as { items?: Record<string, unknown>[] } & Record<string, unknown>;
    if (name) print({ output: flags.output ?? 'yaml' }, r, () => '');
    else print(flags, r, () => table([['NAME', 'IMAGE', 'PORTS', 'DESCRIPTION'], ...(r.items ?? []).map((t) => [String(t.name), String(t.image), (t.ports as number[]).join(','), String(t.description)])]));
    return 0;
  }).then((code) => { process.exitCode = code; }));
  common(gw.command('capabilities').description('what each driver can do here')).action((flags: Flags) => run(async () => {
    const r = (await api(flags).request('GET', '/v1/gateway/capabilities')).json as { items: { driver: string; capabilities: Record<string, string> }[] };
    const cols = ['create', 'register', 'scale', 'update', 'logs', 'health', 'containers', 'delete'];
    print(flags, r, () => table([['DRIVER', ...cols.map((c) => c.toUpperCase())], ...r.items.map((x) => [x.driver, ...cols.map((c) => (x.capabilities[c] ?? '').split(':')[0]!)])]));
    return 0;
  }).then((code) => { process.exitCode = code; }));
}
