#!/usr/bin/env python3
"""
The controllers' failover figures in the virtual lab: VIP moves, Galera node loss, full outage.

    ./main.sh                                  # the lab up and converged (Galera formed)
    .venv/bin/python benchmarks/controllers.py [--trials 10] [--node-trials 3] [--only vip-haproxy,...]
        [--vrrp3 0.3] [--soak-minutes 30]

Probes run inside the guests (benchmarks/probes/, sent over the lab's command channel), on
the guests' wall clocks (UML guests read the host's clock):

- a client on the bootstrap host opens a TCP connection to the internal VIP's HAProxy stats
  port every 20 ms; the figure is the longest time between two successful connects;
- on each controller a sampler reads every 20 ms which VIPs are local (/proc/net/fib_trie):
  two holders at once, and the holder after the node that lost the VIP came back;
- for Galera, a writer on the bootstrap host commits one row per transaction through the
  internal VIP (4 connections, 60 transactions/s in all by default) and logs every acknowledged
  id; after each trial every acknowledged id must be in the table on every node; the longest
  write stall and the achieved rate are printed.

Trials:

- vip-haproxy: HAProxy killed (SIGKILL) on the internal VIP's holder; systemd restarts it;
- vip-node: the holder powered off (`brine-lab kill`), then powered on again;
- galera-mysqld: mysqld killed (SIGKILL) on the active writer (the first controller);
- galera-node: the writer's guest powered off, then on again (it rejoins by IST);
- galera-outage: mysqld killed on all three controllers within a second while writing; the
  reactor recovers the cluster with no manual step.

Each prints min/median/max; nothing here asserts a time. Traffic stays inside the lab.

Measured on the 2-core Xeon (AVX-512, AMX), UML 7.2um1, controllers at mem=1G, VRRPv2 with
advert_int 1 (the defaults); other work (unit and functional test runs) shared the host:

    VIP, HAProxy SIGKILLed on the holder (n=10)   longest connect gap 0.48 / 0.69 / 0.83 s
      two holders at once: 0 of 10 (both samplers saw it), 0 within one sampling step;
      the VIP taken back when HAProxy came back: 0 of 10
    VIP, holder powered off (n=3)                 3.03 / 3.04 / 3.05 s
      two holders at once: 0 of 3; the recovered node took the VIP back: 0 of 3
    Galera, writer's mysqld SIGKILLed (n=13, two runs of 5 and 8)
      0 of 16316 acknowledged rows lost; longest write stall 6.11 / 6.32 / 6.50 s (Galera's
      evs.suspect_timeout, 5 s, before the survivors drop the dead node from the view);
      every node Synced again after 24.9 / 27.5 / 33.5 s, the killed one by IST (13 of 13);
      writer (4 connections, 60/s offered): 39.7 / 41.9 / 44.3 transactions/s over the whole
      30 s, 50.6 / 52.7 / 55.8 outside the stall
    Galera, writer's guest powered off and on (n=3)   0 of 3951 acknowledged rows lost;
      longest write stall 6.07 / 6.32 / 6.38 s; every node Synced again after 41.7 / 44.2 /
      45.1 s, the rebooted one by IST (3 of 3); writer 55.1 / 55.1 / 56.3 transactions/s
      outside the stall
    Galera, all three mysqld SIGKILLed (n=3)      0 of 9471 acknowledged rows lost; writes
      back through the VIP after 18.95 / 21.70 / 23.71 s (the reactor's recovery: positions,
      bootstrap of the highest, the others by IST, HAProxy's check); every node Synced after
      63.0 / 65.9 / 68.5 s
    controller guest memory on the host (PSS)    603-820 MiB at mem=1G
    ./main.sh from a stopped lab (image cached): 274-346 s (lab up 16-41 s, converge
      141-223 s, Galera formation 56-66 s)
"""

import argparse
import json
import secrets
import shlex
import sys
import time

from import_path import REPO

import ha_metrics
from brine_testlib import wait_for
from brinelib.names import controllers
from lab import kernel
from lab.core import Lab, load_inventory

PROBES = REPO / "benchmarks" / "probes"
CLIENT = "bootstrap"
STATS_PORT = 1984
BENCH_CREDENTIALS = "/root/brine-bench.cnf"


def lab_and_controllers():
    """After a line describing this host: the running lab, its inventory and its controllers;
    exits (status 1) when the lab is not up."""
    print(kernel.describe_host())
    lab = Lab(log=lambda msg: None)
    if not lab.is_up:
        sys.exit("the lab is not up: ./main.sh first")
    _, inventory = load_inventory()
    return lab, inventory, controllers(inventory)


def vip_addresses(inventory):
    return [v["address"] for v in inventory["vips"].values()]


def send_probe(lab, host, name, source=None):
    """Copy a probe script (benchmarks/probes/NAME, or the file ``source``) into the guest (/root/NAME)."""
    text = (source or PROBES / name).read_text()
    lab.exec(host, f"cat > /root/{name} <<'BRINE_PROBE_EOF'\n{text}\nBRINE_PROBE_EOF").check()


def start_probe(lab, host, name, *args):
    """Start a probe in the background; its JSON line goes to /root/NAME.out."""
    argv = " ".join(shlex.quote(str(a)) for a in args)
    lab.exec(host, f"rm -f /root/{name}.out; setsid nohup /usr/bin/python3 /root/{name} {argv} > /root/{name}.out 2>&1 < /dev/null &").check()


def collect_probe(lab, host, name, timeout=120):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        out = lab.exec(host, f"cat /root/{name}.out 2>/dev/null || true").output
        for line in out.splitlines():
            if line.startswith("JSON:"):
                return json.loads(line[5:])
        time.sleep(1)
    raise RuntimeError(f"{host}: probe {name} printed no result: {out[-500:]}")


def run_holding_secret(lab, host, command, what):
    """Run ``command``, which holds a password: a failure names ``what``, never the command
    (ExecResult.check would quote it)."""
    result = lab.exec(host, command)
    if not result.ok:
        raise RuntimeError(f"{host}: {what} failed (rc={result.returncode}): {result.output[-500:]}")


def vip_holders(lab, names, address):
    out = []
    for name in names:
        if lab.is_running(name) and lab.exec(name, f"ip -o addr show to {address}/32").output.strip():
            out.append(name)
    return out


def vip_trial(lab, ctl, vip, how):
    """One VIP failover: returns {gap, double, new_holder, took_back}."""
    (holder,) = wait_for(lambda: (h := vip_holders(lab, ctl, vip)) and len(h) == 1 and h, 60, 0.5) or [None]
    if holder is None:
        raise RuntimeError(f"no single holder of {vip}: {vip_holders(lab, ctl, vip)}")
    duration = 12 if how == "haproxy" else 20
    for name in ctl:
        start_probe(lab, name, "vip_sampler.py", duration + 2, 0.02, vip)
    start_probe(lab, CLIENT, "vip_client.py", vip, STATS_PORT, duration, 0.02)
    time.sleep(3)
    cut_at = time.time()
    if how == "haproxy":
        lab.exec(holder, "pkill -KILL -x haproxy").check()
    else:
        lab.kill(holder)
    samples = {}
    result = collect_probe(lab, CLIENT, "vip_client.py", timeout=duration + 60)
    for name in ctl:
        if name == holder and how == "node":
            continue
        samples[name] = collect_probe(lab, name, "vip_sampler.py", timeout=60)["changes"]
    if how == "haproxy":
        samples[holder] = collect_probe(lab, holder, "vip_sampler.py", timeout=60)["changes"]
    gap = ha_metrics.longest_gap(result["attempts"], since=cut_at)
    end = max(a for a, _ in result["attempts"])
    double = ha_metrics.double_holding(samples, vip, until=end, certain=True)
    double_sampled = ha_metrics.double_holding(samples, vip, until=end)
    new_holder = ha_metrics.holder_at(samples, vip, end)
    if how == "node":
        lab.start(holder)
    # The node that lost the VIP is back (HAProxy restarted by systemd, or the guest booted):
    # it must not take the VIP back (nopreempt).
    time.sleep(5)
    after = vip_holders(lab, ctl, vip)
    return {"holder": holder, "gap": gap["gap"] if gap else None, "double": double["seconds"], "double_within_sampling": double_sampled["seconds"],
            "new_holder": new_holder, "after": after, "took_back": holder in after}


def bench_credentials(lab, writer_host):
    """A benchmark database and account, made through the writer's local socket (root)."""
    password = secrets.token_urlsafe(18)
    sql = (
        "CREATE DATABASE IF NOT EXISTS brine_bench; "
        "CREATE TABLE IF NOT EXISTS brine_bench.acked (id BIGINT PRIMARY KEY, at DOUBLE) ENGINE=InnoDB; "
        f"CREATE OR REPLACE USER 'bench'@'%' IDENTIFIED BY '{password}'; "
        "GRANT ALL ON brine_bench.* TO 'bench'@'%';"
    )
    lab.exec(writer_host, f"mariadb -e {shlex.quote(sql)}").check()
    lab.exec(CLIENT, f"umask 077; printf '%s\\n%s\\n' bench {shlex.quote(password)} > {BENCH_CREDENTIALS}").check()


def table_ids(lab, host):
    out = lab.exec(host, "mariadb -N -B -e 'SELECT id FROM brine_bench.acked'").check().output
    return [int(x) for x in out.split()]


def synced_in_cluster_of(lab, host):
    """The cluster size ``host`` sees while it is Synced (serving), else 0 (a joiner counts in
    wsrep_cluster_size before it has caught up)."""
    out = lab.exec(host, "mariadb -N -B -e \"SHOW GLOBAL STATUS WHERE Variable_name IN "
                         "('wsrep_cluster_size', 'wsrep_local_state_comment')\" 2>/dev/null || true").output
    status = dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)
    size = status.get("wsrep_cluster_size", "")
    return int(size) if status.get("wsrep_local_state_comment") == "Synced" and size.isdigit() else 0


def galera_trial(lab, ctl, vip, how, first_id, rate, writers):
    writer = ctl[0]
    duration = 30 if how != "outage" else 120
    start_probe(lab, CLIENT, "galera_writer.py", vip, BENCH_CREDENTIALS, duration, rate, first_id, writers)
    time.sleep(5)
    started = time.monotonic()
    killed_at = int(time.time())
    if how == "mysqld":
        lab.exec(writer, "pkill -KILL -x mariadbd").check()
    elif how == "node":
        lab.kill(writer)
    else:
        for name in ctl:
            lab.exec(name, "pkill -KILL -x mariadbd", timeout=10)
    if how == "node":
        lab.start(writer)
    # While the writer goes on writing: how long until every node is back in the cluster.
    rejoined = wait_for(lambda: all(synced_in_cluster_of(lab, n) == len(ctl) for n in ctl), 300, 1)
    recovered_after = time.monotonic() - started
    result = collect_probe(lab, CLIENT, "galera_writer.py", timeout=duration + 300)
    missing = {n: ha_metrics.missing_acked(result["acked"], table_ids(lab, n)) for n in ctl}
    stalls = [s[1] for s in result["stalls"]]
    # The rate the writer kept up while the cluster served: the stalls' seconds left out.
    serving = duration - sum(s for s in stalls if s is not None)
    return {"acked": len(result["acked"]), "rate": result["rate"], "rate_serving": round(len(result["acked"]) / max(1.0, serving), 1), "transfer": state_transfer(lab, writer, killed_at),
            "missing": {n: len(m) for n, m in missing.items()},
            "longest_stall": max((s for s in stalls if s is not None), default=0.0),
            "unended_stall": any(s is None for s in stalls), "rejoined": bool(rejoined),
            "whole_again_after": round(recovered_after, 1), "errors": result["errors"], "next_id": result["next_id"]}


def state_transfer(lab, host, since):
    """How ``host`` caught up when it rejoined after ``since`` (epoch s), from its MariaDB journal:
    "IST" (the missed writesets from a donor's gcache), "SST" (a full copy) or "none"."""
    out = lab.exec(host, f"journalctl -u mariadb --since @{since} --no-pager -o cat 2>/dev/null || true").output
    if "IST completed on joiner" in out or "Receiving IST" in out:
        return "IST"
    if "SST completed on joiner" in out or "SST received" in out:
        return "SST"
    return "none"


def report(title, trials, key, unit="s"):
    figures = ha_metrics.summary([t[key] for t in trials])
    print(f"{title}: n={figures['n']} min={figures['min']} median={figures['median']} max={figures['max']} {unit}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10, help="trials per quick scenario (HAProxy kill, mysqld kill)")
    parser.add_argument("--node-trials", type=int, default=3, help="trials per power-off scenario")
    parser.add_argument("--rate", type=float, default=60.0, help="the Galera writer's transactions/s (all connections)")
    parser.add_argument("--writers", type=int, default=4, help="the Galera writer's connections")
    parser.add_argument("--only", default="vip-haproxy,vip-node,galera-mysqld,galera-node,galera-outage")
    parser.add_argument("--vrrp3", type=float, metavar="ADVERT_INT",
                        help="run the VIP trials with VRRPv3 at this advert interval (s), then put the inventory's back")
    parser.add_argument("--soak-minutes", type=float, default=0,
                        help="first watch the idle VIPs this long: spurious moves and double holders")
    args = parser.parse_args()
    wanted = set(args.only.split(","))
    lab, inventory, ctl = lab_and_controllers()
    vip = inventory["vips"]["internal"]["address"]
    for name in ctl:
        send_probe(lab, name, "vip_sampler.py")
    send_probe(lab, CLIENT, "vip_client.py")
    send_probe(lab, CLIENT, "galera_writer.py")
    if args.vrrp3:
        keepalived_settings(lab, ctl, {"vrrp_version": 3, "advert_int": args.vrrp3})
    try:
        if args.soak_minutes:
            soak(lab, ctl, vip_addresses(inventory), args.soak_minutes)
        vip_benchmarks(lab, ctl, vip, args, wanted)
    finally:
        if args.vrrp3:
            keepalived_settings(lab, ctl, None)
    galera_benchmarks(lab, ctl, vip, args, wanted)
    return 0


def keepalived_settings(lab, ctl, override):
    """Apply the keepalived formula on the controllers with ``override`` merged into
    brine_settings:keepalived (None: the inventory's own settings again)."""
    args = ["-L", ",".join(ctl), "state.apply", "keepalived"]
    if override:
        args.append("pillar=" + json.dumps({"brine_settings": {"keepalived": override}}))
    results = lab.salt_json(*args)
    bad = [(h, s.get("__id__")) for h, r in results.items() if isinstance(r, dict) for s in r.values() if s.get("result") is False]
    if bad or set(results) != set(ctl):
        raise RuntimeError(f"keepalived settings {override}: {bad or results}")
    print(f"keepalived on {', '.join(ctl)}: {override or 'the inventory settings'}", flush=True)
    time.sleep(5)


def soak(lab, ctl, addresses, minutes):
    """The VIPs left alone for ``minutes``: every holder change and any double holding."""
    seconds = minutes * 60
    for name in ctl:
        start_probe(lab, name, "vip_sampler.py", seconds, 0.05, *addresses)
    time.sleep(seconds)
    samples = {name: collect_probe(lab, name, "vip_sampler.py", timeout=120)["changes"] for name in ctl}
    end = time.time()
    for address in addresses:
        moves = sum(max(0, len(ha_metrics.holder_intervals(ch, address, end)) - 1) for ch in samples.values())
        holders_now = ha_metrics.holder_at(samples, address, end - 1)
        double = ha_metrics.double_holding(samples, address, end, certain=True)
        print(f"soak {minutes:g} min, {address}: holder changes {moves}, two holders at once {double['seconds']} s, "
              f"holder at the end {holders_now}", flush=True)


def vip_benchmarks(lab, ctl, vip, args, wanted):
    for how, count in (("haproxy", args.trials), ("node", args.node_trials)):
        if f"vip-{how}" not in wanted:
            continue
        trials = []
        for _ in range(count):
            trial = vip_trial(lab, ctl, vip, how)
            print(f"  vip-{how}: {json.dumps(trial)}", flush=True)
            trials.append(trial)
        report(f"VIP failover, {'HAProxy killed' if how == 'haproxy' else 'holder powered off'} (longest connect gap)", trials, "gap")
        print(f"  two holders at once (both samplers saw it): {sum(t['double'] > 0 for t in trials)} of {len(trials)} trials; "
              f"within one sampling step: {sum(t['double_within_sampling'] > 0 for t in trials)}; "
              f"VIP taken back by the recovered node: {sum(t['took_back'] for t in trials)} of {len(trials)}")
    for name in ctl:
        print(f"host memory (PSS) of controller guest {name}: {lab.guest_memory_mib(name):.0f} MiB "
              f"(mem={lab.layout.hosts[name]['memory']})", flush=True)


def galera_benchmarks(lab, ctl, vip, args, wanted):
    galera = [w for w in ("mysqld", "node", "outage") if f"galera-{w}" in wanted]
    if galera:
        bench_credentials(lab, ctl[0])
        next_id = max(table_ids(lab, ctl[0]), default=0) + 1
        for how in galera:
            count = args.trials if how == "mysqld" else args.node_trials
            trials = []
            for _ in range(count):
                trial = galera_trial(lab, ctl, vip, how, next_id, args.rate, args.writers)
                next_id = trial["next_id"]
                print(f"  galera-{how}: {json.dumps(trial)}", flush=True)
                trials.append(trial)
            report(f"Galera, {how}: longest write stall", trials, "longest_stall")
            report(f"Galera, {how}: cluster whole again after", trials, "whole_again_after")
            for key, what in (("rate", "over the whole run"), ("rate_serving", "outside the stalls")):
                figures = ha_metrics.summary([t[key] for t in trials])
                print(f"Galera, {how}: writer's achieved rate {what} n={figures['n']} min={figures['min']} "
                      f"median={figures['median']} max={figures['max']} transactions/s ({args.writers} connections)")
            if how != "outage":
                transfers = [t["transfer"] for t in trials]
                print(f"  the node rejoined by: {', '.join(f'{k} {transfers.count(k)}' for k in sorted(set(transfers)))}")
            lost = sum(sum(t["missing"].values()) for t in trials)
            print(f"  acknowledged rows lost: {lost} (of {sum(t['acked'] for t in trials)} acknowledged)")


if __name__ == "__main__":
    sys.exit(main())
