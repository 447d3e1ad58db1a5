/**
 * The install manifests' RBAC against what mixmesh really asks for. The roles and bindings of
 * `mixmesh install` are applied to the sandbox's Kubernetes API, and an orchestrator (with its
 * in-process injector, leader election, the admission webhook, backup, migration and the gateway)
 * runs with a token of its ServiceAccount: the emulator authenticates it and authorizes every
 * request against those roles as the real API server does (sandbox/kube/rbac.ts), so a permission
 * the code needs and the roles lack fails the run. Every request of the ServiceAccount is recorded
 * (verb, API group, resource/subresource, namespace) and compared with the roles both ways: nothing
 * used is missing, nothing granted goes unused. The run: the IoT café with VMs, a connections
 * change, a container-only service in a namespace mixmesh creates; a backup of that service and of
 * a node (hostPath and local-PV data over SSH), a restore plan, a restore of each into another
 * namespace (the café with its VMs made again there), a schedule, backup deletion; a migration of the node (refused by the target's
 * preflight) and the automatic mode's watch; the gateway registering a Kubernetes cluster, a
 * service on it, scaled and deleted, the cluster forgotten; everything torn down. The fixtures
 * are made with the admin token, which is not recorded against the roles.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { KubeObject } from '../../clients/kube/index.js';
import {
  BACKUP_CLUSTER_RULES, BACKUP_NAMESPACE_RULES, GATEWAY_CLUSTER_RULES, GATEWAY_NAMESPACE_RULES, INJECTOR_CLUSTER_RULES, ORCHESTRATOR_CLUSTER_RULES, ORCHESTRATOR_NAMESPACE_RULES, rbacObjects,
} from '../../deploy/manifests.js';
import { gatewayExtension, loadGatewayConfig } from '../../gateway/index.js';
import type { Stack } from '../../orchestrator/index.js';
import { startWorld, type World } from './world.js';

const CAFE = readFileSync(new URL('../../examples/iot-cafe/descriptor.yaml', import.meta.url), 'utf8');
const MINIMAL = readFileSync(new URL('../../examples/minimal/descriptor.yaml', import.meta.url), 'utf8');

interface Access { verb: string; group: string; resource: string; namespace?: string; user?: string; denied?: boolean }
type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };

const SYSTEM = 'rbac-system';
const GATEWAY = 'mixmesh-gateway';
const SA = `system:serviceaccount:${SYSTEM}:mixmesh-orchestrator`;
/** granted, but not reachable in an end-to-end run: the webhook certificate's rotation, 30 days before it expires */
const NOT_EXERCISED = new Set(['system update /secrets']);

const grants = (rules: readonly Rule[]): Set<string> => new Set(rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${v} ${g}/${res}`)))));

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 50; ; delay = Math.min(delay * 2, 500)) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

describe('e2e: RBAC of the install manifests = what mixmesh uses', function () {
  this.timeout(600_000);
  let w: World;
  let stack: Stack;

  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown>; text: string }> => {
    const text = typeof body === 'string' ? body : body === undefined ? undefined : JSON.stringify(body);
    const type = typeof body === 'string' ? 'application/yaml' : 'application/json';
    const res = await w.fetch(stack.url + path, { method, headers: { authorization: `Bearer ${w.tokens.admin}`, ...(text !== undefined ? { 'content-type': type } : {}) }, ...(text !== undefined ? { body: text } : {}) });
    const out = await res.text();
    let json: Record<string, unknown> = {};
    try { json = JSON.parse(out) as Record<string, unknown>; } catch { /* not JSON */ }
    return { status: res.status, json, text: out };
  };
  const settle = async (operationId: string): Promise<string> => until(`operation ${operationId}`, async () => {
    const r = await api('GET', `/v1/operations/${operationId}`);
    return ['Succeeded', 'Failed', 'RolledBack'].includes(String(r.json.state)) ? String(r.json.state) : undefined;
  });
  const gone = async (path: string): Promise<void> => { await until(`${path} gone`, async () => (await api('GET', path)).status === 404); };
  const finished = async (path: string): Promise<Record<string, unknown>> => until(`${path} finished`, async () => {
    const r = await api('GET', path);
    return ['Completed', 'CompletedWithWarnings', 'Failed'].includes(String(r.json.phase)) ? r.json : undefined;
  });
  const gatewayOp = async (operationId: string): Promise<string> => until(`gateway operation ${operationId}`, async () => {
    const r = await api('GET', `/v1/gateway/operations/${operationId}`);
    return ['Succeeded', 'Failed'].includes(String(r.json.state)) ? String(r.json.state) : undefined;
  });

  before(async () => {
    w = await startWorld();
    const kube = w.stack.kube;
    // the café's VM key, also where its backup is restored (a service backup does not carry the VMs' SSH Secret)
    for (const ns of ['cafe', 'cafe-restored']) {
      await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }).catch(() => undefined);
      await kube.create({ apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/ssh-auth', metadata: { name: 'vm-ssh', namespace: ns }, data: { 'ssh-privatekey': Buffer.from(w.sandbox.sshPrivateKey).toString('base64') } });
    }
    // a worker node: a sandbox VM registered as a Node, a pod on it with hostPath and local-PV data
    const worker = await w.sandbox.vms.create({ serverId: '00000000-0000-4000-8000-0000000000b1', name: 'worker-1' });
    await kube.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'worker-1', labels: { 'kubernetes.io/hostname': 'worker-1' } } } as KubeObject);
    await kube.mergePatch({ apiVersion: 'v1', kind: 'Node', name: 'worker-1' }, { status: { addresses: [{ type: 'InternalIP', address: worker.address }] } }, { subresource: 'status' });
    for (const d of ['data/cache', 'mnt/disks/ssd1']) {
      mkdirSync(join(worker.rootfs, d), { recursive: true });
      writeFileSync(join(worker.rootfs, d, 'file.bin'), `${d}\n`);
    }
    await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
    await kube.create({ apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: 'ssd1' }, spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], storageClassName: 'local-storage', local: { path: '/mnt/disks/ssd1' }, nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['worker-1'] }] }] } }, claimRef: { namespace: 'shop', name: 'ssd' } } } as KubeObject);
    await kube.create({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'ssd', namespace: 'shop' }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'local-storage', volumeName: 'ssd1', resources: { requests: { storage: '1Gi' } } } } as KubeObject);
    await kube.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cache-config', namespace: 'shop' }, data: { mode: 'lru' } } as KubeObject);
    await kube.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cache-auth', namespace: 'shop' }, data: { password: Buffer.from('s3cret').toString('base64') } } as KubeObject);
    await kube.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'cache', namespace: 'shop', labels: { app: 'cache' } }, spec: { nodeName: 'worker-1', containers: [{ name: 'cache', image: 'registry.example/cache:2', envFrom: [{ configMapRef: { name: 'cache-config' } }, { secretRef: { name: 'cache-auth' } }] }], volumes: [{ name: 'data', hostPath: { path: '/data/cache' } }, { name: 'ssd', persistentVolumeClaim: { claimName: 'ssd' } }] } } as KubeObject);
    await kube.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'cache', namespace: 'shop' }, spec: { selector: { app: 'cache' }, ports: [{ port: 6379 }] } } as KubeObject);

    // the roles and bindings exactly as `mixmesh install` prints them; the injector runs in-process
    // here, so its ClusterRole is bound to the orchestrator's ServiceAccount as well
    await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: SYSTEM } });
    await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: GATEWAY } });
    for (const sa of ['mixmesh-orchestrator', 'mixmesh-injector']) await kube.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa, namespace: SYSTEM } });
    for (const o of rbacObjects({ namespace: SYSTEM, gatewayNamespace: GATEWAY })) await kube.create(o as KubeObject);
    await kube.create({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'rbac-test-injector-in-process' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'mixmesh-injector' }, subjects: [{ kind: 'ServiceAccount', name: 'mixmesh-orchestrator', namespace: SYSTEM }] } as KubeObject);
    const { token } = await kube.createToken(SYSTEM, 'mixmesh-orchestrator', [], 7200);
    const kubeconfig = parse(readFileSync(w.sandbox.paths.kubeconfig, 'utf8')) as { users: Array<{ user: Record<string, unknown> }> };
    for (const u of kubeconfig.users) u.user = { token };
    writeFileSync(join(w.dir, 'orchestrator.kubeconfig'), stringify(kubeconfig), { mode: 0o600 });

    // migration's target: the same sandbox as another cloud, through its admin kubeconfig, whose
    // worker package does not exist (the preflight refuses before any VM is made)
    writeFileSync(join(w.dir, 'targets.yaml'), stringify({
      targets: [{
        name: 'cloud-2', kubeconfig: w.sandbox.paths.kubeconfig, openstack: { cloudsYaml: w.sandbox.paths.cloudsYaml, cloud: 'sandbox' },
        worker: { vnfdId: '00000000-dead-4000-8000-000000000000', flavourId: 'simple', user: 'root', privateKeyFile: w.sandbox.paths.sshKey },
        controlPlane: { host: worker.address, user: 'root', privateKeyFile: w.sandbox.paths.sshKey, knownHostsFile: join(w.dir, 'known_hosts') },
      }],
    }));
    writeFileSync(join(w.dir, 'known_hosts'), w.sandbox.vms.list().map((v) => `${v.address} ${v.hostPublicKey}`).join('\n') + '\n');
    await kube.create({ apiVersion: 'backup.mixmesh.io/v1alpha1', kind: 'BackupStore', metadata: { name: 'second', namespace: SYSTEM }, spec: { url: `file://${join(w.dir, 'backups-2')}` } } as KubeObject);
    // the automatic mode watches nodes when a schedule has a migration policy (kubectl-applied)
    await kube.create({ apiVersion: 'backup.mixmesh.io/v1alpha1', kind: 'BackupSchedule', metadata: { name: 'worker-1-nightly', namespace: SYSTEM }, spec: { cron: '0 3 * * *', selection: { node: 'worker-1' }, migrationPolicy: { to: 'cloud-2', after: '24h' } } } as KubeObject);

    // from here on mixmesh talks to the API server with its ServiceAccount's token only
    await w.stack.stop();
    await w.resetKubeRequests();
    stack = await w.another({
      KUBECONFIG: join(w.dir, 'orchestrator.kubeconfig'), MIXMESH_WEBHOOK_LISTEN: '127.0.0.1:0', MIXMESH_SYSTEM_NAMESPACE: SYSTEM,
      MIXMESH_BACKUP_STORE: `file://${join(w.dir, 'backups')}`, MIXMESH_NODE_SSH_KEY: w.sandbox.paths.sshKey, MIXMESH_NODE_KNOWN_HOSTS: join(w.dir, 'known_hosts'),
      MIXMESH_MIGRATE_TARGETS: join(w.dir, 'targets.yaml'),
    }, { extensions: [gatewayExtension(loadGatewayConfig(undefined, {}))], settings: { backupPollMs: 200 } });
  });
  after(async () => { await w?.stop(); });

  it('an end-to-end run asks for exactly what the roles grant', async () => {
    // what kubelet's probes and a watching user do
    assert.equal((await w.fetch(`${stack.url}/readyz`)).status, 200);
    const cafe = await api('PUT', '/v1/services/cafe/iot-cafe', CAFE);
    assert.equal(cafe.status, 202, cafe.text);
    assert.equal(await settle(String(cafe.json.operationId)), 'Succeeded');
    const spec = (parse(CAFE) as { spec: { connections: Record<string, unknown>[] } }).spec;
    const change = await api('PUT', '/v1/services/cafe/iot-cafe/connections', { connections: spec.connections.map((c) => (c.from === 'kiosk-ui' ? { ...c, timeout: '9s' } : c)) });
    assert.equal(change.status, 202, change.text);
    assert.equal(await settle(String(change.json.operationId)), 'Succeeded');
    const fresh = await api('PUT', '/v1/services/rbac-fresh/hello', MINIMAL);
    assert.equal(fresh.status, 202, fresh.text);
    assert.equal(await settle(String(fresh.json.operationId)), 'Succeeded');
    const events = await api('GET', '/v1/services/cafe/iot-cafe/events');
    assert.equal(events.status, 200);
    const watching = new AbortController();
    const stream = await w.fetch(`${stack.url}/v1/services/cafe/iot-cafe/events?watch=true`, { headers: { authorization: `Bearer ${w.tokens.admin}` }, signal: watching.signal });
    await stream.body!.getReader().read(); // the first event: the watch is established
    watching.abort();

    // backup: a service and a node; a plan; both restored into other namespaces; a schedule; a deletion
    // (the service's backup goes to a store named by a BackupStore resource)
    for (const [name, body] of [['svc-1', { service: 'cafe/iot-cafe', store: 'second' }], ['node-1', { node: 'worker-1' }]] as const) {
      const b = await api('POST', '/v1/backups', { name, ...body });
      assert.equal(b.status, 202, b.text);
      const done = await finished(`/v1/backups/${name}`);
      // (the service's pods run on the sandbox's own node, which has no SSH: their emptyDirs are warnings)
      assert.ok(['Completed', 'CompletedWithWarnings'].includes(String(done.phase)), JSON.stringify(done));
      assert.deepEqual(((done.manifest as { items: Array<{ result: string; name: string }> }).items).filter((i) => i.result !== 'captured').map((i) => i.name), []);
    }
    assert.equal((await api('GET', '/v1/backups')).status, 200);
    const plan = await api('POST', '/v1/restores', { name: 'plan-1', backup: 'node-1', plan: true, mappings: { namespaces: { shop: 'shop2' } } });
    assert.equal(plan.status, 200, plan.text);
    assert.deepEqual(plan.json.problems, []);
    for (const [name, backup, map, store] of [['r-node', 'node-1', { shop: 'shop2' }, undefined], ['r-svc', 'svc-1', { cafe: 'cafe-restored' }, 'second']] as const) {
      const r = await api('POST', '/v1/restores', { name, backup, mappings: { namespaces: map }, ...(store ? { store } : {}) });
      assert.equal(r.status, 202, r.text);
      const done = await finished(`/v1/restores/${name}`);
      assert.equal(done.phase, 'Completed', JSON.stringify(done));
    }
    let last = '';
    await until('the restored service Ready', async () => {
      const s = await api('GET', '/v1/services/cafe-restored/iot-cafe');
      last = s.text;
      return (s.json.status as { phase?: string } | undefined)?.phase === 'Ready';
    }).catch((e: Error) => { throw new Error(`${e.message}: ${last}`); });
    const sched = await api('POST', '/v1/schedules', { name: 'hourly', service: 'cafe/iot-cafe', cron: '0 * * * *', keep: 2 });
    assert.equal(sched.status, 201, sched.text);
    assert.equal((await api('GET', '/v1/schedules')).status, 200);
    assert.equal((await api('DELETE', '/v1/schedules/hourly')).status, 200);
    // cancelling what already finished changes nothing but is asked for all the same
    assert.equal((await api('POST', '/v1/restores/r-node/cancel')).status, 202);
    assert.equal((await api('POST', '/v1/backups/svc-1/cancel')).status, 202);
    assert.equal((await api('DELETE', '/v1/backups/svc-1')).status, 200);

    // migration: the node to cloud-2, whose preflight refuses it (nothing made there)
    const m = await api('POST', '/v1/migrations', { name: 'mig-1', node: 'worker-1', to: 'cloud-2' });
    assert.equal(m.status, 202, m.text);
    const mig = await finished('/v1/migrations/mig-1');
    assert.equal(mig.phase, 'Failed', JSON.stringify(mig));
    assert.equal((mig.status as { error?: { code?: string } } | undefined)?.error?.code, 'MIGRATE_PREFLIGHT_FAILED', JSON.stringify(mig));
    assert.equal((await api('GET', '/v1/migrations')).status, 200);
    assert.equal((await api('GET', '/v1/migrations/mig-1/events')).status, 200);

    // the gateway: this very cluster registered (its own kubeconfig), a service on it, scaled, deleted, forgotten
    const reg = await api('POST', '/v1/gateway/clusters', { name: 'kube', orchestrator: 'kubernetes', register: { kubeconfig: readFileSync(w.sandbox.paths.kubeconfig, 'utf8') } });
    assert.equal(reg.status, 202, reg.text);
    assert.equal(await gatewayOp(String(reg.json.operationId)), 'Succeeded');
    assert.equal((await api('GET', '/v1/gateway/clusters/kube')).json.phase, 'Ready');
    const svc = await api('POST', '/v1/gateway/clusters/kube/services', { name: 'web', template: 'web', parameters: { replicas: 1 } });
    assert.equal(svc.status, 201, svc.text);
    assert.equal((await api('PATCH', '/v1/gateway/clusters/kube/services/web', { replicas: 2 })).status, 200);
    assert.equal((await api('GET', '/v1/gateway/clusters/kube/services')).status, 200);
    assert.equal((await api('GET', '/v1/gateway/clusters/kube/events')).status, 200);
    const delSvc = await api('DELETE', '/v1/gateway/clusters/kube/services/web');
    assert.ok(delSvc.status < 300, delSvc.text);
    const forget = await api('DELETE', '/v1/gateway/clusters/kube');
    assert.equal(await gatewayOp(String(forget.json.operationId)), 'Succeeded');

    for (const path of ['/v1/services/cafe/iot-cafe', '/v1/services/rbac-fresh/hello', '/v1/services/cafe-restored/iot-cafe']) {
      assert.equal((await api('DELETE', path)).status, 202);
      await gone(path);
    }
    await stack.stop();

    const access = ((await w.kubeRequests()) as unknown as { access: Access[] }).access.filter((a) => a.user === SA);
    assert.deepEqual(access.filter((a) => a.denied).map((a) => `${a.verb} ${a.group}/${a.resource} ${a.namespace ?? ''}`), [], 'requests RBAC refused');
    const scopes = [
      { scope: 'cluster', grants: grants([...ORCHESTRATOR_CLUSTER_RULES, ...INJECTOR_CLUSTER_RULES, ...BACKUP_CLUSTER_RULES, ...GATEWAY_CLUSTER_RULES] as Rule[]) },
      { scope: 'system', namespace: SYSTEM, grants: grants([...ORCHESTRATOR_NAMESPACE_RULES, ...BACKUP_NAMESPACE_RULES] as Rule[]) },
      { scope: 'gateway', namespace: GATEWAY, grants: grants(GATEWAY_NAMESPACE_RULES as Rule[]) },
    ];
    const used = new Set<string>();
    const missing: string[] = [];
    for (const a of access) {
      const k = `${a.verb} ${a.group}/${a.resource}`;
      // every role that allows it counts it as used: a part's role stands on its own even where another's overlaps
      const by = scopes.filter((x) => (x.namespace === undefined || x.namespace === a.namespace) && x.grants.has(k));
      for (const s of by) used.add(`${s.scope} ${k}`);
      if (by.length === 0) missing.push(`${k}${a.namespace ? ` in ${a.namespace}` : ''}`);
    }
    const unused = scopes.flatMap((s) => [...s.grants].map((k) => `${s.scope} ${k}`)).filter((k) => !used.has(k) && !NOT_EXERCISED.has(k));
    const result = { missing: [...new Set(missing)].sort(), unused: unused.sort() };
    assert.deepEqual(result, { missing: [], unused: [] }, `used but not granted:\n  ${result.missing.join('\n  ')}\ngranted but not used:\n  ${result.unused.join('\n  ')}\naccesses seen:\n  ${access.map((a) => `${a.verb} ${a.group}/${a.resource} ${a.namespace ?? ''}`).join('\n  ')}`);
  });
});
