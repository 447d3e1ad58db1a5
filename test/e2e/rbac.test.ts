/**
 * The install manifests' RBAC against what mixmesh really asks for: every request the orchestrator
 * (with its in-process injector, leader election and the admission webhook) sends to the sandbox's
 * Kubernetes API during an end-to-end run — start, the IoT café with VMs, a connections change, a
 * container-only service in a namespace mixmesh creates, both torn down — is recorded by the
 * emulator (verb, API group, resource/subresource, namespace) and compared with the roles of
 * `mixmesh install` both ways: nothing used is missing, nothing granted goes unused.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { INJECTOR_CLUSTER_RULES, ORCHESTRATOR_CLUSTER_RULES, ORCHESTRATOR_NAMESPACE_RULES } from '../../deploy/manifests.js';
import type { Stack } from '../../orchestrator/index.js';
import { startWorld, type World } from './world.js';

const CAFE = readFileSync(new URL('../../examples/iot-cafe/descriptor.yaml', import.meta.url), 'utf8');
const MINIMAL = readFileSync(new URL('../../examples/minimal/descriptor.yaml', import.meta.url), 'utf8');

interface Access { verb: string; group: string; resource: string; namespace?: string }
type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };

const SYSTEM = 'rbac-system';
/** granted, but not reachable in an end-to-end run: the webhook certificate's rotation, 30 days before it expires */
const NOT_EXERCISED = new Set(['system update /secrets']);

const grants = (rules: readonly Rule[]): Set<string> => new Set(rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${v} ${g}/${res}`)))));

describe('e2e: RBAC of the install manifests = what mixmesh uses', function () {
  this.timeout(300_000);
  let w: World;
  let stack: Stack;

  const api = async (method: string, path: string, body?: string, type = 'application/yaml'): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await fetch(stack.url + path, { method, headers: { authorization: `Bearer ${w.tokens.admin}`, ...(body ? { 'content-type': type } : {}) }, ...(body ? { body } : {}) });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };
  const settle = async (operationId: string): Promise<string> => {
    for (const deadline = Date.now() + 120_000; Date.now() < deadline;) {
      const r = await api('GET', `/v1/operations/${operationId}`);
      if (['Succeeded', 'Failed', 'RolledBack'].includes(String(r.json.state))) return String(r.json.state);
      await new Promise((res) => setTimeout(res, 200));
    }
    throw new Error(`operation ${operationId} did not finish`);
  };
  const gone = async (path: string): Promise<void> => {
    for (const deadline = Date.now() + 120_000; Date.now() < deadline;) {
      if ((await api('GET', path)).status === 404) return;
      await new Promise((res) => setTimeout(res, 200));
    }
    throw new Error(`${path} still there`);
  };

  before(async () => {
    w = await startWorld();
    await w.stack.kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'cafe' } });
    await w.stack.kube.create({ apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/ssh-auth', metadata: { name: 'vm-ssh', namespace: 'cafe' }, data: { 'ssh-privatekey': Buffer.from(w.sandbox.sshPrivateKey).toString('base64') } });
    // from here on, only mixmesh talks to the API server: a fresh orchestrator, with its webhook and a Lease
    await w.stack.stop();
    await w.resetKubeRequests();
    // a system namespace of its own: the first start of mixmesh on a cluster (Lease, Secrets created)
    stack = await w.another({ MIXMESH_WEBHOOK_LISTEN: '127.0.0.1:0', MIXMESH_SYSTEM_NAMESPACE: SYSTEM });
  });
  after(async () => { await w?.stop(); });

  it('an end-to-end run asks for exactly what the roles grant', async () => {
    // what kubelet's probes and a watching user do
    assert.equal((await fetch(`${stack.url}/readyz`)).status, 200);
    const cafe = await api('PUT', '/v1/services/cafe/iot-cafe', CAFE);
    assert.equal(cafe.status, 202, JSON.stringify(cafe.json));
    assert.equal(await settle(String(cafe.json.operationId)), 'Succeeded');
    const spec = (parse(CAFE) as { spec: { connections: Record<string, unknown>[] } }).spec;
    const change = await api('PUT', '/v1/services/cafe/iot-cafe/connections', JSON.stringify({ connections: spec.connections.map((c) => (c.from === 'kiosk-ui' ? { ...c, timeout: '9s' } : c)) }), 'application/json');
    assert.equal(change.status, 202, JSON.stringify(change.json));
    assert.equal(await settle(String(change.json.operationId)), 'Succeeded');
    const fresh = await api('PUT', '/v1/services/rbac-fresh/hello', MINIMAL);
    assert.equal(fresh.status, 202, JSON.stringify(fresh.json));
    assert.equal(await settle(String(fresh.json.operationId)), 'Succeeded');
    const events = await api('GET', '/v1/services/cafe/iot-cafe/events');
    assert.equal(events.status, 200);
    const watching = new AbortController();
    const stream = await fetch(`${stack.url}/v1/services/cafe/iot-cafe/events?watch=true`, { headers: { authorization: `Bearer ${w.tokens.admin}` }, signal: watching.signal });
    await stream.body!.getReader().read(); // the first event: the watch is established
    watching.abort();
    for (const path of ['/v1/services/cafe/iot-cafe', '/v1/services/rbac-fresh/hello']) {
      assert.equal((await api('DELETE', path)).status, 202);
      await gone(path);
    }
    await stack.stop();

    const access = ((await w.kubeRequests()) as unknown as { access: Access[] }).access;
    const cluster = grants([...ORCHESTRATOR_CLUSTER_RULES, ...INJECTOR_CLUSTER_RULES] as Rule[]);
    const inSystem = grants(ORCHESTRATOR_NAMESPACE_RULES as Rule[]);
    const used = new Set<string>();
    const missing: string[] = [];
    for (const a of access) {
      const k = `${a.verb} ${a.group}/${a.resource}`;
      if (cluster.has(k)) used.add(`cluster ${k}`);
      else if (a.namespace === SYSTEM && inSystem.has(k)) used.add(`system ${k}`);
      else missing.push(`${k}${a.namespace ? ` in ${a.namespace}` : ''}`);
    }
    const unused = [...[...cluster].map((k) => `cluster ${k}`), ...[...inSystem].map((k) => `system ${k}`)].filter((k) => !used.has(k) && !NOT_EXERCISED.has(k));
    assert.deepEqual({ missing: [...new Set(missing)].sort(), unused: unused.sort() }, { missing: [], unused: [] }, `accesses seen:\n${access.map((a) => `${a.verb} ${a.group}/${a.resource} ${a.namespace ?? ''}`).join('\n')}`);
  });
});
