/**
 * The emulator driven by the real OpenStack CLI 6.0 + tackerclient 1.12, and the mixmesh client,
 * both behind the real Keystone when it is installed (Debian's keystone 22), as in CI.
 * Few CLI calls: each costs a Python start-up.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOpenStackClient, loadOpenStackConfig, type OpenStackClient, type OpenStackConfig } from '../../clients/openstack/index.js';
import { PLAIN_PACKAGE_ID, PLAIN_VNFD_ID, PLUGIN_PACKAGE_ID, startOpenStack, type OpenStackSandbox } from './index.js';
import { realKeystoneInstalled } from './keystone-real.js';
import { MemoryVmProvider, Receiver } from './test-helpers.js';

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
    os = await startOpenStack({ dir, vmProvider: new MemoryVmProvider(), keystone: 'auto', latencies: { startingMs: 20, processingMs: 50, terminateMs: 20, sshdMs: 0 } });
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

  it('prints ProblemDetails detail on errors (and tells v1 users to ask for v2)', async () => {
    const r = await lcm('create', '00000000-0000-4000-8000-00000000beef');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /VnfdId 00000000-0000-4000-8000-00000000beef not found/);
    const v1 = await cli(['vnflcm', 'list']);
    assert.notEqual(v1.code, 0);
    assert.match(v1.stderr, /--os-tacker-api-version 2/);
  });
});
