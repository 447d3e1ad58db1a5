/**
 * The Marathon driver: installs Mesos + Marathon over SSH (`mesos-master` and `marathon` on the
 * manager, `mesos-agent` on the workers, each started in the background when it does not answer
 * yet) and drives the cluster through Marathon's v2 REST API (/v2/info, /v2/apps, /v2/tasks) and
 * the Mesos master's /state (agents).
 */
import { MixmeshError } from '../../common/errors.js';
import { shellQuote } from '../../common/names.js';
import { GATEWAY_LABEL, toMarathonApp } from '../translate.js';
import type { ContainerInfo, EngineClient, EngineDriver, EngineInfo, NodeInfo, RegisterRequest, ServiceInfo } from '../types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** start DAEMON ARGS in the background unless `check` already succeeds; wait until it does */
function daemonScript(name: string, args: string[], check: string): string {
  const pidfile = `/var/run/mixmesh-${name}.pid`;
  return `set -e
mkdir -p /var/log /var/run /var/lib/mesos
if ! command -v ${name} >/dev/null 2>&1; then echo "${name} is not installed on this image (install the mesos and marathon packages)" >&2; exit 1; fi
if ! ${check} >/dev/null 2>&1; then
  (${name} ${args.map(shellQuote).join(' ')} </dev/null >>/var/log/${name}.log 2>&1 & echo $! > ${pidfile})
fi
i=0
until ${check} >/dev/null 2>&1; do
  if [ -f ${pidfile} ] && ! kill -0 "$(cat ${pidfile})" 2>/dev/null; then echo "${name} exited:" >&2; tail -n 5 /var/log/${name}.log >&2; exit 1; fi
  i=$((i+1)); if [ $i -gt 120 ]; then echo "${name} did not answer within 120 s" >&2; exit 1; fi
  sleep 1
done`;
}

const get = (url: string) => `wget -q -O /dev/null ${shellQuote(url)}`;

export function marathonDriver(): EngineDriver {
  return {
    kind: 'marathon',
    async installEngine(shell, host) {
      // the agent (workers) or nothing yet (the manager runs master + marathon in initManager)
      if (host.role === 'manager') {
        await shell.exec(daemonScript('mesos-master', [`--ip=${host.address}`, '--port=5050', '--work_dir=/var/lib/mesos', '--quorum=1'], get(`http://${host.address}:5050/state`)), { step: 'start mesos-master' });
        return (await shell.exec(`wget -q -O - ${shellQuote(`http://${host.address}:5050/version`)}`, { step: 'mesos version' })).stdout.match(/"version"\s*:\s*"([^"]+)"/)?.[1] ?? '';
      }
      return '';
    },
    async initManager(shell, host) {
      await shell.exec(daemonScript('marathon', ['--master', `${host.address}:5050`, '--http_address', host.address!, '--http_port', '8080', '--hostname', host.address!], get(`http://${host.address}:8080/ping`)), { step: 'start marathon' });
      return `http://${host.address}:8080`;
    },
    async joinWorker(shell, host, _managerShell, ctx) {
      await shell.exec(daemonScript('mesos-agent', [`--master=${ctx.manager.address}:5050`, `--ip=${host.address}`, '--port=5051', '--work_dir=/var/lib/mesos', '--containerizers=docker,mesos'], get(`http://${host.address}:5051/state`)), { step: 'start mesos-agent' });
    },
    async uninstall(shell) {
      await shell.exec(`for d in marathon mesos-agent mesos-master; do f=/var/run/mixmesh-$d.pid; if [ -f $f ]; then pid=$(cat $f); kill "$pid" 2>/dev/null || true; i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 60 ]; do sleep 1; i=$((i+1)); done; rm -f $f; fi; done`, { step: 'stop marathon, mesos-agent, mesos-master', allowFailure: true });
    },
    connect(endpoint, credentials) {
      return marathonClient(endpoint, credentials);
    },
  };
}

interface MarathonTask { id: string; appId: string; host?: string; state?: string; startedAt?: string; stagedAt?: string; slaveId?: string; agentId?: string }
interface MarathonApp { id: string; instances: number; tasksRunning?: number; tasksStaged?: number; labels?: Record<string, string>; container?: { docker?: { image?: string } } }

export function marathonClient(endpoint: string, c: RegisterRequest = {}): EngineClient {
  const base = endpoint.replace(/\/+$/, '');
  const auth: Record<string, string> = c.username ? { Authorization: `Basic ${Buffer.from(`${c.username}:${c.password ?? ''}`).toString('base64')}` } : {};
  async function call<T>(method: string, path: string, body?: unknown, ok: number[] = [200, 201]): Promise<{ status: number; json: T | undefined }> {
    let delay = 100;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(`${base}${path}`, { method, headers: { Accept: 'application/json', ...(body ? { 'Content-Type': 'application/json' } : {}), ...auth }, ...(body ? { body: JSON.stringify(body) } : {}), signal: AbortSignal.timeout(15_000) });
      } catch (e) {
        if (attempt < 3) { await sleep(delay); delay *= 4; continue; }
        throw new MixmeshError('GATEWAY_ENGINE_FAILED', `Marathon ${method} ${path}: ${(e as Error).message}`, { cause: e });
      }
      const text = await res.text();
      const json = text ? (JSON.parse(text) as T) : undefined;
      if (res.status === 404 && !ok.includes(404)) return { status: 404, json };
      if (!ok.includes(res.status) && res.status !== 404) {
        if (res.status >= 500 && attempt < 3) { await sleep(delay); delay *= 4; continue; }
        throw new MixmeshError('GATEWAY_ENGINE_FAILED', `Marathon ${method} ${path}: ${res.status} ${(json as { message?: string } | undefined)?.message ?? text.slice(0, 200)}`);
      }
      return { status: res.status, json };
    }
  }
  const appPath = (name: string) => `/v2/apps/${encodeURIComponent(name)}`;
  return {
    async info(): Promise<EngineInfo> {
      const info = (await call<{ version?: string; marathon_config?: { master?: string } }>('GET', '/v2/info')).json ?? {};
      const nodes: NodeInfo[] = [];
      const master = info.marathon_config?.master?.replace(/^zk:\/\/.*$/, '');
      if (master) {
        const masterUrl = `http://${master.replace(/^http:\/\//, '')}`;
        const state = (await fetch(`${masterUrl}/state`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.json() as Promise<{ hostname?: string; id?: string; version?: string; slaves?: { id: string; hostname: string; active: boolean; resources?: { cpus?: number; mem?: number }; version?: string }[] }>).catch(() => undefined));
        if (state) {
          nodes.push({ id: state.id ?? master, address: master.split(':')[0]!, role: 'manager', state: 'ready', ...(state.version ? { engineVersion: state.version } : {}) });
          for (const a of state.slaves ?? []) nodes.push({ id: a.id, hostname: a.hostname, address: a.hostname, role: 'worker', state: a.active ? 'ready' : 'inactive', ...(a.version ? { engineVersion: a.version } : {}), resources: { cpus: a.resources?.cpus ?? 0, memoryBytes: (a.resources?.mem ?? 0) * 1024 * 1024 } });
        }
      }
      return { kind: 'marathon', version: info.version ?? '', healthy: nodes.length > 0 && nodes.every((n) => n.state === 'ready'), nodes };
    },
    async createService(def) {
      const existing = await call<{ app: MarathonApp }>('GET', appPath(def.name));
      if (existing.status === 200) {
        if (existing.json?.app.labels?.[GATEWAY_LABEL] !== def.cluster) throw new MixmeshError('ALREADY_EXISTS', `a Marathon app /${def.name} that the gateway did not create exists at ${base}`);
        return existing.json.app.id;
      }
      const r = await call<MarathonApp>('POST', '/v2/apps', toMarathonApp(def));
      return r.json?.id ?? `/${def.name}`;
    },
    async scaleService(name, replicas) {
      const r = await call('PUT', appPath(name), { instances: replicas });
      if (r.status === 404) throw new MixmeshError('NOT_FOUND', `no Marathon app /${name}`);
    },
    async updateService(def) {
      // Marathon restarts the app's tasks with the new definition (its upgrade strategy)
      const r = await call('PUT', appPath(def.name), toMarathonApp(def));
      if (r.status === 404) throw new MixmeshError('NOT_FOUND', `no Marathon app /${def.name}`);
    },
    async deleteService(name) {
      const r = await call('DELETE', appPath(name));
      return r.status !== 404;
    },
    async service(name): Promise<ServiceInfo> {
      const r = await call<{ app: MarathonApp }>('GET', appPath(name));
      if (r.status === 404 || !r.json) return { name, desired: 0, running: 0, state: 'Absent' };
      const app = r.json.app;
      const running = app.tasksRunning ?? 0;
      return { name, desired: app.instances, running, state: running === app.instances ? 'Running' : running === 0 ? 'Pending' : 'Degraded', engineId: app.id, ...(app.container?.docker?.image ? { image: app.container.docker.image } : {}) };
    },
    async containers(name): Promise<ContainerInfo[]> {
      const r = await call<{ tasks: MarathonTask[] }>('GET', `${appPath(name)}/tasks`);
      if (r.status === 404) return [];
      const app = (await call<{ app: MarathonApp }>('GET', appPath(name))).json?.app;
      return (r.json?.tasks ?? []).map((t) => ({
        id: t.id, service: name, ...(t.host ? { host: t.host } : {}), ...(t.agentId ?? t.slaveId ? { node: t.agentId ?? t.slaveId } : {}),
        state: t.state ?? 'TASK_STAGING', image: app?.container?.docker?.image ?? '', ...(t.startedAt ? { startedAt: t.startedAt } : {}), restarts: 0,
      })).sort((a, b) => (a.id < b.id ? -1 : 1));
    },
    async close() {
      // fetch keeps no state of its own
    },
  };
}
