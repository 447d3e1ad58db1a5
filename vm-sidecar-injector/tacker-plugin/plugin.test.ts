import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { startInjectorFixture, type InjectorFixture } from '../../test/helpers/injector-fixture.js';
import { PACKAGE_CACHE, createVmWorld, prepareArtifacts, type VmWorld } from '../../test/helpers/vm-world.js';

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

/**
 * What the conductor makes of the script's stdout (vnflcm_driver_v2._exec_mgmt_driver_script:
 * `pickle.loads(out.stdout)`, EOFError and UnpicklingError swallowed): 'empty', 'not-a-pickle', or the value as JSON.
 */
const UNPICKLER = [
  'import sys, json, pickle',
  'data = sys.stdin.buffer.read()',
  'try:',
  '    out = pickle.loads(data)',
  'except EOFError:',
  '    print(json.dumps({"kind": "empty"}))',
  'except pickle.UnpicklingError:',
  '    print(json.dumps({"kind": "not-a-pickle"}))',
  'else:',
  '    print(json.dumps({"kind": type(out).__name__, "value": out}))',
].join('\n');

/** As tacker-conductor does: `python3 <script>` with the pickled dict on stdin; stdout read as a pickle. */
async function conductor(input: Record<string, unknown>, env: Record<string, string>): Promise<{ code: number | null; stdout: { kind: string; value?: unknown }; stderr: string }> {
  const pickled = await run('python3', ['-c', PICKLER], Buffer.from(JSON.stringify({ user_script_err_handling_data: {}, ...input })), process.env);
  assert.equal(pickled.code, 0, pickled.stderr.toString());
  const r = await run('python3', [SCRIPT], pickled.stdout, { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env });
  const decoded = await run('python3', ['-c', UNPICKLER], r.stdout, process.env);
  assert.equal(decoded.code, 0, decoded.stderr.toString());
  const stdout = JSON.parse(decoded.stdout.toString('utf8')) as { kind: string; value?: unknown };
  assert.ok(stdout.kind === 'empty' || stdout.kind === 'dict', `stdout must be nothing or a pickled dict, got ${stdout.kind}: ${r.stdout.toString('utf8').slice(0, 200)}`);
  return { code: r.code, stdout, stderr: r.stderr.toString('utf8') };
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
    assert.equal(r.stdout.kind, 'empty', 'nothing to report: stdout stays empty');
  });

  it('injects the VNF\'s VM (dynamic address from Nova) and exits 0 once the injection Succeeded', async () => {
    const vm = await world.provider.create({ serverId: 'srv-plugin-1', name: 'order-api-v1-0' });
    const r = await conductor(driverInput('vnf-1', vm.serverId, identity), env);
    assert.equal(r.code, 0, r.stderr);
    const [inj] = fixture.injector.list({ vnfInstanceId: 'vnf-1' });
    assert.equal(inj?.state, 'Succeeded');
    assert.equal(inj?.vm.address, vm.address);
    // the conductor gets a pickled dict naming the injection (kept as user_script_err_handling_data)
    assert.deepEqual(r.stdout.value, { user_script_err_handling_data: { mixmesh: { injectionId: inj!.id, state: 'Succeeded' } } });
  });

  it('accepts the user_script_err_handling_data Tacker passes on a retry (and re-injects: every step is idempotent)', async () => {
    const vm = await world.provider.create({ serverId: 'srv-plugin-retry', name: 'retry' });
    const earlier = { mixmesh: { injectionId: 'from-an-earlier-run', state: 'Failed' } };
    const r = await conductor({ ...driverInput('vnf-retry', vm.serverId, identity), user_script_err_handling_data: earlier }, env);
    assert.equal(r.code, 0, r.stderr);
    const [inj] = fixture.injector.list({ vnfInstanceId: 'vnf-retry' });
    assert.equal(inj?.state, 'Succeeded');
    assert.equal((r.stdout.value as { user_script_err_handling_data: { mixmesh: { injectionId: string } } }).user_script_err_handling_data.mixmesh.injectionId, inj!.id);
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
      assert.equal((r.stdout.value as { user_script_err_handling_data: { mixmesh: { state: string } } }).user_script_err_handling_data.mixmesh.state, 'Failed');
    } finally {
      fixture.cluster.meshServices.get('cafe/iot-cafe')!.spec!.microservices![0]!.vm!.ssh!.hostKey = 'console';
    }
    const refused = await conductor(driverInput('vnf-4', vm.serverId, { ...identity, service: 'nope' }), env);
    assert.equal(refused.code, 1);
    assert.equal(refused.stdout.kind, 'empty', 'no injection was created: nothing for the conductor');
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

  describe('the v1 management driver (pip-installed, loaded through its entry point, called as the v1 conductor calls it)', () => {
    let site: string;
    const HARNESS = fileURLToPath(new URL('./test-harness/', import.meta.url));
    const PLUGIN_DIR = fileURLToPath(new URL('./', import.meta.url));

    /** v1 objects (snake_case) for one VM, as tacker.objects.VnfInstance holds them */
    function v1Input(vnfInstanceId: string, serverId: string, mixmesh: Record<string, unknown> | undefined, fixed?: string): Record<string, unknown> {
      return {
        vnf_instance: {
          id: vnfInstanceId,
          instantiation_state: 'INSTANTIATED',
          instantiated_vnf_info: {
            flavour_id: 'simple',
            ext_cp_info: fixed ? [{ id: `cp1-${serverId}`, cpd_id: 'VDU1_CP1', cp_protocol_info: [{ layer_protocol: 'IP_OVER_ETHERNET', ip_over_ethernet: { ip_addresses: [{ type: 'IPV4', addresses: [fixed], is_dynamic: false }] } }] }] : [],
            vnfc_resource_info: [{ id: `vnfc-${serverId}`, vdu_id: 'VDU1', compute_resource: { resource_id: serverId, vim_level_resource_type: 'OS::Nova::Server' }, vnfc_cp_info: [{ id: `cp-${serverId}`, cpd_id: 'VDU1_CP1', ...(fixed ? { vnf_ext_cp_id: `cp1-${serverId}` } : {}) }] }],
          },
        },
        request: { flavour_id: 'simple', additional_params: mixmesh ? { mixmesh } : {} },
      };
    }

    async function v1(operation: string, input: Record<string, unknown>, extraEnv: Record<string, string> = env): Promise<{ code: number | null; result: { ok: boolean; error?: string; name?: string } }> {
      const r = await run('/usr/bin/python3', [join(HARNESS, 'v1_conductor.py'), 'mgmt-drivers-mixmesh', operation], Buffer.from(JSON.stringify(input)), {
        PATH: process.env.PATH ?? '/usr/bin:/bin', PYTHONPATH: `${site}:${join(HARNESS, 'tacker_stub')}`, ...extraEnv,
      });
      assert.equal(r.stderr.toString(), '', 'the harness prints its verdict on stdout only');
      return { code: r.code, result: JSON.parse(r.stdout.toString('utf8')) as { ok: boolean; error?: string; name?: string } };
    }

    before(async function () {
      this.timeout(120_000);
      // a copy of the source, so pip's in-tree build leaves the checkout untouched
      const src = mkdtempSync(join(tmpdir(), 'mixmesh-v1-src-'));
      site = mkdtempSync(join(tmpdir(), 'mixmesh-v1-site-'));
      for (const f of ['pyproject.toml', 'README.md', 'mixmesh_instantiate_end.py', 'mixmesh_tacker']) cpSync(join(PLUGIN_DIR, f), join(src, f), { recursive: true, dereference: true });
      const pip = await run('/usr/bin/python3', ['-m', 'pip', 'install', '--no-deps', '--no-build-isolation', '--no-index', '--disable-pip-version-check', '--root-user-action=ignore', '--quiet', '--target', site, src], Buffer.alloc(0), process.env);
      rmSync(src, { recursive: true, force: true });
      assert.equal(pip.code, 0, pip.stderr.toString());
    });
    after(() => {
      if (site) rmSync(site, { recursive: true, force: true });
    });

    it('pip install registers the tacker.tacker.mgmt.drivers entry point "mgmt-drivers-mixmesh", the sample VNFD\'s instantiate_end implementation name', () => {
      const distInfo = readdirSync(site).find((d) => d.endsWith('.dist-info'))!;
      assert.match(readFileSync(join(site, distInfo, 'entry_points.txt'), 'utf8'), /^\[tacker\.tacker\.mgmt\.drivers\]\nmgmt-drivers-mixmesh = mixmesh_tacker\.v1_driver:MixmeshMgmtDriver$/m);
      const df = parse(readFileSync(join(PACKAGE, 'Definitions/mixmesh_sample_df_simple.yaml'), 'utf8')) as { topology_template: { node_templates: { VNF: { interfaces: { Vnflcm: { instantiate_end: { implementation: string } } } } } } };
      assert.equal(df.topology_template.node_templates.VNF.interfaces.Vnflcm.instantiate_end.implementation, 'mgmt-drivers-mixmesh', 'the v1 conductor finds the driver by this name');
    });

    it('instantiate_end injects the VM (fixed address from ext_cp_info) and returns; without additional_params.mixmesh it does nothing', async () => {
      const vm = await world.provider.create({ serverId: 'srv-v1-1', name: 'v1-order-api' });
      const r = await v1('instantiate_end', v1Input('vnf-v1-1', vm.serverId, identity, vm.address));
      assert.deepEqual([r.code, r.result.ok, r.result.name], [0, true, 'mgmt-drivers-mixmesh'], JSON.stringify(r.result));
      const [inj] = fixture.injector.list({ vnfInstanceId: 'vnf-v1-1' });
      assert.equal(inj?.state, 'Succeeded');
      assert.equal(inj?.vm.address, vm.address);
      const before = fixture.injector.list().length;
      const plain = await v1('instantiate_end', v1Input('vnf-v1-plain', vm.serverId, undefined), { MIXMESH_INJECTOR_CONFIG: '/nonexistent/injector.json' });
      assert.equal(plain.result.ok, true);
      assert.equal(fixture.injector.list().length, before);
      for (const hook of ['instantiate_start', 'terminate_start', 'terminate_end']) assert.equal((await v1(hook, v1Input('vnf-v1-1', vm.serverId, identity))).result.ok, true, hook);
    });

    it('a failed injection raises (the v1 conductor makes that FAILED_TEMP) with the injector\'s code', async () => {
      const vm = await world.provider.create({ serverId: 'srv-v1-2', name: 'v1-refused' });
      const r = await v1('instantiate_end', v1Input('vnf-v1-2', vm.serverId, { ...identity, service: 'nope' }));
      assert.equal(r.code, 1);
      assert.equal(r.result.ok, false);
      assert.match(r.result.error!, /^NOT_FOUND: POST \/v1\/injections: the injector answered 404: MeshService cafe\/nope not found/);
    });
  });
});
