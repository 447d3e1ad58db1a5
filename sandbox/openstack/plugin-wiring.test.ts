/**
 * The seeded plug-in package runs vm-sidecar-injector's real instantiate_end script by default,
 * with the conductor's environment (MIXMESH_INJECTOR_CONFIG reaches it).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOpenStackClient, validateConfig, type OpenStackClient } from '../../clients/openstack/index.js';
import { defaultPluginScript, PLUGIN_VNFD_ID, startOpenStack, type OpenStackSandbox } from './index.js';
import { MemoryVmProvider } from './test-helpers.js';

describe('sandbox/openstack seeded plug-in package', function () {
  this.timeout(20_000);
  let dir: string;
  let os: OpenStackSandbox;
  let client: OpenStackClient;

  before(async function () {
    assert.ok(existsSync(defaultPluginScript()), `the plug-in script ${defaultPluginScript()} is missing`);
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-osplug-'));
    os = await startOpenStack({
      dir, vmProvider: new MemoryVmProvider(), keystone: 'emulated', latencies: { startingMs: 5, processingMs: 10, terminateMs: 5, sshdMs: 0 },
      mgmtDriverEnv: { MIXMESH_INJECTOR_CONFIG: join(dir, 'no-such-injector.json') },
    });
    client = createOpenStackClient(validateConfig({ authUrl: os.authUrl, ...os.credentials }));
  });

  after(async () => {
    await os?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('without additionalParams.mixmesh the plug-in does nothing and the operation COMPLETES', async () => {
    const inst = await client.tacker.createVnfInstance({ vnfdId: PLUGIN_VNFD_ID });
    const op = await client.tacker.waitForOperation(await client.tacker.instantiate(inst.id, { flavourId: 'simple' }), { minIntervalMs: 10 });
    assert.equal(op.operationState, 'COMPLETED');
  });

  it('with additionalParams.mixmesh it reads MIXMESH_INJECTOR_CONFIG from the conductor environment; its failure is FAILED_TEMP with its stderr', async () => {
    const inst = await client.tacker.createVnfInstance({ vnfdId: PLUGIN_VNFD_ID });
    const opId = await client.tacker.instantiate(inst.id, { flavourId: 'simple', additionalParams: { mixmesh: { namespace: 'cafe', service: 'shop', name: 'inventory', version: 'v1', index: 0 } } });
    const op = await client.tacker.waitForOperation(opId, { minIntervalMs: 10 });
    assert.equal(op.operationState, 'FAILED_TEMP');
    assert.equal(op.error?.status, 422);
    assert.equal(op.error?.title, 'Mgmt driver execution failed');
    assert.match(op.error?.detail ?? '', /^instantiate_end failed: CONFIG_INVALID: .*no-such-injector\.json/);
  });
});
