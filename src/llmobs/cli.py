"""Conventions every command-line tool of the bundle follows.

Exit codes: 0 ok, 1 a check failed, 2 bad arguments or unusable input, 3 an internal error (a bug:
one line on stderr, the traceback with ``--debug``). ``run`` applies them to a tool's main; text
for people goes through ``printable`` and JSON through ``to_json``, on stdout and stderr alike.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
import tomllib
import traceback
from collections.abc import Callable, Sequence
from typing import IO, Any, NoReturn

EXIT_OK = 0  # everything checked out
EXIT_CHECK_FAILED = 1  # the tool ran and what it checked failed
EXIT_USAGE = 2  # bad arguments or unusable input
EXIT_INTERNAL = 3  # a bug: never mistaken for a failed check
# The commands and their modules, written once: [project.scripts] of the clone's pyproject.toml.
PYPROJECT = os.path.join(os.path.dirname(__file__), "..", "..", "pyproject.toml")

DEBUG_FLAG = "--debug"


class UsageError(Exception):
    """Bad arguments or input: the tool exits 2 with the message (under ``run``)."""


class CheckFailed(Exception):
    """The tool ran and what it checked failed: exit 1 with the message (under ``run``)."""


class _Parser(argparse.ArgumentParser):
    def _print_message(self, message: str, file: IO[str] | None = None) -> None:
        # usage errors quote the arguments given: they pass the same filter as everything else
        super()._print_message(printable(message), file)


def argument_parser(
    doc: str, epilog: str, prog: str | None = None, debug: bool = False
) -> argparse.ArgumentParser:
    """A tool's parser: the description is the first paragraph of its docstring, which reads
    "name: what it does"; the epilog (examples, exit codes) keeps its line breaks. Without prog,
    usage names the tool as it was called (test-request.py from a clone, test-request on a host).
    ``debug``: the tool runs under ``run`` and takes --debug."""
    description = doc.split("\n\n")[0].split(": ", 1)[-1]
    parser = _Parser(
        prog=prog,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if debug:
        parser.add_argument(DEBUG_FLAG, action="store_true", help="on an internal error, show the traceback")
    return parser


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    print(f"error: {printable(message)}", file=sys.stderr)
    raise SystemExit(code)


def to_json(data: Any, indent: int | None = 2) -> str:
    """Always valid JSON: ASCII only (a lone surrogate becomes an escape, never an encoding error)
    and never NaN or Infinity. The readers reject non-finite numbers in the fields they use; one
    nested in free-form data (a record's metadata: ``1e999``) is printed as null."""
    options: dict[str, Any] = {"indent": indent, "sort_keys": True, "allow_nan": False}
    if indent is None:
        options["separators"] = (",", ":")
    try:
        return json.dumps(data, **options)
    except ValueError:  # the rare case pays for the copy
        return json.dumps(_finite(data), **options)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def emit(data: dict[str, Any], as_json: bool, text: str) -> None:
    """Print a result as JSON (machine-readable, --json) or as text for people."""
    print(to_json(data) if as_json else printable(text))


# Text from clients and backends (log fields, replies) may carry terminal escapes, lone surrogates
# (valid JSON, not encodable) and bidi controls (they reorder what the terminal shows): none
# reaches the screen. A control character becomes a space, so that columns stay aligned; a
# surrogate or a bidi control becomes U+FFFD, so that it is seen. Line breaks are kept.
_UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")
_REPLACEMENT = {
    code: (" " if code < 0xA0 or code in (0x2028, 0x2029) else "\ufffd")
    for code in (
        *range(0x0A),
        *range(0x0B, 0x20),
        *range(0x7F, 0xA0),
        0x061C,
        0x200E,
        0x200F,
        *range(0x2028, 0x202F),
        *range(0x2066, 0x206A),
        *range(0xD800, 0xE000),
    )
}


def printable(text: str) -> str:
    """The text safe for a terminal and encodable as UTF-8; line breaks are kept."""
    if _UNSAFE.search(text) is None:  # the usual case: one scan in C, no copy
        return text
    return text.translate(_REPLACEMENT)


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
    """Progress and notices go to stderr so that stdout stays clean for --json."""
    print(printable(message), file=sys.stderr, flush=True)


class Ticker:
    """Progress of long work on stderr: on a terminal one line redrawn in place (a bar when the
    total is known), otherwise a plain line every ``every_s`` seconds, so that logs stay short."""

    def __init__(self, label: str, total: int | None = None, every_s: float = 10.0) -> None:
        self.label, self.total = label, total
        self.tty = sys.stderr.isatty()
        self.every_s = 0.2 if self.tty else every_s
        self._last = time.monotonic()  # the first line after every_s: a quick run stays quiet
        self._drawn = False

    def due(self) -> bool:
        """Whether the next update would be shown (callers skip preparing it otherwise)."""
        return time.monotonic() - self._last >= self.every_s

    def update(self, done: int, status: str = "", force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.every_s:
            return
        self._last = now
        count = f"{done}/{self.total}" if self.total else str(done)
        if self.tty:
            bar = ""
            if self.total:
                filled = min(20, 20 * done // self.total)
                bar = "[" + "#" * filled + "." * (20 - filled) + "] "
            sys.stderr.write("\r" + printable(f"{self.label}: {bar}{count} {status}")[:200] + "\x1b[K")
            sys.stderr.flush()
            self._drawn = True
        else:
            progress(f"{self.label}: {count} {status}")

    def close(self) -> None:
        if self._drawn:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self._drawn = False


def _quiet_broken_pipe() -> None:
    """The reader went away (``| head``): no more output, and no complaint when Python exits."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def run(main: Callable[[list[str]], int], argv: Sequence[str] | None = None) -> int:
    """A tool's main under the exit-code rules: its own code (or SystemExit) passes through; a
    closed pipe ends it quietly with 0; any other exception is an internal error, exit 3, with
    one line on stderr (the traceback too with --debug)."""
    args = list(sys.argv[1:] if argv is None else argv)
    for stream in (sys.stdout, sys.stderr):
        # a terminal in another encoding (latin-1) gets "?" rather than an encoding error
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="replace")  # type: ignore[union-attr]
    try:
        code = main(args)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        _quiet_broken_pipe()
        return EXIT_OK
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    except (UsageError, CheckFailed) as error:
        print(f"error: {printable(str(error))}", file=sys.stderr)
        return EXIT_USAGE if isinstance(error, UsageError) else EXIT_CHECK_FAILED
    except Exception as error:
        with contextlib.suppress(BrokenPipeError):
            if DEBUG_FLAG in args:
                traceback.print_exc()
            where = traceback.extract_tb(error.__traceback__)[-1]
            location = f"{os.path.basename(where.filename)}:{where.lineno}"
            detail = printable(str(error)).replace("\n", " ")[:300]
            hint = "" if DEBUG_FLAG in args else f"; run again with {DEBUG_FLAG} for the traceback"
            print(
                f"internal error: {type(error).__name__} at {location}: {detail} (a bug{hint})",
                file=sys.stderr,
            )
        return EXIT_INTERNAL


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


def process_cpu_seconds(pid: int) -> float:
    """CPU time of a process and all its threads, those that ended included, to the nanosecond.

    Read from its CPU-time clock (clock_getcpuclockid: the kernel's exact run time), not from
    /proc/PID/stat, whose user and system times come in clock ticks of 10 ms: too coarse for a
    benchmark window of a second. Raises ProcessLookupError when the process is gone."""
    try:
        return time.clock_gettime((~pid << 3) | 2)  # MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)
    except OSError as error:
        raise ProcessLookupError(pid) from error


def tool_module(script: str) -> str | None:
    """The module of a command by its script name (``analyze-logs.py``, ``report.py``): the
    ``[project.scripts]`` entry of that name, else ``llmobs-<name>``; None for other names."""
    with open(PYPROJECT, "rb") as file:
        scripts = tomllib.load(file)["project"]["scripts"]
    name = script.removesuffix(".py")
    entry = scripts.get(name) or scripts.get(f"llmobs-{name}")
    return entry.split(":")[0] if entry else None
