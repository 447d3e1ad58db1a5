/**
 * The gateway end to end on the engine world: a Swarm of 1 manager + 2 workers on bare metal
 * (three sandbox VMs, each with a real Docker Engine), a catalog service with 3 replicas, the ten
 * operations checked against what the Docker Engine itself reports, scale, delete, nothing left;
 * then the faults: bad input, roles, an install step that fails (rolled back, no engine left).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { startEngineWorld, type EngineWorld } from '../sandbox/engines/world.js';
import type { SandboxVm } from '../sandbox/vms/index.js';
import { metalHosts, startGatewayHarness, TOKENS, until, worldGatewayConfig, type GatewayHarness } from '../test/helpers/gateway-harness.js';

describe('gateway: Swarm on bare metal (real Docker Engines)', function () {
  this.timeout(600_000);
  let dir: string;
  let world: EngineWorld;
  let hosts: SandboxVm[];
  let h: GatewayHarness;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mixmesh-gw-swarm-'));
    world = await startEngineWorld({ dir });
    hosts = await metalHosts(world, 'bm', { swarm: 3 });
    h = await startGatewayHarness(world, worldGatewayConfig(world, { inventory: hosts }));
  });

  after(async () => {
    await h?.stop();
    await world?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('creates 1 manager + 2 workers, runs a 3-replica catalog service, scales it, deletes it all', async () => {
    const created = await h.req('POST', '/v1/gateway/clusters', { body: { name: 'sw', orchestrator: 'swarm', infrastructure: { provider: 'baremetal' }, size: { managers: 1, workers: 2 } } });
    assert.equal(created.status, 202, created.text);
    const op = await h.waitOperation(created.body.operationId as string);
    assert.equal(op.state, 'Succeeded', JSON.stringify(op));
    assert.deepEqual((op.steps as { name: string }[]).map((s) => s.name), ['parse', 'plan', 'provision', 'install', 'analyse', 'register']);

    // getOrchestratorInfo, against the engine's own view
    const info = await h.req('GET', '/v1/gateway/clusters/sw');
    assert.equal(info.status, 200);
    assert.equal(info.body.phase, 'Ready');
    assert.equal(info.body.health, 'Healthy');
    const manager = (info.body.hosts as { id: string; role: string; address: string }[]).find((x) => x.role === 'manager')!;
    const docker = new Docker({ host: manager.address, port: 2375 });
    const nodes = await docker.listNodes();
    assert.equal(nodes.length, 3);
    const recorded = (await h.req('GET', '/v1/gateway/clusters/sw/hosts')).body.items as { nodeId: string; address: string }[];
    assert.deepEqual(new Set(nodes.map((n) => n.ID)), new Set(recorded.map((x) => x.nodeId)));
    assert.deepEqual(new Set(recorded.map((x) => x.address)), new Set(hosts.map((v) => v.address)));
    assert.equal((info.body.nodes as unknown[]).length, 3);
    assert.ok((info.body.capabilities as { driver: string }[]).some((c) => c.driver === 'swarm'));
    const events = await h.req('GET', '/v1/gateway/clusters/sw/events');
    for (const reason of ['Parse', 'Plan', 'Provisioned', 'Installed', 'Analyse', 'Register']) assert.ok((events.body.items as { reason: string }[]).some((e) => e.reason === reason), `event ${reason}`);

    // getHostInfoById
    const worker = await h.req('GET', '/v1/gateway/clusters/sw/hosts/sw-worker-1');
    assert.equal(worker.status, 200, worker.text);
    assert.equal(worker.body.role, 'worker');
    assert.equal(worker.body.state, 'Joined');
    assert.match(String(worker.body.instanceId), /^baremetal:127\.0\.10\./);
    assert.equal((worker.body.node as { engineVersion: string }).engineVersion, (await docker.version()).Version);

    // getCatalogTemplateData
    const catalog = await h.req('GET', '/v1/gateway/catalog', { token: TOKENS.viewer });
    assert.ok((catalog.body.items as { name: string }[]).some((t) => t.name === 'web'));
    assert.equal((await h.req('GET', '/v1/gateway/catalog/web')).body.image, 'busybox:stable');

    // createOrchestratorService, 3 replicas, as the Docker Engine runs them
    const svc = await h.req('POST', '/v1/gateway/clusters/sw/services', { token: TOKENS.deployer, body: { name: 'web', template: 'web', parameters: { replicas: 3 } } });
    assert.equal(svc.status, 201, svc.text);
    await until('3 running tasks', async () => (await docker.listTasks({ filters: { service: ['web'], 'desired-state': ['running'] } })).filter((t) => (t as { Status?: { State?: string } }).Status?.State === 'running').length === 3);
    const list = await h.req('GET', '/v1/gateway/clusters/sw/services');
    assert.deepEqual((list.body.items as { name: string; desired: number; running: number }[]).map((s) => [s.name, s.desired, s.running]), [['web', 3, 3]]);
    const detail = await h.req('GET', '/v1/gateway/clusters/sw/services/web');
    assert.equal(detail.body.state, 'Running');
    assert.ok((detail.body.events as { reason: string }[]).some((e) => e.reason === 'ServiceCreated'));
    const containers = await h.req('GET', '/v1/gateway/clusters/sw/services/web/containers');
    const items = containers.body.items as { id: string; state: string; host: string; image: string }[];
    const engineTasks = (await docker.listTasks({ filters: { service: ['web'], 'desired-state': ['running'] } })) as { ID: string }[];
    assert.deepEqual(items.map((c) => c.id).sort(), engineTasks.map((t) => t.ID).sort());
    assert.ok(items.every((c) => c.state === 'running' && c.image === 'busybox:stable' && hosts.some((v) => v.address === c.host)));
    const one = await h.req('GET', `/v1/gateway/clusters/sw/services/web/containers/${items[0]!.id}`);
    assert.equal(one.body.id, items[0]!.id);

    // scale
    const scaled = await h.req('PATCH', '/v1/gateway/clusters/sw/services/web', { body: { replicas: 1 } });
    assert.equal(scaled.status, 200, scaled.text);
    await until('1 running task', async () => (await docker.listTasks({ filters: { service: ['web'], 'desired-state': ['running'] } })).length === 1);
    assert.equal(((await docker.getService('web').inspect()) as { Spec: { Mode: { Replicated: { Replicas: number } } } }).Spec.Mode.Replicated.Replicas, 1);

    // deleteOrchestratorService, deleteOrchestrator
    assert.equal((await h.req('DELETE', '/v1/gateway/clusters/sw/services/web')).status, 204);
    assert.equal((await docker.listServices()).length, 0);
    const del = await h.req('DELETE', '/v1/gateway/clusters/sw');
    assert.equal(del.status, 202, del.text);
    assert.equal((await h.waitOperation(del.body.operationId as string)).state, 'Succeeded');
    assert.equal((await h.req('GET', '/v1/gateway/clusters/sw')).status, 404);
    // nothing left: no engine, no container, every host back in the inventory
    assert.deepEqual(world.engines(), { docker: 0, marathon: 0 });
    for (const v of hosts) assert.deepEqual(world.agent.running(v.serverId), []);
  });

  it('refuses bad input on every route with a pointer, and a viewer token cannot create', async () => {
    const cases: [string, string, unknown, string][] = [
      ['POST', '/v1/gateway/clusters', { name: 'Bad_Name', orchestrator: 'swarm', infrastructure: { provider: 'baremetal' }, size: { managers: 1, workers: 2 } }, '/name'],
      ['POST', '/v1/gateway/clusters', { name: 'x', orchestrator: 'nomad', register: { endpoint: 'tcp://127.0.0.1:1' } }, '/orchestrator'],
      ['POST', '/v1/gateway/clusters', { name: 'x', orchestrator: 'swarm', infrastructure: { provider: 'baremetal' }, size: { managers: 1, workers: -1 } }, '/size/workers'],
      ['POST', '/v1/gateway/clusters', { name: 'x', orchestrator: 'swarm', infrastructure: { provider: 'moon' }, size: { managers: 1, workers: 0 } }, '/infrastructure/provider'],
      ['POST', '/v1/gateway/clusters', { name: 'x', orchestrator: 'swarm', register: { endpoint: 'tcp://127.0.0.1:1' }, extra: 1 }, '/extra'],
      ['POST', '/v1/gateway/clusters', { name: 'x', orchestrator: 'kubernetes', register: { endpoint: 'tcp://127.0.0.1:1' } }, '/register/kubeconfig'],
      ['POST', '/v1/gateway/clusters/x/services', { name: 'web', template: 'web', parameters: { replicas: 'three' } }, '/parameters/replicas'],
      ['POST', '/v1/gateway/clusters/x/services', { name: 'web', template: 'no-such-template' }, '/template'],
      ['PATCH', '/v1/gateway/clusters/x/services/web', { replicas: -2 }, '/replicas'],
      ['GET', '/v1/gateway/clusters/NOT_A_NAME', undefined, '/id'],
    ];
    for (const [method, path, body, pointer] of cases) {
      const r = await h.req(method, path, body === undefined ? {} : { body });
      assert.equal(r.status, 400, `${method} ${path} ${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.body.code, 'BAD_REQUEST');
      assert.ok((r.body.errors as { pointer: string }[]).some((e) => e.pointer === pointer), `${pointer} in ${r.text}`);
    }
    const notJson = await h.req('POST', '/v1/gateway/clusters', { body: '{"name": ', type: 'application/json' });
    assert.equal(notJson.status, 400);
    const viewer = await h.req('POST', '/v1/gateway/clusters', { token: TOKENS.viewer, body: { name: 'v', orchestrator: 'swarm', infrastructure: { provider: 'baremetal' }, size: { managers: 1, workers: 0 } } });
    assert.equal(viewer.status, 403);
    assert.equal((await h.req('GET', '/v1/gateway/clusters', { token: null })).status, 401);
    assert.deepEqual((await h.req('GET', '/v1/gateway/clusters')).body.items, []);
    const openapi = await h.req('GET', '/openapi.json', { token: null });
    assert.ok((openapi.body.paths as Record<string, unknown>)['/v1/gateway/clusters/{id}/services/{sid}/containers']);
  });

  it('an install step that fails names the host and the step, and rolls back (no engine left, hosts free again)', async () => {
    world.agent.failNext('dockerd', hosts[2]!.address);
    const created = await h.req('POST', '/v1/gateway/clusters', { body: { name: 'bad', orchestrator: 'swarm', infrastructure: { provider: 'baremetal' }, size: { managers: 1, workers: 2 } } });
    assert.equal(created.status, 202, created.text);
    const op = await h.waitOperation(created.body.operationId as string);
    assert.equal(op.state, 'RolledBack', JSON.stringify(op));
    const hostName = (await h.req('GET', '/v1/gateway/clusters/bad/hosts')).body.items as { name: string; address: string; state: string }[];
    const failedHost = hostName.find((x) => x.address === hosts[2]!.address)!;
    assert.match(String(op.error), new RegExp(`host ${failedHost.name} \\(${hosts[2]!.address.replace(/\./g, '\\.')}\\), engine: [\\s\\S]*install and start Docker Engine[\\s\\S]*dockerd: failed to start`));
    assert.ok(hostName.every((x) => x.state === 'Released'), JSON.stringify(hostName));
    const cluster = await h.req('GET', '/v1/gateway/clusters/bad');
    assert.equal(cluster.body.phase, 'Failed');
    assert.deepEqual(world.engines(), { docker: 0, marathon: 0 });
    const del = await h.req('DELETE', '/v1/gateway/clusters/bad');
    assert.equal((await h.waitOperation(del.body.operationId as string)).state, 'Succeeded');
  });
});
