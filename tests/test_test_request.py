"""test-request (llmobs.debugging.test_request) against a loopback stand-in for the LiteLLM gateway.

The stand-in answers as LiteLLM 1.108.7 does (shapes read in the pinned wheel, litellm/proxy/):
/health/liveliness "I'm alive!" and the public /health/readiness {"status", "db"}
(health_endpoints/_health_endpoints.py), the key-only /health/readiness/details, /v1/models,
/model/info rows (proxy_server.py model_info_v1), 401 without a key and 400 "No connected db." for a
key other than the master key on a gateway without a database (auth/user_api_key_auth.py), the
400 "Invalid model name passed in" of route_llm_request.py, the x-litellm-* headers of
common_request_processing.py get_custom_headers. The backends that --providers probes are the real
simulator. The molecule gateway scenario proves the tool against LiteLLM itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from test_client import FAST, free_port

from llmobs import access
from llmobs.debugging import test_request as tool
from llmobs.simulator.profile import parse_profile
from llmobs.simulator.server import BackgroundSimulator

MASTER = "sk-master-0123456789"
VERSION = "1.108.7"


def deployment(name: str, model: str, api_base: str | None, deployment_id: str) -> dict[str, Any]:
    params = {"model": model, "timeout": 600.0} | ({"api_base": api_base} if api_base else {})
    return {
        "model_name": name,
        "litellm_params": params,
        "model_info": {"id": deployment_id, "db_model": False},
    }


def error_body(message: str, kind: str | None, code: int, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": str(code)}}


class Gateway:
    """LiteLLM's answers, minimal: records every request it gets."""

    def __init__(self, deployments: list[dict[str, Any]], failing: tuple[str, ...] = ()) -> None:
        self.deployments, self.failing = deployments, failing
        self.readiness_status = 200
        self.requests: list[dict[str, Any]] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = -1  # headers and body in one write, as uvicorn sends them (no Nagle stall)

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                gateway.handle(self, None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                gateway.handle(self, json.loads(self.rfile.read(length)))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Gateway:
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys(d["model_name"] for d in self.deployments))

    def chats(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == "/v1/chat/completions"]

    def handle(self, http: BaseHTTPRequestHandler, body: Any) -> None:
        headers = {k.lower(): v for k, v in http.headers.items()}
        self.requests.append({"method": http.command, "path": http.path, "headers": headers, "body": body})
        public = {
            "/health/liveliness": (200, "I'm alive!"),
            "/health/readiness": (self.readiness_status, {"status": "healthy", "db": "Not connected"}),
        }
        if http.path in public:
            return self.send(http, *public[http.path])
        key = headers.get("authorization", "").removeprefix("Bearer ")
        if not key:
            return self.send(
                http, 401, error_body("Authentication Error, No api key passed in.", "auth_error", 401)
            )
        if key != MASTER:
            return self.send(http, 400, error_body("No connected db.", "no_db_connection", 400))
        if http.path == "/health/readiness/details":
            details = {
                "status": "healthy",
                "db": "Not connected",
                "cache": "redis",
                "litellm_version": VERSION,
            }
            details |= {"success_callbacks": ["prometheus", "request_logger"], "log_level": "WARNING"}
            return self.send(http, 200, details | {"use_aiohttp_transport": True, "is_detailed_debug": False})
        if http.path == "/v1/models":
            cards = [
                {"id": n, "object": "model", "created": 1677610602, "owned_by": "openai"} for n in self.names
            ]
            return self.send(http, 200, {"data": cards, "object": "list"})
        if http.path == "/model/info":
            return self.send(http, 200, {"data": self.deployments})
        if http.path == "/v1/chat/completions":
            return self.chat(http, headers, body)
        return self.send(http, 404, {"detail": "Not Found"})

    def chat(self, http: BaseHTTPRequestHandler, headers: dict[str, str], body: dict[str, Any]) -> None:
        call_id = headers.get("x-litellm-call-id") or str(uuid.uuid4())
        model = body["model"]
        if model not in self.names:
            message = (
                f"/chat/completions: Invalid model name passed in model={model}. "
                "Call `/v1/models` to view available models for your key."
            )
            error = error_body(message, "invalid_request_error", 400)
            error["error"]["provider_specific_fields"] = {"error": message}
            return self.send(http, 400, error, {"x-litellm-call-id": call_id})
        chosen = next(d for d in self.deployments if d["model_name"] == model)
        litellm = {
            "x-litellm-call-id": call_id,
            "x-litellm-model-id": chosen["model_info"]["id"],
            "x-litellm-model-name": chosen["litellm_params"]["model"],
            "x-litellm-model-api-base": chosen["litellm_params"].get("api_base", ""),
            "x-litellm-version": VERSION,
            "x-litellm-key-spend": "0.0",
            "x-litellm-response-duration-ms": "41.7",
            "x-litellm-overhead-duration-ms": "3.2",
            "x-litellm-callback-duration-ms": "0.4",
            "x-litellm-attempted-retries": "0",
            "x-litellm-attempted-fallbacks": "0",
            "x-litellm-model-group": model,
        }
        if "cache" not in body:  # LiteLLM answers a repeated prompt from its cache, with the key
            litellm["x-litellm-cache-key"] = "3a303de788366f91"
        if model in self.failing:
            message = "litellm.InternalServerError: InternalServerError: Hosted_vllmException - boom"
            litellm["x-litellm-attempted-retries"] = "2"
            return self.send(http, 500, error_body(message, None, 500), litellm)
        usage = {"completion_tokens": 3, "prompt_tokens": 7, "total_tokens": 10}
        base = {"id": "chatcmpl-1", "created": 1764400000, "model": model}
        if not body.get("stream"):
            message = {"content": "Hello there friend", "role": "assistant"}
            choice = {"finish_reason": "stop", "index": 0, "message": message}
            reply = base | {"object": "chat.completion", "choices": [choice], "usage": usage}
            return self.send(http, 200, reply, litellm)
        http.send_response(200)
        for name, value in (litellm | {"content-type": "text/event-stream", "connection": "close"}).items():
            http.send_header(name, value)
        http.end_headers()
        http.wfile.flush()
        time.sleep(0.03)  # the first token comes after the headers
        deltas = [{"content": "Hello", "role": "assistant"}, {"content": " there"}, {"content": " friend"}]
        for number, delta in enumerate(deltas):
            if number:
                time.sleep(0.01)
            chunk = base | {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta}]}
            http.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            http.wfile.flush()
        finish = {"index": 0, "delta": {}, "finish_reason": "stop"}
        tail = [base | {"choices": [finish]}]
        if (body.get("stream_options") or {}).get("include_usage"):
            tail.append(base | {"choices": [], "usage": usage})
        for chunk in tail:
            http.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        http.wfile.write(b"data: [DONE]\n\n")
        http.wfile.flush()
        http.close_connection = True

    @staticmethod
    def send(
        http: BaseHTTPRequestHandler, status: int, data: Any, headers: dict[str, str] | None = None
    ) -> None:
        payload = json.dumps(data).encode()
        http.send_response(status)
        for name, value in (headers or {}).items():
            http.send_header(name, value)
        http.send_header("content-type", "application/json")
        http.send_header("content-length", str(len(payload)))
        http.end_headers()
        http.wfile.write(payload)
        http.wfile.flush()


BUNDLE_DEPLOYMENTS = [  # as llmobs.providers.litellm_model_list writes them
    deployment("llama3.1:8b", "ollama_chat/llama3.1:8b", "http://127.0.0.1:11434", "ollama/llama3.1:8b"),
    deployment(
        "qwen-coder-vllm",
        "hosted_vllm/Qwen/Qwen2.5-Coder-7B-Instruct",
        "http://127.0.0.1:8001/v1",
        "vllm/qwen-coder-vllm",
    ),
]


@pytest.fixture(autouse=True)
def no_key_sources(monkeypatch, tmp_path):
    """Keys come only from what a test sets: not from this machine or this clone."""
    for name in ("LITELLM_API_KEY", "LITELLM_MASTER_KEY", "LITELLM_URL", "LLMOBS_SECRETS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(access, "GATEWAY_ENV_FILE", tmp_path / "etc" / "litellm.env")
    monkeypatch.setattr(access, "REPO_SECRETS_DIR", tmp_path / "repo" / ".secrets" / "local")


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    with Gateway(BUNDLE_DEPLOYMENTS) as gw:
        yield gw


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = tool.main(list(argv))
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = run(capsys, *argv, "--json")
    return code, json.loads(out)


# the default: health, then one request
def test_default_shows_health_then_one_request_with_its_ids_timings_headers_and_reply(capsys, gateway):
    code, out, err = run(capsys, "--url", gateway.url, "--key", MASTER)
    assert code == 0, err
    assert "liveliness" in out and "200  I'm alive!" in out
    assert "readiness" in out and "status=healthy db=Not connected" in out
    assert f"cache=redis litellm_version={VERSION} success_callbacks=prometheus,request_logger" in out
    assert "use_aiohttp_transport" not in out  # the rest of the details only with -v
    (chat,) = gateway.chats()
    sent = chat["headers"]["x-litellm-call-id"]
    assert sent.startswith("test-request-") and len(sent) == len("test-request-") + 32
    assert chat["body"]["model"] == "llama3.1:8b"  # the first of /v1/models
    assert chat["body"]["max_tokens"] == tool.DEFAULT_MAX_TOKENS and "metadata" not in chat["body"]
    lines = {line.split("  ")[1].strip(): line for line in out.splitlines() if line.startswith("  ")}
    assert sent in lines["request id sent"]
    assert f"{sent} (same)" in lines["request id echoed"]
    assert lines["HTTP status"].endswith("200")
    assert lines["TTFB"].endswith(" ms") and lines["total"].split()[-2].replace(".", "").isdigit()
    assert "TTFT" not in lines  # streams only
    assert lines["tokens"].endswith("7 prompt + 3 completion = 10")
    assert lines["x-litellm-model-id"].endswith("ollama/llama3.1:8b")
    assert lines["x-litellm-model-api-base"].endswith("http://127.0.0.1:11434")
    assert lines["x-litellm-overhead-duration-ms"].endswith("3.2")
    assert lines["x-litellm-attempted-retries"].endswith("0")
    assert lines["x-litellm-version"].endswith(VERSION)
    assert "x-litellm-key-spend" not in out  # -v shows every header
    assert "reply\n  Hello there friend" in out
    assert MASTER not in out + err


def test_stream_shows_ttft_and_tokens_per_second(capsys, gateway):
    code, out, err = run(capsys, "--url", gateway.url, "--key", MASTER, "--stream")
    assert code == 0, err
    (chat,) = gateway.chats()
    assert chat["body"]["stream"] is True and chat["body"]["stream_options"] == {"include_usage": True}
    assert "(stream)" in out and "TTFT" in out and "tokens/s" in out
    assert "7 prompt + 3 completion = 10" in out and "Hello there friend" in out


def test_options_go_into_the_request_and_the_id_comes_back(capsys, gateway):
    metadata = {"project": "debug", "env": "dev"}
    argv = ["--url", gateway.url, "--key", MASTER, "--model", "qwen-coder-vllm", "--prompt", "ping"]
    argv += ["--max-tokens", "5", "--request-id", "debug-42", "--metadata", json.dumps(metadata)]
    code, data = run_json(capsys, *argv)
    assert code == 0
    (chat,) = gateway.chats()
    assert chat["headers"]["x-litellm-call-id"] == "debug-42"
    assert chat["body"] == {
        "model": "qwen-coder-vllm",
        "messages": [{"role": "user", "content": "ping"}],
        "stream": False,
        "max_tokens": 5,
        "metadata": metadata,
        # a test request must reach a backend: LiteLLM's cache neither answers nor stores it
        "cache": {"no-cache": True, "no-store": True},
    }
    request = data["request"]
    assert request["request_id"] == request["echoed_request_id"] == "debug-42"
    assert request["request_body"]["metadata"] == metadata
    assert request["litellm_headers"]["x-litellm-model-id"] == "vllm/qwen-coder-vllm"


def test_json_is_one_document_with_everything_shown(capsys, gateway):
    code, data = run_json(capsys, "--url", gateway.url, "--key", MASTER, "--stream")
    assert code == 0 and data["ok"] is True and data["problems"] == []
    assert data["url"] == gateway.url and data["key_source"] == "--key"
    live = data["health"]["liveliness"]
    assert live["status"] == 200 and live["body"] == "I'm alive!" and live["ms"] > 0
    assert data["health"]["readiness"]["body"] == {"status": "healthy", "db": "Not connected"}
    assert data["health"]["readiness_details"]["cache"] == "redis"
    request = data["request"]
    assert request["status"] == 200 and request["reply"] == "Hello there friend"
    assert request["usage"] == {"completion_tokens": 3, "prompt_tokens": 7, "total_tokens": 10}
    assert 0 < request["ttfb_ms"] <= request["ttft_ms"] <= request["total_ms"]
    assert request["ttft_ms"] >= 25  # the stand-in waits 30 ms before the first token
    assert request["tokens_per_s"] > 0
    assert request["request_headers"]["Authorization"] == "Bearer ***"
    assert "raw_body" not in request  # -v adds it
    assert MASTER not in json.dumps(data)


def test_verbose_shows_the_key_source_headers_and_raw_body_never_the_key(capsys, gateway, monkeypatch):
    monkeypatch.setenv("LITELLM_MASTER_KEY", MASTER)
    code, out, err = run(capsys, "--url", gateway.url, "-v", "--stream")
    assert code == 0, err
    assert f"gateway {gateway.url}, key from $LITELLM_MASTER_KEY" in out
    assert "> Authorization: Bearer ***" in out and "> x-litellm-call-id: test-request-" in out
    assert '>   "metadata"' not in out and '>   "stream": true' in out
    assert "< x-litellm-key-spend: 0.0" in out and "< content-type: text/event-stream" in out
    assert "raw body" in out and "data: [DONE]" in out
    assert "use_aiohttp_transport=true" in out  # every readiness detail
    assert MASTER not in out + err


def test_a_failing_readiness_fails_the_run_but_the_request_is_still_made(capsys, gateway):
    gateway.readiness_status = 503
    code, out, err = run(capsys, "--url", gateway.url, "--key", MASTER)
    assert code == 1
    assert "readiness answered HTTP 503" in err
    assert len(gateway.chats()) == 1 and "Hello there friend" in out


# the three failures people hit most
def test_unreachable_gateway_names_the_url_and_the_cause(capsys):
    url = f"http://127.0.0.1:{free_port()}"
    code, out, err = run(capsys, "--url", url, "--key", MASTER)
    assert code == 1 and out == ""
    assert err.strip() == f"error: cannot reach the gateway at {url}: connection refused"
    code, data = run_json(capsys, "--url", url, "--key", MASTER)
    assert code == 1 and data["ok"] is False and data["error"]["kind"] == "unreachable"


def test_wrong_key_says_which_source_was_used(capsys, gateway, monkeypatch):
    monkeypatch.setenv("LITELLM_API_KEY", "sk-wrong-key-123")
    code, _, err = run(capsys, "--url", gateway.url)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert f"error: the gateway at {gateway.url} refused the key from $LITELLM_API_KEY" in err
    assert "No connected db." in err and "accepts only its master key" in err
    assert "sk-wrong-key-123" not in err
    assert gateway.requests[-1]["headers"]["authorization"] == "Bearer sk-wrong-key-123"


def test_no_key_at_all_lists_where_it_looked(capsys, gateway):
    code, data = run_json(capsys, "--url", gateway.url, "--list-models")
    assert code == 1 and data["key_source"] == "none"
    assert data["error"]["kind"] == "wrong_key" and data["error"]["status"] == 401
    message = data["error"]["message"]
    assert "wants a key (HTTP 401: Authentication Error, No api key passed in.)" in message
    assert "$LITELLM_API_KEY" in message and str(access.GATEWAY_ENV_FILE) in message


def test_unknown_model_lists_the_available_ones(capsys, gateway):
    code, _, err = run(capsys, "--url", gateway.url, "--key", MASTER, "--model", "gpt-4")
    assert code == 1
    assert err.strip() == (
        f"error: unknown model 'gpt-4' at {gateway.url}; available: llama3.1:8b, qwen-coder-vllm"
    )


# the key: --key, $LITELLM_API_KEY, $LITELLM_MASTER_KEY, /etc/litellm/litellm.env, the clone's secret
def test_key_lookup_order(monkeypatch, tmp_path):
    assert access.find_key(None) == (None, "none")
    secret = access.REPO_SECRETS_DIR / "litellm_master_key"
    secret.parent.mkdir(parents=True)
    secret.write_text("generated32chars\n")  # the bundle's secret has no sk- prefix
    assert access.find_key(None) == ("sk-generated32chars", str(secret))

    moved = tmp_path / "molecule-secrets"
    moved.mkdir()
    (moved / "litellm_master_key").write_text("sk-already-prefixed")
    monkeypatch.setenv("LLMOBS_SECRETS_DIR", str(moved))
    assert access.find_key(None) == ("sk-already-prefixed", str(moved / "litellm_master_key"))

    access.GATEWAY_ENV_FILE.parent.mkdir()
    access.GATEWAY_ENV_FILE.write_text(
        "# managed\nLITELLM_MASTER_KEYX=no\nLITELLM_MASTER_KEY=sk-from-etc\nOTHER=1\n"
    )
    assert access.find_key(None) == ("sk-from-etc", str(access.GATEWAY_ENV_FILE))

    monkeypatch.setenv("LITELLM_MASTER_KEY", "sk-master-env")
    assert access.find_key(None) == ("sk-master-env", "$LITELLM_MASTER_KEY")
    monkeypatch.setenv("LITELLM_API_KEY", "sk-api-env")
    assert access.find_key(None) == ("sk-api-env", "$LITELLM_API_KEY")
    assert access.find_key("sk-flag") == ("sk-flag", "--key")


def test_an_unreadable_gateway_env_file_is_passed_over(monkeypatch, tmp_path):
    unreadable = tmp_path / "a-directory"  # reading it fails even for root, like a 0600 file for others
    unreadable.mkdir()
    monkeypatch.setattr(access, "GATEWAY_ENV_FILE", unreadable)
    monkeypatch.setenv("LLMOBS_SECRETS_DIR", str(tmp_path))
    (tmp_path / "litellm_master_key").write_text("abc")
    assert access.find_key(None) == ("sk-abc", str(tmp_path / "litellm_master_key"))


def test_the_url_comes_from_litellm_url_then_the_gateway_env_file(capsys, gateway, monkeypatch):
    assert access.default_url() == "http://localhost:4000"
    access.GATEWAY_ENV_FILE.parent.mkdir()
    access.GATEWAY_ENV_FILE.write_text(f"LITELLM_MASTER_KEY={MASTER}\nLITELLM_URL={gateway.url}\n")
    code, data = run_json(capsys, "--list-models")  # what a gateway host needs: no option at all
    assert code == 0 and data["url"] == gateway.url and data["key_source"] == str(access.GATEWAY_ENV_FILE)
    monkeypatch.setenv("LITELLM_URL", "http://gateway.example:4000")
    assert access.default_url() == "http://gateway.example:4000"


# --list-models and --test-routing
def test_list_models(capsys, gateway):
    code, out, _ = run(capsys, "--url", gateway.url, "--key", MASTER, "--list-models")
    assert code == 0
    assert out.splitlines() == [f"2 models at {gateway.url}", "  llama3.1:8b", "  qwen-coder-vllm"]
    assert not gateway.chats()
    code, data = run_json(capsys, "--url", gateway.url, "--key", MASTER, "--list-models")
    assert data["models"] == ["llama3.1:8b", "qwen-coder-vllm"]


def test_routing_sends_one_request_per_model_and_tabulates_where_it_went(capsys, gateway):
    code, out, err = run(
        capsys, "--url", gateway.url, "--key", MASTER, "--test-routing", "--request-id", "rt"
    )
    assert code == 0, err
    assert [c["headers"]["x-litellm-call-id"] for c in gateway.chats()] == ["rt-1", "rt-2"]
    assert [c["body"]["model"] for c in gateway.chats()] == ["llama3.1:8b", "qwen-coder-vllm"]
    header, *rows = out.splitlines()[1:]
    assert header.split() == ["model", "status", "latency", "ms", "provider", "deployment", "api_base"]
    assert rows[0].split()[:2] == ["llama3.1:8b", "200"]
    assert rows[0].split()[3:] == ["ollama", "ollama/llama3.1:8b", "http://127.0.0.1:11434"]
    assert rows[1].split()[3:] == ["vllm", "vllm/qwen-coder-vllm", "http://127.0.0.1:8001/v1"]
    assert rows[0].index("200") == header.index("status")  # aligned columns
    assert "[1/2] llama3.1:8b" in err  # progress on stderr


def test_routing_exits_1_when_a_model_fails(capsys):
    with Gateway(BUNDLE_DEPLOYMENTS, failing=("qwen-coder-vllm",)) as gw:
        code, data = run_json(capsys, "--url", gw.url, "--key", MASTER, "--test-routing", "--stream")
    assert code == 1 and data["ok"] is False
    ok, failed = data["routing"]
    assert ok["ok"] is True and ok["status"] == 200 and ok["ttft_ms"] > 0
    assert failed["ok"] is False and failed["status"] == 500
    assert failed["error"].endswith("Hosted_vllmException - boom")
    assert failed["deployment"] == "vllm/qwen-coder-vllm"  # LiteLLM's error answers carry the headers too
    assert data["problems"] == ["1 of 2 models failed"]


def test_routing_table_marks_the_failure(capsys):
    with Gateway(BUNDLE_DEPLOYMENTS, failing=("qwen-coder-vllm",)) as gw:
        code, out, err = run(capsys, "--url", gw.url, "--key", MASTER, "--test-routing")
    assert code == 1 and err.strip().endswith("error: 1 of 2 models failed")
    assert "FAIL 500" in out and "qwen-coder-vllm (request id test-request-" in out


# --providers: the backends behind the gateway, probed directly
@pytest.fixture
def backends() -> Iterator[dict[str, str]]:
    ollama = parse_profile({"seed": 1, "models": {"llama3.1:8b": FAST, "phi3:latest": FAST}})
    vllm = parse_profile({"seed": 1, "models": {"Qwen/Qwen2.5-Coder-7B-Instruct": FAST}})
    llamacpp = parse_profile({"seed": 1, "models": {"llama-3.2-3b": FAST}})
    with (
        BackgroundSimulator(ollama, "ollama") as o,
        BackgroundSimulator(vllm, "vllm") as v,
        BackgroundSimulator(llamacpp, "llamacpp") as c,
    ):
        yield {
            "ollama": o.url,
            "vllm": v.url + "/v1",
            "llamacpp": c.url,
            "down": f"http://127.0.0.1:{free_port()}/v1",
        }


def test_providers_probe_every_backend_and_check_the_routed_models(capsys, backends):
    deployments = [
        deployment("llama3.1:8b", "ollama_chat/llama3.1:8b", backends["ollama"], "ollama/llama3.1:8b"),
        deployment("phi3", "ollama/phi3", backends["ollama"], "ollama/phi3"),  # phi3 is phi3:latest
        deployment("qwen", "hosted_vllm/Qwen/Qwen2.5-Coder-7B-Instruct", backends["vllm"], "vllm/qwen"),
        deployment("gone", "hosted_vllm/not-loaded", backends["vllm"], "vllm/gone"),
        deployment("tiny", "openai/llama-3.2-3b", backends["down"], "llamacpp/tiny"),
        deployment("claude", "anthropic/claude-3-5-haiku", None, "hosted/claude"),
    ]
    with Gateway(deployments) as gw:
        code, out, err = run(capsys, "--url", gw.url, "--key", MASTER, "--providers")
        assert [r["path"] for r in gw.requests] == ["/model/info"]
    assert code == 1
    rows = {line.split()[0]: line for line in out.splitlines()[2:] if line.startswith("  ")}
    assert rows["ollama"].split()[1:4] == ["ollama", backends["ollama"], "up"]
    assert "llama3.1:8b, phi3:latest" in rows["ollama"] and "llama3.1:8b ok, phi3 ok" in rows["ollama"]
    assert rows["vllm"].split()[1:4] == ["openai", backends["vllm"], "up"]
    assert "Qwen/Qwen2.5-Coder-7B-Instruct ok, not-loaded MISSING" in rows["vllm"]
    assert rows["llamacpp"].split()[1:4] == ["openai", backends["down"], "DOWN"]
    assert "connection refused" in rows["llamacpp"] and "llama-3.2-3b ?" in rows["llamacpp"]
    assert "claude (anthropic/claude-3-5-haiku): provider type 'anthropic'" in out
    assert f"{backends['down']} is down: connection refused" in err
    assert f"{backends['vllm']} does not serve not-loaded" in err


def test_providers_json(capsys, backends):
    deployments = [
        deployment("llama3.1:8b", "ollama_chat/llama3.1:8b", backends["ollama"], "ollama/llama3.1:8b")
    ]
    with Gateway(deployments) as gw:
        code, data = run_json(capsys, "--url", gw.url, "--key", MASTER, "--providers")
    assert code == 0 and data["ok"] is True and data["source"] == f"GET {gw.url}/model/info"
    (backend,) = data["backends"]
    assert backend["up"] is True and backend["http_status"] == 200 and backend["latency_ms"] > 0
    assert backend["url"] == backends["ollama"] + "/api/tags"
    assert backend["models"] == ["llama3.1:8b", "phi3:latest"] and backend["providers"] == ["ollama"]
    assert backend["routed"] == [
        {
            "model_name": "llama3.1:8b",
            "backend_model": "llama3.1:8b",
            "deployment": "ollama/llama3.1:8b",
            "present": True,
        }
    ]


def test_api_base_probes_given_backends_without_the_gateway(capsys, backends):
    gateway_down = f"http://127.0.0.1:{free_port()}"
    argv = ["--url", gateway_down, "--json"]
    for name in ("ollama", "vllm", "llamacpp"):  # llama.cpp without /v1: found out by its 404 on /api/tags
        argv += ["--api-base", backends[name]]
    code, out, _ = run(capsys, *argv)
    data = json.loads(out)
    assert code == 0 and data["source"] == "--api-base"
    types = {b["api_base"]: (b["type"], b["models"]) for b in data["backends"]}
    assert types == {
        backends["ollama"]: ("ollama", ["llama3.1:8b", "phi3:latest"]),
        backends["vllm"]: ("openai", ["Qwen/Qwen2.5-Coder-7B-Instruct"]),
        backends["llamacpp"]: ("openai", ["llama-3.2-3b"]),
    }
    code, _, err = run(capsys, "--url", gateway_down, "--api-base", backends["down"])
    assert code == 1 and "is down: connection refused" in err


# usage errors: exit 2
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--metadata", "{not json"], "--metadata is not valid JSON"),
        (["--metadata", '["a", "list"]'], "--metadata must be a JSON object, not list"),
        (["--timeout", "0"], "--timeout must be positive"),
        (["--max-tokens", "0"], "--max-tokens must be at least 1"),
        (["--url", "localhost:4000"], "not an http(s) URL: 'localhost:4000'"),
        (["--providers", "--api-base", "http://127.0.0.1:99999/v1"], "Port out of range"),
        (["--request-id", "has space"], "--request-id must be 1 to 256 printable characters"),
        (["--request-id", "x" * 257], "--request-id must be 1 to 256 printable characters"),
        (["--list-models", "--api-base", "http://127.0.0.1:8001/v1"], "--api-base goes with --providers"),
        (["--list-models", "--test-routing"], "not allowed with argument"),
        (["--max-tokens", "many"], "invalid int value"),
    ],
)
def test_usage_errors_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert message in err


def test_the_script_runs_through_the_guide_path(root):
    script = root / "scripts" / "debugging" / "test-request.py"
    done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: test-request")
    for flag in ("--list-models", "--test-routing", "--providers", "--api-base", "--metadata", "--stream"):
        assert flag in done.stdout
    assert "key lookup" in done.stdout and "exit codes: 0 ok, 1" in done.stdout


def test_the_module_runs_as_main(tmp_path):
    """run-tool.py runs the module with run_name="__main__": the exit code must come through."""
    src = Path(tool.__file__).resolve().parents[2]
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import runpy; runpy.run_module('llmobs.debugging.test_request', run_name='__main__')",
            "--timeout",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 2 and "--timeout must be positive" in done.stderr


def test_allow_cache_lets_the_gateway_answer_from_its_cache_and_says_so(capsys, gateway):
    code, out, err = run(capsys, "--url", gateway.url, "--key", MASTER, "--allow-cache")
    assert code == 0, err
    (chat,) = gateway.chats()
    assert "cache" not in chat["body"]
    assert "from the gateway's cache" in out


def test_without_allow_cache_no_cache_hit_is_reported(capsys, gateway):
    code, out, err = run(capsys, "--url", gateway.url, "--key", MASTER)
    assert code == 0, err
    assert "from the gateway's cache" not in out


def test_a_500_to_a_request_without_a_key_says_a_key_may_be_wanted():
    """LiteLLM 1.108 answers a keyless request with a 500 (its error handler imports prisma, which
    a gateway without a database lacks): the tools say that no key was sent and where they looked."""
    line = access.explain("http_error", "http://gw:4000", "Internal Server Error", "none", 500)
    assert line is not None
    assert line.startswith("the gateway at http://gw:4000 failed on a request without a key")
    assert "none found in --key, $LITELLM_API_KEY" in line
    assert access.explain("http_error", "http://gw:4000", "boom", "$LITELLM_API_KEY", 500) is None
