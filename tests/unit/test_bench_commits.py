"""bench_answer_channel's reading of the worker's commit durations from its metrics text: the
figures worked out by hand from two readings written out below."""

from __future__ import annotations

from tests.bench.bench_answer_channel import commit_durations, commit_report

BEFORE = """\
# HELP podium_commit_duration_seconds Time from a transaction's begin to its commit's answer
# TYPE podium_commit_duration_seconds histogram
podium_commit_duration_seconds_bucket{le="0.025",process="worker"} 1.0
podium_commit_duration_seconds_bucket{le="0.05",process="worker"} 2.0
podium_commit_duration_seconds_bucket{le="0.1",process="worker"} 2.0
podium_commit_duration_seconds_bucket{le="+Inf",process="worker"} 2.0
podium_commit_duration_seconds_count{process="worker"} 2.0
podium_commit_duration_seconds_sum{process="worker"} 0.06
# HELP podium_fold_duration_seconds other
# TYPE podium_fold_duration_seconds histogram
podium_fold_duration_seconds_count{process="worker"} 9.0
podium_fold_duration_seconds_sum{process="worker"} 9.0
"""
# four commits more, of 20, 40, 70 and 150 ms: 0.28 s in all; two over 50 ms, one over 100
AFTER = """\
# TYPE podium_commit_duration_seconds histogram
podium_commit_duration_seconds_bucket{le="0.025",process="worker"} 2.0
podium_commit_duration_seconds_bucket{le="0.05",process="worker"} 4.0
podium_commit_duration_seconds_bucket{le="0.1",process="worker"} 5.0
podium_commit_duration_seconds_bucket{le="+Inf",process="worker"} 6.0
podium_commit_duration_seconds_count{process="worker"} 6.0
podium_commit_duration_seconds_sum{process="worker"} 0.34
"""


def test_the_commits_between_two_readings() -> None:
    before, after = commit_durations(BEFORE), commit_durations(AFTER)
    assert before == {"0.025": 1.0, "0.05": 2.0, "0.1": 2.0, "+Inf": 2.0, "count": 2.0, "sum": 0.06}
    assert commit_report(before, after) == (
        "commits: 4, mean 70.0 ms, 50% over 50 ms, 25% over 100 ms"
    )


def test_no_commit_between_two_readings_says_so() -> None:
    assert commit_report(commit_durations(AFTER), commit_durations(AFTER)) == "commits: none"
    assert commit_report({}, commit_durations("")) == "commits: none"
