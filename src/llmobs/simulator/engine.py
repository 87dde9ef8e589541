"""The simulated inference engine: per-model draws, cold loads, batch slots, faults and timing.

Nothing here knows HTTP. A server asks ``Simulator.start`` for a ``Generation`` (everything random
is drawn then, at arrival), answers at once when the draw is an HTTP fault, hangs on a timeout
fault, and otherwise awaits ``admit`` (cold load, then a batch slot) and ``generate``, which hands
the text over in pieces at the times the profile says. ``release`` must run in every case (a
``finally``), also when the client goes away and the task is cancelled: that frees the slot the way
vLLM and Ollama abort a request whose client disconnected.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from llmobs.simulator.metrics import ModelMetrics
from llmobs.simulator.profile import ModelProfile, Profile

# Filler text: one word per token.
_FILLER = (
    "the a model token stream latency gateway batch queue server request answer signal metric value "
    "system cluster node prompt output input river mountain light quiet simple steady careful bright "
    "green blue open clear small large early late rapid gentle honest useful across between under "
    "over through with without before after always often rarely maybe surely rather quite very "
    "and or but so yet because while when where which"
)
WORDS = _FILLER.split()


class Stalled(Exception):
    """A stall fault ran its course: the server closes the connection mid-response."""


@dataclass(slots=True)
class Plan:
    """Everything drawn for one request at its arrival."""

    fault: str | None  # None, "timeout", "stall" or "http_NNN"
    ttft_s: float
    interval_s: float  # between two tokens; 0 = all at once
    load_s: float  # what a cold load costs if this request is the one that starts it
    pieces: list[str]
    finish_reason: str  # "stop", or "length" when max_tokens cut the output
    hang_s: float

    @property
    def status(self) -> int | None:
        return int(self.fault[5:]) if self.fault and self.fault.startswith("http_") else None


class ModelState:
    """One served model: its random generator, slots, queue, load state and metrics."""

    def __init__(self, profile: ModelProfile, seed: int | None) -> None:
        self.profile = profile
        # A string seed is hashed with SHA-512 by random, so it is stable across processes.
        self.rng = random.Random(f"{seed}:{profile.name}") if seed is not None else random.Random()
        self.running = 0  # requests holding a batch slot
        self.waiting = 0  # requests waiting for a cold load or a slot
        self.in_flight = 0  # admitted and not yet released: the model is not idle
        self.last_done = time.monotonic()
        cold = profile.cold_load
        self.loaded = not (cold and cold.at_start)
        self._loading: asyncio.Future[None] | None = None
        self._queue: deque[asyncio.Future[None]] = deque()
        self.metrics = ModelMetrics()

    def plan(self, faults: dict[str, float], max_tokens: int | None) -> Plan:
        rng, p = self.rng, self.profile
        # Always the same draws in the same order, whatever the outcome, so sequences repeat.
        u = rng.random()
        ttft = p.ttft_ms.draw(rng) / 1000
        rate = p.tokens_per_second.draw(rng)
        count = max(1, round(p.output_tokens.draw(rng)))
        load = p.cold_load.load_ms.draw(rng) / 1000 if p.cold_load else 0.0
        fault, edge = None, 0.0
        for kind, probability in faults.items():
            edge += probability
            if u < edge:
                fault = kind
                break
        finish = "stop"
        if max_tokens is not None and count > max_tokens:
            count, finish = max_tokens, "length"
        words = rng.choices(WORDS, k=count)
        pieces = [words[0].capitalize(), *(" " + w for w in words[1:])]
        interval = 0.0 if rate <= 0 or math.isinf(rate) else 1 / rate
        return Plan(fault, ttft, interval, load, pieces, finish, p.hang_max_s)

    def is_loaded(self) -> bool:
        """What Ollama's /api/ps would say right now."""
        cold = self.profile.cold_load
        if cold is None:
            return True
        if not self.loaded or self._loading is not None:
            return False
        return self.in_flight > 0 or time.monotonic() - self.last_done <= cold.after_idle_s

    def needs_load(self) -> bool:
        cold = self.profile.cold_load
        if cold is None:
            return False
        if self._loading is not None or not self.loaded:
            return True
        return self.in_flight == 0 and time.monotonic() - self.last_done > cold.after_idle_s

    async def _load(self, seconds: float) -> None:
        try:
            await asyncio.sleep(seconds)
            self.loaded = True
        finally:
            self._loading = None

    async def load(self, seconds: float) -> None:
        """Start a load of this many seconds unless one is under way, and wait for it."""
        if self._loading is None:
            self.loaded = False
            self._loading = asyncio.ensure_future(self._load(seconds))
        await asyncio.shield(self._loading)  # a client leaving does not stop the load

    async def acquire(self) -> None:
        capacity = self.profile.batch_capacity
        if (capacity == 0 or self.running < capacity) and not self._queue:
            self.running += 1
            return
        slot = asyncio.get_running_loop().create_future()
        self._queue.append(slot)
        try:
            await slot
        except asyncio.CancelledError:
            if slot.done() and not slot.cancelled():
                self.release_slot()  # handed over just as the client left: pass it on
            raise

    def release_slot(self) -> None:
        while self._queue:
            slot = self._queue.popleft()
            if not slot.done():
                slot.set_result(None)  # the slot moves to the next in line; running is unchanged
                return
        self.running -= 1


class Generation:
    """One request's way through the model, with the timestamps the metrics need."""

    __slots__ = (
        "_holds_slot",
        "_in_flight",
        "arrived",
        "emitted",
        "load_s",
        "model",
        "plan",
        "prompt_tokens",
        "t_admitted",
        "t_first",
        "t_last",
        "t_ready",
    )

    def __init__(self, model: ModelState, plan: Plan, prompt_tokens: int, arrived: float) -> None:
        self.model = model
        self.plan = plan
        self.prompt_tokens = prompt_tokens
        self.arrived = arrived
        self.t_ready = self.t_admitted = self.t_first = self.t_last = self.arrived
        self.load_s = 0.0
        self.emitted = 0
        self._in_flight = False
        self._holds_slot = False

    async def admit(self) -> None:
        """Wait for a cold load (when due) and then for a batch slot."""
        m = self.model
        needs_load = m.needs_load()
        m.in_flight += 1
        self._in_flight = True
        m.waiting += 1
        try:
            if needs_load:
                await m.load(self.plan.load_s)
                self.t_ready = time.monotonic()
                self.load_s = self.t_ready - self.arrived
            await m.acquire()
            self._holds_slot = True
        finally:
            m.waiting -= 1
        self.t_admitted = time.monotonic()

    async def generate(self, emit: Callable[[list[str]], Awaitable[None]]) -> None:
        """Hand the pieces to ``emit`` when they are due; raises Stalled after a stall fault."""
        plan = self.plan
        pieces, interval = plan.pieces, plan.interval_s
        stop = max(1, len(pieces) // 2) if plan.fault == "stall" else len(pieces)
        model = self.model
        slowdown = model.profile.batch_slowdown
        due = self.t_admitted + plan.ttft_s
        i = 0
        while i < stop:
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.monotonic()
            # Everything due by now goes out together: cheap at high token rates. Each gap is
            # stretched by the requests decoding at this moment (the batch_slowdown formula).
            j = i + 1
            if interval <= 0:
                j = stop
            else:
                gap = interval * (1 + slowdown * max(0, model.running - 1))
                due += gap
                while j < stop and due <= now:
                    j += 1
                    due += gap
            first = i == 0
            batch = pieces[i:j]
            i = self.emitted = j
            await emit(batch)
            # the truth's stamps: when the tokens were handed to the connection (a stream's are
            # written by then), not when they were due
            self.t_last = time.monotonic()
            if first:
                self.t_first = self.t_last
        if plan.fault == "stall":
            await asyncio.sleep(plan.hang_s)
            raise Stalled

    def succeeded(self) -> None:
        n = len(self.plan.pieces)
        tpot = (self.t_last - self.t_first) / (n - 1) if n > 1 else None
        self.model.metrics.record(
            ttft=self.t_first - self.arrived,
            tpot=tpot,
            e2e=self.t_last - self.arrived,
            queue=self.t_admitted - self.t_ready,
            prompt=self.prompt_tokens,
            generated=n,
            reason=self.plan.finish_reason,
        )

    def release(self) -> None:
        m = self.model
        if self._holds_slot:
            self._holds_slot = False
            m.release_slot()
        if self._in_flight:
            self._in_flight = False
            m.in_flight -= 1
            m.last_done = time.monotonic()


class Simulator:
    """The models one provider serves, plus the runtime fault overrides of the admin endpoint."""

    def __init__(self, profile: Profile, kind: str, only: list[str] | None = None, seed: int | None = None):
        served = profile.for_type(kind)
        if only:
            served = {name: served[name] for name in only}
        seed = profile.seed if seed is None else seed
        self.kind = kind
        self.profile = profile
        self.seed = seed
        self.models = {name: ModelState(p, seed) for name, p in served.items()}
        self.overrides: dict[str, dict[str, float]] = {}  # model name or "*" -> fault rates

    def faults_for(self, name: str) -> dict[str, float]:
        for key in (name, "*"):
            if key in self.overrides:
                return self.overrides[key]
        return self.models[name].profile.errors

    def set_faults(self, model: str | None, rates: dict[str, float] | None) -> None:
        """Replace the fault rates of one model (or of all, model None); rates None = back to the profile."""
        key = model or "*"
        if rates is None:
            if key == "*":
                self.overrides.clear()
            else:
                self.overrides.pop(key, None)
        else:
            self.overrides[key] = dict(sorted(rates.items()))

    def start(
        self, model: ModelState, prompt_tokens: int, max_tokens: int | None, arrived: float
    ) -> Generation:
        """A generation for a request that ``arrived`` (CLOCK_MONOTONIC) at the server."""
        plan = model.plan(self.faults_for(model.profile.name), max_tokens)
        return Generation(model, plan, prompt_tokens, arrived)


def estimate_tokens(text: str) -> int:
    """Prompt tokens without a tokenizer: about four characters per token, at least one."""
    return max(1, (len(text) + 3) // 4)
