import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMixmeshError } from '../../common/errors.js';
import { connectSsh, parseConsoleHostKeys, type RemoteShell } from '../../clients/ssh/index.js';
import { createLocalVmProvider, killStaleVms, type LocalVmProvider } from './index.js';

/** pids of processes whose command line names dir (sshd, unshare, setpriv of our VMs) */
export function processesNaming(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const state = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]?.[0];
      if (cmdline.includes(dir) && state !== 'Z') pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

describe('sandbox/vms: SSH test VMs (real OpenSSH)', function () {
  this.timeout(30_000);
  let dir: string;
  let provider: LocalVmProvider;
  let clientKey: string;
  let clientPub: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-vms-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id')]);
    clientKey = readFileSync(join(dir, 'id'), 'utf8');
    clientPub = readFileSync(join(dir, 'id.pub'), 'utf8');
    provider = await createLocalVmProvider({ dir, authorizedKeys: [clientPub], sshdDelayMs: 100 });
  });
  after(async () => {
    await provider?.removeAll();
    rmSync(dir, { recursive: true, force: true });
  });

  async function connect(address: string, expected: string[]): Promise<RemoteShell> {
    return connectSsh({ host: address, username: 'root', privateKey: clientKey, hostKey: { expected }, connectBudgetMs: 10_000 });
  }

  it('creates a VM that answers SSH with the host key from its console output', async () => {
    const vm = await provider.create({ serverId: 'vm-a', name: 'Order API v1' });
    assert.match(vm.address, /^127\.0\.10\.\d+$/);
    const keys = parseConsoleHostKeys(vm.consoleOutput());
    assert.deepEqual(keys, [vm.hostPublicKey]);
    const shell = await connect(vm.address, keys);
    try {
      const r = await shell.exec('id -u; hostname; cat /etc/hostname; test -c /dev/null && echo devnull; echo x >/dev/null; command -v systemctl || echo nosystemctl');
      assert.equal(r.stdout, '0\norder-api-v1\norder-api-v1\ndevnull\nnosystemctl\n');
      const tools = await shell.exec('for t in sh bash dpkg rpm tar wget sha256sum su mkdir chown nc base64; do command -v $t >/dev/null || echo missing $t; done');
      assert.equal(tools.stdout, '');
      const files = await shell.exec('grep -c "^istio-proxy:x:1337:1337:" /etc/passwd; grep -c "order-api-v1" /etc/hosts; ls /var/lib/dpkg/status /var/lib/dpkg/info >/dev/null && echo dpkg');
      assert.equal(files.stdout, '1\n1\ndpkg\n');
      // a remote background process with detached stdio must not hang the exec
      await shell.exec('sleep 30 </dev/null >/dev/null 2>&1 &');
      await shell.put(Buffer.from('hello\n'), '/tmp/hello.txt', 0o600);
      assert.equal((await shell.get('/tmp/hello.txt')).toString(), 'hello\n');
      assert.equal(statSync(join(vm.rootfs, 'tmp/hello.txt')).mode & 0o777, 0o600);
    } finally {
      await shell.close();
    }
    // modes sshd's StrictModes and ChrootDirectory insist on
    assert.equal(statSync(vm.rootfs).mode & 0o777, 0o755);
    assert.equal(statSync(join(vm.rootfs, 'root')).mode & 0o777, 0o700);
    assert.equal(statSync(join(vm.rootfs, 'root/.ssh')).mode & 0o777, 0o700);
    assert.equal(statSync(join(vm.rootfs, 'root/.ssh/authorized_keys')).mode & 0o777, 0o600);
    assert.equal(statSync(join(vm.rootfs, 'tmp')).mode & 0o7777, 0o1777);
  });

  it('refuses a host key other than the expected one (SSH_HOST_KEY_MISMATCH, not retried)', async () => {
    const vm = provider.get('vm-a')!;
    const other = readFileSync(join(dir, 'id.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
    await assert.rejects(connect(vm.address, [other]), (e: unknown) => isMixmeshError(e, 'SSH_HOST_KEY_MISMATCH'));
  });

  it('maps a refused client key to SSH_AUTH_FAILED', async () => {
    const vm = provider.get('vm-a')!;
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'stranger')]);
    await assert.rejects(
      connectSsh({ host: vm.address, username: 'root', privateKey: readFileSync(join(dir, 'stranger'), 'utf8'), hostKey: { expected: [vm.hostPublicKey] } }),
      (e: unknown) => isMixmeshError(e, 'SSH_AUTH_FAILED'),
    );
  });

  it('takes the first free address and honours a fixed one; refuses one outside 127.0.10.0/24', async () => {
    const vms = await Promise.all(['p1', 'p2', 'p3'].map((id) => provider.create({ serverId: id, name: id })));
    assert.equal(new Set(vms.map((v) => v.address)).size, 3);
    const fixed = await provider.create({ serverId: 'fixed', name: 'fixed', fixedAddress: '127.0.10.200' });
    assert.equal(fixed.address, '127.0.10.200');
    await assert.rejects(provider.create({ serverId: 'dup', name: 'dup', fixedAddress: '127.0.10.200' }), (e: unknown) => isMixmeshError(e, 'ALREADY_EXISTS'));
    await assert.rejects(provider.create({ serverId: 'out', name: 'out', fixedAddress: '10.0.0.5' }), (e: unknown) => isMixmeshError(e, 'BAD_REQUEST') && /127\.0\.10\.0\/24/.test(e.message));
    await assert.rejects(provider.create({ serverId: '../evil', name: 'x' }), (e: unknown) => isMixmeshError(e, 'BAD_REQUEST'));
    const shell = await connect(fixed.address, [fixed.hostPublicKey]);
    assert.equal((await shell.exec('cat /etc/hostname')).stdout, 'fixed\n');
    await shell.close();
    await Promise.all(['p1', 'p2', 'p3', 'fixed'].map((id) => provider.remove(id)));
  });

  it('a slow sshd is waited for with backoff', async () => {
    provider.setSshdDelay(1500);
    const vm = await provider.create({ serverId: 'slow', name: 'slow' });
    provider.setSshdDelay(undefined);
    const shell = await connect(vm.address, [vm.hostPublicKey]);
    assert.equal((await shell.exec('echo up')).stdout, 'up\n');
    await shell.close();
    await provider.remove('slow');
  });

  it('removing a VM leaves no process and no directory; a restart kills stale recorded VMs', async () => {
    const vm = await provider.create({ serverId: 'gone', name: 'gone' });
    const vmDir = join(dir, 'vms', 'gone');
    const shell = await connect(vm.address, [vm.hostPublicKey]);
    await shell.exec('sleep 300 </dev/null >/dev/null 2>&1 &');
    await shell.close();
    assert.ok(processesNaming(vmDir).length >= 2, 'unshare and sshd run');
    await provider.remove('gone');
    assert.deepEqual(processesNaming(vmDir), []);
    assert.equal(existsSync(vmDir), false);

    // a VM "left behind" by an earlier run on the same DIR: recorded pid whose cmdline names it
    await provider.remove('vm-a');
    const stale = await provider.create({ serverId: 'stale', name: 'stale' });
    const staleDir = join(dir, 'vms', 'stale');
    assert.ok(stale);
    // a recorded pid that is not ours (pid 1) must survive
    execFileSync('mkdir', ['-p', join(dir, 'vms', 'foreign')]);
    writeFileSync(join(dir, 'vms', 'foreign', 'pid'), '1\n');
    assert.equal(await killStaleVms(join(dir, 'vms')), 1);
    assert.deepEqual(processesNaming(staleDir), []);
    assert.equal(existsSync(staleDir), false);
    assert.ok(existsSync('/proc/1'));
  });
});
