import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMixmeshError } from '../../common/errors.js';
import { startKubeEmulator, type KubeEmulator } from '../../sandbox/kube/index.js';
import { KubeClient, conditionTrue, deploymentReady, loadKubeConfig, type KubeObject } from './index.js';

const SELECTOR = 'app.kubernetes.io/managed-by=mixmesh,mixmesh.io/service=cafe';
const labels = { 'app.kubernetes.io/managed-by': 'mixmesh', 'mixmesh.io/service': 'cafe' };

const desired = (image = 'nginx:1', extraLabel?: string): KubeObject[] => [
  { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'web', namespace: 'cafe', labels }, spec: { host: 'web.cafe.svc.cluster.local', trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } } },
  { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'cafe', labels: extraLabel ? { ...labels, [extraLabel]: 'yes' } : labels }, spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image, ports: [{ containerPort: 8080, name: 'http' }] }] } } } },
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'cafe', labels }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } },
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'cafe', labels } },
];

describe('clients/kube loadKubeConfig', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'kubeconfig-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('fails fast with CONFIG_INVALID: nothing configured, a missing file, no current context', () => {
    assert.throws(() => loadKubeConfig({ env: {} }), (e) => isMixmeshError(e, 'CONFIG_INVALID') && /--kubeconfig/.test(e.message));
    assert.throws(() => loadKubeConfig(join(dir, 'absent')), (e) => isMixmeshError(e, 'CONFIG_INVALID'));
    const noContext = join(dir, 'no-context');
    writeFileSync(noContext, 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n');
    assert.throws(() => loadKubeConfig({ path: noContext, env: {} }), (e) => isMixmeshError(e, 'CONFIG_INVALID') && /localhost:8080/.test(e.message));
  });

  it('reads KUBECONFIG from the given environment', () => {
    const file = join(dir, 'ok');
    writeFileSync(file, 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n');
    assert.equal(loadKubeConfig({ env: { KUBECONFIG: file } }).getCurrentCluster()?.server, 'https://127.0.0.1:1');
  });
});

describe('clients/kube against the sandbox emulator', function () {
  this.timeout(15000);
  let emu: KubeEmulator;
  let client: KubeClient;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kube-client-'));
    emu = await startKubeEmulator({ readyDelayMs: 50 });
    writeFileSync(join(dir, 'kubeconfig'), emu.kubeconfig());
    client = new KubeClient(loadKubeConfig(join(dir, 'kubeconfig')));
  });
  after(async () => {
    client.close();
    await emu.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('apply: created, then unchanged with ZERO writes, then configured; Namespace first', async () => {
    emu.resetRequests();
    const first = await client.apply(desired());
    assert.deepEqual(first.created.map((r) => r.kind), ['Namespace', 'Service', 'Deployment', 'DestinationRule']);
    assert.equal(emu.requests().writes, 4);
    emu.resetRequests();
    const again = await client.apply(desired());
    assert.equal(again.unchanged.length, 4);
    assert.equal(again.created.length + again.configured.length, 0);
    assert.equal(emu.requests().writes, 0, 'a no-change re-apply makes no writes');
    const changed = await client.apply(desired('nginx:2'));
    assert.deepEqual(changed.configured.map((r) => `${r.kind}/${r.name}`), ['Deployment/web']);
    const live = await client.get({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'cafe', name: 'web' });
    assert.equal(live?.metadata.generation, 2);
  });

  it('apply removes what mixmesh stopped applying (field ownership), and dryRun changes nothing', async () => {
    await client.apply(desired('nginx:2', 'extra'));
    await client.apply(desired('nginx:2'));
    const live = await client.get({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'cafe', name: 'web' });
    assert.equal(live?.metadata.labels?.extra, undefined);
    emu.resetRequests();
    const preview = await client.apply(desired('nginx:3'), { dryRun: true });
    assert.deepEqual(preview.configured.map((r) => r.kind), ['Deployment']);
    assert.equal(emu.requests().writes, 0);
  });

  it('apply a CRD and its custom resource in one call: waits for Established', async () => {
    const crd: KubeObject = {
      apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'widgets.example.com' },
      spec: { group: 'example.com', scope: 'Namespaced', names: { kind: 'Widget', plural: 'widgets' }, versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { size: { type: 'integer' } } } } } } }] },
    };
    const widget: KubeObject = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w', namespace: 'cafe' }, spec: { size: 3 } };
    const changes = await client.apply([widget, crd]);
    assert.deepEqual(changes.created.map((r) => r.kind), ['CustomResourceDefinition', 'Widget']);
    assert.ok(conditionTrue(await client.get({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name: 'widgets.example.com' }), 'Established'));
    await new Promise((r) => setTimeout(r, 1100)); // a later second: a rewritten condition time would show
    emu.resetRequests();
    const again = await client.apply([widget, crd]);
    assert.equal(again.unchanged.length, 2);
    assert.equal(emu.requests().writes, 0);
  });

  it('apply errors are K8S_APPLY_FAILED with the object and the server message', async () => {
    const bad: KubeObject = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'bad', namespace: 'cafe' }, spec: { hosts: ['a'], http: [{ route: [{ destination: { host: 'a', port: { number: 'x' } } }] }] } };
    await assert.rejects(client.apply([bad]), (e) => isMixmeshError(e, 'K8S_APPLY_FAILED') && e.message.startsWith('apply VirtualService cafe/bad: ') && /is invalid/.test(e.message) && e.details?.httpStatus === 422);
    await assert.rejects(client.get({ apiVersion: 'nope.io/v1', kind: 'Thing', name: 'x' }), (e) => isMixmeshError(e, 'K8S_REQUEST_FAILED'));
  });

  it('prune deletes what carries the labels but is no longer rendered', async () => {
    await client.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'old', namespace: 'cafe', labels }, spec: { ports: [{ port: 80 }] } });
    await client.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'foreign', namespace: 'cafe' }, spec: { ports: [{ port: 80 }] } });
    const keep = desired().map((o) => ({ apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, namespace: o.metadata.namespace }));
    const pruned = await client.prune(SELECTOR, keep, { kinds: [{ apiVersion: 'v1', kind: 'Service' }, { apiVersion: 'apps/v1', kind: 'Deployment' }], namespace: 'cafe' });
    assert.deepEqual(pruned.map((r) => r.name), ['old']);
    assert.ok(await client.get({ apiVersion: 'v1', kind: 'Service', namespace: 'cafe', name: 'foreign' }));
    assert.ok(await client.get({ apiVersion: 'v1', kind: 'Service', namespace: 'cafe', name: 'web' }));
  });

  it('waitFor: a Deployment becomes ready (watch); one held by a fault times out with K8S_WAIT_TIMEOUT', async () => {
    const ready = await client.waitFor({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'cafe', name: 'web' }, deploymentReady, 5000);
    assert.ok(deploymentReady(ready));
    emu.setFaults({ neverReady: ['cafe/stuck'] });
    const stuck = desired()[1]!;
    await client.apply([{ ...stuck, metadata: { ...stuck.metadata, name: 'stuck' } }]);
    await assert.rejects(client.waitFor({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'cafe', name: 'stuck' }, deploymentReady, 300), (e) => isMixmeshError(e, 'K8S_WAIT_TIMEOUT'));
    const deleted = client.waitFor({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'cafe', name: 'stuck' }, (o) => o === undefined, 5000);
    assert.equal(await client.delete({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'cafe', name: 'stuck' }), true);
    assert.equal(await deleted, undefined);
    assert.equal(await client.delete({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'cafe', name: 'stuck' }), false);
  });

  it('createToken: a JWT for the audiences, expiry as asked', async () => {
    const { token, expirationTimestamp } = await client.createToken('cafe', 'default', ['istio-ca'], 3600);
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { aud: string[]; sub: string };
    assert.deepEqual(payload.aud, ['istio-ca']);
    assert.equal(payload.sub, 'system:serviceaccount:cafe:default');
    assert.ok(Math.abs(Date.parse(expirationTimestamp) - Date.now() - 3600_000) < 5000);
    await assert.rejects(client.createToken('cafe', 'default', ['istio-ca'], 60), (e) => isMixmeshError(e, 'K8S_REQUEST_FAILED') && e.details?.httpStatus === 422);
  });

  it('status: applyStatus and mergePatch write the status subresource and leave the spec alone', async () => {
    const svc = await client.applyStatus({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'cafe' }, status: { loadBalancer: { ingress: [{ ip: '10.0.0.9' }] } } });
    assert.equal((svc.status as { loadBalancer: { ingress: Array<{ ip: string }> } }).loadBalancer.ingress[0]!.ip, '10.0.0.9');
    assert.equal((svc.spec as { ports: Array<{ port: number }> }).ports[0]!.port, 80);
    const ref = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'cafe', name: 'web' };
    const before = await client.get(ref);
    const patched = await client.mergePatch(ref, { spec: { replicas: 9 }, status: { observedGeneration: 99 } }, { subresource: 'status' });
    assert.equal((patched.status as { observedGeneration: number }).observedGeneration, 99);
    assert.equal((patched.spec as { replicas: number }).replicas, 1);
    assert.equal(patched.metadata.generation, before?.metadata.generation);
  });
});
