"""compare-providers: models (and the providers behind them) side by side, from interleaved requests.

The arms are interleaved: in each round every model gets one request, in a freshly shuffled order,
so that drift over the run (a backend warming up, a neighbour's load) hits every model alike
instead of whichever ran last. Per model: median and P95 latency, median TTFT and tokens/s, the
success rate, and the speedup against the first model (its median latency over this one's, > 1 =
faster) with a 95 % bootstrap confidence interval.
"""

from __future__ import annotations

import argparse
import random
from typing import Any

from llmobs.cli import CheckFailed, UsageError, argument_parser, run, table
from llmobs.client import ClientError
from llmobs.measuring import MeasuringClient
from llmobs.profiling import export, tool
from llmobs.profiling.run import Measurement, Planned, Record, Runner, validity
from llmobs.stats import bootstrap_ratio, percentile

EPILOG = """\
examples:
  compare-providers.py                                   # every model of the gateway
  compare-providers.py --models llama3.1:8b qwen-coder-vllm
  compare-providers.py --iterations 20 --export comparison.json
  jq '.results[] | {provider, model, median_latency_ms}' comparison.json

exit codes: 0 ok, 1 a request failed or the run is not valid (the export is still written),
  2 usage error, 3 internal error, 130 interrupted"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argument_parser(__doc__, EPILOG, debug=True)
    parser.add_argument(
        "--models", nargs="+", metavar="MODEL", help="the models (default: every model of the gateway)"
    )
    parser.add_argument(
        "--iterations", type=int, default=10, metavar="N", help="measured requests per model (default 10)"
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=1,
        metavar="N",
        help="requests per model sent first, not counted (default 1)",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="the seed of the shuffled order (default: random, recorded)"
    )
    tool.add_common(parser, model_help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        tool.check_common(args)
        if not 1 <= args.iterations <= 100_000:
            raise UsageError(f"--iterations {args.iterations}: between 1 and 100000")
        if not 0 <= args.warmup <= 1000:
            raise UsageError(f"--warmup {args.warmup}: between 0 and 1000")
        if args.models and len(set(args.models)) != len(args.models):
            raise UsageError("--models: a model named twice")
    except UsageError as error:
        parser.error(str(error))
    return args


def interleaved(models: list[str], rounds: int, rng: random.Random) -> list[str]:
    """``rounds`` rounds, each model once per round, each round in its own shuffled order."""
    order: list[str] = []
    for _ in range(rounds):
        batch = list(models)
        rng.shuffle(batch)
        order += batch
    return order


def results_of(records: list[Record], models: list[str]) -> list[dict[str, Any]]:
    by_model = {model: [r for r in records if r.planned.group == model] for model in models}
    latencies = {
        model: [(r.sample.end - r.sample.sent) * 1000 for r in rows if r.sample.ok and r.sample.end]
        for model, rows in by_model.items()
    }
    baseline = latencies[models[0]]
    results = []
    for model in models:
        rows = by_model[model]
        metrics = export.metrics_of(rows)
        summary = export.flat_summary(rows, metrics)
        providers = sorted(
            {d["provider"] or d["model_id"] or "-" for d in export.deployments(rows) if d["model_id"]}
        )
        mine = latencies[model]
        speedup = None
        if baseline and mine:
            speedup = percentile(baseline, 50) / percentile(mine, 50)  # type: ignore[operator]
        interval = bootstrap_ratio(baseline, mine) if model != models[0] else (1.0, 1.0)
        results.append(
            {
                "model": model,
                "provider": ", ".join(providers) if providers else None,
                "requests": summary["requests"],
                "success_rate": summary["success_rate"],
                "median_latency_ms": summary["p50_latency_ms"],
                "p95_latency_ms": summary["p95_latency_ms"],
                "median_ttft_ms": summary["p50_ttft_ms"],
                "median_tokens_per_s": summary["median_tokens_per_s"],
                "median_output_tokens": summary["median_output_tokens"],
                "speedup": round(speedup, 4) if speedup else None,
                "speedup_ci95": [round(bound, 4) for bound in interval] if interval else None,
                "metrics": metrics,
            }
        )
    return results


def main(argv: list[str] | None = None) -> int:
    return run(_main, argv)


def _main(argv: list[str]) -> int:
    args = parse_args(argv)
    where = tool.target(args)
    if args.models:
        models = args.models
    else:
        try:
            models = tool.available_models(where)
        except ClientError as error:
            raise CheckFailed(tool.explain_error(error, where)) from None
        if not models:
            raise CheckFailed(f"the gateway at {where.url} lists no model (GET /v1/models)")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    rng = random.Random(seed)

    async def work(runner: Runner, client: MeasuringClient) -> Measurement:
        plan: list[Planned] = []
        for warm, rounds in ((True, args.warmup), (False, args.iterations)):
            for model in interleaved(models, rounds, rng):
                plan += tool.planned(client, model, args, 1, runner.run_id, warm, model, start=len(plan))
        return await runner.closed_loop(plan, 1)

    measurement, runner = tool.measure(args, where, "compare-providers", 1, work)
    checks = validity(measurement)
    results = results_of(measurement.measured, models)
    settings = tool.settings_of(
        args, "iterations", "warmup", "stream", "prompt_tokens", "max_tokens", "timeout"
    )
    settings |= {"models": models, "seed": seed}
    data = export.export(
        "compare-providers",
        where.url,
        settings,
        measurement,
        checks,
        runner.run_id,
        argv,
        {"results": results},
        rows=tool.wants_rows(args),
    )
    return tool.finish(
        args, data, lambda: report_lines(data, where.url), ("results",), measurement, where, models[0]
    )


def _f(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def report_lines(data: dict[str, Any], url: str) -> list[str]:
    settings = data["manifest"]["settings"]
    lines = [
        f"compare-providers: {len(settings['models'])} models at {url}, {settings['iterations']} requests "
        f"each, interleaved in shuffled rounds (seed {settings['seed']})"
    ]
    if not data["summary"]["requests"]:
        return lines
    rows = []
    for result in data["results"]:
        interval = result["speedup_ci95"]
        speedup = (
            "baseline"
            if result is data["results"][0]
            else f"{_f(result['speedup'], 2)}x [{_f(interval[0], 2)}, {_f(interval[1], 2)}]"
            if interval
            else f"{_f(result['speedup'], 2)}x"
        )
        rows.append(
            [
                result["model"],
                result["provider"] or "-",
                f"{result['success_rate']:.0%}" if result["success_rate"] is not None else "-",
                _f(result["median_latency_ms"]),
                _f(result["p95_latency_ms"]),
                _f(result["median_ttft_ms"]),
                _f(result["median_tokens_per_s"]),
                speedup,
            ]
        )
    header = ["model", "provider", "success", "median ms", "p95 ms", "TTFT ms", "tok/s", "speedup [95% CI]"]
    lines += ["", *table(header, rows, [False, False, True, True, True, True, True, False]), ""]
    return [*lines, *tool.closing_lines(data)]


if __name__ == "__main__":
    raise SystemExit(main())
