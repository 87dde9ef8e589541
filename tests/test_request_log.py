"""The gateway's per-request log: records, filtering, and a writer that survives rotation."""

import errno
import gzip
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from llmobs.gateway import request_log
from llmobs.gateway.request_log import SCHEMA, RequestLog, RequestLogWriter, Settings, build_record, keep
from llmobs.waiting import wait_until


def slo(**over):
    """A standard logging object shaped like LiteLLM 1.108.7's for a proxied chat completion."""
    base = {
        "litellm_call_id": "req-123",
        "trace_id": "trace-9",
        "model": "llama3.1:8b",
        "model_group": "llama3.1:8b",
        "model_id": "ollama-gpu1/llama3.1:8b",
        "api_base": "http://127.0.0.1:11434/api/chat",
        "custom_llm_provider": "ollama_chat",
        "stream": None,
        "status": "success",
        "startTime": 1_700_000_000.0,
        "endTime": 1_700_000_000.25,
        "completionStartTime": 1_700_000_000.25,
        "prompt_tokens": 12,
        "completion_tokens": 30,
        "total_tokens": 42,
        "response_cost": 0.0,
        "cache_hit": None,
        "metadata": {
            "requester_metadata": {
                "project": "debug",
                "env": "dev",
                "headers": {"user-agent": "curl/7.88.1"},
                "used_client_oauth_token": False,
            }
        },
        "hidden_params": {"litellm_overhead_time_ms": 1.7, "litellm_model_name": "ollama/llama3.1:8b"},
        "messages": [{"role": "user", "content": "hi"}],
        "response": {"choices": [{"message": {"content": "hello"}}]},
        "error_str": None,
        "error_information": None,
    }
    base.update(over)
    return base


KWARGS = {
    "api_call_start_time": datetime.fromtimestamp(1_700_000_000.05, UTC),
    "litellm_params": {"api_base": "http://127.0.0.1:11434"},
}


def test_success_record_carries_every_field_of_the_schema():
    record = build_record(slo(), KWARGS, failed=False, host="gw1", settings=Settings())
    assert record["schema"] == SCHEMA
    assert record["time"] == "2023-11-14T22:13:20.250+00:00"
    assert (record["level"], record["status"], record["http_status"]) == ("INFO", "success", 200)
    assert (record["request_id"], record["trace_id"], record["host"]) == ("req-123", "trace-9", "gw1")
    assert (record["provider"], record["api_provider"]) == ("ollama-gpu1", "ollama_chat")
    assert record["deployment"] == "ollama-gpu1/llama3.1:8b"
    assert record["api_base"] == "http://127.0.0.1:11434"  # as configured, not the endpoint path
    assert record["latency_ms"] == 250.0
    assert record["upstream_latency_ms"] == 200.0
    assert record["overhead_ms"] == 1.7
    assert record["ttft_ms"] is None  # not a stream
    assert record["queue_ms"] is None  # LiteLLM gave no arrival time
    assert (record["prompt_tokens"], record["completion_tokens"], record["total_tokens"]) == (12, 30, 42)
    assert record["metadata"] == {"project": "debug", "env": "dev"}
    assert record["cache_hit"] is False and record["retries"] == 0
    assert "request" not in record and "response" not in record  # bodies are off by default


def test_stream_reports_time_to_first_token():
    record = build_record(
        slo(stream=True, completionStartTime=1_700_000_000.08), KWARGS, False, "gw1", Settings()
    )
    assert record["stream"] is True
    assert record["ttft_ms"] == 80.0


def test_failure_is_an_error_with_class_status_and_message():
    failure = slo(
        status="failure",
        error_str="litellm.RateLimitError: slow down",
        error_information={"error_code": "429", "error_class": "RateLimitError", "llm_provider": "openai"},
        custom_llm_provider=None,
        model_id=None,
    )
    record = build_record(
        failure, {"litellm_params": {"metadata": {"attempted_retries": 2}}}, True, "gw", Settings()
    )
    assert (record["level"], record["status"], record["http_status"]) == ("ERROR", "failure", 429)
    assert record["error_class"] == "RateLimitError"
    assert record["error_message"] == "litellm.RateLimitError: slow down"
    assert record["provider"] == "openai"
    assert record["retries"] == 2


def test_slow_success_is_a_warning_over_the_threshold():
    settings = Settings(slow_request_threshold_ms=200)
    assert build_record(slo(), KWARGS, False, "gw", settings)["level"] == "WARNING"
    assert (
        build_record(slo(), KWARGS, False, "gw", Settings(slow_request_threshold_ms=300))["level"] == "INFO"
    )
    off = Settings(slow_request_threshold_ms=200, log_slow_requests=False)
    assert build_record(slo(), KWARGS, False, "gw", off)["level"] == "INFO"


def test_bodies_only_when_asked():
    settings = Settings(log_requests=True, log_responses=True)
    record = build_record(slo(), KWARGS, False, "gw", settings)
    assert record["request"] == [{"role": "user", "content": "hi"}]
    assert record["response"] == {"choices": [{"message": {"content": "hello"}}]}


def test_sampling_thins_successes_only_and_is_stable_per_request_id():
    settings = Settings(sampling_rate=0.25)
    successes = [{"level": "INFO", "request_id": f"r{i}"} for i in range(4000)]
    kept = [r for r in successes if keep(r, settings)]
    assert 800 < len(kept) < 1200
    assert kept == [r for r in successes if keep(r, settings)]  # same answer every time
    assert all(keep({"level": "ERROR", "request_id": f"e{i}"}, settings) for i in range(200))
    assert all(keep({"level": "WARNING", "request_id": f"w{i}"}, settings) for i in range(200))


def test_level_setting_filters_below_it():
    warning_only = Settings(level="WARNING")
    assert not keep({"level": "INFO", "request_id": "a"}, warning_only)
    assert keep({"level": "WARNING", "request_id": "b"}, warning_only)
    assert keep({"level": "ERROR", "request_id": "c"}, warning_only)


def test_settings_file_rejects_typos_and_bad_values(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"log_file": "/tmp/x.log", "sampling_rate": 0.5}))
    assert Settings.load(path).sampling_rate == 0.5
    path.write_text(json.dumps({"slow_threshold": 5}))
    with pytest.raises(ValueError, match="unknown request-log settings"):
        Settings.load(path)
    path.write_text(json.dumps({"level": "LOUD"}))
    with pytest.raises(ValueError, match="level must be one of"):
        Settings.load(path)
    path.write_text(json.dumps({"prometheus_services": ["redis"]}))
    assert Settings.load(path).prometheus_services == ("redis",)
    for bad in ("redis", [1], {"redis": True}):
        path.write_text(json.dumps({"prometheus_services": bad}))
        with pytest.raises(ValueError, match="prometheus_services must be a list of service names"):
            Settings.load(path)


def lines_in(*paths):
    return [line for p in paths if p.exists() for line in p.read_text().splitlines()]


def test_writer_loses_no_line_across_rotations(tmp_path):
    """Five rotations while the writer's thread drains its queue: every line lands exactly once."""
    path = tmp_path / "requests.log"
    writer = RequestLogWriter(str(path))
    total = 20_000
    for i in range(total):
        writer.write({"n": i})
        if i % 4000 == 1999:  # what logrotate does with `create`: move the file away, mid-stream
            wait_until(path.exists, 10, "the writer to create the log again", every=0.001)
            os.rename(path, tmp_path / f"requests.log.{i}")
    writer.close()
    files = sorted(tmp_path.glob("requests.log*"))
    assert len(files) == 6
    numbers = sorted(json.loads(line)["n"] for line in lines_in(*files))
    assert numbers == list(range(total))
    assert writer.lost == {"queue_full": 0, "write_error": 0}


def logged(tmp_path, log):
    log.writer.close()
    return [json.loads(line) for line in lines_in(tmp_path / "r.log")]


class Refused(Exception):
    status_code = 503


def test_request_log_writes_one_line_per_request_a_failure_at_its_end(tmp_path):
    log = RequestLog(Settings(log_file=str(tmp_path / "r.log")), host="gw1")
    log.event({"standard_logging_object": slo(), **KWARGS}, failed=False)
    log.event({"standard_logging_object": slo(litellm_call_id="req-2")}, failed=True)
    log.final_failure("req-2", "llama3.1:8b", Refused("the backend is gone"))
    records = logged(tmp_path, log)
    assert [(r["request_id"], r["level"]) for r in records] == [("req-123", "INFO"), ("req-2", "ERROR")]
    failure = records[1]
    assert (failure["http_status"], failure["error_class"], failure["error_message"]) == (
        503,
        "Refused",
        "the backend is gone",
    )
    # from the first attempt's start to the end of the last: the whole wait of the client
    assert failure["latency_ms"] > 250 and failure["deployment"] == "ollama-gpu1/llama3.1:8b"


def test_a_failed_attempt_that_a_retry_mends_leaves_only_the_success(tmp_path):
    log = RequestLog(Settings(log_file=str(tmp_path / "r.log")), host="gw1")
    log.event({"standard_logging_object": slo(status="failure")}, failed=True)
    log.event({"standard_logging_object": slo(), **KWARGS}, failed=False)
    log.final_failure("req-9", None, Refused("bad key"))  # another request, rejected before any attempt
    log.event({"standard_logging_object": slo(litellm_call_id="req-9")}, failed=True)  # its late event
    records = logged(tmp_path, log)
    assert [(r["request_id"], r["status"]) for r in records] == [("req-123", "success"), ("req-9", "failure")]


def test_a_failure_whose_request_never_ends_is_written_after_a_while_or_at_exit(tmp_path):
    log = RequestLog(Settings(log_file=str(tmp_path / "r.log")), host="gw1", pending_s=0.0)
    log.event({"standard_logging_object": slo(litellm_call_id="req-1")}, failed=True)
    log.event({"standard_logging_object": slo(litellm_call_id="req-2")}, failed=True)  # req-1 expires
    log.flush()  # the process stops: req-2 too
    assert [r["request_id"] for r in logged(tmp_path, log)] == ["req-1", "req-2"]


@pytest.mark.parametrize(
    "reported", ["http://gpu2:8001/v1/chat/completions", "http://gpu2:8001/v1/", "http://gpu2:8001/v1"]
)
def test_api_base_is_reported_as_configured(reported):
    """Without the endpoint path, and without the trailing slash LiteLLM adds on some failures."""
    kwargs = {"litellm_params": {"api_base": reported}}
    assert build_record(slo(), kwargs, False, "gw", Settings())["api_base"] == "http://gpu2:8001/v1"


def test_lines_the_queue_cannot_take_are_counted_and_said(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(RequestLogWriter, "FLUSH_EVERY_S", 3600.0)  # a disk that cannot keep up
    seen = []
    writer = RequestLogWriter(
        str(tmp_path / "r.log"), queue_size=2, on_lost=lambda *lost: seen.append(lost), warn_every_s=3600
    )
    for i in range(5):
        writer.write({"n": i})
    writer.close()
    assert [json.loads(line)["n"] for line in lines_in(tmp_path / "r.log")] == [0, 1]
    assert writer.lost == {"queue_full": 3, "write_error": 0}
    assert seen == [("queue_full", 1)] * 3
    said = capsys.readouterr().err.splitlines()
    assert said == [
        "llmobs request log: WARNING: 1 line(s) lost so far (queue_full): the queue of 2 lines is full"
        " (the disk cannot keep up)"
    ]  # once per warn_every_s, not once per line


def test_a_full_disk_loses_lines_countably_and_logging_resumes_when_space_returns(tmp_path, capsys):
    """/dev/full answers every write with ENOSPC, as a full disk does; then the path becomes a
    writable file again and the writer, without a restart, writes there."""
    path = tmp_path / "requests.log"
    path.symlink_to("/dev/full")
    seen = []
    writer = RequestLogWriter(str(path), on_lost=lambda *lost: seen.append(lost), warn_every_s=3600)
    for i in range(10):
        writer.write({"n": i})
    wait_until(lambda: writer.lost["write_error"] == 10, 10, "the writer to fail 10 lines")
    path.unlink()  # space is back
    for i in range(10, 15):
        writer.write({"n": i})
    writer.close()
    assert [json.loads(line)["n"] for line in lines_in(path)] == list(range(10, 15))
    assert writer.lost == {"queue_full": 0, "write_error": 10}
    assert sum(count for reason, count in seen if reason == "write_error") == 10
    (warning,) = capsys.readouterr().err.splitlines()
    assert warning.startswith("llmobs request log: WARNING: ")
    assert f"(write_error): cannot write {path}: [Errno 28] No space left on device" in warning


@pytest.mark.parametrize("compressed", [False, True])
def test_lines_written_between_copy_and_truncate_are_written_again_once(tmp_path, compressed):
    """logrotate's copytruncate: the file copied, lines written meanwhile, then the file cut to
    nothing. The writer notices before its next line, and writes again exactly the lines that
    the copy (plain or gzip) lacks."""
    path = tmp_path / "requests.log"
    writer = RequestLogWriter(str(path))

    def landed(count: int) -> None:
        wait_until(lambda: len(lines_in(path)) == count, 10, f"{count} lines in the log")

    for i in range(5):
        writer.write({"n": i})
    landed(5)
    copy = tmp_path / "requests.log.1"
    shutil.copyfile(path, copy)  # the copy ...
    for i in range(5, 8):
        writer.write({"n": i})
    landed(8)
    os.truncate(path, 0)  # ... then the cut: lines 5 to 7 are in neither file
    if compressed:
        with open(copy, "rb") as plain, gzip.open(tmp_path / "requests.log.1.gz", "wb") as packed:
            packed.write(plain.read())
        copy.unlink()
    writer.write({"n": 8})
    writer.close()
    if compressed:
        with gzip.open(tmp_path / "requests.log.1.gz", "rt") as packed:
            copied = [json.loads(line)["n"] for line in packed]
    else:
        copied = [json.loads(line)["n"] for line in lines_in(copy)]
    assert copied == [0, 1, 2, 3, 4]
    assert [json.loads(line)["n"] for line in lines_in(path)] == [5, 6, 7, 8]


def filling_disk(monkeypatch, room: int) -> list:
    """os.write as on a disk with ``room`` bytes left: short writes, then ENOSPC. Set the list's
    one item to None to give the room back."""
    real_write = os.write
    left = [room]

    def write(fd, data):
        if left[0] is not None:
            data = data[: left[0]]
            left[0] -= len(data)
            if not data:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    return left


def test_a_line_cut_by_a_full_disk_is_ended_before_the_next_ones_of_every_worker(tmp_path, monkeypatch):
    """The disk fills within worker A's line (a short write): that record is lost, and the cut
    stays one bad line; the next line, once there is room, stands alone, even when worker B (its
    own writer on the same file) writes it."""
    path = tmp_path / "requests.log"
    worker_a, worker_b = RequestLogWriter(str(path)), RequestLogWriter(str(path))
    room = filling_disk(monkeypatch, 40)
    worker_a.write({"n": 0, "pad": "x" * 60})
    wait_until(lambda: worker_a.lost["write_error"] == 1, 10, "worker A to lose the cut line")
    room[0] = None  # space is back
    worker_b.write({"n": 1})
    worker_b.close()
    worker_a.write({"n": 2})
    worker_a.close()
    lines = path.read_text().splitlines()
    assert len(lines[0]) == 40  # the cut, alone on its line
    assert [json.loads(line) for line in lines[1:] if line] == [{"n": 1}, {"n": 2}]


def test_a_batch_cut_by_a_full_disk_keeps_its_whole_lines_and_counts_the_rest(tmp_path, monkeypatch):
    """Lines are written in batches: when the disk fills within one, the lines before the cut are
    kept whole, the cut one and those after it are counted lost, and logging resumes after."""
    path = tmp_path / "requests.log"
    records = [{"n": n, "pad": "x" * 20} for n in range(5)]
    line = len(request_log._line(records[0]))
    writer = RequestLogWriter(str(path))
    room = filling_disk(monkeypatch, 2 * line + line // 2)
    writer._write_lines([request_log._line(record) for record in records])  # one batch
    assert writer.lost["write_error"] == 3
    room[0] = None
    writer.write({"n": 5})
    writer.close()
    lines = path.read_text().splitlines()
    assert [json.loads(text)["n"] for text in lines[:2]] == [0, 1]
    assert len(lines[2]) == line // 2  # the cut, alone on its line
    assert json.loads(lines[3]) == {"n": 5}


def test_lost_lines_are_a_prometheus_counter_from_zero(tmp_path):
    """In a process of its own, as a gateway worker: both reasons exported at 0, then counted."""
    program = (
        "from prometheus_client import generate_latest\n"
        "from llmobs.gateway.request_log import lost_lines_counter\n"
        "count = lost_lines_counter()\n"
        "print(generate_latest().decode())\n"
        "count('write_error', 3)\n"
        "print(generate_latest().decode())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=60
    )
    before, after = result.stdout.split("# HELP llmobs_request_log_lines_lost_total")[1:3]
    assert 'llmobs_request_log_lines_lost_total{reason="queue_full"} 0.0' in before
    assert 'llmobs_request_log_lines_lost_total{reason="write_error"} 0.0' in before
    assert 'llmobs_request_log_lines_lost_total{reason="write_error"} 3.0' in after


@pytest.mark.parametrize(
    ("queue", "logged"),
    [(0.0125, 12.5), (0, 0.0), (-0.5, None), ("0.1", None), (True, None), (float("nan"), None)],
)
def test_queue_time_is_the_arrival_before_litellms_start(queue, logged):
    kwargs = {
        **KWARGS,
        "litellm_params": {**KWARGS["litellm_params"], "metadata": {"queue_time_seconds": queue}},
    }
    assert build_record(slo(), kwargs, False, "gw", Settings())["queue_ms"] == logged


EXIT_LIKE_LITELLM = """
import atexit, sys
from llmobs.gateway.request_log import RequestLog, Settings
late = []
# LiteLLM's logging worker registers its flush at import, before our callback exists; atexit runs
# last in, first out, so it runs the callbacks still queued after our hooks have run
atexit.register(lambda: [event() for event in late])
log = RequestLog(Settings(log_file=sys.argv[1]), host="gw1")
slo = {"litellm_call_id": "answered", "model_group": "m", "startTime": 1.0, "endTime": 2.0}
late.append(lambda: log.event({"standard_logging_object": {**slo, "status": "success"}}, failed=False))
late.append(lambda: log.event({"standard_logging_object": {**slo, "litellm_call_id": "failed",
                                                            "status": "failure"}}, failed=True))
late.append(lambda: log.event({"standard_logging_object": {**slo, "litellm_call_id": "failed",
                                                            "status": "failure"}}, failed=True))
"""


def test_callbacks_that_litellm_runs_at_exit_after_our_hooks_are_written(tmp_path):
    """A gateway restarted under load: LiteLLM's logging worker flushes its queue after our atexit
    hooks have closed the writer. Each of those requests is written once, not dropped."""
    path = tmp_path / "r.log"
    subprocess.run([sys.executable, "-c", EXIT_LIKE_LITELLM, str(path)], check=True, timeout=60)
    assert [json.loads(line)["request_id"] for line in lines_in(path)] == ["answered", "failed"]
