"""A small HTTP client for an OpenAI-compatible gateway (LiteLLM) and the backends behind it.

Standard library only: the debugging and profiling tools run with a bare system python3. One
``http.client`` connection is kept open and reused, so nothing hides in the timings (no proxy
lookup, no new connection per request unless the server closed it: ``connect_s`` says so).

Timings are ``time.perf_counter`` seconds from t0, the moment the client starts on the request
(opening the connection when it has to, ``connect_s`` of it):

=========  ==============================================================================
connect_s  opening the TCP (and TLS) connection; 0 when an open one was reused
ttfb_s     the response headers received
ttft_s     streams: the first chunk that carries content (the role-only chunk does not count)
total_s    the whole body read (a stream: after ``[DONE]``)
=========  ==============================================================================

Answers are read as untrusted: a body or stream of another shape than a chat completion (a
server that is not a gateway) is an ``HttpError``, never a crash; JSON that nests too deep to read
counts as not JSON; token counts are taken only when they are integers.

Errors are exceptions naming the cause in one line: ``Unreachable`` (refused, DNS, timeout,
connection dropped), ``WrongKey`` (401, 403, or LiteLLM's "No connected db." when a key other
than the master key reaches a gateway without a database), ``UnknownModel`` (400 or 404 whose
message says so), ``HttpError`` (any other failure, a stream's error event included).

Use::

    with Client("http://localhost:4000", "sk-...") as client:
        result = client.chat("llama3.1:8b", "hello", stream=True, metadata={"project": "debug"})
        print(result.ttft_s, result.completion_tokens, result.echoed_id)
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

DEFAULT_TIMEOUT_S = 60.0
CALL_ID_HEADER = "x-litellm-call-id"  # LiteLLM keeps a client's id and echoes it (up to 256 characters)
USER_AGENT = "llmobs-client/1"
# How gateways and backends word "no such model": LiteLLM ("Invalid model name passed in"),
# OpenAI (code model_not_found), vLLM ("The model `x` does not exist."), Ollama ('model "x" not found').
_UNKNOWN_MODEL = re.compile(
    r"invalid model name|model_not_found|model\b.{0,200}\b(does not exist|not found)", re.I
)
_DROPPED = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class ClientError(Exception):
    """A request without a usable answer; ``str()`` is one line for people."""

    kind = "http_error"  # as tools and exports name it

    def __init__(
        self,
        message: str,
        url: str,
        status: int | None = None,
        body: bytes = b"",
        detail: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.url, self.status, self.body = url, status, body
        self.detail = detail  # what the server said (its error message), or the network cause
        self.headers = headers or {}  # of the error response (LiteLLM's carry x-litellm-call-id)


class Unreachable(ClientError):
    """Nothing answered: connection refused, unknown host, timeout, connection dropped."""

    kind = "unreachable"  # as tools and exports name it
    timed_out = False  # no (complete) answer within the client's timeout


class WrongKey(ClientError):
    """The key was refused."""

    kind = "wrong_key"  # as tools and exports name it


class UnknownModel(ClientError):
    """The server does not know the model asked for."""

    kind = "unknown_model"  # as tools and exports name it

    def __init__(self, message: str, model: str, **details: Any) -> None:
        super().__init__(message, **details)
        self.model = model


class HttpError(ClientError):
    """Any other error status, or an error event inside a stream."""


@dataclass
class Response:
    """One HTTP exchange as received; headers with lower-case names."""

    method: str
    url: str
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    connect_s: float
    ttfb_s: float
    total_s: float

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body's JSON value; ValueError when it is not JSON."""
        value = parse_json(self.body, None)
        if value is None and self.body.strip() != b"null":
            raise ValueError(f"{self.url}: the answer is not JSON")
        return value


@dataclass
class ChatResult:
    """One chat completion, measured; ``request`` is the body sent (to show it)."""

    url: str
    model: str
    request_id: str  # sent as x-litellm-call-id
    stream: bool
    request: dict[str, Any]
    request_headers: dict[str, str]  # the key masked
    status: int
    headers: dict[str, str]
    body: bytes  # as received (the SSE text for streams)
    connect_s: float
    ttfb_s: float
    total_s: float
    ttft_s: float | None = None
    token_times_s: list[float] = field(default_factory=list)  # each content chunk, from t0
    text: str = ""
    finish_reason: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)

    @property
    def echoed_id(self) -> str | None:
        return self.headers.get(CALL_ID_HEADER)

    @property
    def prompt_tokens(self) -> int | None:
        return self.usage.get("prompt_tokens")

    @property
    def completion_tokens(self) -> int | None:
        return self.usage.get("completion_tokens")

    @property
    def total_tokens(self) -> int | None:
        return self.usage.get("total_tokens")

    @property
    def tokens_per_s(self) -> float | None:
        """Streams: decode rate after the first token, (N - 1) / (t_last - t_first) (measurement.md).
        N is the server's completion token count, else the number of content chunks."""
        if not self.stream or len(self.token_times_s) < 2:
            return None
        tokens = self.completion_tokens or len(self.token_times_s)
        span = self.token_times_s[-1] - self.token_times_s[0]
        return (tokens - 1) / span if span > 0 and tokens > 1 else None

    @property
    def litellm_headers(self) -> dict[str, str]:
        return {k: v for k, v in sorted(self.headers.items()) if k.startswith("x-litellm-")}


def parse_json(body: bytes | str, default: Any = None) -> Any:
    """The JSON value of an answer, or ``default`` when it is not JSON (or nests too deep to read)."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return default


MAX_COUNT = 10**12


def _usage(value: Any) -> dict[str, int]:
    """The token counts of a usage object: integers only (a string or 1e999 would break the rates)."""
    if not isinstance(value, dict):
        return {}
    return {key: count for key, count in value.items() if type(count) is int and 0 <= count <= MAX_COUNT}


def new_request_id(prefix: str = "test-request") -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def error_message(body: bytes) -> str:
    """The message of an error body: OpenAI and LiteLLM ``{"error": {"message"}}``, Ollama
    ``{"error": "..."}``, vLLM and FastAPI ``{"message"}`` / ``{"detail"}``; else the text."""
    missing = object()
    data = parse_json(body, missing)
    if data is missing:
        return body.decode("utf-8", "replace").strip()[:500]
    return _message_of(data)[:2000]


def _message_of(value: Any, depth: int = 8) -> str:
    if isinstance(value, str):
        return value
    if depth and isinstance(value, dict):
        for key in ("error", "message", "detail", "msg"):
            if value.get(key):
                return _message_of(value[key], depth - 1)
    if depth and isinstance(value, list):  # FastAPI validation errors: a list of {"msg": ...}
        return "; ".join(_message_of(item, depth - 1) for item in value[:20])
    return _short_json(value)


def _short_json(value: Any) -> str:
    try:
        return json.dumps(value)[:500]
    except (ValueError, RecursionError):  # NaN from a server, or deeper than the encoder goes
        return "(an answer that cannot be shown)"


def error_for(response: Response, model: str | None = None) -> ClientError:
    """The exception an error response stands for."""
    detail = error_message(response.body) or response.reason
    where = f"{response.method} {response.url}"
    details = {"url": response.url, "status": response.status, "body": response.body, "detail": detail}
    details["headers"] = response.headers
    if response.status in (401, 403) or _error_type(response.body) == "no_db_connection":
        return WrongKey(f"{where}: key refused (HTTP {response.status}: {detail})", **details)
    if refusal(response.status, response.body[:65536].decode("utf-8", "replace")) == UnknownModel.kind:
        return UnknownModel(f"{where}: unknown model {model!r} ({detail})", model or "", **details)
    return HttpError(f"{where}: HTTP {response.status} {response.reason}: {detail}", **details)


def refusal(status: int | None, text: str) -> str | None:
    """``wrong_key`` or ``unknown_model`` when an error answer (its status and the start of its
    text) says that every further request would be refused alike; None otherwise."""
    if status in (401, 403):
        return WrongKey.kind
    # the start of the text is enough to tell, and keeps the search short on a hostile answer
    if status in (400, 404) and _UNKNOWN_MODEL.search(text[:65536]):
        return UnknownModel.kind
    return None


def _error_type(body: bytes) -> str | None:
    answer = parse_json(body)
    error = answer.get("error") if isinstance(answer, dict) else None
    return error.get("type") if isinstance(error, dict) else None


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _data_of(answer: Any) -> list[dict[str, Any]]:
    """The objects of an OpenAI-style list answer, ``{"data": [...]}``."""
    data = answer.get("data") if isinstance(answer, dict) else None
    return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []


def _network_cause(error: BaseException, host: str, timeout_s: float) -> str:
    if isinstance(error, socket.gaierror):
        return f"cannot resolve host {host!r} ({error.strerror})"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, TimeoutError):
        return f"no answer within {timeout_s:g} s"
    if isinstance(error, ssl.SSLError):
        return f"TLS error: {error.reason or error}"
    if isinstance(error, (http.client.HTTPException, ConnectionError)):
        return f"connection dropped ({error or type(error).__name__})"
    return f"{type(error).__name__}: {error}"


class StreamErrorEvent(Exception):
    """A stream carried an error event; ``detail`` is its message."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ChatStream:
    """The events of a chat completion stream (SSE), read line by line as untrusted input.

    A token is a delta with non-empty ``content``, ``reasoning_content`` (or ``reasoning``) or
    ``tool_calls``; the role-only chunk that gateways send first is not one (it would make TTFT
    read low). Lines that are not ``data:`` events, and events of another shape, are skipped.
    The sync client and the measuring client read streams through this one parser."""

    __slots__ = ("events", "finish_reason", "first_event", "pieces", "token_times", "usage")

    def __init__(self) -> None:
        self.token_times: list[float] = []  # each token-carrying chunk, as stamped by the reader
        self.pieces: list[str] = []  # content text
        self.usage: dict[str, int] = {}
        self.finish_reason: str | None = None
        self.first_event: float | None = None  # any data event, the role chunk included
        self.events = 0

    def line(self, line: bytes, now: float) -> bool:
        """One line of the stream, received at ``now``; True at ``[DONE]``. Raises
        StreamErrorEvent on an error event. The measuring client calls this for every event of
        every stream: the checks are written for speed (exact types, one dict lookup each)."""
        if not line.startswith(b"data:"):
            return False  # blank separators, comments, event: lines
        data = line[5:].strip()
        if data == b"[DONE]":
            return True
        try:
            event = _loads(data.decode())
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            return False
        if type(event) is not dict:
            return False  # not an event of a chat completion stream: skipped
        self.events += 1
        if self.first_event is None:
            self.first_event = now
        if event.get("error"):
            raise StreamErrorEvent(_message_of(event["error"]))
        usage = event.get("usage")
        if usage:
            self.usage = _usage(usage)
        choices = event.get("choices")
        if type(choices) is not list:
            return False
        for choice in choices:
            if type(choice) is not dict:
                continue
            delta = choice.get("delta")
            if type(delta) is dict:
                content = delta.get("content")
                if type(content) is not str:
                    content = ""
                calls = delta.get("tool_calls")
                if (
                    content
                    or _string(delta.get("reasoning_content"))
                    or _string(delta.get("reasoning"))
                    or (type(calls) is list and calls)
                ):
                    self.token_times.append(now)
                    self.pieces.append(content)
            reason = choice.get("finish_reason")
            if reason and type(reason) is str:
                self.finish_reason = reason
        return False


_loads = json.JSONDecoder().decode  # a str: json.loads would first guess the encoding of bytes


class Client:
    """An OpenAI-compatible server at base_url (a path prefix is kept), on one reused connection.

    ``timeout`` bounds connecting and each read (a stream may run longer as long as it moves).
    A kept-alive connection the server closed while idle is reopened once, transparently.
    Not thread-safe: one client per thread. Raises ValueError for a URL it cannot use."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.host = parts.hostname
        self._prefix = parts.path.rstrip("/")
        kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self._conn = kind(parts.hostname, parts.port, timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    def url(self, path: str) -> str:
        return self.base_url + path

    # plain requests
    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        auth: bool = True,
    ) -> Response:
        """Any status comes back as a Response; only a network failure raises (Unreachable)."""
        response, t0, connect_s, ttfb_s = self._send(method, path, body, headers, auth)
        try:
            data = response.read()
        except (OSError, http.client.HTTPException) as error:
            raise self._unreachable(method, path, error) from None
        total_s = time.perf_counter() - t0
        return self._response(method, path, response, data, connect_s, ttfb_s, total_s)

    def get(self, path: str, auth: bool = True) -> Response:
        return self.request("GET", path, auth=auth)

    def get_json(self, path: str, auth: bool = True) -> Any:
        """The JSON of a 2xx answer; an error status raises its ClientError."""
        response = self.get(path, auth)
        if not response.ok:
            raise error_for(response)
        try:
            return response.json()
        except ValueError:
            raise HttpError(
                f"GET {response.url}: the answer is not JSON", response.url, response.status, response.body
            ) from None

    def models(self) -> list[str]:
        """The model names of ``GET /v1/models``, in the server's order."""
        return [str(card.get("id")) for card in _data_of(self.get_json("/v1/models"))]

    def model_info(self) -> list[dict[str, Any]]:
        """LiteLLM's deployments (``GET /model/info``, master key): ``model_name``,
        ``litellm_params.model`` / ``api_base``, ``model_info.id``."""
        return _data_of(self.get_json("/model/info"))

    # chat completions
    def chat(
        self,
        model: str,
        prompt: str | list[dict[str, Any]],
        *,
        max_tokens: int | None = None,
        stream: bool = False,
        request_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> ChatResult:
        """POST /v1/chat/completions with ``request_id`` as x-litellm-call-id (a fresh one when
        None); ``extra`` adds body fields (temperature, ...). Raises a ClientError unless the
        answer is a 2xx with a complete body or stream."""
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
        body: dict[str, Any] = {"model": model, "messages": messages, "stream": stream}
        if stream:
            body["stream_options"] = {"include_usage": True}  # token counts in the last chunk
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if metadata is not None:
            body["metadata"] = metadata
        body.update(extra or {})
        request_id = request_id or new_request_id()
        path = "/v1/chat/completions"
        extra_headers = {CALL_ID_HEADER: request_id}
        response, t0, connect_s, ttfb_s = self._send("POST", path, body, extra_headers, True)
        headers = {k.lower(): v for k, v in response.getheaders()}
        result = ChatResult(
            url=self.url(path),
            model=model,
            request_id=request_id,
            stream=stream,
            request=body,
            request_headers=self._headers(extra_headers, True, True, masked=True),
            status=response.status,
            headers=headers,
            body=b"",
            connect_s=connect_s,
            ttfb_s=ttfb_s,
            total_s=0.0,
        )
        # a server that ignores "stream" answers with one JSON body: read it as such
        sse = response.status == 200 and headers.get("content-type", "").startswith("text/event-stream")
        try:
            if sse:
                self._read_stream(response, t0, result)
            else:
                result.body = response.read()
        except (OSError, http.client.HTTPException) as error:
            raise self._unreachable("POST", path, error) from None
        result.total_s = time.perf_counter() - t0
        if not 200 <= response.status < 300:
            answer = self._response("POST", path, response, result.body, connect_s, ttfb_s, result.total_s)
            raise error_for(answer, model)
        if not sse:
            self._read_whole(result)
        return result

    def _read_whole(self, result: ChatResult) -> None:
        data = parse_json(result.body)
        choices = data.get("choices") if isinstance(data, dict) else None
        choice = choices[0] if isinstance(choices, list) and choices else None
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            text = f"POST {result.url}: the answer is not a chat completion"
            raise HttpError(text, result.url, result.status, result.body, detail=text)
        result.text = _string(message.get("content"))
        result.finish_reason = _string(choice.get("finish_reason")) or None  # type: ignore[union-attr]
        result.usage = _usage(data.get("usage"))  # type: ignore[union-attr]

    def _read_stream(self, response: http.client.HTTPResponse, t0: float, result: ChatResult) -> None:
        """Reads SSE events as they arrive, stamping each content chunk."""
        raw, stream = [], ChatStream()
        try:
            while line := response.readline():
                raw.append(line)
                if stream.line(line, time.perf_counter() - t0):
                    raw.append(response.read())  # the rest, so that the connection can be reused
                    break
        except StreamErrorEvent as error:
            result.body = b"".join(raw)
            message = f"POST {result.url}: error inside the stream: {error.detail}"
            self._conn.close()  # the rest of the stream is of no use: do not reuse the connection
            raise HttpError(message, result.url, 200, result.body, error.detail, result.headers) from None
        result.body = b"".join(raw)
        result.text = "".join(stream.pieces)
        result.usage = stream.usage
        result.finish_reason = stream.finish_reason
        result.token_times_s = stream.token_times
        result.ttft_s = stream.token_times[0] if stream.token_times else None

    # the wire
    def _headers(
        self, extra: Mapping[str, str] | None, auth: bool, has_body: bool, masked: bool
    ) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json, text/event-stream"}
        if has_body:
            headers["Content-Type"] = "application/json"
        if auth and self.api_key:
            headers["Authorization"] = "Bearer ***" if masked else f"Bearer {self.api_key}"
        return headers | dict(extra or {})

    def _send(
        self,
        method: str,
        path: str,
        body: Any,
        headers: Mapping[str, str] | None,
        auth: bool,
        retry: bool = True,
    ) -> tuple[http.client.HTTPResponse, float, float, float]:
        """Sends and waits for the response headers: (response, t0, connect_s, ttfb_s)."""
        data = json.dumps(body).encode() if body is not None else None
        reused = self._conn.sock is not None
        t0 = time.perf_counter()
        connect_s = 0.0
        try:
            if not reused:
                self._conn.connect()
                connect_s = time.perf_counter() - t0
            sent = self._headers(headers, auth, data is not None, masked=False)
            self._conn.request(method, self._prefix + path, body=data, headers=sent)
            response = self._conn.getresponse()
        except (OSError, http.client.HTTPException) as error:
            self._conn.close()
            if reused and retry and isinstance(error, _DROPPED):
                # the server closed an idle keep-alive connection meanwhile: not a failure
                return self._send(method, path, body, headers, auth, retry=False)
            raise self._unreachable(method, path, error) from None
        return response, t0, connect_s, time.perf_counter() - t0

    def _unreachable(self, method: str, path: str, error: BaseException) -> Unreachable:
        self._conn.close()
        cause = _network_cause(error, self.host, self.timeout)
        url = self.url(path)
        unreachable = Unreachable(f"{method} {url}: {cause}", url, detail=cause)
        unreachable.timed_out = isinstance(error, TimeoutError)
        return unreachable

    def _response(
        self,
        method: str,
        path: str,
        response: http.client.HTTPResponse,
        body: bytes,
        connect_s: float,
        ttfb_s: float,
        total_s: float,
    ) -> Response:
        headers = {k.lower(): v for k, v in response.getheaders()}
        url = self.url(path)
        return Response(
            method, url, response.status, response.reason, headers, body, connect_s, ttfb_s, total_s
        )
