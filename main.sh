#!/usr/bin/env bash
# The main job: converge the example lab. For now (until the virtual lab lands) every host of
# the example inventory is converged masterless in test mode, and a summary is printed.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup-env.sh
exec .venv/bin/python scripts/preview.py "$@"
