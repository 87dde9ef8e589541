"""A small HTTP/1.1 server on asyncio.Protocol: keep-alive, chunked responses, no dependencies.

Written for the simulator's needs rather than in general: one request at a time per connection
(pipelined requests wait in the buffer), Content-Length or chunked request bodies, ``Expect:
100-continue``, chunked streaming responses with write back-pressure, and a handler task that is
cancelled when the client goes away, which is how the simulator notices abandoned requests.
"""

from __future__ import annotations

import asyncio
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus

MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 1024 * 1024
REASONS = {s.value: s.phrase for s in HTTPStatus}


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    http11: bool
    keep_alive: bool
    # CLOCK_MONOTONIC when its first bytes were read: the server's truth of "arrived", taken
    # before the parse and the handler, which a busy event loop delays
    received: float


Handler = Callable[[Request, "Connection"], Awaitable[None]]


def _dechunk(buffer: bytearray, start: int) -> tuple[bytes, int] | None:
    """Decode a chunked body starting at ``start``: (body, end offset), or None while incomplete."""
    body = bytearray()
    pos = start
    while True:
        eol = buffer.find(b"\r\n", pos)
        if eol < 0:
            return None
        try:
            size = int(bytes(buffer[pos:eol]).split(b";")[0].strip(), 16)
        except ValueError:
            raise BadRequest(400, "bad chunk size") from None
        if size == 0:
            end = buffer.find(b"\r\n\r\n", eol)  # trailers, if any, end with an empty line
            return (bytes(body), end + 4) if end >= 0 else None
        if eol + 2 + size + 2 > len(buffer):
            return None
        body += buffer[eol + 2 : eol + 2 + size]
        if len(body) > MAX_BODY:
            raise BadRequest(413, "request body too large")
        pos = eol + 2 + size + 2


class Connection(asyncio.Protocol):
    """One client connection; ``send``/``start_stream``/``write``/``end_stream`` answer a request."""

    def __init__(self, handler: Handler, connections: set[Connection]) -> None:
        self.handler = handler
        self.connections = connections
        self.buffer = bytearray()
        self.closed = False
        self.transport: asyncio.Transport | None = None
        self._wake: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._continued = False
        self.request: Request | None = None
        self.started = False  # the status line of the current response went out
        self._chunked = False
        self._first_read = 0.0  # when the buffer's first byte was read
        self._last_read = 0.0

    # asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.connections.add(self)
        self._task = asyncio.get_running_loop().create_task(self._serve())

    def data_received(self, data: bytes) -> None:
        self._last_read = time.monotonic()
        if not self.buffer:
            self._first_read = self._last_read
        self.buffer += data
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    def eof_received(self) -> bool:
        return False  # a half-closed client has given up: close, which cancels its request

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.connections.discard(self)
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def pause_writing(self) -> None:
        self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    # request parsing
    def _parse(self) -> Request | None:
        buffer = self.buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > MAX_HEAD:
                raise BadRequest(431, "request head too large")
            return None
        lines = bytes(buffer[:end]).decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise BadRequest(400, "bad request line")
        method, target, version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise BadRequest(400, "bad header line")
            headers[name.strip().lower()] = value.strip()
        start = end + 4
        if "chunked" in headers.get("transfer-encoding", "").lower():
            decoded = _dechunk(buffer, start)
            if decoded is None:
                self._maybe_continue(headers)
                return None
            body, stop = decoded
        else:
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError:
                raise BadRequest(400, "bad Content-Length") from None
            if length < 0 or length > MAX_BODY:
                raise BadRequest(413, "request body too large")
            if len(buffer) < start + length:
                self._maybe_continue(headers)
                return None
            body, stop = bytes(buffer[start : start + length]), start + length
        del buffer[:stop]
        received, self._first_read = self._first_read, self._last_read  # a pipelined rest came then
        self._continued = False
        http11 = version == "HTTP/1.1"
        connection = headers.get("connection", "").lower()
        keep_alive = "close" not in connection if http11 else "keep-alive" in connection
        path, _, query = target.partition("?")
        return Request(method, path, query, headers, body, http11, keep_alive, received)

    def _maybe_continue(self, headers: dict[str, str]) -> None:
        if not self._continued and headers.get("expect", "").lower() == "100-continue":
            self._continued = True
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while not self.closed and not self.transport.is_closing():
                try:
                    request = self._parse()
                except BadRequest as error:
                    self.request = None
                    self.send(error.status, str(error).encode() + b"\n", "text/plain")
                    self.close()
                    return
                if request is None:
                    self._wake = loop.create_future()
                    await self._wake
                    continue
                self.request, self.started, self._chunked = request, False, False
                try:
                    await self.handler(request, self)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    traceback.print_exc(file=sys.stderr)
                    if not self.started:
                        self.send(500, b'{"error": "internal error of the simulator"}', "application/json")
                    self.close()
                    return
                if not request.keep_alive:
                    self.close()
                    return
        except asyncio.CancelledError:
            pass  # the client went away

    # response writing
    def _head(
        self, status: int, content_type: str, headers: Iterable[tuple[str, str]], length: int | None
    ) -> bytes:
        request = self.request
        keep = request is not None and request.keep_alive
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}", f"Content-Type: {content_type}"]
        if length is not None:
            lines.append(f"Content-Length: {length}")
        elif request is not None and request.http11:
            lines.append("Transfer-Encoding: chunked")
            self._chunked = True
        else:
            keep = False  # HTTP/1.0 streams end when the connection closes
            if request is not None:
                request.keep_alive = False
        lines.extend(f"{k}: {v}" for k, v in headers)
        if not keep:
            lines.append("Connection: close")
        elif request is not None and not request.http11:
            lines.append("Connection: keep-alive")
        self.started = True
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def send(
        self, status: int, body: bytes, content_type: str, headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        """A whole response with Content-Length."""
        if self.closed:
            return
        head = self._head(status, content_type, headers, len(body))
        if self.request is not None and self.request.method == "HEAD":
            body = b""
        self.transport.write(head + body)

    def start_stream(self, status: int, content_type: str, headers: Iterable[tuple[str, str]] = ()) -> None:
        if not self.closed:
            self.transport.write(self._head(status, content_type, headers, None))

    async def write(self, data: bytes) -> None:
        """One piece of a streamed body; waits while the client reads slower than we write."""
        if self.closed:
            return  # connection_lost has cancelled the task: the next await ends it
        if self._chunked:
            data = b"%x\r\n%b\r\n" % (len(data), data)
        self.transport.write(data)
        if self._writable is not None:
            await self._writable

    def end_stream(self) -> None:
        if self.closed:
            return
        if self._chunked:
            self.transport.write(b"0\r\n\r\n")
        else:
            self.close()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


async def serve(handler: Handler, host: str, port: int) -> tuple[asyncio.Server, set[Connection]]:
    """Listen on host:port; the set holds the open connections (to close them at shutdown)."""
    connections: set[Connection] = set()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Connection(handler, connections), host, port, reuse_address=True, backlog=1024
    )
    return server, connections
