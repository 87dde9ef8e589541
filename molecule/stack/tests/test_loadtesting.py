"""The load-testing layer on the lab: the locust role's Locust, locustfile and traffic mix on the
load hosts, run with the guide's headless line against a real gateway."""

import json

import pytest
from lab_access import KEY, lab, log_records

from llmobs.profiling import export
from llmobs.waiting import wait_until

MIX = [["llama3.1:8b", 60.0], ["qwen-coder-vllm", 25.0], ["llama-3.2-3b-llamacpp", 15.0]]
SAMPLES = "/tmp/locust-samples.json"


@pytest.fixture(scope="module")
def gateway1_address() -> str:
    facts = lab("gateway1").ansible("setup", "gather_subset=network")["ansible_facts"]
    return facts["ansible_default_ipv4"]["address"]


def test_the_role_installs_locust_the_locustfile_and_the_inventorys_mix():
    host = lab("loadgen2")
    assert host.run("locust --version").stdout.startswith("locust 2.47.0")
    assert host.file("/opt/locust/share/loadtesting/litellm_locustfile.py").exists
    assert json.loads(host.file("/etc/llmobs/traffic-mix.json").content_string) == MIX


@pytest.fixture(scope="module")
def swarm(gateway1_address) -> dict:
    """The guide's headless line (a few users for a few seconds) from loadgen1 to gateway1."""
    host = lab("loadgen1")
    command = (
        f"cd /opt/locust/share/loadtesting && LITELLM_API_KEY={KEY} "
        "timeout 120 locust -f litellm_locustfile.py "
        f"--host http://{gateway1_address}:4000 --users 4 --spawn-rate 4 --run-time 8s --headless "
        f"--html /tmp/locust-report.html --samples {SAMPLES} --run-id lab-locust --max-tokens 16 "
        "--stream-share 0.5"
    )
    result = host.run(command)
    assert result.rc == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return {"data": export.checked(json.loads(host.file(SAMPLES).content_string)), "result": result}


def test_the_guides_headless_run_measures_the_real_gateway(swarm):
    data = swarm["data"]
    rows = data["requests"]
    assert rows and all(r["error"] is None and r["status"] == 200 for r in rows)
    assert {r["model"] for r in rows} <= {model for model, _ in MIX}
    streamed = [r for r in rows if r["stream"]]
    assert all(r["first_token_ms"] is not None and r["output_tokens"] == 16 for r in streamed)
    # LiteLLM's headers: the deployment that answered each request
    assert all(r["gateway"].get("model_id", "").endswith(r["model"]) for r in rows)
    assert lab("loadgen1").file("/tmp/locust-report.html").contains("TTFT")


def test_each_locust_request_is_in_the_gateways_request_log(swarm):
    rows = swarm["data"]["requests"]
    assert all(r["echoed_id"] == r["request_id"] for r in rows)
    sent = {r["request_id"] for r in rows}
    wait_until(  # the gateway's writer thread writes each line just after the answer
        lambda: sent <= {r.get("request_id") for r in log_records(lab("gateway1"), "lab-locust-")},
        30,
        "gateway1's request log to hold every request Locust sent",
    )


def test_without_a_key_the_run_stops_at_once_saying_so(gateway1_address):
    command = (
        "cd /opt/locust/share/loadtesting && timeout 60 locust -f litellm_locustfile.py "
        f"--host http://{gateway1_address}:4000 --users 1 --run-time 5s --headless"
    )
    result = lab("loadgen2").run(command)
    said = result.stdout + result.stderr
    assert result.rc == 2, said[-2000:]
    # LiteLLM 1.108.7 answers a request without a key with a 500 (its error handler imports prisma,
    # which a gateway without a database lacks), not a 401: the line says what can be known
    assert f"litellm_locustfile: the gateway at http://{gateway1_address}:4000 " in said
    assert "none found in --key, $LITELLM_API_KEY" in said
