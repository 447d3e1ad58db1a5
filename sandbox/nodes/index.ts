/**
 * sandbox/nodes: the node images of the sandbox (worker, worker without CRIU, control plane) and
 * the kubelets of worker VMs. `createNodeRuntime` sits beside a VM provider: the files of a VM's
 * image go in before it boots (`filesFor`), a worker VM gets its kubelet (`attach`), which waits
 * for `kubeadm join` and then runs the node. The node-stop fault powers a worker VM off.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger, type Logger } from '../../common/logger.js';
import { startKubeEmulator, type KubeEmulator } from '../kube/index.js';
import { MixmeshError } from '../../common/errors.js';
import type { LocalVmProvider, SandboxVm } from '../vms/index.js';
import type { VmFile } from '../vms/types.js';
import { adminConf, imageFiles, NODE_IMAGES, type ClusterAccess, type NodeImage } from './images.js';
import { inVm, Kubelet } from './kubelet.js';

export { CONTROL_PLANE_BARE_IMAGE, CONTROL_PLANE_IMAGE, NODE_IMAGES, WORKER_IMAGE, WORKER_NOCRIU_IMAGE, adminConf, type ClusterAccess, type NodeImage } from './images.js';
export { CRIU_SCRIPT, KUBEADM_SCRIPT } from './scripts.js';
export { inVm, type KubeletHost } from './kubelet.js';

type CertIssuer = (nodeName: string, ips: readonly string[]) => { certPem: string; keyPem: string };

/**
 * Clusters in this process, by API server URL: a kubelet joined to one of them gets its :10250
 * certificate signed by that cluster's CA (two sandbox clouds in one process reach each other).
 */
const clusters = new Map<string, CertIssuer>();

export function registerCluster(server: string, issue: CertIssuer): () => void {
  clusters.set(server, issue);
  return () => { if (clusters.get(server) === issue) clusters.delete(server); };
}

export interface NodeRuntimeOptions {
  vms: LocalVmProvider;
  /** the cluster of this cloud: what a control-plane image VM administers */
  cluster: ClusterAccess & { issueServingCert: CertIssuer };
  /** kubelet Lease/heartbeat period (default 10 000 ms, as real kubelets) */
  heartbeatMs?: number;
  /** how often a kubelet looks at its pods (default 500 ms) */
  syncMs?: number;
  /** pods a worker node takes (default 110, the kubelet's default maxPods) */
  maxPods?: number;
  log?: Logger;
}

export interface NodeInfo {
  serverId: string;
  address: string;
  image: string;
  /** set once the VM's kubeadm join made it a node */
  nodeName?: string;
  running: boolean;
}

export interface NodeRuntime {
  /** the image's files for a new VM (undefined: not a node image) */
  filesFor(image: string | undefined): VmFile[] | undefined;
  /** after a VM was created: a worker image VM gets its kubelet */
  attach(vm: SandboxVm): void;
  /** before a VM is removed */
  detach(serverId: string): Promise<void>;
  nodes(): NodeInfo[];
  /** fault: power a worker VM off (by node name or Nova server id): its processes stop, its Node goes NotReady after the grace period */
  stopNode(nodeOrServerId: string): Promise<void>;
  /** power it on again: the kubelet resumes, the Node goes Ready, its pods are started again */
  startNode(nodeOrServerId: string): Promise<void>;
  /** clusters `kubeadm init` started on bare control-plane VMs, by Nova server id */
  initClusters(): Map<string, KubeEmulator>;
  /** run a POSIX sh script inside a VM as root (tests; what an operator would do over SSH) */
  exec(serverId: string, script: string): Promise<{ code: number; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

export function imageOf(name: string | undefined): NodeImage | undefined {
  return name === undefined ? undefined : NODE_IMAGES[name];
}

export function createNodeRuntime(options: NodeRuntimeOptions): NodeRuntime {
  const log = (options.log ?? silentLogger).child({ part: 'sandbox/nodes' });
  const kubelets = new Map<string, Kubelet>();
  const unregister = registerCluster(options.cluster.server, options.cluster.issueServingCert);

  // kubeadm init on bare control-plane VMs: an emulated API server on <vm>:6443, its state kept in
  // a directory of its own, so it comes back when the VM is powered on again
  interface InitCluster { dir: string; kube?: KubeEmulator; unregister?: () => void; starting?: boolean }
  const inits = new Map<string, InitCluster>();
  const startInit = async (serverId: string, address: string, rootfs: string, c: InitCluster): Promise<void> => {
    c.starting = true;
    try {
      const kube = await startKubeEmulator({ dir: c.dir, host: address, port: 6443, persistFile: join(c.dir, 'state.json'), virtualNode: false });
      c.kube = kube;
      c.unregister = registerCluster(kube.url, (n, ips) => kube.issueServingCert(n, ips));
      if (!existsSync(join(rootfs, 'etc/kubernetes/admin.conf'))) {
        await mkdir(join(rootfs, 'etc/kubernetes/pki'), { recursive: true, mode: 0o755 });
        await writeFile(join(rootfs, 'etc/kubernetes/pki/ca.crt'), kube.caPem);
        await writeFile(join(rootfs, 'etc/kubernetes/admin.conf'), adminConf({ server: kube.url, token: kube.token, caPem: kube.caPem, caCertHash: kube.caCertHash }), { mode: 0o600 });
        await writeFile(join(rootfs, 'etc/kubernetes/pki/ca.crt.sha256'), `${kube.caCertHash}\n`);
      }
      log.info({ serverId, url: kube.url }, 'kubeadm init: API server started');
    } catch (e) {
      log.error({ err: e, serverId }, 'kubeadm init: the API server did not start');
    } finally {
      c.starting = false;
    }
  };
  const stopInit = async (c: InitCluster): Promise<void> => {
    c.unregister?.();
    const k = c.kube;
    c.kube = undefined;
    c.unregister = undefined;
    await k?.stop();
  };
  const watchInits = async (): Promise<void> => {
    for (const vm of options.vms.list()) {
      const img = imageOf(vm.image);
      if (img?.role !== 'control-plane' || !img.bare) continue;
      const running = options.vms.isRunning(vm.serverId);
      const c = inits.get(vm.serverId);
      if (!running) { if (c?.kube) await stopInit(c); continue; }
      if (c?.starting) continue;
      // kubeadm reset removed what init made and asks: the API server stops, its state goes, then the request
      const resetRequest = join(vm.rootfs, 'etc/kubernetes/.sandbox-reset-request');
      if (existsSync(resetRequest)) {
        if (c) {
          inits.delete(vm.serverId);
          await stopInit(c);
          rmSync(c.dir, { recursive: true, force: true });
          log.info({ serverId: vm.serverId }, 'kubeadm reset: API server stopped');
        }
        rmSync(resetRequest, { force: true });
        continue;
      }
      if (c?.kube) continue;
      const rootfs = vm.rootfs;
      if (c) { await startInit(vm.serverId, vm.address, rootfs, c); continue; }
      if (existsSync(join(rootfs, 'etc/kubernetes/.sandbox-init-request')) && !existsSync(join(rootfs, 'etc/kubernetes/admin.conf'))) {
        const fresh: InitCluster = { dir: mkdtempSync(join(tmpdir(), 'mixmesh-kubeadm-init-')) };
        inits.set(vm.serverId, fresh);
        await startInit(vm.serverId, vm.address, rootfs, fresh);
      }
    }
  };
  let watching = false;
  const initTimer = setInterval(() => {
    if (watching) return;
    watching = true;
    void watchInits().catch((e: unknown) => log.warn({ err: e }, 'kubeadm init watch failed')).finally(() => { watching = false; });
  }, options.syncMs ?? 500);
  initTimer.unref();

  const find = (nodeOrServerId: string): string => {
    if (options.vms.get(nodeOrServerId)) return nodeOrServerId;
    for (const [id, k] of kubelets) if (k.nodeName === nodeOrServerId) return id;
    throw new MixmeshError('NOT_FOUND', `no sandbox node or VM ${JSON.stringify(nodeOrServerId)} (nodes: ${[...kubelets.values()].map((k) => k.nodeName ?? k.host.serverId).join(', ') || 'none'})`);
  };

  return {
    filesFor(image) {
      const img = imageOf(image);
      return img ? imageFiles(img, img.role === 'control-plane' ? options.cluster : undefined) : undefined;
    },
    attach(vm) {
      const img = imageOf(vm.image);
      if (img?.role !== 'worker' || kubelets.has(vm.serverId)) return;
      const k = new Kubelet({
        serverId: vm.serverId, address: vm.address, image: img.name, criu: img.criu,
        rootfs: () => options.vms.get(vm.serverId)?.rootfs ?? '/nonexistent',
        initPid: () => options.vms.initPid(vm.serverId),
      }, {
        heartbeatMs: options.heartbeatMs ?? 10_000,
        syncMs: options.syncMs ?? 500,
        maxPods: options.maxPods ?? 110,
        servingCert: (server, nodeName, ip) => clusters.get(server)?.(nodeName, [ip]),
        log,
      });
      kubelets.set(vm.serverId, k);
      k.start();
    },
    async detach(serverId) {
      const k = kubelets.get(serverId);
      kubelets.delete(serverId);
      await k?.stop();
      const c = inits.get(serverId);
      inits.delete(serverId);
      if (c) { await stopInit(c); rmSync(c.dir, { recursive: true, force: true }); }
    },
    initClusters() {
      return new Map([...inits].flatMap(([id, c]) => (c.kube ? [[id, c.kube] as const] : [])));
    },
    nodes() {
      return options.vms.list().filter((vm) => imageOf(vm.image)).map((vm) => ({
        serverId: vm.serverId, address: vm.address, image: vm.image!, running: options.vms.isRunning(vm.serverId),
        ...(kubelets.get(vm.serverId)?.nodeName ? { nodeName: kubelets.get(vm.serverId)!.nodeName } : {}),
      }));
    },
    async stopNode(nodeOrServerId) {
      const id = find(nodeOrServerId);
      await options.vms.stop(id);
      log.info({ serverId: id }, 'node stopped (fault)');
    },
    async startNode(nodeOrServerId) {
      const id = find(nodeOrServerId);
      await options.vms.start(id);
    },
    exec(serverId, script) {
      return inVm({ initPid: () => options.vms.initPid(serverId) }, script);
    },
    async stop() {
      clearInterval(initTimer);
      unregister();
      await Promise.all([...kubelets.values()].map((k) => k.stop()));
      kubelets.clear();
      for (const c of inits.values()) { await stopInit(c); rmSync(c.dir, { recursive: true, force: true }); }
      inits.clear();
    },
  };
}
