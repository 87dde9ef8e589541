"""llmobs.gateway.prometheus_parity's verdict on two scrapes, as prometheus_client writes them
(the proxies themselves run in molecule/stack, on a gateway host with LiteLLM)."""

import pytest

from llmobs.gateway import prometheus_parity as pp

SCRAPE = """\
# TYPE litellm_proxy_total_requests_metric_total counter
litellm_proxy_total_requests_metric_total{{requested_model="m",status_code="200"}} {requests}
{extra}# TYPE litellm_input_tokens_metric_total counter
litellm_input_tokens_metric_total{{requested_model="m"}} {tokens}
# TYPE litellm_request_total_latency_metric histogram
litellm_request_total_latency_metric_bucket{{requested_model="m",le="0.5"}} {requests}
litellm_request_total_latency_metric_bucket{{requested_model="m",le="+Inf"}} {requests}
litellm_request_total_latency_metric_count{{requested_model="m"}} {requests}
litellm_request_total_latency_metric_sum{{requested_model="m"}} {seconds}
# TYPE litellm_redis_latency histogram
litellm_redis_latency_count{{service="redis"}} 9
"""
EXPORTED = {
    "litellm_proxy_total_requests_metric",
    "litellm_input_tokens_metric",
    "litellm_request_total_latency_metric",
}
ANSWERS = dict.fromkeys([*pp.TOKENS.values(), "cost"], 0.0) | {"prompt_tokens": 30.0}


def scrape(requests=4, tokens=30, seconds=0.2, extra=""):
    return pp.series(SCRAPE.format(requests=requests, tokens=tokens, seconds=seconds, extra=extra), EXPORTED)


def test_the_same_series_and_counts_are_parity_whatever_the_timings():
    got = {"litellm": scrape(seconds=0.2), "lean": scrape(seconds=0.31)}
    assert pp.compare(got, {"litellm": ANSWERS, "lean": ANSWERS}) == []
    assert not [key for key in got["lean"] if key[0].endswith("_bucket") or "redis" in key[0]]


def test_a_missing_series_a_count_or_tokens_that_differ_are_named():
    other = 'litellm_proxy_total_requests_metric_total{requested_model="n",status_code="200"} 1\n'
    got = {"litellm": scrape(), "lean": scrape(requests=3, tokens=29, extra=other)}
    problems = pp.compare(got, {"litellm": ANSWERS, "lean": ANSWERS})
    assert any(
        p.startswith("only the lean path exports litellm_proxy_total_requests_metric_total") for p in problems
    )
    assert any("LiteLLM's path 4, the lean path 3" in p for p in problems)
    assert any(p.startswith("lean: litellm_input_tokens_metric_total adds up to 29.0") for p in problems)


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--config", "/nonexistent.yaml", "--env-file", "/dev/null", "--model", "m"], "no such file"),
        (["--config", "x", "--env-file", "y", "--model", "m", "--requests", "0"], "--requests: 1 to 100"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(argv, said, capsys):
    assert pp.main(argv) == 2
    assert said in capsys.readouterr().err


def test_an_env_file_without_the_key_is_named(tmp_path, capsys):
    (tmp_path / "config.yaml").write_text("litellm_settings: {}\n")
    (tmp_path / "litellm.env").write_text("# nothing\n")
    argv = [
        "--config",
        str(tmp_path / "config.yaml"),
        "--env-file",
        str(tmp_path / "litellm.env"),
        "--model",
        "m",
    ]
    assert pp.main(argv) == 2
    assert "needs LITELLM_MASTER_KEY" in capsys.readouterr().err
