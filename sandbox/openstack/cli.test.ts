/**
 * The emulator driven by the real OpenStack CLI 6.0 + tackerclient 1.12, and the mixmesh client,
 * both behind the real Keystone when it is installed (Debian's keystone 22), as in CI.
 * Few CLI calls: each costs a Python start-up.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOpenStackClient, loadOpenStackConfig, type OpenStackClient, type OpenStackConfig } from '../../clients/openstack/index.js';
import { PLAIN_PACKAGE_ID, PLAIN_VNFD_ID, PLUGIN_PACKAGE_ID, startOpenStack, type OpenStackSandbox } from './index.js';
import { realKeystoneInstalled } from './keystone-real.js';
import { MemoryVmProvider, Receiver } from './test-helpers.js';
import { zipDirectory } from '../../test/helpers/zip-directory.js';

const SAMPLE_PACKAGE = new URL('../../vm-sidecar-injector/tacker-plugin/sample-vnf-package/', import.meta.url).pathname;

const CLI = '/usr/bin/openstack';

describe('sandbox/openstack with the real OpenStack CLI and Keystone', function () {
  this.timeout(180_000);
  let dir: string;
  let os: OpenStackSandbox;
  let client: OpenStackClient;
  let env: NodeJS.ProcessEnv;

  function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(CLI, args, { env, cwd: dir });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('error', reject);
      child.once('close', (code) => resolve({ code, stdout, stderr }));
    });
  }
  const lcm = (...args: string[]) => cli(['--os-tacker-api-version', '2', 'vnflcm', ...args]);

  before(async function () {
    assert.ok(existsSync(CLI), `${CLI} is missing: run scripts/setup-host.sh (installs python3-openstackclient python3-tackerclient)`);
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-oscli-'));
    os = await startOpenStack({
      dir, vmProvider: new MemoryVmProvider(), keystone: 'auto', latencies: { startingMs: 20, processingMs: 50, terminateMs: 20, sshdMs: 0 },
      keypairs: [{ name: 'sandbox', publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBd0JWc2x7bUV4cHP0NHd2cRm6m7q2G1F3J7p2TQ3k7g mixmesh-sandbox' }],
    });
    writeFileSync(join(dir, 'clouds.yaml'), os.cloudsYaml(), { mode: 0o600 });
    // only the cloud: no OS_* leaking in from the developer's shell
    env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OS_')));
    env.OS_CLIENT_CONFIG_FILE = join(dir, 'clouds.yaml');
    env.OS_CLOUD = 'sandbox';
    client = createOpenStackClient(loadOpenStackConfig(env) as OpenStackConfig);
  });

  after(async () => {
    await os?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('uses the real Keystone when it is installed', () => {
    assert.equal(os.keystoneKind, realKeystoneInstalled() ? 'real' : 'emulated');
    assert.match(os.authUrl, /\/v3$/);
  });

  it('openstack vnf package list shows the seeded packages, plain first', async () => {
    const r = await cli(['vnf', 'package', 'list', '-f', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as { Id: string; 'Onboarding State': string; 'Operational State': string }[];
    assert.deepEqual(rows.map((p) => p.Id), [PLAIN_PACKAGE_ID, PLUGIN_PACKAGE_ID]);
    assert.ok(rows.every((p) => p['Onboarding State'] === 'ONBOARDED' && p['Operational State'] === 'ENABLED'));
  });

  it('vnflcm create / instantiate / show / op show / subsc create / terminate / delete, with the client waiting in between', async () => {
    const created = await lcm('create', PLAIN_VNFD_ID, '--name', 'cli.test.app.v1.0', '-f', 'json');
    assert.equal(created.code, 0, created.stderr);
    const id = (JSON.parse(created.stdout) as { ID: string }).ID;

    const rx = new Receiver({ basic: { user: 'cli', password: 'cli-subscription-pw' } });
    await rx.start();
    try {
      writeFileSync(join(dir, 'subsc.json'), JSON.stringify({
        callbackUri: `${rx.url}/notify`, filter: { notificationTypes: ['VnfLcmOperationOccurrenceNotification'] },
        authentication: { authType: ['BASIC'], paramsBasic: { userName: 'cli', password: 'cli-subscription-pw' } },
      }));
      const sub = await lcm('subsc', 'create', join(dir, 'subsc.json'), '-f', 'json');
      assert.equal(sub.code, 0, sub.stderr);
      assert.ok(!sub.stdout.includes('cli-subscription-pw'), 'the reply never echoes authentication');

      writeFileSync(join(dir, 'instantiate.json'), JSON.stringify({ flavourId: 'simple', additionalParams: { from: 'cli' } }));
      const inst = await lcm('instantiate', id, join(dir, 'instantiate.json'));
      assert.equal(inst.code, 0, inst.stderr);
      assert.match(inst.stdout, /Instantiate request for VNF Instance .* has been accepted/);
      const ops = await client.tacker.listOpOccs(`(eq,vnfInstanceId,${id})`);
      assert.equal(ops.length, 1);
      const op = await client.tacker.waitForOperation(ops[0]!.id, { minIntervalMs: 20 });
      assert.equal(op.operationState, 'COMPLETED');
      await rx.waitForPosts(3);

      const shown = await lcm('show', id, '-f', 'json');
      assert.equal(shown.code, 0, shown.stderr);
      const s = JSON.parse(shown.stdout) as { 'Instantiation State': string; 'Instantiated Vnf Info': { vnfcResourceInfo: { id: string }[] } };
      assert.equal(s['Instantiation State'], 'INSTANTIATED');
      const serverId = s['Instantiated Vnf Info'].vnfcResourceInfo[0]!.id;
      assert.match((await client.nova.getConsoleOutput(serverId)), /BEGIN SSH HOST KEY KEYS/);

      const opShown = await lcm('op', 'show', op.id, '-f', 'json');
      assert.equal(opShown.code, 0, opShown.stderr);
      assert.equal((JSON.parse(opShown.stdout) as { 'Operation State': string })['Operation State'], 'COMPLETED');

      const term = await lcm('terminate', id);
      assert.equal(term.code, 0, term.stderr);
      assert.match(term.stdout, /Terminate request for VNF Instance .* has been accepted/);
      const termOp = (await client.tacker.listOpOccs(`(eq,vnfInstanceId,${id});(eq,operation,TERMINATE)`))[0]!;
      assert.equal(termOp.operationParams, undefined, 'lists leave operationParams out');
      assert.equal(((await client.tacker.getOpOcc(termOp.id)).operationParams as { terminationType: string }).terminationType, 'GRACEFUL', 'the CLI default');
      assert.equal((await client.tacker.waitForOperation(termOp.id, { minIntervalMs: 20 })).operationState, 'COMPLETED');

      const del = await lcm('delete', id);
      assert.equal(del.code, 0, del.stderr);
      assert.match(del.stdout, /deleted successfully/);
    } finally {
      await rx.stop();
    }
  });

  it('openstack server list / server show / flavor list / keypair list see the VNF\'s VM (Glance and Nova in the catalog)', async () => {
    const inst = await client.tacker.createVnfInstance({ vnfdId: PLAIN_VNFD_ID, vnfInstanceName: 'cli.servers.app.v1.0' });
    const op = await client.tacker.waitForOperation(await client.tacker.instantiate(inst.id, { flavourId: 'simple' }), { minIntervalMs: 20 });
    assert.equal(op.operationState, 'COMPLETED');
    const serverId = ((await client.tacker.getVnfInstance(inst.id)).instantiatedVnfInfo as { vnfcResourceInfo: { id: string }[] }).vnfcResourceInfo[0]!.id;
    try {
      const list = await cli(['server', 'list', '-f', 'json']);
      assert.equal(list.code, 0, list.stderr);
      const rows = JSON.parse(list.stdout) as { ID: string; Name: string; Status: string; Networks: unknown; Image: string; Flavor: string }[];
      const row = rows.find((r) => r.ID === serverId);
      assert.ok(row, list.stdout);
      assert.equal(row.Status, 'ACTIVE');
      assert.equal(row.Image, 'sandbox-busybox');
      assert.equal(row.Flavor, 'sandbox.small');
      const show = await cli(['server', 'show', serverId, '-f', 'json']);
      assert.equal(show.code, 0, show.stderr);
      assert.equal((JSON.parse(show.stdout) as { id: string }).id, serverId);
      const flavors = await cli(['flavor', 'list', '-f', 'json']);
      assert.equal(flavors.code, 0, flavors.stderr);
      assert.deepEqual((JSON.parse(flavors.stdout) as { Name: string }[]).map((f) => f.Name), ['sandbox.small']);
      const keys = await cli(['keypair', 'list', '-f', 'json']);
      assert.equal(keys.code, 0, keys.stderr);
      assert.deepEqual((JSON.parse(keys.stdout) as { Name: string }[]).map((k) => k.Name), ['sandbox']);
    } finally {
      await client.tacker.waitForOperation(await client.tacker.terminate(inst.id, { terminationType: 'FORCEFUL' }), { minIntervalMs: 20 });
      await client.tacker.deleteVnfInstance(inst.id);
    }
  });

  it('vnf package upload / show / download: Tacker\'s facts read from the package, a real checksum, the same bytes back; an unresolvable import is refused', async () => {
    const good = zipDirectory(SAMPLE_PACKAGE);
    writeFileSync(join(dir, 'sample.zip'), good);
    writeFileSync(join(dir, 'broken.zip'), zipDirectory(SAMPLE_PACKAGE, (rel) => rel.startsWith('Definitions/etsi_nfv_sol001_')));
    const created = await cli(['vnf', 'package', 'create', '-f', 'json']);
    assert.equal(created.code, 0, created.stderr);
    const id = (JSON.parse(created.stdout) as { ID: string }).ID;
    const settle = async (): Promise<Record<string, unknown>> => {
      for (;;) {
        const r = await cli(['vnf', 'package', 'show', id, '-f', 'json']);
        assert.equal(r.code, 0, r.stderr);
        const p = JSON.parse(r.stdout) as Record<string, unknown>;
        if (p['Onboarding State'] !== 'UPLOADING' && p['Onboarding State'] !== 'PROCESSING') return p;
      }
    };
    const bad = await cli(['vnf', 'package', 'upload', '--path', join(dir, 'broken.zip'), id]);
    assert.equal(bad.code, 0, bad.stderr);
    assert.equal((await settle())['Onboarding State'], 'CREATED', 'Tacker puts a package it cannot parse back to CREATED');
    const up = await cli(['vnf', 'package', 'upload', '--path', join(dir, 'sample.zip'), id]);
    assert.equal(up.code, 0, up.stderr);
    const shown = await settle();
    assert.equal(shown['Onboarding State'], 'ONBOARDED');
    assert.equal(shown['VNF Product Name'], 'mixmesh sample VNF');
    assert.equal(shown['VNF Provider'], 'mixmesh');
    assert.deepEqual(shown.Checksum, { algorithm: 'sha512', hash: createHash('sha512').update(good).digest('hex') });
    // Known tackerclient 1.12 bug, not the server's: `show` wraps every nested object in its
    // DictModel (a dict subclass) and cliff's YAML formatter uses yaml.safe_dump, which refuses dict
    // subclasses. Any Tacker answer has objects there (checksum, _links, userDefinedData), so
    // `-f yaml` fails against a real Tacker too; -f json (above) prints the same fields. When a
    // fixed client lands, this assertion fails: then assert the YAML instead.
    const yamlShow = await cli(['vnf', 'package', 'show', id, '-f', 'yaml']);
    assert.notEqual(yamlShow.code, 0);
    assert.match(yamlShow.stderr, /cannot represent an object/);
    const file = join(dir, 'downloaded.zip');
    const dl = await cli(['vnf', 'package', 'download', id, '--file', file]);
    assert.equal(dl.code, 0, dl.stderr);
    assert.ok(readFileSync(file).equals(good), 'download returns the uploaded bytes');
    // clean up: other tests list the seeded packages only
    assert.equal((await cli(['vnf', 'package', 'update', '--operational-state', 'DISABLED', id])).code, 0);
    assert.equal((await cli(['vnf', 'package', 'delete', id])).code, 0);
  });

  it('prints ProblemDetails detail on errors (and tells v1 users to ask for v2)', async () => {
    const r = await lcm('create', '00000000-0000-4000-8000-00000000beef');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /VnfdId 00000000-0000-4000-8000-00000000beef not found/);
    const v1 = await cli(['vnflcm', 'list']);
    assert.notEqual(v1.code, 0);
    assert.match(v1.stderr, /--os-tacker-api-version 2/);
  });
});
