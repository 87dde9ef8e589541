"""profile-throughput: how many requests at once the gateway serves well, measured, not guessed.

Closed loop: --concurrency workers send --requests requests, each worker its next one when its
answer is complete. --sweep raises the concurrency level by level until the throughput stops
growing or an SLO breaks (TTFT, TPOT, end-to-end latency at P95, success rate), and recommends the
concurrency with the highest goodput (requests per second that met every SLO), saying why the
sweep stopped. Open loop: --rate sends on a schedule (constant gaps, or --arrivals poisson)
whatever the answers, and reports latency from the scheduled time next to latency from the
actual send, and the send lag (a client that falls behind its schedule hides a slow server).

Throughput is computed over the steady part of each level: closed loop, by Little's law over the
requests sent after each worker's first and before the last round (the synchronized start and the
drain left out); open loop, the answers between the first 5 % and the last send.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from llmobs.cli import UsageError, argument_parser, run, table
from llmobs.measuring import MeasuringClient, Sample
from llmobs.profiling import export, tool
from llmobs.profiling.run import Measurement, Runner, combined, steady_window, validity
from llmobs.stats import percentile

DEFAULT_LEVELS = (1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)
EPILOG = """\
per level: RPS and output tokens/s over the steady window, goodput (requests/s meeting every SLO),
  success rate, P50/P95 latency, P95 TTFT and TPOT. The recommended concurrency is the smallest
  whose goodput is within 5 % of the best among the levels that met the SLO.

examples:
  profile-throughput.py --requests 100 --concurrency 10
  profile-throughput.py --sweep
  profile-throughput.py --model qwen-coder-vllm --sweep --slo-ttft-ms 500 --slo-tpot-ms 50
  profile-throughput.py --model qwen-coder-vllm --rate 5 --arrivals poisson --requests 300

exit codes: 0 ok, 1 a request failed, an SLO or the run's validity failed, or no level met the SLO
  (the export is still written), 2 usage error, 3 internal error, 130 interrupted"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argument_parser(__doc__, EPILOG, debug=True)
    parser.add_argument(
        "--requests",
        type=int,
        default=100,
        metavar="N",
        help="requests (per level of a sweep: at least 4 x its concurrency; default 100)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=10, metavar="N", help="requests at once (default 10)"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--sweep", action="store_true", help="raise the concurrency level by level (see --levels)"
    )
    mode.add_argument(
        "--rate", type=float, metavar="R", help="open loop: R requests per second on a schedule"
    )
    parser.add_argument(
        "--levels",
        default=",".join(map(str, DEFAULT_LEVELS)),
        help="the sweep's concurrency levels (default %(default)s)",
    )
    parser.add_argument(
        "--arrivals",
        choices=("constant", "poisson"),
        default="constant",
        help="open loop: the gaps between arrivals (default constant)",
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=512,
        metavar="N",
        help="open loop: connections at most (default 512)",
    )
    parser.add_argument(
        "--min-gain",
        type=float,
        default=0.10,
        metavar="F",
        help="the sweep stops when a level adds less throughput than this (default 0.10)",
    )
    parser.add_argument(
        "--slo-ttft-ms",
        type=float,
        default=2000.0,
        metavar="MS",
        help="P95 time to first token (default 2000; streams)",
    )
    parser.add_argument(
        "--slo-tpot-ms",
        type=float,
        default=100.0,
        metavar="MS",
        help="P95 time per output token (default 100; streams)",
    )
    parser.add_argument(
        "--slo-e2e-ms", type=float, default=None, metavar="MS", help="P95 end-to-end latency (default: none)"
    )
    parser.add_argument(
        "--slo-success-rate",
        type=float,
        default=0.99,
        metavar="F",
        help="success rate at least (default 0.99)",
    )
    parser.add_argument("--seed", type=int, default=0, help="open loop: the seed of the Poisson arrivals")
    tool.add_common(parser)
    args = parser.parse_args(argv)
    try:
        tool.check_common(args)
        check(args)
    except UsageError as error:
        parser.error(str(error))
    return args


def check(args: argparse.Namespace) -> None:
    if not 1 <= args.requests <= 10_000_000:
        raise UsageError(f"--requests {args.requests}: between 1 and 10000000")
    if not 1 <= args.concurrency <= 100_000:
        raise UsageError(f"--concurrency {args.concurrency}: between 1 and 100000")
    if args.rate is not None and not (math.isfinite(args.rate) and 0 < args.rate <= 100_000):
        raise UsageError(f"--rate {args.rate}: more than 0 and at most 100000 per second")
    if not 1 <= args.connections <= 100_000:
        raise UsageError(f"--connections {args.connections}: between 1 and 100000")
    try:
        levels = sorted({int(level) for level in args.levels.split(",") if level.strip()})
    except ValueError:
        raise UsageError(f"--levels {args.levels!r}: a comma-separated list of numbers") from None
    if not levels or levels[0] < 1 or levels[-1] > 100_000:
        raise UsageError(f"--levels {args.levels!r}: numbers between 1 and 100000")
    args.level_list = levels
    for name in ("min_gain", "slo_ttft_ms", "slo_tpot_ms", "slo_e2e_ms"):
        value = getattr(args, name)
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise UsageError(f"--{name.replace('_', '-')} {value}: a number of 0 or more")
    if not 0 <= args.slo_success_rate <= 1:
        raise UsageError(f"--slo-success-rate {args.slo_success_rate}: between 0 and 1")


def main(argv: list[str] | None = None) -> int:
    return run(_main, argv)


def meets(sample: Sample, args: argparse.Namespace) -> bool:
    """The request succeeded within every per-request SLO (vLLM's goodput, after DistServe)."""
    if not sample.ok or sample.end is None:
        return False
    if args.slo_e2e_ms is not None and (sample.end - sample.sent) * 1000 > args.slo_e2e_ms:
        return False
    if sample.stream and sample.first_token is not None:
        if (sample.first_token - sample.sent) * 1000 > args.slo_ttft_ms:
            return False
        tokens = sample.output_tokens or 0
        if (
            tokens > 1
            and ((sample.last_token or 0) - sample.first_token) * 1000 / (tokens - 1) > args.slo_tpot_ms
        ):
            return False
    return True


def level_result(
    measurement: Measurement, label: str, warm: int, args: argparse.Namespace, offered: float | None = None
) -> dict[str, Any]:
    """One level's figures, its SLO verdict and its validity."""
    records = measurement.measured
    metrics = export.metrics_of(records)
    summary = export.flat_summary(records, metrics)
    rates = closed_loop_rates(records, warm, args) if offered is None else None
    window = steady_window(measurement, warm)
    if window:
        start, end = window
        inside = [r.sample for r in records if r.sample.end is not None and start < r.sample.end <= end]
        span = end - start
    else:  # too few requests for a steady part: the whole run, said so
        inside = [r.sample for r in records if r.sample.end is not None]
        span = measurement.wall_s
    completed = [s for s in inside if s.ok]
    broken = []
    if summary["success_rate"] is not None and summary["success_rate"] < args.slo_success_rate:
        broken.append(f"success rate {summary['success_rate']:.1%} < {args.slo_success_rate:.1%}")
    for name, limit in (("ttft", args.slo_ttft_ms), ("tpot", args.slo_tpot_ms), ("latency", args.slo_e2e_ms)):
        value = summary[f"p95_{name}_ms"]
        if limit is not None and value is not None and value > limit:
            broken.append(
                f"P95 {name.upper() if name != 'latency' else 'end-to-end'} {value:.0f} ms > {limit:g} ms"
            )
    checks = validity(measurement, offered)
    if not (rates if offered is None else window):
        checks["problems"].append(
            "no steady window (too few requests for the concurrency): rates are over the whole run"
        )
        checks["valid"] = False
    return {
        "level": label,
        "requests": summary["requests"],
        "successful": summary["successful"],
        "success_rate": summary["success_rate"],
        "window_s": round(span, 3),
        **(
            rates
            or {
                "rps": round(len(completed) / span, 3) if span > 0 else None,
                "output_tokens_per_s": round(sum(s.output_tokens or 0 for s in completed) / span, 1)
                if span > 0
                else None,
                "goodput_rps": round(sum(1 for s in inside if meets(s, args)) / span, 3)
                if span > 0
                else None,
            }
        ),
        "p50_latency_ms": summary["p50_latency_ms"],
        "p95_latency_ms": summary["p95_latency_ms"],
        "p95_ttft_ms": summary["p95_ttft_ms"],
        "p95_tpot_ms": summary["p95_tpot_ms"],
        "slo_met": not broken,
        "slo_broken": broken,
        "valid": checks["valid"],
        "validity": checks,
    }


def closed_loop_rates(
    records: list[Any], concurrency: int, args: argparse.Namespace
) -> dict[str, Any] | None:
    """Rates of a closed loop by Little's law: with every worker always busy, throughput =
    concurrency / mean latency, over the steady requests (sent after the first ``concurrency``:
    the synchronized start, and before the last ``concurrency``: they overlap the drain). Counting
    answers inside a time window instead is biased by where its edges cut the waves of a batching
    server. None when the run has no steady requests."""
    ordered = sorted((r.sample for r in records if r.sample.end is not None), key=lambda s: s.sent)
    steady = ordered[concurrency : len(ordered) - concurrency]
    if not steady:
        return None
    mean_s = sum(s.end - s.sent for s in steady) / len(steady)  # type: ignore[operator]
    if mean_s <= 0:
        return None
    throughput = concurrency / mean_s  # requests finished per second, failures included
    n = len(steady)
    return {
        "rps": round(throughput * sum(1 for s in steady if s.ok) / n, 3),
        "output_tokens_per_s": round(throughput * sum(s.output_tokens or 0 for s in steady if s.ok) / n, 1),
        "goodput_rps": round(throughput * sum(1 for s in steady if meets(s, args)) / n, 3),
    }


def recommend(levels: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The smallest concurrency whose goodput is within 5 % of the best, among the valid levels
    that met the SLO."""
    good = [level for level in levels if level["slo_met"] and level["valid"] and level["goodput_rps"]]
    if not good:
        return None
    best = max(level["goodput_rps"] for level in good)
    chosen = min(
        (level for level in good if level["goodput_rps"] >= 0.95 * best),
        key=lambda level: level["concurrency"],
    )
    return {
        "concurrency": chosen["concurrency"],
        "goodput_rps": chosen["goodput_rps"],
        "rps": chosen["rps"],
        "why": f"goodput {chosen['goodput_rps']:g} req/s: the smallest concurrency within 5 % of the best "
        f"({best:g} req/s) among the valid levels that met the SLO",
    }


async def sweep(
    runner: Runner, client: MeasuringClient, model: str, args: argparse.Namespace
) -> tuple[list[Measurement], list[dict[str, Any]], str]:
    measurements: list[Measurement] = []
    levels: list[dict[str, Any]] = []
    levels_wanted = args.level_list if args.sweep else [args.concurrency]
    stop = "every level was measured"
    best_rps = 0.0
    sent = 0
    for concurrency in levels_wanted:
        count = max(args.requests, 4 * concurrency) if args.sweep else args.requests
        client.connections = max(client.connections, concurrency)
        # no warm-up requests per level: the steady window leaves out each worker's first answer
        plan = tool.planned(client, model, args, count, runner.run_id, group=f"c{concurrency}", start=sent)
        sent += count
        measurement = await runner.closed_loop(plan, concurrency)
        measurements.append(measurement)
        result = level_result(measurement, f"c{concurrency}", concurrency, args)
        result["concurrency"] = concurrency
        levels.append(result)
        if measurement.stopped:
            stop = (
                "interrupted" if measurement.stopped == "interrupted" else f"stopped: {measurement.stopped}"
            )
            break
        if not args.sweep:
            break
        if not result["valid"]:
            stop = (
                f"the client could not measure concurrency {concurrency} honestly "
                f"({'; '.join(result['validity']['problems'])}): the server may take more; "
                "measure from more load hosts"
            )
            break
        if not result["slo_met"]:
            stop = f"the SLO broke at concurrency {concurrency}: {'; '.join(result['slo_broken'])}"
            break
        rps = result["rps"] or 0.0
        if best_rps and rps < (1 + args.min_gain) * best_rps:
            stop = (
                f"throughput stopped growing at concurrency {concurrency}: {rps:g} req/s, less than "
                f"{args.min_gain:.0%} over the best so far ({best_rps:g})"
            )
            break
        best_rps = max(best_rps, rps)
    return measurements, levels, stop


async def open_loop(
    runner: Runner, client: MeasuringClient, model: str, args: argparse.Namespace
) -> tuple[list[Measurement], list[dict[str, Any]], str]:
    client.connections = args.connections
    plan = tool.planned(client, model, args, args.requests, runner.run_id, group=f"rate{args.rate:g}")
    measurement = await runner.open_loop(plan, args.rate, args.arrivals == "poisson", args.seed)
    warm = max(1, args.requests // 20)
    result = level_result(measurement, f"rate {args.rate:g}/s", warm, args, offered=args.rate)
    result["rate"] = args.rate
    records = measurement.measured
    values = export.values(r.sample for r in records)
    for name in ("latency_from_intended_ms", "send_lag_ms"):
        result[f"p50_{name}"] = percentile(values[name], 50)
        result[f"p95_{name}"] = percentile(values[name], 95)
    stop = (
        "interrupted"
        if measurement.stopped == "interrupted"
        else measurement.stopped or "every request was sent"
    )
    return [measurement], [result], stop


def _main(argv: list[str]) -> int:
    args = parse_args(argv)
    where = tool.target(args)
    model = args.model or tool.default_model(where)

    async def work(runner: Runner, client: MeasuringClient) -> Any:
        if args.rate is not None:
            return await open_loop(runner, client, model, args)
        return await sweep(runner, client, model, args)

    (measurements, levels, stop), runner = tool.measure(
        args, where, f"profile-throughput {model}", args.concurrency, work
    )
    measurement = combined(measurements)
    checks = validity(measurement, args.rate)
    for level in levels:
        for problem in level["validity"]["problems"]:
            if problem not in checks["problems"]:
                checks["problems"].append(f"{level['level']}: {problem}")
    checks["valid"] = not checks["problems"]
    recommendation = recommend(levels) if args.rate is None else None
    settings = tool.settings_of(
        args,
        "requests",
        "concurrency",
        "sweep",
        "rate",
        "arrivals",
        "level_list",
        "min_gain",
        "slo_ttft_ms",
        "slo_tpot_ms",
        "slo_e2e_ms",
        "slo_success_rate",
        "stream",
        "prompt_tokens",
        "max_tokens",
        "timeout",
    )
    settings["model"] = model
    extra = {"levels": levels, "stop_reason": stop, "recommendation": recommendation}
    data = export.export(
        "profile-throughput",
        where.url,
        settings,
        measurement,
        checks,
        runner.run_id,
        argv,
        extra,
        rows=tool.wants_rows(args),
    )
    if recommendation:
        data["summary"]["optimal_concurrency"] = recommendation["concurrency"]
    shown = ("levels", "recommendation", "stop_reason")
    code = tool.finish(
        args, data, lambda: report_lines(data, model, where.url, args), shown, measurement, where, model
    )
    if code == 0 and (
        any(not level["slo_met"] for level in levels if not args.sweep) or (args.sweep and not recommendation)
    ):
        code = 1
    return code


def _f(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def report_lines(data: dict[str, Any], model: str, url: str, args: argparse.Namespace) -> list[str]:
    levels = data["levels"]
    mode = (
        f"open loop at {args.rate:g} req/s ({args.arrivals})"
        if args.rate is not None
        else ("sweep" if args.sweep else f"concurrency {args.concurrency}")
    )
    lines = [f"profile-throughput: {model} at {url}, {mode}, {'streamed' if args.stream else 'not streamed'}"]
    if not data["summary"]["requests"]:
        return lines
    lines.append("")
    header = [
        "level",
        "requests",
        "success",
        "RPS",
        "tok/s",
        "goodput",
        "p50 ms",
        "p95 ms",
        "p95 TTFT",
        "p95 TPOT",
        "SLO",
    ]
    rows = [
        [
            level["level"],
            level["requests"],
            f"{level['success_rate']:.1%}" if level["success_rate"] is not None else "-",
            _f(level["rps"], 2),
            _f(level["output_tokens_per_s"]),
            _f(level["goodput_rps"], 2),
            _f(level["p50_latency_ms"]),
            _f(level["p95_latency_ms"]),
            _f(level["p95_ttft_ms"]),
            _f(level["p95_tpot_ms"]),
            "met" if level["slo_met"] else "broken",
        ]
        for level in levels
    ]
    lines += table(header, rows, [False, *[True] * 9, False])
    lines.append("")
    if args.rate is not None and levels:
        level = levels[0]
        lines.append(
            f"  from the schedule: p50 {_f(level['p50_latency_from_intended_ms'])} ms, "
            f"p95 {_f(level['p95_latency_from_intended_ms'])} ms "
            f"(send lag p95 {_f(level['p95_send_lag_ms'], 2)} ms; "
            f"achieved {_f(level['validity']['achieved_rate'], 2)} of {args.rate:g} req/s)"
        )
    recommendation = data["recommendation"]
    if args.sweep:
        if recommendation:
            lines.append(
                f"  recommended concurrency: {recommendation['concurrency']} ({recommendation['why']})"
            )
        else:
            lines.append("  no valid level met the SLO: no concurrency to recommend")
        lines.append(f"  the sweep ended: {data['stop_reason']}")
    return [*lines, *tool.closing_lines(data)]


if __name__ == "__main__":
    raise SystemExit(main())
