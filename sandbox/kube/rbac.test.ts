/**
 * Service-account tokens and RBAC on the emulator, through the real kubectl: a token from
 * `kubectl create token` authenticates; what no role allows is refused 403 worded as the real API
 * server words it; a RoleBinding allows in its namespace only, a ClusterRoleBinding everywhere,
 * resourceNames only those objects, a subresource only when named; a forged or expired token is 401;
 * the service account's requests are recorded apart from the admin's.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { startKubeEmulator, type KubeEmulator } from './index.js';

const run = promisify(execFile);

describe('kube emulator: service-account tokens and RBAC', function () {
  this.timeout(60_000);
  let emu: KubeEmulator;
  let dir: string;
  let adminCfg: string;
  let saCfg: string;

  const kubectl = async (cfg: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> => {
    try {
      const r = await run('kubectl', ['--kubeconfig', cfg, ...args]);
      return { code: 0, out: r.stdout, err: r.stderr };
    } catch (e) {
      const x = e as { code?: number; stdout?: string; stderr?: string };
      return { code: x.code ?? 1, out: x.stdout ?? '', err: x.stderr ?? '' };
    }
  };
  const asUser = (token: string): string => {
    const cfg = parse(emu.kubeconfig()) as { users: Array<{ user: Record<string, unknown> }> };
    for (const u of cfg.users) u.user = { token };
    const file = join(dir, `sa-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, stringify(cfg));
    return file;
  };
  const apply = async (yaml: string): Promise<void> => {
    const f = join(dir, 'apply.yaml');
    writeFileSync(f, yaml);
    const r = await kubectl(adminCfg, 'apply', '-f', f);
    assert.equal(r.code, 0, r.err);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-kube-rbac-'));
    emu = await startKubeEmulator({ readyDelayMs: 10 });
    adminCfg = join(dir, 'admin.yaml');
    writeFileSync(adminCfg, emu.kubeconfig());
    await apply(`apiVersion: v1
kind: Namespace
metadata: {name: a}
---
apiVersion: v1
kind: Namespace
metadata: {name: b}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: robot, namespace: a}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: one, namespace: a}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: two, namespace: a}
`);
    const token = await kubectl(adminCfg, 'create', 'token', 'robot', '-n', 'a');
    assert.equal(token.code, 0, token.err);
    saCfg = asUser(token.out.trim());
  });
  after(async () => {
    await emu?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a valid token without a role is refused 403, as RBAC words it; a forged one is 401', async () => {
    const r = await kubectl(saCfg, 'get', 'configmaps', '-n', 'a');
    assert.notEqual(r.code, 0);
    assert.match(r.err, /configmaps is forbidden: User "system:serviceaccount:a:robot" cannot list resource "configmaps" in API group "" in the namespace "a"/);
    const forged = asUser(`${(await kubectl(adminCfg, 'create', 'token', 'robot', '-n', 'a')).out.trim().slice(0, -4)}AAAA`);
    const f = await kubectl(forged, 'get', 'configmaps', '-n', 'a');
    assert.match(f.err, /Unauthorized|must be logged in/);
    // the sandbox's own routes are the admin's
    const sandbox = await kubectl(saCfg, 'get', '--raw', '/_sandbox/requests');
    assert.match(sandbox.err, /Forbidden|forbidden/);
  });

  it('a RoleBinding allows in its namespace only; resourceNames and subresources are honoured; a ClusterRoleBinding allows everywhere', async () => {
    await apply(`apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: read, namespace: a}
rules:
- {apiGroups: [""], resources: [configmaps], verbs: [list]}
- {apiGroups: [""], resources: [configmaps], verbs: [get], resourceNames: [one]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: read, namespace: a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: read}
subjects: [{kind: ServiceAccount, name: robot, namespace: a}]
`);
    assert.equal((await kubectl(saCfg, 'get', 'configmaps', '-n', 'a')).code, 0);
    assert.equal((await kubectl(saCfg, 'get', 'configmap', 'one', '-n', 'a')).code, 0);
    assert.match((await kubectl(saCfg, 'get', 'configmap', 'two', '-n', 'a')).err, /cannot get resource "configmaps"/);
    assert.match((await kubectl(saCfg, 'get', 'configmaps', '-n', 'b')).err, /in the namespace "b"/);
    assert.match((await kubectl(saCfg, 'create', 'token', 'robot', '-n', 'a')).err, /cannot create resource "serviceaccounts\/token"/);
    await apply(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: tokens-and-maps}
rules:
- {apiGroups: [""], resources: [configmaps], verbs: [list]}
- {apiGroups: [""], resources: [serviceaccounts/token], verbs: [create]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: tokens-and-maps}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: tokens-and-maps}
subjects: [{kind: ServiceAccount, name: robot, namespace: a}]
`);
    assert.equal((await kubectl(saCfg, 'get', 'configmaps', '-n', 'b')).code, 0);
    assert.equal((await kubectl(saCfg, 'create', 'token', 'robot', '-n', 'a')).code, 0);
    // still no serviceaccounts get: the subresource's rule does not grant the resource
    assert.match((await kubectl(saCfg, 'get', 'serviceaccount', 'robot', '-n', 'a')).err, /cannot get resource "serviceaccounts"/);
  });

  it('the service account\'s requests are recorded with its name, the refused ones marked', async () => {
    const access = (emu.requests() as unknown as { access: Array<{ verb: string; resource: string; namespace?: string; user?: string; denied?: boolean }> }).access;
    const robot = access.filter((a) => a.user === 'system:serviceaccount:a:robot');
    assert.ok(robot.some((a) => a.verb === 'list' && a.resource === 'configmaps' && a.namespace === 'b' && !a.denied));
    assert.ok(robot.some((a) => a.verb === 'get' && a.resource === 'configmaps' && a.denied));
    assert.ok(access.some((a) => a.user === undefined && a.verb === 'create' && a.resource === 'serviceaccounts/token'), 'the admin\'s own requests carry no user');
  });
});
