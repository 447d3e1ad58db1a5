import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { loadConfig } from './config.js';
import { isMixmeshError } from '../common/errors.js';

const sha = (t: string): string => createHash('sha256').update(t).digest('hex');

describe('orchestrator config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mixmesh-config-'));
  const kubeconfig = join(dir, 'kubeconfig');
  const tokens = join(dir, 'tokens.yaml');
  writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\n');
  writeFileSync(tokens, `- {name: alice, role: admin, sha256: ${sha('secret-admin')}}\n`);
  const baseEnv = { KUBECONFIG: kubeconfig, MIXMESH_TOKENS_FILE: tokens };
  const noSa = join(dir, 'no-sa');

  function expectInvalid(fn: () => unknown, pointer: string): void {
    assert.throws(fn, (e: unknown) => isMixmeshError(e, 'CONFIG_INVALID') && (e.errors ?? []).some((p) => p.pointer === pointer) || (isMixmeshError(e, 'CONFIG_INVALID') && e.message.includes(pointer)));
  }

  it('applies defaults and freezes the result', () => {
    const c = loadConfig({ env: baseEnv, cwd: dir, home: dir, serviceAccountDir: noSa });
    assert.deepEqual(c.listen, { host: '127.0.0.1', port: 7070 });
    assert.equal(c.callback.url, 'http://127.0.0.1:7070/v1/tacker/notifications');
    assert.equal(c.callback.auth, 'basic');
    assert.equal(c.systemNamespace, 'mixmesh-system');
    assert.equal(c.bodyLimitBytes, 4 * 1024 * 1024);
    assert.equal(c.mesh.trustDomain, 'cluster.local');
    assert.equal(c.trustDomainExplicit, false);
    assert.equal(c.openstack, undefined);
    assert.equal(c.tokens[0]!.role, 'admin');
    assert.equal(c.leaseDurationSeconds, 15);
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.mesh) && Object.isFrozen(c.tokens[0]));
  });

  it('flags beat environment beat the config file', () => {
    const file = join(dir, 'config.yaml');
    writeFileSync(file, 'listen: 127.0.0.1:7001\nsystemNamespace: from-file\ncallbackAuth: oauth2\nmesh: {trustDomain: example.org}\n');
    const c = loadConfig({ flags: { config: file, listen: '127.0.0.1:7003' }, env: { ...baseEnv, MIXMESH_LISTEN: '127.0.0.1:7002', MIXMESH_SYSTEM_NAMESPACE: 'from-env' }, cwd: dir, home: dir, serviceAccountDir: noSa });
    assert.equal(c.listen.port, 7003);
    assert.equal(c.systemNamespace, 'from-env');
    assert.equal(c.callback.auth, 'oauth2');
    assert.equal(c.mesh.trustDomain, 'example.org');
    assert.equal(c.mesh.meshId, 'example.org');
    assert.equal(c.trustDomainExplicit, true);
  });

  it('refuses to start without a cluster (never localhost:8080)', () => {
    expectInvalid(() => loadConfig({ env: { MIXMESH_TOKENS_FILE: tokens }, cwd: dir, home: dir, serviceAccountDir: noSa }), '/kubeconfig');
  });

  it('refuses to start without tokens', () => {
    expectInvalid(() => loadConfig({ env: { KUBECONFIG: kubeconfig }, cwd: dir, home: dir, serviceAccountDir: noSa }), '/tokensFile');
    const empty = join(dir, 'empty.yaml');
    writeFileSync(empty, '[]\n');
    expectInvalid(() => loadConfig({ env: { KUBECONFIG: kubeconfig, MIXMESH_TOKENS_FILE: empty }, cwd: dir, home: dir, serviceAccountDir: noSa }), '/tokensFile');
  });

  it('names a bad token entry', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, '- {name: bob, role: root, sha256: xyz}\n');
    assert.throws(() => loadConfig({ env: { KUBECONFIG: kubeconfig, MIXMESH_TOKENS_FILE: bad }, cwd: dir, home: dir, serviceAccountDir: noSa }), /\/0\/role: "root" is not a role.*\/0\/sha256/);
  });

  it('a token may be limited to namespaces (a non-empty list of namespace names)', () => {
    const ok = join(dir, 'scoped.yaml');
    writeFileSync(ok, `- {name: team-a, role: deployer, sha256: ${'a'.repeat(64)}, namespaces: [team-a, team-a-staging]}\n`);
    assert.deepEqual(loadConfig({ env: { KUBECONFIG: kubeconfig, MIXMESH_TOKENS_FILE: ok }, cwd: dir, home: dir, serviceAccountDir: noSa }).tokens[0]!.namespaces, ['team-a', 'team-a-staging']);
    for (const bad of ['[]', '[Team_A]', 'team-a']) {
      writeFileSync(ok, `- {name: team-a, role: deployer, sha256: ${'a'.repeat(64)}, namespaces: ${bad}}\n`);
      assert.throws(() => loadConfig({ env: { KUBECONFIG: kubeconfig, MIXMESH_TOKENS_FILE: ok }, cwd: dir, home: dir, serviceAccountDir: noSa }), /\/0\/namespaces: must be a non-empty list/);
    }
  });

  it('rejects bad values and unknown settings, naming them', () => {
    expectInvalid(() => loadConfig({ env: { ...baseEnv, MIXMESH_LISTEN: 'nowhere' }, cwd: dir, home: dir, serviceAccountDir: noSa }), '/listen');
    expectInvalid(() => loadConfig({ env: { ...baseEnv, MIXMESH_CALLBACK_AUTH: 'digest' }, cwd: dir, home: dir, serviceAccountDir: noSa }), '/callbackAuth');
    const file = join(dir, 'typo.yaml');
    writeFileSync(file, 'lisen: 1\n');
    expectInvalid(() => loadConfig({ flags: { config: file }, env: baseEnv, cwd: dir, home: dir, serviceAccountDir: noSa }), '/lisen');
    expectInvalid(() => loadConfig({ flags: { injector: false }, env: baseEnv, cwd: dir, home: dir, serviceAccountDir: noSa }), '/injectorUrl');
  });

  it('the leader Lease duration: from the environment or the file, a whole number of seconds from 3 to 3600', () => {
    const file = join(dir, 'lease.yaml');
    writeFileSync(file, 'leaseDurationSeconds: 30\n');
    assert.equal(loadConfig({ flags: { config: file }, env: baseEnv, cwd: dir, home: dir, serviceAccountDir: noSa }).leaseDurationSeconds, 30);
    assert.equal(loadConfig({ flags: { config: file }, env: { ...baseEnv, MIXMESH_LEASE_DURATION_SECONDS: '4' }, cwd: dir, home: dir, serviceAccountDir: noSa }).leaseDurationSeconds, 4);
    for (const bad of ['2', '3601', '4.5', 'soon', '-15']) {
      expectInvalid(() => loadConfig({ env: { ...baseEnv, MIXMESH_LEASE_DURATION_SECONDS: bad }, cwd: dir, home: dir, serviceAccountDir: noSa }), '/leaseDurationSeconds');
    }
  });

  it('finds OpenStack from OS_CLOUD + clouds.yaml or OS_* variables', () => {
    writeFileSync(join(dir, 'clouds.yaml'), 'clouds:\n  sandbox: {auth: {auth_url: "http://127.0.0.1:5000/v3", username: u, password: p, project_name: x}}\n');
    const c = loadConfig({ env: { ...baseEnv, OS_CLOUD: 'sandbox' }, cwd: dir, home: dir, serviceAccountDir: noSa });
    assert.equal(c.openstack?.authUrl, 'http://127.0.0.1:5000/v3');
    assert.match(String(c.openstack?.source), /cloud "sandbox"/);
    expectInvalid(() => loadConfig({ env: { ...baseEnv, OS_CLOUD: 'other' }, cwd: dir, home: dir, serviceAccountDir: noSa }), '/openstack');
    const e = loadConfig({ env: { ...baseEnv, OS_AUTH_URL: 'http://k/v3', OS_USERNAME: 'u', OS_PASSWORD: 'p', OS_PROJECT_NAME: 'x' }, cwd: dir, home: dir, serviceAccountDir: noSa });
    assert.equal(e.openstack?.username, 'u');
  });
});
