"""The guide's debugging workflow on the lab, as an operator runs it from the control node.

A request with a known id goes out through test-request; the llama.cpp backend of gateway1 is
made to fail a known number of requests; fetch-logs.yml brings both gateways' logs home; then
analyze-logs must find the request by its id and count exactly the injected failures, and
test-routing.yml must fail while a backend is broken and pass once it is back.
"""

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import pytest
from lab_access import KEY, PROJECT, faults, lab, logged, playbook

from llmobs.waiting import wait_until

RUN = uuid.uuid4().hex[:8]
TRACED_ID = f"stack-{RUN}"
FAILING_MODEL = "llama-3.2-3b-llamacpp"
INJECTED = 5
GATEWAY1 = "http://127.0.0.1:4000"  # gateway1 and gateway2, published on the control node's loopback
GATEWAY2 = "http://127.0.0.1:4001"


def tool(name: str, *args: str) -> subprocess.CompletedProcess:
    """One of the guide's scripts, run from the clone as the guide shows."""
    script = PROJECT / "scripts" / "debugging" / f"{name}.py"
    return subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=180, check=False
    )


@pytest.fixture(scope="module")
def incident(tmp_path_factory) -> dict:
    start = datetime.now(UTC).isoformat()
    traced = tool(
        "test-request",
        *("--url", GATEWAY1, "--key", KEY, "--model", "llama3.1:8b", "--request-id", TRACED_ID),
        *("--metadata", '{"project": "stack-test"}', "--json"),
    )
    served_by_gateway2 = tool("test-request", "--url", GATEWAY2, "--key", KEY)  # a log on both gateways
    assert served_by_gateway2.returncode == 0, served_by_gateway2.stderr
    failing_ids = [f"fail-{RUN}-{i}" for i in range(INJECTED)]
    faults("gateway1", FAILING_MODEL, {"error_rate": 1.0, "status": 500})
    try:
        failed = [
            tool("test-request", "--url", GATEWAY1, "--key", KEY, "--model", FAILING_MODEL, "--request-id", i)
            for i in failing_ids
        ]
    finally:
        faults("gateway1", FAILING_MODEL, {"reset": True})
    # the gateway's log writer is a background thread: fetch once every request is written
    for request_id in (TRACED_ID, *failing_ids):
        logged(lab("gateway1"), request_id)
    dest = tmp_path_factory.mktemp("logs")
    fetched = playbook("fetch-logs.yml", "-e", f"fetch_logs_dest={dest}")
    return {"start": start, "traced": traced, "failed": failed, "dest": dest, "fetched": fetched}


def analyze(incident: dict, *args: str) -> dict:
    dest = incident["dest"]
    result = tool("analyze-logs", str(dest / "gateway1"), str(dest / "gateway2"), "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_test_request_shows_the_id_it_sent_echoed_by_the_gateway(incident):
    result = incident["traced"]
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert json.dumps(shown).count(TRACED_ID) >= 2  # sent and echoed
    assert all(r.returncode == 1 for r in incident["failed"]), [r.stderr for r in incident["failed"]]


def test_fetch_logs_brings_every_gateways_log_home_with_a_report(incident):
    fetched = incident["fetched"]
    assert fetched.returncode == 0, fetched.stdout[-3000:] + fetched.stderr[-2000:]
    dest = incident["dest"]
    for gateway in ("gateway1", "gateway2"):
        assert (dest / gateway / "requests.log").stat().st_size > 0
    assert "error" in (dest / "report.txt").read_text().lower()


def test_analyze_logs_traces_the_request_by_its_id_across_gateways(incident):
    report = analyze(incident, "--trace", TRACED_ID)
    [match] = report["matches"]
    assert match["record"]["host"] == "gateway1"
    assert match["record"]["request_id"] == TRACED_ID
    assert match["record"]["metadata"] == {"project": "stack-test"}


def test_analyze_logs_counts_exactly_the_injected_failures(incident):
    report = analyze(incident, "--errors", "--since", incident["start"], "--model", FAILING_MODEL)
    patterns = report["errors"]["top"]
    assert sum(p["count"] for p in patterns) == INJECTED, patterns
    assert {(p["provider"], p["http_status"]) for p in patterns} == {("llamacpp", 500)}


def test_test_routing_fails_on_a_broken_backend_and_passes_once_it_is_back(incident):
    faults("gateway2", FAILING_MODEL, {"error_rate": 1.0, "status": 500})
    try:
        broken = playbook("test-routing.yml")
    finally:
        faults("gateway2", FAILING_MODEL, {"reset": True})
    assert broken.returncode != 0
    assert FAILING_MODEL in broken.stdout
    healthy = playbook("test-routing.yml")
    assert healthy.returncode == 0, healthy.stdout[-3000:]


def test_tail_requests_on_a_gateway_shows_requests_as_they_come():
    """What `ssh gateway1 tail-requests.py` shows: here through the same connection Ansible uses."""
    gateway = lab("gateway1")
    wanted = f"tail-{RUN}"
    gateway.run(
        f"nohup tail-requests.py --for 15 --request-id {wanted} --json > /tmp/tail.out 2>&1 & "
        "echo $! > /tmp/tail.pid"
    )
    # it follows from the end of the log: send only once it has the log open
    opened = gateway.run(
        "for i in $(seq 100); do ls -l /proc/$(cat /tmp/tail.pid)/fd 2>/dev/null | grep -q requests.log "
        "&& exit 0; sleep 0.2; done; exit 1"
    )
    assert opened.rc == 0, "tail-requests.py did not open the log within 20 s"
    sent = tool("test-request", "--url", GATEWAY1, "--key", KEY, "--request-id", wanted)
    assert sent.returncode == 0, sent.stderr
    lines = wait_until(
        lambda: [json.loads(line) for line in gateway.file("/tmp/tail.out").content_string.splitlines()],
        60,
        "tail-requests.py to end its 15 s with a summary",
        until=lambda lines: any("summary" in line for line in lines),
    )
    shown = [line for line in lines if line.get("request_id") == wanted]
    assert len(shown) == 1 and shown[0]["host"] == "gateway1", lines


def test_test_request_lists_models_and_streams_through_the_real_gateway():
    listed = tool("test-request", "--url", GATEWAY1, "--key", KEY, "--list-models")
    assert listed.returncode == 0, listed.stderr
    assert all(model in listed.stdout for model in ("llama3.1:8b", "qwen-coder-vllm", FAILING_MODEL))
    streamed = tool("test-request", "--url", GATEWAY1, "--key", KEY, "--model", FAILING_MODEL, "--stream")
    assert streamed.returncode == 0, streamed.stderr
    assert "TTFT" in streamed.stdout and "tokens/s" in streamed.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--url", "http://127.0.0.1:1"), ["cannot reach the gateway at http://127.0.0.1:1"]),
        (("--url", GATEWAY1, "--key", "sk-not-the-master-key"), ["refused the key from --key"]),
        (
            ("--url", GATEWAY1, "--key", KEY, "--model", "no-such-model"),
            ["unknown model 'no-such-model'", "llama3.1:8b", FAILING_MODEL],
        ),
    ],
    ids=["unreachable", "wrong-key", "unknown-model"],
)
def test_test_request_explains_what_went_wrong_in_one_line(args, says):
    result = tool("test-request", *args)
    assert result.returncode == 1
    assert all(text in result.stderr for text in says), result.stderr
