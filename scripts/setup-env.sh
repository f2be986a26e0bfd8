#!/usr/bin/env bash
# Installs what Brine needs on a Debian 12 machine, and nothing twice:
#   - the apt packages listed in scripts/apt-packages.txt (only the missing ones);
#   - a virtualenv in .venv from the pinned requirements.txt (rebuilt when it changes);
#   - the virtual lab's user-mode-linux kernel (scripts/uml-kernel.sh, lab/uml-kernel.conf).
# Run as root (apt-get, and later the virtual lab, need it).
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t wanted < <(grep -vE '^\s*(#|$)' scripts/apt-packages.txt)
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing apt packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # The daemons in the list (dhcpd, chrony, unbound, squid, ...) are run by the tests and the
  # lab in their own namespaces and guests; installing them must not start them on this host,
  # where chrony or unbound would talk to the outside world. A policy-rc.d refusing every start
  # is the Debian way to say so; one already present (containers ship one) is left alone.
  own_policy=
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\n# installed by brine scripts/setup-env.sh during apt-get install\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || status=$?
  [[ -n $own_policy ]] && rm -f /usr/sbin/policy-rc.d
  [[ ${status:-0} -eq 0 ]] || { echo "setup: apt-get install failed"; exit 1; }
fi
# keepalived and haproxy are here for their config checks and the namespace tests, rabbitmq-server
# and memcached for the functional tests (their own instances on loopback); Debian enables every
# one of these units (haproxy with its own empty config; erlang-base's epmd.socket on port 4369 of
# every address; certbot its renewal timer). This host is a test runner, not a load balancer, broker
# or cache: not at boot, and not now (no-ops where they are disabled or stopped already).
for unit in haproxy keepalived rabbitmq-server memcached epmd.socket epmd certbot.timer; do
  if systemctl is-enabled --quiet "$unit" 2>/dev/null; then
    systemctl disable --quiet "$unit" 2>/dev/null || true
  fi
  if [[ -d /run/systemd/system ]] && systemctl is-active --quiet "$unit" 2>/dev/null; then
    systemctl stop "$unit" || true
  fi
done

# Debian enables (and, without a policy-rc.d, starts) mariadb.service on install; this machine
# runs the Galera tests in network namespaces and is no database server: keep it off.
if dpkg-query -W -f='${Status}' mariadb-server 2>/dev/null | grep -q "install ok installed" \
   && command -v systemctl >/dev/null && systemctl is-enabled --quiet mariadb 2>/dev/null; then
  echo "setup: disabling mariadb.service on this host (a test runner)"
  systemctl disable --now mariadb >/dev/null 2>&1 || systemctl disable mariadb >/dev/null 2>&1 || true
fi

python=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]] || ! cmp -s requirements.txt .venv/.requirements.installed; then
  echo "setup: building .venv from requirements.txt"
  rm -rf .venv
  "$python" -m venv .venv
  mkdir -p .cache
  .venv/bin/pip install --disable-pip-version-check -r requirements.txt > .cache/pip-install.log 2>&1 \
    || { tail -30 .cache/pip-install.log; echo "setup: pip install failed (full log: .cache/pip-install.log)"; exit 1; }
  cp requirements.txt .venv/.requirements.installed
fi

scripts/uml-kernel.sh
