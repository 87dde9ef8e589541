"""Issue 11, part 3: each hostile input that gave a traceback or a wrong answer, one test each.

The tools run in-process (hostile.run_tool) except where the real script matters: a traceback
printed by Python itself, the exit code of the process, a pipe closed by ``head``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hostile import Answer, ScriptedServer, check_output, failure, record, run_tool, strict_json

from llmobs.debugging import analyze_logs as analyze
from llmobs.debugging import records
from llmobs.debugging import tail_requests as tail
from llmobs.debugging import test_request as request
from llmobs.debugging.analyze_logs import normalize_message

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts" / "debugging"


def write(path: Path, *lines: str | dict) -> Path:
    path.write_text("".join((json.dumps(line) if isinstance(line, dict) else line) + "\n" for line in lines))
    return path


def analyze_runs(log: Path, *extra: str):
    """analyze-logs in every mode, text and JSON: (argv, code, out, err) for each."""
    for mode in ([], ["--errors"], ["--performance"], ["--trace", "r1"]):
        for as_json in ([], ["--json"]):
            argv = [log, *mode, *as_json, *extra]
            yield (argv, *run_tool(analyze.main, argv))


# -- the inputs listed in the issue ------------------------------------------------------------------


def test_lone_surrogates_in_any_field_print_in_text_mode(tmp_path):
    # "\ud800" is valid JSON but no UTF-8 can encode it: the filter makes it U+FFFD
    line = json.dumps(failure(1, message="bad \ud800 end", request_id="r1", host="gw\udfff"))
    log = write(tmp_path / "requests.log", line)
    for argv, code, out, err in analyze_runs(log):
        check_output(code, out, err, "--json" in argv)
        assert code == 0, (argv, err)
        if "--json" not in argv:
            assert "\ufffd" in out
    code, out, err = run_tool(tail.main, ["--file", log, "-n", 5, "--for", 0.01])
    check_output(code, out, err, False)
    assert "gw\ufffd" in out and "bad \ufffd end" in out


def test_a_time_that_does_not_parse_is_rejected_as_bad_time(tmp_path):
    log = write(tmp_path / "requests.log", record(1, request_id="r1"), record(2, time="2024-02-30T25:00:00Z"))
    code, out, err = run_tool(analyze.main, [log, "--json"])
    report = check_output(code, out, err, True)
    assert (report["summary"]["requests"], report["bad_lines"]["by_reason"]) == (1, {"bad_time": 1})


def test_times_with_and_without_a_timezone_in_one_file(tmp_path):
    """Naive times are rejected (which clock?); other offsets are read and compared as UTC."""
    log = write(
        tmp_path / "requests.log",
        record(0, request_id="utc"),
        record(0, request_id="naive", time="2024-05-01T12:00:05"),
        record(0, request_id="east", time="2024-05-01T14:00:10+02:00"),
    )
    for argv, code, out, err in analyze_runs(log):
        check_output(code, out, err, "--json" in argv)
    code, out, err = run_tool(analyze.main, [log, "--json"])
    summary = strict_json(out)["summary"]
    assert (summary["requests"], summary["span_s"]) == (2, 10.0)
    assert summary["last"] == "2024-05-01T12:00:10.000+00:00"
    assert strict_json(out)["bad_lines"]["by_reason"] == {"bad_time": 1}


def test_deeply_nested_metadata(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000  # beyond any recursion limit
    moderate = {"a": {"b": {"c": 1}}}
    for _ in range(200):
        moderate = {"m": moderate}
    log = write(
        tmp_path / "requests.log",
        json.dumps(failure(1, request_id="r1", metadata={})).replace(
            '"metadata": {}', f'"metadata": {{"x": {deep}}}'
        ),
        failure(2, request_id="r1", metadata=moderate),
        failure(3, request_id="r1", metadata={"fine": {"nested": [1, 2]}}),
    )
    for argv, code, out, err in analyze_runs(log):
        check_output(code, out, err, "--json" in argv)
    code, out, err = run_tool(analyze.main, [log, "--json"])
    report = strict_json(out)
    assert report["bad_lines"]["by_reason"] == {"too_deep": 2} and report["summary"]["requests"] == 1


def test_integers_with_hundreds_of_digits_in_numeric_fields(tmp_path):
    huge = "9" * 400
    lines = [json.dumps(failure(1, request_id="r1")).replace('"latency_ms": 100.0', f'"latency_ms": {huge}')]
    lines.append(
        json.dumps(record(2, prompt_tokens=10)).replace('"prompt_tokens": 10', f'"prompt_tokens": {huge}')
    )
    lines.append(json.dumps(record(3, metadata={"n": int(huge)})))  # free-form: kept, printed exactly
    log = write(tmp_path / "requests.log", *lines)
    for argv, code, out, err in analyze_runs(log):
        check_output(code, out, err, "--json" in argv)
    code, out, err = run_tool(analyze.main, [log, "--json"])
    assert strict_json(out)["bad_lines"]["by_reason"] == {"out_of_range": 2}


def test_1e999_in_a_numeric_field_and_in_metadata(tmp_path):
    log = write(
        tmp_path / "requests.log",
        json.dumps(record(1, request_id="r1")).replace('"latency_ms": 100.0', '"latency_ms": 1e999'),
        json.dumps(record(2, request_id="r1", metadata={"x": 1.0})).replace('"x": 1.0', '"x": -1e999'),
    )
    for argv, code, out, err in analyze_runs(log):
        check_output(code, out, err, "--json" in argv)  # strict: no Infinity anywhere
    code, out, err = run_tool(analyze.main, [log, "--trace", "r1", "--json"])
    report = strict_json(out)
    assert report["bad_lines"]["by_reason"] == {"out_of_range": 1}
    assert report["matches"][0]["record"]["metadata"] == {"x": None}  # nested: printed as null
    code, out, err = run_tool(tail.main, ["--file", log, "-n", 5, "--for", 0.01, "--json"])
    check_output(code, out, err, True, json_lines=True)


@pytest.mark.parametrize(
    "message",
    [
        "a-" * 500_000,  # the id pattern tried every dash
        '"' + '\\"' * 500_000,  # an unclosed quote of escaped quotes
        "'" + "a" * 1_000_000,  # an unclosed single quote
        "0x" + "a" * 1_000_000 + "g",  # a hex run that fails at its end
        "x_" + "a1-" * 333_333,  # an id with digits all along
        "1." * 500_000,  # numbers and dots
        " \t" * 500_000,  # whitespace to collapse
    ],
    ids=["dashes", "escaped-quotes", "single-quote", "hex-run", "long-id", "dotted-numbers", "whitespace"],
)
def test_error_messages_shaped_for_quadratic_grouping_take_linear_time(message):
    """1 MB messages of the shapes that made the old patterns quadratic (over a minute each): now
    well under a second; the bound is loose for a busy machine, the old time was minutes."""
    started = time.perf_counter()
    pattern = normalize_message(message)
    assert time.perf_counter() - started < 5.0
    assert 0 < len(pattern) <= analyze.MAX_PATTERN_CHARS


def test_a_200_from_a_server_that_is_not_a_gateway():
    """A web server that answers 200 with its own JSON or HTML: a failed check that says so."""
    with ScriptedServer() as server:
        for body in (
            b"<html>hello</html>",
            b"[1, 2]",
            b'{"choices": "no"}',
            b'{"choices": [{"message": 3}]}',
        ):
            server.answers["/v1/chat/completions"] = Answer(200, body)
            code, out, err = run_tool(request.main, ["--url", server.url, "--key", "k", "--model", "m"])
            check_output(code, out, err, False)
            assert code == 1 and "the answer is not a chat completion" in err


def test_a_broken_stream():
    """A stream of garbage events, then the connection dropped: a failed check, no traceback."""
    chunks = [
        b'data: {"choices": {"a": 1}}\n\n',
        b"data: [1, 2]\n\n",
        b'data: {"choices": [{"delta": 5}]}\n\n',
    ]
    chunks.append(b'data: {"choices": [{"delta": {"content": ')
    with ScriptedServer() as server:
        server.answers["/v1/chat/completions"] = Answer(
            200, content_type="text/event-stream", chunks=chunks, cut=True
        )
        for extra in ([], ["--json"]):
            argv = ["--url", server.url, "--key", "k", "--model", "m", "--stream", "--timeout", "5", *extra]
            code, out, err = run_tool(request.main, argv)
            check_output(code, out, err, bool(extra))
            assert code in (0, 1)


def test_terminal_escapes_in_replies_and_error_messages_are_filtered_on_stdout_and_stderr(tmp_path):
    evil = "\x1b]0;owned\x07\x1b[2J\u202eevil"
    reply = {"choices": [{"message": {"content": f"hi {evil}"}, "finish_reason": "stop"}], "usage": {}}
    with ScriptedServer() as server:
        server.answers["/health/liveliness"] = server.answers["/health/readiness"] = Answer(200, b'"ok"')
        server.answers["/v1/chat/completions"] = Answer(200, json.dumps(reply).encode())
        code, out, err = run_tool(request.main, ["--url", server.url, "--key", "k", "--model", "m"])
        check_output(code, out, err, False)
        assert code == 0 and "hi " in out
        server.answers["/v1/chat/completions"] = Answer(
            500, json.dumps({"error": {"message": evil}}).encode()
        )
        code, out, err = run_tool(request.main, ["--url", server.url, "--key", "k", "--model", "m"])
        check_output(code, out, err, False)
        assert code == 1 and "evil" in err and "\x1b" not in err and "\u202e" not in err
    log = write(tmp_path / "requests.log", failure(1, message=evil, request_id="r1"))
    for argv, code, out, err in analyze_runs(log):
        check_output(code, out, err, "--json" in argv)
    code, out, err = run_tool(tail.main, ["--file", log, "-n", 5, "--for", 0.01])
    check_output(code, out, err, False)
    assert "evil" in out


def assert_usage_error(main, argv: list, says: str) -> None:
    code, out, err = run_tool(main, argv)
    check_output(code, out, err, False)
    assert code == 2 and out == "" and says in err


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999"])
def test_timeout_nan_or_inf_is_a_usage_error(value):
    assert_usage_error(
        request.main, ["--url", "http://127.0.0.1:1", f"--timeout={value}"], "--timeout must be"
    )


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_slow_ms_nan_is_a_usage_error(tmp_path, value):
    log = write(tmp_path / "requests.log", record(1))
    assert_usage_error(analyze.main, [log, "--slow-ms", value], "--slow-ms")
    assert_usage_error(tail.main, ["--file", log, "--slow-ms", value, "--for", 0.01], "--slow-ms")


@pytest.mark.parametrize("value", ["1000000d", "99999999999999999999w", "0001-01-01T00:00:00+05:00"])
def test_since_a_million_days_is_a_usage_error(tmp_path, value):
    assert_usage_error(
        analyze.main, [write(tmp_path / "requests.log", record(1)), "--since", value], "invalid time"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["analyze-logs.py", "{log}", "--trace", "t"],
        ["analyze-logs.py", "{log}", "--trace", "t", "--json"],
        ["tail-requests.py", "--file", "{log}", "-n", "5000", "--for", "0.1"],
    ],
    ids=["analyze-text", "analyze-json", "tail"],
)
def test_output_piped_into_head_ends_quietly(tmp_path, argv):
    # more than a pipe holds (64 KiB): the tool is still writing when the reader goes away
    log = write(
        tmp_path / "requests.log", *(failure(n, trace_id="t", message=f"error {n}") for n in range(5000))
    )
    command = [str(SCRIPTS / argv[0]), *(arg.format(log=log) for arg in argv[1:])]
    tool = subprocess.Popen([sys.executable, *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = tool.stdout.read(100)  # like head -c 100, then the reader goes away
    tool.stdout.close()
    err = tool.stderr.read().decode()
    assert tool.wait(60) == 0 and head
    assert err == "", err


# -- also found ---------------------------------------------------------------------------------------


def test_json_output_never_prints_infinity_or_nan(tmp_path):
    nan = json.dumps(record(1, request_id="r1", cost=0.0)).replace('"cost": 0.0', '"cost": NaN')
    huge = json.dumps(record(2, request_id="r1", metadata={"v": 1.0})).replace('"v": 1.0', '"v": 1e999')
    log = write(tmp_path / "requests.log", nan, huge)
    for argv, code, out, err in analyze_runs(log):
        check_output(code, out, err, "--json" in argv)
    assert strict_json(run_tool(analyze.main, [log, "--json"])[1])["bad_lines"]["by_reason"] == {
        "not_json": 1
    }


def test_a_negative_latency_is_rejected_not_in_the_percentiles(tmp_path):
    log = write(tmp_path / "requests.log", record(1, latency_ms=100.0), record(2, latency_ms=-5000.0))
    code, out, err = run_tool(analyze.main, [log, "--performance", "--json"])
    report = check_output(code, out, err, True)
    assert report["latency"]["by_model"][0]["p50_ms"] == 100.0
    assert report["bad_lines"]["by_reason"] == {"out_of_range": 1}


def test_an_unreadable_subdirectory_exits_2_like_an_unreadable_file(tmp_path, monkeypatch):
    write(tmp_path / "gw1" / "requests.log" if (tmp_path / "gw1").mkdir() is None else tmp_path, record(1))
    (tmp_path / "gw2").mkdir()
    real_scandir = os.scandir

    def deny(path="."):  # root reads everything: what another user gets
        if str(path).endswith("gw2"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", deny)
    code, out, err = run_tool(analyze.main, [tmp_path])
    check_output(code, out, err, False)
    assert code == 2 and out == "" and err == f"error: {tmp_path}/gw2: cannot read: Permission denied\n"


def test_trace_not_found_says_lines_containing_the_id_were_rejected(tmp_path):
    log = write(tmp_path / "requests.log", record(1), record(2, request_id="wanted-1", latency_ms="slow"))
    code, out, err = run_tool(analyze.main, [log, "--trace", "wanted-1"])
    check_output(code, out, err, False)
    assert code == 1
    assert "wanted-1: not found as a request id or trace id in 1 file(s) (2 lines read)" in out
    assert "but 1 rejected line(s) containing it: wrong_type 1" in out
    code, out, err = run_tool(analyze.main, [log, "--trace", "wanted-1", "--json"])
    assert code == 1 and "rejected line(s) containing it" in err


def test_tail_shows_ids_whole_and_trace_finds_them(tmp_path):
    long_id = "chatcmpl-5f0c2d1e-aaaa-bbbb-cccc-0123456789ab"
    log = write(
        tmp_path / "requests.log", record(1, request_id=long_id), record(2, request_id="chatcmpl-5f0c2d1e")
    )
    _, out, _ = run_tool(tail.main, ["--file", log, "-n", 1, "--for", 0.01, "--no-color"])
    shown = out.splitlines()[0].split()[3]
    assert shown == "chatcmpl-5f0c2d1e"
    _, out, _ = run_tool(tail.main, ["--file", log, "-n", 2, "--for", 0.01, "--no-color"])
    shown = out.splitlines()[0].split()[3]
    assert shown == long_id
    code, out, _ = run_tool(analyze.main, [log, "--trace", shown, "--json"])
    assert code == 0 and [m["record"]["request_id"] for m in strict_json(out)["matches"]] == [long_id]


def test_tail_and_analyze_count_errors_alike(tmp_path):
    """One definition (records.failed): a failure logged at another level counts in both."""
    log = write(
        tmp_path / "requests.log",
        record(1),
        failure(2),
        failure(3, level="WARNING"),  # a slow failure
        record(4, level="ERROR"),  # an ERROR level on a success: not a failed request
    )
    _, out, _ = run_tool(analyze.main, [log, "--json"])
    _, tail_out, _ = run_tool(tail.main, ["--file", log, "-n", 10, "--for", 0.01, "--json"])
    assert (
        strict_json(out)["summary"]["failures"]
        == strict_json(tail_out.splitlines()[-1])["summary"]["errors"]
        == 2
    )
    assert records.failed(failure(0)) and not records.failed(record(0))


def test_an_internal_error_exits_3_with_one_line_and_the_traceback_only_with_debug(tmp_path, monkeypatch):
    log = write(tmp_path / "requests.log", record(1))

    def bug(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(analyze.Analysis, "add", bug)
    code, out, err = run_tool(analyze.main, [log])
    assert code == 3 and out == ""
    assert err.count("\n") == 1 and err.startswith("internal error: KeyError at ")
    assert "--debug" in err and "Traceback" not in err
    code, out, err = run_tool(analyze.main, [log, "--debug"])
    assert code == 3 and "Traceback (most recent call last)" in err and "KeyError: 'a bug'" in err


def test_the_scripts_exit_3_on_an_internal_error_not_1(tmp_path):
    """A crash must never look like a failed check: the real script, the process's exit code."""
    code = (
        "import sys, runpy; from llmobs.debugging import records; "
        "records.parse_line = lambda line: 1 / 0; "
        "sys.argv = ['analyze-logs', sys.argv[1]]; "
        "runpy.run_module('llmobs.debugging.analyze_logs', run_name='__main__')"
    )
    log = write(tmp_path / "requests.log", record(1))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-c", code, str(log)], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 3 and "Traceback" not in done.stderr
    assert done.stderr.startswith("internal error: ZeroDivisionError")


def test_the_adversarial_errors_benchmark_runs_both_sides_and_prints_the_ratio():
    """benchmarks/analyze_errors_adversarial.py at a tiny size: it runs, both sides count every
    request, and it reports a ratio (the measurement itself is in benchmarks/README.md)."""
    script = ROOT / "benchmarks" / "analyze_errors_adversarial.py"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, str(script), "--lines", "400", "--message-chars", "300", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode in (0, 1), done.stderr
    result = json.loads(done.stdout)
    assert result["requests"] == {"performance": 400, "errors": 400}
    assert result["ratio"] > 0 and result["pass"] is (done.returncode == 0)
    assert set(result["shapes"]) == {
        "dashes",
        "quotes",
        "single-quote",
        "hex-run",
        "long-id",
        "dotted-numbers",
        "whitespace",
    }
