/**
 * The validating admission webhook for MeshServices (docs/kubernetes.md): its own HTTPS listener
 * (the API server calls webhooks over HTTPS only), the ValidatingWebhookConfiguration
 * `mixmesh-meshservices` applied with our CA in `caBundle`, and the certificate: given files, or
 * made by mixmesh — a CA and a serving certificate kept in the Secret `mixmesh-webhook-tls` of the
 * system namespace, shared by every replica, re-read every `checkMs` and rotated 30 days before it
 * expires (the old CA stays in caBundle until the new pair is in use everywhere).
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { isMixmeshError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { KubeClient, KubeObject } from '../../clients/kube/index.js';
import type { WebhookConfig } from '../config.js';
import { reviewMeshService } from './review.js';
import { createCa, issueServerCert, notAfter, type KeyPairPem } from './x509.js';

export const WEBHOOK_CONFIGURATION = 'mixmesh-meshservices';
export const WEBHOOK_NAME = 'meshservices.mixmesh.io';
export const WEBHOOK_SECRET = 'mixmesh-webhook-tls';
export const WEBHOOK_PATH = '/validate/meshservices';
const ROTATE_BEFORE_MS = 30 * 86_400_000;
const MAX_BODY = 8 * 1024 * 1024;

interface Material {
  certPem: string;
  keyPem: string;
  /** every CA the API server should trust now (the new one first during a rotation) */
  caBundle: string;
}

export interface WebhookOptions {
  config: WebhookConfig;
  systemNamespace: string;
  istioVersion: string;
  kube: KubeClient;
  log: Logger;
  /** how often the Secret (or the files) is re-read; default 60 s */
  checkMs?: number;
  now?: () => Date;
}

export interface RunningWebhook {
  /** the https URL it listens on */
  url: string;
  caBundle(): string;
  stop(): Promise<void>;
}

/** the DNS names and addresses a self-made certificate covers */
function hostsFor(config: WebhookConfig, systemNamespace: string): string[] {
  const hosts = new Set<string>();
  if ('service' in config.clientConfig) {
    const { name, namespace } = config.clientConfig.service;
    hosts.add(`${name}.${namespace}.svc`).add(`${name}.${namespace}.svc.cluster.local`);
  } else hosts.add(new URL(config.clientConfig.url).hostname.replace(/^\[|\]$/g, ''));
  hosts.add(`mixmesh-webhook.${systemNamespace}.svc`);
  const h = config.listen.host;
  hosts.add(h === '0.0.0.0' || h === '::' ? '127.0.0.1' : h);
  return [...hosts];
}

function webhookConfiguration(config: WebhookConfig, caBundle: string): KubeObject {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration',
    metadata: { name: WEBHOOK_CONFIGURATION, labels: { 'app.kubernetes.io/managed-by': 'mixmesh', 'app.kubernetes.io/part-of': 'mixmesh' } },
    webhooks: [{
      name: WEBHOOK_NAME,
      admissionReviewVersions: ['v1'],
      sideEffects: 'None',
      failurePolicy: 'Fail',
      matchPolicy: 'Equivalent',
      timeoutSeconds: 10,
      rules: [{ apiGroups: ['mixmesh.io'], apiVersions: ['v1alpha1'], operations: ['CREATE', 'UPDATE'], resources: ['meshservices'], scope: 'Namespaced' }],
      clientConfig: { ...config.clientConfig, caBundle: Buffer.from(caBundle).toString('base64') },
    }],
  } as unknown as KubeObject;
}

type TlsSecret = KubeObject & { data?: Record<string, string> };
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined): string => (s ? Buffer.from(s, 'base64').toString('utf8') : '');

/** The pair in the Secret, made (or rotated) when it is missing, expiring, or does not cover `hosts`. */
async function selfMadeMaterial(o: WebhookOptions, hosts: string[]): Promise<Material> {
  const ref = { apiVersion: 'v1', kind: 'Secret', namespace: o.systemNamespace, name: WEBHOOK_SECRET };
  const now = (o.now ?? (() => new Date()))();
  for (let attempt = 0; ; attempt++) {
    const live = await o.kube.get<TlsSecret>(ref);
    const current: Material | undefined = live?.data?.['tls.crt'] ? { certPem: unb64(live.data['tls.crt']), keyPem: unb64(live.data['tls.key']), caBundle: unb64(live.data['ca-bundle.crt']) || unb64(live.data['ca.crt']) } : undefined;
    const covers = (pem: string) => { const san = new X509Certificate(pem).subjectAltName ?? ''; return hosts.every((h) => san.includes(`:${h}`) || san.includes(`:${h.toUpperCase()}`)); };
    if (current && notAfter(current.certPem).getTime() - now.getTime() > ROTATE_BEFORE_MS && covers(current.certPem)) return current;
    // make a new CA and certificate; keep trusting the old CA while other replicas still serve it
    const ca: KeyPairPem = createCa('mixmesh-webhook-ca', 3650, now);
    const cert = issueServerCert(ca, hosts, 365, now);
    const oldCa = current ? unb64(live!.data!['ca.crt']) : '';
    const next: Material = { certPem: cert.certPem, keyPem: cert.keyPem, caBundle: `${ca.certPem}${oldCa && notAfter(oldCa).getTime() > now.getTime() ? oldCa : ''}` };
    const data = { 'tls.crt': b64(next.certPem), 'tls.key': b64(next.keyPem), 'ca.crt': b64(ca.certPem), 'ca-bundle.crt': b64(next.caBundle) };
    try {
      if (live) await o.kube.replace({ ...live, data } as KubeObject);
      else await o.kube.create({ apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name: WEBHOOK_SECRET, namespace: o.systemNamespace, labels: { 'app.kubernetes.io/managed-by': 'mixmesh', 'app.kubernetes.io/part-of': 'mixmesh' } }, data } as KubeObject);
      o.log.info({ secret: `${o.systemNamespace}/${WEBHOOK_SECRET}`, expires: notAfter(next.certPem).toISOString(), rotated: current !== undefined }, 'webhook certificate made');
      return next;
    } catch (e) {
      // another replica wrote it first (409): read theirs
      if (attempt < 3 && isMixmeshError(e) && [409].includes(Number(e.details?.httpStatus))) continue;
      throw e;
    }
  }
}

function fileMaterial(files: NonNullable<WebhookConfig['certFiles']>): Material {
  return { certPem: readFileSync(files.certFile, 'utf8'), keyPem: readFileSync(files.keyFile, 'utf8'), caBundle: readFileSync(files.caFile, 'utf8') };
}

export async function startWebhook(o: WebhookOptions): Promise<RunningWebhook> {
  const log = o.log.child({ part: 'webhook' });
  const hosts = hostsFor(o.config, o.systemNamespace);
  const load = async (): Promise<Material> => (o.config.certFiles ? fileMaterial(o.config.certFiles) : selfMadeMaterial(o, hosts));
  let material = await load();
  let context: SecureContext = createSecureContext({ cert: material.certPem, key: material.keyPem });
  const server: Server = createServer({ cert: material.certPem, key: material.keyPem, SNICallback: (_name, cb) => cb(null, context) }, (req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== WEBHOOK_PATH) return reply(404, { error: `no route ${req.method ?? ''} ${req.url ?? ''}` });
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      let review: unknown;
      try { review = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { return reply(400, { error: 'the body is not JSON' }); }
      const answer = reviewMeshService(review, { istioVersion: o.istioVersion });
      log.debug({ uid: answer.response.uid, allowed: answer.response.allowed }, 'admission review');
      reply(200, answer);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.config.listen.port, o.config.listen.host, () => { server.off('error', reject); resolve(); });
  });
  const port = (server.address() as AddressInfo).port;
  // a configured port 0 (tests) becomes the real one in the URL the API server is given
  const config: WebhookConfig = 'url' in o.config.clientConfig ? { ...o.config, clientConfig: { url: o.config.clientConfig.url.replace(/:0\//, `:${port}/`) } } : o.config;
  const register = () => o.kube.apply([webhookConfiguration(config, material.caBundle)]);
  try {
    await register();
  } catch (e) {
    server.close();
    throw e;
  }
  const timer = setInterval(() => {
    load().then(async (next) => {
      if (next.certPem === material.certPem && next.caBundle === material.caBundle) return;
      material = next;
      context = createSecureContext({ cert: next.certPem, key: next.keyPem });
      server.setSecureContext({ cert: next.certPem, key: next.keyPem });
      await register();
      log.info({ expires: notAfter(next.certPem).toISOString() }, 'webhook certificate reloaded');
    }).catch((e: unknown) => log.warn({ err: e }, 'webhook certificate check failed; retrying at the next check'));
  }, o.checkMs ?? 60_000);
  timer.unref();
  const host = o.config.listen.host.includes(':') ? `[${o.config.listen.host}]` : o.config.listen.host;
  log.info({ port, clientConfig: config.clientConfig }, 'admission webhook serving');
  return {
    url: `https://${host}:${port}${WEBHOOK_PATH}`,
    caBundle: () => material.caBundle,
    stop: async () => {
      clearInterval(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
