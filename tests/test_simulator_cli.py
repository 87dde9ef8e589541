"""llmobs-simulator's command line and profile checks: exit codes, messages, the shipped profile."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from llmobs.simulator import cli
from llmobs.simulator.profile import DEFAULT_PROFILE, ProfileError, load_profile, parse_profile


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "llmobs.simulator", *args], capture_output=True, text=True, timeout=30
    )


def test_help_and_usage_errors():
    result = run("--help")
    assert result.returncode == 0 and "--type" in result.stdout and "--validate" in result.stdout
    assert run().returncode == 2  # no --type
    assert run("--type", "tgi").returncode == 2
    assert run("--type", "vllm", "--port", "70000").returncode == 2


def test_the_shipped_profile_is_valid_and_covers_every_type():
    result = run("--validate", "--json")
    assert result.returncode == 0, result.stderr
    served = json.loads(result.stdout)["models"]
    assert "llama3.1:8b" in served["ollama"] and "qwen-coder" in served["vllm"]
    assert all(served[kind] for kind in ("ollama", "vllm", "llamacpp", "openai"))
    assert load_profile(DEFAULT_PROFILE).seed is not None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models: [", "not valid YAML"),
        ("models: {}", "'models' must be a non-empty mapping"),
        (
            "models: {m: {ttft_ms: {dist: gauss, mean: 1}}}",
            "models.m.ttft_ms.dist: unknown distribution 'gauss'",
        ),
        (
            "models: {m: {ttft_ms: {dist: normal, mean: 1}}}",
            "models.m.ttft_ms: a normal distribution needs 'stddev'",
        ),
        ("models: {m: {ttft_ms: -5}}", "models.m.ttft_ms: must be a number >= 0"),
        ("models: {m: {batch_capacity: 1.5}}", "models.m.batch_capacity"),
        ("models: {m: {errors: {http_500: 0.7, timeout: 0.6}}}", "add up to 1.3"),
        ("models: {m: {errors: {http_200: 0.1}}}", "unknown fault 'http_200'"),
        ("models: {m: {tokens_per_sec: 5}}", "models.m: unknown key 'tokens_per_sec'"),
        ("models: {m: {types: [tgi]}}", "models.m.types"),
        ("models: {m: {cold_load: {after_idle_s: 5}}}", "cold_load: 'load_ms' is required"),
        ("seed: abc\nmodels: {m: {}}", "seed: expected a whole number"),
        ("models: {m: {}}\nextra: 1", "unknown key 'extra'"),
    ],
)
def test_a_bad_profile_exits_2_naming_the_problem(tmp_path, capsys, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    for args in (["--validate"], ["--type", "vllm", "--port", "0"]):
        with pytest.raises(SystemExit) as exit_info:
            cli.main([*args, "--profile", str(path)])
        assert exit_info.value.code == 2
        stderr = capsys.readouterr().err
        assert stderr.startswith("error: ") and str(path) in stderr
        assert message in stderr, stderr


def test_a_bad_profile_exits_2_from_the_command_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("models: {m: {ttft_ms: {dist: gauss}}}")
    result = run("--type", "ollama", "--profile", str(path))
    assert result.returncode == 2
    assert result.stderr == f"error: {path}: models.m.ttft_ms.dist: unknown distribution 'gauss' " + (
        "(one of fixed, normal, lognormal, uniform)\n"
    )


def test_missing_profile_and_type_without_models_exit_2(tmp_path):
    result = run("--validate", "--profile", str(tmp_path / "none.yaml"))
    assert result.returncode == 2 and "cannot read the profile" in result.stderr
    path = tmp_path / "p.yaml"
    path.write_text("models: {only-ollama: {types: [ollama]}}")
    result = run("--type", "vllm", "--profile", str(path), "--port", "0")
    assert result.returncode == 2 and "no model is served by type vllm" in result.stderr
    result = run("--type", "ollama", "--profile", str(path), "--model", "other", "--port", "0")
    assert result.returncode == 2 and "--model other: no such model" in result.stderr


def test_profile_defaults_and_distributions():
    profile = parse_profile(
        {
            "defaults": {"batch_capacity": 3},
            "models": {
                "a": None,
                "b": {"output_tokens": {"dist": "lognormal", "mean": 50, "stddev": 20, "max": 60}},
            },
        }
    )
    a, b = profile.models["a"], profile.models["b"]
    assert a.batch_capacity == 3 and a.types == ("ollama", "vllm", "llamacpp", "openai")
    assert b.output_tokens.high == 60 and b.output_tokens.low == 1
    with pytest.raises(ProfileError, match="min 5 is above max 2"):
        parse_profile(
            {"models": {"m": {"ttft_ms": {"dist": "normal", "mean": 1, "stddev": 1, "min": 5, "max": 2}}}}
        )


def test_serves_logs_one_line_and_stops_on_sigterm(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("models: {m1: {ttft_ms: 0, tokens_per_second: 0, output_tokens: 2}}")
    command = [
        sys.executable,
        "-m",
        "llmobs.simulator",
        "--type",
        "openai",
        "--port",
        "0",
        "--profile",
        str(path),
    ]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stderr.readline()
        match = re.search(r"openai on http://127\.0\.0\.1:(\d+) serving m1 ", line)
        assert match, line
        with urllib.request.urlopen(f"http://127.0.0.1:{match.group(1)}/v1/models", timeout=5) as response:
            assert json.load(response)["data"][0]["id"] == "m1"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    assert process.stderr.read() == ""


def test_pyproject_declares_the_console_script_and_the_profile_data(root: Path):
    text = (root / "pyproject.toml").read_text()
    assert 'llmobs-simulator = "llmobs.simulator.cli:main"' in text
    assert "profiles/*.yaml" in text
