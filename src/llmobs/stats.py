"""Statistics of raw samples, for the profiling and load-testing verdicts.

Percentiles are always computed from raw values (never averaged across hosts or runs: merging
hosts means concatenating their samples). The percentile is the linear interpolation between
closest ranks (numpy's default, Hyndman-Fan type 7): for sorted x of n values,
p(q) = x[k] + (x[k+1] - x[k]) * f with k + f = q / 100 * (n - 1).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence

PERCENTILES = (50, 90, 95, 99)


def finite_number(value: object) -> bool:
    """A number arithmetic can use, as JSON or a caller may hand it: not a bool, not NaN or infinite."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def percentile(values: Sequence[float], q: float, presorted: bool = False) -> float | None:
    """The q-th percentile (0-100) of the values; None for no values."""
    if not values:
        return None
    data = values if presorted else sorted(values)
    position = (len(data) - 1) * min(max(q, 0.0), 100.0) / 100
    low = math.floor(position)
    high = min(low + 1, len(data) - 1)
    fraction = position - low
    return data[low] + (data[high] - data[low]) * fraction


def summary(values: Iterable[float], digits: int = 3) -> dict[str, float | int | None]:
    """count, mean, min, the PERCENTILES and max, rounded; the others None when there is no value."""
    data = sorted(value for value in values if value is not None and math.isfinite(value))
    result: dict[str, float | int | None] = {"count": len(data)}
    if not data:
        return result | {"mean": None, "min": None, **{f"p{q}": None for q in PERCENTILES}, "max": None}
    result["mean"] = round(math.fsum(data) / len(data), digits)
    result["min"] = round(data[0], digits)
    for q in PERCENTILES:
        result[f"p{q}"] = round(percentile(data, q, presorted=True), digits)  # type: ignore[arg-type]
    result["max"] = round(data[-1], digits)
    return result


def median(values: Sequence[float]) -> float | None:
    return percentile(values, 50)


def bootstrap_ratio(
    numerator: Sequence[float],
    denominator: Sequence[float],
    statistic_q: float = 50,
    rounds: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float] | None:
    """A percentile-bootstrap confidence interval of p_q(numerator) / p_q(denominator), each
    side resampled on its own; None when a side has fewer than two values or a zero statistic."""
    if len(numerator) < 2 or len(denominator) < 2:
        return None
    rng = random.Random(seed)
    ratios = []
    for _ in range(rounds):
        top = percentile(rng.choices(numerator, k=len(numerator)), statistic_q)
        bottom = percentile(rng.choices(denominator, k=len(denominator)), statistic_q)
        if not bottom:
            return None
        ratios.append(top / bottom)  # type: ignore[operator]
    ratios.sort()
    tail = (1 - confidence) / 2 * 100
    return percentile(ratios, tail, True), percentile(ratios, 100 - tail, True)  # type: ignore[return-value]
