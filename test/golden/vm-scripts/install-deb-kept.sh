set -eu
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
bounded() { s=$1; shift; if command -v timeout >/dev/null 2>&1; then timeout "$s" "$@"; else "$@"; fi; }
umask 022
mkdir -p /var/lib/mixmesh
chmod 755 /var/lib/mixmesh
[ -f /var/lib/mixmesh/istio-sidecar-1.30.3.deb ] && [ -f /var/lib/mixmesh/istio-sidecar-1.30.3.deb.sha256 ] || { echo "no package /var/lib/mixmesh/istio-sidecar-1.30.3.deb on the VM" >&2; exit 11; }
want="deb $(cat /var/lib/mixmesh/istio-sidecar-1.30.3.deb.sha256)"
if [ -x /usr/local/bin/pilot-agent ] && [ "$(cat /var/lib/mixmesh/installed 2>/dev/null || true)" = "$want" ]; then echo mixmesh-result=unchanged; exit 0; fi
dpkg -i /var/lib/mixmesh/istio-sidecar-1.30.3.deb >&2 || { echo "warning: dpkg refused istio-sidecar; retrying with --force-depends" >&2; dpkg -i --force-depends /var/lib/mixmesh/istio-sidecar-1.30.3.deb >&2; } || { echo "installing the deb package failed" >&2; exit 11; }
[ -x /usr/local/bin/pilot-agent ] || { echo "the package installed no /usr/local/bin/pilot-agent" >&2; exit 11; }
echo "$want" > /var/lib/mixmesh/installed
echo mixmesh-result=changed
