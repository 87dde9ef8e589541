"""What the profiling tools share: their common flags, finding the gateway, its key and a model,
planning requests, explaining a run that could not succeed, and writing the export."""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from llmobs import access, measuring
from llmobs.cli import EXIT_CHECK_FAILED, EXIT_OK, CheckFailed, UsageError, printable, progress, to_json
from llmobs.client import Client, ClientError, refusal
from llmobs.measuring import UNREACHABLE, MeasuringClient
from llmobs.profiling import export
from llmobs.profiling.run import Measurement, Planned, Runner, prompt_of

T = TypeVar("T")

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports it
MAX_TIMEOUT_S = 86400.0


def add_common(
    parser: argparse.ArgumentParser, model_help: str = "the model (default: the gateway's first)"
) -> None:
    parser.add_argument(
        "--url",
        default=None,
        help=f"the gateway (default: $LITELLM_URL, {access.GATEWAY_ENV_FILE}, {access.DEFAULT_URL})",
    )
    parser.add_argument(
        "--key", help="API key (default: $LITELLM_API_KEY, $LITELLM_MASTER_KEY, the env file)"
    )
    parser.add_argument("--model", help=model_help)
    parser.add_argument(
        "--stream",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="stream the answers: TTFT, TPOT and ITL need it (default: on)",
    )
    parser.add_argument(
        "--prompt-tokens", type=int, default=64, metavar="N", help="prompt length in words (default 64)"
    )
    parser.add_argument(
        "--max-tokens", type=int, default=128, metavar="N", help="max_tokens of each request (default 128)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        metavar="S",
        help="per request, send to last byte (default 120)",
    )
    parser.add_argument(
        "--export",
        type=Path,
        metavar="FILE",
        help="write every request, the metrics and the manifest as JSON",
    )
    parser.add_argument(
        "--run-id", help="the run's id in the export and the request ids (default: a random one)"
    )
    parser.add_argument(
        "--html", type=Path, metavar="FILE", help="write a self-contained HTML report (opens offline)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print the export's summary as JSON instead of text"
    )


def check_common(args: argparse.Namespace) -> None:
    if not 1 <= args.prompt_tokens <= 1_000_000:
        raise UsageError(f"--prompt-tokens {args.prompt_tokens}: between 1 and 1000000")
    if not 1 <= args.max_tokens <= 1_000_000:
        raise UsageError(f"--max-tokens {args.max_tokens}: between 1 and 1000000")
    if not (math.isfinite(args.timeout) and 0 < args.timeout <= MAX_TIMEOUT_S):
        raise UsageError(f"--timeout {args.timeout}: more than 0 and at most {MAX_TIMEOUT_S:g} s")
    if args.run_id is not None and not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", args.run_id):
        raise UsageError(f"--run-id {args.run_id!r}: 1-64 letters, digits, dots, dashes or underscores")
    for flag, path in (("--export", args.export), ("--html", args.html)):
        if path is not None and not path.expanduser().parent.is_dir():
            raise UsageError(f"{flag} {path}: the folder {path.expanduser().parent} does not exist")


@dataclass
class Target:
    url: str
    key: str | None
    key_source: str


def target(args: argparse.Namespace) -> Target:
    url = (args.url or access.default_url()).rstrip("/")
    key, source = access.find_key(args.key)
    try:
        MeasuringClient(url)
    except ValueError as error:
        raise UsageError(f"--url: {error}") from None
    return Target(url, key, source)


def available_models(where: Target) -> list[str]:
    with Client(where.url, where.key, timeout=30) as client:
        return client.models()


def default_model(where: Target) -> str:
    """The gateway's first model; a check that fails (exit 1) with the reason when there is none."""
    try:
        models = available_models(where)
    except ClientError as error:
        raise CheckFailed(explain_error(error, where)) from None
    if not models:
        raise CheckFailed(f"the gateway at {where.url} lists no model (GET /v1/models)")
    return models[0]


def explain_error(error: ClientError, where: Target) -> str:
    return access.explain(error.kind, where.url, error.detail, where.key_source, error.status) or str(error)


def explain_stop(measurement: Measurement, where: Target, model: str) -> str:
    """One line for a run that stopped early: Ctrl-C, or the first answer that nothing would change."""
    sample = measurement.stopped_by
    if sample is None:
        if measurement.stopped == "interrupted":
            return "interrupted (Ctrl-C): what was measured is kept, marked incomplete"
        return printable(str(measurement.stopped))
    kind = UNREACHABLE if sample.error == UNREACHABLE else refusal(sample.status, sample.detail)
    available = "unknown"
    if kind == "unknown_model":
        try:
            available = ", ".join(available_models(where)) or "none"
        except ClientError:
            available = "unknown (GET /v1/models failed)"
    detail = sample.detail.removeprefix(f"HTTP {sample.status}: ")
    line = access.explain(str(kind), where.url, detail, where.key_source, sample.status, model, available)
    return line or printable(str(measurement.stopped))


def planned(
    client: MeasuringClient,
    model: str,
    args: argparse.Namespace,
    count: int,
    run_id: str,
    warmup: bool = False,
    group: str = "",
    start: int = 0,
) -> list[Planned]:
    """``count`` requests of the flags' shape, each prompt unique (run id and number)."""
    return [
        Planned(
            model,
            client.body(
                model,
                [{"role": "user", "content": prompt_of(args.prompt_tokens, f"{run_id}-{start + i}")}],
                args.stream,
                args.max_tokens,
            ),
            args.stream,
            warmup,
            group,
        )
        for i in range(count)
    ]


def measure(
    args: argparse.Namespace,
    where: Target,
    label: str,
    connections: int,
    work: Callable[[Runner, MeasuringClient], Awaitable[T]],
) -> tuple[T, Runner]:
    """Run ``work`` on a fresh measuring client and runner (its run id from --run-id); what it
    returned and the runner."""

    async def main() -> tuple[T, Runner]:
        client = MeasuringClient(where.url, where.key, connections=connections, timeout=args.timeout)
        runner = Runner(client, label, args.run_id)
        try:
            return await work(runner, client), runner
        finally:
            await client.close()

    return measuring.run(main())


def settings_of(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    return {name: getattr(args, name) for name in names}


def exit_code(measurement: Measurement, validity: dict[str, Any], failed: int) -> int:
    if measurement.stopped == "interrupted":
        return EXIT_INTERRUPTED
    if measurement.stopped or not validity["valid"] or failed:
        return EXIT_CHECK_FAILED
    return EXIT_OK


def wants_rows(args: argparse.Namespace) -> bool:
    """Whether the run's every request must be kept as a row: for --export and --html."""
    return args.export is not None or args.html is not None


def save(args: argparse.Namespace, data: dict[str, Any]) -> None:
    """The export (--export) and the report (--html), when asked for."""
    if args.export is not None:
        try:
            export.write(args.export, data)
        except OSError as error:
            raise UsageError(f"--export {args.export}: cannot write it ({error.strerror})") from None
        progress(f"export: {args.export}")
    if args.html is not None:
        from llmobs import report  # the charts are only needed here

        report.write(args.html, [data])


def finish(
    args: argparse.Namespace,
    data: dict[str, Any],
    text: Callable[[], list[str]],
    shown: tuple[str, ...],
    measurement: Measurement,
    where: Target,
    model: str,
) -> int:
    """The end of every tool: the export and the report written, the result printed (text, or
    JSON with the manifest, the validity, the summary, the ``shown`` keys and the errors), the
    reason of an early stop on stderr; the exit code."""
    save(args, data)
    if args.json:
        keys = ("manifest", "validity", "summary", *shown, "errors", "complete")
        print(to_json({key: data[key] for key in keys}))
    else:
        print(printable("\n".join(text())))
    if measurement.stopped:
        print(printable(f"error: {explain_stop(measurement, where, model)}"), file=sys.stderr)
    return exit_code(measurement, data["validity"], data["summary"]["failed"])


def closing_lines(data: dict[str, Any]) -> list[str]:
    """The most frequent errors and the validity verdict: the last lines of every tool's text."""
    lines = [f"  {e['count']} x {e['error']}: {e['detail']}" for e in data["errors"][:5]]
    return [*lines, verdict_line(data["validity"])]


def verdict_line(checks: dict[str, Any]) -> str:
    verdict = "valid" if checks["valid"] else "NOT VALID: " + "; ".join(checks["problems"])
    return (
        f"  run: {verdict} (client CPU {checks['client_cpu_share']:.0%}, "
        f"event-loop lag p95 {checks['loop_lag_p95_ms']:.1f} ms)"
    )
