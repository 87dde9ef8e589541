"""Helpers of the hostile-input tests (test_hostile_regressions.py, test_hostile_properties.py).

``run_tool`` calls a tool's main in-process, as a script would run it, and returns what a user
sees: the exit code, stdout and stderr. ``check_output`` asserts what every run of every tool must
give, whatever the input: an exit code a script can trust, no traceback, text safe for a terminal,
JSON that parses strictly.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from request_records import record  # a valid record, as the gateway writes it

from llmobs.cli import printable


def failure(seconds: float = 0.0, message: str = "boom", **over: Any) -> dict[str, Any]:
    failed = {"level": "ERROR", "status": "failure", "http_status": 500, "error_class": "E"}
    return record(seconds, **(failed | {"error_message": message} | over))


def run_tool(main: Callable[[list[str]], int], argv: list[Any]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``main(argv)``; SystemExit is the exit code, as in a shell."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(arg) for arg in argv])
        except SystemExit as stop:
            code = stop.code  # type: ignore[assignment]
    return code, out.getvalue(), err.getvalue()


def _strict_constant(name: str) -> None:
    raise AssertionError(f"{name} in JSON output")


def strict_json(text: str) -> Any:
    """The JSON value of ``text``, refusing NaN and Infinity (json.loads accepts them)."""
    return json.loads(text, parse_constant=_strict_constant)


def check_output(code: int, out: str, err: str, as_json: bool, json_lines: bool = False) -> Any:
    """What every run must show: exit 0, 1 or 2 (3 is a bug), no traceback, printable text, and on
    --json valid JSON (one document, or one per line with ``json_lines``). Returns the JSON."""
    assert code in (0, 1, 2), f"exit {code}: {err[-2000:]}"
    assert "Traceback" not in err, err[-2000:]
    assert printable(err) == err, "stderr is not safe for a terminal"
    if not as_json:
        assert printable(out) == out, "stdout is not safe for a terminal"
        return None
    if json_lines:
        return [strict_json(line) for line in out.splitlines()]
    return strict_json(out) if out else None


# -- a server that answers whatever a test says -------------------------------------------------


@dataclass
class Answer:
    """What the scripted server sends for one path: a status, a content type and a body, or SSE
    chunks sent one by one (``cut``: the connection drops after them, without the end)."""

    status: int = 200
    body: bytes = b"{}"
    content_type: str = "application/json"
    chunks: list[bytes] | None = None
    cut: bool = False


class ScriptedServer:
    """A loopback HTTP server answering ``answers[path]`` (404 for other paths), for test-request."""

    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.answer()

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.answer()

            def answer(self) -> None:
                found = scripted.answers.get(self.path.split("?")[0], Answer(404, b'{"detail": "Not Found"}'))
                self.send_response(found.status)
                self.send_header("Content-Type", found.content_type)
                if found.chunks is None:
                    self.send_header("Content-Length", str(len(found.body)))
                    self.end_headers()
                    self.wfile.write(found.body)
                    return
                self.send_header("Connection", "close")
                self.end_headers()
                for chunk in found.chunks:
                    self.wfile.write(chunk)
                    self.wfile.flush()
                self.close_connection = True
                if found.cut:  # a reset instead of an orderly end
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> ScriptedServer:
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
