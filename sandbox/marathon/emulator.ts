/**
 * The mesos image's engines: a Mesos master (`/state`, `/version`, `/health` on `<vm>:5050`), Mesos
 * agents (`/state` on `<vm>:5051`, registered with the master named by `--master`) and a Marathon
 * v2 REST emulator (`<vm>:8080`: /ping, /v2/info, /v2/apps, /v2/apps/{id}, /v2/apps/{id}/tasks,
 * /v2/tasks, /v2/deployments, following Marathon 1.x's published API reference). Marathon's
 * scheduler places tasks on the agents and each task is a real process inside its agent's VM
 * (`nsenter` into the VM's mount and pid namespaces, `chroot` to its root, the app's `cmd` through
 * busybox `sh`, with HOST, PORT, PORT0… set as Marathon does); a task whose process exits is
 * TASK_FAILED and Marathon launches a replacement (with backoff).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { silentLogger, type Logger } from '../../common/logger.js';
import type { AgentVm, DaemonHandler } from '../engines/agent.js';

export const MESOS_VERSION = '1.11.0';
export const MARATHON_VERSION = '1.11.24';

interface Agent { id: string; vm: AgentVm; hostname: string; cpus: number; mem: number; server: Server; registeredAt: number }
interface Master { id: string; vm: AgentVm; address: string; agents: Map<string, Agent>; server: Server; frameworkId: string }
interface Task {
  id: string; appId: string; agent: Agent; ports: number[]; stagedAt: string; startedAt?: string; state: string; version: string;
  child?: ChildProcess; exitedAt?: number;
}
interface App {
  id: string; cmd?: string; args?: string[]; cpus: number; mem: number; disk: number; instances: number; env: Record<string, string>;
  labels: Record<string, string>; container?: unknown; portDefinitions: { port: number; protocol?: string; name?: string }[];
  healthChecks: unknown[]; version: string; failures: number; backoffUntil: number; lastFailure?: { message: string; timestamp: string };
  /** the last change of cmd, args, env or container: tasks of an older version are restarted */
  configVersion?: string;
}
interface Marathon { vm: AgentVm; address: string; port: number; masterAddress: string; master?: Master; apps: Map<string, App>; tasks: Map<string, Task>; server: Server; timer: NodeJS.Timeout; deployments: Map<string, { id: string; appId: string; version: string }> }

function parseFlags(args: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const m = /^--([^=]+)=(.*)$/.exec(a);
    if (m) out[m[1]!] = m[2]!;
    else if (a.startsWith('--')) {
      const next = args[i + 1];
      if (next !== undefined && !next.startsWith('--')) { out[a.slice(2)] = next; i++; } else out[a.slice(2)] = 'true';
    }
  }
  return out;
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((r) => server.close(() => r()));
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': typeof body === 'string' ? 'text/plain' : 'application/json' }).end(text);
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const t = Buffer.concat(chunks).toString('utf8');
      try { resolve(t ? JSON.parse(t) : undefined); } catch (e) { reject(e); }
    });
    req.on('error', reject);
  });
}

/** the pid of a VM's namespace init, from its rootfs path /proc/<pid>/root/mnt */
function vmInitPid(vm: AgentVm): number | undefined {
  const m = /^\/proc\/(\d+)\/root\/mnt$/.exec(vm.rootfs());
  return m ? Number(m[1]) : undefined;
}

let nextPort = 31000;

export function marathonHandlers(o: { log?: Logger } = {}) {
  const log = (o.log ?? silentLogger).child({ part: 'sandbox/marathon' });
  const masters = new Map<string, Master>(); // by "address:port"
  const agents = new Map<string, Agent>(); // by serverId
  const marathons = new Map<string, Marathon>(); // by serverId
  const mastersByVm = new Map<string, Master>();

  // ---------------------------------------------------------------- Mesos master
  const masterHandler: DaemonHandler = {
    async start(vm, args) {
      if (mastersByVm.has(vm.serverId)) return;
      const f = parseFlags(args);
      const address = f.ip ?? vm.address;
      const port = Number(f.port ?? 5050);
      if (address !== vm.address) throw new Error(`--ip=${address} is not this host's address ${vm.address}`);
      const m: Master = { id: randomUUID(), vm, address: `${address}:${port}`, agents: new Map(), frameworkId: `${randomUUID()}-0000`, server: createServer() };
      m.server.on('request', (req, res) => {
        const path = (req.url ?? '').split('?')[0];
        if (path === '/health') return send(res, 200, '');
        if (path === '/version') return send(res, 200, { version: MESOS_VERSION, build_user: 'mixmesh-sandbox' });
        if (path === '/state' || path === '/master/state' || path === '/state.json') {
          const fw = [...marathons.values()].find((x) => x.master === m);
          return send(res, 200, {
            version: MESOS_VERSION, id: m.id, pid: `master@${m.address}`, hostname: address, leader: `master@${m.address}`, activated_slaves: m.agents.size,
            slaves: [...m.agents.values()].map((a) => ({ id: a.id, hostname: a.hostname, pid: `slave(1)@${a.hostname}:5051`, active: true, registered_time: a.registeredAt / 1000, version: MESOS_VERSION, resources: { cpus: a.cpus, mem: a.mem, disk: 10240, ports: '[31000-32000]' } })),
            frameworks: fw ? [{ id: m.frameworkId, name: 'marathon', active: true, tasks: [...fw.tasks.values()].map((t) => ({ id: t.id, name: t.appId.slice(1), framework_id: m.frameworkId, slave_id: t.agent.id, state: t.state })) }] : [],
          });
        }
        send(res, 404, '');
      });
      await listen(m.server, address, port);
      masters.set(m.address, m);
      mastersByVm.set(vm.serverId, m);
      log.info({ address: m.address }, 'mesos master started');
    },
    async stop(vm) {
      const m = mastersByVm.get(vm.serverId);
      if (!m) return;
      mastersByVm.delete(vm.serverId);
      masters.delete(m.address);
      await close(m.server);
    },
  };

  // ---------------------------------------------------------------- Mesos agent
  const agentHandler: DaemonHandler = {
    async start(vm, args) {
      if (agents.has(vm.serverId)) return;
      const f = parseFlags(args);
      const master = masters.get(f.master ?? '');
      if (!master) throw new Error(`cannot register with master ${f.master ?? '(none: --master is required)'}: no Mesos master answers there`);
      const address = f.ip ?? vm.address;
      const a: Agent = { id: `${master.id.slice(0, 8)}-S${master.agents.size}`, vm, hostname: address, cpus: 2, mem: 2048, server: createServer(), registeredAt: Date.now() };
      a.server.on('request', (req, res) => {
        if ((req.url ?? '').startsWith('/state')) return send(res, 200, { id: a.id, hostname: a.hostname, version: MESOS_VERSION, master_hostname: master.address.split(':')[0], resources: { cpus: a.cpus, mem: a.mem } });
        send(res, 404, '');
      });
      await listen(a.server, address, Number(f.port ?? 5051));
      master.agents.set(a.id, a);
      agents.set(vm.serverId, a);
      log.info({ agent: a.id, master: master.address }, 'mesos agent registered');
    },
    async stop(vm) {
      const a = agents.get(vm.serverId);
      if (!a) return;
      agents.delete(vm.serverId);
      for (const m of masters.values()) m.agents.delete(a.id);
      for (const mt of marathons.values()) for (const t of mt.tasks.values()) if (t.agent === a) killTask(mt, t, 'TASK_LOST');
      await close(a.server);
    },
  };

  // ---------------------------------------------------------------- tasks
  function killTask(mt: Marathon, t: Task, state = 'TASK_KILLED'): void {
    t.state = state;
    if (t.child && t.child.exitCode === null && t.child.signalCode === null) t.child.kill('SIGKILL');
    mt.tasks.delete(t.id);
  }

  function launch(mt: Marathon, app: App, agent: Agent): void {
    const id = `${app.id.slice(1).replace(/\//g, '_')}.${randomUUID()}`;
    const ports = app.portDefinitions.map(() => nextPort++ > 31999 ? (nextPort = 31001, 31000) : nextPort - 1);
    const t: Task = { id, appId: app.id, agent, ports, stagedAt: new Date().toISOString(), state: 'TASK_STAGING', version: app.version };
    mt.tasks.set(id, t);
    const pid = vmInitPid(agent.vm);
    const fail = (message: string): void => {
      t.state = 'TASK_FAILED';
      t.exitedAt = Date.now();
      mt.tasks.delete(id);
      app.failures++;
      app.backoffUntil = Date.now() + Math.min(1000 * 2 ** Math.min(app.failures - 1, 5), 30_000);
      app.lastFailure = { message, timestamp: new Date().toISOString() };
    };
    if (pid === undefined || !app.cmd) {
      fail(pid === undefined ? `agent ${agent.hostname} is not running` : 'the app has no cmd (this sandbox runs commands, not images)');
      return;
    }
    const env: Record<string, string> = {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root',
      ...app.env, HOST: agent.hostname, MESOS_TASK_ID: id, MARATHON_APP_ID: app.id, MARATHON_APP_VERSION: app.version,
      ...(ports[0] !== undefined ? { PORT: String(ports[0]) } : {}),
      ...Object.fromEntries(ports.map((p, i) => [`PORT${i}`, String(p)])),
      ...Object.fromEntries(ports.map((p, i) => [`PORT_${app.portDefinitions[i]!.port}`, String(p)])),
    };
    const cmd = [app.cmd, ...(app.args ?? [])].join(' ');
    const child = spawn('nsenter', ['-t', String(pid), '-m', '-p', '--', 'setpriv', '--pdeathsig', 'KILL', 'chroot', '/mnt', '/bin/sh', '-c', cmd], { env, stdio: 'ignore' });
    child.unref();
    t.child = child;
    child.once('spawn', () => {
      t.state = 'TASK_RUNNING';
      t.startedAt = new Date().toISOString();
    });
    child.once('error', (e) => fail(`could not start: ${e.message}`));
    child.once('exit', (code, signal) => {
      if (!mt.tasks.has(id)) return; // killed on purpose
      fail(`task exited (${signal ?? `code ${code}`})`);
      log.info({ task: id, code, signal }, 'task ended');
    });
  }

  function reconcile(mt: Marathon): void {
    const master = masters.get(mt.masterAddress);
    mt.master = master;
    for (const app of mt.apps.values()) {
      // a config change restarts the app's tasks (Marathon's upgrade; here stop-then-start, not rolling)
      for (const old of [...mt.tasks.values()].filter((t) => t.appId === app.id && app.configVersion !== undefined && t.version < app.configVersion)) killTask(mt, old);
      const tasks = [...mt.tasks.values()].filter((t) => t.appId === app.id);
      for (const extra of tasks.slice(app.instances)) killTask(mt, extra);
      const missing = app.instances - Math.min(tasks.length, app.instances);
      if (missing > 0 && master && master.agents.size > 0 && Date.now() >= app.backoffUntil) {
        const pool = [...master.agents.values()];
        for (let i = 0; i < missing; i++) {
          // the least loaded agent (spread), first by registration order
          const load = (a: Agent) => [...mt.tasks.values()].filter((t) => t.agent === a).length;
          const agent = pool.sort((x, y) => load(x) - load(y) || x.registeredAt - y.registeredAt)[0]!;
          launch(mt, app, agent);
        }
      }
      const running = [...mt.tasks.values()].filter((t) => t.appId === app.id && t.state === 'TASK_RUNNING').length;
      if (running === app.instances && tasks.length <= app.instances) {
        for (const [id, d] of mt.deployments) if (d.appId === app.id) mt.deployments.delete(id);
        if (running > 0) app.failures = 0;
      }
    }
  }

  // ---------------------------------------------------------------- Marathon v2
  function appView(mt: Marathon, app: App, withTasks: boolean): Record<string, unknown> {
    const tasks = [...mt.tasks.values()].filter((t) => t.appId === app.id);
    const running = tasks.filter((t) => t.state === 'TASK_RUNNING').length;
    return {
      id: app.id, ...(app.cmd !== undefined ? { cmd: app.cmd } : {}), ...(app.args ? { args: app.args } : {}), cpus: app.cpus, mem: app.mem, disk: app.disk, instances: app.instances,
      env: app.env, labels: app.labels, ...(app.container !== undefined ? { container: app.container } : {}), portDefinitions: app.portDefinitions, healthChecks: app.healthChecks,
      version: app.version, versionInfo: { lastScalingAt: app.version, lastConfigChangeAt: app.configVersion ?? app.version },
      tasksStaged: tasks.length - running, tasksRunning: running, tasksHealthy: running, tasksUnhealthy: 0,
      deployments: [...mt.deployments.values()].filter((d) => d.appId === app.id).map((d) => ({ id: d.id })),
      ...(app.lastFailure ? { lastTaskFailure: { appId: app.id, message: app.lastFailure.message, state: 'TASK_FAILED', timestamp: app.lastFailure.timestamp } } : {}),
      ...(withTasks ? { tasks: tasks.map((t) => taskView(t)) } : {}),
    };
  }

  function taskView(t: Task): Record<string, unknown> {
    return { id: t.id, appId: t.appId, host: t.agent.hostname, ports: t.ports, stagedAt: t.stagedAt, ...(t.startedAt ? { startedAt: t.startedAt } : {}), version: t.version, slaveId: t.agent.id, agentId: t.agent.id, state: t.state };
  }

  function appProblems(body: Record<string, unknown>, creating: boolean): { path: string; errors: string[] }[] {
    const out: { path: string; errors: string[] }[] = [];
    if (creating && (typeof body.id !== 'string' || !/^\/?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\/[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(body.id))) out.push({ path: '/id', errors: ['must be a path of lower-case DNS labels'] });
    if (body.instances !== undefined && (!Number.isInteger(body.instances) || (body.instances as number) < 0)) out.push({ path: '/instances', errors: ['got ' + String(body.instances) + ', expected 0 or more'] });
    for (const k of ['cpus', 'mem']) if (body[k] !== undefined && !(typeof body[k] === 'number' && (body[k] as number) >= 0)) out.push({ path: `/${k}`, errors: ['must be a non-negative number'] });
    if (creating && body.cmd === undefined && body.args === undefined && body.container === undefined) out.push({ path: '/', errors: ['AppDefinition must either contain one of \'cmd\' or \'args\', and/or a \'container\'.'] });
    return out;
  }

  const appId = (raw: string): string => `/${decodeURIComponent(raw).replace(/^\/+|\/+$/g, '')}`;

  function marathonRequest(mt: Marathon, req: IncomingMessage, res: ServerResponse): Promise<void> | void {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (path === '/ping') return send(res, 200, 'pong');
    if (path === '/v2/info') {
      return send(res, 200, {
        name: 'marathon', version: MARATHON_VERSION, buildref: 'mixmesh-sandbox', elected: true, leader: `${mt.address}:${mt.port}`, frameworkId: mt.master?.frameworkId,
        marathon_config: { master: mt.masterAddress, hostname: mt.address, http_port: mt.port, mesos_role: '*', task_launch_timeout: 300000 },
        http_config: { http_port: mt.port }, zookeeper_config: {},
      });
    }
    if (path === '/v2/tasks' && method === 'GET') return send(res, 200, { tasks: [...mt.tasks.values()].map(taskView) });
    if (path === '/v2/deployments' && method === 'GET') {
      return send(res, 200, [...mt.deployments.values()].map((d) => ({ id: d.id, version: d.version, affectedApps: [d.appId], steps: [{ actions: [{ action: 'ScaleApplication', app: d.appId }] }], currentActions: [{ action: 'ScaleApplication', app: d.appId }], currentStep: 1, totalSteps: 1 })));
    }
    if (path === '/v2/apps' && method === 'GET') return send(res, 200, { apps: [...mt.apps.values()].map((a) => appView(mt, a, false)) });
    if (path === '/v2/apps' && method === 'POST') {
      return readJson(req).then((b) => {
        const body = (b ?? {}) as Record<string, unknown>;
        const problems = appProblems(body, true);
        if (problems.length) return send(res, 422, { message: 'Object is not valid', details: problems });
        const id = appId(String(body.id));
        if (mt.apps.has(id)) return send(res, 409, { message: `An app with id [${id}] already exists.` });
        const app: App = {
          id, ...(typeof body.cmd === 'string' ? { cmd: body.cmd } : {}), ...(Array.isArray(body.args) ? { args: body.args.map(String) } : {}),
          cpus: (body.cpus as number | undefined) ?? 1, mem: (body.mem as number | undefined) ?? 128, disk: (body.disk as number | undefined) ?? 0, instances: (body.instances as number | undefined) ?? 1,
          env: (body.env as Record<string, string> | undefined) ?? {}, labels: (body.labels as Record<string, string> | undefined) ?? {}, ...(body.container !== undefined ? { container: body.container } : {}),
          portDefinitions: (body.portDefinitions as App['portDefinitions'] | undefined) ?? [{ port: 0, protocol: 'tcp' }], healthChecks: (body.healthChecks as unknown[] | undefined) ?? [],
          version: new Date().toISOString(), failures: 0, backoffUntil: 0,
        };
        mt.apps.set(id, app);
        const dep = { id: randomUUID(), appId: id, version: app.version };
        mt.deployments.set(dep.id, dep);
        reconcile(mt);
        send(res, 201, appView(mt, app, false));
      }, () => send(res, 400, { message: 'Invalid JSON' }));
    }
    const m = /^\/v2\/apps\/(.+?)(\/tasks)?$/.exec(path);
    if (m) {
      const id = appId(m[1]!);
      const app = mt.apps.get(id);
      if (!app) return send(res, 404, { message: `App '${id}' does not exist` });
      if (m[2]) {
        if (method === 'GET') return send(res, 200, { tasks: [...mt.tasks.values()].filter((t) => t.appId === id).map(taskView) });
        return send(res, 405, { message: 'method not allowed' });
      }
      if (method === 'GET') return send(res, 200, { app: appView(mt, app, true) });
      if (method === 'DELETE') {
        for (const t of [...mt.tasks.values()]) if (t.appId === id) killTask(mt, t);
        mt.apps.delete(id);
        for (const [did, d] of mt.deployments) if (d.appId === id) mt.deployments.delete(did);
        return send(res, 200, { version: new Date().toISOString(), deploymentId: randomUUID() });
      }
      if (method === 'PUT' || method === 'PATCH') {
        return readJson(req).then((b) => {
          const body = (b ?? {}) as Record<string, unknown>;
          const problems = appProblems(body, false);
          if (problems.length) return send(res, 422, { message: 'Object is not valid', details: problems });
          const before = JSON.stringify([app.cmd, app.args, app.env, app.container]);
          if (body.instances !== undefined) app.instances = body.instances as number;
          if (typeof body.cmd === 'string') app.cmd = body.cmd;
          if (Array.isArray(body.args)) app.args = body.args as string[];
          if (body.env !== undefined) app.env = body.env as Record<string, string>;
          if (body.container !== undefined) app.container = body.container;
          app.version = new Date().toISOString();
          if (JSON.stringify([app.cmd, app.args, app.env, app.container]) !== before) app.configVersion = app.version;
          app.failures = 0;
          app.backoffUntil = 0;
          const dep = { id: randomUUID(), appId: id, version: app.version };
          mt.deployments.set(dep.id, dep);
          reconcile(mt);
          send(res, 200, { version: app.version, deploymentId: dep.id });
        }, () => send(res, 400, { message: 'Invalid JSON' }));
      }
      return send(res, 405, { message: 'method not allowed' });
    }
    send(res, 404, { message: `no route ${method} ${path}` });
  }

  const marathonHandler: DaemonHandler = {
    async start(vm, args) {
      if (marathons.has(vm.serverId)) return;
      const f = parseFlags(args);
      const masterAddress = (f.master ?? '').replace(/^zk:\/\/.*$/, '');
      // like Marathon, wait for the master a while (started together, it may come up second)
      for (let delay = 50, waited = 0; !masters.has(masterAddress); waited += delay, delay = Math.min(delay * 2, 1000)) {
        if (waited > 30_000) throw new Error(`--master ${f.master ?? '(missing)'}: no Mesos master answers there`);
        await new Promise((r) => setTimeout(r, delay));
      }
      const address = f.http_address ?? vm.address;
      const port = Number(f.http_port ?? 8080);
      const mt: Marathon = { vm, address, port, masterAddress, apps: new Map(), tasks: new Map(), deployments: new Map(), server: createServer(), timer: setInterval(() => reconcile(mt), 250) };
      mt.timer.unref();
      mt.server.on('request', (req, res) => {
        Promise.resolve(marathonRequest(mt, req, res)).catch((e: unknown) => {
          log.error({ err: e }, 'marathon request failed');
          if (!res.headersSent) send(res, 500, { message: 'internal error' });
        });
      });
      try {
        await listen(mt.server, address, port);
      } catch (e) {
        clearInterval(mt.timer);
        throw e;
      }
      reconcile(mt);
      marathons.set(vm.serverId, mt);
      log.info({ address, port, master: masterAddress }, 'marathon started');
    },
    async stop(vm) {
      const mt = marathons.get(vm.serverId);
      if (!mt) return;
      marathons.delete(vm.serverId);
      clearInterval(mt.timer);
      for (const t of [...mt.tasks.values()]) killTask(mt, t);
      await close(mt.server);
    },
  };

  return {
    handlers: { 'mesos-master': masterHandler, 'mesos-agent': agentHandler, marathon: marathonHandler } as Record<string, DaemonHandler>,
    /** running emulators (masters + agents + marathons) */
    running: () => masters.size + agents.size + marathons.size,
    /** live task processes */
    taskProcesses: () => [...marathons.values()].flatMap((m) => [...m.tasks.values()]).filter((t) => t.child && t.child.exitCode === null).length,
  };
}
