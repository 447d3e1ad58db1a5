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
import { metalHosts, runClusterScenario, runUpdateAndLogs, startGatewayHarness, swarmProbe, TOKENS, worldGatewayConfig, type GatewayHarness } from '../test/helpers/gateway-harness.js';

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

  it('creates 1 manager + 2 workers, runs a 3-replica catalog service, scales it, updates it, reads its logs, deletes it all', async () => {
    // the common scenario (every operation against the Docker Engine's own tasks), and the Swarm specifics before the delete
    await runClusterScenario(h, {
      name: 'sw', orchestrator: 'swarm', provider: 'baremetal', probe: swarmProbe,
      beforeDelete: async () => {
        const info = await h.req('GET', '/v1/gateway/clusters/sw');
        const create = (info.body.operations as { kind: string; steps: { name: string }[] }[]).find((o) => o.kind === 'create')!;
        assert.deepEqual(create.steps.map((s) => s.name), ['parse', 'plan', 'provision', 'install', 'analyse', 'register']);
        const manager = (info.body.hosts as { id: string; role: string; address: string }[]).find((x) => x.role === 'manager')!;
        const docker = new Docker({ host: manager.address, port: 2375 });
        // the hosts' recorded node ids are the swarm's nodes, on the inventory's hosts
        const nodes = await docker.listNodes();
        assert.equal(nodes.length, 3);
        const recorded = (await h.req('GET', '/v1/gateway/clusters/sw/hosts')).body.items as { nodeId: string; address: string }[];
        assert.deepEqual(new Set(nodes.map((n) => n.ID)), new Set(recorded.map((x) => x.nodeId)));
        assert.deepEqual(new Set(recorded.map((x) => x.address)), new Set(hosts.map((v) => v.address)));
        assert.ok((info.body.capabilities as { driver: string }[]).some((c) => c.driver === 'swarm'));
        const events = (await h.req('GET', '/v1/gateway/clusters/sw/events')).body.items as { reason: string }[];
        for (const reason of ['Parse', 'Plan', 'Provisioned', 'Installed', 'Analyse', 'Register', 'ServiceCreated', 'ServiceScaled', 'ServiceDeleted']) assert.ok(events.some((e) => e.reason === reason), `event ${reason}`);
        // getHostInfoById: the engine's node
        const worker = await h.req('GET', '/v1/gateway/clusters/sw/hosts/sw-worker-1');
        assert.equal(worker.body.role, 'worker');
        assert.match(String(worker.body.instanceId), /^baremetal:127\.0\.10\./);
        assert.equal((worker.body.node as { engineVersion: string }).engineVersion, (await docker.version()).Version);
        // getCatalogTemplateData, as a viewer
        const catalog = await h.req('GET', '/v1/gateway/catalog', { token: TOKENS.viewer });
        assert.ok((catalog.body.items as { name: string }[]).some((t) => t.name === 'web'));
        assert.equal((await h.req('GET', '/v1/gateway/catalog/web')).body.image, 'busybox:stable');
        // update (service update on the real engine) and logs (its log broker)
        await runUpdateAndLogs(h, 'sw', { logs: true });
        assert.equal((await docker.listServices()).length, 0);
      },
    });
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
      ['PATCH', '/v1/gateway/clusters/x/services/web', {}, ''],
      ['PATCH', '/v1/gateway/clusters/x/services/web', { image: 'Not An Image' }, '/image'],
      ['PATCH', '/v1/gateway/clusters/x/services/web', { env: { '1BAD': 'x' } }, '/env'],
      ['GET', '/v1/gateway/clusters/x/services/web/logs?tail=lots', undefined, '/tail'],
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
