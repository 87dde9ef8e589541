"""Check a LiteLLM config before it replaces the live one: LiteLLM's own validation, plus the traps
it lets through (shared/reference/litellm.md): unknown ``litellm_settings`` keys are copied onto
the litellm module without a word, unknown ``router_settings`` keys only log a warning.

    python -m llmobs.gateway.check_config /etc/litellm/config.yaml

Runs inside the gateway's venv (it imports litellm). Exit 0 ok, 1 the config is wrong, 2 usage.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import yaml

from llmobs.cli import EXIT_CHECK_FAILED, EXIT_OK, fail

IGNORED_KEY = re.compile(r"Key '([^']+)' is not a valid argument for (\w+)")


def unknown_litellm_settings(config: dict) -> list[str]:
    """Keys that are neither a setting of the litellm module nor one the proxy handles itself
    (``key == "cache_params"`` and the like in the proxy's settings loop, read from its source so
    that the list follows the pinned version)."""
    import importlib.util

    import litellm  # heavy (seconds): only here

    spec = importlib.util.find_spec("litellm.proxy.proxy_server")
    source = Path(spec.origin).read_text() if spec and spec.origin else ""
    handled = set(re.findall(r'key == "(\w+)"', source))
    settings = config.get("litellm_settings") or {}
    return sorted(key for key in settings if not hasattr(litellm, key) and key not in handled)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", type=Path, help="the LiteLLM config.yaml to check")
    args = parser.parse_args(argv)
    try:
        config = yaml.safe_load(args.config.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        fail(f"cannot read {args.config}: {error}")
    problems = [
        f"litellm_settings.{key}: LiteLLM has no such setting" for key in unknown_litellm_settings(config)
    ]
    litellm = Path(sys.executable).parent / "litellm"
    result = subprocess.run(
        [str(litellm), "--config", str(args.config), "--validate_config"],
        capture_output=True,
        text=True,
        check=False,
    )
    output = result.stdout + result.stderr
    problems += [f"{where}: {key} is not a valid setting" for key, where in IGNORED_KEY.findall(output)]
    if result.returncode != 0:
        problems.append(f"litellm --validate_config failed:\n{output[-2000:]}")
    for problem in problems:
        print(f"config error: {problem}", file=sys.stderr)
    return EXIT_CHECK_FAILED if problems else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
