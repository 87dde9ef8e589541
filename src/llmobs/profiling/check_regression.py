"""check-regression: did latency regress between a baseline export and a new one, beyond the noise?

Compares two exports of the profiling tools (profile-latency, compare-providers, ...) by their raw
requests. It fails (exit 1) when the P95 latency rose by more than --tolerance (15 %) even at the
low end of the 95 % bootstrap interval of new P95 / baseline P95 (the noise measured between the
two runs' samples: a rise that the noise explains is reported, not failed), or when the success
rate dropped by more than --success-drop (any drop by default). The two runs must be of the same
thing: model, provider, gateway version and host (the fingerprint); a mismatch is said, not
compared (exit 2), unless --ignore names the fields that may differ.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from llmobs.cli import EXIT_CHECK_FAILED, EXIT_OK, UsageError, argument_parser, printable, run, to_json
from llmobs.profiling import export
from llmobs.stats import bootstrap_ratio, percentile

FINGERPRINT = ("model", "provider", "gateway_version", "host")
EPILOG = """\
examples:
  profile-latency.py --model llama3.1:8b --iterations 50 --export new.json
  check-regression.py new.json baseline.json
  check-regression.py new.json baseline.json --tolerance 0.10 --json
  check-regression.py new.json baseline.json --ignore host     # a new load host, same gateway

exit codes: 0 no regression, 1 regression (P95 or success rate), 2 usage error or the two runs
  are not comparable (their fingerprints differ), 3 internal error"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argument_parser(__doc__, EPILOG, debug=True)
    parser.add_argument("new", type=Path, help="the export of the run to check")
    parser.add_argument("baseline", type=Path, help="the export of the baseline run")
    parser.add_argument("--tolerance", type=float, default=0.15, help="P95 may rise this much (default 0.15)")
    parser.add_argument(
        "--success-drop", type=float, default=0.0, help="the success rate may drop this much (default 0)"
    )
    parser.add_argument(
        "--metric", default="latency_ms", help="the metric whose P95 is gated (default latency_ms)"
    )
    parser.add_argument(
        "--ignore", nargs="*", default=[], choices=FINGERPRINT, help="fingerprint fields that may differ"
    )
    parser.add_argument("--json", action="store_true", help="the verdict as JSON")
    args = parser.parse_args(argv)
    for name in ("tolerance", "success_drop"):
        value = getattr(args, name)
        if not (math.isfinite(value) and 0 <= value <= 10):
            parser.error(f"--{name.replace('_', '-')} {value}: between 0 and 10")
    if args.metric not in export.FORMULAS or args.metric in ("success_rate", "output_tokens"):
        parser.error(f"--metric {args.metric}: one of the latency metrics of the export's formulas")
    return args


def fingerprint(data: dict[str, Any]) -> dict[str, Any]:
    manifest = data.get("manifest") if isinstance(data.get("manifest"), dict) else {}
    settings = manifest.get("settings") if isinstance(manifest.get("settings"), dict) else {}
    deployments = manifest.get("deployments") if isinstance(manifest.get("deployments"), list) else []
    providers = sorted(
        {str(d.get("provider")) for d in deployments if isinstance(d, dict) and d.get("provider")}
    )
    return {
        "model": settings.get("model") or settings.get("models"),
        "provider": ", ".join(providers) or None,
        "gateway_version": manifest.get("gateway_version"),
        "host": manifest.get("host"),
    }


def samples(data: dict[str, Any], metric: str) -> tuple[list[float], float | None, int]:
    """The metric's raw values of the measured, successful requests; the success rate; requests."""
    records = export.measured([data])
    values = export.values(r.sample for r in records)[metric]
    ok = sum(1 for r in records if r.sample.ok)
    return values, (ok / len(records) if records else None), len(records)


def verdict(new: dict[str, Any], baseline: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    new_values, new_rate, new_count = samples(new, args.metric)
    old_values, old_rate, old_count = samples(baseline, args.metric)
    if len(new_values) < 2 or len(old_values) < 2:
        raise UsageError(
            f"too few successful requests to compare ({len(new_values)} new, {len(old_values)} baseline)"
        )
    new_p95, old_p95 = percentile(new_values, 95), percentile(old_values, 95)
    assert new_p95 is not None and old_p95 is not None
    change = new_p95 / old_p95 - 1 if old_p95 > 0 else math.inf
    interval = bootstrap_ratio(new_values, old_values, statistic_q=95)
    low = interval[0] - 1 if interval else change
    high = interval[1] - 1 if interval else change
    failures, notes = [], []
    if low > args.tolerance:
        failures.append(
            f"P95 {args.metric} rose {change:+.1%} ({old_p95:.1f} -> {new_p95:.1f}); even the low end of "
            f"the noise interval ({low:+.1%}) is beyond the {args.tolerance:.0%} tolerance"
        )
    elif change > args.tolerance:
        notes.append(
            f"P95 rose {change:+.1%}, beyond the {args.tolerance:.0%} tolerance, but the noise between the "
            f"runs allows as little as {low:+.1%}: not failed; more iterations would tell"
        )
    if new_rate is not None and old_rate is not None and new_rate < old_rate - args.success_drop:
        failures.append(f"success rate dropped from {old_rate:.1%} to {new_rate:.1%}")
    return {
        "regression": bool(failures),
        "failures": failures,
        "notes": notes,
        "metric": args.metric,
        "baseline_p95": round(old_p95, 3),
        "new_p95": round(new_p95, 3),
        "change": round(change, 4),
        "change_ci95": [round(low, 4), round(high, 4)],
        "tolerance": args.tolerance,
        "baseline_success_rate": old_rate,
        "new_success_rate": new_rate,
        "requests": {"baseline": old_count, "new": new_count},
    }


def main(argv: list[str] | None = None) -> int:
    return run(_main, argv)


def _main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        new, baseline = export.read(args.new), export.read(args.baseline)
    except ValueError as error:
        raise UsageError(str(error)) from None
    prints = fingerprint(new), fingerprint(baseline)
    differ = [
        field for field in FINGERPRINT if field not in args.ignore and prints[0][field] != prints[1][field]
    ]
    if differ:
        detail = "; ".join(f"{f}: {prints[0][f]!r} here, {prints[1][f]!r} in the baseline" for f in differ)
        raise UsageError(
            f"not the same setup, so not compared ({detail}); --ignore {' '.join(differ)} to compare anyway"
        )
    result = verdict(new, baseline, args)
    result["fingerprint"] = prints[0]
    if args.json:
        print(to_json(result))
    else:
        low, high = result["change_ci95"]
        lines = [
            f"check-regression: P95 {args.metric} {result['baseline_p95']:.1f} -> {result['new_p95']:.1f} "
            f"({result['change']:+.1%}, 95 % interval {low:+.1%} .. {high:+.1%}; "
            f"tolerance {args.tolerance:.0%})",
        ]
        lines += [f"  note: {note}" for note in result["notes"]]
        lines += [f"  REGRESSION: {failure}" for failure in result["failures"]]
        lines.append("  no regression" if not result["regression"] else "  failed")
        print(printable("\n".join(lines)))
    return EXIT_CHECK_FAILED if result["regression"] else EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
