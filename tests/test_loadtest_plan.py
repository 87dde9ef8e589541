"""The plans of playbooks/loadtest.yml: what each scenario asks of k6 and Locust, and its length."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmobs.loadtesting.plan import SCENARIOS, TOOLS, plan, plan_or_problem, seconds


@pytest.mark.parametrize(
    "text, expected", [(30, 30), ("30", 30), ("30s", 30), ("5m", 300), ("2h", 7200), (" 1.5m ", 90)]
)
def test_durations_read_as_people_write_them(text, expected):
    assert seconds(text) == expected


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_scenario_has_a_plan_that_lasts_at_least_its_duration(tool, scenario):
    chosen = plan(tool, scenario)
    assert chosen["expected_s"] >= chosen["duration_s"] > 0
    if tool == "k6":
        assert chosen["k6"]["script"] in ("smoke-test.js", "litellm-load-test.js")
        assert all(isinstance(v, str) for v in chosen["k6"]["env"].values())
    else:
        assert f"{chosen['duration_s']}s" in chosen["locust"]["args"]


def test_overrides_mean_the_same_for_both_tools():
    k6 = plan("k6", "constant", users=8, duration="2m", rate=4)
    assert k6["k6"]["env"] == {"SCENARIO": "constant_load", "RATE": "4", "CONSTANT_S": "120"}
    locust = plan("locust", "constant", users=8, duration="2m", rate=4)
    # eight users each sending every 2 s: four requests a second together
    assert locust["locust"]["args"][-2:] == ["--pacing", "2"] and "120s" in locust["locust"]["args"]
    assert plan("locust", "stress")["locust"]["args"][-1] == "LiteLLMStressUser"
    assert plan("k6", "soak", duration="90m")["k6"]["env"]["SOAK_MINUTES"] == "90"


@pytest.mark.parametrize(
    "args, said",
    [
        (("jmeter", "smoke"), "tool='jmeter'"),
        (("k6", "chaos"), "scenario='chaos'"),
        (("k6", "smoke", 0), "users=0"),
        (("k6", "smoke", 2.5), "users=2.5"),
        (("k6", "smoke", None, "forever"), "duration='forever'"),
        (("k6", "constant", None, None, -1), "rate=-1"),
        (("locust", "smoke", None, "0s"), "at least 1 s"),
    ],
)
def test_a_wrong_setting_is_named(args, said):
    assert said in plan_or_problem(*args)["problem"]


anything = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=50))


@given(st.sampled_from([*TOOLS, "x"]), st.sampled_from([*SCENARIOS, ""]), anything, anything, anything)
def test_any_input_is_a_plan_or_one_problem(tool, scenario, users, duration, rate):
    chosen = plan_or_problem(tool, scenario, users, duration, rate)
    if "problem" in chosen:
        assert isinstance(chosen["problem"], str) and chosen["problem"]
    else:
        assert chosen["users"] >= 1 and chosen["expected_s"] >= chosen["duration_s"] >= 1
