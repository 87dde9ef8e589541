"""prometheus-parity: the gateway's lean Prometheus success path exports what LiteLLM's own does.

Starts two LiteLLM proxies on loopback from the gateway's own config and environment: one with
LiteLLM's success event as LiteLLM wrote it, one with the lean path the bundle deploys
(llmobs.gateway.litellm_prometheus). Each is sent the same requests (every --model, plain and
streamed, --requests of each), then their /metrics/ are compared for every metric the config
exports: the same series (names and labels), the same number of observations in each, the same
gauge values, and token and spend counters that add up to what the answers said.

Run it with the python of LiteLLM's venv, on a gateway host, as root (the proxies write only to
a temporary folder). Bounded: proxies get --startup-timeout seconds, each request 60 s.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from llmobs.access import env_file
from llmobs.cli import CheckFailed, UsageError, argument_parser, emit, progress, run, stop_process

SIDES = {"litellm": False, "lean": True}  # side -> prometheus_lean
# counters that count requests: equal on both sides, series by series
COUNTS = (
    "litellm_proxy_total_requests_metric_total",
    "litellm_deployment_success_responses_total",
    "litellm_deployment_total_requests_total",
    "litellm_cache_hits_metric_total",
    "litellm_cache_misses_metric_total",
    "litellm_proxy_failed_requests_metric_total",
    "litellm_deployment_failure_responses_total",
)
# counters of amounts: their sum over series is what the answers reported
TOKENS = {
    "litellm_input_tokens_metric_total": "prompt_tokens",
    "litellm_output_tokens_metric_total": "completion_tokens",
    "litellm_total_tokens_metric_total": "total_tokens",
}
SPEND = "litellm_spend_metric_total"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(port: int, method: str, path: str, key: str, body: dict | None = None) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        connection.request(method, path, json.dumps(body) if body is not None else None, headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


class Proxy:
    def __init__(self, side: str, args: Any, env: dict[str, str], workdir: Path) -> None:
        self.side = side
        self.home = workdir / side
        self.home.mkdir()
        settings = json.loads(Path(env["LLMOBS_REQUEST_LOG_SETTINGS"]).read_text())
        settings |= {"log_file": str(self.home / "requests.log"), "prometheus_lean": SIDES[side]}
        (self.home / "request-log.json").write_text(json.dumps(settings))
        self.port = free_port()
        proxy_env = {k: v for k, v in env.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        proxy_env |= {
            "LLMOBS_REQUEST_LOG_SETTINGS": str(self.home / "request-log.json"),
            "HOME": str(self.home),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        }
        litellm = Path(sys.executable).with_name("litellm")
        command = [str(litellm), "--config", str(args.config.resolve()), "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--num_workers", "1"]
        self.output = self.home / "proxy.out"
        with self.output.open("wb") as sink:
            self.process = subprocess.Popen(
                command, cwd=self.home, env=proxy_env, stdout=sink, stderr=subprocess.STDOUT
            )

    def wait_ready(self, key: str, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if call(self.port, "GET", "/health/liveliness", key)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        tail = "\n".join(self.output.read_text(errors="replace").splitlines()[-15:])
        raise UsageError(f"the {self.side} proxy did not become ready:\n{tail}")

    def metrics(self, key: str) -> str:
        status, _, body = call(self.port, "GET", "/metrics/", key)
        if status != 200:
            raise CheckFailed(f"the {self.side} proxy's /metrics/ answered {status}")
        return body.decode()


def completion(port: int, key: str, body: dict) -> dict[str, float]:
    """Send one request; the usage and cost it reports."""
    status, headers, raw = call(port, "POST", "/v1/chat/completions", key, body)
    if status != 200:
        raise CheckFailed(f"{body['model']}: status {status}: {raw[:200]!r}")
    usage: dict[str, Any] = {}
    if body.get("stream"):
        for line in raw.decode().splitlines():
            if line.startswith("data: {"):
                usage = json.loads(line[6:]).get("usage") or usage
    else:
        usage = json.loads(raw).get("usage") or {}
    cost = {k.lower(): v for k, v in headers.items()}.get("x-litellm-response-cost")
    return {name: float(usage.get(name) or 0) for name in TOKENS.values()} | {
        "cost": float(cost) if cost not in (None, "", "None") else math.nan
    }


def series(text: str, exported: set[str]) -> dict[tuple[str, tuple], float]:
    """(sample name, labels) -> value, for the exported metrics; a histogram by its _count and
    _sum only (its buckets hold timings, which differ from run to run)."""
    from prometheus_client.parser import text_string_to_metric_families

    out = {}
    for family in text_string_to_metric_families(text):
        if family.name not in exported:
            continue
        for sample in family.samples:
            if sample.name.endswith(("_bucket", "_created")):
                continue
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def compare(
    got: dict[str, dict[tuple[str, tuple], float]], answers: dict[str, dict[str, float]]
) -> list[str]:
    problems = []
    litellm, lean = got["litellm"], got["lean"]
    for key in sorted(set(litellm) ^ set(lean)):
        side = "LiteLLM's path" if key in litellm else "the lean path"
        problems.append(f"only {side} exports {key[0]}{dict(key[1])}")
    for key in sorted(set(litellm) & set(lean)):
        name = key[0]
        exact = name in COUNTS or name.endswith("_count") or name == "litellm_deployment_state"
        if name == SPEND:  # the same answers cost the same
            exact = all(answers["litellm"][f] == answers["lean"][f] for f in TOKENS.values())
        if exact and not math.isclose(litellm[key], lean[key], rel_tol=1e-9, abs_tol=1e-12):
            problems.append(f"{name}{dict(key[1])}: LiteLLM's path {litellm[key]}, the lean path {lean[key]}")
    for side, values in got.items():
        totals: dict[str, float] = defaultdict(float)
        for (name, _), value in values.items():
            totals[name] += value
        for name, field in TOKENS.items():
            if name in totals and totals[name] != answers[side][field]:
                problems.append(
                    f"{side}: {name} adds up to {totals[name]}, the answers to {answers[side][field]}"
                )
        cost = answers[side]["cost"]
        if SPEND in totals and not math.isnan(cost) and not math.isclose(totals[SPEND], cost, abs_tol=1e-9):
            problems.append(f"{side}: {SPEND} adds up to {totals[SPEND]}, the answers to {cost}")
    return problems


def parity(args: Any) -> dict[str, Any]:
    try:
        env = env_file(args.env_file)
    except OSError as error:
        raise UsageError(f"{args.env_file}: {error.strerror}") from None
    key = env.get("LITELLM_MASTER_KEY")
    if not key or "LLMOBS_REQUEST_LOG_SETTINGS" not in env:
        raise UsageError(f"{args.env_file}: needs LITELLM_MASTER_KEY and LLMOBS_REQUEST_LOG_SETTINGS")
    config = yaml.safe_load(args.config.read_text()) or {}
    groups = (config.get("litellm_settings") or {}).get("prometheus_metrics_config") or []
    exported = {name for group in groups for name in group.get("metrics", [])}
    if not exported:
        raise UsageError(
            f"{args.config}: no prometheus_metrics_config: the lean path is off, nothing to compare"
        )
    workdir = Path(tempfile.mkdtemp(prefix="llmobs-parity-"))
    proxies = []
    try:
        proxies = [Proxy(side, args, env, workdir) for side in SIDES]
        deadline = time.monotonic() + args.startup_timeout
        for proxy in proxies:
            proxy.wait_ready(key, deadline)
        progress(f"proxies ready on ports {', '.join(str(p.port) for p in proxies)}")
        answers = {p.side: dict.fromkeys([*TOKENS.values(), "cost"], 0.0) for p in proxies}
        for i in range(args.requests):
            for model in args.model:
                for stream in (False, True):
                    body = {
                        "model": model,
                        "max_tokens": 8,
                        "stream": stream,
                        "messages": [{"role": "user", "content": f"parity check {i} {stream}"}],
                        "cache": {"no-cache": True},  # a cache hit on one side only would differ
                    }
                    if stream:
                        body["stream_options"] = {"include_usage": True}
                    for proxy in proxies if i % 2 else reversed(proxies):
                        for field, value in completion(proxy.port, key, body).items():
                            answers[proxy.side][field] += value
        # LiteLLM updates its metrics after the answer: wait until both sides counted everything
        expected = args.requests * len(args.model) * 2
        got: dict[str, dict] = {}
        end = time.monotonic() + 30
        while True:
            got = {p.side: series(p.metrics(key), exported) for p in proxies}
            counted = {
                side: sum(
                    v for (n, _), v in values.items() if n == "litellm_proxy_total_requests_metric_total"
                )
                for side, values in got.items()
            }
            if all(c >= expected for c in counted.values()) or time.monotonic() > end:
                break
            time.sleep(0.5)
        problems = compare(got, answers)
        return {
            "requests_per_side": expected,
            "series": {side: len(values) for side, values in got.items()},
            "counted": counted,
            "problems": problems,
        }
    finally:
        for proxy in proxies:
            stop_process(proxy.process, grace_s=15)
        if args.keep:
            progress(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _main(argv: list[str]) -> int:
    parser = argument_parser(
        __doc__,
        "exit codes: 0 the two paths export the same, 1 they differ, 2 bad arguments or a proxy "
        "would not start, 3 internal error\n\nexample (on a gateway host):\n"
        "  /opt/litellm/bin/python -m llmobs.gateway.prometheus_parity --config "
        "/etc/litellm/config.yaml --env-file /etc/litellm/litellm.env --model llama3.1:8b",
        debug=True,
    )
    parser.add_argument("--config", type=Path, required=True, help="the gateway's LiteLLM config")
    parser.add_argument("--env-file", type=Path, required=True, help="the gateway's environment file")
    parser.add_argument("--model", action="append", required=True, help="a model to call (repeatable)")
    parser.add_argument("--requests", type=int, default=5, help="per model and mode (default 5)")
    parser.add_argument("--startup-timeout", type=float, default=180, help="seconds (default 180)")
    parser.add_argument("--keep", action="store_true", help="keep the proxies' folder")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= 100 or not 1 <= args.startup_timeout <= 600:
        raise UsageError("--requests: 1 to 100; --startup-timeout: 1 to 600 s")
    for path in (args.config, args.env_file):
        if not path.is_file():
            raise UsageError(f"{path}: no such file")
    result = parity(args)
    lines = [
        f"{result['requests_per_side']} requests per side; series compared: {result['series']}",
        *(f"  {p}" for p in result["problems"]),
        "parity: the lean path exports what LiteLLM's does"
        if not result["problems"]
        else "parity: DIFFERENT",
    ]
    emit(result, args.json, "\n".join(lines))
    return 1 if result["problems"] else 0


def main(argv: list[str] | None = None) -> int:
    return run(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
