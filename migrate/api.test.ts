/**
 * Migration through the orchestrator (`mixmesh serve`'s stack on the source cloud, a targets file
 * naming the second cloud): REST `/v1/migrations` (roles, problem+json, --plan), the automatic mode
 * (a node lost longer than `after` while its pods stay Pending for lack of room → exactly one
 * Migration), the orchestrator stopped mid-migration and started again (resumes: one worker VNF),
 * Kubernetes Events per step, `mixmesh migrate describe`.
 */
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { KubeObject } from '../clients/kube/index.js';
import { generateStoreKeys } from '../backup/index.js';
import { silentLogger } from '../common/logger.js';
import { loadConfig, startStack, type Stack } from '../orchestrator/index.js';
import { CONTROL_PLANE_VNFD_ID, WORKER_VNFD_ID } from '../sandbox/index.js';
import { runMigrateDescribe } from '../cli/migrate.js';
import { autoName, decideAuto } from './service.js';
import { workerNames } from './engine.js';
import { instantiate, joinWorker, startTwoClouds, until, type TwoClouds } from '../cli/two-clouds.js';

const root = process.getuid?.() === 0;

describe('migrate: the automatic mode decides (pure)', () => {
  const policy = { schedule: 's', node: 'w1', to: 'cloud-2', afterMs: 60_000 };
  const base = { policies: [policy], starved: new Set(['w1']), migrated: new Set<string>(), now: 1_000_000 };
  it('migrates a node NotReady longer than after whose pods have no room', () => {
    assert.deepEqual(decideAuto({ ...base, nodes: [{ name: 'w1', ready: 'Unknown', since: 1_000_000 - 61_000 }] }), [policy]);
  });
  it('not while it is Ready, not before after has passed (a flapping node resets the clock), not when its pods found room, never twice', () => {
    assert.deepEqual(decideAuto({ ...base, nodes: [{ name: 'w1', ready: 'True', since: 0 }] }), []);
    assert.deepEqual(decideAuto({ ...base, nodes: [{ name: 'w1', ready: 'Unknown', since: 1_000_000 - 59_000 }] }), []);
    assert.deepEqual(decideAuto({ ...base, starved: new Set(), nodes: [{ name: 'w1', ready: 'False', since: 0 }] }), []);
    assert.deepEqual(decideAuto({ ...base, migrated: new Set(['w1']), nodes: [{ name: 'w1', ready: 'False', since: 0 }] }), []);
    assert.deepEqual(decideAuto({ ...base, policies: [policy, { ...policy, schedule: 't' }], nodes: [{ name: 'w1', ready: 'False', since: 0 }] }), [policy]);
  });
});

(root ? describe : describe.skip)('migrate: REST, automatic mode, resume after a restart', function () {
  this.timeout(600_000);
  let w: TwoClouds;
  let dir: string;
  let stack: Stack | undefined;
  let env: Record<string, string>;
  const tokens = { admin: randomBytes(18).toString('base64url'), viewer: randomBytes(18).toString('base64url') };
  let data: string;

  const begin = async () => {
    stack = await startStack({ config: loadConfig({ env, cwd: dir, home: dir }), log: silentLogger, settings: { tackerPollMs: 300, readyPollMs: 50, resyncSeconds: 3600, backupPollMs: 200 } });
    return stack;
  };
  const api = async (method: string, path: string, body?: unknown, token: string = tokens.admin) => {
    const res = await fetch(stack!.url + path, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const text = await res.text();
    return { status: res.status, json: (text ? JSON.parse(text) : {}) as Record<string, unknown>, type: res.headers.get('content-type') ?? '' };
  };
  const migration = (name: string) => stack!.kube.get<KubeObject & { status?: Record<string, unknown> & { phase?: string; steps?: Array<{ name: string; state: string }> } }>({ apiVersion: 'backup.mixmesh.io/v1alpha1', kind: 'Migration', namespace: 'mixmesh-system', name });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-migrate-api-'));
    w = await startTwoClouds(dir);
    const cp = await instantiate(w.source, CONTROL_PLANE_VNFD_ID, 'source-cp');
    const addr = await joinWorker(w.source, cp.address, 'worker-1');
    await w.source.kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'cafe' } });
    await w.source.kube.create({
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'orders', namespace: 'cafe' },
      spec: { replicas: 1, selector: { matchLabels: { app: 'orders' } }, template: { metadata: { labels: { app: 'orders' } }, spec: { containers: [{ name: 'orders', image: 'busybox', command: ['sh', '-c', 'sleep 100000'], volumeMounts: [{ name: 'data', mountPath: '/data' }] }], volumes: [{ name: 'data', hostPath: { path: '/srv/orders' } }] } } },
    } as unknown as KubeObject);
    await until('orders Running', async () => (await w.source.kube.list<KubeObject & { status?: { phase?: string } }>('v1', 'Pod', { namespace: 'cafe' })).items.some((p) => p.status?.phase === 'Running'));
    const vm = w.source.sandbox.vms.list().find((v) => v.address === addr)!;
    mkdirSync(join(vm.rootfs, 'srv/orders'), { recursive: true });
    data = randomBytes(50_000).toString('base64');
    writeFileSync(join(vm.rootfs, 'srv/orders/orders.log'), data);

    // the orchestrator's configuration: tokens, store, keys, node SSH, the targets file
    const sha = (t: string) => createHash('sha256').update(t).digest('hex');
    writeFileSync(join(dir, 'tokens.yaml'), `- {name: admin, role: admin, sha256: ${sha(tokens.admin)}}\n- {name: viewer, role: viewer, sha256: ${sha(tokens.viewer)}}\n`);
    const keys = generateStoreKeys();
    mkdirSync(join(dir, 'keys'));
    writeFileSync(join(dir, 'keys/kek'), keys.kek.toString('base64'));
    writeFileSync(join(dir, 'keys/signing-key.pem'), keys.signingKeyPem);
    writeFileSync(join(dir, 'keys/public-key.pem'), keys.publicKeyPem);
    const t = w.target.sandbox.paths;
    writeFileSync(join(dir, 'targets.yaml'), [
      'targets:',
      '  - name: cloud-2',
      `    kubeconfig: ${t.kubeconfig}`,
      `    openstack: {cloudsYaml: ${t.cloudsYaml}, cloud: sandbox}`,
      `    worker: {vnfdId: ${WORKER_VNFD_ID}, flavourId: simple, user: root, privateKeyFile: ${t.sshKey}}`,
      `    controlPlane: {host: ${w.targetCp.address}, user: root, privateKeyFile: ${t.sshKey}, knownHostsFile: ${t.knownHosts}}`,
      '',
    ].join('\n'));
    env = {
      KUBECONFIG: w.source.sandbox.paths.kubeconfig, MIXMESH_TOKENS_FILE: join(dir, 'tokens.yaml'), OS_CLOUD: 'sandbox', OS_CLIENT_CONFIG_FILE: w.source.sandbox.paths.cloudsYaml,
      MIXMESH_LISTEN: '127.0.0.1:0', MIXMESH_INJECTOR_LISTEN: '127.0.0.1:0', MIXMESH_INJECTOR_TOKEN: randomBytes(18).toString('base64url'),
      MIXMESH_BACKUP_STORE: `file://${join(dir, 'store')}`, MIXMESH_BACKUP_KEYS: join(dir, 'keys'),
      MIXMESH_NODE_SSH_KEY: w.source.sandbox.paths.sshKey, MIXMESH_NODE_KNOWN_HOSTS: w.source.sandbox.paths.knownHosts,
      MIXMESH_MIGRATE_TARGETS: join(dir, 'targets.yaml'), MIXMESH_SIDECAR_ARTIFACTS: join(dir, 'artifacts'),
    };
    mkdirSync(join(dir, 'artifacts'));
    await begin();
    const b = await api('POST', '/v1/backups', { name: 'worker-1-a', node: 'worker-1' });
    assert.equal(b.status, 202, JSON.stringify(b.json));
    await until('backup Completed', async () => ['Completed', 'CompletedWithWarnings'].includes(String((await api('GET', '/v1/backups/worker-1-a')).json.phase)));
  });

  after(async () => {
    await stack?.stop();
    await w?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('REST: problem+json for an unknown target and bad input, viewer may plan but not start, --plan changes nothing', async () => {
    const unknown = await api('POST', '/v1/migrations', { node: 'worker-1', to: 'nowhere', plan: true }, tokens.viewer);
    assert.equal(unknown.status, 422);
    assert.match(unknown.type, /application\/problem\+json/);
    assert.equal(unknown.json.code, 'MIGRATE_TARGET_UNKNOWN');
    assert.equal((await api('POST', '/v1/migrations', { node: 'worker-1', service: 'a/b', to: 'cloud-2' })).json.code, 'BAD_REQUEST');
    assert.equal((await api('POST', '/v1/migrations', { name: 'UPPER', node: 'worker-1', to: 'cloud-2' })).status, 400);
    assert.equal((await api('POST', '/v1/migrations', { node: 'worker-1', to: 'cloud-2' }, tokens.viewer)).status, 403);
    assert.equal((await api('POST', '/v1/migrations', { node: 'worker-1', to: 'cloud-2' }, 'wrong')).status, 401);
    const plan = await api('POST', '/v1/migrations', { name: 'p1', node: 'worker-1', to: 'cloud-2', plan: true }, tokens.viewer);
    assert.equal(plan.status, 200, JSON.stringify(plan.json));
    assert.deepEqual(plan.json.problems, []);
    assert.equal(plan.json.backup, 'worker-1-a');
    assert.equal((await api('GET', '/v1/migrations')).json.items instanceof Array && ((await api('GET', '/v1/migrations')).json.items as unknown[]).length, 0, 'a plan makes no Migration');
    assert.equal((await w.target.os.tacker.listVnfInstances({ name: workerNames('p1').vnfInstanceName })).length, 0);
  });

  it('automatic: a node that comes back before `after` triggers no migration', async () => {
    const schedule = { apiVersion: 'backup.mixmesh.io/v1alpha1', kind: 'BackupSchedule', namespace: 'mixmesh-system', name: 'worker-1-flap' };
    await stack!.kube.create({ apiVersion: schedule.apiVersion, kind: schedule.kind, metadata: { name: schedule.name, namespace: schedule.namespace }, spec: { cron: '0 3 * * *', selection: { node: 'worker-1' }, migrationPolicy: { to: 'cloud-2', after: '20s' } } } as KubeObject);
    type N = KubeObject & { status?: { conditions?: Array<{ type: string; status: string; lastTransitionTime?: string }> } };
    const readyOf = async () => (await w.source.kube.get<N>({ apiVersion: 'v1', kind: 'Node', name: 'worker-1' }))?.status?.conditions?.find((c) => c.type === 'Ready');
    await w.source.sandbox.nodes.stopNode('worker-1');
    const down = await until('worker-1 NotReady', async () => { const c = await readyOf(); return c && c.status !== 'True' ? c : undefined; });
    // its pod is evicted and its replacement stays Pending (no room): the policy would fire after 20 s
    await until('a Pending replacement', async () => (await w.source.kube.list<KubeObject & { status?: { phase?: string } }>('v1', 'Pod', { namespace: 'cafe' })).items.some((p) => p.status?.phase === 'Pending'));
    await w.source.sandbox.nodes.startNode('worker-1');
    await until('worker-1 Ready again', async () => (await readyOf())?.status === 'True');
    // well past `after` since it went NotReady, the runner passing every 200 ms: no migration
    const since = Date.parse(down.lastTransitionTime ?? new Date().toISOString());
    await until('`after` passed', async () => Date.now() > since + 25_000, 120_000);
    assert.equal(await migration(autoName('worker-1')), undefined, 'a node that came back is not migrated');
    assert.deepEqual((await api('GET', '/v1/migrations')).json.items, []);
    await stack!.kube.delete(schedule);
    await until('orders Running again on worker-1', async () => (await w.source.kube.list<KubeObject & { spec?: { nodeName?: string }; status?: { phase?: string } }>('v1', 'Pod', { namespace: 'cafe' })).items.some((p) => p.spec?.nodeName === 'worker-1' && p.status?.phase === 'Running'));
  });

  it('automatic: the node stops, its pod stays Pending for lack of room → exactly one migration; stopped mid-way, the next orchestrator resumes it with one worker VNF', async () => {
    await stack!.kube.create({ apiVersion: 'backup.mixmesh.io/v1alpha1', kind: 'BackupSchedule', metadata: { name: 'worker-1-nightly', namespace: 'mixmesh-system' }, spec: { cron: '0 3 * * *', selection: { node: 'worker-1' }, migrationPolicy: { to: 'cloud-2', after: '2s' } } } as KubeObject);
    const name = autoName('worker-1');
    // while the node is Ready nothing happens
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await migration(name), undefined);
    await w.source.sandbox.nodes.stopNode('worker-1');
    await until('the automatic Migration', () => migration(name));
    // the orchestrator stops once the worker VNF is recorded; its successor resumes
    await until('the Worker step done', async () => (await migration(name))?.status?.steps?.some((s) => s.name === 'Worker' && s.state === 'Done'));
    await stack!.stop();
    stack = undefined;
    const mid = await w.source.kube.get<KubeObject & { status?: { phase?: string } }>({ apiVersion: 'backup.mixmesh.io/v1alpha1', kind: 'Migration', namespace: 'mixmesh-system', name });
    assert.equal(mid?.status?.phase, 'InProgress');
    await begin();
    const done = await until('the migration finished', async () => {
      const m = await migration(name);
      return ['Completed', 'CompletedWithWarnings', 'Failed'].includes(String(m?.status?.phase)) ? m : undefined;
    }, 300_000);
    assert.equal(done.status?.phase, 'Completed', JSON.stringify(done.status?.error));
    assert.ok(Number(done.status?.resumed) >= 1, 'recorded as resumed');
    assert.equal((await w.target.os.tacker.listVnfInstances({ name: workerNames(name).vnfInstanceName })).length, 1, 'one worker VNF, not two');
    // exactly one migration for the node, also after more runner passes
    await new Promise((r) => setTimeout(r, 1500));
    const items = (await api('GET', '/v1/migrations')).json.items as Array<{ name: string; node: string }>;
    assert.deepEqual(items.map((i) => i.node), ['worker-1']);
    // the data on the new node, the pod Running there
    const st = done.status as { worker: { address: string } };
    const vm = w.target.sandbox.vms.list().find((v) => v.address === st.worker.address)!;
    assert.equal(readFileSync(join(vm.rootfs, 'srv/orders/orders.log'), 'utf8'), data);
    const pods = (await w.target.kube.list<KubeObject & { spec?: { nodeName?: string }; status?: { phase?: string } }>('v1', 'Pod', { namespace: 'cafe' })).items;
    assert.deepEqual(pods.map((p) => [p.spec?.nodeName, p.status?.phase]), [[workerNames(name).nodeName, 'Running']]);
    // an Event per step, and the report through the CLI
    const events = (await api('GET', `/v1/migrations/${name}/events`)).json.items as Array<{ reason: string }>;
    for (const r of ['BackupDone', 'PreflightDone', 'WorkerDone', 'JoinStarted', 'JoinDone', 'RestoreDone', 'ReportDone', 'Completed']) assert.ok(events.some((e) => e.reason === r), `${r} in ${events.map((e) => e.reason).join(',')}`);
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => { text += c.toString(); });
    const rc = await runMigrateDescribe(name, { server: stack!.url, token: tokens.viewer }, { out, err: new PassThrough() });
    assert.equal(rc, 0);
    assert.match(text, new RegExp(`target node: ${workerNames(name).nodeName} \\(127\\.0\\.10\\.\\d+, VNF ${workerNames(name).vnfInstanceName.replace(/\./g, '\\.')}\\) Ready`));
    assert.match(text, /pinned to the new node: Deployment cafe\/orders/);
    assert.match(text, /Join {7}Done/);
  });
});
