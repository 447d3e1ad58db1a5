/**
 * End to end on the sandbox, Tacker and the plug-in alone (issue 4): a VNF of the seeded plug-in
 * package is created and instantiated straight through Tacker's LCM v2 API; the emulator runs the
 * real `mixmesh_instantiate_end.py` as tacker-conductor would (pickled stdin, MIXMESH_INJECTOR_CONFIG
 * naming the running injector), and the injector installs the stand-in sidecar over real SSH.
 * A good injection makes the operation COMPLETED; a failed one FAILED_TEMP with the injector's code
 * and message, in the operation and in a subscriber's notification.
 */
import assert from 'node:assert/strict';
import { linkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parse } from 'yaml';
import { createOpenStackClient, validateConfig, type OpenStackClient, type VnfLcmOperationOccurrenceNotification, type VnfLcmOpOcc } from '../../clients/openstack/index.js';
import { parseAndValidate } from '../../descriptor/index.js';
import { renderAll } from '../../mesh-config/index.js';
import { PLUGIN_VNFD_ID } from '../../sandbox/index.js';
import { ISTIO_VERSION, startWorld, type World } from './world.js';

const NAMESPACE = 'plugin-e2e';
/** a version whose package file exists but holds the ISTIO_VERSION sidecar: check-version must catch it */
const WRONG_VERSION = '1.29.9';
const SERVICE = `apiVersion: mixmesh.io/v1alpha1
kind: MeshService
metadata: {name: plugged, namespace: ${NAMESPACE}}
spec:
  microservices:
    - name: db
      runtime: vm
      ports: [{name: sql, port: 5432, protocol: TCP}]
      vm:
        vnfdId: ${PLUGIN_VNFD_ID}
        flavourId: simple
        ssh: {user: root, credentialsSecret: vm-ssh, hostKey: console}
        sidecar: {injection: plugin}
    - name: legacy
      runtime: vm
      ports: [{name: sql, port: 5432, protocol: TCP}]
      vm:
        vnfdId: ${PLUGIN_VNFD_ID}
        flavourId: simple
        ssh: {user: root, credentialsSecret: vm-ssh, hostKey: console}
        sidecar: {injection: plugin, package: deb, istioVersion: "${WRONG_VERSION}"}
`;

interface InjectionView { id: string; state: string; vnfInstanceId?: string; vm: { address: string; serverId?: string }; error?: { code: string; message: string } }

/** A subscriber's callback endpoint: Basic auth, 204 to Tacker's test GET and to every POST. */
async function startReceiver(user: string, password: string): Promise<{ url: string; posts: unknown[]; next(): Promise<unknown>; close(): Promise<void> }> {
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const posts: unknown[] = [];
  let waiters: (() => void)[] = [];
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => { text += c.toString(); });
    req.on('end', () => {
      if (req.headers.authorization !== expected) {
        res.writeHead(401).end();
        return;
      }
      if (req.method === 'POST') {
        posts.push(JSON.parse(text) as unknown);
        for (const w of waiters.splice(0)) w();
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/notifications`,
    posts,
    next: () => new Promise<unknown>((resolve) => {
      const seen = posts.length;
      const check = (): void => { if (posts.length > seen) resolve(posts[seen]); else waiters.push(check); };
      check();
    }),
    close: () => {
      waiters = [];
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe('e2e: the Tacker plug-in run by the Tacker emulator as tacker-conductor would', function () {
  this.timeout(120_000);
  let w: World;
  let client: OpenStackClient;

  const injections = async (vnfInstanceId: string): Promise<InjectionView[]> => {
    const res = await w.fetch(`${w.stack.injectorUrl}/v1/injections?vnfInstanceId=${encodeURIComponent(vnfInstanceId)}`, { headers: { authorization: `Bearer ${w.stack.injectorToken}` } });
    assert.equal(res.status, 200);
    return ((await res.json()) as { items: InjectionView[] }).items;
  };
  /** the Nova server the operation added (its resourceChanges: FAILED_TEMP leaves the VNF NOT_INSTANTIATED) and its address */
  const serverOf = async (op: VnfLcmOpOcc): Promise<{ serverId: string; address: string }> => {
    const added = (op.resourceChanges?.affectedVnfcs ?? []).filter((c) => c.changeType === 'ADDED');
    assert.equal(added.length, 1, JSON.stringify(op.resourceChanges));
    const serverId = added[0]!.computeResource.resourceId;
    const server = await client.nova.getServer(serverId);
    const address = Object.values(server.addresses ?? {}).flat()[0]?.addr;
    assert.ok(address, JSON.stringify(server));
    return { serverId, address };
  };

  before(async () => {
    w = await startWorld();
    // Tacker and the plug-in alone: the orchestrator only installed the MeshService CRD and hosts the
    // injector; its controller stands down so it does not deploy the MeshService written below itself
    await w.stack.orchestrator.stop();
    client = createOpenStackClient(validateConfig({ authUrl: w.sandbox.openstack.authUrl, ...w.sandbox.openstack.credentials }));

    // what the orchestrator would have written: the MeshService, its rendered objects (WorkloadGroups,
    // ServiceAccounts, …) and the SSH key Secret the injector reads
    const validated = parseAndValidate(SERVICE);
    assert.ok(validated.ok, JSON.stringify(validated.problems));
    await w.stack.kube.apply(renderAll(validated.value));
    await w.stack.kube.create({ apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/ssh-auth', metadata: { name: 'vm-ssh', namespace: NAMESPACE }, data: { 'ssh-privatekey': Buffer.from(w.sandbox.sshPrivateKey).toString('base64') } });
    await w.stack.kube.create(parse(SERVICE) as Parameters<typeof w.stack.kube.create>[0]);
    for (const name of ['db-v1', 'legacy-v1']) {
      assert.ok(await w.stack.kube.get({ apiVersion: 'networking.istio.io/v1', kind: 'WorkloadGroup', namespace: NAMESPACE, name }), `WorkloadGroup ${name}`);
    }
    // the "wrong" version's package is the real ISTIO_VERSION one under another name
    const artifacts = w.env.MIXMESH_SIDECAR_ARTIFACTS;
    linkSync(join(artifacts, `istio-sidecar-${ISTIO_VERSION}.deb`), join(artifacts, `istio-sidecar-${WRONG_VERSION}.deb`));
  });
  after(async () => { await w?.stop(); });

  it('a good injection: the operation is COMPLETED, the injector holds a Succeeded injection, the sidecar answers ready', async () => {
    const { id: vnfInstanceId } = await client.tacker.createVnfInstance({ vnfdId: PLUGIN_VNFD_ID, vnfInstanceName: 'plugin-e2e.db' });
    const opId = await client.tacker.instantiate(vnfInstanceId, {
      flavourId: 'simple',
      additionalParams: { mixmesh: { namespace: NAMESPACE, service: 'plugged', name: 'db', version: 'v1', index: 0 } },
    });
    const op = await client.tacker.waitForOperation(opId, { minIntervalMs: 50, maxIntervalMs: 200, timeoutMs: 90_000 });
    assert.equal(op.operationState, 'COMPLETED', JSON.stringify(op.error));
    assert.equal(op.error, undefined);

    const server = await serverOf(op);
    const listed = await injections(vnfInstanceId);
    assert.equal(listed.length, 1, 'the plug-in injected once');
    const [inj] = listed;
    assert.equal(inj!.state, 'Succeeded', JSON.stringify(inj));
    assert.equal(inj!.vnfInstanceId, vnfInstanceId);
    assert.equal(inj!.vm.serverId, server.serverId);
    assert.equal(inj!.vm.address, server.address);
    // the stand-in pilot-agent answers ready only with good cluster.env, root cert and token
    assert.equal((await fetch(`http://${server.address}:15021/healthz/ready`)).status, 200);
    const inst = await client.tacker.getVnfInstance(vnfInstanceId);
    assert.equal(inst.instantiationState, 'INSTANTIATED');
    assert.deepEqual(inst.instantiatedVnfInfo?.vnfcResourceInfo?.map((r) => r.computeResource.resourceId), [server.serverId]);
  });

  it('a failed injection: FAILED_TEMP with the injector\'s code and message, also in the subscriber\'s notification', async () => {
    const password = randomBytes(12).toString('hex');
    const receiver = await startReceiver('tacker', password);
    try {
      const inst = await client.tacker.createVnfInstance({ vnfdId: PLUGIN_VNFD_ID, vnfInstanceName: 'plugin-e2e.legacy' });
      await client.tacker.createSubscription({
        callbackUri: receiver.url,
        filter: { vnfInstanceSubscriptionFilter: { vnfInstanceIds: [inst.id] }, notificationTypes: ['VnfLcmOperationOccurrenceNotification'], operationStates: ['FAILED_TEMP'] },
        authentication: { authType: ['BASIC'], paramsBasic: { userName: 'tacker', password } },
      });
      const notified = receiver.next();
      const opId = await client.tacker.instantiate(inst.id, {
        flavourId: 'simple',
        additionalParams: { mixmesh: { namespace: NAMESPACE, service: 'plugged', name: 'legacy', version: 'v1', index: 0 } },
      });
      const op = await client.tacker.waitForOperation(opId, { minIntervalMs: 50, maxIntervalMs: 200, timeoutMs: 90_000 });
      assert.equal(op.operationState, 'FAILED_TEMP');
      assert.equal(op.error?.status, 422);
      assert.equal(op.error?.title, 'Mgmt driver execution failed');

      const server = await serverOf(op);
      assert.equal((await client.tacker.getVnfInstance(inst.id)).instantiationState, 'NOT_INSTANTIATED');
      const expected = `instantiate_end failed: SIDECAR_VERSION_MISMATCH: the sidecar on ${server.address} reports Istio "${ISTIO_VERSION}", requested ${WRONG_VERSION}`;
      assert.equal(op.error?.detail, expected);
      // and it is the injector's own verdict, word for word
      const [inj, ...more] = await injections(inst.id);
      assert.deepEqual(more, []);
      assert.equal(inj!.state, 'Failed');
      assert.deepEqual(inj!.error, { code: 'SIDECAR_VERSION_MISMATCH', message: expected.replace(/^instantiate_end failed: SIDECAR_VERSION_MISMATCH: /, '') });

      const n = (await notified) as VnfLcmOperationOccurrenceNotification;
      assert.equal(n.notificationType, 'VnfLcmOperationOccurrenceNotification');
      assert.equal(n.operationState, 'FAILED_TEMP');
      assert.equal(n.operation, 'INSTANTIATE');
      assert.equal(n.vnfInstanceId, inst.id);
      assert.equal(n.vnfLcmOpOccId, opId);
      assert.equal(n.error?.detail, expected);
      await w.sandbox.openstack.drainNotifications();
      assert.equal(receiver.posts.length, 1, 'only the FAILED_TEMP notification passes the filter');
    } finally {
      await receiver.close();
    }
  });
});
