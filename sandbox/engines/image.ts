/**
 * The engine image: what a sandbox VM made from image `mixmesh-engines` (Nova image name, EC2 AMI
 * name, or a bare-metal host "installed" with it) carries besides busybox + OpenSSH — the stand-in
 * commands of Docker Engine, Mesos and Marathon, each keeping the real command line and handing
 * it to the engine agent (agent.ts). `withEngineImage(provider, agent)` is a VmProvider whose new
 * VMs get the image and whose removed VMs lose their engines first.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CreateVmOptions, SandboxVm, VmProvider } from '../vms/index.js';
import { hostnameFor } from '../vms/index.js';
import type { EngineAgent } from './agent.js';

/** every engine's stand-ins (the bare-metal hosts of the tests, the EC2 AMI of the same name) */
export const ENGINE_IMAGE = 'mixmesh-engines';
/** Docker Engine only (`dockerd`, `docker`) */
export const SWARM_IMAGE = 'mixmesh-sandbox-swarm';
/** Mesos and Marathon only (`mesos-master`, `mesos-agent`, `marathon`) */
export const MESOS_IMAGE = 'mixmesh-sandbox-mesos';
/** the engine images and the stand-ins each carries */
export const ENGINE_IMAGES: Readonly<Record<string, readonly string[]>> = {
  [ENGINE_IMAGE]: ['docker', 'dockerd', 'mesos-master', 'mesos-agent', 'marathon'],
  [SWARM_IMAGE]: ['docker', 'dockerd'],
  [MESOS_IMAGE]: ['mesos-master', 'mesos-agent', 'marathon'],
};

/** the shared part of every stand-in: send argv to the agent, print its answer, exit with its code */
function standIn(action: 'exec' | 'start', name: string, foreground: boolean): string {
  return [
    '#!/bin/sh',
    `# sandbox stand-in for ${name}: the real or emulated engine runs on the sandbox host for this VM`,
    '. /etc/mixmesh-sandbox/agent.env',
    'args=""',
    'for a in "$@"; do args="$args $(printf %s "$a" | base64 -w 0)"; done',
    'out=$(mktemp)',
    `if ! wget -q -O "$out" --post-data "$args" "$AGENT_URL/vm/$AGENT_TOKEN/${action}/${name}" 2>/dev/null; then echo "${name}: the sandbox engine agent did not answer" >&2; rm -f "$out"; exit 1; fi`,
    'code=$(sed -n 1p "$out")',
    'o=$(sed -n 2p "$out"); [ "$o" = - ] || printf %s "$o" | base64 -d',
    'e=$(sed -n 3p "$out"); [ "$e" = - ] || printf %s "$e" | base64 -d >&2',
    'rm -f "$out"',
    ...(foreground
      ? [
        '[ "$code" = 0 ] || exit "$code"',
        '# a daemon stays in the foreground until stopped; its engine stops with it',
        `trap 'wget -q -O /dev/null --post-data "" "$AGENT_URL/vm/$AGENT_TOKEN/stop/${name}" 2>/dev/null; exit 0' TERM INT`,
        'while :; do sleep 86400 & wait $!; done',
      ]
      : ['exit "$code"']),
    '',
  ].join('\n');
}

export const STAND_INS: Record<string, string> = {
  docker: standIn('exec', 'docker', false),
  dockerd: standIn('start', 'dockerd', true),
  'mesos-master': standIn('start', 'mesos-master', true),
  'mesos-agent': standIn('start', 'mesos-agent', true),
  marathon: standIn('start', 'marathon', true),
};

async function mkdirModes(root: string, rel: string): Promise<void> {
  let path = root;
  for (const part of rel.split('/')) {
    path = join(path, part);
    await mkdir(path, { recursive: true, mode: 0o755 });
    await chmod(path, 0o755);
  }
}

/** write the image's files into a VM root (the merged root while it runs, else its upper layer) */
export async function installEngineImage(rootfs: string, agentUrl: string, token: string, image = ENGINE_IMAGE): Promise<void> {
  const commands = ENGINE_IMAGES[image];
  if (!commands) throw new Error(`${image} is not an engine image (${Object.keys(ENGINE_IMAGES).join(', ')})`);
  await mkdirModes(rootfs, 'usr/local/bin');
  await mkdirModes(rootfs, 'etc/mixmesh-sandbox');
  await writeFile(join(rootfs, 'etc/mixmesh-sandbox/agent.env'), `AGENT_URL=${agentUrl}\nAGENT_TOKEN=${token}\n`, { mode: 0o600 });
  await writeFile(join(rootfs, 'etc/mixmesh-sandbox/image'), `${image}\n`, { mode: 0o644 });
  for (const [name, text] of Object.entries(STAND_INS).filter(([n]) => commands.includes(n))) {
    await writeFile(join(rootfs, 'usr/local/bin', name), text, { mode: 0o755 });
    await chmod(join(rootfs, 'usr/local/bin', name), 0o755);
  }
}

/**
 * VMs with an engine image (engine state under o.dir/<10 hex>: unix socket paths stay short): the
 * image `imageFor(options)` names (default: the VM's own `image` when it is an engine image, else
 * none — a VM boots the image it was asked for).
 */
export function withEngineImage(provider: VmProvider, agent: EngineAgent, o: { dir: string; imageFor?: (options: CreateVmOptions) => string | undefined }): VmProvider {
  const imageFor = o.imageFor ?? ((options: CreateVmOptions) => (options.image && ENGINE_IMAGES[options.image] ? options.image : undefined));
  return {
    async create(options) {
      const image = imageFor(options);
      const vm: SandboxVm = await provider.create(options);
      if (!image) return vm;
      try {
        const token = agent.attach({ serverId: vm.serverId, address: vm.address, hostname: hostnameFor(options.name), dir: join(o.dir, createHash('sha256').update(vm.serverId).digest('hex').slice(0, 10)), rootfs: () => vm.rootfs });
        await installEngineImage(vm.rootfs, agent.url, token, image);
      } catch (e) {
        await agent.detach(vm.serverId);
        await provider.remove(vm.serverId);
        throw e;
      }
      return vm;
    },
    async remove(serverId) {
      await agent.detach(serverId);
      await provider.remove(serverId);
    },
    list: () => provider.list(),
    async removeAll() {
      await Promise.all(provider.list().map((vm) => agent.detach(vm.serverId)));
      await provider.removeAll();
    },
  };
}
