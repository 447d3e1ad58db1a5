/**
 * The MeshService as a kubectl and GitOps user meets it, with the real kubectl 1.32 against the
 * sandbox's Kubernetes emulator and `mixmesh serve`'s stack (controller + admission webhook):
 * `kubectl explain` prints the schema's descriptions, `kubectl get -o wide` shows the printer
 * columns, every bad descriptor of the test corpus is refused by `kubectl apply` and its server
 * dry run with the pointer (by the CRD schema, its CEL rules, or the webhook), and `kubectl diff
 * --server-side` of an unchanged applied MeshService prints nothing and exits 0.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { silentLogger } from '../common/logger.js';
import { CASES, base } from '../descriptor/cases.test.js';
import { loadConfig, startStack, type Stack } from '../orchestrator/index.js';
import { startKubeEmulator, type KubeEmulator } from '../sandbox/kube/index.js';

const KUBECTL = '/usr/bin/kubectl';

interface Run { code: number; stdout: string; stderr: string }

/** `/spec/connections/0/routes/1/split` → `spec.connections[0].routes[1].split` (the API server's field path) */
export function fieldPath(pointer: string): string {
  return pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~')).reduce((out, p) => (/^\d+$/.test(p) ? `${out}[${p}]` : out ? `${out}.${p}` : p), '');
}

/**
 * Does a refusal name this pointer? As the webhook's `POINTER: message` line, or as the API server's
 * field path (`spec.microservices[0].runtime: …`; a CEL rule or kubectl's decoder may name the
 * object or map around the field, so an enclosing path below spec/metadata counts too).
 */
function names(stderr: string, pointer: string): boolean {
  if (pointer === '' || stderr.includes(`${pointer}: `)) return true;
  const parts = pointer.split('/').slice(1);
  for (let n = parts.length; n >= Math.min(2, parts.length); n--) {
    const path = fieldPath(`/${parts.slice(0, n).join('/')}`);
    if (new RegExp(`(^|[\\s.(\\[*"])${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[:\\s"]`, 'm').test(stderr)) return true;
  }
  return false;
}

/**
 * Corpus cases that are not a bad MeshService resource: what makes them bad is what a resource
 * cannot carry (another apiVersion or kind, no metadata, a namespace kubectl is not told), or is
 * fine on a resource: `status` (dropped on write, the status subresource owns it) and
 * `metadata.annotations` (Kubernetes metadata; kubectl itself writes one). A name the API server
 * refuses is refused before any webhook.
 */
const NOT_A_RESOURCE = new Set(['wrong apiVersion', 'wrong kind', 'missing metadata', 'namespace not DNS-1123', 'name not DNS-1123', 'unknown top-level field', 'unknown metadata field']);

describe('kubectl and the MeshService resource (explain, columns, admission, diff)', function () {
  this.timeout(180_000);
  let emu: KubeEmulator;
  let dir: string;
  let stack: Stack;

  const kubectl = (...args: string[]): Promise<Run> => new Promise((resolve) => {
    execFile(KUBECTL, ['--kubeconfig', join(dir, 'kubeconfig'), '--cache-dir', join(dir, 'cache'), ...args], { timeout: 120_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, KUBECTL_EXTERNAL_DIFF: 'diff -u -N' } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (let wait = 50; ; wait = Math.min(wait * 2, 1000)) {
      if (await check()) return;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, wait));
    }
  };

  before(async function () {
    assert.ok(existsSync(KUBECTL), `${KUBECTL} is missing: kubectl v1.32 comes with the machine image`);
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-kubectl-'));
    emu = await startKubeEmulator({ readyDelayMs: 50 });
    writeFileSync(join(dir, 'kubeconfig'), emu.kubeconfig());
    const token = randomBytes(18).toString('base64url');
    writeFileSync(join(dir, 'tokens.yaml'), stringify([{ name: 'admin', role: 'admin', sha256: createHash('sha256').update(token).digest('hex') }]));
    const config = loadConfig({
      flags: { kubeconfig: join(dir, 'kubeconfig'), tokensFile: join(dir, 'tokens.yaml'), listen: '127.0.0.1:0', injector: false, injectorUrl: 'http://127.0.0.1:9', webhookListen: '127.0.0.1:0' },
      env: {}, cwd: dir,
    });
    stack = await startStack({ config, log: silentLogger, settings: { leaderElection: false, resyncSeconds: 2 } });
    assert.ok(stack.webhookUrl?.startsWith('https://127.0.0.1:'), 'the webhook is served over HTTPS');
  });
  after(async () => {
    await stack?.stop();
    await emu?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('kubectl explain prints the descriptions of the schema', async () => {
    const r = await kubectl('explain', 'meshservice.spec.connections.routes');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Routing rules tried in order/);
    assert.match(r.stdout, /match\s+<Object>\s+When this route applies/);
    assert.match(r.stdout, /split\s+<\[\]Object>( -required-)?\s+The versions traffic goes to/);
    assert.doesNotMatch(r.stdout, /<no description>/);
    const vm = await kubectl('explain', 'meshservice.spec.microservices.vm.ssh.hostKey');
    assert.match(vm.stdout, /cloud-init printed on the Nova console/);
  });

  it('a MeshService applied server-side deploys, shows the printer columns, and kubectl diff --server-side sees no difference', async () => {
    const doc = { apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService', metadata: { name: 'hello', namespace: 'hello' }, spec: {
      microservices: [
        { name: 'frontend', runtime: 'container', ports: [{ name: 'http', port: 8080 }], container: { image: 'ghcr.io/example/frontend:1.0.0' } },
        { name: 'backend', runtime: 'container', ports: [{ name: 'http', port: 9090 }], container: { image: 'ghcr.io/example/backend:1.0.0' } },
      ],
      connections: [{ from: 'frontend', to: 'backend', timeout: '3s', routes: [{ split: [{ version: 'v1', weight: 100 }] }] }],
    } };
    const path = file('hello.yaml', `apiVersion: v1\nkind: Namespace\nmetadata: {name: hello}\n---\n${stringify(doc)}`);
    const applied = await kubectl('apply', '--server-side', '-f', path);
    assert.equal(applied.code, 0, applied.stderr);
    await until('hello Ready', async () => (await kubectl('get', 'msvc', 'hello', '-n', 'hello', '-o', 'jsonpath={.status.phase}')).stdout === 'Ready');
    const wide = await kubectl('get', 'msvc', '-n', 'hello', '-o', 'wide');
    assert.equal(wide.code, 0, wide.stderr);
    assert.match(wide.stdout, /^NAME\s+PHASE\s+READY\s+VMS\s+AGE\s+OBSERVED\s+MESSAGE/);
    assert.match(wide.stdout, /hello\s+Ready\s+2\/2\s+0\/0\s+\S+\s+1\s+\S/);
    const narrow = await kubectl('get', 'msvc', '-n', 'hello');
    assert.match(narrow.stdout, /^NAME\s+PHASE\s+READY\s+VMS\s+AGE\n/);
    // the controller added its finalizer and wrote status: neither is in the user's way
    const live = JSON.parse((await kubectl('get', 'msvc', 'hello', '-n', 'hello', '-o', 'json', '--show-managed-fields')).stdout) as { metadata: { finalizers: string[]; managedFields: { manager: string; fieldsV1: Record<string, unknown>; subresource?: string }[] } };
    assert.deepEqual(live.metadata.finalizers, ['mixmesh.io/teardown']);
    for (const m of live.metadata.managedFields.filter((f) => f.manager === 'mixmesh' && f.subresource !== 'status')) {
      assert.ok(!('f:spec' in m.fieldsV1), `the controller owns spec fields: ${JSON.stringify(m.fieldsV1)}`);
    }
    const diff = await kubectl('diff', '--server-side', '-f', path);
    assert.equal(diff.stdout, '', 'kubectl diff printed a difference');
    assert.equal(diff.code, 0, diff.stderr);
  });

  it('refuses every bad descriptor of the test corpus, applied and as a server dry run, with its pointer', async () => {
    const cases = CASES.filter((c) => !NOT_A_RESOURCE.has(c.name));
    const docs: string[] = [];
    const expected: { pointers: string[]; case: string }[] = [];
    cases.forEach((c, i) => {
      const d = base();
      c.mutate(d);
      // the resource's name is ours; a case about the name keeps its own
      const aboutTheName = /^name /.test(c.name) || c.expect.some(([, m]) => m.includes('"shop-'));
      if (!aboutTheName && d.metadata && typeof d.metadata === 'object') d.metadata.name = `bad-${i}`;
      if (d.metadata) d.metadata.namespace = 'shop';
      // JSON, not YAML: kubectl reads YAML 1.1, where a version `y` would be the boolean true
      docs.push(JSON.stringify(d));
      expected.push({ pointers: c.expect.map(([p]) => p), case: c.name });
    });
    const ns = await kubectl('create', 'namespace', 'shop');
    assert.equal(ns.code, 0, ns.stderr);
    const problems: string[] = [];
    // one kubectl per case and mode (an error of a multi-document apply does not always name its document), four at a time
    const jobs = expected.flatMap((e, i) => [true, false].map((dryRun) => ({ e, dryRun, path: file(`bad-${i}.json`, docs[i]!) })));
    const run = async (): Promise<void> => {
      for (let job = jobs.shift(); job; job = jobs.shift()) {
        const r = await kubectl('apply', ...(job.dryRun ? ['--dry-run=server'] : []), '-f', job.path);
        const mode = job.dryRun ? 'apply --dry-run=server' : 'apply';
        if (r.code === 0) problems.push(`${job.e.case}: ${mode} accepted it: ${r.stdout.trim()}`);
        else if (!job.e.pointers.some((p) => names(r.stderr, p))) problems.push(`${job.e.case}: ${mode} refused it without naming ${job.e.pointers.join(', ')}: ${r.stderr.trim().slice(0, 400)}`);
      }
    };
    await Promise.all([run(), run(), run(), run()]);
    assert.deepEqual(problems, []);
    // nothing of it was stored
    const stored = await kubectl('get', 'msvc', '-n', 'shop', '-o', 'name');
    assert.equal(stored.stdout.trim(), '', `stored: ${stored.stdout}`);
  });
});
