/**
 * The client commands against a real orchestrator API over HTTP (controller running on the
 * in-memory Kubernetes/Tacker/injector): exit codes, stdout vs stderr, waiting, rejections.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { isMixmeshError } from '../../common/errors.js';
import { DEFAULT_MESH_VALUES } from '../../descriptor/index.js';
import { createGenerators } from '../../orchestrator/generators.js';
import { createOrchestrator, type Orchestrator } from '../../orchestrator/orchestrator.js';
import { MemoryInjector } from '../../test/helpers/memory-injector.js';
import { MemoryKube } from '../../test/helpers/memory-kube.js';
import { MemoryTacker } from '../../test/helpers/memory-tacker.js';
import { runApply, runDelete, runEvents, runGet, runPlan, runStatus, runVersion, type Io } from './commands.js';

const TOKEN = 'cli-test-token-0123456789';
const VIEWER = 'cli-viewer-token-0123456789';
const sha = (t: string): string => createHash('sha256').update(t).digest('hex');
const MINIMAL = readFileSync(new URL('../../examples/minimal/descriptor.yaml', import.meta.url), 'utf8');
const CAFE = readFileSync(new URL('../../examples/iot-cafe/descriptor.yaml', import.meta.url), 'utf8');

function capture(env: Record<string, string>): Io & { stdout: () => string; stderr: () => string } {
  const out = new PassThrough();
  const err = new PassThrough();
  let o = '';
  let e = '';
  out.on('data', (c: Buffer) => { o += c.toString(); });
  err.on('data', (c: Buffer) => { e += c.toString(); });
  return { out, err, env, pollMs: 20, stdout: () => o, stderr: () => e };
}

describe('cli client commands (apply, plan, get, status, events, delete)', () => {
  let orch: Orchestrator;
  let server: Server;
  let env: Record<string, string>;
  let file: string;
  const dir = mkdtempSync(join(tmpdir(), 'mixmesh-cli-'));

  let kube: MemoryKube;

  before(async () => {
    kube = new MemoryKube();
    kube.ready.add('Deployment');
    orch = createOrchestrator({
      kube, tacker: new MemoryTacker(), injector: new MemoryInjector(), generators: createGenerators(DEFAULT_MESH_VALUES),
      settings: {
        tokens: [{ name: 'admin', role: 'admin', sha256: sha(TOKEN) }, { name: 'v', role: 'viewer', sha256: sha(VIEWER) }],
        bodyLimitBytes: 1 << 20, callback: { url: 'http://127.0.0.1:1/v1/tacker/notifications', auth: 'basic' }, systemNamespace: 'mixmesh-system',
        resyncSeconds: 3600, tackerRetries: 1, tackerPollMs: 20, vmTimeoutMs: 10_000, readyTimeoutMs: 10_000, readyPollMs: 5, leaderElection: false,
      },
    });
    server = orch.app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    await orch.start();
    env = { MIXMESH_SERVER: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, MIXMESH_TOKEN: TOKEN, MIXMESH_NAMESPACE: 'shop' };
    file = join(dir, 'hello.yaml');
    writeFileSync(file, MINIMAL);
  });
  after(async () => {
    await orch.stop();
    server.close();
  });

  it('plan prints the changes on stdout, changes nothing and exits 1 (changes), as kubectl diff', async () => {
    const io = capture(env);
    assert.equal(await runPlan({ file }, io), 1);
    assert.match(io.stdout(), /^\+ create Deployment shop\/backend-v1$/m);
    assert.match(io.stderr(), /plan: \d+ create, 0 update, 0 delete, 0 unchanged/);
    const json = capture(env);
    assert.equal(await runPlan({ file, output: 'json' }, json), 1);
    assert.ok(Array.isArray((JSON.parse(json.stdout()) as { changes: unknown[] }).changes));
  });

  it('plan runs the preflight apply runs: unknown vnfdId and missing vm-ssh Secret are reported, exit 2', async () => {
    const cafe = join(dir, 'cafe.yaml');
    writeFileSync(cafe, CAFE);
    const io = capture(env);
    assert.equal(await runPlan({ file: cafe }, io), 2);
    assert.equal(io.stdout(), '', 'no plan is printed for a descriptor apply would refuse');
    assert.match(io.stderr(), /plan cafe\/iot-cafe rejected: 422 PREFLIGHT_FAILED: /);
    assert.match(io.stderr(), /^ {2}\/spec\/microservices\/\d+\/vm\/vnfdId: no VNF package has vnfdId /m);
    assert.match(io.stderr(), /^ {2}\/spec\/microservices\/\d+\/vm\/ssh\/credentialsSecret: Secret cafe\/vm-ssh does not exist/m);
    assert.doesNotMatch(io.stderr(), /VNF instance\(s\) to create/);
  });

  it('version prints the client and the server version (no token needed)', async () => {
    const io = capture({ ...env, MIXMESH_TOKEN: '' });
    assert.equal(await runVersion({}, io), 0);
    const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    assert.equal(io.stdout(), `Client Version: ${version}\nServer Version: ${version}\n`);
    const json = capture(env);
    assert.equal(await runVersion({ output: 'json' }, json), 0);
    const v = JSON.parse(json.stdout()) as { clientVersion: { version: string }; serverVersion: { version: string; component: string } };
    assert.equal(v.serverVersion.component, 'orchestrator');
    const down = capture({ ...env, MIXMESH_SERVER: 'http://127.0.0.1:1' });
    assert.equal(await runVersion({}, down), 1);
    assert.equal(down.stdout(), `Client Version: ${version}\n`);
    assert.match(down.stderr(), /cannot reach the orchestrator/);
    const client = capture({ ...env, MIXMESH_SERVER: 'http://127.0.0.1:1' });
    assert.equal(await runVersion({ client: true }, client), 0);
  });

  it('apply waits for Ready with progress on stderr, YAML on stdout; exit 0', async () => {
    const io = capture(env);
    assert.equal(await runApply({ file, output: 'yaml' }, io), 0);
    assert.match(io.stderr(), /shop\/hello generation 1 accepted/);
    assert.match(io.stderr(), /Deploying: generation 1/);
    assert.match(io.stderr(), /shop\/hello is Ready/);
    const doc = parse(io.stdout()) as { status: { phase: string } };
    assert.equal(doc.status.phase, 'Ready');
  });

  it('apply of an unchanged descriptor says "unchanged" and replays no events; plan then exits 0', async () => {
    const io = capture(env);
    assert.equal(await runApply({ file }, io), 0);
    assert.equal(io.stderr(), 'mixmesh: shop/hello unchanged (generation 1, Ready)\n');
    const plan = capture(env);
    assert.equal(await runPlan({ file }, plan), 0);
    assert.equal(plan.stdout(), '');
    assert.match(plan.stderr(), /0 create, 0 update, 0 delete, \d+ unchanged; 0 VNF instance\(s\) to create \(no changes\)/);
  });

  it('a NAME_CONFLICT is printed once: the title, then each conflicting object on its own line', async () => {
    await kube.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'backend', namespace: 'taken' }, spec: {} });
    const io = capture({ ...env, MIXMESH_NAMESPACE: 'taken' });
    assert.equal(await runApply({ file }, io), 1);
    const lines = io.stderr().trimEnd().split('\n');
    assert.match(lines[0]!, /^mixmesh: apply taken\/hello rejected: 409 NAME_CONFLICT: A generated name is taken by an object that belongs to someone else\.$/);
    assert.deepEqual(lines.slice(1), ['  (document): Service taken/backend already exists and is not managed by mixmesh']);
  });

  it('apply of an invalid descriptor exits 1 and lists the problems; a viewer is rejected with 403', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, MINIMAL.replace('port: 9090', 'port: 99999'));
    const io = capture(env);
    assert.equal(await runApply({ file: bad }, io), 1);
    assert.match(io.stderr(), /rejected: 400 DESCRIPTOR_INVALID/);
    assert.match(io.stderr(), /\/spec\/microservices\/1\/ports\/0\/port/);
    const viewer = capture({ ...env, MIXMESH_TOKEN: VIEWER });
    assert.equal(await runApply({ file }, viewer), 1);
    assert.match(viewer.stderr(), /403 FORBIDDEN/);
  });

  it('usage errors are MixmeshError USAGE (exit 2): no token, no file, bad -o, bad timeout', async () => {
    const usage = (e: unknown): boolean => isMixmeshError(e, 'USAGE');
    // the server is up: a missing token is said as such, not as "cannot reach"
    await assert.rejects(runGet(undefined, { allNamespaces: true }, capture({ ...env, MIXMESH_TOKEN: '' })), (e: unknown) => usage(e) && /^no API token: pass --token TOKEN or set MIXMESH_TOKEN/.test((e as Error).message));
    await assert.rejects(runApply({ file: join(dir, 'missing.yaml') }, capture(env)), usage);
    await assert.rejects(runGet(undefined, { output: 'xml' }, capture(env)), usage);
    await assert.rejects(runApply({ file, timeout: 'soon' }, capture(env)), usage);
    await assert.rejects(runStatus(undefined, {}, capture(env)), usage);
  });

  it('get, get -A, status and events', async () => {
    const list = capture(env);
    assert.equal(await runGet(undefined, {}, list), 0);
    assert.match(list.stdout(), /^NAMESPACE\s+NAME\s+PHASE/);
    assert.match(list.stdout(), /^shop\s+hello\s+Ready\s+1/m);
    const other = capture({ ...env, MIXMESH_NAMESPACE: 'elsewhere' });
    assert.equal(await runGet(undefined, {}, other), 0);
    assert.equal(other.stdout(), '');
    const all = capture({ ...env, MIXMESH_NAMESPACE: 'elsewhere' });
    assert.equal(await runGet(undefined, { allNamespaces: true, output: 'json' }, all), 0);
    const listed = JSON.parse(all.stdout()) as { apiVersion: string; kind: string; items: unknown[] };
    assert.equal(listed.items.length, 1);
    assert.deepEqual([listed.apiVersion, listed.kind], ['v1', 'List'], '-o json of a list is a kind: List, as kubectl prints it');
    const st = capture(env);
    assert.equal(await runStatus('hello', {}, st), 0);
    assert.match(st.stdout(), /shop\/hello: Ready \(generation 1, observed 1\)/);
    assert.match(st.stdout(), /backend\s+v1\s+container\s+1\/1/);
    const ev = capture(env);
    assert.equal(await runEvents('hello', {}, ev), 0);
    assert.match(ev.stdout(), /Normal\s+Ready: generation 1 ready/);
    const missing = capture(env);
    assert.equal(await runStatus('nobody', {}, missing), 1);
    assert.match(missing.stderr(), /404 NOT_FOUND/);
  });

  it('the API answers /livez and /version without a token, problem titles are sentences, /metrics has build info and per-service gauges', async () => {
    const base = env.MIXMESH_SERVER!;
    assert.equal((await fetch(`${base}/livez`)).status, 200);
    assert.equal(((await (await fetch(`${base}/version`)).json()) as { component: string }).component, 'orchestrator');
    const missing = (await (await fetch(`${base}/v1/services/shop/nobody`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { title: string; code: string };
    assert.equal(missing.code, 'NOT_FOUND');
    assert.notEqual(missing.title, missing.code);
    assert.match(missing.title, /^[A-Z].*\.$/);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /^mixmesh_build_info\{version="[^"]+",node="v\d+[^"]*"\} 1$/m);
    assert.match(metrics, /^mixmesh_service_phase\{namespace="shop",service="hello",phase="Ready"\} 1$/m);
    assert.match(metrics, /^mixmesh_service_phase\{namespace="shop",service="hello",phase="Failed"\} 0$/m);
    assert.match(metrics, /^mixmesh_service_workloads_ready\{namespace="shop",service="hello"\} 2$/m);
    assert.match(metrics, /^mixmesh_service_vms_desired\{namespace="shop",service="hello"\} 0$/m);
  });

  it('events --follow streams until stopped', async () => {
    const io = capture(env);
    const ac = new AbortController();
    const done = runEvents('hello', { follow: true }, io, ac.signal);
    while (!io.stdout().includes('Ready')) await new Promise((r) => setTimeout(r, 10));
    ac.abort();
    assert.equal(await done, 0);
  });

  it('delete waits until the service is gone; exit 0', async () => {
    const io = capture(env);
    assert.equal(await runDelete('hello', {}, io), 0);
    assert.match(io.stderr(), /shop\/hello deleted/);
    const again = capture(env);
    assert.equal(await runDelete('hello', {}, again), 1);
  });
});
