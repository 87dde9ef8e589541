"""llmobs.stats and the merging of exports: percentiles against a reference implementation, and
the samples of several hosts merged give the percentiles of their union (never an average)."""

from __future__ import annotations

import math
import statistics

from hypothesis import given, settings
from hypothesis import strategies as st

from llmobs.measuring import Sample
from llmobs.profiling.export import merged_metrics, request_row
from llmobs.profiling.run import Planned, Record
from llmobs.stats import bootstrap_ratio, percentile, summary

finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)


@given(st.lists(finite, min_size=2, max_size=200))
def test_percentiles_match_the_reference(values):
    # statistics.quantiles' "inclusive" method is the same definition (Hyndman-Fan type 7)
    reference = statistics.quantiles(values, n=100, method="inclusive")
    for q in (1, 25, 50, 90, 95, 99):
        assert math.isclose(percentile(values, q), reference[q - 1], rel_tol=1e-9, abs_tol=1e-6)
    assert percentile(values, 0) == min(values) and percentile(values, 100) == max(values)


def test_percentile_edges():
    assert percentile([], 50) is None and percentile([7.0], 99) == 7.0
    assert summary([]) == {"count": 0, "mean": None, "min": None, "p50": None, "p90": None} | {
        "p95": None,
        "p99": None,
        "max": None,
    }
    assert summary([1.0, float("nan"), float("inf"), 3.0])["count"] == 2  # non-finite values never count


def record(latency_ms: float, n: int) -> Record:
    sample = Sample(f"r{n}", "m", False, 0.0)
    sample.sent, sample.first_byte, sample.end = 0.0, latency_ms / 2000, latency_ms / 1000
    sample.status, sample.output_tokens, sample.tokens_source = 200, 10, "usage"
    return Record(Planned("m", b"", False), sample)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.floats(0.1, 1e5), min_size=1, max_size=40), min_size=1, max_size=4))
def test_hosts_merged_give_the_percentiles_of_the_union(hosts):
    exports = [{"requests": [request_row(record(v, i), 0.0) for i, v in enumerate(host)]} for host in hosts]
    metrics, summary_ = merged_metrics(exports)
    union = [v for host in hosts for v in host]
    assert summary_["requests"] == len(union) and summary_["success_rate"] == 1.0
    for q in (50, 95, 99):
        # the export keeps stamps to the microsecond: equal within that
        assert math.isclose(metrics["latency_ms"][f"p{q}"], percentile(union, q), abs_tol=0.01, rel_tol=1e-6)


def test_bootstrap_interval_holds_the_ratio_of_medians():
    slow = [100.0 + i % 7 for i in range(50)]
    fast = [50.0 + i % 5 for i in range(50)]
    low, high = bootstrap_ratio(slow, fast)
    assert low <= statistics.median(slow) / statistics.median(fast) <= high
    assert low > 1.9 and high < 2.2
    assert bootstrap_ratio([1.0], fast) is None
