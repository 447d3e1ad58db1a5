/**
 * The remote scripts, one per step: POSIX sh that busybox 1.35 runs (no bash, no sudo, no
 * systemctl on the sandbox VMs; the same scripts run unchanged on a real VM with systemd).
 * Pure: every value reaches a script through shellQuote; secrets never do — they travel as files
 * over SFTP and scripts only name their paths.
 *
 * Every script is idempotent and ends by printing `mixmesh-result=changed` or
 * `mixmesh-result=unchanged`, so a second run can prove that it changed nothing.
 */
import { shellQuote } from '../common/names.js';
import { BUNDLE_PATHS } from './bundle/bundle.js';

export type PackageKind = 'deb' | 'rpm' | 'tar';

export const STATE_DIR = '/var/lib/mixmesh';
/** the reboot-safe copy of the token (/var/run is tmpfs on most distributions) */
export const TOKEN_COPY = `${STATE_DIR}/istio-token`;
export const DROP_IN = '/etc/systemd/system/istio.service.d/mixmesh.conf';
/** pid (= process group) of istio-start.sh where there is no systemd */
export const PID_FILE = `${STATE_DIR}/istio.pid`;
export const INSTALLED_MARKER = `${STATE_DIR}/installed`;
export const PACKAGE_NAME = 'istio-sidecar';

export const RESULT_CHANGED = 'mixmesh-result=changed';
export const RESULT_UNCHANGED = 'mixmesh-result=unchanged';

/** Exit codes the scripts use for failures the injector maps to stable error codes. */
export const EXIT = Object.freeze({
  CHECKSUM: 10,
  PACKAGE: 11,
  FETCH: 12,
  NOT_READY: 13,
  SUDO: 14,
  START: 15,
  TOKEN_EXPIRED: 16,
});

// busybox 1.35's `wget -T` segfaults: bound wget with timeout(1) instead, where there is one
const PRELUDE = `set -eu
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
bounded() { s=$1; shift; if command -v timeout >/dev/null 2>&1; then timeout "$s" "$@"; else "$@"; fi; }
`;

/** Wrap a script for the SSH user: root runs `sh -c`, anyone else `sudo -n sh -c`. */
export function asRoot(script: string, user: string): string {
  const command = `sh -c ${shellQuote(script)}`;
  return user === 'root' ? command : `sudo -n ${command}`;
}

/** The kept copy of the package, also used to list its files at uninstall. */
export function keptPackagePath(kind: PackageKind, version: string): string {
  return `${STATE_DIR}/${PACKAGE_NAME}-${version}.${kind === 'tar' ? 'tar.gz' : kind}`;
}

/**
 * Runs as the SSH user (no sudo): makes a private staging directory for SFTP uploads and reports
 * facts about the VM. Root stages under /var/lib/mixmesh (same file system as the kept package,
 * so moving the package there is a rename); other users in /tmp, private (0700).
 */
export function prepareScript(user: string, kind: PackageKind, version: string): string {
  const kept = keptPackagePath(kind, version);
  return `${PRELUDE}umask 077
${user === 'root' ? `mkdir -p ${STATE_DIR}\nchmod 755 ${STATE_DIR}\nd=$(mktemp -d ${STATE_DIR}/staging.XXXXXX)` : 'd=$(mktemp -d /tmp/mixmesh.XXXXXX)'}
chmod 700 "$d"
echo "staging=$d"
if command -v systemctl >/dev/null 2>&1; then echo systemd=1; else echo systemd=0; fi
${user === 'root' ? '' : `if ! sudo -n true 2>/dev/null; then echo "user ${user.replace(/[^A-Za-z0-9_.-]/g, '?')} may not run sudo -n without a password" >&2; rm -rf "$d"; exit ${EXIT.SUDO}; fi\n`}# the checksum recorded when this package version was last uploaded and verified
if [ -f ${shellQuote(`${kept}.sha256`)} ] && [ -f ${shellQuote(kept)} ]; then echo "kept=$(cat ${shellQuote(`${kept}.sha256`)})"; fi
echo ${RESULT_CHANGED}
`;
}

/**
 * Receive the package on stdin (one exec: no SFTP session, no second pass over the bytes) into the
 * kept copy the uninstall needs: written beside, size-checked, renamed, its sha256 recorded.
 * SSH's MAC already guards the bytes; the size check catches a truncated stream. The recorded
 * sha256 is the one computed on the injector, so a re-run can skip the upload.
 */
export function uploadPackageScript(kind: PackageKind, version: string, size: number, sha256: string): string {
  const keptPath = keptPackagePath(kind, version);
  const kept = shellQuote(keptPath);
  const part = shellQuote(`${keptPath}.part`);
  const keptSum = shellQuote(`${keptPath}.sha256`);
  return `${PRELUDE}umask 022
mkdir -p ${STATE_DIR}
chmod 755 ${STATE_DIR}
umask 077
rm -f ${keptSum}
cat > ${part}
got=$(stat -c %s ${part})
if [ "$got" != ${shellQuote(String(size))} ]; then echo "uploaded package has $got bytes, expected ${size}" >&2; rm -f ${part}; exit ${EXIT.CHECKSUM}; fi
mv -f ${part} ${kept}
echo ${shellQuote(sha256)} > ${keptSum}
echo ${RESULT_CHANGED}
`;
}

export interface InstallPackageParams {
  kind: PackageKind;
  version: string;
  /** fetch from this URL on the VM (wget) when it keeps no copy yet, instead of an upload */
  url?: string;
}

/** Install the kept package (fetched first for a URL source) unless this exact package is already installed. */
export function installPackageScript(p: InstallPackageParams): string {
  const kept = shellQuote(keptPackagePath(p.kind, p.version));
  const keptSum = shellQuote(`${keptPackagePath(p.kind, p.version)}.sha256`);
  const install =
    p.kind === 'deb'
      ? // dependencies checked first; an image without them (busybox's dpkg knows none) gets a warning, not a refusal
        `dpkg -i ${kept} >&2 || { echo "warning: dpkg refused ${PACKAGE_NAME}; retrying with --force-depends" >&2; dpkg -i --force-depends ${kept} >&2; }`
      : p.kind === 'rpm'
        ? // busybox rpm has no -U; real rpm needs -U --replacepkgs to re-install
          `if rpm --version >/dev/null 2>&1; then rpm -U --replacepkgs ${kept} >&2; else rpm -i ${kept} >&2; fi`
        : `tar -xzf ${kept} -C / >&2`;
  let fetch = '';
  if (p.url !== undefined) {
    fetch = `if [ ! -f ${keptSum} ]; then
  rm -f ${kept}.part
  bounded 600 wget -q -O ${kept}.part ${shellQuote(p.url)} || { echo "cannot fetch ${p.url.replace(/[^A-Za-z0-9_.:/@%+=,-]/g, '?')}" >&2; rm -f ${kept}.part; exit ${EXIT.FETCH}; }
  mv -f ${kept}.part ${kept}
  sha256sum ${kept} | cut -d' ' -f1 > ${keptSum}
fi
`;
  }
  return `${PRELUDE}umask 022
mkdir -p ${STATE_DIR}
chmod 755 ${STATE_DIR}
${fetch}[ -f ${kept} ] && [ -f ${keptSum} ] || { echo "no package ${keptPackagePath(p.kind, p.version)} on the VM" >&2; exit ${EXIT.PACKAGE}; }
want="${p.kind} $(cat ${keptSum})"
if [ -x /usr/local/bin/pilot-agent ] && [ "$(cat ${INSTALLED_MARKER} 2>/dev/null || true)" = "$want" ]; then echo ${RESULT_UNCHANGED}; exit 0; fi
${install} || { echo "installing the ${p.kind} package failed" >&2; exit ${EXIT.PACKAGE}; }
[ -x /usr/local/bin/pilot-agent ] || { echo "the package installed no /usr/local/bin/pilot-agent" >&2; exit ${EXIT.PACKAGE}; }
echo "$want" > ${INSTALLED_MARKER}
echo ${RESULT_CHANGED}
`;
}

export function versionScript(): string {
  return `${PRELUDE}/usr/local/bin/pilot-agent version -s\n`;
}

/** File name in the staging directory → destination, mode, and whether a change needs a restart. */
export interface PlacedFile {
  staged: string;
  dest: string;
  mode: string;
  restart: boolean;
}

export function placedFiles(withDropIn: boolean): PlacedFile[] {
  const files: PlacedFile[] = [
    { staged: 'cluster.env', dest: BUNDLE_PATHS.clusterEnv, mode: '0644', restart: true },
    { staged: 'mesh', dest: BUNDLE_PATHS.meshYaml, mode: '0644', restart: true },
    { staged: 'root-cert.pem', dest: BUNDLE_PATHS.rootCert, mode: '0640', restart: true },
    // pilot-agent re-reads the token: a new one needs no restart
    { staged: 'istio-token', dest: BUNDLE_PATHS.token, mode: '0600', restart: false },
    { staged: 'istio-token', dest: TOKEN_COPY, mode: '0600', restart: false },
  ];
  if (withDropIn) files.push({ staged: 'mixmesh.conf', dest: DROP_IN, mode: '0644', restart: false });
  return files;
}

/** The systemd drop-in that restores the token from the reboot-safe copy before istio starts. */
export function dropInUnit(): string {
  const restore = `mkdir -p /var/run/secrets/tokens && cp ${TOKEN_COPY} ${BUNDLE_PATHS.token}.boot && chown istio-proxy ${BUNDLE_PATHS.token}.boot && chmod 0600 ${BUNDLE_PATHS.token}.boot && mv -f ${BUNDLE_PATHS.token}.boot ${BUNDLE_PATHS.token}`;
  // "+": run with full privileges whatever User= the unit sets
  return `# written by mixmesh: restore the istio token after a reboot (/var/run is tmpfs)\n[Service]\nExecStartPre=+/bin/sh -c '${restore}'\n`;
}

/**
 * Place the bundle files (atomically: copy beside, then rename), append the hosts line once
 * (replacing a stale line for the same istiod host), chown what the proxy reads. Prints
 * `restart=1` when a file the running agent only reads at start changed.
 */
/** A basic regex matching the /etc/hosts line of one istiod host. */
function hostsPattern(host: string): string {
  return `^[0-9a-fA-F.:]*[[:space:]][[:space:]]*${host.replace(/\./g, '\\.')}$`;
}

export function placeFilesScript(staging: string, hostsLine: string, withDropIn: boolean): string {
  const host = hostsLine.trim().split(/\s+/)[1] ?? '';
  const files = placedFiles(withDropIn);
  const q = (f: PlacedFile) => shellQuote(`${staging}/${f.staged}`);
  // every process costs a fork and an exec on the VM: owners and modes are set on the staged
  // copies in a few batched commands, then each destination gets one `cp -p` beside it and one
  // rename; all parent directories are made by one mkdir
  const staged = [...new Map(files.map((f) => [f.staged, f])).values()];
  const byMode = new Map<string, string[]>();
  for (const f of staged) byMode.set(f.mode, [...(byMode.get(f.mode) ?? []), q(f)]);
  const dirs = new Set(['/etc/certs', '/var/run/secrets/tokens', '/etc/istio/proxy', '/etc/istio/config', '/var/lib/istio/envoy', STATE_DIR]);
  for (const f of files) dirs.add(f.dest.slice(0, f.dest.lastIndexOf('/')));
  const lines = files.map((f) => `place ${q(f)} ${shellQuote(f.dest)} ${f.mode} ${f.mode.replace(/^0/, '')}:istio-proxy ${f.restart ? 1 : 0}`);
  return `${PRELUDE}umask 077
changed=0
restart=0
# cmp is in every busybox and in Debian's essential set; a minimal image without it compares checksums
same() { if command -v cmp >/dev/null 2>&1; then cmp -s "$1" "$2"; else [ "$(sha256sum < "$1")" = "$(sha256sum < "$2")" ]; fi; }
# staged dest mode mode-and-owner-as-stat-prints-them restart?
place() {
  if [ -f "$2" ] && same "$1" "$2"; then
    [ "$(stat -c %a:%U "$2")" = "$4" ] || { chmod "$3" "$2"; chown istio-proxy "$2"; changed=1; }
    return 0
  fi
  cp -p "$1" "$2.mixmesh-new"
  mv -f "$2.mixmesh-new" "$2"
  changed=1
  [ "$5" = 0 ] || restart=1
}
mkdir -p ${[...dirs].map(shellQuote).join(' ')}
chown istio-proxy ${staged.map(q).join(' ')}
${[...byMode].map(([mode, paths]) => `chmod ${mode} ${paths.join(' ')}`).join('\n')}
${lines.join('\n')}
line=${shellQuote(hostsLine.trim())}
if ! grep -qxF "$line" /etc/hosts; then
  # drop a stale line for the same host (an east-west IP that changed), keep the inode
  grep -v ${shellQuote(hostsPattern(host))} /etc/hosts > /etc/hosts.mixmesh-new || true
  echo "$line" >> /etc/hosts.mixmesh-new
  cat /etc/hosts.mixmesh-new > /etc/hosts
  rm -f /etc/hosts.mixmesh-new
  changed=1
fi
# one find over all of them: anything not owned by istio-proxy is fixed (rarely: after a drift)
if [ -n "$(find /var/lib/istio/ /etc/certs/ /etc/istio/proxy/ /etc/istio/config/ /var/run/secrets/ ! -user istio-proxy 2>/dev/null | head -n 1)" ]; then
  for d in /var/lib/istio /etc/certs /etc/istio/proxy /etc/istio/config /var/run/secrets; do
    [ -z "$(find "$d/" ! -user istio-proxy 2>/dev/null | head -n 1)" ] || { chown -R istio-proxy "$d/"; changed=1; }
  done
fi
${withDropIn ? `if [ "$changed" = 1 ]; then systemctl daemon-reload; fi\n` : ''}rm -rf ${shellQuote(staging)}
echo "restart=$restart"
if [ "$changed" = 1 ]; then echo ${RESULT_CHANGED}; else echo ${RESULT_UNCHANGED}; fi
`;
}

/** Start (or, after a config change, restart) the agent: systemd when present, else istio-start.sh detached. */
export function startScript(restart: boolean): string {
  return `${PRELUDE}if command -v systemctl >/dev/null 2>&1; then
  systemctl enable istio >&2
  if [ ${restart ? 1 : 0} = 1 ]; then systemctl restart istio; echo ${RESULT_CHANGED}
  elif systemctl is-active --quiet istio; then echo ${RESULT_UNCHANGED}
  else systemctl start istio; echo ${RESULT_CHANGED}; fi
  exit 0
fi
running() { [ -f ${PID_FILE} ] && kill -0 "-$(cat ${PID_FILE})" 2>/dev/null; }
if running; then
  if [ ${restart ? 1 : 0} = 0 ]; then echo ${RESULT_UNCHANGED}; exit 0; fi
  kill -TERM "-$(cat ${PID_FILE})" 2>/dev/null || true
  i=0
  while running && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
  running && kill -KILL "-$(cat ${PID_FILE})" 2>/dev/null || true
fi
mkdir -p /var/log/istio
chown istio-proxy /var/log/istio
# its own session and process group (so stop can signal all of it), stdio detached (else SSH hangs)
setsid /usr/local/bin/istio-start.sh </dev/null >/dev/null 2>&1 &
echo $! > ${PID_FILE}
echo ${RESULT_CHANGED}
`;
}

/**
 * The docs' proof, run on the VM: the agent answers ready on <address>:15021, with bounded retries.
 * The wait budget is what `attempts` tries `intervalSeconds` apart have always had; the first ten
 * waits are 20 ms (an agent that is up 50 ms after its start is seen then, not one whole interval
 * later), the rest `intervalSeconds`, so there are a few more tries; no wait after the last.
 */
export function verifyScript(address: string, attempts: number, intervalSeconds: number): string {
  const url = `http://${address.includes(':') ? `[${address}]` : address}:15021/healthz/ready`;
  const budgetMs = Math.round((Math.max(1, Math.floor(attempts)) - 1) * intervalSeconds * 1000);
  const intervalMs = Math.max(1, Math.round(intervalSeconds * 1000));
  const waits: number[] = [];
  for (let waited = 0; waited < budgetMs;) {
    const w = Math.min(waits.length < 10 ? Math.min(20, intervalMs) : intervalMs, budgetMs - waited);
    waits.push(w);
    waited += w;
  }
  const tries = waits.length + 1;
  return `${PRELUDE}ready() { bounded 3 wget -q -O - ${shellQuote(url)} >/dev/null 2>&1; }
for w in ${[...waits.map((ms) => String(ms / 1000)), 'last'].join(' ')}; do
  if ready; then echo ready; exit 0; fi
  [ "$w" = last ] || sleep "$w"
done
# the agent's last words first, the verdict last (errors quote the stderr tail)
tail -n 5 /var/log/istio/istio.log >&2 2>/dev/null || true
echo "${url} did not answer ready after ${tries} attempts in ${(budgetMs / 1000).toFixed(2)} s" >&2
# the stand-in and the real agent both log "token expired" when they refuse an expired token: its own exit code
if tail -n 5 /var/log/istio/istio.log 2>/dev/null | grep -qi 'token expired'; then exit ${EXIT.TOKEN_EXPIRED}; fi
exit ${EXIT.NOT_READY}
`;
}

/** Replace the token and its reboot-safe copy atomically (renewal): staged file → temp → rename. */
export function replaceTokenScript(staged: string): string {
  return `${PRELUDE}umask 077
for dst in ${shellQuote(BUNDLE_PATHS.token)} ${shellQuote(TOKEN_COPY)}; do
  mkdir -p "$(dirname "$dst")"
  cp ${shellQuote(staged)} "$dst.mixmesh-new"
  chown istio-proxy "$dst.mixmesh-new"
  chmod 0600 "$dst.mixmesh-new"
  mv -f "$dst.mixmesh-new" "$dst"
done
rm -rf ${shellQuote(staged.slice(0, staged.lastIndexOf('/')) || staged)}
echo ${RESULT_CHANGED}
`;
}

/** Stop the agent, remove the package, the bootstrap files and the hosts line. */
export function uninstallScript(kind: PackageKind, version: string, istiodHost: string): string {
  const kept = shellQuote(keptPackagePath(kind, version));
  const removePackage =
    kind === 'deb'
      ? `dpkg -P ${PACKAGE_NAME} >&2 || dpkg -r ${PACKAGE_NAME} >&2`
      : kind === 'rpm'
        ? // busybox rpm has no -e: remove the files the kept package lists
          `if rpm -e ${PACKAGE_NAME} >/dev/null 2>&1; then :; elif [ -f ${kept} ]; then rpm -qpl ${kept} | remove_listed; fi`
        : `if [ -f ${kept} ]; then tar -tzf ${kept} | sed 's#^\\./##; s#^#/#' | remove_listed; fi`;
  const bootstrap = [BUNDLE_PATHS.clusterEnv, BUNDLE_PATHS.meshYaml, '/var/lib/istio/config/mesh', BUNDLE_PATHS.rootCert, BUNDLE_PATHS.token, DROP_IN].map(shellQuote).join(' ');
  return `${PRELUDE}changed=0
# files first (deepest paths first), then directories left empty
remove_listed() {
  sort -r | while IFS= read -r f; do
    [ -n "$f" ] && [ "$f" != / ] || continue
    if [ -L "$f" ] || [ -f "$f" ]; then rm -f "$f"
    # shared directories (/usr/local/bin) stay; the package's own go when empty
    elif [ -d "$f" ]; then case "$f" in *istio*) rmdir "$f" 2>/dev/null || true ;; esac; fi
  done
}
if command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now istio >&2 2>/dev/null || true
elif [ -f ${PID_FILE} ]; then
  kill -TERM "-$(cat ${PID_FILE})" 2>/dev/null || true
  i=0
  while kill -0 "-$(cat ${PID_FILE})" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
  kill -KILL "-$(cat ${PID_FILE})" 2>/dev/null || true
  changed=1
fi
# bootstrap files first: the package takes the /etc/istio link with it
for f in ${bootstrap}; do
  if [ -e "$f" ]; then rm -f "$f"; changed=1; fi
done
if [ -f ${INSTALLED_MARKER} ]; then
  ${removePackage}
  changed=1
fi
# directories the install made, only when empty (/lib/systemd is never empty where systemd runs)
for d in /etc/systemd/system/istio.service.d /var/lib/istio/envoy /var/lib/istio/config /etc/istio/config /etc/istio/proxy /var/lib/istio/proxy /var/lib/istio /etc/istio /etc/certs /var/run/secrets/tokens /var/run/secrets /var/log/istio /lib/systemd/system /lib/systemd; do
  if [ -d "$d" ] && [ ! -L "$d" ]; then
    case "$d" in /var/log/istio) rm -f "$d"/*.log ;; esac
    rmdir "$d" 2>/dev/null && changed=1 || true
  fi
done
pattern=${shellQuote(hostsPattern(istiodHost))}
if grep -q "$pattern" /etc/hosts; then
  grep -v "$pattern" /etc/hosts > /etc/hosts.mixmesh-new || true
  cat /etc/hosts.mixmesh-new > /etc/hosts
  rm -f /etc/hosts.mixmesh-new
  changed=1
fi
if [ -d ${STATE_DIR} ]; then rm -rf ${STATE_DIR}; changed=1; fi
if [ "$changed" = 1 ] && command -v systemctl >/dev/null 2>&1; then systemctl daemon-reload >&2 || true; fi
if [ "$changed" = 1 ]; then echo ${RESULT_CHANGED}; else echo ${RESULT_UNCHANGED}; fi
`;
}
