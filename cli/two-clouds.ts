/**
 * Two sandbox clouds for the migration tests, the benchmark and `mixmesh demo migrate`: the source cluster is "full" (only its one joined
 * worker runs pods), the target has a control-plane VM made by its Tacker. A node backup of the
 * source worker goes to a store both clouds reach.
 */
import { createHash, createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../common/logger.js';
import { KubeClient, KubeletClient, PodExecClient, loadKubeConfig, type KubeObject } from '../clients/kube/index.js';
import { createOpenStackClient, validateConfig, type OpenStackClient } from '../clients/openstack/index.js';
import { connectSsh } from '../clients/ssh/index.js';
import { generateStoreKeys, KubeletCheckpointer, KubeNodeResolver, openStore, parseKek, runBackup, SshNodeAccess, type Manifest, type ObjectStore, type StoreKeys } from '../backup/index.js';
import { CONTROL_PLANE_VNFD_ID, WORKER_VNFD_ID, startClouds, type Sandbox } from '../sandbox/index.js';
import type { Target } from '../migrate/engine.js';

export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 120_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (let delay = 50; ; delay = Math.min(delay * 2, 500)) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

export interface Cloud { sandbox: Sandbox; os: OpenStackClient; kube: KubeClient }

export function cloud(sandbox: Sandbox): Cloud {
  return {
    sandbox,
    os: createOpenStackClient(validateConfig({ authUrl: sandbox.openstack.authUrl, ...sandbox.openstack.credentials }, 'test')),
    kube: new KubeClient(loadKubeConfig(sandbox.paths.kubeconfig)),
  };
}

/** the cloud's Tacker fault route (null clears every fault) */
export async function faults(c: Cloud, body: Record<string, unknown> | null): Promise<void> {
  const res = await fetch(`${c.sandbox.openstack.adminUrl}/faults`, {
    method: body === null ? 'DELETE' : 'POST',
    headers: { authorization: `Bearer ${c.sandbox.openstack.adminToken}`, 'content-type': 'application/json' },
    ...(body === null ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`faults: ${res.status} ${await res.text()}`);
}

export function knownKeys(c: Cloud, address: string): string[] {
  return readFileSync(c.sandbox.paths.knownHosts, 'utf8').split('\n').filter((l) => l.startsWith(`${address} `)).map((l) => l.slice(address.length + 1));
}

export async function instantiate(c: Cloud, vnfdId: string, name: string): Promise<{ address: string; serverId: string; id: string }> {
  const vnf = await c.os.tacker.createVnfInstance({ vnfdId, vnfInstanceName: name });
  const op = await c.os.tacker.instantiate(vnf.id, { flavourId: 'simple' });
  await c.os.tacker.waitForOperation(op, { timeoutMs: 60_000 });
  const inst = await c.os.tacker.getVnfInstance(vnf.id);
  const serverId = inst.instantiatedVnfInfo!.vnfcResourceInfo![0]!.computeResource.resourceId;
  const server = await c.os.nova.getServer(serverId);
  return { address: Object.values(server.addresses).flat()[0]!.addr, serverId, id: vnf.id };
}

export async function ssh(c: Cloud, address: string, command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const shell = await connectSsh({ host: address, username: 'root', privateKey: c.sandbox.sshPrivateKey, hostKey: { expected: knownKeys(c, address) } });
  try {
    return await shell.exec(command, { allowFailure: true });
  } finally {
    await shell.close();
  }
}

export async function joinWorker(c: Cloud, cpAddress: string, node: string): Promise<string> {
  const worker = await instantiate(c, WORKER_VNFD_ID, node);
  const tok = await ssh(c, cpAddress, 'kubeadm token create --print-join-command --ttl 1h');
  if (tok.code !== 0) throw new Error(tok.stderr);
  const joined = await ssh(c, worker.address, `${tok.stdout.trim()} --node-name ${node}`);
  if (joined.code !== 0) throw new Error(joined.stderr);
  await until(`${node} Ready`, async () => {
    const n = await c.kube.get<KubeObject & { status?: { conditions?: Array<{ type: string; status: string }> } }>({ apiVersion: 'v1', kind: 'Node', name: node });
    return n?.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True');
  });
  return worker.address;
}

export function testKeys(): StoreKeys {
  const g = generateStoreKeys();
  return { kek: parseKek(g.kek.toString('base64')), signingKey: createPrivateKey(g.signingKeyPem), publicKey: createPublicKey(g.publicKeyPem) };
}

export interface TwoClouds {
  dir: string;
  source: Cloud;
  target: Cloud;
  store: ObjectStore;
  keys: StoreKeys;
  nodes: SshNodeAccess;
  targetCp: { address: string };
  targetOf(): Target;
  backupNode(name: string, node: string, namespaces?: string[]): Promise<Manifest>;
  stop(): Promise<void>;
}

export async function startTwoClouds(dir: string): Promise<TwoClouds> {
  const [a, b] = await startClouds({
    dir, keystone: 'emulated',
    latencies: { startingMs: 20, processingMs: 50, terminateMs: 20, sshdMs: 50, podReadyMs: 50 },
    kube: { nodeMonitorGracePeriodMs: 3000, podEvictionTimeoutMs: 1500 },
    nodes: { heartbeatMs: 300, syncMs: 150 },
    perCloud: [{ kube: { virtualNode: false, nodeMonitorGracePeriodMs: 3000, podEvictionTimeoutMs: 1500 } }, { kube: { virtualNode: false, nodeMonitorGracePeriodMs: 3000, podEvictionTimeoutMs: 1500 } }],
  });
  const source = cloud(a!);
  const target = cloud(b!);
  const store = openStore({ url: `file://${join(dir, 'store')}` });
  const keys = testKeys();
  const nodes = new SshNodeAccess();
  const cp = await instantiate(target, CONTROL_PLANE_VNFD_ID, 'target-cp');
  return {
    dir, source, target, store, keys, nodes, targetCp: { address: cp.address },
    targetOf: () => ({
      name: 'cloud-2',
      kube: target.kube,
      tacker: target.os.tacker,
      nova: target.os.nova,
      worker: { vnfdId: WORKER_VNFD_ID, flavourId: 'simple', user: 'root', privateKey: target.sandbox.sshPrivateKey },
      controlPlane: { host: cp.address, user: 'root', privateKey: target.sandbox.sshPrivateKey, hostKeys: knownKeys(target, cp.address) },
      store,
      checkpointer: new KubeletCheckpointer(target.kube, new KubeletClient(loadKubeConfig(target.sandbox.paths.kubeconfig))),
      podExec: new PodExecClient(loadKubeConfig(target.sandbox.paths.kubeconfig)),
    }),
    async backupNode(name, node, namespaces) {
      return runBackup({
        kube: source.kube, store, keys, nodes,
        // container state through the source kubelets' checkpoint API, while the node lives
        checkpointer: new KubeletCheckpointer(source.kube, new KubeletClient(loadKubeConfig(source.sandbox.paths.kubeconfig))),
        resolver: new KubeNodeResolver(source.kube, { user: 'root', privateKey: source.sandbox.sshPrivateKey, knownHosts: readFileSync(source.sandbox.paths.knownHosts, 'utf8') }),
      }, { name, selection: { node, ...(namespaces ? { namespaces } : {}) } });
    },
    async stop() {
      await nodes.close();
      source.kube.close();
      target.kube.close();
      await Promise.all([source.sandbox.stop(), target.sandbox.stop()]);
      store.close();
    },
  };
}

export interface CloudOrchestrator {
  url: string;
  /** the admin token of its API */
  token: string;
  kube: KubeClient;
  api(method: string, path: string, body?: string, type?: string): Promise<{ status: number; json: Record<string, unknown>; text: string }>;
  stop(): Promise<void>;
}

/**
 * A mixmesh orchestrator (`mixmesh serve`'s stack, in this process) on one sandbox cloud: its
 * cluster, its Keystone + Tacker, sidecar packages built once into `artifacts` (shared by both clouds).
 */
export async function startOrchestrator(c: Cloud, dir: string, options: { artifacts: string; log?: Logger; env?: Record<string, string> }): Promise<CloudOrchestrator> {
  const { loadConfig, startStack } = await import('../orchestrator/index.js');
  const { silentLogger } = await import('../common/logger.js');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const token = randomBytes(18).toString('base64url');
  writeFileSync(join(dir, 'tokens.yaml'), `- {name: admin, role: admin, sha256: ${createHash('sha256').update(token).digest('hex')}}\n`, { mode: 0o600 });
  const env = {
    KUBECONFIG: c.sandbox.paths.kubeconfig, MIXMESH_TOKENS_FILE: join(dir, 'tokens.yaml'), OS_CLOUD: 'sandbox', OS_CLIENT_CONFIG_FILE: c.sandbox.paths.cloudsYaml,
    MIXMESH_SIDECAR_ARTIFACTS: options.artifacts, MIXMESH_LISTEN: '127.0.0.1:0', MIXMESH_INJECTOR_LISTEN: '127.0.0.1:0', MIXMESH_INJECTOR_TOKEN: randomBytes(18).toString('base64url'),
    ...options.env,
  };
  const stack = await startStack({ config: loadConfig({ env, cwd: dir, home: dir }), log: options.log ?? silentLogger, settings: { tackerPollMs: 300, readyPollMs: 50, resyncSeconds: 3600, backupPollMs: 200 } });
  return {
    url: stack.url, token, kube: stack.kube as unknown as KubeClient,
    async api(method, path, body, type = 'application/yaml') {
      const res = await fetch(stack.url + path, { method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': type } : {}) }, ...(body !== undefined ? { body } : {}) });
      const text = await res.text();
      let json: Record<string, unknown> = {};
      try { json = JSON.parse(text) as Record<string, unknown>; } catch { /* not JSON */ }
      return { status: res.status, json, text };
    },
    stop: () => stack.stop(),
  };
}

/** The stand-in Istio sidecar packages the orchestrators install into VMs (built once, cached under `cache`). */
export async function sidecarArtifacts(dir: string, cache: string): Promise<string> {
  const { buildSidecarPackage } = await import('../sandbox/sidecar-package/index.js');
  const { copyFileSync, linkSync, rmSync } = await import('node:fs');
  const version = '1.30.3';
  mkdirSync(dir, { recursive: true });
  for (const format of ['deb', 'rpm', 'tar'] as const) {
    const pkg = await buildSidecarPackage({ format, version, outDir: cache });
    const target = join(dir, `istio-sidecar-${version}.${format === 'tar' ? 'tar.gz' : format}`);
    rmSync(target, { force: true });
    try { linkSync(pkg.path, target); } catch { copyFileSync(pkg.path, target); }
  }
  return dir;
}

/** A service backup on the source cloud (its VMs' host keys from the source's Nova console). */
export async function backupService(w: TwoClouds, name: string, namespace: string, service: string): Promise<Manifest> {
  const { parseConsoleHostKeys } = await import('../clients/ssh/index.js');
  return runBackup({
    kube: w.source.kube, store: w.store, keys: w.keys, nodes: w.nodes,
    resolver: new KubeNodeResolver(w.source.kube, { user: 'root', privateKey: w.source.sandbox.sshPrivateKey, knownHosts: readFileSync(w.source.sandbox.paths.knownHosts, 'utf8') }, async (serverId) => parseConsoleHostKeys(await w.source.os.nova.getConsoleOutput(serverId))),
  }, { name, selection: { service: { namespace, name: service } } });
}
