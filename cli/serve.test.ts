/**
 * `mixmesh serve` as a user runs it: configuration errors exit 2; against the Kubernetes API
 * emulator (no OpenStack, a remote injector) it serves the API, deploys a container service to
 * Ready, refuses a VM descriptor with 422 OPENSTACK_NOT_CONFIGURED, and stops cleanly on SIGTERM.
 */
import { strict as assert } from 'node:assert';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startKubeEmulator, type KubeEmulator } from '../sandbox/kube/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const TOKEN = 'serve-test-token-0123456789';

function run(args: string[], env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'cli/bin.ts', ...args], { cwd: root, env: { PATH: process.env.PATH ?? '', HOME: env.HOME ?? tmpdir(), ...env } }, (error, _stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr });
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('cli: mixmesh serve', function () {
  this.timeout(60_000);
  let dir: string;
  let emulator: KubeEmulator;
  let kubeconfig: string;
  let tokens: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-serve-'));
    emulator = await startKubeEmulator({ readyDelayMs: 100 });
    kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, emulator.kubeconfig());
    tokens = join(dir, 'tokens.yaml');
    writeFileSync(tokens, `- {name: admin, role: admin, sha256: ${createHash('sha256').update(TOKEN).digest('hex')}}\n`);
  });
  after(async () => {
    await emulator?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('exits 2 CONFIG_INVALID without a cluster, and without API tokens', async () => {
    const noKube = await run(['serve'], { HOME: dir, MIXMESH_TOKENS_FILE: tokens });
    assert.equal(noKube.code, 2);
    assert.match(noKube.stderr, /CONFIG_INVALID.*no Kubernetes cluster/);
    const noTokens = await run(['serve'], { HOME: dir, KUBECONFIG: kubeconfig });
    assert.equal(noTokens.code, 2);
    assert.match(noTokens.stderr, /CONFIG_INVALID.*no API tokens/);
  });

  it('serves the API against the cluster, deploys, and stops cleanly on SIGTERM (exit 0)', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/bin.ts', 'serve', '--no-injector'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: dir, KUBECONFIG: kubeconfig, MIXMESH_TOKENS_FILE: tokens, MIXMESH_LISTEN: `127.0.0.1:${port}`, MIXMESH_INJECTOR_URL: 'http://127.0.0.1:9', MIXMESH_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
    try {
      const base = `http://127.0.0.1:${port}`;
      const auth = { authorization: `Bearer ${TOKEN}` };
      for (let i = 0; ; i++) {
        const ok = await fetch(`${base}/readyz`).then((r) => r.status === 200, () => false);
        if (ok) break;
        if (i > 300) throw new Error(`serve did not get ready: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(stderr, /API on http:\/\/127\.0\.0\.1:\d+/);
      const minimal = readFileSync(join(root, 'examples/minimal/descriptor.yaml'), 'utf8');
      const put = await fetch(`${base}/v1/services/shop/hello`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/yaml' }, body: minimal });
      assert.equal(put.status, 202);
      const { operationId } = (await put.json()) as { operationId: string };
      let state = '';
      for (let i = 0; i < 300 && !['Succeeded', 'Failed', 'RolledBack'].includes(state); i++) {
        await new Promise((r) => setTimeout(r, 100));
        state = String(((await (await fetch(`${base}/v1/operations/${operationId}`, { headers: auth })).json()) as { state: string }).state);
      }
      assert.equal(state, 'Succeeded');
      const cafe = readFileSync(join(root, 'examples/iot-cafe/descriptor.yaml'), 'utf8');
      const vm = await fetch(`${base}/v1/services`, { method: 'POST', headers: { ...auth, 'content-type': 'application/yaml' }, body: cafe });
      assert.equal(vm.status, 422);
      assert.equal(((await vm.json()) as { code: string }).code, 'OPENSTACK_NOT_CONFIGURED');
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, stderr);
  });
});
