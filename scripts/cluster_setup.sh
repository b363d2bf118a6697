#!/usr/bin/env bash
# Install what `make run-cluster` needs from Debian, only if missing (idempotent):
# redis-server, postgresql, nginx. Nothing is enabled or started as a system service here;
# scripts/cluster.py runs private instances under var/cluster/ on loopback ports.
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || need+=(redis-server)
{ command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } || need+=(postgresql)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)

if [ ${#need[@]} -eq 0 ]; then
  echo "cluster packages present: redis-server, postgresql, nginx"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
echo "installing: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d 101 keeps Debian's postinst from starting system-wide services we do not use.
cleanup_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  cleanup_policy=1
fi
trap '[ $cleanup_policy -eq 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d' EXIT
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
echo "installed: ${need[*]}"
