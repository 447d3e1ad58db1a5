import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import {
  asRoot, dropInUnit, installPackageScript, placeFilesScript, prepareScript, replaceTokenScript, startScript, uninstallScript, uploadPackageScript, verifyScript,
} from './scripts.js';

/** busybox sh is what the VMs run; `-n` parses without executing. */
function parses(script: string): void {
  execFileSync('busybox', ['sh', '-n', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('vm-sidecar-injector/scripts', () => {
  const hosts = "198.51.100.10 istiod.istio-system.svc\n";
  const all: [string, string][] = [
    ['prepare root', prepareScript('root', 'deb', '1.30.3')],
    ['prepare ubuntu', prepareScript('ubuntu', 'rpm', '1.30.3')],
    ['upload deb', uploadPackageScript('deb', '1.30.3', 52428800, 'ab')],
    ['install deb kept', installPackageScript({ kind: 'deb', version: '1.30.3' })],
    ['install rpm url', installPackageScript({ kind: 'rpm', version: '1.30.3', url: "http://h/it's.rpm" })],
    ['install tar kept', installPackageScript({ kind: 'tar', version: '1.30.3' })],
    ['place', placeFilesScript('/tmp/mixmesh.abc', hosts, false)],
    ['place systemd', placeFilesScript('/tmp/mixmesh.abc', hosts, true)],
    ['start', startScript(false)],
    ['restart', startScript(true)],
    ['verify', verifyScript('127.0.10.3', 10, 0.1)],
    ['replace token', replaceTokenScript('/tmp/mixmesh.abc/istio-token')],
    ['uninstall deb', uninstallScript('deb', '1.30.3', 'istiod.istio-system.svc')],
    ['uninstall rpm', uninstallScript('rpm', '1.30.3', 'istiod.istio-system.svc')],
    ['uninstall tar', uninstallScript('tar', '1.30.3', 'istiod.istio-system.svc')],
  ];
  for (const [name, script] of all) it(`${name} parses with busybox sh`, () => parses(script));

  it('verify waits 20 ms ten times, then the interval, within the old budget, and not after the last attempt', () => {
    const script = verifyScript('127.0.10.3', 5, 0.1); // budget 4 × 0.1 s
    assert.match(script, /^for w in (0\.02 ){10}0\.1 0\.1 last; do$/m);
    assert.match(script, /did not answer ready after 13 attempts in 0\.40 s/);
    assert.match(verifyScript('127.0.10.3', 2, 0.05), /^for w in 0\.02 0\.02 0\.01 last; do$/m);
    assert.match(verifyScript('127.0.10.3', 1, 0.1), /^for w in last; do$/m);
  });

  it('wraps scripts for non-root users in sudo -n sh -c with one quoted argument', () => {
    assert.equal(asRoot("echo 'a'", 'root'), `sh -c 'echo '"'"'a'"'"''`);
    assert.equal(asRoot('echo hi', 'ubuntu'), `sudo -n sh -c 'echo hi'`);
    const out = execFileSync('sh', ['-c', asRoot("printf '%s' \"it's $((1+1))\"", 'root')], { encoding: 'utf8' });
    assert.equal(out, "it's 2");
  });

  it('the drop-in restores the token with full privileges before istio starts', () => {
    const unit = dropInUnit();
    assert.match(unit, /^\[Service\]$/m);
    assert.match(unit, /^ExecStartPre=\+\/bin\/sh -c '.*cp \/var\/lib\/mixmesh\/istio-token .*mv -f .* \/var\/run\/secrets\/tokens\/istio-token'$/m);
  });
});
