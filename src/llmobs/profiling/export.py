"""The metrics of a run, defined by formula, and the export that carries them with every raw request.

Export (one JSON file, schema ``llmobs.profile/1``)::

    tool, schema, complete      complete is false when the run was interrupted or stopped early
    manifest                    tool and gateway versions, target, models, deployments seen, host,
                                time, command line, settings, clock origin
    validity                    {valid, problems[], client CPU, loop lag, pool waits, send lag, ...}
    formulas                    metric -> how it is computed from the per-request stamps
    summary                     flat figures (p95_latency_ms, success_rate, ...): jq-friendly
    metrics                     metric -> {count, mean, min, p50, p90, p95, p99, max}
    requests                    every request: stamps in ms from the clock origin, tokens, status,
                                error, ids, the gateway's headers

Latency metrics are computed over the successful requests; the failed ones keep their stamps in
``requests``, count in ``success_rate`` and have their own ``failed_latency_ms`` (a fast failure
must not make P95 look good, and a success rate that dropped fails the gate on its own).
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import shlex
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import llmobs
from llmobs.cli import to_json
from llmobs.measuring import CANCELLED, Sample
from llmobs.profiling.run import Measurement, Planned, Record
from llmobs.providers import provider_of
from llmobs.stats import summary

SCHEMA = "llmobs.profile/1"
FORMULAS = {
    "latency_ms": "end - sent: the whole answer read (a stream: up to its [DONE])",
    "ttfb_ms": "first_byte - sent: the first byte of the response (status line)",
    "ttft_ms": "first_token - sent, streams: the first chunk whose delta carries content, reasoning or "
    "tool calls (a role-only chunk is not a token)",
    "tpot_ms": "(last_token - first_token) / (output_tokens - 1), per stream with 2+ tokens",
    "itl_ms": "each gap between consecutive token-carrying chunks, pooled over the streams",
    "tokens_per_s": "streams: (output_tokens - 1) / (last_token - first_token); otherwise "
    "output_tokens / latency",
    "network_ms": "ttfb - x-litellm-response-duration-ms: the time outside the gateway until the "
    "headers arrived (the gateway stamps its duration when it sends them)",
    "overhead_ms": "x-litellm-overhead-duration-ms: the gateway's own processing, as it reports it",
    "send_lag_ms": "sent - intended: how late the client sent a request against its schedule",
    "latency_from_intended_ms": "end - intended: what a user arriving on the schedule waited",
    "failed_latency_ms": "end - sent of the failed requests",
    "output_tokens": "the server's usage.completion_tokens (tokens_source 'usage'); a stream without "
    "usage: its token-carrying chunks (tokens_source 'chunks')",
    "success_rate": "successful / measured requests (warm-up and Ctrl-C cut ones excluded)",
}


def ms(value: float | None) -> float | None:
    return None if value is None else value * 1000


def values(samples: Iterable[Sample]) -> dict[str, list[float]]:
    """Each metric's raw values (ms, tokens/s, tokens), from the samples by FORMULAS."""
    out: dict[str, list[float]] = {name: [] for name in FORMULAS if name != "success_rate"}
    for s in samples:
        if not s.ok:
            if s.end is not None and s.sent:
                out["failed_latency_ms"].append((s.end - s.sent) * 1000)
            continue
        if s.end is None:  # a row of a hand-made export: nothing to measure
            continue
        latency = s.end - s.sent
        out["latency_ms"].append(latency * 1000)
        out["latency_from_intended_ms"].append((s.end - s.intended) * 1000)
        out["send_lag_ms"].append((s.sent - s.intended) * 1000)
        if s.first_byte is not None:
            out["ttfb_ms"].append((s.first_byte - s.sent) * 1000)
            duration = s.gateway.get("response_duration_ms")
            if _number(duration):
                out["network_ms"].append((s.first_byte - s.sent) * 1000 - duration)
        if _number(s.gateway.get("overhead_ms")):
            out["overhead_ms"].append(s.gateway["overhead_ms"])
        tokens = s.output_tokens
        if tokens is not None:
            out["output_tokens"].append(tokens)
        if s.stream and s.first_token is not None:
            out["ttft_ms"].append((s.first_token - s.sent) * 1000)
            times = s.token_times
            out["itl_ms"].extend((b - a) * 1000 for a, b in itertools.pairwise(times))
            span = (s.last_token or s.first_token) - s.first_token
            if tokens and tokens > 1 and span > 0:
                out["tpot_ms"].append(span * 1000 / (tokens - 1))
                out["tokens_per_s"].append((tokens - 1) / span)
        elif not s.stream and tokens and latency > 0:
            out["tokens_per_s"].append(tokens / latency)
    return out


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def metrics_of(records: list[Record]) -> dict[str, Any]:
    return {name: summary(data) for name, data in values(r.sample for r in records).items()}


def flat_summary(records: list[Record], metrics: dict[str, Any]) -> dict[str, Any]:
    """The figures scripts read (the guide: ``jq '.summary.p95_latency_ms'``)."""
    ok = sum(1 for r in records if r.sample.ok)
    flat: dict[str, Any] = {
        "requests": len(records),
        "successful": ok,
        "failed": len(records) - ok,
        "success_rate": round(ok / len(records), 4) if records else None,
    }
    for name in ("latency", "ttfb", "ttft", "tpot", "itl", "network", "overhead"):
        for stat in ("mean", "p50", "p90", "p95", "p99"):
            flat[f"{stat}_{name}_ms"] = metrics[f"{name}_ms"].get(stat)
    flat["median_tokens_per_s"] = metrics["tokens_per_s"].get("p50")
    flat["median_output_tokens"] = metrics["output_tokens"].get("p50")
    return flat


def errors_of(records: list[Record]) -> list[dict[str, Any]]:
    """The failures grouped by class and message, most frequent first."""
    failed = [r.sample for r in records if not r.sample.ok]
    counts = Counter((s.error, s.status, s.detail[:300]) for s in failed)
    return [
        {"error": kind, "status": status, "detail": detail, "count": count}
        for (kind, status, detail), count in counts.most_common()
    ]


def request_row(record: Record, origin: float) -> dict[str, Any]:
    s = record.sample

    def at(value: float | None) -> float | None:
        return None if value is None else round((value - origin) * 1000, 3)

    row = {
        "request_id": s.request_id,
        "echoed_id": s.echoed_id,
        "model": s.model,
        "stream": s.stream,
        "warmup": record.planned.warmup,
        "status": s.status,
        "error": s.error,
        "detail": s.detail or None,
        "intended_ms": at(s.intended),
        "sent_ms": at(s.sent),
        "first_byte_ms": at(s.first_byte),
        "first_event_ms": at(s.first_event),
        "first_token_ms": at(s.first_token),
        "last_token_ms": at(s.last_token),
        "end_ms": at(s.end),
        "token_ms": [at(t) for t in s.token_times],
        "pool_wait_ms": round(s.pool_wait * 1000, 3),
        "connect_ms": round(s.connect * 1000, 3),
        "prompt_tokens": s.prompt_tokens,
        "output_tokens": s.output_tokens,
        "tokens_source": s.tokens_source,
        "gateway": s.gateway,
    }
    if record.planned.group:
        row["group"] = record.planned.group
    return row


def deployments(records: list[Record]) -> list[dict[str, Any]]:
    """The deployments that answered (x-litellm-model-id / -api-base), with their counts."""
    seen = Counter(
        (r.sample.model, r.sample.gateway.get("model_id"), r.sample.gateway.get("api_base"))
        for r in records
        if r.sample.status is not None
    )
    return [
        {
            "model": model,
            "model_id": model_id,
            "provider": provider_of(model_id),
            "api_base": base,
            "count": n,
        }
        for (model, model_id, base), n in sorted(seen.items(), key=lambda item: -item[1])
    ]


def manifest(
    tool: str, url: str, settings: dict[str, Any], measurement: Measurement, run_id: str, argv: list[str]
) -> dict:
    versions = sorted({str(v) for r in measurement.records if (v := r.sample.gateway.get("gateway_version"))})
    return {
        "tool": tool,
        "tool_version": llmobs.__version__,
        "run_id": run_id,
        "command_line": shlex.join([Path(sys.argv[0]).name, *argv]),
        "url": url,
        "settings": settings,
        "gateway_versions": versions,
        "gateway_version": versions[0] if len(versions) == 1 else None,
        "deployments": deployments(measurement.records),
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "started_at": _iso(measurement.started),
        "finished_at": _iso(measurement.finished),
        "duration_s": round(measurement.wall_s, 3),
        "clock": "perf_counter (CLOCK_MONOTONIC): requests' *_ms are ms after clock_origin_s",
        "clock_origin_s": measurement.started,
    }


def _iso(perf: float) -> str:
    """A perf_counter moment as UTC wall time (to the millisecond)."""
    wall = time.time() - (time.perf_counter() - perf)
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def export(
    tool: str,
    url: str,
    settings: dict[str, Any],
    measurement: Measurement,
    validity: dict[str, Any],
    run_id: str,
    argv: list[str],
    extra: dict[str, Any] | None = None,
    rows: bool = True,
) -> dict[str, Any]:
    measured = measurement.measured
    metrics = metrics_of(measured)
    data = {
        "schema": SCHEMA,
        "tool": tool,
        "complete": measurement.stopped is None,
        "stopped": measurement.stopped,
        "manifest": manifest(tool, url, settings, measurement, run_id, argv),
        "validity": validity,
        "formulas": FORMULAS,
        "summary": flat_summary(measured, metrics),
        "metrics": metrics,
        "errors": errors_of(measured),
    }
    data.update(extra or {})
    # every request's row: what --export and --html need (a run printed as text only skips them)
    data["requests"] = [request_row(r, measurement.started) for r in measurement.records] if rows else []
    return data


def sample_of(row: dict[str, Any]) -> Sample:
    """A request row of an export back as a Sample (times in s after its run's clock origin):
    the metrics of merged runs come from the same code as those of one run."""

    def s(name: str) -> float | None:
        value = row.get(name)
        return value / 1000 if isinstance(value, int | float) else None

    sample = Sample(
        str(row.get("request_id")), str(row.get("model")), bool(row.get("stream")), s("intended_ms") or 0.0
    )
    sample.sent = s("sent_ms") or 0.0
    sample.first_byte, sample.first_event = s("first_byte_ms"), s("first_event_ms")
    sample.first_token, sample.last_token, sample.end = s("first_token_ms"), s("last_token_ms"), s("end_ms")
    sample.token_times = [t / 1000 for t in row.get("token_ms") or [] if isinstance(t, int | float)]
    sample.status, sample.error, sample.detail = row.get("status"), row.get("error"), row.get("detail") or ""
    sample.prompt_tokens, sample.output_tokens = row.get("prompt_tokens"), row.get("output_tokens")
    sample.tokens_source = row.get("tokens_source")
    gateway = row.get("gateway")
    sample.gateway = gateway if isinstance(gateway, dict) else {}
    return sample


def measured(exports: list[dict[str, Any]], group: str | None = None) -> list[Record]:
    """The measured requests of exports (hosts, runs) pooled: warm-up and Ctrl-C cut ones left out."""
    return [
        Record(
            Planned(str(row.get("model")), b"", bool(row.get("stream")), False, str(row.get("group", ""))),
            sample_of(row),
        )
        for data in exports
        for row in data.get("requests", [])
        if isinstance(row, dict)
        and not row.get("warmup")
        and row.get("error") != CANCELLED
        and (group is None or row.get("group") == group)
    ]


def merged_metrics(
    exports: list[dict[str, Any]], group: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics, summary) of several exports together: their raw samples pooled, never their
    percentiles averaged."""
    records = measured(exports, group)
    metrics = metrics_of(records)
    return metrics, flat_summary(records, metrics)


def write(path: Path, data: dict[str, Any]) -> None:
    """Atomically (a reader never sees half a file); always valid JSON."""
    path = path.expanduser()
    folder = path.parent if str(path.parent) else Path(".")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    try:
        os.fchmod(handle, 0o644)  # a result to share, not a secret
        with os.fdopen(handle, "w") as out:
            out.write(to_json(data, indent=None))
            out.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# What a reader takes from an export, by type: a field of another type is left out (a request
# row or a level with one is dropped and counted), never trusted; the export's own tools write
# exactly these shapes.
NUMBER, TEXT, FLAG, WHOLE = "number", "text", "flag", "whole"
ROW_FIELDS = {
    **dict.fromkeys(("request_id", "echoed_id", "model", "error", "detail", "tokens_source", "group"), TEXT),
    **dict.fromkeys(("intended_ms", "sent_ms", "first_byte_ms", "first_event_ms", "first_token_ms"), NUMBER),
    **dict.fromkeys(("last_token_ms", "end_ms", "pool_wait_ms", "connect_ms"), NUMBER),
    **dict.fromkeys(("status", "prompt_tokens", "output_tokens"), WHOLE),
    **dict.fromkeys(("stream", "warmup"), FLAG),
}
LEVEL_FIELDS = {
    "level": TEXT,
    "concurrency": WHOLE,
    "requests": WHOLE,
    "slo_met": FLAG,
    **dict.fromkeys(("success_rate", "rps", "output_tokens_per_s", "goodput_rps", "p50_latency_ms"), NUMBER),
    **dict.fromkeys(("p95_latency_ms", "p95_ttft_ms", "p95_tpot_ms", "window_s"), NUMBER),
}
RESULT_FIELDS = {
    **dict.fromkeys(("model", "provider"), TEXT),
    "requests": WHOLE,
    **dict.fromkeys(("success_rate", "median_latency_ms", "p95_latency_ms", "median_ttft_ms"), NUMBER),
    **dict.fromkeys(("median_tokens_per_s", "median_output_tokens", "speedup"), NUMBER),
}


def _typed(value: Any, kind: str) -> bool:
    if value is None:
        return True
    if kind == NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool) and abs(value) < 1e15
    if kind == WHOLE:
        return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**15
    if kind == FLAG:
        return isinstance(value, bool)
    return isinstance(value, str)


def _clean(item: Any, fields: dict[str, str]) -> dict[str, Any] | None:
    """The item when it is an object whose known fields have their types; None otherwise."""
    if not isinstance(item, dict) or not all(_typed(item.get(name), kind) for name, kind in fields.items()):
        return None
    return item


def _in_order(row: dict[str, Any]) -> bool:
    """A request's stamps in the order they happen: a successful one was sent and ended."""
    sent, end = row.get("sent_ms"), row.get("end_ms")
    if row.get("error") is None and (sent is None or end is None):
        return False
    if sent is None or end is None:
        return True  # a failed request without stamps: counted, not measured
    inside = ("first_byte_ms", "first_event_ms", "first_token_ms", "last_token_ms")
    return end >= sent and all(sent <= row[k] <= end for k in inside if row.get(k) is not None)


def checked(data: dict[str, Any]) -> dict[str, Any]:
    """An export's fields as the readers use them; what has another shape is dropped and counted
    in ``rejected`` (requests, levels, results), or replaced by an empty value."""
    out = dict(data)
    rejected = {}
    rows = data.get("requests") if isinstance(data.get("requests"), list) else []
    kept = []
    for row in rows:
        row = _clean(row, ROW_FIELDS)
        if row is not None and not _in_order(row):
            row = None
        if row is not None:
            times = row.get("token_ms")
            gateway = row.get("gateway")
            row = {
                **row,
                "token_ms": [t for t in times if _typed(t, NUMBER) and t is not None]
                if isinstance(times, list)
                else [],
                "gateway": gateway if isinstance(gateway, dict) else {},
            }
            kept.append(row)
    out["requests"], rejected["requests"] = kept, len(rows) - len(kept)
    for name, fields in (("levels", LEVEL_FIELDS), ("results", RESULT_FIELDS)):
        items = data.get(name) if isinstance(data.get(name), list) else []
        good = [item for item in items if _clean(item, fields) is not None]
        for item in good:
            for key in ("slo_broken", "speedup_ci95"):
                if key in item and not (
                    isinstance(item[key], list)
                    and all(
                        _typed(v, NUMBER if key == "speedup_ci95" else TEXT) and v is not None
                        for v in item[key]
                    )
                ):
                    item[key] = []
        out[name], rejected[name] = good, len(items) - len(good)
    recommendation = data.get("recommendation")
    out["recommendation"] = (
        recommendation
        if isinstance(recommendation, dict)
        and _typed(recommendation.get("concurrency"), WHOLE)
        and recommendation.get("concurrency") is not None
        and isinstance(recommendation.get("why", ""), str)
        else None
    )
    for name in ("manifest", "validity"):
        out[name] = data.get(name) if isinstance(data.get(name), dict) else {}
    manifest = out["manifest"] = dict(out["manifest"])
    for name, kind in (("settings", dict), ("deployments", list), ("gateway_versions", list)):
        if not isinstance(manifest.get(name), kind):
            manifest[name] = kind()
    manifest["deployments"] = [d for d in manifest["deployments"] if isinstance(d, dict)]
    manifest["gateway_versions"] = [str(v) for v in manifest["gateway_versions"]]
    validity = out["validity"] = dict(out["validity"])
    validity["problems"] = (
        [str(p) for p in validity.get("problems", [])] if isinstance(validity.get("problems"), list) else []
    )
    validity["valid"] = validity.get("valid") is True
    errors = data.get("errors") if isinstance(data.get("errors"), list) else []
    out["errors"] = [
        e for e in errors if _clean(e, {"error": TEXT, "detail": TEXT, "status": WHOLE, "count": WHOLE})
    ]
    formulas = data.get("formulas")
    out["formulas"] = (
        formulas
        if isinstance(formulas, dict) and all(isinstance(v, str) for v in formulas.values())
        else FORMULAS
    )
    out["tool"] = data.get("tool") if isinstance(data.get("tool"), str) else "profile"
    out["rejected"] = rejected
    return out


def read(path: Path) -> dict[str, Any]:
    """An export, checked for its schema and its fields' types (``checked``); ValueError says
    what is wrong with a file that is not an export at all."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as error:
        raise ValueError(f"{path}: cannot read it ({error.strerror})") from None
    except (ValueError, RecursionError):
        raise ValueError(f"{path}: not JSON") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ValueError(f"{path}: not an export of the profiling tools (schema {SCHEMA})")
    return checked(data)
