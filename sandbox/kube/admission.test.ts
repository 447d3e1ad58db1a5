/**
 * The emulator calls validating admission webhooks like the API server: HTTPS only, the server
 * certificate checked against caBundle, AdmissionReview v1 with the object as it would be stored,
 * dry runs only to side-effect-free webhooks, failurePolicy Fail / Ignore, and CEL rules of CRDs.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { isMixmeshError } from '../../common/errors.js';
import { silentLogger } from '../../common/logger.js';
import { KubeClient, loadKubeConfig, type KubeObject } from '../../clients/kube/index.js';
import { createCa, issueServerCert } from '../../orchestrator/webhook/x509.js';
import { startKubeEmulator, type KubeEmulator } from './index.js';

describe('sandbox/kube admission webhooks and CRD CEL rules', function () {
  this.timeout(30_000);
  let emu: KubeEmulator;
  let kube: KubeClient;
  let server: Server;
  let port: number;
  let dir: string;
  const reviews: Record<string, unknown>[] = [];
  const ca = createCa('test-webhook-ca');
  const cert = issueServerCert(ca, ['127.0.0.1']);
  const otherCa = createCa('someone-else');

  const hook = (o: { caBundle?: string; url?: string; sideEffects?: string; failurePolicy?: string }): KubeObject => ({
    apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: { name: 'deny-red' },
    webhooks: [{
      name: 'deny-red.example.com', admissionReviewVersions: ['v1'], sideEffects: o.sideEffects ?? 'None', failurePolicy: o.failurePolicy ?? 'Fail',
      rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['configmaps'], scope: 'Namespaced' }],
      clientConfig: { url: o.url ?? `https://127.0.0.1:${port}/validate`, caBundle: Buffer.from(o.caBundle ?? ca.certPem).toString('base64') },
    }],
  } as unknown as KubeObject);
  const cm = (name: string, colour: string): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: { colour } } as unknown as KubeObject);
  const httpStatus = (e: unknown): number | undefined => (isMixmeshError(e) ? Number(e.details?.httpStatus) : undefined);

  before(async () => {
    emu = await startKubeEmulator();
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-admission-'));
    writeFileSync(join(dir, 'kubeconfig'), emu.kubeconfig());
    kube = new KubeClient(loadKubeConfig({ path: join(dir, 'kubeconfig') }), silentLogger);
    server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { request: { uid: string; object: { data: { colour: string } } } };
        reviews.push(review as unknown as Record<string, unknown>);
        const red = review.request.object.data.colour === 'red';
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: !red, ...(red ? { status: { code: 403, reason: 'Forbidden', message: '/data/colour: red is not allowed' } } : {}) } }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    kube?.close();
    server?.close();
    await emu?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('asks the webhook over HTTPS with the caBundle, and refuses what it denies (also as a dry run)', async () => {
    await kube.apply([hook({})]);
    await kube.create(cm('blue', 'blue'));
    const review = reviews.at(-1) as { apiVersion: string; request: { operation: string; dryRun: boolean; object: { metadata: { name: string } } } };
    assert.equal(review.apiVersion, 'admission.k8s.io/v1');
    assert.equal(review.request.operation, 'CREATE');
    assert.equal(review.request.object.metadata.name, 'blue');
    for (const dryRun of [true, false]) {
      await assert.rejects(kube.create(cm('red', 'red'), { dryRun }), (e) => httpStatus(e) === 403 && /admission webhook "deny-red.example.com" denied the request: \/data\/colour: red is not allowed/.test((e as Error).message));
      assert.equal((reviews.at(-1) as { request: { dryRun: boolean } }).request.dryRun, dryRun);
    }
    assert.equal(await kube.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'default', name: 'red' }), undefined);
    // an update is reviewed with the old object
    await assert.rejects(kube.mergePatch({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'default', name: 'blue' }, { data: { colour: 'red' } }), (e) => httpStatus(e) === 403);
    assert.equal((reviews.at(-1) as { request: { operation: string; oldObject: { data: { colour: string } } } }).request.oldObject.data.colour, 'blue');
  });

  it('a certificate the caBundle does not vouch for fails closed (Fail) or open (Ignore); plain http is never called', async () => {
    await kube.apply([hook({ caBundle: otherCa.certPem })]);
    const before = reviews.length;
    await assert.rejects(kube.create(cm('green', 'green')), (e) => httpStatus(e) === 500 && /failed calling webhook "deny-red.example.com"/.test((e as Error).message));
    assert.equal(reviews.length, before, 'no review reached a server the caBundle does not trust');
    await kube.apply([hook({ caBundle: otherCa.certPem, failurePolicy: 'Ignore' })]);
    await kube.create(cm('green', 'green'));
    await kube.apply([hook({ url: `http://127.0.0.1:${port}/validate` })]);
    await assert.rejects(kube.create(cm('plain', 'blue')), (e) => httpStatus(e) === 500 && /not https/.test((e as Error).message));
  });

  it('a webhook with side effects refuses dry runs', async () => {
    await kube.apply([hook({ sideEffects: 'Some' })]);
    await assert.rejects(kube.create(cm('dry', 'blue'), { dryRun: true }), (e) => httpStatus(e) === 400 && /does not support dry run/.test((e as Error).message));
    await kube.delete({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', name: 'deny-red' });
  });

  it('checks a CRD\'s x-kubernetes-validations on custom resources, at the rule\'s fieldPath', async () => {
    await kube.apply([{
      apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'widgets.example.com' },
      spec: {
        group: 'example.com', scope: 'Namespaced', names: { kind: 'Widget', plural: 'widgets', singular: 'widget', listKind: 'WidgetList' },
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: {
          type: 'object', properties: { min: { type: 'integer' }, max: { type: 'integer' } },
          'x-kubernetes-validations': [{ rule: 'self.min <= self.max', message: 'min must not exceed max', fieldPath: '.min' }],
        } } } } }],
      },
    } as unknown as KubeObject]);
    const widget = (min: number, max: number): KubeObject => ({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: `w-${min}-${max}`, namespace: 'default' }, spec: { min, max } } as unknown as KubeObject);
    for (let i = 0; ; i++) {
      try {
        await kube.create(widget(1, 2));
        break;
      } catch (e) {
        if (i > 50) throw e; // the CRD is being established
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await assert.rejects(kube.create(widget(3, 2)), (e) => httpStatus(e) === 422 && /spec\.min: Invalid value: "object": min must not exceed max/.test((e as Error).message));
  });
});
