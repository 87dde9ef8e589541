"""The gateway as a client and an operator see it: LiteLLM in front of the synthetic providers.

On gateway1, which runs two LiteLLM workers (inventory/lab) and uses Redis on monitor1.
"""

import json
import uuid

import pytest
from lab_access import (
    GATEWAYS,
    KEY,
    PROJECT,
    REQUEST_LOG,
    burst,
    chat,
    faults,
    http_get,
    lab,
    log_records,
    logged,
    playbook,
    prometheus,
)

from llmobs.client import HttpError
from llmobs.waiting import wait_until

GATEWAY = lab("gateway1")
MODELS = ["llama3.1:8b", "qwen-coder-vllm", "llama-3.2-3b-llamacpp"]  # ollama, vllm, llama.cpp
AUTH = {"Authorization": f"Bearer {KEY}"}


def test_gateway_hosts_run_the_proxy_and_the_simulators():
    for name in ("gateway1", "gateway2"):
        for unit in ("litellm", "llm-simulator-ollama", "llm-simulator-vllm", "llm-simulator-llamacpp"):
            assert lab(name).service(unit).is_running, f"{unit} on {name}"
    assert lab("monitor1").service("redis-server").is_running


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_completion_through_the_gateway_for_each_provider_type(model, stream):
    result = chat("gateway1", model, f"{model} {stream} {uuid.uuid4()}", stream=stream)
    assert result.status == 200
    assert result.echoed_id == result.request_id
    assert len(result.text.split()) > 3
    if stream:
        assert 0 < result.ttft_s <= result.total_s


def test_request_log_has_one_line_per_request_with_the_clients_id():
    request_id = f"client-{uuid.uuid4()}"
    result = chat("gateway1", "llama3.1:8b", "hello", request_id=request_id, metadata={"project": "debug"})
    assert result.echoed_id == request_id
    record = logged(GATEWAY, request_id)
    assert record["schema"] == "llmobs.request/1"
    assert (record["status"], record["http_status"]) == ("success", 200)
    # WARNING marks a request slower than the threshold (5 s by default), INFO the others
    assert record["level"] == ("WARNING" if record["latency_ms"] > 5000 else "INFO"), record
    assert (record["host"], record["requested_model"]) == ("gateway1", "llama3.1:8b")
    assert (record["provider"], record["api_provider"]) == ("ollama", "ollama_chat")
    assert record["api_base"] == "http://127.0.0.1:11434"
    assert record["deployment"] == "ollama/llama3.1:8b"
    assert record["completion_tokens"] == result.completion_tokens > 0  # what the client was told
    assert record["metadata"] == {"project": "debug"}
    assert record["latency_ms"] > 0


def test_stream_records_time_to_first_token():
    request_id = f"stream-{uuid.uuid4()}"
    chat("gateway1", "qwen-coder-vllm", f"stream {uuid.uuid4()}", stream=True, request_id=request_id)
    record = logged(GATEWAY, request_id)
    assert record["stream"] is True
    assert 0 < record["ttft_ms"] <= record["latency_ms"]


def test_failing_backend_is_logged_as_error_with_its_class():
    # vLLM's backend (test_debugging breaks llama.cpp's and counts its failures)
    request_id = f"broken-{uuid.uuid4()}"
    faults("gateway1", "qwen-coder-vllm", {"error_rate": 1.0, "status": 500})
    try:
        with pytest.raises(HttpError) as failed:
            chat("gateway1", "qwen-coder-vllm", f"fail {uuid.uuid4()}", request_id=request_id)
    finally:
        faults("gateway1", "qwen-coder-vllm", {"reset": True})
    assert failed.value.status == 500
    record = logged(GATEWAY, request_id)
    assert (record["level"], record["status"], record["http_status"]) == ("ERROR", "failure", 500)
    assert record["error_class"]
    address = GATEWAY.interface("eth0").addresses[0]
    assert (record["provider"], record["api_base"]) == ("vllm", f"http://{address}:8001/v1")


def test_repeated_request_is_a_cache_hit():
    """The cache is written in a background task after the answer: repeats until one is a hit."""
    content = f"cache me {uuid.uuid4()}"
    first_id = f"c1-{uuid.uuid4()}"
    chat("gateway1", "llama3.1:8b", content, request_id=first_id)
    hit = wait_until(
        lambda: chat("gateway1", "llama3.1:8b", content, request_id=f"c2-{uuid.uuid4()}"),
        20,
        "a repeat of the prompt to be answered from the cache",
        until=lambda result: "x-litellm-cache-key" in result.headers,
    )
    assert logged(GATEWAY, first_id)["cache_hit"] is False
    assert logged(GATEWAY, hit.request_id)["cache_hit"] is True


def test_metrics_need_the_credential():
    assert http_get(f"{GATEWAYS['gateway1']}/metrics/")[0] == 401


def metrics() -> str:
    status, body = http_get(f"{GATEWAYS['gateway1']}/metrics/", AUTH)
    assert status == 200, body
    return body


def test_metrics_show_requests_tokens_and_redis():
    text = metrics()
    for name in (
        "litellm_proxy_total_requests_metric_total",
        "litellm_input_tokens_metric_total",
        "litellm_output_tokens_metric_total",
        "litellm_redis_latency_bucket",
        "litellm_deployment_state",
    ):
        assert f"\n{name}{{" in text, name
    assert "client_ip=" not in text  # the per-client label is dropped


def test_lost_request_log_lines_are_a_metric_of_every_gateway():
    """The callback exports its lost lines by each reason (from the start, at 0: the unit tests
    prove that), on LiteLLM's /metrics/ (two workers merged on gateway1), and Prometheus has them
    for each gateway. Not their values: the disk-full drill (test_drills.py) makes gateway1 lose
    lines on purpose."""
    text = metrics()
    for reason in ("queue_full", "write_error"):
        assert f'\nllmobs_request_log_lines_lost_total{{reason="{reason}"}} ' in text, reason

    def scraped() -> list | None:
        found = prometheus("/api/v1/query", query="llmobs_request_log_lines_lost_total")["result"]
        return found if len(found) == 4 else None

    found = wait_until(scraped, 60, "Prometheus to hold the lost-lines counter of both gateways")
    assert sorted((r["metric"]["instance"], r["metric"]["reason"]) for r in found) == [
        (gateway, reason) for gateway in ("gateway1", "gateway2") for reason in ("queue_full", "write_error")
    ]
    assert all(float(r["value"][1]) >= 0 for r in found), found


def settled(read, what: str) -> float:
    """A counter once two reads a second apart agree: the callbacks of earlier answers are done."""
    reads = []

    def agreed() -> bool:
        reads.append(read())
        return len(reads) > 1 and reads[-1] == reads[-2]

    wait_until(agreed, 15, what)
    return reads[-1]


def requests_counted(model: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics().splitlines()
        if line.startswith("litellm_proxy_total_requests_metric_total{")
        and f'requested_model="{model}"' in line
        and 'status_code="200"' in line
    )


def workers_that_counted() -> set[str]:
    """prometheus_client keeps one counter file per process: the pids of the workers that counted."""
    files = GATEWAY.run("ls /run/litellm/metrics").stdout.split()
    return {name[len("counter_") : -len(".db")] for name in files if name.startswith("counter_")}


def test_metrics_add_up_across_workers():
    """With two workers, every request is counted whichever worker served it and answered the scrape.

    The kernel decides which worker accepts a connection: bursts of concurrent requests go out until
    both workers have counted some (bounded), then the merged count must equal what was sent."""
    model = "qwen-coder-vllm"
    before = settled(lambda: requests_counted(model), f"the count of {model} to settle")
    sent = []

    def both_workers_counted() -> set[str]:
        outcomes = burst("gateway1", model, [f"count {uuid.uuid4()}" for _ in range(8)])
        assert outcomes == ["200"] * 8, outcomes
        sent.extend(outcomes)
        workers = workers_that_counted()
        return workers if len(workers) >= 2 else set()

    wait_until(both_workers_counted, 90, "both LiteLLM workers to count requests (/run/litellm/metrics)")
    # the callback counts after the answer: wait until the merged count has caught up, then exactly
    wait_until(
        lambda: requests_counted(model) - before >= len(sent),
        30,
        f"the merged /metrics/ to count the {len(sent)} requests sent",
    )
    assert requests_counted(model) - before == len(sent)


def test_log_loses_no_line_when_rotated_mid_run():
    """N concurrent requests, logrotate forced halfway: the log files hold exactly N lines of them."""
    run = uuid.uuid4().hex[:8]
    ids = [f"rot-{run}-{i}" for i in range(80)]
    prompts = [f"r{run} {i}" for i in range(80)]
    first = burst("gateway1", "llama3.1:8b", prompts[:40], ids[:40])
    rotated = GATEWAY.run("logrotate -f /etc/logrotate.d/litellm")
    assert rotated.rc == 0, rotated.stderr
    second = burst("gateway1", "llama3.1:8b", prompts[40:], ids[40:])
    assert first + second == ["200"] * 80
    assert GATEWAY.file(f"{REQUEST_LOG}.1").exists  # the rotation really happened

    def written() -> list[str] | None:
        found = [r["request_id"] for r in log_records(GATEWAY, f"rot-{run}-")]
        return found if len(found) >= 80 else None

    found = wait_until(written, 30, f"80 lines of run {run} in the request logs")
    assert sorted(found) == sorted(ids)  # each once: none lost, none written twice


def test_the_gateway_computes_only_the_metrics_that_panels_and_rules_read():
    """litellm_prometheus_metrics and litellm_prometheus_services (issue 16): what the scrape
    shows is within the dashboards' allow-list, derived from the role's settings; the budget,
    rate-limit and auth/router latency series are not computed."""
    chat("gateway1", MODELS[0], f"hi {uuid.uuid4()}")  # a request, and its Redis cache lookups
    status, text = http_get(f"{GATEWAYS['gateway1']}/metrics/", AUTH)
    assert status == 200
    shown = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line.startswith("litellm_")}
    allowed = json.loads((PROJECT / "dashboards_src" / "litellm_metrics.json").read_text())["metrics"]
    assert {"litellm_proxy_total_requests_metric_total", "litellm_redis_latency_bucket"} <= shown
    assert shown <= set(allowed), sorted(shown - set(allowed))
    unread = ("litellm_auth_", "litellm_router_", "litellm_self_", "litellm_remaining_", "litellm_api_key_")
    assert not [name for name in shown if name.startswith(unread)]


def test_the_lean_success_path_exports_what_litellm_s_own_does():
    """Issue 16: the gateways update LiteLLM's success metrics by a lean path. Two spare proxies on
    gateway2, from its own config and environment, one with LiteLLM's own success event and one
    with the lean path, answer the same requests to every provider type, plain and streamed: their
    /metrics/ hold the same series with the same counts (llmobs.gateway.prometheus_parity)."""
    models = " ".join(f"--model {model}" for model in MODELS)
    result = lab("gateway2").run(
        "/opt/litellm/bin/python -m llmobs.gateway.prometheus_parity --config /etc/litellm/config.yaml"
        f" --env-file /etc/litellm/litellm.env {models} --requests 3 --json"
    )
    assert result.rc == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    print(f"parity: {report['requests_per_side']} requests per side, series {report['series']}")
    assert report["problems"] == []
    # every provider type's tokens, latencies and deployment series, on both sides
    assert report["series"]["lean"] == report["series"]["litellm"] >= 12 * len(MODELS)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        (
            {"litellm_prometheus_metrics": ["litellm_spend_metric", "litellm_spend_metric_total"]},
            "litellm_prometheus_metrics=['litellm_spend_metric_total'] on gateway1 is invalid",
        ),
        (
            {"litellm_prometheus_services": ["redis", "reds"]},
            "litellm_prometheus_services=['reds'] on gateway1",
        ),
    ],
    ids=["exposition-name", "unknown-service"],
)
def test_a_metric_or_service_litellm_does_not_know_fails_in_preflight(tmp_path, settings, named):
    """One such name would make LiteLLM drop every request metric while it keeps serving."""
    bad = tmp_path / "bad.json"  # JSON is YAML
    bad.write_text(json.dumps(settings))
    result = playbook("preflight.yml", "-e", f"@{bad}", "--limit", "gateway1")
    assert result.returncode == 2, result.stdout[-2000:]
    assert named in result.stdout + result.stderr
