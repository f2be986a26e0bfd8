"""
Pure figures of benchmarks/keystone_failover.py from what benchmarks/probes/keystone_client.py
prints: no lab, no clock; unit-tested in tests/unit/test_keystone_metrics.py.
"""

import ha_metrics

# The targets for the token load while the internal VIP's holder is powered off.
TARGET_SUCCESS = 99.0  # % of token requests answered with a token
GRACE = 5.0  # s after the power-off: no failed request sent later than this


def load_figures(result, killed_at, grace=GRACE):
    """
    The token load (``load``: ``attempts`` as ``[[sent, done, ok], ...]``) around a power-off at
    ``killed_at`` (epoch s): requests, successes and the success rate (%), the achieved rate,
    the longest time between two consecutive successful answers (with its start relative to the
    power-off), and the failed requests sent later than ``grace`` s after the power-off (count,
    and the last one's offset); ``targets_met`` per the issue's targets.
    """
    attempts = result["attempts"]
    ok = sum(1 for _, _, good in attempts if good)
    rate = round(100.0 * ok / len(attempts), 2) if attempts else None
    gap = ha_metrics.longest_gap(sorted([done, good] for _, done, good in attempts))
    late = [sent - killed_at for sent, _, good in attempts if not good and sent - killed_at > grace]
    return {
        "requests": len(attempts),
        "succeeded": ok,
        "success_rate": rate,
        "rate": round(len(attempts) / result["duration"], 1) if result.get("duration") else None,
        "longest_gap": gap["gap"] if gap else None,
        "gap_from_kill": round(gap["from"] - killed_at, 2) if gap else None,
        "late_failures": len(late),
        "last_late_failure": round(max(late), 2) if late else None,
        "targets_met": rate is not None and rate >= TARGET_SUCCESS and not late,
    }


def verified(result):
    """
    The tokens issued before a rotation, validated on every controller after it (``verify``:
    ``results`` as ``[[issuer, {validator: status}], ...]``): ``{"valid": tokens valid (200) on
    every validator, "total", "failures": [[issuer, validator, status], ...]}``.
    """
    valid, failures = 0, []
    for issuer, statuses in result["results"]:
        bad = [[issuer, validator, status] for validator, status in sorted(statuses.items()) if status != 200]
        valid += not bad and bool(statuses)
        failures += bad
    return {"valid": valid, "total": result["tokens"], "failures": failures}


def failures_by_rotation(failures, rotations, began):
    """
    The watch's validation failures (``[[t, issued_at, issuer, validator, status], ...]``) as
    ``[{"at", "age", "issuer", "validator", "status", "rotation"}]``: ``at`` relative to
    ``began``, ``age`` the token's age then, ``rotation`` the number (1, 2, ...) of the latest
    rotation started before it (0: before the first), from ``rotations`` (start times, epoch s).
    """
    out = []
    for at, issued_at, issuer, validator, status in sorted(failures):
        number = sum(1 for start in rotations if start <= at)
        out.append({"at": round(at - began, 2), "age": round(at - issued_at, 2), "issuer": issuer,
                    "validator": validator, "status": status, "rotation": number})
    return out
