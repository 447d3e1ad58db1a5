import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMixmeshError } from '../common/errors.js';
import { connectSsh } from '../clients/ssh/index.js';
import { createOpenStackClient, loadOpenStackConfig, validateConfig, type OpenStackClient } from '../clients/openstack/index.js';
import { checkHostTools, checkPort22 } from './vms/index.js';
import { PLAIN_VNFD_ID, startSandbox, type Sandbox } from './index.js';

const repo = fileURLToPath(new URL('..', import.meta.url));

/** live (non-zombie) processes whose command line names dir */
function processesNaming(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const state = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]?.[0];
      if (cmdline.includes(dir) && state !== 'Z') found.push(`${entry} ${cmdline}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** instantiate one VNF of the plain package and return its VM's address (Nova server address) */
async function instantiateOne(os: OpenStackClient): Promise<string> {
  const vnf = await os.tacker.createVnfInstance({ vnfdId: PLAIN_VNFD_ID, vnfInstanceName: 'sandbox-test' });
  const op = await os.tacker.instantiate(vnf.id, { flavourId: 'simple' });
  await os.tacker.waitForOperation(op, { timeoutMs: 30_000 });
  const inst = await os.tacker.getVnfInstance(vnf.id);
  const serverId = inst.instantiatedVnfInfo?.vnfcResourceInfo?.[0]?.computeResource.resourceId;
  assert.ok(serverId, 'the instance has a server');
  const server = await os.nova.getServer(serverId);
  const address = Object.values(server.addresses ?? {}).flat()[0]?.addr;
  assert.ok(address, 'the server has an address');
  return address;
}

async function sshWorks(dir: string, address: string): Promise<string> {
  const known = readFileSync(join(dir, 'known_hosts'), 'utf8').split('\n').filter((l) => l.startsWith(`${address} `)).map((l) => l.slice(address.length + 1));
  assert.equal(known.length, 1, 'known_hosts has the VM');
  const shell = await connectSsh({ host: address, username: 'root', privateKey: readFileSync(join(dir, 'ssh/id_ed25519'), 'utf8'), hostKey: { expected: known } });
  try {
    return (await shell.exec('echo hello from $(cat /etc/hostname)')).stdout;
  } finally {
    await shell.close();
  }
}

describe('sandbox: startSandbox and mixmesh sandbox', function () {
  this.timeout(90_000);

  it('refuses clearly when not root or packages are missing', () => {
    assert.throws(() => checkHostTools({ uid: 1000, missing: [] }), (e: unknown) => isMixmeshError(e, 'SANDBOX_NOT_ROOT') && /needs root/.test(e.message));
    assert.throws(
      () => checkHostTools({ uid: 0, missing: ['openssh-server', 'busybox-static'] }),
      (e: unknown) => isMixmeshError(e, 'SANDBOX_MISSING_PACKAGES') && e.message.includes('openssh-server, busybox-static') && e.message.includes('apt-get install -y --no-install-recommends openssh-server busybox-static'),
    );
    assert.doesNotThrow(() => checkHostTools({ uid: 0, missing: [] }));
  });

  it('stops with SANDBOX_PORT22_BUSY only when *:22 is taken', async () => {
    const busy = { canBind: async () => false, wildcardListenerOn22: () => true };
    await assert.rejects(checkPort22(busy), (e: unknown) => isMixmeshError(e, 'SANDBOX_PORT22_BUSY'));
    // 127.0.10.1:22 held by another sandbox's VM, other addresses free: fine
    const otherSandbox = { canBind: async (host: string) => host !== '127.0.10.1', wildcardListenerOn22: () => false };
    await checkPort22(otherSandbox);
  });

  describe('startSandbox (emulated Keystone)', () => {
    let dir: string;
    let sandbox: Sandbox | undefined;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'mixmesh-sandbox-'));
      sandbox = await startSandbox({ dir, keystone: 'emulated', latencies: { startingMs: 20, processingMs: 50, terminateMs: 20, sshdMs: 50 } });
    });
    after(async () => {
      await sandbox?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('writes kubeconfig, clouds.yaml, openrc, the SSH key and known_hosts, private where secret', async () => {
      for (const f of ['kubeconfig', 'clouds.yaml', 'openrc', 'ssh/id_ed25519']) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
      assert.equal(statSync(dir).mode & 0o777, 0o700);
      assert.match(readFileSync(join(dir, 'ssh/id_ed25519.pub'), 'utf8'), /^ssh-ed25519 /);
      assert.match(readFileSync(join(dir, 'clouds.yaml'), 'utf8'), /^clouds:\n {2}sandbox:\n/);
      assert.match(readFileSync(join(dir, 'openrc'), 'utf8'), /^export OS_AUTH_URL=/m);
      assert.equal(readFileSync(join(dir, 'known_hosts'), 'utf8'), '');
      const res = await fetch(`${sandbox!.kube.url}/version`, { headers: { authorization: `Bearer ${sandbox!.kube.token}` } }).catch(() => undefined);
      // the emulator serves TLS with its own CA: fetch without it must fail, proving TLS is on
      assert.equal(res, undefined);
      assert.match(readFileSync(join(dir, 'kubeconfig'), 'utf8'), /certificate-authority-data: /);
    });

    it('writes the fault-injection admin URL and token (0600), and they work from outside the process', async () => {
      for (const f of ['admin-url', 'admin-token']) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
      const url = readFileSync(join(dir, 'admin-url'), 'utf8').trim();
      const token = readFileSync(join(dir, 'admin-token'), 'utf8').trim();
      assert.equal(url, sandbox!.openstack.adminUrl);
      assert.equal((await fetch(`${url}/faults`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
      assert.equal((await fetch(`${url}/faults`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
    });

    it('a Tacker instantiate makes a VM that SSH reaches with DIR/ssh/id_ed25519 and DIR/known_hosts; stop leaves nothing', async () => {
      const os = createOpenStackClient(validateConfig({ authUrl: sandbox!.openstack.authUrl, ...sandbox!.openstack.credentials }, 'test'));
      const address = await instantiateOne(os);
      assert.match(address, /^127\.0\.10\.\d+$/);
      assert.match(await sshWorks(dir, address), /^hello from vdu1-/);
      assert.ok(processesNaming(dir).length > 0);
      await sandbox!.stop();
      sandbox = undefined;
      assert.deepEqual(processesNaming(dir), []);
      assert.equal(readFileSync(join(dir, 'known_hosts'), 'utf8'), '');
      assert.deepEqual(readdirSync(join(dir, 'vms')).filter((e) => !e.startsWith('.')), []);
    });
  });

  it('`mixmesh sandbox` as a child process: usage printed, a VM works, SIGTERM stops it all', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mixmesh-sandbox-cli-'));
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/bin.ts', 'sandbox', '--dir', dir], {
      cwd: repo,
      env: { ...process.env, MIXMESH_SANDBOX_KEYSTONE: 'emulated' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          if (stderr.includes('SIGTERM stops it')) resolve();
        });
        void exited.then((code) => reject(new Error(`mixmesh sandbox exited ${code} early: ${stderr}`)));
      });
      assert.match(stderr, new RegExp(`export KUBECONFIG=${dir}/kubeconfig`));
      assert.match(stderr, new RegExp(`export OS_CLOUD=sandbox OS_CLIENT_CONFIG_FILE=${dir}/clouds.yaml`));
      assert.match(stderr, /kubectl get ns/);
      assert.match(stderr, /openstack --os-tacker-api-version 2 vnflcm list/);
      const config = loadOpenStackConfig({ OS_CLOUD: 'sandbox', OS_CLIENT_CONFIG_FILE: join(dir, 'clouds.yaml') });
      assert.ok(config);
      const address = await instantiateOne(createOpenStackClient(config));
      assert.match(await sshWorks(dir, address), /^hello from /);
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
      assert.match(stderr, /stopped; no VM is left/);
      assert.deepEqual(processesNaming(dir), []);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
