"""profile-throughput, compare-providers, check-regression and the guide's regression-test.sh, as
a user runs them, against the real simulator. The simulator's answers take hundreds of
milliseconds, so that a busy test machine (its stamps a few ms late) cannot change what is asserted."""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from llmobs.profiling import check_regression as gate
from llmobs.profiling import compare_providers as compare
from llmobs.profiling import profile_throughput as throughput
from llmobs.simulator.profile import parse_profile
from llmobs.simulator.server import BackgroundSimulator

ROOT = Path(__file__).resolve().parents[1]
# 300 ms to the first token, then 5 gaps of 40 ms: 500 ms a request
STEADY = {"ttft_ms": 300, "tokens_per_second": 25, "output_tokens": 6}


@pytest.fixture(autouse=True)
def no_gateway_env(monkeypatch, tmp_path):
    for name in ("LITELLM_URL", "LITELLM_API_KEY", "LITELLM_MASTER_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LLMOBS_SECRETS_DIR", str(tmp_path / "no-secrets"))


def simulator(**models: dict[str, Any]) -> BackgroundSimulator:
    return BackgroundSimulator(parse_profile({"seed": 1, "models": models}), "vllm")


def run_tool(main, args: list[str], out: Path) -> tuple[int, dict[str, Any]]:
    code = main([*args, "--export", str(out)])
    return code, json.loads(out.read_text())


def test_the_sweep_recommends_the_batch_capacity(tmp_path, capsys):
    with simulator(m={**STEADY, "batch_capacity": 4}) as sim:
        args = ["--url", sim.url, "--sweep", "--levels", "1,2,4,8", "--requests", "4"]
        code, data = run_tool(throughput.main, args, tmp_path / "s.json")
    assert data["validity"]["valid"], data["validity"]
    assert code == 0
    levels = {level["concurrency"]: level for level in data["levels"]}
    assert sorted(levels) == [1, 2, 4, 8]  # up to 4 the throughput doubles each level; 8 adds nothing
    # a request takes at least 0.5 s, so c requests at once complete at most c / 0.5 per second
    for c, level in levels.items():
        assert level["rps"] <= min(c, 4) / 0.5 * 1.02
    assert levels[8]["rps"] < 1.1 * levels[4]["rps"] and levels[4]["rps"] > 1.5 * levels[2]["rps"]
    assert data["recommendation"]["concurrency"] == 4 and data["summary"]["optimal_concurrency"] == 4
    assert "throughput stopped growing at concurrency 8" in data["stop_reason"]
    text = capsys.readouterr().out
    assert "recommended concurrency: 4" in text and "c8" in text


def test_with_the_batch_slowdown_the_tpot_slo_sets_the_recommendation(tmp_path):
    # TPOT(c) = 40 ms x (1 + 0.25 (c - 1)): 70 ms at 4, 110 ms at 8; with a TPOT SLO of 80 ms the
    # formula's largest concurrency is floor(1 + (80 / 40 - 1) / 0.25) = 5: between the levels 4 and 8
    model = {**STEADY, "batch_capacity": 16, "batch_slowdown": 0.25}
    with simulator(m=model) as sim:
        args = ["--url", sim.url, "--sweep", "--levels", "2,4,8", "--requests", "4", "--slo-tpot-ms", "80"]
        code, data = run_tool(throughput.main, args, tmp_path / "s.json")
    levels = {level["concurrency"]: level for level in data["levels"]}
    assert data["validity"]["valid"], data["validity"]
    assert 60 <= levels[4]["p95_tpot_ms"] <= 80 < levels[8]["p95_tpot_ms"]
    assert levels[8]["slo_met"] is False and "P95 TPOT" in levels[8]["slo_broken"][0]
    assert data["recommendation"]["concurrency"] == 4 and code == 0
    assert data["stop_reason"].startswith("the SLO broke at concurrency 8")


def test_one_level_and_the_open_loop(tmp_path):
    with simulator(m={**STEADY, "batch_capacity": 0}) as sim:
        code, data = run_tool(
            throughput.main, ["--url", sim.url, "--requests", "12", "--concurrency", "4"], tmp_path / "c.json"
        )
        assert code == (0 if data["validity"]["valid"] else 1)
        (level,) = data["levels"]
        assert level["requests"] == 12 and level["slo_met"] and level["rps"] <= 4 / 0.5 * 1.02
        code, data = run_tool(
            throughput.main,
            ["--url", sim.url, "--rate", "10", "--arrivals", "poisson", "--requests", "20", "--seed", "3"],
            tmp_path / "o.json",
        )
    assert code == (0 if data["validity"]["valid"] else 1), data["validity"]
    (level,) = data["levels"]
    # the Poisson gaps are rescaled to the exact total: 19 gaps over 1.9 s
    intended = sorted(r["intended_ms"] for r in data["requests"])
    assert math.isclose(intended[-1] - intended[0], 1900, abs_tol=1)
    assert data["validity"]["scheduled_rate"] == pytest.approx(10, abs=0.01)
    assert level["p50_latency_from_intended_ms"] >= level["p50_latency_ms"] >= 500
    assert all(r["sent_ms"] >= r["intended_ms"] for r in data["requests"])


def test_compare_interleaves_the_arms_and_gives_the_speedup_with_its_interval(tmp_path, capsys):
    fast = {"ttft_ms": 40, "tokens_per_second": 100, "output_tokens": 6, "batch_capacity": 0}
    with simulator(slow=STEADY, fast=fast) as sim:
        args = ["--url", sim.url, "--models", "slow", "fast", "--iterations", "6"]
        code, data = run_tool(compare.main, args, tmp_path / "c.json")
    assert code == (0 if data["validity"]["valid"] else 1)
    measured = [r for r in data["requests"] if not r["warmup"]]
    # every round has each model once, in its own order
    for start in range(0, len(measured), 2):
        assert {r["model"] for r in measured[start : start + 2]} == {"slow", "fast"}
    slow, fast_ = data["results"]
    assert (slow["model"], fast_["model"]) == ("slow", "fast") and slow["speedup"] == 1.0
    # slow >= 500 ms, fast about 90 ms: fast is several times faster, and the interval says so too
    assert fast_["speedup"] > 3 and fast_["speedup_ci95"][0] > 2 and slow["median_latency_ms"] >= 500
    assert "speedup [95% CI]" in capsys.readouterr().out


def export_with(latencies: list[float], model: str = "m", failed: int = 0) -> dict[str, Any]:
    rows = [
        {"request_id": f"r{i}", "model": model, "stream": False, "status": 200, "error": None, "sent_ms": 0.0}
        | {"intended_ms": 0.0, "first_byte_ms": value, "end_ms": value, "output_tokens": 10}
        for i, value in enumerate(latencies)
    ]
    rows += [
        {"request_id": f"f{i}", "model": model, "stream": False, "status": 500, "error": "http"}
        | {"sent_ms": 0.0, "end_ms": 5.0, "detail": "HTTP 500: boom"}
        for i in range(failed)
    ]
    return {
        "schema": "llmobs.profile/1",
        "manifest": {"settings": {"model": model}, "deployments": [], "host": "h", "gateway_version": "1"},
        "requests": rows,
    }


def gate_on(tmp_path: Path, new: dict[str, Any], old: dict[str, Any], *extra: str) -> int:
    (tmp_path / "new.json").write_text(json.dumps(new))
    (tmp_path / "old.json").write_text(json.dumps(old))
    return gate.main([str(tmp_path / "new.json"), str(tmp_path / "old.json"), "--json", *extra])


BASE = [100.0 + (i * 37) % 20 for i in range(200)]  # 100-119 ms, P95 about 118


@pytest.mark.parametrize(
    "new, failed, expected, words",
    [
        ([v * 1.02 for v in BASE], 0, 0, ""),  # within the tolerance
        ([v * 1.40 for v in BASE], 0, 1, "beyond the 15% tolerance"),  # far beyond it
        (BASE, 3, 1, "success rate dropped"),
    ],
)
def test_the_gate(tmp_path, capsys, new, failed, expected, words):
    code = gate_on(tmp_path, export_with(new, failed=failed), export_with(BASE))
    result = json.loads(capsys.readouterr().out)
    assert code == expected and result["regression"] == bool(expected)
    assert words in " ".join(result["failures"])


def test_a_rise_within_the_noise_is_a_note_not_a_failure(tmp_path, capsys):
    # ten noisy samples each: P95 +20 %, but the interval of so few samples reaches below +15 %
    old = [100, 180, 95, 130, 170, 105, 160, 90, 150, 120]
    code = gate_on(tmp_path, export_with([v * 1.2 for v in old[::-1]]), export_with(old))
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["change"] > 0.15 and result["change_ci95"][0] <= 0.15 and result["notes"]


def test_different_setups_are_not_compared(tmp_path, capsys):
    code = gate_on(tmp_path, export_with(BASE, model="a"), export_with(BASE, model="b"))
    assert code == 2 and "not the same setup" in capsys.readouterr().err
    a, b = export_with(BASE, model="a"), export_with(BASE, model="b")
    assert gate_on(tmp_path, a, b, "--ignore", "model") == 0


def test_the_guides_regression_script_runs_as_written(tmp_path):
    (tmp_path / "scripts").symlink_to(ROOT / "scripts")
    fast = {"ttft_ms": 10, "tokens_per_second": 0, "output_tokens": 4, "batch_capacity": 0}
    slow = {"ttft_ms": 500, "tokens_per_second": 0, "output_tokens": 4, "batch_capacity": 0}
    env = {k: v for k, v in os.environ.items() if not k.startswith("LITELLM_")}

    def regression_test(url: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", "scripts/profiling/regression-test.sh"],
            cwd=tmp_path,
            env=env | {"LITELLM_URL": url},
            capture_output=True,
            text=True,
            timeout=120,
        )

    with simulator(m=slow) as sim:
        regression_test(sim.url)  # the first run: its export becomes the previous baseline
        assert (tmp_path / "baseline-latency.json").exists()
        (tmp_path / "baseline-latency.json").rename(tmp_path / "previous-baseline.json")
    with simulator(m=fast) as sim:
        faster = regression_test(sim.url)
    assert faster.returncode == 0 and "No performance regression detected" in faster.stdout, faster.stderr
    (tmp_path / "baseline-latency.json").rename(tmp_path / "previous-baseline.json")
    with simulator(m=slow) as sim:
        slower = regression_test(sim.url)
    assert slower.returncode == 1 and "PERFORMANCE REGRESSION: P95 latency increased by" in slower.stdout
