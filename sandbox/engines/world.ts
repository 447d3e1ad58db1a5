/**
 * The gateway's test world, composed from the sandbox parts: SSH test VMs carrying the engine
 * image (real Docker Engine, Mesos/Marathon emulator behind the stand-ins), the Kubernetes API
 * emulator (the management cluster), and on request Keystone + Tacker + Nova (their VMs get the
 * image too) and the EC2 Query API emulator (its instances are sandbox VMs).
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
import { withEngineImage, ENGINE_IMAGE } from './image.js';

const run = promisify(execFile);

export interface EngineWorld {
  dir: string;
  kube: KubeEmulator;
  kubeconfigPath: string;
  /** VMs with the engine image (bare metal hosts, and what Tacker and EC2 create) */
  vms: VmProvider;
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

export async function startEngineWorld(o: { dir: string; openstack?: boolean; ec2?: boolean; sshdDelayMs?: number; log?: Logger }): Promise<EngineWorld> {
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
    const vms = withEngineImage(base, agent, { dir: join(dir, 'engines') });
    stops.push(() => vms.removeAll());
    const kube = await startKubeEmulator({ dir: join(dir, 'kube'), readyDelayMs: 200 });
    stops.push(() => kube.stop());
    const kubeconfigPath = join(dir, 'kubeconfig');
    await writeFile(kubeconfigPath, kube.kubeconfig(), { mode: 0o600 });
    const world: EngineWorld = {
      dir, kube, kubeconfigPath, vms, base, agent, sshPrivateKey, sshPublicKey, sshKeyFile,
      engines: () => ({ docker: docker.engines.size, marathon: mesos.running() }),
      marathonTaskProcesses: () => mesos.taskProcesses(),
      stop: stopAll,
    };
    if (o.openstack) {
      const os = await startOpenStack({ dir, vmProvider: vms, keystone: 'emulated', latencies: { processingMs: 200, startingMs: 50, terminateMs: 100, sshdMs: 0 }, logger: log });
      stops.push(() => os.stop());
      world.openstack = os;
      world.cloudsYaml = join(dir, 'clouds.yaml');
      await writeFile(world.cloudsYaml, os.cloudsYaml(), { mode: 0o600 });
    }
    if (o.ec2) {
      const ec2 = await startEc2Emulator({ images: [{ name: ENGINE_IMAGE, imageId: 'ami-0e11e1e5000000001', vms }, { name: 'busybox-plain', imageId: 'ami-0e11e1e5000000002', vms: base }], log });
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
