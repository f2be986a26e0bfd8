"""The failover figure of benchmarks/lab_failover.py, from captured echo traffic.

The benchmark's numbers decide whether the failover target is met, so the arithmetic that turns
packet timestamps into "cut -> traffic flowing again" is checked here on made-up captures.
"""

import lab_failover as bench
import pytest

T_CUT, T_MEND = 100.0, 101.5


def capture(sends, answered=None, reply_delay=0.001):
    """PACKET lines for requests sent at ``sends`` (seq 1, 2, ...); ``answered`` = the seqs
    that got a reply (default all), each ``reply_delay`` s (or a per-seq dict) after its request."""
    lines = []
    for seq, sent in enumerate(sends, 1):
        lines.append(f"PACKET {sent:.6f} request {seq}")
        if answered is None or seq in answered:
            delay = reply_delay.get(seq, 0.001) if isinstance(reply_delay, dict) else reply_delay
            lines.append(f"PACKET {sent + delay:.6f} reply {seq}")
    return lines


def every(step_ms=5, skip=()):
    """Send times (s) every ``step_ms`` from 99.000 to 101.995, leaving out the ms values inside
    any ``(after, before)`` of ``skip`` (exclusive)."""
    return [ms / 1000 for ms in range(99000, 102000, step_ms) if not any(a < ms < b for a, b in skip)]


def test_steady_traffic_gives_the_send_interval():
    figures = bench.failover_figures(capture(every()), T_CUT, T_MEND)
    assert figures["failover"] == pytest.approx(5, abs=0.01)
    assert figures["lost"] == 0


def test_lost_requests_span_from_the_last_answered_to_the_next_answered():
    sends = every()
    lost = {seq for seq, sent in enumerate(sends, 1) if 100.018 < sent < 100.118}
    answered = set(range(1, len(sends) + 1)) - lost
    figures = bench.failover_figures(capture(sends, answered), T_CUT, T_MEND)
    # last answered at 100.015, next answered at 100.120
    assert figures["failover"] == pytest.approx(105, abs=0.01)
    assert figures["lost"] == len(lost) == 20


def test_a_pause_in_sending_counts_even_when_nothing_was_lost():
    sends = every(skip=[(100050, 100180)])
    figures = bench.failover_figures(capture(sends), T_CUT, T_MEND)
    assert figures["failover"] == pytest.approx(130, abs=0.01)
    assert figures["lost"] == 0


def test_late_replies_widen_the_reply_gap_but_not_the_failover():
    sends = every()
    # the replies to the requests of 100.200-100.395 all reach the host only at 100.450: the
    # arrivals jump from 100.196 (reply to 100.195) to 100.401 (reply to 100.400)
    delays = {seq: 100.45 - sent for seq, sent in enumerate(sends, 1) if 100.198 < sent < 100.398}
    figures = bench.failover_figures(capture(sends, reply_delay=delays), T_CUT, T_MEND)
    assert figures["failover"] == pytest.approx(5, abs=0.01)
    assert figures["reply_gap"] == pytest.approx(205, abs=0.01)


def test_gaps_before_the_cut_or_after_the_mend_do_not_count():
    sends = every(skip=[(99500, 99900), (101600, 101900)])
    figures = bench.failover_figures(capture(sends), T_CUT, T_MEND)
    assert figures["failover"] == pytest.approx(5, abs=0.01)


def test_a_gap_reaching_over_the_cut_mark_counts():
    sends = every(skip=[(99900, 100100)])
    figures = bench.failover_figures(capture(sends), T_CUT, T_MEND)
    assert figures["failover"] == pytest.approx(200, abs=0.01)


def test_requests_lost_for_good_leave_no_figure():
    sends = every()
    answered = {seq for seq, sent in enumerate(sends, 1) if sent < 100.0}
    assert bench.failover_figures(capture(sends, answered), T_CUT, T_MEND) is None


def test_lines_other_than_packets_are_ignored():
    lines = ["MARKS 100.0 101.5 102.0 eth2 br-eth2.10", "KERNEL [ 1.0] x", *capture(every())]
    assert bench.failover_figures(lines, T_CUT, T_MEND)["failover"] == pytest.approx(5, abs=0.01)
