"""Waiting for a condition, the one way the bundle's tools and tests do it: with a bound, and
saying what was waited for when it gives up (never a bare sleep standing in for readiness)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def wait_until(
    probe: Callable[[], T],
    timeout: float,
    what: str,
    until: Callable[[T], Any] = bool,
    every: float = 1.0,
) -> T:
    """probe() until until(its value) holds, for at most ``timeout`` seconds; that value.

    Raises TimeoutError naming what it waited for and the last value seen."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if until(value):
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"gave up after {timeout:g} s waiting for {what}; last seen {value!r:.3000}")
        time.sleep(every)
