set -eu
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
bounded() { s=$1; shift; if command -v timeout >/dev/null 2>&1; then timeout "$s" "$@"; else "$@"; fi; }
if command -v systemctl >/dev/null 2>&1; then
  systemctl enable istio >&2
  if [ 1 = 1 ]; then systemctl restart istio; echo mixmesh-result=changed
  elif systemctl is-active --quiet istio; then echo mixmesh-result=unchanged
  else systemctl start istio; echo mixmesh-result=changed; fi
  exit 0
fi
running() { [ -f /var/lib/mixmesh/istio.pid ] && kill -0 "-$(cat /var/lib/mixmesh/istio.pid)" 2>/dev/null; }
if running; then
  if [ 1 = 0 ]; then echo mixmesh-result=unchanged; exit 0; fi
  kill -TERM "-$(cat /var/lib/mixmesh/istio.pid)" 2>/dev/null || true
  i=0
  while running && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
  running && kill -KILL "-$(cat /var/lib/mixmesh/istio.pid)" 2>/dev/null || true
fi
mkdir -p /var/log/istio
chown istio-proxy /var/log/istio
# its own session and process group (so stop can signal all of it), stdio detached (else SSH hangs)
setsid /usr/local/bin/istio-start.sh </dev/null >/dev/null 2>&1 &
echo $! > /var/lib/mixmesh/istio.pid
echo mixmesh-result=changed
