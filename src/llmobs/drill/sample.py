"""drill-sample: what a gateway host's metrics and memory say, once a second, for a fault drill.

Each line of the output is one JSON sample: the time (epoch seconds), LiteLLM's request counter
by HTTP status (litellm_proxy_total_requests_metric_total summed over models and routes), the
request log's lost lines by reason (llmobs_request_log_lines_lost_total), and the resident memory
of each systemd unit named (the sum over the processes of its cgroup), or what went wrong. A
scrape that fails (the gateway restarting) is a sample with an error, not the end: the drill's
verdict adds the counters up across restarts from these samples.

Standard library only: playbooks/drill.yml copies this file to the gateway hosts and runs it
with their python3 until the drill stops it (SIGTERM) or its unit's time limit.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from typing import Any

REQUESTS = "litellm_proxy_total_requests_metric_total"
LOST = "llmobs_request_log_lines_lost_total"
# one sample line of the text format: name{labels} value; label values are escaped, never a "}"
_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ([^ ]+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def counters(text: str) -> dict[str, dict[str, float]]:
    """{"requests": {status: n}, "lost": {reason: n}} from a /metrics/ page."""
    out: dict[str, dict[str, float]] = {"requests": {}, "lost": {}}
    for line in text.splitlines():
        if not line.startswith((REQUESTS, LOST)):
            continue
        match = _LINE.match(line)
        if match is None or match.group(1) not in (REQUESTS, LOST):
            continue
        try:
            value = float(match.group(3))
        except ValueError:
            continue
        labels = dict(_LABEL.findall(match.group(2) or ""))
        kind, key = (
            ("requests", labels.get("status_code", ""))
            if match.group(1) == REQUESTS
            else (
                "lost",
                labels.get("reason", ""),
            )
        )
        out[kind][key] = out[kind].get(key, 0.0) + value
    return out


def _children(pid: str) -> list[str]:
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as children:
                out += children.read().split()
    except OSError:
        pass  # gone in between
    return out


def rss_bytes(unit: str) -> int | None:
    """The resident memory of a systemd unit's main process and its descendants (None: not
    running). The process tree, not the cgroup: it reads the same under cgroup v1 and v2, in a
    container or not."""
    main = subprocess.run(
        ["systemctl", "show", "--property=MainPID", "--value", unit],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if not main.isdigit() or main == "0":
        return None
    total, todo, seen = 0, [main], set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except (OSError, ValueError):
            continue  # gone in between
        todo += _children(pid)
    return total


def sample(url: str, key: str, units: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"t": round(time.time(), 3)}
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            out.update(counters(response.read().decode("utf-8", "replace")))
    except (OSError, ValueError) as error:
        out["error"] = f"{type(error).__name__}: {error}"[:200]
    out["rss"] = {unit: rss_bytes(unit) for unit in units}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="drill-sample", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the gateway's /metrics/ URL")
    parser.add_argument(
        "--units", default="litellm", help="systemd units whose memory to sample, comma-separated"
    )
    parser.add_argument("--every", type=float, default=1.0, help="seconds between samples (default 1)")
    parser.add_argument("--out", required=True, help="the JSON-lines file to append to")
    args = parser.parse_args(argv)
    key = os.environ.get("LITELLM_MASTER_KEY", "")
    units = [u for u in args.units.split(",") if u]
    stop = False

    def stopping(*_: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, stopping)
    with open(args.out, "a", buffering=1) as out:
        while not stop:
            began = time.monotonic()
            out.write(json.dumps(sample(args.url, key, units)) + "\n")
            while not stop and time.monotonic() - began < args.every:
                time.sleep(0.05)
    return 0


if __name__ == "__main__":
    sys.exit(main())
