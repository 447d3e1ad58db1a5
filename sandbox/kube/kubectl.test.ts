/**
 * The emulator driven by the real kubectl (v1.32 on the machine image). Few calls, each real:
 * kubectl takes about 0.3 s to start.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKubeEmulator, type KubeEmulator } from './index.js';

const KUBECTL = '/usr/bin/kubectl';

interface Run { code: number; stdout: string; stderr: string }

describe('sandbox/kube emulator with kubectl', function () {
  this.timeout(60000);
  let emu: KubeEmulator;
  let dir: string;

  const kubectl = (...args: string[]): Promise<Run> => new Promise((resolve) => {
    execFile(KUBECTL, ['--kubeconfig', join(dir, 'kubeconfig'), '--cache-dir', join(dir, 'cache'), ...args], { timeout: 30000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  before(async function () {
    assert.ok(existsSync(KUBECTL), `${KUBECTL} is missing: kubectl v1.32 comes with the machine image`);
    dir = mkdtempSync(join(tmpdir(), 'kubectl-'));
    emu = await startKubeEmulator({ readyDelayMs: 50 });
    writeFileSync(join(dir, 'kubeconfig'), emu.kubeconfig());
  });
  after(async () => {
    await emu?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('get: namespaces and the seeded Istio services as tables', async () => {
    const ns = await kubectl('get', 'ns');
    assert.equal(ns.code, 0, ns.stderr);
    assert.match(ns.stdout, /^NAME\s+STATUS\s+AGE/);
    assert.match(ns.stdout, /istio-system\s+Active/);
    const svc = await kubectl('get', 'svc', '-n', 'istio-system', 'istio-eastwestgateway');
    assert.match(svc.stdout, /istio-eastwestgateway\s+LoadBalancer\s+\S+\s+127\.0\.0\.2/);
  });

  it('apply -f (client-side): created, then configured with strategic merge, unchanged when nothing changed; get -o yaml', async () => {
    const manifest = (replicas: number, value: string, hosts: string) => `apiVersion: v1
kind: Namespace
metadata:
  name: cafe
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: cafe
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1
        ports: [{containerPort: 80}]
        env: [{name: A, value: "1"}, {name: B, value: "${value}"}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: web
  namespace: cafe
spec:
  hosts: [${hosts}]
  http:
  - route:
    - destination: {host: web}
`;
    const first = await kubectl('apply', '-f', file('app.yaml', manifest(1, '2', 'web')));
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(first.stdout.trim().split('\n'), ['namespace/cafe created', 'deployment.apps/web created', 'virtualservice.networking.istio.io/web created']);
    const second = await kubectl('apply', '-f', file('app.yaml', manifest(2, '3', 'web, web2')));
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(second.stdout.trim().split('\n'), ['namespace/cafe unchanged', 'deployment.apps/web configured', 'virtualservice.networking.istio.io/web configured']);
    const yaml = await kubectl('get', 'deploy', 'web', '-n', 'cafe', '-o', 'yaml');
    assert.match(yaml.stdout, /replicas: 2/);
    assert.match(yaml.stdout, /- name: A\n\s+value: "1"\n\s+- name: B\n\s+value: "3"/);
    const vs = await kubectl('get', 'vs', '-n', 'cafe');
    assert.match(vs.stdout, /web\s+\["web","web2"\]/);
  });

  it('apply --server-side: serverside-applied, conflicts between managers, --force-conflicts', async () => {
    const cm = file('cm.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: cafe\ndata:\n  a: "1"\n');
    const applied = await kubectl('apply', '--server-side', '-f', cm);
    assert.equal(applied.stdout.trim(), 'configmap/settings serverside-applied', applied.stderr);
    const other = file('cm2.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: cafe\ndata:\n  a: "2"\n');
    const conflict = await kubectl('apply', '--server-side', '--field-manager', 'other', '-f', other);
    assert.notEqual(conflict.code, 0);
    assert.match(conflict.stderr, /Apply failed with 1 conflict: conflict with "kubectl" using v1: \.data\.a/);
    const forced = await kubectl('apply', '--server-side', '--field-manager', 'other', '--force-conflicts', '-f', other);
    assert.equal(forced.code, 0, forced.stderr);
    const dry = await kubectl('apply', '--server-side', '--field-manager', 'other', '--dry-run=server', '-f', cm);
    assert.equal(dry.stdout.trim(), 'configmap/settings serverside-applied (server dry run)', dry.stderr);
    const value = await kubectl('get', 'configmap', 'settings', '-n', 'cafe', '-o', 'jsonpath={.data.a}');
    assert.equal(value.stdout, '2', 'a server dry run stores nothing');
  });

  it('a CRD installed at run time: apply, get msvc -A with printer columns; schema violations are refused', async () => {
    const crd = await kubectl('apply', '-f', file('crd.yaml', `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: meshservices.mixmesh.io
spec:
  group: mixmesh.io
  scope: Namespaced
  names: {kind: MeshService, plural: meshservices, singular: meshservice, shortNames: [msvc]}
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Phase, type: string, jsonPath: .status.phase}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              replicas: {type: integer}
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
`));
    assert.equal(crd.code, 0, crd.stderr);
    const ok = await kubectl('apply', '-f', file('ms.yaml', 'apiVersion: mixmesh.io/v1alpha1\nkind: MeshService\nmetadata: {name: cafe, namespace: cafe}\nspec: {replicas: 1}\n'));
    assert.equal(ok.code, 0, ok.stderr);
    const list = await kubectl('get', 'msvc', '-A');
    assert.match(list.stdout, /^NAMESPACE\s+NAME\s+PHASE\s+AGE\ncafe\s+cafe\s+\d+s/);
    const bad = await kubectl('apply', '-f', file('bad.yaml', 'apiVersion: mixmesh.io/v1alpha1\nkind: MeshService\nmetadata: {name: bad, namespace: cafe}\nspec: {replicas: many}\n'));
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /MeshService "bad" is invalid: spec.replicas: Invalid value: "many": spec.replicas in body must be of type integer/);
  });

  it('create namespace / configmap / secret / token: protobuf bodies are understood', async () => {
    assert.equal((await kubectl('create', 'namespace', 'proto')).stdout.trim(), 'namespace/proto created');
    const cm = await kubectl('create', 'configmap', 'c1', '-n', 'proto', '--from-literal=a=b');
    assert.equal(cm.stdout.trim(), 'configmap/c1 created', cm.stderr);
    const secret = await kubectl('create', 'secret', 'generic', 's1', '-n', 'proto', '--from-literal=key=value');
    assert.equal(secret.stdout.trim(), 'secret/s1 created', secret.stderr);
    const token = await kubectl('create', 'token', 'default', '-n', 'proto', '--audience', 'istio-ca', '--duration', '20m');
    const payload = JSON.parse(Buffer.from(token.stdout.trim().split('.')[1]!, 'base64url').toString()) as { aud: string[]; sub: string };
    assert.deepEqual([payload.aud, payload.sub], [['istio-ca'], 'system:serviceaccount:proto:default']);
    const data = await kubectl('get', 'secret', 's1', '-n', 'proto', '-o', 'jsonpath={.data.key}');
    assert.equal(Buffer.from(data.stdout, 'base64').toString(), 'value');
  });

  it('auth can-i and whoami: the admin may do anything', async () => {
    assert.equal((await kubectl('auth', 'can-i', 'create', 'pods')).stdout.trim(), 'yes');
    assert.match((await kubectl('auth', 'whoami')).stdout, /Username\s+kubernetes-admin/);
  });

  it('scale: the scale subresource', async () => {
    const scaled = await kubectl('scale', 'deployment', 'web', '-n', 'cafe', '--replicas=3');
    assert.equal(scaled.stdout.trim(), 'deployment.apps/web scaled', scaled.stderr);
    const replicas = await kubectl('get', 'deployment', 'web', '-n', 'cafe', '-o', 'jsonpath={.spec.replicas}');
    assert.equal(replicas.stdout, '3');
  });

  it('delete: deleted, then get answers NotFound', async () => {
    const del = await kubectl('delete', 'deployment', 'web', '-n', 'cafe');
    assert.equal(del.code, 0, del.stderr);
    assert.equal(del.stdout.trim(), 'deployment.apps "web" deleted');
    const gone = await kubectl('get', 'deploy', 'web', '-n', 'cafe');
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /(NotFound|not found)/);
  });
});
