"""The gateway as a client and an operator see it: LiteLLM in front of the synthetic providers."""

import json
import os
import shlex
import uuid
from pathlib import Path

import pytest

SECRETS = Path(os.environ["LLMOBS_SECRETS_DIR"])
KEY = "sk-" + (SECRETS / "litellm_master_key").read_text().strip()
GATEWAY = "http://127.0.0.1:4000"
LOG = "/var/log/litellm/requests.log"
MODELS = ["llama3.1:8b", "qwen-coder-vllm", "llama-3.2-3b-llamacpp"]  # ollama, vllm, llama.cpp


def chat(host, model, stream=False, request_id=None, content="hello", metadata=None):
    """POST a chat completion from inside the host; returns (status, headers, body)."""
    body = {"model": model, "messages": [{"role": "user", "content": content}], "stream": stream}
    if metadata:
        body["metadata"] = metadata
    headers = f"-H 'Authorization: Bearer {KEY}' -H 'Content-Type: application/json'"
    if request_id:
        headers += f" -H 'x-litellm-call-id: {request_id}'"
    out = host.run(
        f"curl -sS -N -D /tmp/headers -o /tmp/body -w '%{{http_code}}' {headers} "
        f"-d {shlex.quote(json.dumps(body))} {GATEWAY}/v1/chat/completions"
    )
    head = host.file("/tmp/headers").content_string.lower()
    return int(out.stdout), head, host.file("/tmp/body").content_string


def log_records(host):
    text = host.run(f"cat {LOG}.1 {LOG} 2>/dev/null").stdout
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def wait_for_log(host, request_id, tries=20):
    for _ in range(tries):
        found = [r for r in log_records(host) if r["request_id"] == request_id]
        if found:
            return found
        host.run("sleep 0.5")
    return []


def test_services_run(host):
    for unit in (
        "litellm",
        "redis-server",
        "llm-simulator-ollama",
        "llm-simulator-vllm",
        "llm-simulator-llamacpp",
    ):
        assert host.service(unit).is_running, unit


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_completion_through_the_gateway_for_each_provider_type(host, model, stream):
    status, headers, body = chat(host, model, stream=stream, content=f"{model} {stream} {uuid.uuid4()}")
    assert status == 200, body
    assert "x-litellm-call-id:" in headers
    if stream:
        events = [line[6:] for line in body.splitlines() if line.startswith("data: ")]
        assert events[-1] == "[DONE]"
        text = "".join(
            (json.loads(e)["choices"][0]["delta"].get("content") or "")
            for e in events[:-1]
            if json.loads(e).get("choices")
        )
    else:
        text = json.loads(body)["choices"][0]["message"]["content"]
    assert len(text.split()) > 3


def test_request_log_has_one_line_per_request_with_the_clients_id(host):
    request_id = f"client-{uuid.uuid4()}"
    status, headers, _ = chat(
        host, "llama3.1:8b", request_id=request_id, metadata={"project": "debug", "env": "dev"}
    )
    assert status == 200
    assert f"x-litellm-call-id: {request_id}" in headers
    records = wait_for_log(host, request_id)
    assert len(records) == 1
    record = records[0]
    assert record["schema"] == "llmobs.request/1"
    assert (record["level"], record["status"], record["http_status"]) == ("INFO", "success", 200)
    assert record["requested_model"] == "llama3.1:8b"
    assert (record["provider"], record["api_provider"]) == ("ollama", "ollama_chat")
    assert record["api_base"] == "http://127.0.0.1:11434"
    assert record["deployment"] == "ollama/llama3.1:8b"
    assert record["completion_tokens"] == 24
    assert record["metadata"] == {"project": "debug", "env": "dev"}
    assert record["latency_ms"] > 0


def test_stream_records_time_to_first_token(host):
    request_id = f"stream-{uuid.uuid4()}"
    assert chat(host, "qwen-coder-vllm", stream=True, request_id=request_id)[0] == 200
    record = wait_for_log(host, request_id)[0]
    assert record["stream"] is True
    assert 0 < record["ttft_ms"] <= record["latency_ms"]


def test_failing_model_is_logged_as_error_with_its_class(host):
    request_id = f"broken-{uuid.uuid4()}"
    status, _, body = chat(host, "broken-model", request_id=request_id)
    assert status == 500, body
    record = wait_for_log(host, request_id)[0]
    assert record["level"] == "ERROR"
    assert record["status"] == "failure"
    assert record["error_class"]
    assert record["http_status"] == 500
    assert record["provider"] == "vllm"
    assert record["api_base"] == "http://127.0.0.1:8001/v1"


def test_repeated_request_is_a_cache_hit(host):
    content = f"cache me {uuid.uuid4()}"
    first_id, second_id = f"c1-{uuid.uuid4()}", f"c2-{uuid.uuid4()}"
    assert chat(host, "llama3.1:8b", content=content, request_id=first_id)[0] == 200
    status, headers, _ = chat(host, "llama3.1:8b", content=content, request_id=second_id)
    assert status == 200
    assert "x-litellm-cache-key:" in headers
    assert wait_for_log(host, first_id)[0]["cache_hit"] is False
    assert wait_for_log(host, second_id)[0]["cache_hit"] is True


def test_metrics_need_the_credential(host):
    denied = host.run(f"curl -s -o /dev/null -w '%{{http_code}}' {GATEWAY}/metrics/")
    assert denied.stdout == "401"


def test_metrics_show_requests_tokens_and_redis(host):
    metrics = host.run(f"curl -sS -H 'Authorization: Bearer {KEY}' {GATEWAY}/metrics/").stdout
    for name in (
        "litellm_proxy_total_requests_metric_total",
        "litellm_input_tokens_metric_total",
        "litellm_output_tokens_metric_total",
        "litellm_redis_latency_bucket",
        "litellm_deployment_state",
    ):
        assert f"\n{name}{{" in metrics, name
    assert "client_ip=" not in metrics  # the per-client label is dropped


def requests_counted(host, model):
    metrics = host.run(f"curl -sS -H 'Authorization: Bearer {KEY}' {GATEWAY}/metrics/").stdout
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("litellm_proxy_total_requests_metric_total{")
        and f'requested_model="{model}"' in line
        and 'status_code="200"' in line
    )


def test_metrics_add_up_across_workers(host):
    """With two workers, every request is counted whichever worker served it and answered the scrape."""
    before = requests_counted(host, "qwen-coder-vllm")
    for i in range(20):
        assert chat(host, "qwen-coder-vllm", content=f"count {uuid.uuid4()} {i}")[0] == 200
    host.run("sleep 1")
    assert requests_counted(host, "qwen-coder-vllm") - before == 20
    # prometheus_client keeps one file per process and metric type: two workers wrote their own
    files = host.run("ls /run/litellm/metrics").stdout.split()
    assert len({name.rsplit("_", 1)[-1] for name in files if name.startswith("counter_")}) >= 2, files


def test_log_loses_no_line_when_rotated_mid_run(host):
    """N concurrent requests, logrotate forced halfway: the log files hold exactly N lines of them."""
    run_id = uuid.uuid4().hex[:8]
    script = (Path(__file__).parent / "rotation_load.py").read_text()
    result = host.run(f"python3 - {GATEWAY} {KEY} {run_id} 80 <<'EOF'\n{script}\nEOF")
    assert result.rc == 0, result.stderr
    host.run("sleep 2")
    text = host.run(f"cat {LOG} {LOG}.1").stdout
    ids = [json.loads(line)["request_id"] for line in text.splitlines() if line.strip()]
    ours = [i for i in ids if i.startswith(f"rot-{run_id}-")]
    assert len(ours) == 80
    assert len(set(ours)) == 80
    assert host.file(f"{LOG}.1").exists  # the rotation really happened
