#!/usr/bin/env python3
"""Does profile-throughput --sweep find a known optimum? Simulators with a known knee, the sweep's
recommendation next to the truth.

* batch capacity N (no slowdown): throughput grows with the concurrency up to N and stays flat
  after it, so the best concurrency is N;
* a batch slowdown s with a TPOT SLO L: TPOT(c) = TPOT(1) x (1 + s (c - 1)), so the largest
  concurrency within the SLO is floor(1 + (L / TPOT(1) - 1) / s) (profile.py documents the formula).

Each case runs the real tool (scripts/profiling/profile-throughput.py --sweep) against its own
simulator process; a recommendation counts as found when it is the expected concurrency or a
neighbouring level of the sweep (the levels are 1, 2, 4, 8, 12, 16, 24, ...: "within one step").
Requests take 0.5 s (TTFT 300 ms, 5 gaps of 40 ms), so that the client's own delays do not matter.

    .venv/bin/python benchmarks/sweep_knee.py [--json]

Exit 0 when every case is found, 1 otherwise. Loopback only, about a minute.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

from profiling_accuracy import Simulator

from llmobs.cli import to_json
from llmobs.profiling.profile_throughput import DEFAULT_LEVELS

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "scripts" / "profiling" / "profile-throughput.py"
BASE = {"ttft_ms": 300, "tokens_per_second": 25, "output_tokens": 6}
TPOT_MS = 40.0
CASES = [  # name, model settings, extra flags, expected concurrency
    ("capacity 4", {"batch_capacity": 4}, [], 4),
    ("capacity 12", {"batch_capacity": 12}, [], 12),
    (
        "slowdown 0.25, TPOT <= 80 ms",
        {"batch_capacity": 64, "batch_slowdown": 0.25},
        ["--slo-tpot-ms", "80"],
        None,
    ),
    (
        "slowdown 0.1, TPOT <= 80 ms",
        {"batch_capacity": 64, "batch_slowdown": 0.1},
        ["--slo-tpot-ms", "80"],
        None,
    ),
]


def expected(model: dict, flags: list[str], given: int | None) -> int:
    if given is not None:
        return given
    limit = float(flags[flags.index("--slo-tpot-ms") + 1])
    return math.floor(1 + (limit / TPOT_MS - 1) / model["batch_slowdown"])


def within_one_step(found: int | None, truth: int) -> bool:
    """The level found is the truth, or the sweep level just below or just above it."""
    if found is None:
        return False
    below = max((level for level in DEFAULT_LEVELS if level <= truth), default=1)
    above = min((level for level in DEFAULT_LEVELS if level >= truth), default=truth)
    neighbours = {below, above}
    index = DEFAULT_LEVELS.index(below)
    if below == truth:  # exactly a level: one step either way
        neighbours |= {
            DEFAULT_LEVELS[max(index - 1, 0)],
            DEFAULT_LEVELS[min(index + 1, len(DEFAULT_LEVELS) - 1)],
        }
    return found in neighbours


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    for name, settings, flags, given in CASES:
        model = {**BASE, **settings}
        truth = expected(model, flags, given)
        sim = Simulator(model)
        try:
            with tempfile.TemporaryDirectory() as folder:
                out = Path(folder) / "sweep.json"
                command = [
                    sys.executable,
                    str(TOOL),
                    "--url",
                    sim.url,
                    "--model",
                    "m1",
                    "--sweep",
                    "--requests",
                    "4",
                ]
                subprocess.run([*command, *flags, "--export", str(out)], capture_output=True, timeout=900)
                data = json.loads(out.read_text())
        finally:
            sim.stop()
        found = (data.get("recommendation") or {}).get("concurrency")
        rows.append(
            {
                "case": name,
                "expected": truth,
                "recommended": found,
                "found": within_one_step(found, truth),
                "valid": data["validity"]["valid"],
                "stop": data["stop_reason"],
            }
        )
    if args.json:
        print(to_json(rows))
    else:
        print(f"  {'case':32} {'expected':>8} {'recommended':>11}  verdict  why the sweep stopped")
        for row in rows:
            verdict = "found" if row["found"] else "MISSED"
            found = f"{row['expected']:>8} {row['recommended']!s:>11}  {verdict:7}"
            print(f"  {row['case']:32} {found}  {row['stop']}")
    return 0 if all(row["found"] for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
