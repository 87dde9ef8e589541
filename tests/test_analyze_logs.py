"""analyze-logs: the report's numbers from crafted logs, every flag, bad input, the script link."""

import gzip
import json
import re
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from request_records import record, stamp

from llmobs.debugging import analyze_logs as analyze
from llmobs.debugging import records
from llmobs.debugging.analyze_logs import main, normalize_message

RATE_LIMITS = [
    "Rate limit exceeded for request req-a1b2c3 after 12 retries",
    "Rate limit exceeded for request req-9f8e7d after 3 retries",
    "Rate limit exceeded for request req-000111 after 7 retries",
]


def rec(seconds: float, request_id: str, **over):
    return record(seconds, request_id=request_id, **over)


def failure(seconds, request_id, error_class, status, message, **over):
    return rec(
        seconds,
        request_id,
        level="ERROR",
        status="failure",
        http_status=status,
        error_class=error_class,
        error_message=message,
        latency_ms=5.0,
        prompt_tokens=None,
        completion_tokens=None,
        total_tokens=None,
        cost=None,
        **over,
    )


def write(path, recs, gz=False, extra=""):
    text = "".join(json.dumps(r) + "\n" for r in recs) + extra
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    return path


def llama(i):
    """llama's successes: latency i * 100 ms; the even ones are streams with ttft latency / 10."""
    latency = i * 100.0
    return rec(
        i,
        f"req-{i}",
        latency_ms=latency,
        stream=i % 2 == 0,
        ttft_ms=latency / 10 if i % 2 == 0 else None,
        upstream_latency_ms=latency - 10,
        overhead_ms=2.0,
        cache_hit=i in (5, 10),
    )


GPT = {
    "requested_model": "gpt",
    "model_group": "gpt",
    "provider": "openai",
    "api_provider": "openai",
    "deployment": "openai/gpt",
}


@pytest.fixture
def logs(tmp_path):
    """Two gateways; gw1 rotated twice (the oldest compressed). 29 requests, 4 failures:

    llama  20 successes at seconds 1..20 (100..2000 ms) on ollama-gpu1, 1 failure (404) at 43,
           1 slow success (7000 ms, WARNING) at 50 on gw2 / ollama-gpu2
    gpt    4 successes at 30..33 (50..80 ms, cost 0.001 each), 3 rate limits (429) at 40..42
    """
    root = tmp_path / "logs"
    write(root / "gw1" / "requests.log.2.gz", [llama(i) for i in range(1, 11)], gz=True)
    write(root / "gw1" / "requests.log.1", [llama(i) for i in range(11, 21)])
    gpt = [
        rec(30 + k, f"gpt-{k}", latency_ms=50.0 + 10 * k, prompt_tokens=100, completion_tokens=50, **GPT)
        for k in range(4)
    ]
    for gpt_record in gpt:
        gpt_record.update(total_tokens=150, cost=0.001)
    rate_limits = [
        failure(40 + k, f"fail-{k + 1}", "RateLimitError", 429, message, **GPT)
        for k, message in enumerate(RATE_LIMITS)
    ]
    not_found = failure(43, "fail-4", "NotFoundError", 404, "model 'llama9' not found")
    write(root / "gw1" / "requests.log", [*gpt, *rate_limits, not_found])
    slow = rec(
        50,
        "slow-1",
        host="gw2",
        level="WARNING",
        latency_ms=7000.0,
        provider="ollama-gpu2",
        deployment="ollama-gpu2/llama",
    )
    write(root / "gw2" / "requests.log", [slow])
    return root


def run(capsys, *argv):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as stop:  # cli.fail: bad arguments or input
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv):
    code, out, err = run(capsys, *argv, "--json")
    return code, json.loads(out), err


def rows(report, table, key):
    return {row[key]: row for row in report["latency"][table]}


# -- the full report ------------------------------------------------------------------------------


def test_full_report_totals(logs, capsys):
    code, report, err = run_json(capsys, logs)
    assert code == 0 and err == ""
    assert report["mode"] == "full"
    assert [f.split("logs/")[1] for f in report["files"]] == [
        "gw1/requests.log.2.gz",
        "gw1/requests.log.1",
        "gw1/requests.log",
        "gw2/requests.log",
    ]
    assert report["lines"] == 29
    assert report["summary"] == {
        "requests": 29,
        "success": 25,
        "failures": 4,
        "error_rate_pct": 13.79,
        "first": stamp(1),
        "last": stamp(50),
        "span_s": 49.0,
        "hosts": ["gw1", "gw2"],
        "warnings": 1,
        "cache_hits": 2,
        "cache_hit_rate_pct": 6.9,
    }
    assert report["bad_lines"] == {"total": 0, "by_reason": {}, "examples": []}


def test_latency_per_model_and_provider_over_successes(logs, capsys):
    _, report, _ = run_json(capsys, logs)
    models = rows(report, "by_model", "model")
    assert list(models) == ["llama", "gpt"]  # most requests first
    llama_row = models["llama"]
    # 21 successes: 100..2000 and 7000; nearest rank: ceil(q * 21)
    assert (llama_row["p50_ms"], llama_row["p95_ms"], llama_row["p99_ms"]) == (1100.0, 2000.0, 7000.0)
    assert (llama_row["requests"], llama_row["failures"], llama_row["streams"]) == (22, 1, 10)
    assert (llama_row["ttft_p50_ms"], llama_row["ttft_p95_ms"]) == (100.0, 200.0)  # 20, 40, ... 200
    assert (llama_row["upstream_p50_ms"], llama_row["upstream_p95_ms"]) == (990.0, 1890.0)  # 90..1990
    assert (llama_row["overhead_p50_ms"], llama_row["overhead_p95_ms"]) == (2.0, 2.0)
    gpt = models["gpt"]
    assert (gpt["p50_ms"], gpt["p95_ms"], gpt["p99_ms"]) == (60.0, 80.0, 80.0)
    assert (gpt["requests"], gpt["failures"], gpt["streams"], gpt["ttft_p50_ms"]) == (7, 3, 0, None)
    assert gpt["upstream_p50_ms"] is None and gpt["overhead_p95_ms"] is None  # absent: not made up
    providers = rows(report, "by_provider", "provider")
    assert list(providers) == ["ollama-gpu1", "openai", "ollama-gpu2"]
    gpu1 = providers["ollama-gpu1"]
    assert (gpu1["requests"], gpu1["p50_ms"], gpu1["p95_ms"], gpu1["p99_ms"]) == (21, 1000.0, 1900.0, 2000.0)
    assert (providers["ollama-gpu2"]["p50_ms"], providers["openai"]["p95_ms"]) == (7000.0, 80.0)


def test_token_usage_and_cost_per_model(logs, capsys):
    _, report, _ = run_json(capsys, logs)
    usage = {row["model"]: row for row in report["usage"]["by_model"]}
    assert usage["llama"] == {
        "model": "llama",
        "requests": 22,
        "prompt_tokens": 210,
        "completion_tokens": 420,
        "total_tokens": 630,
        "cost_usd": 0.0,
        "cache_hits": 2,
    }
    assert (usage["gpt"]["prompt_tokens"], usage["gpt"]["total_tokens"], usage["gpt"]["cost_usd"]) == (
        400,
        600,
        0.004,
    )
    assert (report["usage"]["total_tokens"], report["usage"]["cost_usd"]) == (1230, 0.004)


def test_error_patterns_group_the_same_error_with_different_ids(logs, capsys):
    _, report, _ = run_json(capsys, logs)
    assert report["errors"]["patterns"] == 2
    rate, not_found = report["errors"]["top"]
    assert rate == {
        "pattern": "Rate limit exceeded for request <id> after <n> retries",
        "error_class": "RateLimitError",
        "http_status": 429,
        "model": "gpt",
        "provider": "openai",
        "count": 3,
        "first_seen": stamp(40),
        "last_seen": stamp(42),
        "example_request_id": "fail-1",
    }
    assert (not_found["pattern"], not_found["count"], not_found["http_status"]) == (
        "model '<v>' not found",
        1,
        404,
    )
    assert (not_found["model"], not_found["provider"]) == ("llama", "ollama-gpu1")


def test_slow_requests_default_threshold_is_the_gateways(logs, capsys):
    _, report, _ = run_json(capsys, logs)
    slow = report["slow_requests"]
    assert (slow["threshold_ms"], slow["count"]) == (5000.0, 1)
    assert slow["top"] == [
        {
            "request_id": "slow-1",
            "time": stamp(50),
            "host": "gw2",
            "model": "llama",
            "provider": "ollama-gpu2",
            "status": "success",
            "latency_ms": 7000.0,
        }
    ]


def test_slow_ms_and_top(logs, capsys):
    _, report, _ = run_json(capsys, logs, "--slow-ms", "1500", "--top", "2")
    slow = report["slow_requests"]
    assert slow["count"] == 6  # 1600..2000 and 7000
    assert [(s["request_id"], s["latency_ms"]) for s in slow["top"]] == [
        ("slow-1", 7000.0),
        ("req-20", 2000.0),
    ]
    _, report, _ = run_json(capsys, logs, "--top", "1")
    assert [row["model"] for row in report["latency"]["by_model"]] == ["llama"]
    assert [row["provider"] for row in report["latency"]["by_provider"]] == ["ollama-gpu1"]
    assert [row["model"] for row in report["usage"]["by_model"]] == ["llama"]
    assert report["errors"]["patterns"] == 2 and len(report["errors"]["top"]) == 1


def test_text_report_has_aligned_tables(logs, capsys):
    code, out, err = run(capsys, logs)
    assert code == 0 and err == ""
    assert "Requests: 29  success: 25  failures: 4  error rate: 13.79 %" in out
    assert "Hosts: gw1, gw2" in out
    assert "(49s)" in out
    lines = out.splitlines()
    header = lines.index("Latency by model (ms, successful requests)") + 1
    heading, first = lines[header], lines[header + 1]
    assert re.split(r"\s{2,}", first.strip())[:6] == ["llama", "22", "1", "1100.0", "2000.0", "7000.0"]
    # right-aligned numbers end under the end of their heading
    assert first.index("1100.0") + len("1100.0") == heading.index("p50") + len("p50")
    assert "Error patterns (2 distinct, 4 failures)" in out
    assert "Rate limit exceeded for request <id> after <n> retries" in out
    assert "Slow requests (over 5000 ms): 1, slowest first" in out
    usage_row = next(line for line in lines if line.strip().startswith("gpt ") and "0.0040" in line)
    assert re.split(r"\s+", usage_row.strip()) == ["gpt", "7", "400", "200", "600", "0.0040", "0"]


# -- modes and filters ------------------------------------------------------------------------------


def test_errors_mode_has_errors_only(logs, capsys):
    code, report, _ = run_json(capsys, logs, "--errors")
    assert code == 0 and report["mode"] == "errors"
    assert "errors" in report and "latency" not in report and "usage" not in report
    assert report["errors"]["top"][0]["count"] == 3
    _, out, _ = run(capsys, logs, "--errors")
    assert "Error patterns" in out and "Latency by model" not in out and "Token usage" not in out


def test_performance_mode_has_latency_and_slow_requests_only(logs, capsys):
    code, report, _ = run_json(capsys, logs, "--performance")
    assert code == 0 and report["mode"] == "performance"
    assert {"latency", "slow_requests"} <= set(report) and not {"errors", "usage"} & set(report)
    assert rows(report, "by_model", "model")["gpt"]["p95_ms"] == 80.0
    _, out, _ = run(capsys, logs, "--performance")
    assert "Latency by provider" in out and "Slow requests" in out and "Error patterns" not in out


def test_since_and_until_absolute(logs, capsys):
    _, report, _ = run_json(capsys, logs, "--since", "2024-05-01T12:00:30")  # naive: UTC
    assert (report["summary"]["requests"], report["summary"]["first"]) == (9, stamp(30))
    _, report, _ = run_json(capsys, logs, "--until", "2024-05-01T14:00:10+02:00")
    assert (report["summary"]["requests"], report["summary"]["last"]) == (10, stamp(10))
    _, report, _ = run_json(
        capsys, logs, "--since", "2024-05-01T12:00:05Z", "--until", "2024-05-01T12:00:06Z"
    )
    assert report["summary"]["requests"] == 2
    assert report["filters"]["since"] == "2024-05-01T12:00:05+00:00"


def test_since_and_until_relative(tmp_path, capsys):
    now = datetime.now(UTC)
    old = rec(0, "two-hours-ago", time=stamp(-7200, now))
    new = rec(0, "ten-minutes-ago", time=stamp(-600, now))
    path = write(tmp_path / "requests.log", [old, new])
    _, report, _ = run_json(capsys, path, "--since", "1h", "--performance", "--slow-ms", "0")
    assert [s["request_id"] for s in report["slow_requests"]["top"]] == ["ten-minutes-ago"]
    _, report, _ = run_json(capsys, path, "--until", "1h", "--performance", "--slow-ms", "0")
    assert [s["request_id"] for s in report["slow_requests"]["top"]] == ["two-hours-ago"]
    _, report, _ = run_json(capsys, path, "--since", "3h", "--until", "5m")
    assert report["summary"]["requests"] == 2


def test_bad_time_exits_2(logs, capsys):
    code, out, err = run(capsys, logs, "--since", "last tuesday")
    assert code == 2
    assert out == "" and "invalid time 'last tuesday'" in err


def test_model_filter_matches_requested_model_or_model_group(logs, capsys):
    _, report, _ = run_json(capsys, logs, "--model", "gpt")
    assert (report["summary"]["requests"], report["summary"]["failures"]) == (7, 3)
    assert report["filters"]["model"] == "gpt"
    path = write(logs.parent / "alias.log", [rec(1, "a", requested_model="fast", model_group="gpt")])
    _, report, _ = run_json(capsys, path, "--model", "gpt")
    assert report["summary"]["requests"] == 1


def test_provider_filter_matches_provider_or_api_provider(logs, capsys):
    _, report, _ = run_json(capsys, logs, "--provider", "ollama_chat")
    assert report["summary"]["requests"] == 22  # ollama-gpu1 and ollama-gpu2
    _, report, _ = run_json(capsys, logs, "--provider", "ollama-gpu2")
    assert report["summary"]["requests"] == 1
    _, report, _ = run_json(capsys, logs, "--provider", "openai", "--errors")
    assert (report["summary"]["requests"], report["errors"]["patterns"]) == (7, 1)


def test_filters_matching_nothing_say_so(logs, capsys):
    code, out, _ = run(capsys, logs, "--model", "nonexistent")
    assert code == 0
    assert "No valid request records match the filters in 4 file(s) (29 lines read)." in out


# -- files --------------------------------------------------------------------------------------------


def test_rotated_files_in_any_order_are_read_oldest_first(logs, capsys):
    gw1 = logs / "gw1"
    given = [gw1 / "requests.log", gw1 / "requests.log.2.gz", gw1 / "requests.log.1"]
    code, report, _ = run_json(capsys, *given)
    assert code == 0
    assert [f.rsplit("/", 1)[1] for f in report["files"]] == [
        "requests.log.2.gz",
        "requests.log.1",
        "requests.log",
    ]
    assert (report["summary"]["requests"], report["summary"]["hosts"]) == (28, ["gw1"])
    _, glob_report, _ = run_json(capsys, str(gw1 / "requests.log*"))
    assert glob_report["files"] == report["files"]


def test_directory_of_two_hosts_is_merged_by_time(tmp_path, capsys):
    write(tmp_path / "gw1" / "requests.log", [rec(s, f"a{s}", host="gw1") for s in (1, 3, 5)])
    write(tmp_path / "gw2" / "requests.log.1", [rec(s, f"b{s}", host="gw2") for s in (2, 4)], gz=True)
    bad = records.BadLines()
    merged = records.read_records(records.expand_paths([str(tmp_path)]), bad)
    assert [r["request_id"] for r in merged] == ["a1", "b2", "a3", "b4", "a5"]
    _, report, _ = run_json(capsys, tmp_path)
    assert report["summary"]["hosts"] == ["gw1", "gw2"]
    assert (report["summary"]["first"], report["summary"]["last"]) == (stamp(1), stamp(5))


# -- trace ----------------------------------------------------------------------------------------------


@pytest.fixture
def retried(tmp_path):
    """Request abc123 failed on gw1, was retried on gw2 (same id) and once more under another id."""
    write(
        tmp_path / "gw1" / "requests.log",
        [
            rec(1, "zzz"),
            failure(5, "abc123", "RateLimitError", 429, "slow down", host="gw1"),
            rec(6, "abc1234"),  # a longer id that contains it: not the same request
        ],
    )
    write(
        tmp_path / "gw2" / "requests.log.1.gz",
        [rec(3, "abc123", host="gw2"), rec(8, "retry-2", trace_id="abc123", host="gw2")],
        gz=True,
    )
    return tmp_path


def test_trace_shows_every_line_of_the_request_in_time_order(retried, capsys):
    code, out, err = run(capsys, retried, "--trace", "abc123")
    assert code == 0 and err == ""
    assert out.startswith("Trace of abc123: 3 line(s), host(s) gw1, gw2")
    places = re.findall(r"^(\S+:\d+)  (\S+)", out, re.MULTILINE)
    assert [(p.split(str(retried) + "/")[1], t) for p, t in places] == [
        ("gw2/requests.log.1.gz:1", stamp(3)),
        ("gw1/requests.log:2", stamp(5)),
        ("gw2/requests.log.1.gz:2", stamp(8)),
    ]
    assert re.search(r"^    error_message\s+slow down$", out, re.MULTILINE)  # all fields
    assert re.search(r"^    metadata\s+\{\}$", out, re.MULTILINE)


def test_trace_json(retried, capsys):
    code, report, _ = run_json(capsys, retried, "--trace", "abc123")
    assert code == 0 and report["mode"] == "trace" and report["trace"] == "abc123"
    assert [(m["line"], m["record"]["request_id"]) for m in report["matches"]] == [
        (1, "abc123"),
        (2, "abc123"),
        (2, "retry-2"),
    ]
    assert report["matches"][1]["record"]["error_class"] == "RateLimitError"


def test_trace_not_found_exits_1_and_says_so(retried, capsys):
    code, out, _ = run(capsys, retried, "--trace", "abc12")
    assert code == 1
    assert "abc12: not found as a request id or trace id in 2 file(s) (5 lines read)" in out
    code, report, err = run_json(capsys, retried, "--trace", "nowhere")
    assert code == 1 and report["matches"] == [] and "nowhere: not found" in err


def test_trace_respects_the_filters(retried, capsys):
    code, report, _ = run_json(capsys, retried, "--trace", "abc123", "--since", "2024-05-01T12:00:04")
    assert code == 0 and [m["record"]["time"] for m in report["matches"]] == [stamp(5), stamp(8)]


# -- bad input --------------------------------------------------------------------------------------------


def test_bad_lines_are_counted_by_reason_never_fatal(tmp_path, capsys):
    path = tmp_path / "requests.log"
    path.write_text(
        "*** LiteLLM gateway starting ***\n"
        + json.dumps(rec(1, "ok-1"))
        + "\n"
        + json.dumps({**rec(2, "bad-type"), "latency_ms": "fast"})
        + "\n"
        + json.dumps({**rec(3, "future"), "schema": "llmobs.request/2"})
        + "\n"
        + "[]\n"
        + json.dumps(rec(4, "ok-2"))
        + "\n"
        + json.dumps(rec(5, "cut"))[:40]  # the writer died mid-line
    )
    code, report, err = run_json(capsys, path)
    assert code == 0
    assert report["summary"]["requests"] == 2
    assert report["bad_lines"]["total"] == 5
    assert report["bad_lines"]["by_reason"] == {
        "not_json": 2,
        "not_object": 1,
        "unknown_schema": 1,
        "wrong_type": 1,
    }
    assert report["bad_lines"]["examples"][:2] == [f"{path}:1: not_json", f"{path}:3: wrong_type"]
    assert "warning: skipped 5 bad lines" in err  # --json: the warning on stderr only
    code, out, err = run(capsys, path)
    assert code == 0 and err == ""
    assert (
        "Skipped 5 bad lines of 7 (not_json 2, not_object 1, unknown_schema 1, wrong_type 1); first:" in out
    )
    assert f"  {path}:7: not_json" in out


def test_corrupt_gzip_is_reported_and_the_rest_is_read(logs, capsys):
    (logs / "gw2" / "requests.log.3.gz").write_bytes(b"\x1f\x8b\x08\x00garbage, not deflate")
    code, report, _ = run_json(capsys, logs)
    assert code == 0
    assert report["summary"]["requests"] == 29
    assert report["bad_lines"]["by_reason"] == {"corrupt_gzip": 1}
    assert report["bad_lines"]["examples"][0].startswith(f"{logs}/gw2/requests.log.3.gz:1 (")


def test_empty_input_says_so_and_exits_0(tmp_path, capsys):
    path = tmp_path / "requests.log"
    path.write_text("")
    code, out, err = run(capsys, path)
    assert code == 0 and err == ""
    assert "No valid request records were found in 1 file(s) (0 lines read)." in out
    code, report, _ = run_json(capsys, path)
    assert code == 0 and report["summary"]["requests"] == 0 and report["summary"]["first"] is None
    assert report["latency"]["by_model"] == [] and report["errors"]["top"] == []


def test_missing_file_exits_2_naming_it(logs, capsys):
    code, out, err = run(capsys, logs / "gw1" / "requests.log", logs / "gw9" / "requests.log")
    assert code == 2 and out == ""
    assert err == f"error: {logs}/gw9/requests.log: no such file or directory\n"


def test_unreadable_file_exits_2(logs, capsys, monkeypatch):
    real_open = open

    def deny(path, *args, **kwargs):
        if str(path).endswith("gw2/requests.log"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(records, "open", deny, raising=False)  # root reads everything: simulate it
    code, out, err = run(capsys, logs)
    assert code == 2 and out == ""
    assert err == f"error: {logs}/gw2/requests.log: cannot read: Permission denied\n"


@pytest.mark.parametrize(
    "argv",
    [["--errors", "--performance"], ["--top", "0"], ["--slow-ms", "fast"], ["--trace"], []],
)
def test_bad_arguments_exit_2(logs, capsys, argv):
    with pytest.raises(SystemExit) as stop:
        main([str(logs), *argv] if argv else [])
    assert stop.value.code == 2


def test_progress_only_on_a_terminal(logs, capsys, monkeypatch):
    monkeypatch.setattr(records, "PROGRESS_EVERY", 10)
    run(capsys, logs)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, _, err = run(capsys, logs, "--json")
    assert code == 0 and err == "analyze-logs: 10 lines read\nanalyze-logs: 20 lines read\n"


def test_text_output_carries_no_terminal_escapes(tmp_path, capsys):
    path = write(tmp_path / "requests.log", [failure(1, "x\x1b]0;owned\x07", "E", 500, "bad \x1b[31mred")])
    for argv in ([path], [path, "--trace", "x\x1b]0;owned\x07"]):
        code, out, _ = run(capsys, *argv)
        assert code == 0 and "bad" in out and "\x1b" not in out and "\x07" not in out


def test_normalize_message():
    assert normalize_message("timeout after 600.0s on call 7c9e6679-7425-40de-944b-e07fc1f90ae7") == (
        "timeout after <n>s on call <uuid>"
    )
    assert normalize_message('{"error":"model \\"x7\\" busy", "id": "chatcmpl-9f8e7d"}') == (
        '{"error":"model \\"x<n>\\" busy", "id": "<v>"}'
    )
    assert normalize_message("bad pointer 0xdeadbeef and sha 3f2a9c1b7e") == "bad pointer <hex> and sha <hex>"
    assert normalize_message("connection refused   to 10.0.3.7:11434") == "connection refused to <n>:<n>"
    assert normalize_message("after 5. Retry 1.2.3 then 0.5s") == "after <n>. Retry <n> then <n>s"
    assert normalize_message(None) == "(no message)"


# -- the script, as the guide runs it ------------------------------------------------------------


def test_the_guides_script_path_runs_the_tool(root, logs):
    script = root / "scripts" / "debugging" / "analyze-logs.py"
    done = subprocess.run(
        [sys.executable, str(script), str(logs), "--errors", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["mode"], report["summary"]["failures"], report["errors"]["patterns"]) == ("errors", 4, 2)
    missing = subprocess.run(
        [sys.executable, str(script), str(logs / "nope.log")], capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 2 and "nope.log: no such file or directory" in missing.stderr


def test_module_has_no_third_party_imports(root):
    """The tools run with a bare python3 on the hosts: the standard library only."""
    for path in (root / "src" / "llmobs" / "debugging").glob("*.py"):
        imports = re.findall(r"^\s*(?:from ([\w.]+) import|import ([\w.]+))", path.read_text(), re.MULTILINE)
        for name in (a or b for a, b in imports):
            top = name.split(".")[0]
            assert top == "llmobs" or top in sys.stdlib_module_names or top == "__future__", (path, name)
    assert analyze.__name__ == "llmobs.debugging.analyze_logs"
