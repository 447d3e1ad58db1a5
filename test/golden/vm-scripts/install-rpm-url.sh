set -eu
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
bounded() { s=$1; shift; if command -v timeout >/dev/null 2>&1; then timeout "$s" "$@"; else "$@"; fi; }
umask 022
mkdir -p /var/lib/mixmesh
chmod 755 /var/lib/mixmesh
if [ ! -f /var/lib/mixmesh/istio-sidecar-1.30.3.rpm.sha256 ]; then
  rm -f /var/lib/mixmesh/istio-sidecar-1.30.3.rpm.part
  bounded 600 wget -q -O /var/lib/mixmesh/istio-sidecar-1.30.3.rpm.part 'https://packages.example.com/istio-sidecar-1.30.3.rpm?sig=it'"'"'s' || { echo "cannot fetch https://packages.example.com/istio-sidecar-1.30.3.rpm?sig=it?s" >&2; rm -f /var/lib/mixmesh/istio-sidecar-1.30.3.rpm.part; exit 12; }
  mv -f /var/lib/mixmesh/istio-sidecar-1.30.3.rpm.part /var/lib/mixmesh/istio-sidecar-1.30.3.rpm
  sha256sum /var/lib/mixmesh/istio-sidecar-1.30.3.rpm | cut -d' ' -f1 > /var/lib/mixmesh/istio-sidecar-1.30.3.rpm.sha256
fi
[ -f /var/lib/mixmesh/istio-sidecar-1.30.3.rpm ] && [ -f /var/lib/mixmesh/istio-sidecar-1.30.3.rpm.sha256 ] || { echo "no package /var/lib/mixmesh/istio-sidecar-1.30.3.rpm on the VM" >&2; exit 11; }
want="rpm $(cat /var/lib/mixmesh/istio-sidecar-1.30.3.rpm.sha256)"
if [ -x /usr/local/bin/pilot-agent ] && [ "$(cat /var/lib/mixmesh/installed 2>/dev/null || true)" = "$want" ]; then echo mixmesh-result=unchanged; exit 0; fi
if rpm --version >/dev/null 2>&1; then rpm -U --replacepkgs /var/lib/mixmesh/istio-sidecar-1.30.3.rpm >&2; else rpm -i /var/lib/mixmesh/istio-sidecar-1.30.3.rpm >&2; fi || { echo "installing the rpm package failed" >&2; exit 11; }
[ -x /usr/local/bin/pilot-agent ] || { echo "the package installed no /usr/local/bin/pilot-agent" >&2; exit 11; }
echo "$want" > /var/lib/mixmesh/installed
echo mixmesh-result=changed
