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

Imported inside the LiteLLM proxy only (by litellm_callback).
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable, Collection
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
