"""loadtest-verdict: one verdict for a load test run on several hosts, from their raw requests.

Every load host's raw requests (exports in the profiling schema: the Locust users' ``--samples``,
the profiling tools' ``--export``) are pooled and the thresholds evaluated once on the pool, never
on per-host summaries; a host whose generator could not be trusted (its CPU, how late it woke up,
a run cut short) makes the whole run invalid. Per model, the requests, failures and latencies.
With ``--html`` the profiling layer's report page, with the thresholds on top.

A threshold is ``METRIC<VALUE`` (also ``<=``, ``>``, ``>=``). METRIC is a figure of the merged
summary: ``success_rate``, ``error_rate``, ``requests``, ``rps`` (requests per second between the
first send and the last answer of all hosts), and ``{mean,p50,p90,p95,p99}_{latency,ttfb,ttft,
tpot,itl,network,overhead}_ms``. A threshold on a metric that nothing measured (``p95_ttft_ms``
without a streamed request) fails: a gate that cannot look is not passed.
"""

from __future__ import annotations

import argparse
import math
import operator
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmobs import report, stats
from llmobs.cli import EXIT_CHECK_FAILED, EXIT_OK, UsageError, argument_parser, emit, printable, run, table
from llmobs.debugging import records as request_log
from llmobs.profiling import export

EPILOG = """\
examples:
  loadtest-verdict results/RUN/*/locust.json --threshold 'p95_latency_ms<5000' --html report.html
  loadtest-verdict results/RUN/*/*.json --threshold 'error_rate<0.01' --threshold 'p95_ttft_ms<2000' --json

default threshold: success_rate>=0.99 (give --threshold to set your own; they replace it)
exit codes: 0 every threshold met and the run valid, 1 a threshold failed or the run is not valid,
2 usage error (a bad threshold, a file that is not an export), 3 internal error"""

DEFAULT_THRESHOLDS = ("success_rate>=0.99",)
_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_THRESHOLD = re.compile(r"\s*([a-z0-9_]{1,40})\s*(<=|>=|<|>)\s*([-+0-9.eE]{1,30})\s*")


@dataclass(frozen=True)
class Threshold:
    metric: str
    op: str
    limit: float

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.limit:g}"


def parse_threshold(text: str) -> Threshold:
    found = _THRESHOLD.fullmatch(text)
    limit = _float(found.group(3)) if found else None
    if not found or limit is None:
        raise UsageError(f"--threshold {text!r}: not METRIC<VALUE (or <=, >, >=), e.g. p95_latency_ms<5000")
    if found.group(1) not in metric_names():
        known = ", ".join(metric_names())
        raise UsageError(f"--threshold {text!r}: no metric {found.group(1)!r} (one of {known})")
    return Threshold(found.group(1), found.group(2), limit)


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def metric_names() -> list[str]:
    timed = ("latency", "ttfb", "ttft", "tpot", "itl", "network", "overhead")
    stats = ("mean", "p50", "p90", "p95", "p99")
    return ["success_rate", "error_rate", "requests", "rps", *(f"{s}_{t}_ms" for t in timed for s in stats)]


def figures(exports: list[dict[str, Any]]) -> dict[str, Any]:
    """The merged summary of all hosts, with the error rate and the rate of the whole run."""
    _, summary = export.merged_metrics(exports)
    rate = summary["success_rate"]
    summary["error_rate"] = None if rate is None else round(1 - rate, 4)
    spans = []
    for data in exports:  # each host's requests on its own clock: its first send and last answer
        rows = [r for r in data.get("requests", []) if not r.get("warmup")]
        sent = [r["sent_ms"] for r in rows if r.get("sent_ms") is not None]
        ended = [r["end_ms"] for r in rows if r.get("end_ms") is not None]
        if sent and ended:
            spans.append(max(ended) - min(sent))
    # the hosts start together (the playbooks start them at one moment): the run lasts as long as
    # its longest host
    span_s = max(spans) / 1000 if spans else 0
    summary["rps"] = round(summary["requests"] / span_s, 3) if span_s > 0 else None
    return summary


def per_model(exports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_model: dict[str, list[export.Record]] = defaultdict(list)
    for record in export.measured(exports):
        by_model[record.sample.model].append(record)
    rows = []
    for model, records in sorted(by_model.items()):
        summary = export.flat_summary(records, export.metrics_of(records))
        rows.append(
            {
                "model": model,
                "requests": summary["requests"],
                "failed": summary["failed"],
                "p50_latency_ms": summary["p50_latency_ms"],
                "p95_latency_ms": summary["p95_latency_ms"],
                "p95_ttft_ms": summary["p95_ttft_ms"],
            }
        )
    return rows


def invalid(exports: list[dict[str, Any]]) -> list[str]:
    """Why the run cannot be trusted, by host; empty when every generator measured the server."""
    problems = report.problems(exports)
    if not any(data.get("requests") for data in exports):
        problems.append("no request was measured")
    return problems


def gateway_records(paths: list[Path]) -> tuple[dict[str, dict[str, Any]], request_log.BadLines]:
    """The gateways' request-log records by request id (any file the debugging tools read: plain,
    gzip, rotated); bad lines are counted, never fatal."""
    bad = request_log.BadLines()
    found: dict[str, dict[str, Any]] = {}
    try:
        files = request_log.expand_paths(str(p) for p in paths)
        for path in files:
            for _, record in request_log.iter_file(path, bad):
                if record.get("request_id"):
                    found[record["request_id"]] = record
    except (FileNotFoundError, request_log.LogFileError) as error:
        raise UsageError(f"--gateway-log: {error}") from None
    return found, bad


def hops(exports: list[dict[str, Any]], logged: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Each request as the client saw it joined by its id with the gateway's record of it: where
    its time went, per deployment that served it (hop-by-hop, which no load tool gives alone)."""
    sent = joined = 0
    by_deployment: dict[str, list[tuple[float, dict[str, Any]]]] = defaultdict(list)
    for record in export.measured(exports):
        s = record.sample
        sent += 1
        line = logged.get(s.request_id)
        if line is None or s.end is None:
            continue
        joined += 1
        by_deployment[str(line.get("deployment") or line.get("requested_model"))].append(
            ((s.end - s.sent) * 1000, line)
        )
    rows = []
    for deployment, pairs in sorted(by_deployment.items()):
        client = [c for c, _ in pairs]
        gateway = [g["latency_ms"] for _, g in pairs if g.get("latency_ms") is not None]
        upstream = [g["upstream_latency_ms"] for _, g in pairs if g.get("upstream_latency_ms") is not None]
        before = [c - g["latency_ms"] for c, g in pairs if g.get("latency_ms") is not None]
        inside = [
            g["latency_ms"] - g["upstream_latency_ms"]
            for _, g in pairs
            if g.get("latency_ms") is not None and g.get("upstream_latency_ms") is not None
        ]
        ttft = [g["ttft_ms"] for _, g in pairs if g.get("ttft_ms") is not None]
        rows.append(
            {
                "deployment": deployment,
                "api_base": pairs[0][1].get("api_base"),
                "requests": len(pairs),
                "failed": sum(1 for _, g in pairs if g.get("status") == "failure"),
                "p50_client_ms": _p50(client),
                "p50_gateway_ms": _p50(gateway),
                "p50_upstream_ms": _p50(upstream),
                "p50_before_gateway_ms": _p50(before),
                "p50_in_gateway_ms": _p50(inside),
                "p50_gateway_ttft_ms": _p50(ttft),
            }
        )
    return {"sent": sent, "joined": joined, "missing": sent - joined, "deployments": rows}


def _p50(values: list[float]) -> float | None:
    value = stats.percentile(sorted(values), 50, presorted=True) if values else None
    return None if value is None else round(value, 1)


def judge(
    exports: list[dict[str, Any]], thresholds: list[Threshold], seen: Sequence[str] = ()
) -> dict[str, Any]:
    """``seen``: problems found outside the exports (by the playbook that ran the hosts)."""
    summary = figures(exports)
    checks = []
    for threshold in thresholds:
        value = summary.get(threshold.metric)
        met = value is not None and _COMPARE[threshold.op](value, threshold.limit)
        checks.append({"threshold": str(threshold), "value": value, "met": met})
    problems = [*seen, *invalid(exports)]
    passed = not problems and all(c["met"] for c in checks)
    return {
        "passed": passed,
        "valid": not problems,
        "problems": problems,
        "thresholds": checks,
        "summary": summary,
        "models": per_model(exports),
        "hosts": [report.host_name(data, i) for i, data in enumerate(exports)],
    }


def verdict_lines(result: dict[str, Any]) -> list[str]:
    lines = []
    for check in result["thresholds"]:
        value = "no data" if check["value"] is None else f"{check['value']:g}"
        lines.append(f"  {'ok  ' if check['met'] else 'FAIL'} {check['threshold']}  (measured: {value})")
    lines += [f"  NOT VALID: {p}" for p in result["problems"]]
    rows = [
        [m["model"], m["requests"], m["failed"], m["p50_latency_ms"], m["p95_latency_ms"], m["p95_ttft_ms"]]
        for m in result["models"]
    ]
    header = ["model", "requests", "failed", "p50 ms", "p95 ms", "p95 TTFT ms"]
    lines += ["", *table(header, [[_text(v) for v in row] for row in rows], [False, *[True] * 5])]
    if "hops" in result:
        lines += ["", *hop_lines(result["hops"])]
    failed = [c["threshold"] for c in result["thresholds"] if not c["met"]]
    if result["passed"]:
        met, hosts = len(result["thresholds"]), len(result["hosts"])
        lines.append(f"verdict: PASSED ({met} thresholds met, {hosts} hosts)")
    elif not result["valid"]:
        lines.append("verdict: NOT VALID (the load generators could not be trusted; see above)")
    else:
        lines.append(f"verdict: FAILED ({', '.join(failed)})")
    return lines


def hop_lines(found: dict[str, Any]) -> list[str]:
    """Where the time went, per deployment (ms, medians): the client's end to end, the part before
    the gateway's clock started (network, queueing), the gateway's own, the upstream call."""
    said = f"joined with the gateways' logs: {found['joined']} of {found['sent']} requests"
    if found["missing"]:
        said += f" ({found['missing']} not in the logs given)"
    if found.get("rejected_log_lines"):
        said += f"; {found['rejected_log_lines']} log lines rejected"
    rows = [[_text(row[key]) for key, _ in report.HOP_COLUMNS] for row in found["deployments"]]
    return [said, *table([name for _, name in report.HOP_COLUMNS], rows, [False, *[True] * 6])]


def _text(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:,.1f}" if isinstance(value, float) else str(value)


def main(argv: list[str] | None = None) -> int:
    return run(_main, argv)


def _main(argv: list[str]) -> int:
    parser = argument_parser(__doc__, EPILOG, debug=True)
    parser.add_argument("exports", nargs="+", type=Path, help="the hosts' raw results (exports)")
    parser.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="METRIC<VALUE",
        help="repeatable; replaces the default",
    )
    parser.add_argument(
        "--problem",
        action="append",
        default=[],
        metavar="TEXT",
        help="repeatable; what the run's driver saw (a host stopped by the kill switch, one that "
        "measured nothing): the run is not valid, saying so",
    )
    parser.add_argument(
        "--gateway-log",
        action="append",
        default=[],
        type=Path,
        metavar="PATH",
        help="repeatable; the gateways' request logs (files, folders, rotations): each request is "
        "joined by its id with the gateway's record of it (where its time went, who served it)",
    )
    parser.add_argument("--html", type=Path, metavar="FILE", help="also write the report page")
    parser.add_argument("--title", help="the page's title")
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")
    args: argparse.Namespace = parser.parse_args(argv)
    thresholds = [parse_threshold(t) for t in args.threshold or DEFAULT_THRESHOLDS]
    try:
        exports = [export.read(path) for path in args.exports]
    except ValueError as error:
        raise UsageError(str(error)) from None
    result = judge(exports, thresholds, [printable(p) for p in args.problem])
    if args.gateway_log:
        logged, bad = gateway_records(args.gateway_log)
        result["hops"] = {**hops(exports, logged), "rejected_log_lines": bad.total}
    if args.html:
        report.write(args.html, exports, args.title, result)
    emit(result, args.json, printable("\n".join(verdict_lines(result))))
    return EXIT_OK if result["passed"] else EXIT_CHECK_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
