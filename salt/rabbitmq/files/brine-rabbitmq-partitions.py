#!/usr/bin/python3
"""
brine-rabbitmq-partitions: tells the master when this node's RabbitMQ partitions list changes.

Run by a systemd timer. Reads ``rabbitmqctl cluster_status --formatter json``; when the nodes
this node's cluster cannot see (``partitions``) differ from what was last reported (the state
file, in /run: a reboot reports afresh), sends a signed ``brine/rabbitmq/partition`` event with
``partitions`` and ``running`` (``salt-call brine_sign.send``) and remembers it. A node that does
not answer (stopped, or paused as the minority) reports nothing: its peers report the partition.
The master validates the event (brinelib.decisions) and records it. Standard library only.

Managed by Salt (Brine: salt/rabbitmq).
"""

import argparse
import json
import os
import subprocess
import sys

TAG = "brine/rabbitmq/partition"


def nodes(value):
    """A sorted list of node names, or ValueError."""
    if not isinstance(value, list) or not all(isinstance(n, str) and "@" in n and len(n) < 320 for n in value):
        raise ValueError(f"not a list of node names: {str(value)[:200]}")
    return sorted(set(value))


def payload(status):
    """What the event says, from cluster_status's JSON (the same as brinelib.rabbitmq.partition_payload)."""
    partitions = status.get("partitions") or {}
    if not isinstance(partitions, dict):
        raise ValueError("partitions is not a mapping")
    unseen = set()
    for seen_by in partitions.values():
        unseen.update(nodes(seen_by))
    return {"partitions": sorted(unseen), "running": nodes(status.get("running_nodes") or [])}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--node", required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--salt-call", default="salt-call")
    parser.add_argument("--rabbitmqctl", default="/usr/sbin/rabbitmqctl")
    args = parser.parse_args(argv)
    try:
        proc = subprocess.run([args.rabbitmqctl, "-n", args.node, "cluster_status", "--formatter", "json", "--quiet"],
                              capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    if proc.returncode:
        return 0
    try:
        now = payload(json.loads(proc.stdout))
    except ValueError as exc:
        print(f"brine-rabbitmq-partitions: cluster_status: {exc}", file=sys.stderr)
        return 1
    try:
        with open(args.state, encoding="utf-8") as fh:
            last = json.load(fh)
    except (OSError, ValueError):
        last = {"partitions": []}
    if now["partitions"] == last.get("partitions"):
        return 0
    sent = subprocess.run([args.salt_call, "--log-level=quiet", "brine_sign.send", TAG, "data=" + json.dumps(now)],
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, timeout=120, check=False)
    if sent.returncode:
        print(f"brine-rabbitmq-partitions: salt-call failed ({sent.returncode}); will try again", file=sys.stderr)
        return 1
    tmp = f"{args.state}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(now, fh)
    os.replace(tmp, args.state)
    return 0


if __name__ == "__main__":
    sys.exit(main())
