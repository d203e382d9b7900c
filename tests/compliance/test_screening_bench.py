"""The screening benchmark runs end to end on a small list and reports its figures beside its baseline (its speed
is measured by `corridor bench screening`, never asserted here)."""

from corridor.bench.common import NoProgress
from corridor.bench.screening_bench import ScreeningBenchConfig, run_screening


def test_the_screening_benchmark_finds_every_planted_name_and_reports_the_baseline() -> None:
    result = run_screening(ScreeningBenchConfig(entries=200, queries=60, checks=50), NoProgress())
    assert result["planted"] == 12 and result["recall_planted"] == 1.0
    assert result["false_hit_rate"] == 0.0
    assert {"screened_per_s", "baseline_per_s", "baseline_recall_planted", "ratio", "desk_checks_per_s"} <= set(result)
