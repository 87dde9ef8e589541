"""profile-latency as a user runs it, against the real simulator: the guide's lines, the export,
failures explained in one line with the export still written, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from test_client import free_port
from test_measuring import simulator

from llmobs.profiling import profile_latency as latency
from llmobs.waiting import wait_until

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "profiling" / "profile-latency.py"


@pytest.fixture(autouse=True)
def no_gateway_env(monkeypatch, tmp_path):
    for name in ("LITELLM_URL", "LITELLM_API_KEY", "LITELLM_MASTER_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LLMOBS_SECRETS_DIR", str(tmp_path / "no-secrets"))


def test_the_guides_lines_work_on_the_export(tmp_path, capsys):
    out = tmp_path / "results.json"
    with simulator() as sim:
        code = latency.main(["--url", sim.url, "--iterations", "8", "--warmup", "2", "--export", str(out)])
    data = json.loads(out.read_text())
    text = capsys.readouterr().out
    # exit 0 exactly when the run judged itself valid (a busy machine can make the client late)
    assert code == (0 if data["validity"]["valid"] else 1), data["validity"]
    assert data["complete"] and data["manifest"]["settings"]["model"] == "m1"  # the gateway's first
    assert len(data["requests"]) == 10 and sum(r["warmup"] for r in data["requests"]) == 2
    assert data["summary"]["requests"] == 8 and data["summary"]["success_rate"] == 1.0
    # jq '.summary.p95_latency_ms': the simulator's schedule bounds it from below (50 + 11 x 10 ms)
    assert data["summary"]["p95_latency_ms"] >= 160
    assert data["summary"]["p50_ttft_ms"] >= 50 and data["summary"]["median_output_tokens"] == 12
    assert set(data["formulas"]) >= {"latency_ms", "ttft_ms", "tpot_ms", "itl_ms", "network_ms"}
    assert data["manifest"]["command_line"].endswith(
        f"--url {sim.url} --iterations 8 --warmup 2 --export {out}"
    )
    for line in ("latency", "TTFT", "TPOT", "ITL", "tokens/s", "success: 8/8"):
        assert line in text
    first = data["requests"][0]
    assert first["sent_ms"] <= first["first_token_ms"] <= first["end_ms"] and first["output_tokens"] == 12


def run_script(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LITELLM_")}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def test_an_unknown_model_and_a_gateway_that_is_down_are_one_line_each(tmp_path):
    out = tmp_path / "x.json"
    with simulator() as sim:
        result = run_script("--url", sim.url, "--model", "nope", "--export", str(out))
    assert result.returncode == 1
    assert (
        result.stderr.strip().splitlines()[-1] == f"error: unknown model 'nope' at {sim.url}; available: m1"
    )
    data = json.loads(out.read_text())
    assert data["complete"] is False and data["requests"][0]["status"] == 404
    down = f"http://127.0.0.1:{free_port()}"
    result = run_script("--url", down, "--model", "m1", "--export", str(out))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"error: cannot reach the gateway at {down}: " in result.stderr
    assert json.loads(out.read_text())["requests"][0]["error"] == "unreachable"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--iterations", "0"], "--iterations 0"),
        (["--timeout", "nan"], "--timeout nan"),
        (["--export", "/no/such/folder/x.json"], "/no/such/folder does not exist"),
        (["--url", "ftp://x"], "not an http URL"),
    ],
)
def test_usage_errors_exit_2(args, message):
    result = run_script(*args)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_ctrl_c_keeps_what_was_measured(tmp_path):
    out = tmp_path / "partial.json"
    with simulator(ttft_ms=100) as sim:
        models = sim.app.sim.models
        args = ["--url", sim.url, "--iterations", "200", "--warmup", "0", "--export", str(out)]
        process = subprocess.Popen(
            [sys.executable, str(SCRIPT), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_until(
            lambda: models["m1"].metrics.success["stop"], 30, "two answers", lambda n: n >= 2, every=0.05
        )
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    data = json.loads(out.read_text())
    assert data["complete"] is False and data["stopped"] == "interrupted"
    assert 2 <= data["summary"]["successful"] < 200
    assert "interrupted" in " ".join(data["validity"]["problems"]) and "interrupted" in stderr
