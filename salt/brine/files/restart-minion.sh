#!/bin/sh
# Managed by Salt (Brine): restarts the salt-minion once the state run that started this has
# returned to the master (salt/brine/events.sls). Runs as its own transient systemd unit, so the
# minion's restart does not kill it, and the minion is not killed in the middle of a state run:
# it waits until the minion has no job running any more (the job files the minion writes under
# its cachedir/proc while a job runs and removes just before it sends the return).
service={{ service | quote }}
proc_dir={{ proc_dir | quote }}
started=$(systemctl show -P ExecMainStartTimestamp "$service")
ref=/run/brine-restart-minion.since
touch -d "${started:-now}" "$ref" 2>/dev/null || touch "$ref"
# Job files older than this minion process are left over from a minion that died (power loss).
# Shell builtins only in the loop: forks are expensive on a small or emulated host.
busy() {
  for f in "$proc_dir"/*; do
    [ "$f" -nt "$ref" ] && return 0
  done
  return 1
}
waited=0
sleep 1
while [ "$waited" -lt {{ max_wait | int }} ] && busy; do
  sleep 1
  waited=$((waited + 1))
done
rm -f "$ref"
# The return is on its way: give it a moment to leave.
sleep 2
exec systemctl restart "$service"
