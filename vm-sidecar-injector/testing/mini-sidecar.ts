/**
 * A minimal sidecar tarball for step tests until sandbox/sidecar-package's stand-in is used:
 * the real layout's entry points (`pilot-agent version -s`, `istio-start.sh`), whose agent serves
 * `/healthz/ready` on <ISTIO_SVC_IP>:15021 with busybox httpd; it refuses to start without a token.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function buildMiniSidecarTar(outDir: string, version: string): string {
  const root = mkdtempSync(join(tmpdir(), 'mini-sidecar-'));
  try {
    mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
    mkdirSync(join(root, 'var/lib/istio/envoy'), { recursive: true });
    mkdirSync(join(root, 'var/lib/istio/www/healthz'), { recursive: true });
    writeFileSync(join(root, 'var/lib/istio/www/healthz/ready'), 'ok\n');
    writeFileSync(join(root, 'usr/local/bin/pilot-agent'), `#!/bin/sh\nif [ "$1 $2" = "version -s" ]; then echo ${version}; exit 0; fi\necho "usage: pilot-agent version -s" >&2\nexit 2\n`);
    writeFileSync(
      join(root, 'usr/local/bin/istio-start.sh'),
      `#!/bin/sh
set -eu
. /var/lib/istio/envoy/cluster.env
mkdir -p /var/log/istio
[ -s /var/run/secrets/tokens/istio-token ] || { echo "no token" >> /var/log/istio/istio.log; exit 1; }
echo "started on $ISTIO_SVC_IP" >> /var/log/istio/istio.log
exec httpd -f -p "$ISTIO_SVC_IP:15021" -h /var/lib/istio/www
`,
    );
    chmodSync(join(root, 'usr/local/bin/pilot-agent'), 0o755);
    chmodSync(join(root, 'usr/local/bin/istio-start.sh'), 0o755);
    mkdirSync(outDir, { recursive: true });
    const out = join(outDir, `istio-sidecar-${version}.tar.gz`);
    execFileSync('tar', ['-czf', out, '--owner=0', '--group=0', '-C', root, 'usr/local/bin/pilot-agent', 'usr/local/bin/istio-start.sh', 'var/lib/istio']);
    return out;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
