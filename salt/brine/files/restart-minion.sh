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
# Job files older than this minion process are left over from a minion that died (power loss),
# and a job whose process is gone (a salt-call killed by its timeout) left its file behind:
# neither is running. A job file's pid is read once (Salt writes the file as a msgpack map);
# a file whose pid cannot be read counts as running. Otherwise shell builtins only in the loop:
# forks are expensive on a small or emulated host.
read_pid='
import sys
data = open(sys.argv[1], "rb").read()
at = data.find(b"\xa3pid")
value = data[at + 4:at + 9] if at >= 0 else b""
if value[:1] and value[0] < 0x80:
    print(value[0])
elif value[:1] in (b"\xcc", b"\xcd", b"\xce"):
    size = {0xcc: 1, 0xcd: 2, 0xce: 4}[value[0]]
    print(int.from_bytes(value[1:1 + size], "big"))
'
pids=" "
busy() {
  for f in "$proc_dir"/*; do
    [ "$f" -nt "$ref" ] || continue
    case "$pids" in
      *" $f="*) pid=${pids#*" $f="}; pid=${pid%% *} ;;
      *) pid=$(python3 -c "$read_pid" "$f" 2>/dev/null); pid=${pid:-unknown}; pids="$pids$f=$pid " ;;
    esac
    [ "$pid" = unknown ] && return 0
    [ -d "/proc/$pid" ] && return 0
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
