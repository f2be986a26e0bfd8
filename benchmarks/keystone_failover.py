#!/usr/bin/env python3
"""
Keystone on the controllers in the virtual lab: tokens through the internal VIP while its holder
is powered off, and Fernet key rotations while tokens are validated on every controller.

    ./main.sh                                   # the lab up and converged (Keystone set up)
    .venv/bin/python benchmarks/keystone_failover.py [--only failover,rotation] [--duration 300]
        [--rate 10] [--kill-at 60] [--power-on-at S] [--rotations 3]

failover: a probe on the bootstrap host (benchmarks/probes/keystone_client.py) asks the internal
VIP for a project-scoped token (``POST /v3/auth/tokens``) ``--rate`` times a second for
``--duration`` s, at most ``--workers`` requests at a time, each given 5 s. ``--kill-at`` s in,
the VIP's holder is powered off (``brine-lab kill``); it is powered on again ``--power-on-at`` s
into the run, or after it, and the benchmark waits until Galera, RabbitMQ and Keystone are whole
again (every node Synced, every RabbitMQ node running with no partition, every controller issuing
tokens that the others validate, the key digests equal). Printed: requests, success rate, the
longest time between two successful answers, the failed requests sent later than 5 s after the
power-off (count, and the last one's offset) and the time until whole again; the issue's targets
(>= 99 % success, no failure later than 5 s after the power-off) are printed, never asserted.

rotation: ``--rotations`` times in a row, ``salt-run brine_keystone.rotate`` on the lab master,
``--pause`` s apart. Before each, ``--tokens`` tokens are issued by each controller (kept in a
root-only file in the bootstrap guest); after it, each is validated on every controller. Meanwhile
a probe issues a token every second, from each controller in turn, and validates it on every
controller at once and again ``--lookback`` s later (less than ``--pause``: with
``max_active_keys`` 3 a token outlives one rotation, not two). Printed per rotation: the tokens
issued before it that still validate on all three (count/total), whether the digests are equal
after it, its duration; and the probe's validation failures over the whole run.

Keystone caches validated tokens in the controllers' shared memcached (``[cache]``, tokens cached
on issue): a validation may be answered from that cache without decrypting the token, so the key
digests are the direct evidence that every controller holds the same keys.

Measured on the 2-core Xeon (AVX-512, AMX), UML 7.2um1, controllers at mem=1G (Apache with one
mod_wsgi process of 4 threads each), password tokens, the lab's password_hash_rounds 4
(pillar/brine/lab-settings.yaml):

    failover, 8 requests in flight, 10/s offered and sent: 3000 requests, 99.73 % succeeded;
      longest time without a token 6.5 s, from the power-off; 8 failures, all "no answer within
      5 s", sent from the power-off to about 7 s after it (requests the new VIP holder's HAProxy
      still sent to the dead controller's Keystone until its health check, inter 2 s fall 2,
      marked it down). Galera did not become whole again: after the power-on the guest's UML
      vector NIC received nothing (its RX counter stood still; the host's port forwarded), so it
      was cut off and took both VIPs for itself; the run was stopped.

On a 2-core AMD EPYC (the same UML kernel and lab; everything in the lab about half as fast),
with Keystone's HAProxy row as it is now (timeout connect 1s, option redispatch 1, observe layer4
mark-down, a lenient /v3 check):

    failover, 8 in flight, 10/s: 3000 requests sent, 51.5 % succeeded. Around the power-off: 8
      failures, all requests already in flight to the powered-off holder (sent 0.5-1.6 s before
      it); none from the power-off until 18.6 s after it; longest time without a token 5.9 s,
      from the power-off. Then the two survivors could not keep up with 10 tokens/s on this
      host: from 18.6 s after the power-off, bursts of requests not answered within 5 s; later
      Keystone answered GET /v3 later than even the lenient check allowed, HAProxy marked both
      down, and from 170 s after the power-off every request got HAProxy's 503. (The first run, with
      the strict check of inter 2s fall 2 and a 2 s check timeout, lost controllers the same way
      before the power-off, with all three up: 38 % succeeded.) The run was stopped before
      ubuntu2 was whole again.

With Keystone's bcrypt at 12 rounds:

    failover, 8 requests in flight (10/s offered; the client fell behind to 5.5/s sent):
      3000 requests, 99.23 % succeeded; longest time without a token 5.7 s, from the power-off;
      13 failures within 5 s of it, 10 more when the holder came back during the load (its
      /etc/hosts then lost the VIP names: fixed in lab/guest/boot.sh since)
    failover, 32 in flight (9.9/s sent): 20.6 % succeeded, before the power-off too (about
      2.6 tokens/s answered; the rest 503 from Apache's full queue or no answer within 5 s):
      password tokens at 10/s are more than three UML controllers on two host cores can hash;
      Galera, RabbitMQ and Keystone whole again 102 s after the power-on (boot included)
    rotation, 3 in a row: tokens issued before each valid on all three after it 9/9, 9/9, 9/9;
      digests equal after each; rotate 4.2, 3.7, 3.2 s; 588 validations of 103 tokens during
      the run, 0 failed

The benchmark makes its own Keystone account (benchmarks/keystone_lab.py: the admin password never
leaves a controller guest) and deletes it at the end. All traffic stays inside the lab.
"""

import argparse
import json
import sys
import time

import import_path  # noqa: F401  (first: the checkout's import path)

import keystone_metrics
from brine_testlib import wait_for
from controllers import CLIENT, collect_probe, lab_and_controllers, start_probe, synced_in_cluster_of, vip_holders
from keystone_lab import (ACCOUNT_FILE, CLIENT_PROBE, base_urls, delete_account, digests_equal, key_digests,
                          make_account, run_client, send_probes)
from rabbitmq_failover import whole as rabbitmq_whole

TOKENS_FILE = "/root/brine-bench-keystone.tokens"
WATCH_STOP = "/root/brine-bench-keystone.stop"


def keystone_whole(lab, ctl, urls):
    """Every controller issues a token that every controller validates."""
    nodes = ",".join(urls[n] for n in ctl)
    answer = run_client(lab, "check", ACCOUNT_FILE, nodes, nodes)
    return all(r["issued"] is True and all(s == 200 for s in r["validated"].values()) for r in answer["issuers"].values())


def not_whole(lab, ctl, urls):
    """The first part that is not whole again, checked in this order: "power" (every controller
    running), "galera" (every node Synced in a cluster of all), "rabbitmq" (every node running,
    no partition), "keystone" (every controller issues tokens the others validate), "keys" (equal
    digests); None when all are."""
    checks = (
        ("power", lambda: all(lab.is_running(n) for n in ctl)),
        ("galera", lambda: all(synced_in_cluster_of(lab, n) == len(ctl) for n in ctl)),
        ("rabbitmq", lambda: rabbitmq_whole(lab, ctl)),
        ("keystone", lambda: keystone_whole(lab, ctl, urls)),
        ("keys", lambda: digests_equal(key_digests(lab))),
    )
    return next((part for part, check in checks if not check()), None)


def load_across_power_off(lab, holder, vip_url, args):
    """The token load through ``vip_url`` with ``holder`` powered off ``--kill-at`` s in and on
    again at ``--power-on-at`` (else after the load): ``(probe result, power-off time (epoch s),
    power-on time (monotonic s))``. The holder runs again on return, whatever happened."""
    start_probe(lab, CLIENT, CLIENT_PROBE, "load", ACCOUNT_FILE, vip_url, args.duration, args.rate, args.workers)
    began = time.monotonic()
    time.sleep(args.kill_at)
    killed_at = time.time()
    lab.kill(holder)
    powered_on = None
    try:
        print(f"  {holder} (the VIP's holder) powered off {args.kill_at:g} s into the load", flush=True)
        if args.power_on_at is not None and args.power_on_at < args.duration:
            time.sleep(max(0.0, args.power_on_at - (time.monotonic() - began)))
            powered_on = time.monotonic()
            lab.start(holder)
            print(f"  {holder} powered on {powered_on - began:.0f} s into the load", flush=True)
        # A client that fell behind sends for longer than --duration: wait for its last answer.
        result = collect_probe(lab, CLIENT, CLIENT_PROBE, timeout=2 * args.duration + 300)
    finally:
        if not lab.is_running(holder):
            powered_on = time.monotonic()
            lab.start(holder)
    return result, killed_at, powered_on


def failover(lab, ctl, urls, vip, args):
    holder = wait_for(lambda: (h := vip_holders(lab, ctl, vip)) and len(h) == 1 and h[0], 60, 0.5)
    if not holder:
        raise RuntimeError(f"no single holder of {vip}: {vip_holders(lab, ctl, vip)}")
    if not keystone_whole(lab, ctl, urls):
        raise RuntimeError("Keystone is not whole before the power-off (a controller does not issue or validate)")
    result, killed_at, powered_on = load_across_power_off(lab, holder, urls["vip"], args)
    whole = wait_for(lambda: not_whole(lab, ctl, urls) is None, 900, 5)
    figures = keystone_metrics.load_figures(result, killed_at)
    figures.update(holder=holder, killed_after=round(killed_at - result["began"], 1),
                   new_holder=vip_holders(lab, ctl, vip), errors=result["errors"],
                   whole_again_after=round(time.monotonic() - powered_on, 1) if whole else None,
                   not_whole=None if whole else not_whole(lab, ctl, urls))
    print(f"  failover: {json.dumps(figures)}", flush=True)
    print(f"Keystone, VIP holder powered off: {figures['requests']} token requests ({figures['rate']}/s, "
          f"{args.rate:g}/s offered), success {figures['success_rate']} %, longest time between two tokens "
          f"{figures['longest_gap']} s (from {figures['gap_from_kill']} s after the power-off), failed requests sent "
          f"later than {keystone_metrics.GRACE:g} s after it: {figures['late_failures']} (last at "
          f"{figures['last_late_failure']} s); Galera, RabbitMQ and Keystone whole again "
          f"{figures['whole_again_after']} s after the power-on (boot included)")
    print(f"  targets (>= {keystone_metrics.TARGET_SUCCESS:g} % success, no failure later than "
          f"{keystone_metrics.GRACE:g} s after the power-off): {'met' if figures['targets_met'] else 'NOT met'}")


def rotate_once(lab, nodes, tokens):
    """One rotation between tokens issued before it and validated after it: the per-rotation figures."""
    issued = run_client(lab, "issue", ACCOUNT_FILE, TOKENS_FILE, tokens, nodes)
    started = time.time()
    answer = lab.salt_run("brine_keystone.rotate", timeout=900)
    seconds = time.time() - started
    fernet = answer.get("fernet", {}) if isinstance(answer, dict) else {}
    checked = keystone_metrics.verified(run_client(lab, "verify", ACCOUNT_FILE, TOKENS_FILE, nodes))
    return started, {"rotate_seconds": round(seconds, 1), "action": fernet.get("action"), "in_sync": fernet.get("in_sync"),
                     "valid": checked["valid"], "total": checked["total"], "issue_failed": issued["failed"],
                     "failures": checked["failures"], "digests_equal": digests_equal(key_digests(lab))}


def rotation(lab, ctl, urls, args):
    nodes = ",".join(urls[n] for n in ctl)
    if not digests_equal(key_digests(lab)):
        raise RuntimeError("the controllers' key digests differ before the rotations (salt-run brine_keystone.sync_keys)")
    lab.exec(CLIENT, f"rm -f {WATCH_STOP}").check()
    longest = args.rotations * (args.pause + 900) + args.pause
    start_probe(lab, CLIENT, CLIENT_PROBE, "watch", ACCOUNT_FILE, longest, 1, args.lookback, nodes, nodes, WATCH_STOP)
    began = time.time()
    starts, rotations = [], []
    try:
        time.sleep(args.pause)
        for number in range(1, args.rotations + 1):
            started, figures = rotate_once(lab, nodes, args.tokens)
            starts.append(started)
            rotations.append(figures)
            print(f"  rotation {number}: {json.dumps(figures)}", flush=True)
            print(f"Keystone rotation {number}: tokens issued before it valid on all three after it "
                  f"{figures['valid']}/{figures['total']}; digests equal after it: "
                  f"{'yes' if figures['digests_equal'] else 'no'}; rotate took {figures['rotate_seconds']} s", flush=True)
            time.sleep(args.pause)
    finally:
        lab.exec(CLIENT, f"touch {WATCH_STOP}; rm -f {TOKENS_FILE}")
    watch = collect_probe(lab, CLIENT, CLIENT_PROBE, timeout=120)
    lab.exec(CLIENT, f"rm -f {WATCH_STOP}")
    failures = keystone_metrics.failures_by_rotation(watch["failures"], starts, began)
    print(f"Keystone rotations: {watch['validations']} validations of {watch['issued']} tokens during the run, "
          f"{len(failures)} failed, {len(watch['issue_failures'])} tokens not issued", flush=True)
    for failure in failures[:20]:
        print(f"  validation failed: {json.dumps(failure)}")
    met = not failures and all(r["valid"] == r["total"] > 0 and r["digests_equal"] for r in rotations)
    print(f"  targets (every token issued before a rotation valid on all three after it, equal digests, no "
          f"validation failure): {'met' if met else 'NOT met'}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    option = parser.add_argument
    option("--only", default="failover,rotation", help="failover, rotation or both")
    option("--duration", type=float, default=300.0, help="seconds of token load")
    option("--rate", type=float, default=10.0, help="token requests per second through the internal VIP")
    option("--workers", type=int, default=8, help="token requests in flight at most")
    option("--kill-at", type=float, default=60.0, help="seconds into the load the VIP's holder is powered off")
    option("--power-on-at", type=float, help="seconds into the load it is powered on again (default: after the load)")
    option("--rotations", type=int, default=3, help="rotations in a row")
    option("--tokens", type=int, default=3, help="tokens issued by each controller before each rotation")
    option("--pause", type=float, default=20.0, help="seconds before, between and after the rotations")
    option("--lookback", type=float, default=10.0, help="seconds after which the watch validates a token again")
    args = parser.parse_args()
    if args.lookback >= args.pause:
        parser.error("--lookback must be shorter than --pause: a token outlives one rotation, not two")
    if args.power_on_at is not None and args.power_on_at <= args.kill_at:
        parser.error("--power-on-at must come after --kill-at")
    wanted = set(args.only.split(","))
    lab, inventory, ctl = lab_and_controllers()
    urls = base_urls(inventory)
    send_probes(lab, CLIENT, CLIENT_PROBE)
    password = make_account(lab, inventory, ctl[0])
    try:
        if "failover" in wanted:
            failover(lab, ctl, urls, inventory["vips"]["internal"]["address"], args)
        if "rotation" in wanted:
            rotation(lab, ctl, urls, args)
    finally:
        host = next((n for n in ctl if lab.is_running(n)), None)
        if host is None:
            print("cleanup: no controller runs; the benchmark's Keystone account is left", file=sys.stderr)
        else:
            delete_account(lab, inventory, host, password)
    return 0


if __name__ == "__main__":
    sys.exit(main())
