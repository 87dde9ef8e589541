"""profile-latency: latency of one model through the gateway, with its breakdown, from raw requests.

Sends --warmup requests (not counted), then --iterations requests one after another, each with a
unique prompt (no cache answers it), and reports P50/P95/P99 of the total latency, TTFB, TTFT,
network time (what the client saw minus what the gateway reports), the gateway's overhead, TPOT,
ITL and tokens/s, each defined by the formula that --export writes next to every raw request.
A run whose client measured itself (CPU, event-loop lag) says so and fails.
"""

from __future__ import annotations

import argparse
from typing import Any

from llmobs.cli import UsageError, argument_parser, run, table
from llmobs.measuring import MeasuringClient
from llmobs.profiling import export, tool
from llmobs.profiling.run import Measurement, Runner, validity

EPILOG = """\
metrics (ms unless said; formulas in the export's "formulas"):
  latency   send -> whole answer read        TTFB  send -> first byte of the response
  TTFT      send -> first token (streams)    TPOT  (last token - first token) / (tokens - 1)
  ITL       gaps between token chunks        network  TTFB - x-litellm-response-duration-ms
  overhead  x-litellm-overhead-duration-ms   tokens/s  (tokens - 1) / (last - first token)

examples:
  profile-latency.py --model llama3.1:8b
  profile-latency.py --model llama3.1:8b --iterations 20 --warmup 5
  profile-latency.py --model llama3.1:8b --export results.json && jq '.summary.p95_latency_ms' results.json

exit codes: 0 ok, 1 a request failed or the run is not valid (the export is still written),
  2 usage error, 3 internal error, 130 interrupted (the export is written, marked incomplete)"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argument_parser(__doc__, EPILOG, debug=True)
    parser.add_argument(
        "--iterations", type=int, default=10, metavar="N", help="measured requests (default 10)"
    )
    parser.add_argument(
        "--warmup", type=int, default=2, metavar="N", help="requests sent first, not counted (default 2)"
    )
    tool.add_common(parser)
    args = parser.parse_args(argv)
    try:
        tool.check_common(args)
        if not 1 <= args.iterations <= 1_000_000:
            raise UsageError(f"--iterations {args.iterations}: between 1 and 1000000")
        if not 0 <= args.warmup <= 10_000:
            raise UsageError(f"--warmup {args.warmup}: between 0 and 10000")
    except UsageError as error:
        parser.error(str(error))
    return args


def main(argv: list[str] | None = None) -> int:
    return run(_main, argv)


def _main(argv: list[str]) -> int:
    args = parse_args(argv)
    where = tool.target(args)
    model = args.model or tool.default_model(where)

    async def work(runner: Runner, client: MeasuringClient) -> Measurement:
        plan = tool.planned(client, model, args, args.warmup, runner.run_id, warmup=True)
        plan += tool.planned(client, model, args, args.iterations, runner.run_id, start=args.warmup)
        return await runner.closed_loop(plan, 1)

    measurement, runner = tool.measure(args, where, f"profile-latency {model}", 1, work)
    checks = validity(measurement)
    settings = tool.settings_of(
        args, "model", "iterations", "warmup", "stream", "prompt_tokens", "max_tokens", "timeout"
    )
    settings["model"] = model
    data = export.export(
        "profile-latency",
        where.url,
        settings,
        measurement,
        checks,
        runner.run_id,
        argv,
        rows=tool.wants_rows(args),
    )
    return tool.finish(
        args, data, lambda: report_lines(data, model, where.url), ("metrics",), measurement, where, model
    )


ROWS = (  # label, metric, unit
    ("latency", "latency_ms", "ms"),
    ("TTFB", "ttfb_ms", "ms"),
    ("TTFT", "ttft_ms", "ms"),
    ("network", "network_ms", "ms"),
    ("gateway overhead", "overhead_ms", "ms"),
    ("TPOT", "tpot_ms", "ms"),
    ("ITL", "itl_ms", "ms"),
    ("tokens/s", "tokens_per_s", "tok/s"),
    ("output tokens", "output_tokens", "tokens"),
)


def metric_rows(metrics: dict[str, Any]) -> list[str]:
    rows = []
    for label, name, unit in ROWS:
        stats = metrics[name]
        if not stats.get("count"):
            continue
        rows.append([label, *(_figure(stats[k]) for k in ("p50", "p95", "p99", "mean", "min", "max")), unit])
    return table(["metric", "p50", "p95", "p99", "mean", "min", "max", ""], rows, [False, *[True] * 6, False])


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}" if abs(value) < 1000 else f"{value:.0f}"


def report_lines(data: dict[str, Any], model: str, url: str) -> list[str]:
    settings = data["manifest"]["settings"]
    summary = data["summary"]
    mode = "streamed" if settings["stream"] else "not streamed"
    lines = [
        f"profile-latency: {model} at {url}, {summary['requests']} requests {mode} after "
        f"{settings['warmup']} warm-up (prompt {settings['prompt_tokens']} words, "
        f"max_tokens {settings['max_tokens']})"
    ]
    manifest = data["manifest"]
    for deployment in manifest["deployments"][:5]:
        if deployment["model_id"] or deployment["api_base"]:
            lines.append(
                f"  answered by {deployment['model_id'] or '?'} at {deployment['api_base'] or '?'} "
                f"({deployment['count']} requests)"
            )
    if manifest["gateway_versions"]:
        lines.append(f"  gateway version {', '.join(manifest['gateway_versions'])}")
    if not summary["requests"]:
        return lines  # stopped before anything was measured: the reason follows on stderr
    lines.append("")
    if data["metrics"]["latency_ms"]["count"]:
        lines += metric_rows(data["metrics"])
        lines.append("")
    rate = summary["success_rate"]
    lines.append(
        f"  success: {summary['successful']}/{summary['requests']}"
        + (f" ({rate:.1%})" if rate is not None else "")
    )
    return [*lines, *tool.closing_lines(data)]


if __name__ == "__main__":
    raise SystemExit(main())
