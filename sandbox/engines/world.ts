/**
 * The gateway's test world, composed from the sandbox parts: SSH test VMs that boot the image they
 * are created with — an engine image (real Docker Engine, Mesos/Marathon emulator behind the
 * stand-ins: `mixmesh-engines`, `mixmesh-sandbox-swarm`, `mixmesh-sandbox-mesos`) or a node image
 * (`kubeadm` stand-ins: `mixmesh-sandbox-control-plane-bare`, where `kubeadm init` starts a cluster,
 * and `mixmesh-sandbox-worker`, whose kubelet runs pods after `kubeadm join`; sandbox/nodes), or
 * none (busybox + OpenSSH only) — the Kubernetes API emulator (the management cluster), and on
 * request Keystone + Tacker + Nova (one VNF package per image: its VNFD's sw_image_data is what the
 * server boots) and the EC2 Query API emulator (one AMI per image; its instances are sandbox VMs).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { silentLogger, type Logger } from '../../common/logger.js';
import { startKubeEmulator, type KubeEmulator } from '../kube/index.js';
import { startOpenStack, type OpenStackSandbox } from '../openstack/index.js';
import { checkHostTools, checkPort22, createLocalVmProvider, type LocalVmProvider, type SandboxVm, type VmProvider } from '../vms/index.js';
import { startEc2Emulator, type Ec2Emulator } from '../ec2/index.js';
import { marathonHandlers } from '../marathon/index.js';
import { dockerdHandler } from '../swarm/index.js';
import { startEngineAgent, type EngineAgent } from './agent.js';
import { createNodeRuntime, CONTROL_PLANE_BARE_IMAGE, WORKER_IMAGE, type NodeRuntime } from '../nodes/index.js';
import { CONTROL_PLANE_BARE_VNFD_ID, WORKER_VNFD_ID } from '../openstack/index.js';
import { withEngineImage, ENGINE_IMAGE, MESOS_IMAGE, SWARM_IMAGE } from './image.js';

/** the VNF packages of the engine images (their VNFD's sw_image_data names the image) */
export const ENGINES_VNFD_ID = '6a4b5a1e-0000-4000-8000-000000000e01';
export const SWARM_VNFD_ID = '6a4b5a1e-0000-4000-8000-000000000e02';
export const MESOS_VNFD_ID = '6a4b5a1e-0000-4000-8000-000000000e03';
const ENGINE_PACKAGES = [
  { id: '6a4b5a1e-0000-4000-8000-000000000ea1', vnfdId: ENGINES_VNFD_ID, productName: ENGINE_IMAGE, image: ENGINE_IMAGE },
  { id: '6a4b5a1e-0000-4000-8000-000000000ea2', vnfdId: SWARM_VNFD_ID, productName: SWARM_IMAGE, image: SWARM_IMAGE },
  { id: '6a4b5a1e-0000-4000-8000-000000000ea3', vnfdId: MESOS_VNFD_ID, productName: MESOS_IMAGE, image: MESOS_IMAGE },
];
/** the VNF package per orchestrator and role in this world (the gateway's `openstack.images`) */
export const WORLD_VNFDS = { swarm: SWARM_VNFD_ID, marathon: MESOS_VNFD_ID, kubernetes: { manager: CONTROL_PLANE_BARE_VNFD_ID, worker: WORKER_VNFD_ID } } as const;
/** the image per orchestrator and role in this world (EC2 AMI names, bare-metal inventory marks) */
export const WORLD_IMAGES = { swarm: SWARM_IMAGE, marathon: MESOS_IMAGE, kubernetes: { manager: CONTROL_PLANE_BARE_IMAGE, worker: WORKER_IMAGE } } as const;
/** the EC2 AMIs of this world, by image name */
export const WORLD_AMIS: Readonly<Record<string, string>> = {
  [ENGINE_IMAGE]: 'ami-0e11e1e5000000001', 'busybox-plain': 'ami-0e11e1e5000000002', [SWARM_IMAGE]: 'ami-0e11e1e5000000003',
  [MESOS_IMAGE]: 'ami-0e11e1e5000000004', [CONTROL_PLANE_BARE_IMAGE]: 'ami-0e11e1e5000000005', [WORKER_IMAGE]: 'ami-0e11e1e5000000006',
};

const run = promisify(execFile);

export interface EngineWorld {
  dir: string;
  kube: KubeEmulator;
  kubeconfigPath: string;
  /** VMs that boot the image they are created with (bare metal hosts, and what Tacker and EC2 create) */
  vms: VmProvider;
  /** the node images' runtime: kubelets of worker VMs, clusters `kubeadm init` started */
  nodes: NodeRuntime;
  base: LocalVmProvider;
  agent: EngineAgent;
  openstack?: OpenStackSandbox;
  cloudsYaml?: string;
  ec2?: Ec2Emulator;
  sshPrivateKey: string;
  sshPublicKey: string;
  sshKeyFile: string;
  /** engines running now (dockerd per VM, Mesos/Marathon emulators) */
  engines(): { docker: number; marathon: number };
  /** Marathon task processes alive in the VMs */
  marathonTaskProcesses(): number;
  stop(): Promise<void>;
}

export async function startEngineWorld(o: { dir: string; openstack?: boolean; ec2?: boolean; sshdDelayMs?: number; log?: Logger; nodes?: { heartbeatMs?: number; syncMs?: number } }): Promise<EngineWorld> {
  checkHostTools();
  await checkPort22();
  const log = o.log ?? silentLogger;
  const dir = resolve(o.dir);
  await mkdir(join(dir, 'ssh'), { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const sshKeyFile = join(dir, 'ssh', 'id_ed25519');
  if (!existsSync(sshKeyFile)) await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'mixmesh-gateway', '-f', sshKeyFile]);
  const sshPrivateKey = await readFile(sshKeyFile, 'utf8');
  const sshPublicKey = (await readFile(`${sshKeyFile}.pub`, 'utf8')).trim();
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const s of stops.splice(0).reverse()) await s().catch((e: unknown) => log.warn({ err: e }, 'world stop step failed'));
  };
  try {
    const base = await createLocalVmProvider({ dir, authorizedKeys: [sshPublicKey], sshdDelayMs: o.sshdDelayMs ?? 0, log });
    stops.push(() => base.removeAll());
    const agent = await startEngineAgent({ log });
    stops.push(() => agent.stop());
    const docker = dockerdHandler({ log });
    agent.register('dockerd', docker);
    const mesos = marathonHandlers({ log });
    for (const [name, h] of Object.entries(mesos.handlers)) agent.register(name, h);
    const engineVms = withEngineImage(base, agent, { dir: join(dir, 'engines') });
    stops.push(() => engineVms.removeAll());
    const kube = await startKubeEmulator({ dir: join(dir, 'kube'), readyDelayMs: 200 });
    stops.push(() => kube.stop());
    const nodes = createNodeRuntime({
      vms: base, log, heartbeatMs: o.nodes?.heartbeatMs ?? 1000, syncMs: o.nodes?.syncMs ?? 300,
      cluster: { server: kube.url, token: kube.token, caPem: kube.caPem, caCertHash: kube.caCertHash, issueServingCert: (n, ips) => kube.issueServingCert(n, ips) },
    });
    // first the kubelets and kubeadm clusters, then the VMs (stops run in reverse)
    stops.push(() => nodes.stop());
    // a VM boots its image: a node image's files and kubelet, an engine image's stand-ins, or nothing more
    const vms: VmProvider = {
      async create(options) {
        const files = nodes.filesFor(options.image);
        if (!files) return engineVms.create(options);
        const vm = await base.create({ ...options, files: [...(options.files ?? []), ...files] });
        nodes.attach(vm);
        return vm;
      },
      async remove(serverId) {
        await nodes.detach(serverId);
        await engineVms.remove(serverId);
      },
      list: () => base.list(),
      async removeAll() {
        for (const vm of base.list()) await nodes.detach(vm.serverId);
        await engineVms.removeAll();
      },
    };
    stops.push(() => vms.removeAll());
    /** the same provider, every VM booting `image` (an EC2 AMI) */
    const booting = (image: string): VmProvider => ({ ...vms, create: (options) => vms.create({ ...options, image }) });
    const kubeconfigPath = join(dir, 'kubeconfig');
    await writeFile(kubeconfigPath, kube.kubeconfig(), { mode: 0o600 });
    const world: EngineWorld = {
      dir, kube, kubeconfigPath, vms, nodes, base, agent, sshPrivateKey, sshPublicKey, sshKeyFile,
      engines: () => ({ docker: docker.engines.size, marathon: mesos.running() }),
      marathonTaskProcesses: () => mesos.taskProcesses(),
      stop: stopAll,
    };
    if (o.openstack) {
      const os = await startOpenStack({ dir, vmProvider: vms, keystone: 'emulated', latencies: { processingMs: 200, startingMs: 50, terminateMs: 100, sshdMs: 0 }, seedNodeImages: true, seedImagePackages: ENGINE_PACKAGES, logger: log });
      stops.push(() => os.stop());
      world.openstack = os;
      world.cloudsYaml = join(dir, 'clouds.yaml');
      await writeFile(world.cloudsYaml, os.cloudsYaml(), { mode: 0o600 });
    }
    if (o.ec2) {
      const ec2 = await startEc2Emulator({ images: Object.entries(WORLD_AMIS).map(([name, imageId]) => ({ name, imageId, vms: name === 'busybox-plain' ? base : booting(name) })), log });
      stops.push(() => ec2.stop());
      world.ec2 = ec2;
    }
    return world;
  } catch (e) {
    await stopAll();
    throw e;
  }
}

export type { SandboxVm };
