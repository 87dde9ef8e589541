"""The measuring client: many chat completions at once on asyncio, every moment of each stamped.

Standard library only, like ``llmobs.client`` (whose stream parser and error rules it shares), so
that it runs with a bare python3 on a load host. It speaks HTTP/1.1 itself on an
``asyncio.Protocol``, and nothing between the socket and the clock buffers (aiohttp's and httpx's
readers do; measurement.md). Each read is stamped with the moment the event loop's wait for I/O
ended (``run`` makes such a loop): the bytes were in the socket by then, while ``data_received``
comes later by the parsing of every sibling stream that became readable in the same round (at
concurrency 8, a quarter of a millisecond). The pool opens at most ``connections`` keep-alive
connections (size it to the concurrency: a request that waits for a connection is delayed by the
client, not the server, and its ``pool_wait`` says how long).

Times are ``time.perf_counter()`` seconds, which on Linux is CLOCK_MONOTONIC: comparable with the
stamps of another process on the same host (the simulator's record of its first tokens).

Per request (``Sample``): intended send time (open loop: the schedule), actual send, first byte,
first token, every token chunk, last token, end, tokens from the server's ``usage`` (a client-side
chunk count only as a labelled fallback), status, error class and message, the request id sent
and the one echoed, and the gateway's ``x-litellm-*`` timing and routing headers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import selectors
import time
import weakref
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from llmobs.client import (
    CALL_ID_HEADER,
    USER_AGENT,
    ChatStream,
    StreamErrorEvent,
    _usage,
    error_message,
    parse_json,
)

MAX_HEAD = 64 * 1024  # a server that sends more header than this is not a gateway
MAX_BODY = 64 * 1024 * 1024
MAX_LINE = 1024 * 1024  # one SSE line
GATEWAY_HEADERS = {  # x-litellm-* response headers kept per request -> the sample's field
    "x-litellm-overhead-duration-ms": "overhead_ms",
    "x-litellm-response-duration-ms": "response_duration_ms",
    "x-litellm-model-id": "model_id",
    "x-litellm-model-api-base": "api_base",
    "x-litellm-attempted-retries": "retries",
    "x-litellm-attempted-fallbacks": "fallbacks",
    "x-litellm-version": "gateway_version",
}
_NUMERIC = {"overhead_ms", "response_duration_ms", "retries", "fallbacks"}


def gateway_fields(headers: dict[str, str]) -> dict[str, Any]:
    """The gateway's timing and routing headers (lower-case names) as a sample keeps them."""
    return {
        key: _number(headers[name]) if key in _NUMERIC else headers[name][:500]
        for name, key in GATEWAY_HEADERS.items()
        if name in headers
    }


# error classes of a failed request
UNREACHABLE = "unreachable"  # refused, unknown host, connection dropped before an answer
TIMEOUT = "timeout"  # no complete answer within the request timeout
HTTP = "http"  # an error status
STREAM = "stream"  # an error event inside a stream, or a stream cut short
BAD_ANSWER = "bad_answer"  # a 2xx that is not a chat completion
CANCELLED = "cancelled"  # the run stopped (Ctrl-C) while the request was in flight


@dataclass(slots=True)
class Sample:
    """One request as measured. Times are perf_counter seconds (absolute); None = did not happen."""

    request_id: str
    model: str
    stream: bool
    intended: float  # when the schedule wanted it sent (closed loop: when a worker was free)
    sent: float = 0.0  # the request's bytes handed to the socket
    first_byte: float | None = None
    first_event: float | None = None  # streams: any event, the role-only chunk included
    first_token: float | None = None
    last_token: float | None = None
    end: float | None = None  # the answer complete (or the failure noticed)
    token_times: list[float] = field(default_factory=list)
    pool_wait: float = 0.0  # waited for a free connection
    connect: float = 0.0  # opened a connection for this request
    status: int | None = None
    error: str | None = None  # class, None when the request succeeded
    detail: str = ""  # the server's or the network's message
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    tokens_source: str | None = None  # "usage" (the server's count) or "chunks" (counted here)
    echoed_id: str | None = None
    gateway: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


T = TypeVar("T")


class _WakeSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """The loop's I/O wait, stamping when it ended."""

    woke = 0.0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        events = super().select(timeout)
        self.woke = time.perf_counter()
        return events


_WAKES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _WakeSelector] = weakref.WeakKeyDictionary()


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on an event loop whose reads the client stamps when the wait ended."""
    selector = _WakeSelector()
    loop = asyncio.SelectorEventLoop(selector)
    _WAKES[loop] = selector
    with asyncio.Runner(loop_factory=lambda: loop) as runner:
        return runner.run(main)


class _Failed(Exception):
    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind, self.detail = kind, detail


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one exchange at a time, parsed as bytes arrive."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.reusable = False
        self._buffer = bytearray()
        self._sample: Sample | None = None
        self._done: asyncio.Future[None] | None = None
        self._stream: ChatStream | None = None
        self._stream_done = False  # [DONE] seen
        self._state = "idle"  # head, length-body, close-body, chunk-size, chunk-data, trailer, done
        self._body = bytearray()
        self._line = bytearray()  # a stream line not yet complete
        self._remaining = 0
        self._wake: _WakeSelector | None = None

    # asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.reusable = True
        # reads are handed over in the round of the loop whose wait saw them: stamp with its end
        with contextlib.suppress(RuntimeError):  # (no running loop: a test feeding bytes by hand)
            self._wake = _WAKES.get(asyncio.get_running_loop())

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        if self._sample is not None and self._state != "done":
            if self._state == "close-body":  # the body ran to the close: complete
                self._finish(time.perf_counter())
            else:
                cause = f"connection dropped ({exc})" if exc else "connection closed by the server"
                kind = STREAM if self._stream and self._stream.events else UNREACHABLE
                self._fail(_Failed(kind, cause))

    def data_received(self, data: bytes) -> None:
        now = self._wake.woke if self._wake is not None else time.perf_counter()
        sample = self._sample
        if sample is None or self._state == "done":
            self.reusable = False  # bytes nobody asked for: the connection is out of step
            self.close()
            return
        if sample.first_byte is None:
            sample.first_byte = now
        self._buffer += data
        try:
            self._advance(now)
        except _Failed as failure:
            self._fail(failure)
            self.close()

    # one exchange
    def start(self, sample: Sample, request: bytes, done: asyncio.Future[None]) -> None:
        self._sample, self._done = sample, done
        self._state = "head"
        self._stream = None
        self._stream_done = False
        self._buffer.clear()
        self._body = bytearray()
        self._line = bytearray()
        sample.sent = time.perf_counter()
        self.transport.write(request)  # type: ignore[union-attr]

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None:
            self.transport.close()

    def give_up(self, detail: str) -> None:
        """The request timed out: it fails, and the connection (mid-answer) is of no further use."""
        self._fail(_Failed(TIMEOUT, detail))
        self.close()

    def _advance(self, now: float) -> None:
        if self._state == "head":
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEAD:
                    raise _Failed(BAD_ANSWER, "response headers larger than 64 KiB")
                return
            self._head(bytes(self._buffer[:end]))
            del self._buffer[: end + 4]
        while self._buffer and self._state != "done":
            if self._state == "length-body":
                piece = bytes(self._buffer[: self._remaining])
                del self._buffer[: len(piece)]
                self._remaining -= len(piece)
                self._content(piece, now)
                if self._remaining == 0:
                    self._finish(now)
            elif self._state == "close-body":
                piece = bytes(self._buffer)
                self._buffer.clear()
                self._content(piece, now)
            elif self._state == "chunk-size":
                eol = self._buffer.find(b"\r\n")
                if eol < 0:
                    if len(self._buffer) > 1024:
                        raise _Failed(BAD_ANSWER, "bad chunk size line")
                    return
                try:
                    size = int(bytes(self._buffer[:eol]).split(b";")[0].strip(), 16)
                except ValueError:
                    raise _Failed(BAD_ANSWER, "bad chunk size line") from None
                del self._buffer[: eol + 2]
                self._remaining = size
                self._state = "chunk-data" if size else "trailer"
            elif self._state == "chunk-data":
                if self._remaining:
                    piece = bytes(self._buffer[: self._remaining])
                    del self._buffer[: len(piece)]
                    self._remaining -= len(piece)
                    self._content(piece, now)
                if self._remaining == 0:
                    if len(self._buffer) < 2:
                        return
                    del self._buffer[:2]  # the CRLF after the data
                    self._state = "chunk-size"
            elif self._state == "trailer":
                end = self._buffer.find(b"\r\n")
                if end < 0:
                    return
                line = self._buffer[:end]
                del self._buffer[: end + 2]
                if not line:
                    self._finish(now)

    def _head(self, head: bytes) -> None:
        sample = self._sample
        assert sample is not None
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise _Failed(BAD_ANSWER, "not an HTTP/1.1 answer")
        sample.status = int(parts[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        self.headers = headers
        sample.echoed_id = headers.get(CALL_ID_HEADER)
        sample.gateway.update(gateway_fields(headers))
        if parts[0] == "HTTP/1.0" or "close" in headers.get("connection", "").lower():
            self.reusable = False
        if sample.status == 200 and headers.get("content-type", "").startswith("text/event-stream"):
            self._stream = ChatStream()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._state = "chunk-size"
        elif "content-length" in headers:
            try:
                self._remaining = int(headers["content-length"])
            except ValueError:
                raise _Failed(BAD_ANSWER, "bad Content-Length") from None
            if not 0 <= self._remaining <= MAX_BODY:
                raise _Failed(BAD_ANSWER, "Content-Length out of range")
            self._state = "length-body"
            if self._remaining == 0:
                self._finish(time.perf_counter())
        else:
            self.reusable = False
            self._state = "close-body"

    def _content(self, piece: bytes, now: float) -> None:
        stream = self._stream
        if stream is None:
            if len(self._body) + len(piece) > MAX_BODY:
                raise _Failed(BAD_ANSWER, "answer larger than 64 MiB")
            self._body += piece
            return
        lines = piece.split(b"\n")  # in C: the loop below sees whole lines only
        if self._line:
            lines[0] = bytes(self._line) + lines[0]
        rest = lines.pop()  # the part after the last newline: not a whole line yet
        self._line = bytearray(rest)
        if len(rest) > MAX_LINE:
            raise _Failed(BAD_ANSWER, "a stream line longer than 1 MiB")
        for text in lines:
            if not text.startswith(b"data:"):
                continue  # the blank line after each event, comments, event: lines
            try:
                if stream.line(text.rstrip(b"\r"), now):
                    self._stream_done = True
            except StreamErrorEvent as error:
                raise _Failed(STREAM, f"error inside the stream: {error.detail}") from None

    def _finish(self, now: float) -> None:
        sample = self._sample
        assert sample is not None
        self._state = "done"
        sample.end = now
        status = sample.status or 0
        if self._stream is not None:
            stream = self._stream
            if self._line:
                with contextlib.suppress(StreamErrorEvent):
                    stream.line(bytes(self._line).rstrip(b"\r"), now)
            sample.token_times = stream.token_times
            sample.first_event = stream.first_event
            _tokens(sample, stream.usage)
            if not self._stream_done:
                return self._fail(_Failed(STREAM, "the stream ended without [DONE]"))
        elif 200 <= status < 300:
            data = parse_json(bytes(self._body))
            choices = data.get("choices") if isinstance(data, dict) else None
            choice = choices[0] if isinstance(choices, list) and choices else None
            if not isinstance(choice, dict) or not isinstance(choice.get("message"), dict):
                return self._fail(_Failed(BAD_ANSWER, "the answer is not a chat completion"))
            _tokens(sample, data.get("usage"))  # type: ignore[union-attr]
        else:
            body = bytes(self._body)
            message = error_message(body) or "(no message)"
            return self._fail(_Failed(HTTP, f"HTTP {status}: {message}"))
        if sample.token_times:
            sample.first_token, sample.last_token = sample.token_times[0], sample.token_times[-1]
        self._resolve()

    def _fail(self, failure: _Failed) -> None:
        sample = self._sample
        if sample is None:
            return
        self._state = "done"
        if sample.end is None:
            sample.end = time.perf_counter()
        sample.error, sample.detail = failure.kind, failure.detail[:2000]
        if sample.token_times:
            sample.first_token, sample.last_token = sample.token_times[0], sample.token_times[-1]
        if failure.kind != HTTP:
            self.reusable = False
        self._resolve()

    def _resolve(self) -> None:
        done, self._sample, self._done = self._done, None, None
        if done is not None and not done.done():
            done.set_result(None)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value and abs(value) < 1e15 else None  # no NaN, no inf


def _tokens(sample: Sample, usage: Any) -> None:
    counts = _usage(usage)
    sample.prompt_tokens = counts.get("prompt_tokens")
    if "completion_tokens" in counts:
        sample.output_tokens, sample.tokens_source = counts["completion_tokens"], "usage"
    elif sample.stream and sample.token_times:
        sample.output_tokens, sample.tokens_source = len(sample.token_times), "chunks"


class MeasuringClient:
    """Chat completions against one OpenAI-compatible server, on a pool of at most ``connections``
    keep-alive connections. ``timeout`` bounds each request from its send to its last byte.
    Never raises for a failed request: the Sample says what happened."""

    def __init__(
        self, base_url: str, api_key: str | None = None, connections: int = 1, timeout: float = 60.0
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"not an http URL (the measuring client speaks plain HTTP): {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.host, self.port = parts.hostname, parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.connections = max(1, connections)
        self.opened = 0  # connections opened over the run (a server that closes them raises this)
        self._idle: deque[_Connection] = deque()
        self._open = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        host = self.host if parts.port is None else f"{self.host}:{parts.port}"
        auth = f"Authorization: Bearer {api_key}\r\n" if api_key else ""
        self._head = (
            f"POST {self.prefix}/v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\n"
            f"Accept: application/json, text/event-stream\r\nContent-Type: application/json\r\n{auth}"
        ).encode()

    async def close(self) -> None:
        while self._idle:
            self._idle.popleft().close()

    def body(
        self,
        model: str,
        messages: list[dict[str, Any]],
        stream: bool,
        max_tokens: int | None,
        extra: dict[str, Any] | None = None,
    ) -> bytes:
        data: dict[str, Any] = {"model": model, "messages": messages, "stream": stream}
        if stream:
            data["stream_options"] = {"include_usage": True}
        if max_tokens is not None:
            data["max_tokens"] = max_tokens
        data.update(extra or {})
        return json.dumps(data).encode()

    async def send(self, sample: Sample, body: bytes) -> Sample:
        """Send one prepared body (``body()``) and fill in the caller's Sample, which is on
        record from the start: a run that stops meanwhile still has it (error ``cancelled``)."""
        request = b"%s%s: %s\r\nContent-Length: %d\r\n\r\n%s" % (
            self._head,
            CALL_ID_HEADER.encode(),
            sample.request_id.encode(),
            len(body),
            body,
        )
        try:
            connection = await self._acquire(sample)
        except _Failed as failure:
            sample.sent = sample.end = time.perf_counter()
            sample.error, sample.detail = failure.kind, failure.detail
            return sample
        except asyncio.CancelledError:
            sample.sent = sample.end = time.perf_counter()
            sample.error, sample.detail = CANCELLED, "the run stopped before it was sent"
            raise
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        connection.start(sample, request, done)
        # a timer rather than wait_for: cheaper, and wait_for of Python 3.11 can swallow a
        # cancellation that arrives as the answer completes
        timer = loop.call_later(
            self.timeout, connection.give_up, f"no complete answer within {self.timeout:g} s"
        )
        try:
            await done
        except asyncio.CancelledError:
            connection._fail(_Failed(CANCELLED, "the run stopped while it was in flight"))
            connection.close()
            self._release(connection)
            raise
        finally:
            timer.cancel()
        self._release(connection)
        return sample

    async def _acquire(self, sample: Sample) -> _Connection:
        while True:
            while self._idle:
                connection = self._idle.pop()
                if connection.reusable:
                    return connection
                connection.close()
                self._open -= 1
            if self._open < self.connections:
                self._open += 1
                started = time.perf_counter()
                try:
                    return await self._connect()
                except BaseException:
                    self._open -= 1
                    self._wake()
                    raise
                finally:
                    sample.connect = time.perf_counter() - started
            # Only a wait for a free connection counts: the time around the whole acquisition also
            # holds whatever preempted the process (a busy machine), which no pool causes.
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            began = time.perf_counter()
            await waiter
            sample.pool_wait += time.perf_counter() - began

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(_Connection, self.host, self.port), self.timeout
            )
        except TimeoutError:
            raise _Failed(TIMEOUT, f"no connection within {self.timeout:g} s") from None
        except OSError as error:
            cause = "connection refused" if isinstance(error, ConnectionRefusedError) else str(error)
            raise _Failed(UNREACHABLE, f"cannot connect to {self.host}:{self.port}: {cause}") from None
        self.opened += 1
        return connection

    def _release(self, connection: _Connection) -> None:
        if connection.reusable:
            self._idle.append(connection)
        else:
            connection.close()
            self._open -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


def messages_of(prompt: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": prompt}]
