"""vLLM-style Prometheus metrics of the simulator, written in the text exposition format by hand.

Names, types and histogram buckets follow vLLM's ``/metrics`` so that dashboards and alert rules
written for vLLM work against the simulator; every series carries ``model_name``. Latency
histograms and token counters record successful requests only (as vLLM does); the time per output
token is observed once per request, as its mean gap between tokens.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
TTFT_BUCKETS += (20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)
TPOT_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
TPOT_BUCKETS += (20.0, 40.0, 80.0)
LATENCY_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0)
LATENCY_BUCKETS += (120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0)


class Histogram:
    __slots__ = ("buckets", "count", "counts", "sum")

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)  # the last one is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.buckets, value)] += 1  # le is inclusive
        self.sum += value
        self.count += 1


class ModelMetrics:
    """What one model has served, in the quantities vLLM exposes."""

    def __init__(self) -> None:
        self.ttft = Histogram(TTFT_BUCKETS)
        self.tpot = Histogram(TPOT_BUCKETS)
        self.e2e = Histogram(LATENCY_BUCKETS)
        self.queue = Histogram(LATENCY_BUCKETS)
        self.prompt_tokens = 0
        self.generation_tokens = 0
        self.success: dict[str, int] = {"stop": 0, "length": 0}

    def record(
        self,
        ttft: float,
        tpot: float | None,
        e2e: float,
        queue: float,
        prompt: int,
        generated: int,
        reason: str,
    ) -> None:
        self.ttft.observe(ttft)
        if tpot is not None:
            self.tpot.observe(tpot)
        self.e2e.observe(e2e)
        self.queue.observe(queue)
        self.prompt_tokens += prompt
        self.generation_tokens += generated
        self.success[reason] = self.success.get(reason, 0) + 1


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(value: float) -> str:
    return repr(float(value))


def _le(bound: float) -> str:
    return repr(float(bound))


def exposition(models: Iterable[tuple[str, int, int, ModelMetrics]]) -> str:
    """The /metrics page for (model name, running, waiting, metrics) tuples."""
    rows = [(f'model_name="{_label(name)}"', running, waiting, m) for name, running, waiting, m in models]
    out: list[str] = []

    def header(name: str, kind: str, text: str) -> None:
        out.append(f"# HELP {name} {text}")
        out.append(f"# TYPE {name} {kind}")

    header("vllm:num_requests_running", "gauge", "Number of requests in model execution batches.")
    out.extend(f"vllm:num_requests_running{{{lbl}}} {_num(r)}" for lbl, r, _, _ in rows)
    header("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.")
    out.extend(f"vllm:num_requests_waiting{{{lbl}}} {_num(w)}" for lbl, _, w, _ in rows)

    counters = (
        ("vllm:prompt_tokens_total", "Number of prefill tokens processed.", "prompt_tokens"),
        ("vllm:generation_tokens_total", "Number of generation tokens processed.", "generation_tokens"),
    )
    for name, text, attribute in counters:
        header(name, "counter", text)
        out.extend(f"{name}{{{lbl}}} {_num(getattr(m, attribute))}" for lbl, _, _, m in rows)

    header("vllm:request_success_total", "counter", "Count of successfully processed requests.")
    for lbl, _, _, m in rows:
        for reason, count in sorted(m.success.items()):
            out.append(f'vllm:request_success_total{{finished_reason="{reason}",{lbl}}} {_num(count)}')

    histograms = (
        ("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", "ttft"),
        ("vllm:time_per_output_token_seconds", "Histogram of time per output token in seconds.", "tpot"),
        ("vllm:e2e_request_latency_seconds", "Histogram of end to end request latency in seconds.", "e2e"),
        ("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", "queue"),
    )
    for name, text, attribute in histograms:
        header(name, "histogram", text)
        for lbl, _, _, m in rows:
            h: Histogram = getattr(m, attribute)
            cumulative = 0
            for bound, count in zip(h.buckets, h.counts, strict=False):
                cumulative += count
                out.append(f'{name}_bucket{{le="{_le(bound)}",{lbl}}} {_num(cumulative)}')
            out.append(f'{name}_bucket{{le="+Inf",{lbl}}} {_num(h.count)}')
            out.append(f"{name}_sum{{{lbl}}} {_num(h.sum)}")
            out.append(f"{name}_count{{{lbl}}} {_num(h.count)}")
    return "\n".join(out) + "\n"
