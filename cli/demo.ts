/**
 * `mixmesh demo [--dir DIR] [--keep]` (docs/cli.md): the sandbox in DIR, the orchestrator and
 * the injector; Namespace `cafe` and Secret `vm-ssh` (from DIR/ssh/id_ed25519); the IoT café of
 * examples/iot-cafe deployed through the API with progress; the final status and mesh config; how
 * to look with kubectl and openstack. Without --keep it deletes the service and stops everything;
 * --keep leaves it running until Ctrl-C and writes DIR/orchestrator.env.
 * Exit 0 only when the service reached Ready (and, without --keep, teardown was clean).
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, linkSync, copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MixmeshError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import { shellQuote } from '../common/names.js';

export interface DemoOptions {
  dir?: string;
  keep?: boolean;
  /** tests: shorter sandbox latencies */
  fast?: boolean;
  out?: NodeJS.WritableStream;
  err?: NodeJS.WritableStream;
  /** tests: stop waiting for Ctrl-C under --keep */
  keepUntil?: Promise<void>;
}

const SERVICE = { namespace: 'cafe', name: 'iot-cafe' };
const ISTIO_VERSION = '1.30.3';

function findExample(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  // cli/demo.ts under tsx, dist/cli/demo.js when built
  const candidates = [resolve(here, '../examples/iot-cafe/descriptor.yaml'), resolve(here, '../../examples/iot-cafe/descriptor.yaml')];
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new MixmeshError('USAGE', `examples/iot-cafe/descriptor.yaml not found (looked in ${candidates.join(', ')})`);
  return found;
}

export async function runDemo(opts: Record<string, unknown> | DemoOptions = {}): Promise<number> {
  const o = opts as DemoOptions;
  if (o.dir !== undefined && typeof o.dir !== 'string') throw new MixmeshError('USAGE', '--dir: expected a directory path');
  const dir = resolve(o.dir || '.mixmesh/sandbox');
  const keep = o.keep === true;
  const out = o.out ?? process.stdout;
  const err = o.err ?? process.stderr;
  const started = Date.now();
  const say = (line: string): void => { err.write(line.startsWith('mixmesh demo:') ? `[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}\n` : `${line}\n`); };
  const descriptorFile = findExample();
  const log = createLogger({ name: 'mixmesh-demo', level: process.env.MIXMESH_LOG_LEVEL ?? 'warn' });

  const { startSandbox } = await import('../sandbox/index.js');
  const { buildSidecarPackage } = await import('../sandbox/sidecar-package/index.js');
  const { loadConfig, startStack } = await import('../orchestrator/index.js');
  type Stack = Awaited<ReturnType<typeof startStack>>;
  const { runApply, runStatus, runDelete } = await import('./client/commands.js');
  const { ApiClient, servicePath } = await import('./client/api.js');

  // a signal during the demo still stops what was started
  let interrupted = false;
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const s of stops.splice(0).reverse()) await s().catch((e: unknown) => log.warn({ err: e }, 'stop step failed'));
  };
  const onSignal = (): void => { interrupted = true; };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    say(`mixmesh demo: starting the sandbox in ${dir} …`);
    const sandbox = await startSandbox({ dir, log, ...(o.fast ? { latencies: { podReadyMs: 200 } } : {}) });
    stops.push(() => sandbox.stop());
    say(`  Kubernetes API emulator ${sandbox.kube.url}; Keystone ${sandbox.openstack.keystoneKind} ${sandbox.openstack.authUrl}`);

    // the stand-in sidecar package the VMs install (the real one cannot be downloaded here)
    say('mixmesh demo: building the stand-in sidecar packages …');
    const artifacts = join(dir, 'artifacts');
    mkdirSync(artifacts, { recursive: true });
    for (const format of ['deb', 'rpm', 'tar'] as const) {
      const pkg = await buildSidecarPackage({ format, version: ISTIO_VERSION, outDir: join(dir, 'artifacts-cache') });
      const target = join(artifacts, `istio-sidecar-${ISTIO_VERSION}.${format === 'tar' ? 'tar.gz' : format}`);
      rmSync(target, { force: true });
      try { linkSync(pkg.path, target); } catch { copyFileSync(pkg.path, target); }
    }

    // one admin token, generated: the API refuses to start without one
    const token = randomBytes(24).toString('base64url');
    const injectorToken = randomBytes(24).toString('base64url');
    const tokensFile = join(dir, 'tokens.yaml');
    await writeFile(tokensFile, `- {name: demo-admin, role: admin, sha256: ${createHash('sha256').update(token).digest('hex')}}\n`, { mode: 0o600 });
    // --keep: the CLI's default addresses when they are free, so `mixmesh get -A` just works
    const listenDefault = keep ? '127.0.0.1:7070' : '127.0.0.1:0';
    const injectorDefault = keep ? '127.0.0.1:7071' : '127.0.0.1:0';
    const envFor = (listen: string, injectorListen: string): Record<string, string> => ({
      KUBECONFIG: sandbox.paths.kubeconfig, MIXMESH_TOKENS_FILE: tokensFile, OS_CLOUD: 'sandbox', OS_CLIENT_CONFIG_FILE: sandbox.paths.cloudsYaml,
      MIXMESH_SIDECAR_ARTIFACTS: artifacts, MIXMESH_INJECTOR_TOKEN: injectorToken,
      MIXMESH_LISTEN: process.env.MIXMESH_LISTEN ?? listen, MIXMESH_INJECTOR_LISTEN: process.env.MIXMESH_INJECTOR_LISTEN ?? injectorListen,
    });
    say('mixmesh demo: starting the orchestrator and the injector …');
    let stack: Stack;
    try {
      stack = await startStack({ config: loadConfig({ env: envFor(listenDefault, injectorDefault), cwd: dir, home: dir }), log, settings: { tackerPollMs: 500 } });
    } catch (e) {
      const busy = (e as { code?: string }).code === 'EADDRINUSE' || (e as { cause?: { code?: string } }).cause?.code === 'EADDRINUSE';
      if (!busy || !keep) throw e;
      say('  7070/7071 are taken: using free ports');
      stack = await startStack({ config: loadConfig({ env: envFor('127.0.0.1:0', '127.0.0.1:0'), cwd: dir, home: dir }), log, settings: { tackerPollMs: 500 } });
    }
    stops.push(() => stack.stop());
    say(`  orchestrator ${stack.url}, injector ${stack.injectorUrl ?? '-'}`);

    // what a user prepares: the namespace and the SSH key Secret the VMs authorize
    if (!(await stack.kube.get({ apiVersion: 'v1', kind: 'Namespace', name: SERVICE.namespace }))) {
      await stack.kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: SERVICE.namespace, labels: { 'istio-injection': 'enabled' } } });
    }
    const secretRef = { apiVersion: 'v1', kind: 'Secret', namespace: SERVICE.namespace, name: 'vm-ssh' };
    if (await stack.kube.get(secretRef)) await stack.kube.delete(secretRef);
    await stack.kube.create({
      apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/ssh-auth',
      metadata: { name: 'vm-ssh', namespace: SERVICE.namespace },
      data: { 'ssh-privatekey': Buffer.from(sandbox.sshPrivateKey).toString('base64') },
    });

    const clientEnv = { MIXMESH_SERVER: stack.url, MIXMESH_TOKEN: token, MIXMESH_NAMESPACE: SERVICE.namespace };
    const io = { out: err, err, env: clientEnv };
    say(`mixmesh demo: deploying ${descriptorFile} (containers on Kubernetes, VMs through Tacker, sidecars over SSH) …`);
    const applied = interrupted ? 1 : await runApply({ file: descriptorFile, timeout: '10m' }, io);
    const statusIo = { out, err, env: clientEnv };
    out.write('\n# status\n');
    await runStatus(SERVICE.name, {}, statusIo);
    const api = new ApiClient({ server: stack.url, token, namespace: SERVICE.namespace });
    const mesh = await api.request('GET', servicePath(SERVICE.namespace, SERVICE.name, '/mesh-config'));
    out.write('\n# mesh config (istioctl analyze -f - reads it)\n');
    out.write(mesh.text);
    const q = (p: string): string => shellQuote(p);
    say([
      '',
      'Look around:',
      `  export KUBECONFIG=${q(sandbox.paths.kubeconfig)}`,
      '  kubectl get msvc -A; kubectl -n cafe get deploy,svc,workloadgroups,workloadentries,virtualservices,destinationrules',
      `  export OS_CLOUD=sandbox OS_CLIENT_CONFIG_FILE=${q(sandbox.paths.cloudsYaml)}`,
      '  openstack --os-tacker-api-version 2 vnflcm list',
      `  MIXMESH_SERVER=${stack.url} MIXMESH_TOKEN=… mixmesh status iot-cafe -n cafe`,
      `  the web console: ${stack.url}/ui/${keep ? ' (login link below)' : ' (mixmesh demo --keep prints a one-time login link)'}`,
      '',
    ].join('\n'));
    const ready = applied === 0;

    if (keep) {
      const envFile = join(dir, 'orchestrator.env');
      await writeFile(envFile, `MIXMESH_SERVER=${stack.url}\nMIXMESH_TOKEN=${token}\nMIXMESH_INJECTOR_URL=${stack.injectorUrl ?? ''}\nMIXMESH_INJECTOR_TOKEN=${injectorToken}\n`, { mode: 0o600 });
      say(`mixmesh demo: kept running. Orchestrator ${stack.url}, admin token ${token}`);
      // the console: a one-time code in the fragment (never sent to a server, so in no access log), good once for 5 minutes
      say(`  Web console: ${stack.url}/ui/#code=${stack.orchestrator.loginCodes.issue(token)}  (one-time login link, 5 min; later sign in with the token)`);
      say(`  (also in ${envFile}: \`set -a; . ${q(envFile)}; set +a; mixmesh get -A\`). Ctrl-C stops everything.`);
      await (o.keepUntil ?? new Promise<void>((r) => {
        if (interrupted) return r();
        process.once('SIGINT', () => r());
        process.once('SIGTERM', () => r());
      }));
      return ready ? 0 : 1;
    }

    say('mixmesh demo: deleting the service …');
    const deleted = await runDelete(SERVICE.name, { timeout: '5m' }, io);
    const leftovers: string[] = [];
    // what prune would find: every labelled object of the kind table's prunable kinds
    const left = await stack.kube.applier().stale(`mixmesh.io/service=${SERVICE.name}`, [], { namespace: SERVICE.namespace });
    leftovers.push(...left.map((o) => `${o.kind}/${o.metadata.name}`));
    const vnfs = stack.openstack ? await stack.openstack.tacker.listVnfInstances() : [];
    leftovers.push(...vnfs.filter((v) => String(v.vnfInstanceName ?? '').startsWith('cafe.iot-cafe.')).map((v) => `VNF/${String(v.vnfInstanceName)}`));
    const clean = deleted === 0 && leftovers.length === 0;
    if (!clean) say(`mixmesh demo: teardown left ${leftovers.join(', ') || 'the service'}`);
    else say('mixmesh demo: torn down cleanly');
    if (!ready) say('mixmesh demo: the service did not reach Ready (see the status above)');
    return ready && clean ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    say('mixmesh demo: stopping …');
    await stopAll();
    say('mixmesh demo: stopped');
  }
}
