set -eu
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
bounded() { s=$1; shift; if command -v timeout >/dev/null 2>&1; then timeout "$s" "$@"; else "$@"; fi; }
ready() { bounded 3 wget -q -O - http://127.0.10.3:15021/healthz/ready >/dev/null 2>&1; }
for w in 0.02 0.02 0.02 0.02 0.02 0.02 0.02 0.02 0.02 0.02 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 0.8 last; do
  if ready; then echo ready; exit 0; fi
  [ "$w" = last ] || sleep "$w"
done
# the agent's last words first, the verdict last (errors quote the stderr tail)
tail -n 5 /var/log/istio/istio.log >&2 2>/dev/null || true
echo "http://127.0.10.3:15021/healthz/ready did not answer ready after 40 attempts in 29.00 s" >&2
# the stand-in and the real agent both log "token expired" when they refuse an expired token: its own exit code
if tail -n 5 /var/log/istio/istio.log 2>/dev/null | grep -qi 'token expired'; then exit 16; fi
exit 13
