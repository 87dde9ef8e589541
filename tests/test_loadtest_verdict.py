"""loadtest-verdict: thresholds judged once on the pooled raw requests of every load host."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_analyze_logs import rec

from llmobs.cli import UsageError
from llmobs.loadtesting import loadtest_verdict as verdict
from llmobs.measuring import HTTP, Sample
from llmobs.profiling import export
from llmobs.profiling.run import Measurement, Planned, Record


def host_export(
    host: str, latencies_ms: list[float], failed: int = 0, problems: list[str] | None = None
) -> dict:
    """An export as a load host writes it: each request's times on that host's own clock."""
    records = []
    for n, latency in enumerate(latencies_ms):
        sample = Sample(f"{host}-{n}", "m1" if n % 2 else "m2", False, 100.0 + n, sent=100.0 + n)
        sample.end, sample.status = sample.sent + latency / 1000, 200
        if n < failed:
            sample.error, sample.status, sample.detail = HTTP, 500, "boom"
        records.append(Record(Planned(sample.model, b"", False), sample))
    measurement = Measurement(records=records, started=100.0, finished=100.0 + len(latencies_ms) + 1)
    checks = {"valid": not problems, "problems": problems or []}
    data = export.export("locust", "http://gw:4000", {}, measurement, checks, "run-1", [])
    data["manifest"]["host"] = host
    return json.loads(json.dumps(data))  # as read back from a file


def cli(tmp_path: Path, exports: list[dict], *args: str) -> subprocess.CompletedProcess:
    paths = []
    for i, data in enumerate(exports):
        path = tmp_path / f"host{i}.json"
        path.write_text(json.dumps(data))
        paths.append(str(path))
    command = [sys.executable, "-m", "llmobs.loadtesting.loadtest_verdict", *paths, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_percentiles_come_from_the_pooled_requests_never_from_averaged_hosts(tmp_path):
    fast, slow = host_export("loadgen1", [100.0] * 10), host_export("loadgen2", [1000.0] * 10)
    # averaging the hosts' P95 would give 550 ms and pass; the pool's P95 is 1000 ms
    result = cli(
        tmp_path, [fast, slow], "--threshold", "p95_latency_ms<600", "--threshold", "p50_latency_ms<=1000"
    )
    assert result.returncode == 1, result.stderr
    assert "FAIL p95_latency_ms<600  (measured: 1000)" in result.stdout
    assert "ok   p50_latency_ms<=1000" in result.stdout
    assert "verdict: FAILED (p95_latency_ms<600)" in result.stdout
    passed = cli(tmp_path, [fast, slow], "--threshold", "p95_latency_ms<1001", "--threshold", "rps>1")
    assert passed.returncode == 0 and "verdict: PASSED (2 thresholds met, 2 hosts)" in passed.stdout


def test_the_default_gate_is_the_success_rate_and_failures_are_counted_per_model(tmp_path):
    result = cli(tmp_path, [host_export("a", [50.0] * 20, failed=1), host_export("b", [50.0] * 20)], "--json")
    data = json.loads(result.stdout)
    assert result.returncode == 1
    assert data["thresholds"] == [{"threshold": "success_rate>=0.99", "value": 0.975, "met": False}]
    assert data["summary"]["error_rate"] == 0.025 and data["summary"]["requests"] == 40
    assert [(m["model"], m["requests"], m["failed"]) for m in data["models"]] == [
        ("m1", 20, 0),
        ("m2", 20, 1),
    ]


def test_a_host_that_could_not_be_trusted_makes_the_run_not_valid(tmp_path):
    busy = host_export("loadgen2", [50.0] * 10, problems=["the client used 97% of a CPU"])
    result = cli(tmp_path, [host_export("loadgen1", [50.0] * 10), busy])
    assert result.returncode == 1
    assert "NOT VALID: loadgen2 #2: the client used 97% of a CPU" in result.stdout
    assert "verdict: NOT VALID" in result.stdout


def test_what_the_playbook_saw_makes_the_run_not_valid_on_the_page_too(tmp_path):
    page = tmp_path / "report.html"
    stopped = "loadgen2: stopped by the kill switch (loadtest-stop.yml) at 2026-11-30T09:00:00Z"
    result = cli(tmp_path, [host_export("loadgen1", [50.0] * 10)], "--problem", stopped, "--html", str(page))
    assert result.returncode == 1
    assert f"NOT VALID: {stopped}" in result.stdout and "verdict: NOT VALID" in result.stdout
    assert "stopped by the kill switch" in page.read_text()


def test_a_threshold_nothing_measured_fails_and_the_page_shows_the_thresholds(tmp_path):
    page = tmp_path / "report.html"
    result = cli(
        tmp_path, [host_export("a", [50.0] * 4)], "--threshold", "p95_ttft_ms<2000", "--html", str(page)
    )
    assert result.returncode == 1 and "FAIL p95_ttft_ms<2000  (measured: no data)" in result.stdout
    html = page.read_text()
    assert (
        '<div id="thresholds" class="verdict invalid">FAILED</div>' in html and "p95_ttft_ms&lt;2000" in html
    )


@pytest.mark.parametrize(
    ("given_", "said"),
    [
        ("p95<5", "no metric 'p95'"),
        ("p95_latency_ms=5", "not METRIC<VALUE"),
        ("p95_latency_ms<nan", "not METRIC<VALUE"),
        ("p95_latency_ms<1e999", "not METRIC<VALUE"),
    ],
)
def test_a_bad_threshold_is_a_usage_error(tmp_path, given_, said):
    result = cli(tmp_path, [host_export("a", [50.0])], "--threshold", given_)
    assert result.returncode == 2 and said in result.stderr and "Traceback" not in result.stderr


def test_a_file_that_is_not_an_export_is_a_usage_error(tmp_path):
    (tmp_path / "x.json").write_text("[1, 2")
    result = subprocess.run(
        [sys.executable, "-m", "llmobs.loadtesting.loadtest_verdict", str(tmp_path / "x.json")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr


@given(st.text(max_size=80))
def test_any_threshold_text_is_a_threshold_or_one_usage_error(text):
    try:
        threshold = verdict.parse_threshold(text)
    except UsageError as error:
        assert str(error).startswith("--threshold ")
    else:
        assert threshold.metric in verdict.metric_names() and threshold.op in ("<", "<=", ">", ">=")


def test_each_request_is_joined_with_the_gateways_record_of_it(tmp_path):
    host = host_export("loadgen1", [300.0] * 6)  # requests loadgen1-0 ... loadgen1-5, 300 ms each
    log = tmp_path / "gateway1" / "requests.log"
    log.parent.mkdir()
    lines = [
        json.dumps(
            rec(n, f"loadgen1-{n}", latency_ms=250.0, upstream_latency_ms=200.0, deployment=deployment)
        )
        for n, deployment in ((0, "vllm-gpu1/qwen"), (1, "vllm-gpu1/qwen"), (2, "ollama-gpu1/llama"))
    ]
    log.write_text("\n".join([*lines, "{damaged", json.dumps(rec(9, "someone-else"))]) + "\n")
    result = cli(tmp_path, [host], "--gateway-log", str(log.parent), "--json")
    hops = json.loads(result.stdout)["hops"]
    assert (hops["sent"], hops["joined"], hops["missing"], hops["rejected_log_lines"]) == (6, 3, 3, 1)
    qwen = next(row for row in hops["deployments"] if row["deployment"] == "vllm-gpu1/qwen")
    # 300 ms at the client, 250 in the gateway's clock of which 200 upstream
    assert (qwen["requests"], qwen["p50_client_ms"], qwen["p50_before_gateway_ms"]) == (2, 300.0, 50.0)
    assert (qwen["p50_in_gateway_ms"], qwen["p50_upstream_ms"]) == (50.0, 200.0)
    text = cli(tmp_path, [host], "--gateway-log", str(log), "--html", str(tmp_path / "r.html")).stdout
    assert (
        "joined with the gateways' logs: 3 of 6 requests (3 not in the logs given); 1 log lines rejected"
        in text
    )
    assert "3 of 6 requests found in the gateways" in (tmp_path / "r.html").read_text()
    missing = cli(tmp_path, [host], "--gateway-log", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "--gateway-log: " in missing.stderr
