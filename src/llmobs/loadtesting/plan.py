"""What a scenario of ``playbooks/loadtest.yml`` asks of each tool, and how long it lasts.

The scenarios are the guide's (smoke, load, stress, spike, soak) plus constant (the guide's
constant_load: an open model at a fixed rate). The overrides mean the same for both tools:
``users`` concurrent users, ``duration`` the length of the part that carries the load (the
plateau of load, every step of stress together), ``rate`` requests per second of the whole fleet
(constant, and k6's stress; for Locust each user is paced so that the users together send it;
Locust's stress runs LiteLLMStressUser, without pauses). A plan
gives k6's script and ``-e`` settings, Locust's flags, and ``expected_s``, the run's length, from
which the playbook sets its hard limit and checks the inventory's bounds, and ``open_files``, what
the generators may open on a host.
"""

from __future__ import annotations

import math
import re
from typing import Any

SCENARIOS = ("smoke", "load", "stress", "spike", "soak", "constant")
TOOLS = ("k6", "locust")

# users, duration (s), rate (requests/s) when the run does not say
DEFAULTS: dict[str, dict[str, float]] = {
    "smoke": {"users": 5, "duration": 30, "rate": 0},
    "load": {"users": 10, "duration": 180, "rate": 0},
    "stress": {"users": 50, "duration": 300, "rate": 50},  # k6's top rate
    "spike": {"users": 10, "duration": 60, "rate": 0},
    "soak": {"users": 10, "duration": 3600, "rate": 0},
    "constant": {"users": 20, "duration": 180, "rate": 5},
}
K6_RAMP_S = 60  # gradual_load's ramp; then the plateau, a 30 s ramp down and 30 s of grace
K6_SPIKE_EDGES_S = 110  # spike_test around its peak: 30 s base, 10 s up, 10 s down, 30 s + 30 s grace
GRACE_S = 30  # a request in flight at the end may finish: k6's gracefulStop, Locust's --stop-timeout
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600}


def seconds(value: Any, name: str = "duration") -> float:
    """30, "30", "30s", "5m", "2h" as seconds; ValueError naming ``name`` otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{name}={value!r}: seconds, or a number with s, m or h (30s, 5m, 2h)")
    if isinstance(value, int | float):
        text = repr(value)
        found = _DURATION.match(text) if value == value else None
    else:
        found = _DURATION.match(str(value)) if len(str(value)) < 40 else None
    if not found:
        raise ValueError(f"{name}={value!r}: seconds, or a number with s, m or h (30s, 5m, 2h)")
    return float(found.group(1)) * _UNIT[found.group(2)]


def _positive(value: Any, name: str, whole: bool) -> float:
    try:
        number = float(value) if not isinstance(value, bool) else float("nan")
    except (TypeError, ValueError):
        number = float("nan")
    if not (number > 0 and number < 1e9) or (whole and number != int(number)):
        kind = "a whole number above 0" if whole else "a number above 0"
        raise ValueError(f"{name}={value!r}: {kind}")
    return number


def plan(
    tool: str, scenario: str, users: Any = None, duration: Any = None, rate: Any = None
) -> dict[str, Any]:
    """The plan of one run (see the module's text); ValueError says which setting is wrong."""
    if tool not in TOOLS:
        raise ValueError(f"tool={tool!r}: one of {', '.join(TOOLS)}")
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario={scenario!r}: one of {', '.join(SCENARIOS)}")
    chosen = DEFAULTS[scenario]
    n_users = int(_positive(chosen["users"] if users in (None, "") else users, "users", whole=True))
    length = math.ceil(seconds(chosen["duration"] if duration in (None, "") else duration))
    if length < 1:
        raise ValueError(f"duration={duration!r}: at least 1 s")
    n_rate = chosen["rate"] if rate in (None, "") else _positive(rate, "rate", whole=False)
    if n_rate <= 0 and (scenario == "constant" or (scenario == "stress" and tool == "k6")):
        raise ValueError(f"rate={rate!r}: the {scenario} scenario needs a rate above 0 (requests/s)")
    if tool == "k6":
        script, env, expected = _k6(scenario, n_users, length, n_rate)
        return _plan(tool, scenario, n_users, length, n_rate, expected, k6={"script": script, "env": env})
    args, expected = _locust(scenario, n_users, length, n_rate)
    n_rate = 0 if scenario == "stress" else n_rate  # as fast as the users go
    return _plan(tool, scenario, n_users, length, n_rate, expected, locust={"args": args})


def _plan(
    tool: str, scenario: str, users: int, length: float, rate: float, expected: float, **tools: Any
) -> dict:
    return {
        "tool": tool,
        "scenario": scenario,
        "users": users,
        "duration_s": length,
        "rate": rate,
        "expected_s": expected,
        # each user holds a connection or two; the generator's own files on top
        "open_files": users * 4 + 1024,
        **tools,
    }


def _k6(scenario: str, users: int, length: int, rate: float) -> tuple[str, dict[str, str], float]:
    if scenario == "smoke":
        return "smoke-test.js", {"VUS": str(users), "DURATION": f"{length}s"}, length + GRACE_S
    if scenario == "load":
        env = {"SCENARIO": "gradual_load", "VUS": str(users), "RAMP_S": str(K6_RAMP_S), "HOLD_S": str(length)}
        return "litellm-load-test.js", env, K6_RAMP_S + length + 2 * GRACE_S
    if scenario == "spike":  # a tenth of the users, then all of them at once, then a tenth again
        env = {"SCENARIO": "spike_test", "VUS": str(users), "PEAK_S": str(length)}
        return "litellm-load-test.js", env, length + K6_SPIKE_EDGES_S
    if scenario == "stress":  # the rate climbs in five steps to its top
        env = {"SCENARIO": "stress", "MAX_RATE": _number(rate), "STEP_S": _number(length / 5)}
        return "litellm-load-test.js", env, length + GRACE_S
    if scenario == "soak":
        env = {"SCENARIO": "soak", "VUS": str(users), "SOAK_MINUTES": _number(length / 60)}
        return "litellm-load-test.js", env, length + GRACE_S
    env = {"SCENARIO": "constant_load", "RATE": _number(rate), "CONSTANT_S": str(length)}
    return "litellm-load-test.js", env, length + GRACE_S


def _locust(scenario: str, users: int, length: int, rate: float) -> tuple[list[str], float]:
    spawn = users if scenario == "spike" else max(1, min(users, 10))
    # without --stop-timeout Locust kills the users at the end, and with them the requests in flight:
    # the slowest answers would vanish from the samples
    args = ["--users", str(users), "--spawn-rate", str(spawn), "--run-time", f"{length}s"]
    args += ["--stop-timeout", str(GRACE_S)]
    if scenario == "stress":
        args += ["LiteLLMStressUser"]
    elif scenario == "constant":
        args += ["--pacing", _number(users / rate)]
    # the users' spawn, the run, then up to --stop-timeout for the requests in flight
    return args, users / spawn + length + GRACE_S


def _number(value: float) -> str:
    return f"{value:.6g}"


def plan_or_problem(
    tool: Any, scenario: Any, users: Any = None, duration: Any = None, rate: Any = None
) -> dict:
    """``plan``, or ``{"problem": ...}`` saying which setting is wrong (for the playbook to assert)."""
    try:
        return plan(str(tool), str(scenario), users, duration, rate)
    except ValueError as error:
        return {"problem": str(error)}
