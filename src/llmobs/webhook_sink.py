"""llmobs-webhook-sink: records the JSON bodies POSTed to it, such as Alertmanager's webhook notifications.

Every POST, on any path, with a JSON object as its body, is appended to a file as one JSON line
{"received_at": ISO time, "path": ..., "payload": body}; the file outlives restarts. For labs and
tests: it proves that an alert travels from Prometheus through Alertmanager to a receiver, without
mail or chat services. Production points Alertmanager at a real receiver.

Exit codes: 0 ok (or stopped by SIGTERM/SIGINT), 2 usage error, unusable address or file.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from llmobs.cli import EXIT_OK, argument_parser, fail, progress

DEFAULT_PORT = 9095
DEFAULT_FILE = "alerts.jsonl"
MAX_BODY = 1024 * 1024  # Alertmanager's notifications are a few KiB; refuse anything absurd
DRAIN_MAX = 16 * MAX_BODY  # up to this, a refused body is read before the 413 goes out
READ_TIMEOUT_S = 10  # a client that stops sending mid-request does not hold a thread for ever
EPILOG = """\
endpoints:
  POST <any path>         record the JSON object in the body (200; 400 malformed, 413 too large)
  GET  /alerts            the recorded notifications as a JSON list, oldest first
                          ?receiver=NAME keeps those of one Alertmanager receiver, ?limit=N the last N
  DELETE /alerts          forget every recorded notification (empties the file)
  GET  /-/healthy         {"status": "ok", "recorded": N, "rejected": N} since start

examples:
  llmobs-webhook-sink --port 9095 --file /var/lib/webhook-sink/alerts.jsonl
  curl -s 'http://127.0.0.1:9095/alerts?receiver=lab-webhook' | jq '.[-1].payload.alerts'

Alertmanager receiver: {name: lab-webhook, webhook_configs: [{url: "http://HOST:9095/alertmanager"}]}
exit codes: 0 ok or stopped by SIGTERM/SIGINT, 2 usage error, unusable address or file
"""


class AlertFile:
    """The JSON-lines file of recorded notifications; one lock serialises writers and readers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.recorded = 0
        self.rejected = 0

    def check_writable(self) -> None:
        with self.lock, self.path.open("a", encoding="utf-8"):
            pass

    def append(self, path: str, payload: dict[str, Any]) -> None:
        record = {"received_at": datetime.now(UTC).isoformat(timespec="milliseconds"), "path": path}
        line = json.dumps({**record, "payload": payload}, sort_keys=True, separators=(",", ":")) + "\n"
        with self.lock, self.path.open("a", encoding="utf-8") as out:
            out.write(line)
            self.recorded += 1

    def reject(self) -> None:
        with self.lock:
            self.rejected += 1

    def read(self) -> tuple[list[dict[str, Any]], int]:
        """The records, and how many lines were unreadable (a line cut short by a crash, say)."""
        records: list[dict[str, Any]] = []
        skipped = 0
        with self.lock:
            try:
                text = self.path.read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                text = ""
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                skipped += 1
                continue
            if isinstance(record, dict) and isinstance(record.get("payload"), dict):
                records.append(record)
            else:
                skipped += 1
        return records, skipped

    def clear(self) -> None:
        with self.lock, self.path.open("w", encoding="utf-8"):
            pass


class Handler(BaseHTTPRequestHandler):
    server: SinkServer
    protocol_version = "HTTP/1.1"
    timeout = READ_TIMEOUT_S
    server_version = "llmobs-webhook-sink"

    def send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(data, sort_keys=True).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def refuse(self, status: int, message: str) -> None:
        self.server.alerts.reject()
        self.log_message("rejected %s: %s", self.path, message)
        self.close_connection = True  # what is left of a refused body must not be read as a request
        self.send_json(status, {"error": message})

    def do_POST(self) -> None:
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            return self.refuse(HTTPStatus.LENGTH_REQUIRED, "a Content-Length is required")
        try:
            length = int(length_header)
        except ValueError:
            return self.refuse(HTTPStatus.BAD_REQUEST, f"bad Content-Length {length_header!r}")
        if length < 0:
            return self.refuse(HTTPStatus.BAD_REQUEST, f"bad Content-Length {length_header!r}")
        if length > MAX_BODY:
            # Read (and drop) a moderately oversized body first: a client still sending when the
            # connection closes sees a broken pipe instead of the 413 that explains it.
            remaining = length if length <= DRAIN_MAX else 0
            while remaining > 0 and (chunk := self.rfile.read(min(65536, remaining))):
                remaining -= len(chunk)
            return self.refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY} bytes")
        body = self.rfile.read(length)
        if len(body) < length:
            return self.refuse(HTTPStatus.BAD_REQUEST, "body shorter than its Content-Length")
        try:
            payload = json.loads(body)
        except ValueError as error:  # UnicodeDecodeError is one too
            return self.refuse(HTTPStatus.BAD_REQUEST, f"body is not JSON: {error}")
        if not isinstance(payload, dict):
            return self.refuse(HTTPStatus.BAD_REQUEST, "body is not a JSON object")
        path = urlsplit(self.path).path
        self.server.alerts.append(path, payload)
        self.send_json(HTTPStatus.OK, {"status": "recorded"})

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path == "/-/healthy":
            alerts = self.server.alerts
            return self.send_json(
                HTTPStatus.OK, {"status": "ok", "recorded": alerts.recorded, "rejected": alerts.rejected}
            )
        if url.path != "/alerts":
            return self.send_json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint {url.path}"})
        records, skipped = self.server.alerts.read()
        if "receiver" in query:
            wanted = set(query["receiver"])
            records = [r for r in records if r["payload"].get("receiver") in wanted]
        if "limit" in query:
            try:
                limit = int(query["limit"][-1])
                if limit < 0:
                    raise ValueError
            except ValueError:
                return self.send_json(HTTPStatus.BAD_REQUEST, {"error": "limit must be a whole number >= 0"})
            records = records[len(records) - limit :] if limit else []
        self.send_json(HTTPStatus.OK, records, {"X-Skipped-Lines": str(skipped)})

    do_HEAD = do_GET

    def do_DELETE(self) -> None:
        if urlsplit(self.path).path != "/alerts":
            return self.send_json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint {self.path}"})
        self.server.alerts.clear()
        self.send_json(HTTPStatus.OK, {"status": "cleared"})


class Stopped(BaseException):
    """Ends serve_forever() from within its own loop (a BaseException: socketserver's request
    handling catches every Exception and serves on)."""


class SinkServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops connections of a burst (clients retry after 1 s)
    stop_requested = False  # set by the signal handler, acted on by the loop

    def __init__(self, address: tuple[str, int], alerts: AlertFile) -> None:
        self.alerts = alerts
        super().__init__(address, Handler)

    def service_actions(self) -> None:
        """Called by serve_forever() after each request and each 0.5 s poll."""
        if self.stop_requested:
            raise Stopped


def make_server(host: str, port: int, path: str | Path) -> SinkServer:
    """A sink bound to host:port (0 = any free port) recording to path; call serve_forever()."""
    alerts = AlertFile(Path(path))
    alerts.check_writable()
    return SinkServer((host, port), alerts)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argument_parser(__doc__, EPILOG, prog="llmobs-webhook-sink")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT}; 0 = any free port)"
    )
    parser.add_argument(
        "--file", default=DEFAULT_FILE, help=f"JSON-lines file to append to (default: ./{DEFAULT_FILE})"
    )
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be between 0 and 65535, got {args.port}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        server = make_server(args.host, args.port, args.file)
    except OSError as error:
        where = args.file if error.filename else f"{args.host}:{args.port}"
        fail(f"cannot use {where}: {error.strerror or error}")

    # SIGTERM and Ctrl-C only set a flag, which the loop acts on at its next turn: a handler runs
    # between any two bytecodes of this thread, so raising there could land inside socketserver's
    # request handling (which serves on), and starting a thread there could wait forever for a
    # lock this thread holds while it starts a request's thread.
    def stop(signum: int, frame: Any) -> None:
        server.stop_requested = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    host, port = server.server_address[:2]
    progress(f"llmobs-webhook-sink: recording POSTs on http://{host}:{port} to {args.file}")
    try:
        server.serve_forever()
    except Stopped:
        pass
    finally:
        server.server_close()
    alerts = server.alerts
    progress(f"llmobs-webhook-sink: stopped ({alerts.recorded} recorded, {alerts.rejected} rejected)")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
