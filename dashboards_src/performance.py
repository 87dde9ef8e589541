"""03 Performance: latency by provider and model, its distribution, and a per-deployment table."""

from . import queries as q
from . import style as s
from .variables import GATEWAY_VARIABLES

FILE = "03-performance"
TITLE = "LLM Gateway / Performance"


def dashboard():
    by_provider = s.timeseries(
        "Latency comparison by provider",
        "Latency of successful requests per provider type. End-to-end: what clients wait for "
        "(cache hits included); upstream: the provider's own answer time "
        "(litellm_llm_api_latency_metric). The histograms are joined on model_id with "
        "litellm_deployment_state, which names each deployment's api_provider.",
        "s",
        s.targets(
            (q.E2E_P50_BY_PROVIDER, "{{api_provider}} end-to-end P50"),
            (q.E2E_P95_BY_PROVIDER, "{{api_provider}} end-to-end P95"),
            (q.UPSTREAM_P95_BY_PROVIDER, "{{api_provider}} upstream P95"),
        ),
    )
    p95 = s.timeseries(
        "P95 latency trends",
        "P95 end-to-end latency of successful requests per model group; alert "
        "LiteLLMHighLatencyP95 fires above 5 s (over 5 minutes, all gateways).",
        "s",
        s.targets((q.E2E_P95_BY_MODEL, "{{requested_model}}")),
    )
    heatmap = s.heatmap(
        "Latency heatmap",
        "Distribution of end-to-end latency of successful requests over time: requests per second "
        "in each histogram bucket (LiteLLM's buckets: 5 ms to 600 s). Two bands mean two kinds of "
        "answers, e.g. cache hits and generations, or a cold model load.",
        q.LATENCY_HEATMAP,
    )
    table = s.table(
        "Performance comparison table",
        "One row per deployment (model_id, named <provider>/<model group> by the bundle) over the "
        "dashboard's time range: request rate, share of failed requests (every failure status: "
        "5xx, 408 timeout, 429 and other 4xx), end-to-end P50/P95, upstream P95 and time to first "
        "token P95 (streamed requests only; empty without streams).",
        "s",
        [
            (q.TABLE_REQUEST_RATE, "Requests/s", "reqps"),
            (q.TABLE_ERROR_RATIO, "Failed", "percentunit"),
            (q.TABLE_E2E_P50, "End-to-end P50", "s"),
            (q.TABLE_E2E_P95, "End-to-end P95", "s"),
            (q.TABLE_UPSTREAM_P95, "Upstream P95", "s"),
            (q.TABLE_TTFT_P95, "TTFT P95", "s"),
        ],
        sort_by="Requests/s",
    )
    return s.dashboard(
        title=TITLE,
        uid="llmobs-performance",
        description="Latency analysis: providers, model groups, distribution, deployments side by side.",
        variables=GATEWAY_VARIABLES,
        annotation=q.FIRING_ALERTS,
        rows=[
            (9, [(12, by_provider), (12, p95)]),
            (9, [(24, heatmap)]),
            (8, [(24, table)]),
        ],
    )
