set -eu
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
bounded() { s=$1; shift; if command -v timeout >/dev/null 2>&1; then timeout "$s" "$@"; else "$@"; fi; }
changed=0
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
elif [ -f /var/lib/mixmesh/istio.pid ]; then
  kill -TERM "-$(cat /var/lib/mixmesh/istio.pid)" 2>/dev/null || true
  i=0
  while kill -0 "-$(cat /var/lib/mixmesh/istio.pid)" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
  kill -KILL "-$(cat /var/lib/mixmesh/istio.pid)" 2>/dev/null || true
  changed=1
fi
# bootstrap files first: the package takes the /etc/istio link with it
for f in /var/lib/istio/envoy/cluster.env /etc/istio/config/mesh /var/lib/istio/config/mesh /etc/certs/root-cert.pem /var/run/secrets/tokens/istio-token /etc/systemd/system/istio.service.d/mixmesh.conf; do
  if [ -e "$f" ]; then rm -f "$f"; changed=1; fi
done
if [ -f /var/lib/mixmesh/installed ]; then
  if [ -f /var/lib/mixmesh/istio-sidecar-1.30.3.tar.gz ]; then tar -tzf /var/lib/mixmesh/istio-sidecar-1.30.3.tar.gz | sed 's#^\./##; s#^#/#' | remove_listed; fi
  changed=1
fi
# directories the install made, only when empty (/lib/systemd is never empty where systemd runs)
for d in /etc/systemd/system/istio.service.d /var/lib/istio/envoy /var/lib/istio/config /etc/istio/config /etc/istio/proxy /var/lib/istio/proxy /var/lib/istio /etc/istio /etc/certs /var/run/secrets/tokens /var/run/secrets /var/log/istio /lib/systemd/system /lib/systemd; do
  if [ -d "$d" ] && [ ! -L "$d" ]; then
    case "$d" in /var/log/istio) rm -f "$d"/*.log ;; esac
    rmdir "$d" 2>/dev/null && changed=1 || true
  fi
done
pattern='^[0-9a-fA-F.:]*[[:space:]][[:space:]]*istiod\.istio-system\.svc$'
if grep -q "$pattern" /etc/hosts; then
  grep -v "$pattern" /etc/hosts > /etc/hosts.mixmesh-new || true
  cat /etc/hosts.mixmesh-new > /etc/hosts
  rm -f /etc/hosts.mixmesh-new
  changed=1
fi
if [ -d /var/lib/mixmesh ]; then rm -rf /var/lib/mixmesh; changed=1; fi
if [ "$changed" = 1 ] && command -v systemctl >/dev/null 2>&1; then systemctl daemon-reload >&2 || true; fi
if [ "$changed" = 1 ]; then echo mixmesh-result=changed; else echo mixmesh-result=unchanged; fi
