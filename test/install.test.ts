/**
 * `mixmesh install` and deploy/: the printed manifests pass `kubectl apply --dry-run=server` on the
 * sandbox's Kubernetes API and then apply; the kustomize base (`kubectl kustomize`, built into
 * kubectl) renders the same objects; the committed base is current (UPDATE_GOLDEN=1 rewrites it);
 * the systemd units are what systemd itself accepts.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { runInstall } from '../cli/install.js';
import { canonicalize } from '../common/yaml.js';
import { installManifests } from '../deploy/manifests.js';
import { startKubeEmulator, type KubeEmulator } from '../sandbox/kube/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const KUBECTL = '/usr/bin/kubectl';
type Obj = Record<string, unknown>;
interface Run { code: number; stdout: string; stderr: string }

const run = (cmd: string, args: string[], input?: string): Promise<Run> => new Promise((resolve) => {
  const child = execFile(cmd, args, { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
    resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
  });
  if (input !== undefined) child.stdin!.end(input);
});

const key = (o: Obj): string => {
  const m = o.metadata as Obj;
  return `${String(o.kind)}/${String(m.namespace ?? '')}/${String(m.name)}`;
};
/** what the API server stores for stringData: data (so both forms compare equal) */
function normal(o: Obj): Obj {
  const c = structuredClone(o);
  if (c.kind === 'Secret' && c.stringData) {
    c.data = { ...((c.data as Obj) ?? {}), ...Object.fromEntries(Object.entries(c.stringData as Record<string, string>).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) };
    delete c.stringData;
  }
  return canonicalize(c);
}
const byKey = (objects: Obj[]): Map<string, Obj> => new Map(objects.map((o) => [key(o), normal(o)]));

describe('mixmesh install and the kustomize base', function () {
  this.timeout(180_000);
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-install-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('deploy/kustomize/mixmesh.yaml is `mixmesh install --no-tokens` (UPDATE_GOLDEN=1 rewrites it)', async () => {
    let text = '';
    await runInstall({ tokens: false }, { out: (s) => { text += s; }, err: () => undefined });
    const path = join(root, 'deploy/kustomize/mixmesh.yaml');
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, text);
    assert.equal(readFileSync(path, 'utf8'), text, 'stale: UPDATE_GOLDEN=1 npx mocha test/install.test.ts');
  });

  it('kubectl kustomize renders the same objects as mixmesh install', async () => {
    const r = await run(KUBECTL, ['kustomize', join(root, 'deploy/kustomize')]);
    assert.equal(r.code, 0, r.stderr);
    const rendered = byKey(parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj));
    const generated = byKey(installManifests({}));
    assert.deepEqual([...rendered.keys()].sort(), [...generated.keys()].sort());
    for (const [k, o] of generated) assert.deepEqual(rendered.get(k), o, k);
  });

  it('has what the issue asks: 2 orchestrator replicas with probes and resources, a PDB, non-root read-only pods, least-privilege roles', () => {
    const objects = byKey(installManifests({}));
    const deploy = objects.get('Deployment/mixmesh-system/mixmesh-orchestrator') as { spec: { replicas: number; template: { spec: { containers: Obj[] } } } };
    assert.equal(deploy.spec.replicas, 2);
    const c = deploy.spec.template.spec.containers[0]! as { readinessProbe: Obj; livenessProbe: Obj; resources: { requests: Obj; limits: Obj }; securityContext: Obj };
    assert.ok(c.readinessProbe && c.livenessProbe && c.resources.requests && c.resources.limits);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.runAsNonRoot, true);
    assert.ok(objects.has('PodDisruptionBudget/mixmesh-system/mixmesh-orchestrator'));
    for (const k of ['Service/mixmesh-system/mixmesh', 'Service/mixmesh-system/mixmesh-webhook', 'Service/mixmesh-system/mixmesh-injector', 'Deployment/mixmesh-system/mixmesh-injector',
      'Secret/mixmesh-system/mixmesh-tokens', 'Secret/mixmesh-system/mixmesh-config', 'ServiceAccount/mixmesh-system/mixmesh-orchestrator', 'ServiceAccount/mixmesh-system/mixmesh-injector',
      'ClusterRole//mixmesh-orchestrator', 'Role/mixmesh-system/mixmesh-orchestrator', 'ClusterRole//mixmesh-backup', 'Role/mixmesh-system/mixmesh-backup', 'ClusterRoleBinding//mixmesh-backup',
      'RoleBinding/mixmesh-system/mixmesh-backup', 'ClusterRole//mixmesh-gateway', 'Role/mixmesh-gateway/mixmesh-gateway', 'RoleBinding/mixmesh-gateway/mixmesh-gateway', 'Namespace//mixmesh-gateway', 'ValidatingWebhookConfiguration//mixmesh-meshservices', 'CustomResourceDefinition//meshservices.mixmesh.io']) {
      assert.ok(objects.has(k), k);
    }
    const text = JSON.stringify([...objects.values()].filter((o) => ['ClusterRole', 'Role'].includes(String(o.kind))));
    assert.ok(!text.includes('"*"'), 'no wildcard in any role');
  });

  it('exec into pods and kubelet checkpoints are granted only with --backup-state, by a role of their own', async () => {
    const grants = (objects: Obj[]) => objects.filter((o) => ['ClusterRole', 'Role'].includes(String(o.kind)))
      .flatMap((o) => ((o as { rules: Array<{ resources: string[] }> }).rules).flatMap((r) => r.resources.map((res) => `${(o as { metadata: { name: string } }).metadata.name} ${res}`)));
    const plain = grants(installManifests({}));
    assert.deepEqual(plain.filter((g) => /pods\/exec|nodes\/checkpoint/.test(g)), []);
    let manifests = '';
    await runInstall({ backupState: true, tokens: false }, { out: (s) => { manifests += s; }, err: () => undefined });
    const objects = parseAllDocuments(manifests).map((d) => d.toJSON() as Obj);
    assert.deepEqual(grants(objects).filter((g) => /pods\/exec|nodes\/checkpoint/.test(g)), ['mixmesh-backup-state nodes/checkpoint', 'mixmesh-backup-state pods/exec']);
    const binding = objects.find((o) => o.kind === 'ClusterRoleBinding' && (o as { metadata: { name: string } }).metadata.name === 'mixmesh-backup-state') as { subjects: Array<{ name: string }> } | undefined;
    assert.deepEqual(binding?.subjects.map((x) => x.name), ['mixmesh-orchestrator']);
  });

  describe('on the sandbox Kubernetes API with kubectl 1.32', () => {
    let emu: KubeEmulator;
    const kubectl = (args: string[], input?: string): Promise<Run> => run(KUBECTL, ['--kubeconfig', join(dir, 'kubeconfig'), '--cache-dir', join(dir, 'cache'), ...args], input);

    before(async function () {
      if (!existsSync(KUBECTL)) this.skip();
      emu = await startKubeEmulator();
      writeFileSync(join(dir, 'kubeconfig'), emu.kubeconfig());
    });
    after(async () => { await emu?.stop(); });

    it('mixmesh install | kubectl apply --dry-run=server -f - passes, then applies; the kustomize base too', async () => {
      let manifests = '';
      let stderr = '';
      await runInstall({}, { out: (s) => { manifests += s; }, err: (s) => { stderr += s; } });
      assert.match(stderr, /admin API token .*: mxm_/);
      // a server dry run stores nothing, so (as on a real cluster) the namespace its objects go into must exist
      for (const name of ['mixmesh-system', 'mixmesh-gateway']) {
        const ns = await kubectl(['create', 'namespace', name]);
        assert.equal(ns.code, 0, ns.stderr);
      }
      const dry = await kubectl(['apply', '--dry-run=server', '-f', '-'], manifests);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /deployment.apps\/mixmesh-orchestrator created \(server dry run\)/);
      assert.match(dry.stdout, /poddisruptionbudget.policy\/mixmesh-orchestrator created \(server dry run\)/);
      assert.match(dry.stdout, /clusterrole.rbac.authorization.k8s.io\/mixmesh-orchestrator created \(server dry run\)/);
      assert.match(dry.stdout, /validatingwebhookconfiguration.admissionregistration.k8s.io\/mixmesh-meshservices created \(server dry run\)/);
      assert.equal((await kubectl(['get', 'deploy', '-n', 'mixmesh-system', '-o', 'name'])).stdout.trim(), '', 'a dry run stored something');
      const kdry = await kubectl(['apply', '--dry-run=server', '-k', join(root, 'deploy/kustomize')]);
      assert.equal(kdry.code, 0, kdry.stderr);
      const real = await kubectl(['apply', '-f', '-'], manifests);
      assert.equal(real.code, 0, real.stderr);
      const got = await kubectl(['get', 'deploy,svc,pdb,sa', '-n', 'mixmesh-system', '-o', 'name']);
      for (const n of ['deployment.apps/mixmesh-orchestrator', 'deployment.apps/mixmesh-injector', 'service/mixmesh-webhook', 'poddisruptionbudget.policy/mixmesh-orchestrator', 'serviceaccount/mixmesh-injector']) {
        assert.ok(got.stdout.includes(n), `${n} missing: ${got.stdout}`);
      }
    });
  });

  it('the systemd units pass systemd-analyze verify', async function () {
    if (!existsSync('/usr/bin/systemd-analyze')) this.skip();
    // verify needs the ExecStart binary to exist: point it at a stand-in path in a copy
    for (const unit of ['mixmesh-orchestrator.service', 'mixmesh-injector.service']) {
      const text = readFileSync(join(root, 'deploy/systemd', unit), 'utf8');
      assert.match(text, /^ExecStart=\/usr\/bin\/mixmesh serve/m);
      assert.match(text, /^User=mixmesh$/m);
      assert.match(text, /^NoNewPrivileges=yes$/m);
      const copy = join(dir, unit);
      writeFileSync(copy, text.replace(/^ExecStart=\/usr\/bin\/mixmesh/m, `ExecStart=${process.execPath}`).replace(/^EnvironmentFile=.*$/m, ''));
      const r = await run('/usr/bin/systemd-analyze', ['verify', '--man=no', copy]);
      // only what systemd says about our unit (it also reads the machine's own units), minus what this container lacks (a running systemd, the mixmesh user)
      const problems = r.stderr.split('\n').filter((l) => l.includes(unit) && !/Failed to (connect|create).*bus|System has not been booted|not running|Unknown user|group .* not found|user .* not found/i.test(l));
      assert.deepEqual(problems, [], `${unit}: ${r.stderr}`);
    }
  });
});
