#!/usr/bin/env bash
# Runs all of Brine's tests (unit, functional, integration, virtual lab) after installing what
# they need. Extra arguments go to pytest, e.g. ./test.sh tests/unit -k mac
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup-env.sh
exec .venv/bin/python -m pytest "$@"
