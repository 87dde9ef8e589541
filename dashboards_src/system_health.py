"""05 System health: Redis, the gateway's own latency, cache, and the hosts (CPU, memory, GPU)."""

from . import queries as q
from . import style as s
from .variables import HOST, INSTANCE, JOB

FILE = "05-system-health"
TITLE = "LLM Gateway / System Health"
GPU_NOTE = (
    " From the NVIDIA GPU exporter (job gpu), which runs only on hosts with a GPU "
    "(node_exporter_gpu_exporter): no data on GPU-less hosts and labs."
)
# Panels allowed to be empty on a healthy site: GPU-less hosts have no gpu job.
OPTIONAL_PANELS = frozenset({"GPU utilization", "GPU memory"})


def share(title: str, description: str, expr: str, legend: str = "{{instance}}"):
    """A time series of a 0..1 share per gateway or host."""
    return s.timeseries(title, description, "percentunit", s.targets((expr, legend)), percent=True)


def dashboard():
    score = s.stat(
        "System health score",
        "Mean of three shares, 100 % when all is well: scrape targets up (all jobs); client "
        "requests of the selected gateways without a server error (5xx or 408, not 429 or other "
        "4xx; 1 without traffic); Redis circuit breakers closed (1 without the prometheus_system metrics).",
        "percentunit",
        s.targets((q.HEALTH_SCORE, "")),
        thresholds=s.steps("red", (0.9, "orange"), (0.99, "green")),
        decimals=1,
    )
    cache = share(
        "Cache hit rate",
        "Share of cacheable requests answered from LiteLLM's Redis cache, per gateway "
        "(litellm_cache_hits_metric_total / hits + misses). No data when the gateways run "
        "without a cache (no redis host in the inventory).",
        q.CACHE_HIT_RATIO,
    )
    self_latency = s.timeseries(
        "LiteLLM self-latency",
        "P50 and P95 of the time each gateway adds to a request on top of the provider "
        "(litellm_overhead_latency_metric, seconds). LiteLLM's litellm_self_latency is not used: "
        "despite its name it times the call to the provider.",
        "s",
        s.targets((q.OVERHEAD_P50, "{{instance}} P50"), (q.OVERHEAD_P95, "{{instance}} P95")),
    )
    redis_latency = s.timeseries(
        "Redis latency",
        "P50 and P95 of each gateway's Redis calls (cache and router state; litellm_redis_latency, "
        "needs service_callback prometheus_system).",
        "s",
        s.targets((q.REDIS_LATENCY_P50, "{{instance}} P50"), (q.REDIS_LATENCY_P95, "{{instance}} P95")),
    )
    redis_failures = s.timeseries(
        "Redis failures",
        "Failed Redis calls per second per gateway and error class "
        "(litellm_redis_failed_requests_total; 0 while calls succeed). Alerts: LiteLLMRedisErrors "
        "(failures in every 2-minute window for a while), LiteLLMRedisCircuitBreakerOpen and "
        "RedisDown; firing alerts show as annotations.",
        "reqps",
        s.targets((q.REDIS_FAILURE_RATE, "{{instance}} {{error_class}}")),
    )
    cpu = share(
        "CPU utilization",
        "Share of CPU time not idle, per host, all cores (node exporter).",
        q.CPU_BUSY,
    )
    memory = share(
        "Memory utilization",
        "Share of memory in use per host: 1 - MemAvailable / MemTotal (node exporter).",
        q.MEMORY_USED,
    )
    gpu = share(
        "GPU utilization",
        "Share of time each GPU was busy (nvidia-smi utilization.gpu), per host and GPU." + GPU_NOTE,
        q.GPU_UTILIZATION,
        "{{instance}} {{uuid}}",
    )
    gpu_memory = share(
        "GPU memory",
        "Share of each GPU's memory in use (model weights and KV cache), per host and GPU." + GPU_NOTE,
        q.GPU_MEMORY_USED,
        "{{instance}} {{uuid}}",
    )
    return s.dashboard(
        title=TITLE,
        uid="llmobs-system-health",
        description="Infrastructure: Redis, the gateways' own latency, cache, and the hosts.",
        variables=[JOB, INSTANCE, HOST],
        annotation=q.FIRING_ALERTS,
        rows=[
            (7, [(6, score), (9, cache), (9, self_latency)]),
            (8, [(12, redis_latency), (12, redis_failures)]),
            (8, [(12, cpu), (12, memory)]),
            (8, [(12, gpu), (12, gpu_memory)]),
        ],
    )
