#!/usr/bin/env python3
"""What our request logger costs a LiteLLM proxy, next to LiteLLM's own Prometheus callback.

Targets: our logger (arm B against arm A) adds at most 0.5 ms to the median latency and takes at
most 2 % of the throughput of the same gateway without it; what the bundle deploys (arm E against
arm A) takes at most 5 %.

One run starts the simulator (vLLM dialect, zero delay, 16 output tokens) and one LiteLLM proxy
per arm on loopback, each with one worker and the role's config (without Redis), differing only in
callbacks:

    A  none
    N  a CustomLogger that does nothing: LiteLLM's own cost of calling any logger (a control)
    B  llmobs.gateway.litellm_callback.request_logger (ours)
    C  prometheus (+ service_callback prometheus_system), every LiteLLM metric
    D  prometheus + ours, every LiteLLM metric: what the bundle deployed before issue 16
    E  prometheus + ours with the role's litellm_prometheus_metrics, litellm_prometheus_services and
       litellm_prometheus_lean: what the bundle deploys

The proxies share CPU 0; the simulator and this client (stdlib asyncio, HTTP/1.1 keep-alive) use
CPU 1. On a shared 2-core VM the speed of a core drifts by tens of percent within seconds (the
same config measured twice, a few seconds apart, differs that much), so arms measured one after
the other mostly measure the drift. Each comparison is therefore measured side by side:

1. latency (--rounds rounds of --latency-requests per arm): one request at a time at concurrency 1,
   to the arms in turn in a new random order every cycle, with a short pause after each answer so
   that the work a proxy does after its answer (LiteLLM runs callbacks then) is not billed to the
   next arm's request; that work shows in the CPU figures instead;
2. throughput (--rounds windows of --requests-per-round answers per arm): every arm loaded at
   once with --concurrency closed-loop connections. The proxies are CPU-bound and share one core,
   each in a session of its own (the kernel's autogroup then shares the core per process, not per
   thread); throughput is answers per CPU-second of the proxy, i.e. the req/s of a core of its
   own, measured at the same moments for every arm. The raw req/s on the shared core are shown too.
   CPU time is read from each proxy's CPU-time clock (to the nanosecond, ended threads included).
   A window holds 240 answers per arm: each arm has --concurrency requests in flight when a window
   closes, whose work falls partly in the next one; at 60 answers that alone scattered a window's
   ratio by about 10 %, at 240 by a few.

Comparisons are paired (by latency round, by load window) and summarised by the median with a
distribution-free (sign-test) confidence interval. A last phase loads one arm at a time on CPU 0
for absolute figures (req/s, median and p95 under load); they carry the drift, so they are shown
but not used for the verdict.

A run is invalid (exit 1) on a failed request, a request log of B, D or E that does not hold exactly
one valid line per request, or a Prometheus arm whose /metrics/ did not count every request.

Exit 0 when the targets are met, 1 when one is missed or the run is invalid, 2 when the setup
fails (venv, simulator, proxy start). Loopback only; every phase is bounded in requests and time.

    .venv/bin/python benchmarks/gateway_logging_overhead.py [--litellm-python PATH] [--rounds 16]
        [--latency-requests 20] [--requests-per-round 240] [--concurrency 8] [--arms ANBCDE] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import math
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from llmobs.cli import process_cpu_seconds as cpu_seconds
from llmobs.cli import progress, stop_process

REPO = Path(__file__).resolve().parents[1]
# The working tree's llmobs wins over the copy installed in the venv: what is measured is this code.
SOURCE_ENV = {"PYTHONPATH": str(REPO / "src")}
DEFAULT_VENV = REPO / ".cache" / "bench-litellm-venv"
OURS = "llmobs.gateway.litellm_callback.request_logger"
# Ports other services of the bundle (or a running lab) use on this host: never bind them.
RESERVED_PORTS = {8765, 6379, 9121, 4000, 4001, 11434, 8000, 8001, 9090}
TARGET_MEDIAN_MS = 0.5
TARGET_THROUGHPUT_RATIO = {"B-vs-A": 0.98, "E-vs-A": 0.95}
ROLE_DEFAULTS = yaml.safe_load((REPO / "roles" / "litellm" / "defaults" / "main.yml").read_text())
MODEL = "bench"
PROFILE = f"""\
seed: 1
models:
  {MODEL}:
    types: [vllm]
    ttft_ms: 0
    tokens_per_second: 0
    output_tokens: 16
    batch_capacity: 0
    cold_load: {{at_start: false, load_ms: 0}}
"""
BODY = json.dumps(
    {"model": MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": "How fast can you answer?"}]}
).encode()


@dataclass
class Arm:
    name: str
    label: str
    callbacks: list[str]
    service_callbacks: list[str]
    port: int = 0
    process: subprocess.Popen | None = None
    log_file: Path | None = None
    settings: dict[str, Any] | None = None  # further litellm_settings
    log_settings: dict[str, Any] | None = None  # further settings of our callback
    requests_sent: int = 0  # every request this arm answered, warm-ups included (log lines expected)
    failed: int = 0

    @property
    def ours(self) -> bool:
        return OURS in self.callbacks

    @property
    def prometheus(self) -> bool:
        return "prometheus" in self.callbacks


NOOP = "bench_noop_logger.noop_logger"
# A CustomLogger that does nothing: what LiteLLM's callback machinery costs whatever the logger does.
# LiteLLM loads a callback module from the config's directory: start_proxy writes it there.
NOOP_MODULE = """\
from litellm.integrations.custom_logger import CustomLogger


class NoopLogger(CustomLogger):
    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        pass

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
        pass


noop_logger = NoopLogger()
"""
CALLBACK_MODULES = {"bench_noop_logger": NOOP_MODULE}
ARMS = {
    "A": Arm("A", "no callbacks", [], []),
    "N": Arm("N", "no-op CustomLogger", [NOOP], []),
    "B": Arm("B", "our logger", [OURS], []),
    "C": Arm("C", "prometheus", ["prometheus"], ["prometheus_system"]),
    "D": Arm("D", "prometheus + ours, every metric", ["prometheus", OURS], ["prometheus_system"]),
    "E": Arm(
        "E",
        "prometheus + ours, the role's metrics (deployed)",
        ["prometheus", OURS],
        ["prometheus_system"],
        # as roles/litellm/templates/config.yaml.j2 renders it
        settings={
            "prometheus_metrics_config": [
                {"group": "bundle", "metrics": ROLE_DEFAULTS["litellm_prometheus_metrics"]}
            ]
        },
        # as roles/litellm/vars/main.yml hands it to our callback
        log_settings={
            "prometheus_services": ROLE_DEFAULTS["litellm_prometheus_services"],
            "prometheus_lean": ROLE_DEFAULTS["litellm_prometheus_lean"],
        },
    ),
}


class SetupError(Exception):
    """The venv, the simulator or a proxy could not be made ready: exit 2."""


# ---------------------------------------------------------------------------------------------
# processes


def pin(pid: int, cpus: set[int] | None) -> None:
    """Pin every thread of a process (sched_setaffinity on a pid moves only that thread)."""
    if cpus is None:
        return
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(int(task.name), cpus)


def _die_with_parent() -> None:
    # PR_SET_PDEATHSIG: a proxy must not outlive a benchmark killed with SIGKILL.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def free_port() -> int:
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in RESERVED_PORTS:
            return port
    raise SetupError("no free port on 127.0.0.1")


def stop(process: subprocess.Popen | None) -> None:
    stop_process(process, grace_s=15)


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


def start_simulator(python: str, workdir: Path, cpus: set[int] | None) -> tuple[subprocess.Popen, int]:
    profile = workdir / "profile.yaml"
    profile.write_text(PROFILE)
    output = workdir / "simulator.out"  # a file, not a pipe nobody reads once it has started
    command = [python, "-m", "llmobs.simulator", "--type", "vllm", "--host", "127.0.0.1", "--port", "0"]
    command += ["--profile", str(profile), "--model", MODEL]
    with output.open("wb") as sink:
        process = subprocess.Popen(
            command,
            env=os.environ | SOURCE_ENV,
            stdout=sink,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
            start_new_session=True,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        text = output.read_text(errors="replace")
        if "http://127.0.0.1:" in text:
            pin(process.pid, cpus)
            return process, int(text.split("http://127.0.0.1:")[1].split()[0])
        time.sleep(0.1)
    stop(process)
    raise SetupError(f"the simulator did not start:\n{tail(output)}")


def proxy_config(arm: Arm, sim_port: int) -> dict[str, Any]:
    """The role's config.yaml (roles/litellm/templates/config.yaml.j2) without Redis, one deployment."""
    settings: dict[str, Any] = {
        "prometheus_exclude_labels": ROLE_DEFAULTS["litellm_prometheus_exclude_labels"],
        "require_auth_for_metrics_endpoint": True,
        "request_timeout": 60,
    }
    if arm.callbacks:
        settings["callbacks"] = arm.callbacks
    if arm.service_callbacks:
        settings["service_callback"] = arm.service_callbacks
    settings |= arm.settings or {}
    return {
        "model_list": [
            {
                "model_name": MODEL,
                "litellm_params": {
                    "model": f"hosted_vllm/{MODEL}",
                    "api_base": f"http://127.0.0.1:{sim_port}/v1",
                    "api_key": "none",
                    "timeout": 60,
                    "stream_timeout": 60,
                },
                "model_info": {"id": f"sim/{MODEL}"},
            }
        ],
        "litellm_settings": settings,
        "router_settings": {
            "routing_strategy": "simple-shuffle",
            "num_retries": 2,
            "timeout": 60,
            "allowed_fails": 3,
            "cooldown_time": 30,
        },
        "general_settings": {
            "master_key": "os.environ/LITELLM_MASTER_KEY",
            "include_call_id_in_error_body": True,
        },
    }


def start_proxy(arm: Arm, python: str, workdir: Path, sim_port: int, master_key: str) -> None:
    home = workdir / f"arm-{arm.name}"
    home.mkdir()
    config = home / "config.yaml"
    config.write_text(json.dumps(proxy_config(arm, sim_port), indent=2))  # JSON is YAML
    for callback in arm.callbacks:
        module = callback.rsplit(".", 1)[0]
        if module in CALLBACK_MODULES:
            (home / f"{module}.py").write_text(CALLBACK_MODULES[module])
    arm.log_file = home / "requests.log"
    log_settings = {"log_file": str(arm.log_file), **(arm.log_settings or {})}
    (home / "request-log.json").write_text(json.dumps(log_settings))
    # Nothing from our environment that would point LiteLLM at Redis, a database or a proxy.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("REDIS", "DATABASE", "LITELLM", "PROMETHEUS"))
    }
    env.update(
        LITELLM_MASTER_KEY=master_key,
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        LLMOBS_REQUEST_LOG_SETTINGS=str(home / "request-log.json"),
        PROMETHEUS_DISABLE_CREATED_SERIES="True",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        **SOURCE_ENV,
    )
    arm.port = free_port()
    litellm = Path(python).with_name("litellm")
    command = [str(litellm)] if litellm.exists() else [python, "-m", "litellm.proxy.proxy_cli"]
    command += ["--config", str(config), "--host", "127.0.0.1", "--port", str(arm.port), "--num_workers", "1"]
    # A session of its own: the kernel's autogroup then shares the core per proxy, not per thread.
    with (home / "proxy.out").open("wb") as sink:
        arm.process = subprocess.Popen(
            command,
            cwd=home,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
            start_new_session=True,
        )


async def wait_ready(arm: Arm, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if arm.process is not None and arm.process.poll() is not None:
            break
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, TimeoutError):
            status, _, _ = await http_once(arm.port, "GET", "/health/readiness", b"", None, 5)
            if status == 200:
                return
        await asyncio.sleep(0.5)
    assert arm.log_file is not None
    raise SetupError(
        f"proxy {arm.name} ({arm.label}) not ready on port {arm.port} after {timeout:g} s:\n"
        + tail(arm.log_file.with_name("proxy.out"))
    )


# ---------------------------------------------------------------------------------------------
# HTTP/1.1 client (stdlib only: keep-alive, Content-Length or chunked bodies)


class Connection:
    def __init__(self, port: int, key: str) -> None:
        self.port = port
        self.request = (
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n"
        ).encode() + BODY
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def chat(self) -> tuple[int, dict[str, str], float]:
        """One chat completion; returns status, response headers and seconds from send to last byte."""
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        start = time.perf_counter()
        self.writer.write(self.request)
        status, headers, _ = await read_response(self.reader)
        elapsed = time.perf_counter() - start
        if headers.get("connection") == "close":
            self.close()
        return status, headers, elapsed

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            parts.append((await reader.readexactly(size + 2))[:-2])
        await reader.readuntil(b"\r\n")
        body = b"".join(parts)
    else:
        body = await reader.read()
    return status, headers, body


async def http_once(
    port: int, method: str, path: str, body: bytes, key: str | None, timeout: float
) -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection (health checks, /metrics/)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    try:
        auth = f"Authorization: Bearer {key}\r\n" if key else ""
        writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}Content-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n".encode()
            + body
        )
        return await asyncio.wait_for(read_response(reader), timeout)
    finally:
        writer.close()


# ---------------------------------------------------------------------------------------------
# measurement


@dataclass
class Bench:
    """What every phase needs: the processes, the key, and the core the proxies are pinned to."""

    arms: list[Arm]
    simulator: subprocess.Popen
    key: str
    proxy_cpus: set[int] | None  # None: nothing pinned

    def pids(self) -> dict[str, int]:
        return {arm.name: arm.process.pid for arm in self.arms if arm.process is not None}


async def send(arm: Arm, conn: Connection) -> tuple[float | None, dict[str, str]]:
    """One chat completion: milliseconds from send to last byte, None when it failed."""
    arm.requests_sent += 1
    try:
        status, headers, seconds = await asyncio.wait_for(conn.chat(), timeout=30)
    except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
        conn.close()
        status, headers, seconds = 0, {}, 0.0
    if status != 200:
        arm.failed += 1
        return None, headers
    return seconds * 1000.0, headers


def cpu_times(pids: dict[str, int]) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


async def settle(pids: list[int], limit: float = 5.0) -> None:
    """Wait until the processes use under 5 % CPU for 200 ms: LiteLLM runs callbacks after the answer."""
    deadline = time.monotonic() + limit
    before = sum(map(cpu_seconds, pids))
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        now = sum(map(cpu_seconds, pids))
        if now - before < 0.01 * len(pids):
            return
        before = now


async def latency_round(bench: Bench, cycles: int, pause: float, rng: random.Random) -> dict[str, Any]:
    """Concurrency 1, the arms in turn: per arm, the latencies and LiteLLM's overhead header."""
    conns = {arm.name: Connection(arm.port, bench.key) for arm in bench.arms}
    result: dict[str, Any] = {arm.name: {"ms": [], "litellm_overhead_ms": []} for arm in bench.arms}
    deadline = time.monotonic() + 120
    try:
        for arm in bench.arms:  # unmeasured: connects and wakes the proxy's pool to the simulator
            await send(arm, conns[arm.name])
        for _ in range(cycles):
            if time.monotonic() > deadline:
                break
            for arm in rng.sample(bench.arms, len(bench.arms)):
                ms, headers = await send(arm, conns[arm.name])
                if ms is not None:
                    result[arm.name]["ms"].append(ms)
                    with contextlib.suppress(KeyError, ValueError):
                        result[arm.name]["litellm_overhead_ms"].append(
                            float(headers["x-litellm-overhead-duration-ms"])
                        )
                await asyncio.sleep(pause)
    finally:
        for conn in conns.values():
            conn.close()
    return result


async def load(
    bench: Bench,
    arms: list[Arm],
    concurrency: int,
    requests: int,
    windows: int,
    limit: float,
    on_window: Callable[[int, dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Load ``arms`` at once, ``concurrency`` closed-loop connections each, and measure windows.

    The first window opens once every connection has had an answer (ramp-up); each closes after
    ``requests`` answers per arm on average and the next one opens at once. Requests still in
    flight at the end are drained, not counted. Per window: per arm its answers, their latencies
    and its CPU time, and the CPU the others used.
    """
    pids = bench.pids() | {"simulator": bench.simulator.pid}
    done = {arm.name: 0 for arm in arms}
    ms: dict[str, list[float]] = {arm.name: [] for arm in arms}
    stop = False
    deadline = time.monotonic() + limit

    async def worker(arm: Arm) -> None:
        conn = Connection(arm.port, bench.key)
        try:
            while not stop and time.monotonic() < deadline:
                latency, _ = await send(arm, conn)
                if latency is None:
                    await asyncio.sleep(0.1)  # a failing proxy must not turn this into a busy loop
                    continue
                done[arm.name] += 1
                ms[arm.name].append(latency)
        finally:
            conn.close()

    def snapshot() -> dict[str, Any]:
        return {
            "t": time.perf_counter(),
            "done": dict(done),
            "ms": {name: len(values) for name, values in ms.items()},
            "cpu": cpu_times(pids),
            "client": time.process_time(),
            "core": core_times(bench.proxy_cpus),
        }

    tasks = [asyncio.create_task(worker(arm)) for arm in arms for _ in range(concurrency)]
    results = []
    try:
        while min(done.values()) < concurrency and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        before = snapshot()
        for number in range(windows):
            target = sum(before["done"].values()) + requests * len(arms)
            while sum(done.values()) < target and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            if sum(done.values()) < target:
                progress(f"time limit of the load phase reached: {number} of {windows} windows measured")
                break
            after = snapshot()
            results.append(window_result(arms, before, after, ms, bench.proxy_cpus is not None))
            if on_window:
                on_window(number + 1, results[-1])
            before = after
    finally:
        stop = True
        await asyncio.wait(tasks, timeout=40)  # each request is bounded to 30 s
    return results


def window_result(
    arms: list[Arm], before: dict[str, Any], after: dict[str, Any], ms: dict[str, list[float]], pinned: bool
) -> dict[str, Any]:
    seconds = after["t"] - before["t"]
    used = {name: after["cpu"][name] - before["cpu"][name] for name in after["cpu"]}
    client = after["client"] - before["client"]
    proxies = sum(v for name, v in used.items() if name != "simulator")
    # pinned: the proxy core runs only proxies, so the rest of its busy time is someone else's
    ours = proxies if pinned else sum(used.values()) + client
    result: dict[str, Any] = {
        arm.name: {
            "requests": after["done"][arm.name] - before["done"][arm.name],
            "seconds": seconds,
            "cpu_s": used[arm.name],
            "ms": ms[arm.name][before["ms"][arm.name] : after["ms"][arm.name]],
        }
        for arm in arms
    }
    result["window"] = {
        "seconds": seconds,
        "proxies_cpu_s": proxies,
        "client_cpu_s": client,
        "simulator_cpu_s": used["simulator"],
        "foreign_cpu_s": max(0.0, after["core"][0] - before["core"][0] - ours),
        "steal_s": after["core"][1] - before["core"][1],
    }
    return result


def core_times(cpus: set[int] | None) -> tuple[float, float]:
    """Busy and steal seconds of some cores (all when None) since boot, from /proc/stat."""
    busy = steal = 0
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if not name.startswith("cpu") or (name == "cpu") != (cpus is None):
            continue
        if cpus is not None and int(name[3:]) not in cpus:
            continue
        user, nice, system, _idle, _iowait, irq, softirq, steal_ = (int(v) for v in values[:8])
        busy += user + nice + system + irq + softirq
        steal += steal_
    tick = os.sysconf("SC_CLK_TCK")
    return busy / tick, steal / tick


# ---------------------------------------------------------------------------------------------
# statistics


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (raw samples, never merged percentiles)."""
    xs = sorted(values)
    if not xs:
        return math.nan
    pos = (len(xs) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(xs) - 1)
    return xs[low] + (xs[high] - xs[low]) * (pos - low)


def median_ci(values: list[float], level: float = 0.95) -> tuple[float, float, float]:
    """Distribution-free confidence interval of a median from order statistics (sign test).

    Returns (low, high, coverage); coverage is the exact one, at least ``level`` when there are
    enough values (6 or more for 95 %), else that of the full range."""
    xs = sorted(values)
    n = len(xs)
    k = 0  # number of values cut from each end
    tail_ = 0.0
    for j in range(n):
        tail_ += math.comb(n, j) / 2**n
        if tail_ > (1 - level) / 2:
            break
        k = j + 1
    k = max(k, 1)
    coverage = 1 - 2 * sum(math.comb(n, j) for j in range(k)) / 2**n
    return xs[k - 1], xs[n - k], coverage


def paired(values: list[float]) -> dict[str, Any]:
    """Median of per-round paired values with its confidence interval."""
    if not values:
        return {"estimate": math.nan, "low": math.nan, "high": math.nan, "coverage": 0.0, "rounds": []}
    low, high, coverage = median_ci(values)
    return {
        "estimate": statistics.median(values),
        "low": low,
        "high": high,
        "coverage": coverage,
        "rounds": values,
    }


def compare(result: dict[str, Any], base: str, other: str) -> dict[str, Any]:
    """Arm ``other`` against arm ``base``, paired by latency round and by load window."""

    def capacity(w: dict[str, Any], name: str) -> float:
        return w[name]["requests"] / w[name]["cpu_s"] if w[name]["cpu_s"] else math.nan

    medians = [
        (statistics.median(r[base]["ms"]), statistics.median(r[other]["ms"]))
        for r in result["latency"]
        if r[base]["ms"] and r[other]["ms"]
    ]
    windows = [w for w in result["windows"] if capacity(w, base) > 0 and capacity(w, other) > 0]

    def pooled(name: str) -> float:
        cpu = sum(w[name]["cpu_s"] for w in windows)
        return sum(w[name]["requests"] for w in windows) / cpu if cpu else math.nan

    return {
        "median_delta_ms": paired([o - b for b, o in medians]),
        # requests per CPU-second: the throughput of a dedicated core
        "throughput_ratio": paired([capacity(w, other) / capacity(w, base) for w in windows]),
        # the same from the sums over all windows (counts rare long pauses such as a full GC fully)
        "pooled_throughput_ratio": pooled(other) / pooled(base) if windows else math.nan,
        # answers in the same window on the shared core (depends on how the kernel split it)
        "shared_core_rate_ratio": paired([w[other]["requests"] / w[base]["requests"] for w in windows]),
    }


# ---------------------------------------------------------------------------------------------
# checks after the run


def count_log_lines(arm: Arm) -> dict[str, int]:
    """Lines of an arm's request log, the well-formed success records, and their distinct request ids."""
    assert arm.log_file is not None
    lines = good = 0
    ids = set()
    if arm.log_file.exists():
        with arm.log_file.open() as handle:
            for line in handle:
                lines += 1
                with contextlib.suppress(ValueError):
                    record = json.loads(line)
                    if record.get("schema") == "llmobs.request/1" and record.get("status") == "success":
                        good += 1
                        ids.add(record.get("request_id"))
    return {"lines": lines, "success_records": good, "distinct_request_ids": len(ids - {None})}


async def wait_log_lines(arm: Arm, limit: float = 10.0) -> dict[str, int]:
    """The writer thread and LiteLLM's logging worker run behind the responses: wait for the count."""
    deadline = time.monotonic() + limit
    counts = count_log_lines(arm)
    while counts["lines"] < arm.requests_sent and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        counts = count_log_lines(arm)
    return counts


async def prometheus_count(arm: Arm, key: str) -> float | None:
    """litellm_proxy_total_requests_metric_total summed over its series, from the arm's /metrics/."""
    try:
        status, _, body = await http_once(arm.port, "GET", "/metrics/", b"", key, 10)
    except (TimeoutError, OSError, asyncio.IncompleteReadError):
        return None
    if status != 200:
        return None
    total = 0.0
    for line in body.decode(errors="replace").splitlines():
        if line.startswith("litellm_proxy_total_requests_metric_total"):
            total += float(line.rsplit(" ", 1)[1])
    return total


# ---------------------------------------------------------------------------------------------
# the LiteLLM venv


def pins() -> list[str]:
    lines = (REPO / "requirements-services.txt").read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def litellm_version_pin() -> str:
    return next(p.split("==")[1] for p in pins() if p.startswith("litellm"))


def venv_ok(python: str) -> str | None:
    """None when the venv has what the benchmark needs, else why not."""
    probe = (
        "import importlib.metadata as m, prometheus_client, llmobs.gateway.request_log;"
        "print(m.version('litellm'))"
    )
    try:
        result = subprocess.run(
            [python, "-c", probe], env=os.environ | SOURCE_ENV, capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return str(error)
    if result.returncode != 0:
        return (result.stderr.strip().splitlines() or ["import failed"])[-1]
    version = result.stdout.strip()
    if version != litellm_version_pin():
        return f"litellm {version} installed, {litellm_version_pin()} pinned"
    return None


def ensure_venv(python: str | None) -> str:
    if python:
        problem = venv_ok(python)
        if problem:
            raise SetupError(f"--litellm-python {python}: {problem}")
        # absolute, as the proxies start in their own directories; not resolved: a venv's python
        # is a symlink to the interpreter it was made from
        return os.path.abspath(python)
    python = str(DEFAULT_VENV / "bin" / "python")
    if Path(python).exists() and venv_ok(python) is None:
        progress(f"reusing {DEFAULT_VENV}")
        return python
    progress(f"creating {DEFAULT_VENV} (python3 -m venv; about 1 minute and 750 MB)")
    subprocess.run(["python3", "-m", "venv", "--clear", str(DEFAULT_VENV)], check=True)
    progress(f"pip install -r requirements-services.txt: {', '.join(pins())}")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "-r", str(REPO / "requirements-services.txt")], check=True
    )
    # From a copy of the package, so that building it writes nothing into the working tree.
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(REPO / "pyproject.toml", tmp)
        shutil.copytree(
            REPO / "src", Path(tmp) / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__")
        )
        progress(f"pip install --no-deps llmobs (from a copy of {REPO / 'src'})")
        subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", tmp], check=True)
    problem = venv_ok(python)
    if problem:
        raise SetupError(f"{DEFAULT_VENV}: {problem}")
    return python


# ---------------------------------------------------------------------------------------------
# the run


async def benchmark(args: argparse.Namespace, python: str, workdir: Path) -> dict[str, Any]:
    cpus = sorted(os.sched_getaffinity(0))
    pinned = len(cpus) >= 2 and not args.no_pin
    proxy_cpus, load_cpus = ({cpus[0]}, set(cpus[1:])) if pinned else (None, None)
    arms = [ARMS[name] for name in args.arms]
    key = "sk-bench-" + secrets.token_hex(16)
    started = time.monotonic()
    simulator, sim_port = start_simulator(python, workdir, load_cpus)
    bench = Bench(arms, simulator, key, proxy_cpus)
    result: dict[str, Any] = {"arms": list(args.arms), "pinned": pinned, "startup_s": math.nan}
    result |= {"latency": [], "windows": [], "dedicated": {}, "checks": {}}
    try:
        progress(f"simulator pid {simulator.pid} on 127.0.0.1:{sim_port}")
        for arm in arms:
            start_proxy(arm, python, workdir, sim_port, key)
            progress(f"proxy {arm.name} ({arm.label}): pid {arm.process.pid}, port {arm.port}")
        pids = [arm.process.pid for arm in arms if arm.process is not None]
        # Started unpinned so that their heavy imports use both cores; pinned once ready.
        await asyncio.gather(*(wait_ready(arm, args.startup_timeout) for arm in arms))
        for arm in arms:
            pin(arm.process.pid, proxy_cpus)
        if load_cpus:
            os.sched_setaffinity(0, load_cpus)
        result["startup_s"] = time.monotonic() - started
        where = f"proxies on CPU {sorted(proxy_cpus)}, simulator and client on {sorted(load_cpus)}"
        progress(f"all ready after {result['startup_s']:.0f} s; {where if pinned else 'not pinned'}")
        for arm in arms:  # first requests pay lazy imports and pool creation
            await load(bench, [arm], args.concurrency, args.warmup, 1, args.phase_timeout)
        await settle(pids)
        progress(f"warm-up done ({args.warmup} requests per arm)")

        rng = random.Random(args.seed)
        deadline = time.monotonic() + args.max_seconds
        for number in range(1, args.rounds + 1):
            if time.monotonic() > deadline:
                progress(f"--max-seconds reached: {number - 1} latency rounds")
                break
            latency = await latency_round(bench, args.latency_requests, args.pause_ms / 1000, rng)
            result["latency"].append(latency)
            medians = (f"{n} {statistics.median(latency[n]['ms'] or [math.nan]):.2f}" for n in args.arms)
            progress(f"latency round {number}/{args.rounds}, median ms: {', '.join(medians)}")
        await settle(pids)

        def show(number: int, window: dict[str, Any]) -> None:
            cost = (f"{n} {1000 * window[n]['cpu_s'] / max(window[n]['requests'], 1):.1f}" for n in args.arms)
            progress(f"load window {number}/{args.rounds}, proxy CPU-ms per answer: {', '.join(cost)}")

        limit = min(args.phase_timeout * args.rounds, max(30.0, deadline - time.monotonic()))
        result["windows"] = await load(
            bench, arms, args.concurrency, args.requests_per_round, args.rounds, limit, show
        )
        await settle(pids)

        # Absolute figures, one arm on its own core at a time (not used for the verdict).
        for number in range(1, args.dedicated_rounds + 1):
            for name in rng.sample(args.arms, len(arms)):
                alone = await load(
                    bench, [ARMS[name]], args.concurrency, args.requests_per_round, 1, args.phase_timeout
                )
                await settle(pids)
                result["dedicated"].setdefault(name, []).extend(alone)
            progress(f"one arm at a time: round {number}/{args.dedicated_rounds} done")

        for arm in arms:
            entry: dict[str, Any] = {"requests": arm.requests_sent, "failed": arm.failed}
            if arm.ours:
                entry["log"] = await wait_log_lines(arm)
            if arm.prometheus:
                entry["prometheus_requests"] = await prometheus_count(arm, key)
            result["checks"][arm.name] = entry
    finally:
        for arm in arms:
            stop(arm.process)
        stop(simulator)
    for arm in arms:
        if arm.ours:  # after a clean stop (the writer flushes at exit): nothing more, nothing less
            result["checks"][arm.name]["log_after_stop"] = count_log_lines(arm)
    result["total_s"] = time.monotonic() - started
    return result


def arm_summary(name: str, result: dict[str, Any]) -> dict[str, Any]:
    lat = [x for r in result["latency"] for x in r[name]["ms"]]
    overhead = [x for r in result["latency"] for x in r[name]["litellm_overhead_ms"]]
    shared = [w[name] for w in result["windows"]]
    requests, cpu = sum(w["requests"] for w in shared), sum(w["cpu_s"] for w in shared)
    window_s = sum(w["seconds"] for w in shared)
    alone = [w[name] for w in result["dedicated"].get(name, [])]
    alone_ms = [x for w in alone for x in w["ms"]]
    alone_s, alone_cpu = sum(w["seconds"] for w in alone), sum(w["cpu_s"] for w in alone)
    return {
        "label": ARMS[name].label,
        "callbacks": ARMS[name].callbacks,
        "service_callbacks": ARMS[name].service_callbacks,
        "c1_median_ms": statistics.median(lat) if lat else math.nan,
        "c1_p95_ms": percentile(lat, 0.95),
        "c1_requests": len(lat),
        "c1_litellm_overhead_median_ms": statistics.median(overhead) if overhead else math.nan,
        "cpu_ms_per_request": 1000 * cpu / requests if requests else math.nan,
        "requests_per_cpu_second": requests / cpu if cpu else math.nan,
        "shared_core_rps": requests / window_s if window_s else math.nan,
        "shared_core_cpu_share": cpu / window_s if window_s else math.nan,
        "shared_core_requests": requests,
        "alone_rps": len(alone_ms) / alone_s if alone_s else math.nan,
        "alone_median_ms": statistics.median(alone_ms) if alone_ms else math.nan,
        "alone_p95_ms": percentile(alone_ms, 0.95),
        "alone_cpu_share": alone_cpu / alone_s if alone_s else math.nan,
        "alone_cpu_ms_per_request": 1000 * alone_cpu / len(alone_ms) if alone_ms else math.nan,
        "alone_requests": len(alone_ms),
    }


def summarise(result: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    names = result["arms"]
    per_arm = {name: arm_summary(name, result) for name in names}
    comparisons = {}
    for other, base, what in (
        ("B", "A", "our logger"),
        ("N", "A", "LiteLLM calling a no-op logger"),
        ("B", "N", "our logger's own code"),
        ("C", "A", "LiteLLM's prometheus callback"),
        ("D", "C", "our logger on top of prometheus"),
        ("E", "D", "the role's metrics against every metric"),
        ("E", "A", "what the bundle deploys"),
    ):
        if other in names and base in names and result["latency"] and result["windows"]:
            comparisons[f"{other}-vs-{base}"] = {"what": what, **compare(result, base, other)}

    problems = []
    for name, check in result["checks"].items():
        if check["failed"]:
            problems.append(f"arm {name}: {check['failed']} failed requests")
        if "log" in check:
            log = check["log"]
            if log["lines"] != check["requests"]:
                problems.append(f"arm {name}: {log['lines']} log lines for {check['requests']} requests")
            if log["success_records"] != log["lines"]:
                problems.append(f"arm {name}: {log['lines'] - log['success_records']} malformed log lines")
            if log["distinct_request_ids"] != log["success_records"]:
                problems.append(f"arm {name}: {log['distinct_request_ids']} distinct request ids in the log")
            after = check.get("log_after_stop", {}).get("lines")
            if after != log["lines"]:
                problems.append(
                    f"arm {name}: {after} log lines after stopping the proxy, {log['lines']} before"
                )
        if "prometheus_requests" in check:
            counted = check["prometheus_requests"]
            if counted is None or counted < check["requests"] - check["failed"]:
                problems.append(f"arm {name}: /metrics/ counted {counted} of {check['requests']} requests")
    if min(len(result["latency"]), len(result["windows"])) < 5:
        problems.append("fewer than 5 latency rounds or load windows: too few to compare")

    host = {}
    seconds = sum(w["window"]["seconds"] for w in result["windows"])
    if seconds:
        host = {
            key: sum(w["window"][f"{key}_s"] for w in result["windows"]) / seconds
            for key in ("proxies_cpu", "client_cpu", "simulator_cpu", "foreign_cpu", "steal")
        }
    warnings = []
    if host.get("foreign_cpu", 0) > 0.10:
        warnings.append(
            f"other work took {host['foreign_cpu']:.0%} of the proxy core in the load windows: the "
            "side-by-side ratios stay fair, absolute figures are low"
        )
    if host and host["proxies_cpu"] + host["foreign_cpu"] < 0.9:
        warnings.append(
            f"the proxy core was busy only {host['proxies_cpu'] + host['foreign_cpu']:.0%} of the load "
            "windows: the proxies were not CPU-bound, so answers per CPU-second may not be their throughput"
        )
    if len(result["windows"]) < args.rounds:
        warnings.append(f"the time limit cut the load phase to {len(result['windows'])} windows")
    if host.get("client_cpu", 0) + host.get("simulator_cpu", 0) > 0.7:
        warnings.append("client and simulator used over 70 % of their core: the load side may limit")

    verdict: dict[str, Any] = {"valid": not problems, "problems": problems, "warnings": warnings}
    if "B-vs-A" in comparisons:
        delta = comparisons["B-vs-A"]["median_delta_ms"]
        verdict["median"] = {
            "target_ms": TARGET_MEDIAN_MS,
            "estimate_ms": delta["estimate"],
            "met": delta["estimate"] <= TARGET_MEDIAN_MS,
            # whether the run could tell: the interval may straddle the target
            "certain": delta["high"] <= TARGET_MEDIAN_MS or delta["low"] > TARGET_MEDIAN_MS,
        }
    verdict["throughput"] = {}
    for key, target in TARGET_THROUGHPUT_RATIO.items():
        if key in comparisons:
            ratio = comparisons[key]["throughput_ratio"]
            verdict["throughput"][key] = {
                "target_ratio": target,
                "estimate_ratio": ratio["estimate"],
                "low": ratio["low"],
                "high": ratio["high"],
                "met": ratio["estimate"] >= target,
                "certain": ratio["low"] >= target or ratio["high"] < target,
            }
    verdict["pass"] = bool(
        verdict["valid"]
        and "median" in verdict
        and verdict["median"]["met"]
        and all(t["met"] for t in verdict["throughput"].values())
    )
    return {
        "setup": {
            "litellm": litellm_version_pin(),
            "llmobs_source": SOURCE_ENV["PYTHONPATH"],
            "arms": names,
            "latency_rounds": len(result["latency"]),
            "load_windows": len(result["windows"]),
            "latency_requests_per_round": args.latency_requests,
            "pause_ms": args.pause_ms,
            "requests_per_round": args.requests_per_round,
            "concurrency": args.concurrency,
            "dedicated_rounds": args.dedicated_rounds,
            "warmup": args.warmup,
            "pinned": result["pinned"],
            "seed": args.seed,
            "startup_s": result["startup_s"],
            "total_s": result["total_s"],
        },
        "arms": per_arm,
        "comparisons": comparisons,
        "host": host,
        "checks": result["checks"],
        "verdict": verdict,
    }


def _interval(d: dict[str, Any], fmt: str) -> str:
    return f"{d['estimate']:{fmt}} [{d['low']:{fmt}}, {d['high']:{fmt}}]"


def render(report: dict[str, Any]) -> str:
    s = report["setup"]
    c = s["concurrency"]
    fair = (
        "proxies share CPU 0, simulator and client use CPU 1"
        if s["pinned"]
        else "nothing pinned (--no-pin): proxies, simulator and client share the cores"
    )
    out = [
        f"LiteLLM {s['litellm']} (one worker per arm) with llmobs from {s['llmobs_source']}, against "
        "llmobs-simulator",
        f"(vLLM dialect, zero delay, 16 tokens); {fair}. Every comparison is measured side by side,",
        "so the drift of the shared virtual cores hits all arms alike:",
        f"  latency:    {s['latency_rounds']} rounds x {s['latency_requests_per_round']} requests per arm at "
        "concurrency 1, to the arms in turn (new",
        f"              random order each cycle; {s['pause_ms']:g} ms pause after each answer, so that "
        "callback work LiteLLM",
        "              does after the answer is not billed to the next arm: that work is in the CPU figures)",
        f"  throughput: all arms loaded at once, {c} connections each, {s['load_windows']} windows x "
        f"{s['requests_per_round']} answers per arm; the",
        "              proxies are CPU-bound: throughput = answers per CPU-second of the proxy (the req/s of",
        "              a core of its own; time-slicing one core between the proxies makes every answer",
        "              dearer than alone, so read the ratios)",
        f"  alone:      {s['dedicated_rounds']} round(s) of one arm at a time on CPU 0 ({c} connections, "
        f"{s['requests_per_round']} answers): absolute figures, not used for the verdict",
        f"run: {s['total_s']:.0f} s, of which {s['startup_s']:.0f} s starting the proxies",
        "",
        f"{'':<30}{'concurrency 1':^23}|{'side by side, c=' + str(c):^26}|"
        f"{'alone on a core, c=' + str(c):^30}",
        f"{'arm':<30}{'median':>8}{'p95':>7}{'LiteLLM':>8} |{'CPU/req':>9}{'req/CPU-s':>10}{'share':>6} |"
        f"{'req/s':>7}{'median':>8}{'p95':>8}{'busy':>6}",
    ]
    for name, a in report["arms"].items():
        out.append(
            f"{name + ' ' + a['label']:<30}{a['c1_median_ms']:>8.2f}{a['c1_p95_ms']:>7.2f}"
            f"{a['c1_litellm_overhead_median_ms']:>8.2f} |{a['cpu_ms_per_request']:>9.2f}"
            f"{a['requests_per_cpu_second']:>10.1f}{a['shared_core_cpu_share']:>6.0%} |{a['alone_rps']:>7.1f}"
            f"{a['alone_median_ms']:>8.1f}{a['alone_p95_ms']:>8.1f}{a['alone_cpu_share']:>6.0%}"
        )
    out += [
        "(ms; LiteLLM: median x-litellm-overhead-duration-ms; CPU/req: proxy CPU per answer, callbacks run",
        " after the answer included; share and busy: the proxy's share of the core)",
        "",
        "paired by latency round and by load window: median [sign-test confidence interval, its coverage]",
    ]
    for key, comp in report["comparisons"].items():
        d, r = comp["median_delta_ms"], comp["throughput_ratio"]
        out.append(
            f"{key} {comp['what']}: latency {_interval(d, '+.2f')} ms ({d['coverage']:.0%}); throughput "
            f"x{_interval(r, '.3f')} ({r['coverage']:.0%}), pooled x{comp['pooled_throughput_ratio']:.3f}, "
            f"shared-core req/s x{comp['shared_core_rate_ratio']['estimate']:.3f}"
        )
    if "B-vs-A" in report["comparisons"]:
        comp = report["comparisons"]["B-vs-A"]
        out.append(
            "B-vs-A latency per round (ms): "
            + " ".join(f"{v:+.2f}" for v in comp["median_delta_ms"]["rounds"])
        )
        out.append(
            "B-vs-A throughput per window: "
            + " ".join(f"{v:.3f}" for v in comp["throughput_ratio"]["rounds"])
        )
    out += ["", "checks:"]
    for name, check in report["checks"].items():
        parts = [f"{check['requests']} requests (warm-ups included), {check['failed']} failed"]
        if "log" in check:
            log, after = check["log"], check.get("log_after_stop", {}).get("lines")
            parts.append(
                f"request log {log['lines']} lines, {log['success_records']} valid success records, "
                f"{log['distinct_request_ids']} distinct request ids; {after} lines after stop"
            )
        if "prometheus_requests" in check:
            counted = check["prometheus_requests"]
            parts.append(f"/metrics/ counted {'nothing' if counted is None else f'{counted:.0f}'}")
        out.append(f"  {name}: " + "; ".join(parts))
    if report["host"]:
        h = report["host"]
        out.append(
            f"  CPU in the side-by-side windows (share of one core): proxies {h['proxies_cpu']:.0%}, client "
            f"{h['client_cpu']:.0%}, simulator {h['simulator_cpu']:.0%}, other work on the proxy core "
            f"{h['foreign_cpu']:.0%}, stolen by the hypervisor (both cores) {h['steal']:.0%}"
        )
    v = report["verdict"]
    out.append("")
    out += [f"warning: {w}" for w in v["warnings"]]
    out += [f"INVALID: {p}" for p in v["problems"]]
    unsure = " (the interval straddles the target)"
    if "median" in v:
        m = v["median"]
        out.append(
            f"B vs A median latency {m['estimate_ms']:+.2f} ms, target at most +{m['target_ms']} ms: "
            f"{'met' if m['met'] else 'MISSED'}{'' if m['certain'] else unsure}"
        )
    for key, t in v["throughput"].items():
        out.append(
            f"{key} ({report['comparisons'][key]['what']}) throughput x{t['estimate_ratio']:.3f} "
            f"[{t['low']:.3f}, {t['high']:.3f}], target at least x{t['target_ratio']:.2f}: "
            f"{'met' if t['met'] else 'MISSED'}{'' if t['certain'] else unsure}"
        )
    for key in ("N-vs-A", "C-vs-A", "D-vs-C", "E-vs-D"):
        if key in report["comparisons"]:
            comp = report["comparisons"][key]
            d, r = comp["median_delta_ms"], comp["throughput_ratio"]
            out.append(
                f"for comparison, {comp['what']} ({key}): latency {d['estimate']:+.2f} ms, "
                f"throughput x{r['estimate']:.3f} [{r['low']:.3f}, {r['high']:.3f}]"
            )
    out.append("PASS" if v["pass"] else "FAIL")
    return "\n".join(out)


def clean(value: Any) -> Any:
    """JSON without NaN (null instead), floats rounded."""
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 4)
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="exit codes: 0 targets met, 1 a target missed or the run invalid, 2 setup failed",
    )
    add = parser.add_argument
    add(
        "--litellm-python",
        metavar="PATH",
        help="python of a venv with litellm[proxy], prometheus-client and llmobs "
        f"(default: create or reuse {DEFAULT_VENV.relative_to(REPO)})",
    )
    add("--rounds", type=int, default=16, help="latency rounds, and load windows (default 16)")
    add("--latency-requests", type=int, default=20, help="per arm and latency round (default 20)")
    add("--requests-per-round", type=int, default=240, help="answers per arm and load window (default 240)")
    add("--concurrency", type=int, default=8, help="connections per loaded arm (default 8)")
    add("--pause-ms", type=float, default=5, help="pause after each concurrency-1 answer (default 5)")
    add("--dedicated-rounds", type=int, default=1, help="rounds of one arm at a time (default 1; 0: none)")
    add("--warmup", type=int, default=100, help="unmeasured requests per arm before measuring (default 100)")
    add("--arms", default="ANBCDE", help="arms, letters from ANBCDE, A and B required (default ANBCDE)")
    add("--seed", type=int, default=1, help="seed of the arm orders (default 1)")
    add("--phase-timeout", type=float, default=60, help="seconds a load window may take (default 60)")
    add(
        "--max-seconds",
        type=float,
        default=900,
        help="time limit of the measurements after the warm-up (default 900)",
    )
    add(
        "--startup-timeout", type=float, default=180, help="seconds for the proxies to be ready (default 180)"
    )
    add("--no-pin", action="store_true", help="leave the processes on all cores")
    add("--keep", action="store_true", help="keep the work directory (configs, proxy output, request logs)")
    add("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 100 or not 0 <= args.dedicated_rounds <= 20:
        parser.error("--rounds must be between 1 and 100, --dedicated-rounds between 0 and 20")
    if not (10 <= args.requests_per_round <= 100_000 and 5 <= args.latency_requests <= 100_000):
        parser.error("--requests-per-round: 10 to 100000; --latency-requests: 5 to 100000")
    if not 1 <= args.concurrency <= 64 or not 0 <= args.pause_ms <= 1000:
        parser.error("--concurrency: 1 to 64; --pause-ms: 0 to 1000")
    if not 0 <= args.warmup <= 10_000:
        parser.error("--warmup must be between 0 and 10000")
    if (
        set(args.arms) - set(ARMS)
        or len(set(args.arms)) != len(args.arms)
        or not {"A", "B"} <= set(args.arms)
    ):
        parser.error("--arms: distinct letters from ANBCDE, including A and B")
    if not (
        0 < args.phase_timeout <= 600 and 0 < args.max_seconds <= 3600 and 0 < args.startup_timeout <= 600
    ):
        parser.error("--phase-timeout and --startup-timeout: up to 600 s; --max-seconds: up to 3600 s")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="llmobs-bench-"))
    try:
        python = ensure_venv(args.litellm_python)
        progress(f"LiteLLM venv: {python}; work directory {workdir}")
        result = asyncio.run(benchmark(args, python, workdir))
    except (SetupError, subprocess.CalledProcessError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        if args.keep:
            progress(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    report = summarise(result, args)
    print(json.dumps(clean(report), indent=2) if args.json else render(report))
    return 0 if report["verdict"]["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
