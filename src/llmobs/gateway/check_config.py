"""Check a LiteLLM config before it replaces the live one: LiteLLM's own validation, plus the traps
it lets through (shared/reference/litellm.md): unknown ``litellm_settings`` keys are copied onto
the litellm module without a word, unknown ``router_settings`` keys only log a warning.

    python -m llmobs.gateway.check_config /etc/litellm/config.yaml

Runs inside the gateway's venv, and runs LiteLLM's own ``litellm --validate_config`` in this same
process: importing the proxy takes seconds of CPU, once is enough. Exit 0 ok, 1 the config is
wrong, 2 usage.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator
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


@contextlib.contextmanager
def captured_output() -> Iterator[list[str]]:
    """What this process writes on stdout and stderr meanwhile (LiteLLM prints and logs there),
    appended to the list it gives once the block ends."""
    text: list[str] = []
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile("w+") as capture:
        os.dup2(capture.fileno(), 1)
        os.dup2(capture.fileno(), 2)
        try:
            yield text
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, original in zip((1, 2), saved, strict=True):
                os.dup2(original, fd)
                os.close(original)
            capture.seek(0)
            text.append(capture.read())


def litellm_validation(config: Path) -> tuple[int, str]:
    """``litellm --config CONFIG --validate_config``, in this process: its exit code and output."""
    import click
    from litellm.proxy.proxy_cli import run_server

    with captured_output() as capture:
        try:
            code = run_server.main(["--config", str(config), "--validate_config"], standalone_mode=False)
        except click.exceptions.Exit as stop:
            code = stop.exit_code
        except click.ClickException as error:
            error.show()
            code = error.exit_code
        except Exception as error:  # LiteLLM's own failure, reported as the CLI would
            print(f"LiteLLM: config validation failed: {type(error).__name__}: {error}", file=sys.stderr)
            code = 1
    return (code if isinstance(code, int) else 0), "".join(capture)


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
    code, output = litellm_validation(args.config)
    problems += [f"{where}: {key} is not a valid setting" for key, where in IGNORED_KEY.findall(output)]
    if code != 0:
        problems.append(f"litellm --validate_config failed:\n{output[-2000:]}")
    for problem in problems:
        print(f"config error: {problem}", file=sys.stderr)
    return EXIT_CHECK_FAILED if problems else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
