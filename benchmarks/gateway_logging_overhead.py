#!/usr/bin/env python3
"""What our request logger costs a LiteLLM proxy, next to LiteLLM's own Prometheus callback.

Target: our logger adds at most 0.5 ms to the median latency and takes at most 5 % of the
throughput of the same gateway without it (arm B against arm A).

One run starts the simulator (vLLM dialect, zero delay, 16 output tokens) and one LiteLLM proxy
per arm on loopback, each with one worker and the role's config, differing only in callbacks:

    A  none
    B  llmobs.gateway.litellm_callback.request_logger (ours)
    C  prometheus (+ service_callback prometheus_system)
    D  prometheus + ours: what the bundle deploys

Every round visits the arms in a new random order and gives each, one arm at a time, a latency
block (one connection, requests back to back: the per-request cost without queueing) and a
throughput block (--concurrency keep-alive connections, closed loop, proxy CPU-bound). The proxies
share CPU 0, the simulator and this client CPU 1, so the loaded proxy has a core to itself and
the idle ones take almost nothing from it; after each block the script waits until the proxy is
idle again, so work it deferred (LiteLLM runs callbacks after the response) is charged to it and
not to the next arm. Comparisons are paired by round (B - A in the same round), summarised by the
median over rounds with a distribution-free confidence interval.

Checks that make a run invalid (exit 1): a failed request, a log file of B or D that does not hold
one line per request, a Prometheus arm whose /metrics/ did not count the requests.

Exit 0 when the targets are met, 1 when one is missed or the run is invalid, 2 when the setup
fails (venv, simulator, proxy start). Loopback only; every block is bounded in requests and time.

    .venv/bin/python benchmarks/gateway_logging_overhead.py [--litellm-python /path/to/venv/bin/python]
        [--rounds 8] [--requests-per-round 400] [--latency-requests 150] [--concurrency 16] [--json]
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_VENV = REPO / ".cache" / "bench-litellm-venv"
OURS = "llmobs.gateway.litellm_callback.request_logger"
# Ports other services of the bundle (or a running lab) use on this host: never bind them.
RESERVED_PORTS = {8765, 6379, 9121, 4000, 4001, 11434, 8000, 8001, 9090}
TARGET_MEDIAN_MS = 0.5
TARGET_THROUGHPUT_RATIO = 0.95
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
    requests_sent: int = 0  # every request this arm answered, warm-ups included (log lines expected)
    failed: int = 0

    @property
    def ours(self) -> bool:
        return OURS in self.callbacks

    @property
    def prometheus(self) -> bool:
        return "prometheus" in self.callbacks


ARMS = {
    "A": Arm("A", "no callbacks", [], []),
    "B": Arm("B", "our logger", [OURS], []),
    "C": Arm("C", "prometheus", ["prometheus"], ["prometheus_system"]),
    "D": Arm("D", "prometheus + ours (deployed)", ["prometheus", OURS], ["prometheus_system"]),
}


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class SetupError(Exception):
    """The venv, the simulator or a proxy could not be made ready: exit 2."""


# ---------------------------------------------------------------------------------------------
# processes


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process (all its threads), from /proc."""
    fields_ = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields_[11]) + int(fields_[12])) / os.sysconf("SC_CLK_TCK")


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
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


def start_simulator(python: str, workdir: Path, cpus: set[int] | None) -> tuple[subprocess.Popen, int]:
    profile = workdir / "profile.yaml"
    profile.write_text(PROFILE)
    command = [python, "-m", "llmobs.simulator", "--type", "vllm", "--host", "127.0.0.1", "--port", "0"]
    command += ["--profile", str(profile), "--model", MODEL]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=_die_with_parent
    )
    deadline = time.monotonic() + 30
    line = ""
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if "http://127.0.0.1:" in line:
            pin(process.pid, cpus)
            return process, int(line.split("http://127.0.0.1:")[1].split()[0])
        if not line and process.poll() is not None:
            break
    stop(process)
    raise SetupError(f"the simulator did not start: {line.strip() or 'no output'}")


def proxy_config(arm: Arm, sim_port: int) -> dict[str, Any]:
    """The role's config.yaml (roles/litellm/templates/config.yaml.j2) without Redis, one deployment."""
    settings: dict[str, Any] = {
        "prometheus_exclude_labels": ["client_ip", "user_agent"],
        "require_auth_for_metrics_endpoint": True,
        "request_timeout": 60,
    }
    if arm.callbacks:
        settings["callbacks"] = arm.callbacks
    if arm.service_callbacks:
        settings["service_callback"] = arm.service_callbacks
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
    arm.log_file = home / "requests.log"
    (home / "request-log.json").write_text(json.dumps({"log_file": str(arm.log_file)}))
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
    )
    arm.port = free_port()
    litellm = Path(python).with_name("litellm")
    command = [str(litellm)] if litellm.exists() else [python, "-m", "litellm.proxy.proxy_cli"]
    command += ["--config", str(config), "--host", "127.0.0.1", "--port", str(arm.port), "--num_workers", "1"]
    output = open(home / "proxy.out", "wb")  # noqa: SIM115 (the child keeps writing to it)
    arm.process = subprocess.Popen(
        command, cwd=home, env=env, stdout=output, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
    )
    output.close()


async def wait_ready(arm: Arm, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if arm.process is not None and arm.process.poll() is not None:
            break
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, asyncio.TimeoutError):
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
# blocks


@dataclass
class Block:
    arm: str
    kind: str  # "latency" (one connection) or "throughput" (--concurrency connections)
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    failed: int = 0
    proxy_cpu_s: float = 0.0  # loaded proxy, from measured start until it was idle again
    others_cpu_s: float = 0.0  # the idle proxies, same interval
    simulator_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    overhead_ms: list[float] = field(default_factory=list)  # x-litellm-overhead-duration-ms
    timed_out: bool = False

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0


async def settle(pid: int, limit: float = 5.0) -> None:
    """Wait until a process uses under 5 % CPU for 200 ms: LiteLLM runs callbacks after the response."""
    deadline = time.monotonic() + limit
    before = cpu_seconds(pid)
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        now = cpu_seconds(pid)
        if now - before < 0.01:
            return
        before = now


async def run_block(
    arm: Arm,
    arms: list[Arm],
    sim_pid: int,
    key: str,
    kind: str,
    connections: int,
    requests: int,
    limit: float,
) -> Block:
    block = Block(arm.name, kind)
    conns = [Connection(arm.port, key) for _ in range(connections)]
    assert arm.process is not None
    others = [a.process.pid for a in arms if a is not arm and a.process is not None]
    issued = 0
    deadline = 0.0

    async def one(conn: Connection, measured: bool) -> None:
        try:
            status, headers, seconds = await asyncio.wait_for(conn.chat(), timeout=30)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            conn.close()
            status, headers, seconds = 0, {}, 0.0
        arm.requests_sent += 1
        if status != 200:
            arm.failed += 1
            block.failed += 1
        elif measured:
            block.latencies_ms.append(seconds * 1000.0)
            with contextlib.suppress(KeyError, ValueError):
                block.overhead_ms.append(float(headers["x-litellm-overhead-duration-ms"]))

    async def worker(conn: Connection) -> None:
        nonlocal issued
        while issued < requests and time.monotonic() < deadline:
            issued += 1
            await one(conn, measured=True)

    try:
        # Unmeasured warm-up on every connection: connects, and wakes the proxy's pool to the simulator.
        for _ in range(2 if kind == "latency" else 1):
            await asyncio.gather(*(one(c, measured=False) for c in conns))
        cpu0 = cpu_seconds(arm.process.pid), sum(map(cpu_seconds, others)), cpu_seconds(sim_pid)
        client0, start = time.process_time(), time.perf_counter()
        deadline = time.monotonic() + limit
        await asyncio.gather(*(worker(c) for c in conns))
        block.seconds = time.perf_counter() - start
        block.client_cpu_s = time.process_time() - client0
        block.timed_out = issued < requests
        await settle(arm.process.pid)
        block.proxy_cpu_s = cpu_seconds(arm.process.pid) - cpu0[0]
        block.others_cpu_s = sum(map(cpu_seconds, others)) - cpu0[1]
        block.simulator_cpu_s = cpu_seconds(sim_pid) - cpu0[2]
    finally:
        for conn in conns:
            conn.close()
    return block


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


def compare(rounds: list[dict[str, Block]], kind: str, base: str, other: str) -> dict[str, Any]:
    """Paired per-round comparison of two arms: median latency delta (ms) or throughput ratio."""
    if kind == "latency":
        values = [
            statistics.median(r[other].latencies_ms) - statistics.median(r[base].latencies_ms)
            for r in rounds
            if r[other].latencies_ms and r[base].latencies_ms
        ]
    else:
        values = [r[other].rps / r[base].rps for r in rounds if r[base].rps and r[other].rps]
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


# ---------------------------------------------------------------------------------------------
# checks after the run


def count_log_lines(arm: Arm) -> dict[str, int]:
    """Lines of an arm's request log, and how many are well-formed successful records."""
    assert arm.log_file is not None
    lines = good = 0
    if arm.log_file.exists():
        with arm.log_file.open() as handle:
            for line in handle:
                lines += 1
                with contextlib.suppress(ValueError):
                    record = json.loads(line)
                    good += record.get("schema") == "llmobs.request/1" and record.get("status") == "success"
    return {"lines": lines, "success_records": good}


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
        result = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=120)
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
        return python
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
    proxy_cpus, load_cpus = ({cpus[0]}, set(cpus[1:])) if len(cpus) >= 2 and not args.no_pin else (None, None)
    arms = [ARMS[name] for name in args.arms]
    key = "sk-bench-" + secrets.token_hex(16)
    started = time.monotonic()
    sim, sim_port = start_simulator(python, workdir, load_cpus)
    try:
        progress(f"simulator pid {sim.pid} on 127.0.0.1:{sim_port}")
        for arm in arms:
            start_proxy(arm, python, workdir, sim_port, key)
            progress(f"proxy {arm.name} ({arm.label}): pid {arm.process.pid}, port {arm.port}")
        # Started unpinned so that the heavy imports use both cores; pinned once ready.
        await asyncio.gather(*(wait_ready(arm, args.startup_timeout) for arm in arms))
        for arm in arms:
            pin(arm.process.pid, proxy_cpus)
        if load_cpus:
            os.sched_setaffinity(0, load_cpus)
        progress(
            f"all ready after {time.monotonic() - started:.0f} s; proxies on CPU {sorted(proxy_cpus or cpus)}, "
            f"simulator and client on CPU {sorted(load_cpus or cpus)}"
        )
        for arm in arms:  # warm-up: first requests pay lazy imports and pool creation
            await run_block(arm, arms, sim.pid, key, "warmup", args.concurrency, args.warmup, 60)
        progress(f"warm-up done ({args.warmup} requests per arm)")

        rng = random.Random(args.seed)
        rounds: list[dict[str, Any]] = []
        deadline = time.monotonic() + args.max_seconds
        for number in range(1, args.rounds + 1):
            if time.monotonic() > deadline:
                progress(f"--max-seconds reached: stopping after {number - 1} rounds")
                break
            order = rng.sample([arm.name for arm in arms], len(arms))
            lat: dict[str, Block] = {}
            thr: dict[str, Block] = {}
            for name in order:
                arm = ARMS[name]
                lat[name] = await run_block(
                    arm, arms, sim.pid, key, "latency", 1, args.latency_requests, args.block_timeout
                )
                thr[name] = await run_block(
                    arm,
                    arms,
                    sim.pid,
                    key,
                    "throughput",
                    args.concurrency,
                    args.requests_per_round,
                    args.block_timeout,
                )
            rounds.append({"order": order, "latency": lat, "throughput": thr})
            summary = ", ".join(
                f"{n} {statistics.median(lat[n].latencies_ms or [math.nan]):.2f} ms {thr[n].rps:.0f}/s"
                for n in order
            )
            progress(f"round {number}/{args.rounds} [{''.join(order)}]: {summary}")

        checks: dict[str, Any] = {}
        for arm in arms:
            entry: dict[str, Any] = {"requests": arm.requests_sent, "failed": arm.failed}
            if arm.ours:
                entry["log"] = await wait_log_lines(arm)
            if arm.prometheus:
                entry["prometheus_requests"] = await prometheus_count(arm, key)
            checks[arm.name] = entry
    finally:
        for arm in arms:
            stop(arm.process)
        stop(sim)
    for arm in arms:
        if arm.ours:  # after a clean stop (the writer flushes at exit): nothing more, nothing less
            checks[arm.name]["log_after_stop"] = count_log_lines(arm)
    return {"arms": arms, "rounds": rounds, "checks": checks, "pinned": proxy_cpus is not None}


def summarise(result: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    arms: list[Arm] = result["arms"]
    rounds = result["rounds"]
    names = [a.name for a in arms]
    per_arm = {}
    for name in names:
        lat = [x for r in rounds for x in r["latency"][name].latencies_ms]
        thr_blocks = [r["throughput"][name] for r in rounds]
        thr = [x for b in thr_blocks for x in b.latencies_ms]
        served = sum(len(b.latencies_ms) for b in thr_blocks)
        seconds = sum(b.seconds for b in thr_blocks)
        overhead = [x for r in rounds for x in r["latency"][name].overhead_ms]
        per_arm[name] = {
            "label": ARMS[name].label,
            "callbacks": ARMS[name].callbacks,
            "service_callbacks": ARMS[name].service_callbacks,
            "c1_median_ms": statistics.median(lat) if lat else math.nan,
            "c1_p95_ms": percentile(lat, 0.95),
            "c1_litellm_overhead_median_ms": statistics.median(overhead) if overhead else None,
            "load_rps": served / seconds if seconds else math.nan,
            "load_median_ms": statistics.median(thr) if thr else math.nan,
            "load_p95_ms": percentile(thr, 0.95),
            "proxy_cpu_ms_per_request": 1000 * sum(b.proxy_cpu_s for b in thr_blocks) / served
            if served
            else math.nan,
            "proxy_cpu_busy": sum(b.proxy_cpu_s for b in thr_blocks) / seconds if seconds else math.nan,
            "client_cpu_busy": sum(b.client_cpu_s for b in thr_blocks) / seconds if seconds else math.nan,
            "simulator_cpu_busy": sum(b.simulator_cpu_s for b in thr_blocks) / seconds
            if seconds
            else math.nan,
            "idle_proxies_cpu_busy": sum(b.others_cpu_s for b in thr_blocks) / seconds
            if seconds
            else math.nan,
            "measured_requests": len(lat) + served,
            "timed_out_blocks": sum(r[k][name].timed_out for r in rounds for k in ("latency", "throughput")),
        }
    pairs = [
        ("B", "A", "our logger"),
        ("C", "A", "prometheus"),
        ("D", "C", "our logger on top of prometheus"),
    ]
    comparisons = {}
    for other, base, what in pairs:
        if other in names and base in names:
            comparisons[f"{other}-vs-{base}"] = {
                "what": what,
                "median_delta_ms": compare([r["latency"] for r in rounds], "latency", base, other),
                "throughput_ratio": compare([r["throughput"] for r in rounds], "throughput", base, other),
            }

    problems = []
    for name, check in result["checks"].items():
        if check["failed"]:
            problems.append(f"arm {name}: {check['failed']} failed requests")
        if "log" in check and check["log"]["lines"] != check["requests"]:
            problems.append(f"arm {name}: {check['log']['lines']} log lines for {check['requests']} requests")
        if "log" in check and check["log"]["success_records"] != check["log"]["lines"]:
            problems.append(
                f"arm {name}: {check['log']['lines'] - check['log']['success_records']} bad log lines"
            )
        prom = check.get("prometheus_requests")
        if "prometheus_requests" in check and (prom is None or prom < check["requests"] - check["failed"]):
            problems.append(f"arm {name}: /metrics/ counted {prom} requests of {check['requests']}")
    if any(a["timed_out_blocks"] for a in per_arm.values()):
        problems.append("some blocks hit --block-timeout before their request count")
    if len(rounds) < 3:
        problems.append(f"only {len(rounds)} rounds: too few to compare")

    verdict: dict[str, Any] = {"valid": not problems, "problems": problems}
    if "B-vs-A" in comparisons:
        delta = comparisons["B-vs-A"]["median_delta_ms"]
        ratio = comparisons["B-vs-A"]["throughput_ratio"]
        verdict["median"] = {
            "target_ms": TARGET_MEDIAN_MS,
            "estimate_ms": delta["estimate"],
            "met": delta["estimate"] <= TARGET_MEDIAN_MS,
            # the interval says whether the run could tell: it may straddle the target
            "certain": delta["high"] <= TARGET_MEDIAN_MS or delta["low"] > TARGET_MEDIAN_MS,
        }
        verdict["throughput"] = {
            "target_ratio": TARGET_THROUGHPUT_RATIO,
            "estimate_ratio": ratio["estimate"],
            "met": ratio["estimate"] >= TARGET_THROUGHPUT_RATIO,
            "certain": ratio["low"] >= TARGET_THROUGHPUT_RATIO or ratio["high"] < TARGET_THROUGHPUT_RATIO,
        }
        verdict["pass"] = verdict["valid"] and verdict["median"]["met"] and verdict["throughput"]["met"]
    return {
        "setup": {
            "litellm": litellm_version_pin(),
            "arms": names,
            "rounds": len(rounds),
            "orders": ["".join(r["order"]) for r in rounds],
            "latency_requests_per_round": args.latency_requests,
            "requests_per_round": args.requests_per_round,
            "concurrency": args.concurrency,
            "warmup": args.warmup,
            "pinned": result["pinned"],
            "seed": args.seed,
        },
        "arms": per_arm,
        "comparisons": comparisons,
        "checks": result["checks"],
        "verdict": verdict,
    }


def render(report: dict[str, Any]) -> str:
    s = report["setup"]
    c = s["concurrency"]
    out = [
        f"gateway logging overhead: LiteLLM {s['litellm']}, one worker per arm, simulator (vLLM, zero delay, "
        f"16 tokens); {s['rounds']} rounds, arm order shuffled each round: {' '.join(s['orders'])}",
        "per round and arm, one arm loaded at a time: "
        f"{s['latency_requests_per_round']} requests back to back (c=1: per-request latency), then "
        f"{s['requests_per_round']} at concurrency {c} (closed loop: throughput); "
        + (
            "proxies on one core, simulator and client on the other"
            if s["pinned"]
            else "processes not pinned (shared cores)"
        ),
        "",
        f"{'arm':<34}{'c=1 median':>11}{'p95':>8}{'LiteLLM ovh':>12}{'c=' + str(c) + ' req/s':>12}"
        f"{'median':>9}{'p95':>9}{'CPU ms/req':>11}",
    ]
    for name, a in report["arms"].items():
        ovh = a["c1_litellm_overhead_median_ms"]
        out.append(
            f"{name + ' ' + a['label']:<34}{a['c1_median_ms']:>8.2f} ms{a['c1_p95_ms']:>8.2f}"
            f"{(f'{ovh:.2f}' if ovh is not None else '-'):>12}{a['load_rps']:>12.1f}{a['load_median_ms']:>9.1f}"
            f"{a['load_p95_ms']:>9.1f}{a['proxy_cpu_ms_per_request']:>11.2f}"
        )
    out += ["", "paired by round: median over rounds [confidence interval, coverage]; per-round values"]
    for key, comp in report["comparisons"].items():
        d, r = comp["median_delta_ms"], comp["throughput_ratio"]
        out.append(
            f"{key} ({comp['what']}): median {d['estimate']:+.2f} ms [{d['low']:+.2f}, {d['high']:+.2f}, "
            f"{d['coverage']:.0%}]; throughput x{r['estimate']:.3f} [{r['low']:.3f}, {r['high']:.3f}] "
            f"= {r['estimate'] - 1:+.1%}"
        )
        out.append(
            "    deltas ms: "
            + " ".join(f"{v:+.2f}" for v in d["rounds"])
            + " | ratios: "
            + " ".join(f"{v:.3f}" for v in r["rounds"])
        )
    out += ["", "checks:"]
    for name, check in report["checks"].items():
        parts = [f"{check['requests']} requests (warm-ups included), {check['failed']} failed"]
        if "log" in check:
            after = check.get("log_after_stop", {}).get("lines")
            parts.append(
                f"log lines {check['log']['lines']} ({check['log']['success_records']} success records), "
                f"{after} after stop"
            )
        if "prometheus_requests" in check:
            parts.append(f"/metrics/ counted {check['prometheus_requests']:.0f}")
        out.append(f"  {name}: " + "; ".join(parts))
    busy = report["arms"]
    out.append(
        f"  CPU during throughput blocks (share of one core): loaded proxy "
        f"{_range(busy, 'proxy_cpu_busy')}, client {_range(busy, 'client_cpu_busy')}, simulator "
        f"{_range(busy, 'simulator_cpu_busy')}, idle proxies together {_range(busy, 'idle_proxies_cpu_busy')}"
    )
    v = report["verdict"]
    out.append("")
    for problem in v["problems"]:
        out.append(f"INVALID: {problem}")
    if "median" in v:
        m, t = v["median"], v["throughput"]
        out.append(
            f"median latency: {m['estimate_ms']:+.2f} ms against at most +{m['target_ms']} ms: "
            f"{'met' if m['met'] else 'MISSED'}{'' if m['certain'] else ' (the interval straddles the target)'}"
        )
        out.append(
            f"throughput: {t['estimate_ratio'] - 1:+.1%} against at most {t['target_ratio'] - 1:.0%}: "
            f"{'met' if t['met'] else 'MISSED'}{'' if t['certain'] else ' (the interval straddles the target)'}"
        )
    out.append("PASS" if v["pass"] else "FAIL")
    return "\n".join(out)


def _range(arms: dict[str, Any], key: str) -> str:
    values = [a[key] for a in arms.values()]
    return f"{min(values):.0%}-{max(values):.0%}"


def clean(value: Any) -> Any:
    """JSON without NaN (null instead) and with rounded floats."""
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
    parser.add_argument(
        "--litellm-python",
        help=f"python of a venv with litellm, prometheus-client, llmobs "
        f"(default: create or reuse {DEFAULT_VENV.relative_to(REPO)})",
    )
    parser.add_argument("--rounds", type=int, default=8, help="rounds, each visiting every arm (default 8)")
    parser.add_argument(
        "--requests-per-round",
        type=int,
        default=400,
        help="requests per arm per round at --concurrency (default 400)",
    )
    parser.add_argument(
        "--latency-requests",
        type=int,
        default=150,
        help="requests per arm per round back to back (default 150)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=16, help="connections of the throughput blocks (default 16)"
    )
    parser.add_argument(
        "--warmup", type=int, default=200, help="unmeasured requests per arm at start (default 200)"
    )
    parser.add_argument(
        "--arms", default="ABCD", help="arms to run, from ABCD (default ABCD; A and B needed)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the arm order (default 1)")
    parser.add_argument(
        "--block-timeout", type=float, default=60, help="seconds a block may take at most (default 60)"
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=420,
        help="no new round after this many seconds of rounds (default 420)",
    )
    parser.add_argument(
        "--startup-timeout", type=float, default=180, help="seconds for the proxies to be ready"
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin proxies and load to separate cores")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (configs, logs)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 100:
        parser.error("--rounds must be between 1 and 100")
    if not (10 <= args.requests_per_round <= 100_000 and 10 <= args.latency_requests <= 100_000):
        parser.error("--requests-per-round and --latency-requests must be between 10 and 100000")
    if not 1 <= args.concurrency <= 256:
        parser.error("--concurrency must be between 1 and 256")
    if not 0 <= args.warmup <= 10_000:
        parser.error("--warmup must be between 0 and 10000")
    if not args.arms or set(args.arms) - set(ARMS) or len(set(args.arms)) != len(args.arms):
        parser.error("--arms: distinct letters from ABCD")
    if not {"A", "B"} <= set(args.arms):
        parser.error("--arms must include A and B (the comparison the targets are about)")
    if not (
        0 < args.block_timeout <= 600 and 0 < args.max_seconds <= 3600 and 0 < args.startup_timeout <= 600
    ):
        parser.error("--block-timeout up to 600, --max-seconds up to 3600, --startup-timeout up to 600")
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
    if args.json:
        print(json.dumps(clean(report), indent=2))
    else:
        print(render(report))
    return 0 if report["verdict"]["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
