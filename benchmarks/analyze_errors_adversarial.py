#!/usr/bin/env python3
"""analyze-logs --errors on adversarial error messages: at most twice the time of --performance.

Target (issue 11): on one log of --lines failed requests (default 1,000,000) whose error messages
are --message-chars long (default 1,024) and shaped against the error-pattern grouping,
``analyze-logs --errors --json`` takes at most 2x the time of ``analyze-logs --performance --json``
on the same file. Time is each child's CPU time (user + system): on a shared machine wall time
measures the neighbours; both are printed. Both read and validate every line; --errors also turns
every message into its pattern, so the ratio is the price of that step, and a grouping that is not
linear in the message shows here as a ratio of tens or hundreds.

The shapes are those that made the earlier patterns quadratic (a 1 MB message of them did not
finish in a minute): dash-joined words (the id pattern tried every dash), an unclosed quote full
of escaped quotes, an unclosed single quote, a hex run that fails at its end, a long id with
digits all along, dotted numbers, whitespace runs. Each line gets one, randomised, with the line's
number in front so that no two messages are equal. ``--shapes`` picks some; ``dense`` (space-
separated numbers and ids, the most placeholders per character) is there to measure, not in the
default set: its cost per line is bounded by the pattern's length, not by the message's.

One run writes the log into a temporary directory, then runs both sides one after the other, each
as a child process of its own (wall time, CPU time, peak RSS), checks that both counted the same
requests, and prints the ratio. Exit 0 when the target is met, 1 when missed, 2 when a child fails.

    .venv/bin/python benchmarks/analyze_errors_adversarial.py [--lines 1000000] [--message-chars 1024]
        [--shapes dashes,quotes,...] [--seed 1] [--keep] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analyze_logs_vs_jq import TOOL, benchmark_parser, in_workdir, measure

from llmobs.cli import progress

TARGET_RATIO = 2.0
WORKDIR_PREFIX = "llmobs-bench-errors-"
VARIANTS = 64  # random messages per shape; each line adds its number in front


def _letters(rng: random.Random, n: int, alphabet: str = "abcdefghijklmnopqrstuvwxyz") -> str:
    return "".join(rng.choices(alphabet, k=n))


SHAPES = {
    "dashes": lambda rng, n: "-".join(_letters(rng, n // 2)),
    "quotes": lambda rng, n: '"' + "".join(rng.choice(['\\"', "x"]) for _ in range(n // 2)),
    "single-quote": lambda rng, n: "'" + _letters(rng, n),
    "hex-run": lambda rng, n: "0x" + _letters(rng, n - 3, "abcdef") + "g",
    "long-id": lambda rng, n: "x_" + _letters(rng, n, "abc123-"),
    "dotted-numbers": lambda rng, n: ".".join(_letters(rng, n // 2, "0123456789")),
    "whitespace": lambda rng, n: "".join(rng.choice([" ", "\t", "  x"]) for _ in range(n // 2)),
    "dense": lambda rng, n: " ".join(rng.choice(["7", "req-9f3", "0x1f", "'m'"]) for _ in range(n // 4)),
}
DEFAULT_SHAPES = [name for name in SHAPES if name != "dense"]


def generate(path: Path, lines: int, chars: int, shapes: list[str], seed: int) -> None:
    """A log of failed requests in the gateway's schema, one adversarial message each."""
    rng = random.Random(seed)
    pool = [SHAPES[shape](rng, chars)[:chars] for shape in shapes for _ in range(VARIANTS)]
    start = datetime(2024, 5, 1, tzinfo=UTC).timestamp()
    head = {"schema": "llmobs.request/1", "level": "ERROR", "host": "gw1", "requested_model": "llama"}
    tail = {
        "provider": "ollama",
        "status": "failure",
        "http_status": 500,
        "error_class": "InternalServerError",
    }
    template = json.dumps({**head, "time": "%s", "request_id": "%s", **tail, "latency_ms": 12.5})
    template = template.replace('"%s"', "%s")[:-1] + ', "error_message": %s}\n'
    with path.open("w") as out:
        batch = []
        for i in range(lines):
            moment = datetime.fromtimestamp(start + i / 20, UTC).isoformat(timespec="milliseconds")
            message = f"worker {i}: {pool[i % len(pool)]}"[:chars]
            batch.append(template % (json.dumps(moment), json.dumps(f"req-{i:08x}"), json.dumps(message)))
            if len(batch) == 10_000:
                out.write("".join(batch))
                batch.clear()
                if not i % 200_000:
                    progress(f"  {i:,} lines")
        out.write("".join(batch))


def benchmark(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    log = workdir / "requests.log"
    progress(f"writing {args.lines:,} lines ({', '.join(args.shapes)}) to {log} ...")
    generate(log, args.lines, args.message_chars, args.shapes, args.seed)
    size_mb = log.stat().st_size / 1e6
    runs = {}
    for mode in ("performance", "errors"):
        progress(f"{size_mb:.0f} MB; analyze-logs --{mode} ...")
        runs[mode] = measure(
            [args.python, str(TOOL), str(log), f"--{mode}", "--json"], workdir / f"{mode}.json"
        )
    reports = {mode: json.loads((workdir / f"{mode}.json").read_text()) for mode in runs}
    requests = {mode: report["summary"]["requests"] for mode, report in reports.items()}
    ratio = runs["errors"]["cpu_s"] / runs["performance"]["cpu_s"]
    wall_ratio = runs["errors"]["wall_s"] / runs["performance"]["wall_s"]
    return {
        "lines": args.lines,
        "message_chars": args.message_chars,
        "shapes": args.shapes,
        "size_mb": round(size_mb, 1),
        "performance": runs["performance"],
        "errors": runs["errors"],
        "requests": requests,
        "patterns": reports["errors"]["errors"]["patterns"],
        "ratio": ratio,
        "wall_ratio": wall_ratio,
        "target_ratio": TARGET_RATIO,
        "pass": ratio <= TARGET_RATIO and requests["errors"] == requests["performance"] == args.lines,
    }


def render(result: dict[str, Any]) -> str:
    out = [
        f"log: {result['lines']:,} failed requests, messages of {result['message_chars']} characters, "
        f"{result['size_mb']} MB; shapes: {', '.join(result['shapes'])}"
    ]
    for mode in ("performance", "errors"):
        r = result[mode]
        out.append(
            f"analyze-logs --{mode:<12} wall {r['wall_s']:7.2f} s   cpu {r['cpu_s']:7.2f} s   "
            f"peak RSS {r['peak_rss_mb']:7.1f} MB"
        )
    out.append(f"requests counted: {result['requests']}; distinct error patterns: {result['patterns']:,}")
    verdict = "met" if result["ratio"] <= TARGET_RATIO else "MISSED"
    out.append(
        f"ratio (--errors / --performance, CPU time): {result['ratio']:.2f}x"
        f" (target <= {TARGET_RATIO:g}x): {verdict}"
    )
    out.append(f"ratio of wall times: {result['wall_ratio']:.2f}x")
    out.append("PASS" if result["pass"] else "FAIL")
    return "\n".join(out)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    epilog = "exit codes: 0 target met, 1 target missed or counts differ, 2 a run failed"
    parser = benchmark_parser(__doc__, epilog, "failed requests in the log")
    add = parser.add_argument
    add("--message-chars", type=int, default=1024, help="characters per error message (default 1024)")
    add("--shapes", default=",".join(DEFAULT_SHAPES), help=f"of {', '.join(SHAPES)} (default: all but dense)")
    args = parser.parse_args(argv)
    args.shapes = args.shapes.split(",")
    if unknown := set(args.shapes) - set(SHAPES):
        parser.error(f"unknown shapes {sorted(unknown)}; known: {', '.join(SHAPES)}")
    if not 1 <= args.lines <= 50_000_000 or not 16 <= args.message_chars <= 10_000_000:
        parser.error("--lines must be 1 to 50000000 and --message-chars 16 to 10000000")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = in_workdir(args.keep, WORKDIR_PREFIX, lambda workdir: benchmark(args, workdir))
    if result is None:
        return 2
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
