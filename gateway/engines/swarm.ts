/**
 * The Swarm driver: installs Docker Engine over SSH (`dockerd`, `docker swarm init|join`) and
 * drives a swarm through the Docker Engine API v1.41 (dockerode): /services, /tasks, /nodes.
 */
import Docker from 'dockerode';
import { MixmeshError, wrapError } from '../../common/errors.js';
import { shellQuote } from '../../common/names.js';
import type { RemoteShell } from '../../clients/ssh/index.js';
import { GATEWAY_LABEL, toSwarmService } from '../translate.js';
import type { ContainerInfo, EngineClient, EngineDriver, EngineInfo, HostRecord, NodeInfo, RegisterRequest, ServiceDefinition, ServiceInfo } from '../types.js';

export const SWARM_ENGINE_PORT = 2375;
const PIDFILE = '/var/run/mixmesh-dockerd.pid';

/** install (when missing) and start Docker Engine, listening on the host's address too; prints the version */
export function installScript(address: string): string {
  const a = shellQuote(address);
  return `set -e
if ! command -v dockerd >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io >/dev/null
  elif command -v dnf >/dev/null 2>&1; then dnf install -y -q docker >/dev/null
  else echo "dockerd is not installed and there is no apt-get or dnf to install it" >&2; exit 1; fi
fi
mkdir -p /var/log /var/run
if ! docker info >/dev/null 2>&1; then
  if command -v systemctl >/dev/null 2>&1; then
    mkdir -p /etc/systemd/system/docker.service.d
    printf '[Service]\\nExecStart=\\nExecStart=/usr/sbin/dockerd -H fd:// -H tcp://%s:${SWARM_ENGINE_PORT} --containerd=/run/containerd/containerd.sock\\n' ${a} > /etc/systemd/system/docker.service.d/mixmesh.conf
    systemctl daemon-reload && systemctl enable docker >/dev/null 2>&1 && systemctl restart docker
  else
    (dockerd -H unix:///var/run/docker.sock -H tcp://${a}:${SWARM_ENGINE_PORT} </dev/null >>/var/log/dockerd.log 2>&1 & echo $! > ${PIDFILE})
  fi
fi
i=0
until docker info >/dev/null 2>&1; do
  if [ -f ${PIDFILE} ] && ! kill -0 "$(cat ${PIDFILE})" 2>/dev/null; then echo "dockerd exited:" >&2; tail -n 5 /var/log/dockerd.log >&2; exit 1; fi
  i=$((i+1)); if [ $i -gt 120 ]; then echo "dockerd did not answer within 120 s" >&2; exit 1; fi
  sleep 1
done
docker version --format '{{.Server.Version}}'
`;
}

export function swarmDriver(): EngineDriver {
  return {
    kind: 'swarm',
    async installEngine(shell, host) {
      const r = await shell.exec(installScript(host.address!), { step: 'install and start Docker Engine' });
      return r.stdout.trim().split('\n').pop() ?? '';
    },
    async initManager(shell, host) {
      const a = shellQuote(host.address!);
      await shell.exec(`set -e
if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != active ]; then docker swarm init --advertise-addr ${a} --listen-addr ${a}:2377 >/dev/null; fi`, { step: 'docker swarm init' });
      return `tcp://${host.address}:${SWARM_ENGINE_PORT}`;
    },
    async joinWorker(shell, host, managerShell, ctx) {
      const token = (await managerShell.exec('docker swarm join-token -q worker', { step: 'docker swarm join-token worker' })).stdout.trim();
      const a = shellQuote(host.address!);
      await shell.exec(`set -e
T=$(cat)
if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != active ]; then docker swarm join --token "$T" --advertise-addr ${a} --listen-addr ${a}:2377 ${shellQuote(`${ctx.manager.address}:2377`)} >/dev/null; fi`, { step: 'docker swarm join', stdin: `${token}\n`, secrets: [token] });
    },
    async nodeId(shell) {
      return (await shell.exec(`docker info --format '{{.Swarm.NodeID}}'`, { step: 'docker info (node id)' })).stdout.trim() || undefined;
    },
    async uninstall(shell) {
      await shell.exec(`docker swarm leave --force >/dev/null 2>&1 || true
if [ -f ${PIDFILE} ]; then
  pid=$(cat ${PIDFILE}); kill "$pid" 2>/dev/null || true
  i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 60 ]; do sleep 1; i=$((i+1)); done
  rm -f ${PIDFILE}
elif command -v systemctl >/dev/null 2>&1; then systemctl stop docker || true; fi`, { step: 'docker swarm leave; stop dockerd', allowFailure: true });
    },
    connect(endpoint, credentials) {
      return swarmClient(endpoint, credentials);
    },
  };
}

function dockerFor(endpoint: string, c: RegisterRequest = {}): Docker {
  const u = new URL(endpoint);
  if (u.protocol === 'unix:') return new Docker({ socketPath: u.pathname });
  if (u.protocol === 'https:' || (u.protocol === 'tcp:' && c.ca)) {
    return new Docker({ host: u.hostname, port: Number(u.port || 2376), protocol: 'https', ...(c.ca ? { ca: c.ca } : {}), ...(c.cert ? { cert: c.cert } : {}), ...(c.key ? { key: c.key } : {}) });
  }
  return new Docker({ host: u.hostname, port: Number(u.port || SWARM_ENGINE_PORT), protocol: 'http' });
}

function statusOf(e: unknown): number | undefined {
  const s = (e as { statusCode?: unknown })?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

interface SwarmTask { ID: string; Slot?: number; NodeID?: string; DesiredState?: string; CreatedAt?: string; Status?: { State?: string; Timestamp?: string; Message?: string; Err?: string; ContainerStatus?: { ContainerID?: string } }; Spec?: { ContainerSpec?: { Image?: string } } }
interface SwarmNode { ID: string; Spec?: { Role?: string; Availability?: string }; Status?: { State?: string; Addr?: string }; Description?: { Hostname?: string; Engine?: { EngineVersion?: string }; Resources?: { NanoCPUs?: number; MemoryBytes?: number } } }

/** the lines of a Docker log stream (8-byte frame headers when the container has no TTY) */
export function demuxLines(raw: unknown): string[] {
  const buf = Buffer.isBuffer(raw) ? raw : typeof raw === 'string' ? Buffer.from(raw, 'utf8') : Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let i = 0;
  const framed = buf.length >= 8 && buf[0]! <= 2 && buf[1] === 0 && buf[2] === 0 && buf[3] === 0;
  if (!framed) chunks.push(buf);
  while (framed && i + 8 <= buf.length) {
    const size = buf.readUInt32BE(i + 4);
    chunks.push(buf.subarray(i + 8, i + 8 + size));
    i += 8 + size;
  }
  return Buffer.concat(chunks).toString('utf8').split('\n').filter((l) => l !== '');
}

export function swarmClient(endpoint: string, credentials?: RegisterRequest): EngineClient {
  const docker = dockerFor(endpoint, credentials);
  const wrap = (what: string) => (e: unknown): never => {
    throw wrapError('GATEWAY_ENGINE_FAILED', `Docker Engine ${endpoint}: ${what}`, e);
  };
  const nodes = async (): Promise<NodeInfo[]> => {
    const list = (await docker.listNodes().catch(wrap('list nodes'))) as SwarmNode[];
    return list.map((n) => ({
      id: n.ID,
      ...(n.Description?.Hostname ? { hostname: n.Description.Hostname } : {}),
      ...(n.Status?.Addr ? { address: n.Status.Addr } : {}),
      role: n.Spec?.Role === 'manager' ? 'manager' : 'worker',
      state: `${n.Status?.State ?? 'unknown'}${n.Spec?.Availability && n.Spec.Availability !== 'active' ? `/${n.Spec.Availability}` : ''}`,
      ...(n.Description?.Engine?.EngineVersion ? { engineVersion: n.Description.Engine.EngineVersion } : {}),
      resources: { cpus: (n.Description?.Resources?.NanoCPUs ?? 0) / 1e9, memoryBytes: n.Description?.Resources?.MemoryBytes ?? 0 },
    }));
  };
  const tasks = async (name: string): Promise<SwarmTask[]> => (await docker.listTasks({ filters: { service: [name] } }).catch(wrap(`list tasks of ${name}`))) as SwarmTask[];
  const find = async (name: string): Promise<Docker.Service | undefined> => {
    try {
      const s = docker.getService(name);
      await s.inspect();
      return s;
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      return wrap(`inspect service ${name}`)(e);
    }
  };
  return {
    async info(): Promise<EngineInfo> {
      const version = (await docker.version().catch(wrap('version'))) as { Version?: string };
      const list = await nodes();
      return { kind: 'swarm', version: version.Version ?? '', healthy: list.length > 0 && list.every((n) => n.state === 'ready'), nodes: list };
    },
    async createService(def: ServiceDefinition) {
      const existing = await find(def.name);
      if (existing) {
        const spec = (await existing.inspect()) as { ID: string; Spec?: { Labels?: Record<string, string> } };
        if (spec.Spec?.Labels?.[GATEWAY_LABEL] !== def.cluster) throw new MixmeshError('ALREADY_EXISTS', `a Swarm service "${def.name}" that the gateway did not create exists on ${endpoint}`);
        return spec.ID;
      }
      const created = (await docker.createService(toSwarmService(def) as Docker.CreateServiceOptions).catch(wrap(`create service ${def.name}`))) as { id?: string; ID?: string };
      return created.ID ?? created.id ?? '';
    },
    async scaleService(name, replicas) {
      const s = await find(name);
      if (!s) throw new MixmeshError('NOT_FOUND', `no Swarm service "${name}" on ${endpoint}`);
      const cur = (await s.inspect()) as { Version: { Index: number }; Spec: Record<string, unknown> };
      await s.update({ version: cur.Version.Index, ...cur.Spec, Mode: { Replicated: { Replicas: replicas } } }).catch(wrap(`scale service ${name}`));
    },
    async updateService(def: ServiceDefinition) {
      const s = await find(def.name);
      if (!s) throw new MixmeshError('NOT_FOUND', `no Swarm service "${def.name}" on ${endpoint}`);
      const cur = (await s.inspect()) as { Version: { Index: number } };
      // the whole new spec at the current version: Swarm rolls the tasks to it (UpdateConfig: one at a time)
      await s.update({ version: cur.Version.Index, ...toSwarmService(def) }).catch(wrap(`update service ${def.name}`));
    },
    async logs(name, { tail }) {
      const s = await find(name);
      if (!s) throw new MixmeshError('NOT_FOUND', `no Swarm service "${name}" on ${endpoint}`);
      // the manager's log broker gathers every task's output; `details` names the task of each line
      const raw = (await (s.logs({ stdout: true, stderr: true, follow: false, tail, details: true } as never) as unknown as Promise<unknown>).catch(wrap(`logs of service ${name}`))) as unknown;
      const byTask = new Map<string, string[]>();
      for (const line of demuxLines(raw)) {
        const m = /^(\S*com\.docker\.swarm\.task\.id=([^,\s]+)\S*) ?(.*)$/.exec(line);
        const task = m ? m[2]! : '';
        const list = byTask.get(task) ?? [];
        list.push(m ? m[3]! : line);
        byTask.set(task, list);
      }
      return [...byTask].map(([container, lines]) => ({ container, lines: lines.slice(-tail) })).sort((a, b) => (a.container < b.container ? -1 : 1));
    },
    async deleteService(name) {
      const s = await find(name);
      if (!s) return false;
      await s.remove().catch((e: unknown) => (statusOf(e) === 404 ? undefined : wrap(`remove service ${name}`)(e)));
      return true;
    },
    async service(name): Promise<ServiceInfo> {
      const s = await find(name);
      if (!s) return { name, desired: 0, running: 0, state: 'Absent' };
      const spec = (await s.inspect()) as { ID: string; Spec: { Mode?: { Replicated?: { Replicas?: number } }; TaskTemplate?: { ContainerSpec?: { Image?: string } } } };
      const desired = spec.Spec.Mode?.Replicated?.Replicas ?? 0;
      const running = (await tasks(name)).filter((t) => t.DesiredState === 'running' && t.Status?.State === 'running').length;
      return { name, desired, running, state: running === desired ? 'Running' : running === 0 ? 'Pending' : 'Degraded', engineId: spec.ID, ...(spec.Spec.TaskTemplate?.ContainerSpec?.Image ? { image: spec.Spec.TaskTemplate.ContainerSpec.Image.split('@')[0]! } : {}) };
    },
    async containers(name): Promise<ContainerInfo[]> {
      const [list, nodeList] = await Promise.all([tasks(name), nodes()]);
      const byNode = new Map(nodeList.map((n) => [n.id, n]));
      const perSlot = new Map<number, number>();
      for (const t of list) if (t.Slot !== undefined) perSlot.set(t.Slot, (perSlot.get(t.Slot) ?? 0) + 1);
      return list
        .filter((t) => t.DesiredState === 'running' || t.Status?.State === 'running')
        .map((t) => {
          const node = t.NodeID ? byNode.get(t.NodeID) : undefined;
          return {
            id: t.ID,
            service: name,
            ...(node?.address ? { host: node.address } : {}),
            ...(t.NodeID ? { node: t.NodeID } : {}),
            state: t.Status?.State ?? 'unknown',
            ...(t.DesiredState ? { desiredState: t.DesiredState } : {}),
            image: (t.Spec?.ContainerSpec?.Image ?? '').split('@')[0]!,
            ...(t.Status?.Timestamp ? { startedAt: t.Status.Timestamp } : {}),
            restarts: Math.max(0, (t.Slot !== undefined ? perSlot.get(t.Slot) ?? 1 : 1) - 1),
            ...(t.Status?.Err ? { message: t.Status.Err } : {}),
          };
        })
        .sort((a, b) => (a.id < b.id ? -1 : 1));
    },
    async close() {
      // dockerode keeps no connection of its own between requests
    },
  };
}

export type { HostRecord, RemoteShell };
