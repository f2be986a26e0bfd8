#!/usr/bin/python3
"""
brine-rabbitmq-partitions: tells the master when this node's RabbitMQ partitions list changes.

Run by a systemd timer. Asks the node for ``rabbit_mnesia:status()`` with ``erl_call`` (a small C
program: a tenth of a second, where ``rabbitmqctl`` starts a whole Erlang VM: seconds of CPU,
every time); when erl_call is missing, fails, or answers in a shape 3.10 does not give, reads
``rabbitmqctl cluster_status --formatter json`` instead. When the nodes this node's cluster cannot
see (``partitions``) differ from what was last reported (the state file, in /run: a reboot
reports afresh), sends a signed ``brine/rabbitmq/partition`` event with ``partitions`` and
``running`` (``salt-call brine_sign.send``) and remembers it. A node that does not answer
(stopped, or paused as the minority) reports nothing: its peers report the partition. The master
validates the event (brinelib.decisions) and records it. Standard library only.

Managed by Salt (Brine: salt/rabbitmq).
"""

import argparse
import json
import os
import re
import subprocess
import sys

TAG = "brine/rabbitmq/partition"
# erl_call prints the answer as an Erlang term (ei's format): atoms, quoted atoms, integers,
# strings, #Bin<...>, lists and tuples.
TOKEN = re.compile(r"""\s*(?:(?P<open>[\[{])|(?P<close>[\]}])|(?P<comma>,)|'(?P<quoted>(?:[^'\\]|\\.)*)'"""
                   r"""|"(?P<string>(?:[^"\\]|\\.)*)"|#Bin<(?P<bin>[0-9,]*)>|(?P<int>-?[0-9]+)"""
                   r"""|(?P<atom>[a-z][A-Za-z0-9_@.]*))""")


class Unreadable(ValueError):
    """erl_call's answer is not a term this script reads."""


def parse_term(text):
    """An Erlang term as erl_call prints it: atoms and strings as str, lists as list, tuples as
    tuple, binaries as bytes, integers as int. Unreadable for anything else (pids, maps, ...)."""
    stack, items, pos, text = [], [], 0, text.strip()
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if not match:
            raise Unreadable(f"unexpected {text[pos:pos + 20]!r}")
        pos = match.end()
        kind = match.lastgroup
        if kind == "comma":
            continue
        if kind == "open":
            stack.append((match.group("open"), items))
            items = []
            continue
        if kind == "close":
            if not stack or "[{".index(stack[-1][0]) != "]}".index(match.group("close")):
                raise Unreadable("unbalanced brackets")
            opener, outer = stack.pop()
            value = items if opener == "[" else tuple(items)
            items = outer
        elif kind in ("quoted", "string"):
            value = re.sub(r"\\(.)", r"\1", match.group(kind))
        elif kind == "bin":
            value = bytes(int(b) for b in match.group("bin").split(",") if b)
        elif kind == "int":
            value = int(match.group("int"))
        else:
            value = match.group("atom")
        items.append(value)
    if stack or len(items) != 1:
        raise Unreadable("not one complete term")
    return items[0]


def status_from_term(term):
    """cluster_status's JSON shape (``running_nodes``, ``partitions`` as {node: [nodes]}) from
    ``rabbit_mnesia:status()``; None when the node is not running RabbitMQ (paused, stopping).
    Unreadable for an answer of any other shape (``{badrpc, ...}``, another release's)."""
    if not isinstance(term, list) or not all(isinstance(i, tuple) and len(i) == 2 for i in term):
        raise Unreadable(f"not a property list: {str(term)[:200]}")
    props = dict(term)
    if "running_nodes" not in props:
        return None
    partitions = props.get("partitions") or []
    if not isinstance(partitions, list) or not all(isinstance(p, tuple) and len(p) == 2 for p in partitions):
        raise Unreadable(f"partitions is not a list of pairs: {str(partitions)[:200]}")
    return {"running_nodes": props["running_nodes"], "partitions": dict(partitions)}


def read_status(args):
    """cluster_status's JSON shape, or None when the node does not answer."""
    if os.path.exists(args.erl_call):
        try:
            # The cookie from the RabbitMQ user's home: on the command line it would be in ps.
            proc = subprocess.run([args.erl_call, "-timeout", "20", "-n", args.node, "-a", "rabbit_mnesia status []"],
                                  capture_output=True, text=True, timeout=30, check=False,
                                  env=dict(os.environ, HOME=args.cookie_home))
        except (OSError, subprocess.TimeoutExpired) as exc:
            proc = subprocess.CompletedProcess([], 1, "", str(exc))
        try:
            if proc.returncode:
                # The node may be down, or erl_call unable to reach a running one (its cookie,
                # the name's address): rabbitmqctl tells the two apart, at its price.
                raise Unreadable(f"exit {proc.returncode}: {(proc.stderr or proc.stdout).strip()[:200]}")
            return status_from_term(parse_term(proc.stdout))
        except Unreadable as exc:
            print(f"brine-rabbitmq-partitions: erl_call: {exc}; asking rabbitmqctl", file=sys.stderr)
    try:
        proc = subprocess.run([args.rabbitmqctl, "-n", args.node, "cluster_status", "--formatter", "json", "--quiet"],
                              capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode:
        return None
    return json.loads(proc.stdout)


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
    parser.add_argument("--erl-call", default="/usr/lib/erlang/bin/erl_call")
    parser.add_argument("--cookie-home", default="/var/lib/rabbitmq", help="the directory holding .erlang.cookie")
    args = parser.parse_args(argv)
    try:
        status = read_status(args)
        if status is None:
            return 0
        now = payload(status)
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
