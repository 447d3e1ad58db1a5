/**
 * `mixmesh gateway …` (the built CLI, dist/) against `mixmesh serve`'s stack: catalog and
 * capabilities, registering the sandbox's Kubernetes from a YAML file, a service on it, scale,
 * delete; usage errors exit 2, rejections 1 with the problem's pointers.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startEngineWorld, type EngineWorld } from '../sandbox/engines/world.js';
import { startGatewayHarness, TOKENS, until, worldGatewayConfig, type GatewayHarness } from '../test/helpers/gateway-harness.js';

const BIN = new URL('../dist/cli/bin.js', import.meta.url).pathname;

describe('mixmesh gateway (CLI)', function () {
  this.timeout(120_000);
  let dir: string;
  let world: EngineWorld;
  let h: GatewayHarness;
  const cli = (args: string[], token = TOKENS.admin): Promise<{ code: number; stdout: string; stderr: string }> => new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'gateway', ...args], { env: { ...process.env, MIXMESH_SERVER: h.url, MIXMESH_TOKEN: token } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mixmesh-gw-cli-'));
    world = await startEngineWorld({ dir });
    h = await startGatewayHarness(world, worldGatewayConfig(world));
  });

  after(async () => {
    await h?.stop();
    await world?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('lists the catalog and the capabilities', async () => {
    const catalog = await cli(['catalog']);
    assert.equal(catalog.code, 0, catalog.stderr);
    assert.match(catalog.stdout, /^web\s+busybox:stable\s+8080/m);
    assert.match(catalog.stdout, /^cache\s+redis:7\.2-alpine\s+6379/m);
    assert.match(catalog.stdout, /^order-api\s/m);
    const web = await cli(['catalog', 'web', '-o', 'json']);
    assert.equal(JSON.parse(web.stdout).image, 'busybox:stable');
    const caps = await cli(['capabilities']);
    assert.match(caps.stdout, /^kubernetes\s+yes\s+yes\s+yes\s+yes\s+yes/m);
    assert.match(caps.stdout, /^marathon\s+yes\s+yes\s+yes\s+yes\s+no/m);
  });

  it('registers a cluster from a file, runs a service on it, deletes it', async () => {
    const file = join(dir, 'kube.yaml');
    await writeFile(file, stringify({ name: 'k', orchestrator: 'kubernetes', register: { kubeconfig: world.kube.kubeconfig() } }));
    const created = await cli(['clusters', 'create', '-f', file]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stderr, /register done/);
    assert.match((await cli(['clusters', 'list'])).stdout, /^k\s+kubernetes\s+registered\s+Ready/m);
    const svc = await cli(['services', 'create', 'k', 'web', '--template', 'web', '--replicas', '2'], TOKENS.deployer);
    assert.equal(svc.code, 0, svc.stderr);
    await until('2 running', async () => JSON.parse((await cli(['services', 'list', 'k', '-o', 'json'])).stdout).items[0].running === 2);
    assert.equal((await cli(['services', 'scale', 'k', 'web', '--replicas', '1'])).code, 0);
    assert.equal((await cli(['services', 'delete', 'k', 'web'])).code, 0);
    const denied = await cli(['clusters', 'delete', 'k'], TOKENS.viewer);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /FORBIDDEN/);
    assert.equal((await cli(['clusters', 'delete', 'k'])).code, 0);
    assert.equal((await cli(['clusters', 'get', 'k'])).code, 1);
  });

  it('usage errors exit 2; rejected requests exit 1 with their pointers', async () => {
    assert.equal((await cli(['clusters', 'create', 'x'])).code, 2);
    assert.equal((await cli(['services', 'scale', 'k', 'web', '--replicas', 'many'])).code, 2);
    const bad = await cli(['clusters', 'create', 'Bad_Name', '--orchestrator', 'swarm', '--provider', 'baremetal']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /BAD_REQUEST[\s\S]*\/name:/);
  });
});
