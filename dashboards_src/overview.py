"""01 Overview: at-a-glance health of the gateways, for quick checks and incident response."""

from . import queries as q
from . import style as s
from .variables import GATEWAY_VARIABLES

FILE = "01-overview"
TITLE = "LLM Gateway / Overview"


def dashboard():
    active_models = s.stat(
        "Active models",
        "Model groups (requested_model) that answered at least one request successfully in the "
        "last rate interval, cache hits included. 0 when nothing was served.",
        "short",
        s.targets((q.ACTIVE_MODELS, "")),
    )
    redis_health = s.stat(
        "Redis health",
        "Healthy when every Redis answers its exporter (redis_up, job redis) and no Redis circuit "
        "breaker of the selected gateways is open (litellm_redis_circuit_breaker_state, needs "
        "service_callback prometheus_system). Degraded: the gateways run without cache and shared "
        "router state; requests still succeed. No data: no Redis in the inventory.",
        "none",
        s.targets((q.REDIS_HEALTH, "")),
        thresholds=s.steps("red", (1, "green")),
        mappings=s.value_mappings({0: ("Degraded", "red"), 1: ("Healthy", "green")}),
    )
    self_latency = s.stat(
        "System self-latency",
        "P95 of the time LiteLLM itself adds to a request (routing, callbacks, serialisation) on "
        "top of the provider's answer: litellm_overhead_latency_metric, recorded in seconds although "
        "its help text says ms. Per gateway over time: System Health.",
        "s",
        s.targets((q.SELF_LATENCY_P95, "")),
        thresholds=s.steps("green", (0.05, "orange"), (0.2, "red")),
    )
    request_rate = s.timeseries(
        "Request rate",
        "Client requests per second, every status, cache hits included: all selected gateways "
        "together and each gateway (litellm_proxy_total_requests_metric_total).",
        "reqps",
        s.targets((q.REQUEST_RATE_ALL, "all gateways"), (q.REQUEST_RATE_BY_GATEWAY, "{{instance}}")),
    )
    error_rate = s.timeseries(
        "Error rate",
        "Share of client requests that failed, two ways. 'All failures': every status LiteLLM "
        "counts as failed (5xx, 408 backend timeout, 429 rate limit, other 4xx such as a bad key "
        "or an unknown model), as alert LiteLLMHighErrorRate counts them. 'Server errors': status "
        "5xx and 408 only, the errors of the availability SLO (LiteLLMErrorBudgetBurn*). 0 while "
        "requests flow and none fail.",
        "percentunit",
        s.targets((q.ERROR_RATIO_ALL, "all failures"), (q.ERROR_RATIO_SERVER, "server errors (5xx, 408)")),
        percent=True,
    )
    response_time = s.timeseries(
        "Response time (P50, P95, P99)",
        "End-to-end latency percentiles of successful client requests over the selected gateways "
        "and models (litellm_request_total_latency_metric). Cache hits count and pull the "
        "percentiles down; failed requests are not in this histogram.",
        "s",
        s.targets((q.LATENCY_P50, "P50"), (q.LATENCY_P95, "P95"), (q.LATENCY_P99, "P99")),
    )
    providers = s.piechart(
        "Provider distribution",
        "Share of client requests answered by each provider type (api_provider: ollama_chat, "
        "hosted_vllm, openai...), averaged over the time range. Requests that reached no provider "
        "(unknown model, bad key) are left out.",
        "reqps",
        s.targets((q.PROVIDER_DISTRIBUTION, "{{api_provider}}")),
    )
    return s.dashboard(
        title=TITLE,
        uid="llmobs-overview",
        description="At-a-glance health of the LiteLLM gateways: traffic, errors, latency, Redis.",
        variables=GATEWAY_VARIABLES,
        annotation=q.FIRING_ALERTS,
        rows=[
            (4, [(8, active_models), (8, redis_health), (8, self_latency)]),
            (8, [(12, request_rate), (12, error_rate)]),
            (9, [(16, response_time), (8, providers)]),
        ],
    )
