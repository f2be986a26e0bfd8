#!/usr/bin/env bash
# Installs what Brine needs on a Debian 12 machine, and nothing twice:
#   - the apt packages listed in scripts/apt-packages.txt (only the missing ones);
#   - a virtualenv in .venv from the pinned requirements.txt (rebuilt when it changes).
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
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
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
