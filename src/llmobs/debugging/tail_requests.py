"""tail-requests: follow the gateway's request log live, filtered, with rolling statistics.

Like ``tail -F``: starts at the end of the log (``-n`` shows the last matching requests first),
keeps following across logrotate's rotation (rename or copytruncate) and waits for a log that
does not exist yet. A copytruncate is seen by the size and the bytes before the read position;
the lines written between the last read and the truncation are read from the copy (``LOG.1``)
when it is there, else a notice says that some may be missing. Request ids are shown whole, as
``analyze-logs --trace`` takes them.

One line per request, coloured by level on a terminal, with a footer of the last minute's
statistics; plain lines and a periodic statistics line when stdout is not a terminal (``ssh host
tail-requests.py`` without ``-t``, a pipe, a playbook). ``--for`` and
``--count`` bound the run; it then prints a summary and exits 0 (also on Ctrl-C and SIGTERM).

Exit codes: 0 stopped (time, count, Ctrl-C, SIGTERM); 2 bad arguments, a log it cannot read or
unusable gateway settings; 3 an internal error.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import stat
import sys
import threading
import time
from array import array
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from llmobs.cli import EXIT_OK, argument_parser, fail, printable, progress, run, to_json
from llmobs.debugging.records import BadLines, Filter, failed, parse_line, quantile

DEFAULT_FILE = "/var/log/litellm/requests.log"
# On a gateway host the litellm role writes the log's settings here (litellm_logging.log_file).
GATEWAY_SETTINGS = "/etc/litellm/request-log.json"
SHOWN_LEVELS = ("INFO", "WARNING", "ERROR")
GATEWAY_SLOW_MS = 5000.0  # the gateway's slow_request_threshold_ms default
WINDOW_S = 60.0
# Worker processes notice a rotation before their next write; a batch already in flight still
# lands in the old file. Keep reading a rotated file until it has been quiet this long.
ROTATION_GRACE_S = 2.0
BACKWARD_BLOCK = 1 << 16
MAX_ERROR_CHARS = 300
FINGERPRINT = 64  # bytes before the read position: when they change, the file was rewritten

ERASE_LINE = "\r\x1b[K"
RED, YELLOW, DIM, REVERSE, RESET = "\x1b[31m", "\x1b[33m", "\x1b[2m", "\x1b[7m", "\x1b[0m"


class CannotRead(Exception):
    """The log exists but cannot be read (exit 2 with the message)."""


# ---------------------------------------------------------------------------------------------
# Following a file across rotation


@dataclass
class _OpenFile:
    fd: int
    ident: tuple[int, int]  # (device, inode): what the path named when it was opened
    partial: bytes = b""  # the start of a line whose end is not written yet
    pos: int = 0
    last_data: float = 0.0
    before: bytes = b""  # the FINGERPRINT bytes before pos


class Follower:
    """Complete lines appended to ``path``, across rotation, truncation and a missing file.

    Each ``read_lines`` reads the open file to its end, then checks the path: when it names
    another file (rotated by rename) the old one is kept and drained for ROTATION_GRACE_S after
    its last write, and the new one is read from its start; when the file got shorter or the bytes
    before the read position changed (copytruncate, even when the file grew past that position
    again between two reads) the rest of the old content is read from the copy logrotate made
    (``PATH.1``) when it is there, then the file from its start. A file that appears later is read
    from its start: all of it is new. ``notices`` collects what the user should be told.
    """

    def __init__(self, path: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self.clock = clock
        self.current: _OpenFile | None = None
        self.rotated: list[_OpenFile] = []
        self.rotations = 0
        self.truncations = 0
        self.notices: list[str] = []

    def open_at_end(self) -> int | None:
        """Open the file positioned at its end (like ``tail -f``); its size, or None if missing."""
        self.current = self._open()
        if self.current is None:
            return None
        self.current.pos = os.lseek(self.current.fd, 0, os.SEEK_END)
        self.current.before = os.pread(self.current.fd, FINGERPRINT, max(0, self.current.pos - FINGERPRINT))
        return self.current.pos

    def lines_before(self, end: int) -> Iterator[bytes]:
        """The lines of the open file before offset ``end``, last first.

        Read backwards in blocks, so that ``-n 20`` does not read a whole day of log.
        """
        assert self.current is not None
        fd, rest, last = self.current.fd, b"", True
        if end == 0:
            return
        while end > 0:
            start = max(0, end - BACKWARD_BLOCK)
            block = os.pread(fd, end - start, start) + rest
            if last and block.endswith(b"\n"):
                block = block[:-1]  # the newline of the last line, not an empty line after it
            end, last = start, False
            lines = block.split(b"\n")
            rest = lines.pop(0)  # its start may be in the block before
            yield from reversed(lines)
        yield rest  # the first line, also when it is empty (a blank line counts as read)

    def read_lines(self) -> list[bytes]:
        lines: list[bytes] = []
        for old in list(self.rotated):
            lines += self._read(old)
            if self.clock() - old.last_data >= ROTATION_GRACE_S:
                self._close(old, lines)
                self.rotated.remove(old)
        if self.current is None:
            self.current = self._open()
            if self.current is None:
                return lines
        if self._rewritten(self.current):
            self.truncations += 1
            lines += self._from_copy(self.current)
            if self.current.partial:
                lines.append(self.current.partial)
            self.current.partial, self.current.before = b"", b""
            self.current.pos = os.lseek(self.current.fd, 0, os.SEEK_SET)
        lines += self._read(self.current)
        now_named = self._path_ident()
        if now_named != self.current.ident:
            self.rotations += 1
            self.current.last_data = self.clock()
            self.rotated.append(self.current)
            self.current = self._open()
            if self.current is not None:
                lines += self._read(self.current)
        return lines

    def _rewritten(self, open_file: _OpenFile) -> bool:
        """Truncated since the last read: shorter than the read position, or other bytes before it."""
        if os.fstat(open_file.fd).st_size < open_file.pos:
            return True
        before = open_file.before
        return bool(before) and os.pread(open_file.fd, len(before), open_file.pos - len(before)) != before

    def _from_copy(self, truncated: _OpenFile) -> list[bytes]:
        """The lines the truncated file had past the read position, from logrotate's copy."""
        try:
            fd = os.open(f"{self.path}.1", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            fd = None
        if fd is not None:
            copy = _OpenFile(fd, (0, 0), truncated.partial, truncated.pos)
            size, before = os.fstat(fd).st_size, truncated.before
            same = size >= truncated.pos and os.pread(fd, len(before), truncated.pos - len(before)) == before
            if same:
                os.lseek(fd, truncated.pos, os.SEEK_SET)
                lines = self._read(copy)
                truncated.partial = copy.partial
                os.close(fd)
                self.notices.append(
                    f"{self.path} was truncated (copytruncate); its end was read from {self.path}.1"
                )
                return lines
            os.close(fd)
        self.notices.append(
            f"{self.path} was truncated (copytruncate) and no copy {self.path}.1 continues where it was read:"
            " the lines written in the last moments before the truncation may be missing"
        )
        return []

    def close(self) -> None:
        for open_file in [*self.rotated, *([self.current] if self.current else [])]:
            os.close(open_file.fd)
        self.rotated, self.current = [], None

    def _open(self) -> _OpenFile | None:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except PermissionError:
            raise CannotRead(self._denied()) from None
        except OSError as error:
            raise CannotRead(f"cannot read {self.path}: {error.strerror or error}") from None
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            os.close(fd)
            raise CannotRead(f"{self.path} is a directory: give the log file with --file")
        return _OpenFile(fd, (st.st_dev, st.st_ino), last_data=self.clock())

    def _path_ident(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        except PermissionError:
            raise CannotRead(self._denied()) from None
        return st.st_dev, st.st_ino

    def _denied(self) -> str:
        return f"cannot read {self.path}: permission denied; run as root or as a member of group litellm"

    def _read(self, open_file: _OpenFile) -> list[bytes]:
        chunks = []
        while chunk := os.read(open_file.fd, 1 << 20):
            chunks.append(chunk)
        if not chunks:
            return []
        read = b"".join(chunks)
        data = open_file.partial + read
        open_file.pos += len(read)
        open_file.before = (open_file.before + read[-FINGERPRINT:])[-FINGERPRINT:]
        open_file.last_data = self.clock()
        lines = data.split(b"\n")
        open_file.partial = lines.pop()
        return lines

    def _close(self, open_file: _OpenFile, lines: list[bytes]) -> None:
        if open_file.partial:  # never completed: shown as it is (counted bad if it is not JSON)
            lines.append(open_file.partial)
        os.close(open_file.fd)


# ---------------------------------------------------------------------------------------------
# Statistics


class Stats:
    """The run's totals and a rolling window of the last ``window_s`` seconds, by arrival time.

    The window holds live requests only: the ``-n`` backlog did not arrive in the last minute.
    """

    def __init__(self, window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self.clock = clock
        self.started = clock()
        self.window: deque[tuple[float, float | None, bool]] = deque()
        self.requests = 0
        self.errors = 0
        self.latencies = array("d")  # 8 bytes a request: a day at 100 requests/s is 70 MB

    def add(self, record: dict[str, Any], live: bool = True) -> None:
        error = failed(record)  # as analyze-logs counts them
        latency = record.get("latency_ms")
        self.requests += 1
        self.errors += error
        if latency is not None:
            self.latencies.append(latency)
        if live:
            self.window.append((self.clock(), latency, error))

    def last_window(self) -> dict[str, Any]:
        now = self.clock()
        while self.window and self.window[0][0] <= now - self.window_s:
            self.window.popleft()
        span = min(self.window_s, now - self.started)
        requests = len(self.window)
        errors = sum(failed for _, _, failed in self.window)
        latencies = sorted(latency for _, latency, _ in self.window if latency is not None)
        return {
            "window_s": round(span, 1),
            "requests": requests,
            "per_s": requests / max(span, 1.0),
            "errors": errors,
            "error_pct": 100.0 * errors / requests if requests else 0.0,
            "p50_ms": quantile(latencies, 0.5),
            "p95_ms": quantile(latencies, 0.95),
        }

    def summary(self, bad: BadLines) -> dict[str, Any]:
        latencies = sorted(self.latencies)
        return {
            "seconds": round(self.clock() - self.started, 1),
            "requests": self.requests,
            "errors": self.errors,
            "error_pct": round(100.0 * self.errors / self.requests, 2) if self.requests else 0.0,
            "p50_ms": quantile(latencies, 0.5),
            "p95_ms": quantile(latencies, 0.95),
            "bad_lines": bad.total,
            "bad_lines_by_reason": dict(sorted(bad.counts.items())),
            "lines": bad.lines,  # == valid_lines + blank_lines + bad_lines
            "valid_lines": bad.valid,
            "blank_lines": bad.blank,
        }


# ---------------------------------------------------------------------------------------------
# Display


def _clean(value: Any) -> str:
    """Error messages come from backends: their control characters must not drive the terminal."""
    return printable(str(value)).replace("\n", " ")  # one request, one line


def _duration(ms: float | None) -> str:
    if ms is None:
        return "-"
    return f"{ms:.0f}ms" if ms < 1000 else f"{ms / 1000:.2f}s"


def _local_time(iso: str) -> str:
    try:
        moment = datetime.fromisoformat(iso).astimezone()
    except ValueError:
        return _clean(iso)
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def _target(record: dict[str, Any]) -> str:
    """provider/deployment; the bundle's deployment ids already start with the provider."""
    provider, deployment = record.get("provider"), record.get("deployment")
    if deployment and provider and not deployment.startswith(f"{provider}/"):
        return f"{provider}/{deployment}"
    return deployment or provider or record.get("api_provider") or "?"


def _tokens(record: dict[str, Any]) -> str:
    prompt, completion = record.get("prompt_tokens"), record.get("completion_tokens")
    if prompt is not None or completion is not None:
        return f"{prompt if prompt is not None else '?'}+{completion if completion is not None else '?'} tok"
    total = record.get("total_tokens")
    return f"{total} tok" if total is not None else "- tok"


def format_record(record: dict[str, Any], color: bool, slow_ms: float = GATEWAY_SLOW_MS) -> str:
    """One request on one line: time, level, host, id, route, status, timings, tokens, error."""
    level = record.get("level") or "?"
    latency = record.get("latency_ms")
    timing = _duration(latency)
    if record.get("ttft_ms") is not None:
        timing += f" ttft {_duration(record['ttft_ms'])}"
    parts = [
        f"{level:<7}",
        record.get("host") or "-",
        record.get("request_id") or "-",  # whole: analyze-logs --trace takes it as it is
        f"{record.get('requested_model') or record.get('model_group') or '?'} -> {_target(record)}",
        f"{record.get('status')}/{record.get('http_status') or '-'}",
        timing,
        _tokens(record),
    ]
    if failed(record) or level == "ERROR":
        message = (record.get("error_message") or "")[:MAX_ERROR_CHARS]
        parts.append(f"{record.get('error_class') or 'error'}: {message}")
    when, rest = _local_time(record["time"]), _clean(" ".join(parts))
    if not color:
        return f"{when} {rest}"
    if level == "ERROR":
        return f"{RED}{when} {rest}{RESET}"
    if level == "WARNING" or (latency is not None and latency > slow_ms):
        return f"{YELLOW}{when} {rest}{RESET}"
    return f"{DIM}{when}{RESET} {rest}"


def format_window(window: dict[str, Any], bad: BadLines) -> str:
    span = f"{window['window_s']:.0f}s" + ("" if window["window_s"] >= WINDOW_S else " (since start)")
    return (
        f"last {span}: {window['requests']} requests ({window['per_s']:.1f}/s), "
        f"{window['errors']} errors ({window['error_pct']:.1f}%), "
        f"p50 {_duration(window['p50_ms'])} p95 {_duration(window['p95_ms'])} | bad lines {bad.total}"
    )


def format_summary(summary: dict[str, Any]) -> str:
    return (
        f"tail-requests: {summary['requests']} requests, {summary['errors']} errors "
        f"({summary['error_pct']:.1f}%), p50 {_duration(summary['p50_ms'])} "
        f"p95 {_duration(summary['p95_ms'])}, {summary['bad_lines']} bad lines in {summary['seconds']:.0f}s"
    )


class Screen:
    """Lines on stdout; on a terminal, a status footer kept on the last line.

    The footer is written without a newline and erased (carriage return + erase line) before
    anything else is printed, so it never mixes into the lines above; no cursor addressing or
    scroll region, which keeps it robust over ``ssh -t``, in tmux and across resizes.
    """

    def __init__(self, out: TextIO, footer: bool, color: bool) -> None:
        self.out = out
        self.footer_enabled = footer
        self.color = color
        self.footer_drawn = False
        self.footer_text = ""

    def line(self, text: str) -> None:
        self.erase()
        self.out.write(text + "\n")

    def footer(self, text: str) -> None:
        if not self.footer_enabled:
            return
        text = text[: shutil.get_terminal_size().columns - 1]  # a wrapped footer could not be erased
        if self.footer_drawn and text == self.footer_text:
            return  # unchanged: spare the ssh connection
        self.footer_text = text
        self.out.write(ERASE_LINE + (f"{REVERSE}{text}{RESET}" if self.color else text))
        self.footer_drawn = True

    def erase(self) -> None:
        if self.footer_drawn:
            self.out.write(ERASE_LINE)
            self.footer_drawn = False

    def notice(self, message: str) -> None:
        """A message on stderr, which shares the terminal with the footer."""
        self.erase()
        self.out.flush()
        progress(f"tail-requests: {message}")


# ---------------------------------------------------------------------------------------------
# The tool


class Tail:
    """The run: the backlog, then following, showing and counting until a bound or a signal."""

    def __init__(self, args: argparse.Namespace, out: TextIO, terminal: bool, color: bool) -> None:
        self.args = args
        self.out = out
        self.color = color
        self.clock = time.monotonic
        self.filter = Filter(
            model=args.model,
            provider=args.provider,
            level=args.level,
            slow_ms=args.slow_ms if args.slow else None,
            request_id=args.request_id,
        )
        self.bad = BadLines()
        self.stats = Stats(WINDOW_S)
        self.follower = Follower(args.file)
        self.screen = Screen(out, footer=terminal and not args.json, color=color)
        # without a footer, a statistics line now and then (never in --json: stdout is records)
        self.stats_lines = not terminal and not args.json

    def run(self, stop: threading.Event) -> dict[str, Any]:
        args = self.args
        deadline = self.clock() + args.duration if args.duration else None
        next_stats = self.clock() + args.stats_every
        try:
            end = self.follower.open_at_end()
            if end is None:
                self.screen.notice(f"{args.file} does not exist yet; waiting for it")
            elif args.lines:
                self._show_backlog(end)
            while not self._count_reached():
                for line in self.follower.read_lines():
                    self._take(line)
                    if self._count_reached():
                        break
                for notice in self.follower.notices:
                    self.screen.notice(notice)
                self.follower.notices.clear()
                now = self.clock()
                if self.stats_lines and now >= next_stats:
                    self.screen.line(f"-- {format_window(self.stats.last_window(), self.bad)}")
                    next_stats = now + args.stats_every
                if self.screen.footer_enabled:
                    self.screen.footer(format_window(self.stats.last_window(), self.bad))
                self.out.flush()
                if self._count_reached() or (deadline is not None and now >= deadline):
                    break
                wait = args.interval if deadline is None else min(args.interval, deadline - now)
                if stop.wait(wait):
                    break
        except KeyboardInterrupt:
            pass
        finally:
            self.follower.close()
        self.screen.erase()
        return self.stats.summary(self.bad)

    def _count_reached(self) -> bool:
        return self.args.count is not None and self.stats.requests >= self.args.count

    def _record(self, line: bytes) -> dict[str, Any] | None:
        """The line's record when it is valid and passes the filters; bad lines are counted."""
        self.bad.lines += 1
        record, reason = parse_line(line)
        if record is None:
            if reason == "blank":
                self.bad.blank += 1
            else:
                self.bad.add(reason, self.args.file)  # type: ignore[arg-type]
            return None
        return record if self.filter.match(record) else None

    def _show_backlog(self, end: int) -> None:
        backlog: list[dict[str, Any]] = []
        for line in self.follower.lines_before(end):
            record = self._record(line)
            if record is not None:
                backlog.append(record)
                if len(backlog) == self.args.lines:
                    break
        for record in reversed(backlog):
            if self._count_reached():
                break
            self._show(record, live=False)

    def _take(self, line: bytes) -> None:
        record = self._record(line)
        if record is not None:
            self._show(record, live=True)

    def _show(self, record: dict[str, Any], live: bool) -> None:
        self.stats.add(record, live)
        if self.args.json:
            self.screen.line(to_json(record, indent=None))
        else:
            self.screen.line(format_record(record, self.color, self.args.slow_ms))


def _number(kind: type, minimum: float, inclusive: bool) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not (value >= minimum if inclusive else value > minimum):  # also refuses nan
            raise argparse.ArgumentTypeError(f"must be {'at least' if inclusive else 'above'} {minimum}")
        if not math.isfinite(value):  # inf seconds would overflow the waits
            raise argparse.ArgumentTypeError(f"must be a finite number, not {text}")
        return value

    return parse


LEVEL_HELP = "minimum level: ERROR shows failures, WARNING adds the requests the gateway judged slow"
LINES_HELP = "first show the last N matching requests already in the log"
SLOW_MS_HELP = "threshold of --slow and of the yellow highlight (default: 5000, the gateway's)"
STATS_EVERY_HELP = "without a terminal, print the statistics every S seconds (default: 10)"


EPILOG = """\
examples:
  tail-requests.py --level ERROR
  tail-requests.py --model llama3.1:8b -n 20
  tail-requests.py --slow --slow-ms 2000
  tail-requests.py --json --for 60 | jq .latency_ms
  ssh -t gateway1 tail-requests.py --level WARNING      # on a gateway (the litellm role installs it)

exit codes: 0 stopped (--for, --count, Ctrl-C, SIGTERM); 2 bad arguments, unreadable log or gateway
  settings; 3 internal error (--debug shows the traceback)
"""


def default_file() -> str:
    """The log this gateway writes, where its settings can be read; else the guide's path.

    Settings that exist but do not name a log (not JSON, ``"log_file": null``) are a usage error:
    following some other file instead would show nothing, silently."""
    try:
        with open(GATEWAY_SETTINGS, "rb") as settings:
            data = settings.read()
    except OSError:  # no gateway on this host, or not readable by this user
        return DEFAULT_FILE
    try:
        log_file = json.loads(data).get("log_file", DEFAULT_FILE)
    except (ValueError, UnicodeDecodeError, AttributeError):
        fail(f"{GATEWAY_SETTINGS} is not a JSON object of settings: give the log with --file")
    if type(log_file) is not str or not log_file:
        fail(f"{GATEWAY_SETTINGS}: log_file is {json.dumps(log_file)}, not a path: give the log with --file")
    return log_file


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argument_parser(__doc__, EPILOG, debug=True)
    positive = _number(float, 0, False)
    add = parser.add_argument
    add(
        "--file",
        help=f"the request log (default: the gateway's, from {GATEWAY_SETTINGS}, else {DEFAULT_FILE})",
    )
    add("-n", "--lines", type=_number(int, 0, True), default=0, metavar="N", help=LINES_HELP)
    add("--model", help="requested model or model group")
    add("--provider", help="provider (inventory name) or LiteLLM's api_provider")
    add("--level", type=str.upper, choices=SHOWN_LEVELS, help=LEVEL_HELP)
    add("--slow", action="store_true", help="only requests slower than --slow-ms")
    add("--slow-ms", type=positive, default=GATEWAY_SLOW_MS, metavar="MS", help=SLOW_MS_HELP)
    add("--request-id", metavar="ID", help="one request (its id or its trace id)")
    add("--json", action="store_true", help="each record as one JSON line; the summary as JSON")
    add("--no-color", action="store_true", help="no colours (default on a terminal)")
    add("--for", dest="duration", type=positive, metavar="SECONDS", help="stop after this long")
    add("--count", type=_number(int, 1, True), metavar="N", help="stop after N matching requests")
    add("--stats-every", type=positive, default=10.0, metavar="S", help=STATS_EVERY_HELP)
    add(
        "--interval", type=positive, default=0.2, metavar="S", help="how often to read the log (default: 0.2)"
    )
    args = parser.parse_args(argv)
    if args.file is None:
        args.file = default_file()
    return args


def _stop_on_signals(stop: threading.Event) -> dict[int, Any]:
    """SIGTERM and Ctrl-C end the run with the summary; a second Ctrl-C interrupts at once."""

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM)}


def main(argv: list[str] | None = None) -> int:
    return run(_main, argv)


def _main(argv: list[str]) -> int:
    args = parse_args(argv)
    out = sys.stdout
    terminal = out.isatty() and os.environ.get("TERM") != "dumb"
    color = terminal and not args.no_color and not args.json and "NO_COLOR" not in os.environ
    stop = threading.Event()
    previous = _stop_on_signals(stop)
    try:
        summary = Tail(args, out, terminal, color).run(stop)
        if args.json:
            print(to_json({"summary": summary}, indent=None))
        else:
            print(format_summary(summary))
        out.flush()
    except CannotRead as error:
        fail(str(error))
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
