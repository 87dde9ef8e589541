"""When a streamed request reached the gateway's HTTP server and when its first token left it.

LiteLLM stamps a request once its own handler runs (after 15 middlewares and authentication) and
its first token as it comes from the backend; a client's TTFT holds more than that: the HTTP
layer on the way in and the way from the backend's first chunk to the socket (measured locally:
about 4 ms of a client's TTFT was in neither stamp). ``ServedTimesApp`` is put outside every
middleware of LiteLLM's app and stamps both ends where the server sees them: when uvicorn read
the request's first bytes (``stamp_arrivals``; else when the app is called), and when the first
body chunk that carries a token (read with the measuring client's own parser, so the role-only
chunk does not count) is handed to the server to send. The request log reads the difference as
``gateway_ttft_ms``: the TTFT a client next to the gateway sees, without the network.

Streams only, like ``ttft_ms``: other responses pass through untouched after their headers, and a
stream after its first token, so the cost is a few function calls per request.
"""

from __future__ import annotations

import functools
import importlib
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from llmobs.client import ChatStream, StreamErrorEvent

CALL_ID = b"x-litellm-call-id"
EVENT_STREAM = b"text/event-stream"
MAX_EVENT = 1 << 20  # a line this long without its end is no stream event of ours to read
# the scope key for when the server read a request's first bytes (stamp_arrivals)
ARRIVAL = "llmobs.arrival"
# uvicorn's HTTP protocols (h11 always; httptools when installed)
PROTOCOLS = (
    ("uvicorn.protocols.http.h11_impl", "H11Protocol"),
    ("uvicorn.protocols.http.httptools_impl", "HttpToolsProtocol"),
)

Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Message, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]


class ServedTimes:
    """Request id -> seconds from arrival to first token out, for the request log to take.

    Bounded: a stream whose record never comes for it (sampled out, failed) is forgotten after
    ``limit`` newer ones."""

    def __init__(self, limit: int = 4096) -> None:
        self._seconds: OrderedDict[str, float] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()  # the callback may run in another thread than the server

    def put(self, request_id: str, seconds: float) -> None:
        with self._lock:
            self._seconds[request_id] = seconds
            while len(self._seconds) > self._limit:
                self._seconds.popitem(last=False)

    def pop(self, request_id: Any) -> float | None:
        with self._lock:
            return self._seconds.pop(str(request_id), None)


class _Stream:
    """One response on its way out: its id from the headers, then its body until the first token."""

    __slots__ = ("arrival", "parser", "request_id", "tail")

    def __init__(self, arrival: float) -> None:
        self.arrival = arrival
        self.request_id: str | None = None
        self.parser = ChatStream()
        self.tail = b""  # an event cut between two chunks

    def start(self, message: Message) -> bool:
        """The response's headers: True when it is a stream with an id, to be read on."""
        streamed = False
        for name, value in message.get("headers") or ():
            name = bytes(name).lower()
            if name == CALL_ID:
                self.request_id = bytes(value).decode("latin-1")
            elif name == b"content-type" and bytes(value).lower().startswith(EVENT_STREAM):
                streamed = True
        return streamed and bool(self.request_id)

    def carries_token(self, body: bytes) -> bool:
        *lines, self.tail = (self.tail + body).split(b"\n")
        if len(self.tail) > MAX_EVENT:
            raise StreamErrorEvent("no event of a chat stream")
        for line in lines:  # StreamErrorEvent on an error event
            self.parser.line(line.rstrip(b"\r"), 0.0)
            if self.parser.token_times:
                return True
        return False


class ServedTimesApp:
    """An ASGI app around another: stamps each stream's arrival and first token out into ``times``."""

    def __init__(self, app: ASGIApp, times: ServedTimes) -> None:
        self.app = app
        self.times = times

    async def __call__(
        self,
        scope: Message,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        arrival = scope.get(ARRIVAL)
        stream: _Stream | None = _Stream(arrival if type(arrival) is float else time.perf_counter())

        async def stamping_send(message: Message) -> None:
            nonlocal stream
            if stream is not None:
                try:
                    stream = self._read(stream, message)
                except Exception:  # never in the way of an answer: that stream goes unstamped
                    stream = None
            await send(message)

        await self.app(scope, receive, stamping_send)

    def _read(self, stream: _Stream, message: Message) -> _Stream | None:
        """One message on its way out; the stream still to read, None when done with it."""
        kind = message.get("type")
        if kind == "http.response.start":
            return stream if stream.start(message) else None
        if kind != "http.response.body":
            return stream
        try:
            token = stream.carries_token(message.get("body") or b"")
        except StreamErrorEvent:  # an error event, or not a stream: no first token
            return None
        if token:
            # stamped before it is handed on: a gateway descheduled between its write and the
            # stamp would report a first token later than its client saw it; so a client's TTFT
            # is never below the gateway's
            self.times.put(str(stream.request_id), time.perf_counter() - stream.arrival)
            return None
        return stream if message.get("more_body") else None


def stamp_served_times(app: Any, times: ServedTimes) -> bool:
    """Put ServedTimesApp outside every middleware of a Starlette app, also of one already running
    (LiteLLM loads its callbacks in its startup, after Starlette built its middleware stack)."""
    if isinstance(getattr(app, "middleware_stack", None), ServedTimesApp):
        return True
    build = getattr(app, "build_middleware_stack", None)
    if not callable(build):
        return False
    app.middleware_stack = ServedTimesApp(app.middleware_stack or build(), times)
    return True


def stamp_arrivals() -> list[str]:
    """Stamp in each request's scope when uvicorn read its first bytes; returns the protocols done.

    uvicorn parses a request in its protocol's ``data_received`` and starts the app in a task of
    its own, which runs after every callback already due in the event loop: at concurrency 8 that
    wait was most of what a client's TTFT held beyond the app's own stamps. So the stamp is taken
    as ``data_received`` begins, and given to the scope that call created (a scope already stamped
    is a request whose body came in a later read)."""
    done = []
    for module_name, class_name in PROTOCOLS:
        try:
            protocol = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError):  # httptools not installed, or another uvicorn
            continue
        original = getattr(protocol, "data_received", None)
        if original is None:
            continue
        if not getattr(original, "_llmobs_stamps", False):
            protocol.data_received = _stamping(original)
        done.append(class_name)
    return done


def _stamping(original: Callable[[Any, bytes], None]) -> Callable[[Any, bytes], None]:
    @functools.wraps(original)
    def data_received(self: Any, data: bytes) -> None:
        now = time.perf_counter()
        original(self, data)
        scope = getattr(self, "scope", None)
        if type(scope) is dict and ARRIVAL not in scope:
            scope[ARRIVAL] = now

    data_received._llmobs_stamps = True  # type: ignore[attr-defined]
    return data_received
