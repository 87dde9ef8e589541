"""wait_until: returns as soon as the condition holds, gives up at its bound saying what it waited for."""

import itertools

import pytest

from llmobs.waiting import wait_until


def test_returns_the_first_value_that_satisfies_the_condition():
    counter = itertools.count()
    assert wait_until(lambda: next(counter), 5, "the third probe", until=lambda n: n >= 2, every=0) == 2


def test_gives_up_at_the_bound_naming_what_it_waited_for_and_the_last_value():
    probes = []
    with pytest.raises(TimeoutError, match=r"gave up after 0.05 s waiting for a miracle; last seen 'no'"):
        wait_until(lambda: probes.append(1) or "no", 0.05, "a miracle", "yes".__eq__, every=0.01)
    assert len(probes) >= 2  # it tried again before giving up
