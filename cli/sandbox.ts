/**
 * `mixmesh sandbox [--dir DIR]`: start the embedded cloud, say how to use it, run until
 * SIGINT/SIGTERM, then remove every VM and process it started.
 */
import { resolve } from 'node:path';
import { MixmeshError } from '../common/errors.js';
import { shellQuote } from '../common/names.js';

export interface SandboxCliOptions {
  dir?: string;
  /** real | emulated | auto (default auto; also MIXMESH_SANDBOX_KEYSTONE) */
  keystone?: string;
  /** start this many clouds side by side in DIR/cloud-1… (default 1) */
  clouds?: string | number;
  /** where the usage text goes (default stderr: human output) */
  out?: NodeJS.WritableStream;
}

export function usageText(dir: string, kubeUrl: string, keystone: string, authUrl: string): string {
  const q = (p: string) => shellQuote(resolve(dir, p));
  return [
    `mixmesh sandbox: ready in ${resolve(dir)}`,
    `  Kubernetes API emulator  ${kubeUrl}`,
    `  Keystone (${keystone})     ${authUrl}  (Tacker, Nova and Glance in its catalog)`,
    '  SSH test VMs on 127.0.10.N:22, created by Tacker instantiate; key: ' + resolve(dir, 'ssh/id_ed25519'),
    '',
    'Use it from another shell:',
    `  export KUBECONFIG=${q('kubeconfig')}`,
    '  kubectl get ns',
    `  export OS_CLOUD=sandbox OS_CLIENT_CONFIG_FILE=${q('clouds.yaml')}     # or: . ${q('openrc')}`,
    '  openstack --os-tacker-api-version 2 vnflcm list',
    '  openstack server list; openstack vnf package list',
    `  ssh -i ${q('ssh/id_ed25519')} -o UserKnownHostsFile=${q('known_hosts')} root@127.0.10.1`,
    `  curl -H "Authorization: Bearer $(cat ${q('admin-token')})" "$(cat ${q('admin-url')})/faults"     # fault injection`,
    '',
    'Ctrl-C (SIGINT) or SIGTERM stops it and removes every VM.',
    '',
  ].join('\n');
}

export async function runSandbox(opts: Record<string, unknown> | SandboxCliOptions = {}): Promise<number> {
  const dir = typeof opts.dir === 'string' && opts.dir !== '' ? opts.dir : '.mixmesh/sandbox';
  if (typeof opts.dir !== 'undefined' && typeof opts.dir !== 'string') throw new MixmeshError('USAGE', '--dir: expected a directory path');
  const out = ((opts as SandboxCliOptions).out ?? process.stderr) as NodeJS.WritableStream;
  const keystone = (typeof opts.keystone === 'string' ? opts.keystone : undefined) ?? process.env.MIXMESH_SANDBOX_KEYSTONE ?? 'auto';
  if (keystone !== 'real' && keystone !== 'emulated' && keystone !== 'auto') {
    throw new MixmeshError('USAGE', `keystone ${JSON.stringify(keystone)} (--keystone / MIXMESH_SANDBOX_KEYSTONE): allowed are real, emulated, auto`);
  }
  const { startSandbox } = await import('../sandbox/index.js');
  const { createLogger } = await import('../common/logger.js');
  const log = createLogger({ name: 'mixmesh-sandbox', level: process.env.MIXMESH_LOG_LEVEL ?? 'warn' });

  // a signal during start-up must still stop what was started
  let signalled: NodeJS.Signals | undefined;
  let wake: (() => void) | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    signalled ??= sig;
    wake?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    out.write(`mixmesh sandbox: starting in ${resolve(dir)} …\n`);
    const clouds = opts.clouds === undefined ? 1 : Number(opts.clouds);
    if (!Number.isInteger(clouds) || clouds < 1 || clouds > 8) throw new MixmeshError('USAGE', `--clouds ${String(opts.clouds)}: expected a whole number 1–8`);
    const { startClouds } = await import('../sandbox/index.js');
    const started = clouds === 1 ? [await startSandbox({ dir, log, keystone })] : await startClouds({ dir, count: clouds, log, keystone });
    const sandbox = { stop: () => Promise.all(started.map((s) => s.stop())).then(() => undefined) };
    try {
      for (const s of started) out.write(usageText(s.dir, s.kube.url, s.openstack.keystoneKind, s.openstack.authUrl));
      if (!signalled) await new Promise<void>((r) => (wake = r));
      out.write(`mixmesh sandbox: ${signalled ?? 'signal'}: stopping …\n`);
    } finally {
      await sandbox.stop();
    }
    out.write('mixmesh sandbox: stopped; no VM is left\n');
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
