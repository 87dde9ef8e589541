"""llmobs.gateway.litellm_prometheus against stand-ins of the LiteLLM classes it wraps (LiteLLM is
not installed here). That the real gateway still counts every request with it is checked by
benchmarks/gateway_logging_overhead.py (arm E's /metrics/ must count every answer) and by the
live-dashboard check of molecule/stack."""

import asyncio
import enum
import sys
import types

import pytest

from llmobs.gateway import litellm_prometheus as lp


class NoOpMetric:
    pass


class Real:
    pass


def fake_litellm(monkeypatch, steps=lp.STEPS, hooks=lp.SERVICE_HOOKS):
    """Stand-in modules: a PrometheusLogger whose steps record their calls, a ServiceLogging whose
    hooks do the same."""
    calls = []

    def step(name, is_async):
        if is_async:

            async def run(self, *args, **kwargs):
                calls.append(name)
                return name

        else:

            def run(self, *args, **kwargs):
                calls.append(name)
                return name

        return run

    logger = type(
        "PrometheusLogger",
        (),
        {
            **{name: step(name, name.startswith("_async")) for name in steps},
            lp.COUNTER_STEP: step(lp.COUNTER_STEP, False),
        },
    )
    services = type("ServiceLogging", (), {name: step(name, name.startswith("async")) for name in hooks})
    modules = {
        "litellm": types.ModuleType("litellm"),
        "litellm.integrations": types.ModuleType("litellm.integrations"),
        "litellm.integrations.prometheus": types.SimpleNamespace(PrometheusLogger=logger),
        "litellm.types": types.ModuleType("litellm.types"),
        "litellm.types.integrations": types.ModuleType("litellm.types.integrations"),
        "litellm.types.integrations.prometheus": types.SimpleNamespace(NoOpMetric=NoOpMetric),
        "litellm._service_logger": types.SimpleNamespace(ServiceLogging=services),
    }
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    return logger, services, calls


def run(value):
    return asyncio.run(value) if asyncio.iscoroutine(value) else value


@pytest.mark.parametrize("name", sorted(lp.STEPS))
def test_a_step_is_skipped_only_when_every_metric_it_sets_is_off(monkeypatch, name):
    logger, _, calls = fake_litellm(monkeypatch)
    assert lp.skip_disabled_work() == []
    instance = logger()
    for metric in lp.STEPS[name]:
        setattr(instance, metric, NoOpMetric())
    assert run(getattr(instance, name)(1, key=2)) is None
    assert calls == []
    setattr(instance, lp.STEPS[name][-1], Real())  # one of them exported: LiteLLM's step runs
    assert run(getattr(instance, name)(1, key=2)) == name
    assert calls == [name]


def test_a_counter_step_is_skipped_for_a_counter_that_is_off(monkeypatch):
    logger, _, calls = fake_litellm(monkeypatch)
    lp.skip_disabled_work()
    instance = logger()
    assert getattr(instance, lp.COUNTER_STEP)(NoOpMetric(), "m", None) is None
    assert getattr(instance, lp.COUNTER_STEP)(counter=NoOpMetric(), metric_name="m") is None
    assert getattr(instance, lp.COUNTER_STEP)(Real(), "m", None) == lp.COUNTER_STEP
    assert calls == [lp.COUNTER_STEP]


def test_wrapping_twice_wraps_once(monkeypatch):
    logger, _, calls = fake_litellm(monkeypatch)
    lp.skip_disabled_work()
    lp.skip_disabled_work()
    instance = logger()
    assert getattr(instance, lp.COUNTER_STEP)(Real(), "m") == lp.COUNTER_STEP
    assert calls == [lp.COUNTER_STEP]
    wrapped = getattr(logger, lp.COUNTER_STEP)
    assert not hasattr(getattr(wrapped, lp.ORIGINAL), lp.ORIGINAL)


def test_a_step_this_litellm_lacks_is_named_not_fatal(monkeypatch, capsys):
    steps = dict(lp.STEPS)
    gone = steps.pop("_set_v3_rate_limit_allowed_and_used_metrics")
    assert gone
    fake_litellm(monkeypatch, steps=steps)
    assert lp.skip_disabled_work() == ["_set_v3_rate_limit_allowed_and_used_metrics"]
    said = capsys.readouterr().err
    assert "no _set_v3_rate_limit_allowed_and_used_metrics: that work is not skipped" in said


class ServiceTypes(enum.Enum):
    REDIS = "redis"
    ROUTER = "router"


@pytest.mark.parametrize("hook", lp.SERVICE_HOOKS)
def test_only_the_kept_services_reach_the_service_callbacks(monkeypatch, hook):
    _, services, calls = fake_litellm(monkeypatch)
    assert lp.keep_services(["redis"]) == []
    instance = services()
    assert run(getattr(instance, hook)(ServiceTypes.ROUTER, 0.1, "call")) is None
    assert run(getattr(instance, hook)(service="router", duration=0.1)) is None
    assert calls == []
    assert run(getattr(instance, hook)(ServiceTypes.REDIS, 0.1, "call")) == hook
    assert run(getattr(instance, hook)(service="redis", duration=0.1)) == hook
    assert calls == [hook, hook]


def test_no_kept_services_means_all_of_them_as_litellm_has_it(monkeypatch):
    _, services, calls = fake_litellm(monkeypatch)
    original = services.service_success_hook
    lp.keep_services(["redis"])
    lp.keep_services([])
    assert services.service_success_hook is original
    assert services().service_success_hook(ServiceTypes.ROUTER, 0.1, "call") == "service_success_hook"
    assert calls == ["service_success_hook"]
