"""What an operator sees on the five-host lab after site.yml."""

import json
import shlex
import urllib.request
import uuid

import pytest
from lab_access import KEY, MIRROR, lab, prometheus, secret

from llmobs.waiting import wait_until

PASSWORD = secret("redis_password")


def redis_says(client, *commands: str) -> str:
    """Talk RESP to Redis on monitor1 from another host, with nothing but bash."""
    payload = "".join(f"{c}\\r\\n" for c in commands)
    script = (
        "exec 3<>/dev/tcp/monitor1/6379; "
        f"printf '{payload}' >&3; "
        f'for i in $(seq {len(commands)}); do read -t 10 line <&3; echo "$line"; done'
    )
    return client.run(f"bash -c {shlex.quote(script)}").stdout


def test_every_host_boots_systemd_without_failed_units(host):
    state = host.run("systemctl is-system-running").stdout.strip()
    assert state == "running", host.run("systemctl --failed --no-legend").stdout


def test_every_host_reaches_the_artefact_mirror(host):
    assert host.run(f"curl -fsS {MIRROR}/SHA256SUMS").stdout.count("wheels/") >= 1


def test_redis_serves_other_hosts_only_with_the_password():
    gateway = lab("gateway1")
    assert "NOAUTH" in redis_says(gateway, "PING")
    assert redis_says(gateway, f"AUTH {PASSWORD}", "PING").split() == ["+OK", "+PONG"]


def test_redis_exporter_is_reachable_for_prometheus_on_the_lab_network():
    metrics = lab("loadgen1").run("curl -fsS http://monitor1:9121/metrics").stdout
    assert "\nredis_up 1\n" in metrics


def test_redis_runs_only_on_the_redis_host():
    assert lab("monitor1").service("redis-server").is_running
    for name in ("gateway1", "gateway2", "loadgen1", "loadgen2"):
        assert not lab(name).package("redis-server").is_installed


MODELS = ["llama3.1:8b", "qwen-coder-vllm", "llama-3.2-3b-llamacpp"]


def ask(client, gateway: str, model: str, content: str) -> dict:
    """A short chat completion from one lab host to a gateway, over the lab network."""
    body = json.dumps({"model": model, "max_tokens": 8, "messages": [{"role": "user", "content": content}]})
    out = client.run(
        f"curl -sS -D /tmp/h -H 'Authorization: Bearer {KEY}' -H 'Content-Type: application/json' "
        f"-d {shlex.quote(body)} http://{gateway}:4000/v1/chat/completions"
    )
    return {"reply": json.loads(out.stdout), "headers": client.file("/tmp/h").content_string.lower()}


@pytest.mark.parametrize("gateway", ["gateway1", "gateway2"])
@pytest.mark.parametrize("model", MODELS)
def test_every_gateway_serves_every_model_to_the_load_generators(gateway, model):
    result = ask(lab("loadgen1"), gateway, model, f"hello {uuid.uuid4()}")
    assert result["reply"]["choices"][0]["message"]["content"]


def test_gateways_share_the_redis_cache():
    """LiteLLM writes the cache in a background task after answering: the same prompt on the other
    gateway is a hit as soon as the write has landed in Redis (bounded)."""
    content = f"shared cache {uuid.uuid4()}"
    first = ask(lab("loadgen1"), "gateway1", "llama3.1:8b", content)
    assert "x-litellm-cache-key" not in first["headers"]
    second = wait_until(
        lambda: ask(lab("loadgen2"), "gateway2", "llama3.1:8b", content),
        20,
        "gateway2 to answer gateway1's prompt from the shared cache",
        until=lambda answer: "x-litellm-cache-key" in answer["headers"],
    )
    assert (
        second["reply"]["choices"][0]["message"]["content"]
        == first["reply"]["choices"][0]["message"]["content"]
    )


def test_gateway_is_published_on_the_control_nodes_loopback():
    with urllib.request.urlopen("http://127.0.0.1:4000/health/liveliness", timeout=10) as response:
        assert response.status == 200


def test_prometheus_on_monitor1_scrapes_every_host_by_name():
    expected = (
        {("node", name) for name in ("gateway1", "gateway2", "monitor1", "loadgen1", "loadgen2")}
        | {(job, name) for job in ("litellm", "vllm") for name in ("gateway1", "gateway2")}
        | {("redis", "monitor1"), ("alertmanager", "monitor1"), ("prometheus", "monitor1")}
    )

    def health() -> dict:
        targets = prometheus("/api/v1/targets")["activeTargets"]
        return {(t["labels"]["job"], t["labels"]["instance"]): (t["health"], t["lastError"]) for t in targets}

    all_up = dict.fromkeys(expected, ("up", ""))
    wait_until(health, 60, "every target up, named after its host", until=all_up.__eq__)
