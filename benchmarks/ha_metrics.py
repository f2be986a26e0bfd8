"""
Pure figures of the controllers' failover benchmarks (benchmarks/controllers.py,
benchmarks/rabbitmq_failover.py) from what the probes in benchmarks/probes/ print: no lab, no
clock; unit-tested in tests/unit/test_ha_metrics.py.
"""

import statistics


def longest_gap(attempts, since=None):
    """
    The longest time between two consecutive successful connects (``[[t, ok], ...]`` from
    vip_client.py), counting only gaps that end after ``since``: ``{"gap", "from", "failed"}``
    with ``failed`` the attempts that failed inside that gap. None when fewer than two connects.
    """
    best, previous, failed_since = None, None, 0
    for at, ok in attempts:
        if not ok:
            failed_since += 1
            continue
        if previous is not None and (since is None or at >= since):
            gap = at - previous
            if best is None or gap > best["gap"]:
                best = {"gap": round(gap, 4), "from": previous, "failed": failed_since}
        previous, failed_since = at, 0
    return best


def holder_intervals(changes, address, until, certain=False):
    """
    ``[(start, end), ...]`` during which one guest held ``address``, from vip_sampler.py's
    ``changes`` (``[[t, [addresses], t_previous_sample], ...]``); an interval still open ends at
    ``until``. An interval ends at the first sample that no longer shows the address; with
    ``certain`` at the last sample that still did (the address went away in between: a
    sampler delayed by a busy host widens the first, never the second).
    """
    intervals, since = [], None
    for change in changes:
        at, held = change[0], change[1]
        if address in held and since is None:
            since = at
        elif address not in held and since is not None:
            last_seen = change[2] if certain and len(change) > 2 and change[2] is not None else at
            intervals.append((since, max(since, last_seen)))
            since = None
    if since is not None:
        intervals.append((since, until))
    return intervals


def double_holding(changes_by_host, address, until, certain=False):
    """
    Total seconds during which two or more guests held ``address`` at once, and the pairs that
    did: ``{"seconds", "pairs"}``. Sampling is discrete: by default an interval ends at the first
    sample without the address, so an overlap up to one sampling period (more when a sampler
    was delayed) may be the sampling's; with ``certain`` only sampled overlaps count (an
    overlap shorter than the sampling period can then be missed).
    """
    intervals = {host: holder_intervals(ch, address, until, certain) for host, ch in changes_by_host.items()}
    hosts = sorted(intervals)
    total, pairs = 0.0, []
    for i, first in enumerate(hosts):
        for second in hosts[i + 1:]:
            for a_start, a_end in intervals[first]:
                for b_start, b_end in intervals[second]:
                    overlap = min(a_end, b_end) - max(a_start, b_start)
                    if overlap > 0:
                        total += overlap
                        pairs.append((first, second, round(overlap, 4)))
    return {"seconds": round(total, 4), "pairs": pairs}


def holder_at(changes_by_host, address, at):
    """The guests holding ``address`` at time ``at`` (sorted)."""
    out = []
    for host, changes in changes_by_host.items():
        held = False
        for change in changes:
            if change[0] > at:
                break
            held = address in change[1]
        if held:
            out.append(host)
    return sorted(out)


def summary(values):
    """``{"n", "min", "median", "max"}`` of a list of numbers (None values dropped)."""
    values = [v for v in values if v is not None]
    if not values:
        return {"n": 0, "min": None, "median": None, "max": None}
    return {"n": len(values), "min": round(min(values), 4), "median": round(statistics.median(values), 4),
            "max": round(max(values), 4)}


def missing_acked(acked, present):
    """The acknowledged ids that are not in the table (``present``): sorted."""
    return sorted(set(acked) - set(present))


def message_figures(result, killed_at=None):
    """
    The RabbitMQ probe's (rabbitmq_client.py) figures: ``confirmed`` messages, ``lost`` (confirmed
    but never consumed: their sequence numbers), ``duplicates`` (consumptions beyond the first of
    a sequence number), ``unconfirmed`` (published, never confirmed), the longest publish gap
    (time between two consecutive confirms) with its start relative to ``killed_at``, and the
    confirmed rate over the run.
    """
    confirms = sorted(result["confirmed"], key=lambda c: c[1])
    confirmed = [seq for seq, _ in confirms]
    seen = result["seen"]
    gap = longest_gap([[at, True] for _, at in confirms])
    return {
        "confirmed": len(confirmed),
        "lost": missing_acked(confirmed, seen),
        "duplicates": len(seen) - len(set(seen)),
        "unconfirmed": len(result["unconfirmed"]),
        "longest_gap": gap["gap"] if gap else None,
        "gap_after_kill": round(gap["from"] - killed_at, 4) if gap and killed_at is not None else None,
        "rate": round(len(confirmed) / result["duration"], 1),
    }
