/**
 * The emulator over raw HTTP: every status tacker.md names, the operation state machine, lists,
 * subscriptions and notifications (Basic and OAuth2), packages, Nova, faults, the mgmt driver.
 * Emulated Keystone and in-memory VMs here; the real Keystone and the CLI are in cli.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PLAIN_VNFD_ID, PLUGIN_VNFD_ID, PLAIN_PACKAGE_ID, sampleCsar, startOpenStack, writeZip, type OpenStackSandbox } from './index.js';
import { MemoryVmProvider, Receiver } from './test-helpers.js';
import { zipDirectory } from '../../test/helpers/zip-directory.js';

const SAMPLE_PACKAGE = new URL('../../vm-sidecar-injector/tacker-plugin/sample-vnf-package/', import.meta.url).pathname;

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

describe('sandbox/openstack emulator (raw HTTP)', function () {
  this.timeout(20_000);
  let dir: string;
  let os: OpenStackSandbox;
  let vms: MemoryVmProvider;
  let token: string;
  const scriptOut = () => join(dir, 'driver-out.json');

  async function http(method: string, url: string, o: { token?: string | null; version?: string | null; body?: unknown; raw?: string | Buffer; type?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...o.headers };
    if (o.token !== null) headers['X-Auth-Token'] = o.token ?? token;
    if (o.version !== null && url.includes('/vnflcm/v2')) headers.Version = o.version ?? '2.0.0';
    let body: string | Buffer | undefined;
    if (o.body !== undefined) {
      body = JSON.stringify(o.body);
      headers['Content-Type'] = 'application/json';
    }
    if (o.raw !== undefined) {
      body = o.raw;
      if (o.type) headers['Content-Type'] = o.type;
    }
    const res = await fetch(url.startsWith('http') ? url : os.tackerUrl + url, { method, headers, body });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  }

  const admin = (body: unknown) => fetch(`${os.adminUrl}/faults`, { method: 'POST', headers: { Authorization: `Bearer ${os.adminToken}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

  async function newToken(): Promise<string> {
    const c = os.credentials;
    const res = await fetch(`${os.authUrl}/auth/tokens`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: c.username, domain: { name: 'Default' }, password: c.password } } }, scope: { project: { name: c.projectName, domain: { name: 'Default' } } } } }),
    });
    assert.equal(res.status, 201);
    await res.arrayBuffer();
    return res.headers.get('x-subject-token') as string;
  }

  async function waitOp(opId: string, states = ['COMPLETED', 'FAILED_TEMP', 'FAILED', 'ROLLED_BACK']): Promise<Record<string, unknown>> {
    for (;;) {
      const r = await http('GET', `/vnflcm/v2/vnf_lcm_op_occs/${opId}`);
      const op = r.json as Record<string, unknown>;
      if (states.includes(op.operationState as string)) return op;
      await new Promise((res) => setTimeout(res, 10));
    }
  }

  async function create(name: string, vnfdId = PLAIN_VNFD_ID): Promise<string> {
    const r = await http('POST', '/vnflcm/v2/vnf_instances', { body: { vnfdId, vnfInstanceName: name, metadata: { 'mixmesh.io/index': '0' } } });
    assert.equal(r.status, 201, r.text);
    return (r.json as { id: string }).id;
  }

  async function instantiate(id: string, body: unknown = { flavourId: 'simple' }): Promise<string> {
    const r = await http('POST', `/vnflcm/v2/vnf_instances/${id}/instantiate`, { body });
    assert.equal(r.status, 202, r.text);
    assert.equal(r.text, '');
    const loc = r.headers.get('location') as string;
    assert.match(loc, /\/vnflcm\/v2\/vnf_lcm_op_occs\/[0-9a-f-]{36}$/);
    return loc.split('/').pop() as string;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-os-'));
    vms = new MemoryVmProvider();
    // a stand-in mgmt driver: records what it got; fails when additionalParams.fail is set
    const script = join(dir, 'driver.py');
    writeFileSync(script, [
      'import os, pickle, sys, json',
      'd = pickle.load(sys.stdin.buffer)',
      'rp = d["request"].get("additionalParams", {})',
      'if rp.get("fail"):',
      '    sys.stderr.write("injector said no: " + rp["fail"])',
      '    sys.exit(3)',
      'out = {"keys": sorted(d.keys()), "operation": d["operation"], "env": os.environ.get("MIXMESH_INJECTOR_CONFIG"),',
      '       "servers": [r["id"] for r in d["vnf_instance"]["instantiatedVnfInfo"]["vnfcResourceInfo"]], "csar": os.path.isdir(d["tmp_csar_dir"]),',
      '       "vnfInstanceId": d["grant_request"]["vnfInstanceId"], "type": type(d).__name__}',
      `open(${JSON.stringify(join(dir, 'driver-out.json'))}, "w").write(json.dumps(out))`,
    ].join('\n'));
    os = await startOpenStack({
      dir, vmProvider: vms, keystone: 'emulated', pageSize: 2, pluginScript: script, mgmtDriverEnv: { MIXMESH_INJECTOR_CONFIG: '/tmp/injector-test.json' },
      latencies: { startingMs: 5, processingMs: 20, terminateMs: 5, sshdMs: 0 },
      keypairs: [{ name: 'sandbox', publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBd0JWc2x7bUV4cHP0NHd2cRm6m7q2G1F3J7p2TQ3k7g mixmesh-sandbox' }],
    });
    token = await newToken();
  });

  after(async () => {
    await os?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  afterEach(async () => {
    await fetch(`${os.adminUrl}/faults`, { method: 'DELETE', headers: { Authorization: `Bearer ${os.adminToken}` } });
  });

  describe('Keystone and token validation', () => {
    it('issues tokens (201, X-Subject-Token, catalog with Tacker and Nova) and refuses a bad password in Keystone\'s 401 shape', async () => {
      const good = await fetch(`${os.authUrl}/auth/tokens`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'admin', domain: { name: 'Default' }, password: os.credentials.password } } }, scope: { project: { name: 'admin', domain: { name: 'Default' } } } } }),
      });
      assert.equal(good.status, 201);
      const body = (await good.json()) as { token: { expires_at: string; catalog: { type: string; endpoints: { interface: string; url: string }[] }[] } };
      assert.ok(Date.parse(body.token.expires_at) > Date.now() + 3500_000);
      const types = body.token.catalog.map((c) => c.type).sort();
      assert.deepEqual(types, ['compute', 'identity', 'image', 'nfv-orchestration']);
      assert.equal(body.token.catalog.find((c) => c.type === 'nfv-orchestration')?.endpoints.find((e) => e.interface === 'public')?.url, `${os.tackerUrl}/`);
      const bad = await fetch(`${os.authUrl}/auth/tokens`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'admin', domain: { name: 'Default' }, password: 'wrong' } } } } }),
      });
      assert.equal(bad.status, 401);
      assert.match(bad.headers.get('www-authenticate') ?? '', /^Keystone uri="/);
      assert.deepEqual(await bad.json(), { error: { code: 401, message: 'The request you have made requires authentication.', title: 'Unauthorized' } });
    });

    it('answers 401 (Keystone shape, not ProblemDetails) without a token or with an unknown one', async () => {
      for (const t of [null, 'gAAAAABnot-a-token']) {
        const r = await http('GET', '/vnflcm/v2/vnf_instances', { token: t });
        assert.equal(r.status, 401);
        assert.equal((r.json as { error: { code: number } }).error.code, 401);
        assert.match(r.headers.get('www-authenticate') ?? '', /Keystone uri=/);
      }
      for (const path of ['/vnfpkgm/v1/vnf_packages', '/v1.0/vims', '/compute/v2.1/servers']) assert.equal((await http('GET', path, { token: null })).status, 401, path);
    });

    it('expired tokens (fault) get 401 and leave the cache; a new token works', async () => {
      const t = await newToken();
      assert.equal((await http('GET', '/vnflcm/v2/vnf_instances', { token: t })).status, 200);
      const res = await admin({ expireTokens: { tokens: [t] } });
      assert.equal(res.status, 200);
      assert.equal((await http('GET', '/vnflcm/v2/vnf_instances', { token: t })).status, 401);
      assert.equal((await http('GET', '/vnflcm/v2/vnf_instances')).status, 200, 'other tokens still work');
      const all = await newToken();
      assert.equal((await http('GET', '/vnflcm/v2/vnf_instances', { token: all })).status, 200);
      await admin({ expireTokens: { all: true } });
      assert.equal((await http('GET', '/vnflcm/v2/vnf_instances', { token: all })).status, 401);
      token = await newToken();
      assert.equal((await http('GET', '/vnflcm/v2/vnf_instances')).status, 200);
    });

    it('asks Keystone once per token and then answers from its cache', async () => {
      const stats = async () => ((await (await fetch(`${os.adminUrl}/stats`, { headers: { Authorization: `Bearer ${os.adminToken}` } })).json()) as { keystoneTokenValidations: number }).keystoneTokenValidations;
      const t = await newToken();
      const before = await stats();
      for (let i = 0; i < 3; i++) assert.equal((await http('GET', '/vnflcm/v2/vnf_instances', { token: t })).status, 200);
      assert.equal(await stats(), before + 1);
    });

    it('guards the admin route and rejects bad fault requests without applying them', async () => {
      assert.equal((await fetch(`${os.adminUrl}/faults`)).status, 401);
      const bad = await admin({ fail: { operation: 'SCALE' } });
      assert.equal(bad.status, 400);
      assert.match(((await bad.json()) as { detail: string }).detail, /fail.operation must be one of INSTANTIATE, TERMINATE/);
      const unknown = await admin({ explode: true });
      assert.equal(unknown.status, 400);
      const now = (await (await fetch(`${os.adminUrl}/faults`, { headers: { Authorization: `Bearer ${os.adminToken}` } })).json()) as { fail: unknown[] };
      assert.deepEqual(now.fail, []);
    });
  });

  describe('VNF LCM v2 request rules', () => {
    it('needs Version: 2.0.0 (missing 400, other 406) except on api_versions; replies carry it', async () => {
      const missing = await http('GET', '/vnflcm/v2/vnf_instances', { version: null });
      assert.equal(missing.status, 400);
      assert.equal(missing.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      assert.deepEqual(Object.keys(missing.json as object).sort(), ['detail', 'status', 'title']);
      assert.equal((await http('GET', '/vnflcm/v2/vnf_instances', { version: '3.0.0' })).status, 406);
      const v = await http('GET', '/vnflcm/v2/api_versions', { version: null });
      assert.equal(v.status, 200);
      assert.equal(v.headers.get('version'), '2.0.0');
      assert.equal((await http('GET', '/vnflcm/v2/vnf_instances')).headers.get('version'), '2.0.0');
    });

    it('takes JSON bodies only (415, 400) and accepts an empty body with Content-Type: application/json', async () => {
      const xml = await http('POST', '/vnflcm/v2/vnf_instances', { raw: '<vnfdId/>', type: 'application/xml' });
      assert.equal(xml.status, 415);
      const broken = await http('POST', '/vnflcm/v2/vnf_instances', { raw: '{"vnfdId":', type: 'application/json' });
      assert.equal(broken.status, 400);
      const empty = await http('GET', '/vnflcm/v2/vnf_instances', { headers: { 'Content-Type': 'application/json' } });
      assert.equal(empty.status, 200);
    });

    it('creates instances (201 + Location) and refuses unknown or disabled VNFDs with 422', async () => {
      const r = await http('POST', '/vnflcm/v2/vnf_instances', { body: { vnfdId: PLAIN_VNFD_ID, vnfInstanceName: 'a.b.c.v1.0' } });
      assert.equal(r.status, 201);
      const inst = r.json as Record<string, unknown>;
      assert.equal(r.headers.get('location'), `${os.tackerUrl}/vnflcm/v2/vnf_instances/${inst.id as string}`);
      assert.equal(inst.instantiationState, 'NOT_INSTANTIATED');
      assert.equal(inst.vnfdId, PLAIN_VNFD_ID);
      assert.equal((await http('POST', '/vnflcm/v2/vnf_instances', { body: { vnfdId: '00000000-0000-4000-8000-000000000000' } })).status, 422);
      assert.equal((await http('POST', '/vnflcm/v2/vnf_instances', { body: { vnfInstanceName: 'x' } })).status, 400);
      const off = await http('PATCH', `/vnfpkgm/v1/vnf_packages/${PLAIN_PACKAGE_ID}`, { body: { operationalState: 'DISABLED' } });
      assert.equal(off.status, 200);
      const refused = await http('POST', '/vnflcm/v2/vnf_instances', { body: { vnfdId: PLAIN_VNFD_ID } });
      assert.equal(refused.status, 422);
      assert.match((refused.json as { detail: string }).detail, /not ENABLED/);
      assert.equal((await http('PATCH', `/vnfpkgm/v1/vnf_packages/${PLAIN_PACKAGE_ID}`, { body: { operationalState: 'ENABLED' } })).status, 200);
      assert.equal((await http('DELETE', `/vnflcm/v2/vnf_instances/${inst.id as string}`)).status, 204);
      assert.equal((await http('GET', `/vnflcm/v2/vnf_instances/${inst.id as string}`)).status, 404);
      assert.equal((await http('DELETE', `/vnflcm/v2/vnf_instances/${inst.id as string}`)).status, 404);
    });
  });

  describe('operations', () => {
    it('instantiates (202, empty, Location) through STARTING → PROCESSING → COMPLETED with instantiatedVnfInfo as tacker.md says; 409s; terminate; delete', async () => {
      const id = await create('ns.svc.app.v1.0');
      const opId = await instantiate(id, {
        flavourId: 'simple',
        additionalParams: { hello: 'world' },
        extVirtualLinks: [{ id: 'ext', resourceId: 'net', extCps: [{ cpdId: 'VDU1_CP1', cpConfig: { cp1: { cpProtocolData: [{ layerProtocol: 'IP_OVER_ETHERNET', ipOverEthernet: { ipAddresses: [{ type: 'IPV4', fixedAddresses: ['127.0.10.201'] }] } }] } } }] }],
      });
      const again = await http('POST', `/vnflcm/v2/vnf_instances/${id}/instantiate`, { body: { flavourId: 'simple' } });
      assert.equal(again.status, 409, 'another operation is in progress');
      assert.equal((await http('DELETE', `/vnflcm/v2/vnf_instances/${id}`)).status, 409, 'delete while an operation runs');
      const op = await waitOp(opId);
      assert.equal(op.operationState, 'COMPLETED');
      for (const k of ['id', 'operationState', 'stateEnteredTime', 'startTime', 'vnfInstanceId', 'operation', 'isAutomaticInvocation', 'operationParams', 'isCancelPending', 'resourceChanges', '_links']) assert.ok(k in op, k);
      assert.equal(op.operation, 'INSTANTIATE');
      assert.deepEqual((op.operationParams as { additionalParams: unknown }).additionalParams, { hello: 'world' });
      const inst = (await http('GET', `/vnflcm/v2/vnf_instances/${id}`)).json as { instantiationState: string; instantiatedVnfInfo: Record<string, unknown>; vimConnectionInfo: Record<string, { vimId: string; vimType: string }> };
      assert.equal(inst.instantiationState, 'INSTANTIATED');
      const info = inst.instantiatedVnfInfo as { vnfState: string; vnfcResourceInfo: { id: string; vduId: string; computeResource: { resourceId: string; vimLevelResourceType: string } }[]; vnfcInfo: { id: string }[]; extCpInfo: { cpProtocolInfo: { ipOverEthernet: { ipAddresses: { addresses?: string[] }[] } }[] }[] };
      assert.equal(info.vnfState, 'STARTED');
      assert.equal(info.vnfcResourceInfo.length, 1);
      const rc = info.vnfcResourceInfo[0]!;
      assert.equal(rc.id, rc.computeResource.resourceId);
      assert.equal(rc.vduId, 'VDU1');
      assert.equal(rc.computeResource.vimLevelResourceType, 'OS::Nova::Server');
      assert.equal(info.vnfcInfo[0]!.id, `VDU1-${rc.id}`);
      assert.deepEqual(info.extCpInfo[0]!.cpProtocolInfo[0]!.ipOverEthernet.ipAddresses[0]!.addresses, ['127.0.10.201']);
      assert.equal(vms.vms.get(rc.id)?.address, '127.0.10.201');
      assert.equal(Object.values(inst.vimConnectionInfo)[0]!.vimId, os.defaultVimId);
      // Nova knows the server; the console holds cloud-init's host key block
      const server = (await http('GET', `${os.novaUrl}/servers/${rc.id}`)).json as { server: { addresses: Record<string, { addr: string; 'OS-EXT-IPS:type': string }[]> } };
      assert.deepEqual(Object.values(server.server.addresses)[0]!.map((a) => [a.addr, a['OS-EXT-IPS:type']]), [['127.0.10.201', 'fixed']]);
      const console = await http('POST', `${os.novaUrl}/servers/${rc.id}/action`, { body: { 'os-getConsoleOutput': { length: -1 } } });
      assert.equal(console.status, 200);
      assert.match((console.json as { output: string }).output, /-----BEGIN SSH HOST KEY KEYS-----\nssh-ed25519 AAAA/);
      assert.equal((await http('GET', `${os.novaUrl}/servers/00000000-0000-4000-8000-000000000000`)).status, 404);

      assert.equal((await http('POST', `/vnflcm/v2/vnf_instances/${id}/instantiate`, { body: { flavourId: 'simple' } })).status, 409, 'already instantiated');
      assert.equal((await http('DELETE', `/vnflcm/v2/vnf_instances/${id}`)).status, 409, 'delete while instantiated');
      assert.equal((await http('POST', `/vnflcm/v2/vnf_lcm_op_occs/${opId}/retry`)).status, 409, 'retry of a COMPLETED operation');
      assert.equal((await http('POST', `/vnflcm/v2/vnf_lcm_op_occs/${opId}/rollback`)).status, 409);
      assert.equal((await http('POST', `/vnflcm/v2/vnf_lcm_op_occs/${opId}/fail`)).status, 409);
      assert.equal((await http('POST', `/vnflcm/v2/vnf_instances/${id}/terminate`, { body: { terminationType: 'SOMETIMES' } })).status, 400);
      const term = await http('POST', `/vnflcm/v2/vnf_instances/${id}/terminate`, { body: { terminationType: 'GRACEFUL' } });
      assert.equal(term.status, 202);
      assert.equal(term.text, '');
      const top = await waitOp((term.headers.get('location') as string).split('/').pop() as string);
      assert.equal(top.operationState, 'COMPLETED');
      assert.equal(vms.vms.has(rc.id), false, 'the VM is gone');
      assert.equal((await http('POST', `/vnflcm/v2/vnf_instances/${id}/terminate`, { body: { terminationType: 'FORCEFUL' } })).status, 409, 'terminate of NOT_INSTANTIATED');
      assert.equal((await http('DELETE', `/vnflcm/v2/vnf_instances/${id}`)).status, 204);
    });

    it('FAILED_TEMP → rollback → ROLLED_BACK (VMs removed); FAILED_TEMP → retry → COMPLETED; FAILED_TEMP → fail → FAILED (200 + body)', async () => {
      await admin({ fail: { count: 3, error: { status: 500, title: 'Heat failed', detail: 'stack create failed' } } });
      const a = await create('rollback');
      const opA = await instantiate(a);
      const failed = await waitOp(opA);
      assert.equal(failed.operationState, 'FAILED_TEMP');
      assert.deepEqual(failed.error, { status: 500, title: 'Heat failed', detail: 'stack create failed' });
      assert.equal((await http('POST', `/vnflcm/v2/vnf_instances/${a}/instantiate`, { body: { flavourId: 'simple' } })).status, 409, 'FAILED_TEMP blocks other operations');
      const before = vms.vms.size;
      const rb = await http('POST', `/vnflcm/v2/vnf_lcm_op_occs/${opA}/rollback`);
      assert.equal(rb.status, 202);
      assert.equal(rb.headers.get('location'), null);
      assert.equal((await waitOp(opA, ['ROLLED_BACK'])).operationState, 'ROLLED_BACK');
      assert.equal(vms.vms.size, before - 1);
      assert.equal((await http('POST', `/vnflcm/v2/vnf_lcm_op_occs/${opA}/rollback`)).status, 409);

      const b = await create('retry');
      const opB = await instantiate(b);
      assert.equal((await waitOp(opB)).operationState, 'FAILED_TEMP');
      await fetch(`${os.adminUrl}/faults`, { method: 'DELETE', headers: { Authorization: `Bearer ${os.adminToken}` } });
      const rt = await http('POST', `/vnflcm/v2/vnf_lcm_op_occs/${opB}/retry`);
      assert.equal(rt.status, 202);
      assert.equal(rt.headers.get('location'), null);
      assert.equal((await waitOp(opB)).operationState, 'COMPLETED');

      await admin({ fail: { count: 1 } });
      const c = await create('fail');
      const opC = await instantiate(c);
      assert.equal((await waitOp(opC)).operationState, 'FAILED_TEMP');
      const f = await http('POST', `/vnflcm/v2/vnf_lcm_op_occs/${opC}/fail`);
      assert.equal(f.status, 200);
      assert.equal((f.json as { operationState: string }).operationState, 'FAILED');
      assert.equal((await http('POST', `/vnflcm/v2/vnf_lcm_op_occs/${opC}/retry`)).status, 409, 'FAILED is final');
      assert.equal((await http('DELETE', `/vnflcm/v2/vnf_instances/${c}`)).status, 204);
      assert.equal((await http('GET', '/vnflcm/v2/vnf_lcm_op_occs/00000000-0000-4000-8000-000000000000')).status, 404);
    });

    it('a failed grant goes straight to ROLLED_BACK', async () => {
      await admin({ fail: { stage: 'grant', error: { status: 403, title: 'Grant refused', detail: 'quota' } } });
      const id = await create('grant');
      const op = await waitOp(await instantiate(id));
      assert.equal(op.operationState, 'ROLLED_BACK');
      assert.equal((op.error as { detail: string }).detail, 'quota');
    });

    it('fixedAddresses outside 127.0.10.0/24 or in use → FAILED_TEMP', async () => {
      const cp = (addr: string) => ({ flavourId: 'simple', extVirtualLinks: [{ id: 'e', resourceId: 'n', extCps: [{ cpdId: 'VDU1_CP1', cpConfig: { c: { cpProtocolData: [{ layerProtocol: 'IP_OVER_ETHERNET', ipOverEthernet: { ipAddresses: [{ type: 'IPV4', fixedAddresses: [addr] }] } }] } } }] }] });
      const outside = await waitOp(await instantiate(await create('outside'), cp('10.0.0.5')));
      assert.equal(outside.operationState, 'FAILED_TEMP');
      assert.match((outside.error as { detail: string }).detail, /outside the sandbox network 127\.0\.10\.0\/24/);
      const ok = await waitOp(await instantiate(await create('first'), cp('127.0.10.222')));
      assert.equal(ok.operationState, 'COMPLETED');
      const taken = await waitOp(await instantiate(await create('second'), cp('127.0.10.222')));
      assert.equal(taken.operationState, 'FAILED_TEMP');
      assert.match((taken.error as { detail: string }).detail, /already in use/);
    });

    it('validates instantiate requests (400) before accepting them', async () => {
      const id = await create('validate');
      assert.equal((await http('POST', `/vnflcm/v2/vnf_instances/${id}/instantiate`, { body: {} })).status, 400);
      assert.equal((await http('POST', `/vnflcm/v2/vnf_instances/${id}/instantiate`, { body: { flavourId: 'large' } })).status, 400);
      assert.equal((await http('POST', `/vnflcm/v2/vnf_instances/${id}/instantiate`, { body: { flavourId: 'simple', vimConnectionInfo: { v: { vimId: 'nope', vimType: 'ETSINFV.OPENSTACK_KEYSTONE.V_3' } } } })).status, 422);
      assert.equal((await http('POST', '/vnflcm/v2/vnf_instances/00000000-0000-4000-8000-000000000000/instantiate', { body: { flavourId: 'simple' } })).status, 404);
    });

    it('instantiation_level_2 makes two VMs (one vnfcResourceInfo each)', async () => {
      const id = await create('two');
      assert.equal((await waitOp(await instantiate(id, { flavourId: 'simple', instantiationLevelId: 'instantiation_level_2' }))).operationState, 'COMPLETED');
      const inst = (await http('GET', `/vnflcm/v2/vnf_instances/${id}`)).json as { instantiatedVnfInfo: { vnfcResourceInfo: unknown[]; extCpInfo?: unknown } };
      assert.equal(inst.instantiatedVnfInfo.vnfcResourceInfo.length, 2);
      assert.equal(inst.instantiatedVnfInfo.extCpInfo, undefined, 'no extCpInfo without requested external CPs');
    });
  });

  describe('lists', () => {
    it('filters (SOL013), leaves out complex attributes unless asked, and pages with Link rel=next', async () => {
      const name = 'list.me.please.v1.0';
      const ids = [await create(name), await create(name), await create(name)];
      const byName = await http('GET', `/vnflcm/v2/vnf_instances?filter=${encodeURIComponent(`(eq,vnfInstanceName,${name})`)}`);
      assert.equal(byName.status, 200);
      const page1 = byName.json as { id: string; metadata?: unknown }[];
      assert.deepEqual(page1.map((i) => i.id), ids.slice(0, 2), 'page size 2');
      assert.equal(page1[0]!.metadata, undefined, 'metadata is left out of lists');
      const link = /<([^>]+)>; rel="next"/.exec(byName.headers.get('link') ?? '')?.[1];
      assert.ok(link, 'Link rel=next');
      const page2 = await http('GET', link as string);
      assert.deepEqual((page2.json as { id: string }[]).map((i) => i.id), ids.slice(2));
      assert.equal(page2.headers.get('link'), null);
      const all = await http('GET', `/vnflcm/v2/vnf_instances?all_fields&filter=${encodeURIComponent(`(eq,vnfInstanceName,${name})`)}`);
      assert.deepEqual((all.json as { metadata?: unknown }[])[0]!.metadata, { 'mixmesh.io/index': '0' });
      const fields = await http('GET', `/vnflcm/v2/vnf_instances?fields=metadata&filter=${encodeURIComponent(`(eq,vnfInstanceName,${name})`)}`);
      assert.deepEqual((fields.json as { metadata?: unknown }[])[0]!.metadata, { 'mixmesh.io/index': '0' });
      const excl = await http('GET', `/vnflcm/v2/vnf_instances?exclude_fields=vnfProvider&filter=${encodeURIComponent(`(eq,vnfInstanceName,${name})`)}`);
      assert.equal((excl.json as { vnfProvider?: unknown }[])[0]!.vnfProvider, undefined);
      assert.equal((await http('GET', '/vnflcm/v2/vnf_instances?filter=(eq,vnfInstanceName')).status, 400);
      assert.equal((await http('GET', '/vnflcm/v2/vnf_instances?filter=(like,a,b)')).status, 400);
      assert.equal((await http('GET', '/vnflcm/v2/vnf_instances?all_fields&fields=metadata')).status, 400);
      assert.equal((await http('GET', '/vnflcm/v2/vnf_instances?nextpage_opaque_marker=nope')).status, 400);
      const ops = await http('GET', `/vnflcm/v2/vnf_lcm_op_occs?filter=${encodeURIComponent('(eq,operation,INSTANTIATE)')}`);
      assert.equal(ops.status, 200);
      assert.ok((ops.json as { operationParams?: unknown }[]).every((o) => o.operationParams === undefined));
    });
  });

  describe('subscriptions and notifications', () => {
    it('Basic: tests the callback with auth + Version, never echoes authentication, sends three notifications per instantiate with FULL affectedVnfcs, plus identifier creation/deletion', async () => {
      const rx = new Receiver({ basic: { user: 'tacker', password: 'cb-secret-1' } });
      await rx.start();
      try {
        const r = await http('POST', '/vnflcm/v2/subscriptions', {
          body: { callbackUri: `${rx.url}/cb`, filter: { vnfInstanceSubscriptionFilter: { vnfdIds: [PLUGIN_VNFD_ID] } }, authentication: { authType: ['BASIC'], paramsBasic: { userName: 'tacker', password: 'cb-secret-1' } } },
        });
        assert.equal(r.status, 201, r.text);
        assert.ok(r.headers.get('location')?.endsWith(`/vnflcm/v2/subscriptions/${(r.json as { id: string }).id}`));
        assert.equal((r.json as Record<string, unknown>).authentication, undefined);
        assert.ok(!r.text.includes('cb-secret-1'));
        const test = rx.requests[0]!;
        assert.equal(test.method, 'GET');
        assert.equal(test.headers.version, '2.0.0');
        const subId = (r.json as { id: string }).id;
        const listed = await http('GET', '/vnflcm/v2/subscriptions');
        assert.ok(!listed.text.includes('cb-secret-1'));
        assert.ok((listed.json as { id: string }[]).some((s) => s.id === subId));

        await http('POST', '/vnflcm/v2/vnf_instances', { body: { vnfdId: PLAIN_VNFD_ID, vnfInstanceName: 'filtered-out' } });
        const id = await create('notified', PLUGIN_VNFD_ID);
        const opId = await instantiate(id);
        await waitOp(opId);
        await rx.waitForPosts(4);
        await os.drainNotifications();
        const bodies = rx.posts.map((p) => p.body as Record<string, unknown>);
        assert.ok(bodies.every((b) => b.subscriptionId === subId));
        assert.ok(bodies.every((b) => b.vnfInstanceId === id), 'the filter keeps the plain package out');
        const creation = bodies.filter((b) => b.notificationType === 'VnfIdentifierCreationNotification');
        assert.equal(creation.length, 1);
        const occ = bodies.filter((b) => b.notificationType === 'VnfLcmOperationOccurrenceNotification');
        assert.deepEqual(occ.map((b) => b.operationState).sort(), ['COMPLETED', 'PROCESSING', 'STARTING']);
        const starting = occ.find((b) => b.operationState === 'STARTING')!;
        assert.equal(starting.notificationStatus, 'START');
        const done = occ.find((b) => b.operationState === 'COMPLETED')!;
        assert.equal(done.notificationStatus, 'RESULT');
        assert.equal(done.vnfLcmOpOccId, opId);
        assert.equal(done.verbosity, 'FULL');
        assert.equal(done.isAutomaticInvocation, false);
        assert.equal(done.operation, 'INSTANTIATE');
        assert.equal((done.affectedVnfcs as { changeType: string }[])[0]!.changeType, 'ADDED');
        assert.deepEqual(Object.keys(done._links as object).sort(), ['subscription', 'vnfInstance', 'vnfLcmOpOcc']);
        for (const p of rx.posts) assert.equal(p.headers.authorization, 'Basic ' + Buffer.from('tacker:cb-secret-1').toString('base64'));
        // the mgmt driver of the plug-in package ran as tacker-conductor runs it
        const out = JSON.parse(readFileSync(scriptOut(), 'utf8')) as Record<string, unknown>;
        assert.deepEqual(out.keys, ['grant_request', 'grant_response', 'operation', 'request', 'tmp_csar_dir', 'user_script_err_handling_data', 'vnf_instance']);
        assert.equal(out.operation, 'instantiate_end');
        assert.equal(out.type, 'dict');
        assert.equal(out.env, '/tmp/injector-test.json');
        assert.equal(out.csar, true);
        assert.equal(out.vnfInstanceId, id);
        assert.equal((out.servers as string[]).length, 1);
        const term = await http('POST', `/vnflcm/v2/vnf_instances/${id}/terminate`, { body: { terminationType: 'FORCEFUL' } });
        await waitOp((term.headers.get('location') as string).split('/').pop() as string);
        assert.equal((await http('DELETE', `/vnflcm/v2/vnf_instances/${id}`)).status, 204);
        await rx.waitForPosts(8);
        await os.drainNotifications();
        assert.equal(rx.posts.filter((p) => (p.body as { notificationType: string }).notificationType === 'VnfIdentifierDeletionNotification').length, 1);
        assert.equal((await http('DELETE', `/vnflcm/v2/subscriptions/${subId}`)).status, 204);
        assert.equal((await http('DELETE', `/vnflcm/v2/subscriptions/${subId}`)).status, 404);
      } finally {
        await rx.stop();
      }
    });

    it('mgmt driver failure → FAILED_TEMP {422, "Mgmt driver execution failed", "instantiate_end failed: <stderr>"}', async () => {
      const id = await create('driver-fails', PLUGIN_VNFD_ID);
      const op = await waitOp(await instantiate(id, { flavourId: 'simple', additionalParams: { fail: 'boom' } }));
      assert.equal(op.operationState, 'FAILED_TEMP');
      assert.deepEqual(op.error, { status: 422, title: 'Mgmt driver execution failed', detail: 'instantiate_end failed: injector said no: boom' });
    });

    it('OAuth2 client credentials: token from tokenEndpoint, then Bearer; filters on operation states', async () => {
      const rx = new Receiver({ oauth: { clientId: 'cid', clientPassword: 'cpw-secret' } });
      await rx.start();
      try {
        const r = await http('POST', '/vnflcm/v2/subscriptions', {
          body: {
            callbackUri: `${rx.url}/cb`, filter: { notificationTypes: ['VnfLcmOperationOccurrenceNotification'], operationStates: ['COMPLETED'] },
            authentication: { authType: ['OAUTH2_CLIENT_CREDENTIALS'], paramsOauth2ClientCredentials: { clientId: 'cid', clientPassword: 'cpw-secret', tokenEndpoint: `${rx.url}/token` } },
          },
        });
        assert.equal(r.status, 201, r.text);
        assert.ok(!r.text.includes('cpw-secret'));
        const id = await create('oauth');
        await waitOp(await instantiate(id));
        await rx.waitForPosts(1);
        await os.drainNotifications();
        assert.equal(rx.posts.length, 1, 'only COMPLETED passes the filter');
        assert.equal(rx.posts[0]!.headers.authorization, `Bearer ${rx.accessToken}`);
        assert.ok(rx.tokenRequests.length >= 2, 'a token for the test GET and for the POST');
        await http('DELETE', `/vnflcm/v2/subscriptions/${(r.json as { id: string }).id}`);
      } finally {
        await rx.stop();
      }
    });

    it('refuses a subscription whose callback does not answer 204 (422), or bad requests (400)', async () => {
      const rx = new Receiver({ basic: { user: 'u', password: 'p' } });
      await rx.start();
      try {
        const wrong = await http('POST', '/vnflcm/v2/subscriptions', { body: { callbackUri: `${rx.url}/cb`, authentication: { authType: ['BASIC'], paramsBasic: { userName: 'u', password: 'nope' } } } });
        assert.equal(wrong.status, 422);
        rx.getStatus = 200;
        const notNoContent = await http('POST', '/vnflcm/v2/subscriptions', { body: { callbackUri: `${rx.url}/cb`, authentication: { authType: ['BASIC'], paramsBasic: { userName: 'u', password: 'p' } } } });
        assert.equal(notNoContent.status, 422);
        assert.equal((await http('POST', '/vnflcm/v2/subscriptions', { body: { callbackUri: 'http://127.0.0.1:1/cb' } })).status, 422);
        assert.equal((await http('POST', '/vnflcm/v2/subscriptions', { body: {} })).status, 400);
        assert.equal((await http('POST', '/vnflcm/v2/subscriptions', { body: { callbackUri: `${rx.url}/cb`, authentication: { authType: ['BASIC'] } } })).status, 400);
        assert.equal((await http('POST', '/vnflcm/v2/subscriptions', { body: { callbackUri: `${rx.url}/cb`, filter: { operationStates: ['DONE'] } } })).status, 400);
      } finally {
        await rx.stop();
      }
    });

    it('faults reorder notifications (held, then sent newest first) and make new VMs\' sshd slow', async () => {
      const rx = new Receiver();
      await rx.start();
      try {
        const r = await http('POST', '/vnflcm/v2/subscriptions', { body: { callbackUri: `${rx.url}/cb`, filter: { notificationTypes: ['VnfLcmOperationOccurrenceNotification'] } } });
        await admin({ notifications: { reorder: 3 }, slowSshd: { ms: 4321 } });
        await waitOp(await instantiate(await create('reordered')));
        await os.drainNotifications();
        const deliveries = (await (await fetch(`${os.adminUrl}/notifications`, { headers: { Authorization: `Bearer ${os.adminToken}` } })).json()) as { subscriptionId: string; operationState: string; status: number }[];
        const mine = deliveries.filter((d) => d.subscriptionId === (r.json as { id: string }).id);
        assert.deepEqual(mine.map((d) => d.operationState), ['COMPLETED', 'PROCESSING', 'STARTING']);
        assert.ok(mine.every((d) => d.status === 204));
        assert.equal(vms.created[vms.created.length - 1]!.sshdDelayMs, 4321);
        await http('DELETE', `/vnflcm/v2/subscriptions/${(r.json as { id: string }).id}`);
      } finally {
        await rx.stop();
      }
    });

    it('faults drop and duplicate notifications; none is retried when the receiver fails', async () => {
      const rx = new Receiver();
      await rx.start();
      try {
        const r = await http('POST', '/vnflcm/v2/subscriptions', { body: { callbackUri: `${rx.url}/cb`, filter: { notificationTypes: ['VnfLcmOperationOccurrenceNotification'] } } });
        await admin({ notifications: { drop: 1, duplicate: 1 } });
        await waitOp(await instantiate(await create('faulty')));
        await os.drainNotifications();
        const states = rx.posts.map((p) => (p.body as { operationState: string }).operationState).sort();
        // STARTING dropped, PROCESSING twice, COMPLETED once
        assert.deepEqual(states, ['COMPLETED', 'PROCESSING', 'PROCESSING']);
        await rx.stop();
        const before = rx.posts.length;
        await waitOp(await instantiate(await create('receiver-down')));
        await os.drainNotifications();
        assert.equal(rx.posts.length, before);
        await http('DELETE', `/vnflcm/v2/subscriptions/${(r.json as { id: string }).id}`);
      } finally {
        await rx.stop();
      }
    });
  });

  describe('stop', () => {
    it('ends at once even with an operation held by a one-hour delay, removing the VMs it made', async () => {
      const d = mkdtempSync(join(tmpdir(), 'mixmesh-os-stop-'));
      const mem = new MemoryVmProvider();
      const other = await startOpenStack({ dir: d, vmProvider: mem, keystone: 'emulated', latencies: { startingMs: 1, processingMs: 1, terminateMs: 1, sshdMs: 0 } });
      try {
        const c = other.credentials;
        const tr = await fetch(`${other.authUrl}/auth/tokens`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: c.username, domain: { name: 'Default' }, password: c.password } } }, scope: { project: { name: c.projectName, domain: { name: 'Default' } } } } }) });
        const h = { 'X-Auth-Token': tr.headers.get('x-subject-token') as string, Version: '2.0.0', 'Content-Type': 'application/json' };
        await fetch(`${other.adminUrl}/faults`, { method: 'POST', headers: { Authorization: `Bearer ${other.adminToken}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ delay: { operation: 'INSTANTIATE', ms: 3_600_000 } }) });
        const inst = (await (await fetch(`${other.tackerUrl}/vnflcm/v2/vnf_instances`, { method: 'POST', headers: h, body: JSON.stringify({ vnfdId: PLAIN_VNFD_ID }) })).json()) as { id: string };
        assert.equal((await fetch(`${other.tackerUrl}/vnflcm/v2/vnf_instances/${inst.id}/instantiate`, { method: 'POST', headers: h, body: JSON.stringify({ flavourId: 'simple' }) })).status, 202);
        while (mem.vms.size === 0) await new Promise((r) => setTimeout(r, 5));
      } finally {
        await other.stop();
        rmSync(d, { recursive: true, force: true });
      }
      assert.equal(mem.vms.size, 0);
    });
  });

  describe('VNF packages and VIMs', () => {
    it('lists the seeded packages (plain first) and filters by vnfdId', async () => {
      const all = (await http('GET', '/vnfpkgm/v1/vnf_packages')).json as { vnfdId: string; onboardingState: string; operationalState: string }[];
      assert.equal(all[0]!.vnfdId, PLAIN_VNFD_ID);
      assert.equal(all[1]!.vnfdId, PLUGIN_VNFD_ID);
      const one = (await http('GET', `/vnfpkgm/v1/vnf_packages?filter=${encodeURIComponent(`(eq,vnfdId,${PLUGIN_VNFD_ID})`)}`)).json as { onboardingState: string; operationalState: string }[];
      assert.equal(one.length, 1);
      assert.equal(one[0]!.onboardingState, 'ONBOARDED');
      assert.equal(one[0]!.operationalState, 'ENABLED');
    });

    it('creates a package, onboards uploaded zip content (→ ONBOARDED), and refuses a second upload (409) or non-zip (415)', async () => {
      const c = await http('POST', '/vnfpkgm/v1/vnf_packages', { body: { userDefinedData: { owner: 'test' } } });
      assert.equal(c.status, 201);
      const id = (c.json as { id: string; onboardingState: string }).id;
      assert.equal((c.json as { onboardingState: string }).onboardingState, 'CREATED');
      assert.equal((await http('PUT', `/vnfpkgm/v1/vnf_packages/${id}/package_content`, { raw: 'not a zip', type: 'text/plain' })).status, 415);
      const zip = writeZip(sampleCsar({ vnfdId: 'b0000000-0000-4000-8000-000000000123', productName: 'uploaded' }));
      const up = await http('PUT', `/vnfpkgm/v1/vnf_packages/${id}/package_content`, { raw: zip, type: 'application/zip' });
      assert.equal(up.status, 202);
      assert.equal((await http('PUT', `/vnfpkgm/v1/vnf_packages/${id}/package_content`, { raw: zip, type: 'application/zip' })).status, 409);
      let p: { onboardingState: string; vnfdId?: string; operationalState: string };
      do {
        p = (await http('GET', `/vnfpkgm/v1/vnf_packages/${id}`)).json as typeof p;
      } while (p.onboardingState === 'UPLOADING' || p.onboardingState === 'PROCESSING');
      assert.equal(p.onboardingState, 'ONBOARDED');
      assert.equal(p.vnfdId, 'b0000000-0000-4000-8000-000000000123');
      assert.equal(p.operationalState, 'ENABLED');
      assert.equal((await http('POST', '/vnflcm/v2/vnf_instances', { body: { vnfdId: p.vnfdId } })).status, 201);
      assert.equal((await http('GET', '/vnfpkgm/v1/vnf_packages/00000000-0000-4000-8000-000000000000')).status, 404);
    });

    async function settled(id: string): Promise<Record<string, unknown>> {
      for (;;) {
        const p = (await http('GET', `/vnfpkgm/v1/vnf_packages/${id}`)).json as Record<string, unknown>;
        if (p.onboardingState !== 'UPLOADING' && p.onboardingState !== 'PROCESSING') return p;
        await new Promise((r) => setTimeout(r, 10));
      }
    }

    it('as Tacker: a package whose VNFD imports do not resolve goes back to CREATED (not ONBOARDED); the fixed package then onboards with its own product name and SHA-512 checksum, and downloads byte for byte', async () => {
      const id = ((await http('POST', '/vnfpkgm/v1/vnf_packages', { body: {} })).json as { id: string }).id;
      assert.equal((await http('GET', `/vnfpkgm/v1/vnf_packages/${id}/package_content`)).status, 409, 'nothing to download before ONBOARDED');
      const broken = zipDirectory(SAMPLE_PACKAGE, (rel) => rel.startsWith('Definitions/etsi_nfv_sol001_'));
      assert.equal((await http('PUT', `/vnfpkgm/v1/vnf_packages/${id}/package_content`, { raw: broken, type: 'application/zip' })).status, 202);
      const refused = await settled(id);
      assert.equal(refused.onboardingState, 'CREATED');
      assert.equal(refused.operationalState, 'DISABLED');
      assert.equal(refused.vnfdId, undefined);
      assert.match((refused.onboardingFailureDetails as { detail: string }).detail, /Definitions\/mixmesh_sample_top\.vnfd\.yaml: Import "etsi_nfv_sol001_common_types\.yaml" is not valid\./);
      // the user uploads the corrected package to the same package resource, as Tacker allows
      const good = zipDirectory(SAMPLE_PACKAGE);
      assert.equal((await http('PUT', `/vnfpkgm/v1/vnf_packages/${id}/package_content`, { raw: good, type: 'application/zip' })).status, 202);
      const p = await settled(id);
      assert.equal(p.onboardingState, 'ONBOARDED');
      assert.equal(p.onboardingFailureDetails, undefined);
      assert.equal(p.vnfdId, '6a4b5a1e-0000-4000-8000-0000000000c1');
      assert.equal(p.vnfProvider, 'mixmesh');
      assert.equal(p.vnfProductName, 'mixmesh sample VNF', 'read from the node type defaults, as tosca-parser gives them to Tacker');
      assert.equal(p.vnfSoftwareVersion, '1.0');
      assert.deepEqual(p.checksum, { algorithm: 'sha512', hash: createHash('sha512').update(good).digest('hex') });
      const download = await fetch(`${os.tackerUrl}/vnfpkgm/v1/vnf_packages/${id}/package_content`, { headers: { 'X-Auth-Token': token } });
      assert.equal(download.status, 200);
      assert.equal(download.headers.get('content-type'), 'application/zip');
      assert.ok(Buffer.from(await download.arrayBuffer()).equals(good));
      // the seeded ones have a real checksum too
      const seeded = (await http('GET', `/vnfpkgm/v1/vnf_packages/${PLAIN_PACKAGE_ID}`)).json as { checksum: { hash: string } };
      assert.match(seeded.checksum.hash, /^[0-9a-f]{128}$/);
      assert.notEqual(seeded.checksum.hash, '0'.repeat(128));
      // no longer needed: disable and delete, so other tests see the two seeded packages only
      assert.equal((await http('PATCH', `/vnfpkgm/v1/vnf_packages/${id}`, { body: { operationalState: 'DISABLED' } })).status, 200);
      assert.equal((await http('DELETE', `/vnfpkgm/v1/vnf_packages/${id}`)).status, 204);
    });

    it('Glance lists the sandbox image; Nova lists servers, flavors and keypairs and filters servers by name', async () => {
      const images = (await http('GET', '/image/v2/images')).json as { images: { id: string; name: string; status: string }[] };
      assert.deepEqual(images.images.map((i) => [i.name, i.status]), [['sandbox-busybox', 'active']]);
      assert.equal((await http('GET', `/image/v2/images/${images.images[0]!.id}`)).status, 200);
      assert.equal((await http('GET', '/image/v2/images/00000000-0000-4000-8000-000000000000')).status, 404);
      assert.equal((await http('GET', '/image/v2/images', { token: null })).status, 401);
      const flavors = (await http('GET', '/compute/v2.1/flavors/detail')).json as { flavors: { id: string; vcpus: number }[] };
      assert.deepEqual(flavors.flavors.map((f) => f.id), ['sandbox.small']);
      const keypairs = (await http('GET', '/compute/v2.1/os-keypairs')).json as { keypairs: { keypair: { name: string; fingerprint: string; type: string } }[] };
      assert.equal(keypairs.keypairs[0]!.keypair.name, 'sandbox');
      assert.match(keypairs.keypairs[0]!.keypair.fingerprint, /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
      const id = await create('nova.list.test.v1.0');
      await waitOp(await instantiate(id));
      const inst = (await http('GET', `/vnflcm/v2/vnf_instances/${id}`)).json as { instantiatedVnfInfo: { vnfcResourceInfo: { id: string }[] } };
      const serverId = inst.instantiatedVnfInfo.vnfcResourceInfo[0]!.id;
      const all = (await http('GET', '/compute/v2.1/servers/detail')).json as { servers: { id: string; image: { id: string }; flavor: { id?: string } }[] };
      const mine = all.servers.find((x) => x.id === serverId)!;
      assert.equal(mine.image.id, images.images[0]!.id);
      assert.equal(mine.flavor.id, 'sandbox.small', 'microversion 2.1 names the flavor by id');
      const named = (await http('GET', `/compute/v2.1/servers/detail?name=${encodeURIComponent('^nomatch$')}`)).json as { servers: unknown[] };
      assert.equal(named.servers.length, 0);
      const latest = (await http('GET', `/compute/v2.1/servers/${serverId}`, { headers: { 'OpenStack-API-Version': 'compute 2.79' } })).json as { server: { flavor: { original_name?: string } } };
      assert.equal(latest.server.flavor.original_name, 'sandbox.small', 'from 2.47 on the flavor is embedded');
      await waitOp((await http('POST', `/vnflcm/v2/vnf_instances/${id}/terminate`, { body: { terminationType: 'FORCEFUL' } })).headers.get('location')!.split('/').pop()!);
      assert.equal((await http('DELETE', `/vnflcm/v2/vnf_instances/${id}`)).status, 204);
    });

    it('answers VIM lookups (200 for the default VIM, 404 otherwise)', async () => {
      assert.equal((await http('GET', `/v1.0/vims/${os.defaultVimId}`)).status, 200);
      assert.equal((await http('GET', '/v1.0/vims/00000000-0000-4000-8000-000000000000')).status, 404);
    });
  });
});
