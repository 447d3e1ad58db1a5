set -eu
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
bounded() { s=$1; shift; if command -v timeout >/dev/null 2>&1; then timeout "$s" "$@"; else "$@"; fi; }
umask 077
for dst in /var/run/secrets/tokens/istio-token /var/lib/mixmesh/istio-token; do
  mkdir -p "$(dirname "$dst")"
  cp /var/lib/mixmesh/staging.AbC123/istio-token "$dst.mixmesh-new"
  chown istio-proxy "$dst.mixmesh-new"
  chmod 0600 "$dst.mixmesh-new"
  mv -f "$dst.mixmesh-new" "$dst"
done
rm -rf /var/lib/mixmesh/staging.AbC123
echo mixmesh-result=changed
