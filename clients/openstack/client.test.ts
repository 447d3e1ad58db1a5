/**
 * The client against the sandbox's OpenStack emulator (emulated Keystone here, for speed and a
 * controllable token lifetime; sandbox/openstack/cli.test.ts runs it against the real Keystone).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, isMixmeshError } from '../../common/index.js';
import { PLAIN_VNFD_ID, PLUGIN_VNFD_ID, startOpenStack, type OpenStackSandbox } from '../../sandbox/openstack/index.js';
import { MemoryVmProvider, Receiver } from '../../sandbox/openstack/test-helpers.js';
import { createOpenStackClient, KeystoneSession, loadOpenStackConfig, serverAddress, validateConfig, type OpenStackClient, type OpenStackConfig } from './index.js';

describe('clients/openstack against the emulator', function () {
  this.timeout(20_000);
  let dir: string;
  let os: OpenStackSandbox;
  let config: OpenStackConfig;
  let client: OpenStackClient;
  let logText = '';

  const admin = async (body: unknown): Promise<void> => {
    const r = await fetch(`${os.adminUrl}/faults`, { method: body === null ? 'DELETE' : 'POST', headers: { Authorization: `Bearer ${os.adminToken}`, 'Content-Type': 'application/json' }, body: body === null ? undefined : JSON.stringify(body) });
    assert.ok(r.ok, await r.text());
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-osc-'));
    os = await startOpenStack({ dir, vmProvider: new MemoryVmProvider(), keystone: 'emulated', pageSize: 2, latencies: { startingMs: 5, processingMs: 20, terminateMs: 5, sshdMs: 0 } });
    writeFileSync(join(dir, 'clouds.yaml'), os.cloudsYaml());
    config = loadOpenStackConfig({ OS_CLOUD: 'sandbox', OS_CLIENT_CONFIG_FILE: join(dir, 'clouds.yaml') }) as OpenStackConfig;
    const sink = new Writable({ write(chunk: Buffer, _enc, cb) { logText += chunk.toString(); cb(); } });
    client = createOpenStackClient(config, { logger: createLogger({ level: 'debug', destination: sink }) });
  });

  after(async () => {
    await os?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  afterEach(() => admin(null));

  it('runs the whole VM life cycle: create, list by name (paged), instantiate, wait, Nova address and console, terminate, delete', async () => {
    const name = 'cafe.shop.inventory.v1.0';
    const inst = await client.tacker.createVnfInstance({ vnfdId: PLAIN_VNFD_ID, vnfInstanceName: name, metadata: { 'mixmesh.io/namespace': 'cafe' } });
    assert.equal(inst.instantiationState, 'NOT_INSTANTIATED');
    await client.tacker.createVnfInstance({ vnfdId: PLAIN_VNFD_ID, vnfInstanceName: name });
    await client.tacker.createVnfInstance({ vnfdId: PLAIN_VNFD_ID, vnfInstanceName: name });
    const same = await client.tacker.listVnfInstances({ name });
    assert.equal(same.length, 3, 'all pages followed (page size 2)');
    assert.equal(same[0]!.id, inst.id);
    const opId = await client.tacker.instantiate(inst.id, { flavourId: 'simple', vimConnectionInfo: { vim1: { vimId: os.defaultVimId, vimType: 'ETSINFV.OPENSTACK_KEYSTONE.V_3' } } });
    const seen: string[] = [];
    const op = await client.tacker.waitForOperation(opId, { minIntervalMs: 5, onState: (o) => seen.push(o.operationState) });
    assert.equal(op.operationState, 'COMPLETED');
    assert.equal(seen[seen.length - 1], 'COMPLETED');
    const done = await client.tacker.getVnfInstance(inst.id);
    const serverId = done.instantiatedVnfInfo?.vnfcResourceInfo?.[0]?.computeResource.resourceId as string;
    const server = await client.nova.getServer(serverId);
    assert.match(serverAddress(server) ?? '', /^127\.0\.10\.\d+$/);
    assert.match(await client.nova.getConsoleOutput(serverId), /-----BEGIN SSH HOST KEY KEYS-----/);
    const term = await client.tacker.terminate(inst.id, { terminationType: 'GRACEFUL', gracefulTerminationTimeout: 10 });
    assert.equal((await client.tacker.waitForOperation(term, { minIntervalMs: 5 })).operationState, 'COMPLETED');
    for (const i of same) await client.tacker.deleteVnfInstance(i.id);
    assert.deepEqual(await client.tacker.listVnfInstances({ name }), []);
  });

  it('reports Tacker errors as TACKER_REQUEST_FAILED with ProblemDetails detail and the HTTP status', async () => {
    await assert.rejects(client.tacker.createVnfInstance({ vnfdId: '00000000-0000-4000-8000-00000000dead' }), (e: unknown) => {
      assert.ok(isMixmeshError(e, 'TACKER_REQUEST_FAILED'));
      assert.equal(e.details?.httpStatus, 422);
      assert.equal(e.details?.detail, 'VnfdId 00000000-0000-4000-8000-00000000dead not found.');
      assert.match(e.message, /answered 422: VnfdId 00000000-0000-4000-8000-00000000dead not found\./);
      return true;
    });
    const inst = await client.tacker.createVnfInstance({ vnfdId: PLAIN_VNFD_ID });
    await assert.rejects(client.tacker.terminate(inst.id), (e: unknown) => isMixmeshError(e, 'TACKER_REQUEST_FAILED') && e.details?.httpStatus === 409);
    await assert.rejects(client.nova.getServer('00000000-0000-4000-8000-000000000000'), (e: unknown) => isMixmeshError(e, 'NOVA_REQUEST_FAILED') && /could not be found/.test(e.message));
    await client.tacker.deleteVnfInstance(inst.id);
  });

  it('retries, rolls back and fails operations from FAILED_TEMP', async () => {
    await admin({ fail: { count: 3, error: { status: 500, title: 'boom', detail: 'heat said no' } } });
    const a = await client.tacker.createVnfInstance({ vnfdId: PLAIN_VNFD_ID });
    const opA = await client.tacker.instantiate(a.id, { flavourId: 'simple' });
    const failed = await client.tacker.waitForOperation(opA, { minIntervalMs: 5 });
    assert.equal(failed.operationState, 'FAILED_TEMP');
    assert.equal(failed.error?.detail, 'heat said no');
    await client.tacker.rollback(opA);
    assert.equal((await client.tacker.waitForOperation(opA, { minIntervalMs: 5, until: ['ROLLED_BACK'] })).operationState, 'ROLLED_BACK');
    const b = await client.tacker.createVnfInstance({ vnfdId: PLAIN_VNFD_ID });
    const opB = await client.tacker.instantiate(b.id, { flavourId: 'simple' });
    assert.equal((await client.tacker.waitForOperation(opB, { minIntervalMs: 5 })).operationState, 'FAILED_TEMP');
    assert.equal((await client.tacker.fail(opB)).operationState, 'FAILED');
    await assert.rejects(client.tacker.retry(opB), (e: unknown) => isMixmeshError(e, 'TACKER_REQUEST_FAILED') && e.details?.httpStatus === 409);
    const c = await client.tacker.createVnfInstance({ vnfdId: PLAIN_VNFD_ID });
    const opC = await client.tacker.instantiate(c.id, { flavourId: 'simple' });
    assert.equal((await client.tacker.waitForOperation(opC, { minIntervalMs: 5 })).operationState, 'FAILED_TEMP');
    await admin(null);
    await client.tacker.retry(opC);
    assert.equal((await client.tacker.waitForOperation(opC, { minIntervalMs: 5 })).operationState, 'COMPLETED');
  });

  it('waitForOperation wakes on a notification hint (it never polls a second time here) and times out with TACKER_OPERATION_TIMEOUT', async () => {
    const rx = new Receiver({ basic: { user: 'orchestrator', password: 'hint-pw-123' } });
    await rx.start();
    try {
      const sub = await client.tacker.createSubscription({
        callbackUri: `${rx.url}/notify`, filter: { notificationTypes: ['VnfLcmOperationOccurrenceNotification'], operationStates: ['COMPLETED'] },
        authentication: { authType: ['BASIC'], paramsBasic: { userName: 'orchestrator', password: 'hint-pw-123' } },
      });
      assert.equal((sub as unknown as Record<string, unknown>).authentication, undefined);
      assert.ok((await client.tacker.listSubscriptions()).some((s) => s.id === sub.id));
      const inst = await client.tacker.createVnfInstance({ vnfdId: PLAIN_VNFD_ID });
      const opId = await client.tacker.instantiate(inst.id, { flavourId: 'simple' });
      // the first GET sees STARTING; after that only the hint can wake the waiter (a one-hour interval)
      const op = await client.tacker.waitForOperation(opId, {
        minIntervalMs: 3_600_000,
        onNotificationHint: (wake) => {
          void rx.waitForPosts(1).then(wake);
        },
      });
      assert.equal(op.operationState, 'COMPLETED');
      await client.tacker.deleteSubscription(sub.id);
      assert.ok(!(await client.tacker.listSubscriptions()).some((s) => s.id === sub.id));

      await admin({ delay: { operation: 'TERMINATE', ms: 1_000 } });
      const term = await client.tacker.terminate(inst.id);
      await assert.rejects(client.tacker.waitForOperation(term, { timeoutMs: 30, minIntervalMs: 5 }), (e: unknown) => isMixmeshError(e, 'TACKER_OPERATION_TIMEOUT'));
      client.tacker.hint(term);
    } finally {
      await rx.stop();
    }
  });

  it('checks packages by vnfdId and VIM existence (pre-flight)', async () => {
    const pkgs = await client.tacker.listPackagesByVnfdId(PLUGIN_VNFD_ID);
    assert.equal(pkgs.length, 1);
    assert.equal(pkgs[0]!.onboardingState, 'ONBOARDED');
    assert.equal(pkgs[0]!.operationalState, 'ENABLED');
    assert.deepEqual(await client.tacker.listPackagesByVnfdId('00000000-0000-4000-8000-000000000000'), []);
    assert.equal(await client.tacker.vimExists(os.defaultVimId), true);
    assert.equal(await client.tacker.vimExists('00000000-0000-4000-8000-000000000000'), false);
  });

  it('sends the right headers: X-Auth-Token always, Version: 2.0.0 on /vnflcm/v2 only, JSON Content-Type with bodies', async () => {
    const adminGet = async (method: string) => fetch(`${os.adminUrl}/requests`, { method, headers: { Authorization: `Bearer ${os.adminToken}` } });
    await adminGet('DELETE');
    const inst = await client.tacker.createVnfInstance({ vnfdId: PLAIN_VNFD_ID });
    await client.tacker.getVnfInstance(inst.id);
    await client.tacker.deleteVnfInstance(inst.id);
    await client.tacker.listPackagesByVnfdId(PLAIN_VNFD_ID);
    await client.tacker.vimExists(os.defaultVimId);
    await assert.rejects(client.nova.getConsoleOutput('00000000-0000-4000-8000-000000000000'));
    const log = (await (await adminGet('GET')).json()) as { method: string; path: string; query: string; version: string | null; xAuthToken: boolean; contentType: string | null }[];
    assert.deepEqual(log.map((r) => `${r.method} ${r.path}`), [
      'POST /vnflcm/v2/vnf_instances', `GET /vnflcm/v2/vnf_instances/${inst.id}`, `DELETE /vnflcm/v2/vnf_instances/${inst.id}`,
      'GET /vnfpkgm/v1/vnf_packages', `GET /v1.0/vims/${os.defaultVimId}`, 'POST /compute/v2.1/servers/00000000-0000-4000-8000-000000000000/action',
    ]);
    assert.ok(log.every((r) => r.xAuthToken));
    assert.deepEqual(log.map((r) => r.version), ['2.0.0', '2.0.0', '2.0.0', null, null, null]);
    assert.deepEqual(log.map((r) => r.contentType), ['application/json', null, null, null, null, 'application/json']);
    assert.equal(decodeURIComponent(log[3]!.query), `filter=(eq,vnfdId,${PLAIN_VNFD_ID})`);
  });

  it('renews the token once on a 401 and goes on', async () => {
    const before = client.keystone.authCount;
    await client.tacker.listVnfInstances();
    await admin({ expireTokens: { all: true } });
    await client.tacker.listVnfInstances();
    assert.equal(client.keystone.authCount, before + 1);
  });

  it('renews the token before expires_at', async () => {
    let now = Date.now();
    const session = new KeystoneSession(config, { now: () => now, renewBeforeMs: 60_000 });
    const first = await session.token();
    assert.equal((await session.token()).value, first.value);
    now = first.expiresAt - 59_000;
    const second = await session.token();
    assert.notEqual(second.value, first.value);
    assert.equal(session.authCount, 2);
  });

  it('reports refused credentials as KEYSTONE_AUTH_FAILED without the password', async () => {
    const bad = createOpenStackClient(validateConfig({ ...config, password: 'not-the-password-42' }));
    await assert.rejects(bad.tacker.listVnfInstances(), (e: unknown) => {
      assert.ok(isMixmeshError(e, 'KEYSTONE_AUTH_FAILED'));
      assert.match(e.message, /refused user "admin"/);
      assert.ok(!e.message.includes('not-the-password-42'));
      return true;
    });
    const down = createOpenStackClient(validateConfig({ ...config, authUrl: 'http://127.0.0.1:1/v3' }));
    await assert.rejects(down.nova.getServer('x'), (e: unknown) => isMixmeshError(e, 'KEYSTONE_AUTH_FAILED') && /did not answer/.test(e.message));
  });

  it('never logs the password or a token', async () => {
    const t = await client.keystone.token();
    assert.ok(logText.length > 0, 'debug lines were written');
    assert.ok(!logText.includes(config.password));
    assert.ok(!logText.includes(t.value));
  });
});
