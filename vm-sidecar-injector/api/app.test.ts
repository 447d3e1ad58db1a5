import { strict as assert } from 'node:assert';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { Writable } from 'node:stream';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { createLogger } from '../../common/logger.js';
import { DEFAULT_MESH_VALUES } from '../../descriptor/index.js';
import { Injector, type Injection } from '../injector.js';
import { parseConsoleHostKeys, sshConnector } from '../shell.js';
import { MemoryCluster } from '../../test/helpers/memory-cluster.js';
import { novaOf } from '../../test/helpers/injector-fixture.js';
import { PACKAGE_CACHE, createVmWorld, diffSnapshots, prepareArtifacts, snapshot, sshdUp, type VmWorld } from '../../test/helpers/vm-world.js';
import { createInjectorApp } from './app.js';

const VERSION = '1.30.3';
const API_TOKEN = 'test-injector-token-0123456789';
const ROOT = '-----BEGIN CERTIFICATE-----\nMIIBroottestcertificate0\n-----END CERTIFICATE-----\n';

describe('vm-sidecar-injector API over real HTTP, real OpenSSH VMs, the stand-in sidecar', function () {
  this.timeout(60_000);
  let world: VmWorld;
  let cluster: MemoryCluster;
  let injector: Injector;
  let server: Server;
  let base: string;
  const logLines: string[] = [];

  before(async () => {
    world = await createVmWorld('mixmesh-injapi-');
    await prepareArtifacts(world.artifacts, PACKAGE_CACHE, VERSION, ['deb', 'tar']);
    cluster = new MemoryCluster();
    cluster.workloadGroups.set('cafe/order-api-v1', {
      metadata: { name: 'order-api-v1', namespace: 'cafe' },
      spec: {
        metadata: { labels: { app: 'order-api', version: 'v1', 'mixmesh.io/service': 'iot-cafe', 'service.istio.io/canonical-name': 'order-api', 'service.istio.io/canonical-revision': 'v1' } },
        template: { serviceAccount: 'order-api', network: '', ports: { http: 8081 } },
        probe: { httpGet: { path: '/healthz', port: 8081 } },
      },
    });
    cluster.secrets.set('cafe/vm-ssh', { 'ssh-privatekey': world.clientKey });
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(world.dir, 'other')]);
    cluster.secrets.set('cafe/wrong-key', { 'ssh-privatekey': readFileSync(join(world.dir, 'other'), 'utf8') });
    cluster.configMaps.set('cafe/istio-ca-root-cert', { 'root-cert.pem': ROOT });
    cluster.configMaps.set('istio-system/istio', { mesh: 'trustDomain: cluster.local\ndefaultConfig:\n  discoveryAddress: istiod.istio-system.svc:15012\n' });
    cluster.services.set('istio-system/istio-eastwestgateway', { status: { loadBalancer: { ingress: [{ ip: '127.0.10.254' }] } } });
    cluster.meshServices.set('cafe/iot-cafe', {
      spec: { microservices: [{ name: 'order-api', version: 'v1', runtime: 'vm', vm: { ssh: { user: 'root', port: 22, credentialsSecret: 'vm-ssh', hostKey: 'console' }, sidecar: { package: 'tar', istioVersion: VERSION } } }] },
    });
    const destination = new Writable({ write(chunk, _enc, cb) { logLines.push(String(chunk)); cb(); } });
    const log = createLogger({ level: 'debug', destination: destination as never });
    const nova = novaOf(world);
    injector = new Injector({
      cluster, nova, connect: sshConnector({ connectBudgetMs: 2500, log }), parseConsoleHostKeys, meshValues: DEFAULT_MESH_VALUES,
      artifacts: { dir: world.artifacts }, log, maxParallel: 4, readiness: { attempts: 40, intervalSeconds: 0.1 }, renewal: false,
    });
    const app = createInjectorApp({ injector, token: API_TOKEN, log });
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await injector?.close();
    await new Promise((resolve) => server?.close(resolve));
    await world?.close();
  });

  async function call(method: string, path: string, body?: unknown, token: string | null = API_TOKEN): Promise<{ status: number; type: string; json: Record<string, unknown> }> {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    return { status: r.status, type: r.headers.get('content-type') ?? '', json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }

  async function finished(id: string): Promise<Injection & { code?: string }> {
    await injector.idle();
    const r = await call('GET', `/v1/injections/${id}`);
    assert.equal(r.status, 200);
    return r.json as unknown as Injection & { code?: string };
  }

  function direct(vm: { address: string; serverId?: string }, extra: Record<string, unknown> = {}, secret = 'vm-ssh') {
    return {
      vm: { address: vm.address, port: 22, user: 'root', credentials: { secretRef: { namespace: 'cafe', name: secret } }, hostKey: 'console', serverId: vm.serverId, ...extra },
      workload: { service: 'iot-cafe', name: 'order-api', version: 'v1', namespace: 'cafe' },
      sidecar: { package: 'deb', istioVersion: VERSION },
      vnfInstanceId: `vnf-${vm.serverId ?? 'x'}`,
    };
  }

  it('health, readiness and metrics need no token; /v1 does (401 problem+json)', async () => {
    assert.equal((await call('GET', '/healthz', undefined, null)).status, 200);
    assert.equal((await call('GET', '/readyz', undefined, null)).status, 200);
    const m = await fetch(`${base}/metrics`);
    assert.equal(m.status, 200);
    const metrics = await m.text();
    assert.match(metrics, /mixmesh_injector_injections_in_progress/);
    assert.match(metrics, /^mixmesh_build_info\{version="[^"]+",node="[^"]+"\} 1$/m);
    assert.equal((await call('GET', '/livez', undefined, null)).status, 200);
    assert.equal((await call('GET', '/version', undefined, null)).json.component, 'injector');
    const doc = await call('GET', '/openapi.json', undefined, null);
    assert.equal(doc.status, 200);
    assert.equal(doc.json.openapi, '3.1.0');
    for (const path of ['/v1/injections', '/v1/injections/{id}', '/v1/tacker/notifications', '/livez', '/readyz']) assert.ok(path in (doc.json.paths as object), path);
    for (const token of [null, 'wrong-token']) {
      const r = await call('GET', '/v1/injections', undefined, token);
      assert.equal(r.status, 401);
      assert.match(r.type, /application\/problem\+json/);
      assert.equal(r.json.code, 'UNAUTHORIZED');
      assert.equal(r.json.title, 'A valid token is required.');
    }
    assert.equal((await call('GET', '/v1/tacker/notifications', undefined, null)).status, 404, 'notification mode is off by default');
  });

  it('refuses bad bodies with pointers and changes nothing: inline keys, console without serverId, unknown fields', async () => {
    const before = injector.list().length;
    const inline = await call('POST', '/v1/injections', { ...direct({ address: '127.0.10.9', serverId: 's' }), vm: { ...direct({ address: '127.0.10.9', serverId: 's' }).vm, credentials: { privateKey: world.clientKey } } });
    assert.equal(inline.status, 400);
    assert.ok(!JSON.stringify(inline.json).includes('PRIVATE KEY'), 'the key is not echoed');
    assert.deepEqual((inline.json.errors as { pointer: string }[]).map((e) => e.pointer), ['/vm/credentials']);
    const noServer = await call('POST', '/v1/injections', direct({ address: '127.0.10.9' }));
    assert.equal(noServer.status, 400);
    assert.ok((noServer.json.errors as { pointer: string }[]).some((e) => e.pointer === '/vm/serverId'));
    const junk = await call('POST', '/v1/injections', { ...direct({ address: 'not an address!', serverId: 's' }), extra: 1, sidecar: { package: 'zip' } });
    assert.equal(junk.status, 400);
    assert.deepEqual((junk.json.errors as { pointer: string }[]).map((e) => e.pointer).sort(), ['/extra', '/sidecar/package', '/vm/address']);
    assert.equal((await fetch(`${base}/v1/injections`, { method: 'POST', headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'text/plain' }, body: 'x' })).status, 415);
    // the SSH key Secret only from the namespace the VM joins: never another tenant's or the mesh's
    const d = direct({ address: '127.0.10.9', serverId: 's' });
    const foreign = await call('POST', '/v1/injections', { ...d, vm: { ...d.vm, credentials: { secretRef: { namespace: 'istio-system', name: 'vm-ssh' } } } });
    assert.equal(foreign.status, 403);
    assert.equal(foreign.json.code, 'FORBIDDEN');
    assert.deepEqual((foreign.json.errors as { pointer: string }[]).map((e) => e.pointer), ['/vm/credentials/secretRef/namespace']);
    assert.equal(injector.list().length, before);
  });

  it('injects a VM (console host key), reports every step, changes nothing when asked again, uninstalls clean', async () => {
    const vm = await world.provider.create({ serverId: 'srv-ok', name: 'order-api-v1-0' });
    await sshdUp(world, vm);
    const clean = snapshot(vm.rootfs);
    const created = await call('POST', '/v1/injections', direct(vm));
    assert.equal(created.status, 202);
    const first = await finished(created.json.id as string);
    assert.equal(first.state, 'Succeeded', JSON.stringify(first.error));
    assert.deepEqual(first.steps.map((s) => s.name), ['connect', 'prepare', 'upload-package', 'install-package', 'check-version', 'place-files', 'start', 'verify']);
    for (const s of first.steps) {
      assert.ok(s.startedAt && s.endedAt, `${s.name} has times`);
      if (s.name !== 'connect' && s.name !== 'upload-package') assert.equal(s.exitCode, 0, s.name);
    }
    assert.ok(Date.parse(first.tokenExpiresAt!) > Date.now());
    assert.equal(first.sidecar.state, 'Running');
    const listed = await call('GET', `/v1/injections?vnfInstanceId=vnf-srv-ok`);
    assert.deepEqual((listed.json.items as { id: string }[]).map((i) => i.id), [first.id]);

    const again = await call('POST', '/v1/injections', direct(vm));
    const second = await finished(again.json.id as string);
    assert.equal(second.state, 'Succeeded');
    assert.equal(second.unchanged, true, JSON.stringify(second.steps.filter((s) => s.changed)));
    assert.equal(((await call('GET', `/v1/injections/${first.id}`)).json as { supersededBy?: string }).supersededBy, second.id, 'one renewal per VM');

    const del = await call('DELETE', `/v1/injections/${second.id}`);
    assert.equal(del.status, 202);
    const removed = await finished(second.id);
    assert.equal(removed.state, 'Removed', JSON.stringify(removed.uninstall));
    assert.deepEqual(diffSnapshots(clean, snapshot(vm.rootfs)).filter((p) => !/^[+~] \/var\/lib\/dpkg\/status(\.udeb\.bak)?$/.test(p)), []);
    assert.equal((await call('GET', '/v1/injections/00000000-0000-4000-8000-000000000000')).status, 404);
  });

  it('the plug-in form resolves ssh, credentials and package from the MeshService and the address from Nova', async () => {
    const vm = await world.provider.create({ serverId: 'srv-plugin', name: 'plugin' });
    const created = await call('POST', '/v1/injections', { vnfInstanceId: 'vnf-plugin', identity: { namespace: 'cafe', service: 'iot-cafe', name: 'order-api', version: 'v1', index: 0 }, servers: [{ serverId: 'srv-plugin' }] });
    assert.equal(created.status, 202, JSON.stringify(created.json));
    const done = await finished(created.json.id as string);
    assert.equal(done.state, 'Succeeded', JSON.stringify(done.error));
    assert.equal(done.vm.address, vm.address);
    assert.equal(done.sidecar.package, 'tar');
    const missing = await call('POST', '/v1/injections', { vnfInstanceId: 'vnf-x', identity: { namespace: 'cafe', service: 'nope', name: 'order-api', version: 'v1' }, servers: [{ serverId: 'srv-plugin' }] });
    assert.equal(missing.status, 404);
  });

  it('hostKey console also works from a console text given in the request (no Nova); a text without the block is SSH_HOST_KEY_UNKNOWN', async () => {
    const vm = await world.provider.create({ serverId: 'srv-console-text', name: 'console-text' });
    const body = direct({ address: vm.address }, { consoleOutput: vm.consoleOutput() });
    const ok = await finished((await call('POST', '/v1/injections', body)).json.id as string);
    assert.equal(ok.state, 'Succeeded', JSON.stringify(ok.error));
    const vm2 = await world.provider.create({ serverId: 'srv-console-none', name: 'console-none' });
    const bad = await finished((await call('POST', '/v1/injections', direct({ address: vm2.address }, { consoleOutput: 'no keys here\n' }))).json.id as string);
    assert.equal(bad.code, 'SSH_HOST_KEY_UNKNOWN');
    assert.ok(!JSON.stringify((await call('GET', `/v1/injections/${ok.id}`)).json).includes('BEGIN SSH HOST KEY KEYS'), 'the console text is not echoed');
  });

  it('each failure is a Failed state with a stable code: host key, auth, unreachable, slow sshd, expired token', async () => {
    const a = await world.provider.create({ serverId: 'srv-hk', name: 'hk' });
    const b = await world.provider.create({ serverId: 'srv-auth', name: 'auth' });
    const other = readFileSync(join(world.dir, 'other.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
    world.provider.setSshdDelay(60_000);
    const slow = await world.provider.create({ serverId: 'srv-slow', name: 'slow' });
    world.provider.setSshdDelay(undefined);
    const c = await world.provider.create({ serverId: 'srv-exp', name: 'exp' });
    const cases: [Record<string, unknown>, string][] = [
      [direct(a, { hostKey: other }), 'SSH_HOST_KEY_MISMATCH'],
      [direct(b, {}, 'wrong-key'), 'SSH_AUTH_FAILED'],
      // nothing listens on the discard port: refused at once, retried until the budget ends
      [direct({ address: '127.0.0.1' }, { hostKey: 'accept-new', port: 9 }), 'SSH_CONNECT_FAILED'],
      [direct(slow, { hostKey: 'accept-new' }), 'SSH_CONNECT_FAILED'],
    ];
    const ids = [];
    for (const [body] of cases) ids.push((await call('POST', '/v1/injections', body)).json.id as string);
    for (let i = 0; i < cases.length; i++) {
      const r = await finished(ids[i]!);
      assert.equal(r.state, 'Failed');
      assert.equal(r.code, cases[i]![1], `${cases[i]![1]}: ${JSON.stringify(r.error)}`);
      assert.equal(r.error!.code, cases[i]![1]);
    }
    cluster.tokenLifetimeSeconds = -5;
    try {
      const r = await finished((await call('POST', '/v1/injections', direct(c))).json.id as string);
      assert.equal(r.state, 'Failed');
      assert.equal(r.code, 'TOKEN_EXPIRED');
    } finally {
      cluster.tokenLifetimeSeconds = undefined;
    }
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /mixmesh_injector_injections_total\{result="Failed",code="SSH_HOST_KEY_MISMATCH"\} 1/);
  });

  it('renews a token: new token on the VM, later expiry, agent still ready; a renewal that cannot run past expiry is TokenExpired', async () => {
    const vm = await world.provider.create({ serverId: 'srv-renew', name: 'renew' });
    const done = await finished((await call('POST', '/v1/injections', direct(vm, { hostKey: 'accept-new' }))).json.id as string);
    assert.equal(done.state, 'Succeeded', JSON.stringify(done.error));
    assert.match(done.hostKey ?? '', /^ssh-ed25519 /, 'accept-new records the key');
    const oldToken = cluster.issued.at(-1)!.token;
    cluster.tokenLifetimeSeconds = 7200;
    const renewed = await injector.renew(done.id);
    cluster.tokenLifetimeSeconds = undefined;
    assert.equal(renewed.sidecar.state, 'Running', JSON.stringify(renewed.renewal));
    const newToken = cluster.issued.at(-1)!.token;
    assert.notEqual(newToken, oldToken);
    assert.ok(Date.parse(renewed.tokenExpiresAt!) > Date.parse(done.tokenExpiresAt!));
    const onVm = readFileSync(join(vm.rootfs, 'var/lib/mixmesh/istio-token'), 'utf8');
    assert.equal(onVm, newToken);

    // past expiry with TokenRequest failing: TokenExpired, with the code
    const live = injector.get(done.id)!;
    live.tokenExpiresAt = new Date(Date.now() - 1000).toISOString();
    cluster.tokenFailure = new Error('apiserver unavailable');
    try {
      const failed = await injector.renew(done.id);
      assert.equal(failed.sidecar.state, 'TokenExpired');
      assert.equal(failed.error?.code, 'TOKEN_EXPIRED');
    } finally {
      cluster.tokenFailure = undefined;
    }
  });

  it('no token, root cert or private key ever reaches a log line or an API answer', async () => {
    await injector.idle();
    const everything = logLines.join('') + JSON.stringify((await call('GET', '/v1/injections')).json);
    assert.ok(logLines.length > 20, 'the test captured logs');
    for (const t of cluster.issued) assert.ok(!everything.includes(t.token), 'a token leaked');
    assert.ok(!everything.includes('MIIBroottestcertificate0'), 'the root cert leaked');
    const keyBody = world.clientKey.split('\n')[1]!;
    assert.ok(!everything.includes(keyBody), 'the private key leaked');
  });
});
