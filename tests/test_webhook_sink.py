"""llmobs-webhook-sink: what Alertmanager posts is recorded, read back, kept across restarts."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from llmobs.cli import stop_process
from llmobs.waiting import wait_until
from llmobs.webhook_sink import MAX_BODY, make_server

# What Alertmanager 0.25 posts to a webhook_configs receiver (version 4 of its webhook payload).
NOTIFICATION = {
    "version": "4",
    "groupKey": '{}:{alertname="GatewayHighErrorRate"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "lab-webhook",
    "groupLabels": {"alertname": "GatewayHighErrorRate"},
    "commonLabels": {"alertname": "GatewayHighErrorRate", "severity": "critical"},
    "commonAnnotations": {"summary": "More than 5% of gateway requests fail"},
    "externalURL": "http://monitor1:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "GatewayHighErrorRate", "severity": "critical", "model": "llama3.1:8b"},
            "annotations": {"summary": "More than 5% of gateway requests fail"},
            "startsAt": "2026-01-01T10:00:00.000Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://monitor1:9090/graph?g0.expr=...",
            "fingerprint": "5a4e1c2b3d4f6a7b",
        }
    ],
}


@contextmanager
def sink(path: Path) -> Iterator[int]:
    server = make_server("127.0.0.1", 0, path)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        return response.status, json.loads(data), dict(response.getheaders())
    finally:
        connection.close()


def post(port: int, payload, path: str = "/alertmanager"):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return request(port, "POST", path, body, {"Content-Type": "application/json"})


def test_a_notification_is_recorded_and_read_back_across_a_restart(tmp_path):
    path = tmp_path / "alerts.jsonl"
    with sink(path) as port:
        assert post(port, NOTIFICATION)[0] == 200
        resolved = {**NOTIFICATION, "status": "resolved", "receiver": "other"}
        assert post(port, resolved, "/hooks/other")[0] == 200
        status, alerts, _ = request(port, "GET", "/alerts")
        assert status == 200
        assert [a["payload"] for a in alerts] == [NOTIFICATION, resolved]
        assert [a["path"] for a in alerts] == ["/alertmanager", "/hooks/other"]
        assert request(port, "GET", "/alerts?receiver=lab-webhook")[1] == alerts[:1]
        assert request(port, "GET", "/alerts?limit=1")[1] == alerts[1:]
        assert request(port, "GET", "/-/healthy")[1] == {"status": "ok", "recorded": 2, "rejected": 0}

    lines = path.read_text().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["payload"]["alerts"][0]["labels"]["model"] == "llama3.1:8b"
    assert time.time() - time.mktime(time.strptime(first["received_at"][:19], "%Y-%m-%dT%H:%M:%S")) < 86400

    with sink(path) as port:  # a new process reads what the old one wrote
        status, alerts, _ = request(port, "GET", "/alerts?receiver=lab-webhook")
        assert status == 200 and [a["payload"] for a in alerts] == [NOTIFICATION]
        assert post(port, NOTIFICATION)[0] == 200
        assert len(request(port, "GET", "/alerts")[1]) == 3
        assert request(port, "DELETE", "/alerts")[0] == 200
        assert request(port, "GET", "/alerts")[1] == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"\xff\xfe", 400),
        (b"[1, 2]", 400),
        (b"", 400),
        (b"x" * (MAX_BODY + 1), 413),
    ],
    ids=["malformed", "not-utf8", "not-an-object", "empty", "too-large"],
)
def test_a_bad_body_is_refused_and_counted_and_the_sink_goes_on(tmp_path, body, status):
    with sink(tmp_path / "alerts.jsonl") as port:
        answer, error, _ = post(port, body)
        assert answer == status and error["error"]
        assert request(port, "GET", "/-/healthy")[1]["rejected"] == 1
        assert post(port, NOTIFICATION)[0] == 200
        assert len(request(port, "GET", "/alerts")[1]) == 1


def test_unreadable_lines_in_the_file_are_skipped_and_counted(tmp_path):
    path = tmp_path / "alerts.jsonl"
    record = {"received_at": "2026-01-01T00:00:00+00:00", "path": "/", "payload": NOTIFICATION}
    path.write_text(json.dumps(record) + "\n" + '{"received_at": "2026-01-01T00:00:0' + "\n")
    with sink(path) as port:
        status, alerts, headers = request(port, "GET", "/alerts")
        assert status == 200 and len(alerts) == 1
        assert headers["X-Skipped-Lines"] == "1"
        assert request(port, "GET", "/alerts?limit=-1")[0] == 400
        assert request(port, "GET", "/nowhere")[0] == 404


def test_concurrent_posts_all_land_as_whole_lines(tmp_path):
    path = tmp_path / "alerts.jsonl"
    with sink(path) as port:
        threads = [threading.Thread(target=post, args=(port, {**NOTIFICATION, "n": n})) for n in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        alerts = request(port, "GET", "/alerts")[1]
    assert sorted(a["payload"]["n"] for a in alerts) == list(range(40))
    assert all(json.loads(line) for line in path.read_text().splitlines())


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "llmobs.webhook_sink", *args], capture_output=True, text=True, timeout=30
    )


def test_help_and_usage_errors(tmp_path):
    result = run("--help")
    assert result.returncode == 0 and "--file" in result.stdout and "/alerts" in result.stdout
    assert run("--port", "70000").returncode == 2
    assert run("--bogus").returncode == 2
    unusable = run("--port", "0", "--file", str(tmp_path / "missing" / "alerts.jsonl"))
    assert unusable.returncode == 2 and "missing" in unusable.stderr


def test_the_command_serves_until_sigterm_and_exits_0(tmp_path):
    path = tmp_path / "alerts.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "llmobs.webhook_sink", "--port", "0", "--file", str(path)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = process.stderr.readline()
        port = int(banner.split("http://127.0.0.1:")[1].split()[0])
        assert post(port, NOTIFICATION)[0] == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        assert "1 recorded" in process.stderr.read()
    finally:
        stop_process(process)
    assert json.loads(path.read_text())["payload"] == NOTIFICATION


def stop_amid_posts(path: Path) -> int | None:
    """Start the sink, have eight clients post to it without pause, SIGTERM it once it recorded
    one: its exit code, or None when it has not ended 30 s later. Its stderr (a line per request)
    goes to a file: a pipe nobody reads fills up and blocks the sink, as journald never would."""
    said = path.with_suffix(".err")
    with said.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "llmobs.webhook_sink", "--port", "0", "--file", str(path)], stderr=stderr
        )
    stopped = threading.Event()

    def keep_posting(port: int) -> None:
        while not stopped.is_set():
            try:
                post(port, NOTIFICATION)
            except (OSError, http.client.HTTPException):  # the sink is gone, or went mid-answer
                return

    clients = []
    try:
        banner = wait_until(
            lambda: "http://127.0.0.1:" in said.read_text() and said.read_text(), 30, "the banner"
        )
        port = int(banner.split("http://127.0.0.1:")[1].split()[0])
        clients = [threading.Thread(target=keep_posting, args=(port,)) for _ in range(8)]
        for client in clients:
            client.start()
        wait_until(lambda: path.exists() and path.stat().st_size > 0, 30, "the sink to record a notification")
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(30)
        except subprocess.TimeoutExpired:
            return None
    finally:
        stopped.set()
        stop_process(process)
        for client in clients:
            client.join(30)


def test_sigterm_during_a_burst_of_notifications_stops_it(tmp_path):
    """A SIGTERM that arrives while the sink starts a request's thread must still stop it. (It
    raised an exception from the signal handler, which socketserver's request handling caught and
    served on: 24 of 30 such stops hung.) Five stops, each amid eight clients posting."""
    assert [stop_amid_posts(tmp_path / f"alerts-{attempt}.jsonl") for attempt in range(5)] == [0] * 5
