"""analyze-logs: offline analysis of request logs (errors, latency, tokens and cost, slow requests).

    analyze-logs.py LOG... [--errors | --performance | --trace REQUEST_ID]
                    [--since T] [--until T] [--model M] [--provider P]
                    [--top N] [--slow-ms MS] [--json]

LOG is a file (plain or gzip), a shell glob or a directory (read recursively: the logs fetched
from several gateways, results/logs/<host>/requests.log*). Rotated files may be given in any
order; the logs of several gateways are merged by time. Without a mode flag the full report is
printed: totals, error patterns, latency per model and per provider, token usage and cost,
slow requests, cache hits. Latency figures are over successful requests (a failure's latency is
a timeout or an early rejection, not the model's speed); quantiles are nearest-rank.

Lines that break the schema's rules (llmobs.debugging.records.FIELDS: a type and a range for
every field) are counted by reason and reported, never fatal; text output is safe for a
terminal, JSON output always valid JSON.

Exit codes: 0 report printed (also for an input without any valid record); 1 ``--trace`` found
the id nowhere; 2 bad arguments, a missing or unreadable file or directory; 3 an internal error.
"""

from __future__ import annotations

import argparse
import heapq
import re
import sys
from array import array
from datetime import datetime
from pathlib import Path
from typing import Any

from llmobs.cli import EXIT_CHECK_FAILED, EXIT_OK, argument_parser, emit, fail, progress, run, to_json
from llmobs.cli import table as text_table
from llmobs.debugging.records import (
    MAX_MS,
    REASONS,
    BadLines,
    Filter,
    LogFileError,
    check_readable,
    expand_paths,
    failed,
    is_utc_key,
    iter_file,
    parse_time,
    quantile,
    read_records,
    time_key,
)

DEFAULT_TOP = 10
# The gateway's default slow_request_threshold_ms: its WARNING records are the ones slower than it.
DEFAULT_SLOW_MS = 5000.0
NONE = "-"  # a model or provider the record does not name
MAX_PATTERN_CHARS = 300

# Error messages differ by ids, numbers and quoted values; replaced, the same error groups together.
# What varies between occurrences of one error starts at a digit (ids, numbers, addresses) or a
# quote (values). The scan looks only there: one character class first, so the regex engine skips
# everything else in C, and possessive repetitions that never give back, so each character is
# read a bounded number of times (no nested or overlapping quantifiers): linear in the message.
# Quoted strings are looked for only as far as a pattern can show them: a double-quoted one without
# escapes in one C loop, one with escapes within 64 characters, a single-quoted value within 300;
# a longer one is read as text (its words are normalized all the same).
_ANCHOR = re.compile(
    r"""[0-9"'](?:(?<=[0-9])[0-9A-Za-z_.-]*+|(?<=')[^'\s]{0,300}+'"""
    r"""|(?<=")(?:[^"\\]*+"|(?:[^"\\]|\\.){0,64}+"))"""
)
_KEY = re.compile(r"\s*+:")  # after a quoted string: it was a JSON key
_SPACE = re.compile(r"\s")  # in a quoted string: a sentence, not a value
_WORD_RUN = re.compile(r"[0-9A-Za-z_.-]*+")  # words of ids are ASCII: a bitmap class, not \w
_NUMBER_LIKE = re.compile(r"[0-9.]*+")
_WORD = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"
# A word with a digit, whole: the first rule that matches it names it.
_PARTS = (
    (re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"), "<uuid>"),
    (re.compile(r"[A-Za-z]++[-_][0-9A-Za-z_.-]*+"), "<id>"),  # req-123, chatcmpl-9ab, call_7f
    (re.compile(r"0x[0-9a-fA-F]++|[0-9a-fA-F]{8,}+"), "<hex>"),
)
_NUMBER = re.compile(r"\d++\.\d++|\d++")


def _word(word: str) -> str:
    number = word.rstrip(".")  # a full stop ends the sentence, not the number
    if _NUMBER_LIKE.fullmatch(number):  # 42, 600.0, an address 10.0.3.7, a version 1.2.3
        return "<n>" + word[len(number) :]
    for pattern, placeholder in _PARTS:
        if pattern.fullmatch(word):
            return placeholder
    return _NUMBER.sub("<n>", word)  # 600.0s -> <n>s, x7 -> x<n>


def _normalize(text: str, budget: int) -> str:
    """About ``budget`` characters of the normalized text. The scan stops there, and looks for the
    next digit or quote only as far as plain text could still show (a window of the budget left)."""
    out: list[str] = []
    size = pos = 0
    # An escaped quote never opens a string: masked in a copy of the same length that is only
    # scanned (what is printed comes from the text), it is not even a place to try.
    scanned = text.replace('\\"', "\\\x01") if '\\"' in text else text
    while size < budget:
        window = pos + budget - size + 64
        match = _ANCHOR.search(scanned, pos, window)
        if match is None:
            out.append(text[pos:window])  # plain text up to the end of the pattern
            break
        start, end = match.span()
        before, found = text[pos:start], text[start:end]
        if found[0] not in "\"'":
            kept = before.rstrip(_WORD)  # the word's letters before its first digit belong to it
            piece = kept + _word(before[len(kept) :] + found)  # an overlong one: by its start
            if end == window:  # the word goes on past the window: skip its rest
                end = _WORD_RUN.match(scanned, end).end()  # type: ignore[union-attr]
        elif found[0] == "'" or not (_KEY.match(scanned, end) or _SPACE.search(found)):
            piece = f"{before}{found[0]}<v>{found[0]}"  # a value: 'req-42', "llama3.1:8b"
        else:  # a key or a sentence: its words are normalized, its quotes kept
            piece = f'{before}"{_normalize(found[1:-1], budget - size)}"'
        out.append(piece)
        size += len(piece)
        pos = end
    return "".join(out)


def normalize_message(message: str | None) -> str:
    """The error's message with what varies between occurrences replaced by placeholders: its
    first MAX_PATTERN_CHARS characters, whitespace runs as one space. Time linear in the message."""
    text = " ".join(_normalize(message or "", MAX_PATTERN_CHARS + 1).split())
    return text[:MAX_PATTERN_CHARS] or "(no message)"


class Group:
    """What the report keeps of the requests of one model at one provider (or of their sums).

    Latencies are kept in arrays of doubles (8 bytes each) for exact quantiles.
    """

    __slots__ = (
        "cache_hits",
        "completion_tokens",
        "cost",
        "failures",
        "latency",
        "overhead",
        "prompt_tokens",
        "requests",
        "total_tokens",
        "ttft",
        "upstream",
    )

    def __init__(self) -> None:
        self.requests = 0
        self.failures = 0
        self.latency = array("d")
        self.ttft = array("d")
        self.upstream = array("d")
        self.overhead = array("d")
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.total_tokens = 0
        self.cost = 0.0
        self.cache_hits = 0

    def merge(self, other: Group) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


class Analysis:
    """One pass over the records; ``errors``/``performance``/``usage`` say which parts to compute.

    Requests are grouped by (model, provider), once; the per-model and per-provider tables sum
    those groups at the end, which halves the work per record.
    """

    def __init__(self, slow_ms: float, top: int, errors: bool, performance: bool, usage: bool) -> None:
        self.slow_ms = slow_ms
        self.top = top
        self.errors = errors
        self.performance = performance
        self.usage = usage
        self.warnings = 0  # records the gateway itself logged as slow (level WARNING)
        self.first = ""  # the time strings of the first and last records ("" while there is none)
        self.last = ""
        self.hosts: set[str] = set()
        self.groups: dict[tuple[str, str], Group] = {}
        # (pattern, class, status, model, provider) -> [count, first seen, last seen, example id]
        self.patterns: dict[tuple[Any, ...], list[Any]] = {}
        self.slow_count = 0
        self._slowest: list[tuple[float, int, dict[str, Any]]] = []  # a min-heap of the top ones

    def add(self, record: dict[str, Any]) -> None:
        get = record.get
        time = record["time"]
        if not is_utc_key(time):  # one clock: logs with other offsets compare right
            time = time_key(time)
        if time > self.last:
            self.last = time
        if time < self.first or not self.first:
            self.first = time
        self.hosts.add(get("host") or NONE)
        key = (
            get("requested_model") or get("model_group") or NONE,
            get("provider") or get("api_provider") or NONE,
        )
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = Group()
        group.requests += 1
        latency = get("latency_ms")
        if failed(record):
            group.failures += 1
            if self.errors:
                self._add_error(record, time, key)
        elif self.performance:
            if latency is not None:
                group.latency.append(latency)
            value = get("ttft_ms")
            if value is not None:
                group.ttft.append(value)
            value = get("upstream_latency_ms")
            if value is not None:
                group.upstream.append(value)
            value = get("overhead_ms")
            if value is not None:
                group.overhead.append(value)
        if self.performance and latency is not None and latency > self.slow_ms:
            self._add_slow(record, latency, key)
        if record["level"] == "WARNING":
            self.warnings += 1
        if get("cache_hit"):
            group.cache_hits += 1
        if self.usage:
            group.prompt_tokens += get("prompt_tokens") or 0
            group.completion_tokens += get("completion_tokens") or 0
            group.total_tokens += get("total_tokens") or 0
            group.cost += get("cost") or 0.0

    def _add_error(self, record: dict[str, Any], time: str, key: tuple[str, str]) -> None:
        pattern = (
            normalize_message(record.get("error_message")),
            record.get("error_class") or NONE,
            record.get("http_status"),
            *key,
        )
        seen = self.patterns.get(pattern)
        if seen is None:
            self.patterns[pattern] = [1, time, time, record.get("request_id")]
            return
        seen[0] += 1
        if time < seen[1]:
            seen[1] = time
        if time > seen[2]:
            seen[2] = time

    def _add_slow(self, record: dict[str, Any], latency: float, key: tuple[str, str]) -> None:
        self.slow_count += 1
        if len(self._slowest) == self.top and latency <= self._slowest[0][0]:
            return
        entry = {
            "request_id": record.get("request_id"),
            "time": record["time"],
            "host": record.get("host"),
            "model": key[0],
            "provider": key[1],
            "status": record["status"],
            "latency_ms": latency,
        }
        # the counter keeps the heap from comparing dicts; the earlier of equal latencies stays
        item = (latency, -self.slow_count, entry)
        if len(self._slowest) < self.top:
            heapq.heappush(self._slowest, item)
        else:
            heapq.heapreplace(self._slowest, item)

    # -- the report ------------------------------------------------------------------------------

    def by(self, index: int) -> dict[str, Group]:
        """The groups summed per model (index 0) or per provider (index 1)."""
        summed: dict[str, Group] = {}
        for key, group in self.groups.items():
            summed.setdefault(key[index], Group()).merge(group)
        return summed

    def summary(self) -> dict[str, Any]:
        requests = sum(group.requests for group in self.groups.values())
        failures = sum(group.failures for group in self.groups.values())
        cache_hits = sum(group.cache_hits for group in self.groups.values())
        span = None
        if self.first:  # time keys: all UTC, so the difference is defined
            span = (datetime.fromisoformat(self.last) - datetime.fromisoformat(self.first)).total_seconds()
        return {
            "requests": requests,
            "success": requests - failures,
            "failures": failures,
            "error_rate_pct": _pct(failures, requests),
            "first": self.first or None,
            "last": self.last or None,
            "span_s": span,
            "hosts": sorted(self.hosts),
            "warnings": self.warnings,
            "cache_hits": cache_hits,
            "cache_hit_rate_pct": _pct(cache_hits, requests),
        }

    def error_patterns(self) -> list[dict[str, Any]]:
        rows = sorted(self.patterns.items(), key=lambda item: (-item[1][0], item[1][1]))
        return [
            {
                "pattern": pattern,
                "error_class": error_class,
                "http_status": status,
                "model": model,
                "provider": provider,
                "count": count,
                "first_seen": first,
                "last_seen": last,
                "example_request_id": example,
            }
            for (pattern, error_class, status, model, provider), (count, first, last, example) in rows[
                : self.top
            ]
        ]

    def latency(self, index: int, name: str) -> list[dict[str, Any]]:
        rows = []
        for value, group in _biggest(self.by(index), self.top):
            row: dict[str, Any] = {name: value, "requests": group.requests, "failures": group.failures}
            row["streams"] = len(group.ttft)
            # one sorted copy at a time: the peak memory is one list, not four
            row.update(_quantiles(group.latency, "", (0.5, 0.95, 0.99)))
            row.update(_quantiles(group.ttft, "ttft_", (0.5, 0.95)))
            row.update(_quantiles(group.upstream, "upstream_", (0.5, 0.95)))
            row.update(_quantiles(group.overhead, "overhead_", (0.5, 0.95)))
            rows.append(row)
        return rows

    def token_usage(self) -> list[dict[str, Any]]:
        return [
            {
                "model": name,
                "requests": group.requests,
                "prompt_tokens": group.prompt_tokens,
                "completion_tokens": group.completion_tokens,
                "total_tokens": group.total_tokens,
                "cost_usd": round(group.cost, 6),
                "cache_hits": group.cache_hits,
            }
            for name, group in _biggest(self.by(0), self.top)
        ]

    def slow_requests(self) -> dict[str, Any]:
        return {
            "threshold_ms": self.slow_ms,
            "count": self.slow_count,
            "top": [entry for _, _, entry in sorted(self._slowest, reverse=True)],
        }


def _biggest(groups: dict[str, Group], top: int) -> list[tuple[str, Group]]:
    return sorted(groups.items(), key=lambda item: (-item[1].requests, item[0]))[:top]


def _quantiles(values: array, prefix: str, qs: tuple[float, ...]) -> dict[str, float | None]:
    ordered = sorted(values)
    return {f"{prefix}p{round(q * 100)}_ms": quantile(ordered, q) for q in qs}


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


# -- text output -----------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return NONE
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _cells(row: dict[str, Any], keys: list[str]) -> list[str]:
    # costs are fractions of a cent on small models: more decimals than milliseconds need
    return [f"{row[key]:.4f}" if key.endswith("_usd") else _cell(row[key]) for key in keys]


def table(title: str, columns: list[tuple[str, str]], rows: list[dict[str, Any]]) -> str:
    """An aligned table: numbers right-aligned, text left-aligned; columns are (heading, key)."""
    if not rows:
        return f"{title}\n  (none)"
    keys = [key for _, key in columns]
    numeric = [all(isinstance(row[key], int | float | None) for row in rows) for key in keys]
    cells = [_cells(row, keys) for row in rows]
    return "\n".join([title, *text_table([heading for heading, _ in columns], cells, numeric)])


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return NONE
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    parts += [f"{hours}h"] if hours or days else []
    parts += [f"{minutes}m", f"{secs}s"] if whole >= 60 else [f"{seconds:g}s"]
    return " ".join(parts)


def render_summary(report: dict[str, Any]) -> str:
    s = report["summary"]
    files = f"Files: {len(report['files'])}  lines read: {report['lines']}"
    if not s["requests"]:
        return f"{files}\n{_empty_message(report)}"
    lines = [
        files,
        f"Requests: {s['requests']}  success: {s['success']}  failures: {s['failures']}"
        f"  error rate: {s['error_rate_pct']:.2f} %",
        f"Time span: {s['first']} .. {s['last']} ({_duration(s['span_s'])})",
        f"Hosts: {', '.join(s['hosts'])}",
        f"Cache hits: {s['cache_hits']} ({s['cache_hit_rate_pct']:.2f} %)"
        f"  slow (level WARNING, judged by the gateway): {s['warnings']}",
    ]
    return "\n".join(lines)


ERROR_COLUMNS = [
    ("count", "count"),
    ("class", "error_class"),
    ("status", "http_status"),
    ("model", "model"),
    ("provider", "provider"),
    ("first seen", "first_seen"),
    ("last seen", "last_seen"),
    ("example request", "example_request_id"),
    ("message", "pattern"),
]
LATENCY_COLUMNS = [
    ("requests", "requests"),
    ("failed", "failures"),
    ("p50", "p50_ms"),
    ("p95", "p95_ms"),
    ("p99", "p99_ms"),
    ("streams", "streams"),
    ("ttft p50", "ttft_p50_ms"),
    ("ttft p95", "ttft_p95_ms"),
    ("upstream p50", "upstream_p50_ms"),
    ("upstream p95", "upstream_p95_ms"),
    ("overhead p50", "overhead_p50_ms"),
    ("overhead p95", "overhead_p95_ms"),
]
USAGE_COLUMNS = [
    ("model", "model"),
    ("requests", "requests"),
    ("prompt", "prompt_tokens"),
    ("completion", "completion_tokens"),
    ("total", "total_tokens"),
    ("cost USD", "cost_usd"),
    ("cache hits", "cache_hits"),
]
SLOW_COLUMNS = [
    ("latency ms", "latency_ms"),
    ("request", "request_id"),
    ("model", "model"),
    ("provider", "provider"),
    ("status", "status"),
    ("host", "host"),
    ("time", "time"),
]


def render_report(report: dict[str, Any]) -> str:
    parts = [render_summary(report)]
    if report["summary"]["requests"]:
        if "errors" in report:
            errors = report["errors"]
            failures = report["summary"]["failures"]
            title = f"Error patterns ({errors['patterns']} distinct, {failures} failures)"
            parts.append(table(title, ERROR_COLUMNS, errors["top"]))
        if "latency" in report:
            latency = report["latency"]
            parts.append(
                table(
                    "Latency by model (ms, successful requests)",
                    [("model", "model"), *LATENCY_COLUMNS],
                    latency["by_model"],
                )
            )
            parts.append(
                table(
                    "Latency by provider (ms, successful requests)",
                    [("provider", "provider"), *LATENCY_COLUMNS],
                    latency["by_provider"],
                )
            )
        if "usage" in report:
            parts.append(table("Token usage and cost by model", USAGE_COLUMNS, report["usage"]["by_model"]))
        if "slow_requests" in report:
            slow = report["slow_requests"]
            title = f"Slow requests (over {slow['threshold_ms']:g} ms): {slow['count']}, slowest first"
            parts.append(table(title, SLOW_COLUMNS, slow["top"]))
    parts.append(render_bad_lines(report["bad_lines"], report["lines"]))
    return "\n\n".join(part for part in parts if part)


def _empty_message(report: dict[str, Any]) -> str:
    filtered = any(value is not None for value in report["filters"].values())
    why = " match the filters" if filtered else " were found"
    return f"No valid request records{why} in {len(report['files'])} file(s) ({report['lines']} lines read)."


def render_bad_lines(bad: dict[str, Any], lines: int) -> str:
    if not bad["total"]:
        return ""
    reasons = ", ".join(f"{reason} {count}" for reason, count in bad["by_reason"].items())
    text = [f"Skipped {bad['total']} bad lines of {lines} ({reasons}); first:"]
    text += [f"  {example}" for example in bad["examples"]]
    return "\n".join(text)


def not_found(report: dict[str, Any]) -> str:
    """Not found, and whether lines that contain the id were rejected (the request may be there)."""
    text = (
        f"{report['trace']}: not found as a request id or trace id in {len(report['files'])} file(s)"
        f" ({report['lines']} lines read)"
    )
    bad = report["bad_lines"]
    if bad["total"]:
        reasons = ", ".join(f"{reason} {count}" for reason, count in bad["by_reason"].items())
        which = "containing it" if report["searched_text"] else "(any of which may hold it)"
        text += f"; but {bad['total']} rejected line(s) {which}: {reasons}"
    return text


def render_trace(report: dict[str, Any]) -> str:
    found = report["matches"]
    if not found:
        bad = render_bad_lines(report["bad_lines"], report["lines"])
        return not_found(report) + (f"\n\n{bad}" if bad else "")
    hosts = sorted({entry["record"].get("host") or NONE for entry in found})
    text = [f"Trace of {report['trace']}: {len(found)} line(s), host(s) {', '.join(hosts)}"]
    for entry in found:
        record = entry["record"]
        text.append("")
        where = f"{entry['file']}:{entry['line']}"
        text.append(f"{where}  {record['time']}  {record['level']}  {record['status']}")
        width = max(len(key) for key in record)
        for key, value in record.items():
            shown = value if isinstance(value, str) else to_json(value, indent=None)
            text.append(f"    {key.ljust(width)}  {shown}")
    bad = render_bad_lines(report["bad_lines"], report["lines"])
    return "\n".join(text) + (f"\n\n{bad}" if bad else "")


# -- the command -------------------------------------------------------------------------------------


EPILOG = """\
examples:
  analyze-logs.py /var/log/litellm/requests.log*                 # full report, rotated files too
  analyze-logs.py results/logs/*/ --errors --since 2h            # logs fetched by playbooks/fetch-logs.yml
  analyze-logs.py /var/log/litellm/requests.log --trace <request-id>
  analyze-logs.py requests.log --performance --model llama3.1:8b --json | jq '.latency.by_model'

exit codes: 0 report printed (also for an input without any valid record), 1 --trace id not found,
  2 bad arguments or unreadable input, 3 internal error (--debug shows the traceback)

rejected lines are counted by reason:
""" + "".join(f"  {name:<15} {meaning}\n" for name, meaning in REASONS.items())


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argument_parser(__doc__, EPILOG, debug=True)
    parser.add_argument(
        "logs",
        nargs="+",
        metavar="LOG",
        help="log files (plain or gzip), globs or directories; 'requests.log*' takes the rotated files too",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--errors", action="store_true", help="error patterns only")
    mode.add_argument("--performance", action="store_true", help="latency and slow requests only")
    mode.add_argument("--trace", metavar="REQUEST_ID", help="every line of one request (or trace id)")
    parser.add_argument("--since", metavar="TIME", help="ISO 8601 (naive = UTC) or ago: 15m, 2h, 1d")
    parser.add_argument("--until", metavar="TIME", help="ISO 8601 (naive = UTC) or ago: 15m, 2h, 1d")
    parser.add_argument("--model", help="requested model or model group")
    parser.add_argument("--provider", help="provider (inventory name) or api_provider (LiteLLM's)")
    parser.add_argument(
        "--top", type=_positive_int, default=DEFAULT_TOP, metavar="N", help="rows per table (10)"
    )
    parser.add_argument(
        "--slow-ms",
        type=_milliseconds,
        default=DEFAULT_SLOW_MS,
        metavar="MS",
        help="threshold of slow requests (5000, the gateway's slow_request_threshold_ms)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    return parser.parse_args(argv)


def _milliseconds(text: str) -> float:
    value = float(text)  # a ValueError is argparse's "invalid value"
    if not 0 <= value <= MAX_MS:  # also nan and inf
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_MS:g}, not {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _progress_hook() -> Any:
    # only on a terminal: a log or a pipe needs no running count
    if sys.stderr.isatty():
        return lambda lines: progress(f"analyze-logs: {lines:,} lines read")
    return None


def run_trace(paths: list[Path], flt: Filter, base: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Every line of the request (or trace) id across all files, in time order."""
    wanted = flt.request_id or ""
    # Unescaped in JSON when plain ASCII: lines without it need no parsing.
    plain = wanted.isascii() and '"' not in wanted and "\\" not in wanted and wanted.isprintable()
    contains = wanted if plain else None
    bad = BadLines()
    found = []
    hook = _progress_hook()
    for path in paths:
        for lineno, record in iter_file(path, bad, flt, hook, contains):
            found.append({"file": str(path), "line": lineno, "record": record})
    found.sort(key=lambda entry: entry["record"]["time"])  # stable: file order among equal times
    report = {**base, "mode": "trace", "trace": wanted, "matches": found, "searched_text": plain}
    report |= _tally(bad)
    return report, EXIT_OK if found else EXIT_CHECK_FAILED


def run_analysis(
    paths: list[Path], flt: Filter, args: argparse.Namespace, base: dict[str, Any]
) -> dict[str, Any]:
    full = not (args.errors or args.performance)
    analysis = Analysis(
        slow_ms=args.slow_ms,
        top=args.top,
        errors=full or args.errors,
        performance=full or args.performance,
        usage=full,
    )
    bad = BadLines()
    active = flt if any(value is not None for value in base["filters"].values()) else None
    add = analysis.add
    for record in read_records(paths, bad, active, _progress_hook()):
        add(record)
    mode = "errors" if args.errors else "performance" if args.performance else "full"
    report = {**base, "mode": mode, **_tally(bad), "summary": analysis.summary()}
    if analysis.errors:
        report["errors"] = {"patterns": len(analysis.patterns), "top": analysis.error_patterns()}
    if analysis.performance:
        report["latency"] = {
            "by_model": analysis.latency(0, "model"),
            "by_provider": analysis.latency(1, "provider"),
        }
        report["slow_requests"] = analysis.slow_requests()
    if analysis.usage:
        report["usage"] = {
            "by_model": analysis.token_usage(),
            "total_tokens": sum(group.total_tokens for group in analysis.groups.values()),
            "cost_usd": round(sum(group.cost for group in analysis.groups.values()), 6),
        }
    return report


def _tally(bad: BadLines) -> dict[str, Any]:
    """What was read: lines == valid_lines + blank_lines + unparsed_lines + bad_lines.total."""
    return {
        "lines": bad.lines,
        "valid_lines": bad.valid,
        "blank_lines": bad.blank,
        "unparsed_lines": bad.skipped,  # --trace: lines without the id's text
        "bad_lines": bad.as_dict(),
    }


def main(argv: list[str] | None = None) -> int:
    return run(_main, argv)


def _main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        since = parse_time(args.since) if args.since else None
        until = parse_time(args.until) if args.until else None
    except ValueError as error:
        fail(str(error))
    flt = Filter(since=since, until=until, model=args.model, provider=args.provider, request_id=args.trace)
    try:
        paths = expand_paths(args.logs)
        check_readable(paths)
    except OSError as error:  # FileNotFoundError, LogFileError
        fail(str(error))
    base = {
        "files": [str(path) for path in paths],
        "filters": {
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
            "model": args.model,
            "provider": args.provider,
        },
        "top": args.top,
        "slow_ms": args.slow_ms,
    }
    try:
        if args.trace is not None:
            report, code = run_trace(paths, flt, base)
        else:
            report, code = run_analysis(paths, flt, args, base), EXIT_OK
    except LogFileError as error:  # vanished or became unreadable since the check
        fail(str(error))
    text = render_trace(report) if args.trace is not None else render_report(report)
    emit(report, args.json, text)
    bad = report["bad_lines"]
    if args.json and bad["total"]:
        progress(f"warning: skipped {bad['total']} bad lines ({bad['by_reason']}); see bad_lines")
    if code != EXIT_OK and args.json:  # the text says so on stdout
        progress(not_found(report))
    return code


if __name__ == "__main__":
    raise SystemExit(main())
