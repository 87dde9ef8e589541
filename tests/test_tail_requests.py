"""tail-requests: following the request log across rotation, filters, display, statistics, exits."""

import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from io import StringIO

import pytest
from request_records import record as request_record

from llmobs.debugging import tail_requests as tail
from llmobs.debugging.records import BadLines
from llmobs.gateway.request_log import RequestLogWriter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "debugging", "tail-requests.py")
FAST = ["--interval", "0.01"]
ANSI = re.compile(r"\x1b\[")
RED = "\x1b[31m"


def record(n, **over):
    """Request n, logged now, with a model name and figures of its own."""
    return (
        request_record(
            time=datetime.now(UTC).isoformat(timespec="milliseconds"),
            request_id=f"req-{n:04d}",
            trace_id=f"trace-{n:04d}",
            requested_model="llama3.1:8b",
            model_group="llama3.1:8b",
            deployment="ollama-gpu1/llama3.1:8b",
            latency_ms=100.0 + n,
            prompt_tokens=12,
            completion_tokens=30,
            total_tokens=42,
        )
        | over
    )


def lines(start, stop, **over):
    return "".join(json.dumps(record(n, **over)) + "\n" for n in range(start, stop))


def append(path, text):
    with open(path, "a") as f:
        f.write(text)


def ids(out):
    """Request ids of --json output; the last line is the summary."""
    rows = [json.loads(line) for line in out.splitlines()]
    assert "summary" in rows[-1]
    return [row["request_id"] for row in rows[:-1]]


def summary(out):
    return json.loads(out.splitlines()[-1])["summary"]


def open_positions(path, pid="self"):
    """{descriptor: offset} of a process's descriptors on the file that ``path`` names (Linux /proc)."""
    try:
        wanted = os.stat(path)
    except FileNotFoundError:
        return {}
    found = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            st = os.stat(f"/proc/{pid}/fd/{fd}")
            with open(f"/proc/{pid}/fdinfo/{fd}") as info:
                pos = int(info.readline().split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue
        if (st.st_dev, st.st_ino) == (wanted.st_dev, wanted.st_ino):
            found[int(fd)] = pos
    return found


BEFORE = lines(9000, 9001)  # in the log before the tool starts: not shown without -n


def wait_until_following(log):
    """Until the tool has the log open at its end: what is appended next is new to it."""
    size = log.stat().st_size
    assert size, "only a non-empty log tells the open from the seek to its end"
    wait_for(lambda: list(open_positions(log).values()) == [size])


def wait_for(condition, timeout=30.0):  # a bound, not a pace: a busy machine is slow
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def run_with_writer(capsys, writer, argv, following=None):
    """main(argv) in this thread while ``writer`` appends to the log in another.

    With ``following`` (the log), the writer starts once the tool follows it from its end.
    """
    errors = []

    def guarded():
        try:
            if following is not None:
                wait_until_following(following)
            writer()
        except BaseException as error:  # shown by the test instead of vanishing with the thread
            errors.append(error)

    thread = threading.Thread(target=guarded)
    thread.start()
    code = tail.main([str(a) for a in argv])
    thread.join(10)
    assert not errors, errors
    out, err = capsys.readouterr()
    return code, out, err


def run(capsys, argv):
    code = tail.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------------------------
# Following


def test_follows_appended_lines_from_the_end_like_tail_f(tmp_path, capsys):
    log = tmp_path / "requests.log"
    log.write_text(lines(0, 5))  # already there: not shown without -n

    def writer():
        for n in range(5, 15):
            append(log, lines(n, n + 1))
            time.sleep(0.002)

    argv = ["--file", log, "--json", "--count", 10, "--for", 10, *FAST]
    code, out, _ = run_with_writer(capsys, writer, argv, following=log)
    assert code == 0
    assert ids(out) == [f"req-{n:04d}" for n in range(5, 15)]
    assert summary(out)["requests"] == 10


def test_rename_rotation_loses_no_line_and_repeats_none(tmp_path, capsys):
    log = tmp_path / "requests.log"
    log.write_text(BEFORE)

    def writer():
        append(log, lines(0, 20))
        with open(log, "a") as late:  # a worker that has not noticed the rotation yet
            os.rename(log, tmp_path / "requests.log.1")
            late.write(lines(20, 22))
            late.flush()
            append(log, lines(22, 40))  # the new file
            wait_for(lambda: open_positions(log))
            late.write(lines(40, 42))  # after the tool moved on to the new file

    argv = ["--file", log, "--json", "--count", 42, "--for", 10, *FAST]
    code, out, _ = run_with_writer(capsys, writer, argv, following=log)
    assert code == 0
    seen = ids(out)
    assert sorted(seen) == [f"req-{n:04d}" for n in range(42)]
    assert seen[:20] == [f"req-{n:04d}" for n in range(20)]


def test_the_gateways_writer_rotated_under_load_loses_nothing(tmp_path, capsys):
    log = tmp_path / "requests.log"
    log.write_text(BEFORE)

    def writer():
        gateway = RequestLogWriter(str(log))
        for n in range(300):
            gateway.write(record(n))
            if n in (100, 200):  # logrotate's rename, twice, while requests keep coming
                # once the tool follows the file the writer recreated (a file renamed away before the
                # tool ever saw its name cannot be followed, by this tool or by tail -F)
                wait_for(lambda: set(open_positions(log)) - {gateway._fd})
                os.rename(log, tmp_path / f"requests.log.{n}")
        gateway.close()

    argv = ["--file", log, "--json", "--count", 300, "--for", 10, *FAST]
    code, out, _ = run_with_writer(capsys, writer, argv, following=log)
    assert code == 0
    assert sorted(ids(out)) == [f"req-{n:04d}" for n in range(300)]


def test_copytruncate_rotation_loses_no_line_and_repeats_none(tmp_path, capsys):
    log = tmp_path / "requests.log"
    log.write_text(BEFORE)

    def writer():
        append(log, lines(0, 20))
        # copytruncate copies first, so lines the tool has not read yet are in the copy: wait for it
        wait_for(lambda: list(open_positions(log).values()) == [log.stat().st_size])
        shutil.copyfile(log, tmp_path / "requests.log.1")
        os.truncate(log, 0)
        append(log, lines(20, 25))  # shorter than before: the truncation is seen

    argv = ["--file", log, "--json", "--count", 25, "--for", 10, *FAST]
    code, out, _ = run_with_writer(capsys, writer, argv, following=log)
    assert code == 0
    assert ids(out) == [f"req-{n:04d}" for n in range(25)]


def test_copytruncate_that_regrows_past_the_read_position_is_still_seen_and_read_from_the_copy(tmp_path):
    """Truncated and written again beyond where the tool had read, between two of its reads: the
    size alone cannot tell; the bytes before the read position can. The lines the tool had not read
    yet are in logrotate's copy."""
    log = tmp_path / "requests.log"
    log.write_text(BEFORE)
    follower = tail.Follower(str(log))
    follower.open_at_end()
    append(log, lines(0, 2))
    assert len(follower.read_lines()) == 2
    append(log, lines(2, 4))  # not read yet when logrotate copies and truncates
    shutil.copyfile(log, tmp_path / "requests.log.1")
    os.truncate(log, 0)
    append(log, lines(4, 40))  # longer than before: the size has grown past the read position
    got = [json.loads(line)["request_id"] for line in follower.read_lines()]
    assert got == [f"req-{n:04d}" for n in range(2, 40)]
    assert follower.truncations == 1 and "read from" in follower.notices[0]
    follower.close()


def test_copytruncate_without_a_copy_says_lines_may_be_missing(tmp_path, capsys):
    log = tmp_path / "requests.log"
    log.write_text(BEFORE)
    follower = tail.Follower(str(log))
    follower.open_at_end()
    append(log, lines(0, 2))
    os.truncate(log, 0)  # no LOG.1: a dateext copy, or a truncation by hand
    append(log, lines(2, 3))
    assert [json.loads(line)["request_id"] for line in follower.read_lines()] == ["req-0002"]
    assert "may be missing" in follower.notices[0]
    follower.close()


def test_a_log_that_appears_later_is_waited_for_and_read_from_its_start(tmp_path, capsys, monkeypatch):
    log = tmp_path / "requests.log"
    missed = threading.Event()  # the tool looked for the log and found none
    open_at_end = tail.Follower.open_at_end

    def looking(follower):
        end = open_at_end(follower)
        if end is None:
            missed.set()
        return end

    monkeypatch.setattr(tail.Follower, "open_at_end", looking)

    def writer():
        assert missed.wait(10), "tail-requests never looked for the log"
        append(log, lines(0, 3))

    argv = ["--file", log, "--json", "--count", 3, "--for", 10, *FAST]
    code, out, err = run_with_writer(capsys, writer, argv)
    assert code == 0
    assert ids(out) == ["req-0000", "req-0001", "req-0002"]
    assert err.count("does not exist yet") == 1


def test_a_line_written_in_two_pieces_is_read_once_complete(tmp_path):
    log = tmp_path / "requests.log"
    log.touch()
    follower = tail.Follower(str(log))
    assert follower.open_at_end() == 0
    text = lines(0, 1)
    append(log, text[:25])
    assert follower.read_lines() == []
    append(log, text[25:])
    assert follower.read_lines() == [text.rstrip("\n").encode()]
    follower.close()


def test_an_unfinished_line_cut_by_truncation_is_kept_to_be_counted_bad(tmp_path):
    log = tmp_path / "requests.log"
    log.write_text(BEFORE)
    follower = tail.Follower(str(log))
    follower.open_at_end()
    append(log, '{"schema": "llmobs.req')
    assert follower.read_lines() == []
    os.truncate(log, 0)
    text = lines(0, 1)
    append(log, text)
    assert follower.read_lines() == [b'{"schema": "llmobs.req', text.rstrip("\n").encode()]
    assert follower.truncations == 1
    follower.close()


def test_a_rotated_file_is_drained_after_the_switch_then_closed(tmp_path):
    now = [0.0]
    log = tmp_path / "requests.log"
    log.write_text(lines(0, 1))
    follower = tail.Follower(str(log), clock=lambda: now[0])
    follower.open_at_end()
    with open(log, "a") as late:  # a worker that has not noticed the rotation yet
        os.rename(log, tmp_path / "requests.log.1")
        append(log, lines(1, 2))
        assert len(follower.read_lines()) == 1 and follower.rotations == 1
        now[0] = 1.0
        assert follower.read_lines() == []
        late.write(lines(2, 3))
    now[0] = 1.5
    assert [json.loads(x)["request_id"] for x in follower.read_lines()] == ["req-0002"]
    now[0] = 1.5 + tail.ROTATION_GRACE_S
    follower.read_lines()
    assert follower.rotated == []  # quiet long enough: closed
    follower.close()


# ---------------------------------------------------------------------------------------------
# Backlog, filters, bad lines


def test_lines_shows_the_last_n_matching_requests_first(tmp_path, capsys):
    log = tmp_path / "requests.log"
    # more than a block of the backward reader, so that lines straddle block boundaries
    log.write_text(lines(0, 2000) + lines(2000, 2010, level="ERROR", status="failure"))
    code, out, _ = run(capsys, ["--file", log, "--json", "-n", 1500, "--for", 0.01, *FAST])
    assert code == 0
    assert ids(out) == [f"req-{n:04d}" for n in range(510, 2010)]
    code, out, _ = run(capsys, ["--file", log, "--json", "-n", 3, "--level", "ERROR", "--for", 0.01])
    assert ids(out) == ["req-2007", "req-2008", "req-2009"]


FILTERED = (
    lines(0, 1)
    + lines(1, 2, requested_model="qwen-coder", model_group="qwen-coder")
    + lines(2, 3, requested_model="coder", model_group="qwen-coder")
    + lines(3, 4, provider="vllm-gpu2", api_provider="hosted_vllm", deployment="vllm-gpu2/qwen")
    + lines(4, 5, level="WARNING", latency_ms=6000.0)
    + lines(5, 6, latency_ms=3000.0)
    + lines(6, 7, level="ERROR", status="failure", http_status=429, error_class="RateLimitError")
    + lines(7, 8, trace_id="trace-0000")
)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--model", "qwen-coder"], [1, 2]),
        (["--provider", "vllm-gpu2"], [3]),
        (["--provider", "hosted_vllm"], [3]),
        (["--level", "ERROR"], [6]),
        (["--level", "warning"], [4, 6]),
        (["--slow"], [4]),
        (["--slow", "--slow-ms", "2000"], [4, 5]),
        (["--request-id", "req-0005"], [5]),
        (["--request-id", "trace-0000"], [0, 7]),  # the retries and fallbacks of one request
        (["--model", "llama3.1:8b", "--level", "WARNING"], [4, 6]),
    ],
)
def test_filters(tmp_path, capsys, flags, expected):
    log = tmp_path / "requests.log"
    log.write_text(FILTERED)
    code, out, _ = run(capsys, ["--file", log, "--json", "-n", 100, "--for", 0.01, *flags])
    assert code == 0
    assert ids(out) == [f"req-{n:04d}" for n in expected]


def test_filters_apply_to_live_lines_too(tmp_path, capsys):
    log = tmp_path / "requests.log"
    log.write_text(BEFORE)

    def writer():
        append(log, FILTERED)

    argv = ["--file", log, "--json", "--level", "ERROR", "--count", 1, "--for", 10, *FAST]
    code, out, _ = run_with_writer(capsys, writer, argv, following=log)
    assert code == 0
    assert ids(out) == ["req-0006"]


BAD = "not json at all\n[1, 2]\n" + '{"schema": "other/2"}\n' + lines(99, 100, latency_ms="slow") + "\n"


def test_malformed_lines_are_counted_and_never_stop_the_tool(tmp_path, capsys):
    log = tmp_path / "requests.log"
    log.write_text(BAD + lines(0, 1))

    def writer():
        append(log, BAD + lines(1, 2) + "\x00\xff{garbage\n" + lines(2, 3))

    argv = ["--file", log, "--json", "-n", 10, "--count", 3, "--for", 10, *FAST]
    code, out, _ = run_with_writer(capsys, writer, argv, following=log)
    assert code == 0
    assert ids(out) == ["req-0000", "req-0001", "req-0002"]
    result = summary(out)
    assert result["bad_lines"] == 9  # the blank lines are not counted
    assert result["bad_lines_by_reason"] == {
        "not_json": 3,
        "not_object": 2,
        "unknown_schema": 2,
        "wrong_type": 2,
    }


# ---------------------------------------------------------------------------------------------
# Display


@pytest.fixture
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_a_failure_on_one_line_with_everything_needed(utc):
    failed = record(
        7,
        time="2024-05-01T12:00:03.250+00:00",
        level="ERROR",
        status="failure",
        http_status=429,
        request_id="5f0c2d1e-aaaa-bbbb",
        latency_ms=1234.0,
        ttft_ms=200.0,
        error_class="RateLimitError",
        error_message="rate limited\n\x1b[2Jby backend",
    )
    line = tail.format_record(failed, color=False)
    assert line == (
        "12:00:03.250 ERROR   gw1 5f0c2d1e-aaaa-bbbb llama3.1:8b -> ollama-gpu1/llama3.1:8b failure/429 "
        "1.23s ttft 200ms 12+30 tok RateLimitError: rate limited  [2Jby backend"
    )
    assert "\x1b" not in line and "\n" not in line  # a backend's message cannot drive the terminal
    assert tail.format_record(failed, color=True).startswith(RED)
    slow = record(1, latency_ms=6000.0)
    assert tail.format_record(slow, color=True).startswith("\x1b[33m")  # yellow: slow
    assert tail.format_record(slow, color=True, slow_ms=9000).startswith("\x1b[2m")  # plain INFO
    other = record(2, provider="vllm", deployment="qwen-1")
    assert "-> vllm/qwen-1 " in tail.format_record(other, color=False)


def test_plain_mode_has_no_ansi_and_prints_periodic_stats(tmp_path, capsys):
    log = tmp_path / "requests.log"
    log.write_text(lines(0, 3) + lines(3, 4, level="ERROR", status="failure"))
    code, out, _ = run(capsys, ["--file", log, "-n", 10, "--for", 0.3, "--stats-every", 0.1, *FAST])
    assert code == 0
    assert not ANSI.search(out)
    assert len([line for line in out.splitlines() if line.startswith("-- last ")]) >= 2
    assert out.splitlines()[-1].startswith("tail-requests: 4 requests, 1 errors (25.0%)")


def terminal_screen(output):
    """What a terminal shows: carriage return + erase line clears the line the cursor is on."""
    screen = [""]
    for piece in re.split(r"(\n|\r\x1b\[K)", output):
        if piece == "\n":
            screen.append("")
        elif piece == "\r\x1b[K":
            screen[-1] = ""
        else:
            screen[-1] += piece
    return screen


def run_on_pty(argv, seconds, during=None):
    """The tool with a terminal as stdout, as under ``ssh -t``; its output.

    ``during(pid, shown)`` runs once the tool is started, while its output is read; ``shown()`` is
    the output so far.
    """
    leader, follower = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "200"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen([sys.executable, SCRIPT, *argv], stdout=follower, stderr=follower, env=env)
    os.close(follower)
    chunks = []

    def shown() -> str:
        return b"".join(chunks).decode(errors="replace")

    if during is not None:
        threading.Thread(target=during, args=(process.pid, shown), daemon=True).start()
    deadline = time.monotonic() + seconds + 10
    while time.monotonic() < deadline:
        if select.select([leader], [], [], 0.1)[0]:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        elif process.poll() is not None:
            break
    os.close(leader)
    assert process.wait(5) == 0
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_on_a_terminal_lines_are_coloured_and_the_footer_is_redrawn_in_place(tmp_path):
    log = tmp_path / "requests.log"
    log.write_text(lines(0, 3) + lines(3, 4, level="ERROR", status="failure"))

    def writer(pid, shown):
        size = log.stat().st_size
        wait_for(lambda: list(open_positions(log, pid).values()) == [size])
        wait_for(lambda: "last " in shown())  # the footer is up
        append(log, lines(4, 6))

    output = run_on_pty(["--file", str(log), "-n", "10", "--count", "6", "--for", "10"], 10, writer)
    assert RED in output
    assert output.count("\r\x1b[K") >= 3  # the footer, erased before the live lines and redrawn
    shown = [re.sub(r"\x1b\[\d+m", "", line) for line in terminal_screen(output)]
    # the footer never mixed into a request line, and is gone at the end: requests, then the summary
    assert [line.split()[3] for line in shown[:-2]] == [f"req-{n:04d}" for n in range(6)]
    assert shown[-2].startswith("tail-requests: 6 requests") and shown[-1] == ""


def test_no_color_on_a_terminal_keeps_the_footer_without_colours(tmp_path):
    log = tmp_path / "requests.log"
    log.write_text(lines(3, 4, level="ERROR", status="failure"))
    output = run_on_pty(["--file", str(log), "-n", "1", "--for", "0.2", "--no-color"], 0.2)
    assert not re.search(r"\x1b\[\d+m", output)
    assert "\r\x1b[K" in output


def test_screen_erases_the_footer_before_a_line():
    out = StringIO()
    screen = tail.Screen(out, footer=True, color=False)
    screen.footer("last 5s: 1 requests")
    screen.line("a request")
    screen.footer("last 6s: 2 requests")
    assert terminal_screen(out.getvalue()) == ["a request", "last 6s: 2 requests"]


# ---------------------------------------------------------------------------------------------
# Statistics


def test_the_rolling_window_keeps_the_last_minute_and_the_summary_everything():
    now = [1000.0]
    stats = tail.Stats(window_s=60, clock=lambda: now[0])
    stats.add(record(0, latency_ms=9999.0), live=False)  # -n backlog: not in the last minute
    now[0] += 10
    for n in range(30):
        stats.add(record(n, latency_ms=float(n + 1)))
    now[0] += 40
    for n in range(10):
        stats.add(record(n, level="ERROR", status="failure", latency_ms=1000.0))
    now[0] += 5
    window = stats.last_window()
    assert window["requests"] == 40 and window["errors"] == 10
    assert window["window_s"] == 55  # not a minute yet since the start
    assert window["per_s"] == pytest.approx(40 / 55)
    assert window["error_pct"] == 25.0
    assert (window["p50_ms"], window["p95_ms"]) == (20.0, 1000.0)  # nearest rank of 1..30, 10 x 1000
    now[0] += 16  # the first 30 are 61 s old
    window = stats.last_window()
    assert (window["requests"], window["errors"], window["window_s"]) == (10, 10, 60)
    assert window["per_s"] == pytest.approx(10 / 60)
    assert window["p50_ms"] == 1000.0
    now[0] += 60
    assert stats.last_window()["requests"] == 0 and stats.last_window()["p50_ms"] is None
    total = stats.summary(BadLines())
    assert (total["requests"], total["errors"], total["p95_ms"]) == (41, 10, 1000.0)
    assert total["p50_ms"] == 21.0  # the 21st of 1..30, 10 x 1000, 9999


def test_the_footer_counts_only_the_requests_that_passed_the_filters(tmp_path, capsys):
    log = tmp_path / "requests.log"
    log.write_text(BEFORE)

    def writer():
        append(log, lines(0, 6) + lines(6, 8, level="ERROR", status="failure", latency_ms=2000.0))

    # --for leaves a busy machine room for a stats line after the writer's lines were read
    argv = ["--file", log, "--level", "ERROR", "--for", 2, "--stats-every", 0.25, *FAST]
    _, out, _ = run_with_writer(capsys, writer, argv, following=log)
    stats_line = [line for line in out.splitlines() if line.startswith("-- last ")][-1]
    assert "2 requests" in stats_line and "2 errors (100.0%)" in stats_line and "p50 2.00s" in stats_line


# ---------------------------------------------------------------------------------------------
# Bounds, signals, errors


def test_for_stops_after_that_long_with_a_summary(tmp_path, capsys):
    started = time.monotonic()
    code, out, err = run(capsys, ["--file", tmp_path / "none.log", "--for", 0.2, "--json"])
    assert code == 0
    assert 0.2 <= time.monotonic() - started < 30  # it stops by itself (a busy machine adds time)
    assert summary(out)["requests"] == 0 and summary(out)["p50_ms"] is None
    assert "does not exist yet" in err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_ctrl_c_stop_with_the_summary_and_exit_0(tmp_path, signum):
    log = tmp_path / "requests.log"
    log.write_text(lines(0, 2))
    process = subprocess.Popen(
        [sys.executable, SCRIPT, "--file", str(log), "-n", "5", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: open_positions(log, process.pid))
        process.send_signal(signum)
        out, err = process.communicate(timeout=5)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert ids(out) == ["req-0000", "req-0001"]


def test_an_unreadable_log_exits_2_with_the_way_out(tmp_path, capsys, monkeypatch):
    log = tmp_path / "requests.log"
    log.write_text(lines(0, 1))
    real_open = os.open

    def denied(path, *args, **kwargs):  # root reads any file: what a non-member of litellm gets
        if os.fspath(path) == str(log):
            raise PermissionError(13, "Permission denied", str(log))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(SystemExit) as exit_info:
        tail.main(["--file", str(log), "--for", "1"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "permission denied" in err and "group litellm" in err


def test_a_directory_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        tail.main(["--file", str(tmp_path), "--for", "1"])
    assert exit_info.value.code == 2
    assert "is a directory" in capsys.readouterr().err


@pytest.mark.parametrize("flags", [["--count", "0"], ["--for", "-1"], ["--level", "DEBUG"], ["-n", "x"]])
def test_bad_arguments_exit_2(flags, capsys):
    with pytest.raises(SystemExit) as exit_info:
        tail.main(flags)
    assert exit_info.value.code == 2


def test_default_log_is_the_one_the_gateway_is_configured_to_write(tmp_path, monkeypatch):
    settings = tmp_path / "request-log.json"
    monkeypatch.setattr(tail, "GATEWAY_SETTINGS", str(settings))
    assert tail.default_file() == "/var/log/litellm/requests.log"  # no gateway on this host
    settings.write_text(json.dumps({"log_file": "/srv/logs/gateway.log", "level": "INFO"}))
    assert tail.default_file() == "/srv/logs/gateway.log"
    settings.write_text(json.dumps({"level": "INFO"}))  # the gateway's default log
    assert tail.default_file() == "/var/log/litellm/requests.log"


@pytest.mark.parametrize("content", ['{"log_file": null}', "{not json", '["a list"]', '{"log_file": ""}'])
def test_settings_that_name_no_log_are_a_usage_error_not_a_file_named_none(
    tmp_path, monkeypatch, capsys, content
):
    settings = tmp_path / "request-log.json"
    settings.write_text(content)
    monkeypatch.setattr(tail, "GATEWAY_SETTINGS", str(settings))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        tail.main(["--for", "0.01"])
    assert stop.value.code == 2
    assert "give the log with --file" in capsys.readouterr().err
    assert not (tmp_path / "None").exists()
    code, _, _ = run(capsys, ["--file", tmp_path / "given.log", "--for", "0.01"])  # --file still works
    assert code == 0


@pytest.mark.parametrize(
    "content",
    [
        b"\n",
        b"\n\n",
        b"x",
        b"a\n\nb\n",
        b"\n" * (tail.BACKWARD_BLOCK + 1),
        b"y" * tail.BACKWARD_BLOCK + b"\n\nz\n",
    ],
    ids=[
        "one-blank",
        "two-blanks",
        "no-newline",
        "blank-inside",
        "blanks-over-a-block",
        "blank-at-a-block-edge",
    ],
)
def test_the_backward_reader_returns_every_line_also_blank_ones_at_block_edges(tmp_path, content):
    log = tmp_path / "requests.log"
    log.write_bytes(content)
    follower = tail.Follower(str(log))
    end = follower.open_at_end()
    expected = content[:-1].split(b"\n") if content.endswith(b"\n") else content.split(b"\n")
    assert list(follower.lines_before(end)) == expected[::-1]
    follower.close()
