/**
 * Migration through the orchestrator (`mixmesh serve`'s stack on the source cloud, a targets file
 * naming the second cloud): REST `/v1/migrations` (roles, problem+json, --plan), the automatic mode
 * (a node lost longer than `after` while its pods stay Pending for lack of room → exactly one
 * Migration), Kubernetes Events per step, `mixmesh migrate describe`. The orchestrator killed
 * (SIGKILL of a `mixmesh serve` process) mid-restore and mid-migration (in its Worker, Join and
 * Restore steps): a new process resumes each, no object twice, one worker VNF. The target's worker image has no CRIU (its runtime reports
 * containerd): the container whose state was captured is cold-started, recorded with its reason.
 */
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough } from 'node:stream';
import type { KubeObject } from '../clients/kube/index.js';
import { generateStoreKeys } from '../backup/index.js';
import { silentLogger } from '../common/logger.js';
import { loadConfig, startStack, type Stack } from '../orchestrator/index.js';
import { CONTROL_PLANE_VNFD_ID, WORKER_NOCRIU_VNFD_ID } from '../sandbox/index.js';
import { runMigrateDescribe } from '../cli/migrate.js';
import { autoName, decideAuto } from './service.js';
import { workerNames } from './engine.js';
import { faults, instantiate, joinWorker, startTwoClouds, until, type TwoClouds } from '../cli/two-clouds.js';

const root = process.getuid?.() === 0;
const repo = fileURLToPath(new URL('..', import.meta.url));

/** `mixmesh serve` (the built CLI) as its own process, so that a test can SIGKILL it */
interface Served { url: string; child: ChildProcess; stderr: () => string; kill(signal?: NodeJS.Signals): Promise<void> }
const children = new Set<Served>();

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}

async function spawnServe(env: Record<string, string>, cwd: string): Promise<Served> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(repo, 'dist/cli/bin.js'), 'serve'], {
    cwd, env: { PATH: process.env.PATH ?? '', HOME: cwd, ...env, MIXMESH_LISTEN: `127.0.0.1:${port}`, MIXMESH_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-20_000); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const served: Served = {
    url: `http://127.0.0.1:${port}`, child, stderr: () => stderr,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
      children.delete(served);
    },
  };
  children.add(served);
  await until('mixmesh serve ready', async () => {
    if (child.exitCode !== null) throw new Error(`mixmesh serve exited ${child.exitCode}: ${stderr}`);
    return fetch(`${served.url}/readyz`).then((r) => r.status === 200, () => false);
  }, 120_000).catch((e: unknown) => { throw new Error(`${e instanceof Error ? e.message : String(e)}: ${stderr}`); });
  return served;
}

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
  let served: Served | undefined;
  let env: Record<string, string>;
  let workerVm: { rootfs: string };
  const tokens = { admin: randomBytes(18).toString('base64url'), viewer: randomBytes(18).toString('base64url') };
  let data: string;

  const begin = async () => {
    stack = await startStack({ config: loadConfig({ env, cwd: dir, home: dir }), log: silentLogger, settings: { tackerPollMs: 300, readyPollMs: 50, resyncSeconds: 3600, backupPollMs: 200 } });
    return stack;
  };
  // the API of whichever orchestrator runs now: the in-process stack or a `mixmesh serve` process
  const base = () => served?.url ?? stack!.url;
  const api = async (method: string, path: string, body?: unknown, token: string = tokens.admin) => {
    const res = await fetch(base() + path, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const text = await res.text();
    return { status: res.status, json: (text ? JSON.parse(text) : {}) as Record<string, unknown>, type: res.headers.get('content-type') ?? '' };
  };
  const migration = (name: string) => w.source.kube.get<KubeObject & { status?: Record<string, unknown> & { phase?: string; steps?: Array<{ name: string; state: string }> } }>({ apiVersion: 'backup.mixmesh.io/v1alpha1', kind: 'Migration', namespace: 'mixmesh-system', name });

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
    // a process with in-memory state (kubelet checkpoint): its state file survives only through the checkpoint
    await w.source.kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'state' } });
    await w.source.kube.create({
      apiVersion: 'v1', kind: 'Pod',
      metadata: {
        name: 'counter', namespace: 'state',
        annotations: {
          'backup.mixmesh.io/state': 'checkpoint',
          // a restore hook that holds while its node has /var/lib/counter/hold (the killed-restore test's fixed point)
          'post.hook.restore.mixmesh.io/command': JSON.stringify(['sh', '-c', 'if [ -e /var/lib/counter/hold ]; then touch /var/lib/counter/holding; while [ ! -e /var/lib/counter/go ]; do sleep 0.1; done; fi']),
        },
      },
      spec: { nodeSelector: { 'kubernetes.io/hostname': 'worker-1' }, containers: [{ name: 'c', image: 'busybox:1.36', command: ['sh', '-c', 'mkdir -p /var/lib/counter; n=$(cat /var/lib/counter/n 2>/dev/null || echo 0); echo $n > /var/lib/counter/started-from; while true; do n=$((n+1)); echo $n > /var/lib/counter/n.tmp; mv /var/lib/counter/n.tmp /var/lib/counter/n; sleep 0.1; done'], env: [{ name: 'SANDBOX_CRIU_STATE_FILE', value: '/var/lib/counter/n' }] }] },
    } as unknown as KubeObject);
    const vm = w.source.sandbox.vms.list().find((v) => v.address === addr)!;
    workerVm = vm;
    await until('the counter counting', async () => Number(readFileSync(join(vm.rootfs, 'var/lib/counter/n'), 'utf8').trim()) >= 5);
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
      // the target's worker image has no CRIU: its runtime (containerd) cannot restore a checkpoint
      `    worker: {vnfdId: ${WORKER_NOCRIU_VNFD_ID}, flavourId: simple, user: root, privateKeyFile: ${t.sshKey}}`,
      `    controlPlane: {host: ${w.targetCp.address}, user: root, privateKeyFile: ${t.sshKey}, knownHostsFile: ${t.knownHosts}}`,
      '',
    ].join('\n'));
    env = {
      KUBECONFIG: w.source.sandbox.paths.kubeconfig, MIXMESH_TOKENS_FILE: join(dir, 'tokens.yaml'), OS_CLOUD: 'sandbox', OS_CLIENT_CONFIG_FILE: w.source.sandbox.paths.cloudsYaml,
      MIXMESH_LISTEN: '127.0.0.1:0', MIXMESH_INJECTOR_LISTEN: '127.0.0.1:0', MIXMESH_INJECTOR_TOKEN: randomBytes(18).toString('base64url'),
      MIXMESH_BACKUP_STORE: `file://${join(dir, 'store')}`, MIXMESH_BACKUP_KEYS: join(dir, 'keys'),
      MIXMESH_NODE_SSH_KEY: w.source.sandbox.paths.sshKey, MIXMESH_NODE_KNOWN_HOSTS: w.source.sandbox.paths.knownHosts,
      MIXMESH_MIGRATE_TARGETS: join(dir, 'targets.yaml'), MIXMESH_SIDECAR_ARTIFACTS: join(dir, 'artifacts'),
      // a killed process's Lease runs out in 4 s (not 15): its successor leads sooner
      MIXMESH_LEASE_DURATION_SECONDS: '4',
    };
    mkdirSync(join(dir, 'artifacts'));
    await begin();
    const b = await api('POST', '/v1/backups', { name: 'worker-1-a', node: 'worker-1' });
    assert.equal(b.status, 202, JSON.stringify(b.json));
    const backedUp = await until('backup done', async () => { const g = await api('GET', '/v1/backups/worker-1-a'); return ['Completed', 'CompletedWithWarnings', 'Failed'].includes(String(g.json.phase)) ? g.json : undefined; });
    assert.equal(backedUp.phase, 'Completed', JSON.stringify(backedUp));
  });

  // a test that fails leaves no `mixmesh serve` behind
  afterEach(async () => {
    for (const c of [...children]) await c.kill();
    served = undefined;
  });

  after(async () => {
    for (const c of [...children]) await c.kill();
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

  it('the orchestrator killed (SIGKILL) mid-restore, while it runs the restore hook: a new process resumes it to Completed, no object twice', async () => {
    // this test's orchestrators are `mixmesh serve` processes
    await stack!.stop();
    stack = undefined;
    // the counter's restore hook holds while /var/lib/counter/hold exists on its node: the restore is there once `holding` appears
    const flag = (f: string) => join(workerVm.rootfs, 'var/lib/counter', f);
    writeFileSync(flag('hold'), '');
    const restoreRef = { apiVersion: 'backup.mixmesh.io/v1alpha1', kind: 'Restore', namespace: 'mixmesh-system', name: 'killed-1' };
    try {
      served = await spawnServe(env, dir);
      const r = await api('POST', '/v1/restores', { name: 'killed-1', backup: 'worker-1-a', mappings: { namespaces: { cafe: 'cafe2', state: 'state2' } } });
      assert.equal(r.status, 202, JSON.stringify(r.json));
      await until('the restore running its hook', async () => existsSync(flag('holding')), 180_000);
      await served.kill('SIGKILL');
      served = undefined;
      // what the dead one left: the Restore InProgress, its objects made (labelled with it)
      const mid = await w.source.kube.get<KubeObject & { status?: { phase?: string } }>(restoreRef);
      assert.equal(mid?.status?.phase, 'InProgress');
      assert.equal((await w.source.kube.get({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'cafe2', name: 'orders' }))?.metadata.labels?.['backup.mixmesh.io/restore'], 'killed-1');
    } finally {
      // the held hook of the dead run ends; the resumed run's hook does not hold
      rmSync(flag('hold'), { force: true });
      writeFileSync(flag('go'), '');
    }
    // a new process: it leads once the dead one's Lease expires, and resumes the restore
    served = await spawnServe(env, dir);
    const done = await until('the resumed restore finished', async () => {
      const g = await api('GET', '/v1/restores/killed-1');
      return ['Completed', 'CompletedWithWarnings', 'Failed'].includes(String(g.json.phase)) ? g.json : undefined;
    }, 300_000);
    assert.equal(done.phase, 'Completed', JSON.stringify(done.status));
    const st = done.status as { resumed?: number; items: Array<{ kind: string; namespace?: string; name: string; action: string; reason?: string }>; state: Array<{ owner: string; action: string; reason?: string }>; hooks: Array<{ owner: string; phase: string; result: string }> };
    assert.equal(st.resumed, 1);
    // what the dead run made is recognised as its own (RESUMED): nothing is made twice
    assert.deepEqual(st.items.filter((i) => i.action === 'created').map((i) => `${i.kind} ${i.namespace ? `${i.namespace}/` : ''}${i.name} ${i.reason}`).sort(), ['Deployment cafe2/orders RESUMED', 'Namespace cafe2 RESUMED', 'Namespace state2 RESUMED', 'Pod state2/counter RESUMED']);
    assert.deepEqual(st.state.map((x) => [x.owner, x.action, x.reason]), [['state/counter', 'restored', 'FROM_CHECKPOINT']]);
    assert.deepEqual(st.hooks.map((h) => [h.owner, h.phase, h.result]), [['state2/counter', 'restorePost', 'ran']]);
    const pods = async (ns: string) => (await w.source.kube.list<KubeObject & { status?: { phase?: string } }>('v1', 'Pod', { namespace: ns })).items;
    await until('the restored pods Running', async () => (await pods('cafe2'))[0]?.status?.phase === 'Running' && (await pods('state2'))[0]?.status?.phase === 'Running');
    assert.equal((await pods('cafe2')).length, 1);
    assert.equal((await pods('state2')).length, 1);
    assert.equal((await w.source.kube.list('apps/v1', 'ReplicaSet', { namespace: 'cafe2' })).items.length, 1);
    assert.equal(readFileSync(join(workerVm.rootfs, 'srv/orders/orders.log'), 'utf8'), data, 'the node data whole');
    // the next tests run with the in-process orchestrator again (a graceful stop hands the Lease over)
    for (const ns of ['cafe2', 'state2']) await w.source.kube.delete({ apiVersion: 'v1', kind: 'Namespace', name: ns });
    await served.kill('SIGTERM');
    served = undefined;
    for (const f of ['holding', 'go']) rmSync(flag(f), { force: true });
    await begin();
  });

  it('automatic: a node that comes back before `after` triggers no migration', async () => {
    const schedule = { apiVersion: 'backup.mixmesh.io/v1alpha1', kind: 'BackupSchedule', namespace: 'mixmesh-system', name: 'worker-1-flap' };
    await w.source.kube.create({ apiVersion: schedule.apiVersion, kind: schedule.kind, metadata: { name: schedule.name, namespace: schedule.namespace }, spec: { cron: '0 3 * * *', selection: { node: 'worker-1' }, migrationPolicy: { to: 'cloud-2', after: '20s' } } } as KubeObject);
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
    await w.source.kube.delete(schedule);
    await until('orders Running again on worker-1', async () => (await w.source.kube.list<KubeObject & { spec?: { nodeName?: string }; status?: { phase?: string } }>('v1', 'Pod', { namespace: 'cafe' })).items.some((p) => p.spec?.nodeName === 'worker-1' && p.status?.phase === 'Running'));
  });

  it('automatic: the node stops, its pod stays Pending for lack of room → exactly one migration; the orchestrator killed (SIGKILL) while the target\'s Tacker makes the worker, in the Join step and in the Restore step, new processes resume it: one worker VNF, no token left, no object twice; the stateful container cold-started with its reason', async () => {
    // a `mixmesh serve` process runs the migration (the in-process orchestrator hands the Lease over)
    await stack!.stop();
    stack = undefined;
    served = await spawnServe(env, dir);
    await w.source.kube.create({ apiVersion: 'backup.mixmesh.io/v1alpha1', kind: 'BackupSchedule', metadata: { name: 'worker-1-nightly', namespace: 'mixmesh-system' }, spec: { cron: '0 3 * * *', selection: { node: 'worker-1' }, migrationPolicy: { to: 'cloud-2', after: '2s' } } } as KubeObject);
    const name = autoName('worker-1');
    // while the node is Ready nothing happens
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await migration(name), undefined);
    // the target's Tacker takes its time over the worker: the kill lands while it instantiates
    await faults(w.target, { delay: { operation: 'INSTANTIATE', ms: 12_000 } });
    let opId: string;
    try {
      await w.source.sandbox.nodes.stopNode('worker-1');
      await until('the automatic Migration', () => migration(name));
      // killed, no goodbye, once the worker VNF exists and its instantiate is requested (recorded)
      type W = { vnfInstanceId?: string; opId?: string };
      const worker = await until('the worker instantiate requested', async () => { const x = (await migration(name))?.status?.worker as W | undefined; return x?.opId ? x : undefined; }, 120_000);
      opId = worker.opId!;
      await served.kill('SIGKILL');
      served = undefined;
    } finally {
      await faults(w.target, null);
    }
    const mid = await migration(name);
    assert.equal(mid?.status?.phase, 'InProgress');
    assert.equal(mid?.status?.step, 'Worker');
    // a new process: it leads once the dead one's Lease expires, and resumes
    // killed again in the Join step, once its join token is made (recorded) while `kubeadm join` runs on the new VM (held by the target's API server)
    w.target.sandbox.kube.setFaults({ neverReady: [], holdJoin: true });
    try {
      served = await spawnServe(env, dir);
      await until('the join token recorded', async () => (((await migration(name))?.status as { tokenId?: string | null } | undefined)?.tokenId), 300_000);
      await served.kill('SIGKILL');
      served = undefined;
    } finally {
      w.target.sandbox.kube.setFaults({ neverReady: [] });
    }
    const atJoin = await migration(name);
    assert.deepEqual([atJoin?.status?.phase, atJoin?.status?.step], ['InProgress', 'Join']);
    served = await spawnServe(env, dir);
    // killed once more, in the Restore step: while the restored counter's restore hook holds on the new worker
    const address = await until('the worker recorded', async () => (((await migration(name))?.status?.worker as { address?: string } | undefined)?.address));
    const newVm = w.target.sandbox.vms.list().find((v) => v.address === address)!;
    const flag = (f: string) => join(newVm.rootfs, 'var/lib/counter', f);
    mkdirSync(join(newVm.rootfs, 'var/lib/counter'), { recursive: true });
    writeFileSync(flag('hold'), '');
    try {
      await until('the migration\'s restore running its hook', async () => existsSync(flag('holding')), 300_000);
      await served.kill('SIGKILL');
      served = undefined;
    } finally {
      rmSync(flag('hold'), { force: true });
      writeFileSync(flag('go'), '');
    }
    const mid2 = await migration(name);
    assert.deepEqual([mid2?.status?.phase, mid2?.status?.step], ['InProgress', 'Restore']);
    served = await spawnServe(env, dir);
    const done = await until('the migration finished', async () => {
      const m = await migration(name);
      return ['Completed', 'CompletedWithWarnings', 'Failed'].includes(String(m?.status?.phase)) ? m : undefined;
    }, 300_000);
    // a cold start (below) makes it CompletedWithWarnings
    assert.equal(done.status?.phase, 'CompletedWithWarnings', JSON.stringify(done.status?.error));
    assert.equal((done.status?.worker as { opId?: string }).opId, opId, 'the resumed run waited for the same instantiate');
    assert.equal(done.status?.resumed, 3, 'recorded as resumed three times');
    // the join token of the killed run is not left behind
    assert.deepEqual((await w.target.kube.list('v1', 'Secret', { namespace: 'kube-system', fieldSelector: 'type=bootstrap.kubernetes.io/token' })).items.map((x) => x.metadata.name), []);
    assert.equal((await w.target.os.tacker.listVnfInstances({ name: workerNames(name).vnfInstanceName })).length, 1, 'one worker VNF, not two');
    // the restore inside it resumed too: its objects made once
    const restoreState = done.status?.restore as { counts?: Record<string, number> } | undefined;
    assert.equal(restoreState?.counts?.failed, undefined, JSON.stringify(restoreState));
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
    const rc = await runMigrateDescribe(name, { server: base(), token: tokens.viewer }, { out, err: new PassThrough() });
    assert.equal(rc, 0);
    assert.match(text, new RegExp(`target node: ${workerNames(name).nodeName} \\(127\\.0\\.10\\.\\d+, VNF ${workerNames(name).vnfInstanceName.replace(/\./g, '\\.')}\\) Ready`));
    assert.match(text, /pinned to the new node: Deployment cafe\/orders/);
    assert.match(text, /Join {7}Done/);
    assert.match(text, /resumed 3×/);
    // the counter's state was captured, but the new node's runtime (containerd) cannot restore it: a cold start, and why
    const report = (done.status as { report: { coldStarts: Array<{ owner: string; code?: string; reason: string }>; stateRestored?: unknown[] } }).report;
    assert.deepEqual(report.coldStarts.map((c) => [c.owner, c.code]), [['state/counter/c', 'RESTORE_UNSUPPORTED']]);
    assert.deepEqual(report.stateRestored, []);
    assert.match(text, new RegExp(`cold start: state/counter/c: RESTORE_UNSUPPORTED: the runtime of node ${workerNames(name).nodeName} \\(containerd://[^)]+\\) cannot restore a checkpoint`));
    assert.equal((await w.target.kube.list('v1', 'Pod', { namespace: 'state' })).items.length, 1, 'one counter pod');
    const counterPod = await w.target.kube.get<KubeObject & { spec?: { nodeName?: string; containers?: Array<{ image?: string }> }; status?: { phase?: string } }>({ apiVersion: 'v1', kind: 'Pod', namespace: 'state', name: 'counter' });
    assert.deepEqual([counterPod?.spec?.nodeName, counterPod?.status?.phase, counterPod?.spec?.containers?.[0]?.image], [workerNames(name).nodeName, 'Running', 'busybox:1.36']);
    const from = await until('the cold-started counter', async () => { try { return { v: readFileSync(join(vm.rootfs, 'var/lib/counter/started-from'), 'utf8').trim() }; } catch { return undefined; } });
    assert.equal(from.v, '0', 'started from its image, without its state');
  });
});
