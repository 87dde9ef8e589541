"""Every PromQL expression of the five dashboards (and their annotations), and nothing else.

Metric facts behind them, verified on litellm[proxy] 1.108.7 (see also the header of
roles/prometheus/templates/rules/llmobs-alerts.yml.j2):

- Counters carry ``_total``; workers are merged (PROMETHEUS_MULTIPROC_DIR), but gauges in mode
  "all" such as ``litellm_deployment_state`` have one series per worker (label ``pid``).
- Client requests: ``litellm_proxy_total_requests_metric_total`` (status in ``status_code``);
  failed ones: ``litellm_proxy_failed_requests_metric_total`` (status in ``exception_status``,
  4xx and 429 included). Requests that never reached a deployment (unknown model, bad key) have
  ``api_provider="None"`` and an empty ``model_id``.
- Latency histograms count successful requests only; the end-to-end one counts cache hits too.
- Provider attempts (retries counted one by one, cache hits as successes):
  ``litellm_deployment_{total_requests,success_responses,failure_responses}_total``.
- ``litellm_overhead_latency_metric`` is in seconds (its help text says ms). It is what the
  gateway adds to a request; ``litellm_self_latency`` (service "self") times LiteLLM's call of
  the provider despite its name, so it is not used for "self-latency".

Conventions: template variables appear only in ``=~`` matchers (Grafana substitutes a regex; All
is ``.*``). Range queries use ``[$__rate_interval]``. Instant queries of a stat or table that
summarise the dashboard's whole time range use ``[$__range]``. Ratios whose numerator counter may
not exist yet (no failure so far) use ``(numerator or 0 * denominator)``: 0, not "no data".
"""

from __future__ import annotations

RATE = "$__rate_interval"
RANGE = "$__range"

# Selections. The gateway scrape job is chosen by $job and the gateways by $instance; exporter jobs
# have fixed names (roles/prometheus: node, redis, gpu) and their hosts are chosen by $host.
GATEWAY = ('job=~"$job"', 'instance=~"$instance"')
MODEL = 'requested_model=~"$model"'
MODEL_GROUP = 'model_group=~"$model"'  # the same model group, on metrics without requested_model
HOST = 'instance=~"$host"'

TOTAL = "litellm_proxy_total_requests_metric_total"
FAILED = "litellm_proxy_failed_requests_metric_total"
E2E_BUCKET = "litellm_request_total_latency_metric_bucket"
UPSTREAM_BUCKET = "litellm_llm_api_latency_metric_bucket"
TTFT_BUCKET = "litellm_llm_api_time_to_first_token_metric_bucket"
OVERHEAD_BUCKET = "litellm_overhead_latency_metric_bucket"
ATTEMPTS = "litellm_deployment_total_requests_total"
ATTEMPT_SUCCESSES = "litellm_deployment_success_responses_total"
ATTEMPT_FAILURES = "litellm_deployment_failure_responses_total"
# What LiteLLM answers a timed-out backend with (408) and the 5xx: the SLO's errors (llmobs-slo).
SERVER_ERROR = 'status_code=~"5..|408"'
REACHED_PROVIDER = 'api_provider!~"None|"'
DEPLOYED = 'model_id!=""'
BREAKER = "litellm_redis_circuit_breaker_state"
OPEN, CLOSED = 'state="open"', 'state="closed"'


def selector(metric: str, *matchers: str) -> str:
    return f"{metric}{{{', '.join(matchers)}}}"


def sum_rate(metric: str, *matchers: str, by: str = "", window: str = RATE, fn: str = "rate") -> str:
    aggregation = f"sum by ({by}) " if by else "sum"
    return f"{aggregation}({fn}({selector(metric, *matchers)}[{window}]))"


def ratio(numerator: str, denominator: str, on: str | None = None) -> str:
    """numerator / denominator, 0 (not "no data") while the numerator's counter does not exist."""
    matching = f" on ({on})" if on is not None else ""
    return f"({numerator} or{matching} 0 * {denominator}) / {denominator}"


def quantile(q: float, bucket: str, *matchers: str, by: str = "", window: str = RATE) -> str:
    grouping = ", ".join(["le", *([by] if by else [])])
    return f"histogram_quantile({q}, {sum_rate(bucket, *matchers, by=grouping, window=window)})"


def quantile_by_provider(q: float, bucket: str) -> str:
    """Latency by provider: the histograms are joined on model_id with litellm_deployment_state,
    which names the provider of each deployment. group (value 1) rather than max: max would
    multiply every bucket by the state, 0 for a healthy deployment. Both drop pid and api_base
    (several series per deployment, see the module's header)."""
    provider_of = 'group by (model_id, api_provider) (litellm_deployment_state{job=~"$job"})'
    rates = f"rate({selector(bucket, *GATEWAY, MODEL)}[{RATE}])"
    joined = f"{rates} * on (model_id) group_left (api_provider) {provider_of}"
    return f"histogram_quantile({q}, sum by (le, api_provider) ({joined}))"


# --- 01 Overview --------------------------------------------------------------------------------

REQUEST_RATE_ALL = sum_rate(TOTAL, *GATEWAY, MODEL)
REQUEST_RATE_BY_GATEWAY = sum_rate(TOTAL, *GATEWAY, MODEL, by="instance")
# Every failed client request (5xx, 408, 429, other 4xx): what LiteLLMHighErrorRate counts.
ERROR_RATIO_ALL = ratio(sum_rate(FAILED, *GATEWAY, MODEL), REQUEST_RATE_ALL)
# Server-side errors only (5xx and 408): what the availability SLO counts.
ERROR_RATIO_SERVER = ratio(sum_rate(TOTAL, *GATEWAY, MODEL, SERVER_ERROR), REQUEST_RATE_ALL)
LATENCY_P50 = quantile(0.5, E2E_BUCKET, *GATEWAY, MODEL)
LATENCY_P95 = quantile(0.95, E2E_BUCKET, *GATEWAY, MODEL)
LATENCY_P99 = quantile(0.99, E2E_BUCKET, *GATEWAY, MODEL)
ACTIVE_MODELS = (
    "count(sum by (requested_model) "
    f"(rate({selector('litellm_request_total_latency_metric_count', *GATEWAY, MODEL)}[{RATE}])) > 0) "
    "or vector(0)"
)
PROVIDER_DISTRIBUTION = sum_rate(TOTAL, *GATEWAY, MODEL, REACHED_PROVIDER, by="api_provider")
# 1 when every Redis answers its exporter and no gateway's Redis circuit breaker is open.
REDIS_HEALTH = f'min(redis_up{{job="redis"}}) * (sum({selector(BREAKER, *GATEWAY, OPEN)}) == bool 0)'
SELF_LATENCY_P95 = quantile(0.95, OVERHEAD_BUCKET, *GATEWAY, MODEL_GROUP)

# --- 02 Tokens ----------------------------------------------------------------------------------

TOKEN_RATE_BY_MODEL = sum_rate("litellm_total_tokens_metric_total", *GATEWAY, MODEL, by="requested_model")
TOKENS_IN_RANGE = sum_rate("litellm_total_tokens_metric_total", *GATEWAY, MODEL, window=RANGE, fn="increase")
INPUT_TOKEN_RATE = sum_rate("litellm_input_tokens_metric_total", *GATEWAY, MODEL)
OUTPUT_TOKEN_RATE = sum_rate("litellm_output_tokens_metric_total", *GATEWAY, MODEL)
TOKEN_RATE_BY_PROVIDER = sum_rate(
    "litellm_total_tokens_metric_total", *GATEWAY, MODEL, REACHED_PROVIDER, by="api_provider"
)
SPEND_IN_RANGE = sum_rate("litellm_spend_metric_total", *GATEWAY, MODEL, window=RANGE, fn="increase")

# --- 03 Performance -----------------------------------------------------------------------------

E2E_P50_BY_PROVIDER = quantile_by_provider(0.5, E2E_BUCKET)
E2E_P95_BY_PROVIDER = quantile_by_provider(0.95, E2E_BUCKET)
UPSTREAM_P95_BY_PROVIDER = quantile_by_provider(0.95, UPSTREAM_BUCKET)
E2E_P95_BY_MODEL = quantile(0.95, E2E_BUCKET, *GATEWAY, MODEL, by="requested_model")
LATENCY_HEATMAP = sum_rate(E2E_BUCKET, *GATEWAY, MODEL, by="le")
# The comparison table: one row per deployment, over the dashboard's time range.
_TABLE_REQUESTS = sum_rate(TOTAL, *GATEWAY, MODEL, DEPLOYED, by="model_id", window=RANGE)
TABLE_REQUEST_RATE = _TABLE_REQUESTS
TABLE_ERROR_RATIO = ratio(
    sum_rate(FAILED, *GATEWAY, MODEL, DEPLOYED, by="model_id", window=RANGE), _TABLE_REQUESTS, on="model_id"
)
TABLE_E2E_P50 = quantile(0.5, E2E_BUCKET, *GATEWAY, MODEL, by="model_id", window=RANGE)
TABLE_E2E_P95 = quantile(0.95, E2E_BUCKET, *GATEWAY, MODEL, by="model_id", window=RANGE)
TABLE_UPSTREAM_P95 = quantile(0.95, UPSTREAM_BUCKET, *GATEWAY, MODEL, by="model_id", window=RANGE)
TABLE_TTFT_P95 = quantile(0.95, TTFT_BUCKET, *GATEWAY, MODEL, by="model_id", window=RANGE)

# --- 04 Provider health -------------------------------------------------------------------------

_ATTEMPTS_BY_PROVIDER = sum_rate(ATTEMPTS, *GATEWAY, MODEL, REACHED_PROVIDER, by="api_provider")
# A provider that fails every attempt has no success counter yet: 0 %, not "no data".
SUCCESS_RATIO_BY_PROVIDER = ratio(
    sum_rate(ATTEMPT_SUCCESSES, *GATEWAY, MODEL, REACHED_PROVIDER, by="api_provider"),
    _ATTEMPTS_BY_PROVIDER,
    on="api_provider",
)
FAILURE_RATE_BY_PROVIDER = (
    f"{sum_rate(ATTEMPT_FAILURES, *GATEWAY, MODEL, REACHED_PROVIDER, by='api_provider, exception_status')} "
    f"or on (api_provider) 0 * {_ATTEMPTS_BY_PROVIDER}"
)
_DEPLOYMENT = "model_id, api_provider"
_ATTEMPTS_IN_RANGE = sum_rate(ATTEMPTS, *GATEWAY, DEPLOYED, by=_DEPLOYMENT, window=RANGE)
STATUS_STATE = f"max by ({_DEPLOYMENT}) ({selector('litellm_deployment_state', *GATEWAY)})"
STATUS_SUCCESS_RATE = sum_rate(ATTEMPT_SUCCESSES, *GATEWAY, DEPLOYED, by=_DEPLOYMENT, window=RANGE)
STATUS_FAILURE_RATE = (
    f"{sum_rate(ATTEMPT_FAILURES, *GATEWAY, DEPLOYED, by=_DEPLOYMENT, window=RANGE)} "
    f"or 0 * {_ATTEMPTS_IN_RANGE}"
)
_COOLDOWNS = "litellm_deployment_cooled_down_total"
STATUS_COOLDOWNS = (
    f"{sum_rate(_COOLDOWNS, *GATEWAY, DEPLOYED, by=_DEPLOYMENT, window=RANGE, fn='increase')} "
    f"or 0 * {_ATTEMPTS_IN_RANGE}"
)
TRAFFIC_BY_DEPLOYMENT = sum_rate(ATTEMPTS, *GATEWAY, MODEL, DEPLOYED, by="model_id")

# --- 05 System health ---------------------------------------------------------------------------

_REQUESTS_ALL_MODELS = sum_rate(TOTAL, *GATEWAY)
# Mean of three shares, each 0..1: scrape targets up; client requests without a server error
# (1 without traffic); Redis circuit breakers closed (1 without the prometheus_system metrics).
_SERVER_ERRORS = f"({sum_rate(TOTAL, *GATEWAY, SERVER_ERROR)} or vector(0))"
HEALTH_SCORE = (
    "(avg(up)"
    f" + ((1 - {_SERVER_ERRORS} / {_REQUESTS_ALL_MODELS}) or vector(1))"
    f" + ((sum({selector(BREAKER, *GATEWAY, CLOSED)}) / sum({selector(BREAKER, *GATEWAY)})) or vector(1))"
    ") / 3"
)
_HITS = sum_rate("litellm_cache_hits_metric_total", *GATEWAY, by="instance")
_MISSES = sum_rate("litellm_cache_misses_metric_total", *GATEWAY, by="instance")
CACHE_HIT_RATIO = f"({_HITS} or 0 * {_MISSES}) / (({_HITS} or 0 * {_MISSES}) + ({_MISSES} or 0 * {_HITS}))"
REDIS_LATENCY_P50 = quantile(0.5, "litellm_redis_latency_bucket", *GATEWAY, by="instance")
REDIS_LATENCY_P95 = quantile(0.95, "litellm_redis_latency_bucket", *GATEWAY, by="instance")
REDIS_FAILURE_RATE = (
    f"{sum_rate('litellm_redis_failed_requests_total', *GATEWAY, by='instance, error_class')} "
    f"or on (instance) 0 * {sum_rate('litellm_redis_total_requests_total', *GATEWAY, by='instance')}"
)
OVERHEAD_P50 = quantile(0.5, OVERHEAD_BUCKET, *GATEWAY, by="instance")
OVERHEAD_P95 = quantile(0.95, OVERHEAD_BUCKET, *GATEWAY, by="instance")
NODE, GPU = ('job="node"', HOST), ('job="gpu"', HOST)
_IDLE = selector("node_cpu_seconds_total", *NODE, 'mode="idle"')
CPU_BUSY = f"1 - avg by (instance) (rate({_IDLE}[{RATE}]))"
_AVAILABLE = selector("node_memory_MemAvailable_bytes", *NODE)
MEMORY_USED = f"1 - {_AVAILABLE} / {selector('node_memory_MemTotal_bytes', *NODE)}"
GPU_UTILIZATION = selector("nvidia_smi_utilization_gpu_ratio", *GPU)
_GPU_USED = selector("nvidia_smi_memory_used_bytes", *GPU)
GPU_MEMORY_USED = f"{_GPU_USED} / {selector('nvidia_smi_memory_total_bytes', *GPU)}"

# --- annotations and template variables ---------------------------------------------------------

FIRING_ALERTS = 'ALERTS{alertstate="firing"}'
VARIABLE_JOB = f"label_values({TOTAL}, job)"
VARIABLE_INSTANCE = f'label_values({TOTAL}{{job=~"$job"}}, instance)'
VARIABLE_MODEL = f'label_values({TOTAL}{{job=~"$job", instance=~"$instance"}}, requested_model)'
VARIABLE_HOST = 'label_values(up{job=~"node|gpu"}, instance)'
