"""04 Provider health: how reliably each provider and deployment answers the gateways."""

from . import queries as q
from . import style as s
from .variables import GATEWAY_VARIABLES

FILE = "04-provider-health"
TITLE = "LLM Gateway / Provider Health"


def dashboard():
    success = s.timeseries(
        "Success rate by provider (%)",
        "Share of the gateways' calls to each provider type (api_provider) that succeeded "
        "(litellm_deployment_success_responses_total / litellm_deployment_total_requests_total). "
        "Each attempt counts, retries included; a failure is any status (5xx, 408 timeout, 429, "
        "other 4xx from the provider). Cache hits count as successes of their deployment. "
        "Requests that reached no provider are left out.",
        "percentunit",
        s.targets((q.SUCCESS_RATIO_BY_PROVIDER, "{{api_provider}}")),
        percent=True,
    )
    failures = s.timeseries(
        "Failure rate",
        "Failed calls per second to each provider type, by status (exception_status): every "
        "status counts, 5xx, 408 (timeout), 429 (rate limited) and other 4xx; retries count one "
        "by one. 0 while calls flow and none fail.",
        "reqps",
        s.targets((q.FAILURE_RATE_BY_PROVIDER, "{{api_provider}} {{exception_status}}")),
    )
    status = s.table(
        "Provider status summary",
        "One row per deployment over the time range: LiteLLM's deployment state (worst over "
        "gateways and workers: Healthy, Partial = some calls failed, Outage = cooled down), "
        "successful and failed calls per second (a failure: any status, 5xx, 408 timeout, 429 or "
        "other 4xx), and cooldowns. LiteLLM 1.108.7 never cools down the "
        "only deployment of a model group (it stays Partial) and does not reset Outage after "
        "recovery until the gateway restarts: read the state with the failure column.",
        "reqps",
        [
            (q.STATUS_STATE, "State", "none"),
            (q.STATUS_SUCCESS_RATE, "Successes/s", "reqps"),
            (q.STATUS_FAILURE_RATE, "Failures/s", "reqps"),
            (q.STATUS_COOLDOWNS, "Cooldowns", "short"),
        ],
        properties={
            "State": [
                {"id": "mappings", "value": s.value_mappings(STATES)},
                {"id": "custom.cellOptions", "value": {"type": "color-background"}},
            ]
        },
        sort_by="Failures/s",
    )
    traffic = s.timeseries(
        "Traffic distribution",
        "Calls per second to each deployment (model_id), stacked: how the router spreads the "
        "load over the deployments of a model group. Retries count one by one.",
        "reqps",
        s.targets((q.TRAFFIC_BY_DEPLOYMENT, "{{model_id}}")),
        stack=True,
    )
    return s.dashboard(
        title=TITLE,
        uid="llmobs-provider-health",
        description="Provider reliability: success and failure of the gateways' calls, deployment states.",
        variables=GATEWAY_VARIABLES,
        annotation=q.FIRING_ALERTS,
        rows=[
            (8, [(12, success), (12, failures)]),
            (9, [(12, status), (12, traffic)]),
        ],
    )


# litellm_deployment_state values.
STATES = {0: ("Healthy", "green"), 1: ("Partial", "orange"), 2: ("Outage", "red")}
