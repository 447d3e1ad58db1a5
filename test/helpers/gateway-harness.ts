/**
 * Test and benchmark harness: `mixmesh serve`'s stack (orchestrator API + the gateway as its
 * extension, no injector, no Lease) over an engine world, with admin/deployer/viewer tokens, and
 * a small HTTP client for the gateway's routes.
 */
import { createHash } from 'node:crypto';
import Docker from 'dockerode';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger, type Logger } from '../../common/logger.js';
import { loadOpenStackConfig } from '../../clients/openstack/index.js';
import { loadConfig, startStack, type Stack } from '../../orchestrator/index.js';
import { ENGINES_VNFD_ID, WORLD_IMAGES, WORLD_VNFDS, type EngineWorld } from '../../sandbox/engines/world.js';
import type { SandboxVm } from '../../sandbox/vms/index.js';
import { createGateway, parseGatewayConfig, type GatewayConfig, type GatewaySettings, type HostRecord, type StartedGateway } from '../../gateway/index.js';

export const TOKENS = { admin: 'gw-admin-token-0123456789abcdef', deployer: 'gw-deployer-token-0123456789ab', viewer: 'gw-viewer-token-0123456789abcd' };

export interface GatewayHarness {
  url: string;
  stack: Stack;
  gateway: StartedGateway;
  req(method: string, path: string, o?: { token?: string | null; body?: unknown; type?: string }): Promise<{ status: number; body: Record<string, unknown>; text: string }>;
  /** poll an operation until it ends (Succeeded, Failed, RolledBack) */
  waitOperation(id: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

/**
 * The gateway configuration of a world: bare metal = the given VMs (marked with the image each
 * boots), EC2 = its emulator, OpenStack = its Tacker; on the clouds every orchestrator gets its
 * image (swarm: the Docker Engine image, marathon: the Mesos image, kubernetes: the bare control
 * plane for the manager and the worker image), as WORLD_VNFDS / WORLD_IMAGES say.
 */
export function worldGatewayConfig(world: EngineWorld, o: { inventory?: { address: string; hostPublicKey: string; image?: string }[] } = {}): Record<string, unknown> {
  return {
    namespace: 'mixmesh-gateway',
    sshKeyFile: world.sshKeyFile,
    hostTimeoutSeconds: 120,
    ...(o.inventory?.length
      ? { baremetal: { inventory: o.inventory.map((v) => ({ address: v.address, user: 'root', hostKey: v.hostPublicKey, ...(v.image ? { image: v.image } : {}) })), ...(o.inventory.some((v) => v.image) ? { images: WORLD_IMAGES } : {}) } }
      : {}),
    ...(world.ec2 ? { ec2: { endpoint: world.ec2.url, region: world.ec2.region, image: 'mixmesh-engines', images: WORLD_IMAGES, instanceType: 't3.small', keyName: 'mixmesh-gateway', securityGroupIds: ['sg-0a11a11a11a11a110'], username: 'root' } } : {}),
    ...(world.openstack ? { openstack: { vnfdId: ENGINES_VNFD_ID, flavourId: 'simple', images: WORLD_VNFDS } } : {}),
  };
}

/** bare-metal hosts for a world: `n` VMs booting each image the orchestrators need (swarm, mesos, control plane, worker) */
export async function metalHosts(world: EngineWorld, prefix: string, o: { swarm?: number; marathon?: number; kubernetes?: { managers: number; workers: number } }): Promise<SandboxVm[]> {
  const wanted: string[] = [
    ...Array.from({ length: o.swarm ?? 0 }, () => WORLD_IMAGES.swarm),
    ...Array.from({ length: o.marathon ?? 0 }, () => WORLD_IMAGES.marathon),
    ...Array.from({ length: o.kubernetes?.managers ?? 0 }, () => WORLD_IMAGES.kubernetes.manager),
    ...Array.from({ length: o.kubernetes?.workers ?? 0 }, () => WORLD_IMAGES.kubernetes.worker),
  ];
  return Promise.all(wanted.map((image, i) => world.vms.create({ serverId: `${prefix}-${i}`, name: `${prefix}-${i}`, image })));
}

export async function startGatewayHarness(world: EngineWorld, rawConfig: Record<string, unknown>, o: { log?: Logger; settings?: Partial<GatewaySettings>; onHostDone?: (cluster: string, host: HostRecord) => void } = {}): Promise<GatewayHarness> {
  const log = o.log ?? silentLogger;
  const tokensFile = join(world.dir, 'gateway-tokens.yaml');
  await writeFile(tokensFile, Object.entries(TOKENS).map(([role, t]) => `- {name: ${role}, role: ${role}, sha256: ${createHash('sha256').update(t).digest('hex')}}\n`).join(''), { mode: 0o600 });
  const config = loadConfig({ flags: { kubeconfig: world.kubeconfigPath, listen: '127.0.0.1:0', tokensFile, injector: false, injectorUrl: 'http://127.0.0.1:9' }, env: {} });
  const env = world.ec2 ? { AWS_ACCESS_KEY_ID: world.ec2.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: world.ec2.credentials.secretAccessKey } : {};
  const gwConfig: GatewayConfig = parseGatewayConfig(rawConfig, env);
  const openstackConfig = world.cloudsYaml ? loadOpenStackConfig({ OS_CLOUD: 'sandbox', OS_CLIENT_CONFIG_FILE: world.cloudsYaml }) : undefined;
  let started: StartedGateway | undefined;
  const stack = await startStack({
    config: { ...config, ...(openstackConfig ? { openstack: openstackConfig } : {}) }, log,
    settings: { leaderElection: false, resyncSeconds: 3600 },
    extensions: [async ({ kube, openstack }) => {
      started = createGateway({ kube, openstack, config: gwConfig, log, ...(o.settings ? { settings: o.settings } : {}), ...(o.onHostDone ? { onHostDone: o.onHostDone } : {}) });
      return { mount: started.mount, start: started.start, stop: started.stop };
    }],
  });
  const url = stack.url;
  const req: GatewayHarness['req'] = async (method, path, ro = {}) => {
    const headers: Record<string, string> = {};
    const token = ro.token === undefined ? TOKENS.admin : ro.token;
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (ro.body !== undefined) {
      headers['content-type'] = ro.type ?? 'application/json';
      body = typeof ro.body === 'string' ? ro.body : JSON.stringify(ro.body);
    }
    const res = await fetch(url + path, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    let parsed: Record<string, unknown> = {};
    try { parsed = JSON.parse(text) as Record<string, unknown>; } catch { /* not JSON */ }
    return { status: res.status, body: parsed, text };
  };
  return {
    url, stack, gateway: started!, req,
    async waitOperation(id, timeoutMs = 240_000) {
      const deadline = Date.now() + timeoutMs;
      for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
        const r = await req('GET', `/v1/gateway/operations/${id}`);
        const state = r.body.state as string | undefined;
        if (state === 'Succeeded' || state === 'Failed' || state === 'RolledBack') return r.body;
        if (Date.now() > deadline) throw new Error(`operation ${id} still ${state} after ${timeoutMs} ms: ${r.text}`);
        await new Promise((res) => setTimeout(res, delay));
      }
    },
    stop: () => stack.stop(),
  };
}

export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** what the engine itself says runs for a service: task/container ids, read without the gateway */
export type EngineProbe = (managerAddress: string, service: string) => Promise<string[]>;

/** a Swarm service's running tasks as the manager's Docker Engine lists them */
export const swarmProbe: EngineProbe = async (manager, service) => {
  const docker = new Docker({ host: manager, port: 2375 });
  const tasks = (await docker.listTasks({ filters: { service: [service], 'desired-state': ['running'] } }).catch(() => [])) as { ID: string; Status?: { State?: string } }[];
  return tasks.filter((t) => t.Status?.State === 'running').map((t) => t.ID);
};

/** a Marathon app's running tasks as Marathon lists them */
export const marathonProbe: EngineProbe = async (manager, service) => {
  const res = await fetch(`http://${manager}:8080/v2/apps/${service}/tasks`);
  if (res.status === 404) return [];
  const body = (await res.json()) as { tasks: { id: string; state: string }[] };
  return body.tasks.filter((t) => t.state === 'TASK_RUNNING').map((t) => t.id);
};

function check(cond: unknown, message: string): void {
  if (!cond) throw new Error(message);
}

/**
 * The "Done when" scenario for one orchestrator on one provider: create 1 manager + 2 workers,
 * deploy `web` with 3 replicas, every operation answered and compared with the engine's own view,
 * scale to 1, delete the service and the cluster. Returns the cluster's hosts (for "nothing left").
 */
export async function runClusterScenario(h: GatewayHarness, o: { name: string; orchestrator: 'swarm' | 'marathon' | 'kubernetes'; provider: 'openstack' | 'ec2' | 'baremetal'; probe: EngineProbe; template?: string; beforeDelete?: (cluster: string) => Promise<void> }): Promise<{ address: string; instanceId: string }[]> {
  const template = o.template ?? 'web';
  // Kubernetes: the control plane is no node that runs pods (kubeadm taints it; the sandbox's kubeadm registers no Node for it)
  const nodeCount = o.orchestrator === 'kubernetes' ? 2 : 3;
  const created = await h.req('POST', '/v1/gateway/clusters', { body: { name: o.name, orchestrator: o.orchestrator, infrastructure: { provider: o.provider }, size: { managers: 1, workers: 2 } } });
  check(created.status === 202, `create: ${created.text}`);
  const op = await h.waitOperation(created.body.operationId as string);
  check(op.state === 'Succeeded', `create ${o.name}: ${JSON.stringify(op)}`);
  const info = await h.req('GET', `/v1/gateway/clusters/${o.name}`);
  check(info.body.phase === 'Ready' && info.body.health === 'Healthy', `info: ${info.text}`);
  const hosts = info.body.hosts as { id: string; role: string; address: string; instanceId: string }[];
  check(hosts.length === 3 && (info.body.nodes as unknown[]).length === nodeCount, `3 hosts and ${nodeCount} nodes: ${info.text}`);
  const manager = hosts.find((x) => x.role === 'manager')!;
  for (const x of hosts) {
    const host = await h.req('GET', `/v1/gateway/clusters/${o.name}/hosts/${x.id}`);
    const nodeExpected = o.orchestrator !== 'kubernetes' || x.role === 'worker';
    check(host.status === 200 && host.body.state === 'Joined' && host.body.provider === o.provider && (!nodeExpected || host.body.node), `host ${x.id}: ${host.text}`);
  }
  const svc = await h.req('POST', `/v1/gateway/clusters/${o.name}/services`, { token: TOKENS.deployer, body: { name: template, template, parameters: { replicas: 3 } } });
  check(svc.status === 201, `service: ${svc.text}`);
  await until('3 running replicas', async () => (await o.probe(manager.address, template)).length === 3);
  const list = await h.req('GET', `/v1/gateway/clusters/${o.name}/services`);
  const item = (list.body.items as { name: string; desired: number; running: number }[])[0];
  check(item?.name === template && item.desired === 3 && item.running === 3, `services: ${list.text}`);
  const detail = await h.req('GET', `/v1/gateway/clusters/${o.name}/services/${template}`);
  check(detail.body.state === 'Running', `service detail: ${detail.text}`);
  const containers = (await h.req('GET', `/v1/gateway/clusters/${o.name}/services/${template}/containers`)).body.items as { id: string; host: string }[];
  const engineIds = await o.probe(manager.address, template);
  check(JSON.stringify(containers.map((c) => c.id).sort()) === JSON.stringify([...engineIds].sort()), `containers ${JSON.stringify(containers)} vs engine ${JSON.stringify(engineIds)}`);
  check(containers.every((c) => hosts.some((x) => x.address === c.host)), `container hosts: ${JSON.stringify(containers)}`);
  const one = await h.req('GET', `/v1/gateway/clusters/${o.name}/services/${template}/containers/${encodeURIComponent(containers[0]!.id)}`);
  check(one.status === 200 && one.body.id === containers[0]!.id, `container: ${one.text}`);
  const scaled = await h.req('PATCH', `/v1/gateway/clusters/${o.name}/services/${template}`, { body: { replicas: 1 } });
  check(scaled.status === 200, `scale: ${scaled.text}`);
  await until('1 running replica', async () => (await o.probe(manager.address, template)).length === 1);
  check((await h.req('DELETE', `/v1/gateway/clusters/${o.name}/services/${template}`)).status === 204, 'delete service');
  await until('no replica after delete', async () => (await o.probe(manager.address, template)).length === 0);
  if (o.beforeDelete) await o.beforeDelete(o.name);
  const del = await h.req('DELETE', `/v1/gateway/clusters/${o.name}`);
  check(del.status === 202, `delete: ${del.text}`);
  const dop = await h.waitOperation(del.body.operationId as string);
  check(dop.state === 'Succeeded', `delete ${o.name}: ${JSON.stringify(dop)}`);
  check((await h.req('GET', `/v1/gateway/clusters/${o.name}`)).status === 404, 'cluster gone');
  return hosts.map((x) => ({ address: x.address, instanceId: x.instanceId }));
}

/**
 * Update and logs on a Ready cluster: a `heartbeat` service of 2 replicas, its logs (or 422 where
 * the orchestrator has none), an env change rolled out (every container replaced, the new
 * containers log the new message), then the service deleted.
 */
export async function runUpdateAndLogs(h: GatewayHarness, cluster: string, o: { logs: boolean }): Promise<void> {
  const base = `/v1/gateway/clusters/${cluster}/services`;
  const created = await h.req('POST', base, { token: TOKENS.deployer, body: { name: 'beat', template: 'heartbeat', parameters: { replicas: 2 } } });
  check(created.status === 201, `service: ${created.text}`);
  const running = async (): Promise<{ id: string; state: string }[]> => ((await h.req('GET', `${base}/beat/containers`)).body.items as { id: string; state: string }[] | undefined ?? [])
    .filter((c) => /^(running|Running|TASK_RUNNING)$/.test(c.state));
  const before = await until('2 running containers', async () => { const r = await running(); return r.length === 2 ? r : undefined; });
  const logsSay = async (message: string, ids: string[]): Promise<boolean> => {
    const r = await h.req('GET', `${base}/beat/logs?tail=5`);
    const items = (r.body.items ?? []) as { container: string; lines: string[] }[];
    return ids.every((id) => items.find((x) => x.container === id)?.lines.some((l) => l.includes(`heartbeat ${message}`)));
  };
  if (o.logs) {
    await until('each container logs "heartbeat alive"', () => logsSay('alive', before.map((c) => c.id)));
  } else {
    const r = await h.req('GET', `${base}/beat/logs`);
    check(r.status === 422 && (r.body as { code?: string }).code === 'GATEWAY_NOT_SUPPORTED', `logs where the orchestrator has none: ${r.text}`);
  }
  const bad = await h.req('GET', `${base}/beat/logs?tail=0`);
  check(bad.status === 400, `tail=0: ${bad.text}`);
  const viewer = await h.req('PATCH', `${base}/beat`, { token: TOKENS.viewer, body: { env: { MESSAGE: 'v2' } } });
  check(viewer.status === 403, `a viewer's update: ${viewer.text}`);
  const updated = await h.req('PATCH', `${base}/beat`, { token: TOKENS.deployer, body: { env: { MESSAGE: 'v2' } } });
  check(updated.status === 200, `update: ${updated.text}`);
  const after = await until('2 new running containers', async () => {
    const r = await running();
    return r.length === 2 && r.every((c) => !before.some((b) => b.id === c.id)) ? r : undefined;
  }, 180_000);
  if (o.logs) await until('each new container logs "heartbeat v2"', () => logsSay('v2', after.map((c) => c.id)));
  const detail = await h.req('GET', `${base}/beat`);
  check((detail.body.parameters as { env?: Record<string, string> }).env?.MESSAGE === 'v2', `parameters after update: ${detail.text}`);
  check((await h.req('DELETE', `${base}/beat`)).status === 204, 'delete beat');
}

/** the image each host of a cluster booted (the VM's, as the sandbox made it), by role: what the provider's configuration chose */
export async function hostImages(h: GatewayHarness, world: EngineWorld, cluster: string): Promise<{ manager: string[]; worker: string[] }> {
  const hosts = (await h.req('GET', `/v1/gateway/clusters/${cluster}/hosts`)).body.items as { role: 'manager' | 'worker'; address: string }[];
  const out = { manager: [] as string[], worker: [] as string[] };
  for (const x of hosts) out[x.role].push(world.base.list().find((v) => v.address === x.address)?.image ?? '(none)');
  return out;
}

