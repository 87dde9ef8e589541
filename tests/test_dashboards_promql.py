"""The dashboards' PromQL through promtool 2.42 (what the monitoring hosts run): every panel
expression, with sample values for the template variables, checked as a recording rule; the
meaning of key panels unit-tested on synthetic series (promtool test rules, promql_expr_test).
The expressions are taken from the built dashboards, as the live check would query them.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml
from test_alert_rules import promtool_or_skip, promtool_run

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dashboards_src  # noqa: E402

WINDOW = "5m"  # $__rate_interval and $__range in the unit tests: 5 one-minute samples
GATEWAY = 'job="litellm", instance="gw1"'
MODEL = f'{GATEWAY}, requested_model="m"'
TOTAL = "litellm_proxy_total_requests_metric_total"
FAILED = "litellm_proxy_failed_requests_metric_total"
BUCKETS = ("0.25", "0.5", "1", "+Inf")


@pytest.fixture(scope="module")
def promtool() -> str:
    return promtool_or_skip()


def panel(dashboard: str, title: str) -> tuple[str, ...]:
    """A panel's expressions (targets A, B, ...) with every gateway, model and host selected."""
    queries = dashboards_src.panel_queries(rate_interval=WINDOW, time_range=WINDOW)
    found = [q.exprs for q in queries if q.dashboard.endswith(dashboard) and q.panel == title]
    assert len(found) == 1, f"no panel {dashboard} / {title}"
    return found[0]


def counter(rate_per_second: float) -> str:
    """Values of a counter growing at this rate, one sample a minute for 20 minutes."""
    return f"0+{rate_per_second * 60:g}x20"


def histogram(name: str, labels: str, per_bucket: dict[str, float]) -> dict[str, str]:
    """Cumulative buckets of a histogram: per_bucket is the request rate falling in each bucket."""
    series, total = {}, 0.0
    for le in BUCKETS:
        total += per_bucket.get(le, 0.0)
        series[f'{name}_bucket{{{labels}, le="{le}"}}'] = counter(total)
    return series


def evaluate(promtool: str, folder: Path, series: dict[str, str], cases: list[tuple[str, dict[str, float]]]):
    """Evaluate each expression at 10m over the series; expect exactly the given samples."""
    suite = {
        "rule_files": [],
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series.items()],
                "promql_expr_test": [
                    {
                        "expr": expr,
                        "eval_time": "10m",
                        "exp_samples": [
                            {"labels": labels, "value": value} for labels, value in expected.items()
                        ],
                    }
                    for expr, expected in cases
                ],
            }
        ],
    }
    (folder / "panels.test.yml").write_text(yaml.safe_dump(suite, sort_keys=False))
    return promtool_run(promtool, "test", "rules", "panels.test.yml", cwd=folder)


def assert_passes(result):
    assert result.returncode == 0, result.stdout + result.stderr


# --- every expression, as promtool parses it -----------------------------------------------------


def test_promtool_accepts_every_panel_expression(promtool, tmp_path):
    queries = dashboards_src.panel_queries(instance="gateway1|gateway2", model="llama3.1:8b")
    rules, legend = [], {}
    for query in queries:
        for ref_id, expr in zip("ABCDEFGH", query.exprs, strict=False):
            name = ":".join(
                re.sub(r"[^a-z0-9]+", "_", part.lower()).strip("_") for part in (query.dashboard, query.panel)
            )
            name = f"{name}:{ref_id}"
            rules.append({"record": name, "expr": expr})
            legend[name] = f"{query.dashboard} / {query.panel} / {ref_id}"
    annotation = dashboards_src.dashboards()["01-overview"]["annotations"]["list"][1]["expr"]
    rules.append({"record": "dashboard:firing_alerts:annotation", "expr": annotation})
    (tmp_path / "panels.yml").write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = promtool_run(promtool, "check", "rules", "panels.yml", cwd=tmp_path)
    where = "\n".join(
        f"{name}: {title}" for name, title in legend.items() if name in result.stdout + result.stderr
    )
    assert result.returncode == 0, result.stdout + result.stderr + "\n" + where
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


# --- semantics of key panels ---------------------------------------------------------------------


def test_error_rate_counts_every_failure_and_server_errors_apart(promtool, tmp_path):
    series = {}
    for status, rate in {"200": 0.75, "500": 0.125, "408": 0.0625, "429": 0.0625}.items():
        series[f'{TOTAL}{{{MODEL}, status_code="{status}"}}'] = counter(rate)
        if status != "200":
            series[f'{FAILED}{{{MODEL}, exception_status="{status}"}}'] = counter(rate)
    everything, server = panel("Overview", "Error rate")
    assert_passes(
        evaluate(promtool, tmp_path, series, [(everything, {"{}": 0.25}), (server, {"{}": 0.1875})])
    )


def test_error_rate_is_zero_not_empty_while_nothing_fails(promtool, tmp_path):
    series = {f'{TOTAL}{{{MODEL}, status_code="200"}}': counter(1)}
    everything, server = panel("Overview", "Error rate")
    assert_passes(evaluate(promtool, tmp_path, series, [(everything, {"{}": 0}), (server, {"{}": 0})]))


def provider_latency_series() -> dict[str, str]:
    """Two deployments: vllm/m answers within 0.25 s, ollama/m within 0.5-1 s. The histograms of
    one lack api_provider (as the reference saw), of the other not (as 1.108.7 emits). Their
    deployment states have a series per worker (pid) and per api_base spelling, and the healthy
    one is 0."""
    series = histogram(
        "litellm_request_total_latency_metric",
        f'{GATEWAY}, requested_model="m", model_id="vllm/m"',
        {"0.25": 1},
    )
    series |= histogram(
        "litellm_request_total_latency_metric",
        f'{GATEWAY}, requested_model="m", model_id="ollama/m", api_provider="ollama_chat"',
        {"1": 1},
    )
    for pid in ("101", "102"):
        for base in ("http://gw1:8001/v1", "http://gw1:8001/v1/chat/completions"):
            labels = f'model_id="vllm/m", api_provider="hosted_vllm", api_base="{base}", pid="{pid}"'
            series[f"litellm_deployment_state{{{GATEWAY}, {labels}}}"] = "0x20"
    series[
        f'litellm_deployment_state{{{GATEWAY}, model_id="ollama/m", api_provider="ollama_chat", pid="101"}}'
    ] = "1x20"
    return series


def test_latency_by_provider_joins_the_provider_of_each_deployment(promtool, tmp_path):
    p50, p95, _ = panel("Performance", "Latency comparison by provider")
    expected_p50 = {
        '{api_provider="hosted_vllm"}': 0.25 * 0.5,
        '{api_provider="ollama_chat"}': 0.5 + 0.5 * 0.5,
    }
    expected_p95 = {
        '{api_provider="hosted_vllm"}': 0.25 * 0.95,
        '{api_provider="ollama_chat"}': 0.5 + 0.5 * 0.95,
    }
    cases = [(p50, expected_p50), (p95, expected_p95)]
    assert_passes(evaluate(promtool, tmp_path, provider_latency_series(), cases))


def test_a_join_on_the_state_value_would_lose_healthy_deployments(promtool, tmp_path):
    """Why the join uses group, not the state's value: multiplied by max(...) (0 when healthy),
    the healthy deployment's buckets vanish. The same unit test fails on that expression."""
    _, p95, _ = panel("Performance", "Latency comparison by provider")
    by_value = p95.replace("group by (model_id, api_provider)", "max by (model_id, api_provider)")
    assert by_value != p95
    expected = {'{api_provider="hosted_vllm"}': 0.25 * 0.95, '{api_provider="ollama_chat"}': 0.5 + 0.5 * 0.95}
    result = evaluate(promtool, tmp_path, provider_latency_series(), [(by_value, expected)])
    output = result.stdout + result.stderr
    assert result.returncode != 0 and 'got: {api_provider="hosted_vllm"} NaN' in output, output


def test_cache_hit_rate_per_gateway_is_zero_or_one_when_a_counter_is_missing(promtool, tmp_path):
    series = {
        'litellm_cache_hits_metric_total{job="litellm", instance="gw1", model="m"}': counter(0.25),
        'litellm_cache_misses_metric_total{job="litellm", instance="gw1", model="m"}': counter(0.75),
        'litellm_cache_misses_metric_total{job="litellm", instance="gw2", model="m"}': counter(1),
        'litellm_cache_hits_metric_total{job="litellm", instance="gw3", model="m"}': counter(1),
    }
    (ratio,) = panel("System Health", "Cache hit rate")
    expected = {'{instance="gw1"}': 0.25, '{instance="gw2"}': 0, '{instance="gw3"}': 1}
    assert_passes(evaluate(promtool, tmp_path, series, [(ratio, expected)]))


def test_success_rate_by_provider_is_zero_for_a_provider_that_fails_every_call(promtool, tmp_path):
    deployment = f'{GATEWAY}, requested_model="m"'
    series = {
        f'litellm_deployment_total_requests_total{{{deployment}, api_provider="hosted_vllm"}}': counter(1),
        f'litellm_deployment_success_responses_total{{{deployment}, api_provider="hosted_vllm"}}': counter(
            0.75
        ),
        f'litellm_deployment_total_requests_total{{{deployment}, api_provider="ollama_chat"}}': counter(0.5),
        # proxy-level rejections (unknown model): no provider, left out
        f'litellm_deployment_total_requests_total{{{GATEWAY}, requested_model="other"}}': counter(0.5),
    }
    (ratio,) = panel("Provider Health", "Success rate by provider (%)")
    expected = {'{api_provider="hosted_vllm"}': 0.75, '{api_provider="ollama_chat"}': 0}
    assert_passes(evaluate(promtool, tmp_path, series, [(ratio, expected)]))


def test_redis_health_and_the_system_health_score(promtool, tmp_path):
    series = {
        'up{job="litellm", instance="gw1"}': "1x20",
        'up{job="node", instance="gw1"}': "1x20",
        'up{job="redis", instance="monitor1"}': "1x20",
        'up{job="node", instance="loadgen1"}': "0x20",
        'redis_up{job="redis", instance="monitor1"}': "1x20",
        f'litellm_proxy_total_requests_metric_total{{{GATEWAY}, status_code="200"}}': counter(0.75),
        f'litellm_proxy_total_requests_metric_total{{{GATEWAY}, status_code="429"}}': counter(0.125),
        f'litellm_proxy_total_requests_metric_total{{{GATEWAY}, status_code="503"}}': counter(0.125),
        f'litellm_redis_circuit_breaker_state{{{GATEWAY}, state="closed"}}': "3x20",
        f'litellm_redis_circuit_breaker_state{{{GATEWAY}, state="open"}}': "1x20",
        f'litellm_redis_circuit_breaker_state{{{GATEWAY}, state="half_open"}}': "0x20",
    }
    (health,) = panel("Overview", "Redis health")
    (score,) = panel("System Health", "System health score")
    # targets up 3/4; requests without a server error 7/8 (the 429 is not one); breakers closed 3/4
    cases = [(health, {"{}": 0}), (score, {"{}": (0.75 + 0.875 + 0.75) / 3})]
    assert_passes(evaluate(promtool, tmp_path, series, cases))
    series[f'litellm_redis_circuit_breaker_state{{{GATEWAY}, state="open"}}'] = "0x20"
    series[f'litellm_redis_circuit_breaker_state{{{GATEWAY}, state="closed"}}'] = "4x20"
    assert_passes(
        evaluate(promtool, tmp_path, series, [(health, {"{}": 1}), (score, {"{}": (0.75 + 0.875 + 1) / 3})])
    )
