set -eu
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
bounded() { s=$1; shift; if command -v timeout >/dev/null 2>&1; then timeout "$s" "$@"; else "$@"; fi; }
umask 077
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
mkdir -p /etc/certs /var/run/secrets/tokens /etc/istio/proxy /etc/istio/config /var/lib/istio/envoy /var/lib/mixmesh /etc/systemd/system/istio.service.d
chown istio-proxy /var/lib/mixmesh/staging.AbC123/cluster.env /var/lib/mixmesh/staging.AbC123/mesh /var/lib/mixmesh/staging.AbC123/root-cert.pem /var/lib/mixmesh/staging.AbC123/istio-token /var/lib/mixmesh/staging.AbC123/mixmesh.conf
chmod 0644 /var/lib/mixmesh/staging.AbC123/cluster.env /var/lib/mixmesh/staging.AbC123/mesh /var/lib/mixmesh/staging.AbC123/mixmesh.conf
chmod 0640 /var/lib/mixmesh/staging.AbC123/root-cert.pem
chmod 0600 /var/lib/mixmesh/staging.AbC123/istio-token
place /var/lib/mixmesh/staging.AbC123/cluster.env /var/lib/istio/envoy/cluster.env 0644 644:istio-proxy 1
place /var/lib/mixmesh/staging.AbC123/mesh /etc/istio/config/mesh 0644 644:istio-proxy 1
place /var/lib/mixmesh/staging.AbC123/root-cert.pem /etc/certs/root-cert.pem 0640 640:istio-proxy 1
place /var/lib/mixmesh/staging.AbC123/istio-token /var/run/secrets/tokens/istio-token 0600 600:istio-proxy 0
place /var/lib/mixmesh/staging.AbC123/istio-token /var/lib/mixmesh/istio-token 0600 600:istio-proxy 0
place /var/lib/mixmesh/staging.AbC123/mixmesh.conf /etc/systemd/system/istio.service.d/mixmesh.conf 0644 644:istio-proxy 0
line='198.51.100.10 istiod.istio-system.svc'
if ! grep -qxF "$line" /etc/hosts; then
  # drop a stale line for the same host (an east-west IP that changed), keep the inode
  grep -v '^[0-9a-fA-F.:]*[[:space:]][[:space:]]*istiod\.istio-system\.svc$' /etc/hosts > /etc/hosts.mixmesh-new || true
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
if [ "$changed" = 1 ]; then systemctl daemon-reload; fi
rm -rf /var/lib/mixmesh/staging.AbC123
echo "restart=$restart"
if [ "$changed" = 1 ]; then echo mixmesh-result=changed; else echo mixmesh-result=unchanged; fi
