/**
 * The stand-in `istio-sidecar` package's files: the real layout (istio/tools packaging) with
 * POSIX-sh programs that busybox runs. Pure: version in, file list out.
 *
 * What the injector can observe is what the real package offers: `pilot-agent version -s`, the
 * `istio` unit, `istio-start.sh` run as root that drops to istio-proxy (uid 1337), and
 * `GET /healthz/ready` on ISTIO_SVC_IP:15021 — 200 only while cluster.env parses, the root cert is
 * PEM and the token is an unexpired JWT for `istio-ca`, checked on every request.
 */
import { MixmeshError } from '../../common/errors.js';

export const DEFAULT_ISTIO_VERSION = '1.30.3';
export const PACKAGE_NAME = 'istio-sidecar';
export const PROXY_UID = 1337;

export interface PackageEntry {
  /** absolute path on the VM */
  path: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  /** owned by istio-proxy (1337) instead of root */
  proxyOwned?: boolean;
  content?: Buffer;
  target?: string;
}

const VERSION_RE = /^[0-9]+\.[0-9]+\.[0-9]+(-[A-Za-z0-9.]+)?$/;

export function checkVersion(version: string): string {
  if (!VERSION_RE.test(version)) {
    throw new MixmeshError('BAD_REQUEST', `sidecar package version ${JSON.stringify(version)}: expected MAJOR.MINOR.PATCH[-suffix], e.g. ${DEFAULT_ISTIO_VERSION}`);
  }
  return version;
}

/** The stand-in pilot-agent: `version [-s]`, `proxy` (serve readiness), `ready-request` (one HTTP exchange). */
export function pilotAgentScript(version: string): string {
  return `#!/bin/sh
# mixmesh sandbox stand-in for Istio's pilot-agent ${version}.
# Offers what the VM Sidecar Injector uses: \`pilot-agent version -s\` and, under \`pilot-agent proxy\`,
# GET /healthz/ready on $ISTIO_SVC_IP:15021 (200 only while the bootstrap files are good).
# No Envoy runs and no traffic is captured: sandbox VMs share the host's network.
ISTIO_VERSION='${version}'
CLUSTER_ENV=/var/lib/istio/envoy/cluster.env
ROOT_CERT=/etc/certs/root-cert.pem
TOKEN=/var/run/secrets/tokens/istio-token
LOG=/var/log/istio/istio.log
STATUS_PORT=15021

log() { printf '%s\\t%s\\t%s\\n' "$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)" "$1" "$2" >>"$LOG" 2>/dev/null || true; }

# why the agent is not ready, or nothing when it is
not_ready_reason() {
  [ -r "$CLUSTER_ENV" ] || { echo "cluster.env missing or unreadable"; return; }
  # parses: syntax check, then sourcing in a subshell must succeed
  sh -n "$CLUSTER_ENV" 2>/dev/null && (set -e; . "$CLUSTER_ENV") >/dev/null 2>&1 || { echo "cluster.env does not parse"; return; }
  [ -r "$ROOT_CERT" ] || { echo "root-cert.pem missing or unreadable"; return; }
  grep -q '^-----BEGIN CERTIFICATE-----' "$ROOT_CERT" && grep -q '^-----END CERTIFICATE-----' "$ROOT_CERT" &&
    sed -n '/^-----BEGIN CERTIFICATE-----/,/^-----END CERTIFICATE-----/p' "$ROOT_CERT" | grep -v '^-----' | base64 -d >/dev/null 2>&1 ||
    { echo "root-cert.pem is not a PEM certificate"; return; }
  [ -r "$TOKEN" ] || { echo "istio-token missing or unreadable"; return; }
  jwt=$(tr -d ' \\t\\r\\n' <"$TOKEN")
  case "$jwt" in *.*.*) ;; *) echo "istio-token is not a JWT"; return ;; esac
  payload=\${jwt#*.}
  payload=\${payload%%.*}
  # base64url -> base64 with padding
  b64=$(printf '%s' "$payload" | tr '_-' '/+')
  case $(( \${#b64} % 4 )) in 2) b64="$b64==" ;; 3) b64="$b64=" ;; 1) echo "istio-token is not a JWT"; return ;; esac
  claims=$(printf '%s' "$b64" | base64 -d 2>/dev/null | tr -d ' \\t\\r\\n') || { echo "istio-token is not a JWT"; return; }
  case "$claims" in '{'*'}') ;; *) echo "istio-token is not a JWT"; return ;; esac
  printf '%s' "$claims" | grep -q -e '"aud":"istio-ca"' -e '"aud":\\[[^]]*"istio-ca"' || { echo "istio-token audience lacks istio-ca"; return; }
  exp=$(printf '%s' "$claims" | sed -n 's/.*"exp":\\([0-9][0-9]*\\).*/\\1/p')
  [ -n "$exp" ] || { echo "istio-token has no exp"; return; }
  now=$(date +%s)
  [ "$exp" -gt "$now" ] || { echo "token expired"; return; }
}

respond() {
  printf 'HTTP/1.1 %s\\r\\nContent-Type: text/plain; charset=utf-8\\r\\nContent-Length: %s\\r\\nConnection: close\\r\\n\\r\\n%s' "$1" "\${#2}" "$2"
}

case "\${1:-}" in
  version)
    if [ "\${2:-}" = -s ] || [ "\${2:-}" = --short ]; then
      echo "$ISTIO_VERSION"
    else
      echo "client version: version.BuildInfo{Version:\\"$ISTIO_VERSION\\", GitRevision:\\"mixmesh-sandbox-stand-in\\", GolangVersion:\\"none\\", BuildStatus:\\"Clean\\", GitTag:\\"$ISTIO_VERSION\\"}"
    fi
    ;;
  proxy)
    addr=$( . "$CLUSTER_ENV" >/dev/null 2>&1; printf '%s' "\${ISTIO_SVC_IP:-}" )
    if [ -z "$addr" ]; then
      log error "ISTIO_SVC_IP is not set in $CLUSTER_ENV: cannot serve the status port"
      exit 1
    fi
    log info "pilot-agent $ISTIO_VERSION (sandbox stand-in) serving /healthz/ready on $addr:$STATUS_PORT as uid $(id -u)"
    # one short-lived handler per connection, bound to the VM's own address (VMs share the network)
    exec nc -ll -p "$STATUS_PORT" "$addr" -e /usr/local/bin/pilot-agent ready-request
    ;;
  ready-request)
    IFS=' ' read -r method path _ || exit 0
    cr=$(printf '\\r')
    while IFS= read -r line; do [ -z "$line" ] || [ "$line" = "$cr" ] && break; done
    case "$path" in
      /healthz/ready|/healthz/ready\\?*) ;;
      *) respond '404 Not Found' "not found"; exit 0 ;;
    esac
    reason=$(not_ready_reason)
    if [ -z "$reason" ]; then
      respond '200 OK' ''
    else
      log warn "readiness probe failed: $reason"
      respond '503 Service Unavailable' "$reason
"
    fi
    ;;
  *)
    echo "usage: pilot-agent version [-s] | pilot-agent proxy" >&2
    exit 64
    ;;
esac
`;
}

/** istio-start.sh, run as root by the unit (or detached by the injector where there is no systemd). */
export function istioStartScript(): string {
  return `#!/bin/sh
# mixmesh sandbox stand-in for Istio's istio-start.sh. Like the real one it runs as root and starts
# pilot-agent as istio-proxy with its output in /var/log/istio; unlike it, it never runs
# istio-iptables and touches nothing outside the VM's root.
set -u
[ -f /var/lib/istio/envoy/sidecar.env ] && . /var/lib/istio/envoy/sidecar.env
ISTIO_LOG_DIR=\${ISTIO_LOG_DIR:-/var/log/istio}
# the package's link; busybox rpm runs no %post and skips absolute symlinks of the payload
[ -e /etc/istio ] || [ -L /etc/istio ] || ln -s /var/lib/istio /etc/istio
mkdir -p "$ISTIO_LOG_DIR" /etc/istio/proxy
touch "$ISTIO_LOG_DIR/istio.log" "$ISTIO_LOG_DIR/istio.err.log"
if [ "$(id -u)" = 0 ]; then
  chown istio-proxy:istio-proxy "$ISTIO_LOG_DIR" "$ISTIO_LOG_DIR/istio.log" "$ISTIO_LOG_DIR/istio.err.log" /etc/istio/proxy
  exec su -s /bin/sh istio-proxy -c "exec /usr/local/bin/pilot-agent proxy >>$ISTIO_LOG_DIR/istio.log 2>>$ISTIO_LOG_DIR/istio.err.log"
fi
exec /usr/local/bin/pilot-agent proxy >>"$ISTIO_LOG_DIR/istio.log" 2>>"$ISTIO_LOG_DIR/istio.err.log"
`;
}

/** The stand-in envoy: answers --version; padding (if any) follows `exit 0`, so sh never reads it. */
export function envoyScript(version: string): string {
  return `#!/bin/sh
# mixmesh sandbox stand-in for Envoy (Istio ${version}); the sandbox runs no proxy.
case "\${1:-}" in
  --version) echo "envoy  version: 0000000000000000000000000000000000000000/1.34.0-dev/Clean/RELEASE/BoringSSL (istio ${version}, mixmesh sandbox stand-in)" ;;
  *) echo "envoy stand-in: the sandbox runs no proxy" >&2 ;;
esac
exit 0
`;
}

export const ISTIO_UNIT = `[Unit]
Description=istio-sidecar: The Istio sidecar
Documentation=http://istio.io/

[Service]
ExecStart=/usr/local/bin/istio-start.sh
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
`;

/** postinst (deb; also the rpm's %post): user/group istio-proxy if missing, dirs, /etc/istio link. */
export const POSTINST = `#!/bin/sh
set -e
umask 022
if ! grep -q '^istio-proxy:' /etc/group; then
  if command -v groupadd >/dev/null 2>&1; then groupadd --system istio-proxy
  elif command -v addgroup >/dev/null 2>&1; then addgroup -S istio-proxy
  else echo 'istio-proxy:x:${PROXY_UID}:' >>/etc/group; fi
fi
if ! grep -q '^istio-proxy:' /etc/passwd; then
  if command -v useradd >/dev/null 2>&1; then useradd --system --gid istio-proxy --home-dir /var/lib/istio --shell /bin/sh istio-proxy
  elif command -v adduser >/dev/null 2>&1; then adduser -S -G istio-proxy -h /var/lib/istio -s /bin/sh istio-proxy
  else echo 'istio-proxy:x:${PROXY_UID}:${PROXY_UID}:istio-proxy:/var/lib/istio:/bin/sh' >>/etc/passwd; fi
fi
mkdir -p /var/lib/istio/envoy /var/lib/istio/proxy /var/lib/istio/config /var/log/istio /etc/certs
[ -e /etc/istio ] || ln -s /var/lib/istio /etc/istio
chown -R istio-proxy:istio-proxy /var/lib/istio /var/log/istio
exit 0
`;

const SIDECAR_ENV = `# Environment for istio-start.sh (the real package keeps its defaults here too).
# ISTIO_LOG_DIR=/var/log/istio
`;

const BOOTSTRAP_TMPL = '{"comment":"mixmesh sandbox stand-in: pilot-agent here runs no Envoy"}\n';

/**
 * Every entry of the package, parents before children. `padBytes` incompressible bytes are appended
 * to envoy (the real envoy is the bulk of the real package).
 */
export function sidecarEntries(version: string, padding: Buffer = Buffer.alloc(0)): PackageEntry[] {
  checkVersion(version);
  const file = (path: string, text: string, mode: number, extra?: Buffer): PackageEntry => ({ path, type: 'file', mode, content: extra && extra.length ? Buffer.concat([Buffer.from(text), extra]) : Buffer.from(text) });
  const dir = (path: string, proxyOwned = false): PackageEntry => ({ path, type: 'dir', mode: 0o755, ...(proxyOwned ? { proxyOwned } : {}) });
  return [
    dir('/etc'),
    { path: '/etc/istio', type: 'symlink', mode: 0o777, target: '/var/lib/istio' },
    dir('/lib'),
    dir('/lib/systemd'),
    dir('/lib/systemd/system'),
    file('/lib/systemd/system/istio.service', ISTIO_UNIT, 0o644),
    dir('/usr'),
    dir('/usr/local'),
    dir('/usr/local/bin'),
    file('/usr/local/bin/envoy', envoyScript(version), 0o755, padding),
    file('/usr/local/bin/istio-start.sh', istioStartScript(), 0o755),
    file('/usr/local/bin/pilot-agent', pilotAgentScript(version), 0o755),
    dir('/var'),
    dir('/var/lib'),
    dir('/var/lib/istio', true),
    dir('/var/lib/istio/envoy', true),
    file('/var/lib/istio/envoy/envoy_bootstrap_tmpl.json', BOOTSTRAP_TMPL, 0o644),
    file('/var/lib/istio/envoy/sidecar.env', SIDECAR_ENV, 0o644),
    dir('/var/log'),
    dir('/var/log/istio', true),
  ];
}

/** The entries the package owns (for rpm's file list): not shared parents like /usr or /var. */
export function ownedEntries(entries: readonly PackageEntry[]): PackageEntry[] {
  const shared = new Set(['/etc', '/lib', '/lib/systemd', '/lib/systemd/system', '/usr', '/usr/local', '/usr/local/bin', '/var', '/var/lib', '/var/log']);
  return entries.filter((e) => !shared.has(e.path));
}
