"""02 Token usage: cost tracking and usage analytics."""

from . import queries as q
from . import style as s
from .variables import GATEWAY_VARIABLES

FILE = "02-tokens"
TITLE = "LLM Gateway / Token Usage"


def dashboard():
    total = s.stat(
        "Total tokens consumed",
        "Input plus output tokens of the selected gateways and models over the dashboard's time "
        "range (litellm_total_tokens_metric_total), as the providers reported them.",
        "short",
        s.targets((q.TOKENS_IN_RANGE, ""), instant=True),
        no_value="0",
    )
    cost = s.stat(
        "Cost estimation",
        "Spend over the time range as LiteLLM prices it (litellm_spend_metric_total, USD). Only "
        "models with a price (input_cost_per_token / output_cost_per_token in model_info, or "
        "LiteLLM's cost map) cost anything: local models show 0.",
        "currencyUSD",
        s.targets((q.SPEND_IN_RANGE, ""), instant=True),
        no_value="0",
        decimals=2,
    )
    by_model = s.timeseries(
        "Token rate by model",
        "Tokens per second (input plus output) per model group (requested_model).",
        "short",
        s.targets((q.TOKEN_RATE_BY_MODEL, "{{requested_model}}")),
        stack=True,
    )
    in_out = s.timeseries(
        "Input vs output tokens",
        "Prompt (input) and completion (output) tokens per second over the selected gateways and "
        "models. Output tokens are what the GPUs generate one by one.",
        "short",
        s.targets((q.INPUT_TOKEN_RATE, "input"), (q.OUTPUT_TOKEN_RATE, "output")),
    )
    by_provider = s.timeseries(
        "Tokens by provider",
        "Tokens per second (input plus output) per provider type (api_provider).",
        "short",
        s.targets((q.TOKEN_RATE_BY_PROVIDER, "{{api_provider}}")),
        stack=True,
    )
    return s.dashboard(
        title=TITLE,
        uid="llmobs-tokens",
        description="Tokens and spend by model group and provider.",
        variables=GATEWAY_VARIABLES,
        annotation=q.FIRING_ALERTS,
        rows=[
            (4, [(12, total), (12, cost)]),
            (8, [(12, by_model), (12, in_out)]),
            (8, [(24, by_provider)]),
        ],
    )
