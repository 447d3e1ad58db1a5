/**
 * The container image, built and run with a real Docker Engine (docs/sandbox.md): dockerd started
 * by the test (own data/exec roots and socket, vfs, no iptables, no bridge), a base image made
 * locally (no registry can be reached) and passed as BASE_IMAGE, the repository's Dockerfile built
 * from a context holding the compiled JavaScript and the production dependencies, then the image
 * run non-root on a read-only root filesystem with host networking: `serve` (the entrypoint's
 * command) answers /readyz against the sandbox's Kubernetes API, and in that same container the
 * entrypoint's command line with `--version` and `validate -` works. One container, not one per
 * command: with the vfs storage driver each container is a full copy of the image (21 400 files).
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startKubeEmulator, type KubeEmulator } from '../sandbox/kube/index.js';
import { startDockerd, unmountUnder, type Dockerd } from '../sandbox/docker/index.js';
import { importNodeShellBaseImage } from '../sandbox/docker/shell-base.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const sh = (cmd: string, args: string[], cwd: string): Promise<{ code: number; out: string }> => new Promise((resolve) => {
  execFile(cmd, args, { cwd, timeout: 600_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: `${stdout}${stderr}` }));
});
const freePort = (): Promise<number> => new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = (s.address() as { port: number }).port;
    s.close(() => resolve(p));
  });
});

describe('the mixmesh image (Dockerfile) on a real Docker Engine', function () {
  this.timeout(1_800_000);
  let d: Dockerd | undefined;
  let emu: KubeEmulator | undefined;
  let dir: string;
  /** the docker CLI against our daemon, as {code, stdout, stderr} */
  const docker = async (args: string[], o: { input?: string; timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      return { code: 0, stdout: await d!.docker(args, { ...(o.input !== undefined ? { input: Buffer.from(o.input) } : {}), ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}) }), stderr: '' };
    } catch (e) {
      const err = e as Error & { exitCode?: number; stdout?: string };
      return { code: err.exitCode ?? 1, stdout: err.stdout ?? '', stderr: err.message };
    }
  };

  before(async function () {
    if (process.getuid?.() !== 0 || !existsSync('/usr/sbin/dockerd')) this.skip();
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-image-'));
    chmodSync(dir, 0o755);
    d = await startDockerd({ dir: join(dir, 'dockerd') });
  });
  after(async () => {
    await d?.stop();
    await emu?.stop();
    if (dir) {
      await unmountUnder(dir);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('builds from a local BASE_IMAGE, runs non-root on a read-only root, and `serve` answers /readyz against the sandbox', async () => {
    await importNodeShellBaseImage(d!, 'mixmesh-test/node-base:20');
    // the context a CI step prepares: the compiled JavaScript and the production dependencies
    const ctx = join(dir, 'context');
    mkdirSync(ctx);
    for (const f of ['Dockerfile', '.dockerignore', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) copyFileSync(join(root, f), join(ctx, f));
    cpSync(join(root, 'vm-sidecar-injector/tacker-plugin/mixmesh_instantiate_end.py'), join(ctx, 'vm-sidecar-injector/tacker-plugin/mixmesh_instantiate_end.py'), { recursive: true });
    const tsc = await sh(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', join(ctx, 'dist')], root);
    assert.equal(tsc.code, 0, tsc.out);
    const deps = await sh('npm', ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], ctx);
    assert.equal(deps.code, 0, deps.out);

    const build = await docker(['build', '--network', 'host', '--build-arg', 'BASE_IMAGE=mixmesh-test/node-base:20', '-t', 'mixmesh-test/mixmesh:dev', ctx], { timeoutMs: 900_000 });
    assert.equal(build.code, 0, `${build.stdout.slice(-3000)}\n${build.stderr.slice(-3000)}`);
    const inspect = JSON.parse((await docker(['image', 'inspect', 'mixmesh-test/mixmesh:dev'])).stdout) as { Config: { User: string; Entrypoint: string[] } }[];
    assert.equal(inspect[0]!.Config.User, '65532:65532', 'the image runs as a non-root user');
    assert.deepEqual(inspect[0]!.Config.Entrypoint, ['/usr/local/bin/node', '/app/dist/cli/bin.js'], 'the CLI is the entrypoint');

    const runArgs = ['run', '--network', 'host', '--read-only', '--tmpfs', '/tmp', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges'];

    // serve against the sandbox's Kubernetes API (host network: the emulator is on 127.0.0.1)
    emu = await startKubeEmulator();
    const conf = join(dir, 'conf');
    mkdirSync(conf, { mode: 0o755 });
    writeFileSync(join(conf, 'kubeconfig'), emu.kubeconfig(), { mode: 0o644 });
    const token = randomBytes(18).toString('base64url');
    writeFileSync(join(conf, 'tokens.yaml'), `- {name: admin, role: admin, sha256: ${createHash('sha256').update(token).digest('hex')}}\n`, { mode: 0o644 });
    const port = await freePort();
    const started = await docker([...runArgs, '-d', '--name', 'mixmesh-serve', '-v', `${conf}:/config:ro`, 'mixmesh-test/mixmesh:dev',
      'serve', '--kubeconfig', '/config/kubeconfig', '--tokens-file', '/config/tokens.yaml', '--listen', `127.0.0.1:${port}`, '--no-injector', '--injector-url', 'http://127.0.0.1:9']);
    assert.equal(started.code, 0, started.stderr);
    let ready = false;
    for (const deadline = Date.now() + 120_000; Date.now() < deadline && !ready;) {
      ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false);
      if (!ready) await new Promise((r) => setTimeout(r, 250));
    }
    const logs = await docker(['logs', 'mixmesh-serve']);
    assert.ok(ready, `serve did not answer /readyz: ${logs.stdout.slice(-2000)}${logs.stderr.slice(-2000)}`);
    const services = await fetch(`http://127.0.0.1:${port}/v1/services`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(services.status, 200);
    // the CLI's other commands in that same container (non-root, read-only root, no capabilities): its
    // entrypoint's command line with their arguments, what `docker run IMAGE ARGS` runs (one container
    // made instead of three: with vfs each is a full copy of the image)
    const entrypoint = inspect[0]!.Config.Entrypoint;
    const version = await docker(['exec', 'mixmesh-serve', ...entrypoint, '--version']);
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /^\d+\.\d+\.\d+/);
    const validate = await docker(['exec', '-i', 'mixmesh-serve', ...entrypoint, 'validate', '-'], { input: readFileSync(join(root, 'examples/minimal/descriptor.yaml'), 'utf8') });
    assert.equal(validate.code, 0, validate.stderr);
    assert.equal(validate.stdout, '-: valid\n');
    const whoami = await docker(['exec', 'mixmesh-serve', 'id', '-u']);
    assert.equal(whoami.stdout.trim(), '65532', 'the commands run as the image\'s non-root user');
    // it applied the CRD at start, through the emulator's TLS with the kubeconfig's CA
    assert.ok(emu.requests().entries.some((e) => e.kind === 'CustomResourceDefinition' && e.verb === 'patch'), 'serve in the container did not apply the CRD');
    const stop = await docker(['stop', '-t', '20', 'mixmesh-serve']);
    assert.equal(stop.code, 0, stop.stderr);
    const state = JSON.parse((await docker(['inspect', 'mixmesh-serve'])).stdout) as { State: { ExitCode: number } }[];
    assert.equal(state[0]!.State.ExitCode, 0, 'SIGTERM stops serve cleanly (exit 0)');
  });
});
