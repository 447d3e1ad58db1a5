/**
 * The stand-in commands the node images put into a sandbox VM, as POSIX sh for busybox:
 * `kubeadm` (join, reset, token create/delete, version) and `criu` (check, dump, restore). They
 * keep the real command lines and fail the way the real ones do; what they cannot do in a busybox
 * VM (the CA pin needs openssl, busybox wget sends only GET/POST) is done by the Kubernetes
 * emulator's `/_sandbox/kubeadm/*` routes (sandbox/kube/kubeadm.ts). `@{` stands for the shell's
 * `${` (a template literal would take it).
 */
const sh = (s: string): string => s.replaceAll('@{', '${');

export const KUBEADM_SCRIPT = sh(String.raw`#!/bin/sh
# kubeadm — the mixmesh sandbox stand-in with kubeadm v1.32's command line (sandbox/nodes/README.md)
set -u
ADMIN_CONF=/etc/kubernetes/admin.conf
KUBELET_CONF=/etc/kubernetes/kubelet.conf
FLAGS_ENV=/var/lib/kubelet/kubeadm-flags.env
TRACE='To see the stack trace of this error execute with --v=5 or higher'

die() { printf '%s\n' "$*" >&2; exit 1; }
phase() { die "error execution phase $1: $2
$TRACE"; }
# the first "key: value" of a kubeconfig
kc() { sed -n "s/^ *$2: *//p" "$1" | head -n 1 | tr -d "\"'"; }

# http METHOD URL TOKEN [JSON]: sets CODE, ERRMSG (the reason phrase: the emulator's message), BODY (a file)
http() {
  BODY=$(mktemp); hdr=$(mktemp)
  if [ "$1" = POST ]; then
    wget -S -O "$BODY" --no-check-certificate --header "Authorization: Bearer $3" --header 'Content-Type: application/json' --post-data "$4" "$2" 2>"$hdr"
  else
    wget -S -O "$BODY" --no-check-certificate --header "Authorization: Bearer $3" "$2" 2>"$hdr"
  fi
  CODE=$(sed -n 's/^ *HTTP\/1\.[01] \([0-9][0-9]*\).*/\1/p' "$hdr" | tail -n 1)
  [ -n "$CODE" ] || CODE=000
  ERRMSG=$(sed -n 's/^.*HTTP\/1\.[01] [0-9][0-9]* *//p' "$hdr" | tr -d '\r' | tail -n 1)
  rm -f "$hdr"
}

version() {
  if [ "@{1:-}" = "-o" ] && [ "@{2:-}" = "short" ] || [ "@{1:-}" = "--output=short" ]; then echo v1.32.0; return; fi
  echo 'kubeadm version: &version.Info{Major:"1", Minor:"32", GitVersion:"v1.32.0", GitCommit:"mixmesh-sandbox", GitTreeState:"clean", BuildDate:"2026-01-01T00:00:00Z", GoVersion:"go1.23.4", Compiler:"gc", Platform:"linux/amd64"}'
}

join_cluster() {
  endpoint=''; token=''; hashes=''; node=''
  while [ $# -gt 0 ]; do
    case "$1" in
      --token|--discovery-token|--tls-bootstrap-token) [ $# -ge 2 ] || die "flag needs an argument: $1"; token=$2; shift 2 ;;
      --token=*|--discovery-token=*|--tls-bootstrap-token=*) token=@{1#*=}; shift ;;
      --discovery-token-ca-cert-hash) [ $# -ge 2 ] || die "flag needs an argument: $1"; hashes="$hashes $2"; shift 2 ;;
      --discovery-token-ca-cert-hash=*) hashes="$hashes @{1#*=}"; shift ;;
      --node-name) [ $# -ge 2 ] || die "flag needs an argument: $1"; node=$2; shift 2 ;;
      --node-name=*) node=@{1#*=}; shift ;;
      --discovery-token-unsafe-skip-ca-verification) die 'the sandbox kubeadm always pins the CA: pass --discovery-token-ca-cert-hash' ;;
      --v=*|--ignore-preflight-errors=*|--cri-socket=*) shift ;;
      --v|--ignore-preflight-errors|--cri-socket) shift 2 ;;
      -*) die "unknown flag: $1
To see the stack trace of this error execute with --v=5 or higher" ;;
      *) [ -z "$endpoint" ] || die "accepts at most 1 arg(s), received 2"; endpoint=$1; shift ;;
    esac
  done
  [ -n "$node" ] || node=$(hostname | tr 'A-Z' 'a-z')
  echo '[preflight] Running pre-flight checks'
  if [ -e "$KUBELET_CONF" ]; then
    die "[preflight] Some fatal errors occurred:
	[ERROR FileAvailable--etc-kubernetes-kubelet.conf]: $KUBELET_CONF already exists
error execution phase preflight: preflight checks failed
$TRACE"
  fi
  [ -n "$endpoint" ] || die 'discovery.bootstrapToken.apiServerEndpoint: Invalid value: "": the API server endpoint is required (kubeadm join HOST:PORT ...)'
  case "$token" in
    [a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9].[a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9]) ;;
    *) die "[discovery.bootstrapToken.token: Invalid value: \"$token\": the bootstrap token \"$token\" was not of the form \"^([a-z0-9]{6})\\.([a-z0-9]{16})\$\", discovery.tlsBootstrapToken: Invalid value: \"$token\": the bootstrap token \"$token\" was not of the form \"^([a-z0-9]{6})\\.([a-z0-9]{16})\$\"]" ;;
  esac
  [ -n "$hashes" ] || die 'discovery.bootstrapToken: Invalid value: "": using token-based discovery without caCertHashes can be unsafe. Set unsafeSkipCAVerification as true in your kubeadm config file or pass --discovery-token-unsafe-skip-ca-verification flag to continue'
  list=''
  for h in $hashes; do
    case "$h" in
      sha256:*) v=@{h#sha256:}; case "$v" in *[!0-9a-fA-F]*|'') die "invalid hash \"$h\", expected a 64 hex digit SHA-256" ;; esac
        [ @{#v} -eq 64 ] || die "invalid hash \"$h\", expected a 64 hex digit SHA-256" ;;
      *) die "unsupported hash type \"@{h%%:*}\" (only sha256 is supported)" ;;
    esac
    list="$list@{list:+,}\"$h\""
  done
  case "$node" in *[!a-z0-9.-]*|'') die "[nodeRegistration.name: Invalid value: \"$node\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.']" ;; esac
  echo '[preflight] Reading configuration from the cluster...'
  http POST "https://$endpoint/_sandbox/kubeadm/join" "$token" "{\"nodeName\":\"$node\",\"caCertHashes\":[$list]}"
  case "$CODE" in
    200) ;;
    000) rm -f "$BODY"; phase preflight "couldn't validate the identity of the API Server: Get \"https://$endpoint/api/v1/namespaces/kube-public/configmaps/cluster-info?timeout=10s\": dial tcp $endpoint: connect: connection refused" ;;
    409) rm -f "$BODY"; phase kubelet-start "$ERRMSG" ;;
    *) rm -f "$BODY"; phase preflight "couldn't validate the identity of the API Server: @{ERRMSG:-HTTP $CODE}" ;;
  esac
  mkdir -p /etc/kubernetes/pki /var/lib/kubelet /var/lib/kubelet/pods /var/lib/kubelet/checkpoints /var/log/pods
  sed -n 's/^ *certificate-authority-data: *//p' "$BODY" | head -n 1 | base64 -d > /etc/kubernetes/pki/ca.crt
  echo '[kubelet-start] Writing kubelet configuration to file "/var/lib/kubelet/config.yaml"'
  printf 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nauthentication:\n  x509:\n    clientCAFile: /etc/kubernetes/pki/ca.crt\nport: 10250\nmaxPods: 110\n' > /var/lib/kubelet/config.yaml
  echo '[kubelet-start] Writing kubelet environment file with flags to file "/var/lib/kubelet/kubeadm-flags.env"'
  printf 'KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///run/sandbox/runtime.sock --hostname-override=%s --node-ip=%s"\n' "$node" "$(sed -n "s/^\([0-9.]*\)[ 	]*$(hostname)\$/\1/p" /etc/hosts | head -n 1)" > "$FLAGS_ENV"
  echo '[kubelet-start] Starting the kubelet'
  # the kubelet (run by the sandbox for this VM) starts when its kubeconfig appears
  umask 077; cp "$BODY" "$KUBELET_CONF.tmp"; mv "$KUBELET_CONF.tmp" "$KUBELET_CONF"; rm -f "$BODY"
  echo '[kubelet-check] Waiting for a healthy kubelet at http://127.0.0.1:10248/healthz. This can take up to 4m0s'
  echo '[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap'
  ktoken=$(kc "$KUBELET_CONF" token)
  i=0
  while :; do
    http GET "https://$endpoint/api/v1/nodes/$node" "$ktoken"
    rm -f "$BODY"
    [ "$CODE" = 200 ] && break
    i=$((i + 1))
    [ $i -lt 240 ] || phase kubelet-start 'timed out waiting for the condition'
    sleep 1
  done
  printf '\nThis node has joined the cluster:\n* Certificate signing request was sent to apiserver and a response was received.\n* The Kubelet was informed of the new secure connection details.\n\nRun %s on the control-plane to see this node join the cluster.\n\n' "'kubectl get nodes'"
}

reset_node() {
  force=''
  for a in "$@"; do case "$a" in -f|--force) force=1 ;; esac; done
  [ -n "$force" ] || { printf '[reset] Are you sure you want to proceed? [y/N]: '; read -r ans; [ "$ans" = y ] || die 'aborted reset operation'; }
  echo '[preflight] Running pre-flight checks'
  echo '[reset] Stopping the kubelet service'
  rm -f "$KUBELET_CONF" "$FLAGS_ENV" /var/lib/kubelet/config.yaml
  echo '[reset] Deleting contents of directories: [/etc/kubernetes/manifests /var/lib/kubelet]'
  image=$(cat /etc/sandbox-image 2>/dev/null)
  # a control plane kubeadm init made here: its files go, and with them the API server (and its etcd data)
  if [ "$image" = mixmesh-sandbox-control-plane-bare ]; then
    echo '[reset] Deleting files: [/etc/kubernetes/admin.conf /etc/kubernetes/pki]'
    rm -rf "$ADMIN_CONF" /etc/kubernetes/pki /etc/kubernetes/.sandbox-init-request
  fi
  # like kubeadm (the kubelet service stopped, the containers removed) reset returns once the sandbox
  # stopped what ran here (the kubelet and its pods; the API server) and removed the request
  case "$image" in
    mixmesh-sandbox-control-plane-bare|mixmesh-sandbox-worker*)
      mkdir -p /etc/kubernetes && : > /etc/kubernetes/.sandbox-reset-request
      i=0
      while [ -e /etc/kubernetes/.sandbox-reset-request ]; do
        i=$((i + 1)); [ $i -lt 240 ] || die '[reset] timed out waiting for the kubelet and the control plane to stop'
        sleep 0.5
      done ;;
  esac
  echo 'The reset process does not clean your kubeconfig files and you must remove them manually.'
}

# Go durations as kubeadm takes them for --ttl: 0, 24h, 1h30m, 90m, 45s
ttl_seconds() {
  v=$1; total=0
  [ "$v" = 0 ] && { echo 0; return; }
  case "$v" in *[!0-9hms]*|'') return 1 ;; esac
  while [ -n "$v" ]; do
    n=@{v%%[hms]*}; [ -n "$n" ] || return 1
    rest=@{v#"$n"}; u=$(printf '%s' "$rest" | cut -c1); [ -n "$u" ] || return 1
    case "$u" in h) total=$((total + n * 3600)) ;; m) total=$((total + n * 60)) ;; s) total=$((total + n)) ;; esac
    v=@{rest#?}
  done
  echo "$total"
}

admin() {
  [ -r "$ADMIN_CONF" ] || die "failed to load admin kubeconfig: open $ADMIN_CONF: no such file or directory
$TRACE"
  SERVER=$(kc "$ADMIN_CONF" server); ATOKEN=$(kc "$ADMIN_CONF" token); ENDPOINT=@{SERVER#https://}
}

b64() { printf '%s' "$1" | base64 | tr -d '\n'; }

token_create() {
  print=''; ttl=24h; desc=''; tok=''
  while [ $# -gt 0 ]; do
    case "$1" in
      --print-join-command) print=1; shift ;;
      --ttl) [ $# -ge 2 ] || die "flag needs an argument: --ttl"; ttl=$2; shift 2 ;;
      --ttl=*) ttl=@{1#*=}; shift ;;
      --description) [ $# -ge 2 ] || die "flag needs an argument: --description"; desc=$2; shift 2 ;;
      --description=*) desc=@{1#*=}; shift ;;
      --usages=*|--groups=*|--v=*) shift ;;
      -*) die "unknown flag: $1" ;;
      *) tok=$1; shift ;;
    esac
  done
  admin
  secs=$(ttl_seconds "$ttl") || die "invalid argument \"$ttl\" for \"--ttl\" flag: time: invalid duration \"$ttl\""
  if [ -z "$tok" ]; then
    tok="$(tr -dc 'a-z0-9' </dev/urandom | head -c 6).$(tr -dc 'a-z0-9' </dev/urandom | head -c 16)"
  fi
  case "$tok" in
    [a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9].[a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9]) ;;
    *) die "the bootstrap token \"$tok\" was not of the form \"^([a-z0-9]{6})\\.([a-z0-9]{16})\$\"" ;;
  esac
  id=@{tok%%.*}; sec=@{tok#*.}
  exp=''
  [ "$secs" -gt 0 ] && exp=",\"expiration\":\"$(b64 "$(date -u -d "@$(( $(date +%s) + secs ))" +%Y-%m-%dT%H:%M:%SZ)")\""
  d=''
  [ -n "$desc" ] && d=",\"description\":\"$(b64 "$desc")\""
  http POST "$SERVER/api/v1/namespaces/kube-system/secrets" "$ATOKEN" "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"bootstrap-token-$id\",\"namespace\":\"kube-system\"},\"type\":\"bootstrap.kubernetes.io/token\",\"data\":{\"token-id\":\"$(b64 "$id")\",\"token-secret\":\"$(b64 "$sec")\",\"usage-bootstrap-authentication\":\"dHJ1ZQ==\",\"usage-bootstrap-signing\":\"dHJ1ZQ==\",\"auth-extra-groups\":\"$(b64 system:bootstrappers:kubeadm:default-node-token)\"$exp$d}}"
  rm -f "$BODY"
  case "$CODE" in
    201|200) ;;
    409) die "failed to create or update bootstrap token with name bootstrap-token-$id: secrets \"bootstrap-token-$id\" already exists" ;;
    *) die "failed to create or update bootstrap token with name bootstrap-token-$id: HTTP $CODE" ;;
  esac
  if [ -n "$print" ]; then
    echo "kubeadm join $ENDPOINT --token $tok --discovery-token-ca-cert-hash $(cat /etc/kubernetes/pki/ca.crt.sha256) "
  else
    echo "$tok"
  fi
}

token_delete() {
  [ $# -ge 1 ] || die 'missing subcommand; "token delete" is missing token of form "[a-z0-9]{6}" or "[a-z0-9]{6}\.[a-z0-9]{16}"'
  admin
  for t in "$@"; do
    id=@{t%%.*}
    case "$id" in [a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9]) ;; *) die "given token didn't match pattern \"[a-z0-9]{6}\" or \"[a-z0-9]{6}\.[a-z0-9]{16}\"" ;; esac
    http POST "$SERVER/_sandbox/kubeadm/token-delete" "$ATOKEN" "{\"token\":\"$id\"}"
    rm -f "$BODY"
    case "$CODE" in
      200) echo "bootstrap token \"$id\" deleted" ;;
      404) die "failed to delete bootstrap token \"$id\": secrets \"bootstrap-token-$id\" not found" ;;
      *) die "failed to delete bootstrap token \"$id\": HTTP $CODE" ;;
    esac
  done
}

# kubeadm init: the sandbox starts a new emulated API server on this VM's address:6443 when asked
# through /etc/kubernetes/.sandbox-init-request, and writes admin.conf and the CA here
init_cluster() {
  node=$(hostname | tr 'A-Z' 'a-z'); ttl=24h; tok=''
  while [ $# -gt 0 ]; do
    case "$1" in
      --node-name) node=$2; shift 2 ;;
      --node-name=*) node=@{1#*=}; shift ;;
      --token) tok=$2; shift 2 ;;
      --token=*) tok=@{1#*=}; shift ;;
      --token-ttl) ttl=$2; shift 2 ;;
      --token-ttl=*) ttl=@{1#*=}; shift ;;
      --apiserver-advertise-address=*|--control-plane-endpoint=*|--pod-network-cidr=*|--service-cidr=*|--kubernetes-version=*|--ignore-preflight-errors=*|--cri-socket=*|--v=*|--upload-certs|--skip-token-print) shift ;;
      --apiserver-advertise-address|--control-plane-endpoint|--pod-network-cidr|--service-cidr|--kubernetes-version|--ignore-preflight-errors|--cri-socket|--v) shift 2 ;;
      *) die "unknown flag: $1
$TRACE" ;;
    esac
  done
  echo '[init] Using Kubernetes version: v1.32.0'
  echo '[preflight] Running pre-flight checks'
  for f in "$ADMIN_CONF" "$KUBELET_CONF"; do
    if [ -e "$f" ]; then
      die "[preflight] Some fatal errors occurred:
	[ERROR FileAvailable-$(echo "$f" | tr '/' '-')]: $f already exists
error execution phase preflight: preflight checks failed
$TRACE"
    fi
  done
  case "$(cat /etc/sandbox-image 2>/dev/null)" in
    mixmesh-sandbox-control-plane-bare) ;;
    *) die "[preflight] Some fatal errors occurred:
	[ERROR SandboxImage]: this VM's image ($(cat /etc/sandbox-image 2>/dev/null)) cannot run a control plane: use mixmesh-sandbox-control-plane-bare
error execution phase preflight: preflight checks failed
$TRACE" ;;
  esac
  mkdir -p /etc/kubernetes/pki /etc/kubernetes/manifests
  echo '[certs] Using certificateDir folder "/etc/kubernetes/pki"'
  echo '[certs] Generating "ca" certificate and key'
  echo '[kubeconfig] Writing "admin.conf" kubeconfig file'
  printf '%s\n' "$node" > /etc/kubernetes/.sandbox-init-request
  echo '[wait-control-plane] Waiting for the kubelet to boot up the control plane as static Pods from directory "/etc/kubernetes/manifests"'
  i=0
  while [ ! -s "$ADMIN_CONF" ] || [ ! -s /etc/kubernetes/pki/ca.crt.sha256 ]; do
    i=$((i + 1)); [ $i -lt 240 ] || phase wait-control-plane 'timed out waiting for the condition'
    sleep 0.5
  done
  echo '[api-check] The API server is healthy'
  echo '[upload-config] Storing the configuration used in ConfigMap "kubeadm-config" in the "kube-system" Namespace'
  echo '[bootstrap-token] Configuring bootstrap tokens, cluster-info ConfigMap, RBAC Roles'
  join=$(token_create --print-join-command --ttl "$ttl" --description "The default bootstrap token generated by 'kubeadm init'." $tok) || exit 1
  printf '\nYour Kubernetes control-plane has initialized successfully!\n\nTo start using your cluster, you need to run the following as a regular user:\n\n  mkdir -p $HOME/.kube\n  sudo cp -i /etc/kubernetes/admin.conf $HOME/.kube/config\n  sudo chown $(id -u):$(id -g) $HOME/.kube/config\n\nAlternatively, if you are the root user, you can run:\n\n  export KUBECONFIG=/etc/kubernetes/admin.conf\n\nThen you can join any number of worker nodes by running the following on each as root:\n\n'
  printf '%s\n' "$join"
}

case "@{1:-}" in
  join) shift; join_cluster "$@" ;;
  reset) shift; reset_node "$@" ;;
  version) shift; version "$@" ;;
  token)
    shift
    case "@{1:-}" in
      create) shift; token_create "$@" ;;
      delete) shift; token_delete "$@" ;;
      generate) tr -dc 'a-z0-9' </dev/urandom | head -c 6; printf '.'; tr -dc 'a-z0-9' </dev/urandom | head -c 16; echo ;;
      *) die 'Usage: kubeadm token [create|delete|generate]' ;;
    esac ;;
  init) shift; init_cluster "$@" ;;
  ''|-h|--help|help) echo 'Usage: kubeadm [command]  (sandbox stand-in: join, reset, token create|delete|generate, version, init)' ;;
  *) die "unknown command \"$1\" for \"kubeadm\"
Run 'kubeadm --help' for usage." ;;
esac
`);

/**
 * criu: check / dump / restore with CRIU's command line. A process "declares" its state in
 * `SANDBOX_CRIU_STATE_FILE` (its environment): dump saves that file (read through
 * /proc/PID/root, so a container's view), the command line, environment and working directory;
 * restore writes the file back and starts the command again (a new pid: real CRIU keeps it).
 */
export const CRIU_SCRIPT = sh(String.raw`#!/bin/sh
# criu — the mixmesh sandbox stand-in with CRIU 3.17's command line (sandbox/nodes/README.md)
set -u
log=''
say() { if [ -n "$log" ]; then printf '%s\n' "$*" >>"$log"; else printf '%s\n' "$*" >&2; fi; }
err() { say "$*"; [ -z "$log" ] || printf '%s\n' "$*" >&2; exit 1; }

unsupported() {
  if [ -e /etc/criu/unsupported ]; then
    err "Error (criu/vdso.c:264): vdso: Unexpected rt vDSO area bounds
Error (criu/cr-check.c:1476): The vDSO check failed
Looks like CRIU is not supported on this kernel: $(cat /etc/criu/unsupported)"
  fi
}

cmd=@{1:-}
[ $# -gt 0 ] && shift
dir=''; pid=''; detach=''; leave=''; pidfile=''; logname=''
while [ $# -gt 0 ]; do
  case "$1" in
    -D|--images-dir) dir=$2; shift 2 ;;
    --images-dir=*) dir=@{1#*=}; shift ;;
    -t|--tree) pid=$2; shift 2 ;;
    --tree=*) pid=@{1#*=}; shift ;;
    -d|--restore-detached) detach=1; shift ;;
    -R|--leave-running) leave=1; shift ;;
    -o|--log-file) logname=$2; shift 2 ;;
    --log-file=*) logname=@{1#*=}; shift ;;
    --pidfile) pidfile=$2; shift 2 ;;
    --pidfile=*) pidfile=@{1#*=}; shift ;;
    --shell-job|-j|--tcp-established|--file-locks|--ext-unix-sk|--manage-cgroups|-v|-v[0-4]) shift ;;
    *) err "Error (criu/crtools.c:...): unknown option: $1" ;;
  esac
done
if [ -n "$logname" ] && [ -n "$dir" ]; then
  case "$logname" in /*) log=$logname ;; *) log="$dir/$logname" ;; esac
  : >"$log" 2>/dev/null || log=''
fi

case "$cmd" in
  check)
    unsupported
    echo 'Looks good.' ;;
  dump)
    unsupported
    [ -n "$pid" ] || err 'Error (criu/crtools.c:...): tree pid not specified (-t PID)'
    [ -n "$dir" ] || err 'Error (criu/crtools.c:...): images directory not specified (-D DIR)'
    [ -d "$dir" ] || err "Error (criu/cr-service.c:...): Can't open images directory $dir: No such file or directory"
    [ -r "/proc/$pid/cmdline" ] || err "Error (criu/cr-dump.c:...): Can't dump: process $pid does not exist (No such process)"
    say "(00.000000) Dumping processes (pid: $pid)"
    cat "/proc/$pid/cmdline" >"$dir/cmdline.img"
    cat "/proc/$pid/environ" >"$dir/environ.img"
    readlink "/proc/$pid/cwd" >"$dir/cwd.img"
    echo "$pid" >"$dir/pstree.img"
    state=$(tr '\0' '\n' <"/proc/$pid/environ" | sed -n 's/^SANDBOX_CRIU_STATE_FILE=//p' | head -n 1)
    if [ -n "$state" ]; then
      printf '%s\n' "$state" >"$dir/state-path.img"
      if [ -e "/proc/$pid/root$state" ]; then cp "/proc/$pid/root$state" "$dir/state.img"; else : >"$dir/state.img"; fi
    fi
    printf 'sandbox-criu 1\nimages: cmdline environ cwd pstree state\n' >"$dir/inventory.img"
    if [ -z "$leave" ]; then kill -9 "$pid" 2>/dev/null; fi
    say '(00.010000) Dumping finished successfully' ;;
  restore)
    unsupported
    [ -n "$dir" ] || err 'Error (criu/crtools.c:...): images directory not specified (-D DIR)'
    [ -r "$dir/inventory.img" ] || err "Error (criu/image.c:...): Unable to open inventory.img: No such file or directory"
    say '(00.000000) Restoring processes'
    if [ -r "$dir/state-path.img" ]; then
      state=$(cat "$dir/state-path.img")
      mkdir -p "$(dirname "$state")"
      cp "$dir/state.img" "$state"
    fi
    # the saved environment, then the command line, as arguments of env -i (one per NUL-ended item)
    set --
    while IFS= read -r a; do set -- "$@" "$a"; done <<EOF
$(tr '\0' '\n' <"$dir/environ.img")
$(tr '\0' '\n' <"$dir/cmdline.img")
EOF
    cd "$(cat "$dir/cwd.img")" 2>/dev/null || cd /
    if [ -n "$detach" ]; then
      ( exec setsid env -i "$@" </dev/null >/dev/null 2>&1 ) &
      child=$!
      [ -z "$pidfile" ] || echo "$child" >"$pidfile"
      say "(00.010000) Restore finished successfully. Tasks resumed (pid $child)."
    else
      exec env -i "$@"
    fi ;;
  ''|-h|--help) echo 'Usage: criu check | dump -t PID -D DIR [-R] [-o LOG] | restore -D DIR [-d] [--pidfile FILE]' ;;
  *) err "Error (criu/crtools.c:...): unknown command: $cmd" ;;
esac
`);
