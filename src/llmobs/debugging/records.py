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
STATUSES = ("success", "failure")

# The rule every reader applies, written once: each field of the schema with its JSON type and its
# range. Absent and null are the same for an optional field. "number" is an integer or a
# fraction, never a boolean; ranges are inclusive. A line that breaks a rule is rejected with the
# reason named in REASONS (counted, never fatal); nothing is coerced into shape.
MAX_MS = 1e9  # 11.6 days: a longer request is a damaged record
MAX_COUNT = 10**12  # tokens, retries
MAX_COST = 1e9  # USD
MAX_DEPTH = 64  # nesting of metadata, request and response (printing deeper ones would recurse)
FIELDS: dict[str, tuple[str, Any, bool]] = {
    # name: (JSON type, range, required)
    "schema": ("string", (SCHEMA,), True),
    "time": ("string", "ISO 8601 date-time with a UTC offset", True),
    "level": ("string", LEVELS, True),
    "status": ("string", STATUSES, True),
    **{
        name: ("string", None, False)
        for name in (
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
    },
    "stream": ("boolean", None, False),
    "cache_hit": ("boolean", None, False),
    "http_status": ("integer", (100, 999), False),
    **{
        name: ("number", (0, MAX_MS), False)
        for name in (
            "latency_ms",
            "ttft_ms",
            "queue_ms",
            "gateway_ttft_ms",
            "upstream_latency_ms",
            "overhead_ms",
        )
    },
    **{
        name: ("integer", (0, MAX_COUNT), False)
        for name in ("prompt_tokens", "completion_tokens", "total_tokens")
    },
    "cost": ("number", (0, MAX_COST), False),
    "retries": ("integer", (0, MAX_COUNT), False),
    "metadata": ("object", f"at most {MAX_DEPTH} levels deep", False),
    "request": ("any", f"at most {MAX_DEPTH} levels deep", False),
    "response": ("any", f"at most {MAX_DEPTH} levels deep", False),
}

# Why a line is rejected (parse_line's reasons, in the order it checks them; "blank" lines are
# counted apart, not as bad), and corrupt_gzip for a damaged .gz (its remainder counts as one line).
REASONS = {
    "not_json": "not one JSON value: truncated, a text banner, binary, two records on one line, NaN",
    "not_object": "JSON, but not an object",
    "unknown_schema": f"no schema field, or not {SCHEMA}",
    "too_deep": f"nested deeper than {MAX_DEPTH} levels",
    "missing_field": "time, level or status absent or null",
    "wrong_type": "a field of another JSON type than the schema's",
    "out_of_range": "a number out of range (negative latency, 1e999), a level or status not in the schema",
    "bad_time": "time is not an ISO 8601 date-time with a UTC offset",
    "corrupt_gzip": "a truncated or damaged .gz: the lines after the damage are lost",
}
CORRUPT_GZIP = "corrupt_gzip"


def _rules(kind: str) -> list[tuple[str, Any]]:
    return [
        (name, span)
        for name, (json_type, span, required) in FIELDS.items()
        if json_type == kind and not required
    ]


# The table, grouped for the hot loop (plain loops: the fastest form on Python 3.11). bool is a
# subclass of int in Python: types are checked exactly.
_STATUSES = frozenset(STATUSES)
_STRINGS = [name for name, _ in _rules("string")]
_BOOLEANS = [name for name, _ in _rules("boolean")]
_NUMERIC = [
    (name, types, low, high)
    for kind, types in (("number", frozenset({int, float})), ("integer", frozenset({int})))
    for name, (low, high) in _rules(kind)
]
_STRING_OR_NULL = frozenset({str, type(None)})
_BOOLEAN_OR_NULL = frozenset({bool, type(None)})


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity would poison every quantile


# The C scanner behind json.loads, called directly: loads' own Python layers (type checks, two
# whitespace regexes) cost about a tenth of the time of a line.
_DECODER = json.JSONDecoder(parse_constant=_no_constant)
_scan = json.scanner.make_scanner(_DECODER)
_from_iso = datetime.fromisoformat


def parse_line(line: str | bytes) -> tuple[dict[str, Any] | None, str | None]:
    """``(record, None)`` for a valid record, else ``(None, reason)``: "blank" (callers count it
    apart) or one of REASONS. This is the hot loop of every tool: cheap checks first."""
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
        except RecursionError:
            return None, "too_deep"
    except RecursionError:  # thousands of nested brackets
        return None, "too_deep"
    else:
        if end != len(line) and line[end:].strip():
            return None, "not_json"  # something after the value (two records glued together)
    if type(record) is not dict:
        return None, "not_object"
    get = record.get
    if get("schema") != SCHEMA:
        return None, "unknown_schema"
    # Depth is bounded by the brackets in the line; only a line with many is measured.
    # Depth is bounded by the brackets in the line. The usual line has two braces (the record and
    # its metadata) and no bracket, which find tells faster than count.
    if ("[" in line or line.find("{", line.find("{", line.find("{") + 1) + 1) >= 0) and (
        line.count("{") + line.count("[") > MAX_DEPTH and _deeper_than(record, MAX_DEPTH - 1)
    ):
        return None, "too_deep"
    level, status = get("level"), get("status")
    if level is None or status is None:
        return None, "missing_field"
    if type(level) is not str or type(status) is not str:
        return None, "wrong_type"
    if level not in _LEVEL_RANK or status not in _STATUSES:
        return None, "out_of_range"
    for name in _STRINGS:
        if type(get(name)) not in _STRING_OR_NULL:
            return None, "wrong_type"
    for name in _BOOLEANS:
        if type(get(name)) not in _BOOLEAN_OR_NULL:
            return None, "wrong_type"
    for name, types, low, high in _NUMERIC:
        value = get(name)
        if value is not None:
            if type(value) not in types:
                return None, "wrong_type"
            if not low <= value <= high:  # also inf (1e999) and hundreds of digits
                return None, "out_of_range"
    metadata = get("metadata")
    if metadata is not None and type(metadata) is not dict:
        return None, "wrong_type"
    time = get("time")
    if time is None:
        return None, "missing_field"
    if type(time) is not str:
        return None, "wrong_type"
    try:
        moment = _from_iso(time)
        if moment.tzinfo is None:
            return None, "bad_time"  # local to which host? Merged logs need one clock
        if not (len(time) == 29 and time.endswith("+00:00")):  # is_utc_key's cheap half
            moment.astimezone(UTC)  # year 1 with a positive offset does not exist in UTC
    except (ValueError, OverflowError):
        return None, "bad_time"
    return record, None


def _deeper_than(value: Any, levels: int) -> bool:
    """Whether ``value`` nests more than ``levels`` + 1 containers (iteratively: no recursion limit)."""
    stack = [(value, levels)]
    while stack:
        value, left = stack.pop()
        if type(value) is dict:
            value = value.values()
        elif type(value) is not list:
            continue
        if left < 0:
            return True
        stack.extend((item, left - 1) for item in value)
    return False


def is_utc_key(time: str) -> bool:
    """The gateway's own form, 2024-05-01T12:00:00.123+00:00, whose string order is time order."""
    return len(time) == 29 and time[10] == "T" and time[19] == "." and time.endswith("+00:00")


def time_key(time: str) -> str:
    """A valid record's time in the gateway's form (UTC, milliseconds): compare these, not times."""
    if is_utc_key(time):
        return time
    return _iso_key(_from_iso(time))


def failed(record: dict[str, Any]) -> bool:
    """The one definition of an error, for every tool: a request whose status is failure."""
    return record["status"] == "failure"


def level_at_least(record: dict[str, Any], level: str) -> bool:
    """Whether the (valid) record's level is ``level`` or more severe."""
    return _LEVEL_RANK[record["level"]] >= _LEVEL_RANK[level]


_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """An aware UTC datetime from ISO 8601 (naive means UTC) or a duration ago: ``15m``, ``2h``, ``1d``.

    Units of durations: s, m, h, d, w. Raises ValueError with the accepted forms on anything else.
    """
    match = _RELATIVE.match(text)
    try:
        if match:
            ago = timedelta(**{_UNITS[match[2]]: float(match[1])})
            return (now or datetime.now(UTC)) - ago
        moment = datetime.fromisoformat(text.strip())
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except OverflowError:  # 1000000d ago, year 1 east of UTC
        raise ValueError(f"invalid time {text!r}: before the year 1 or after 9999") from None
    except ValueError:
        raise ValueError(
            f"invalid time {text!r}: give ISO 8601 (2024-05-01T12:00:00Z, 2024-05-01) "
            "or a duration ago (30s, 15m, 2h, 1d, 1w)"
        ) from None


def _iso_key(moment: datetime) -> str:
    """The form the gateway writes ``time`` in, so that filters compare strings, not dates."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


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
        key = time_key(time)
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
    """Lines rejected while reading, counted by reason, with the first few places (``file:line``),
    in the context of every line read: ``lines == valid + blank + skipped + total``."""

    counts: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)
    max_examples: int = 5
    lines: int = 0  # every line read (a damaged .gz's remainder counts as one)
    blank: int = 0  # empty lines: neither records nor damage
    skipped: int = 0  # lines not parsed because they cannot match (iter_file's ``contains``)

    def add(self, reason: str, where: str) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        if len(self.examples) < self.max_examples:
            self.examples.append(f"{where}: {reason}")

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def valid(self) -> int:
        """Lines that were valid records (whether or not a filter kept them)."""
        return self.lines - self.blank - self.skipped - self.total

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


def _logs_in(directory: Path) -> list[Path]:
    """The log files under a directory, recursively; a folder that cannot be read is an error
    (LogFileError), as an unreadable file is, rather than silently missing from the analysis."""

    def refuse(error: OSError) -> None:
        raise LogFileError(f"{error.filename}: cannot read: {error.strerror or error}")

    found = []
    for folder, _, names in os.walk(directory, onerror=refuse):
        found += [path for name in names if _looks_like_log(path := Path(folder, name)) and path.is_file()]
    return sorted(found)


def expand_paths(args: Iterable[str]) -> list[Path]:
    """Files to read from command-line arguments: files, shell globs, directories (recursively).

    In a directory, the files named like logs (``*.log*``, ``*.jsonl*``) are taken. The rotated
    files of one log come together, oldest first (.N.gz ... .2.gz, .1, then the live file); logs
    keep the order of their first mention (directories sorted by path). A path that matches
    nothing raises FileNotFoundError naming it; a directory that cannot be read, LogFileError.
    """
    found: list[Path] = []
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            files = _logs_in(path)
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
                    bad.skipped += 1
                    continue
                record, reason = parse_line(line)
                if record is None:
                    if reason == "blank":
                        bad.blank += 1
                    else:
                        bad.add(reason, f"{name}:{lineno}")  # type: ignore[arg-type]
                elif match is None or match(record):
                    yield lineno, record
        except (EOFError, zlib.error, gzip.BadGzipFile) as error:
            # a truncated .gz raises EOFError; a damaged one BadGzipFile or zlib.error
            lineno += 1  # the damaged remainder: one line read, rejected
            bad.add(CORRUPT_GZIP, f"{name}:{lineno} ({error})")
        except OSError as error:  # a disk error, a file that turned into something else
            raise LogFileError(f"{name}: cannot read line {lineno + 1}: {error.strerror or error}") from error
        finally:
            bad.lines += lineno


_second = itemgetter(1)


def _time_of(record: dict[str, Any]) -> str:
    return time_key(record["time"])


def read_records(
    paths: Iterable[Path],
    bad: BadLines,
    flt: Filter | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """The valid records of all files that match ``flt``, merged in time order, streaming.

    The rotated files of one log are read one after the other (oldest first, as expand_paths
    orders them); the logs of different gateways are merged on ``time`` (its ``time_key``: UTC
    with milliseconds, so string order is time order) with heapq.merge, which holds one record per log. A file
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
