#!/usr/bin/env python3
"""The one launcher behind the guide's script paths (scripts/*/NAME.py are links to it).

It runs the tool its link is named after from the llmobs package of this clone, so the scripts
work without installing anything; on the hosts the same tools are the package's entry points.
"""

import runpy
import sys
from pathlib import Path

TOOLS = {
    "analyze-logs.py": "llmobs.debugging.analyze",
    "tail-requests.py": "llmobs.debugging.tail",
    "test-request.py": "llmobs.debugging.request",
    "profile-latency.py": "llmobs.profiling.latency",
    "profile-throughput.py": "llmobs.profiling.throughput",
    "compare-providers.py": "llmobs.profiling.compare",
    "check-regression.py": "llmobs.profiling.gate",
    "report.py": "llmobs.report",
    "loadtest-verdict.py": "llmobs.loadtesting.verdict",
    "k6-export.py": "llmobs.loadtesting.k6",
}

name = Path(sys.argv[0]).name
if name not in TOOLS:
    sys.exit(f"run-tool.py: run it through one of its links: {', '.join(sorted(TOOLS))}")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
runpy.run_module(TOOLS[name], run_name="__main__")
