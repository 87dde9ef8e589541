#!/usr/bin/env python3
"""analyze-logs against jq on a large request log: the same per-model P95, at least twice as fast.

Target: ``analyze-logs --performance --json`` takes at most half the wall time of jq computing the
same aggregation on the same file.

One run writes a realistic log of --lines lines (default 1,000,000) in the gateway's schema
(``llmobs.request/1``: several models and providers, about 3 % failures with varied messages,
streams with a time to first token, two hosts) into a temporary directory, then runs, one after
the other, each as a child process of its own:

    ours  scripts/debugging/analyze-logs.py LOG --performance --json (as a user runs it)
    jq    jq -n over the same file: per model (requested_model), the P95 of latency_ms over the
          successful requests

Both use the nearest-rank quantile (llmobs.debugging.records.quantile): the value at index
ceil(0.95 * n) - 1 of the sorted latencies, the same floating-point expression in both, so the
numbers must be equal, not close. Each child's wall time and peak RSS (ru_maxrss from os.wait4,
which reports that child alone) are printed. The file holds only valid JSON lines (jq stops at
the first bad one), so the comparison is on equal input.

Exit 0 when the numbers agree and the target is met, 1 when the numbers differ or the target is
missed, 2 when jq is missing or a child fails.

    .venv/bin/python benchmarks/analyze_logs_vs_jq.py [--lines 1000000] [--seed 1] [--jq /usr/bin/jq]
        [--python PATH] [--keep] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from llmobs.cli import progress

REPO = Path(__file__).resolve().parents[1]
TOOL = REPO / "scripts" / "debugging" / "analyze-logs.py"
TARGET_RATIO = 2.0
QUANTILE = 0.95
WORKDIR_PREFIX = "llmobs-bench-analyze-"

# The same aggregation as analyze-logs' latency table (model = requested_model, else model_group),
# with the nearest-rank quantile of llmobs.debugging.records.quantile.
JQ_PROGRAM = """
[inputs | select(.status == "success" and .latency_ms != null)
  | [.requested_model // .model_group // "-", .latency_ms]]
| group_by(.[0])
| map({key: .[0][0], value: (map(.[1]) | sort | .[((QUANTILE * length) | ceil) - 1])})
| from_entries
""".replace("QUANTILE", repr(QUANTILE))

# model -> (provider, api_provider, median latency ms): a lab's mix of local and hosted models
MODELS = {
    "llama3.1:8b": ("ollama-gpu1", "ollama_chat", 900.0),
    "qwen2.5-coder:7b": ("ollama-gpu1", "ollama_chat", 1200.0),
    "qwen-coder-vllm": ("vllm-a100", "hosted_vllm", 450.0),
    "mistral-7b-vllm": ("vllm-a100", "hosted_vllm", 380.0),
    "gpt-4o-mini": ("openai", "openai", 1600.0),
    "claude-3-5-haiku": ("anthropic", "anthropic", 2100.0),
}
WEIGHTS = [30, 15, 25, 10, 12, 8]
ERRORS = [
    ("RateLimitError", 429, "litellm.RateLimitError: Rate limit reached for {model}; request id {rid}"),
    ("Timeout", 408, "litellm.Timeout: Request timed out after {n}.0 seconds (call {rid})"),
    ("NotFoundError", 404, "litellm.NotFoundError: OllamaException - model '{model}' not found"),
    ("APIConnectionError", 500, "litellm.APIConnectionError: Cannot connect to host 10.0.3.{n}:11434"),
    ("InternalServerError", 500, "litellm.InternalServerError: upstream error {uuid}"),
    ("ContextWindowExceededError", 400, "prompt is too long: {n} tokens > 8192 maximum"),
]


def generate(path: Path, lines: int, seed: int) -> None:
    """A log shaped like the gateway's, in time order, one compact JSON object per line."""
    rng = random.Random(seed)
    models = list(MODELS)
    start = datetime(2024, 5, 1, tzinfo=UTC).timestamp()
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    with path.open("w") as out:
        moment = start
        batch = []
        for i in range(lines):
            moment += rng.expovariate(1 / 0.05)  # ~20 requests per second
            model = rng.choices(models, WEIGHTS)[0]
            provider, api_provider, median = MODELS[model]
            stream = rng.random() < 0.4
            failed = rng.random() < 0.03
            latency = round(median * rng.lognormvariate(0, 0.6), 3)
            prompt = rng.randint(20, 4000)
            completion = 0 if failed else rng.randint(1, 800)
            record: dict[str, Any] = {
                "schema": "llmobs.request/1",
                "time": datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds"),
                "level": "ERROR" if failed else "WARNING" if latency > 5000 else "INFO",
                "host": f"gw{i % 2 + 1}",
                "request_id": f"req-{i:08x}",
                "trace_id": f"trace-{i:08x}",
                "requested_model": model,
                "model_group": model,
                "deployment": f"{provider}/{model}",
                "provider": provider,
                "api_provider": api_provider,
                "api_base": f"http://{provider}.lab:8000",
                "backend_model": model,
                "stream": stream,
                "status": "failure" if failed else "success",
                "http_status": 200,
                "error_class": None,
                "error_message": None,
                "latency_ms": latency,
                "ttft_ms": round(latency * rng.uniform(0.05, 0.3), 3) if stream and not failed else None,
                "upstream_latency_ms": round(latency * 0.97, 3),
                "overhead_ms": round(rng.uniform(0.8, 4.0), 3),
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
                "cost": 0.0 if api_provider != "openai" else round((prompt + 4 * completion) * 1.5e-7, 8),
                "cache_hit": rng.random() < 0.02,
                "retries": 0,
                "metadata": {"project": rng.choice(["chat", "rag", "eval"]), "env": "prod"},
            }
            if failed:
                error_class, status, template = rng.choice(ERRORS)
                record["http_status"] = status
                record["error_class"] = error_class
                record["error_message"] = template.format(
                    model=model,
                    rid=f"req-{rng.getrandbits(48):012x}",
                    n=rng.randint(1, 999),
                    uuid=f"{rng.getrandbits(128):032x}",
                )
            batch.append(dumps(record))
            if len(batch) == 10_000:
                out.write("\n".join(batch) + "\n")
                batch.clear()
        if batch:
            out.write("\n".join(batch) + "\n")


# Peak RSS of one child alone. A child started from this process inherits its peak RSS (Linux
# keeps the high-water mark of the memory it had before exec), so the tool is started by a small
# launcher that reports its own child's ru_maxrss: GNU time when present, else a minimal python
# (whose own ~10 MB is then the floor of the figure).
GNU_TIME = Path("/usr/bin/time")
LAUNCHER = (
    "import os, sys; pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ); "
    "_, status, usage = os.wait4(pid, 0); open(sys.argv[1], 'w').write(str(usage.ru_maxrss)); "
    "sys.exit(os.waitstatus_to_exitcode(status))"
)


def measure(command: list[str], stdout: Path) -> dict[str, Any]:
    """Run one child to its end: its wall time, CPU time and peak RSS."""
    rss_file = stdout.with_suffix(".maxrss")
    if GNU_TIME.exists():
        launched = [str(GNU_TIME), "-f", "%M", "-o", str(rss_file), *command]
    else:
        launched = [sys.executable, "-c", LAUNCHER, str(rss_file), *command]
    with stdout.open("wb") as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(launched, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)  # CPU times include the launcher's child
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        error = err.read().decode(errors="replace")
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:2])} exited {child.returncode}: {error.strip()[:2000]}")
    peak_kb = int(rss_file.read_text().split()[-1])  # GNU time may write a line before the number
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": peak_kb / 1024}


def benchmark(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    log = workdir / "requests.log"
    progress(f"writing {args.lines:,} lines to {log} ...")
    generate(log, args.lines, args.seed)
    size_mb = log.stat().st_size / 1e6
    progress(f"{size_mb:.0f} MB; running analyze-logs, then jq ...")
    ours = measure(
        [args.python, str(TOOL), str(log), "--performance", "--json", "--top", "1000"], workdir / "ours.json"
    )
    jq = measure([args.jq, "-n", "-c", JQ_PROGRAM, str(log)], workdir / "jq.json")
    report = json.loads((workdir / "ours.json").read_text())
    ours_p95 = {row["model"]: row["p95_ms"] for row in report["latency"]["by_model"]}
    jq_p95 = json.loads((workdir / "jq.json").read_text())
    ratio = jq["wall_s"] / ours["wall_s"]
    return {
        "lines": args.lines,
        "size_mb": round(size_mb, 1),
        "ours": ours,
        "jq": jq,
        "ratio": ratio,
        "target_ratio": TARGET_RATIO,
        "p95_ms": {"ours": dict(sorted(ours_p95.items())), "jq": dict(sorted(jq_p95.items()))},
        "same_numbers": ours_p95 == jq_p95,
        "pass": ours_p95 == jq_p95 and ratio >= TARGET_RATIO,
    }


def render(result: dict[str, Any], jq_version: str) -> str:
    out = [f"log: {result['lines']:,} lines, {result['size_mb']} MB"]
    for name, label in (("ours", "analyze-logs --performance --json"), ("jq", jq_version)):
        r = result[name]
        out.append(
            f"{label:<34} wall {r['wall_s']:7.2f} s   cpu {r['cpu_s']:7.2f} s   "
            f"peak RSS {r['peak_rss_mb']:7.1f} MB"
        )
    verdict = "met" if result["ratio"] >= TARGET_RATIO else "MISSED"
    out.append(f"speed-up (jq wall / ours): {result['ratio']:.2f}x (target >= {TARGET_RATIO:g}x): {verdict}")
    ours, jq = result["p95_ms"]["ours"], result["p95_ms"]["jq"]
    out.append("per-model P95 latency_ms of successful requests (nearest rank):")
    for model in sorted(set(ours) | set(jq)):
        mark = "" if ours.get(model) == jq.get(model) else "   <-- DIFFERENT"
        out.append(f"  {model:<20} ours {ours.get(model)!s:>10}   jq {jq.get(model)!s:>10}{mark}")
    out.append("numbers: identical" if result["same_numbers"] else "numbers: DIFFERENT (the run is invalid)")
    out.append("PASS" if result["pass"] else "FAIL")
    return "\n".join(out)


def in_workdir(keep: bool, prefix: str, work: Callable[[Path], dict[str, Any]]) -> dict[str, Any] | None:
    """``work(directory)`` in a new temporary directory, removed after unless ``keep``; None when it
    failed (said on stderr)."""
    with contextlib.ExitStack() as stack:
        if keep:
            workdir = Path(tempfile.mkdtemp(prefix=prefix))
            progress(f"keeping {workdir}")
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=prefix)))
        try:
            return work(workdir)
        except (RuntimeError, OSError, ValueError, KeyError) as error:
            print(f"error: {error}", file=sys.stderr)
            return None


def benchmark_parser(doc: str, epilog: str, lines_help: str) -> argparse.ArgumentParser:
    """The options every analyze-logs benchmark takes: --lines of the generated log, and the run's."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0], epilog=epilog)
    add = parser.add_argument
    add("--lines", type=int, default=1_000_000, help=f"{lines_help} (default 1000000)")
    add("--seed", type=int, default=1, help="seed of the generated log (default 1)")
    add("--python", default=sys.executable, help="python that runs analyze-logs (default: this one)")
    add("--keep", action="store_true", help="keep the work directory (log and both outputs)")
    add("--json", action="store_true", help="print the result as JSON")
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    epilog = "exit codes: 0 same numbers and target met, 1 numbers differ or target missed, 2 setup failed"
    parser = benchmark_parser(__doc__, epilog, "lines of the generated log")
    parser.add_argument("--jq", default="/usr/bin/jq", help="jq to compare with (default /usr/bin/jq)")
    args = parser.parse_args(argv)
    if not 1_000 <= args.lines <= 50_000_000:
        parser.error("--lines must be between 1000 and 50000000")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        jq_version = subprocess.run(
            [args.jq, "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as error:
        print(f"error: jq is needed for the comparison: {error}", file=sys.stderr)
        return 2
    result = in_workdir(args.keep, WORKDIR_PREFIX, lambda workdir: benchmark(args, workdir))
    if result is None:
        return 2
    print(json.dumps(result, indent=2) if args.json else render(result, jq_version))
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
