"""The per-request log of the gateway: one JSON object per client request, success or failure.

LiteLLM has no such log (the guide's ``logging:`` and ``tracing:`` settings are not read by it);
our callback writes it. The debugging tools (analyze-logs, tail-requests) read the same schema.

Schema ``llmobs.request/1`` (one object per line; absent values are null):

=====================  ======================================================================
field                  meaning
=====================  ======================================================================
schema                 ``llmobs.request/1``; a reader skips lines of a schema it does not know
time                   end of the request, UTC, ISO 8601 with milliseconds
level                  INFO; WARNING when slower than the threshold; ERROR on failure
host                   the gateway that served it (logs of several gateways merge by time)
request_id             ``x-litellm-call-id``: the client's own when it sent one, else LiteLLM's
trace_id               LiteLLM's trace id (shared by the retries and fallbacks of one request)
requested_model        the model name the client asked for
model_group            the router's model group that served it
deployment             the router deployment (``model_id``, as in ``litellm_deployment_state``)
provider               the provider's name in the inventory (llm_providers), from the deployment id
api_provider           LiteLLM's name for the backend (``ollama_chat``, ``hosted_vllm``, ``openai``),
                       as in the ``api_provider`` label of its metrics
api_base               the backend URL as configured (LiteLLM's endpoint path removed)
backend_model          the model name sent to the backend
stream                 true for streamed requests
status                 ``success`` or ``failure``
http_status            200 on success; the error's status on failure
error_class            exception class on failure (``RateLimitError``, ``NotFoundError``, ...)
error_message          the error, first 1,000 characters
latency_ms             from LiteLLM's start of the call to its end (after the proxy parsed and
                       authenticated the request)
ttft_ms                time to first token (streams only), from LiteLLM's start of the call
queue_ms               from the request's arrival (LiteLLM's stamp as authentication begins) to
                       its start of the call: authentication and pre-call hooks
gateway_ttft_ms        time to first token as the gateway served it (streams only): from the
                       request's arrival in its HTTP server to its first token handed to the
                       server to send (llmobs.gateway.served_times). A client's TTFT exceeds it
                       by the network only; it holds queue_ms + ttft_ms and LiteLLM's HTTP layer
upstream_latency_ms    time spent in the backend call
overhead_ms            LiteLLM's own measure of its overhead (``x-litellm-overhead-duration-ms``)
prompt_tokens          from the backend's usage
completion_tokens
total_tokens
cost                   USD (0 for unpriced local models)
cache_hit              true when served from the cache
retries                retries the router made
metadata               the ``metadata`` the client sent (project, env, ...), without what LiteLLM
                       adds to it (the request's headers)
request                the messages, only with log_requests
response               the reply, only with log_responses
=====================  ======================================================================
"""

from __future__ import annotations

import atexit
import errno
import hashlib
import json
import math
import os
import socket
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmobs.stats import finite_number

if TYPE_CHECKING:
    from llmobs.gateway.served_times import ServedTimes

SCHEMA = "llmobs.request/1"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
MAX_ERROR_CHARS = 1000
# What LiteLLM adds to the client's metadata; the headers are noise and may carry secrets.
LITELLM_METADATA_KEYS = frozenset({"headers", "used_client_oauth_token"})


@dataclass(frozen=True)
class Settings:
    """The guide's ``tracing:`` and ``logging:`` blocks, as the litellm role renders them."""

    log_file: str = "/var/log/litellm/requests.log"
    level: str = "INFO"
    sampling_rate: float = 1.0
    log_requests: bool = False
    log_responses: bool = False
    log_slow_requests: bool = True
    slow_request_threshold_ms: float = 5000.0
    queue_size: int = 100_000
    # not the log's: the services whose metrics LiteLLM's prometheus_system callback reports
    # (ServiceTypes values; empty: all of them). See llmobs.gateway.litellm_prometheus.
    prometheus_services: tuple[str, ...] = ()
    # not the log's either: LiteLLM's Prometheus success event by the lean path where its settings
    # allow (false: LiteLLM's own code for every request; the parity check compares the two)
    prometheus_lean: bool = True

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None) -> Settings:
        """Read a JSON settings file; unknown keys are an error (a typo must not pass silently)."""
        if not path:
            return cls()
        data = json.loads(Path(path).read_text())
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{path}: unknown request-log settings {unknown}; known: {sorted(known)}")
        services = data.get("prometheus_services", [])
        if not isinstance(services, list) or not all(isinstance(name, str) for name in services):
            raise ValueError(f"{path}: prometheus_services must be a list of service names, not {services!r}")
        settings = cls(**{**data, "prometheus_services": tuple(services)})
        if not isinstance(settings.prometheus_lean, bool):
            lean = settings.prometheus_lean
            raise ValueError(f"{path}: prometheus_lean must be true or false, not {lean!r}")
        if settings.level not in LEVELS:
            raise ValueError(f"{path}: level must be one of {LEVELS}, not {settings.level!r}")
        if not 0.0 <= settings.sampling_rate <= 1.0:
            raise ValueError(f"{path}: sampling_rate must be between 0 and 1, not {settings.sampling_rate}")
        return settings


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 3)


def _seconds(value: Any) -> float | None:
    """LiteLLM hands times as datetimes or epoch floats depending on the path."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


ENDPOINT_PATHS = ("/chat/completions", "/completions", "/api/chat", "/api/generate", "/embeddings")


def _base_url(url: str | None) -> str | None:
    """LiteLLM reports some api_bases with the endpoint it called appended, and those of failed
    llama.cpp and vLLM requests with a trailing slash: one backend, one api_base in the log."""
    if url:
        url = url.rstrip("/")
        for path in ENDPOINT_PATHS:
            if url.endswith(path):
                return url[: -len(path)].rstrip("/")
    return url


def _http_status(slo: dict[str, Any], failed: bool) -> int | None:
    if not failed:
        return 200
    code = (slo.get("error_information") or {}).get("error_code")
    try:
        return int(code)
    except (TypeError, ValueError):
        return 500


def build_record(
    slo: dict[str, Any], kwargs: dict[str, Any], failed: bool, host: str, settings: Settings
) -> dict[str, Any]:
    """One log record from LiteLLM's standard logging object and the call's kwargs."""
    start = _seconds(slo.get("startTime"))
    end = _seconds(slo.get("endTime"))
    first = _seconds(slo.get("completionStartTime"))
    api_start = _seconds(kwargs.get("api_call_start_time"))
    latency = _ms(end - start) if start is not None and end is not None else None
    stream = bool(slo.get("stream"))
    hidden = slo.get("hidden_params") or {}
    metadata = slo.get("metadata") or {}
    params = kwargs.get("litellm_params") or {}
    litellm_metadata = params.get("metadata") or {}
    deployment = slo.get("model_id") or hidden.get("model_id")
    error = slo.get("error_information") or {}
    api_provider = slo.get("custom_llm_provider") or error.get("llm_provider")
    slow = latency is not None and latency > settings.slow_request_threshold_ms
    if failed:
        level = "ERROR"
    elif slow and settings.log_slow_requests:
        level = "WARNING"
    else:
        level = "INFO"
    retries = litellm_metadata.get("attempted_retries")
    queue = litellm_metadata.get("queue_time_seconds")
    record = {
        "schema": SCHEMA,
        "time": datetime.fromtimestamp(end if end is not None else 0.0, UTC).isoformat(
            timespec="milliseconds"
        ),
        "level": level,
        "host": host,
        "request_id": slo.get("litellm_call_id") or kwargs.get("litellm_call_id"),
        "trace_id": slo.get("trace_id"),
        "requested_model": litellm_metadata.get("model_group") or slo.get("model_group") or slo.get("model"),
        "model_group": slo.get("model_group"),
        "deployment": deployment,
        # the bundle names deployments "<provider>/<model>" (llmobs.providers.litellm_model_list)
        "provider": deployment.split("/", 1)[0] if deployment and "/" in deployment else api_provider,
        "api_provider": api_provider,
        "api_base": _base_url(params.get("api_base") or slo.get("api_base") or hidden.get("api_base")),
        "backend_model": hidden.get("litellm_model_name") or slo.get("model"),
        "stream": stream,
        "status": "failure" if failed else "success",
        "http_status": _http_status(slo, failed),
        "error_class": error.get("error_class") if failed else None,
        "error_message": (slo.get("error_str") or error.get("error_message") or "")[:MAX_ERROR_CHARS] or None
        if failed
        else None,
        "latency_ms": latency,
        "ttft_ms": _ms(first - start) if stream and first is not None and start is not None else None,
        "queue_ms": _ms(queue) if finite_number(queue) and queue >= 0 else None,
        "gateway_ttft_ms": None,  # RequestLog.event, from the ServedTimes of the gateway's server
        "upstream_latency_ms": _ms(end - api_start) if api_start is not None and end is not None else None,
        "overhead_ms": hidden.get("litellm_overhead_time_ms"),
        "prompt_tokens": slo.get("prompt_tokens"),
        "completion_tokens": slo.get("completion_tokens"),
        "total_tokens": slo.get("total_tokens"),
        "cost": slo.get("response_cost"),
        "cache_hit": bool(slo.get("cache_hit")),
        "retries": retries if isinstance(retries, int) else 0,
        "metadata": {
            key: value
            for key, value in (metadata.get("requester_metadata") or {}).items()
            if key not in LITELLM_METADATA_KEYS
        },
    }
    if settings.log_requests:
        record["request"] = slo.get("messages")
    if settings.log_responses:
        record["response"] = slo.get("response")
    return record


def keep(record: dict[str, Any], settings: Settings) -> bool:
    """The level setting filters; sampling thins out successes only (errors and slow requests stay)."""
    if LEVELS.index(record["level"]) < LEVELS.index(settings.level):
        return False
    if record["level"] != "INFO" or settings.sampling_rate >= 1.0:
        return True
    # Deterministic by request id, so that every gateway and every rerun keeps the same requests.
    digest = hashlib.blake2b(str(record.get("request_id")).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < settings.sampling_rate


class RequestLogWriter:
    """Appends JSON lines from a background thread: the event loop only appends to a deque.

    The thread wakes every ``FLUSH_EVERY_S`` and writes what has gathered. Not a queue with a
    wake-up per line: under load that handed the GIL to the writer on every request and made the
    event loop wait on the queue's lock (issue 16).

    Each batch of lines is one ``write()`` on an ``O_APPEND`` descriptor, so several worker
    processes can share the file without interleaving. Before each batch the writer checks whether the path
    still names the file it has open; after logrotate moved it away, it reopens. Lines written in
    between land in the rotated file, so none is lost (logrotate's ``delaycompress`` keeps that
    file uncompressed until the next rotation).

    A line that cannot be written is never lost silently: ``lost`` counts it by reason
    (``queue_full``: the disk could not keep up; ``write_error``: disk full, permissions), ``on_lost``
    (the gateway's Prometheus counter) is told, and stderr (the journal) says why, at most once per
    ``warn_every_s`` for each reason. After a write error the next batch opens the file again, so
    logging resumes by itself when space returns; a line the disk cut short is ended first, so
    that it damages no other (readers count it as one bad line; its record counts as lost).

    After ``close`` a line is written at once, in the caller's thread: at exit LiteLLM's logging
    worker runs the callbacks still queued after our atexit hook has run (atexit goes last in,
    first out, and LiteLLM registers at import), and those are requests the clients got answers to.
    """

    REASONS = ("queue_full", "write_error")
    FLUSH_EVERY_S = 0.05
    BATCH_LINES = 512
    # lines kept with their place in the open file, to write again after a copytruncate
    RECENT_LINES = 4096

    def __init__(
        self,
        path: str,
        queue_size: int = 100_000,
        on_lost: Callable[[str, int], None] | None = None,
        warn_every_s: float = 10.0,
    ) -> None:
        self.path = path
        self.lost = dict.fromkeys(self.REASONS, 0)
        self._on_lost = on_lost
        self._warn_every_s = warn_every_s
        self._warned_at = dict.fromkeys(self.REASONS, -math.inf)
        self._queue_size = queue_size
        self._pending: deque[dict[str, Any]] = deque()  # append and popleft are atomic
        self._stop = threading.Event()
        self._closed = False
        self._closed_lock = threading.Lock()  # only after close: writers in several threads
        self._fd: int | None = None
        self._inode: tuple[int, int] | None = None
        self._recent: deque[tuple[int, bytes]] = deque(maxlen=self.RECENT_LINES)  # (end offset, line)
        self._thread = threading.Thread(target=self._run, name="llmobs-request-log", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def write(self, record: dict[str, Any]) -> None:
        if self._closed:
            with self._closed_lock:
                self._write_lines([_line(record)])
        elif len(self._pending) >= self._queue_size:
            self._lose(
                "queue_full", 1, f"the queue of {self._queue_size} lines is full (the disk cannot keep up)"
            )
        else:
            self._pending.append(record)

    def close(self, timeout: float = 5.0) -> None:
        """Flush what is queued and stop the thread; later lines are written at once."""
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join(timeout)
        if not self._thread.is_alive():
            with self._closed_lock:
                self._closed = True
                self._drain()  # what came after the thread's last look

    def _open(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # read too: after a copytruncate the writer looks whether its last line is still there
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
        st = os.fstat(self._fd)
        self._inode = (st.st_dev, st.st_ino)
        self._recent.clear()

    def _rotated(self) -> bool:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return True
        return (st.st_dev, st.st_ino) != self._inode

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(self.FLUSH_EVERY_S)
            self._drain()
            if stopping:
                return

    def _drain(self) -> None:
        while self._pending:
            batch = [self._pending.popleft() for _ in range(min(len(self._pending), self.BATCH_LINES))]
            self._write_lines([_line(r) for r in batch])

    def _write_lines(self, lines: list[str]) -> None:
        written = 0
        todo = [line.encode() for line in lines]
        try:
            if self._fd is None or self._rotated():
                self._open()
            assert self._fd is not None
            # a line that a full disk cut short (this process's or another worker's) is ended
            # first, so that the next one stands alone. Whole lines are single writes, so the file
            # ends in a newline unless a write was cut (a race at worst adds a blank line)
            size = os.fstat(self._fd).st_size
            if size and os.pread(self._fd, 1, size - 1) != b"\n" and os.write(self._fd, b"\n") < 1:
                raise OSError(errno.ENOSPC, "no room to end the cut line")
            todo = self._cut_off() + todo
            # the batch in one write: appended as a whole (a write per line was most of the
            # writer's cost, 1.8 % of a loaded gateway's CPU)
            data = b"".join(todo)
            done = os.write(self._fd, data)
            offset = os.lseek(self._fd, 0, os.SEEK_CUR) - done  # where it began
            for line in todo:
                if done < len(line):  # the disk filled up within this line
                    raise OSError(errno.ENOSPC, "short write, the line is cut")
                offset, done = offset + len(line), done - len(line)
                self._recent.append((offset, line))
                written += 1
        except OSError as error:
            self._lose("write_error", len(todo) - written, f"cannot write {self.path}: {error}")
            if self._fd is not None:
                os.close(self._fd)
            self._fd = None  # the next batch opens it again

    def _cut_off(self) -> list[bytes]:
        """Our lines that a copytruncate lost, to write again (logrotate copied the file, then cut
        it to nothing: what we wrote in between is in neither). The file was cut when our last
        line is no longer where we wrote it; then every line of ours past the end of the copy
        (the newest file beside the log) is written again, and none that the copy holds."""
        if not self._recent or self._fd is None:
            return []
        end, last = self._recent[-1]
        if os.pread(self._fd, len(last), end - len(last)) == last:
            return []
        copied = self._copy_size()
        lost = [line for offset, line in self._recent if copied is not None and offset > copied]
        self._recent.clear()
        if copied is None:
            print(
                f"llmobs request log: WARNING: {self.path} was cut short by another program and no copy "
                "of it is beside it: lines written just before may be lost",
                file=sys.stderr,
                flush=True,
            )
        return lost

    def _copy_size(self) -> int | None:
        """The size of the newest file beside the log named after it (logrotate's copy: .1,
        -DATE, or .1.gz, whose last four bytes hold it), or None."""
        folder, name = os.path.split(self.path)
        newest: tuple[int, str, int] | None = None
        with os.scandir(folder or ".") as entries:
            for entry in entries:
                if (
                    entry.name != name
                    and entry.name.startswith(name)
                    and entry.is_file(follow_symlinks=False)
                ):
                    st = entry.stat(follow_symlinks=False)
                    if newest is None or st.st_mtime_ns > newest[0]:
                        newest = (st.st_mtime_ns, entry.path, st.st_size)
        if newest is None:
            return None
        if not newest[1].endswith(".gz"):
            return newest[2]
        try:
            with open(newest[1], "rb") as copy:
                copy.seek(-4, os.SEEK_END)
                return int.from_bytes(copy.read(4), "little")  # gzip's ISIZE (mod 2**32)
        except OSError:
            return None

    def _lose(self, reason: str, count: int, why: str) -> None:
        self.lost[reason] += count
        if self._on_lost is not None:
            self._on_lost(reason, count)
        now = time.monotonic()
        if now - self._warned_at[reason] >= self._warn_every_s:
            self._warned_at[reason] = now
            print(
                f"llmobs request log: WARNING: {self.lost[reason]} line(s) lost so far ({reason}): {why}",
                file=sys.stderr,
                flush=True,
            )


def lost_lines_counter() -> Callable[[str, int], None]:
    """An ``on_lost`` that counts in prometheus_client's registry, which LiteLLM's /metrics/ serves
    (merged across workers through PROMETHEUS_MULTIPROC_DIR, as its own metrics are):
    ``llmobs_request_log_lines_lost_total{reason}``. Call it once per process."""
    from prometheus_client import Counter

    counter = Counter(
        "llmobs_request_log_lines_lost",
        "Request-log lines the gateway could not write, by reason",
        ["reason"],
    )
    for reason in RequestLogWriter.REASONS:
        counter.labels(reason=reason)  # exported at 0 from the start, so that increase() sees the first loss
    return lambda reason, count: counter.labels(reason=reason).inc(count)


class RequestLog:
    """Turns LiteLLM callback events into log lines, one per client request (no dependency on
    LiteLLM itself).

    LiteLLM reports a request's first failed attempt (``failed=True``) before its router retries
    it, and a retry may still succeed (found by playbooks/drill.yml -e drill=provider: a failure
    line and a success line for one request, and failure lines timed as the first attempt). So a
    failure waits, by request id, for the request's end: a success replaces it, and the proxy's
    failure hook (``final_failure``) writes it with the final error and the whole request's
    latency. One that sees neither within ``pending_s`` is written then (and all are at exit).
    """

    def __init__(
        self,
        settings: Settings,
        writer: RequestLogWriter | None = None,
        host: str | None = None,
        pending_s: float = 3600.0,
        served: ServedTimes | None = None,
    ):
        self.settings = settings
        self.served = served  # the gateway's own stamps of its streams (gateway_ttft_ms)
        self.writer = writer or RequestLogWriter(settings.log_file, settings.queue_size)
        self.host = host or socket.gethostname()
        self.pending_s = pending_s
        # request id -> (when it began waiting, monotonic; the record of its first failed attempt)
        self._pending: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        # request ids whose final failure is written: a late attempt event must not add a line
        self._ended: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()
        self._flushed = False  # at exit: a failure that comes later is written, not held
        atexit.register(self.flush)

    def event(self, kwargs: dict[str, Any], failed: bool) -> None:
        slo = kwargs.get("standard_logging_object") or {}
        record = build_record(slo, kwargs, failed, self.host, self.settings)
        request_id = record["request_id"]
        if request_id:
            now = time.monotonic()
            with self._lock:
                if failed:
                    if request_id in self._ended or request_id in self._pending:
                        record = None
                    elif self._flushed:  # no end will come to write it: written now, once
                        self._ended[request_id] = now
                    else:
                        self._pending[request_id] = (now, record)
                        record = None
                else:
                    self._pending.pop(request_id, None)
                expired = self._expire(now)
            for old in expired:
                self._write(old)
        if record is not None:
            self._write(record)

    def final_failure(self, request_id: Any, model: Any, error: BaseException) -> None:
        """The request failed for good (LiteLLM's proxy failure hook): its one line, with the
        final error, the status the client got and the latency from its first attempt."""
        end = time.time()
        with self._lock:
            _, record = self._pending.pop(str(request_id), (0.0, None))
            self._ended[str(request_id)] = time.monotonic()
        if record is None:  # rejected before any attempt (a bad key, an unknown model)
            slo = {"litellm_call_id": request_id, "model_group": model, "startTime": end, "endTime": end}
            record = build_record(slo, {}, True, self.host, self.settings)
        status = getattr(error, "status_code", None)
        start = _start_of(record)
        record.update(
            time=datetime.fromtimestamp(end, UTC).isoformat(timespec="milliseconds"),
            http_status=status if isinstance(status, int) and 100 <= status <= 999 else 500,
            error_class=type(error).__name__,
            error_message=str(error)[:MAX_ERROR_CHARS] or None,
            latency_ms=_ms(end - start) if start is not None else record["latency_ms"],
        )
        retries = getattr(error, "num_retries", None)  # the router's, on its final exception
        if isinstance(retries, int) and not isinstance(retries, bool) and retries >= 0:
            record["retries"] = retries
        self._write(record)

    def flush(self) -> None:
        """Write every failure still waiting for its request's end (the process stops)."""
        with self._lock:
            self._flushed = True
            waiting = [record for _, record in self._pending.values()]
            self._pending.clear()
        for record in waiting:
            self._write(record)

    def _expire(self, now: float) -> list[dict[str, Any]]:
        """The failures that waited pending_s in vain (oldest first); forgets old ended ids."""
        expired = []
        while self._pending and now - next(iter(self._pending.values()))[0] > self.pending_s:
            expired.append(self._pending.popitem(last=False)[1][1])
        while self._ended and now - next(iter(self._ended.values())) > self.pending_s:
            self._ended.popitem(last=False)
        return expired

    def _write(self, record: dict[str, Any]) -> None:
        if self.served is not None:  # taken for every request, also one that is sampled out
            seconds = self.served.pop(record["request_id"])
            if seconds is not None and record["stream"]:
                record["gateway_ttft_ms"] = _ms(seconds)
        if keep(record, self.settings):
            self.writer.write(record)


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"), default=str) + "\n"


def _start_of(record: dict[str, Any]) -> float | None:
    """When the request began (epoch seconds): its record's end less its latency."""
    try:
        end = datetime.fromisoformat(record["time"]).timestamp()
    except (TypeError, ValueError):
        return None
    latency = record.get("latency_ms")
    return end - latency / 1000 if isinstance(latency, int | float) else None
