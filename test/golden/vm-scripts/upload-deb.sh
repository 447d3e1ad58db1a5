set -eu
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
bounded() { s=$1; shift; if command -v timeout >/dev/null 2>&1; then timeout "$s" "$@"; else "$@"; fi; }
umask 022
mkdir -p /var/lib/mixmesh
chmod 755 /var/lib/mixmesh
umask 077
rm -f /var/lib/mixmesh/istio-sidecar-1.30.3.deb.sha256
cat > /var/lib/mixmesh/istio-sidecar-1.30.3.deb.part
got=$(stat -c %s /var/lib/mixmesh/istio-sidecar-1.30.3.deb.part)
if [ "$got" != 52428800 ]; then echo "uploaded package has $got bytes, expected 52428800" >&2; rm -f /var/lib/mixmesh/istio-sidecar-1.30.3.deb.part; exit 10; fi
mv -f /var/lib/mixmesh/istio-sidecar-1.30.3.deb.part /var/lib/mixmesh/istio-sidecar-1.30.3.deb
echo 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 > /var/lib/mixmesh/istio-sidecar-1.30.3.deb.sha256
echo mixmesh-result=changed
