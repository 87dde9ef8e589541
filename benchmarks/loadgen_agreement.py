#!/usr/bin/env python3
"""Locust, k6 and profile-throughput.py at the same constant load against the same simulator.

Agreement: a simulator process (TTFT 50 ms, then 15 tokens 10 ms apart: about 190 ms end to end,
no jitter, no batch limit) gets ``--rate`` requests per second for ``--seconds`` from each
generator in turn, not streamed (k6 cannot read a stream): k6's ``constant_load`` scenario, Locust
with ``--pacing 1`` and ``--rate`` users, ``profile-throughput.py --rate --arrivals constant``. Each
one's median end-to-end latency (from its raw requests) is put next to the others' and next to the
simulator's own record of the same requests (arrival to the end of the answer, joined by the ids
they sent). Target (issue 13): the three medians within 10 % of each other.

Ceiling: a zero-delay simulator pinned to CPU 1, the generator pinned to CPU 0 with taskset, 32
users / VUs / requests at once for ``--ceiling-seconds``: the requests per second it achieved,
which is the most one core of a load host can offer with that tool (above it the generator, not
the gateway, is the limit).

    .venv/bin/python benchmarks/loadgen_agreement.py [--rate 10] [--seconds 30] [--ceiling-seconds 10]

Needs k6 at .cache/tools/k6 (lab/k6.sh) and Locust in .venv (make venv). Exit 0 when the
medians agree within 10 %, 1 when not, 2 when a generator cannot run. Loopback only; bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from profiling_accuracy import ZERO, Simulator

from llmobs.loadtesting import k6 as k6_points
from llmobs.loadtesting.loadtest_verdict import figures
from llmobs.profiling import export

ROOT = Path(__file__).resolve().parents[1]
K6 = ROOT / ".cache" / "tools" / "k6"
LOCUSTFILE = ROOT / "scripts" / "loadtesting" / "locust" / "litellm_locustfile.py"
THROUGHPUT = ROOT / "scripts" / "profiling" / "profile-throughput.py"
K6_SCRIPT = ROOT / "scripts" / "loadtesting" / "k6" / "litellm-load-test.js"
TOKENS = 16
SCHEDULE = {"ttft_ms": 50, "tokens_per_second": 100, "output_tokens": TOKENS, "batch_capacity": 0}


def pinned(command: list[str], cpu: int | None) -> list[str]:
    return command if cpu is None else ["taskset", "-c", str(cpu), *command]


def run(command: list[str], ok: tuple[int, ...] = (0,), **kw: Any) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, **kw)
    if result.returncode not in ok:
        raise RuntimeError(
            f"{Path(command[0]).name} ... failed ({result.returncode}): {result.stderr[-1500:]}"
        )


def by_k6(url: str, folder: Path, rate: int, seconds: int, cpu: int | None = None, vus: int = 0) -> dict:
    points = folder / "points.json"
    env = {"LITELLM_URL": url, "SCENARIO": "constant_load", "RATE": str(rate), "CONSTANT_S": str(seconds)}
    env |= {"MODELS": "m1", "MAX_TOKENS": str(TOKENS), "RUN_ID": f"k6{rate}", "MIX_FILE": "/nonexistent"}
    if vus:
        env["PREALLOCATED_VUS"] = str(vus)
    flags = [f"-e{k}={v}" for k, v in env.items()]
    command = pinned([str(K6), "run", "--quiet", "--out", f"json={points}", *flags, str(K6_SCRIPT)], cpu)
    run(command, ok=(0, 99), env={"PATH": os.environ["PATH"], "K6_NO_USAGE_REPORT": "true"})
    return k6_points.convert(points, f"k6{rate}", [])


def by_locust(
    url: str, folder: Path, rate: int, seconds: int, cpu: int | None = None, users: int = 0
) -> dict:
    samples = folder / "locust.json"
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", url, "--headless"]
    command += ["--run-time", f"{seconds}s", "--stream-share", "0", "--max-tokens", str(TOKENS)]
    command += ["--models", "m1", "--mix-file", "/nonexistent", "--samples", str(samples), "--only-summary"]
    if users:  # the ceiling: no pause
        command += ["--users", str(users), "--spawn-rate", str(users), "LiteLLMStressUser"]
    else:
        command += ["--users", str(rate), "--spawn-rate", str(rate), "--pacing", "1"]
    run(pinned(command, cpu), ok=(0, 1))
    return export.read(samples)


def by_profile(
    url: str, folder: Path, rate: int, seconds: int, cpu: int | None = None, at_once: int = 0
) -> dict:
    out = folder / "profile.json"
    command = [sys.executable, str(THROUGHPUT), "--url", url, "--model", "m1", "--no-stream"]
    command += ["--max-tokens", str(TOKENS), "--export", str(out)]
    if at_once:
        command += ["--concurrency", str(at_once), "--requests", str(seconds * 1500)]
    else:
        command += ["--rate", str(rate), "--arrivals", "constant", "--requests", str(rate * seconds)]
    run(pinned(command, cpu), ok=(0, 1))
    return export.read(out)


GENERATORS = {"k6": by_k6, "locust": by_locust, "profile-throughput": by_profile}


def agreement(rate: int, seconds: int) -> dict[str, Any]:
    sim = Simulator(SCHEDULE)
    results: dict[str, Any] = {}
    try:
        for name, generate in GENERATORS.items():
            with tempfile.TemporaryDirectory() as folder:
                data = generate(sim.url, Path(folder), rate, seconds)
            rows = [r for r in data["requests"] if not r.get("warmup") and r["error"] is None]
            ids = {r["request_id"] for r in rows}
            truth = [(t["ended"] - t["arrived"]) * 1000 for t in sim.timings() if t["id"] in ids]
            results[name] = {
                "requests": len(rows),
                "rps": figures([data])["rps"],
                "median_e2e_ms": data["summary"]["p50_latency_ms"],
                "server_median_e2e_ms": statistics.median(truth) if truth else None,
                "valid": data["validity"].get("valid"),
                "problems": data["validity"].get("problems", []),
            }
    finally:
        sim.stop()
    medians = [r["median_e2e_ms"] for r in results.values() if r["median_e2e_ms"]]
    spread = max(medians) / min(medians) - 1 if len(medians) == len(GENERATORS) else None
    return {"generators": results, "spread": spread, "agree": spread is not None and spread <= 0.10}


def ceiling(seconds: int) -> dict[str, Any]:
    sim = Simulator(ZERO, cpu=1)
    out = {}
    try:
        for name, generate in GENERATORS.items():
            with tempfile.TemporaryDirectory() as folder:
                keyword = {"k6": "vus", "locust": "users", "profile-throughput": "at_once"}[name]
                rate = 5000 if name == "k6" else 0  # k6: an arrival rate no core reaches, 32 VUs
                data = generate(sim.url, Path(folder), rate, seconds, cpu=0, **{keyword: 32})
            out[name] = figures([data])["rps"]
    finally:
        sim.stop()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--rate", type=int, default=10, help="requests per second (default 10)")
    parser.add_argument("--seconds", type=int, default=30, help="per generator (default 30)")
    parser.add_argument("--ceiling-seconds", type=int, default=10, help="per generator (default 10; 0: skip)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not K6.is_file() or shutil.which("taskset") is None:
        print(f"needs k6 at {K6} (lab/k6.sh) and taskset (util-linux)", file=sys.stderr)
        return 2
    try:
        results = {"agreement": agreement(args.rate, args.seconds)}
        if args.ceiling_seconds:
            results["ceiling_rps_one_core"] = ceiling(args.ceiling_seconds)
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_table(results, args.rate)
    return 0 if results["agreement"]["agree"] else 1


def print_table(results: dict[str, Any], rate: int) -> None:
    agreement_ = results["agreement"]
    schedule = f"simulator: TTFT 50 ms, {TOKENS} tokens 10 ms apart"
    print(f"constant load of {rate} requests/s, not streamed; {schedule}")
    print(f"  {'generator':20} {'requests':>8} {'req/s':>7} {'median E2E ms':>14} {'server says':>12}  valid")
    for name, r in agreement_["generators"].items():
        server = r["server_median_e2e_ms"]
        print(
            f"  {name:20} {r['requests']:8} {r['rps'] or 0:7.2f} {r['median_e2e_ms']:14.2f} "
            f"{server if server is None else round(server, 2)!s:>12}  {r['valid']} {'; '.join(r['problems'])}"
        )
    spread = agreement_["spread"]
    verdict = "met" if agreement_["agree"] else "NOT met"
    print(f"medians within {spread:.1%} of each other (target 10 %): {verdict}")
    if "ceiling_rps_one_core" in results:
        line = ", ".join(f"{k} {v:.0f}" for k, v in results["ceiling_rps_one_core"].items() if v)
        print(f"each generator's ceiling on one core (zero-delay simulator, 32 at once), requests/s: {line}")


if __name__ == "__main__":
    raise SystemExit(main())
