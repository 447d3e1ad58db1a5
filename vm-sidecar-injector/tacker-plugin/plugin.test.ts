import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { startInjectorFixture, type InjectorFixture } from '../testing/injector-fixture.js';
import { PACKAGE_CACHE, createVmWorld, prepareArtifacts, type VmWorld } from '../testing/vm-world.js';

const SCRIPT = fileURLToPath(new URL('./mixmesh_instantiate_end.py', import.meta.url));
const PACKAGE = fileURLToPath(new URL('./sample-vnf-package/', import.meta.url));
const PICKLER = 'import sys, json, pickle; sys.stdout.buffer.write(pickle.dumps(json.load(sys.stdin)))';

function run(cmd: string, args: string[], input: Buffer, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: Buffer; stderr: Buffer }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }));
    child.stdin.end(input);
  });
}

/** As tacker-conductor does: `python3 <script>` with the pickled dict on stdin. */
async function conductor(input: Record<string, unknown>, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const pickled = await run('python3', ['-c', PICKLER], Buffer.from(JSON.stringify(input)), process.env);
  assert.equal(pickled.code, 0, pickled.stderr.toString());
  const r = await run('python3', [SCRIPT], pickled.stdout, { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env });
  return { code: r.code, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
}

function driverInput(vnfInstanceId: string, serverId: string, mixmesh: Record<string, unknown> | undefined, fixed?: string): Record<string, unknown> {
  const cpId = `VDU1_CP1-${serverId}`;
  const extId = `cp1-${serverId}`;
  return {
    operation: 'instantiate_end',
    request: { flavourId: 'simple', additionalParams: mixmesh ? { mixmesh } : {} },
    vnf_instance: {
      id: vnfInstanceId,
      instantiatedVnfInfo: {
        flavourId: 'simple',
        vnfState: 'STARTED',
        extCpInfo: fixed ? [{ id: extId, cpdId: 'VDU1_CP1', cpProtocolInfo: [{ layerProtocol: 'IP_OVER_ETHERNET', ipOverEthernet: { ipAddresses: [{ type: 'IPV4', addresses: [fixed] }] } }] }] : [],
        vnfcResourceInfo: [{ id: serverId, vduId: 'VDU1', computeResource: { resourceId: serverId, vimLevelResourceType: 'OS::Nova::Server' }, vnfcCpInfo: [{ id: cpId, cpdId: 'VDU1_CP1', ...(fixed ? { vnfExtCpId: extId } : {}) }] }],
      },
      vimConnectionInfo: {},
    },
    grant_request: {},
    grant_response: {},
    tmp_csar_dir: PACKAGE,
  };
}

describe('vm-sidecar-injector/tacker-plugin: instantiate_end run as tacker-conductor runs it', function () {
  this.timeout(60_000);
  let world: VmWorld;
  let fixture: InjectorFixture;
  let env: Record<string, string>;
  const identity = { namespace: 'cafe', service: 'iot-cafe', name: 'order-api', version: 'v1', index: 0 };

  before(async () => {
    world = await createVmWorld('mixmesh-plugin-');
    await prepareArtifacts(world.artifacts, PACKAGE_CACHE, '1.30.3', ['tar']);
    fixture = await startInjectorFixture(world, { connectBudgetMs: 3000 });
    const config = join(world.dir, 'injector.json');
    writeFileSync(config, JSON.stringify({ url: fixture.url, token: fixture.token }), { mode: 0o600 });
    env = { MIXMESH_INJECTOR_CONFIG: config };
  });
  after(async () => {
    await fixture?.close();
    await world?.close();
  });

  it('does nothing and exits 0 without additionalParams.mixmesh (and without a config file)', async () => {
    const r = await conductor(driverInput('vnf-plain', 'srv-none', undefined), { MIXMESH_INJECTOR_CONFIG: '/nonexistent/injector.json' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fixture.injector.list().length, 0);
  });

  it('injects the VNF\'s VM (dynamic address from Nova) and exits 0 once the injection Succeeded', async () => {
    const vm = await world.provider.create({ serverId: 'srv-plugin-1', name: 'order-api-v1-0' });
    const r = await conductor(driverInput('vnf-1', vm.serverId, identity), env);
    assert.equal(r.code, 0, r.stderr);
    const [inj] = fixture.injector.list({ vnfInstanceId: 'vnf-1' });
    assert.equal(inj?.state, 'Succeeded');
    assert.equal(inj?.vm.address, vm.address);
    assert.match(r.stdout, /succeeded/);
  });

  it('passes fixed addresses from extCpInfo', async () => {
    const vm = await world.provider.create({ serverId: 'srv-plugin-2', name: 'fixed' });
    const r = await conductor(driverInput('vnf-2', vm.serverId, identity, vm.address), env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fixture.injector.list({ vnfInstanceId: 'vnf-2' })[0]?.vm.address, vm.address);
  });

  it('exits 1 with the injector\'s code and message on stderr when the injection fails or is refused', async () => {
    const vm = await world.provider.create({ serverId: 'srv-plugin-3', name: 'badkey' });
    const other = await world.provider.create({ serverId: 'srv-plugin-other', name: 'other' });
    fixture.cluster.meshServices.get('cafe/iot-cafe')!.spec!.microservices![0]!.vm!.ssh!.hostKey = other.hostPublicKey;
    try {
      const r = await conductor(driverInput('vnf-3', vm.serverId, identity), env);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^SSH_HOST_KEY_MISMATCH: connect root@/);
    } finally {
      fixture.cluster.meshServices.get('cafe/iot-cafe')!.spec!.microservices![0]!.vm!.ssh!.hostKey = 'console';
    }
    const refused = await conductor(driverInput('vnf-4', vm.serverId, { ...identity, service: 'nope' }), env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^NOT_FOUND: POST \/v1\/injections: the injector answered 404: MeshService cafe\/nope not found/);
    const badToken = join(world.dir, 'bad.json');
    writeFileSync(badToken, JSON.stringify({ url: fixture.url, token: 'wrong' }));
    const unauthorized = await conductor(driverInput('vnf-5', vm.serverId, identity), { MIXMESH_INJECTOR_CONFIG: badToken });
    assert.equal(unauthorized.code, 1);
    assert.match(unauthorized.stderr, /^UNAUTHORIZED: /);
    assert.ok(!unauthorized.stderr.includes('wrong'), 'the token is never printed');
  });

  it('gives up with INJECTION_TIMEOUT when the injection does not finish in time', async () => {
    world.provider.setSshdDelay(30_000);
    const vm = await world.provider.create({ serverId: 'srv-plugin-slow', name: 'slow' });
    world.provider.setSshdDelay(undefined);
    const r = await conductor(driverInput('vnf-slow', vm.serverId, identity), { ...env, MIXMESH_INJECTOR_TIMEOUT: '1' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^INJECTION_TIMEOUT: injection [0-9a-f-]+ not finished after 1 s/);
    await fixture.injector.idle();
  });

  it('the sample VNF package names the script under interfaces.Vnflcm.instantiate_end as a Python artifact', () => {
    const meta = readFileSync(join(PACKAGE, 'TOSCA-Metadata/TOSCA.meta'), 'utf8');
    const entry = /Entry-Definitions:\s*(\S+)/.exec(meta)?.[1];
    assert.ok(entry && readFileSync(join(PACKAGE, entry), 'utf8').includes('tosca_definitions_version: tosca_simple_yaml_1_2'));
    const df = parse(readFileSync(join(PACKAGE, 'Definitions/mixmesh_sample_df_simple.yaml'), 'utf8')) as {
      topology_template: { node_templates: { VNF: { interfaces: { Vnflcm: { instantiate_end: { implementation: string } } }; artifacts: Record<string, { type: string; file: string }> } } };
    };
    const vnf = df.topology_template.node_templates.VNF;
    const artifact = vnf.artifacts[vnf.interfaces.Vnflcm.instantiate_end.implementation]!;
    assert.equal(artifact.type, 'tosca.artifacts.Implementation.Python');
    const scriptInPackage = join(PACKAGE, 'Definitions', artifact.file);
    assert.equal(readFileSync(scriptInPackage, 'utf8'), readFileSync(SCRIPT, 'utf8'));
    assert.equal(realpathSync(scriptInPackage), realpathSync(SCRIPT));
    for (const f of ['BaseHOT/simple/mixmesh_sample_hot.yaml', 'BaseHOT/simple/nested/VDU1.yaml']) parse(readFileSync(join(PACKAGE, f), 'utf8'));
  });
});
