"""drill-verdict: the ledger and the checks of one fault drill, from what playbooks/drill.yml brought home.

The ledger, per gateway and per outcome: the requests the load clients sent (k6's raw points),
the lines of the run in the gateway's request logs (rotated files included), and the requests
counted by the gateway's own metrics (its /metrics/ sampled every second, added up across
restarts). They must agree: every answered request logged once with the status the client got,
nothing logged that no client sent, the metrics counting what was logged. Then the drill's own
checks (docs/drills.md): alerts fired and resolved, who may fail and how, and for the soak the
memory slope of every sampled service.

The run folder (results/<run_id>/)::

    drill.json                      what the playbook did and when (epoch seconds)
    <load host>/<gateway>/points.json   k6's raw points of the load sent to that gateway
    gateways/<gateway>.log          the run's lines of the gateway's request logs
    samples/<gateway>.jsonl         drill-sample's samples on that gateway
    alerts.json                     Prometheus' ALERTS over the run (query_range), when fetched
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from llmobs.cli import (
    EXIT_CHECK_FAILED,
    EXIT_OK,
    UsageError,
    argument_parser,
    emit,
    printable,
    run,
    table,
    to_json,
)
from llmobs.debugging import records as request_log
from llmobs.drill import DRILLS
from llmobs.loadtesting import k6
from llmobs.stats import finite_number

EPILOG = """examples:
  drill-verdict results/drill-redis-20261130T221500Z-123
  drill-verdict results/drill-soak-... --max-growth-mb-per-hour 100 --json
  drill-verdict --list

exit codes: 0 the ledger agrees and every check passed, 1 a check failed, 2 unusable input,
3 internal error"""

NOT_ANSWERED = ("unreachable", "timeout")  # the client's outcomes of a request no gateway answered


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except OSError as error:
        raise UsageError(f"{path}: cannot read it ({error.strerror})") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise UsageError(f"{path}: not JSON ({error})") from None


def client_requests(run_dir: Path) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """Each gateway's requests as the load clients saw them: id, model, outcome, sent and end
    (epoch seconds); and what made the clients' results incomplete."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    problems = []
    for path in sorted(run_dir.glob("*/*/points.json")):
        gateway = path.parent.name
        points = k6.read_points(path)
        if points.dropped_iterations:
            problems.append(
                f"{path.parent.parent.name} -> {gateway}: k6 dropped {points.dropped_iterations} iterations"
            )
        if points.rejected:
            problems.append(f"{path}: {points.rejected} lines are not k6 points")
        for call_id, raw in points.requests.items():
            s = k6.sample_of(call_id, raw, 0.0)  # offset 0: the stamps stay epoch seconds
            if s is None:
                problems.append(f"{path}: request {call_id} has no duration (cut off before its end)")
                continue
            outcome = str(s.status) if s.status is not None else str(s.error)
            row = {"id": call_id, "model": s.model, "outcome": outcome, "sent": s.sent, "end": s.end}
            out[gateway].append({**row, "gateway": gateway})
    return out, problems


def logged_records(run_dir: Path) -> tuple[dict[str, list[dict[str, Any]]], int]:
    """Each gateway's request-log records of the run, and the lines that were not valid records."""
    out: dict[str, list[dict[str, Any]]] = {}
    bad = request_log.BadLines()
    for path in sorted((run_dir / "gateways").glob("*.log")):
        out[path.stem] = [record for _, record in request_log.iter_file(path, bad)]
    return out, bad.total


def _counts(value: Any) -> dict[str, float] | None:
    """A family of counters as the sampler writes it, or None when it has another shape."""
    if not isinstance(value, dict):
        return None
    if not all(finite_number(v) for v in value.values()):
        return None
    return {str(k): float(v) for k, v in value.items()}


def read_samples(path: Path) -> list[dict[str, Any]]:
    """drill-sample's samples, in order; a line of another shape (the last one, cut by the
    sampler's stop) is left out, a field of another shape is dropped."""
    rows = []
    if not path.is_file():
        return rows
    for line in path.read_text(errors="replace").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if not isinstance(row, dict):
            continue
        t = row.get("t")
        if not finite_number(t):
            continue
        clean: dict[str, Any] = {"t": float(t)}
        if "error" in row:
            clean["error"] = str(row["error"])
        for kind in ("requests", "lost"):
            if (counts := _counts(row.get(kind))) is not None:
                clean[kind] = counts
        rss = row.get("rss")
        if isinstance(rss, dict):
            clean["rss"] = {
                str(k): v for k, v in rss.items() if isinstance(v, int) and not isinstance(v, bool)
            }
        rows.append(clean)
    return rows


def increase(samples: list[dict[str, Any]], kind: str) -> tuple[Counter[str], list[tuple[float, float]]]:
    """What a counter family grew by over the samples, across restarts (a fall of any series, or
    of their sum, is a reset: the new values are all growth), and the gaps of the resets (the last
    sample before, the first after: what was counted in between was never seen)."""
    total: Counter[str] = Counter()
    gaps = []
    previous: dict[str, float] | None = None
    previous_t = 0.0
    for row in samples:
        current = row.get(kind)
        if not isinstance(current, dict) or "error" in row:
            continue
        if previous is not None:
            reset = sum(current.values()) < sum(previous.values()) or any(
                v < previous.get(k, 0.0) for k, v in current.items()
            )
            for key, value in current.items():
                grown = value if reset else value - previous.get(key, 0.0)
                if grown:
                    total[key] += grown
            if reset:
                gaps.append((previous_t, row["t"]))
        previous, previous_t = current, row["t"]
    return total, gaps


def _number(value: Any) -> Any:
    """A number the playbook wrote as text ("1764540000.12") as a float; anything else as it is."""
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value or None
        return number if math.isfinite(number) else None
    return value


def _at(fault: dict[str, Any], key: str) -> float | None:
    """A moment of the fault (epoch seconds), when the playbook noted it."""
    value = fault.get(key)
    return float(value) if finite_number(value) else None


def _epoch(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text).timestamp()
    except (TypeError, ValueError):
        return None


def ledger(
    sent: list[dict[str, Any]], logged: list[dict[str, Any]], samples: list[dict[str, Any]]
) -> dict[str, Any]:
    """One gateway's ledger: per outcome, sent / logged / counted, and what does not add up."""
    by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in logged:
        by_id[str(record.get("request_id"))].append(record)
    counted, gaps = increase(samples, "requests")
    lost, _ = increase(samples, "lost")
    rows: dict[str, dict[str, int]] = defaultdict(lambda: {"sent": 0, "logged": 0, "counted": 0})
    for request in sent:
        rows[request["outcome"]]["sent"] += 1
    for record in logged:
        rows[str(record.get("http_status"))]["logged"] += 1
    for status, count in counted.items():
        rows[status]["counted"] += round(count)
    sent_ids = {r["id"] for r in sent}
    answered = [r for r in sent if r["outcome"] not in NOT_ANSWERED]
    missing = [r["id"] for r in answered if r["id"] not in by_id]
    unlogged_failures = [
        r["id"]
        for r in answered
        if r["outcome"] != "200"
        and r["id"] in by_id
        and not any(x.get("status") == "failure" and x.get("error_class") for x in by_id[r["id"]])
    ]
    differ = [
        r["id"]
        for r in answered
        if r["id"] in by_id and all(str(x.get("http_status")) != r["outcome"] for x in by_id[r["id"]])
    ]
    in_gaps = sum(
        1
        for record in logged
        if (when := _epoch(str(record.get("time")))) is not None and any(a <= when <= b for a, b in gaps)
    )
    return {
        "outcomes": dict(sorted(rows.items())),
        "sent": len(sent),
        "answered": len(answered),
        "logged": len(logged),
        "counted": round(sum(counted.values())),
        "lost_lines": round(sum(lost.values())),
        "lost_by_reason": {k: round(v) for k, v in lost.items() if v},
        "missing": sorted(missing),
        "duplicated": sorted(i for i, found in by_id.items() if len(found) > 1),
        "unsent": sorted(i for i in by_id if i not in sent_ids),
        "status_differs": sorted(differ),
        "failures_without_class": sorted(unlogged_failures),
        "resets": len(gaps),
        "logged_in_reset_gaps": in_gaps,
        "samples": len(samples),
        "failed_samples": sum(1 for s in samples if "error" in s),
    }


def ledger_problems(gateway: str, book: dict[str, Any]) -> list[str]:
    """What does not add up in one gateway's ledger."""
    problems = []
    if not book["sent"]:
        problems.append(f"{gateway}: the clients sent it nothing")
    if not book["samples"]:
        problems.append(f"{gateway}: no sample of its metrics")
    for what, ids in (
        ("answered requests have no line in its request log", book["missing"]),
        ("requests are logged twice", book["duplicated"]),
        ("lines are of requests no client of the run sent", book["unsent"]),
        ("requests are logged with another status than the client got", book["status_differs"]),
        (
            "failures the client saw are not logged as failures with their class",
            book["failures_without_class"],
        ),
    ):
        if what.startswith("answered") and len(ids) == book["lost_lines"] and ids:
            continue  # the lines the gateway could not write, each counted on its /metrics/
        if ids:
            problems.append(
                f"{gateway}: {len(ids)} {what} ({', '.join(ids[:3])}{', ...' if len(ids) > 3 else ''})"
            )
    expected = book["logged"] + book["lost_lines"]
    counted = book["counted"]
    if book["resets"]:
        # what was counted between the last sample before a restart and the end of the process was
        # never seen: at most the lines written in that gap
        if not expected - book["logged_in_reset_gaps"] <= counted <= expected:
            problems.append(
                f"{gateway}: its metrics counted {counted} requests across {book['resets']} restart(s); "
                f"the log has {book['logged']} (+{book['lost_lines']} lost lines), "
                f"{book['logged_in_reset_gaps']} of them in the restart gaps"
            )
    elif counted != expected:
        problems.append(
            f"{gateway}: its metrics counted {counted} requests, its log has {book['logged']} lines"
            f"{' + ' + str(book['lost_lines']) + ' lost' if book['lost_lines'] else ''}"
        )
    return problems


def _stamp(point: Any) -> float | None:
    try:
        value = float(point[0])
    except (TypeError, ValueError, IndexError, KeyError):
        return None
    return value if math.isfinite(value) else None


def alert_spans(data: Any) -> dict[str, list[dict[str, Any]]]:
    """From Prometheus' ALERTS{alertstate="firing"} as a query_range matrix: each alert's firing
    spans (first and last point) by instance. Anything of another shape is left out."""
    spans: dict[str, list[dict[str, Any]]] = defaultdict(list)
    result = data.get("result") if isinstance(data, dict) else None
    for series in result if isinstance(result, list) else []:
        if not isinstance(series, dict) or not isinstance(series.get("metric"), dict):
            continue
        labels, values = series["metric"], series.get("values")
        points = [t for p in values if (t := _stamp(p)) is not None] if isinstance(values, list) else []
        if isinstance(labels.get("alertname"), str) and points:
            spans[labels["alertname"]].append(
                {
                    "instance": str(labels.get("instance")),
                    "first": min(points),
                    "last": max(points),
                    "points": sorted(points),
                }
            )
    return dict(spans)


def _fit(points: list[tuple[float, float]]) -> tuple[float, float] | None:
    """Least-squares slope of (seconds, MB) points and its standard error, in MB per hour."""
    n = len(points)
    if n < 3:
        return None
    mt = sum(t for t, _ in points) / n
    mm = sum(m for _, m in points) / n
    sxx = sum((t - mt) ** 2 for t, _ in points)
    if sxx <= 0:
        return None
    slope = sum((t - mt) * (m - mm) for t, m in points) / sxx
    residual = sum((m - mm - slope * (t - mt)) ** 2 for t, m in points)
    return slope * 3600, math.sqrt(residual / (n - 2) / sxx) * 3600


def memory_slopes(samples: dict[str, list[dict[str, Any]]], skip: float = 1 / 3) -> list[dict[str, Any]]:
    """Per gateway and unit: the least-squares slope of resident memory (MB per hour) over the
    samples after a warm-up (the first third: caches and pools fill), its standard error, and the
    slope of each half of them. Growth is sustained when it holds in both halves: a leak climbs
    all along, an allocator's arena taken once is a step that one half does not see."""
    out = []
    for gateway, rows in sorted(samples.items()):
        units = sorted({u for row in rows for u in (row.get("rss") or {})})
        for unit in units:
            points = [(row["t"], row["rss"][unit] / 2**20) for row in rows if unit in (row.get("rss") or {})]
            points = points[int(len(points) * skip) :]
            whole = _fit(points) if len(points) >= 10 else None
            halves = [_fit(points[: len(points) // 2]), _fit(points[len(points) // 2 :])]
            if whole is None or None in halves:
                continue
            out.append(
                {
                    "gateway": gateway,
                    "unit": unit,
                    "samples": len(points),
                    "minutes": round((points[-1][0] - points[0][0]) / 60, 1),
                    "mean_mb": round(sum(m for _, m in points) / len(points), 1),
                    "slope_mb_per_hour": round(whole[0], 1),
                    "stderr_mb_per_hour": round(whole[1], 1),
                    "halves_mb_per_hour": [round(h[0], 1) for h in halves if h is not None],
                }
            )
    return out


def judge(run_dir: Path, max_growth: float) -> dict[str, Any]:
    plan = _json(run_dir / "drill.json")
    if not isinstance(plan, dict) or plan.get("drill") not in DRILLS:
        raise UsageError(f"{run_dir / 'drill.json'}: no drill named in it (one of {', '.join(DRILLS)})")
    drill = DRILLS[plan["drill"]]
    fault = plan.get("fault") if isinstance(plan.get("fault"), dict) else {}
    fault = {k: _number(v) for k, v in fault.items()}
    gateways = plan.get("gateways") if isinstance(plan.get("gateways"), list) else []
    resolved = _number(plan.get("alerts_resolved_at"))
    plan = {
        **plan,
        "fault": fault,
        "gateways": [str(g) for g in gateways],
        "alerts_resolved_at": float(resolved) if finite_number(resolved) else None,
    }
    sent, problems = client_requests(run_dir)
    logged, rejected = logged_records(run_dir)
    samples = {p.stem: read_samples(p) for p in sorted((run_dir / "samples").glob("*.jsonl"))}
    gateways = sorted(set(plan["gateways"]) | set(sent))
    books = {g: ledger(sent.get(g, []), logged.get(g, []), samples.get(g, [])) for g in gateways}
    # a full disk cuts a line short now and then: one bad line, its record counted as lost
    cut_allowed = drill.name == "disk_full" and rejected <= sum(b["lost_lines"] for b in books.values())
    if rejected and not cut_allowed:
        problems.append(f"{rejected} lines of the gateways' logs are not valid records")
    for gateway, book in books.items():
        problems += ledger_problems(gateway, book)
    every = [r for rows in sent.values() for r in rows]
    checks: list[str] = []
    if drill.all_succeed:
        failed = Counter(r["outcome"] for r in every if r["outcome"] != "200")
        if failed:
            problems.append(f"requests failed although the gateways must keep answering: {dict(failed)}")
        else:
            checks.append(f"all {len(every)} requests answered 200")
    spans: dict[str, list[dict[str, Any]]] = {}
    if drill.alerts_fire:
        alerts = plan.get("alerts") if isinstance(plan.get("alerts"), dict) else None
        if alerts is None and (run_dir / "alerts.json").is_file():
            alerts = _json(run_dir / "alerts.json")
        spans = alert_spans(alerts.get("data", alerts) if isinstance(alerts, dict) else None)
        for name in drill.alerts_fire:
            if name not in spans:
                problems.append(f"the alert {name} never fired")
                continue
            start = _at(fault, "start")
            points = sorted(p for s in spans[name] for p in s["points"])
            if start is None:
                checks.append(f"{name} fired during the run")
            elif any(start - 15 <= p < start for p in points):
                problems.append(
                    f"the alert {name} was firing already when the fault began (an earlier incident): "
                    "the drill cannot tell that this fault fired it; wait until it resolves, then drill"
                )
            elif not [p for p in points if p >= start]:
                problems.append(f"the alert {name} did not fire after the fault began")
            else:
                checks.append(
                    f"{name} fired {min(p for p in points if p >= start) - start:.0f} s after the fault"
                )
        for name in drill.alerts_resolve:
            ended = plan.get("alerts_resolved_at")
            if name in spans and not ended:
                problems.append(f"the alert {name} did not resolve by the end of the run")
            elif name in spans:
                end = _at(fault, "end")
                after = ended - (end if end is not None else ended)
                checks.append(f"{name} resolved {after:.0f} s after the fault ended")
    if plan.get("fault_failed"):
        problems.append(f"a step of the fault failed (it was undone): {printable(str(plan['fault_failed']))}")
    problems += drill_checks(drill.name, plan, every, books, checks)
    slopes = memory_slopes(samples) if drill.name == "soak" else []
    for row in slopes:
        sustained = min(row["halves_mb_per_hour"]) > max_growth
        if sustained and row["slope_mb_per_hour"] - 2 * row["stderr_mb_per_hour"] > max_growth:
            problems.append(
                f"{row['gateway']} {row['unit']}: memory grows {row['slope_mb_per_hour']} "
                f"± {row['stderr_mb_per_hour']} MB/h (halves {row['halves_mb_per_hour']}), "
                f"above {max_growth} MB/h"
            )
    if drill.name == "soak" and not slopes:
        problems.append("no memory samples long enough for a slope (at least 15 samples)")
    return {
        "drill": drill.name,
        "fault": drill.fault,
        "run_id": plan.get("run_id"),
        "passed": not problems,
        "problems": problems,
        "checks": checks,
        "ledger": books,
        "alerts": {
            name: [{k: v for k, v in s.items() if k != "points"} for s in found]
            for name, found in spans.items()
        },
        "memory": slopes,
        "plan": plan,
    }


def drill_checks(
    name: str, plan: dict[str, Any], every: list[dict[str, Any]], books: dict[str, Any], checks: list[str]
) -> list[str]:
    """The drill's own checks beyond the ledger and the alerts; notes what passed in ``checks``."""
    problems = []
    fault = plan.get("fault") or {}
    if name in ("provider", "hang"):
        model = fault.get("model")
        hit = [r for r in every if r["model"] == model]
        others = Counter(r["outcome"] for r in every if r["model"] != model)
        failed_others = {k: v for k, v in others.items() if k != "200"}
        if failed_others:
            problems.append(f"the other models failed too: {failed_others}")
        else:
            checks.append(f"the other models: {others.get('200', 0)} requests, all answered 200")
        outcomes = Counter(r["outcome"] for r in hit)
        # stopped: an HTTP error at once; hung: the timeout's 408, never the client giving up
        clean = ("408", "200") if name == "hang" else tuple(k for k in outcomes if k not in NOT_ANSWERED)
        unclean = {k: v for k, v in outcomes.items() if k not in clean}
        if not hit:
            problems.append(f"no request to {model}")
        elif unclean:
            problems.append(f"requests to {model} did not end cleanly: {dict(outcomes)}")
        elif not sum(v for k, v in outcomes.items() if k != "200"):
            problems.append(f"no request to {model} failed: the fault did not take ({dict(outcomes)})")
        else:
            checks.append(f"{model}: {dict(outcomes)}")
        end = _at(fault, "end")
        if name == "hang" and end is not None:
            # no worker stuck: what was sent once the backend answered again is answered
            later = Counter(r["outcome"] for r in hit if r["sent"] > end + 1)
            if set(later) - {"200"}:
                problems.append(f"requests to {model} sent after the fault failed: {dict(later)}")
            elif later:
                checks.append(f"{model} after the fault: {later['200']} requests, all answered 200")
    if name == "rotate":
        rotations = fault.get("rotations") if isinstance(fault.get("rotations"), dict) else {}
        if sum(1 for n in rotations.values() if isinstance(n, int) and n > 0) < 2:
            problems.append(f"the log was not rotated in both styles: {rotations}")
        else:
            checks.append(f"rotations under load: {rotations}")
    if name == "restart":
        gateway = fault.get("gateway")
        failures = [r for r in every if r["outcome"] != "200"]
        start, end = _at(fault, "start") or 0.0, _at(fault, "end") or 0.0
        late = [r for r in failures if not start - 1 <= r["end"] <= end + 1]
        if late:
            problems.append(f"{len(late)} requests failed outside the restart: {late[:3]}")
        checks.append(
            f"{gateway} restarted in {end - start:.1f} s: {len(failures)} requests "
            f"failed, each in the clients' results ({dict(Counter(r['outcome'] for r in failures))})"
        )
        if gateway in books and not books[gateway]["resets"]:
            problems.append(f"{gateway}'s metrics show no counter reset: it did not restart")
    if name == "disk_full":
        gateway = fault.get("gateway")
        book = books.get(gateway) if isinstance(gateway, str) else None
        end = _at(fault, "end")
        if book is None:
            problems.append(f"the drill names no gateway of the run ({gateway!r})")
        elif not book["lost_lines"]:
            problems.append(f"{gateway}: no lost line counted although its log's disk was full")
        else:
            checks.append(f"{gateway}: {book['lost_lines']} lines lost and counted {book['lost_by_reason']}")
        after = [r for r in every if end is not None and r["end"] > end + 2 and r.get("gateway") == gateway]
        logged_after = sum(1 for r in after if r["id"] not in set((book or {}).get("missing", [])))
        if not after or not logged_after:
            problems.append(f"{gateway}: nothing was logged once the disk had room again")
        else:
            checks.append(
                f"{gateway}: {logged_after} of {len(after)} requests after the room came back are logged"
            )
        pids = fault.get("pids")
        if not (isinstance(pids, list) and len(pids) == 2 and pids[0] == pids[1] and pids[0]):
            problems.append(f"{gateway} restarted during the drill (its process: {pids})")
        if fault.get("back_on_disk") is not True:
            problems.append(f"{gateway} did not go back to logging on its disk within 30 s")
    return problems


def lines(result: dict[str, Any]) -> list[str]:
    out = [f"drill {result['drill']} ({result['run_id']}): {result['fault']}", ""]
    rows = []
    for gateway, book in result["ledger"].items():
        for outcome, row in book["outcomes"].items():
            rows.append([gateway, outcome, row["sent"], row["logged"], row["counted"]])
        rows.append([gateway, "lost lines", "", book["lost_lines"], ""])
    out += table(["gateway", "outcome", "sent", "logged", "counted"], rows, [False, False, True, True, True])
    out += ["", *(f"ok: {c}" for c in result["checks"])]
    for row in result["memory"]:
        out.append(
            f"memory {row['gateway']} {row['unit']}: {row['mean_mb']} MB, slope {row['slope_mb_per_hour']} "
            f"± {row['stderr_mb_per_hour']} MB/h (halves {row['halves_mb_per_hour']}) "
            f"over {row['minutes']} min ({row['samples']} samples)"
        )
    out += [f"FAILED: {p}" for p in result["problems"]]
    out.append(f"verdict: {'passed' if result['passed'] else 'FAILED'}")
    return out


def _main(argv: list[str]) -> int:
    parser = argument_parser(__doc__, EPILOG, debug=True)
    parser.add_argument("run_dir", type=Path, nargs="?", help="the drill's results folder")
    parser.add_argument(
        "--max-growth-mb-per-hour",
        type=float,
        default=100.0,
        help="the soak fails when a service's memory grows faster than this, beyond two standard "
        "errors (default 100)",
    )
    parser.add_argument("--list", action="store_true", help="list the drills and exit")
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")
    parser.add_argument("--export", type=Path, metavar="FILE", help="also write the verdict as JSON to FILE")
    args: argparse.Namespace = parser.parse_args(argv)
    if args.list:
        listing = {
            name: {
                "fault": d.fault,
                "fault_s": d.fault_s,
                "tail_s": d.tail_s,
                "alerts_fire": list(d.alerts_fire),
                "alerts_resolve": list(d.alerts_resolve),
            }
            for name, d in DRILLS.items()
        }
        emit(listing, args.json, "\n".join(f"{n:10} {d.fault}" for n, d in DRILLS.items()))
        return EXIT_OK
    if args.run_dir is None:
        raise UsageError("give the drill's results folder (results/<run_id>), or --list")
    if not math.isfinite(args.max_growth_mb_per_hour):
        raise UsageError("--max-growth-mb-per-hour must be a number")
    if not (args.run_dir / "drill.json").is_file():
        raise UsageError(f"{args.run_dir}: no drill.json (not a drill's results folder)")
    result = judge(args.run_dir, args.max_growth_mb_per_hour)
    if args.export:
        try:
            args.export.write_text(to_json(result) + "\n")
        except OSError as error:
            raise UsageError(f"--export {args.export}: {error.strerror}") from None
    emit(result, args.json, printable("\n".join(lines(result))))
    return EXIT_OK if result["passed"] else EXIT_CHECK_FAILED


def main(argv: list[str] | None = None) -> int:
    return run(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
