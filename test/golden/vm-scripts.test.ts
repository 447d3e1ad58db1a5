/**
 * Golden files for the VM install scripts (vm-sidecar-injector/scripts.ts): every generator with
 * the parameters the injector uses, one file each under `test/golden/vm-scripts/`, so every change
 * to what runs as root on a VM shows up as a diff in review. `UPDATE_GOLDEN=1` rewrites them.
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  asRoot, dropInUnit, installPackageScript, placeFilesScript, prepareScript, replaceTokenScript, startScript, uninstallScript, uploadPackageScript, verifyScript, versionScript,
} from '../../vm-sidecar-injector/scripts.js';

const DIR = fileURLToPath(new URL('./vm-scripts/', import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const HOSTS = '198.51.100.10 istiod.istio-system.svc\n';
const STAGING = '/var/lib/mixmesh/staging.AbC123';

/** file name → script: the parameters cover every branch of every generator. */
const SCRIPTS: Record<string, string> = {
  'prepare-root-deb.sh': prepareScript('root', 'deb', '1.30.3'),
  'prepare-user-rpm.sh': prepareScript('ubuntu', 'rpm', '1.30.3'),
  'upload-deb.sh': uploadPackageScript('deb', '1.30.3', 52428800, '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'),
  'install-deb-kept.sh': installPackageScript({ kind: 'deb', version: '1.30.3' }),
  'install-rpm-url.sh': installPackageScript({ kind: 'rpm', version: '1.30.3', url: "https://packages.example.com/istio-sidecar-1.30.3.rpm?sig=it's" }),
  'install-tar-kept.sh': installPackageScript({ kind: 'tar', version: '1.30.3' }),
  'version.sh': versionScript(),
  'place-files.sh': placeFilesScript(STAGING, HOSTS, false),
  'place-files-systemd.sh': placeFilesScript(STAGING, HOSTS, true),
  'mixmesh.conf': dropInUnit(),
  'start.sh': startScript(false),
  'restart.sh': startScript(true),
  'verify.sh': verifyScript('127.0.10.3', 30, 1),
  'verify-ipv6.sh': verifyScript('fd00::3', 3, 0.5),
  'replace-token.sh': replaceTokenScript(`${STAGING}/istio-token`),
  'uninstall-deb.sh': uninstallScript('deb', '1.30.3', 'istiod.istio-system.svc'),
  'uninstall-rpm.sh': uninstallScript('rpm', '1.30.3', 'istiod.istio-system.svc'),
  'uninstall-tar.sh': uninstallScript('tar', '1.30.3', 'istiod.istio-system.svc'),
  'as-user.txt': asRoot(startScript(false), 'ubuntu'),
};

describe('golden: VM install scripts', () => {
  for (const [name, script] of Object.entries(SCRIPTS)) {
    it(`${name} is byte for byte the golden file`, () => {
      const file = join(DIR, name);
      if (UPDATE) {
        mkdirSync(DIR, { recursive: true });
        writeFileSync(file, script);
        return;
      }
      assert.ok(existsSync(file), `${file} is missing; run with UPDATE_GOLDEN=1 and review it`);
      assert.equal(script, readFileSync(file, 'utf8'), `${file} differs (UPDATE_GOLDEN=1 rewrites it)`);
    });
  }

  it('has no golden file without a generator (a stale file would go unreviewed)', () => {
    if (UPDATE) return;
    assert.deepEqual(readdirSync(DIR).sort(), Object.keys(SCRIPTS).sort());
  });
});
