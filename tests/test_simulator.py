"""The synthetic LLM provider as a client sees it: both API dialects, timing, faults, admin, metrics.

Each test starts the simulator on 127.0.0.1 with an ephemeral port (in a thread) and talks HTTP.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from typing import Any

import pytest

from llmobs.simulator.engine import ModelState
from llmobs.simulator.profile import parse_profile
from llmobs.simulator.server import BackgroundSimulator
from llmobs.waiting import wait_until

FAST = {"ttft_ms": 0, "tokens_per_second": 0, "output_tokens": 5, "batch_capacity": 0}


def simulator(
    kind: str, seed: int = 1, admin_token: str | None = None, **models: dict
) -> BackgroundSimulator:
    profile = parse_profile({"seed": seed, "models": models or {"m1": FAST}})
    return BackgroundSimulator(profile, kind, admin_token=admin_token)


class Reply:
    def __init__(self, response: http.client.HTTPResponse, body: bytes) -> None:
        self.status = response.status
        self.headers = {k.lower(): v for k, v in response.getheaders()}
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    sim: BackgroundSimulator,
    method: str,
    path: str,
    body: Any = None,
    timeout: float = 5,
    headers: dict | None = None,
) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
        response = conn.getresponse()
        return Reply(response, response.read())
    finally:
        conn.close()


def chat(model: str = "m1", **extra: Any) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": "Say something, please."}], **extra}


def sse_events(body: bytes) -> list[Any]:
    """The data of each SSE event; the [DONE] marker stays a string."""
    events = []
    for block in body.decode().split("\n\n"):
        if block.strip():
            assert block.startswith("data: "), block
            data = block[len("data: ") :]
            events.append(data if data == "[DONE]" else json.loads(data))
    return events


# OpenAI dialect (vLLM, llama.cpp, OpenAI)


@pytest.mark.parametrize("kind", ["vllm", "llamacpp", "openai"])
def test_openai_models_health_and_metrics_by_type(kind):
    with simulator(kind) as sim:
        models = call(sim, "GET", "/v1/models").json()
        assert models["object"] == "list"
        assert [m["id"] for m in models["data"]] == ["m1"]
        assert call(sim, "GET", "/health").status == 200
        assert call(sim, "GET", "/metrics").status == (200 if kind == "vllm" else 404)
        assert call(sim, "GET", "/api/tags").status == 404  # no Ollama API here


def test_chat_completion_reports_usage_and_honours_max_tokens():
    with simulator("vllm", m1={**FAST, "output_tokens": 8}) as sim:
        reply = call(sim, "POST", "/v1/chat/completions", chat())
        assert reply.status == 200 and reply.headers["content-type"] == "application/json"
        data = reply.json()
        assert data["object"] == "chat.completion" and data["model"] == "m1"
        choice = data["choices"][0]
        assert choice["message"]["role"] == "assistant" and choice["finish_reason"] == "stop"
        assert len(choice["message"]["content"].split()) == 8
        usage = data["usage"]
        assert usage["completion_tokens"] == 8 and usage["prompt_tokens"] >= 1
        assert usage["total_tokens"] == usage["prompt_tokens"] + 8

        capped = call(sim, "POST", "/v1/chat/completions", chat(max_tokens=3)).json()
        assert capped["choices"][0]["finish_reason"] == "length"
        assert capped["usage"]["completion_tokens"] == 3
        assert call(sim, "POST", "/v1/chat/completions", chat(max_tokens=0)).status == 400
        assert call(sim, "POST", "/v1/chat/completions", {"model": "m1"}).status == 400


def test_chat_stream_sends_role_chunk_first_then_tokens_then_usage():
    with simulator("vllm", m1={**FAST, "output_tokens": 6}) as sim:
        reply = call(
            sim, "POST", "/v1/chat/completions", chat(stream=True, stream_options={"include_usage": True})
        )
        assert reply.status == 200
        assert reply.headers["content-type"] == "text/event-stream"
        assert reply.headers["transfer-encoding"] == "chunked"
        events = sse_events(reply.body)
        assert events[-1] == "[DONE]"
        first, *middle, finish, usage_chunk, _ = events
        assert first["object"] == "chat.completion.chunk"
        assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
        assert all("content" in e["choices"][0]["delta"] for e in middle)
        assert len(middle) == 6
        assert finish["choices"][0]["finish_reason"] == "stop" and finish["choices"][0]["delta"] == {}
        assert usage_chunk["choices"] == []
        assert usage_chunk["usage"]["completion_tokens"] == 6
        assert {e["id"] for e in events[:-1]} == {first["id"]}

        plain = sse_events(call(sim, "POST", "/v1/chat/completions", chat(stream=True)).body)
        assert plain[-1] == "[DONE]"
        assert all("usage" not in e for e in plain[:-1])
        assert len(plain) == 1 + 6 + 1 + 1


def test_timings_record_each_answer_by_request_and_response_id_in_time_order():
    """GET /admin/timings, the ground truth of benchmarks/profiling_accuracy.py: a tool that sends
    no request id (GuideLLM) is joined by the id of the answer it got."""
    slow = {**FAST, "ttft_ms": 20}
    with simulator("vllm", m1=slow) as sim:
        before = time.perf_counter()
        streamed = call(
            sim, "POST", "/v1/chat/completions", chat(stream=True), headers={"x-request-id": "r-1"}
        )
        whole = call(sim, "POST", "/v1/chat/completions", chat()).json()
        after = time.perf_counter()
        rows = call(sim, "GET", "/admin/timings").json()["requests"]
        assert [(r["id"], r["response_id"], r["stream"]) for r in rows] == [
            ("r-1", sse_events(streamed.body)[0]["id"], True),
            (None, whole["id"], False),
        ]
        for row in rows:  # in time order; only lower bounds (a busy machine makes things late)
            times = [row[k] for k in ("arrived", "admitted", "first_token", "last_token", "ended")]
            assert before < times[0] and times == sorted(times)
            # the last token is stamped before it is written, so the client read it after; "ended"
            # is stamped once the end is written and may come after the client has all of it
            # (1.5 ms later in a run under stress-ng)
            assert row["last_token"] < after
            assert row["first_token"] - row["arrived"] >= 0.02  # the configured TTFT


def test_arrival_is_when_the_first_bytes_came_not_when_the_request_was_whole():
    """The truth's start is the server's receipt: a client that sends its head, then its body
    0.2 s later, has arrived with its head (as a busy event loop's parse delay is no client's)."""
    with simulator("vllm") as sim, socket.create_connection(("127.0.0.1", sim.port), timeout=5) as s:
        body = json.dumps(chat()).encode()
        head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
        sent_head = time.perf_counter()
        s.sendall(head)
        time.sleep(0.2)
        sent_body = time.perf_counter()
        s.sendall(body)
        received = b""
        while b'"chat.completion"' not in received:
            received += s.recv(65536)
        [row] = call(sim, "GET", "/admin/timings").json()["requests"]
        assert sent_head < row["arrived"] < sent_body


def test_completions_streamed_and_not():
    with simulator("llamacpp", m1={**FAST, "output_tokens": 4}) as sim:
        data = call(sim, "POST", "/v1/completions", {"model": "m1", "prompt": "Once upon a time"}).json()
        assert data["object"] == "text_completion"
        assert len(data["choices"][0]["text"].split()) == 4
        assert data["usage"]["completion_tokens"] == 4

        body = {"model": "m1", "prompt": [1, 2, 3], "stream": True, "stream_options": {"include_usage": True}}
        events = sse_events(call(sim, "POST", "/v1/completions", body).body)
        assert events[-1] == "[DONE]"
        texts = [e["choices"][0]["text"] for e in events[:-1] if e["choices"]]
        assert texts[0] != ""  # completions have no role chunk: the first chunk carries text
        assert len([t for t in texts if t]) == 4
        assert events[-2]["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}


@pytest.mark.parametrize(
    ("kind", "path", "check"),
    [
        ("vllm", "/v1/chat/completions", lambda b: b["object"] == "error" and b["code"] == 404),
        ("openai", "/v1/chat/completions", lambda b: b["error"]["code"] == "model_not_found"),
        ("llamacpp", "/v1/chat/completions", lambda b: b["error"]["code"] == 404),
        ("ollama", "/api/chat", lambda b: "not found" in b["error"]),
        ("ollama", "/v1/chat/completions", lambda b: b["error"]["type"] == "invalid_request_error"),
    ],
)
def test_unknown_model_is_404_shaped_like_the_backend(kind, path, check):
    with simulator(kind) as sim:
        reply = call(sim, "POST", path, chat("no-such-model"))
        assert reply.status == 404
        assert check(reply.json()), reply.body


# Ollama dialect


def test_ollama_discovery_endpoints():
    with simulator("ollama", **{"llama3.1:8b": {**FAST, "context_length": 4096, "family": "llama"}}) as sim:
        assert call(sim, "GET", "/").body == b"Ollama is running"
        assert "version" in call(sim, "GET", "/api/version").json()
        tags = call(sim, "GET", "/api/tags").json()["models"]
        assert [t["name"] for t in tags] == ["llama3.1:8b"]
        assert tags[0]["details"]["family"] == "llama"
        show = call(sim, "POST", "/api/show", {"model": "llama3.1:8b"}).json()
        assert show["model_info"]["llama.context_length"] == 4096
        missing = call(sim, "POST", "/api/show", {"model": "nope"})
        assert missing.status == 404 and "error" in missing.json()
        assert call(sim, "GET", "/v1/models").json()["data"][0]["id"] == "llama3.1:8b"


def test_ollama_chat_streams_ndjson_by_default_with_a_final_summary():
    with simulator("ollama", m1={**FAST, "output_tokens": 5}) as sim:
        reply = call(sim, "POST", "/api/chat", chat())
        assert reply.status == 200 and reply.headers["content-type"] == "application/x-ndjson"
        lines = [json.loads(line) for line in reply.body.decode().splitlines()]
        *tokens, final = lines
        assert len(tokens) == 5 and not any(t["done"] for t in tokens)
        assert all(t["message"]["role"] == "assistant" and t["message"]["content"] for t in tokens)
        assert final["done"] is True and final["done_reason"] == "stop"
        assert final["eval_count"] == 5 and final["prompt_eval_count"] >= 1
        for key in ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration"):
            assert isinstance(final[key], int) and final[key] >= 0
        assert final["total_duration"] >= final["eval_duration"]


def test_ollama_generate_without_stream_and_with_num_predict():
    with simulator("ollama", m1={**FAST, "output_tokens": 10}) as sim:
        body = {
            "model": "m1",
            "prompt": "Why is the sky blue?",
            "stream": False,
            "options": {"num_predict": 3},
        }
        data = call(sim, "POST", "/api/generate", body).json()
        assert data["done"] is True and data["done_reason"] == "length"
        assert data["eval_count"] == 3 and len(data["response"].split()) == 3
        assert "total_duration" in data and "load_duration" in data
        streamed = call(sim, "POST", "/api/generate", {"model": "m1", "prompt": "hi"}).body.decode()
        assert json.loads(streamed.splitlines()[-1])["done"] is True


# Timing: batch capacity, cold loads


def running_and_waiting(sim: BackgroundSimulator) -> tuple[str, str]:
    page = call(sim, "GET", "/metrics").body.decode()
    return tuple(
        next(
            line.rsplit(" ", 1)[1]
            for line in page.splitlines()
            if line.startswith(f'vllm:{name}{{model_name="m1"}}')
        )
        for name in ("num_requests_running", "num_requests_waiting")
    )


def test_batch_capacity_queues_requests_beyond_it():
    # Four requests of 200 ms on two slots: two run while two wait (the metrics show it), and the
    # waiting ones take a second round. Only lower bounds on times: a busy machine adds, never takes.
    profile = {"ttft_ms": 200, "tokens_per_second": 0, "output_tokens": 1, "batch_capacity": 2}
    with simulator("vllm", m1=profile) as sim:
        times: list[float] = []

        def one() -> None:
            start = time.monotonic()
            assert call(sim, "POST", "/v1/chat/completions", chat()).status == 200
            times.append(time.monotonic() - start)

        threads = [threading.Thread(target=one) for _ in range(4)]
        for t in threads:
            t.start()
        wait_until(
            lambda: running_and_waiting(sim),
            5,
            "2 requests running and 2 waiting",
            ("2.0", "2.0").__eq__,
            0.01,
        )
        for t in threads:
            t.join(10)
        times.sort()
        assert len(times) == 4 and times[0] >= 0.19 and times[2] >= 0.38, times


def test_a_client_that_leaves_frees_its_slot():
    profile = {"ttft_ms": 1500, "tokens_per_second": 0, "output_tokens": 1, "batch_capacity": 1}
    with simulator("vllm", m1=profile) as sim:
        with pytest.raises(TimeoutError):
            call(sim, "POST", "/v1/chat/completions", chat(), timeout=0.2)
        wait_until(lambda: running_and_waiting(sim), 5, "the slot freed", ("0.0", "0.0").__eq__, 0.01)


def test_cold_load_at_start_and_again_after_idle():
    # after_idle_s well above what two calls in a row can take on a busy machine; the sleep is
    # what makes the model idle, not a stand-in for readiness
    profile = {**FAST, "cold_load": {"after_idle_s": 1.5, "load_ms": 300}}
    with simulator("ollama", m1=profile) as sim:
        assert call(sim, "GET", "/api/ps").json()["models"] == []

        def load_seconds() -> float:
            return call(sim, "POST", "/api/chat", chat(stream=False)).json()["load_duration"] / 1e9

        assert load_seconds() >= 0.28  # cold at start
        assert [m["name"] for m in call(sim, "GET", "/api/ps").json()["models"]] == ["m1"]
        assert load_seconds() == 0  # warm
        time.sleep(1.7)
        assert call(sim, "GET", "/api/ps").json()["models"] == []
        assert load_seconds() >= 0.28  # idle for longer than after_idle_s: cold again


# Faults


@pytest.mark.parametrize(
    ("kind", "path", "fault", "status"),
    [
        ("vllm", "/v1/chat/completions", "http_500", 500),
        ("openai", "/v1/chat/completions", "http_429", 429),
        ("ollama", "/api/chat", "http_500", 500),
        ("ollama", "/api/generate", "http_429", 429),
        ("llamacpp", "/v1/completions", "http_503", 503),
    ],
)
def test_injected_http_errors(kind, path, fault, status):
    with simulator(kind, m1={**FAST, "errors": {fault: 1.0}}) as sim:
        body = chat() if "chat" in path else {"model": "m1", "prompt": "hello"}
        reply = call(sim, "POST", path, body)
        assert reply.status == status
        error = reply.json()
        assert "error" in error or error.get("object") == "error"
        if status == 429:
            assert reply.headers["retry-after"] == "1"


def test_timeout_fault_never_answers_and_gives_up_after_hang_max():
    with simulator("vllm", m1={**FAST, "errors": {"timeout": 1.0}, "hang_max_s": 0.6}) as sim:
        with pytest.raises(TimeoutError):
            call(sim, "POST", "/v1/chat/completions", chat(), timeout=0.3)
        start = time.monotonic()
        # the server hangs up (RemoteDisconnected) before the client's 5 s run out (TimeoutError)
        with pytest.raises(http.client.RemoteDisconnected):
            call(sim, "POST", "/v1/chat/completions", chat(), timeout=5)
        assert time.monotonic() - start >= 0.5


def test_stall_fault_starts_the_stream_then_stops():
    with simulator("vllm", m1={**FAST, "output_tokens": 6, "errors": {"stall": 1.0}, "hang_max_s": 2}) as sim:
        conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=1)
        conn.request("POST", "/v1/chat/completions", body=json.dumps(chat(stream=True)))
        response = conn.getresponse()
        assert response.status == 200
        received = b""
        with pytest.raises(TimeoutError):
            while True:
                received += response.read1(65536)
        events = sse_events(received)
        assert events[0]["choices"][0]["delta"]["role"] == "assistant"
        assert 1 <= len(events) - 1 < 6 and "[DONE]" not in events
        conn.close()
        # A client that waits longer sees the connection end without the rest of the stream.
        conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=10)
        conn.request("POST", "/v1/chat/completions", body=json.dumps(chat(stream=True)))
        with pytest.raises(http.client.IncompleteRead):
            conn.getresponse().read()
        conn.close()


def test_same_seed_same_sequence_gives_same_outputs_and_draws():
    model = {
        "ttft_ms": {"dist": "lognormal", "mean": 5, "stddev": 3},
        "tokens_per_second": {"dist": "normal", "mean": 5000, "stddev": 500},
        "output_tokens": {"dist": "uniform", "min": 3, "max": 12},
        "batch_capacity": 0,
    }

    def run(seed: int) -> list[tuple[str, int]]:
        with simulator("vllm", seed=seed, m1=model) as sim:
            replies = [call(sim, "POST", "/v1/chat/completions", chat()).json() for _ in range(4)]
        return [(r["choices"][0]["message"]["content"], r["usage"]["completion_tokens"]) for r in replies]

    first = run(7)
    assert run(7) == first
    assert run(8) != first
    profile = parse_profile({"seed": 7, "models": {"m1": model}}).models["m1"]
    a, b = ModelState(profile, 7), ModelState(profile, 7)
    draws = [(p.ttft_s, p.interval_s, p.pieces) for p in (a.plan({}, None) for _ in range(5))]
    assert draws == [(p.ttft_s, p.interval_s, p.pieces) for p in (b.plan({}, None) for _ in range(5))]


def test_admin_switch_fails_every_request_then_restores_the_profile():
    with simulator("vllm", m1=FAST, m2=FAST) as sim:
        assert call(sim, "POST", "/v1/chat/completions", chat()).status == 200
        state = call(sim, "POST", "/admin/faults", {"error_rate": 1.0, "status": 500}).json()
        assert state["models"]["m1"]["effective"] == {"http_500": 1.0}
        assert [call(sim, "POST", "/v1/chat/completions", chat()).status for _ in range(5)] == [500] * 5
        # A model's own override wins over the one for all models.
        call(sim, "POST", "/admin/faults", {"model": "m2", "errors": {"http_429": 1.0}})
        assert call(sim, "POST", "/v1/chat/completions", chat("m2")).status == 429
        assert call(sim, "GET", "/admin/faults").json()["overrides"] == {
            "*": {"http_500": 1.0},
            "m2": {"http_429": 1.0},
        }
        assert call(sim, "POST", "/admin/faults", {"reset": True}).json()["overrides"] == {}
        assert call(sim, "POST", "/v1/chat/completions", chat()).status == 200
        assert call(sim, "POST", "/v1/chat/completions", chat("m2")).status == 200
        assert call(sim, "POST", "/admin/faults", {"error_rate": 2}).status == 400
        assert call(sim, "POST", "/admin/faults", {"model": "zz", "error_rate": 1}).status == 404
        call(sim, "POST", "/admin/faults", {"error_rate": 1.0, "kind": "timeout"})
        assert call(sim, "DELETE", "/admin/faults").json()["overrides"] == {}


def test_admin_token_protects_the_admin_endpoint():
    with simulator("ollama", admin_token="s3cret-token") as sim:
        assert call(sim, "GET", "/admin/faults").status == 401
        assert call(sim, "POST", "/admin/faults", {"error_rate": 1.0}).status == 401
        auth = {"Authorization": "Bearer s3cret-token"}
        assert call(sim, "POST", "/admin/faults", {"error_rate": 1.0}, headers=auth).status == 200
        assert call(sim, "POST", "/api/chat", chat(stream=False)).status == 500


def test_vllm_metrics_page_is_prometheus_text_with_vllm_names():
    parser = pytest.importorskip("prometheus_client.parser", reason="prometheus-client (requirements.txt)")
    with simulator("vllm", m1={**FAST, "output_tokens": 4}, m2=FAST) as sim:
        for _ in range(3):
            call(sim, "POST", "/v1/chat/completions", chat())
        call(sim, "POST", "/v1/chat/completions", chat(max_tokens=2))
        reply = call(sim, "GET", "/metrics")
    assert reply.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in parser.text_string_to_metric_families(reply.body.decode()):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    m1 = (("model_name", "m1"),)
    assert samples[("vllm:generation_tokens_total", m1)] == 3 * 4 + 2
    assert samples[("vllm:prompt_tokens_total", m1)] > 0
    assert samples[("vllm:request_success_total", (("finished_reason", "stop"), *m1))] == 3
    assert samples[("vllm:request_success_total", (("finished_reason", "length"), *m1))] == 1
    assert samples[("vllm:num_requests_running", m1)] == 0
    assert samples[("vllm:num_requests_waiting", m1)] == 0
    for name in ("time_to_first_token", "time_per_output_token", "e2e_request_latency"):
        assert samples[(f"vllm:{name}_seconds_count", m1)] == 4
        assert samples[(f"vllm:{name}_seconds_bucket", (("le", "+Inf"), *m1))] == 4
    assert samples[("vllm:e2e_request_latency_seconds_count", (("model_name", "m2"),))] == 0


# HTTP details


def test_keep_alive_chunked_request_bodies_and_http10():
    with simulator("vllm") as sim:
        with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as s:
            body = json.dumps(chat()).encode()
            chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
            request = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            s.sendall(request + chunked + b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
            received = b""
            while received.count(b"HTTP/1.1 200") < 2:
                received += s.recv(65536)
            assert b'"chat.completion"' in received
        with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as s:
            s.sendall(b"GET /v1/models HTTP/1.0\r\n\r\n")
            received = b""
            while chunk := s.recv(65536):
                received += chunk  # HTTP/1.0 without keep-alive: the server closes
            assert received.startswith(b"HTTP/1.1 200") and b"Connection: close" in received
        assert call(sim, "GET", "/v1/nothing").status == 404
        assert call(sim, "GET", "/v1/chat/completions").status == 405
        assert call(sim, "POST", "/v1/chat/completions", None, headers={"Content-Length": "0"}).status == 400
