#!/usr/bin/env python3
"""How many non-streamed requests per second the simulator serves on one core with zero delay.

Starts ``llmobs-simulator`` pinned to CPU 0 with a profile whose model answers at once (TTFT 0,
no decode time, 16 tokens), pins this client to CPU 1, keeps ``--connections`` keep-alive
connections busy with ``POST /v1/chat/completions`` (one request in flight per connection), warms
up, measures for ``--duration`` seconds, stops the simulator and prints requests/s next to the
target, with the CPU time both sides used (a client near 100 % of its core means the figure is the
client's limit, not the simulator's).

Exit 0 when requests/s >= --target (default 2000), 1 below it or on any failed request, 2 when the
simulator cannot be started. Loopback only; bounded in time and in requests.

    .venv/bin/python benchmarks/simulator_throughput.py [--duration 10] [--connections 32] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from llmobs.cli import process_cpu_seconds as cpu_seconds
from llmobs.cli import stop_process

PROFILE = """\
seed: 1
models:
  bench:
    ttft_ms: 0
    tokens_per_second: 0
    output_tokens: 16
    batch_capacity: 0
"""
BODY = json.dumps({"model": "bench", "messages": [{"role": "user", "content": "How fast can you answer?"}]})
REQUEST = (
    "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    f"Content-Length: {len(BODY)}\r\n\r\n{BODY}"
).encode()


class Load:
    """Shared state of the client connections: counters and the stop condition."""

    def __init__(self, stop_at: float, max_requests: int) -> None:
        self.stop_at = stop_at
        self.max_requests = max_requests
        self.sent = 0
        self.ok = 0
        self.failed = 0
        self.closed = 0

    def may_send(self) -> bool:
        return self.sent < self.max_requests and time.monotonic() < self.stop_at


class Client(asyncio.Protocol):
    """One keep-alive connection sending the next request as soon as the answer is complete."""

    def __init__(self, load: Load, done: asyncio.Future[None]) -> None:
        self.load = load
        self.done = done
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.send()

    def send(self) -> None:
        if self.load.may_send():
            self.load.sent += 1
            self.transport.write(REQUEST)
        else:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        start = head.find(b"content-length:")
        length = int(head[start + 15 : head.find(b"\r\n", start) if b"\r\n" in head[start:] else None])
        if len(self.buffer) < end + 4 + length:
            return
        if head.startswith(b"http/1.1 200"):
            self.load.ok += 1
        else:
            self.load.failed += 1
        del self.buffer[: end + 4 + length]
        self.send()

    def connection_lost(self, exc: Exception | None) -> None:
        self.load.closed += 1
        if not self.done.done():
            self.done.set_result(None)


async def drive(
    port: int, pid: int, connections: int, warmup: float, duration: float, max_requests: int
) -> dict:
    loop = asyncio.get_running_loop()
    begin = time.monotonic()
    load = Load(begin + warmup + duration, max_requests)
    done = [loop.create_future() for _ in range(connections)]
    for future in done:
        await loop.create_connection(lambda f=future: Client(load, f), "127.0.0.1", port)
    await asyncio.sleep(warmup)
    ok0, t0, c0, s0 = load.ok, time.monotonic(), time.process_time(), cpu_seconds(pid)
    await asyncio.sleep(max(0.0, load.stop_at - time.monotonic()))
    ok1, t1, c1, s1 = load.ok, time.monotonic(), time.process_time(), cpu_seconds(pid)
    await asyncio.wait_for(asyncio.gather(*done), timeout=10)
    seconds = t1 - t0
    return {
        "requests": ok1 - ok0,
        "seconds": seconds,
        "client_cpu": (c1 - c0) / seconds,
        "simulator_cpu": (s1 - s0) / seconds,
        "failed": load.failed,
    }


def start_simulator(profile: Path, server_cpu: int | None) -> tuple[subprocess.Popen, int]:
    command = [
        sys.executable,
        "-m",
        "llmobs.simulator",
        "--type",
        "vllm",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
    ]
    command += ["--profile", str(profile)]

    def pin() -> None:
        if server_cpu is not None:
            os.sched_setaffinity(0, {server_cpu})

    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, preexec_fn=pin)
    deadline = time.monotonic() + 15
    line = ""
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if "http://127.0.0.1:" in line:
            return process, int(line.split("http://127.0.0.1:")[1].split()[0])
        if not line and process.poll() is not None:
            break
    process.kill()
    raise RuntimeError(f"the simulator did not start: {line.strip() or 'no output'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured (default 10)")
    parser.add_argument("--warmup", type=float, default=1.5, help="seconds before measuring (default 1.5)")
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections (default 32)")
    parser.add_argument(
        "--max-requests", type=int, default=1_000_000, help="stop after this many (default 1e6)"
    )
    parser.add_argument("--target", type=float, default=2000.0, help="requests/s to reach (default 2000)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if not (0 < args.duration <= 120 and 0 <= args.warmup <= 30 and 1 <= args.connections <= 1000):
        parser.error("--duration in (0, 120], --warmup in [0, 30], --connections in [1, 1000]")

    cpus = sorted(os.sched_getaffinity(0))
    server_cpu, client_cpu = (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)
    if server_cpu is None:
        print("warning: one CPU only: simulator and client share it", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        profile = Path(tmp) / "bench.yaml"
        profile.write_text(PROFILE)
        try:
            process, port = start_simulator(profile, server_cpu)
        except RuntimeError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        try:
            if client_cpu is not None:
                os.sched_setaffinity(0, {client_cpu})
            print(
                f"simulator pid {process.pid} on CPU {server_cpu}, port {port}; client on CPU {client_cpu}; "
                f"{args.connections} connections, {args.warmup:g} s warm-up, {args.duration:g} s measured",
                file=sys.stderr,
            )
            result = asyncio.run(
                drive(port, process.pid, args.connections, args.warmup, args.duration, args.max_requests)
            )
        finally:
            stop_process(process)
    rps = result["requests"] / result["seconds"]
    ok = rps >= args.target and result["failed"] == 0
    report = {
        "requests_per_second": round(rps, 1),
        "target": args.target,
        "ratio_to_target": round(rps / args.target, 2),
        "requests": result["requests"],
        "seconds": round(result["seconds"], 2),
        "failed": result["failed"],
        "simulator_cpu": round(result["simulator_cpu"], 2),
        "client_cpu": round(result["client_cpu"], 2),
        "ok": ok,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"simulator: {rps:,.0f} requests/s on one core ({report['ratio_to_target']:.2f} x the target of "
            f"{args.target:,.0f}); {result['requests']} requests in {result['seconds']:.2f} s, "
            f"{result['failed']} failed; CPU used: simulator {result['simulator_cpu']:.0%}, "
            f"client {result['client_cpu']:.0%}"
        )
        print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
