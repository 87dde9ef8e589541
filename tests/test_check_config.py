"""check_config's glue around LiteLLM: one process, LiteLLM's own validation and its warnings.

A stand-in ``litellm`` package on the path plays the pinned LiteLLM (the real one runs in
molecule/stack, where every config the role writes passes through this check)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

FAKE = {
    "litellm/__init__.py": "num_retries = 0\n",
    "litellm/proxy/__init__.py": "",
    "litellm/proxy/proxy_server.py": 'if key == "cache_params":\n    pass\n',
    # validates as the real CLI does: prints, warns about an unknown router key, exits 1 on refusal
    "litellm/proxy/proxy_cli.py": """
import sys
import click

@click.command()
@click.option("--config")
@click.option("--validate_config", is_flag=True)
def run_server(config, validate_config):
    text = open(config).read()
    print("LiteLLM: Proxy initialized with Config")
    if "frobnicate" in text:
        print("Key 'frobnicate' is not a valid argument for Router", file=sys.stderr)
    if "broken" in text:
        click.echo("LiteLLM: config validation failed: broken", err=True)
        raise click.exceptions.Exit(1)
    click.echo("LiteLLM: config OK (1 models)")
""",
}


@pytest.fixture
def check(tmp_path):
    for name, text in FAKE.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)

    def run(config_text: str) -> subprocess.CompletedProcess:
        config = tmp_path / "config.yaml"
        config.write_text(config_text)
        env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{SRC}"}
        command = [sys.executable, "-m", "llmobs.gateway.check_config", str(config)]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)

    return run


def test_a_good_config_passes_and_litellms_output_stays_out_of_the_way(check):
    result = check("litellm_settings: {num_retries: 2, cache_params: {}}\n")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_unknown_settings_and_ignored_router_keys_are_errors(check):
    result = check("litellm_settings: {no_such: 1}\nrouter_settings: {frobnicate: 1}\n")
    assert result.returncode == 1
    assert "litellm_settings.no_such: LiteLLM has no such setting" in result.stderr
    assert "Router: frobnicate is not a valid setting" in result.stderr


def test_litellms_own_refusal_is_an_error_with_its_output(check):
    result = check("model_list: broken\n")
    assert result.returncode == 1
    assert "litellm --validate_config failed" in result.stderr
    assert "config validation failed: broken" in result.stderr
