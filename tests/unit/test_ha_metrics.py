"""The controllers' failover benchmark's figures (benchmarks/ha_metrics.py), from probe data."""

import ha_metrics


def test_longest_gap_spans_failed_attempts_between_successes():
    attempts = [[0.0, True], [0.02, True], [0.04, False], [0.56, False], [1.08, True], [1.10, True]]
    assert ha_metrics.longest_gap(attempts) == {"gap": 1.06, "from": 0.02, "failed": 2}


def test_longest_gap_only_counts_gaps_ending_after_since():
    attempts = [[0.0, True], [2.0, True], [2.1, True], [2.5, True]]
    assert ha_metrics.longest_gap(attempts, since=2.05)["gap"] == 0.4
    assert ha_metrics.longest_gap([[0.0, True], [0.1, False]]) is None


def test_holder_intervals_open_and_closed():
    changes = [[0.0, []], [1.0, ["10.10.0.100"]], [3.0, []], [5.0, ["10.10.0.100"]]]
    assert ha_metrics.holder_intervals(changes, "10.10.0.100", until=9.0) == [(1.0, 3.0), (5.0, 9.0)]


def test_double_holding_finds_overlaps_and_none_when_clean():
    vip = "10.10.0.100"
    clean = {"a": [[0.0, [vip]], [2.0, []]], "b": [[0.0, []], [2.5, [vip]]], "c": [[0.0, []]]}
    assert ha_metrics.double_holding(clean, vip, until=5.0) == {"seconds": 0.0, "pairs": []}
    split = {"a": [[0.0, [vip]]], "b": [[0.0, []], [1.0, [vip]], [1.5, []]]}
    assert ha_metrics.double_holding(split, vip, until=5.0) == {"seconds": 0.5, "pairs": [("a", "b", 0.5)]}


def test_a_certain_overlap_counts_only_what_both_samplers_saw():
    vip = "10.10.0.100"
    # a lost the VIP between its samples at 2.00 and 2.03; b first saw it at 2.02.
    handover = {"a": [[0.0, [vip], None], [2.03, [], 2.0]], "b": [[0.0, [], None], [2.02, [vip], 2.0]]}
    assert ha_metrics.double_holding(handover, vip, until=5.0)["seconds"] == 0.01
    assert ha_metrics.double_holding(handover, vip, until=5.0, certain=True) == {"seconds": 0.0, "pairs": []}
    # Both saw it at 2.02 and 2.03: that overlap is certain.
    split = {"a": [[0.0, [vip], None], [2.05, [], 2.03]], "b": [[0.0, [], None], [2.02, [vip], 2.0]]}
    assert ha_metrics.double_holding(split, vip, until=5.0, certain=True)["seconds"] == 0.01
    assert ha_metrics.holder_intervals(split["a"], vip, until=5.0, certain=True) == [(0.0, 2.03)]


def test_holder_at_reads_each_guests_last_sample_before_the_time():
    vip = "10.10.0.100"
    by_host = {"a": [[0.0, [vip]], [2.0, []]], "b": [[0.0, []], [2.5, [vip]]]}
    assert ha_metrics.holder_at(by_host, vip, 1.0) == ["a"]
    assert ha_metrics.holder_at(by_host, vip, 2.2) == []
    assert ha_metrics.holder_at(by_host, vip, 3.0) == ["b"]
    # The sampler's changes also carry the time of the sample before.
    with_previous = {"a": [[0.0, [vip], None], [2.0, [], 1.98]], "b": [[0.0, [], None], [2.5, [vip], 2.48]]}
    assert ha_metrics.holder_at(with_previous, vip, 3.0) == ["b"]


def test_summary_and_missing_acked():
    assert ha_metrics.summary([3, 1, 2, None]) == {"n": 3, "min": 1, "median": 2, "max": 3}
    assert ha_metrics.summary([]) == {"n": 0, "min": None, "median": None, "max": None}
    assert ha_metrics.missing_acked([1, 2, 3, 5], [1, 3, 4, 5]) == [2]


def rabbit_result(confirmed, seen, unconfirmed=(), duration=10.0):
    return {"confirmed": confirmed, "seen": seen, "unconfirmed": list(unconfirmed), "duration": duration}


def test_message_figures_count_lost_confirmed_duplicates_and_the_longest_publish_gap():
    # Confirms arrive out of time order in the list (a republished batch): the gap is over time.
    confirmed = [[1, 100.0], [2, 100.005], [4, 103.5], [3, 100.01], [5, 103.505]]
    seen = [1, 2, 2, 3, 5, 5, 5, 9]
    figures = ha_metrics.message_figures(rabbit_result(confirmed, seen, unconfirmed=[6, 7]), killed_at=100.2)
    assert figures == {"confirmed": 5, "lost": [4], "duplicates": 3, "unconfirmed": 2,
                       "longest_gap": 3.49, "gap_after_kill": -0.19, "rate": 0.5}


def test_message_figures_with_nothing_lost_and_no_kill_time():
    confirmed = [[seq, 10 + seq / 200] for seq in range(1, 401)]
    figures = ha_metrics.message_figures(rabbit_result(confirmed, list(range(400, 0, -1)), duration=2.0))
    assert figures["lost"] == [] and figures["duplicates"] == 0 and figures["rate"] == 200.0
    assert figures["longest_gap"] == 0.005 and figures["gap_after_kill"] is None


def test_message_figures_with_no_confirm_at_all():
    figures = ha_metrics.message_figures(rabbit_result([], [3]), killed_at=1.0)
    assert (figures["confirmed"], figures["lost"], figures["longest_gap"], figures["rate"]) == (0, [], None, 0.0)
