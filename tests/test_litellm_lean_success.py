"""The lean success event of llmobs.gateway.litellm_prometheus against a stand-in of LiteLLM's
PrometheusLogger (LiteLLM is not installed here) with real prometheus_client metrics. The stand-in
picks its series from the payload as LiteLLM's code does from its label inputs; that the real
LiteLLM and the lean path export the same is checked by llmobs.gateway.prometheus_parity, which
molecule/stack runs on a gateway host."""

import asyncio
import math
import sys
import types
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from llmobs.gateway import litellm_prometheus as lp

T0 = datetime(2026, 12, 1, 12, 0, 0)


class NoOpMetric:
    def labels(self, *args, **kwargs):
        return self

    def inc(self, amount=1):
        pass

    observe = set = inc


def make_logger_class():
    class PrometheusLogger:
        """LiteLLM's success event, shrunk: series by model group and key hash, values by
        llmobs.gateway.litellm_prometheus.updates (the rules under test are the lean path's
        bookkeeping, not LiteLLM's arithmetic)."""

        own_runs = 0

        def __init__(self, enabled):
            self.registry = CollectorRegistry()
            self.enabled_metrics = set(enabled)
            self.exclude_metrics = set()
            self._series_limits = types.SimpleNamespace(enabled=False)
            self._emit_input_sequence_length_label = False
            for name, attribute in lp.LEAN.items():
                if name not in self.enabled_metrics:
                    setattr(self, attribute, NoOpMetric())
                    continue
                kind = Histogram if "latency" in name or "first_token" in name else Counter
                kind = Gauge if name == "litellm_deployment_state" else kind
                setattr(self, attribute, kind(name, name, ["model_group", "key"], registry=self.registry))

        def _should_skip_metrics_for_invalid_key(self, kwargs=None, standard_logging_payload=None, **_):
            return getattr(kwargs.get("exception"), "status_code", None) == 401

        async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
            type(self).own_runs += 1
            payload = kwargs["standard_logging_object"]
            if self._should_skip_metrics_for_invalid_key(kwargs=kwargs, standard_logging_payload=payload):
                return
            labels = {"model_group": payload["model_group"], "key": payload["metadata"]["user_api_key_hash"]}
            for name, operation, amount in lp.updates(kwargs, payload):
                getattr(getattr(self, lp.LEAN[name]).labels(**labels), operation)(amount)

    return PrometheusLogger


def install_litellm(monkeypatch):
    """Stand-ins for the LiteLLM modules the lean path imports; (the litellm module, the logger)."""
    logger = make_logger_class()
    module = types.SimpleNamespace(
        custom_prometheus_metadata_labels=[], custom_prometheus_tags=[], enable_end_user=False
    )

    def end_user(params, service_type="litellm_logging"):
        return params.get("user_api_key_end_user_id") if module.enable_end_user else None

    modules = {
        "litellm": module,
        "litellm.integrations": types.ModuleType("litellm.integrations"),
        "litellm.integrations.prometheus": types.SimpleNamespace(PrometheusLogger=logger),
        "litellm.litellm_core_utils": types.ModuleType("litellm.litellm_core_utils"),
        "litellm.litellm_core_utils.core_helpers": types.SimpleNamespace(
            get_litellm_metadata_from_kwargs=lambda kwargs: (
                (kwargs.get("litellm_params") or {}).get("metadata") or {}
            )
        ),
        "litellm.litellm_core_utils.service_tier_utils": types.SimpleNamespace(
            get_service_tier_from_standard_logging_payload=lambda payload: None
        ),
        "litellm.utils": types.SimpleNamespace(get_end_user_id_for_cost_tracking=end_user),
    }
    for name, value in modules.items():
        monkeypatch.setitem(sys.modules, name, value)
    return module, logger


@pytest.fixture
def litellm(monkeypatch):
    return install_litellm(monkeypatch)


def request(group="m", key="k1", stream=False, cache_hit=False, tokens=(3, 5), cost=0.5, **extra):
    metadata = dict.fromkeys(lp.KEY_METADATA) | {"user_api_key_hash": key}
    payload = {
        "metadata": metadata,
        "model_group": group,
        "model_id": "id-" + group,
        "api_base": "http://b",
        "custom_llm_provider": "openai",
        "stream": stream,
        "request_tags": [],
        "response_cost": cost,
        "prompt_tokens": tokens[0],
        "completion_tokens": tokens[1],
        "total_tokens": sum(tokens),
        "hidden_params": {"litellm_overhead_time_ms": 2.0},
        "cache_hit": cache_hit,
    }
    kwargs = {
        "model": group,
        "standard_logging_object": payload,
        "stream": stream,
        "start_time": T0,
        "api_call_start_time": T0 + timedelta(milliseconds=3),
        "completion_start_time": T0 + timedelta(milliseconds=40),
        "end_time": T0 + timedelta(milliseconds=90),
        "litellm_params": {"metadata": {"queue_time_seconds": 0.01}},
    }
    for name, value in extra.items():
        (payload if name in payload else kwargs)[name] = value
    return kwargs


def samples(logger):
    return {
        (s.name, tuple(sorted(s.labels.items()))): "nan" if math.isnan(s.value) else s.value
        for metric in logger.registry.collect()
        for s in metric.samples
        if not s.name.endswith("_created")
    }


def send(logger, requests):
    for kwargs in requests:
        asyncio.run(logger.async_log_success_event(kwargs, None, T0, T0))


def both(litellm, requests, enabled=tuple(lp.LEAN)):
    """The same requests through LiteLLM's own event (a) and the lean path (b)."""
    _, cls = litellm
    own = cls(enabled)
    send(own, requests)
    own_runs = cls.own_runs
    assert lp.lean_success()
    lean = cls(enabled)
    send(lean, requests)
    return samples(own), samples(lean), cls.own_runs - own_runs


def test_litellm_runs_once_per_label_inputs_and_the_series_come_out_the_same(litellm):
    requests = [request(), request(cost=0.25), request(key="k2"), request(), request(group="n")]
    own, lean, own_runs = both(litellm, requests)
    assert lean == own
    assert own[("litellm_proxy_total_requests_metric_total", (("key", "k1"), ("model_group", "m")))] == 3
    assert own_runs == 3  # m/k1, m/k2, n/k1: the repeats of m/k1 took the lean path


def test_a_series_litellm_has_not_picked_yet_sends_the_request_to_litellm(litellm):
    # the first stream of a label set needs the time-to-first-token series; then a cache hit
    requests = [request(), request(stream=True), request(stream=True), request(cache_hit=True)]
    own, lean, own_runs = both(litellm, requests)
    assert lean == own
    assert own_runs == 3


def test_only_the_exported_metrics_are_updated(litellm):
    enabled = [
        "litellm_proxy_total_requests_metric",
        "litellm_spend_metric",
        "litellm_deployment_cooled_down",
    ]
    own, lean, own_runs = both(litellm, [request()] * 4, enabled=enabled)
    assert lean == own
    assert own_runs == 1


@pytest.mark.parametrize(
    "change",
    [
        lambda module, logger: logger.enabled_metrics.add("litellm_requests_metric"),  # unknown to it
        lambda module, logger: logger.enabled_metrics.clear(),  # every metric
        lambda module, logger: module.custom_prometheus_metadata_labels.append("metadata.team"),
        lambda module, logger: module.custom_prometheus_tags.append("env"),
        lambda module, logger: setattr(logger._series_limits, "enabled", True),
        lambda module, logger: setattr(logger, "_emit_input_sequence_length_label", True),
    ],
)
def test_settings_the_lean_path_does_not_know_leave_every_request_to_litellm(litellm, change):
    module, cls = litellm
    lp.lean_success()
    logger = cls(lp.LEAN)
    change(module, logger)
    send(logger, [request()] * 3)
    assert cls.own_runs == 3


def test_a_request_with_an_end_user_on_prometheus_goes_to_litellm(litellm):
    module, cls = litellm
    module.enable_end_user = True
    lp.lean_success()
    logger = cls(lp.LEAN)
    params = {"user_api_key_end_user_id": "customer-7", "metadata": {}}
    send(logger, [request(litellm_params=params)] * 3 + [request()] * 3)
    assert cls.own_runs == 4


def test_an_invalid_key_is_skipped_as_litellm_skips_it(litellm):
    class Denied(Exception):
        status_code = 401

    own, lean, own_runs = both(litellm, [request(), request(exception=Denied()), request()])
    assert lean == own
    assert own_runs == 1


def test_wrapping_twice_wraps_once(litellm):
    _, cls = litellm
    original = cls.async_log_success_event
    lp.lean_success()
    lp.lean_success()
    assert getattr(cls.async_log_success_event, lp.ORIGINAL) is original


def test_the_memory_of_label_inputs_is_bounded(litellm, monkeypatch):
    monkeypatch.setattr(lp, "LEAN_KEYS", 3)
    _, cls = litellm
    lp.lean_success()
    logger = cls(lp.LEAN)
    send(logger, [request(key=f"k{i}") for i in range(10)])
    assert len(lp.lean_for(logger).series) <= 3


odd = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=True),
    st.text(max_size=3),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)


@settings(max_examples=150, deadline=None)
@given(
    fields=st.dictionaries(
        st.sampled_from(
            [
                "response_cost",
                "total_tokens",
                "model_group",
                "request_tags",
                "hidden_params",
                "cache_hit",
                "stream",
                "api_call_start_time",
                "end_time",
                "start_time",
                "completion_start_time",
                "model",
                "litellm_params",
                "metadata",
            ]
        ),
        odd,
        max_size=3,
    )
)
def test_hostile_payloads_fare_as_they_do_in_litellm_s_own_code(fields):
    """Whatever the payload holds, the lean path does what LiteLLM's code does with it: the same
    exception or none, and the same series."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        _, cls = install_litellm(monkeypatch)
        outcomes = []
        for lean in (False, True):
            if lean:
                lp.lean_success()
            logger = cls(lp.LEAN)
            errors = []
            for kwargs in (request(), request(**fields), request(**fields)):
                try:
                    asyncio.run(logger.async_log_success_event(kwargs, None, T0, T0))
                    errors.append(None)
                except Exception as error:  # the exception is what is compared
                    errors.append(type(error))
            # no end_time means "now" in LiteLLM's code: then only the latencies' counts compare
            kept = {k: v for k, v in samples(logger).items() if not k[0].endswith(("_sum", "_bucket"))}
            outcomes.append((errors, kept))
        assert outcomes[0] == outcomes[1]
