import { strict as assert } from 'node:assert';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { isMixmeshError } from '../common/errors.js';
import { DEFAULT_MESH_VALUES } from '../descriptor/index.js';
import { parseConsoleHostKeys } from '../clients/ssh/index.js';
import { bundle, type WorkloadGroupLike } from './bundle/bundle.js';
import { sshConnector } from './shell.js';
import { runInstall, runReplaceToken, runUninstall, type InstallPlan } from './steps.js';
import type { ConnectedShell } from './injector.js';
import { PACKAGE_CACHE, createVmWorld, diffSnapshots, prepareArtifacts, snapshot, type VmWorld } from '../test/helpers/vm-world.js';
import { EXIT, asRoot, uploadPackageScript, type PackageKind } from './scripts.js';
import { makeJwt } from '../test/helpers/memory-cluster.js';

const VERSION = '1.30.3';
const wg: WorkloadGroupLike = {
  metadata: { name: 'order-api-v1', namespace: 'cafe' },
  spec: { metadata: { labels: { app: 'order-api', version: 'v1', 'mixmesh.io/service': 'iot-cafe' } }, template: { serviceAccount: 'order-api', ports: { http: 8081 } } },
};
const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOlsiaXN0aW8tY2EiXSwiZXhwIjo5OTk5OTk5OTk5fQ.c2lnbmF0dXJlLXN0ZXBz';
const ROOT = '-----BEGIN CERTIFICATE-----\nMIIBtestrootcert\n-----END CERTIFICATE-----\n';

describe('vm-sidecar-injector/steps on real OpenSSH sandbox VMs', function () {
  this.timeout(60_000);
  let world: VmWorld;
  const connect = sshConnector({ connectBudgetMs: 10_000 });

  before(async () => {
    world = await createVmWorld();
    await prepareArtifacts(world.artifacts, PACKAGE_CACHE, VERSION, ['deb', 'rpm', 'tar']);
  });
  after(async () => world?.close());

  function plan(address: string, token = TOKEN, artifacts = world.artifacts, kind: PackageKind = 'tar'): InstallPlan {
    const { files } = bundle(wg, DEFAULT_MESH_VALUES, address, { rootCert: ROOT, token, eastWestIP: '127.0.10.250' });
    return { address, user: 'root', sidecar: { kind, istioVersion: VERSION, source: { dir: artifacts } }, files: files as InstallPlan['files'], readiness: { attempts: 40, intervalSeconds: 0.1 } };
  }

  async function open(serverId: string): Promise<{ shell: ConnectedShell; rootfs: string; address: string }> {
    const vm = await world.provider.create({ serverId, name: serverId });
    const shell = await connect({ host: vm.address, port: 22, username: 'root', privateKey: world.clientKey, hostKey: { expected: parseConsoleHostKeys(vm.consoleOutput()) } });
    return { shell, rootfs: vm.rootfs, address: vm.address };
  }

  for (const kind of ['deb', 'rpm', 'tar'] as const) it(`${kind}: installs with owners and modes, proves readiness, changes nothing on a second run, uninstalls clean`, async () => {
    const { shell, rootfs, address } = await open(`steps-${kind}`);
    try {
      const before = snapshot(rootfs);
      const first = await runInstall(shell, plan(address, TOKEN, world.artifacts, kind));
      assert.equal(first.unchanged, false);
      assert.deepEqual(first.steps.map((s) => s.name), ['prepare', 'upload-package', 'install-package', 'check-version', 'place-files', 'start', 'verify']);
      assert.ok(first.steps.every((s) => s.exitCode === undefined || s.exitCode === 0));
      const installed = snapshot(rootfs);
      const want: [string, string, number][] = [
        ['/var/run/secrets/tokens/istio-token', '0600', 1337],
        ['/var/lib/mixmesh/istio-token', '0600', 1337],
        ['/etc/certs/root-cert.pem', '0640', 1337],
        ['/var/lib/istio/envoy/cluster.env', '0644', 1337],
      ];
      for (const [path, mode, uid] of want) {
        const e = installed.get(path.replace('/var/run/', '/run/')) ?? installed.get(path);
        assert.ok(e, `${path} exists`);
        assert.equal(e.mode, mode, `${path} mode`);
        assert.equal(e.uid, uid, `${path} owner`);
      }
      const hosts = (await shell.exec('cat /etc/hosts')).stdout;
      assert.equal(hosts.split('\n').filter((l) => l === '127.0.10.250 istiod.istio-system.svc').length, 1);
      assert.equal((await shell.exec('cat /etc/istio/config/mesh 2>/dev/null || cat /var/lib/istio/config/mesh')).code, 0);

      const second = await runInstall(shell, plan(address, TOKEN, world.artifacts, kind));
      assert.equal(second.unchanged, true, JSON.stringify(second.steps.filter((s) => s.changed)));
      const after2 = snapshot(rootfs);
      assert.deepEqual(diffSnapshots(installed, after2, { mtimes: true }).filter((p) => !p.includes('/var/log/')), []);

      // a new token: only the token files change, atomically, and the agent keeps running
      const newToken = `${TOKEN}cmVuZXdlZA`;
      await runReplaceToken(shell, 'root', newToken);
      assert.equal((await shell.exec('cat /var/run/secrets/tokens/istio-token')).stdout, newToken);
      assert.equal((await shell.exec('cat /var/lib/mixmesh/istio-token')).stdout, newToken);
      assert.deepEqual(diffSnapshots(after2, snapshot(rootfs)).filter((p) => !p.includes('/var/log/')), ['~ /run/secrets/tokens/istio-token', '~ /var/lib/mixmesh/istio-token']);
      assert.equal((await shell.exec(`wget -q -O - http://${address}:15021/healthz/ready`)).code, 0, 'still ready');

      const removed = await runUninstall(shell, { user: 'root', kind, istioVersion: VERSION, istiodHost: 'istiod.istio-system.svc' });
      assert.equal(removed[0]!.changed, true);
      // dpkg's own database records the purge (busybox keeps a status backup); nothing else may differ
      assert.deepEqual(diffSnapshots(before, snapshot(rootfs)).filter((p) => !/^[+~] \/var\/lib\/dpkg\/status(\.udeb\.bak)?$/.test(p)), []);
      assert.doesNotMatch((await shell.exec('cat /var/lib/dpkg/status')).stdout, /Package: istio-sidecar\n(.+\n)*?Status: install ok installed/);
      const again = await runUninstall(shell, { user: 'root', kind, istioVersion: VERSION, istiodHost: 'istiod.istio-system.svc' });
      assert.equal(again[0]!.changed, false);
      assert.notEqual((await shell.exec(`wget -q -O - http://${address}:15021/healthz/ready`)).code, 0, 'the agent is stopped');
    } finally {
      await shell.close();
    }
  });

  it('a package that does not install is SIDECAR_PACKAGE_FAILED, and a wrong version SIDECAR_VERSION_MISMATCH', async () => {
    const { shell, address } = await open('steps-2');
    try {
      const broken = join(world.dir, 'broken');
      mkdirSync(broken, { recursive: true });
      writeFileSync(join(broken, `istio-sidecar-${VERSION}.tar.gz`), 'this is not a tarball');
      await assert.rejects(runInstall(shell, plan(address, TOKEN, broken)), (e: unknown) => isMixmeshError(e, 'SIDECAR_PACKAGE_FAILED'));
      await assert.rejects(runInstall(shell, plan(address, TOKEN, join(world.dir, 'nowhere'))), (e: unknown) => isMixmeshError(e, 'SIDECAR_PACKAGE_FAILED') && /cannot be read/.test(e.message));
      // a package that answers 1.29.0 under the name of 1.30.3
      const mislabeled = join(world.dir, 'mislabeled');
      await prepareArtifacts(mislabeled, PACKAGE_CACHE, '1.29.0', ['tar']);
      renameSync(join(mislabeled, 'istio-sidecar-1.29.0.tar.gz'), join(mislabeled, `istio-sidecar-${VERSION}.tar.gz`));
      await assert.rejects(runInstall(shell, plan(address, TOKEN, mislabeled)), (e: unknown) => isMixmeshError(e, 'SIDECAR_VERSION_MISMATCH') && /reports Istio "1.29.0", requested 1.30.3/.test(e.message));
    } finally {
      await shell.close();
    }
  });

  it('a re-run repairs drifted modes and owners and a stale hosts line, and restarts only for a changed config file', async () => {
    const { shell, address } = await open('steps-drift');
    try {
      await runInstall(shell, plan(address));
      const pid = (await shell.exec('cat /var/lib/mixmesh/istio.pid')).stdout.trim();
      // drift: a token readable by all, a cert owned by root, a root-owned file under /var/lib/istio, a stale istiod line
      await shell.exec('chmod 0644 /var/run/secrets/tokens/istio-token && chown root /etc/certs/root-cert.pem && touch /var/lib/istio/stray && '
        + "grep -v istiod /etc/hosts > /tmp/h && echo '10.9.9.9 istiod.istio-system.svc' >> /tmp/h && cat /tmp/h > /etc/hosts");
      const again = await runInstall(shell, plan(address));
      assert.equal(again.unchanged, false);
      assert.equal(again.steps.find((s) => s.name === 'place-files')?.changed, true);
      assert.equal(again.steps.find((s) => s.name === 'start')?.changed, false, 'modes, owners and hosts need no restart');
      assert.equal((await shell.exec('cat /var/lib/mixmesh/istio.pid')).stdout.trim(), pid);
      assert.equal((await shell.exec('stat -c %a:%U /var/run/secrets/tokens/istio-token /etc/certs/root-cert.pem /var/lib/istio/stray')).stdout, '600:istio-proxy\n640:istio-proxy\n644:istio-proxy\n');
      const hosts = (await shell.exec('cat /etc/hosts')).stdout;
      assert.doesNotMatch(hosts, /10\.9\.9\.9/);
      assert.equal(hosts.split('\n').filter((l) => l === '127.0.10.250 istiod.istio-system.svc').length, 1);
      // a changed config file is replaced and the agent restarted
      await shell.exec("echo '# edited' >> /var/lib/istio/envoy/cluster.env");
      const third = await runInstall(shell, plan(address));
      assert.equal(third.steps.find((s) => s.name === 'start')?.changed, true);
      assert.notEqual((await shell.exec('cat /var/lib/mixmesh/istio.pid')).stdout.trim(), pid);
      assert.doesNotMatch((await shell.exec('cat /var/lib/istio/envoy/cluster.env')).stdout, /# edited/);
    } finally {
      await shell.close();
    }
  });

  it('a package stream that arrives short is refused before it is kept (and a whole one is kept with its checksum)', async () => {
    const { shell } = await open('steps-short');
    try {
      const kept = `/var/lib/mixmesh/istio-sidecar-${VERSION}.tar.gz`;
      const short = await shell.exec(asRoot(uploadPackageScript('tar', VERSION, 1000, 'ab'.repeat(32)), 'root'), Buffer.alloc(999, 7));
      assert.equal(short.code, EXIT.CHECKSUM);
      assert.match(short.stderr, /uploaded package has 999 bytes, expected 1000/);
      assert.equal((await shell.exec(`ls ${kept} ${kept}.part ${kept}.sha256`)).stdout, '', 'nothing kept, no part left');
      const whole = await shell.exec(asRoot(uploadPackageScript('tar', VERSION, 1000, 'ab'.repeat(32)), 'root'), Buffer.alloc(1000, 7));
      assert.equal(whole.code, 0, whole.stderr);
      assert.equal((await shell.exec(`stat -c %s ${kept}; cat ${kept}.sha256; ls ${kept}.part`)).stdout, `1000\n${'ab'.repeat(32)}\n`);
    } finally {
      await shell.close();
    }
  });

  it('fetches the package by URL on the VM (wget) when MIXMESH_SIDECAR_ARTIFACTS is an http base, once', async () => {
    const { shell, address } = await open('steps-url');
    const server = createServer((req, res) => {
      requests.push(req.url ?? '');
      const file = join(world.artifacts, (req.url ?? '/').slice(1));
      if (!/^\/istio-sidecar-[0-9.]+\.(deb|rpm|tar\.gz)$/.test(req.url ?? '')) { res.statusCode = 404; res.end(); return; }
      res.end(readFileSync(file));
    });
    const requests: string[] = [];
    // the VMs share the host's network: a server on 127.0.0.1 is reachable from them
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const p = plan(address, TOKEN, world.artifacts, 'tar');
      p.sidecar.source = { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
      const first = await runInstall(shell, p);
      assert.equal(first.unchanged, false);
      const second = await runInstall(shell, p);
      assert.equal(second.unchanged, true);
      assert.deepEqual(requests, [`/istio-sidecar-${VERSION}.tar.gz`], 'fetched once');
      p.sidecar.source = { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/missing` };
      p.sidecar.istioVersion = '1.29.9';
      await assert.rejects(runInstall(shell, p), (e: unknown) => isMixmeshError(e, 'SIDECAR_PACKAGE_FAILED') && /cannot fetch/.test(e.message));
    } finally {
      server.close();
      await shell.close();
    }
  });

  it('a sidecar that never answers ready is SIDECAR_NOT_READY, with the agent\'s reason in the stderr tail', async () => {
    const { shell, address } = await open('steps-notready');
    try {
      // a token for another audience: the agent refuses it
      const wrongAudience = makeJwt({ aud: ['kubernetes'], exp: 9999999999 });
      const p = plan(address, wrongAudience);
      p.readiness = { attempts: 5, intervalSeconds: 0.1 };
      await assert.rejects(runInstall(shell, p), (e: unknown) => isMixmeshError(e, 'SIDECAR_NOT_READY') && /audience lacks istio-ca.*did not answer ready after 13 attempts in 0\.40 s/.test(e.message) && !e.message.includes(wrongAudience));
    } finally {
      await shell.close();
    }
  });

  it('a non-root user without passwordless sudo is refused in prepare, before anything changes', async () => {
    const { shell, rootfs, address } = await open('steps-sudo');
    try {
      const before = snapshot(rootfs);
      const p = plan(address);
      p.user = 'ubuntu'; // every step would run through `sudo -n sh -c …`; this VM has no sudo
      await assert.rejects(runInstall(shell, p), (e: unknown) => isMixmeshError(e, 'SSH_COMMAND_FAILED') && /step prepare exited 14: user ubuntu may not run sudo -n without a password/.test(e.message));
      assert.deepEqual(diffSnapshots(before, snapshot(rootfs)), []);
    } finally {
      await shell.close();
    }
  });
});
