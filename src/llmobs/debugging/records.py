"""Reading request logs (schema ``llmobs.request/1``): lines, filters, files, rotation, merging.

Shared by analyze-logs and tail-requests. Standard library only: the tools run with a bare
``python3`` on control nodes and gateways.

A line is either a valid record or rejected with a reason (see ``parse_line``); rejected lines are
counted in a ``BadLines``, never fatal. Files may be plain or gzip (logrotate's ``compress``),
given in any order; ``expand_paths`` orders the rotated files of one log oldest first and
``read_records`` merges the logs of several gateways by time, streaming.
"""

from __future__ import annotations

import gzip
import heapq
import io
import json
import json.scanner
import math
import os
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from glob import glob
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import IO, Any

from llmobs.gateway.request_log import LEVELS, SCHEMA  # what the gateway's callback writes

_LEVEL_RANK = {name: rank for rank, name in enumerate(LEVELS)}

# The reasons parse_line gives for a rejected line ("blank" lines are not counted as bad).
REASONS = ("not_json", "not_object", "unknown_schema", "wrong_type")
CORRUPT_GZIP = "corrupt_gzip"  # a truncated or damaged .gz: the lines after the damage are lost

# Field types of the schema. bool is a subclass of int in Python: checked by exact type instead.
_REQUIRED_STR = ("time", "level", "status")
_OPTIONAL_STR = (
    "host",
    "request_id",
    "trace_id",
    "requested_model",
    "model_group",
    "deployment",
    "provider",
    "api_provider",
    "api_base",
    "backend_model",
    "error_class",
    "error_message",
)
_OPTIONAL_NUMBER = (
    "http_status",
    "latency_ms",
    "ttft_ms",
    "upstream_latency_ms",
    "overhead_ms",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cost",
    "retries",
)
_OPTIONAL_BOOL = ("stream", "cache_hit")
_STR_OR_NONE = frozenset({str, type(None)})
_NUMBER_OR_NONE = frozenset({int, float, type(None)})
_BOOL_OR_NONE = frozenset({bool, type(None)})


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity would poison every quantile


# The C scanner behind json.loads, called directly: loads' own Python layers (type checks, two
# whitespace regexes) cost about a tenth of the time of a line.
_DECODER = json.JSONDecoder(parse_constant=_no_constant)
_scan = json.scanner.make_scanner(_DECODER)


def parse_line(line: str | bytes) -> tuple[dict[str, Any] | None, str | None]:
    """``(record, None)`` for a valid record, else ``(None, reason)``.

    Reasons: ``blank`` (callers ignore it), ``not_json`` (also truncated lines, text banners,
    NaN), ``not_object``, ``unknown_schema`` (no ``schema`` or not ``llmobs.request/1``) and
    ``wrong_type`` (a required field missing, a field of the wrong JSON type, ``time`` not shaped
    like an ISO 8601 date-time). This is the hot loop of every tool: cheap checks only.
    """
    if type(line) is not str:
        line = line.decode("utf-8", "replace")  # as open_log reads files
    try:
        record, end = _scan(line, 0)
    except (StopIteration, ValueError):  # StopIteration: no JSON value starts the line
        if not line.strip():
            return None, "blank"
        try:
            record = _DECODER.decode(line)  # leading whitespace is still JSON
        except ValueError:
            return None, "not_json"
    else:
        if end != len(line) and line[end:].strip():
            return None, "not_json"  # something after the value (two records glued together)
    if type(record) is not dict:
        return None, "not_object"
    if record.get("schema") != SCHEMA:
        return None, "unknown_schema"
    get = record.get
    for name in _REQUIRED_STR:
        if type(get(name)) is not str:
            return None, "wrong_type"
    time = record["time"]
    # The shape of "2024-05-01T12:00:00.123+00:00"; a full parse costs more than the rest together.
    if len(time) < 19 or time[4] != "-" or time[10] != "T":
        return None, "wrong_type"
    for name in _OPTIONAL_NUMBER:
        if type(get(name)) not in _NUMBER_OR_NONE:
            return None, "wrong_type"
    for name in _OPTIONAL_STR:
        if type(get(name)) not in _STR_OR_NONE:
            return None, "wrong_type"
    for name in _OPTIONAL_BOOL:
        if type(get(name)) not in _BOOL_OR_NONE:
            return None, "wrong_type"
    return record, None


def level_at_least(record: dict[str, Any], level: str) -> bool:
    """Whether the record's level is ``level`` or more severe (an unknown level always shows)."""
    rank = _LEVEL_RANK.get(record.get("level"))  # type: ignore[arg-type]
    return rank is None or rank >= _LEVEL_RANK[level]


_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """An aware UTC datetime from ISO 8601 (naive means UTC) or a duration ago: ``15m``, ``2h``, ``1d``.

    Units of durations: s, m, h, d, w. Raises ValueError with the accepted forms on anything else.
    """
    match = _RELATIVE.match(text)
    if match:
        ago = timedelta(**{_UNITS[match[2]]: float(match[1])})
        return (now or datetime.now(UTC)) - ago
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"invalid time {text!r}: give ISO 8601 (2024-05-01T12:00:00Z, 2024-05-01) "
            "or a duration ago (30s, 15m, 2h, 1d, 1w)"
        ) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _iso_key(moment: datetime) -> str:
    """The form the gateway writes ``time`` in, so that filters compare strings, not dates."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _record_datetime(time: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(time)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@dataclass
class Filter:
    """Which records a tool shows; every field that is set must match (None = no condition).

    ``model`` matches ``requested_model`` or ``model_group``; ``provider`` matches ``provider``
    (the inventory's name) or ``api_provider`` (LiteLLM's); ``level`` is a minimum level;
    ``slow_ms`` keeps requests with ``latency_ms`` above it; ``request_id`` matches the request's
    id or its trace id (shared by the retries and fallbacks of one request).
    Set the fields when constructing it: the time bounds are prepared once, in ``__post_init__``.
    """

    since: datetime | None = None
    until: datetime | None = None
    model: str | None = None
    provider: str | None = None
    level: str | None = None
    slow_ms: float | None = None
    request_id: str | None = None

    def __post_init__(self) -> None:
        if self.level is not None and self.level not in _LEVEL_RANK:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {self.level!r}")
        self._since = _iso_key(self.since) if self.since is not None else None
        self._until = _iso_key(self.until) if self.until is not None else None

    def match(self, record: dict[str, Any]) -> bool:
        timed = self._since is not None or self._until is not None
        if timed and not self._match_time(record["time"]):
            return False
        if self.model is not None and self.model not in (
            record.get("requested_model"),
            record.get("model_group"),
        ):
            return False
        if self.provider is not None and self.provider not in (
            record.get("provider"),
            record.get("api_provider"),
        ):
            return False
        if self.level is not None and not level_at_least(record, self.level):
            return False
        if self.slow_ms is not None:
            latency = record.get("latency_ms")
            if latency is None or latency <= self.slow_ms:
                return False
        wanted = self.request_id
        return wanted is None or wanted in (record.get("request_id"), record.get("trace_id"))

    def _match_time(self, time: str) -> bool:
        # The gateway writes UTC with milliseconds: string order is time order. Other shapes
        # (another zone, no milliseconds) are parsed.
        if len(time) == 29 and time.endswith("+00:00"):
            key = time
        else:
            moment = _record_datetime(time)
            if moment is None:
                return False
            key = _iso_key(moment)
        if self._since is not None and key < self._since:
            return False
        return not (self._until is not None and key > self._until)


def quantile(sorted_values: Any, q: float) -> float | None:
    """The nearest-rank quantile: the smallest value with at least ``q`` of the values at or below it.

    For n values sorted ascending, that is ``sorted_values[ceil(q * n) - 1]`` (the first value for
    q = 0), computed in floating point exactly like that (benchmarks/analyze_logs_vs_jq.py computes
    the same in jq). Always one of the values, never an interpolation. None when there are none.
    """
    n = len(sorted_values)
    if n == 0:
        return None
    rank = math.ceil(q * n)
    return float(sorted_values[min(max(rank, 1), n) - 1])


@dataclass
class BadLines:
    """Lines rejected while reading, counted by reason, with the first few places (``file:line``)."""

    counts: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)
    max_examples: int = 5
    lines: int = 0  # every line read, good or bad: the context of the counts

    def add(self, reason: str, where: str) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        if len(self.examples) < self.max_examples:
            self.examples.append(f"{where}: {reason}")

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_reason": dict(sorted(self.counts.items())),
            "examples": list(self.examples),
        }


# ---------------------------------------------------------------------------------------------
# Files


class LogFileError(OSError):
    """A log file that cannot be read (the CLIs exit 2 with the message)."""


# logrotate's numbered names: requests.log.1, requests.log.2.gz (higher number = older)
_ROTATED = re.compile(r"^(?P<base>.+?)\.(?P<n>\d+)(?:\.gz)?$")
_GLOB_CHARS = re.compile(r"[*?\[]")


def _looks_like_log(path: Path) -> bool:
    """Files taken from a directory: requests.log, requests.log.1, requests.log.2.gz, x.jsonl."""
    name = path.name
    return not name.startswith(".") and (".log" in name or ".jsonl" in name)


def rotation_family(path: Path) -> tuple[Path, str]:
    """The live log a file belongs to (requests.log.3.gz -> requests.log in the same directory)."""
    match = _ROTATED.match(path.name)
    base = match["base"] if match else path.name.removesuffix(".gz")
    return path.parent, base


def _rotation_age(path: Path) -> int:
    """0 for the live file, N for file.N and file.N.gz: sorting by -age puts the oldest first."""
    match = _ROTATED.match(path.name)
    return int(match["n"]) if match else 0


def expand_paths(args: Iterable[str]) -> list[Path]:
    """Files to read from command-line arguments: files, shell globs, directories (recursively).

    In a directory, the files named like logs (``*.log*``, ``*.jsonl*``) are taken. The rotated
    files of one log come together, oldest first (.N.gz ... .2.gz, .1, then the live file); logs
    keep the order of their first mention (directories sorted by path). A path that matches
    nothing raises FileNotFoundError naming it.
    """
    found: list[Path] = []
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and _looks_like_log(p))
            if not files:
                raise FileNotFoundError(f"{arg}: no log files (*.log*, *.jsonl*) in this directory")
            found.extend(files)
        elif path.exists():
            found.append(path)
        elif _GLOB_CHARS.search(arg):
            matches = sorted(glob(arg, recursive=True))
            if not matches:
                raise FileNotFoundError(f"{arg}: no file matches")
            for match in matches:
                found.extend(expand_paths([match]))
        else:
            raise FileNotFoundError(f"{arg}: no such file or directory")
    unique: dict[Path, Path] = {}  # the same file named twice (a glob and its directory) is read once
    for path in found:
        unique.setdefault(path.resolve(), path)
    families: dict[tuple[Path, str], list[Path]] = {}
    for path in unique.values():
        families.setdefault(rotation_family(path), []).append(path)
    return [p for files in families.values() for p in sorted(files, key=lambda p: -_rotation_age(p))]


def open_log(path: str | os.PathLike[str]) -> IO[str]:
    """A text line reader over a plain or gzip file (gzip is told by its magic bytes, not its name).

    Bytes that are not UTF-8 become U+FFFD (the rest of the line stays readable). Text mode, as
    ``json.loads`` of a ``str`` skips the encoding detection it does for ``bytes`` on every line.
    Raises LogFileError (an OSError) when the file cannot be opened.
    """
    try:
        raw = open(path, "rb")  # noqa: SIM115 (returned to the caller, who closes it)
    except OSError as error:
        raise LogFileError(f"{path}: cannot read: {error.strerror or error}") from error
    try:
        magic = raw.peek(2)[:2]
    except OSError as error:  # a directory on some systems, a dead network mount
        raw.close()
        raise LogFileError(f"{path}: cannot read: {error.strerror or error}") from error
    binary: IO[bytes] = raw
    if magic == b"\x1f\x8b":
        binary = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
    return io.TextIOWrapper(binary, encoding="utf-8", errors="replace", newline="\n")


def check_readable(paths: Iterable[Path]) -> None:
    """Open and close each file, so that an unreadable one fails before any output (LogFileError)."""
    for path in paths:
        open_log(path).close()


PROGRESS_EVERY = 1_000_000


def iter_file(
    path: Path,
    bad: BadLines,
    flt: Filter | None = None,
    progress: Callable[[int], None] | None = None,
    contains: str | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, record)`` for each valid, matching record of one file, in file order.

    Bad lines are counted in ``bad``; a damaged gzip stream ends the file with a ``corrupt_gzip``
    count (what was read before the damage is kept). ``progress`` is called with the number of
    lines read so far (all files) every PROGRESS_EVERY lines. With ``contains``, lines without
    that text are skipped unparsed (a fast search for one id; bad lines are then only counted
    among the lines that contain it).
    """
    name = str(path)
    lineno = 0
    match = flt.match if flt is not None else None
    with open_log(path) as stream:
        try:
            for lineno, line in enumerate(stream, 1):
                if progress is not None and not (bad.lines + lineno) % PROGRESS_EVERY:
                    progress(bad.lines + lineno)
                if contains is not None and contains not in line:
                    continue
                record, reason = parse_line(line)
                if record is None:
                    if reason != "blank":
                        bad.add(reason, f"{name}:{lineno}")  # type: ignore[arg-type]
                elif match is None or match(record):
                    yield lineno, record
        except (EOFError, zlib.error, gzip.BadGzipFile) as error:
            # a truncated .gz raises EOFError; a damaged one BadGzipFile or zlib.error
            bad.add(CORRUPT_GZIP, f"{name}:{lineno + 1} ({error})")
        finally:
            bad.lines += lineno


_time_of = itemgetter("time")
_second = itemgetter(1)


def read_records(
    paths: Iterable[Path],
    bad: BadLines,
    flt: Filter | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """The valid records of all files that match ``flt``, merged in time order, streaming.

    The rotated files of one log are read one after the other (oldest first, as expand_paths
    orders them); the logs of different gateways are merged on ``time`` (UTC with milliseconds,
    so string order is time order) with heapq.merge, which holds one record per log. A file
    slightly out of order only comes out slightly out of order: no record is lost or repeated.
    """
    families: dict[tuple[Path, str], list[Path]] = {}
    for path in paths:
        families.setdefault(rotation_family(path), []).append(path)
    streams = [
        chain.from_iterable(map(_second, iter_file(path, bad, flt, progress)) for path in files)
        for files in families.values()
    ]
    if len(streams) == 1:
        return streams[0]
    return heapq.merge(*streams, key=_time_of)
