set -eu
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
bounded() { s=$1; shift; if command -v timeout >/dev/null 2>&1; then timeout "$s" "$@"; else "$@"; fi; }
umask 077
d=$(mktemp -d /tmp/mixmesh.XXXXXX)
chmod 700 "$d"
echo "staging=$d"
if command -v systemctl >/dev/null 2>&1; then echo systemd=1; else echo systemd=0; fi
if ! sudo -n true 2>/dev/null; then echo "user ubuntu may not run sudo -n without a password" >&2; rm -rf "$d"; exit 14; fi
# the checksum recorded when this package version was last uploaded and verified
if [ -f /var/lib/mixmesh/istio-sidecar-1.30.3.rpm.sha256 ] && [ -f /var/lib/mixmesh/istio-sidecar-1.30.3.rpm ]; then echo "kept=$(cat /var/lib/mixmesh/istio-sidecar-1.30.3.rpm.sha256)"; fi
echo mixmesh-result=changed
