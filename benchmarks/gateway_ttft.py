#!/usr/bin/env python3
"""A client's TTFT through the gateway against the TTFT the gateway logs for the same request.

Issue 12's target: through the gateway, TTFT minus the gateway's logged TTFT within 2 ms. One run
starts the simulator (vLLM dialect, TTFT 50 ms, then 16 tokens 10 ms apart) and one LiteLLM proxy
with what the bundle deploys (arm E of gateway_logging_overhead.py: the role's metrics, our request
log), then measures streamed requests with the bundle's own tools as an operator runs them:
``profile-latency.py`` at concurrency 1 and ``profile-throughput.py`` at concurrency 8. Each
request joins its request-log line by the id the client sent. Per concurrency (ms, over the
requests):

* client TTFT minus ``gateway_ttft_ms`` (the gateway's own stamps: the request's arrival in its
  HTTP server, its first token handed to it): the network and the client;
* client TTFT minus ``queue_ms + ttft_ms`` (LiteLLM's stamps only), for comparison.

Exit 0 when the median of the first is within 2 ms at both concurrencies and no client TTFT is
below the gateway's, 1 when not, 2 when the setup fails. Loopback only; bounded in requests and
time.

    .venv/bin/python benchmarks/gateway_ttft.py [--requests 100] [--litellm-python PATH] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import gateway_logging_overhead as gateway

from llmobs.cli import progress
from llmobs.stats import summary  # count, mean, min, p50 ... p99, max

TARGET_MS = 2.0
SCRIPTS = gateway.REPO / "scripts" / "profiling"
# the profiling benchmark's schedule (profiling_accuracy.py), shorter: a proxy that is not
# CPU-bound at concurrency 8, as a gateway in front of GPU backends is
PROFILE = gateway.PROFILE.replace("ttft_ms: 0", "ttft_ms: 50").replace(
    "tokens_per_second: 0", "tokens_per_second: 100"
)


def tool_command(concurrency: int, requests: int, port: int, key: str, export: Path) -> list[str]:
    common = ["--url", f"http://127.0.0.1:{port}", "--key", key, "--model", gateway.MODEL]
    common += ["--stream", "--export", str(export)]
    if concurrency == 1:
        return [sys.executable, str(SCRIPTS / "profile-latency.py"), "--iterations", str(requests), *common]
    return [
        sys.executable,
        str(SCRIPTS / "profile-throughput.py"),
        "--requests",
        str(requests),
        "--concurrency",
        str(concurrency),
        *common,
    ]


def join(export: dict[str, Any], log_file: Path) -> dict[str, Any]:
    """The export's measured requests against their log lines: the two gaps, and what did not join."""
    records = {}
    for line in log_file.read_text().splitlines():
        record = json.loads(line)
        records[record["request_id"]] = record
    ours, litellm, unjoined = [], [], 0
    for row in export["requests"]:
        if row.get("warmup"):
            continue
        record = records.get(row["request_id"])
        if (
            record is None
            or row.get("first_token_ms") is None
            or None in (record.get("gateway_ttft_ms"), record.get("queue_ms"), record.get("ttft_ms"))
        ):
            unjoined += 1
            continue
        client = row["first_token_ms"] - row["sent_ms"]
        ours.append(client - record["gateway_ttft_ms"])
        litellm.append(client - record["queue_ms"] - record["ttft_ms"])
    return {
        "joined": len(ours),
        "unjoined": unjoined,
        "client_minus_gateway_ttft_ms": summary(ours) if ours else None,
        "client_minus_litellm_stamps_ms": summary(litellm) if litellm else None,
    }


async def measure(args: argparse.Namespace, python: str, workdir: Path) -> dict[str, Any]:
    gateway.PROFILE = PROFILE
    simulator, sim_port = gateway.start_simulator(python, workdir, None)
    arm = gateway.ARMS["E"]
    key = "sk-" + secrets.token_hex(16)
    results: dict[str, Any] = {}
    try:
        gateway.start_proxy(arm, python, workdir, sim_port, key)
        await gateway.wait_ready(arm, args.startup_timeout)
        assert arm.log_file is not None
        for concurrency in (1, 8):
            export = workdir / f"c{concurrency}.json"
            progress(f"concurrency {concurrency}: {args.requests} streamed requests through the gateway")
            command = tool_command(concurrency, args.requests, arm.port, key, export)
            run = subprocess.run(command, capture_output=True, text=True, timeout=600)
            if run.returncode not in (0, 1) or not export.exists():
                raise gateway.SetupError(f"{Path(command[1]).name} failed:\n{run.stderr[-2000:]}")
            data = json.loads(export.read_text())
            arm.requests_sent += len(data["requests"])  # warm-ups included: each has its line
            lines = await gateway.wait_log_lines(arm, 20)  # the writer drains every 50 ms
            progress(f"concurrency {concurrency}: the log has {lines['lines']} of {arm.requests_sent} lines")
            results[f"c{concurrency}"] = join(data, arm.log_file)
    finally:
        gateway.stop(arm.process)
        gateway.stop(simulator)
    return results


def verdict(results: dict[str, Any], requests: int) -> dict[str, Any]:
    problems = []
    for level, result in results.items():
        gap = result["client_minus_gateway_ttft_ms"]
        if result["joined"] < requests:
            problems.append(f"{level}: {result['joined']} of {requests} requests joined their log lines")
        if gap is None:
            continue
        if gap["p50"] > TARGET_MS:
            problems.append(f"{level}: median {gap['p50']:.3f} ms over the {TARGET_MS:g} ms target")
        if gap["min"] < 0:
            problems.append(f"{level}: a client's TTFT {-gap['min']:.3f} ms below the gateway's")
    return {"target_ms": TARGET_MS, "problems": problems, "pass": not problems}


def render(report: dict[str, Any]) -> str:
    out = [
        f"LiteLLM {gateway.litellm_version_pin()} deployed as the bundle does (arm E), simulator TTFT "
        "50 ms + 16 tokens 10 ms apart;",
        "streamed requests by profile-latency.py (c1) and profile-throughput.py (c8), joined to the "
        "request log by id",
        "",
        f"{'':<6}{'client TTFT - gateway_ttft_ms':^34}|{'client TTFT - (queue_ms + ttft_ms)':^36}",
        f"{'':<6}{'median':>8}{'p95':>8}{'min':>8}{'max':>9} |{'median':>9}{'p95':>9}{'min':>9}{'max':>9}",
    ]
    for level, result in report["results"].items():
        ours, theirs = result["client_minus_gateway_ttft_ms"], result["client_minus_litellm_stamps_ms"]
        if ours is None or theirs is None:
            out.append(f"{level:<6}no request joined its log line")
            continue
        out.append(
            f"{level:<6}{ours['p50']:>8.3f}{ours['p95']:>8.3f}{ours['min']:>8.3f}{ours['max']:>9.3f} |"
            f"{theirs['p50']:>9.3f}{theirs['p95']:>9.3f}{theirs['min']:>9.3f}{theirs['max']:>9.3f}"
            f"   ({result['joined']} requests)"
        )
    v = report["verdict"]
    out += ["", f"target: median within {v['target_ms']:g} ms at c1 and c8, never below 0"]
    out += [f"  - {p}" for p in v["problems"]] or ["  met"]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="exit codes: 0 target met, 1 missed, 2 setup failed",
    )
    parser.add_argument("--requests", type=int, default=100, help="measured requests per level (default 100)")
    parser.add_argument("--litellm-python", metavar="PATH", help="as for gateway_logging_overhead.py")
    parser.add_argument(
        "--startup-timeout", type=float, default=180, help="seconds for the proxy (default 180)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if not 10 <= args.requests <= 10_000:
        parser.error("--requests: 10 to 10000")
    workdir = Path(tempfile.mkdtemp(prefix="llmobs-ttft-"))
    try:
        python = gateway.ensure_venv(args.litellm_python)
        results = asyncio.run(measure(args, python, workdir))
    except (gateway.SetupError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report = {"results": results, "verdict": verdict(results, args.requests)}
    print(json.dumps(gateway.clean(report), indent=2) if args.json else render(report))
    return 0 if report["verdict"]["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
