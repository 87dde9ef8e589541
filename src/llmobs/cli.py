"""Conventions every command-line tool of the bundle follows."""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
from typing import Any, NoReturn

EXIT_OK = 0  # everything checked out
EXIT_CHECK_FAILED = 1  # the tool ran and what it checked failed
EXIT_USAGE = 2  # bad arguments or unusable input


class UsageError(Exception):
    """Bad arguments or input: the tool exits 2 with the message."""


def argument_parser(doc: str, epilog: str, prog: str | None = None) -> argparse.ArgumentParser:
    """A tool's parser: the description is the first paragraph of its docstring, which reads
    "name: what it does"; the epilog (examples, exit codes) keeps its line breaks. Without prog,
    usage names the tool as it was called (test-request.py from a clone, test-request on a host)."""
    description = doc.split("\n\n")[0].split(": ", 1)[-1]
    return argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


def emit(data: dict[str, Any], as_json: bool, text: str) -> None:
    """Print a result as JSON (machine-readable, --json) or as text for people."""
    print(json.dumps(data, indent=2, sort_keys=True) if as_json else text)


# Text from clients and backends (log fields, replies) may carry terminal escapes: none reaches the
# screen. One control character becomes one space, so that columns stay aligned.
_CONTROL = {code: " " for code in (*range(0x20), *range(0x7F, 0xA0)) if code != 0x0A}


def printable(text: str) -> str:
    """The text without control characters; line breaks are kept."""
    return text.translate(_CONTROL)


def table(header: list[str], rows: list[list[Any]], right: list[bool] | None = None) -> list[str]:
    """Aligned columns, two spaces apart, indented; a column marked in ``right`` is right-aligned."""
    right = right or [False] * len(header)
    cells = [header, *[[str(cell) for cell in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return [
        "  "
        + "  ".join(
            cell.rjust(width) if flush else cell.ljust(width)
            for cell, width, flush in zip(row, widths, right, strict=True)
        ).rstrip()
        for row in cells
    ]


def progress(message: str) -> None:
    """Progress goes to stderr so that stdout stays clean for --json."""
    print(message, file=sys.stderr, flush=True)


def stop_process(process: subprocess.Popen | None, grace_s: float = 10.0) -> None:
    """Stop a child politely (SIGTERM), then for sure (SIGKILL) when it does not go in time."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
