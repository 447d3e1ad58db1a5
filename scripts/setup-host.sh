#!/usr/bin/env bash
# Installs the Debian packages the sandbox and the tests need, when they are missing.
# Idempotent and quick when everything is there. Never starts a host sshd (policy-rc.d exits 101),
# because the sandbox's VMs listen on 127.0.10.N:22 and a host sshd on *:22 would take that port.
set -euo pipefail

need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
[ -x /bin/busybox ] || [ -x /usr/bin/busybox ] || need+=(busybox-static)
{ [ -x /usr/bin/openstack ] && /usr/bin/python3 -c 'import tackerclient' >/dev/null 2>&1; } || need+=(python3-openstackclient python3-tackerclient)
[ -x /usr/bin/keystone-manage ] || need+=(keystone)
command -v dpkg-deb >/dev/null 2>&1 || need+=(dpkg)
# the sidecar tests make a real CA certificate; ssh-keygen makes VM host keys and the sandbox key
command -v openssl >/dev/null 2>&1 || need+=(openssl)
[ -x /usr/bin/ssh-keygen ] || need+=(openssh-client)
# second round: the backup store (Swift with its S3 API), image builds and the Swarm hosts (Docker
# Engine), the café's database (MariaDB), browser tests (Chromium), Tacker's own VNFD parser
[ -x /usr/bin/swift-proxy-server ] && [ -x /usr/bin/swift-object-server ] && [ -x /usr/bin/swift-container-server ] && [ -x /usr/bin/swift-account-server ] \
  || need+=(swift swift-proxy swift-object swift-container swift-account)
[ -x /usr/sbin/dockerd ] || need+=(docker.io)
[ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
[ -x /usr/bin/chromium ] || need+=(chromium)
/usr/bin/python3 -c 'import toscaparser' >/dev/null 2>&1 || need+=(python3-tosca-parser)
# the Tacker v1 management driver test pip-installs the plug-in into a temp dir (no network: the
# build backend and wheel come from Debian)
/usr/bin/python3 -c 'import setuptools, wheel, pip' >/dev/null 2>&1 || need+=(python3-pip python3-setuptools python3-wheel)
# `mixmesh completion zsh|fish` is checked by the shells themselves
[ -x /usr/bin/zsh ] || need+=(zsh)
[ -x /usr/bin/fish ] || need+=(fish)
# the IoT café: nginx plays its Ingress locally (`npm run cafe`), a Korean font for its pages in the
# browser tests' screenshots (Chromium draws boxes for Hangul and the pages' emoji icons without them)
[ -x /usr/sbin/nginx ] || need+=(nginx-light)
fc-list 2>/dev/null | grep -qi nanum || need+=(fonts-nanum)
fc-list 2>/dev/null | grep -qi 'color emoji' || need+=(fonts-noto-color-emoji)
# the café's "Push the images" step pushes to a real registry (Distribution) with htpasswd (bcrypt) auth
[ -x /usr/bin/docker-registry ] || need+=(docker-registry)
[ -x /usr/bin/htpasswd ] || need+=(apache2-utils)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "mixmesh: missing Debian packages: ${need[*]} (run as root, or install them: apt-get install ${need[*]})" >&2
  exit 1
fi

echo "mixmesh: installing Debian packages: ${need[*]}" >&2
# no service may start during the install (a host sshd would take *:22; a system MariaDB, dockerd,
# registry or Swift would hold ports and state the tests start for themselves)
policy=/usr/sbin/policy-rc.d
had_policy=0
[ -e "$policy" ] && had_policy=1
if [ "$had_policy" = 0 ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod 755 "$policy"
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
if [ "$had_policy" = 0 ]; then rm -f "$policy"; fi
echo "mixmesh: Debian packages installed" >&2
