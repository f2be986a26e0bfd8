"""The Keystone failover benchmark's figures (benchmarks/keystone_metrics.py), from probe data."""

import keystone_metrics

KILL = 1000.0


def load(attempts, duration=10.0):
    return {"attempts": attempts, "duration": duration}


def test_load_figures_count_rate_gap_and_failures_late_after_the_kill():
    attempts = [[990.0, 990.1, True], [995.0, 995.2, True], [1000.5, 1005.5, False], [1001.0, 1006.0, False],
                [1004.9, 1007.0, False], [1005.5, 1008.0, False], [1007.0, 1007.3, True], [1008.0, 1008.1, True]]
    figures = keystone_metrics.load_figures(load(attempts, duration=20.0), KILL)
    assert figures == {
        "requests": 8, "succeeded": 4, "success_rate": 50.0, "rate": 0.4,
        # between the answers at 995.2 and 1007.3: the longest time without a token
        "longest_gap": 12.1, "gap_from_kill": -4.8,
        # sent at 1005.5: 5.5 s after the power-off; the one sent at 1004.9 is within the grace
        "late_failures": 1, "last_late_failure": 5.5,
        "targets_met": False,
    }


def test_targets_met_at_99_percent_with_failures_only_inside_the_grace():
    attempts = [[KILL - 50 + i * 0.5, KILL - 50 + i * 0.5 + 0.1, True] for i in range(199)]
    attempts.append([KILL + 4.0, KILL + 9.0, False])
    figures = keystone_metrics.load_figures(load(attempts), KILL)
    assert figures["success_rate"] == 99.5 and figures["late_failures"] == 0 and figures["last_late_failure"] is None
    assert figures["targets_met"]
    below = attempts[:97] + [[KILL + 1, KILL + 2, False]] * 3
    assert not keystone_metrics.load_figures(load(below), KILL)["targets_met"]  # 97 %


def test_a_single_late_failure_misses_the_target_whatever_the_rate():
    attempts = [[KILL + i, KILL + i + 0.1, True] for i in range(1000)] + [[KILL + 60, KILL + 65, False]]
    figures = keystone_metrics.load_figures(load(attempts), KILL)
    assert figures["success_rate"] == 99.9 and figures["late_failures"] == 1 and figures["last_late_failure"] == 60.0
    assert not figures["targets_met"]


def test_load_figures_of_an_empty_or_tokenless_run():
    empty = keystone_metrics.load_figures(load([]), KILL)
    assert empty["requests"] == 0 and empty["success_rate"] is None and empty["longest_gap"] is None
    assert not empty["targets_met"]
    failed = keystone_metrics.load_figures(load([[KILL + 9, KILL + 10, False]]), KILL)
    assert failed["success_rate"] == 0.0 and failed["late_failures"] == 1 and failed["gap_from_kill"] is None


def test_verified_counts_tokens_valid_on_every_validator():
    result = {"tokens": 3, "results": [
        ["http://a", {"http://a": 200, "http://b": 200}],
        ["http://b", {"http://a": 200, "http://b": 404}],
        ["http://a", {"http://a": None, "http://b": 401}],
    ]}
    assert keystone_metrics.verified(result) == {"valid": 1, "total": 3, "failures": [
        ["http://b", "http://b", 404], ["http://a", "http://a", None], ["http://a", "http://b", 401]]}
    assert keystone_metrics.verified({"tokens": 1, "results": [["http://a", {}]]})["valid"] == 0


def test_failures_by_rotation_relative_to_the_run_with_the_tokens_age():
    began, rotations = 100.0, [130.0, 170.0]
    failures = [[175.5, 170.0, "http://a", "http://b", 404], [120.0, 119.5, "http://b", "http://c", None],
                [130.0, 125.0, "http://c", "http://a", 404]]
    assert keystone_metrics.failures_by_rotation(failures, rotations, began) == [
        {"at": 20.0, "age": 0.5, "issuer": "http://b", "validator": "http://c", "status": None, "rotation": 0},
        {"at": 30.0, "age": 5.0, "issuer": "http://c", "validator": "http://a", "status": 404, "rotation": 1},
        {"at": 75.5, "age": 5.5, "issuer": "http://a", "validator": "http://b", "status": 404, "rotation": 2},
    ]
