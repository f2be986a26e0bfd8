#!/usr/bin/env bash
# The main job: bring the example lab up in the virtual lab (one user-mode-linux guest per
# inventory host, docs/lab.md) and converge it with state.apply (the bootstrap host first) through the lab's
# salt-master, then print a summary (hosts, roles, states, bonds and their active members).
# The lab stays up afterwards so you can look around (./brine-lab status|exec|salt ...);
# ./brine-lab down removes it.
#
#   ./main.sh             the lab (reuses a lab that is already up)
#   ./main.sh --preview   the old masterless preview: state.apply test=True per host, no lab
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup-env.sh
if [[ ${1:-} == --preview ]]; then
  shift
  exec .venv/bin/python scripts/preview.py "$@"
fi
if ! ./brine-lab status >/dev/null 2>&1; then
  ./brine-lab up
fi
status=0
PYTHONPATH=$PWD .venv/bin/python -m lab.converge || status=$?
echo "The lab is still up: ./brine-lab status | exec HOST CMD | salt ARGS; ./brine-lab down removes it."
exit $status
