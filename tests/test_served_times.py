"""llmobs.gateway.served_times: the gateway's own stamps of a stream's arrival and first token out,
around stand-in ASGI apps (what LiteLLM's app sends). With the real proxy the figures are in
benchmarks/README.md (client TTFT minus gateway_ttft_ms) and molecule/stack's test_profiling."""

import asyncio
import json
import sys
import time
import types

from hypothesis import given
from hypothesis import strategies as st

from llmobs.gateway import served_times
from llmobs.gateway.request_log import RequestLog, RequestLogWriter, Settings
from llmobs.gateway.served_times import ServedTimes, ServedTimesApp, stamp_served_times

ROLE = b'data: {"choices":[{"delta":{"role":"assistant","content":""}}]}\n\n'
TOKEN = b'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\n'
DONE = b"data: [DONE]\n\n"
SSE = [(b"content-type", b"text/event-stream"), (b"x-litellm-call-id", b"req-1")]


def app_sending(*bodies, headers=SSE, pause_s=0.0):
    """A stand-in app: the headers, then each body chunk, ``pause_s`` before the second one."""

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for number, body in enumerate(bodies):
            if number == 1:
                await asyncio.sleep(pause_s)
            await send({"type": "http.response.body", "body": body, "more_body": number < len(bodies) - 1})

    return app


def serve(app, scope_type="http"):
    times, sent = ServedTimes(), []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": b""}

    asyncio.run(ServedTimesApp(app, times)({"type": scope_type}, receive, send))
    return times, sent


def test_the_first_token_is_stamped_not_the_role_chunk_before_it():
    times, sent = serve(app_sending(ROLE, TOKEN, DONE, pause_s=0.05))
    assert [m.get("body") for m in sent[1:]] == [ROLE, TOKEN, DONE]  # passed on unchanged
    seconds = times.pop("req-1")
    assert seconds >= 0.05  # the token came 50 ms after the role chunk
    assert times.pop("req-1") is None  # taken once


def test_an_event_cut_between_two_chunks_is_read_whole():
    times, _ = serve(app_sending(ROLE + TOKEN[:20], TOKEN[20:], DONE, pause_s=0.05))
    assert times.pop("req-1") >= 0.05


def test_answers_that_are_no_stream_or_have_no_id_or_no_token_are_not_stamped():
    json_headers = [(b"content-type", b"application/json"), (b"x-litellm-call-id", b"req-1")]
    error = b'data: {"error":{"message":"backend gone"}}\n\n'
    for app in (
        app_sending(b'{"choices":[]}', headers=json_headers),
        app_sending(ROLE, TOKEN, headers=[(b"content-type", b"text/event-stream")]),
        app_sending(ROLE, DONE),
        app_sending(error, TOKEN),
    ):
        times, sent = serve(app)
        assert times.pop("req-1") is None and sent
    times, _ = serve(app_sending(ROLE, TOKEN), scope_type="lifespan")  # not a request: passed on
    assert times.pop("req-1") is None


@given(st.lists(st.binary(max_size=300), max_size=8), st.booleans())
def test_any_body_passes_through_unchanged_and_stamps_at_most_once(chunks, streamed):
    headers = SSE if streamed else [(b"x-litellm-call-id", b"req-1")]
    times, sent = serve(app_sending(*chunks, headers=headers))
    assert [m.get("body") for m in sent[1:]] == chunks
    stamped = times.pop("req-1")
    assert stamped is None or (streamed and stamped >= 0)


def test_the_store_forgets_the_oldest_beyond_its_bound():
    times = ServedTimes(limit=2)
    for n in range(3):
        times.put(f"r{n}", float(n))
    assert [times.pop(f"r{n}") for n in range(3)] == [None, 1.0, 2.0]


def test_it_goes_outside_a_middleware_stack_built_or_not_and_only_once():
    times = ServedTimes()
    inner = app_sending(ROLE, TOKEN)
    built = types.SimpleNamespace(middleware_stack=inner, build_middleware_stack=lambda: None)
    fresh = types.SimpleNamespace(middleware_stack=None, build_middleware_stack=lambda: inner)
    for app in (built, fresh):
        assert stamp_served_times(app, times) and stamp_served_times(app, times)
        assert isinstance(app.middleware_stack, ServedTimesApp) and app.middleware_stack.app is inner
    assert not stamp_served_times(object(), times)  # not a Starlette app: nothing done


def test_the_request_log_reads_it_as_gateway_ttft_ms_for_streams(tmp_path, monkeypatch):
    times = ServedTimes()
    log = RequestLog(
        Settings(log_file=str(tmp_path / "r.log")),
        RequestLogWriter(str(tmp_path / "r.log")),
        "gw1",
        served=times,
    )
    for request_id, stream in (("streamed", True), ("whole", False)):
        times.put(request_id, 0.0421)
        log.event(
            {
                "standard_logging_object": {
                    "litellm_call_id": request_id,
                    "stream": stream,
                    "status": "success",
                }
            },
            failed=False,
        )
    log.writer.close()
    records = {r["request_id"]: r for r in map(json.loads, (tmp_path / "r.log").read_text().splitlines())}
    assert records["streamed"]["gateway_ttft_ms"] == 42.1
    assert records["whole"]["gateway_ttft_ms"] is None
    assert times.pop("whole") is None  # taken all the same: the store does not grow


def test_the_first_token_is_stamped_before_it_is_handed_to_the_server_so_never_after_a_client_saw_it():
    times, seen = ServedTimes(), []

    async def send(message):  # the server: what is stamped by the time it gets the token
        if message.get("body") == TOKEN:
            seen.append(times.pop("req-1"))

    async def receive():
        return {"type": "http.request", "body": b""}

    asyncio.run(ServedTimesApp(app_sending(ROLE, TOKEN), times)({"type": "http"}, receive, send))
    assert len(seen) == 1 and seen[0] is not None


def test_a_response_it_cannot_read_still_goes_out_whole():
    times, sent = serve(app_sending(ROLE, TOKEN, headers=5))  # headers of no shape: not stamped
    assert [m.get("body") for m in sent[1:]] == [ROLE, TOKEN] and times.pop("req-1") is None


class H11Protocol:
    """A stand-in for uvicorn's protocol: a read that begins a request makes a new scope."""

    def data_received(self, data):
        if data.startswith(b"POST"):
            self.scope = {"type": "http"}
        self.read_at = time.perf_counter()


def test_a_requests_arrival_is_when_the_server_read_its_first_bytes(monkeypatch):
    module = types.ModuleType("h11_impl")
    module.H11Protocol = H11Protocol
    monkeypatch.setitem(sys.modules, "uvicorn.protocols.http.h11_impl", module)
    monkeypatch.setattr(H11Protocol, "data_received", H11Protocol.data_received)  # undone after
    assert served_times.stamp_arrivals() == ["H11Protocol"] == served_times.stamp_arrivals()
    assert not hasattr(H11Protocol.data_received.__wrapped__, "__wrapped__")  # wrapped once
    protocol = H11Protocol()
    protocol.data_received(b"body of no request yet")  # no scope: nothing to stamp
    protocol.data_received(b"POST /v1/chat/completions")
    first = protocol.scope
    assert first[served_times.ARRIVAL] <= protocol.read_at
    stamp = first[served_times.ARRIVAL]
    protocol.data_received(b"the rest of its body")
    assert protocol.scope is first and first[served_times.ARRIVAL] == stamp
    protocol.data_received(b"POST the next request on the connection")
    assert protocol.scope is not first and protocol.scope[served_times.ARRIVAL] > stamp


def test_the_gateways_ttft_counts_from_that_stamp():
    times = ServedTimes()

    async def send(message):
        pass

    async def receive():
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", served_times.ARRIVAL: time.perf_counter() - 1.0}  # read 1 s ago
    asyncio.run(ServedTimesApp(app_sending(ROLE, TOKEN), times)(scope, receive, send))
    assert times.pop("req-1") >= 1.0
