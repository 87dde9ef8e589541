"""test-request: one request through the LiteLLM gateway, with everything needed to debug it.

By default: the gateway's health (/health/liveliness, /health/readiness and, with a key, the
readiness details: db, cache, version, callbacks), then one chat completion showing the request id
sent (x-litellm-call-id) and the one echoed, the HTTP status, TTFB, TTFT (--stream), total time,
tokens, the x-litellm-* headers (deployment, api_base, overhead, retries, cache key, version) and
the reply. Other modes: --list-models, --test-routing (one request per model), --providers (each
backend probed directly, as the guide's troubleshooting does with curl).

The request id ends up in the gateway's request log (``request_id``), with --metadata as the
record's ``metadata``: ``analyze-logs <log> --trace <id>`` finds it.

What servers answer is shown through the same filter as everything else (no terminal escapes, on
stdout or stderr); an answer of the wrong shape (a server that is not a gateway) is a failed check.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from llmobs import access
from llmobs.access import DEFAULT_URL, GATEWAY_ENV_FILE, MASTER_KEY_SECRET, default_url, find_key
from llmobs.cli import EXIT_CHECK_FAILED, EXIT_OK, argument_parser, emit, fail, progress, run, table, to_json
from llmobs.client import (
    DEFAULT_TIMEOUT_S,
    ChatResult,
    Client,
    ClientError,
    UnknownModel,
    Unreachable,
    WrongKey,
    new_request_id,
    parse_json,
)
from llmobs.providers import provider_of

DEFAULT_PROMPT = "Say hello in one short sentence."
DEFAULT_MAX_TOKENS = 64
MAX_REQUEST_ID = 256  # LiteLLM keeps client ids up to this length
MAX_TIMEOUT_S = 86400.0  # a socket timeout must fit in a C timeval
# The x-litellm-* headers shown by default, in this order (-v and --json show all of them).
SHOWN_HEADERS = (
    "x-litellm-model-id",
    "x-litellm-model-group",
    "x-litellm-model-api-base",
    "x-litellm-response-duration-ms",
    "x-litellm-overhead-duration-ms",
    "x-litellm-attempted-retries",
    "x-litellm-attempted-fallbacks",
    "x-litellm-cache-key",
    "x-litellm-response-cost",
    "x-litellm-version",
)
# What readiness details to show (the rest: -v and --json).
SHOWN_DETAILS = ("db", "cache", "litellm_version", "success_callbacks", "log_level")
# How the gateway calls a deployment (the prefix of litellm_params.model) => how to probe the backend.
PROBE_TYPES = {"ollama": "ollama", "ollama_chat": "ollama", "hosted_vllm": "openai", "openai": "openai"}
OLLAMA_DEFAULT_BASE = "http://localhost:11434"  # LiteLLM's default for ollama/ without api_base
EPILOG = f"""\
key lookup (the first found): --key, $LITELLM_API_KEY, $LITELLM_MASTER_KEY, LITELLM_MASTER_KEY= in
  {GATEWAY_ENV_FILE} (gateway hosts), $LLMOBS_SECRETS_DIR or .secrets/local of this clone:
  {MASTER_KEY_SECRET} (sk- prepended). -v says which one was used; the key is never printed.

examples:
  test-request.py                                        # health, then one request to the first model
  test-request.py --model qwen-coder-vllm --stream -v
  test-request.py --metadata '{{"project":"debug","env":"dev"}}' --request-id debug-42
  test-request.py --test-routing                         # every model once: status, latency, deployment
  test-request.py --providers                            # every backend of /model/info, probed directly
  test-request.py --providers --api-base http://127.0.0.1:11434 --api-base http://127.0.0.1:8001/v1

exit codes: 0 ok, 1 a request or probe failed (unreachable, wrong key, unknown model, error status,
  an answer that is not what a gateway sends, backend down or missing a routed model), 2 usage error,
  3 internal error (--debug shows the traceback)
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argument_parser(__doc__, EPILOG, debug=True)
    parser.add_argument(
        "--url",
        default=default_url(),
        help=f"the gateway (default: $LITELLM_URL, LITELLM_URL= in {GATEWAY_ENV_FILE}, {DEFAULT_URL})",
    )
    parser.add_argument("--key", help="API key (default: see key lookup below)")
    parser.add_argument("--model", help="model to ask (default: the first of GET /v1/models)")
    parser.add_argument(
        "--prompt", default=DEFAULT_PROMPT, help=f"user message (default: {DEFAULT_PROMPT!r})"
    )
    parser.add_argument(
        "--max-tokens",
        type=int,
        default=DEFAULT_MAX_TOKENS,
        metavar="N",
        help=f"most tokens to generate (default: {DEFAULT_MAX_TOKENS})",
    )
    parser.add_argument("--request-id", help="x-litellm-call-id to send (default: test-request-<uuid4 hex>)")
    parser.add_argument(
        "--metadata", metavar="JSON", help="a JSON object sent as the body's metadata (in the request log)"
    )
    parser.add_argument("--stream", action="store_true", help="stream the answer (SSE): TTFT and tokens/s")
    parser.add_argument(
        "--allow-cache",
        action="store_true",
        help="let the gateway answer from its cache (default: every request reaches a backend)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--list-models", action="store_true", help="list the models (GET /v1/models)")
    mode.add_argument(
        "--test-routing", action="store_true", help="one request to every model: a table, exit 1 if any fails"
    )
    mode.add_argument(
        "--providers",
        action="store_true",
        help="probe every backend of GET /model/info directly (Ollama /api/tags, others /v1/models)",
    )
    parser.add_argument(
        "--api-base",
        action="append",
        metavar="URL",
        help="with --providers: probe this backend instead (repeatable; ending in /v1: OpenAI-style)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="key source, headers, raw bodies")
    parser.add_argument("--json", action="store_true", help="print one JSON document with everything")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help=f"seconds to connect and per read (default: {DEFAULT_TIMEOUT_S:g})",
    )
    args = parser.parse_args(argv)
    check_args(args)
    return args


def check_args(args: argparse.Namespace) -> None:
    """Usage errors: one line on stderr, exit 2."""
    for url in [args.url, *(args.api_base or [])]:
        try:
            Client(url)  # checks the URL, connects to nothing
        except ValueError as error:
            fail(f"--url or --api-base: {error}")
    if args.api_base and (args.list_models or args.test_routing):
        fail("--api-base goes with --providers")
    args.providers = args.providers or bool(args.api_base)
    if not 0 < args.timeout <= MAX_TIMEOUT_S:  # also nan and inf
        fail(f"--timeout must be positive and at most {MAX_TIMEOUT_S:g} seconds, got {args.timeout:g}")
    if args.max_tokens < 1:
        fail(f"--max-tokens must be at least 1, got {args.max_tokens}")
    if args.request_id is not None and not re.fullmatch(rf"[!-~]{{1,{MAX_REQUEST_ID}}}", args.request_id):
        fail(f"--request-id must be 1 to {MAX_REQUEST_ID} printable characters without spaces")
    if args.metadata is not None:
        try:
            args.metadata = json.loads(args.metadata, parse_constant=_not_json)
        except (ValueError, RecursionError) as error:
            fail(f"--metadata is not valid JSON: {error}")
        if not isinstance(args.metadata, dict):
            fail(f"--metadata must be a JSON object, not {type(args.metadata).__name__}")


def _not_json(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")  # Python reads NaN; the gateway would not


# output helpers
def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"


def ms_value(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def aligned(pairs: list[tuple[str, Any]], indent: str = "  ") -> list[str]:
    """label  value lines with the values in one column."""
    width = max((len(label) for label, _ in pairs), default=0)
    return [f"{indent}{label.ljust(width)}  {value}".rstrip() for label, value in pairs]


def summary_of(value: Any, depth: int = 4) -> str:
    """A JSON answer on one line: key=value pairs for objects, lists joined by commas; nested
    deeper than ``depth``, as compact JSON."""
    if depth and isinstance(value, dict):
        return " ".join(f"{k}={summary_of(v, depth - 1)}" for k, v in value.items())
    if depth and isinstance(value, list):
        return ",".join(summary_of(v, depth - 1) for v in value) or "[]"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return to_json(value, indent=None)


def body_value(body: bytes) -> Any:
    """The JSON of a body, else its text."""
    missing = object()
    value = parse_json(body, missing)
    return body.decode("utf-8", "replace") if value is missing else value


@dataclass
class Run:
    """One invocation: the client, what --json prints (data) and what people read (lines)."""

    args: argparse.Namespace
    client: Client
    key_source: str
    data: dict[str, Any] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # checks that failed, one line each

    def chat(self, model: str, request_id: str) -> ChatResult:
        args = self.args
        return self.client.chat(
            model,
            args.prompt,
            max_tokens=args.max_tokens,
            stream=args.stream,
            request_id=request_id,
            metadata=args.metadata,
            # LiteLLM's per-request cache control: neither read nor store, so that a test request
            # really goes through the router to a backend (a cache hit would prove nothing).
            extra=None if args.allow_cache else {"cache": {"no-cache": True, "no-store": True}},
        )


# default mode: health, then one request
def check_health(run: Run) -> None:
    client = run.client
    live = client.get("/health/liveliness", auth=False)
    ready = client.get("/health/readiness", auth=False)
    health: dict[str, Any] = {}
    rows = []
    for name, answer in (("liveliness", live), ("readiness", ready)):
        health[name] = {
            "status": answer.status,
            "body": body_value(answer.body),
            "ms": ms_value(answer.total_s),
        }
        rows.append((name, f"{answer.status}  {summary_of(body_value(answer.body))}  ({ms(answer.total_s)})"))
        if answer.status != 200:
            run.problems.append(f"{name} answered HTTP {answer.status}")
    # The public readiness says only status and db (LiteLLM 1.108); the details want a key.
    if client.api_key:
        details = client.get("/health/readiness/details")
        if details.ok and isinstance(body_value(details.body), dict):
            found = body_value(details.body)
            health["readiness_details"] = found
            shown = found if run.args.verbose else {k: found[k] for k in SHOWN_DETAILS if k in found}
            rows.append(("details", summary_of(shown)))
    run.data["health"] = health
    run.lines += ["gateway health", *aligned(rows), ""]


def first_model(run: Run) -> str:
    models = run.client.models()
    if not models:
        url = run.client.url("/v1/models")
        raise ClientError(
            f"the gateway at {run.client.base_url} serves no model (GET /v1/models is empty)", url
        )
    return models[0]


def send_request(run: Run) -> None:
    args = run.args
    model = args.model or first_model(run)
    request_id = args.request_id or new_request_id()
    run.data["request"] = {"model": model, "request_id": request_id, "stream": args.stream}
    result = run.chat(model, request_id)
    run.data["request"] = chat_data(result, args.verbose)
    echoed = result.echoed_id
    if echoed is None:
        echo_note = "(none: the gateway did not echo it)"
    else:
        echo_note = "(same)" if echoed == request_id else "(differs from the one sent)"
    rows: list[tuple[str, Any]] = [
        ("model", model + ("  (stream)" if result.stream else "")),
        ("request id sent", request_id),
        ("request id echoed", f"{echoed or '-'} {echo_note}"),
        ("HTTP status", result.status),
        ("TTFB", ms(result.ttfb_s)),
    ]
    if result.stream:
        rows.append(("TTFT", ms(result.ttft_s)))
    rows.append(
        ("total", ms(result.total_s) + (f"  (connect {ms(result.connect_s)})" if result.connect_s else ""))
    )
    rows.append(("tokens", tokens_text(result)))
    if "x-litellm-cache-key" in result.headers:
        rows.append(("served", "from the gateway's cache (no backend was asked)"))
    if result.stream:
        rate = result.tokens_per_s
        rows.append(("tokens/s", "-" if rate is None else f"{rate:.1f}"))
    if args.metadata is not None:
        rows.append(("metadata", json.dumps(args.metadata)))
    shown = result.litellm_headers if args.verbose else _shown_headers(result)
    rows += list(shown.items())
    run.lines += ["request", *aligned(rows), "", "reply", *_indented(result.text or "(empty)"), ""]
    if args.verbose:
        run.lines += verbose_exchange(result)


def _shown_headers(result: ChatResult) -> dict[str, str]:
    return {name: result.headers[name] for name in SHOWN_HEADERS if name in result.headers}


def _indented(text: str) -> list[str]:
    return ["  " + line for line in text.splitlines()] or ["  "]


def tokens_text(result: ChatResult) -> str:
    if not result.usage:
        return "- (no usage in the answer)"
    return f"{result.prompt_tokens} prompt + {result.completion_tokens} completion = {result.total_tokens}"


def chat_data(result: ChatResult, verbose: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "url": result.url,
        "model": result.model,
        "stream": result.stream,
        "request_id": result.request_id,
        "echoed_request_id": result.echoed_id,
        "status": result.status,
        "connect_ms": ms_value(result.connect_s),
        "ttfb_ms": ms_value(result.ttfb_s),
        "ttft_ms": ms_value(result.ttft_s),
        "total_ms": ms_value(result.total_s),
        "usage": result.usage,
        "tokens_per_s": None if result.tokens_per_s is None else round(result.tokens_per_s, 2),
        "finish_reason": result.finish_reason,
        "reply": result.text,
        "litellm_headers": result.litellm_headers,
        "request_headers": result.request_headers,
        "request_body": result.request,
        "response_headers": result.headers,
    }
    if verbose:
        data["raw_body"] = result.body.decode("utf-8", "replace")
    return data


def verbose_exchange(result: ChatResult) -> list[str]:
    """The exchange as curl -v shows it: > request, < response, then the raw body."""
    lines = [f"> POST {result.url}"]
    lines += [f"> {name}: {value}" for name, value in result.request_headers.items()]
    lines += [f"> {line}" for line in json.dumps(result.request, indent=2).splitlines()]
    lines += [f"< HTTP {result.status}"]
    lines += [f"< {name}: {value}" for name, value in sorted(result.headers.items())]
    lines += ["raw body", *_indented(result.body.decode("utf-8", "replace")), ""]
    return lines


def default_mode(run: Run) -> None:
    check_health(run)
    send_request(run)


# --list-models
def list_models(run: Run) -> None:
    models = run.client.models()
    run.data["models"] = models
    run.lines += [f"{len(models)} models at {run.client.base_url}", *["  " + name for name in models]]


# --test-routing
def test_routing(run: Run) -> None:
    models = run.client.models()
    base_id = run.args.request_id or new_request_id()
    results, rows, failures = [], [], []
    for number, model in enumerate(models, 1):
        request_id = f"{base_id}-{number}"
        progress(f"[{number}/{len(models)}] {model}")
        entry: dict[str, Any] = {"model": model, "request_id": request_id}
        try:
            result = run.chat(model, request_id)
            headers, entry["ok"] = result.headers, True
            entry |= {"status": result.status, "latency_ms": ms_value(result.total_s)}
            entry["ttft_ms"] = ms_value(result.ttft_s)
        except WrongKey:
            raise  # every model would fail alike: say it once
        except ClientError as error:
            headers, entry["ok"] = error.headers, False
            entry |= {"status": error.status, "latency_ms": None, "error": error.detail or str(error)}
            failures.append(f"{model} (request id {request_id}): {entry['error']}")
        deployment = headers.get("x-litellm-model-id")
        entry |= {
            "provider": provider_of(deployment),
            "deployment": deployment,
            "api_base": headers.get("x-litellm-model-api-base"),
        }
        results.append(entry)
        status = entry["status"] if entry["ok"] else f"FAIL {entry['status'] or ''}".strip()
        latency = "-" if entry["latency_ms"] is None else f"{entry['latency_ms']:.0f}"
        row = [model, status, latency, entry["provider"] or "-", deployment or "-", entry["api_base"] or "-"]
        rows.append(row)
    run.data["routing"] = results
    header = ["model", "status", "latency ms", "provider", "deployment", "api_base"]
    run.lines += [
        f"routing: {len(models)} models at {run.client.base_url}",
        *table(header, rows),
    ]
    if failures:
        run.lines += ["", "failed", *["  " + line for line in failures]]
        run.problems.append(f"{len(failures)} of {len(models)} models failed")


# --providers
@dataclass
class Backend:
    api_base: str
    kind: str | None  # "ollama", "openai", or None: find out
    providers: set[str] = field(default_factory=set)
    routed: list[dict[str, Any]] = field(default_factory=list)  # model_name, backend_model, deployment


def backends_of(deployments: list[dict[str, Any]]) -> tuple[list[Backend], list[dict[str, Any]]]:
    """The backends behind the gateway's deployments, and the deployments that cannot be probed."""
    found: dict[tuple[str, str], Backend] = {}
    skipped = []
    for deployment in deployments:
        params = _object(deployment.get("litellm_params"))
        prefix, _, backend_model = str(params.get("model", "")).partition("/")
        kind = PROBE_TYPES.get(prefix)
        api_base = params.get("api_base") or (OLLAMA_DEFAULT_BASE if kind == "ollama" else None)
        deployment_id = _object(deployment.get("model_info")).get("id")
        deployment_id = deployment_id if isinstance(deployment_id, str) else None
        if kind is None or not api_base or not _is_url(api_base):
            reason = (
                f"provider type {prefix!r}"
                if kind is None
                else "no api_base (a hosted API)"
                if not api_base
                else f"api_base {api_base!r} is not an http(s) URL"
            )
            skipped.append(
                {"model_name": deployment.get("model_name"), "model": params.get("model"), "why": reason}
            )
            continue
        backend = found.setdefault((api_base.rstrip("/"), kind), Backend(api_base.rstrip("/"), kind))
        provider = provider_of(deployment_id)
        if provider:
            backend.providers.add(provider)
        backend.routed.append(
            {
                "model_name": deployment.get("model_name"),
                "backend_model": backend_model,
                "deployment": deployment_id,
            }
        )
    return list(found.values()), skipped


def probe(backend: Backend, timeout: float) -> dict[str, Any]:
    """GET the backend's model list: Ollama /api/tags, OpenAI-style {api_base}/models.
    A backend of unknown type is asked /api/tags first: 404 means it is not Ollama."""
    base = backend.api_base
    kind = backend.kind or ("openai" if base.endswith("/v1") else None)
    result: dict[str, Any] = {
        "api_base": base,
        "providers": sorted(backend.providers),
        "routed": backend.routed,
    }
    with Client(base, timeout=timeout) as client:
        try:
            if kind in ("ollama", None):
                answer = client.get("/api/tags", auth=False)
                kind = kind or ("openai" if answer.status == 404 else "ollama")
            if kind == "openai":
                answer = client.get("/models" if base.endswith("/v1") else "/v1/models", auth=False)
        except Unreachable as error:
            return result | {
                "type": kind,
                "url": error.url,
                "up": False,
                "models": None,
                "error": error.detail,
            }
    served = _served_models(kind, answer.body) if answer.ok else None
    result |= {
        "type": kind,
        "url": answer.url,
        "http_status": answer.status,
        "latency_ms": ms_value(answer.total_s),
        "up": answer.status < 500,
        "models": served,
        "error": None,
    }
    if not answer.ok:
        result["error"] = f"HTTP {answer.status}: {summary_of(body_value(answer.body))[:200]}"
    elif served is None:
        result["error"] = "the answer is not a model list"
    for route in backend.routed:
        route["present"] = None if served is None else _serves(served, route["backend_model"])
    return result


def _object(value: Any) -> dict[str, Any]:
    """A JSON object of an answer, or an empty one when the server sent something else."""
    return value if isinstance(value, dict) else {}


def _is_url(value: Any) -> bool:
    try:
        Client(value)
    except (ValueError, TypeError, AttributeError):
        return False
    return True


def _served_models(kind: str, body: bytes) -> list[str] | None:
    data = body_value(body)
    entries = data.get("models" if kind == "ollama" else "data") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return None
    key = "name" if kind == "ollama" else "id"
    return [str(m.get(key)) for m in entries if isinstance(m, dict)]


def _serves(served: list[str], model: str) -> bool:
    return model in served or f"{model}:latest" in served  # Ollama names untagged models :latest


def check_providers(run: Run) -> None:
    args = run.args
    skipped: list[dict[str, Any]] = []
    if args.api_base:
        backends, source = [Backend(url.rstrip("/"), None) for url in args.api_base], "--api-base"
    else:
        backends, skipped = backends_of(run.client.model_info())
        source = f"GET {run.client.url('/model/info')}"
    results = []
    for number, backend in enumerate(backends, 1):
        progress(f"[{number}/{len(backends)}] {backend.api_base}")
        results.append(probe(backend, args.timeout))
    run.data["backends"], run.data["not_probed"], run.data["source"] = results, skipped, source
    rows = []
    for found in results:
        status = ("up" if found["up"] else "DOWN") + (
            f" {found['http_status']}" if "http_status" in found else ""
        )
        served = ", ".join(found["models"]) if found["models"] is not None else found["error"]
        rows.append(
            [
                ",".join(found["providers"]) or "-",
                found["type"] or "?",
                found["api_base"],
                status,
                "-" if found.get("latency_ms") is None else f"{found['latency_ms']:.0f}",
                served,
                _routed_text(found["routed"]),
            ]
        )
        if not found["up"]:
            run.problems.append(f"{found['api_base']} is down: {found['error']}")
        elif found["models"] is None and found["http_status"] not in (401, 403):  # 401: up, wants a key
            run.problems.append(f"{found['api_base']} answered {found['error']}")
        missing = [r["backend_model"] for r in found["routed"] if r.get("present") is False]
        if missing:
            run.problems.append(f"{found['api_base']} does not serve {', '.join(missing)}")
    header = ["provider", "type", "api_base", "status", "latency ms", "serves", "routed here"]
    run.lines += [
        f"backends ({len(results)}, from {source})",
        *table(header, rows),
    ]
    if skipped:
        run.lines += ["", "not probed", *[f"  {s['model_name']} ({s['model']}): {s['why']}" for s in skipped]]


def _routed_text(routed: list[dict[str, Any]]) -> str:
    marks = {True: "ok", False: "MISSING", None: "?"}
    return ", ".join(f"{r['backend_model']} {marks[r.get('present')]}" for r in routed) or "-"


# errors for people
def explain(error: ClientError, run: Run) -> str:
    """One line naming the gateway, the cause and what to check."""
    available = "unknown"
    if isinstance(error, UnknownModel):
        try:
            available = ", ".join(run.client.models()) or "none"
        except ClientError:
            available = "unknown (GET /v1/models failed)"
    model = error.model if isinstance(error, UnknownModel) else None
    kind = error_data(error)["kind"]
    url = run.client.base_url
    line = access.explain(kind, url, error.detail, run.key_source, error.status, model, available)
    if line:
        return line
    request_id = error.headers.get("x-litellm-call-id") or run.data.get("request", {}).get("request_id")
    return str(error) + (f" (request id {request_id})" if request_id else "")


def error_data(error: ClientError) -> dict[str, Any]:
    return {"kind": error.kind, "status": error.status, "detail": error.detail}


def main(argv: list[str] | None = None) -> int:
    return run(_main, argv)


def _main(argv: list[str]) -> int:
    args = parse_args(argv)
    key, source = find_key(args.key)
    run = Run(args, Client(args.url, key, args.timeout), source)
    run.data |= {"url": run.client.base_url, "key_source": source}
    if args.verbose:
        run.lines += [f"gateway {run.client.base_url}, key from {source}", ""]
    mode = list_models if args.list_models else test_routing if args.test_routing else default_mode
    mode = check_providers if args.providers else mode
    failure = None
    try:
        with run.client:
            mode(run)
    except ClientError as error:
        failure = explain(error, run)
        run.data["error"] = error_data(error) | {"message": failure}
    run.data["ok"] = failure is None and not run.problems
    run.data["problems"] = run.problems
    if args.json or run.lines:
        emit(run.data, args.json, "\n".join(run.lines).rstrip())  # replies come from backends: filtered
    if failure or run.problems:
        fail(failure or "; ".join(run.problems), EXIT_CHECK_FAILED)
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
