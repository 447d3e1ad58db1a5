/**
 * The emulator driven by the real @kubernetes/client-node (CRUD, server-side apply, watch,
 * TokenRequest) and by plain HTTPS where the wire format itself is the point.
 */
import { strict as assert } from 'node:assert';
import { request } from 'node:https';
import { createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiException, AuthenticationV1Api, CoreV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy, Watch, type KubernetesObject } from '@kubernetes/client-node';
import { startKubeEmulator, type KubeEmulator } from './index.js';

type Obj = KubernetesObject & Record<string, unknown>;

interface Raw { status: number; body: Record<string, unknown>; headers: Record<string, unknown> }

function raw(emu: KubeEmulator, method: string, path: string, opts: { body?: unknown; contentType?: string; accept?: string; token?: string | null } = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Accept: opts.accept ?? 'application/json' };
    if (opts.token !== null) headers.Authorization = `Bearer ${opts.token ?? emu.token}`;
    if (opts.body !== undefined) headers['Content-Type'] = opts.contentType ?? 'application/json';
    const req = request(`${emu.url}${path}`, { method, ca: emu.caPem, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown>, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(opts.body === undefined ? undefined : JSON.stringify(opts.body));
  });
}

async function apiError(p: Promise<unknown>): Promise<{ code: number; body: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ApiException, String(e));
    const body = typeof e.body === 'string' ? JSON.parse(e.body) as Record<string, unknown> : e.body as Record<string, unknown>;
    return { code: e.code, body };
  }
  assert.fail('expected an API error');
}

const deployment = (name: string, ns: string, image = 'nginx:1', replicas = 2): Obj => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: ns, labels: { app: name } },
  spec: { replicas, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image }] } } },
});

const msvcCrd = (schemaSpec: Record<string, unknown>): Obj => ({
  apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'meshservices.mixmesh.io' },
  spec: {
    group: 'mixmesh.io', scope: 'Namespaced', names: { kind: 'MeshService', plural: 'meshservices', singular: 'meshservice', shortNames: ['msvc'] },
    versions: [{
      name: 'v1alpha1', served: true, storage: true, subresources: { status: {} },
      additionalPrinterColumns: [{ name: 'Phase', type: 'string', jsonPath: '.status.phase' }, { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }],
      schema: { openAPIV3Schema: { type: 'object', properties: { spec: schemaSpec, status: { type: 'object', properties: { phase: { type: 'string' } } } } } },
    }],
  },
});

const msvcSpecSchema = { type: 'object', required: ['microservices'], properties: { microservices: { type: 'array', items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, replicas: { type: 'integer', minimum: 0 } } } } } };

describe('sandbox/kube emulator with @kubernetes/client-node', function () {
  this.timeout(15000);
  let emu: KubeEmulator;
  let objects: KubernetesObjectApi;
  let core: CoreV1Api;
  let kc: KubeConfig;

  before(async () => {
    emu = await startKubeEmulator({ readyDelayMs: 50 });
    kc = new KubeConfig();
    kc.loadFromString(emu.kubeconfig());
    objects = KubernetesObjectApi.makeApiClient(kc);
    core = kc.makeApiClient(CoreV1Api);
  });
  after(async () => { await emu.stop(); });

  it('refuses a request without the bearer token with a 401 Status, over TLS with its own CA', async () => {
    const res = await raw(emu, 'GET', '/api/v1/namespaces', { token: null });
    assert.equal(res.status, 401);
    assert.equal(res.body.kind, 'Status');
    assert.equal(res.body.code, 401);
    const version = await raw(emu, 'GET', '/version', { token: null });
    assert.equal(version.body.minor, '32');
  });

  it('serves the seeded Istio install', async () => {
    const ew = await objects.read<Obj>({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'istio-eastwestgateway', namespace: 'istio-system' } });
    assert.equal((ew.status as { loadBalancer: { ingress: Array<{ ip: string }> } }).loadBalancer.ingress[0]!.ip, '127.0.0.2');
    const mesh = await core.readNamespacedConfigMap({ name: 'istio', namespace: 'istio-system' });
    assert.match(mesh.data!.mesh!, /trustDomain: cluster.local/);
    assert.match(mesh.data!.mesh!, /discoveryAddress: istiod.istio-system.svc:15012/);
    const root = await core.readNamespacedConfigMap({ name: 'istio-ca-root-cert', namespace: 'default' });
    assert.match(root.data!['root-cert.pem']!, /^-----BEGIN CERTIFICATE-----/);
    await core.readNamespacedServiceAccount({ name: 'istio-ingressgateway-service-account', namespace: 'istio-system' });
    const pods = await core.listNamespacedPod({ namespace: 'istio-system', labelSelector: 'istio=ingressgateway' });
    assert.equal(pods.items.length, 1);
    const aggregated = await raw(emu, 'GET', '/apis', { accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json' });
    assert.equal(aggregated.headers['content-type'], 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList', 'kubectl reads an aggregated body only under its own type');
    const istio = (aggregated.body.items as Array<{ metadata: { name: string }; versions: Array<{ resources: Array<{ resource: string; shortNames?: string[] }> }> }>).find((i) => i.metadata.name === 'networking.istio.io')!;
    assert.deepEqual(istio.versions[0]!.resources.find((x) => x.resource === 'virtualservices')?.shortNames, ['vs']);
    const plain = await raw(emu, 'GET', '/apis');
    assert.equal(plain.body.kind, 'APIGroupList');
    const discovery = await raw(emu, 'GET', '/apis/networking.istio.io/v1');
    const vs = (discovery.body.resources as Array<{ name: string; shortNames?: string[] }>).find((r) => r.name === 'virtualservices');
    assert.deepEqual(vs?.shortNames, ['vs']);
  });

  it('CRUD: a new namespace has its root cert at once; stale updates get 409; missing objects 404 Status', async () => {
    await core.createNamespace({ body: { metadata: { name: 'crud' } } });
    const cert = await core.readNamespacedConfigMap({ name: 'istio-ca-root-cert', namespace: 'crud' });
    assert.ok(cert.data!['root-cert.pem']);
    await core.readNamespacedServiceAccount({ name: 'default', namespace: 'crud' });
    const cm = await core.createNamespacedConfigMap({ namespace: 'crud', body: { metadata: { name: 'c', labels: { tier: 'a' } }, data: { k: 'v' } } });
    assert.ok(cm.metadata!.uid && cm.metadata!.resourceVersion && cm.metadata!.creationTimestamp);
    const updated = await core.replaceNamespacedConfigMap({ name: 'c', namespace: 'crud', body: { ...cm, data: { k: 'v2' } } });
    assert.notEqual(updated.metadata!.resourceVersion, cm.metadata!.resourceVersion);
    const stale = await apiError(core.replaceNamespacedConfigMap({ name: 'c', namespace: 'crud', body: { ...cm, data: { k: 'v3' } } }));
    assert.equal(stale.code, 409);
    assert.equal(stale.body.reason, 'Conflict');
    const dup = await apiError(core.createNamespacedConfigMap({ namespace: 'crud', body: { metadata: { name: 'c' } } }));
    assert.equal(dup.body.reason, 'AlreadyExists');
    const bySelector = await core.listNamespacedConfigMap({ namespace: 'crud', labelSelector: 'tier in (a,b)' });
    assert.deepEqual(bySelector.items.map((i) => i.metadata!.name), ['c']);
    const byField = await core.listConfigMapForAllNamespaces({ fieldSelector: 'metadata.name=c,metadata.namespace=crud' });
    assert.equal(byField.items.length, 1);
    await core.deleteNamespacedConfigMap({ name: 'c', namespace: 'crud' });
    const gone = await apiError(core.readNamespacedConfigMap({ name: 'c', namespace: 'crud' }));
    assert.equal(gone.code, 404);
    assert.deepEqual([gone.body.kind, gone.body.reason, gone.body.message], ['Status', 'NotFound', 'configmaps "c" not found']);
  });

  it('server-side apply: managedFields per manager, no-op re-apply keeps the resourceVersion, conflicts unless forced', async () => {
    await core.createNamespace({ body: { metadata: { name: 'ssa' } } });
    const created = await objects.patch<Obj>(deployment('web', 'ssa'), undefined, undefined, 'mixmesh', false, PatchStrategy.ServerSideApply);
    const mf = (created.metadata as { managedFields: Array<{ manager: string; operation: string }> }).managedFields;
    assert.deepEqual(mf.map((m) => [m.manager, m.operation]), [['mixmesh', 'Apply']]);
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'same', namespace: 'ssa' }, data: { a: '1' } };
    const cm1 = await objects.patch<Obj>(cm, undefined, undefined, 'mixmesh', false, PatchStrategy.ServerSideApply);
    const cm2 = await objects.patch<Obj>(cm, undefined, undefined, 'mixmesh', false, PatchStrategy.ServerSideApply);
    assert.equal(cm2.metadata!.resourceVersion, cm1.metadata!.resourceVersion, 'a no-op apply writes nothing');
    const conflict = await apiError(objects.patch<Obj>(deployment('web', 'ssa', 'nginx:2'), undefined, undefined, 'someone-else', false, PatchStrategy.ServerSideApply));
    assert.equal(conflict.code, 409);
    assert.match(String(conflict.body.message), /conflict with "mixmesh"/);
    const forced = await objects.patch<Obj>(deployment('web', 'ssa', 'nginx:2'), undefined, undefined, 'someone-else', true, PatchStrategy.ServerSideApply);
    assert.equal(forced.metadata!.generation, 2, 'a spec change bumps generation');
    const dry = await objects.patch<Obj>(deployment('web', 'ssa', 'nginx:3'), undefined, 'All', 'someone-else', true, PatchStrategy.ServerSideApply);
    assert.equal(((dry.spec as { template: { spec: { containers: Array<{ image: string }> } } }).template.spec.containers[0]!.image), 'nginx:3');
    const live = await objects.read<Obj>({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'ssa' } });
    assert.equal(((live.spec as { template: { spec: { containers: Array<{ image: string }> } } }).template.spec.containers[0]!.image), 'nginx:2', 'dryRun=All stores nothing');
  });

  it('a Deployment gets ready Pods after the delay; under the never-ready fault it stays unready', async () => {
    await core.createNamespace({ body: { metadata: { name: 'ready' } } });
    emu.setFaults({ neverReady: ['ready/stuck'] });
    await objects.create(deployment('ok', 'ready'));
    await objects.create(deployment('stuck', 'ready'));
    const until = async (name: string, pred: (d: Obj) => boolean) => {
      for (;;) {
        const d = await objects.read<Obj>({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'ready' } });
        if (pred(d)) return d;
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const ok = await until('ok', (d) => (d.status as { readyReplicas?: number }).readyReplicas === 2);
    assert.equal((ok.status as { observedGeneration: number }).observedGeneration, 1);
    const pods = await core.listNamespacedPod({ namespace: 'ready', labelSelector: 'app=ok' });
    assert.equal(pods.items.length, 2);
    assert.ok(pods.items.every((p) => p.status!.phase === 'Running'));
    const stuck = await objects.read<Obj>({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'stuck', namespace: 'ready' } });
    assert.equal((stuck.status as { readyReplicas?: number }).readyReplicas, undefined);
    emu.setFaults({ neverReady: [] });
    await until('stuck', (d) => (d.status as { readyReplicas?: number }).readyReplicas === 2);
  });

  it('watch streams ADDED/MODIFIED/DELETED from a resourceVersion, and ends when the client leaves', async () => {
    await core.createNamespace({ body: { metadata: { name: 'watch' } } });
    const list = await core.listNamespacedConfigMap({ namespace: 'watch' });
    const events: string[] = [];
    let sawDelete!: () => void;
    const deleted = new Promise<void>((r) => { sawDelete = r; });
    const controller = await new Watch(kc).watch('/api/v1/namespaces/watch/configmaps', { resourceVersion: list.metadata!.resourceVersion }, (type, obj: Obj) => {
      events.push(`${type} ${obj.metadata!.name}`);
      if (type === 'DELETED') sawDelete();
    }, () => undefined);
    await core.createNamespacedConfigMap({ namespace: 'watch', body: { metadata: { name: 'w' }, data: { a: '1' } } });
    await core.patchNamespacedConfigMap({ name: 'w', namespace: 'watch', body: [{ op: 'replace', path: '/data/a', value: '2' }] });
    await core.deleteNamespacedConfigMap({ name: 'w', namespace: 'watch' });
    await deleted;
    controller.abort();
    assert.deepEqual(events, ['ADDED w', 'MODIFIED w', 'DELETED w']);
  });

  it('watch-list: sendInitialEvents gives the current objects, then a bookmark marking their end', async () => {
    const lines = await new Promise<string[]>((resolve, reject) => {
      const req = request(`${emu.url}/api/v1/namespaces/istio-system/configmaps?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`, { ca: emu.caPem, headers: { Authorization: `Bearer ${emu.token}` } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
          if (text.includes('BOOKMARK')) { req.destroy(); resolve(text.trim().split('\n')); }
        });
      });
      req.on('error', reject);
      req.end();
    });
    const events = lines.map((l) => JSON.parse(l) as { type: string; object: Obj });
    assert.deepEqual(events.slice(0, -1).map((e) => `${e.type} ${e.object.metadata!.name}`), ['ADDED istio', 'ADDED istio-ca-root-cert', 'ADDED kube-root-ca.crt']);
    assert.equal(events.at(-1)!.type, 'BOOKMARK');
    assert.equal(events.at(-1)!.object.metadata!.annotations!['k8s.io/initial-events-end'], 'true');
  });

  it('TokenRequest returns an RS256 JWT with aud, sub and exp; expirationSeconds < 600 is refused', async () => {
    const tr = await core.createNamespacedServiceAccountToken({ name: 'default', namespace: 'default', body: { spec: { audiences: ['istio-ca'], expirationSeconds: 3600 } } });
    const [h, p, s] = tr.status!.token.split('.') as [string, string, string];
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg: string; kid: string };
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as { aud: string[]; sub: string; exp: number };
    assert.equal(header.alg, 'RS256');
    assert.deepEqual(payload.aud, ['istio-ca']);
    assert.equal(payload.sub, 'system:serviceaccount:default:default');
    assert.ok(Math.abs(payload.exp - Date.now() / 1000 - 3600) < 5);
    assert.equal(new Date(tr.status!.expirationTimestamp).getTime() / 1000, payload.exp);
    const jwks = await raw(emu, 'GET', '/openid/v1/jwks');
    const jwk = (jwks.body.keys as Array<Record<string, string>>).find((k) => k.kid === header.kid)!;
    assert.ok(verify('sha256', Buffer.from(`${h}.${p}`), createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(s, 'base64url')), 'the signature verifies');
    const auth = kc.makeApiClient(AuthenticationV1Api);
    const good = await auth.createTokenReview({ body: { spec: { token: tr.status!.token, audiences: ['istio-ca'] } } });
    assert.equal(good.status!.authenticated, true);
    assert.equal(good.status!.user!.username, 'system:serviceaccount:default:default');
    const wrongAudience = await auth.createTokenReview({ body: { spec: { token: tr.status!.token, audiences: ['other'] } } });
    assert.equal(wrongAudience.status!.authenticated, false);
    const forged = await auth.createTokenReview({ body: { spec: { token: `${h}.${Buffer.from(JSON.stringify({ ...payload, sub: 'system:serviceaccount:kube-system:admin' })).toString('base64url')}.${s}` } } });
    assert.equal(forged.status!.authenticated, false, 'a changed payload fails the signature');
    const short = await apiError(core.createNamespacedServiceAccountToken({ name: 'default', namespace: 'default', body: { spec: { audiences: ['istio-ca'], expirationSeconds: 300 } } }));
    assert.equal(short.code, 422);
    assert.match(String(short.body.message), /spec.expirationSeconds/);
  });

  it('CRDs at run time: non-structural refused, Established, custom resources validated (422 with field paths), status subresource, Table', async () => {
    const bad = await apiError(objects.create(msvcCrd({ properties: { microservices: { type: 'array', items: { type: 'object' } } } })));
    assert.equal(bad.code, 422);
    assert.match(String(bad.body.message), /openAPIV3Schema.properties\[spec\].type: Required value/);
    const crd = await objects.create<Obj>(msvcCrd(msvcSpecSchema));
    assert.ok(((crd.status as { conditions: Array<{ type: string; status: string }> }).conditions).some((c) => c.type === 'Established' && c.status === 'True'));
    const invalid = await apiError(objects.create({ apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService', metadata: { name: 'x', namespace: 'default' }, spec: { microservices: [{ name: 'a', replicas: 'two' }] } } as Obj));
    assert.equal(invalid.code, 422);
    const causes = (invalid.body.details as { causes: Array<{ field: string }> }).causes;
    assert.deepEqual(causes.map((c) => c.field), ['spec.microservices[0].replicas']);
    const strict = await raw(emu, 'POST', '/apis/mixmesh.io/v1alpha1/namespaces/default/meshservices?fieldValidation=Strict', { body: { apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService', metadata: { name: 'x' }, spec: { microservices: [], bogus: 1 } } });
    assert.equal(strict.status, 400);
    assert.match(String(strict.body.message), /unknown field "spec.bogus"/);
    const ms = await objects.create<Obj>({ apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService', metadata: { name: 'cafe', namespace: 'default' }, spec: { microservices: [{ name: 'a' }] }, status: { phase: 'Ignored' } } as Obj);
    assert.equal(ms.status, undefined, 'status is not written through the main resource');
    const withStatus = await raw(emu, 'PATCH', '/apis/mixmesh.io/v1alpha1/namespaces/default/meshservices/cafe/status', { body: { status: { phase: 'Ready' } }, contentType: 'application/merge-patch+json' });
    assert.equal((withStatus.body.status as { phase: string }).phase, 'Ready');
    assert.equal((withStatus.body.metadata as { generation: number }).generation, 1, 'a status write does not bump generation');
    const specChange = await raw(emu, 'PATCH', '/apis/mixmesh.io/v1alpha1/namespaces/default/meshservices/cafe', { body: { spec: { microservices: [{ name: 'b' }] } }, contentType: 'application/merge-patch+json' });
    assert.equal((specChange.body.metadata as { generation: number }).generation, 2);
    const table = await raw(emu, 'GET', '/apis/mixmesh.io/v1alpha1/meshservices', { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' });
    assert.equal(table.body.kind, 'Table');
    assert.deepEqual((table.body.columnDefinitions as Array<{ name: string }>).map((c) => c.name), ['Name', 'Phase', 'Age']);
    const row = (table.body.rows as Array<{ cells: unknown[]; object: { metadata: { namespace: string } } }>)[0]!;
    assert.deepEqual(row.cells.slice(0, 2), ['cafe', 'Ready']);
    assert.equal(row.object.metadata.namespace, 'default');
  });

  it('cluster-scoped custom resources; deleting the CRD removes its resources and its API', async () => {
    await objects.create({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'regions.example.com' },
      spec: { group: 'example.com', scope: 'Cluster', names: { kind: 'Region', plural: 'regions' }, versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }] } } as unknown as Obj);
    await objects.create({ apiVersion: 'example.com/v1', kind: 'Region', metadata: { name: 'eu' }, spec: { zones: 3 } } as Obj);
    const list = await raw(emu, 'GET', '/apis/example.com/v1/regions');
    assert.deepEqual((list.body.items as Obj[]).map((i) => [i.metadata!.name, i.metadata!.namespace]), [['eu', undefined]]);
    const namespaced = await raw(emu, 'GET', '/apis/example.com/v1/namespaces/default/regions/eu');
    assert.equal(namespaced.status, 404);
    await objects.delete({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'regions.example.com' } });
    const gone = await raw(emu, 'GET', '/apis/example.com/v1/regions');
    assert.equal(gone.status, 404);
  });

  it('events.k8s.io/v1 Events also show as core v1 Events (kubectl get events, describe)', async () => {
    await objects.create({ apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: { name: 'cafe.1', namespace: 'default' },
      regarding: { apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService', name: 'cafe', namespace: 'default' }, reason: 'Deploying', note: 'creating 2 VMs', type: 'Normal', action: 'Deploy',
      reportingController: 'mixmesh.io/orchestrator', reportingInstance: 'mixmesh-1', eventTime: '2026-01-01T00:00:00.000000Z' } as Obj);
    let found: Obj[] = [];
    while (found.length === 0) {
      found = (await core.listNamespacedEvent({ namespace: 'default', fieldSelector: 'involvedObject.kind=MeshService,involvedObject.name=cafe' })).items as unknown as Obj[];
      if (found.length === 0) await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual([found[0]!.reason, found[0]!.message, found[0]!.reportingComponent], ['Deploying', 'creating 2 VMs', 'mixmesh.io/orchestrator']);
  });

  it('Istio kinds are validated by the package schemas and the CEL rules', async () => {
    const vs = await apiError(objects.create({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'v', namespace: 'default' }, spec: { hosts: ['a'], http: [{ route: [{ destination: { host: 'a', port: { number: 'eighty' } } }] }] } } as Obj));
    assert.equal(vs.code, 422);
    assert.match(String(vs.body.message), /spec.http\[0\].route\[0\].destination.port.number/);
    await objects.create({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'v', namespace: 'default' }, spec: { hosts: ['a'], http: [{ route: [{ destination: { host: 'a' } }] }] } } as Obj);
  });

  it('finalizers hold an object; deleting a namespace empties it (Terminating until its contents are gone)', async () => {
    await core.createNamespace({ body: { metadata: { name: 'fin' } } });
    await core.createNamespacedConfigMap({ namespace: 'fin', body: { metadata: { name: 'held', finalizers: ['mixmesh.io/teardown'] } } });
    await core.createNamespacedConfigMap({ namespace: 'fin', body: { metadata: { name: 'free' } } });
    await core.deleteNamespace({ name: 'fin' });
    const ns = await core.readNamespace({ name: 'fin' });
    assert.equal(ns.status!.phase, 'Terminating');
    const refused = await apiError(core.createNamespacedConfigMap({ namespace: 'fin', body: { metadata: { name: 'late' } } }));
    assert.equal(refused.code, 403);
    const waitFor = async (check: () => Promise<boolean>) => { while (!(await check())) await new Promise((r) => setTimeout(r, 10)); };
    await waitFor(async () => (await core.listNamespacedConfigMap({ namespace: 'fin' })).items.map((i) => i.metadata!.name).join() === 'held');
    const held = await core.readNamespacedConfigMap({ name: 'held', namespace: 'fin' });
    assert.ok(held.metadata!.deletionTimestamp);
    await core.patchNamespacedConfigMap({ name: 'held', namespace: 'fin', body: [{ op: 'remove', path: '/metadata/finalizers' }] });
    await waitFor(async () => (await apiError(core.readNamespace({ name: 'fin' })).catch(() => ({ code: 200 }))).code === 404);
  });

  it('counts requests by verb, kind and dryRun; dryRun=All stores nothing', async () => {
    emu.resetRequests();
    await objects.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'dry', namespace: 'default' } } as Obj, undefined, 'All');
    await apiError(core.readNamespacedConfigMap({ name: 'dry', namespace: 'default' }));
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'wet' } } });
    const counts = await raw(emu, 'GET', '/_sandbox/requests');
    assert.equal(counts.body.writes, 1);
    const entries = counts.body.entries as Array<{ verb: string; kind: string; dryRun: boolean; count: number }>;
    assert.ok(entries.some((e) => e.verb === 'create' && e.kind === 'ConfigMap' && e.dryRun && e.count === 1));
    assert.ok(entries.some((e) => e.verb === 'create' && e.kind === 'ConfigMap' && !e.dryRun && e.count === 1));
    const reset = await raw(emu, 'DELETE', '/_sandbox/requests');
    assert.equal(reset.body.total, 0);
    const fault = await raw(emu, 'PUT', '/_sandbox/faults', { body: { neverReady: ['no-slash'] } });
    assert.equal(fault.status, 400);
  });
});

describe('sandbox/kube emulator persistence', () => {
  it('a restarted emulator keeps its state, CA and token', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kube-persist-'));
    try {
      const persistFile = join(dir, 'state.json');
      const first = await startKubeEmulator({ dir, persistFile, readyDelayMs: 10 });
      const kc = new KubeConfig();
      kc.loadFromString(first.kubeconfig());
      await kc.makeApiClient(CoreV1Api).createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'kept' }, data: { a: '1' } } });
      const objects1 = KubernetesObjectApi.makeApiClient(kc);
      await objects1.create(msvcCrd(msvcSpecSchema));
      await objects1.create({ apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService', metadata: { name: 'cafe', namespace: 'default' }, spec: { microservices: [{ name: 'a' }] } } as Obj);
      await first.stop();
      const second = await startKubeEmulator({ dir, persistFile, readyDelayMs: 10 });
      try {
        assert.equal(second.token, first.token);
        assert.equal(second.caPem, first.caPem);
        const kc2 = new KubeConfig();
        kc2.loadFromString(second.kubeconfig());
        const cm = await kc2.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: 'kept', namespace: 'default' });
        assert.deepEqual(cm.data, { a: '1' });
        const crds = await raw(second, 'GET', '/apis/networking.istio.io/v1/virtualservices');
        assert.equal(crds.status, 200, 'CRDs are registered again from the saved state');
        const ms = await raw(second, 'GET', '/apis/mixmesh.io/v1alpha1/namespaces/default/meshservices/cafe');
        assert.equal(ms.status, 200, 'custom resources of a CRD installed at run time survive');
        const invalid = await raw(second, 'POST', '/apis/mixmesh.io/v1alpha1/namespaces/default/meshservices', { body: { apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService', metadata: { name: 'bad' }, spec: {} } });
        assert.equal(invalid.status, 422, 'and their schema still applies');
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
