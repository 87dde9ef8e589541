"""LiteLLM's Prometheus callbacks without the work for series nobody reads (issue 16).

* ``prometheus``: with ``prometheus_metrics_config`` LiteLLM swaps each metric left out for a
  no-op, yet some of its per-request steps still build every label set of the metrics they would
  set: the v3 rate-limit gauges (eight label sets per request; in a profile of the deployed
  gateway, half of the callback's CPU) and the virtual-key rate-limit gauges.
  ``skip_disabled_work()`` wraps those steps of PrometheusLogger so that they return at once when
  every metric they set is a no-op; with any of them exported they run unchanged.
* ``prometheus_system`` (service_callback): every request reports four or more service events
  (auth, router, pre-call, the call itself), each a pydantic payload, a task and a histogram
  update: about 3 % of a gateway's CPU. ``keep_services()`` lets through only the services whose
  metrics are read (the bundle's dashboards and rules read Redis's); the others' latency series
  are then not exported.
* ``prometheus``'s success event: even with the other steps skipped it builds a pydantic label
  model, a label context and a label dict per metric on every request (about 4 % of a gateway's
  CPU). ``lean_success()`` lets LiteLLM's own code do that once per distinct set of label inputs
  and records the series (children) its code picked; later requests with the same inputs update
  those series directly. It applies only where every exported metric is one it knows (LEAN, or
  one the success event never sets): anything else, and every request it cannot vouch for, goes
  through LiteLLM's own code.

Imported inside the LiteLLM proxy only (by litellm_callback).
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import sys
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

# step of PrometheusLogger -> the attributes holding the metrics it sets
STEPS: dict[str, tuple[str, ...]] = {
    "_set_v3_rate_limit_allowed_and_used_metrics": (
        "litellm_api_key_rate_limit_allowed_metric",
        "litellm_api_key_rate_limit_used_metric",
        "litellm_team_rate_limit_allowed_metric",
        "litellm_team_rate_limit_used_metric",
        "litellm_project_model_rate_limit_allowed_metric",
        "litellm_project_model_rate_limit_used_metric",
    ),
    "_set_virtual_key_rate_limit_metrics": (
        "litellm_remaining_api_key_requests_for_model",
        "litellm_remaining_api_key_tokens_for_model",
    ),
    "_async_set_router_remaining_metrics": (
        "litellm_remaining_tokens_metric",
        "litellm_remaining_requests_metric",
    ),
    "_set_deployment_tpm_rpm_limit_metrics": ("litellm_deployment_tpm_limit", "litellm_deployment_rpm_limit"),
    "_increment_token_detail_metrics": (
        "litellm_input_cached_tokens_metric",
        "litellm_input_cache_creation_tokens_metric",
        "litellm_input_audio_tokens_metric",
        "litellm_output_reasoning_tokens_metric",
        "litellm_output_audio_tokens_metric",
    ),
    "_increment_media_generation_metrics": (
        "litellm_images_generated_metric",
        "litellm_video_duration_seconds_metric",
    ),
    "_increment_zero_cost_requests_metric": (
        "litellm_zero_cost_requests_total",
        "litellm_spend_capture_rate",
    ),
    "_set_overhead_with_guardrails_metric": ("litellm_overhead_with_guardrails_latency_metric",),
}
# a step that builds the labels of the counter it is handed, before incrementing it
COUNTER_STEP = "_inc_labeled_counter"
ORIGINAL = "_llmobs_original"
# ServiceLogging's hooks; each takes the service as its first argument
SERVICE_HOOKS = (
    "async_service_success_hook",
    "async_service_failure_hook",
    "service_success_hook",
    "service_failure_hook",
)


def _unless(step: Callable[..., Any], disabled: Callable[..., bool]) -> Callable[..., Any]:
    """``step`` wrapped to return None at once when ``disabled(self, *args, **kwargs)``."""
    if inspect.iscoroutinefunction(step):

        @functools.wraps(step)
        async def async_wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            return None if disabled(self, *args, **kwargs) else await step(self, *args, **kwargs)

        wrapper = async_wrapper
    else:

        @functools.wraps(step)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            return None if disabled(self, *args, **kwargs) else step(self, *args, **kwargs)

    setattr(wrapper, ORIGINAL, step)
    return wrapper


def skip_disabled_work() -> list[str]:
    """Wrap the steps of STEPS (once per process); returns those this LiteLLM lacks, so that a
    new pin that renamed one is noticed (the step then simply runs as LiteLLM wrote it)."""
    from litellm.integrations.prometheus import PrometheusLogger
    from litellm.types.integrations.prometheus import NoOpMetric

    def every_metric_off(metrics: tuple[str, ...]) -> Callable[..., bool]:
        return lambda self, *args, **kwargs: all(
            isinstance(getattr(self, m, None), NoOpMetric) for m in metrics
        )

    def counter_off(self: Any, *args: Any, **kwargs: Any) -> bool:
        return isinstance(args[0] if args else kwargs.get("counter"), NoOpMetric)

    wanted = {name: every_metric_off(metrics) for name, metrics in STEPS.items()} | {
        COUNTER_STEP: counter_off
    }
    return _wrap(PrometheusLogger, wanted, "that work is not skipped")


def _wrap(cls: type, wanted: dict[str, Callable[..., bool] | None], unwrapped: str) -> list[str]:
    """Each method of ``wanted`` wrapped by _unless with its ``disabled`` (None: LiteLLM's own
    again), starting from LiteLLM's original when wrapped before. Returns the methods ``cls``
    lacks, and says so on stderr (``unwrapped``: what that means)."""
    missing = []
    for name, disabled in wanted.items():
        method = getattr(cls, name, None)
        if method is None:
            missing.append(name)
            continue
        method = getattr(method, ORIGINAL, method)
        setattr(cls, name, method if disabled is None else _unless(method, disabled))
    if missing:
        print(
            f"llmobs: LiteLLM's {cls.__name__} has no {', '.join(missing)}: {unwrapped}",
            file=sys.stderr,
            flush=True,
        )
    return missing


def _only_for(kept: frozenset[str]) -> Callable[..., bool]:
    """A ``disabled`` for ServiceLogging's hooks: the service (first argument) is not kept."""

    def disabled(self: Any, *args: Any, **kwargs: Any) -> bool:
        service = args[0] if args else kwargs.get("service")
        return getattr(service, "value", service) not in kept

    return disabled


def keep_services(kept: Collection[str]) -> list[str]:
    """Let ServiceLogging's hooks through only for the services in ``kept`` (their ServiceTypes
    values, such as "redis"); an empty ``kept`` leaves every service in. Returns the hooks this
    LiteLLM lacks, as skip_disabled_work() does."""
    from litellm._service_logger import ServiceLogging

    disabled = _only_for(frozenset(kept)) if kept else None
    return _wrap(ServiceLogging, dict.fromkeys(SERVICE_HOOKS, disabled), "every service is reported")


# The metrics the lean success event updates: metric name -> PrometheusLogger's attribute
LEAN: dict[str, str] = {
    "litellm_proxy_total_requests_metric": "litellm_proxy_total_requests_metric",
    "litellm_spend_metric": "litellm_spend_metric",
    "litellm_total_tokens_metric": "litellm_tokens_metric",
    "litellm_input_tokens_metric": "litellm_input_tokens_metric",
    "litellm_output_tokens_metric": "litellm_output_tokens_metric",
    "litellm_llm_api_time_to_first_token_metric": "litellm_llm_api_time_to_first_token_metric",
    "litellm_llm_api_latency_metric": "litellm_llm_api_latency_metric",
    "litellm_request_total_latency_metric": "litellm_request_total_latency_metric",
    "litellm_overhead_latency_metric": "litellm_overhead_latency_metric",
    "litellm_deployment_state": "litellm_deployment_state",
    "litellm_deployment_success_responses": "litellm_deployment_success_responses",
    "litellm_deployment_total_requests": "litellm_deployment_total_requests",
    "litellm_cache_hits_metric": "litellm_cache_hits_metric",
    "litellm_cache_misses_metric": "litellm_cache_misses_metric",
}
# exported metrics that LiteLLM's success event never sets (failures, cooldowns)
NOT_ON_SUCCESS = frozenset(
    {
        "litellm_proxy_failed_requests_metric",
        "litellm_deployment_failure_responses",
        "litellm_deployment_cooled_down",
    }
)
LEAN_STATE = "_llmobs_lean"
# distinct label inputs remembered; past this the memory starts again (a gateway sees a handful)
LEAN_KEYS = 4096
# While LiteLLM's own success event runs for the lean path: metric name -> the series it picked.
_picked: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("llmobs_picked", default=None)


class _Recorder:
    """A metric of PrometheusLogger that notes, inside the lean path's call of LiteLLM's own
    success event, which series (child) LiteLLM's code picked. Everything else passes through."""

    __slots__ = ("_metric", "_name")

    def __init__(self, metric: Any, name: str) -> None:
        self._metric = metric
        self._name = name

    def labels(self, *args: Any, **kwargs: Any) -> Any:
        child = self._metric.labels(*args, **kwargs)
        picked = _picked.get()
        if picked is not None:
            picked[self._name] = child
        return child

    def __getattr__(self, name: str) -> Any:
        return getattr(self._metric, name)


def _seconds(start: Any, end: Any) -> float | None:
    # as PrometheusLogger._safe_duration_seconds
    if isinstance(start, datetime) and isinstance(end, datetime):
        return (end - start).total_seconds()
    return None


def updates(kwargs: dict[str, Any], payload: dict[str, Any]) -> list[tuple[str, str, float]]:
    """What LiteLLM's success event does to the LEAN metrics for one request, as
    (metric, "inc" | "observe" | "set", amount), in its order and by its rules."""
    out = [
        ("litellm_spend_metric", "inc", float(payload["response_cost"])),
        ("litellm_total_tokens_metric", "inc", float(payload["total_tokens"])),
        ("litellm_input_tokens_metric", "inc", float(payload["prompt_tokens"])),
        ("litellm_output_tokens_metric", "inc", float(payload["completion_tokens"])),
    ]
    api_start = kwargs.get("api_call_start_time")
    end = kwargs.get("end_time") or datetime.now()
    ttft = _seconds(api_start, kwargs.get("completion_start_time"))
    if ttft is not None and kwargs.get("stream", False) is True:
        out.append(("litellm_llm_api_time_to_first_token_metric", "observe", ttft))
    api = _seconds(api_start, end)
    if api is not None:
        out.append(("litellm_llm_api_latency_metric", "observe", api))
    queue = ((kwargs.get("litellm_params") or {}).get("metadata") or {}).get("queue_time_seconds")
    total = _seconds(kwargs.get("start_time"), end)
    if total is not None:
        waited = queue is not None and queue >= 0
        out.append(("litellm_request_total_latency_metric", "observe", total + queue if waited else total))
    if overhead_ms := payload["hidden_params"].get("litellm_overhead_time_ms"):
        out.append(("litellm_overhead_latency_metric", "observe", overhead_ms / 1000))
    out += [
        ("litellm_deployment_state", "set", 0),
        ("litellm_deployment_success_responses", "inc", 1.0),
        ("litellm_deployment_total_requests", "inc", 1.0),
    ]
    cache_hit = payload.get("cache_hit")
    if cache_hit is True:
        out.append(("litellm_cache_hits_metric", "inc", 1.0))
    elif cache_hit is not None:
        out.append(("litellm_cache_misses_metric", "inc", 1.0))
    out.append(("litellm_proxy_total_requests_metric", "inc", 1.0))
    return out


class LeanSuccess:
    """The lean success event of one PrometheusLogger (see the module's docstring)."""

    def __init__(self, logger: Any, exported: set[str]) -> None:
        self.exported = exported  # the LEAN metrics this logger exports
        self.series: dict[tuple, dict[str, Any]] = {}
        for name in exported:
            attribute = LEAN[name]
            setattr(logger, attribute, _Recorder(getattr(logger, attribute), name))
        from litellm.litellm_core_utils.core_helpers import get_litellm_metadata_from_kwargs
        from litellm.litellm_core_utils.service_tier_utils import (
            get_service_tier_from_standard_logging_payload,
        )
        from litellm.utils import get_end_user_id_for_cost_tracking

        self._metadata = get_litellm_metadata_from_kwargs
        self._tier = get_service_tier_from_standard_logging_payload
        self._end_user = get_end_user_id_for_cost_tracking

    def key(self, kwargs: dict[str, Any], payload: dict[str, Any]) -> tuple | None:
        """Every input LiteLLM's success event builds its labels from; None for a request with an
        end user on Prometheus (LiteLLM caps and expires those series: its code handles them)."""
        meta = payload["metadata"]
        params = kwargs.get("litellm_params") or {}
        if self._end_user(params, service_type="prometheus") is not None:
            return None
        return (
            kwargs.get("model", ""),
            payload["model_group"],
            payload["model_id"],
            payload["api_base"],
            payload["custom_llm_provider"],
            params.get("custom_llm_provider"),
            (self._metadata(kwargs).get("model_info") or {}).get("id"),
            *(meta[field] for field in KEY_METADATA),
            *(meta.get(field) for field in KEY_METADATA_OPTIONAL),
            str(payload.get("stream")),
            self._tier(payload),
            tuple(payload["request_tags"] or ()),
        )

    def apply(self, key: tuple, todo: list[tuple[str, str, float]]) -> bool:
        """Update the series LiteLLM picked for ``key``; False (nothing done) when one is unknown."""
        series = self.series.get(key)
        if series is None:
            return False
        todo = [step for step in todo if step[0] in self.exported]
        # a negative count raises in prometheus_client midway: LiteLLM's code then fails as it does
        if any(name not in series or (op == "inc" and amount < 0) for name, op, amount in todo):
            return False
        for name, operation, amount in todo:
            getattr(series[name], operation)(amount)
        return True

    def remember(self, key: tuple, picked: dict[str, Any]) -> None:
        if key not in self.series and len(self.series) >= LEAN_KEYS:
            self.series.clear()
        self.series[key] = self.series.get(key, {}) | picked


KEY_METADATA = (
    "user_api_key_user_id",
    "user_api_key_hash",
    "user_api_key_alias",
    "user_api_key_team_id",
    "user_api_key_team_alias",
    "user_api_key_user_email",
)
KEY_METADATA_OPTIONAL = (
    "user_api_key_org_id",
    "user_api_key_org_alias",
    "user_api_key_project_id",
    "user_api_key_project_alias",
    "user_api_key_request_route",
    "requester_ip_address",
    "user_agent",
)


def lean_for(logger: Any) -> LeanSuccess | None:
    """The logger's LeanSuccess, made on first use; None when its settings need LiteLLM's code:
    a metric exported that the lean path does not know, custom metadata or tag labels, series
    limits, or the input-length label."""
    state = logger.__dict__.get(LEAN_STATE, False)
    if state is not False:
        return state
    import litellm

    enabled = set(getattr(logger, "enabled_metrics", ()) or ()) - set(logger.exclude_metrics)
    series_limits = getattr(logger, "_series_limits", None)
    plain = (
        enabled
        and enabled <= LEAN.keys() | NOT_ON_SUCCESS
        and not litellm.custom_prometheus_metadata_labels
        and not getattr(litellm, "custom_prometheus_tags", None)
        and series_limits is not None
        and not series_limits.enabled
        and not logger._emit_input_sequence_length_label
    )
    state = LeanSuccess(logger, enabled & LEAN.keys()) if plain else None
    setattr(logger, LEAN_STATE, state)
    return state


def lean_success() -> bool:
    """Give PrometheusLogger the lean success event (once per process). False: this LiteLLM has
    no such event (the pin changed), and LiteLLM's own runs."""
    from litellm.integrations.prometheus import PrometheusLogger

    own = getattr(PrometheusLogger, "async_log_success_event", None)
    if own is None:
        return False
    own = getattr(own, ORIGINAL, own)

    @functools.wraps(own)
    async def async_log_success_event(
        self: Any, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> Any:  # LiteLLM passes these by name
        lean = lean_for(self)
        payload = kwargs.get("standard_logging_object") if isinstance(kwargs, dict) else None
        if lean is None or not isinstance(payload, dict):
            return await own(self, kwargs, response_obj, start_time, end_time)
        try:
            skip = self._should_skip_metrics_for_invalid_key(kwargs=kwargs, standard_logging_payload=payload)
            key = lean.key(kwargs, payload)
            hash(key)  # a label input LiteLLM takes but a dict cannot (a list): LiteLLM's code
            todo = updates(kwargs, payload)
        except Exception:  # an input LiteLLM's code treats its own way (it may raise): let it
            key = None
        else:
            if skip:
                return None
            if key is not None and lean.apply(key, todo):
                return None
        picked: dict[str, Any] = {}
        token = _picked.set(picked)
        try:
            return await own(self, kwargs, response_obj, start_time, end_time)
        finally:
            _picked.reset(token)
            if key is not None:
                lean.remember(key, picked)

    setattr(async_log_success_event, ORIGINAL, own)
    PrometheusLogger.async_log_success_event = async_log_success_event
    return True
