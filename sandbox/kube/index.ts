/**
 * The sandbox's Kubernetes API emulator: `startKubeEmulator()` serves a seeded "cluster with Istio"
 * over TLS on 127.0.0.1 for kubectl, @kubernetes/client-node and mixmesh's clients/kube.
 */
import { createServer, type Server } from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { toYaml } from '../../common/yaml.js';
import { KubeApi, type ExtraValidator, type Faults } from './api.js';
import { Controller } from './controller.js';
import { loadOrCreatePki } from './pki.js';
import { istioValidators, seed } from './seed.js';

export type { ExtraValidator, Faults, RequestCount } from './api.js';
export { ISTIO_KINDS, MESH_CONFIG } from './seed.js';

export interface KubeEmulatorOptions {
  /** where the CA, server certificate, signing key and admin token live (default: a new temp dir, removed on stop) */
  dir?: string;
  /** default: any free port */
  port?: number;
  /** how long a Deployment's pods take to become ready (default 1000 ms) */
  readyDelayMs?: number;
  /** keep the state in this JSON file, so a restarted emulator keeps it */
  persistFile?: string;
  /** more validators, by "group/version/Kind" (core: "v1/Kind"); they run after the schema and add to the Istio ones */
  extraValidators?: Map<string, ExtraValidator>;
  /** status.loadBalancer.ingress[0].ip of istio-eastwestgateway (default 127.0.0.2) */
  eastWestIp?: string;
  /** the same for istio-ingressgateway (default 127.0.0.3) */
  ingressIp?: string;
}

export interface RequestCounts {
  total: number;
  /** POST, PUT, PATCH, DELETE without dryRun=All */
  writes: number;
  byVerb: Record<string, number>;
  byKind: Record<string, number>;
  entries: Array<{ verb: string; kind: string; dryRun: boolean; namespace?: string; count: number }>;
}

export interface KubeEmulator {
  /** https://127.0.0.1:PORT */
  url: string;
  /** the CA that signed the server certificate */
  caPem: string;
  /** the admin bearer token */
  token: string;
  /** the Istio root CA published as ConfigMap istio-ca-root-cert in every namespace */
  istioRootPem: string;
  /** a kubeconfig (YAML) with certificate-authority-data and the token, current-context set */
  kubeconfig(namespace?: string): string;
  requests(): RequestCounts;
  resetRequests(): void;
  setFaults(faults: Faults): void;
  stop(): Promise<void>;
}

export async function startKubeEmulator(options: KubeEmulatorOptions = {}): Promise<KubeEmulator> {
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'mixmesh-kube-'));
  const pki = loadOrCreatePki(join(dir, 'pki'));
  const validators = istioValidators();
  for (const [k, v] of options.extraValidators ?? []) {
    const base = validators.get(k);
    validators.set(k, base ? (o) => [...base(o), ...v(o)] : v);
  }
  let address = '127.0.0.1:0';
  const api = new KubeApi({ pki, extraValidators: validators, serverAddress: () => address });
  let saveTimer: NodeJS.Timeout | undefined;
  const persistFile = options.persistFile;
  const loaded = persistFile !== undefined && api.store.load(persistFile);
  if (loaded) for (const crd of api.store.list('apiextensions.k8s.io/customresourcedefinitions')) api.registerCrd(crd);
  const controller = new Controller(api, { readyDelayMs: options.readyDelayMs ?? 1000, istioRootPem: pki.istioRootPem, kubeCaPem: pki.caPem });
  controller.start();
  api.onFaultsChanged = () => controller.faultsChanged();
  if (!loaded) seed(api, { eastWestIp: options.eastWestIp ?? '127.0.0.2', ingressIp: options.ingressIp ?? '127.0.0.3' });
  if (persistFile) {
    api.onChange = () => {
      // batch a burst of writes into one file write
      saveTimer ??= setTimeout(() => { saveTimer = undefined; api.store.save(persistFile); }, 50);
    };
    api.store.save(persistFile);
  }

  const server: Server = createServer({ key: pki.serverKeyPem, cert: pki.serverCertPem }, (req, res) => { void api.handle(req, res); });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
  } catch (e) {
    // nothing may keep running when the port is taken
    controller.stop();
    clearTimeout(saveTimer);
    if (ownDir) rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const port = (server.address() as AddressInfo).port;
  address = `127.0.0.1:${port}`;
  const url = `https://${address}`;

  return {
    url,
    caPem: pki.caPem,
    token: pki.adminToken,
    istioRootPem: pki.istioRootPem,
    kubeconfig(namespace = 'default') {
      return toYaml({
        apiVersion: 'v1', kind: 'Config',
        clusters: [{ name: 'mixmesh-sandbox', cluster: { server: url, 'certificate-authority-data': Buffer.from(pki.caPem).toString('base64') } }],
        users: [{ name: 'mixmesh-sandbox-admin', user: { token: pki.adminToken } }],
        contexts: [{ name: 'mixmesh-sandbox', context: { cluster: 'mixmesh-sandbox', user: 'mixmesh-sandbox-admin', namespace } }],
        'current-context': 'mixmesh-sandbox',
        preferences: {},
      });
    },
    requests: () => api.requestCounts(),
    resetRequests: () => api.resetCounts(),
    setFaults(faults) {
      api.faults = { neverReady: [...faults.neverReady], ...(faults.forbid ? { forbid: faults.forbid.map((f) => ({ ...f })) } : {}) };
      api.onFaultsChanged();
    },
    async stop() {
      controller.stop();
      api.closeWatches();
      clearTimeout(saveTimer);
      if (persistFile) api.store.save(persistFile);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

