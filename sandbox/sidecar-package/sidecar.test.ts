import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectSsh, type RemoteShell } from '../../clients/ssh/index.js';
import { createLocalVmProvider, type LocalVmProvider, type SandboxVm } from '../vms/index.js';
import { buildSidecarPackage, packageFileName, type SidecarPackageFormat } from './index.js';

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
/** A JWT shaped like a TokenRequest token (the stand-in checks claims, not the signature). */
export function testJwt(claims: Record<string, unknown>): string {
  return `${b64url({ alg: 'RS256', kid: 'sandbox' })}.${b64url(claims)}.${Buffer.from('signature-not-checked-by-the-stand-in').toString('base64url')}`;
}

function probe(address: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: address, port: 15021, path: '/healthz/ready', agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
  });
}

/** Poll until the agent listens (it starts in the background), bounded. */
async function probeWhenListening(address: string): Promise<{ status: number; body: string }> {
  for (let i = 0; ; i++) {
    try {
      return await probe(address);
    } catch (e) {
      if (i >= 100) throw e;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

describe('sandbox/sidecar-package: the stand-in istio-sidecar in a real sandbox VM', function () {
  this.timeout(60_000);
  let dir: string;
  let provider: LocalVmProvider;
  let key: string;
  let cert: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-sidecar-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id')]);
    key = readFileSync(join(dir, 'id'), 'utf8');
    cert = execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/O=cluster.local', '-days', '1', '-keyout', join(dir, 'ca.key'), '-out', '-'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    provider = await createLocalVmProvider({ dir, authorizedKeys: [readFileSync(join(dir, 'id.pub'), 'utf8')], sshdDelayMs: 0 });
  });
  after(async () => {
    await provider?.removeAll();
    rmSync(dir, { recursive: true, force: true });
  });

  async function vmWithShell(id: string): Promise<{ vm: SandboxVm; shell: RemoteShell }> {
    const vm = await provider.create({ serverId: id, name: id });
    const shell = await connectSsh({ host: vm.address, username: 'root', privateKey: key, hostKey: { expected: [vm.hostPublicKey] } });
    return { vm, shell };
  }

  async function placeBootstrap(shell: RemoteShell, address: string, token: string, clusterEnv?: string): Promise<void> {
    await shell.exec('mkdir -p /etc/certs /var/run/secrets/tokens /var/lib/istio/envoy');
    await shell.put(Buffer.from(clusterEnv ?? `ISTIO_NAMESPACE='cafe'\nISTIO_SVC_IP='${address}'\nISTIO_META_NETWORK='vm-network'\n`), '/var/lib/istio/envoy/cluster.env', 0o644);
    await shell.put(Buffer.from(cert), '/etc/certs/root-cert.pem', 0o640);
    await shell.put(Buffer.from(token), '/var/run/secrets/tokens/istio-token', 0o600);
    await shell.exec('chown -R istio-proxy /var/lib/istio /etc/certs /var/run/secrets');
  }

  const installs: Record<SidecarPackageFormat, string> = {
    deb: 'dpkg -i --force-depends /tmp/pkg',
    rpm: 'rpm -i /tmp/pkg',
    tar: 'tar -xzf /tmp/pkg -C /',
  };

  for (const format of ['deb', 'rpm', 'tar'] as const) {
    it(`${packageFileName(format)} installs with busybox and reports ready only with good files`, async () => {
      const pkg = await buildSidecarPackage({ format, outDir: join(dir, 'packages'), version: '1.30.3' });
      const { vm, shell } = await vmWithShell(`sidecar-${format}`);
      try {
        await shell.put(pkg.path, '/tmp/pkg', 0o644);
        await shell.exec(installs[format], { step: `install ${format}` });
        const layout = await shell.exec(
          'for f in /usr/local/bin/pilot-agent /usr/local/bin/envoy /usr/local/bin/istio-start.sh /lib/systemd/system/istio.service; do test -f $f && echo $f; done; test -d /var/lib/istio/envoy && test -d /var/log/istio && echo dirs; grep -c ^istio-proxy: /etc/passwd; pilot-agent version -s',
        );
        assert.equal(layout.stdout, '/usr/local/bin/pilot-agent\n/usr/local/bin/envoy\n/usr/local/bin/istio-start.sh\n/lib/systemd/system/istio.service\ndirs\n1\n1.30.3\n');
        if (format === 'deb') assert.match((await shell.exec('dpkg -l istio-sidecar')).stdout, /istio-sidecar\s+1\.30\.3/);
        if (format === 'rpm') assert.match((await shell.exec('rpm -qpl /tmp/pkg')).stdout, /^\/usr\/local\/bin\/pilot-agent$/m);

        const hour = Math.floor(Date.now() / 1000) + 3600;
        await placeBootstrap(shell, vm.address, testJwt({ aud: ['istio-ca'], exp: hour, sub: 'system:serviceaccount:cafe:order' }));
        await shell.exec('setsid /usr/local/bin/istio-start.sh </dev/null >/dev/null 2>&1 &');
        assert.deepEqual(await probeWhenListening(vm.address), { status: 200, body: '' });
        // busybox rpm runs no %post and defers absolute symlinks it then never makes: istio-start.sh makes the link
        assert.equal((await shell.exec('readlink /etc/istio')).stdout, '/var/lib/istio\n');
        // the docs' proof, run on the VM
        assert.equal((await shell.exec(`wget -q -O - http://${vm.address}:15021/healthz/ready && echo ok`)).stdout, 'ok\n');
        // it runs as istio-proxy (1337), bound to the VM's own address only
        const ps = await shell.exec('ps -o user,args | grep "[n]c -ll"');
        assert.match(ps.stdout, /^\s*istio-pr\S*\s+nc -ll -p 15021 /m);
        await assert.rejects(probe('127.0.0.1'));

        // each bad file, checked on every request, then repaired
        const bad: Array<[string, string, Buffer, string]> = [
          ['cluster.env', '/var/lib/istio/envoy/cluster.env', Buffer.from("ISTIO_SVC_IP='unterminated\n"), 'cluster.env does not parse'],
          ['root cert', '/etc/certs/root-cert.pem', Buffer.from('not a certificate\n'), 'root-cert.pem is not a PEM certificate'],
          ['token audience', '/var/run/secrets/tokens/istio-token', Buffer.from(testJwt({ aud: ['kubernetes'], exp: hour })), 'istio-token audience lacks istio-ca'],
          ['token shape', '/var/run/secrets/tokens/istio-token', Buffer.from('opaque-token'), 'istio-token is not a JWT'],
        ];
        for (const [what, path, bytes, reason] of bad) {
          const good = await shell.get(path);
          await shell.put(bytes, path, 0o644);
          assert.deepEqual(await probe(vm.address), { status: 503, body: `${reason}\n` }, what);
          await shell.put(good, path, 0o644);
          assert.equal((await probe(vm.address)).status, 200, `${what} repaired`);
        }
        if (format === 'deb') {
          // busybox dpkg removes what the package installed
          await shell.exec('dpkg -P istio-sidecar', { step: 'purge' });
          assert.equal((await shell.exec('for f in /usr/local/bin/pilot-agent /usr/local/bin/envoy /lib/systemd/system/istio.service; do test -e $f && echo left $f; done; true')).stdout, '');
        }
      } finally {
        await shell.close();
        await provider.remove(`sidecar-${format}`);
      }
    });
  }

  it('an expired token gives 503 and "token expired" in /var/log/istio/istio.log', async () => {
    const pkg = await buildSidecarPackage({ format: 'tar', outDir: join(dir, 'packages'), version: '1.29.0' });
    const { vm, shell } = await vmWithShell('sidecar-expired');
    try {
      await shell.put(pkg.path, '/tmp/pkg', 0o644);
      await shell.exec('tar -xzf /tmp/pkg -C /');
      assert.equal((await shell.exec('pilot-agent version -s')).stdout, '1.29.0\n');
      await placeBootstrap(shell, vm.address, testJwt({ aud: 'istio-ca', exp: Math.floor(Date.now() / 1000) - 5 }));
      await shell.exec('setsid /usr/local/bin/istio-start.sh </dev/null >/dev/null 2>&1 &');
      assert.deepEqual(await probeWhenListening(vm.address), { status: 503, body: 'token expired\n' });
      assert.match((await shell.exec('cat /var/log/istio/istio.log')).stdout, /token expired/);
      assert.match(readFileSync(join(vm.rootfs, 'var/log/istio/istio.log'), 'utf8'), /token expired/);
      // a renewed token is picked up on the next request, no restart
      await shell.put(Buffer.from(testJwt({ aud: 'istio-ca', exp: Math.floor(Date.now() / 1000) + 600 })), '/var/run/secrets/tokens/istio-token', 0o600);
      assert.equal((await probe(vm.address)).status, 200);
    } finally {
      await shell.close();
      await provider.remove('sidecar-expired');
    }
  });

  it('pads the package to a requested size with incompressible bytes; same inputs, same bytes', async () => {
    const a = await buildSidecarPackage({ format: 'deb', outDir: join(dir, 'pad-a'), padToBytes: 2 * 1024 * 1024 });
    const b = await buildSidecarPackage({ format: 'deb', outDir: join(dir, 'pad-b'), padToBytes: 2 * 1024 * 1024 });
    assert.ok(Math.abs(a.size - 2 * 1024 * 1024) < 64 * 1024, `size ${a.size}`);
    assert.equal(a.sha256, b.sha256);
    await assert.rejects(buildSidecarPackage({ format: 'deb', outDir: dir, version: '1.30; rm -rf /' }), /MAJOR\.MINOR\.PATCH/);
  });
});
