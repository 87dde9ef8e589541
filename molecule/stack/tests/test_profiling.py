"""The guide's profiling layer on the lab, as an operator runs it from the control node:
playbooks/profile.yml installs the tools on both load hosts, each measures its gateway (loadgen1
gateway1, loadgen2 gateway2), the exports come home to results/<run_id>/<host>/ and one report
merges their raw requests. The client's request ids join the gateways' request logs."""

import json
import re
import statistics

import pytest
from lab_access import PROJECT, lab, log_records, playbook

from llmobs.waiting import wait_until

MODEL = "llama-3.2-3b-llamacpp"
ITERATIONS = 6
LOADGEN = ("loadgen1", "loadgen2")


@pytest.fixture(scope="module")
def profiled() -> dict:
    flags = ["--model", MODEL, "--iterations", str(ITERATIONS), "--warmup", "1", "--max-tokens", "16"]
    args = {"profile_args": flags}
    run = playbook("profile.yml", "-e", "profile_tool=latency", "-e", json.dumps(args))
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    found = re.search(r"results/([^/\s]+)/report\.html", run.stdout)
    assert found, run.stdout[-3000:]
    folder = PROJECT / "results" / found.group(1)
    exports = {host: json.loads((folder / host / "latency.json").read_text()) for host in LOADGEN}
    return {"run": run, "folder": folder, "exports": exports, "run_id": found.group(1)}


def test_every_load_host_measured_its_gateway_through_the_real_litellm(profiled):
    for host, gateway in (("loadgen1", "gateway1"), ("loadgen2", "gateway2")):
        data = profiled["exports"][host]
        facts = lab(gateway).ansible("setup", "gather_subset=network")["ansible_facts"]
        assert data["manifest"]["url"] == f"http://{facts['ansible_default_ipv4']['address']}:4000"
        assert data["manifest"]["host"] == host and data["manifest"]["run_id"] == profiled["run_id"]
        assert data["summary"]["requests"] == ITERATIONS and data["summary"]["success_rate"] == 1.0
        # LiteLLM's headers: its version, the deployment that answered, its overhead and the network time
        assert data["manifest"]["gateway_version"]
        assert [(d["provider"], d["model_id"]) for d in data["manifest"]["deployments"]] == [
            ("llamacpp", f"llamacpp/{MODEL}")
        ]
        summary = data["summary"]
        assert summary["p50_overhead_ms"] is not None and summary["p50_network_ms"] is not None
        assert data["summary"]["p50_ttft_ms"] > 0 and data["summary"]["median_output_tokens"] == 16
        assert all(row["echoed_id"] == row["request_id"] for row in data["requests"])


def test_one_report_merges_the_raw_requests_of_both_hosts(profiled):
    report = profiled["folder"] / "report.html"
    page = report.read_text()
    assert "loadgen1 #1" in page and "loadgen2 #2" in page and "<svg" in page
    assert f"{2 * ITERATIONS} of {2 * ITERATIONS} requests succeeded" in profiled["run"].stdout


def test_the_clients_requests_join_the_gateways_log_hop_by_hop(profiled):
    """Each measured request of loadgen1 is in gateway1's log by the id the client sent. Its
    TTFTs nest: the client's holds the gateway's own (gateway_ttft_ms, from the request's arrival in
    its HTTP server to the first token handed to it), which holds LiteLLM's stamps (queue_ms,
    authentication and pre-call hooks, plus ttft_ms); the network alone is what the client's has
    on top of the gateway's."""
    rows = [r for r in profiled["exports"]["loadgen1"]["requests"] if not r["warmup"]]
    run_id = profiled["run_id"]
    records = {
        record["request_id"]: record
        for record in wait_until(
            lambda: log_records(lab("gateway1"), f"profile-{run_id}-"),
            20,
            f"gateway1's log to record the requests of run {run_id}",
            until=lambda found: len(found) >= len(rows),
        )
    }
    gaps = []
    for row in rows:
        record = records[row["request_id"]]
        assert record["requested_model"] == MODEL and record["status"] == "success"
        client_ttft = row["first_token_ms"] - row["sent_ms"]
        assert None not in (record["ttft_ms"], record["queue_ms"], record["gateway_ttft_ms"]), record
        assert client_ttft >= record["gateway_ttft_ms"] >= record["queue_ms"] + record["ttft_ms"] - 0.01
        gaps.append(client_ttft - record["gateway_ttft_ms"])
    print(
        f"client TTFT - gateway_ttft_ms (the network): median {statistics.median(gaps):.3f} ms,",
        sorted(gaps),
    )


def test_a_run_longer_than_its_time_limit_is_stopped():
    args = {"profile_args": ["--model", MODEL, "--iterations", "100000"]}
    run = playbook("profile.yml", "-e", "profile_timeout_s=5", "-e", json.dumps(args), timeout=300)
    assert run.returncode != 0
    output = run.stdout + run.stderr  # where the failure goes depends on the callback's settings
    assert "stopped at its time limit (profile_timeout_s=5 s)" in output, output[-3000:]
    for name in ("loadgen1", "loadgen2"):  # systemd stopped the unit: nothing of it runs on
        assert f"fatal: [{name}]: FAILED!" in output
        assert lab(name).run("systemctl list-units --no-legend 'llmobs-load-*'").stdout.strip() == ""
