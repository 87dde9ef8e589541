"""One measuring run: planned requests sent closed-loop (N at a time) or open-loop (on a
schedule), every request on record, progress shown, Ctrl-C and fatal first answers handled, and
the facts that make a run valid or not collected (client CPU, event-loop lag, pool waits, send lag).

A run stops early, and says why, when its first answers show that nothing can succeed (the gateway
unreachable, the key refused, the model unknown): measuring that a hundred times adds nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from llmobs.cli import Ticker
from llmobs.client import refusal
from llmobs.measuring import CANCELLED, HTTP, TIMEOUT, UNREACHABLE, MeasuringClient, Sample
from llmobs.stats import percentile

LAG_TICK_S = 0.01  # the event-loop lag probe sleeps this long and measures how late it wakes
# A run is valid while 95 % of the probe's wake-ups are at most this late: 2 ms, or 5 % of the
# median latency when that is more (a stamp late by 5 ms matters for 20 ms, not for 2 s).
LAG_LIMIT_MS = 2.0
LAG_LIMIT_SHARE = 0.05
# The words of the prompts: one token each for common tokenizers (and for the simulator's count).
_TEXT = (
    "please write a short plain answer about the weather the river the mountain the city the market "
    "the garden the library the station the harbour and the school in this quiet town"
)
_WORDS = _TEXT.split()


def prompt_of(tokens: int, nonce: str) -> str:
    """A prompt of about ``tokens`` words that starts with a nonce, so that no cache answers it:
    neither the gateway's response cache nor a backend's prefix cache."""
    words = [f"[{nonce}]"]
    while len(words) < tokens:
        words.extend(_WORDS[: tokens - len(words)])
    return " ".join(words)


@dataclass(slots=True)
class Planned:
    """One request to send: the model, its body, and where it belongs in the run."""

    model: str
    body: bytes
    stream: bool
    warmup: bool = False
    group: str = ""  # the arm of a comparison, the level of a sweep


@dataclass
class Record:
    """A planned request and what became of it."""

    planned: Planned
    sample: Sample


@dataclass
class Measurement:
    """What one call of ``closed_loop`` or ``open_loop`` measured, and how trustworthy it is."""

    records: list[Record] = field(default_factory=list)
    started: float = 0.0  # perf_counter
    finished: float = 0.0
    cpu_s: float = 0.0  # the client's process CPU over the run
    lag_s: list[float] = field(default_factory=list)  # event-loop lag samples
    stopped: str | None = None  # why the run ended early: "interrupted" or a fatal answer
    stopped_by: Sample | None = None  # that fatal answer
    connections_opened: int = 0
    done: int = 0  # answered or failed, for the progress line
    errors: int = 0

    @property
    def wall_s(self) -> float:
        return max(self.finished - self.started, 1e-9)

    @property
    def measured(self) -> list[Record]:
        """Requests that count: warm-up excluded, and those a Ctrl-C cut short."""
        return [r for r in self.records if not r.planned.warmup and r.sample.error != CANCELLED]


def combined(measurements: list[Measurement]) -> Measurement:
    """Several measurements of one run (the levels of a sweep) as one, for its export."""
    if not measurements:
        return Measurement()
    return Measurement(
        records=[r for m in measurements for r in m.records],
        started=measurements[0].started,
        finished=measurements[-1].finished,
        cpu_s=sum(m.cpu_s for m in measurements),
        lag_s=[lag for m in measurements for lag in m.lag_s],
        stopped=next((m.stopped for m in measurements if m.stopped), None),
        stopped_by=next((m.stopped_by for m in measurements if m.stopped_by), None),
        connections_opened=sum(m.connections_opened for m in measurements),
    )


def steady_window(measurement: Measurement, warm: int) -> tuple[float, float] | None:
    """(start, end) of the part of a run at full load: after its first ``warm`` completions
    (every worker has finished one: the synchronized start is over) and up to its last send
    (after it fewer requests are in flight: the drain). None when the run had no such part."""
    records = measurement.measured
    ends = sorted(r.sample.end for r in records if r.sample.end is not None)
    sends = [r.sample.sent for r in records if r.sample.sent]
    if len(ends) <= warm or not sends:
        return None
    start, end = ends[max(warm, 1) - 1], max(sends)
    return (start, end) if end > start else None


def fatal(sample: Sample) -> bool:
    """A failure that every further request would repeat: nothing answers, the key or the model
    is refused (the sync client's rule, ``llmobs.client.refusal``)."""
    if sample.error == UNREACHABLE:
        return True
    return sample.error == HTTP and refusal(sample.status, sample.detail) is not None


class Runner:
    """Sends planned requests through one MeasuringClient and keeps every sample."""

    def __init__(self, client: MeasuringClient, label: str, run_id: str | None = None) -> None:
        self.client = client
        self.label = label
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self._count = 0
        self._task: asyncio.Task[None] | None = None
        self._succeeded = False
        self._measurement = Measurement()
        self._recent: deque[float] = deque(maxlen=5000)  # end times of the last answers: current RPS

    def request_id(self) -> str:
        self._count += 1
        return f"profile-{self.run_id}-{self._count}"

    # the two load models
    async def closed_loop(self, planned: list[Planned], concurrency: int) -> Measurement:
        """``concurrency`` workers, each sends its next request when its answer is complete."""
        queue: Iterator[Planned] = iter(planned)

        async def worker() -> None:
            for item in queue:
                if self._measurement.stopped:
                    return
                await self._send(item, time.perf_counter())

        async def body() -> None:
            async with asyncio.TaskGroup() as group:
                for _ in range(max(1, min(concurrency, len(planned)))):
                    group.create_task(worker())

        return await self._run(body(), len(planned))

    async def open_loop(
        self, planned: list[Planned], rate: float, poisson: bool = False, seed: int = 0
    ) -> Measurement:
        """Arrivals on a schedule (constant gaps, or exponential ones for Poisson), each sent when
        due whatever the answers before it; a request's ``intended`` time is its schedule's."""
        rng = random.Random(seed)
        gaps = [rng.expovariate(rate) if poisson else 1 / rate for _ in planned[1:]]
        if poisson and gaps:  # rescaled to the exact total, as vLLM does: the offered rate is the rate asked
            scale = len(gaps) / rate / sum(gaps)
            gaps = [gap * scale for gap in gaps]

        async def body() -> None:
            due = time.perf_counter()
            async with asyncio.TaskGroup() as group:
                for item, gap in zip(planned, [*gaps, 0.0], strict=True):
                    if self._measurement.stopped:
                        return
                    delay = due - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    group.create_task(self._send(item, due))
                    due += gap

        return await self._run(body(), len(planned))

    # the machinery
    async def _send(self, item: Planned, intended: float) -> None:
        sample = Sample(self.request_id(), item.model, item.stream, intended)
        self._measurement.records.append(Record(item, sample))
        await self.client.send(sample, item.body)
        measurement = self._measurement
        measurement.done += 1
        self._recent.append(sample.end or 0.0)
        if not sample.ok:
            measurement.errors += 1
        if sample.ok:
            self._succeeded = True
        elif not self._succeeded and fatal(sample) and self._measurement.stopped is None:
            measurement.stopped_by = sample
            self._stop(f"{sample.error}: {sample.detail}")

    def _stop(self, reason: str) -> None:
        self._measurement.stopped = reason
        if self._task is not None:
            self._task.cancel()

    async def _run(self, body: object, total: int) -> Measurement:
        measurement = self._measurement = Measurement()
        loop = asyncio.get_running_loop()
        self._task = asyncio.ensure_future(body)  # type: ignore[arg-type]
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(signal.SIGINT, self._stop, "interrupted")
        watcher = asyncio.ensure_future(self._watch(measurement, total))
        cpu, opened = time.process_time(), self.client.opened
        measurement.started = time.perf_counter()
        try:
            await self._task
        except asyncio.CancelledError:
            if measurement.stopped is None:
                raise
        finally:
            measurement.finished = time.perf_counter()
            measurement.cpu_s = time.process_time() - cpu
            measurement.connections_opened = self.client.opened - opened
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)
            for record in measurement.records:  # sent but never answered before the stop
                if record.sample.end is None:
                    record.sample.error = record.sample.error or CANCELLED
        return measurement

    async def _watch(self, measurement: Measurement, total: int) -> None:
        """The event-loop lag probe, and the progress line."""
        ticker = Ticker(self.label, total)
        try:
            while True:
                before = time.perf_counter()
                await asyncio.sleep(LAG_TICK_S)
                now = time.perf_counter()
                measurement.lag_s.append(max(0.0, now - before - LAG_TICK_S))
                if ticker.due():
                    recent = sum(1 for end in self._recent if now - end <= 2.0) / 2.0
                    status = f"requests, {measurement.errors} errors, {recent:.1f} req/s"
                    ticker.update(measurement.done, status)
        finally:
            ticker.close()


def validity(measurement: Measurement, offered_rate: float | None = None) -> dict[str, object]:
    """Whether the client measured the server or itself: the problems found (none = valid) and
    the figures they were judged on."""
    problems: list[str] = []
    records = measurement.measured
    cpu_share = measurement.cpu_s / measurement.wall_s
    lag = sorted(measurement.lag_s)
    lag_p95 = (percentile(lag, 95, True) or 0.0) * 1000
    lag_p99 = (percentile(lag, 99, True) or 0.0) * 1000
    latencies = [(r.sample.end - r.sample.sent) * 1000 for r in records if r.sample.ok and r.sample.end]
    lag_limit = max(LAG_LIMIT_MS, LAG_LIMIT_SHARE * (percentile(latencies, 50) or 0.0))
    waits = [r.sample.pool_wait * 1000 for r in records]
    send_lag = sorted((r.sample.sent - r.sample.intended) * 1000 for r in records if r.sample.sent)
    if cpu_share > 0.85 and measurement.wall_s >= 1.0:  # a shorter run has no share to judge
        problems.append(
            f"the client used {cpu_share:.0%} of a CPU: it was busy measuring itself (fewer requests at "
            "once per client, or more load hosts)"
        )
    if lag_p95 > lag_limit:
        problems.append(
            f"the client's event loop woke up late: {lag_p95:.1f} ms at P95, more than {lag_limit:.1f} ms "
            f"({LAG_LIMIT_SHARE:.0%} of the median latency): its stamps are as late (a busy load host)"
        )
    slow_waits = sum(1 for wait in waits if wait > 1)
    if slow_waits:
        problems.append(f"{slow_waits} requests waited for a free connection: the pool was too small")
    achieved = scheduled = None
    if offered_rate:
        sent = sorted(r.sample.sent for r in records if r.sample.sent)
        intended = sorted(r.sample.intended for r in records if r.sample.sent)
        if len(sent) > 1 and sent[-1] > sent[0] and intended[-1] > intended[0]:
            achieved = (len(sent) - 1) / (sent[-1] - sent[0])
            scheduled = (len(intended) - 1) / (intended[-1] - intended[0])
            if achieved < 0.95 * scheduled:
                problems.append(f"sent {achieved:.2f} req/s of the {scheduled:.2f} scheduled")
        limit = max(LAG_LIMIT_MS, 100 / offered_rate)  # 10 % of the mean gap between arrivals
        lag_p95 = percentile(send_lag, 95, True) or 0.0
        if lag_p95 > limit:
            problems.append(
                f"requests left {lag_p95:.1f} ms (P95) after their scheduled time, more than {limit:.1f} ms "
                "(10 % of the mean gap between arrivals)"
            )
    if measurement.stopped == "interrupted":
        problems.append("interrupted (Ctrl-C): the run is incomplete")
    timeouts = sum(1 for r in records if r.sample.error == TIMEOUT)
    return {
        "valid": not problems,
        "problems": problems,
        "client_cpu_share": round(cpu_share, 4),
        "loop_lag_p95_ms": round(lag_p95, 3),
        "loop_lag_p99_ms": round(lag_p99, 3),
        "pool_waits_over_1ms": slow_waits,
        "send_lag_p99_ms": round(percentile(send_lag, 99, True) or 0.0, 3),
        "offered_rate": offered_rate,
        "scheduled_rate": round(scheduled, 3) if scheduled is not None else None,
        "achieved_rate": round(achieved, 3) if achieved is not None else None,
        "connections_opened": measurement.connections_opened,
        "timeouts": timeouts,
    }
