/**
 * The sandbox's Kubernetes API emulator: `startKubeEmulator()` serves a seeded "cluster with Istio"
 * over TLS on 127.0.0.1 for kubectl, @kubernetes/client-node and mixmesh's clients/kube.
 */
import { createServer, type Server } from 'node:https';
import { DEFAULT_CIPHERS } from 'node:tls';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { toYaml } from '../../common/yaml.js';
import { KubeApi, type ExtraValidator, type Faults } from './api.js';
import { Controller } from './controller.js';
import { issueServingCert, loadOrCreatePki } from './pki.js';
import { handleUpgrade } from './exec.js';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { caCertHash } from './kubeadm.js';
import { DEFAULT_CLUSTER_OPTIONS, type VirtualNodeOptions } from './workloads.js';
import { istioValidators, seed } from './seed.js';

export type { ExtraValidator, Faults, RequestCount } from './api.js';
export type { VirtualNodeOptions } from './workloads.js';
export { nodeSelectorMatches, parseQuantity, podReady, nodeReady, TAINT_UNREACHABLE } from './workloads.js';
export { ISTIO_KINDS, MESH_CONFIG } from './seed.js';
export { caCertHash, BOOTSTRAP_TOKEN } from './kubeadm.js';
export { registerExecBackend, type ExecBackend } from './exec.js';

export interface KubeEmulatorOptions {
  /** where the CA, server certificate, signing key and admin token live (default: a new temp dir, removed on stop) */
  dir?: string;
  /** default: any free port */
  port?: number;
  /** the address to listen on (default 127.0.0.1; a sandbox VM's address for `kubeadm init`), also in the server certificate */
  host?: string;
  /** how long a pod on the virtual node takes to become ready (default 1000 ms) */
  readyDelayMs?: number;
  /** the in-emulator node `sandbox-node` (default: 5000 pods of room); false: none, only joined nodes run pods; `{maxPods: 0}` or `kubectl cordon sandbox-node` make the cluster "full" */
  virtualNode?: Partial<VirtualNodeOptions> | false;
  /** a Node whose Lease is older than this goes NotReady (default 40 000 ms, as the real node-monitor-grace-period) */
  nodeMonitorGracePeriodMs?: number;
  /** pods on a NotReady node are marked for deletion after this (default 300 000 ms, the default toleration) */
  podEvictionTimeoutMs?: number;
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
  /** https://127.0.0.1:PORT (or the `host` asked for) */
  url: string;
  /** the CA that signed the server certificate */
  caPem: string;
  /** the admin bearer token */
  token: string;
  /** HOST:PORT, what `kubeadm join` takes */
  endpoint: string;
  /** kubeadm's --discovery-token-ca-cert-hash of this cluster's CA: sha256:<hex of its SubjectPublicKeyInfo> */
  caCertHash: string;
  /** a serving certificate for a node (its kubelet on :10250) signed by this cluster's CA */
  issueServingCert(nodeName: string, ips: readonly string[]): { certPem: string; keyPem: string };
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
  const host = options.host ?? '127.0.0.1';
  const pki = loadOrCreatePki(join(dir, 'pki'), [host]);
  const validators = istioValidators();
  for (const [k, v] of options.extraValidators ?? []) {
    const base = validators.get(k);
    validators.set(k, base ? (o) => [...base(o), ...v(o)] : v);
  }
  let address = `${host}:0`;
  const api = new KubeApi({ pki, extraValidators: validators, serverAddress: () => address });
  let saveTimer: NodeJS.Timeout | undefined;
  const persistFile = options.persistFile;
  const loaded = persistFile !== undefined && api.store.load(persistFile);
  if (loaded) for (const crd of api.store.list('apiextensions.k8s.io/customresourcedefinitions')) api.registerCrd(crd);
  const vn = options.virtualNode === false ? false : { ...(DEFAULT_CLUSTER_OPTIONS.virtualNode as VirtualNodeOptions), ...options.virtualNode };
  const controller = new Controller(api, {
    cluster: {
      readyDelayMs: options.readyDelayMs ?? 1000,
      virtualNode: vn,
      nodeMonitorGracePeriodMs: options.nodeMonitorGracePeriodMs ?? DEFAULT_CLUSTER_OPTIONS.nodeMonitorGracePeriodMs,
      podEvictionTimeoutMs: options.podEvictionTimeoutMs ?? DEFAULT_CLUSTER_OPTIONS.podEvictionTimeoutMs,
    },
    istioRootPem: pki.istioRootPem, kubeCaPem: pki.caPem,
  });
  // seeded first: start() picks up what exists (namespaces, Deployments), as after a reload
  if (!loaded) seed(api, { eastWestIp: options.eastWestIp ?? '127.0.0.2', ingressIp: options.ingressIp ?? '127.0.0.3' });
  controller.start();
  api.onFaultsChanged = () => controller.faultsChanged();
  if (persistFile) {
    api.onChange = () => {
      // batch a burst of writes into one file write
      saveTimer ??= setTimeout(() => { saveTimer = undefined; api.store.save(persistFile); }, 50);
    };
    api.store.save(persistFile);
  }

  // busybox wget (the node images' kubeadm) speaks TLS 1.2 with ECDHE-ECDSA-AES128-SHA256 and SHA-1
  // handshake signatures only: Node leaves the suite out and OpenSSL 3 refuses SHA-1 signatures
  // above security level 0 (measured: handshake_failure otherwise). Every other client still
  // negotiates TLS 1.3; this is a loopback test server.
  const server: Server = createServer({ key: pki.serverKeyPem, cert: pki.serverCertPem, ciphers: `${DEFAULT_CIPHERS}:ECDHE-ECDSA-AES128-SHA256:@SECLEVEL=0` }, (req, res) => { void api.handle(req, res); });
  // pods/exec over a WebSocket (exec.ts): the stream goes to the pod's node's kubelet
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => handleUpgrade({ token: pki.adminToken, address: () => address, getPod: (ns, n) => api.store.get('/pods', ns, n) }, req, socket));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => resolve());
    });
  } catch (e) {
    // nothing may keep running when the port is taken
    controller.stop();
    clearTimeout(saveTimer);
    if (ownDir) rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const port = (server.address() as AddressInfo).port;
  address = `${host}:${port}`;
  const url = `https://${address}`;

  return {
    url,
    caPem: pki.caPem,
    token: pki.adminToken,
    endpoint: address,
    caCertHash: caCertHash(pki.caPem),
    issueServingCert: (nodeName, ips) => issueServingCert(join(dir, 'pki'), `system:node:${nodeName}`, ips, [nodeName]),
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
      api.faults = { neverReady: [...faults.neverReady], ...(faults.forbid ? { forbid: faults.forbid.map((f) => ({ ...f })) } : {}), ...(faults.holdJoin ? { holdJoin: true } : {}) };
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

