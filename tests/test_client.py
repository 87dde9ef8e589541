"""llmobs.client against the real simulator (in-process, loopback): timings, usage, errors, reuse."""

from __future__ import annotations

import socket
import threading

import pytest

from llmobs.client import (
    CALL_ID_HEADER,
    Client,
    HttpError,
    Response,
    UnknownModel,
    Unreachable,
    WrongKey,
    error_for,
    error_message,
)
from llmobs.simulator.profile import parse_profile
from llmobs.simulator.server import BackgroundSimulator

FAST = {"ttft_ms": 0, "tokens_per_second": 0, "output_tokens": 5, "batch_capacity": 0}


def simulator(kind: str = "vllm", **models: dict) -> BackgroundSimulator:
    return BackgroundSimulator(parse_profile({"seed": 1, "models": models or {"m1": FAST}}), kind)


def free_port() -> int:
    """A loopback port nothing listens on: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_chat_reports_text_usage_and_timings_and_reuses_the_connection():
    with simulator(m1={**FAST, "output_tokens": 8}) as sim, Client(sim.url, "sk-test") as client:
        first = client.chat("m1", "hello", max_tokens=3, request_id="rid-1", metadata={"project": "debug"})
        assert first.status == 200 and first.finish_reason == "length"
        assert len(first.text.split()) == 3
        assert first.usage["completion_tokens"] == 3 == first.completion_tokens
        assert first.total_tokens == first.prompt_tokens + 3
        assert first.request == {
            "model": "m1",
            "messages": [{"role": "user", "content": "hello"}],
            "stream": False,
            "max_tokens": 3,
            "metadata": {"project": "debug"},
        }
        assert first.request_headers[CALL_ID_HEADER] == "rid-1"
        assert first.request_headers["Authorization"] == "Bearer ***"  # shown masked, sent in full
        assert first.ttft_s is None and first.tokens_per_s is None  # not a stream
        assert 0 < first.connect_s <= first.ttfb_s <= first.total_s
        second = client.chat("m1", "again")
        assert second.connect_s == 0.0  # the same connection
        assert second.request_id.startswith("test-request-") and second.request_id != first.request_id


def test_stream_times_the_first_content_token_and_the_decode_rate():
    """Only what a busy machine cannot break: the simulator's schedule bounds the times from below,
    and a late reader may see two tokens in one chunk (never more than six chunks)."""
    model = {**FAST, "ttft_ms": 80, "tokens_per_second": 50, "output_tokens": 6}
    with simulator(m1=model) as sim, Client(sim.url) as client:
        result = client.chat("m1", "hello", stream=True)
    assert result.request["stream_options"] == {"include_usage": True}
    assert result.usage["completion_tokens"] == 6 and len(result.text.split()) == 6
    times = result.token_times_s
    assert 1 <= len(times) <= 6 and times == sorted(times)
    assert result.ttft_s == times[0] >= 0.079
    assert result.ttfb_s <= result.ttft_s  # the simulator sends headers with the first token, as vLLM
    assert result.total_s >= times[-1] >= 0.079 + 5 / 50  # the last token is due five intervals later
    if len(times) > 1:  # the server's count over the span from the first to the last token
        assert result.tokens_per_s == (6 - 1) / (times[-1] - times[0])
    assert result.body.rstrip().endswith(b"data: [DONE]")


def test_get_helpers_and_unknown_model():
    with simulator("ollama", **{"llama3.1:8b": FAST}) as sim, Client(sim.url) as client:
        assert client.models() == ["llama3.1:8b"]
        assert [m["name"] for m in client.get_json("/api/tags")["models"]] == ["llama3.1:8b"]
        missing = client.get("/no/such/path")
        assert missing.status == 404 and not missing.ok
        with pytest.raises(UnknownModel) as caught:
            client.chat("no-such-model", "hello")
        assert caught.value.model == "no-such-model" and caught.value.status == 404
        assert "no-such-model" in caught.value.detail
        assert client.chat("llama3.1:8b", "still usable").status == 200


def test_refused_unknown_host_and_timeout_are_unreachable(monkeypatch):
    port = free_port()
    with pytest.raises(Unreachable, match="connection refused"):
        Client(f"http://127.0.0.1:{port}").get("/health/liveliness")

    with socket.socket() as silent:  # accepts connections (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        client = Client(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.2)
        with pytest.raises(Unreachable, match=r"no answer within 0\.2 s"):
            client.chat("m1", "hello")

    def no_dns(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(Unreachable, match=r"cannot resolve host 'gateway\.invalid'"):
        Client("http://gateway.invalid:4000").get("/")


def test_a_connection_the_server_dropped_while_idle_is_reopened():
    """A keep-alive connection closed by the server between requests is no failure."""
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    accepted = []

    def serve() -> None:
        for _ in range(2):  # answer once per connection, then close it without saying so
            conn, _ = server.accept()
            accepted.append(conn)
            conn.recv(65536)
            conn.sendall(answer)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    with Client(f"http://127.0.0.1:{server.getsockname()[1]}") as client:
        assert client.get_json("/a") == {}
        second = client.get("/b")
    thread.join(5)
    server.close()
    assert second.status == 200 and second.connect_s > 0 and len(accepted) == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"error": {"message": "bad thing", "type": "invalid_request_error"}}', "bad thing"),
        (
            b'{"error": "model \\"x\\" not found, try pulling it first"}',
            'model "x" not found, try pulling it first',
        ),
        (
            b'{"object": "error", "message": "The model `x` does not exist.", "code": 404}',
            "The model `x` does not exist.",
        ),
        (b'{"detail": "Not Found"}', "Not Found"),
        (b'{"detail": [{"msg": "field required"}, {"msg": "bad type"}]}', "field required; bad type"),
        (b"plain text", "plain text"),
    ],
)
def test_error_message_shapes(body, message):
    assert error_message(body) == message


def answer(status: int, body: bytes) -> Response:
    return Response("POST", "http://gw/v1/chat/completions", status, "Reason", {}, body, 0.0, 0.01, 0.01)


def test_error_mapping_follows_litellm():
    assert isinstance(error_for(answer(401, b'{"error": {"message": "Authentication Error"}}')), WrongKey)
    # LiteLLM without a database answers a key other than the master key like this
    no_db = b'{"error": {"message": "No connected db.", "type": "no_db_connection", "param": null}}'
    assert isinstance(error_for(answer(400, no_db)), WrongKey)
    unknown = (
        b'{"error": {"message": "/chat/completions: Invalid model name passed in model=nope. '
        b'Call `/v1/models` to view available models for your key.", "type": "invalid_request_error", '
        b'"param": null, "code": "400"}}'
    )
    error = error_for(answer(400, unknown), "nope")
    assert isinstance(error, UnknownModel) and error.model == "nope" and "Invalid model name" in error.detail
    assert type(error_for(answer(400, b'{"error": {"message": "max_tokens too large"}}'))) is HttpError
    failed = error_for(answer(500, b'{"error": {"message": "litellm.InternalServerError: boom"}}'))
    assert type(failed) is HttpError and "HTTP 500" in str(failed) and failed.detail.endswith("boom")


def test_an_error_event_inside_a_stream_raises():
    body = (
        b'data: {"choices": [{"index": 0, "delta": {"content": "Hi"}}]}\n\n'
        b'data: {"error": {"message": "upstream went away", "code": "500"}}\n\n'
    )
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)

        def serve() -> None:
            conn, _ = server.accept()
            conn.recv(65536)
            conn.sendall(head + body)
            conn.close()

        threading.Thread(target=serve, daemon=True).start()
        with pytest.raises(HttpError, match="error inside the stream: upstream went away"):
            Client(f"http://127.0.0.1:{server.getsockname()[1]}").chat("m1", "hello", stream=True)
