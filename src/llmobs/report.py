"""report: one self-contained HTML page from one or several exports of the profiling tools.

The page opens offline (no script, no CDN, no web font: the charts are inline SVG, see
llmobs.charts). Several exports (load hosts, runs) are merged by their raw requests, never by
averaging their percentiles; the charts show each host as its own series. Sections: the validity
verdict, the metrics, the latency distributions, TTFT and inter-token latency over the run, the
levels of a throughput sweep (throughput and P95 against concurrency, the recommendation marked),
the providers side by side, the errors, and each run's manifest.
"""

from __future__ import annotations

import argparse
import itertools
import math
from collections import defaultdict
from html import escape
from pathlib import Path
from typing import Any

from llmobs.charts import STYLE, Chart
from llmobs.cli import UsageError, argument_parser, printable, progress, run, table, to_json
from llmobs.profiling import export
from llmobs.stats import percentile

EPILOG = """\
examples:
  report.py results.json --html report.html
  report.py results/RUN_ID/*/latency.json --html fleet.html --title "fleet latency"

exit codes: 0 written, 2 usage error (a file that is not an export), 3 internal error"""

PAGE_STYLE = """
body { font: 14px/1.4 sans-serif; margin: 24px; color: #222; max-width: 1400px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0; }
td, th { padding: 3px 10px; border-bottom: 1px solid #eee; }
th { text-align: left; background: #f6f6f6; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.verdict { padding: 10px 14px; border-radius: 4px; margin: 12px 0; font-weight: bold; }
.valid { background: #e6f4ea; border: 1px solid #9c9; }
.invalid { background: #fde8e8; border: 1px solid #e99; }
.meta { color: #666; } pre { background: #f6f6f6; padding: 8px; overflow-x: auto; font-size: 12px; }
"""
METRIC_ROWS = (
    ("latency", "latency_ms"),
    ("TTFB", "ttfb_ms"),
    ("TTFT", "ttft_ms"),
    ("TPOT", "tpot_ms"),
    ("ITL", "itl_ms"),
    ("network", "network_ms"),
    ("gateway overhead", "overhead_ms"),
    ("tokens/s", "tokens_per_s"),
    ("latency from schedule", "latency_from_intended_ms"),
    ("send lag", "send_lag_ms"),
)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 1 else f"{value:.3g}"
    return escape(str(value))


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{_cell(c)}</td>' if isinstance(c, int | float) else f"<td>{_cell(c)}</td>"
            for c in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def host_name(data: dict[str, Any], index: int) -> str:
    """The name of an export in the charts: its host, and its place when runs share a host."""
    manifest = data.get("manifest") or {}
    return f"{manifest.get('host') or 'run'} #{index + 1}"


def problems(exports: list[dict[str, Any]]) -> list[str]:
    """Why the exports' measurements cannot be trusted (each generator's own checks, a run cut short
    by anything but the operator), by host when there are several."""
    found = []
    for i, data in enumerate(exports):
        checks = data.get("validity") or {}
        where = f"{host_name(data, i)}: " if len(exports) > 1 else ""
        found += [where + str(p) for p in checks.get("problems", [])]
        if not checks and data.get("requests"):
            found.append(where + "the export says nothing of its generator's validity")
        if not data.get("complete", True) and data.get("stopped") != "interrupted":
            found.append(where + f"stopped early: {data.get('stopped')}")
    return found


def verdict_html(problems: list[str]) -> str:
    if problems:
        items = "".join(f"<li>{escape(p)}</li>" for p in problems)
        return f'<div class="verdict invalid" id="verdict">NOT VALID<ul>{items}</ul></div>'
    return '<div class="verdict valid" id="verdict">valid: the client measured the server, not itself</div>'


LOAD_TOOLS = ("locust", "k6")
WINDOWS = 60  # a load test's run is drawn in about this many windows


def over_time(records: list[export.Record]) -> list[Chart]:
    """A load test's requests of every host over the run, in windows by when each one ended: the
    rate answered and failed, the latency percentiles, and the P95 of each model. The hosts' own
    clocks start together (the playbooks start them at one moment)."""
    ended = [r for r in records if r.sample.end is not None]
    if not ended:
        return []
    start = min(r.sample.sent for r in ended)
    span = max(r.sample.end for r in ended) - start
    width = max(1.0, math.ceil(span / WINDOWS))
    windows: dict[int, list[export.Record]] = defaultdict(list)
    for r in ended:
        windows[int((r.sample.end - start) // width)].append(r)
    rate = Chart("Requests per second over the run", "seconds since the start", "requests per second")
    spread = Chart("Latency percentiles over the run", "seconds since the start", "end-to-end (ms)")
    models = Chart("P95 latency of each model over the run", "seconds since the start", "end-to-end (ms)")
    at = sorted(windows)
    for name, ok in (("answered", True), ("failed", False)):
        rate.line(name, [(w * width, sum(1 for r in windows[w] if r.sample.ok is ok) / width) for w in at])
    for q in (50, 95, 99):
        spread.line(
            f"P{q}", [(w * width, p) for w in at if (p := _latency_percentile(windows[w], q)) is not None]
        )
    for model in sorted({r.sample.model for r in ended}):
        points = [
            (w * width, _latency_percentile([r for r in windows[w] if r.sample.model == model], 95))
            for w in at
        ]
        models.line(model, [(x, y) for x, y in points if y is not None])
    return [rate, spread, models]


def _latency_percentile(records: list[export.Record], q: float) -> float | None:
    values = sorted((r.sample.end - r.sample.sent) * 1000 for r in records if r.sample.ok)
    return percentile(values, q, presorted=True) if values else None


def charts(exports: list[dict[str, Any]]) -> list[Chart]:
    """The charts of the exports: every one that has data to show."""
    out: list[Chart] = []
    merged = export.measured(exports)
    values = export.values(r.sample for r in merged)
    distribution = Chart("Latency distribution (CDF)", "milliseconds", "share of requests", y_from_zero=True)
    for label, name in (("end-to-end", "latency_ms"), ("TTFT", "ttft_ms"), ("TTFB", "ttfb_ms")):
        if values[name]:
            distribution.cdf(label, values[name])
    out.append(distribution)
    ttft = Chart("TTFT over the run", "seconds since the start", "TTFT (ms)")
    itl = Chart("Inter-token latency over the run", "seconds since the start", "ITL (ms)")
    latency = Chart("Latency over the run", "seconds since the start", "end-to-end (ms)")
    for i, data in enumerate(exports):
        # one series per model in a comparison, per host (export) otherwise
        by_model = data.get("tool") == "compare-providers"
        records = export.measured([data])
        for key, rows in itertools.groupby(
            sorted(records, key=lambda r: r.sample.model if by_model else ""),
            key=lambda r: r.sample.model if by_model else "",
        ):
            group = list(rows)
            name = " ".join(
                part for part in (host_name(data, i) if len(exports) > 1 or not by_model else "", key) if part
            )
            latency.dots(
                name, [(r.sample.sent, (r.sample.end - r.sample.sent) * 1000) for r in group if r.sample.ok]
            )
            ttft.dots(
                name,
                [
                    (r.sample.sent, (r.sample.first_token - r.sample.sent) * 1000)
                    for r in group
                    if r.sample.ok and r.sample.first_token is not None
                ],
            )
            gaps = [
                (b, (b - a) * 1000)
                for r in group
                if r.sample.ok
                for a, b in itertools.pairwise(r.sample.token_times)
            ]
            itl.dots(name, gaps)
    out.append(latency)
    if ttft.marks:
        out += [ttft, itl]
    levels = [level for data in exports for level in data.get("levels") or [] if level.get("concurrency")]
    if levels:
        recommended = next((data["recommendation"] for data in exports if data.get("recommendation")), None)
        rates = Chart("Throughput against concurrency", "requests at once", "requests per second")
        p95 = Chart("P95 latency against concurrency", "requests at once", "milliseconds")
        for chart, name, key in (
            (rates, "RPS", "rps"),
            (rates, "goodput (met every SLO)", "goodput_rps"),
            (p95, "P95 end-to-end", "p95_latency_ms"),
            (p95, "P95 TTFT", "p95_ttft_ms"),
        ):
            chart.line(
                name, [(level["concurrency"], level[key]) for level in levels if level.get(key) is not None]
            )
        if recommended:
            for chart in (rates, p95):
                chart.mark_x(recommended["concurrency"], f"recommended: {recommended['concurrency']}")
        out += [rates, p95]
    if any(data.get("tool") in LOAD_TOOLS for data in exports):
        out += over_time(merged)
    results = [result for data in exports for result in data.get("results") or []]
    if results:
        names = [str(r.get("model")) for r in results]
        side = Chart("Providers side by side", "model", "milliseconds", categories=names)
        side.bars("median latency", [r.get("median_latency_ms") for r in results])
        side.bars("P95 latency", [r.get("p95_latency_ms") for r in results])
        side.bars("median TTFT", [r.get("median_ttft_ms") for r in results])
        out.append(side)
    return out


# the load test's requests joined with the gateways' logs (loadtest-verdict --gateway-log)
HOP_COLUMNS = (
    ("deployment", "deployment"),
    ("requests", "requests"),
    ("p50_client_ms", "client p50"),
    ("p50_before_gateway_ms", "before gateway"),
    ("p50_in_gateway_ms", "in gateway"),
    ("p50_upstream_ms", "upstream"),
    ("p50_gateway_ttft_ms", "gateway TTFT"),
)


def hops_html(verdict: dict[str, Any] | None) -> str:
    found = (verdict or {}).get("hops")
    if not found:
        return ""
    rows = [["-" if row[key] is None else row[key] for key, _ in HOP_COLUMNS] for row in found["deployments"]]
    said = f"{found['joined']} of {found['sent']} requests found in the gateways' logs (medians, ms)."
    return f'<h2>Where the time went</h2><p id="hops">{escape(said)}</p>' + _table(
        [name for _, name in HOP_COLUMNS], rows
    )


def thresholds_html(verdict: dict[str, Any] | None) -> str:
    """A load test's thresholds, judged once on the merged requests (loadtest-verdict)."""
    if not verdict:
        return ""
    rows = [
        ["met" if c["met"] else "FAILED", c["threshold"], "no data" if c["value"] is None else c["value"]]
        for c in verdict["thresholds"]
    ]
    look, said = ("valid", "PASSED") if verdict["passed"] else ("invalid", "FAILED")
    box = f'<div id="thresholds" class="verdict {look}">{said}</div>'
    return f"<h2>Thresholds</h2>{box}" + _table(["", "threshold", "measured (merged)"], rows)


def build(
    exports: list[dict[str, Any]], title: str | None = None, verdict: dict[str, Any] | None = None
) -> str:
    first = exports[0]
    tool = first.get("tool", "profile")
    manifest = first.get("manifest") or {}
    settings = manifest.get("settings") or {}
    mix = [pair[0] for pair in settings.get("mix") or [] if isinstance(pair, list) and pair]  # load tests
    model = settings.get("model") or ", ".join(map(str, settings.get("models") or mix))
    title = title or f"{tool}: {model}"
    metrics, summary = export.merged_metrics(exports)
    hosts = ", ".join(host_name(data, i) for i, data in enumerate(exports))
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{PAGE_STYLE}{STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">{escape(str(manifest.get("url", "")))} '
        f"&middot; run {escape(str(manifest.get('run_id', '')))}"
        f" &middot; {escape(str(manifest.get('started_at', '')))} &middot; from {escape(hosts)}"
        f" &middot; gateway {escape(', '.join(manifest.get('gateway_versions') or ['version unknown']))}</p>",
        verdict_html(verdict["problems"] if verdict else problems(exports)),
        thresholds_html(verdict),
        hops_html(verdict),
        "<h2>Metrics</h2>",
        f"<p>{summary['successful']} of {summary['requests']} requests succeeded"
        + (f" ({summary['success_rate']:.1%})" if summary["success_rate"] is not None else "")
        + (f"; {len(exports)} exports merged by their raw requests" if len(exports) > 1 else "")
        + (f"; {rejected} entries of another shape left out" if (rejected := _rejected(exports)) else "")
        + "</p>",
        _table(
            ["metric", "p50", "p90", "p95", "p99", "mean", "count"],
            [
                [label, *(metrics[name][k] for k in ("p50", "p90", "p95", "p99", "mean", "count"))]
                for label, name in METRIC_ROWS
                if metrics[name]["count"]
            ],
        ),
        "<h2>Charts</h2>",
        *(chart.svg() for chart in charts(exports)),
    ]
    levels = [level for data in exports for level in data.get("levels") or []]
    if levels:
        parts.append("<h2>Levels</h2>")
        parts.append(
            _table(
                [
                    "level",
                    "requests",
                    "success",
                    "RPS",
                    "tokens/s",
                    "goodput",
                    "p95 ms",
                    "p95 TTFT",
                    "p95 TPOT",
                    "SLO",
                ],
                [
                    [
                        level.get("level"),
                        level.get("requests"),
                        _percent(level.get("success_rate")),
                        level.get("rps"),
                        level.get("output_tokens_per_s"),
                        level.get("goodput_rps"),
                        level.get("p95_latency_ms"),
                        level.get("p95_ttft_ms"),
                        level.get("p95_tpot_ms"),
                        "met" if level.get("slo_met") else "; ".join(map(str, level.get("slo_broken") or [])),
                    ]
                    for level in levels
                ],
            )
        )
        for data in exports:
            if data.get("stop_reason"):
                parts.append(f"<p>The sweep ended: {escape(str(data['stop_reason']))}.</p>")
            if data.get("recommendation"):
                rec = data["recommendation"]
                why = escape(str(rec.get("why", "")))
                parts.append(f"<p><b>Recommended concurrency: {rec['concurrency']}</b> ({why}).</p>")
    results = [result for data in exports for result in data.get("results") or []]
    if results:
        parts.append("<h2>Providers</h2>")
        parts.append(
            _table(
                [
                    "model",
                    "provider",
                    "success",
                    "median ms",
                    "p95 ms",
                    "TTFT ms",
                    "tokens/s",
                    "speedup",
                    "95% interval",
                ],
                [
                    [
                        r.get("model"),
                        r.get("provider") or "-",
                        _percent(r.get("success_rate")),
                        r.get("median_latency_ms"),
                        r.get("p95_latency_ms"),
                        r.get("median_ttft_ms"),
                        r.get("median_tokens_per_s"),
                        r.get("speedup"),
                        " .. ".join(f"{b:.2f}" for b in r.get("speedup_ci95") or []) or "-",
                    ]
                    for r in results
                ],
            )
        )
    errors = [
        error | {"host": host_name(data, i)}
        for i, data in enumerate(exports)
        for error in data.get("errors") or []
    ]
    if errors:
        parts.append("<h2>Errors</h2>")
        parts.append(
            _table(
                ["host", "count", "class", "status", "message"],
                [
                    [e["host"], e.get("count"), e.get("error"), e.get("status"), e.get("detail")]
                    for e in errors
                ],
            )
        )
    parts.append("<h2>Runs</h2>")
    for i, data in enumerate(exports):
        manifest = data.get("manifest") or {}
        shown = {
            key: manifest.get(key)
            for key in (
                "tool",
                "run_id",
                "command_line",
                "host",
                "url",
                "started_at",
                "duration_s",
                "gateway_versions",
                "deployments",
                "settings",
            )
        }
        parts.append(
            f"<details><summary>{escape(host_name(data, i))}: {escape(str(manifest.get('command_line', '')))}"
            f"</summary><pre>{escape(to_json(shown))}</pre></details>"
        )
    parts.append("<h2>Formulas</h2>")
    parts.append(
        _table(["metric", "formula"], [[k, v] for k, v in (first.get("formulas") or export.FORMULAS).items()])
    )
    parts.append("</body></html>")
    return "".join(parts)


def _rejected(exports: list[dict[str, Any]]) -> int:
    """Request rows, levels and results of another shape that ``export.checked`` left out."""
    return sum(sum((data.get("rejected") or {}).values()) for data in exports)


def summary_lines(exports: list[dict[str, Any]]) -> list[str]:
    """The merged figures as text: each export's host and verdict, then the metrics of all."""
    metrics, summary = export.merged_metrics(exports)
    lines = [f"{len(exports)} export(s), {summary['successful']} of {summary['requests']} requests succeeded"]
    if _rejected(exports):
        lines.append(f"  {_rejected(exports)} entries of another shape left out (rows, levels, results)")
    for i, data in enumerate(exports):
        checks = data.get("validity") or {}
        verdict = (
            "valid"
            if checks.get("valid")
            else "NOT VALID: " + "; ".join(map(str, checks.get("problems", [])))
        )
        lines.append(f"  {host_name(data, i)}: {(data.get('manifest') or {}).get('url')}: {verdict}")
    rows = [
        [label, *(_cell(metrics[name][k]) for k in ("p50", "p95", "p99", "count"))]
        for label, name in METRIC_ROWS
        if metrics[name]["count"]
    ]
    return [
        *lines,
        "",
        *table(["metric (merged)", "p50", "p95", "p99", "count"], rows, [False, True, True, True, True]),
    ]


def write(
    path: Path, exports: list[dict[str, Any]], title: str | None = None, verdict: dict[str, Any] | None = None
) -> None:
    try:
        path.expanduser().write_text(build(exports, title, verdict))
    except OSError as error:
        raise UsageError(f"--html {path}: cannot write it ({error.strerror})") from None
    progress(f"report: {path}")


def main(argv: list[str] | None = None) -> int:
    return run(_main, argv)


def _main(argv: list[str]) -> int:
    parser = argument_parser(__doc__, EPILOG, debug=True)
    parser.add_argument(
        "exports",
        nargs="+",
        type=Path,
        help="exports of profile-latency, profile-throughput, compare-providers",
    )
    parser.add_argument("--html", type=Path, required=True, metavar="FILE", help="the page to write")
    parser.add_argument("--title", help="the page's title (default: the tool and the model)")
    args: argparse.Namespace = parser.parse_args(argv)
    try:
        exports = [export.read(path) for path in args.exports]
    except ValueError as error:
        raise UsageError(str(error)) from None
    write(args.html, exports, args.title)
    print(printable("\n".join(summary_lines(exports))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
