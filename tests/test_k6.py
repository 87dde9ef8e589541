"""The guide's k6 scripts, run by the real k6 1.1.0 (lab/k6.sh) against the simulator on loopback
for a few seconds each, and k6-export, which turns their raw points into the profiling schema."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmobs.loadtesting import k6
from llmobs.profiling import export
from llmobs.simulator.profile import parse_profile
from llmobs.simulator.server import BackgroundSimulator

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts" / "loadtesting" / "k6"
K6 = ROOT / ".cache" / "tools" / "k6"
MODEL = {"ttft_ms": 30, "tokens_per_second": 400, "output_tokens": 8, "batch_capacity": 0}

needs_k6 = pytest.mark.skipif(not K6.is_file(), reason=f"no k6 at {K6}: run lab/k6.sh (make unit does)")


@pytest.fixture(scope="module")
def gateway():
    profile = parse_profile(
        {"seed": 1, "models": {"a": MODEL, "b": MODEL, "slow": {**MODEL, "ttft_ms": 400}}}
    )
    with BackgroundSimulator(profile, "openai") as sim:
        yield f"http://127.0.0.1:{sim.port}"


def k6_run(gateway: str, folder: Path, script: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    settings_ = {"LITELLM_URL": gateway, "RUN_ID": "t1", "HOST": "lg1", "MIX_FILE": "/nonexistent"}
    settings_ |= {"SUMMARY_FILE": str(folder / "summary.json"), **env}
    flags = [f"-e{k}={v}" for k, v in settings_.items()]
    command = [str(K6), "run", "--quiet", "--out", f"json={folder / 'points.json'}", *flags, *args, script]
    environment = {"PATH": os.environ["PATH"], "K6_NO_USAGE_REPORT": "true"}  # k6 phones home otherwise
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=SCRIPTS, env=environment)


def k6_export(folder: Path) -> dict:
    out = folder / "k6.json"
    command = [sys.executable, "-m", "llmobs.loadtesting.k6", str(folder / "points.json"), "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return export.checked(export.read(out))


@needs_k6
def test_smoke_sends_the_mix_with_an_id_per_request_that_the_server_received(gateway, tmp_path):
    result = k6_run(gateway, tmp_path, "smoke-test.js", VUS="2", DURATION="3s", MODELS="a=3,b=1")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["metrics"]["http_req_failed"]["thresholds"] == {"rate<0.01": {"ok": True}}
    assert summary["metrics"]["llm_output_tokens"]["values"]["count"] > 0
    data = k6_export(tmp_path)
    rows = data["requests"]
    assert data["tool"] == "k6" and data["validity"]["valid"], data["validity"]
    assert rows and {r["model"] for r in rows} <= {"a", "b"}
    assert all(
        r["status"] == 200 and r["output_tokens"] == 8 and r["request_id"].startswith("t1-lg1-") for r in rows
    )
    assert all(
        r["sent_ms"] < r["first_byte_ms"] <= r["end_ms"] and r["end_ms"] - r["sent_ms"] >= 30 for r in rows
    )
    with urllib.request.urlopen(f"{gateway}/admin/timings", timeout=10) as answer:
        received = {row["id"] for row in json.load(answer)["requests"]}
    assert {r["request_id"] for r in rows} <= received  # each id reached the server: the join key


@needs_k6
def test_a_crossed_threshold_fails_the_run_and_the_failures_keep_their_status(gateway, tmp_path):
    fault = json.dumps({"model": "b", "error_rate": 1.0, "status": 500}).encode()
    request = urllib.request.Request(f"{gateway}/admin/faults", fault, {"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).close()
    try:
        result = k6_run(gateway, tmp_path, "smoke-test.js", VUS="2", DURATION="2s", MODELS="b")
    finally:
        urllib.request.urlopen(urllib.request.Request(f"{gateway}/admin/faults", method="DELETE")).close()
    assert result.returncode == 99  # k6: a threshold was crossed
    assert "FAILED: rate<0.01" in result.stdout
    rows = k6_export(tmp_path)["requests"]
    assert rows and {(r["error"], r["status"]) for r in rows} == {("http", 500)}


@needs_k6
def test_the_guides_vus_and_duration_flags_replace_the_scenarios(gateway, tmp_path):
    result = k6_run(gateway, tmp_path, "litellm-load-test.js", "--vus", "2", "--duration", "2s", MODELS="a")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert k6_export(tmp_path)["requests"]


@needs_k6
def test_a_scenario_that_does_not_exist_is_named(gateway, tmp_path):
    result = k6_run(gateway, tmp_path, "litellm-load-test.js", SCENARIO="nope", MODELS="a")
    assert result.returncode != 0
    assert "SCENARIO=nope: one of gradual_load, spike_test, constant_load, all, stress, soak" in result.stderr


@needs_k6
def test_too_few_vus_for_the_arrival_rate_make_the_run_not_valid(gateway, tmp_path):
    """constant_load at 20 requests/s with one VU against a 400 ms model: k6 drops iterations."""
    env = {
        "SCENARIO": "constant_load",
        "RATE": "20",
        "CONSTANT_S": "2",
        "PREALLOCATED_VUS": "1",
        "MODELS": "slow",
    }
    result = k6_run(gateway, tmp_path, "litellm-load-test.js", **env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    checks = k6_export(tmp_path)["validity"]
    assert checks["dropped_iterations"] > 0 and not checks["valid"]
    assert any("k6 dropped" in p and "PREALLOCATED_VUS" in p for p in checks["problems"])


@needs_k6
def test_an_arrival_rate_scenario_paces_itself_without_pausing(gateway, tmp_path):
    """5 VUs (10 at most) keep 10 requests/s against a 50 ms model only if nothing sleeps 1-3 s after a
    request: sleeping, 10 VUs send about 5 per second."""
    env = {
        "SCENARIO": "constant_load",
        "RATE": "10",
        "CONSTANT_S": "3",
        "PREALLOCATED_VUS": "2",
        "MODELS": "a",
    }
    result = k6_run(gateway, tmp_path, "litellm-load-test.js", **env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    data = k6_export(tmp_path)
    assert data["validity"]["dropped_iterations"] == 0 and len(data["requests"]) >= 25


def test_k6_export_says_when_there_is_nothing_to_read(tmp_path):
    (tmp_path / "points.json").write_text('{"type": "Metric", "data": {}, "metric": "vus"}\n')
    command = [
        sys.executable,
        "-m",
        "llmobs.loadtesting.k6",
        str(tmp_path / "points.json"),
        "--out",
        "x.json",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "no request of the bundle's k6 scripts" in result.stderr


POINT = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["Point", "Metric", "x"]),
        "metric": st.sampled_from([*k6.TIMINGS, "dropped_iterations", "llm_output_tokens", "other"]),
        "data": st.fixed_dictionaries(
            {
                "time": st.one_of(st.text(max_size=40), st.just("2026-11-30T06:22:27.500267165Z")),
                "value": st.one_of(st.floats(), st.integers(), st.text(max_size=5), st.none()),
                "tags": st.dictionaries(
                    st.sampled_from(["call_id", "model", "status", "error_code"]),
                    st.one_of(st.text(max_size=20), st.integers(), st.none()),
                ),
            }
        ),
    }
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(POINT.map(lambda p: json.dumps(p).encode()), st.binary(max_size=100)), max_size=30))
def test_any_points_file_gives_requests_or_counted_rejects_never_a_crash(lines):
    points = k6.Points()
    for line in lines:
        points.add(line)
    assert points.lines == len(lines) and points.rejected <= len(lines)
    for call_id, request in points.requests.items():
        sample = k6.sample_of(call_id, request, 0.0)
        assert sample is None or (sample.end is not None and sample.end >= sample.sent)
